"""radonml.lmc.findings: each finding's criterion on hand-made study results whose answer is known."""

import doctest
import json

import numpy as np
import pytest

pytest.importorskip("torch")

from radonml import lmc  # noqa: E402
from radonml.lmc import findings  # noqa: E402
from radonml.lmc.layerwise import CumulativeResult, LayerwiseResult  # noqa: E402
from radonml.lmc.robustness import RobustnessResult  # noqa: E402
from radonml.lmc.subspaces import SubspaceResult  # noqa: E402


def _layerwise(single, full, ends=(0.1, 0.2)):
    single = np.asarray(single, dtype=float)
    return LayerwiseResult(layers=[str(i) for i in range(single.shape[0])], bases=["a", "b"],
                           alphas=np.linspace(0, 1, 3), endpoints={"loss": ends}, paths={},
                           barriers={"loss": {"linear": single}},
                           full_path=lmc.PathResult(np.array([0.0, 1.0]), {"loss": np.array(ends)}),
                           full_barriers={"loss": {"linear": full}})


def _cumulative(from_input, from_output):
    B = np.stack([np.stack([from_input, from_input]), np.stack([from_output, from_output])])  # (2 dirs, 2 bases, L)
    L = B.shape[-1]
    return CumulativeResult(layers=[f"l{i}" for i in range(L)], directions=["input", "output"], bases=["a", "b"],
                            counts=np.arange(1, L + 1), alphas=np.linspace(0, 1, 3), endpoints={"loss": (0.1, 0.1)},
                            paths={}, barriers={"loss": {"linear": B}})


def test_single_layer_finding():
    f = lmc.paper_findings(_layerwise([[0.1, 0.3], [0.2, 0.05]], 1.0))["single_layer"]
    assert f.holds and f.measured["ratio"] == pytest.approx(0.3)
    assert f.measured["layer"] == "0" and f.measured["base"] == "b"
    assert "0.3 (holds below 0.5)" in f.summary
    assert not lmc.paper_findings(_layerwise([[0.6, 0.1]], 1.0))["single_layer"].holds
    # no full barrier worth the name (below a tenth of the worse endpoint): vacuous, not held
    f = lmc.paper_findings(_layerwise([[0.0, 0.0]], 0.015, ends=(0.1, 0.2)))["single_layer"]
    assert not f.holds and "linearly connected" in f.summary


def test_middle_layers_finding():
    # 10 layers; the barrier rises most at layer 4 from the input and at layer 7 (count 4) from the output
    up_in = np.array([0.0, 0.1, 0.2, 1.5, 1.7, 1.8, 1.8, 1.9, 2.0, 2.0])
    up_out = np.array([0.0, 0.1, 0.1, 1.2, 1.4, 1.6, 1.8, 1.9, 2.0, 2.0])
    f = lmc.paper_findings(cumulative=_cumulative(up_in, up_out))["middle_layers"]
    assert f.measured["input"]["steepest_rise_layer"] == 4
    assert f.measured["output"]["steepest_rise_layer"] == 10 - 4 + 1
    assert f.holds
    # the first layer creates the barrier: from the input it jumps at once, from the output at the last count
    first = np.array([1.5, 1.6, 1.7, 1.8, 1.8, 1.9, 1.9, 2.0, 2.0, 2.0])
    last = np.array([0.0, 0.0, 0.1, 0.1, 0.1, 0.1, 0.2, 0.2, 0.2, 2.0])
    f = lmc.paper_findings(cumulative=_cumulative(first, last))["middle_layers"]
    assert f.measured["input"]["steepest_rise_layer"] == 1 and f.measured["output"]["steepest_rise_layer"] == 1
    assert not f.holds
    # the middle is strict: layer 2 of 10 has its centre at 0.15 of the depth, layer 3 at 0.25
    assert not findings.in_middle(2, 10) and findings.in_middle(3, 10) and findings.in_middle(8, 10)
    assert not findings.in_middle(9, 10)
    # and no full-model barrier leaves nothing to locate
    f = lmc.paper_findings(_layerwise([[0.0, 0.0]], 0.0), _cumulative(up_in, up_out))["middle_layers"]
    assert not f.holds


def _robustness(toward, random, alphas=(0.0, 0.5, 1.0), base=0.1):
    toward, random = np.asarray(toward, float), np.asarray(random, float)
    n, m = toward.size, len(alphas)
    interp = np.full((n, m), base)
    rmean = np.full((n, m), base)
    i = list(alphas).index(0.5) if 0.5 in alphas else None
    if i is not None:
        interp[:, i] += toward
        rmean[:, i] += random
    return RobustnessResult(layers=[str(k) for k in range(n)], alphas=np.array(alphas), norms=np.ones(n),
                            interpolation={"loss": interp}, random_mean={"loss": rmean},
                            random_std={"loss": np.zeros((n, m))}, random_draws={"loss": np.zeros((n, 1, m))})


def test_averaging_direction_finding():
    f = lmc.paper_findings(robustness=_robustness([0.3, 0.15, 0.2], [0.05, 0.05, 0.2]))["averaging_direction"]
    assert f.measured["ratio"] == pytest.approx(0.65 / 0.3) and f.holds  # means of the raises: 0.217 vs 0.1
    assert f.measured["layers_far_more"] == 2
    assert not lmc.paper_findings(robustness=_robustness([0.3, 0.1], [0.2, 0.1]))["averaging_direction"].holds
    # random directions that do not raise the loss at all: holds when the averaging step does
    f = lmc.paper_findings(robustness=_robustness([0.01, 0.02], [-0.001, 0.0]))["averaging_direction"]
    assert f.holds and np.isinf(f.measured["ratio"])
    # without alpha = 1/2 the finding is not measured (no crash)
    f = lmc.paper_findings(robustness=_robustness([0.3], [0.1], alphas=(0.0, 1.0)))["averaging_direction"]
    assert f.holds is None and "no point at 0.5" in f.summary


def _subspace(rise, scales=(0.0, 0.5)):
    rise = np.asarray(rise, dtype=float)  # (3,): interpolation, training, null
    base = np.array([0.1, 0.2])
    mean = np.repeat(base[:, None, None], 3, axis=1).repeat(len(scales), axis=2)
    if 0.5 in scales:
        mean[:, :, list(scales).index(0.5)] += rise
    return SubspaceResult(models=["a", "b"], directions=["interpolation", "training", "null"],
                          scales=np.array(scales), distance=2.0, subspace_dim=3, n_params=10, mean={"loss": mean},
                          std={"loss": np.zeros_like(mean)}, unperturbed={"loss": base})


def test_subspace_finding():
    f = lmc.paper_findings(subspace=_subspace([0.5, 0.2, 0.01]))["subspaces"]
    assert f.holds and f.measured["increase_interpolation"] == pytest.approx(0.5)
    f = lmc.paper_findings(subspace=_subspace([0.5, 2.0, 0.01]))["subspaces"]
    assert not f.holds and f.measured["increase_training"] == pytest.approx(2.0)
    assert lmc.paper_findings(subspace=_subspace([0.5, 0.2, 0.1], scales=(0.0, 1.0)))["subspaces"].holds is None


def test_findings_text_and_json():
    res = lmc.paper_findings(_layerwise([[0.1, 0.3]], 1.0), robustness=_robustness([0.3], [0.5]))
    text = res.text()
    assert text.startswith("1. single-layer barriers are small next to the full-model barrier: holds.")
    assert "2. the averaging direction hurts far more than random directions of the same norm: does not hold on " \
           "this run." in text
    assert not res.all_hold
    with pytest.raises(KeyError, match="no finding 'subspaces'"):
        res["subspaces"]
    d = json.loads(res.to_json())
    assert [f["holds"] for f in d["findings"]] == [True, False]
    with pytest.raises(ValueError, match="kind must be one of"):
        lmc.paper_findings(kind="avg")


def test_docstring_examples():
    assert doctest.testmod(findings).failed == 0


# ------------------------------------------------------------ degenerate inputs: not applicable --

def _middle_by_hand(p, L):
    """Finding 2's rule transcribed: layer p of L spans [(p-1)/L, p/L]; in the middle when it is
    neither the first nor the last layer and its centre lies strictly inside (0.2, 0.8)."""
    lo, hi = (p - 1) / L, p / L
    return p != 1 and p != L and 0.2 < (lo + hi) / 2 < 0.8


@pytest.mark.parametrize("L, middle", [(1, []), (2, []), (3, [2]), (4, [2, 3]), (5, [2, 3, 4]),
                                       (10, [3, 4, 5, 6, 7, 8])])
def test_in_middle_for_small_depths_by_hand(L, middle):
    # centres: L=2: 0.25, 0.75 (inside the band, but the first and the last layer);
    # L=3: 1/6, 1/2, 5/6; L=4: 1/8, 3/8, 5/8, 7/8; L=5: 0.1, 0.3, 0.5, 0.7, 0.9
    assert [p for p in range(1, L + 1) if findings.in_middle(p, L)] == middle
    assert [p for p in range(1, L + 1) if _middle_by_hand(p, L)] == middle
    with pytest.raises(ValueError, match="position must be a layer 1 to n_layers"):
        findings.in_middle(L + 1, L)


@pytest.mark.parametrize("L", [1, 2])
def test_middle_layers_not_applicable_below_three_layers(L):
    # a clear barrier that rises at the last layer from the input: "holds" on today's code for L = 2
    up = np.array([0.0, 2.0])[-L:] if L == 2 else np.array([2.0])
    res = lmc.paper_findings(_layerwise(np.full((L, 2), 0.1), 2.0), _cumulative(up, up))
    f = res["middle_layers"]
    assert f.holds is None and not f.applicable and f.verdict == "not applicable"
    assert f"a network of {L} layer" in f.summary and "has no middle" in f.summary
    assert f"(cumulative barriers): not applicable. a network of {L} layer" in res.text()
    d = json.loads(res.to_json())["findings"][1]
    assert d["holds"] is None and d["applicable"] is False and d["verdict"] == "not applicable"
    assert res.all_hold  # only decided findings count


def test_middle_layers_three_layers_decided():
    # L = 3: the middle layer (2) creates the barrier from both ends -> holds; the first -> does not
    mid = lmc.paper_findings(cumulative=_cumulative(np.array([0.0, 1.8, 2.0]), np.array([0.1, 1.9, 2.0])))
    assert mid["middle_layers"].measured["input"]["steepest_rise_layer"] == 2
    assert mid["middle_layers"].measured["output"]["steepest_rise_layer"] == 2 and mid["middle_layers"].holds
    first = lmc.paper_findings(cumulative=_cumulative(np.array([1.8, 1.9, 2.0]), np.array([0.0, 0.1, 2.0])))
    assert first["middle_layers"].holds is False and first["middle_layers"].applicable


def test_single_layer_not_applicable_without_a_full_barrier():
    # full barrier 0: today's code reports the ratio inf and "does not hold"
    f = lmc.paper_findings(_layerwise([[0.01, 0.0], [0.02, 0.0]], 0.0))["single_layer"]
    assert f.holds is None and f.verdict == "not applicable" and f.measured["ratio"] is None
    assert "inf" not in f.summary and "linearly connected" in f.summary
    assert f.measured["max_single_layer_barrier"] == pytest.approx(0.02)
    # 0.015 is not above a tenth of the worse endpoint (0.02): not applicable either
    assert lmc.paper_findings(_layerwise([[0.0, 0.0]], 0.015))["single_layer"].verdict == "not applicable"
    # just above it: decided, ratio 0.01 / 0.021
    f = lmc.paper_findings(_layerwise([[0.01, 0.0]], 0.021))["single_layer"]
    assert f.holds is True and f.measured["ratio"] == pytest.approx(0.01 / 0.021)


def test_middle_layers_not_applicable_without_a_full_barrier():
    up_in = np.array([0.0, 0.1, 0.2, 1.5, 1.7])
    f = lmc.paper_findings(_layerwise(np.zeros((5, 2)), 0.0), _cumulative(up_in, up_in))["middle_layers"]
    assert f.verdict == "not applicable" and "no full-model barrier" in f.summary
    # without the layer-wise study: read off the cumulative barrier of all layers (0.005 < 0.01)
    flat = np.array([0.0, 0.001, 0.004, 0.005, 0.005])
    f = lmc.paper_findings(cumulative=_cumulative(flat, flat))["middle_layers"]
    assert f.verdict == "not applicable" and "linearly connected" in f.summary


def test_averaging_direction_degenerate_inputs():
    # neither direction raises the loss: the claim fails, but no ratio (today: nan)
    f = lmc.paper_findings(robustness=_robustness([-0.01, -0.02], [0.0, -0.001]))["averaging_direction"]
    assert f.holds is False and f.measured["ratio"] is None and "nan" not in f.summary
    assert "neither raises it" in f.summary
    # identical models (steps of norm 0): not applicable
    rb = _robustness([0.0, 0.0], [0.0, 0.0])
    rb.norms = np.zeros(2)
    f = lmc.paper_findings(robustness=rb)["averaging_direction"]
    assert f.holds is None and f.verdict == "not applicable" and "identical" in f.summary


def test_subspace_degenerate_inputs():
    sp = _subspace([0.0, 0.0, 0.0])
    sp.distance = 0.0
    f = lmc.paper_findings(subspace=sp)["subspaces"]
    assert f.verdict == "not applicable" and "identical" in f.summary
    # nothing finite to compare with (today: "holds" vacuously)
    f = lmc.paper_findings(subspace=_subspace([0.5, np.nan, np.nan]))["subspaces"]
    assert f.holds is None and f.verdict == "not applicable"
