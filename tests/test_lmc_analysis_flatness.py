"""analyze_pair(flatness=True): each layer's relative flatness in A and B, beside its
single-layer barriers, equals direct radonml.flatness.relative_flatness calls (exact and
Hutchinson, same seeds), in per_layer(), the table, the JSON and a figure."""

import copy
import json

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from radonml import lmc  # noqa: E402
from radonml.flatness import relative_flatness  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")

CE = nn.functional.cross_entropy


def _pair():
    torch.manual_seed(0)
    mk = lambda: nn.Sequential(nn.Linear(5, 12), nn.ReLU(), nn.Linear(12, 8), nn.ReLU(), nn.Linear(8, 3))  # noqa: E731
    X = torch.randn(60, 5)
    y = torch.arange(60) % 3
    return mk(), mk(), X, y


@pytest.mark.parametrize("method, probes", [("exact", 20), ("hutchinson", 7)])
def test_rows_equal_direct_relative_flatness_calls(method, probes):
    a, b, X, y = _pair()
    res = lmc.analyze_pair(a, b, lmc.classification_evaluator((X, y)), alphas=3, n_draws=1, rng=4,
                           studies=("layerwise", "robustness"), flatness=True, flatness_method=method,
                           flatness_probes=probes)
    rows = res.per_layer()
    assert [r["layer"] for r in rows] == ["0", "2", "4"]
    for i, row in enumerate(rows):
        for m, model in (("a", a), ("b", b)):
            # seeds as layerwise_flatness: rng + 2 i for the i-th measured weight
            want = relative_flatness(model, (X, y), layer=f"{row['layer']}.weight", loss_fn=CE, method=method,
                                     n_probes=probes, seed=4 + 2 * i).value
            assert row[f"relative_flatness_{m}"] == pytest.approx(want, rel=1e-12)
        # beside the barriers and robustness of the same layer
        assert {"loss_barrier_into_a", "loss_raise_random", "relative_flatness_a"} <= set(row)
    assert res.flatness["a"][0].method == method
    assert set(res.timings_s["flatness"]) == {"wall", "cpu"}
    d = json.loads(json.dumps(res.to_dict()))
    assert d["per_layer"][1]["relative_flatness_b"] == pytest.approx(rows[1]["relative_flatness_b"])
    assert d["flatness"]["weights"] == ["0.weight", "2.weight", "4.weight"]
    assert d["flatness"]["a"][2]["value"] == pytest.approx(rows[2]["relative_flatness_a"])
    text = res.table()
    assert "flatness A" in text and "flatness B" in text and "relative flatness kappa" in text
    assert f"{rows[0]['relative_flatness_a']:.4g}" in text


def test_exact_flatness_of_the_last_layer_by_a_dense_autograd_hessian():
    """Independently of radonml.flatness: kappa = sum <w_s, w_s'> Tr(H_ss') from
    torch.autograd.functional.hessian in float64."""
    a, b, X, y = _pair()
    res = lmc.analyze_pair(a, b, lmc.classification_evaluator((X, y)), alphas=3, n_draws=1,
                           studies=("layerwise",), flatness=True)
    for m, model in (("a", a), ("b", b)):
        net = copy.deepcopy(model).double()
        params = dict(net.named_parameters())
        others = {k: v.detach() for k, v in params.items() if k != "4.weight"}
        H = torch.autograd.functional.hessian(
            lambda w: CE(torch.func.functional_call(net, {**others, "4.weight": w}, (X.double(),)), y),
            params["4.weight"].detach())
        W = params["4.weight"].detach()
        kappa = float(((W @ W.T) * torch.einsum("sjtj->st", H)).sum())
        assert res.per_layer()[2][f"relative_flatness_{m}"] == pytest.approx(kappa, rel=1e-4)


def test_layers_without_one_matrix_get_none_and_the_figure():
    import matplotlib

    matplotlib.use("Agg")
    torch.manual_seed(1)
    mk = lambda: nn.Sequential(nn.Conv1d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(16, 2))  # noqa: E731
    a, b = mk(), mk()
    X, y = torch.randn(20, 1, 10), torch.arange(20) % 2
    res = lmc.analyze_pair(a, b, lmc.classification_evaluator((X, y)), alphas=3, n_draws=1,
                           studies=("layerwise",), flatness=True)
    rows = res.per_layer()
    assert [r["layer"] for r in rows] == ["0", "3"]
    assert rows[0]["relative_flatness_a"] is None and rows[0]["relative_flatness_b"] is None
    assert rows[1]["relative_flatness_a"] == pytest.approx(
        relative_flatness(a, (X, y), layer="3.weight", loss_fn=CE).value, rel=1e-12)
    assert "not measured (no single 2-D weight): 0" in res.table()
    json.dumps(res.to_dict())
    figs = res.figures()
    assert "flatness.png" in figs
    ax_k, ax_b = figs["flatness.png"].axes[:2]
    assert [t.get_text() for t in ax_b.get_xticklabels()] == ["0", "3"]


def test_off_by_default_and_regression_mse():
    a, b, X, y = _pair()
    res = lmc.analyze_pair(a, b, lmc.classification_evaluator((X, y)), alphas=3, n_draws=1, studies=("layerwise",))
    assert res.flatness is None and "relative_flatness_a" not in res.per_layer()[0]
    assert "flatness" not in res.timings_s and "flatness.png" not in res.figures()
    # regression: the evaluator's mean squared error, targets reshaped to the output
    torch.manual_seed(2)
    ra, rb = nn.Sequential(nn.Linear(5, 4), nn.Tanh(), nn.Linear(4, 1)), nn.Sequential(nn.Linear(5, 4), nn.Tanh(),
                                                                                        nn.Linear(4, 1))
    t = X[:, 0] - X[:, 1]
    ev = lmc.regression_evaluator((X, t), loss="mse")
    res = lmc.analyze_pair(ra, rb, ev, alphas=3, n_draws=1, studies=("layerwise",), flatness=True,
                           flatness_data=(X, t))
    want = relative_flatness(ra, (X, t[:, None]), layer="2.weight", loss_fn=nn.functional.mse_loss).value
    assert res.per_layer()[1]["relative_flatness_a"] == pytest.approx(want, rel=1e-12)
    with pytest.raises(ValueError, match="twice-differentiable loss.*'l1'.*flatness_loss="):
        lmc.analyze_pair(ra, rb, lmc.regression_evaluator((X, t), loss="l1"), alphas=3, studies=("layerwise",),
                         flatness=True, flatness_data=(X, t))


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(flatness="yes"), TypeError, "flatness must be True or False"),
    (dict(flatness=True, flatness_method="lanczos"), ValueError, "flatness_method must be"),
    (dict(flatness=True, flatness_probes=0), ValueError, "flatness_probes must be >= 1"),
    (dict(flatness=True, flatness_loss=3), TypeError, "flatness_loss must be callable"),
])
def test_bad_flatness_inputs(kwargs, exc, match):
    a, b, X, y = _pair()
    with pytest.raises(exc, match=match):
        lmc.analyze_pair(a, b, lmc.classification_evaluator((X, y)), alphas=3, studies=("layerwise",), **kwargs)


def test_an_evaluator_without_data_needs_flatness_data():
    a, b, X, y = _pair()
    ev = lmc.classification_evaluator((X, y))

    def plain(model):  # a bare function: no .data, no loss to take
        return ev(model)

    with pytest.raises(ValueError, match="flatness=True needs data"):
        lmc.analyze_pair(a, b, plain, alphas=3, studies=("layerwise",), flatness=True)
    with pytest.raises(ValueError, match="cannot take it from function"):
        lmc.analyze_pair(a, b, plain, alphas=3, studies=("layerwise",), flatness=True, flatness_data=(X, y))
    res = lmc.analyze_pair(a, b, plain, alphas=3, studies=("layerwise",), flatness=True, flatness_data=(X, y),
                           flatness_loss=CE)
    assert res.per_layer()[0]["relative_flatness_a"] == pytest.approx(
        relative_flatness(a, (X, y), layer="0.weight", loss_fn=CE).value, rel=1e-12)
