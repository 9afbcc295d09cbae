"""radonml.lmc permutation alignment: permutation specs, weight and activation matching, REPAIR,
and align= in every study, against independent computations (brute force over all
permutations, hidden permutations planted by hand, a transcription of REPAIR with torch's own
BatchNorm, models permuted and compared on random inputs)."""

import copy
import itertools
import json
import re

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from radonml import lmc  # noqa: E402
from radonml.lmc import alignment, permutations, renormalization  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# --------------------------------------------------------------------------------- models --

def _randomize_norms(m, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, (nn.BatchNorm1d, nn.BatchNorm2d)):
                mod.running_mean.copy_(torch.randn(mod.running_mean.shape, generator=g, dtype=mod.running_mean.dtype))
                mod.running_var.copy_(torch.rand(mod.running_var.shape, generator=g, dtype=mod.running_var.dtype) + 0.5)
            if isinstance(mod, (nn.BatchNorm1d, nn.BatchNorm2d, nn.LayerNorm)):
                mod.weight.normal_(1.0, 0.3, generator=g)
                mod.bias.normal_(0.0, 0.3, generator=g)
    return m


def mlp(seed):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(5, 7), nn.ReLU(), nn.Linear(7, 6), nn.ReLU(), nn.Linear(6, 3)).double()


def mlp_norms(seed):
    torch.manual_seed(seed)
    m = nn.Sequential(nn.Linear(5, 7), nn.BatchNorm1d(7), nn.ReLU(), nn.Linear(7, 6), nn.LayerNorm(6), nn.Tanh(),
                      nn.Linear(6, 3)).double()
    return _randomize_norms(m, seed)


def cnn(seed):
    torch.manual_seed(seed)
    m = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                      nn.Conv2d(4, 5, 3), nn.LayerNorm([5, 2, 2]), nn.ReLU(), nn.Flatten(), nn.Linear(20, 3)).double()
    return _randomize_norms(m, seed)


class Block(nn.Module):
    def __init__(self, c_in, c_out):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = nn.Sequential() if c_in == c_out else nn.Sequential(nn.Conv2d(c_in, c_out, 1, bias=False),
                                                                            nn.BatchNorm2d(c_out))

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(h)) + self.shortcut(x))


class ResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.layer1 = Block(4, 4)
        self.layer2 = Block(4, 6)
        self.fc = nn.Linear(6, 3)

    def forward(self, x):
        x = F.relu(self.bn(self.stem(x)))
        x = self.layer2(self.layer1(x))
        return self.fc(x.mean((2, 3)))


def resnet(seed):
    torch.manual_seed(seed)
    return _randomize_norms(ResNet().double(), seed)


ZOO = {"mlp": (mlp, (5,)), "mlp_norms": (mlp_norms, (5,)), "cnn": (cnn, (3, 8, 8)), "resnet": (resnet, (3, 5, 5))}


def inputs(name, n=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn((n,) + ZOO[name][1], generator=g, dtype=torch.float64)


def outputs(m, x):
    with torch.no_grad():
        return m.eval()(x)


def random_perms(spec, model, seed):
    """One random permutation per name of ``spec``, none the identity."""
    g = np.random.default_rng(seed)
    out = {}
    for p, n in spec.sizes(model.state_dict()).items():
        v = g.permutation(n)
        out[p] = v[::-1].copy() if np.array_equal(v, np.arange(n)) else v
    return out


def permuted(model, spec, perms):
    out = copy.deepcopy(model)
    out.load_state_dict(lmc.permute_state(model.state_dict(), spec, perms))
    return out


# ------------------------------------------------------------------------------- the spec --

@pytest.mark.parametrize("name", list(ZOO))
def test_permuting_by_the_derived_spec_keeps_the_function(name):
    make, _ = ZOO[name]
    m = make(0)
    spec = lmc.permutation_spec(m)
    perms = random_perms(spec, m, 1)
    assert all((v != np.arange(v.size)).any() for v in perms.values())  # every permutation moves something
    p = permuted(m, spec, perms)
    x = inputs(name)
    np.testing.assert_allclose(outputs(p, x), outputs(m, x), atol=1e-6, rtol=0)
    # the permuted model really differs: the spec is not trivially empty
    assert any(not torch.equal(v, m.state_dict()[k]) for k, v in p.state_dict().items())


def test_mlp_spec_is_the_hand_written_one():
    spec = lmc.permutation_spec(mlp(0))
    assert dict(spec.axes) == {
        "0.weight": ("P_0", None), "0.bias": ("P_0",),
        "2.weight": ("P_2", "P_0"), "2.bias": ("P_2",),
        "4.weight": (None, "P_2"), "4.bias": (None,),
    }
    assert dict(spec.activations) == {"P_0": ("1",), "P_2": ("3",)}


def test_residual_stream_shares_one_permutation():
    spec = lmc.permutation_spec(resnet(0))
    ax = spec.axes
    stream1 = ax["stem.weight"][0]
    # block 1 adds its output to its input: conv2/bn2 are on the stem's permutation
    assert ax["layer1.conv2.weight"][0] == stream1 == ax["layer1.bn2.weight"][0] == ax["layer1.conv1.weight"][1]
    assert ax["layer1.conv1.weight"][0] not in (None, stream1)
    # block 2 changes the width: its shortcut conv and conv2 feed one new stream, read by fc
    stream2 = ax["layer2.conv2.weight"][0]
    assert ax["layer2.shortcut.0.weight"] == (stream2, stream1, None, None)
    assert ax["fc.weight"] == (None, stream2) and ax["fc.bias"] == (None,)
    assert len(spec.perms) == 4


def test_a_wrong_spec_is_caught():
    m = mlp(0)
    good = lmc.permutation_spec(m)
    bad = lmc.PermutationSpec({**good.axes, "2.weight": ("P_2", None)})  # forgets the input axis of layer 2
    assert lmc.check_permutation_spec(m, good, inputs("mlp")) < 1e-12
    with pytest.raises(ValueError, match="does not fit this model"):
        lmc.check_permutation_spec(m, bad, inputs("mlp"))
    with pytest.raises(ValueError, match="does not fit this model"):
        lmc.weight_matching(m, mlp(1), spec=bad, check_data=inputs("mlp"))


@pytest.mark.parametrize("model, where", [
    (nn.Sequential(nn.Linear(3, 4), nn.GroupNorm(2, 4), nn.Linear(4, 2)), "module '1' (GroupNorm"),
    (nn.Sequential(nn.Conv2d(2, 4, 1), nn.Conv2d(4, 4, 3, groups=2), nn.ReLU(), nn.Conv2d(4, 2, 1)),
     "module '1' (Conv2d) is a grouped"),
    (nn.Sequential(nn.Linear(3, 4), nn.Embedding(4, 2)), "module '1' (Embedding)"),
])
def test_underivable_structure_names_the_module(model, where):
    with pytest.raises(ValueError, match="cannot derive the permutation structure.*" + re.escape(where)):
        lmc.permutation_spec(model)


def test_modules_of_unknown_structure_on_the_input_are_left_unpermuted():
    # reshaping or embedding the raw input permutes nothing: the spec starts after it
    torch.manual_seed(0)
    m = nn.Sequential(nn.Unflatten(1, (1, 4, 4)), nn.Conv2d(1, 3, 3), nn.ReLU(), nn.Flatten(), nn.Linear(12, 2))
    spec = lmc.permutation_spec(m, example_input=torch.randn(6, 16))
    assert spec.perms == ["P_1"] and spec.axes["4.weight"] == (None, "P_1")
    e = nn.Sequential(nn.Embedding(10, 4), nn.Flatten(), nn.Linear(8, 5), nn.ReLU(), nn.Linear(5, 2))
    spec = lmc.permutation_spec(e, example_input=torch.randint(0, 10, (6, 2)))
    assert spec.axes["0.weight"] == (None, None) and spec.perms == ["P_2"]


class _Untraceable(nn.Module):
    """A residual MLP whose forward branches on a tensor value: torch.fx cannot trace it."""

    def __init__(self, seed):
        super().__init__()
        torch.manual_seed(seed)
        self.inp, self.hidden, self.out = nn.Linear(4, 6), nn.Linear(6, 6), nn.Linear(6, 2)
        self.double()

    def forward(self, x):
        h = torch.relu(self.inp(x))
        if float(h.sum()) > -1e300:
            h = h + torch.relu(self.hidden(h))
        return self.out(h)


UNTRACEABLE_SPEC = {"inp.weight": ("P", None), "inp.bias": ("P",), "hidden.weight": ("P", "P"),
                    "hidden.bias": ("P",), "out.weight": (None, "P"), "out.bias": (None,)}


def test_user_written_spec_for_an_untraceable_model():
    a, b = _Untraceable(0), _Untraceable(1)
    with pytest.raises(ValueError, match="torch.fx cannot trace.*write a PermutationSpec"):
        lmc.permutation_spec(a)
    spec = lmc.PermutationSpec(UNTRACEABLE_SPEC, activations={"P": ["hidden"]})
    x = torch.randn(20, 4, dtype=torch.float64)
    res = lmc.weight_matching(a, b, spec=spec, check_data=x)
    np.testing.assert_allclose(outputs(res.model, x), outputs(b, x), atol=1e-6, rtol=0)
    # and it recovers a planted permutation
    pi = np.random.default_rng(3).permutation(6)
    planted = permuted(a, spec, {"P": pi})
    assert np.array_equal(lmc.weight_matching(a, planted, spec=spec).permutations["P"], np.argsort(pi))
    assert np.array_equal(lmc.activation_matching(a, planted, x, spec=spec).permutations["P"], np.argsort(pi))


def test_spec_validation_names_the_problem():
    m = mlp(0)
    axes = dict(lmc.permutation_spec(m).axes)
    with pytest.raises(ValueError, match="does not list state_dict key '4.bias'"):
        lmc.weight_matching(m, mlp(1), spec=lmc.PermutationSpec({k: v for k, v in axes.items() if k != "4.bias"}))
    with pytest.raises(ValueError, match="gives 1 axes for '0.weight', which has 2"):
        lmc.weight_matching(m, mlp(1), spec=lmc.PermutationSpec({**axes, "0.weight": ("P_0",)}))
    with pytest.raises(ValueError, match="names 'nope'"):
        lmc.weight_matching(m, mlp(1), spec=lmc.PermutationSpec({**axes, "nope": (None,)}))
    with pytest.raises(ValueError, match="permutation 'P_0' acts on axes of sizes"):
        lmc.weight_matching(m, mlp(1), spec=lmc.PermutationSpec({**axes, "2.bias": ("P_0",)}))
    with pytest.raises(TypeError, match="axes\\['0.bias'\\] must be a tuple"):
        lmc.PermutationSpec({**axes, "0.bias": "P_0"})
    with pytest.raises(ValueError, match="acts on no axis"):
        lmc.PermutationSpec(axes, activations={"Q": ["1"]})
    with pytest.raises(TypeError, match="spec must be a PermutationSpec"):
        lmc.weight_matching(m, mlp(1), spec={"0.weight": ("P", None)})
    with pytest.raises(ValueError, match="must be a permutation of range\\(7\\)"):
        lmc.permute_state(m.state_dict(), lmc.permutation_spec(m), {"P_0": np.zeros(7, int), "P_2": np.arange(6)})


# ---------------------------------------------------------------------- weight matching --

@pytest.mark.parametrize("name", list(ZOO))
def test_weight_matching_recovers_a_planted_permutation(name):
    make, _ = ZOO[name]
    a = make(0)
    spec = lmc.permutation_spec(a)
    pi = random_perms(spec, a, 5)
    b = permuted(a, spec, pi)  # b's unit i is a's unit pi[i]
    b_before = copy.deepcopy(b.state_dict())
    res = lmc.weight_matching(a, b, rng=0)
    for p, v in pi.items():
        assert np.array_equal(res.permutations[p], np.argsort(v)), p
    for k, v in a.state_dict().items():
        assert torch.equal(res.model.state_dict()[k], v), k
    for k, v in b.state_dict().items():
        assert torch.equal(v, b_before[k])  # b untouched
    assert res.model is not b and res.converged


@pytest.mark.parametrize("name", list(ZOO))
def test_weight_matching_of_independent_models_keeps_b_function(name):
    make, _ = ZOO[name]
    a, b = make(0), make(1)
    res = lmc.weight_matching(a, b, rng=0)
    x = inputs(name)
    np.testing.assert_allclose(outputs(res.model, x), outputs(b, x), atol=1e-6, rtol=0)
    # the objective is the parameters' inner product, computed here directly
    params = {n for n, _ in a.named_parameters()}
    sa, sm, sb = a.state_dict(), res.model.state_dict(), b.state_dict()
    assert res.objective == pytest.approx(sum(float((sa[k] * sm[k]).sum()) for k in params), rel=1e-9)
    assert res.objective_identity == pytest.approx(sum(float((sa[k] * sb[k]).sum()) for k in params), rel=1e-9)
    assert res.objective >= res.objective_identity


def test_weight_matching_is_the_best_permutation_by_brute_force():
    # one hidden layer: one permutation, so the assignment is the exact optimum; compare with all 6!
    torch.manual_seed(0)
    a = nn.Sequential(nn.Linear(3, 6), nn.ReLU(), nn.Linear(6, 2)).double()
    b = nn.Sequential(nn.Linear(3, 6), nn.ReLU(), nn.Linear(6, 2)).double()
    A = {k: v.numpy() for k, v in a.state_dict().items()}
    B = {k: v.numpy() for k, v in b.state_dict().items()}

    def objective(p):
        p = list(p)
        return ((A["0.weight"] * B["0.weight"][p]).sum() + (A["0.bias"] * B["0.bias"][p]).sum()
                + (A["2.weight"] * B["2.weight"][:, p]).sum() + (A["2.bias"] * B["2.bias"]).sum())

    best = max(itertools.permutations(range(6)), key=objective)
    res = lmc.weight_matching(a, b)
    assert res.permutations["P_0"].tolist() == list(best)
    assert res.objective == pytest.approx(objective(best), rel=1e-12)


# ------------------------------------------------------------------ activation matching --

def test_activation_matching_is_the_best_permutation_by_brute_force():
    torch.manual_seed(0)
    a = nn.Sequential(nn.Linear(3, 6), nn.Tanh(), nn.Linear(6, 2)).double()
    b = nn.Sequential(nn.Linear(3, 6), nn.Tanh(), nn.Linear(6, 2)).double()
    X = torch.randn(300, 3, dtype=torch.float64)
    with torch.no_grad():
        ha, hb = torch.tanh(a[0](X)).numpy(), torch.tanh(b[0](X)).numpy()
    corr = np.corrcoef(ha.T, hb.T)[:6, 6:]  # numpy's Pearson correlation, A's units x B's units
    best = max(itertools.permutations(range(6)), key=lambda p: corr[np.arange(6), list(p)].sum())
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, torch.zeros(300)), batch_size=64)
    res = lmc.activation_matching(a, b, loader)
    assert res.permutations["P_0"].tolist() == list(best)
    assert res.objective == pytest.approx(corr[np.arange(6), list(best)].sum(), rel=1e-9)
    assert res.objective_identity == pytest.approx(np.trace(corr), rel=1e-9)


@pytest.mark.parametrize("name", list(ZOO))
def test_activation_matching_recovers_a_planted_permutation(name):
    make, _ = ZOO[name]
    a = make(0)
    spec = lmc.permutation_spec(a)
    pi = random_perms(spec, a, 7)
    b = permuted(a, spec, pi)
    res = lmc.activation_matching(a, b, inputs(name, n=200))
    for p, v in pi.items():
        assert np.array_equal(res.permutations[p], np.argsort(v)), p
    other = lmc.activation_matching(a, make(1), inputs(name, n=200))
    x = inputs(name, seed=1)
    np.testing.assert_allclose(outputs(other.model, x), outputs(make(1), x), atol=1e-6, rtol=0)


def test_alignment_errors():
    a = mlp(0)
    with pytest.raises(ValueError, match="same architecture"):
        lmc.weight_matching(a, nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 3)).double())
    with pytest.raises(TypeError, match="model_b must be a torch.nn.Module"):
        lmc.weight_matching(a, "b")
    b = mlp(1)
    with torch.no_grad():
        b[2].weight[1, 1] = float("nan")
    with pytest.raises(ValueError, match="model_b's '2.weight' has 1 non-finite"):
        lmc.weight_matching(a, b)
    with pytest.raises(ValueError, match="max_iter must be >= 1"):
        lmc.weight_matching(a, mlp(1), max_iter=0)
    with pytest.raises(TypeError, match="data must be a tensor X"):
        lmc.activation_matching(a, mlp(1), "data")
    with pytest.raises(TypeError, match="re-iterable"):
        lmc.activation_matching(a, mlp(1), (x for x in [torch.randn(4, 5)]))
    with pytest.raises(ValueError, match="names none for"):
        lmc.activation_matching(a, mlp(1), torch.randn(8, 5), spec=lmc.PermutationSpec(lmc.permutation_spec(a).axes))


def test_alignment_result_reads_well():
    a, b = mlp(0), mlp(1)
    res = lmc.weight_matching(a, b, rng=0)
    assert repr(res).startswith("AlignmentResult(method='weight', permutations={P_0: 7 (")
    d = json.loads(json.dumps(res.to_dict()))
    assert d["permutations"]["P_0"] == res.permutations["P_0"].tolist() and "model" not in d
    sd = res.apply(b.state_dict())
    for k, v in res.model.state_dict().items():
        assert torch.equal(sd[k], v)
    assert "P_0: 0.weight[0], 0.bias[0], 2.weight[1]" in repr(res.spec)


# ------------------------------------------------------------------------------- REPAIR --

def _repair_reference(a, b, alpha, X, eps=1e-5):
    """REPAIR as Jordan et al.'s code does it, with torch's own BatchNorm: a BatchNorm1d after
    every hidden Linear, affine = the interpolated endpoint statistics, its running statistics
    reset and tracked (momentum=None) in one training-mode pass, then evaluated in eval mode."""
    def stats(m):
        out = []
        with torch.no_grad():
            h = X
            for layer in m:
                h = layer(h)
                if isinstance(layer, nn.Linear) and len(out) < 2:
                    out.append((h.mean(0), h.var(0, unbiased=True).sqrt()))
        return out

    sa, sb = stats(a), stats(b)
    mid = lmc.interpolate(a, b, alpha)
    layers = []
    for i, layer in enumerate(mid):
        layers.append(layer)
        if isinstance(layer, nn.Linear) and i < 4:
            k = i // 2
            bn = nn.BatchNorm1d(layer.out_features, eps=eps, momentum=None).double()
            with torch.no_grad():
                bn.weight.copy_((1 - alpha) * sa[k][1] + alpha * sb[k][1])
                bn.bias.copy_((1 - alpha) * sa[k][0] + alpha * sb[k][0])
            layers.append(bn)
    ref = nn.Sequential(*layers).train()
    with torch.no_grad():
        ref(X)  # one batch: the exact statistics
    return ref.eval()


def test_repair_matches_a_transcription_with_torch_batchnorm():
    a, b = mlp(0), mlp(1)
    X = torch.randn(400, 5, dtype=torch.float64)
    x = torch.randn(50, 5, dtype=torch.float64)
    for alpha in (0.0, 0.3, 0.5):
        m = lmc.repair(a, b, alpha, X, batch_size=400)
        np.testing.assert_allclose(outputs(m, x), outputs(_repair_reference(a, b, alpha, X), x), rtol=1e-9, atol=1e-9)
    # the corrected units have the interpolated statistics (std up to eps)
    m = lmc.repair(a, b, 0.5, X, batch_size=400)
    with torch.no_grad():
        h = m[0](X)
        target = 0.5 * (a[0](X).std(0) + b[0](X).std(0))
    np.testing.assert_allclose(h.std(0), target, rtol=1e-3)


def test_evaluate_path_with_repair_matches_repair_per_alpha():
    a, b = mlp(0), mlp(1)
    g = torch.Generator().manual_seed(0)
    X = torch.randn(300, 5, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (300,), generator=g)
    ev = lmc.classification_evaluator((X, y), batch_size=128)
    res = lmc.weight_matching(a, b, rng=0)
    p = lmc.evaluate_path(a, b, ev, alphas=5, align=res, repair=True)
    assert p.method == "batched"
    expected = [ev(lmc.repair(a, res.model, float(al), X, batch_size=128))["loss"] for al in p.alphas]
    np.testing.assert_allclose(p.loss, expected, rtol=1e-9)
    with pytest.raises(ValueError, match="REPAIR is for networks without BatchNorm"):
        lmc.evaluate_path(mlp_norms(0), mlp_norms(1), lmc.classification_evaluator((X, y)), repair=True)
    with pytest.raises(ValueError, match="whole-model paths"):
        lmc.evaluate_path(a, b, ev, repair=True, layers=["0"])
    with pytest.raises(ValueError, match="has none"):
        nb = nn.Sequential(nn.Linear(5, 4, bias=False), nn.ReLU(), nn.Linear(4, 3))
        renormalization.repair_layers(nb)


# ------------------------------------------------------------------------ align= in studies --

def _data(n=200, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 5, generator=g, dtype=torch.float64), torch.randint(0, 3, (n,), generator=g)


def test_every_study_takes_align():
    a, b = mlp(0), mlp(1)
    X, y = _data()
    ev = lmc.classification_evaluator((X, y))
    res = lmc.weight_matching(a, b, rng=0)
    bb = res.model
    p = lmc.evaluate_path(a, b, ev, alphas=5, align="weight")
    np.testing.assert_array_equal(p.loss, lmc.evaluate_path(a, bb, ev, alphas=5).loss)
    np.testing.assert_array_equal(p.loss, lmc.evaluate_path(a, b, ev, alphas=5, align=res).loss)
    act = lmc.activation_matching(a, b, X)
    q = lmc.evaluate_path(a, b, ev, alphas=5, align="activation")  # the evaluator's inputs
    np.testing.assert_array_equal(q.loss, lmc.evaluate_path(a, act.model, ev, alphas=5).loss)
    lw = lmc.layerwise_barriers(a, b, ev, alphas=3, align="weight")
    np.testing.assert_array_equal(lw.paths["loss"], lmc.layerwise_barriers(a, bb, ev, alphas=3).paths["loss"])
    cu = lmc.cumulative_barriers(a, b, ev, alphas=3, align=res)
    np.testing.assert_array_equal(cu.paths["loss"], lmc.cumulative_barriers(a, bb, ev, alphas=3).paths["loss"])
    ro = lmc.perturbation_robustness(a, b, ev, alphas=3, n_draws=2, rng=0, align="weight")
    np.testing.assert_array_equal(ro.interpolation["loss"],
                                  lmc.perturbation_robustness(a, bb, ev, alphas=3, n_draws=2, rng=0).interpolation["loss"])
    ckpts = {"a": [mlp(2).state_dict(), a.state_dict()], "b": [mlp(3).state_dict(), b.state_dict()]}
    su = lmc.subspace_perturbations(a, b, ckpts, ev, scales=(0.0, 0.5), n_draws=2, rng=0, align=res)
    manual = {"a": ckpts["a"], "b": [res.apply(c) for c in ckpts["b"]]}
    ref = lmc.subspace_perturbations(a, bb, manual, ev, scales=(0.0, 0.5), n_draws=2, rng=0)
    np.testing.assert_array_equal(su.mean["loss"], ref.mean["loss"])
    assert su.subspace_dim == ref.subspace_dim and su.distance == ref.distance
    m = lmc.interpolate(a, b, 0.5, align=res)
    assert torch.equal(m[0].weight, 0.5 * a[0].weight.detach() + 0.5 * bb[0].weight.detach())
    with pytest.raises(ValueError, match="checkpoints as"):
        lmc.subspace_perturbations(a, b, ckpts["a"] + ckpts["b"], ev, align="weight")
    with pytest.raises(ValueError, match="align must be None, 'weight', 'activation'"):
        lmc.evaluate_path(a, b, ev, align="weights")
    with pytest.raises(ValueError, match="needs inputs"):
        lmc.evaluate_path(a, b, lambda m: {"loss": 0.0}, align="activation")


def test_weight_matching_removes_most_of_the_barrier_of_independent_mlps():
    # the field's finding (Entezari et al. 2022; Ainsworth et al. 2023), on scikit-learn's digits:
    # two 2x32 ReLU MLPs trained from different initializations (fixed seeds)
    from radonml import datasets
    from radonml.torch import make_mlp

    X, y, _, _ = datasets.load_digits()
    X, y = torch.as_tensor(X, dtype=torch.float32), torch.as_tensor(y)
    a, b, _ = lmc.train_pair(lambda: make_mlp(64, [32, 32], 10, seed=None), X, y, epochs=8, lr=0.05, momentum=0.9,
                             different_init=True, seed=0)
    ev = lmc.classification_evaluator((X, y))
    before = lmc.evaluate_path(a, b, ev).barrier("loss")
    res = lmc.weight_matching(a, b, rng=0)
    after = lmc.evaluate_path(a, b, ev, align=res).barrier("loss")
    act = lmc.evaluate_path(a, b, ev, align="activation").barrier("loss")
    assert before > 0.3  # measured 0.72
    assert after < 0.1 * before and act < 0.1 * before  # measured 0.0 and 0.0
    assert lmc.evaluate_path(a, b, ev).barrier("accuracy") > 0.1  # measured 0.33 (error barrier)


def test_docstring_examples():
    import doctest

    for mod in (alignment, permutations, renormalization):
        assert doctest.testmod(mod).failed == 0, mod.__name__
