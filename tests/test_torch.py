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
    n_parameters,
    parameter_slices,
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
    assert int(agg[1].num_batches_tracked) == 1  # integer buffer from the first module
    first = aggregate_modules(mods, "mean", buffers="first")
    torch.testing.assert_close(first[1].running_mean, mods[0][1].running_mean, rtol=0, atol=0)
    w = aggregate_modules(mods, "mean", weights=[0, 0, 1])
    torch.testing.assert_close(w[1].running_var, mods[2][1].running_var)


def test_aggregate_modules_errors(mlps, logregs):
    with pytest.raises(ValueError, match="architecture.*modules\\[1\\] is Linear"):
        aggregate_modules([mlps[0], logregs[0]], "mean")
    wide = nn.Sequential(nn.Linear(3, 9), nn.ReLU(), nn.Linear(9, 3))
    with pytest.raises(ValueError, match=r"parameters of modules\[1\] differ.*\(8, 3\).*\(9, 3\)"):
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
