"""train_pair with FAM: fam=0 is plain SGD bit for bit, one FAM step equals an independent
autograd computation of the penalized gradient (the Hessian built by torch.autograd, the
probe from the documented seed), the penalty's probe average is the exact gradient of the
relative flatness, and FAM lowers the relative flatness of the trained models."""

import itertools

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from radonml import lmc  # noqa: E402
from radonml.flatness import fam_penalty, relative_flatness  # noqa: E402
from radonml.torch import make_mlp  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")

CE = nn.functional.cross_entropy


def _data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((90, 6)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64) + (X[:, 2] > 1)
    return X, y


def _make():
    return make_mlp(6, [16, 16], 3, init="kaiming_normal", seed=None)


def _same(p, q):
    for ma, mb in ((p.model_a, q.model_a), (p.model_b, q.model_b)):
        for k, v in ma.state_dict().items():
            if not torch.equal(v, mb.state_dict()[k]):
                return False
    return all(torch.equal(c[k], d[k]) for r in "ab" for c, d in zip(p.checkpoints[r], q.checkpoints[r]) for k in c)


@pytest.mark.parametrize("off", [0.0, 0, None])
def test_fam_zero_is_plain_sgd_bit_for_bit(off):
    X, y = _data()
    kw = dict(epochs=2, lr=0.05, momentum=0.9, batch_size=16, seed=3, weight_decay=1e-3)
    plain = lmc.train_pair(_make, X, y, **kw)
    zero = lmc.train_pair(_make, X, y, fam=off, fam_layer="2", fam_probes=5, **kw)
    assert _same(plain, zero)
    fam = lmc.train_pair(_make, X, y, fam=0.05, **kw)
    assert not torch.equal(fam.model_a.state_dict()["4.weight"], plain.model_a.state_dict()["4.weight"])
    # the same initialization: FAM changes the steps, not the start
    assert all(torch.equal(fam.checkpoints["a"][0][k], plain.checkpoints["a"][0][k]) for k in plain.checkpoints["a"][0])


def test_fam_runs_are_deterministic():
    X, y = _data()
    kw = dict(epochs=2, batch_size=16, seed=5, fam=0.1, fam_probes=2)
    assert _same(lmc.train_pair(_make, X, y, **kw), lmc.train_pair(_make, X, y, **kw))


def _tanh_net():
    return nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))


def _exact_kappa_terms(model, X, y, params):
    """H of the loss w.r.t. the layer W by torch.autograd.functional.hessian (differentiable):
    (W, H reshaped (d, m, d, m))."""
    layer = "2.weight"
    others = {k: v for k, v in params.items() if k != layer}

    def loss_of_w(w):
        return CE(torch.func.functional_call(model, {**others, layer: w}, (X,)), y)

    W = params[layer]
    H = torch.autograd.functional.hessian(loss_of_w, W, create_graph=True)  # (d, m, d, m)
    return W, H


def test_one_fam_step_equals_an_independent_autograd_computation():
    """One full-batch step (batch_size >= n) of train_pair with fam: theta_1 = theta_0 - lr *
    grad(CE + mu <WZ, H[WZ]>), the Hessian from torch.autograd.functional.hessian with
    create_graph, Z the probe of the documented seed (1000 seed + 250 for run a)."""
    torch.manual_seed(0)
    X = torch.randn(12, 3)
    y = torch.arange(12) % 2
    mu, lr, seed = 0.3, 0.1, 2
    pair = lmc.train_pair(_tanh_net, X, y, epochs=1, lr=lr, batch_size=64, seed=seed, fam=mu)
    theta0 = pair.checkpoints["a"][0]
    model = _tanh_net()
    params = {k: v.clone().double().requires_grad_(True) for k, v in theta0.items()}
    model.double()
    Xd = X.double()
    g = torch.Generator().manual_seed(seed * 1000 + 250)
    Z = (torch.randint(0, 2, (1, 4, 4), generator=g) * 2 - 1).double()[0]
    W, H = _exact_kappa_terms(model, Xd, y, params)
    V = W @ Z
    q = torch.einsum("sj,sjtk,tk->", V, H, V)
    total = CE(torch.func.functional_call(model, params, (Xd,)), y) + mu * q
    grads = torch.autograd.grad(total, list(params.values()))
    for (k, p), gk in zip(params.items(), grads):
        want = (p - lr * gk).detach()
        np.testing.assert_allclose(pair.checkpoints["a"][1][k].double().numpy(), want.numpy(), rtol=2e-5,
                                   atol=1e-6, err_msg=k)


def test_probe_average_of_the_penalty_gradient_is_the_exact_relative_flatness_gradient():
    """E_Z grad <WZ, H WZ> = grad kappa: averaged over all 2^(m^2) sign matrices (m = 2) it is
    exactly the gradient of kappa = sum_{s,s'} <w_s, w_s'> Tr(H_{s,s'}) computed by autograd
    through the Hessian of torch.autograd.functional.hessian."""
    torch.manual_seed(1)
    net = nn.Sequential(nn.Linear(3, 2), nn.Tanh(), nn.Linear(2, 3)).double()
    X, y = torch.randn(10, 3, dtype=torch.float64), torch.arange(10) % 3
    params = dict(net.named_parameters())
    layer = "2.weight"
    others = {k: v for k, v in params.items() if k != layer}
    H = torch.autograd.functional.hessian(
        lambda w: CE(torch.func.functional_call(net, {**others, layer: w}, (X,)), y), params[layer], create_graph=True)
    W = params[layer]
    kappa = ((W @ W.T) * torch.einsum("sjtj->st", H)).sum()
    want = torch.autograd.grad(kappa, list(params.values()))
    # the value agrees with radonml.flatness.relative_flatness (exact)
    assert float(kappa.detach()) == pytest.approx(relative_flatness(net, (X, y), layer=layer, loss_fn=CE).value, rel=1e-9)
    Zs = torch.tensor([list(s) for s in itertools.product((-1.0, 1.0), repeat=4)], dtype=torch.float64).reshape(-1, 2, 2)
    acc = [torch.zeros_like(p) for p in params.values()]
    for Z in Zs:
        net.zero_grad()
        fam_penalty(net, X, y, loss_fn=CE, layer=layer, probes=Z[None]).backward()
        for a, p in zip(acc, params.values()):
            a += p.grad / len(Zs)
    for a, w in zip(acc, want):
        np.testing.assert_allclose(a.numpy(), w.detach().numpy(), rtol=1e-9, atol=1e-12)


def test_fam_lowers_the_relative_flatness_of_both_trained_models():
    """Over seeds 0-7 (10 epochs, mu = 0.05), FAM's trained models had at most 0.29 times the
    plain runs' relative flatness of the last layer; asserted for seed 0 with margin."""
    X, y = _data()
    Xt, yt = torch.as_tensor(X), torch.as_tensor(y)
    kw = dict(epochs=10, lr=0.1, batch_size=16, seed=0)
    plain = lmc.train_pair(_make, X, y, **kw)
    fam = lmc.train_pair(_make, X, y, fam=0.05, **kw)
    for p, f in ((plain.model_a, fam.model_a), (plain.model_b, fam.model_b)):
        kp = relative_flatness(p, (Xt, yt), layer="4.weight", loss_fn=CE).value
        kf = relative_flatness(f, (Xt, yt), layer="4.weight", loss_fn=CE).value
        assert kf < 0.5 * kp
        # it still learns: training accuracy well above chance (3 classes)
        assert float((f(Xt).argmax(1) == yt).float().mean()) > 0.7


def test_fam_with_batchnorm_leaves_the_running_statistics_to_the_loss_pass():
    """With BatchNorm, the FAM term uses the batch's statistics and does not update the
    running statistics: they equal those of the plain run, whose forward passes see the same
    batches in the same order, after the first step (the parameters differ from then on)."""
    X, y = _data()
    make = lambda: nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))  # noqa: E731
    kw = dict(epochs=1, lr=0.05, batch_size=128, seed=0)  # one step per epoch
    plain = lmc.train_pair(make, X, y, **kw)
    fam = lmc.train_pair(make, X, y, fam=0.1, **kw)
    for k in ("1.running_mean", "1.running_var", "1.num_batches_tracked"):
        assert torch.equal(plain.checkpoints["a"][1][k], fam.checkpoints["a"][1][k]), k
    assert not torch.equal(plain.checkpoints["a"][1]["3.weight"], fam.checkpoints["a"][1]["3.weight"])


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(fam=-0.1), ValueError, "fam must be None or a non-negative finite number"),
    (dict(fam=float("nan")), ValueError, "fam must be None or a non-negative finite number"),
    (dict(fam="big"), ValueError, "fam must be None or a non-negative finite number"),
    (dict(fam=True), ValueError, "fam must be None or a non-negative finite number"),
    (dict(fam=0.1, fam_layer="9"), ValueError, "fam_layer: fam_layer '9' is not a parameter"),
    (dict(fam_layer="0.bias"), ValueError, "fam_layer: fam_layer '0.bias' must be a 2-D weight"),
    (dict(fam=0.1, fam_layer=3), TypeError, "fam_layer must be a parameter name"),
    (dict(fam=0.1, fam_probes=0), ValueError, "fam_probes must be >= 1"),
])
def test_bad_fam_inputs(kwargs, exc, match):
    X, y = _data()
    with pytest.raises(exc, match=match):
        lmc.train_pair(_make, X, y, epochs=1, **kwargs)


def test_fam_refuses_buffers_other_than_batchnorm():
    class WithBuffer(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(6, 3)
            self.register_buffer("scale", torch.ones(1))

        def forward(self, x):
            return self.lin(x) * self.scale

    X, y = _data()
    with pytest.raises(ValueError, match="buffers of BatchNorm layers only"):
        lmc.train_pair(WithBuffer, X, y, epochs=1, fam=0.1)


def test_a_diverged_run_is_an_error_naming_run_and_epoch():
    X, y = _data()
    with pytest.raises(ValueError, match=r"run a diverged in epoch 1 of 3: '0.weight'.*lower lr \(1e\+06\) or fam"):
        lmc.train_pair(_make, X * 1e3, y, epochs=3, lr=1e6, fam=0.5)
