"""radonml.lmc BatchNorm statistics re-estimated at every point of a path, against
torch.optim.swa_utils.update_bn applied to each interpolated model separately (deep copy, load
the interpolated state, update_bn, evaluate), and the handed case of issue 9 (kind 6)."""

import copy

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
from torch.optim.swa_utils import update_bn  # noqa: E402

from radonml import lmc  # noqa: E402
from radonml.lmc import batchnorm  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def cnn(seed):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(4, 5, 3), nn.BatchNorm2d(5), nn.ReLU(), nn.Flatten(), nn.Linear(20, 6),
                         nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 3))


def data(n=150, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 2, 8, 8, generator=g), torch.randint(0, 3, (n,), generator=g)


def loader_of(X, y, batch_size=64):  # 150 rows: batches of 64, 64 and 22
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=batch_size)


def trained_stats(m, X):
    """Endpoint models whose running statistics are those of some other data (as after training)."""
    m.train()
    with torch.no_grad():
        m(X * 1.5 + 0.3)
    return m.eval()


def reference_path(a, b, alphas, X, y, loader, layers=None, base="a"):
    """What the field does: per alpha, deep-copy, load the interpolated state, update_bn, evaluate."""
    sa, sb = a.state_dict(), b.state_dict()
    keys = None if layers is None else {k for l in layers for k in lmc.layer_groups(a)[l]}
    out = []
    for al in alphas:
        m = copy.deepcopy(a if base == "a" else b)
        bsd = sa if base == "a" else sb
        m.load_state_dict({k: ((1 - al) * sa[k] + al * sb[k]) if sa[k].is_floating_point() and (keys is None or k in keys)
                           else bsd[k] for k in sa})
        update_bn(loader, m)
        with torch.no_grad():
            o = m.eval()(X)
        out.append(float(nn.functional.cross_entropy(o, y)))
    return np.array(out)


def test_reestimate_bn_is_update_bn():
    X, y = data()
    m = trained_stats(cnn(0), X)
    loader = loader_of(X, y)
    ref = copy.deepcopy(m)
    update_bn(loader, ref)
    got = lmc.reestimate_bn(m, loader)
    for k, v in ref.state_dict().items():
        np.testing.assert_allclose(got.state_dict()[k].double(), v.double(), rtol=1e-5, atol=1e-6, err_msg=k)
    assert int(got[1].num_batches_tracked) == 3
    assert not torch.equal(m[1].running_mean, got[1].running_mean)  # a copy; m untouched
    # tensors are batched by batch_size rows, as a loader with that batch size
    got2 = lmc.reestimate_bn(m, X, batch_size=64)
    for k, v in got.state_dict().items():
        assert torch.equal(got2.state_dict()[k], v), k
    same = lmc.reestimate_bn(m, (X, y), batch_size=64, inplace=True)
    assert same is m and torch.equal(m[5].running_var, got[5].running_var)


def bn_mlp(seed):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(128, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 8),
                         nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))


@pytest.mark.parametrize("make, method", [(cnn, "loop"), (bn_mlp, "vmap")])
@pytest.mark.parametrize("chunk_size", [None, 2])
def test_path_statistics_per_alpha_are_update_bn_per_model(make, method, chunk_size):
    # convolutions on the CPU go one point at a time (faster there), the MLP through vmap
    X, y = data()
    a, b = trained_stats(make(0), X), trained_stats(make(1), X)
    loader = loader_of(X, y)
    ev = lmc.classification_evaluator(loader)
    p = lmc.evaluate_path(a, b, ev, alphas=5, chunk_size=chunk_size)  # bn_data: the evaluator's loader
    assert p.method == method
    expected = reference_path(a, b, p.alphas, X, y, loader)
    np.testing.assert_allclose(p.loss, expected, rtol=1e-5)
    q = lmc.evaluate_path(a, b, lmc.classification_evaluator((X, y)), alphas=5, bn_data=loader)
    np.testing.assert_allclose(q.loss, expected, rtol=1e-5)
    # the interpolated statistics give another (artefact) path
    r = lmc.evaluate_path(a, b, ev, alphas=5, bn_data=False)
    assert np.abs(r.loss - expected).max() > 1e-2
    # one model: interpolate(..., bn_data=) is update_bn of the interpolated model
    m = lmc.interpolate(a, b, 0.25, bn_data=loader)
    with torch.no_grad():
        got = float(nn.functional.cross_entropy(m.eval()(X), y))
    assert got == pytest.approx(float(reference_path(a, b, [0.25], X, y, loader)[0]), rel=1e-5)


def test_stacked_statistics_vmapped_and_one_by_one_agree():
    X, y = data()
    a, b = trained_stats(bn_mlp(0), X), trained_stats(bn_mlp(1), X)
    sa, sb = a.state_dict(), b.state_dict()
    stacked = {k: torch.stack([sa[k], 0.5 * (sa[k] + sb[k]), sb[k]]) for k in sa if sa[k].is_floating_point()}
    shared = {k: v for k, v in sa.items() if k not in stacked}
    batches = lambda: (x for x, _ in loader_of(X, y))  # noqa: E731
    with torch.no_grad():
        new, new_shared, method = batchnorm.stacked_batchnorm_statistics(copy.deepcopy(a).eval(), stacked, shared, 3,
                                                                         batches)
        for j in range(3):
            m = copy.deepcopy(a)
            m.load_state_dict({k: (stacked[k][j] if k in stacked else v) for k, v in sa.items()})
            update_bn(loader_of(X, y), m)
            for k, v in new.items():
                np.testing.assert_allclose(v[j], m.state_dict()[k], rtol=1e-5, atol=1e-6, err_msg=k)
    assert method == "vmap" and int(new_shared["2.num_batches_tracked"]) == 3


def test_layerwise_and_cumulative_paths_get_their_own_statistics():
    X, y = data()
    a, b = trained_stats(cnn(0), X), trained_stats(cnn(1), X)
    loader = loader_of(X, y)
    ev = lmc.classification_evaluator(loader)
    lw = lmc.layerwise_barriers(a, b, ev, alphas=3, layers=["4", "5"])
    for i, layer in enumerate(["4", "5"]):
        for j, base in enumerate(["a", "b"]):
            expected = reference_path(a, b, lw.alphas, X, y, loader, layers=[layer], base=base)
            np.testing.assert_allclose(lw.paths["loss"][i, j], expected, rtol=1e-5)
    np.testing.assert_allclose(lw.full_path.loss, reference_path(a, b, lw.alphas, X, y, loader), rtol=1e-5)
    cu = lmc.cumulative_barriers(a, b, ev, alphas=3)
    names = cu.layers
    expected = reference_path(a, b, cu.alphas, X, y, loader, layers=names[:2])
    np.testing.assert_allclose(cu.paths["loss"][0, 0, 1], expected, rtol=1e-5)


def test_robustness_points_get_their_own_statistics():
    X, y = data()
    a, b = trained_stats(cnn(0), X), trained_stats(cnn(1), X)
    loader = loader_of(X, y)
    ro = lmc.perturbation_robustness(a, b, lmc.classification_evaluator(loader), alphas=[0.5], layers=["0"],
                                     n_draws=1, rng=0)
    # the averaging direction on layer 0 at alpha 0.5 is the layer-wise path's midpoint, from base a
    expected = reference_path(a, b, [0.5], X, y, loader, layers=["0"])
    assert ro.interpolation["loss"][0, 0] == pytest.approx(float(expected[0]), rel=1e-5)


class _Branchy(nn.Module):
    """A BatchNorm network with control flow on tensor values: vmap cannot batch it."""

    def __init__(self, seed):
        super().__init__()
        torch.manual_seed(seed)
        self.fc, self.bn, self.out = nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2)

    def forward(self, x):
        h = self.bn(self.fc(x))
        if float(h.abs().max()) > 1e6:
            h = h * 0
        return self.out(torch.relu(h))


def test_models_vmap_cannot_batch_get_the_same_statistics_one_by_one():
    g = torch.Generator().manual_seed(0)
    X, y = torch.randn(90, 3, generator=g), torch.randint(0, 2, (90,), generator=g)
    a, b = trained_stats(_Branchy(0), X), trained_stats(_Branchy(1), X)
    loader = loader_of(X, y, 32)
    p = lmc.evaluate_path(a, b, lmc.classification_evaluator(loader), alphas=4)
    assert p.method == "loop"
    np.testing.assert_allclose(p.loss, reference_path(a, b, p.alphas, X, y, loader), rtol=1e-5)
    sa, sb = a.state_dict(), b.state_dict()
    stacked = {k: torch.stack([sa[k], sb[k]]) for k in sa if sa[k].is_floating_point()}
    shared = {k: v for k, v in sa.items() if k not in stacked}
    _, _, method = batchnorm.stacked_batchnorm_statistics(copy.deepcopy(a), stacked, shared, 2,
                                                          lambda: (x for x, _ in loader))
    assert method == "loop"


def test_case_13_interpolated_statistics_give_an_artefact_barrier():
    # issue 9 kind 6, the handed case: A and B compute the same function (BatchNorm undoes the
    # scale of the first layer), so with each point's own statistics the path is flat
    torch.manual_seed(0)
    x = torch.randn(2000, 1)
    y = (x[:, 0] > 0).long()

    def make(w):
        m = nn.Sequential(nn.Linear(1, 1, bias=False), nn.BatchNorm1d(1), nn.Linear(1, 2))
        with torch.no_grad():
            m[0].weight.fill_(w)
            m[2].weight.copy_(torch.tensor([[-4.0], [4.0]]))
            m[2].bias.zero_()
        m[1].momentum = None
        m.train()
        with torch.no_grad():
            m(x)
        return m.eval()

    A, B = make(1.0), make(10.0)
    ev = lmc.classification_evaluator((x, y))
    path = lmc.evaluate_path(A, B, ev, alphas=5)
    # reference: update_bn per point, on the evaluator's batches (1024 rows, then 976)
    ref = reference_path(A, B, path.alphas, x, y, [x[:1024], x[1024:]])
    np.testing.assert_allclose(path.loss, ref, rtol=1e-5)
    # and on one batch (exact statistics): the loss is the same everywhere, up to BatchNorm's
    # eps (the network is scale-invariant in the first layer for eps = 0)
    exact = reference_path(A, B, path.alphas, x, y, [x])
    assert np.ptp(exact) < 1e-6 and np.ptp(path.loss) < 1e-5
    assert abs(lmc.barrier(path, "loss")) < 1e-5
    assert lmc.barrier(lmc.evaluate_path(A, B, ev, alphas=5, bn_data=False), "loss") > 0.03  # the artefact: 0.043


def test_custom_evaluate_train_and_eval_are_honoured():
    X, y = data()
    a, b = trained_stats(cnn(0), X), trained_stats(cnn(1), X)
    a_before = copy.deepcopy(a.state_dict())
    seen = []

    def own_bn(model):  # re-estimates statistics itself, as a user might
        seen.append(model.training)
        model.train()
        seen.append(model.training)
        with torch.no_grad():
            model(X)  # momentum 0.1: one update of the running statistics
        model.eval()
        with torch.no_grad():
            return {"loss": float(nn.functional.cross_entropy(model(X), y))}

    p = lmc.evaluate_path(a, b, own_bn, alphas=3, bn_data=False)
    assert seen[:2] == [False, True]
    expected = []
    for al in p.alphas:
        m = lmc.interpolate(a, b, float(al), bn_data=False).train()
        with torch.no_grad():
            m(X)
            expected.append(float(nn.functional.cross_entropy(m.eval()(X), y)))
    np.testing.assert_allclose(p.loss, expected, rtol=1e-5)
    for k, v in a.state_dict().items():
        assert torch.equal(v, a_before[k]), k  # the point's statistics are its own
    assert not a.training


def test_bad_bn_data():
    X, y = data()
    a, b = trained_stats(cnn(0), X), trained_stats(cnn(1), X)
    custom = lambda m: {"loss": 0.0}  # noqa: E731
    with pytest.raises(ValueError, match="BatchNorm layers \\('1', '5', '9'\\).*pass bn_data="):
        lmc.evaluate_path(a, b, custom, alphas=3)
    with pytest.raises(ValueError, match="pass bn_data="):
        lmc.interpolate(a, b, 0.5)
    with pytest.raises(TypeError, match="bn_data must be None"):
        lmc.evaluate_path(a, b, custom, bn_data=True)
    with pytest.raises(TypeError, match="re-iterable"):
        lmc.evaluate_path(a, b, custom, bn_data=(x for x in [X]))
    with pytest.raises(ValueError, match="1 value per channel"):
        lmc.evaluate_path(a, b, custom, bn_data=loader_of(X[:65], y[:65]), alphas=2)  # last batch of 1
    with pytest.raises(TypeError, match="bn_data must be a tensor X"):
        lmc.evaluate_path(a, b, custom, bn_data=3.0)
    # without BatchNorm, bn_data changes nothing
    m0, m1 = nn.Sequential(nn.Linear(3, 2)), nn.Sequential(nn.Linear(3, 2))
    ev = lambda m: {"w": float(m.state_dict()["0.weight"].sum())}  # noqa: E731
    np.testing.assert_array_equal(lmc.evaluate_path(m0, m1, ev, alphas=3).w,
                                  lmc.evaluate_path(m0, m1, ev, alphas=3, bn_data=torch.randn(4, 3)).w)


def test_docstring_examples():
    import doctest

    assert doctest.testmod(batchnorm).failed == 0
