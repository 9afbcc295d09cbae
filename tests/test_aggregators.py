"""Tests of the aggregator registry (Blanchard et al. 2017; Guerraoui et al. 2018; El Mhamdi et al. 2018): every built-in against an independent
reference (numpy, scipy.stats, scipy.optimize), weights, registration and bad input."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from scipy.optimize import minimize

import radonml
from radonml.aggregators import coordinate_median, geometric_median, trimmed_mean, weighted_mean
from radonml.exceptions import ConvergenceWarning

SETTINGS = settings(max_examples=30, deadline=None, database=None)


def models_and_weights(seed, m, d, integer_weights=True):
    rng = np.random.default_rng(seed)
    X = rng.standard_t(3, size=(m, d))
    w = rng.integers(1, 5, size=m).astype(float) if integer_weights else rng.uniform(0.1, 3.0, size=m)
    return X, w


# ---------------------------------------------------------------- built-ins


def test_builtins_are_registered():
    assert {"radon", "mean", "median", "trimmed_mean", "geometric_median"} <= set(radonml.available_aggregators())
    assert radonml.available_aggregators() == sorted(radonml.available_aggregators())
    assert not radonml.supports_weights("radon")
    assert all(radonml.supports_weights(k) for k in ("mean", "median", "trimmed_mean", "geometric_median"))


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), m=st.integers(1, 30), d=st.integers(1, 5))
def test_mean_matches_numpy_average(seed, m, d):
    X, w = models_and_weights(seed, m, d, integer_weights=False)
    np.testing.assert_allclose(radonml.aggregate(X, "mean"), X.mean(axis=0), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(radonml.aggregate(X, "mean", weights=w), np.average(X, axis=0, weights=w), rtol=1e-12, atol=1e-12)


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), m=st.integers(1, 30), d=st.integers(1, 5))
def test_median_matches_numpy_and_repeated_rows(seed, m, d):
    X, w = models_and_weights(seed, m, d)
    assert np.array_equal(radonml.aggregate(X, "median"), np.median(X, axis=0))
    # integer weights = repeated models; equal weights = unweighted
    np.testing.assert_allclose(radonml.aggregate(X, "median", weights=w), np.median(np.repeat(X, w.astype(int), axis=0), axis=0), rtol=0, atol=1e-15)
    np.testing.assert_allclose(radonml.aggregate(X, "median", weights=np.full(m, 2.5)), np.median(X, axis=0), rtol=0, atol=1e-15)


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), m=st.integers(1, 40), d=st.integers(1, 5), beta=st.sampled_from([0.0, 0.05, 0.1, 0.2, 0.3, 0.45]))
def test_trimmed_mean_matches_scipy(seed, m, d, beta):
    X, _ = models_and_weights(seed, m, d)
    np.testing.assert_allclose(radonml.aggregate(X, "trimmed_mean", beta=beta), stats.trim_mean(X, beta, axis=0), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_weighted_trimmed_mean_matches_repeated_rows(seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_t(3, size=(17, 3))
    w = rng.integers(1, 6, size=17).astype(float)
    total = int(w.sum())
    for k in (0, 1, 3, total // 5):  # beta * total an integer: the cut falls between models
        beta = k / total
        expected = stats.trim_mean(np.repeat(X, w.astype(int), axis=0), beta, axis=0)
        np.testing.assert_allclose(radonml.aggregate(X, "trimmed_mean", weights=w, beta=beta), expected, rtol=1e-12, atol=1e-12)
    # equal weights reduce to the unweighted trimmed mean when beta * m is an integer
    np.testing.assert_allclose(trimmed_mean(X[:10], np.ones(10), beta=0.2), stats.trim_mean(X[:10], 0.2, axis=0), rtol=1e-12)


def _reference_geometric_median(X, w):
    f = lambda z: float(w @ np.linalg.norm(X - z, axis=1))  # noqa: E731

    def grad(z):
        diff = z - X
        dist = np.maximum(np.linalg.norm(diff, axis=1), 1e-300)
        return (w / dist) @ diff

    res = minimize(f, X.mean(axis=0), jac=grad, method="BFGS", options={"gtol": 1e-12, "maxiter": 10000})
    return res.x, f


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("weighted", [False, True])
def test_geometric_median_matches_convex_minimization(seed, weighted):
    X, w = models_and_weights(seed, 25, 4, integer_weights=False)
    ww = w if weighted else np.ones(25)
    got = radonml.aggregate(X, "geometric_median", weights=w if weighted else None)
    ref, f = _reference_geometric_median(X, ww)
    assert f(got) <= f(ref) + 1e-9 * f(ref)  # at least as good as BFGS on the convex objective
    np.testing.assert_allclose(got, ref, atol=1e-5)


def test_geometric_median_at_a_model_vardi_zhang():
    # a heavy model attracts the median onto itself: Weiszfeld alone would divide by zero
    X = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0], [3.0, 3.0]])
    w = np.array([10.0, 1, 1, 1, 1, 1])
    np.testing.assert_array_equal(radonml.aggregate(X, "geometric_median", weights=w), [0.0, 0.0])
    # unweighted, the median of a symmetric cross plus its centre is the centre
    np.testing.assert_allclose(geometric_median(X[:5]), [0.0, 0.0], atol=1e-12)
    # collinear points: the geometric median is the 1-D median
    line = np.array([[0.0, 0.0], [1.0, 1.0], [5.0, 5.0]])
    np.testing.assert_allclose(geometric_median(line), [1.0, 1.0], atol=1e-9)


def test_geometric_median_zero_weights_drop_models_and_warns_on_iteration_limit():
    X, _ = models_and_weights(3, 12, 3, integer_weights=False)
    w = np.ones(12)
    w[:4] = 0.0
    np.testing.assert_allclose(geometric_median(X, w), geometric_median(X[4:]), atol=1e-9)
    np.testing.assert_array_equal(geometric_median(X, np.eye(12)[5]), X[5])  # one model left
    with pytest.warns(ConvergenceWarning, match="max_iter=1"):
        radonml.aggregate(X, "geometric_median", max_iter=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        radonml.aggregate(X, "geometric_median")


def test_radon_aggregator_is_the_iterated_radon_point():
    X = np.random.default_rng(0).standard_normal((150, 3))
    for opts in ({"rng": 3}, {"rng": 4, "height": 2}, {"rng": 5, "remainder": "resample"}):
        assert np.array_equal(radonml.aggregate(X, "radon", **opts), radonml.iterated_radon_point(X, **opts))
    assert np.array_equal(radonml.aggregate(X, rng=3), radonml.iterated_radon_point(X, rng=3))  # default method


def test_results_are_float64_vectors_and_inputs_are_converted():
    X = np.arange(24, dtype=np.int32).reshape(8, 3)
    for method in ("mean", "median", "trimmed_mean", "geometric_median"):
        for variant in (X, X.astype(np.float32), np.asfortranarray(X), X.tolist()):
            out = radonml.aggregate(variant, method)
            assert out.shape == (3,) and out.dtype == np.float64
            np.testing.assert_allclose(out, radonml.aggregate(X.astype(float), method), rtol=1e-6)


def test_function_level_api_without_registry():
    X, w = models_and_weights(0, 9, 2)
    np.testing.assert_allclose(weighted_mean(X, w), np.average(X, axis=0, weights=w))
    assert np.array_equal(coordinate_median(X), np.median(X, axis=0))


# ---------------------------------------------------------------- registry


def test_register_aggregator_and_use_it_everywhere():
    name = "test_first_model"
    radonml.register_aggregator(name, lambda models, weights=None: models[0], overwrite=True)
    try:
        X = np.random.default_rng(1).standard_normal((5, 3))
        assert np.array_equal(radonml.aggregate(X, name), X[0])
        assert name in radonml.available_aggregators()
        assert not radonml.supports_weights(name)
        with pytest.raises(ValueError, match=rf"aggregator '{name}' does not use weights, but weights were given"):
            radonml.aggregate(X, name, weights=np.ones(5))
        with pytest.raises(ValueError, match=rf"an aggregator named '{name}' is already registered; pass overwrite=True"):
            radonml.register_aggregator(name, lambda models, weights=None: models[1])
    finally:
        from radonml.aggregators import REGISTRY

        REGISTRY.pop(name, None)
    assert name not in radonml.available_aggregators()


def test_register_weighted_aggregator_receives_validated_weights():
    seen = {}

    def heaviest(models, weights=None, *, scale=1.0):
        seen["weights"] = weights
        return scale * models[np.argmax(weights)]

    radonml.register_aggregator("test_heaviest", heaviest, weighted=True, overwrite=True)
    try:
        X = np.arange(6.0).reshape(3, 2)
        out = radonml.aggregate(X, "test_heaviest", weights=[1, 5, 2], scale=2.0)
        np.testing.assert_array_equal(out, 2.0 * X[1])
        assert seen["weights"].dtype == np.float64 and seen["weights"].tolist() == [1.0, 5.0, 2.0]
    finally:
        from radonml.aggregators import REGISTRY

        REGISTRY.pop("test_heaviest", None)


def test_callable_method():
    X = np.random.default_rng(2).standard_normal((4, 2))
    np.testing.assert_array_equal(radonml.aggregate(X, lambda m: m.max(axis=0)), X.max(axis=0))
    np.testing.assert_array_equal(radonml.aggregate(X, lambda m, weights: weights @ m, weights=np.eye(4)[2]), X[2])


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: radonml.aggregate(np.zeros((4, 2)), "mode"), ValueError, r"unknown aggregator method 'mode'; expected one of \[.*'geometric_median'.*'radon'"),
        (lambda: radonml.aggregate(np.zeros((4, 2)), 3), TypeError, r"method must be a registered aggregator name or a callable, got int"),
        (lambda: radonml.supports_weights("mode"), ValueError, r"unknown aggregator method 'mode'"),
        (lambda: radonml.aggregate(np.zeros((4, 2)), "mean", weights=[1, 1, 1]), ValueError, r"weights must have one entry per model \(4\), got 3"),
        (lambda: radonml.aggregate(np.zeros((4, 2)), "mean", weights=[1, -1, 1, 1]), ValueError, r"weights must be non-negative, got -1.0 at index 1"),
        (lambda: radonml.aggregate(np.zeros((4, 2)), "mean", weights=[0, 0, 0, 0]), ValueError, r"weights must have a positive sum"),
        (lambda: radonml.aggregate(np.zeros((4, 2)), "mean", weights=[1, np.nan, 1, 1]), ValueError, r"weights must be finite"),
        (lambda: radonml.aggregate(np.zeros((4, 2)), "mean", weights=np.ones((4, 1))), ValueError, r"weights must be a 1-dimensional array, got 2"),
        (lambda: radonml.aggregate(np.zeros((4, 2)), "mean", weights=["a"] * 4), TypeError, r"weights must contain real numbers"),
        (lambda: radonml.aggregate(np.zeros((4, 2)), "radon", weights=[1, 1, 1, 1]), ValueError, r"aggregator 'radon' does not use weights, but weights were given"),
        (lambda: radonml.aggregate(np.zeros(4), "mean"), ValueError, r"models must be a 2-dimensional array, got 1"),
        (lambda: radonml.aggregate(np.zeros((0, 2)), "mean"), ValueError, r"models must not be empty"),
        (lambda: radonml.aggregate([[1.0, np.inf]], "median"), ValueError, r"models must be finite"),
        (lambda: radonml.aggregate([["x", "y"]], "median"), TypeError, r"models must contain real numbers"),
        (lambda: radonml.aggregate(np.zeros((3, 2)), "radon"), radonml.NoRadonPointError, r"aggregator 'radon' cannot run on 3 models in dimension d = 2: 3 models are fewer than the Radon number r = d \+ 2 = 4 \(a Radon point needs at least r = d \+ 2 models\)"),
        (lambda: radonml.aggregate(np.zeros((20, 2)), "radon", height=3), ValueError, r"height=3 is too large for 20 models"),
        (lambda: radonml.aggregate(np.zeros((4, 2)), "trimmed_mean", beta=0.5), ValueError, r"beta must lie in \[0.0, 0.5\), got 0.5"),
        (lambda: radonml.aggregate(np.zeros((4, 2)), "trimmed_mean", beta=-0.1), ValueError, r"beta must lie in \[0.0, 0.5\), got -0.1"),
        (lambda: radonml.aggregate(np.zeros((4, 2)), "trimmed_mean", beta="x"), TypeError, r"beta must be a real number, got 'x'"),
        (lambda: radonml.aggregate(np.eye(3), "geometric_median", tol=0), ValueError, r"tol must be a positive finite number, got 0"),
        (lambda: radonml.aggregate(np.eye(3), "geometric_median", max_iter=0), ValueError, r"max_iter must be >= 1, got 0"),
        (lambda: radonml.aggregate(np.eye(3), "mean", bogus=1), TypeError, r"bogus"),
        (lambda: radonml.aggregate(np.eye(3), lambda m: m[0, :2]), ValueError, r"returned shape \(2,\), expected \(3,\)"),
        (lambda: radonml.register_aggregator("", np.mean), TypeError, r"name must be a non-empty string, got ''"),
        (lambda: radonml.register_aggregator(5, np.mean), TypeError, r"name must be a non-empty string, got 5"),
        (lambda: radonml.register_aggregator("x_not_callable", 3), TypeError, r"fn must be callable, got int"),
        (lambda: radonml.register_aggregator("mean", np.mean), ValueError, r"an aggregator named 'mean' is already registered"),
    ],
)
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_resolve_aggregator_decides_weighting_once():
    from radonml.aggregators import resolve_aggregator

    assert resolve_aggregator("mean").weighted and not resolve_aggregator("radon").weighted
    assert not resolve_aggregator(lambda models: models[0]).weighted  # callables only when asked
    assert resolve_aggregator(lambda models, weights=None: models[0], weighted=True).weighted
    with pytest.raises(ValueError, match="unknown aggregator method 'nope'"):
        resolve_aggregator("nope")
    with pytest.raises(ValueError, match="unknown aggregator method 'nope'"):
        resolve_aggregator("mean", fallback="nope")
    with pytest.raises(ValueError, match="weighted=True needs an aggregator that uses weights"):
        resolve_aggregator("radon", weighted=True)
    X = np.arange(12.0).reshape(4, 3)
    vec, used = resolve_aggregator("mean")(X, weights=[1, 1, 1, 5])
    np.testing.assert_allclose(vec, np.average(X, axis=0, weights=[1, 1, 1, 5]))
    assert used == "mean"
    with pytest.warns(radonml.FallbackWarning, match="fewer than the Radon number"):
        vec, used = resolve_aggregator("radon", weighted=False)(X, weights=[1, 1, 1, 5])  # weights not passed on
    assert used == "geometric_median"  # 4 models in R^3: fewer than r = 5
