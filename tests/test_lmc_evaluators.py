"""radonml.lmc.evaluators: batched (stacked and vmapped) evaluation against a deep-copy loop."""

import copy
import doctest

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import lmc_reference as ref  # noqa: E402
from radonml import lmc  # noqa: E402
from radonml.lmc import evaluators  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def models():
    return ref.models()


@pytest.fixture
def data():
    return ref.data()


def test_evaluate_path_batchnorm_and_dataloader(data):
    X, y = data
    torch.manual_seed(0)
    a = nn.Sequential(nn.Linear(10, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 4))
    b = copy.deepcopy(a)
    a.train()
    b.train()
    with torch.no_grad():
        a(X)  # running statistics differ
        b(X[:50] * 2 + 1)
        for q in b.parameters():
            q.add_(0.3 * torch.randn_like(q))
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=64)
    # bn_data=False: the running statistics interpolated with their layer (the reference's way)
    p = lmc.evaluate_path(a, b, lmc.classification_evaluator(loader), alphas=5, bn_data=False)
    assert p.method == "vmap"  # BatchNorm: not the Linear-stack fast path
    expected = ref.reference_path(a, b, p.alphas, X, y)
    np.testing.assert_allclose(p.loss, expected[:, 0], rtol=1e-5)
    assert a.training and b.training  # untouched


class _DataDependent(nn.Module):
    """Python control flow on tensor values: torch.func.vmap cannot batch it."""

    def __init__(self, seed):
        super().__init__()
        torch.manual_seed(seed)
        self.fc1, self.fc2 = nn.Linear(10, 8), nn.Linear(8, 4)

    def forward(self, x):
        h = self.fc1(x)
        if float(h.mean()) > 100.0:
            h = h * 0
        return self.fc2(torch.relu(h))


def test_evaluate_path_falls_back_to_a_loop(data):
    X, y = data
    a, b = _DataDependent(0), _DataDependent(1)
    ev = lmc.classification_evaluator(data)
    p = lmc.evaluate_path(a, b, ev, alphas=4)
    assert p.method == "loop" and "Error" in ev.vmap_error
    expected = ref.reference_path(a, b, p.alphas, X, y)
    np.testing.assert_allclose(p.loss, expected[:, 0], rtol=1e-5)
    # the failure is remembered per architecture only: an MLP still gets vmap
    q = lmc.evaluate_path(ref.mlp(0), ref.mlp(1), ev, alphas=4)
    assert q.method == "batched"


def test_custom_loss_fn(models, data):
    a, b = models
    X, y = data
    mse = lambda out, t: ((out.softmax(-1) - nn.functional.one_hot(t, 4)) ** 2).sum(-1).mean()  # noqa: E731
    p = lmc.evaluate_path(a, b, lmc.classification_evaluator(data, loss_fn=mse, batch_size=100), alphas=3)
    m = lmc.interpolate(a, b, 0.5)
    with torch.no_grad():
        expected = float(mse(m(X), y))
    assert p.loss[1] == pytest.approx(expected, rel=1e-5)


def test_evaluate_stacked_matches_one_model_at_a_time(models, data):
    # the public seam the path functions use: P stacked parameter sets in one call
    a, b = models
    ev = lmc.classification_evaluator(data)
    sa, sb = a.state_dict(), b.state_dict()
    stacked = {k: torch.stack([sa[k], sb[k]]) for k in ("2.weight", "2.bias")}
    shared = {k: v for k, v in sa.items() if k not in stacked}
    metrics, method = ev.evaluate_stacked(copy.deepcopy(a).eval(), stacked, shared, 2)
    assert method == "batched" and ev.last_method == "batched"
    swapped = copy.deepcopy(a)
    swapped.load_state_dict({**sa, "2.weight": sb["2.weight"], "2.bias": sb["2.bias"]})
    for j, m in enumerate((a, swapped)):
        expected = ev(m)
        assert metrics["loss"][j] == pytest.approx(expected["loss"], rel=1e-5)
        assert metrics["accuracy"][j] == pytest.approx(expected["accuracy"], abs=1e-12)


def test_bad_inputs(data):
    with pytest.raises(ValueError, match="one label per row"):
        lmc.classification_evaluator((torch.zeros(3, 10), torch.zeros(2)))
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        lmc.classification_evaluator(data, batch_size=0)


def test_docstring_examples():
    assert doctest.testmod(evaluators).failed == 0


def test_evaluate_stacked_marks_points_with_non_finite_outputs(data):
    # a point whose outputs overflow gets NaN loss and accuracy (path functions then raise,
    # naming it), the others their values; never a finite accuracy from NaN logits
    X, y = data
    a = ref.mlp(0)
    ev = lmc.classification_evaluator(data)
    sa = a.state_dict()
    stacked = {"4.weight": torch.stack([sa["4.weight"], sa["4.weight"] * float("inf")])}
    shared = {k: v for k, v in sa.items() if k not in stacked}
    metrics, _ = ev.evaluate_stacked(copy.deepcopy(a).eval(), stacked, shared, 2)
    assert metrics["loss"][0] == pytest.approx(ev(a)["loss"], rel=1e-5)
    assert np.isnan(metrics["loss"][1]) and np.isnan(metrics["accuracy"][1])
    assert ev.data[0] is not None and torch.equal(ev.data[0], X)
