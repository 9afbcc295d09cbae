"""radonml.lmc.barriers: the barrier definitions on hand-made paths, and barriers found by
search_barrier against an independent float64 maximization (torch-free)."""

import doctest
import json
import warnings

import numpy as np
import pytest

from radonml import lmc
from radonml.exceptions import EndpointMismatchWarning
from radonml.lmc import barriers


def _path(alphas, values, name="loss"):
    return lmc.PathResult(alphas=np.asarray(alphas, float), metrics={name: np.asarray(values, float)})


def test_barrier_definitions_on_hand_made_paths():
    # endpoints 1 and 3; chord at 0.25, 0.5, 0.75 is 1.5, 2, 2.5
    p = _path([0, 0.25, 0.5, 0.75, 1], [1.0, 2.5, 3.5, 2.0, 3.0])
    assert lmc.barrier(p, kind="linear") == pytest.approx(1.5)  # 3.5 - 2 at alpha 0.5
    with pytest.warns(EndpointMismatchWarning, match="kind='linear'"):
        assert lmc.barrier(p, kind="mean") == pytest.approx(3.5 - 2.0)
    assert lmc.barrier(p, kind="max") == pytest.approx(0.5)
    b, a = lmc.barrier(p, kind="linear", return_alpha=True)
    assert a == 0.5
    # a straight line between different endpoints: no linear barrier, but a mean "barrier" = half the gap
    line = _path([0, 0.5, 1], [1.0, 2.0, 3.0])
    assert lmc.barrier(line, kind="linear") == pytest.approx(0.0)
    with pytest.warns(EndpointMismatchWarning):
        assert lmc.barrier(line, kind="mean") == pytest.approx(1.0)
    assert lmc.barrier(line, kind="max") == pytest.approx(0.0)
    # points outside [0, 1] are ignored; equal endpoints do not warn
    q = _path([-0.5, 0, 0.5, 1, 1.5], [100.0, 1.0, 1.5, 1.0, 100.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert lmc.barrier(q, kind="mean") == pytest.approx(0.5)


def test_endpoint_warning_points_at_the_caller():
    line = _path([0, 0.5, 1], [1.0, 2.0, 3.0])
    with pytest.warns(EndpointMismatchWarning) as record:
        lmc.barrier(line, kind="mean")
    assert record[0].filename == __file__


def test_barrier_on_accuracy_uses_the_error():
    p = lmc.PathResult(alphas=np.array([0, 0.5, 1.0]), metrics={"accuracy": np.array([0.9, 0.6, 0.9])})
    assert lmc.barrier(p, "accuracy", "linear") == pytest.approx(0.3)
    assert lmc.barrier(p, "error", "max") == pytest.approx(0.3)


def test_barrier_with_reference_endpoints():
    p = _path([0, 0.5, 1], [2.0, 2.5, 2.2])
    assert lmc.barrier(p, kind="mean", endpoints=(2.0, 2.0)) == pytest.approx(0.5)
    assert lmc.barrier(p, kind="linear", endpoints=(1.0, 3.0)) == pytest.approx(1.0)  # 2 - 1 at alpha 0


def test_barrier_on_accuracy_with_reference_endpoints_in_accuracy():
    # endpoints are given in the metric's units: accuracies, turned into errors like the path
    p = lmc.PathResult(alphas=np.array([0, 0.5, 1.0]), metrics={"accuracy": np.array([0.8, 0.6, 0.7])})
    # errors 0.2, 0.4, 0.3 against reference errors 0.1, 0.1
    assert lmc.barrier(p, "accuracy", "mean", endpoints=(0.9, 0.9)) == pytest.approx(0.3)
    assert lmc.barrier(p, "accuracy", "linear", endpoints=(0.9, 0.7)) == pytest.approx(0.4 - 0.2)
    assert lmc.barrier(p, "error", "mean", endpoints=(0.1, 0.1)) == pytest.approx(0.3)


def test_barrier_bad_inputs():
    p = _path([0.2, 0.5, 1], [1.0, 2.0, 1.0])
    with pytest.raises(ValueError, match="no point at alpha = 0"):
        lmc.barrier(p)
    with pytest.raises(ValueError, match="kind must be one of"):
        lmc.barrier(_path([0, 1], [1, 1]), kind="avg")
    with pytest.raises(ValueError, match="metric must be one of"):
        lmc.barrier(_path([0, 1], [1, 1]), metric="acc5")
    with pytest.raises(TypeError, match="path must be a PathResult"):
        lmc.barrier([1.0, 2.0])
    with pytest.raises(TypeError, match="endpoints must be a pair"):
        lmc.barrier(_path([0, 1], [1, 1]), endpoints=3.0)


def test_plot_path_marks_the_error_barriers_of_an_accuracy_path():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from radonml.plot import plot_path

    p = lmc.PathResult(alphas=np.array([0, 0.5, 1.0]), metrics={"accuracy": np.array([0.8, 0.6, 0.7])})
    for endpoints, mean in ((None, 0.4 - 0.25), ((0.9, 0.9), 0.3)):
        fig = plot_path(p, "accuracy", endpoints=endpoints)
        labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
        assert f"mean barrier {mean:.3g}" in labels, labels
        np.testing.assert_allclose(fig.axes[0].lines[0].get_ydata(), [0.2, 0.4, 0.3])
        plt.close(fig)


def test_docstring_examples():
    assert doctest.testmod(barriers).failed == 0


# ------------------------------------------------------------------ barriers found, not sampled --

def _true_sup(f, kind, la, lb):
    """sup over [0, 1] of f - reference, independently: a 200001-point float64 grid, then
    scipy's bounded scalar minimizer around its best point."""
    from scipy.optimize import minimize_scalar

    def g(a):
        ref = {"linear": (1 - a) * la + a * lb, "mean": 0.5 * (la + lb), "max": max(la, lb)}[kind]
        return f(a) - ref

    x = np.linspace(0, 1, 200001)
    i = int(np.argmax(g(x)))
    lo, hi = x[max(i - 1, 0)], x[min(i + 1, x.size - 1)]
    r = minimize_scalar(lambda a: -g(a), bounds=(lo, hi), method="bounded", options={"xatol": 1e-12})
    return max(float(g(x[i])), float(-r.fun))


def _trig(rng):
    """A random smooth curve: a quadratic plus two sinusoids of at most 1.5 periods on [0, 1]."""
    c = rng.normal(size=3)
    amp, freq, phase = rng.uniform(0.2, 1.0, 2), rng.uniform(0.3, 1.5, 2), rng.uniform(0, 2 * np.pi, 2)

    def f(a):
        a = np.asarray(a, dtype=np.float64)
        return c[0] + c[1] * a + c[2] * a ** 2 + sum(amp[j] * np.sin(2 * np.pi * freq[j] * a + phase[j]) for j in (0, 1))

    return f


@pytest.mark.parametrize("kind", ["linear", "mean", "max"])
def test_search_barrier_finds_the_supremum_of_random_smooth_curves(kind):
    rng = np.random.default_rng(7)
    worst_grid = 0.0
    for trial in range(25):
        f = _trig(rng)
        la, lb = float(f(0.0)), float(f(1.0))
        true = _true_sup(f, kind, la, lb)
        s = lmc.search_barrier(lambda a: {"loss": f(a)}, kind=kind, resolution=1e-4)
        scale = max(abs(true), 0.01 * np.abs(f(np.linspace(0, 1, 1001))).max())
        assert s.certified, (trial, s)
        assert s.value <= true + 1e-12  # attained: a lower bound
        assert true - s.value <= 1e-4 * scale * 1.0001, (trial, true, s)  # found to the resolution
        assert s.upper_bound >= true - 1e-12, (trial, true, s)  # the certificate holds
        assert s.n_evals <= 60, s.n_evals
        grid = np.linspace(0, 1, 11)
        with warnings.catch_warnings():  # the mean barrier's endpoint-gap caveat
            warnings.simplefilter("ignore", EndpointMismatchWarning)
            on_grid = lmc.barrier(_path(grid, f(grid)), kind=kind, endpoints=(la, lb))
        worst_grid = max(worst_grid, (true - on_grid) / scale)
    assert worst_grid > 1e-3  # the 11-point grid does miss the maximum on some of these curves


def test_search_barrier_all_kinds_at_once_and_where():
    # a quartic with its maximum near alpha = 0.31 and different endpoints
    f = lambda a: 1.0 + 0.5 * a - 30 * (a - 0.3) ** 2 * (1 + (a - 0.3) ** 2)  # noqa: E731
    s = lmc.search_barrier(lambda a: {"loss": f(a), "other": 2 * f(a)}, kind="max", resolution=1e-6)
    la, lb = f(0.0), f(1.0)
    for kind in ("linear", "mean", "max"):
        assert s.barriers[kind] == pytest.approx(_true_sup(f, kind, la, lb), abs=1e-6)
        assert s.upper_bounds[kind] >= s.barriers[kind]
    assert s.value == s.barriers["max"] and s.kind == "max"
    dense = np.linspace(0, 1, 200001)
    assert s.alphas_at["mean"] == pytest.approx(dense[np.argmax(f(dense))], abs=1e-3)
    # every metric is recorded at every evaluated point, sorted by alpha
    np.testing.assert_allclose(s.path["other"], 2 * s.path["loss"])
    assert np.all(np.diff(s.path.alphas) > 0) and s.path.alphas.size == s.n_evals
    assert "certified" in repr(s)
    json.loads(s.to_json())


def test_search_barrier_convex_path_needs_no_refinement():
    calls = []

    def fun(a):
        calls.append(len(a))
        return {"loss": (a - 0.5) ** 2}

    s = lmc.search_barrier(fun, kind="linear", alphas=5)
    assert s.certified and s.n_evals == 5 and calls == [5]  # chords bound a convex curve: done
    assert s.value == pytest.approx(0.0) and s.upper_bound == pytest.approx(0.0)


def test_search_barrier_reuses_initial_points_and_stops_at_max_evals():
    f = lambda a: np.sin(3 * a) + 0.1 * a  # noqa: E731
    seen = []

    def fun(a):
        seen.extend(a.tolist())
        return {"loss": f(a)}

    grid = np.linspace(0, 1, 6)
    s = lmc.search_barrier(fun, alphas=grid, initial=(grid, {"loss": f(grid)}), resolution=1e-8, max_evals=10,
                           batch=1)
    assert not set(seen) & set(grid.tolist())  # the grid was not evaluated again
    assert s.n_evals == 10 and len(seen) == 4 and not s.certified  # 6 given + 4 evaluated
    assert s.upper_bound > s.value


def test_search_barrier_bad_inputs():
    ok = lambda a: {"loss": a * (1 - a)}  # noqa: E731
    with pytest.raises(ValueError, match="resolution must be a positive number"):
        lmc.search_barrier(ok, resolution=0)
    with pytest.raises(ValueError, match="batch must be an integer >= 1"):
        lmc.search_barrier(ok, batch=0)
    with pytest.raises(ValueError, match="alphas must lie in"):
        lmc.search_barrier(ok, alphas=[-0.5, 0.5, 1.0])
    with pytest.raises(TypeError, match="fun must be callable"):
        lmc.search_barrier([1, 2])
    with pytest.raises(ValueError, match="one value per alpha"):
        lmc.search_barrier(lambda a: {"loss": np.ones(2)})
    with pytest.raises(ValueError, match="metric must be one of"):
        lmc.search_barrier(ok, metric="error")
    with pytest.raises(ValueError, match="contains NaN"):
        lmc.search_barrier(lambda a: {"loss": np.where(a > 0.5, np.nan, a)})
    with pytest.raises(ValueError, match="kind must be one of"):
        lmc.search_barrier(ok, kind="avg")


def _linear_barrier(alphas, loss, la, lb):
    return float(np.max(loss - ((1 - alphas) * la + alphas * lb)))


def test_find_barrier_and_layerwise_resolution_against_dense_reference_paths():
    torch = pytest.importorskip("torch")
    import lmc_reference as ref

    torch.set_num_threads(1)
    a, b = ref.models()
    X, y = ref.data()
    ev = lmc.classification_evaluator((X, y))
    dense = np.linspace(0, 1, 401)
    full = ref.reference_path(a, b, dense, X, y)[:, 0]  # deep copy + load_state_dict per alpha
    la, lb = float(full[0]), float(full[-1])
    true = _linear_barrier(dense, full, la, lb)
    s = lmc.find_barrier(a, b, ev, resolution=1e-4)
    assert s.certified and s.n_evals < 401 // 20
    assert s.value == pytest.approx(true, rel=2e-4) and s.upper_bound >= true - 1e-6
    # layer-wise: each found barrier is at least the grid's and matches the dense reference
    lw = lmc.layerwise_barriers(a, b, ev, alphas=11, resolution=1e-4)
    grid = lmc.layerwise_barriers(a, b, ev, alphas=11)
    found, on_grid = lw.barriers["loss"]["linear"], grid.barriers["loss"]["linear"]
    assert np.all(found >= on_grid - 1e-7)
    assert lw.full_barriers["loss"]["linear"] == pytest.approx(true, rel=2e-4)
    for i, layer in enumerate(lw.layers):
        for j, base in enumerate(lw.bases):
            path = ref.reference_path(a, b, dense, X, y, layers=[layer], base=base)[:, 0]
            t = _linear_barrier(dense, path, la, lb)
            assert found[i, j] == pytest.approx(t, rel=1e-3, abs=1e-5), (layer, base)
    assert lw.search["n_evals"].shape == found.shape and np.all(lw.search["n_evals"] >= 11)
    assert np.all(lw.search["certified"]) and lw.search["full"]["certified"]
    np.testing.assert_array_equal(lw.paths["loss"], grid.paths["loss"])  # paths stay on the grid
    cu = lmc.cumulative_barriers(a, b, ev, direction="both", base="both", alphas=11, resolution=1e-4)
    assert cu.barriers["loss"]["linear"][0, 0, -1] == pytest.approx(true, rel=2e-4)  # c = L: the full path
    assert cu.search["n_evals"].shape == cu.barriers["loss"]["linear"].shape
