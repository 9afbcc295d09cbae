"""radonml.lmc.training: train_pair against the function it replaces (radonml._cli_lmc's,
copied here as the reference), bit for bit."""

import doctest

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from radonml import lmc  # noqa: E402
from radonml.lmc import training  # noqa: E402
from radonml.torch import make_mlp  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _reference_train_pair(make_model, X, y, *, epochs, lr, momentum, batch_size, seed, weight_decay=0.0,
                          different_init=False, progress=None):
    """radonml._cli_lmc.train_pair as of commit fb00e97, verbatim."""
    torch.manual_seed(seed)
    init = make_model()
    models, ckpts = {}, {}
    Xt = torch.as_tensor(X, dtype=torch.float32)
    yt = torch.as_tensor(y, dtype=torch.long)
    n = Xt.shape[0]
    for run_i, name in enumerate(("a", "b")):
        if different_init and name == "b":
            torch.manual_seed(seed + 7919)
            model = make_model()
        else:
            model = make_model()
            model.load_state_dict(init.state_dict())
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
        gen = torch.Generator().manual_seed(seed * 1000 + 17 + run_i)  # the data order differs
        hist = [{k: v.detach().clone() for k, v in model.state_dict().items()}]
        for _ in range(epochs):
            model.train()
            perm = torch.randperm(n, generator=gen)
            for i in range(0, n, batch_size):
                idx = perm[i:i + batch_size]
                opt.zero_grad(set_to_none=True)
                loss = torch.nn.functional.cross_entropy(model(Xt[idx]), yt[idx])
                loss.backward()
                opt.step()
            hist.append({k: v.detach().clone() for k, v in model.state_dict().items()})
            if progress is not None:
                progress.update(1)
        model.eval()
        models[name], ckpts[name] = model, hist
    return models["a"], models["b"], ckpts


def _data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((90, 6)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64) + (X[:, 2] > 1)
    return X, y


class _Counter:
    def __init__(self):
        self.n = 0

    def update(self, k):
        self.n += k


@pytest.mark.parametrize("different_init", [False, True])
def test_train_pair_reproduces_the_reference_bit_for_bit(different_init):
    X, y = _data()
    make = lambda: make_mlp(6, [16, 16], 3, init="kaiming_normal", seed=None)  # noqa: E731
    kw = dict(epochs=3, lr=0.05, momentum=0.9, batch_size=16, seed=4, weight_decay=1e-3,
              different_init=different_init)
    counter = _Counter()
    out = lmc.train_pair(make, X, y, progress=counter, **kw)
    ref_a, ref_b, ref_ckpts = _reference_train_pair(make, X, y, **kw)
    assert isinstance(out, lmc.TrainedPair) and out.model_a is out[0]
    for mine, theirs in ((out.model_a, ref_a), (out.model_b, ref_b)):
        assert not mine.training
        for k, v in theirs.state_dict().items():
            assert torch.equal(mine.state_dict()[k], v), k
    for run in "ab":
        assert len(out.checkpoints[run]) == 4
        for mine, theirs in zip(out.checkpoints[run], ref_ckpts[run]):
            assert all(torch.equal(mine[k], theirs[k]) for k in theirs)
    shared_start = torch.equal(out.checkpoints["a"][0]["0.weight"], out.checkpoints["b"][0]["0.weight"])
    assert shared_start is not different_init
    assert counter.n == 2 * 3


def test_train_pair_runs_differ_by_data_order_only():
    X, y = _data()
    a, b, ckpts = lmc.train_pair(lambda: nn.Linear(6, 3), X, y, epochs=2, batch_size=8, seed=1)
    assert all(torch.equal(ckpts["a"][0][k], ckpts["b"][0][k]) for k in ckpts["a"][0])
    assert not torch.equal(a.weight, b.weight)


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(make_model=3), TypeError, "make_model must be a callable"),
        (dict(make_model=lambda: "model"), TypeError, r"make_model\(\) must return a torch.nn.Module"),
        (dict(epochs=-1), ValueError, "epochs must be >= 0"),
        (dict(batch_size=0), ValueError, "batch_size must be >= 1"),
        (dict(lr=0.0), ValueError, "lr must be > 0"),
        (dict(lr="fast"), TypeError, "lr must be a finite real number"),
        (dict(momentum=-0.1), ValueError, "momentum must be >= 0"),
        (dict(seed=-1), ValueError, "seed must be >= 0"),
        (dict(y=np.zeros(5, dtype=np.int64)), ValueError, "X and y must hold n >= 1 examples and n labels"),
    ],
)
def test_bad_inputs(kwargs, exc, match):
    X, y = _data()
    args = dict(make_model=lambda: nn.Linear(6, 3), X=X, y=y, epochs=1)
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        lmc.train_pair(args.pop("make_model"), args.pop("X"), args.pop("y"), **args)


def test_docstring_examples():
    assert doctest.testmod(training, extraglobs={"torch": torch, "nn": nn}).failed == 0
