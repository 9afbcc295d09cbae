"""Tests of the Radon-point engine (Kamp et al., NeurIPS 2017): radon_point, radon_points,
iterated_radon_point, tree_height and tukey_depth.

Every Radon point is checked against an independent certificate: the returned weights make it
a convex combination of each part (to 1e-9 relative), and a linear program solved by scipy's
HiGHS (which knows nothing of radonml) confirms that it lies in both convex hulls.
"""

from math import comb

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

import radonml
from radonml import _core

SETTINGS = settings(max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
TINY = 64 * 5e-324  # a few subnormal ulps: the resolution of sums of subnormal products


# ------------------------------------------------------------------ oracles


def _normalizer(P):
    """Coordinate-wise affine map of the test's own (midrange / half-range) to O(1) numbers.
    The half-range is floored at 1e-6 of the coordinate's magnitude: a point computed in the
    original coordinates is only accurate to rounding relative to that magnitude."""
    hi, lo = P.max(axis=0), P.min(axis=0)
    centre = hi / 2 + lo / 2
    half = np.maximum(hi / 2 - lo / 2, 1e-6 * np.maximum(np.abs(hi), np.abs(lo)))
    half = np.where(half > 0, half, 1.0)
    return lambda X: (X - centre) / half


def hull_gap(P, q, scale_points=None):
    """LP oracle: min over convex weights w of max_j |(sum_i w_i P_i - q)_j|, in coordinates
    normalized by ``scale_points`` (default P). 0 when q lies in conv(P)."""
    f = _normalizer(P if scale_points is None else scale_points)
    A, b = f(P).T, f(q)
    d, k = A.shape
    # variables: w (k), t; minimize t s.t. A w - b <= t, b - A w <= t, sum w = 1, w >= 0
    c = np.zeros(k + 1)
    c[-1] = 1.0
    ones = np.ones((d, 1))
    A_ub = np.block([[A, -ones], [-A, -ones]])
    b_ub = np.concatenate([b, -b])
    A_eq = np.concatenate([np.ones(k), [0.0]])[None]
    res = linprog(c, A_ub=A_ub, b_ub=b_ub, A_eq=A_eq, b_eq=[1.0], bounds=[(0, None)] * (k + 1), method="highs")
    assert res.status == 0, res.message
    return res.fun


def check_certificate(P, res, rtol=1e-9, lp=True):
    """The partition certifies the point: each part's weights are convex and reproduce it."""
    w, pos = res.weights, res.positive
    r, d = P.shape
    assert res.point.shape == (d,) and w.shape == (r,) and pos.shape == (r,)
    assert res.point.dtype == np.float64 and w.dtype == np.float64 and pos.dtype == bool
    assert np.array_equal(pos, w > 0)
    assert pos.any() and (~pos).any(), "both parts must be non-empty"
    assert abs(w[pos].sum() - 1.0) <= 1e-12
    assert abs(w[~pos].sum() + 1.0) <= 1e-12
    assert np.abs(w[np.argmax(np.abs(w))]) == w.max(), "largest-magnitude weight must be positive"
    tol = rtol * np.abs(P).max(axis=0) + TINY
    for part, weights in ((pos, w[pos]), (~pos, -w[~pos])):
        combo = weights @ P[part]
        assert np.all(np.abs(combo - res.point) <= tol), (combo, res.point)
    if lp:
        assert hull_gap(P[pos], res.point, P) <= 1e-7
        assert hull_gap(P[~pos], res.point, P) <= 1e-7


def make_points(kind, d, r, seed, scale=1.0):
    rng = np.random.default_rng(seed)
    if kind == "gaussian":
        P = rng.standard_normal((r, d))
    elif kind == "duplicates":
        base = rng.standard_normal((int(rng.integers(1, r)), d))
        P = base[rng.integers(0, base.shape[0], size=r)]
    elif kind == "subspace":  # points on a k-dimensional affine subspace, k < d
        k = int(rng.integers(0, d))
        P = rng.standard_normal((r, k)) @ rng.standard_normal((k, d)) + rng.standard_normal(d)
    elif kind == "near_subspace":
        k = int(rng.integers(0, d))
        P = rng.standard_normal((r, k)) @ rng.standard_normal((k, d)) + rng.standard_normal(d)
        P = P + 1e-9 * rng.standard_normal((r, d))
    elif kind == "integer":  # small grid: many collinear / coplanar / repeated points
        P = rng.integers(-2, 3, size=(r, d)).astype(float)
    elif kind == "anisotropic":  # coordinates of wildly different scales
        P = rng.standard_normal((r, d)) * 10.0 ** rng.uniform(-120, 120, size=d)
    elif kind == "offset":  # small spread around a large centre
        P = 1e4 + rng.standard_normal((r, d))
    else:
        raise AssertionError(kind)
    return P * scale


KINDS = ["gaussian", "duplicates", "subspace", "near_subspace", "integer", "anisotropic", "offset"]


def test_lp_oracle_rejects_points_outside():
    P = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    assert hull_gap(P, np.array([0.2, 0.2])) <= 1e-9
    assert hull_gap(P, np.array([1.0, 1.0])) > 0.4
    assert hull_gap(P[:1], np.array([1e-3, 0.0]), P) > 1e-4


# ------------------------------------------------------------ radon_point


def test_radon_number():
    assert radonml.radon_number(1) == 3
    assert radonml.radon_number(10) == 12
    assert radonml.radon_number(np.int64(5)) == 7


def test_square_diagonals_cross_at_centre():
    res = radonml.radon_point([[0, 0], [1, 1], [1, 0], [0, 1]], return_partition=True)
    np.testing.assert_allclose(res.point, [0.5, 0.5], rtol=0, atol=1e-15)
    assert sorted(np.flatnonzero(res.positive)) in ([0, 1], [2, 3])
    np.testing.assert_allclose(np.abs(res.weights), 0.5, rtol=0, atol=1e-15)


def test_one_dimension_is_a_median_like_point():
    # three points on a line: the middle one is the Radon point (I = {middle}, J = the ends)
    res = radonml.radon_point([[5.0], [-1.0], [2.0]], return_partition=True)
    assert res.point[0] == pytest.approx(2.0, abs=1e-15)
    check_certificate(np.array([[5.0], [-1.0], [2.0]]), res)


@SETTINGS
@given(
    kind=st.sampled_from(KINDS),
    d=st.integers(1, 7),
    extra=st.integers(0, 4),
    seed=st.integers(0, 2**32 - 1),
    scale=st.sampled_from([1.0, 1e150, 1e-150]),
)
def test_radon_point_is_certified(kind, d, extra, seed, scale):
    P = make_points(kind, d, d + 2 + extra, seed, scale)
    res = radonml.radon_point(P, return_partition=True)
    check_certificate(P, res)
    assert np.array_equal(radonml.radon_point(P), res.point)


@pytest.mark.parametrize(
    "name, P",
    [
        ("all identical", np.full((5, 3), 2.5)),
        ("all zero, r > d + 2", np.zeros((9, 3))),
        ("two copies of a set", np.vstack([np.eye(3), np.eye(3)])),
        ("one duplicated pair", np.array([[0.0, 0], [1, 0], [0, 1], [1, 0]])),
        ("constant coordinate", np.array([[0.0, 7], [1, 7], [2, 7], [5, 7]])),
        ("collinear in 2-D", np.array([[0.0, 0], [1, 2], [2, 4], [3, 6]])),
        ("coplanar in 3-D", np.array([[0.0, 0, 1], [1, 0, 1], [0, 1, 1], [1, 1, 1], [0.3, 0.2, 1]])),
        ("r >> d + 2", np.random.default_rng(3).standard_normal((60, 4))),
        ("near 1e150", 1e150 * (1 + np.random.default_rng(4).standard_normal((6, 4)))),
        ("near 1e-150", 1e-150 * np.random.default_rng(5).standard_normal((6, 4))),
        ("near 1e300", 1e300 * np.random.default_rng(6).standard_normal((6, 4))),
        ("mixed 1e150 / 1e-150 coordinates", np.random.default_rng(7).standard_normal((5, 3)) * [1e150, 1e-150, 1.0]),
        ("largest finite doubles", np.array([[1.7e308, -1.7e308], [-1.7e308, 1.7e308], [1.7e308, 1.7e308], [0, -1.7e308]])),
        ("large offset", 1e8 + np.random.default_rng(8).standard_normal((5, 3))),
        ("d = 60, duplicated rows", np.repeat(np.random.default_rng(9).standard_normal((31, 60)), 2, axis=0)),
        ("d = 60, rank 10", np.random.default_rng(10).standard_normal((62, 10)) @ np.random.default_rng(11).standard_normal((10, 60))),
    ],
)
def test_degenerate_and_extreme_inputs(name, P):
    res = radonml.radon_point(P, return_partition=True)
    check_certificate(P, res)
    # no noise is added: the same input gives bit-identical output
    again = radonml.radon_point(P.copy(), return_partition=True)
    assert np.array_equal(again.point, res.point) and np.array_equal(again.weights, res.weights)


def test_identical_points_give_that_point_exactly():
    P = np.full((6, 4), -3.25)
    assert np.array_equal(radonml.radon_point(P), P[0])


@pytest.mark.parametrize("scale", [1e-310, 1e-315])
def test_subnormal_coordinates(scale):
    # Regression: the inverse half-range of a subnormal spread overflowed to inf and the
    # coordinate was silently treated as constant, giving a point in neither hull.
    P = np.random.default_rng(1).standard_normal((5, 3)) * scale
    res = radonml.radon_point(P, return_partition=True)
    w, pos = res.weights, res.positive
    spread = P.max(axis=0) - P.min(axis=0)
    for part, weights in ((pos, w[pos]), (~pos, -w[~pos])):
        err = np.abs(weights @ P[part] - res.point)
        assert np.all(err <= 1e-6 * spread + TINY)
    mixed = np.random.default_rng(2).standard_normal((5, 3)) * [1.0, scale, 1e150]
    check_certificate(mixed, radonml.radon_point(mixed, return_partition=True), lp=False)


@pytest.mark.parametrize("first_solver", [0, 1, 2])
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("d", [2, 5, 45])
def test_every_solver_path_is_certified(first_solver, kind, d):
    """The full-pivot LU and column-pivoted QR fallbacks (forced here) must give certified
    points on generic and degenerate inputs alike; solver codes report which one ran."""
    G = np.stack([make_points(kind, d, d + 2, 100 * s + d) for s in range(4)])
    pts, lams, solvers = _core.radon_points(G, 1, _core.RadonSolver(first_solver))
    assert np.all(solvers >= first_solver)
    for k in range(G.shape[0]):
        res = radonml.RadonPartition(point=pts[k], weights=lams[k], positive=lams[k] > 0)
        check_certificate(G[k], res, lp=d < 10)


@pytest.mark.parametrize("d", range(1, 19))
def test_every_fixed_size_kernel(d):
    """d <= 16 with d + 2 <= k <= 2d + 3 points runs the fixed-size SIMD kernel; d = 17, 18 and
    larger groups the general path. Both are certified and agree (the kernel is the general
    path's solver 0, eight groups at once)."""
    for k in sorted({d + 2, d + 3, 2 * d + 3, 2 * d + 4}):
        G = np.stack([make_points("gaussian", d, k, s) for s in range(3)] + [make_points("integer", d, k, 7)])
        pts, lams, solvers = _core.radon_points(G, 1)
        for j in range(G.shape[0]):
            res = radonml.RadonPartition(point=pts[j], weights=lams[j], positive=lams[j] > 0)
            check_certificate(G[j], res, lp=d <= 8)
        general, lams2, _ = _core.radon_points(G[:3], 1, _core.RadonSolver.fast_lu, False)
        np.testing.assert_allclose(pts[:3], general, rtol=0, atol=1e-12)
        np.testing.assert_allclose(lams[:3], lams2, rtol=0, atol=1e-12)


def test_fallback_is_used_for_singular_block():
    # the first d + 1 points are affinely dependent: the fast path's block is singular
    P = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0], [0.0, 1.0]])
    _, _, solvers = _core.radon_points(P[None], 1)
    assert solvers[0] != 0
    check_certificate(P, radonml.radon_point(P, return_partition=True))


# ------------------------------------------------------------ invariances


def _well_conditioned(P):
    M = np.vstack([_normalizer(P)(P).T, np.ones(P.shape[0])])
    s = np.linalg.svd(M, compute_uv=False)
    return s[-1] > 1e-3 * s[0]


@SETTINGS
@given(d=st.integers(1, 6), seed=st.integers(0, 2**32 - 1))
def test_affine_equivariance(d, seed):
    rng = np.random.default_rng(seed)
    P = rng.standard_normal((d + 2, d))
    if not _well_conditioned(P):
        return
    Qm, _ = np.linalg.qr(rng.standard_normal((d, d)))
    A = Qm * rng.uniform(0.5, 2.0, size=d)  # condition number <= 4
    b = rng.standard_normal(d) * 10
    res = radonml.radon_point(P, return_partition=True)
    res2 = radonml.radon_point(P @ A.T + b, return_partition=True)
    np.testing.assert_allclose(res2.point, A @ res.point + b, rtol=0, atol=1e-9 * (1 + np.abs(b).max()))
    # the null vector is affine invariant: same partition and weights (up to rounding)
    np.testing.assert_allclose(res2.weights, res.weights, rtol=0, atol=1e-8)


def test_affine_equivariance_exact_for_power_of_two_maps():
    rng = np.random.default_rng(0)
    P = rng.integers(-50, 50, size=(7, 5)).astype(float)
    scale = np.array([2.0, -0.5, 8.0, 1.0, -4.0])
    shift = np.array([3.0, -1.0, 0.0, 16.0, 2.0])
    res = radonml.radon_point(P, return_partition=True)
    res2 = radonml.radon_point(P * scale + shift, return_partition=True)
    assert np.array_equal(res2.weights, res.weights)
    np.testing.assert_allclose(res2.point, res.point * scale + shift, rtol=1e-15, atol=1e-13)


@SETTINGS
@given(d=st.integers(1, 6), seed=st.integers(0, 2**32 - 1))
def test_order_independence_with_one_dimensional_null_space(d, seed):
    rng = np.random.default_rng(seed)
    P = rng.standard_normal((d + 2, d))
    if not _well_conditioned(P):
        return
    perm = rng.permutation(d + 2)
    res = radonml.radon_point(P, return_partition=True)
    res2 = radonml.radon_point(P[perm], return_partition=True)
    np.testing.assert_allclose(res2.point, res.point, rtol=0, atol=1e-9)
    w, w2 = res.weights[perm], res2.weights
    assert np.allclose(w2, w, atol=1e-8) or np.allclose(w2, -w, atol=1e-8)


def test_invariant_to_the_scale_of_lambda():
    # the returned weights are canonical: positive part sums to 1, the rest to -1
    P = np.random.default_rng(2).standard_normal((6, 4))
    res = radonml.radon_point(P, return_partition=True)
    K = np.vstack([P.T, np.ones(6)])
    np.testing.assert_allclose(K @ res.weights, 0, atol=1e-13)


# ------------------------------------------------------- batched, threads, seeds


@pytest.mark.parametrize("d, g", [(1, 3000), (3, 4000), (10, 400), (45, 12), (120, 5)])
def test_batched_equals_one_by_one_and_thread_count_independent(d, g):
    rng = np.random.default_rng(d)
    G = rng.standard_normal((g, d + 3, d))
    G[::7, 1] = G[::7, 0]  # some degenerate groups, solved by the fallback
    ref = radonml.radon_points(G, n_threads=1)
    assert ref.shape == (g, d) and ref.dtype == np.float64
    for k in (0, g // 3, g - 1):
        assert np.array_equal(radonml.radon_point(G[k]), ref[k])
    for n_threads in (2, 3, 8, -1, None):
        out = radonml.radon_points(G, n_threads=n_threads)
        assert np.array_equal(out, ref), n_threads
    pts, lams, _ = _core.radon_points(G, 5)
    assert np.array_equal(pts, ref)
    assert np.array_equal(lams, _core.radon_points(G, 1)[1])


def test_radon_points_accepts_converted_inputs():
    rng = np.random.default_rng(1)
    G = rng.integers(-5, 5, size=(4, 6, 3))
    ref = radonml.radon_points(G.astype(np.float64))
    for variant in (G, G.astype(np.float32), np.asfortranarray(G.astype(float)), G.astype(float).tolist()):
        assert np.array_equal(radonml.radon_points(variant), ref)
    wide = np.zeros((4, 6, 6))
    wide[:, :, ::2] = G
    assert np.array_equal(radonml.radon_points(wide[:, :, ::2]), ref)  # non-contiguous view


def test_radon_point_accepts_converted_inputs():
    P = np.array([[0, 0], [3, 3], [3, 0], [0, 3]], dtype=np.int32)
    expected = np.array([1.5, 1.5])
    for variant in (P, P.astype(np.float32), np.asfortranarray(P), P.T.copy().T, P.tolist()):
        np.testing.assert_array_equal(radonml.radon_point(variant), expected)


def test_thread_count_far_above_the_core_count():
    G = np.random.default_rng(0).standard_normal((50, 52, 50))
    ref = radonml.radon_points(G, n_threads=1)
    assert np.array_equal(radonml.radon_points(G, n_threads=1000), ref)


# ------------------------------------------------------------ iterated


@pytest.mark.filterwarnings("ignore:iterated_radon_point. remainder='drop'")
@pytest.mark.parametrize(
    "n, d, height, remainder",
    [(16, 2, None, "drop"), (70, 2, 3, "drop"), (144, 10, 2, "raise"), (150, 10, None, "drop"), (30, 3, None, "resample"), (200, 1, 4, "drop"),
     (16, 2, None, "spread"), (70, 2, 3, "spread"), (150, 10, None, "spread"), (200, 1, 4, "spread"), (200, 1, 1, "spread")],
)
def test_iterated_point_lies_in_the_convex_hull(n, d, height, remainder):
    rng = np.random.default_rng(n + d)
    X = rng.standard_t(2, size=(n, d))
    p = radonml.iterated_radon_point(X, height=height, rng=1, remainder=remainder)
    assert p.shape == (d,) and p.dtype == np.float64
    assert hull_gap(X, p) <= 1e-7


def test_iterated_height_one_is_the_radon_point_of_the_shuffled_group():
    X = np.random.default_rng(0).standard_normal((5, 3))
    gen = np.random.default_rng(42)
    perm = gen.permutation(5)
    # with n = r the only leaf order is a permutation; the Radon point is order independent
    p = radonml.iterated_radon_point(X, rng=42, remainder="raise")
    np.testing.assert_allclose(p, radonml.radon_point(X[perm]), atol=1e-12)


def test_iterated_matches_a_python_reimplementation_of_the_tree():
    from radonml.radon import _leaves

    X = np.random.default_rng(5).standard_normal((500, 3))
    r, h = 5, 3
    leaves = _leaves(500, r, h, "drop", np.random.default_rng(9))
    level = X[leaves]
    while level.shape[0] > 1:
        level = np.array([radonml.radon_point(level[i : i + r]) for i in range(0, level.shape[0], r)])
    with pytest.warns(radonml.RadonmlWarning, match="leaves 375 out"):
        got = radonml.iterated_radon_point(X, height=h, rng=np.random.default_rng(9), remainder="drop")
    assert np.array_equal(got, level[0])


def test_iterated_fixed_seeds_and_threads():
    X = np.random.default_rng(0).standard_normal((20000, 4))
    a = radonml.iterated_radon_point(X, rng=7)
    assert np.array_equal(a, radonml.iterated_radon_point(X, rng=7))
    assert np.array_equal(a, radonml.iterated_radon_point(X, rng=np.random.default_rng(7)))
    for t in (1, 2, 5):
        assert np.array_equal(a, radonml.iterated_radon_point(X, rng=7, n_threads=t))
    assert not np.array_equal(a, radonml.iterated_radon_point(X, rng=8))


def test_tree_height_and_remainder_policies():
    assert radonml.tree_height(144, 10) == 2
    assert radonml.tree_height(143, 10) == 1
    assert radonml.tree_height(143, 10, remainder="drop") == 1
    assert radonml.tree_height(10**6, 10) == radonml.tree_height(10**6, 10, remainder="drop") == 5
    assert radonml.tree_height(145, 10, remainder="resample") == 3
    assert radonml.tree_height(144, 10, remainder="resample") == 2
    from radonml.radon import _leaves

    gen = np.random.default_rng(0)
    drop = _leaves(150, 12, 2, "drop", gen)
    assert drop.shape == (144,) and np.unique(drop).size == 144
    res = _leaves(30, 5, 3, "resample", gen)
    assert res.shape == (125,) and set(res[:30]) == set(range(30))  # every model is used
    groups = res.reshape(-1, 5)
    assert all(np.unique(gr).size == 5 for gr in groups)  # no group holds a model twice
    assert sorted(_leaves(25, 5, 2, "raise", gen)) == list(range(25))


def test_iterated_point_is_deep_on_symmetric_data():
    """Clarkson et al.: the iterated Radon point is a centerpoint-like point. On centrally
    symmetric data (depth n/2 at the centre) its exact 2-D Tukey depth is far above that of
    a typical input point."""
    rng = np.random.default_rng(3)
    half = rng.standard_normal((512, 2)) * [3.0, 1.0]
    X = np.vstack([half, -half])  # symmetric about the origin, n = 1024 = 4^5
    n = X.shape[0]
    depth = radonml.tukey_depth(radonml.iterated_radon_point(X, rng=0), X)
    typical = np.median([radonml.tukey_depth(x, X) for x in X[rng.choice(n, 60, replace=False)]])
    assert depth >= 0.3 * n
    assert depth >= 3 * typical
    # also in d = 4 (random-direction estimate) the gap is wide
    Y = rng.standard_normal((648, 4))
    Y = np.vstack([Y, -Y])  # 1296 = 6^4
    dy = radonml.tukey_depth(radonml.iterated_radon_point(Y, rng=0), Y, rng=0)
    ty = np.median([radonml.tukey_depth(y, Y, rng=0) for y in Y[:40]])
    assert dy >= 3 * ty


# ------------------------------------------------------ confidence amplification


def _least_squares_models(n_models, d, rng, n_samples=12, df=1.5):
    w_star = np.linspace(1.0, -2.0, d)
    X = rng.standard_normal((n_models, n_samples, d))
    y = X @ w_star + rng.standard_t(df, size=(n_models, n_samples))  # heavy-tailed noise
    W = np.linalg.solve(np.einsum("nmi,nmj->nij", X, X), np.einsum("nmi,nm->ni", X, y)[..., None])[..., 0]
    return W, w_star


def _amplification(aggregate_group, quantile, seed=0, d=3, trials=2000):
    """Measured P(Q > eps) of single models (delta), of one aggregation level over disjoint
    groups of r and of the height-2 tree, with Q(w) = |w - w*|^2, the excess risk of least
    squares with standard normal features (convex, so Kamp et al. (NeurIPS 2017)'s guarantee applies)."""
    r = d + 2
    rng = np.random.default_rng(seed)
    W, w_star = _least_squares_models(trials * r * r, d, rng)
    Q = lambda w: ((w - w_star) ** 2).sum(axis=-1)  # noqa: E731
    eps = np.quantile(Q(W), quantile)
    level1 = aggregate_group(W.reshape(-1, r, d))
    level2 = aggregate_group(level1.reshape(-1, r, d))
    return dict(
        r=r,
        delta=float(np.mean(Q(W) > eps)),
        p1=float(np.mean(Q(level1) > eps)),
        p2=float(np.mean(Q(level2) > eps)),
        mean1=float(np.mean(Q(W.reshape(-1, r, d).mean(axis=1)) > eps)),
        mean2=float(np.mean(Q(W.reshape(-1, r * r, d).mean(axis=1)) > eps)),
    )


def _guarantee_holds(m):
    r, delta = m["r"], m["delta"]
    return m["p1"] <= min((r * delta) ** 2, comb(r, 2) * delta**2) and m["p2"] <= (r * delta) ** 4


@pytest.mark.parametrize("quantile", [0.9, 0.98])
def test_confidence_amplification(quantile):
    m = _amplification(radonml.radon_points, quantile)
    assert _guarantee_holds(m), m
    # far under averaging's probability on the same models
    assert m["p1"] <= m["mean1"] / 5, m
    assert m["p2"] <= m["mean2"] / 5, m
    assert m["p2"] <= m["p1"] <= m["delta"] / 5, m


def test_confidence_amplification_through_the_public_tree():
    d, r = 3, 5
    rng = np.random.default_rng(1)
    W, w_star = _least_squares_models(800 * r * r, d, rng)
    Q = lambda w: ((w - w_star) ** 2).sum(axis=-1)  # noqa: E731
    eps = np.quantile(Q(W), 0.95)
    delta = np.mean(Q(W) > eps)
    trees = np.array([radonml.iterated_radon_point(g, height=2, rng=k) for k, g in enumerate(W.reshape(-1, r * r, d))])
    means = W.reshape(-1, r * r, d).mean(axis=1)
    p2, pm = np.mean(Q(trees) > eps), np.mean(Q(means) > eps)
    assert p2 <= (r * delta) ** 4
    assert p2 <= pm / 5


def test_amplification_check_can_fail():
    # a broken "Radon point" that returns one model of the group does not pass the check
    m = _amplification(lambda G: G[:, 0], 0.98)
    assert not _guarantee_holds(m)


# ------------------------------------------------------------ Tukey depth


def _brute_depth_1d(p, S):
    return int(min((S[:, 0] >= p[0]).sum(), (S[:, 0] <= p[0]).sum()))


def _brute_depth_2d(p, S):
    """Independent oracle: closed half-planes whose boundary passes through p, with normals
    perpendicular to each p -> s_i and slightly rotated either way (the minimum is attained
    next to such a boundary)."""
    v = S - p
    n = S.shape[0]
    best = n
    for a in v[(v != 0).any(axis=1)]:
        for normal in (np.array([-a[1], a[0]]), np.array([a[1], -a[0]])):
            for t in (-1e-7, 0.0, 1e-7):
                c, s = np.cos(t), np.sin(t)
                u = np.array([c * normal[0] - s * normal[1], s * normal[0] + c * normal[1]])
                best = min(best, int(((v @ u) >= 0).sum()))
    return best


@pytest.mark.parametrize("seed", range(6))
def test_tukey_depth_exact_in_1d_and_2d(seed):
    rng = np.random.default_rng(seed)
    for _ in range(60):
        n = int(rng.integers(1, 25))
        grid = seed % 2 == 0  # small integer grids: collinear, opposite and repeated points
        S1 = rng.integers(-4, 5, size=(n, 1)).astype(float) if grid else rng.standard_normal((n, 1))
        p1 = S1[rng.integers(n)] if rng.random() < 0.3 else rng.integers(-4, 5, size=1).astype(float)
        assert radonml.tukey_depth(p1, S1) == _brute_depth_1d(p1, S1)
        S2 = rng.integers(-3, 4, size=(n, 2)).astype(float) if grid else rng.standard_normal((n, 2))
        p2 = S2[rng.integers(n)] if rng.random() < 0.3 else rng.integers(-2, 3, size=2).astype(float)
        assert radonml.tukey_depth(p2, S2) == _brute_depth_2d(p2, S2), (p2, S2)


def test_tukey_depth_known_values():
    assert radonml.tukey_depth([0.0], [[-2.0], [-1.0], [1.0], [2.0], [3.0]]) == 2
    square = np.array([[1.0, 1.0], [-1.0, 1.0], [-1.0, -1.0], [1.0, -1.0]])
    assert radonml.tukey_depth([0.0, 0.0], square) == 2
    assert radonml.tukey_depth([5.0, 0.0], square) == 0
    assert radonml.tukey_depth([1.0, 1.0], square) == 1
    line = np.array([[k, 2.0 * k] for k in range(-3, 4)])  # all on a line through the point
    assert radonml.tukey_depth([0.0, 0.0], line) == 4
    assert radonml.tukey_depth([0.0, 0.0], np.zeros((3, 2))) == 3


def test_tukey_depth_estimate_is_an_upper_bound_in_3d():
    rng = np.random.default_rng(0)
    S2 = rng.standard_normal((40, 2))
    S3 = np.hstack([S2, np.zeros((40, 1))])  # a planar set in R^3: same halfspace depths
    for p in rng.standard_normal((5, 2)) * 0.5:
        exact = radonml.tukey_depth(p, S2)
        est = radonml.tukey_depth(np.append(p, 0.0), S3, n_directions=20000, rng=1)
        few = radonml.tukey_depth(np.append(p, 0.0), S3, n_directions=20, rng=1)
        assert exact <= est <= few
        assert est <= exact + 1
    a = radonml.tukey_depth(np.zeros(3), rng.standard_normal((50, 3)), rng=4)
    b = radonml.tukey_depth(np.zeros(3), rng.standard_normal((50, 3)), rng=4)
    assert isinstance(a, int) and 0 <= a <= 25 and isinstance(b, int)


# ------------------------------------------------------------ bad input


def _bad(fn, exc, match):
    with pytest.raises(exc, match=match):
        fn()


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: radonml.radon_point([[0.0, np.nan], [1, 1], [1, 0], [0, 1]]), ValueError, r"points must be finite.*NaN or inf.*index \(0, 1\)"),
        (lambda: radonml.radon_point([[0.0, np.inf], [1, 1], [1, 0], [0, 1]]), ValueError, r"points must be finite"),
        (lambda: radonml.radon_point([0.0, 1.0, 2.0]), ValueError, r"points must be a 2-dimensional array, got 1 dimension.*\(3,\)"),
        (lambda: radonml.radon_point(np.zeros((2, 4, 2))), ValueError, r"points must be a 2-dimensional array, got 3"),
        (lambda: radonml.radon_point(np.zeros((3, 2))), ValueError, r"points must hold at least d \+ 2 = 4 points.*got 3 \(shape \(3, 2\)\)"),
        (lambda: radonml.radon_point(np.zeros((0, 2))), ValueError, r"points must not be empty, got shape \(0, 2\)"),
        (lambda: radonml.radon_point([["a", "b"], ["c", "d"], ["e", "f"], ["g", "h"]]), TypeError, r"points must contain real numbers.*<U1"),
        (lambda: radonml.radon_point(np.ones((4, 2), dtype=complex)), TypeError, r"points must be real numbers, got complex"),
        (lambda: radonml.radon_point([[1.0, None], [1, 1], [1, 0], [0, 1]]), ValueError, r"points must be finite.*index \(0, 1\)"),
        (lambda: radonml.radon_point(np.array([[1.0, "x"], [1, 1], [1, 0], [0, 1]], dtype=object)), TypeError, r"points must contain only real numbers"),
        (lambda: radonml.radon_point([[1.0], [1.0, 2.0]]), ValueError, r"points must be a rectangular array"),
        (lambda: radonml.radon_points(np.zeros((4, 2))), ValueError, r"groups must be a 3-dimensional array, got 2"),
        (lambda: radonml.radon_points(np.zeros((2, 3, 2))), ValueError, r"groups must hold at least d \+ 2 = 4 points per group.*got 3"),
        (lambda: radonml.radon_points(np.zeros((0, 4, 2))), ValueError, r"groups must not be empty"),
        (lambda: radonml.radon_points(np.full((1, 4, 2), np.nan)), ValueError, r"groups must be finite"),
        (lambda: radonml.radon_points(np.zeros((1, 4, 2)), n_threads=0), ValueError, r"n_threads must be a positive integer, -1 or None.*got 0"),
        (lambda: radonml.radon_points(np.zeros((1, 4, 2)), n_threads=1.5), TypeError, r"n_threads must be an integer, got 1.5"),
        (lambda: radonml.iterated_radon_point(np.zeros((3, 2))), ValueError, r"points must hold at least r = d \+ 2 = 4 models.*got 3"),
        (lambda: radonml.iterated_radon_point(np.zeros((20, 2)), height=3), ValueError, r"height=3 is too large for 20 models.*4\^3 = 64"),
        (lambda: radonml.iterated_radon_point(np.zeros((20, 2)), height=3, remainder="raise"), ValueError, r"points must hold exactly r\^height = 4\^3 = 64 models.*got 20"),
        (lambda: radonml.iterated_radon_point(np.zeros((20, 2)), height=1, remainder="resample"), ValueError, r"height=1 is too small for 20 models"),
        (lambda: radonml.iterated_radon_point(np.zeros((20, 2)), height=40), ValueError, r"height=40 is too large"),
        (lambda: radonml.iterated_radon_point(np.zeros((20, 2)), height=0), ValueError, r"height must be >= 1, got 0"),
        (lambda: radonml.iterated_radon_point(np.zeros((20, 2)), height=2.0), TypeError, r"height must be an integer"),
        (lambda: radonml.iterated_radon_point(np.zeros((20, 2)), remainder="pad"), ValueError, r"remainder must be one of \('spread', 'drop', 'resample', 'raise'\), got 'pad'"),
        (lambda: radonml.iterated_radon_point(np.zeros((20, 2)), rng="seed"), TypeError, r"rng must be None, an int seed or a numpy.random.Generator, got str"),
        (lambda: radonml.iterated_radon_point(np.full((20, 2), np.inf)), ValueError, r"points must be finite"),
        (lambda: radonml.iterated_radon_point(np.zeros((2, 4)), remainder="resample"), ValueError, r"points must hold at least r = 6 models to form one group, got 2"),
        (lambda: radonml.radon_number(0), ValueError, r"n_dims must be >= 1, got 0"),
        (lambda: radonml.radon_number(2.5), TypeError, r"n_dims must be an integer, got 2.5"),
        (lambda: radonml.tree_height(0, 3), ValueError, r"n_models must be >= 1, got 0"),
        (lambda: radonml.tukey_depth([0.0, 0.0, 0.0], np.zeros((4, 2))), ValueError, r"point must have d = 2 entries to match points of shape \(4, 2\), got 3"),
        (lambda: radonml.tukey_depth([0.0, 0.0], np.zeros((4, 2)), n_directions=0), ValueError, r"n_directions must be >= 1, got 0"),
        (lambda: radonml.tukey_depth([np.nan, 0.0], np.zeros((4, 2))), ValueError, r"point must be finite"),
        (lambda: radonml.tukey_depth([0.0, 0.0], np.zeros((0, 2))), ValueError, r"points must not be empty"),
    ],
)
def test_bad_input(call, exc, match):
    _bad(call, exc, match)
