"""Issue 9 for the aggregators: counts from fractions are exact (kind 5), finite but extreme
values and options (kind 8), non-finite values never become a silent NaN (kind 7). The
handed cases' right values (case_05, case_20's aggregator checks) are tests here."""

import warnings
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import radonml
from radonml._validation import fraction_to_count, normalize_weights
from radonml.aggregators import REGISTRY

SETTINGS = settings(max_examples=60, deadline=None, database=None)


# ------------------------------------------------------------------- kind 5


def test_case_05_trimmed_mean_drops_29_of_100_at_beta_029_weighted_or_not():
    x = np.arange(100.0) ** 2
    X = x[:, None]
    expected = np.sort(x)[29:71].mean()  # 2597.1666...
    assert abs(radonml.aggregate(X, "trimmed_mean", beta=0.29)[0] - expected) <= 1e-12 * expected
    assert abs(radonml.aggregate(X, "trimmed_mean", beta=0.29, weights=np.ones(100))[0] - expected) <= 1e-12 * expected


@SETTINGS
@given(n=st.integers(1, 400), k=st.integers(0, 400))
def test_fraction_to_count_is_exact_where_the_fraction_is_the_double_nearest_k_over_n(n, k):
    k = k % (n + 1)
    q = k / n  # the double nearest to k/n
    assert fraction_to_count(q, n) == k
    assert fraction_to_count(q, n, rounding="ceil") == k
    assert 0.29 == 29 / 100 and 0.1 == 3 / 30  # decimal literals are such doubles


@SETTINGS
@given(q=st.floats(0, 1), n=st.integers(1, 10**6))
def test_fraction_to_count_between_boundaries_is_the_exact_floor_and_ceiling(q, n):
    exact = Fraction(q) * n  # the double q, exactly
    lo, hi = fraction_to_count(q, n), fraction_to_count(q, n, rounding="ceil")
    # exact floor / ceiling unless q is the double nearest to lo/n resp. hi/n (then that count)
    assert lo == int(exact) or lo / n == q or (lo == int(exact) + 1 and lo / n <= q)
    assert lo / n <= q and (lo == n or (lo + 1) / n > q)
    assert hi / n >= q and (hi == 0 or (hi - 1) / n < q)


def test_fraction_to_count_validates():
    assert [fraction_to_count(0.29, 100), fraction_to_count(1 / 3, 3), fraction_to_count(0.1, 30)] == [29, 1, 3]
    assert fraction_to_count(0.0, 0) == 0 and fraction_to_count(1.0, 7) == 7
    with pytest.raises(ValueError, match=r"beta must lie in \[0.0, 1.0\], got 1.5"):
        fraction_to_count(1.5, 10, name="beta")
    with pytest.raises(ValueError, match="rounding must be 'floor' or 'ceil'"):
        fraction_to_count(0.5, 10, rounding="round")
    with pytest.raises(TypeError, match="n must be an integer"):
        fraction_to_count(0.5, 10.0)


@pytest.mark.parametrize("n", [3, 7, 10, 30, 100, 101])
def test_weighted_and_unweighted_trimmed_mean_agree_at_every_boundary(n):
    X = np.random.default_rng(n).standard_t(2, size=(n, 3))
    for k in range((n - 1) // 2 + 1):
        beta = k / n
        if beta >= 0.5:
            continue
        ref = np.sort(X, axis=0)[k : n - k].mean(axis=0)
        for w in (None, np.ones(n), np.full(n, 0.1), np.full(n, 1e308), np.full(n, 5e-324)):
            np.testing.assert_allclose(radonml.aggregate(X, "trimmed_mean", beta=beta, weights=w), ref, rtol=1e-12,
                                       atol=1e-14)
        np.testing.assert_allclose(radonml.aggregate(X, "trimmed_mean", f=k), ref, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(radonml.aggregate(X, "trimmed_mean", f=k, weights=np.full(n, 3.0)), ref,
                                   rtol=1e-12, atol=1e-14)


# ------------------------------------------------------------------- kind 8


def test_case_20_weights_at_1e308_and_subnormal_give_the_right_model():
    np.testing.assert_allclose(radonml.aggregate([[0.0], [1.0], [2.0]], "mean", weights=[1e308] * 3), [1.0])
    np.testing.assert_allclose(radonml.aggregate([[0.0], [1.0], [2.0]], "median", weights=[1e308] * 3), [1.0])
    np.testing.assert_allclose(radonml.aggregate([[0.4]] * 3, "mean", weights=[5e-324] * 3), [0.4])
    assert normalize_weights(np.array([3.0, 1.0])).tolist() == [0.75, 0.25]  # exact power-of-two scaling


@pytest.mark.parametrize("method", sorted(k for k, r in REGISTRY.items() if r.weighted and r.kind == "aggregator"))
def test_every_weighted_rule_is_invariant_to_the_scale_of_its_weights(method):
    X = np.random.default_rng(0).standard_normal((13, 4))
    opts = {"f": 2} if radonml.aggregators.accepts_option(method, "f") else {}
    w = np.random.default_rng(1).integers(1, 5, 13).astype(float)
    ref = radonml.aggregate(X, method, weights=w, **opts)
    for scale in (1e300, 2.0**-1070, 1e-300, 7.0):
        np.testing.assert_allclose(radonml.aggregate(X, method, weights=w * scale, **opts), ref, rtol=1e-12, atol=1e-14)


def test_case_20_averages_of_finite_values_do_not_overflow():
    np.testing.assert_allclose(radonml.aggregate([[1e308], [1e308]], "mean"), [1e308], rtol=1e-12)
    big = np.array([[1.7e308, -1.7e308], [1.6e308, -1.6e308], [1.5e308, -1.5e308], [1.7e308, -1.7e308], [1.6e308, -1.6e308]])
    for method, opts in [("mean", {}), ("trimmed_mean", {"f": 1}), ("meamed", {"f": 1}), ("median", {}),
                         ("multi_krum", {"f": 1}), ("mda", {"f": 1}), ("geometric_median", {}),
                         ("centered_clipping", {}), ("nnm>mean", {"f": 1}), ("bucketing>mean", {"rng": 0})]:
        out = radonml.aggregate(big, method, **opts)
        assert np.isfinite(out).all(), method
        assert 1.5e308 <= out[0] <= 1.7e308 and -1.7e308 <= out[1] <= -1.5e308, (method, out)
    np.testing.assert_allclose(radonml.aggregate(big, "mean", weights=[1e308, 1, 1, 1, 1e-300]), [1.7e308, -1.7e308],
                               rtol=1e-12)


@pytest.mark.parametrize("scale", [1e200, 1e-170, 2.0**1000, 1e-300])
def test_case_20_geometric_median_is_scale_equivariant(scale):
    X = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    fermat = 0.5 - 0.5 / np.sqrt(3)  # the Fermat point of the right isosceles triangle
    np.testing.assert_allclose(radonml.aggregate(X * scale, "geometric_median") / scale, [fermat] * 2, atol=1e-9)
    Y = np.random.default_rng(2).standard_normal((40, 300))  # d > n: the Gram phase
    np.testing.assert_allclose(radonml.aggregate(Y * scale, "geometric_median") / scale,
                               radonml.aggregate(Y, "geometric_median"), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("scale", [1e200, 1e-170])
@pytest.mark.parametrize("method, opts", [
    ("krum", {"f": 2}), ("multi_krum", {"f": 2}), ("bulyan", {"f": 2}), ("bulyan", {"f": 2, "inner": "geometric_median"}),
    ("mda", {"f": 2}), ("meamed", {"f": 2}), ("trimmed_mean", {"f": 2}), ("median", {}), ("mean", {}),
    ("centered_clipping", {"iterations": 3}), ("nnm>krum", {"f": 2}), ("arc>mean", {"f": 2}),
    ("bucketing>geometric_median", {"rng": 1}),
])
def test_every_rule_is_scale_equivariant_at_1e200_and_1e_170(method, opts, scale):
    X = np.random.default_rng(3).standard_normal((11, 6))
    np.testing.assert_allclose(radonml.aggregate(X * scale, method, **opts) / scale, radonml.aggregate(X, method, **opts),
                               rtol=1e-9, atol=1e-12)


def test_case_20_a_registered_aggregator_that_returns_nan_or_inf_gets_a_clear_error():
    radonml.register_aggregator("returns_nan", lambda m, weights=None: m[0] * np.nan, overwrite=True)
    radonml.register_aggregator("returns_inf", lambda m, weights=None: np.r_[m[0, :-1], np.inf], overwrite=True)
    radonml.aggregators.register_preaggregator("pre_nan", lambda m, weights=None: (m * np.nan, weights), overwrite=True)
    radonml.aggregators.register_preaggregator("pre_shape", lambda m, weights=None: (m[:, :1], weights), overwrite=True)
    try:
        with pytest.raises(ValueError, match=r"aggregator 'returns_nan' returned 2 NaN or infinite value\(s\) \(the first, nan, at coordinate 0\)"):
            radonml.aggregate(np.eye(2), "returns_nan")
        with pytest.raises(ValueError, match=r"aggregator 'returns_inf' returned 1 NaN .* at coordinate 2\)"):
            radonml.aggregate(np.eye(3), "returns_inf")
        with pytest.raises(ValueError, match=r"aggregator 'bad' returned"):
            def bad(m):
                return m[0] / 0.0
            with np.errstate(all="ignore"):
                radonml.aggregate(np.eye(3), bad)
        with pytest.raises(ValueError, match=r"pre-aggregator 'pre_nan' returned NaN or infinite values"):
            radonml.aggregate(np.eye(3), "pre_nan>mean")
        with pytest.raises(ValueError, match=r"pre-aggregator 'pre_shape' returned shape \(3, 1\), expected \(n', 3\)"):
            radonml.aggregate(np.eye(3), "pre_shape>mean")
        with warnings.catch_warnings():  # the fallback path checks outputs the same way
            warnings.simplefilter("ignore")
            with pytest.raises(ValueError, match="returns_nan"):
                radonml.aggregators.aggregate_with_fallback(np.eye(2), "returns_nan")
    finally:
        for k in ("returns_nan", "returns_inf", "pre_nan", "pre_shape"):
            REGISTRY.pop(k, None)


# ------------------------------------------------------------------- kind 7


@pytest.mark.parametrize("method", ["mean", "median", "trimmed_mean", "geometric_median", "krum", "radon", "nnm>mean"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_nonfinite_model_gets_an_error_naming_model_and_coordinate(method, bad):
    X = np.random.default_rng(0).standard_normal((12, 5))
    X[7, 3] = bad
    X[9, 0] = bad
    opts = {"f": 1} if radonml.aggregators.accepts_option(method, "f") else {}
    with pytest.raises(ValueError, match=rf"models must be finite, but model 7 has {bad!r} at coordinate 3 "
                                         r"\(2 non-finite value\(s\) in 2 model\(s\): 7, 9\)"):
        radonml.aggregate(X, method, **opts)
    with pytest.raises(ValueError, match="model 7 has"):
        radonml.aggregators.aggregate_with_fallback(X, method, **opts)
    with pytest.raises(ValueError, match="model 7 has"):  # weighted: the same
        if radonml.supports_weights(method):
            radonml.aggregate(X, method, weights=np.ones(12), **opts)
        else:
            radonml.aggregate(X, method, **opts)


def test_overflowing_weights_sum_and_nonfinite_weights_are_refused_or_normalised():
    X = np.eye(3)
    np.testing.assert_allclose(radonml.aggregate(X, "mean", weights=[1.7e308, 1.7e308, 1.7e308]), [1 / 3] * 3)
    with pytest.raises(ValueError, match="weights must be finite"):
        radonml.aggregate(X, "mean", weights=[1.0, np.inf, 1.0])


def test_memory_stays_proportional_to_the_input():
    # MDA at 40 models: C(40, 20) subsets are never materialised (the approximation runs, in O(n^2))
    import tracemalloc

    X = np.random.default_rng(0).standard_normal((40, 64))
    tracemalloc.start()
    radonml.aggregate(X, "mda", f=20 - 1)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 50 * X.nbytes
