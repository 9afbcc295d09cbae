"""radonml.torch: flatten/unflatten helpers and aggregate_modules on real trained torch models."""

import copy

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from radonml.torch import (  # noqa: E402
    aggregate_modules,
    flatten_parameters,
    load_flat_parameters,
    lower_median,
    n_parameters,
    parameter_slices,
    state_arrays,
    state_layout,
    tensor_rule,
    unflatten_parameters,
)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _train(model, X, y, *, steps=100, lr=0.1, loss="bce", seed=0):
    torch.manual_seed(seed)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    Xt = torch.as_tensor(X, dtype=next(model.parameters()).dtype)
    for _ in range(steps):
        opt.zero_grad()
        out = model(Xt)
        if loss == "bce":
            ls = nn.functional.binary_cross_entropy_with_logits(out[:, 0], torch.as_tensor(y, dtype=out.dtype))
        else:
            ls = nn.functional.cross_entropy(out, torch.as_tensor(y))
        ls.backward()
        opt.step()
    return model


def _shards(rng, m, n=60, d=2, classes=2):
    w = rng.normal(size=(d, classes))
    out = []
    for _ in range(m):
        X = rng.normal(size=(n, d))
        y = np.argmax(X @ w + 0.5 * rng.normal(size=(n, classes)), axis=1)
        out.append((X, y))
    return out


def _ref_vector(module):
    # independent of radonml: torch's own parameters_to_vector
    return nn.utils.parameters_to_vector(module.parameters()).detach().double().numpy()


def _radon_point_ref(P):
    """Radon point of exactly d + 2 points via the SVD null vector (unique in general position)."""
    r, d = P.shape
    M = np.vstack([P.T, np.ones(r)])
    lam = np.linalg.svd(M)[2][-1]
    pos = lam > 0
    return (lam[pos] @ P[pos]) / lam[pos].sum()


@pytest.fixture(scope="module")
def logregs():
    rng = np.random.default_rng(12345)
    models = []
    for i, (X, y) in enumerate(_shards(rng, 5)):
        torch.manual_seed(i)
        models.append(_train(nn.Linear(2, 1), X, y, seed=i))
    return models


@pytest.fixture(scope="module")
def mlps():
    rng = np.random.default_rng(54321)
    models = []
    for i, (X, y) in enumerate(_shards(rng, 4, d=3, classes=3)):
        torch.manual_seed(100 + i)
        mlp = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 3))
        models.append(_train(mlp, X, y, loss="ce", steps=50, seed=i))
    return models


def test_flatten_roundtrip_matches_torch(mlps):
    m = mlps[0]
    v = flatten_parameters(m)
    np.testing.assert_array_equal(v, _ref_vector(m))
    assert v.dtype == np.float64 and v.shape == (n_parameters(m),) == (3 * 8 + 8 + 8 * 3 + 3,)
    other = copy.deepcopy(mlps[1])
    load_flat_parameters(other, v)
    for (n1, p1), (n2, p2) in zip(m.named_parameters(), other.named_parameters()):
        assert n1 == n2
        torch.testing.assert_close(p1, p2, rtol=0, atol=0)
    parts = unflatten_parameters(m, v)
    for name, p in m.named_parameters():
        np.testing.assert_array_equal(parts[name], p.detach().numpy())
    sl = parameter_slices(m)
    assert list(sl) == [n for n, _ in m.named_parameters()]
    np.testing.assert_array_equal(v[sl["2.bias"]], m[2].bias.detach().numpy())


def test_load_flat_parameters_bad_input(mlps):
    m = mlps[0]
    with pytest.raises(ValueError, match=r"vector must have shape \(59,\).*got \(3,\)"):
        load_flat_parameters(m, np.zeros(3))
    with pytest.raises(ValueError, match="finite"):
        load_flat_parameters(m, np.full(59, np.nan))
    with pytest.raises(TypeError, match="module must be a torch.nn.Module, got list"):
        flatten_parameters([1, 2])


def test_radon_of_logistic_regressions_matches_svd_reference(logregs):
    before = [_ref_vector(m) for m in logregs]
    agg = aggregate_modules(logregs, "radon", rng=0)
    P = np.stack(before)
    np.testing.assert_allclose(_ref_vector(agg), _radon_point_ref(P), rtol=1e-5, atol=1e-6)
    # inputs untouched, a new module of the same class
    for m, b in zip(logregs, before):
        np.testing.assert_array_equal(_ref_vector(m), b)
    assert type(agg) is nn.Linear and agg is not logregs[0]
    assert agg.weight.dtype == torch.float32 and agg.weight.requires_grad


def test_mean_and_median_of_trained_mlps(mlps):
    P = np.stack([_ref_vector(m) for m in mlps])
    w = np.array([1.0, 2.0, 3.0, 4.0])
    mean = aggregate_modules(mlps, "mean", weights=w)
    # independent: average the state dicts tensor by tensor
    for name, p in mean.named_parameters():
        ref = sum(wi * dict(m.named_parameters())[name].detach().double() for wi, m in zip(w, mlps)) / w.sum()
        torch.testing.assert_close(p.detach().double(), ref, rtol=1e-6, atol=1e-7)
    med = aggregate_modules(mlps, "median")
    np.testing.assert_allclose(_ref_vector(med), np.median(P, axis=0), rtol=1e-6, atol=1e-7)
    # the averaged MLP still works as a classifier module
    assert med(torch.zeros(2, 3)).shape == (2, 3)


def test_dtype_and_float64_preserved(logregs):
    mods = [copy.deepcopy(m).double() for m in logregs]
    agg = aggregate_modules(mods, "mean")
    assert agg.weight.dtype == torch.float64
    np.testing.assert_allclose(_ref_vector(agg), np.mean([_ref_vector(m) for m in mods], axis=0), rtol=0, atol=1e-15)


def test_buffers_mean_and_first():
    torch.manual_seed(0)
    mods = []
    for i in range(3):
        net = nn.Sequential(nn.Linear(2, 4), nn.BatchNorm1d(4))
        net.train()
        for _ in range(i + 1):
            net(torch.randn(16, 2) * (i + 1))
        mods.append(net)
    agg = aggregate_modules(mods, "mean")
    ref = torch.stack([m[1].running_var for m in mods]).mean(0)
    torch.testing.assert_close(agg[1].running_var, ref)
    assert int(agg[1].num_batches_tracked) == 2  # integer buffer: the median of 1, 2, 3
    old = aggregate_modules(mods, "mean", buffers="mean")  # the earlier default
    torch.testing.assert_close(old[1].running_var, ref)
    assert int(old[1].num_batches_tracked) == 1  # integer buffer from the first module
    first = aggregate_modules(mods, "mean", buffers="first")
    torch.testing.assert_close(first[1].running_mean, mods[0][1].running_mean, rtol=0, atol=0)
    w = aggregate_modules(mods, "mean", weights=[0, 0, 1])
    torch.testing.assert_close(w[1].running_var, mods[2][1].running_var)


def test_aggregate_modules_errors(mlps, logregs):
    with pytest.raises(ValueError, match="architecture.*modules\\[1\\] is Linear"):
        aggregate_modules([mlps[0], logregs[0]], "mean")
    wide = nn.Sequential(nn.Linear(3, 9), nn.ReLU(), nn.Linear(9, 3))
    with pytest.raises(ValueError, match=r"parameter '0.weight' has shape \(8, 3\) in modules\[0\] and \(9, 3\) in modules\[1\]"):
        aggregate_modules([mlps[0], wide], "mean")
    with pytest.raises(ValueError, match="at least one module"):
        aggregate_modules([], "mean")
    with pytest.raises(TypeError, match="modules\\[1\\] must be a torch.nn.Module, got str"):
        aggregate_modules([mlps[0], "x"], "mean")
    with pytest.raises(TypeError, match="list or tuple"):
        aggregate_modules(mlps[0], "mean")
    with pytest.raises(ValueError, match="buffers must be"):
        aggregate_modules(mlps, "mean", buffers="sum")
    with pytest.raises(ValueError, match="at least r = d \\+ 2"):
        aggregate_modules(mlps, "radon")  # 4 MLPs of 59 parameters: no Radon point
    with pytest.raises(ValueError, match="unknown aggregator"):
        aggregate_modules(mlps, "nope")


# ------------------------------------------------- BatchNorm buffers: robust for every tensor


def _bn_data():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(500, 3, generator=g)
    return X, (X[:, 0] + X[:, 1] > 0).long()


def _bn_net(seed, X, y, steps=100):
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(3, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    for _ in range(steps):
        opt.zero_grad()
        nn.functional.cross_entropy(net(X), y).backward()
        opt.step()
    return net.eval()


@pytest.fixture(scope="module")
def bn_nets():
    """Five BN classifiers of one task; the fifth a corrupted copy of the first (case 12)."""
    X, y = _bn_data()
    honest = [_bn_net(s, X, y) for s in range(4)]
    bad = copy.deepcopy(honest[0])
    with torch.no_grad():
        for p in bad.parameters():
            p.mul_(-50)
        bad[1].running_var.mul_(1e8)
        bad[1].running_mean.add_(1e4)
        bad[1].num_batches_tracked.fill_(10**9)
    return honest + [bad]


def _accuracy(net):
    X, y = _bn_data()
    with torch.no_grad():
        return float((net(X).argmax(-1) == y).float().mean())


def test_bn_buffers_go_through_the_robust_aggregator(bn_nets):
    agg = aggregate_modules(bn_nets, "median")
    # independent: numpy's median of every state tensor over the five modules (odd count: exact)
    for name, t in agg.state_dict().items():
        stack = np.stack([m.state_dict()[name].numpy() for m in bn_nets])
        if t.is_floating_point():
            np.testing.assert_array_equal(t.numpy(), np.median(stack.astype(np.float64), axis=0).astype(np.float32))
        else:
            assert t.dtype == torch.int64 and int(t) == sorted(stack.tolist())[2] == 100  # not the corrupted 10^9
    assert float(agg[1].running_var.max()) < 10  # the mean of the five is ~2e7
    assert _accuracy(agg) >= 0.8 and min(_accuracy(m) for m in bn_nets[:4]) > 0.95
    # the earlier default (buffers averaged outside the aggregator) stays available by name, and
    # shows what the corrupted module did to it
    old = aggregate_modules(bn_nets, "median", buffers="mean")
    ref = torch.stack([m[1].running_var.double() for m in bn_nets]).mean(0).float()
    torch.testing.assert_close(old[1].running_var, ref)
    assert _accuracy(old) < 0.6


def test_bn_buffers_in_the_joint_vector(bn_nets):
    """The geometric median sees parameters and floating buffers as one vector, in state_dict order."""
    honest = bn_nets[:4]
    lay = state_layout(honest[0])
    assert lay.names == tuple(honest[0].state_dict())
    assert [n for n, r in zip(lay.names, lay.rules) if r != "aggregator"] == ["1.num_batches_tracked"]
    assert lay.n_aggregated == n_parameters(honest[0]) + 2 * 8
    # independent: the Weiszfeld iteration written out on the concatenated state vectors
    P = np.stack([np.concatenate([t.double().numpy().ravel() for t in m.state_dict().values() if t.is_floating_point()])
                  for m in honest])
    z = np.median(P, axis=0)
    for _ in range(5000):
        d = np.linalg.norm(P - z, axis=1)
        z_new = (P / d[:, None]).sum(0) / (1 / d).sum()
        if np.linalg.norm(z_new - z) < 1e-13:
            break
        z = z_new
    agg = aggregate_modules(honest, "geometric_median")
    got = np.concatenate([t.double().numpy().ravel() for t in agg.state_dict().values() if t.is_floating_point()])
    np.testing.assert_allclose(got, z.astype(np.float32), rtol=1e-5, atol=1e-6)


def test_integer_buffers_weighted_lower_median():
    mods = []
    for k in (3, 1, 4, 2):
        bn = nn.BatchNorm1d(2)
        bn.num_batches_tracked.fill_(k)
        mods.append(bn)

    def ref(values, w):  # smallest v with weight(x <= v) >= half the total, by brute force
        return min(v for v in values if sum(wi for x, wi in zip(values, w) if x <= v) >= sum(w) / 2)

    for w in ([1, 1, 1, 1], [1, 1, 5, 1], [0, 0, 0, 1], [2, 1, 1, 2]):
        agg = aggregate_modules(mods, "mean", weights=w)
        assert int(agg.num_batches_tracked) == ref([3, 1, 4, 2], w)
    assert int(aggregate_modules(mods, "median").num_batches_tracked) == 2
    assert int(aggregate_modules(mods[::-1], "median").num_batches_tracked) == 2
    np.testing.assert_array_equal(lower_median(np.array([[True, False], [False, False], [True, True]])), [True, False])


def test_state_layout_of_a_module_without_buffers_is_flatten_parameters(mlps):
    """The federated simulator's flat vectors and the state layout coincide when there are no buffers."""
    lay = state_layout(mlps[0])
    assert lay.slices == parameter_slices(mlps[0]) and set(lay.rules) == {"aggregator"}
    np.testing.assert_array_equal(lay.stack([state_arrays(m) for m in mlps]), np.stack([_ref_vector(m) for m in mlps]))


def test_tensor_rule_is_the_one_policy():
    assert tensor_rule(torch.float32, buffer=True) == tensor_rule(np.float64) == "aggregator"
    assert tensor_rule(torch.int64, buffer=True) == tensor_rule(np.int32) == tensor_rule(torch.bool) == "lower_median"
    assert tensor_rule(torch.float16, buffer=True, buffers="mean") == "mean"
    assert tensor_rule(torch.int64, buffer=True, buffers="mean") == tensor_rule(torch.float32, buffer=True, buffers="first") == "first"
    assert tensor_rule(torch.float32, buffer=False, buffers="first") == "aggregator"
    with pytest.raises(TypeError, match="complex"):
        tensor_rule(torch.complex64)
    with pytest.raises(ValueError, match="buffers must be one of"):
        tensor_rule(torch.float32, buffers="sum")
    assert repr(state_layout(nn.BatchNorm1d(3))) == (
        "StateLayout(5 tensors, d=12, rules={'aggregator': 4, 'lower_median': 1}, buffers='aggregate')"
    )


# ---------------------------------------- parametrized modules: identity is the architecture


def _weight_norm_ref(g, v):
    return g * v / v.norm(dim=1, keepdim=True)  # torch's weight_norm(dim=0) of a Linear weight


class _Symmetric(nn.Module):
    def forward(self, X):
        return X.triu() + X.triu(1).transpose(-1, -2)


def test_parametrized_modules_aggregate():
    from torch.nn.utils import parametrize
    from torch.nn.utils.parametrizations import spectral_norm, weight_norm

    torch.manual_seed(0)
    wn = [weight_norm(nn.Linear(3, 2)) for _ in range(3)]
    agg = aggregate_modules(wn, "mean")  # case 11
    for name, p in agg.named_parameters():
        ref = torch.stack([dict(m.named_parameters())[name].detach() for m in wn]).mean(0)
        torch.testing.assert_close(p.detach(), ref, rtol=0, atol=1e-7)
    g = torch.stack([m.parametrizations.weight.original0.detach() for m in wn]).mean(0)
    v = torch.stack([m.parametrizations.weight.original1.detach() for m in wn]).mean(0)
    torch.testing.assert_close(agg.weight.detach(), _weight_norm_ref(g, v), rtol=1e-6, atol=1e-7)
    assert type(agg) is type(wn[0]) and agg is not wn[0]

    start = spectral_norm(nn.Linear(4, 3))
    sn = []
    for seed in range(5):  # five clients trained from one global model
        m = copy.deepcopy(start)
        torch.manual_seed(seed)
        opt = torch.optim.SGD(m.parameters(), lr=0.1)
        for _ in range(20):  # each training-mode forward also runs one power step
            opt.zero_grad()
            (m(torch.randn(16, 4)) - 1.0).pow(2).mean().backward()
            opt.step()
        sn.append(m)
    for m in sn:
        m.eval()
    agg = aggregate_modules(sn, "median")
    assert not agg.training and not agg.parametrizations.weight[0].training  # modes restored
    med = {k: torch.as_tensor(np.median(np.stack([m.state_dict()[k].numpy() for m in sn]), axis=0))
           for k in sn[0].state_dict()}
    for name in ("bias", "parametrizations.weight.original"):
        torch.testing.assert_close(agg.state_dict()[name], med[name], rtol=0, atol=0)
    # _u, _v: one step of torch's power method from their medians on the median weight (written out)
    W = med["parametrizations.weight.original"]
    u = W @ med["parametrizations.weight.0._v"]
    u = u / u.norm()
    v = W.T @ u
    v = v / v.norm()
    torch.testing.assert_close(agg.parametrizations.weight[0]._u, u, rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(agg.parametrizations.weight[0]._v, v, rtol=1e-6, atol=1e-7)
    sigma = torch.linalg.matrix_norm(W.double(), 2).float()
    torch.testing.assert_close(agg.weight.detach(), W / (u @ W @ v), rtol=1e-6, atol=1e-7)
    assert abs(float(u @ W @ v) - float(sigma)) < 1e-3 * float(sigma)
    # sign-flipped singular vectors (an equally valid power-method state) cancel in the mean:
    # sigma = 0 would give an infinite weight; refused by name
    flipped = copy.deepcopy(sn[0])
    with torch.no_grad():
        flipped.parametrizations.weight[0]._u.neg_()
        flipped.parametrizations.weight[0]._v.neg_()
    with pytest.raises(ValueError, match=r"the parametrized tensor 'weight' computed from the aggregated originals holds NaN"):
        aggregate_modules([sn[0], flipped], "mean")

    sym = []
    for _ in range(3):
        lin = nn.Linear(3, 3)
        parametrize.register_parametrization(lin, "weight", _Symmetric())
        sym.append(lin)
    agg = aggregate_modules(sym, "mean")
    W = torch.stack([m.parametrizations.weight.original.detach() for m in sym]).mean(0)
    torch.testing.assert_close(agg.weight.detach(), W.triu() + W.triu(1).T, rtol=0, atol=1e-7)


def _no_contradiction(msg):
    """No clause 'modules[0] is A, ... modules[i] is A' with the same A."""
    import re

    for a, b in re.findall(r"modules\[0\] is ([^,;]+), (?:submodule '[^']*' of )?modules\[\d+\] is ([^;]+)", msg):
        assert a.strip() != b.strip(), msg


def test_architecture_refusals_name_exactly_what_differs():
    from torch.nn.utils.parametrizations import spectral_norm, weight_norm

    with pytest.raises(ValueError) as exc:
        aggregate_modules([weight_norm(nn.Linear(3, 2)), spectral_norm(nn.Linear(3, 2))], "mean")
    msg = str(exc.value)
    assert "submodule 'parametrizations.weight.0' of modules[0] is _WeightNorm" in msg and "_SpectralNorm" in msg
    _no_contradiction(msg)
    with pytest.raises(ValueError) as exc:
        aggregate_modules([weight_norm(nn.Linear(3, 2)), nn.Linear(3, 2)], "mean")
    msg = str(exc.value)
    assert "modules[0] is Linear with 'weight' parametrized, modules[1] is Linear" in msg
    _no_contradiction(msg)
    with pytest.raises(ValueError, match=r"submodule '1' of modules\[0\] is BatchNorm1d, submodule '1' of modules\[1\] is LayerNorm"):
        aggregate_modules([nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2)), nn.Sequential(nn.Linear(2, 2), nn.LayerNorm(2))])
    with pytest.raises(ValueError, match=r"parameter '0.weight' has dtype torch.float32 in modules\[0\] and torch.float64"):
        aggregate_modules([nn.Sequential(nn.Linear(2, 2)), nn.Sequential(nn.Linear(2, 2)).double()], "mean")
    with pytest.raises(ValueError, match=r"modules\[1\] has no buffer 'running_mean'"):
        aggregate_modules([nn.BatchNorm1d(2), nn.BatchNorm1d(2, track_running_stats=False)], "mean")

    # two classes named Net from different scopes: qualified names, never "Net is Net"
    def make_a():
        class Net(nn.Linear):
            pass

        return Net

    def make_b():
        class Net(nn.Linear):
            pass

        return Net

    with pytest.raises(ValueError) as exc:
        aggregate_modules([make_a()(2, 1), make_b()(2, 1)], "mean")
    assert "make_a.<locals>.Net" in str(exc.value) and "make_b.<locals>.Net" in str(exc.value)
    _no_contradiction(str(exc.value))
    # one class defined twice (a reloaded module, a class made in a loop): the same architecture
    A, B = make_a(), make_a()
    assert A is not B
    a, b = A(2, 1), B(2, 1)
    np.testing.assert_allclose(flatten_parameters(aggregate_modules([a, b], "mean")),
                               (flatten_parameters(a) + flatten_parameters(b)) / 2, rtol=1e-6)


# ------------------------------------------------------------- non-finite values are named


def test_diverged_module_is_named(bn_nets):
    bad = copy.deepcopy(bn_nets[1])
    with torch.no_grad():
        bad[3].weight[0, 1] = float("nan")
    with pytest.raises(ValueError, match=r"modules\[2\] holds NaN or infinite values \(a diverged model\?\): parameter '3.weight' \(1 value\)"):
        aggregate_modules([bn_nets[0], bn_nets[2], bad], "median")
    bad = copy.deepcopy(bn_nets[1])
    with torch.no_grad():
        bad[1].running_var[:3] = float("inf")
    with pytest.raises(ValueError, match=r"modules\[1\] holds NaN .*buffer '1.running_var' \(3 values\)"):
        aggregate_modules([bn_nets[0], bad], "mean", buffers="mean")


def test_non_finite_or_overflowing_aggregate_is_refused(logregs):
    # the registry checks every aggregator's output (radonml.aggregate), before the torch adapter
    with pytest.raises(ValueError, match=r"aggregator 'nan_agg' returned 2 NaN or infinite value\(s\)"):
        def nan_agg(X):
            out = X.mean(0)
            out[:2] = np.nan
            return out

        aggregate_modules(logregs, nan_agg)
    half = [copy.deepcopy(m).half() for m in logregs]
    with pytest.raises(ValueError, match=r"the aggregate of parameter 'bias' does not fit in its dtype torch.float16"):
        aggregate_modules(half, lambda X: np.r_[X.mean(0)[:2], 1e6])
    big = nn.Linear(2, 1).double()
    with torch.no_grad():
        big.bias.fill_(1e300)
    with pytest.raises(ValueError, match=r"'bias' holds 1e\+300, which does not fit"):
        flatten_parameters(big, dtype=np.float32)
    with pytest.raises(TypeError, match="dtype must be a numpy floating-point dtype"):
        flatten_parameters(big, dtype=np.int64)
    small = copy.deepcopy(logregs[0]).half()
    before = flatten_parameters(small)
    with pytest.raises(ValueError, match=r"parameter 'bias' do not fit in its dtype torch.float16"):
        load_flat_parameters(small, [0.0, 0.0, 1e6])
    np.testing.assert_array_equal(flatten_parameters(small), before)  # nothing written


def test_default_radon_on_a_network_says_what_to_do():
    from radonml.exceptions import NoRadonPointError

    torch.manual_seed(0)
    nets = [nn.Linear(10, 8) for _ in range(7)]
    d = sum(p.numel() for p in nets[0].parameters())  # 10 * 8 weights + 8 biases
    with pytest.raises(NoRadonPointError) as exc:
        aggregate_modules(nets)  # the default method="radon"
    msg = str(exc.value)
    assert f"d + 2 = {d + 2} models needed here, 7 given" in msg
    assert "method='mean', 'median', 'geometric_median'" in msg and "trimmed_mean" in msg
    out = aggregate_modules(nets, "mean")  # what the message suggests works
    np.testing.assert_allclose(out.weight.detach().numpy(), np.mean([n.weight.detach().numpy() for n in nets], 0),
                               rtol=1e-5, atol=1e-6)
