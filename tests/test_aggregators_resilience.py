"""Resilience properties that can fail (issue 10) and a property test per registered
aggregator (issue 9): with f corrupted models far away, the robust rules stay within the
honest models' bounding box while the mean leaves it; the geometric median stays bounded as
the outliers move to infinity; the Radon point's behaviour is measured; every rule is
permutation-invariant and lies in the models' hull or bounding box where it promises to
(an LP oracle)."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

import radonml
from radonml.aggregators import REGISTRY

SETTINGS = settings(max_examples=25, deadline=None, database=None)


def attacked(seed, n, d, f, R=1e6, how="random"):
    rng = np.random.default_rng(seed)
    X = 1.0 + 0.1 * rng.standard_normal((n, d))
    honest = X[f:].copy()
    if how == "random":  # f independent far points
        X[:f] = R * rng.standard_normal((f, d))
    elif how == "collude":  # f copies of one far point
        X[:f] = R * rng.standard_normal(d)
    else:  # one direction, growing distances
        u = rng.standard_normal(d)
        X[:f] = 1.0 + R * np.outer(np.arange(1, f + 1), u)
    return X, honest


def in_box(z, P, tol=1e-9):
    lo, hi = P.min(0), P.max(0)
    pad = tol * (1 + np.abs(P).max())
    return bool(np.all(z >= lo - pad) and np.all(z <= hi + pad))


def in_hull(z, P, tol=1e-9):
    """LP oracle: min ||P^T lam - z||_1 over the simplex is ~0 iff z lies in conv(P)."""
    n, d = P.shape
    c = np.r_[np.zeros(n), np.ones(2 * d)]
    A = np.block([[P.T, np.eye(d), -np.eye(d)], [np.ones((1, n)), np.zeros((1, 2 * d))]])
    res = linprog(c, A_eq=A, b_eq=np.r_[z, 1.0], bounds=(0, None), method="highs")
    return res.status == 0 and res.fun <= tol * d * (1 + np.abs(P).max())


ROBUST = [  # (method, options) that promise to stay in the honest bounding box, n = 15, f = 3
    ("krum", {"f": 3}), ("multi_krum", {"f": 3}), ("bulyan", {"f": 3}), ("meamed", {"f": 3}), ("median", {}),
    ("trimmed_mean", {"beta": 0.2}),  # beta >= f/n
    ("trimmed_mean", {"f": 3}), ("mda", {"f": 3}), ("bulyan", {"f": 3, "inner": "geometric_median"}),
    ("nnm>krum", {"f": 3}), ("nnm>trimmed_mean", {"f": 3}), ("arc>meamed", {"f": 3}),
]


@pytest.mark.parametrize("how", ["random", "collude", "line"])
@pytest.mark.parametrize("seed", range(4))
def test_robust_rules_stay_in_the_honest_box_while_the_mean_leaves_it(seed, how):
    X, honest = attacked(seed, 15, 4, 3, how=how)
    assert not in_box(radonml.aggregate(X, "mean"), honest)
    for method, opts in ROBUST:
        out = radonml.aggregate(X, method, **opts)
        assert in_box(out, honest), (method, opts, out)
    krum = radonml.aggregate(X, "krum", f=3)
    assert any(np.array_equal(krum, h) for h in honest)  # Krum returns one of the honest inputs


def test_trimming_less_than_f_is_not_robust():
    X, honest = attacked(0, 15, 4, 3, how="line")  # three outliers on one side
    assert not in_box(radonml.aggregate(X, "trimmed_mean", beta=0.1), honest)  # drops 1 < f per end


@pytest.mark.parametrize("seed", range(3))
def test_geometric_median_stays_bounded_as_outliers_go_to_infinity(seed):
    dist = []
    for R in 10.0 ** np.arange(2, 15, 2):
        X, honest = attacked(seed, 15, 4, 7, R=R, how="collude")  # f = 7 < n / 2
        dist.append(np.linalg.norm(radonml.aggregate(X, "geometric_median") - honest.mean(0)))
    radius = np.linalg.norm(honest - honest.mean(0), axis=1).max()
    assert max(dist) < 10 * radius  # bounded ...
    assert abs(dist[-1] - dist[-2]) < 1e-6 * radius  # ... and it no longer moves with R
    X, honest = attacked(seed, 15, 4, 8, R=1e8, how="collude")  # f = 8 > n / 2: broken down
    assert np.linalg.norm(radonml.aggregate(X, "geometric_median") - honest.mean(0)) > 1e6


def test_the_radon_point_measured_under_far_outliers():
    """Measured, not assumed; it depends on how the outliers fall into the parts and groups.

    One Radon point of r = d + 2 = 5 points in R^3 with far outliers at random directions:
    - f = 1: always in the honest hull (the outlier lies in one part; the point lies in the
      hull of the other, honest part) - a proof, checked on 100 seeds with the LP oracle;
    - f = 2: in the honest box only when both fall in the same part: 69% of 300 seeds;
    - f = 3: 28% of 300 seeds.
    The iterated Radon point of 25 models (h = 2, groups of 5) cannot leave the honest hull
    with f <= 2^h - 1 = 3 outliers (a bad group point needs two outliers in one group split
    across its parts, and the top level again needs two bad points split across its parts);
    measured over 200 seeds it stayed in the honest box for every seed up to f = 9 (36%), and
    left it in 2 of 200 at f = 10 and 5 of 200 at f = 12.
    """
    d, r = 3, 5

    def inside(seed, n, f, height=None, hull=False):
        X, honest = attacked(seed, n, d, f)
        p = radonml.radon_point(X) if height is None else radonml.iterated_radon_point(X, height=height, rng=seed)
        return in_hull(p, honest) if hull else in_box(p, honest)

    assert all(inside(s, r, 1, hull=True) for s in range(100))
    frac2 = np.mean([inside(s, r, 2) for s in range(300)])
    frac3 = np.mean([inside(s, r, 3) for s in range(300)])
    assert 0.6 <= frac2 <= 0.8 and 0.2 <= frac3 <= 0.4, (frac2, frac3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert all(inside(s, r * r, 3, height=2, hull=True) for s in range(100))
        assert all(inside(s, r * r, 9, height=2) for s in range(200))
        frac12 = np.mean([inside(s, r * r, 12, height=2) for s in range(200)])
    assert 0.9 <= frac12 < 1.0, frac12


# ------------------------------------------- one property test per aggregator

HULL = {"mean", "geometric_median", "krum", "multi_krum", "mda", "radon"}  # convex combinations of the models
BOX = {"median", "trimmed_mean", "meamed", "bulyan", "centered_clipping"}  # coordinate-wise / clipped around a box point
PIPELINES = ["nnm>krum", "arc>mean", "bucketing>median", "static_clipping>geometric_median", "nnm>bulyan"]


def options_for(method):
    opts = {}
    if radonml.aggregators.accepts_option(method, "f"):
        opts["f"] = 3
    if method.startswith("bucketing"):
        opts["rng"] = 7
    return opts


def test_every_registered_aggregator_has_a_permutation_and_containment_test():
    builtins = {k for k, r in REGISTRY.items() if r.kind == "aggregator" and not k.startswith("test_")}
    assert builtins <= HULL | BOX, builtins - (HULL | BOX)


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), perm_seed=st.integers(0, 2**32 - 1), d=st.integers(1, 6),
       method=st.sampled_from(sorted(HULL | BOX) + PIPELINES))
def test_permutation_invariance_and_hull_or_box_containment(seed, perm_seed, d, method):
    rng = np.random.default_rng(seed)
    n = d + 2 if method == "radon" else 15  # radon: one group (larger n: groups drawn at random)
    X = rng.standard_t(2, size=(n, d))
    perm = np.random.default_rng(perm_seed).permutation(n)
    opts = options_for(method)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a geometric median at its iteration limit
        a = radonml.aggregate(X, method, **opts)
        b = radonml.aggregate(X[perm], method, **opts)
    scale = 1 + np.abs(X).max()
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9 * scale)
    if method in HULL:
        assert in_hull(a, X), (method, a)
    if method in BOX | HULL or method in PIPELINES:
        assert in_box(a, X, tol=1e-9), (method, a)


def test_radon_with_more_than_one_group_depends_on_the_draw_not_on_a_silent_order():
    # documented: the iterated Radon point groups the models at random (rng); the same rng on
    # permuted models draws other groups, so equality holds in distribution only
    X = np.random.default_rng(0).standard_normal((25, 3))
    a = radonml.aggregate(X, "radon", rng=1)
    assert np.array_equal(a, radonml.aggregate(X, "radon", rng=1))  # deterministic per rng
    assert in_hull(a, X)
