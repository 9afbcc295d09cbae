"""Tests of issue 9's Radon kinds: every model counts (the "spread" tree and Radon points of
more than d + 2 points), every loop is bounded (resample, the leaf permutation), memory
proportional to the input, options validated before the work, extreme scales through the tree.

Every Radon point is checked against the independent certificate of test_radon (convex weights
that reproduce it and scipy's HiGHS LP oracle); tree shapes against the constraints stated in
the docstrings, checked by brute force; probabilities against the bound derived from the
pairs argument.
"""

import math
import os
import subprocess
import sys
import textwrap
import warnings
from math import comb

import numpy as np
import pytest
import radonml
from hypothesis import given
from hypothesis import strategies as st
from radonml import _core
from radonml.radon import _distinct_groups, _leaves, radon_tree
from test_radon import (
    SETTINGS,
    _least_squares_models,
    _normalizer,
    check_certificate,
    hull_gap,
    make_points,
)


def _run(code, timeout=120, memory_limit=None):
    """Run code in a fresh interpreter (a hang fails the test instead of stalling the suite)."""
    pre = "import numpy as np, radonml, warnings\n"
    if memory_limit and "libasan" not in os.environ.get("LD_PRELOAD", ""):  # ASan reserves terabytes of shadow
        pre += f"import resource; resource.setrlimit(resource.RLIMIT_AS, ({memory_limit}, {memory_limit}))\n"
    try:
        done = subprocess.run(
            [sys.executable, "-c", pre + textwrap.dedent(code)], capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"no answer within {timeout} s")
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


# ---------------------------------------------------------------- kind 4: bounded loops


def test_case_04_resample_with_one_model_more_than_r_returns():
    """Handed case 04: 22 models in R^19 (r = 21) with remainder="resample" hung (groups were
    redrawn until they held no duplicate); it returns a point in the models' convex hull."""
    out = _run(
        """
        X = np.random.default_rng(0).standard_normal((22, 19))
        print(repr(radonml.iterated_radon_point(X, remainder="resample", rng=0).tolist()))
        """,
        timeout=60,
    )
    point = np.array(eval(out.strip()))
    X = np.random.default_rng(0).standard_normal((22, 19))
    assert hull_gap(X, point) <= 1e-7


def test_resample_at_every_dimension_with_n_just_above_r():
    out = _run(
        """
        for d in range(12, 31):
            X = np.random.default_rng(d).standard_normal((d + 3, d))
            p = radonml.iterated_radon_point(X, remainder="resample", rng=d)
            assert np.isfinite(p).all()
        print("ok")
        """,
        timeout=120,
    )
    assert out.strip() == "ok"


def test_distinct_groups_are_uniform_subsets():
    """Floyd's algorithm: every row is r distinct indices; the 10 subsets of size 3 of
    range(5) and the positions inside a row are uniform (chi-square, p > 1e-4)."""
    from scipy.stats import chisquare

    S = _distinct_groups(5, 3, 30000, np.random.default_rng(0))
    assert S.shape == (30000, 3) and S.min() >= 0 and S.max() <= 4
    assert all(len(set(row)) == 3 for row in S[:2000])
    codes = (1 << S).sum(axis=1)  # the subset as a bit mask
    counts = np.array([np.sum(codes == c) for c in sorted(set(codes.tolist()))])
    assert counts.size == comb(5, 3)
    assert chisquare(counts).pvalue > 1e-4
    for pos in range(3):
        assert chisquare(np.bincount(S[:, pos], minlength=5)).pvalue > 1e-4
    big = _distinct_groups(10**6, 40, 50, np.random.default_rng(1))  # n >> r: no retries either
    assert all(np.unique(row).size == 40 for row in big)


@pytest.mark.parametrize("n", [1, 2, 3, 7, 4096, 4097, 8193, 70001])
def test_random_permutation_is_a_permutation_for_any_thread_count(n):
    p = _core.random_permutation(n, 123, 1)
    assert p.dtype == np.int64 and np.array_equal(np.sort(p), np.arange(n))
    for t in (2, 3, 0):
        assert np.array_equal(_core.random_permutation(n, 123, t), p)
    if n > 3:
        assert not np.array_equal(_core.random_permutation(n, 124, 1), p)


def _permutation_transcribed(n, seed):
    """random_permutation's algorithm as its documentation states it, in plain Python
    integers: SplitMix64 bucket labels, buckets concatenated in index order, Fisher-Yates
    inside each bucket with multiply-high draws (an independent transcription, not the
    compiled blocked loops)."""
    M, G = 2**64 - 1, 0x9E3779B97F4A7C15

    def mix64(z):
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M
        return z ^ (z >> 31)

    key_bucket, key_shuffle = mix64(seed), mix64(seed ^ 0xD1B54A32D192ED03)
    log_b = 0
    while log_b < 14 and (4096 << log_b) < n:
        log_b += 1
    buckets = [[] for _ in range(1 << log_b)]
    for i in range(n):  # chunks are consecutive index ranges, so chunk order is index order
        buckets[mix64((key_bucket + (i + 1) * G) & M) >> (64 - log_b) if log_b else 0].append(i)
    out = []
    for b, v in enumerate(buckets):
        state = mix64((key_shuffle + b * G) & M)
        for i in range(len(v) - 1, 0, -1):
            state = (state + G) & M
            j = (mix64(state) * (i + 1)) >> 64
            v[i], v[j] = v[j], v[i]
        out += v
    return np.array(out, dtype=np.int64)


@pytest.mark.parametrize("n, seed", [(1, 5), (300, 2**64 - 1), (4096, 0), (10_000, 7), (70_001, 123)])
def test_random_permutation_matches_its_transcription(n, seed):
    """The compiled permutation (labels and random words drawn in vectorized blocks, buckets
    shuffled in parallel) equals the algorithm written out step by step, for one bucket,
    several buckets and several chunks, on every thread count."""
    want = _permutation_transcribed(n, seed)
    for t in (1, 2):
        assert np.array_equal(_core.random_permutation(n, seed, t), want)


def test_random_permutation_is_uniform():
    """All 24 permutations of 4 elements equally likely; with several buckets (n = 8193), the
    position of an element is uniform over deciles and two elements are in either order
    with probability 1/2 (chi-square / binomial, p > 1e-4)."""
    from scipy.stats import binomtest, chisquare

    perms = np.array([_core.random_permutation(4, s, 1) for s in range(24000)])
    codes = perms @ np.array([64, 16, 4, 1])
    counts = np.unique(codes, return_counts=True)[1]
    assert counts.size == 24 and chisquare(counts).pvalue > 1e-4
    n = 8193
    pos0, pos_last, before = [], [], 0
    for s in range(3000):
        p = _core.random_permutation(n, 10**6 + s, 1)
        inv = np.empty(n, dtype=np.int64)
        inv[p] = np.arange(n)
        pos0.append(inv[0])
        pos_last.append(inv[n - 1])
        before += inv[0] < inv[1]
    for pos in (pos0, pos_last):
        assert chisquare(np.bincount(np.array(pos) * 10 // n, minlength=10)).pvalue > 1e-4
    assert binomtest(before, 3000).pvalue > 1e-4


# ---------------------------------------------------------------- kind 9: every model counts


def _levels_by_brute_force(n, r, h):
    """All level-size sequences N_1 .. N_h = n with groups of r..2r-1 below the root; the
    constraints the spread tree must meet, enumerated without its formula."""
    out = []

    def rec(level_sizes):
        if len(level_sizes) == h:
            if level_sizes[-1] == n:
                out.append(tuple(level_sizes))
            return
        m = level_sizes[-1]
        for nxt in range(r * m, (2 * r - 1) * m + 1):
            if nxt <= n:
                rec(level_sizes + [nxt])

    for root in range(r, 2 * r):
        rec([root])
    return out


@pytest.mark.parametrize("n, d", [(4, 2), (7, 2), (16, 2), (30, 2), (49, 2), (64, 2), (200, 1), (90, 3), (600, 3), (1000, 3)])
def test_spread_tree_shape(n, d):
    r = d + 2
    tr = radon_tree(n, d)
    assert tr.height == math.floor(math.log(n) / math.log(r) + 1e-12) and r**tr.height <= n
    assert tr.n_used == tr.n_leaves == n and tr.n_left_out == 0 and tr.groups[-1] == 1
    m = n
    for g, (lo, hi) in zip(tr.groups, tr.group_sizes):
        assert lo == m // g and hi == -(-m // g) and lo >= r
        m = g
    below_root = [hi for _, hi in tr.group_sizes[:-1]]
    assert all(k <= 2 * r - 1 for k in below_root)
    feasible = _levels_by_brute_force(n, r, tr.height) if n <= (2 * r - 1) ** tr.height else []
    if feasible:  # a tree with every group in [r, 2r - 1] exists: the root is one too
        assert tr.group_sizes[-1][1] <= 2 * r - 1
        # and the leaves are as close to r as any such tree allows (the slack goes up)
        assert tr.groups[0] == max(s[-2] if len(s) > 1 else 1 for s in feasible)
    else:  # n just below r^(h+1): only the root is larger
        assert tr.group_sizes[-1][1] == -(-n // (2 * r - 1) ** (tr.height - 1)) or tr.height == 1


def test_spread_tree_of_the_issue_examples():
    t80 = radon_tree(80, 7)
    assert (t80.height, t80.groups, t80.group_sizes, t80.n_used) == (1, (1,), ((80, 80),), 80)
    assert radon_tree(80, 7, remainder="drop").n_left_out == 71
    t = radon_tree(10**6, 10)
    assert t.groups == (83333, 6944, 529, 23, 1) and t.n_used == 10**6
    assert all(12 <= lo <= hi <= 23 for lo, hi in t.group_sizes)
    assert t.to_dict()["group_sizes"][0] == [12, 13]
    assert "left_out=0" in repr(t) and "83333x12-13" in repr(t)
    assert radon_tree(10**6, 10, remainder="drop").n_used == 12**5


def test_every_model_moves_the_result():
    """Moving any one of 80 models in R^7 moves the aggregate (issue 9: 71 were ignored)."""
    X = np.random.default_rng(0).standard_normal((80, 7))
    base = radonml.aggregate(X, "radon", rng=0)
    assert np.array_equal(base, radonml.iterated_radon_point(X, rng=0))
    moved = 0
    for i in range(80):
        Y = X.copy()
        Y[i] += 1e-3 * np.random.default_rng(i).standard_normal(7)
        moved += not np.array_equal(radonml.iterated_radon_point(Y, rng=0), base)
    assert moved == 80
    # through a tree of height 4 (10^4 models in R^7, groups of 9-13): each sampled model
    # moves the result; with "drop" exactly the left-out ones never do. (In a group of
    # d + 2 points one of which lies inside the others' hull, the Radon point is that point:
    # moving another one does not move it, as moving a non-median value does not move a
    # median, so in low dimension a model may count without moving this result.)
    Z = np.random.default_rng(1).standard_normal((10**4, 7))
    base = radonml.iterated_radon_point(Z, rng=0)
    with pytest.warns(radonml.RadonmlWarning):
        base_drop = radonml.iterated_radon_point(Z, rng=0, remainder="drop")
    used_by_drop = set(_leaves(10**4, 9, 4, "drop", np.random.default_rng(0)).tolist())
    for i in np.random.default_rng(2).choice(10**4, 60, replace=False):
        W = Z.copy()
        W[i] += 1e-3
        assert not np.array_equal(radonml.iterated_radon_point(W, rng=0), base)
        with pytest.warns(radonml.RadonmlWarning):
            moved_drop = not np.array_equal(radonml.iterated_radon_point(W, rng=0, remainder="drop"), base_drop)
        if i not in used_by_drop:
            assert not moved_drop


def test_drop_says_how_many_models_it_leaves_out():
    X = np.random.default_rng(0).standard_normal((80, 7))
    with pytest.warns(radonml.RadonmlWarning, match=r"aggregates r\^height = 9 of the 80 models and leaves 71 out"):
        radonml.iterated_radon_point(X, rng=0, remainder="drop")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        radonml.iterated_radon_point(X[:81 - 72], rng=0, remainder="drop")  # n = r^h: nothing left out
        radonml.iterated_radon_point(X, rng=0)


def test_spread_tree_matches_a_python_reimplementation():
    """The compiled tree is the documented one: groups of consecutive shuffled leaves, the
    first m % g of a level's g groups one larger, each replaced by radon_point."""
    X = np.random.default_rng(5).standard_normal((1000, 3))
    tr = radon_tree(1000, 3)
    leaves = _leaves(1000, 5, tr.height, "spread", np.random.default_rng(9))
    assert np.array_equal(np.sort(leaves), np.arange(1000))
    level = X[leaves]
    for g in tr.groups:
        m = level.shape[0]
        q, rem = divmod(m, g)
        starts = [j * q + min(j, rem) for j in range(g + 1)]
        level = np.array([radonml.radon_point(level[starts[j] : starts[j + 1]]) for j in range(g)])
    got = radonml.iterated_radon_point(X, rng=np.random.default_rng(9))
    assert np.array_equal(got, level[0])


@pytest.mark.parametrize("n, d", [(16, 2), (70, 2), (1000, 3), (150, 10), (400, 17), (30, 20)])
def test_spread_tree_point_is_in_the_hull_seeded_and_thread_independent(n, d):
    X = np.random.default_rng(n + d).standard_t(2, size=(n, d))
    p = radonml.iterated_radon_point(X, rng=1)
    assert p.shape == (d,) and np.isfinite(p).all()
    if d <= 10:
        assert hull_gap(X, p) <= 1e-7
    assert np.array_equal(radonml.iterated_radon_point(X, rng=1), p)
    for t in (1, 2, 5, -1):
        assert np.array_equal(radonml.iterated_radon_point(X, rng=1, n_threads=t), p)
    assert not np.array_equal(radonml.iterated_radon_point(X, rng=2), p)


def test_spread_tree_is_affine_equivariant():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((600, 4))
    Qm, _ = np.linalg.qr(rng.standard_normal((4, 4)))
    A = Qm * rng.uniform(0.5, 2.0, size=4)
    b = rng.standard_normal(4) * 10
    p = radonml.iterated_radon_point(X, rng=3)
    q = radonml.iterated_radon_point(X @ A.T + b, rng=3)
    np.testing.assert_allclose(q, A @ p + b, rtol=0, atol=1e-8 * (1 + np.abs(b).max()))
    # power-of-two maps are exact
    s = np.array([2.0, -0.5, 8.0, 0.25])
    assert np.array_equal(radonml.iterated_radon_point(X * s + 4.0, rng=3), p * s + 4.0) or np.allclose(
        radonml.iterated_radon_point(X * s + 4.0, rng=3), p * s + 4.0, rtol=1e-14, atol=1e-13
    )


@SETTINGS
@given(
    kind=st.sampled_from(["gaussian", "duplicates", "subspace", "integer", "anisotropic"]),
    d=st.integers(1, 6),
    extra=st.integers(0, 30),
    seed=st.integers(0, 2**32 - 1),
)
def test_larger_groups_are_certified_and_every_point_counts(kind, d, extra, seed):
    """Radon points of k = d + 2 + extra points, through the SIMD kernel (k <= 2d + 3) and the
    general path: certified by the LP oracle, the same in a batch and alone, and on points in
    general position every point carries weight."""
    k = d + 2 + extra
    P = make_points(kind, d, k, seed)
    res = radonml.radon_point(P, return_partition=True)
    check_certificate(P, res)
    assert res.positive.shape == (k,)
    batch = radonml.radon_points(np.stack([P, P[::-1], P]))
    assert np.array_equal(batch[0], res.point) and np.array_equal(batch[2], res.point)
    if kind == "gaussian":
        assert res.n_weighted == k


def test_kernel_and_general_path_agree_on_groups_up_to_2r_minus_1():
    for d in (2, 7, 10, 16):
        for k in range(d + 2, 2 * d + 4):
            G = np.random.default_rng(100 * d + k).standard_normal((37, k, d))  # not a multiple of 8 groups
            G[5, 1] = G[5, 0]  # a degenerate group: the kernel hands it to the general path
            pts, lams, _ = _core.radon_points(G, 1)
            gen, _, _ = _core.radon_points(G, 1, _core.RadonSolver.fast_lu, False)
            np.testing.assert_allclose(pts, gen, rtol=0, atol=1e-11)
            for j in (0, 5):  # null vectors of M = [s_1 .. s_k; 1 .. 1]
                assert np.abs(np.vstack([G[j].T, np.ones(k)]) @ lams[j]).max() < 1e-12 * k
            for j in (0, 5, 36):
                assert np.array_equal(radonml.radon_point(G[j]), pts[j])


# ---------------------------------------------------------------- the confidence bound


def _bound_product(sizes, delta):
    """delta_h <= delta^(2^h) prod_l C(k_l, 2)^(2^(h - l)), transcribed from the pairs argument."""
    h = len(sizes)
    b = delta ** (2**h)
    for level, k in enumerate(sizes, start=1):
        b *= comb(k, 2) ** (2 ** (h - level))
    return min(1.0, b)


def _amplification_k(k, quantile, d=3, trials=1500, seed=0):
    rng = np.random.default_rng(seed)
    W, w_star = _least_squares_models(trials * k * k, d, rng)
    Q = lambda w: ((w - w_star) ** 2).sum(axis=-1)
    eps = np.quantile(Q(W), quantile)
    level1 = radonml.radon_points(W.reshape(-1, k, d))
    level2 = radonml.radon_points(level1.reshape(-1, k, d))
    return {
        "k": k,
        "delta": float(np.mean(Q(W) > eps)),
        "p1": float(np.mean(Q(level1) > eps)),
        "p2": float(np.mean(Q(level2) > eps)),
        "mean1": float(np.mean(Q(W.reshape(-1, k, d).mean(axis=1)) > eps)),
        "mean2": float(np.mean(Q(W.reshape(-1, k * k, d).mean(axis=1)) > eps)),
    }


def _bound_holds(m):
    k, delta = m["k"], m["delta"]
    return m["p1"] <= min(comb(k, 2) * delta**2, (k * delta) ** 2) and m["p2"] <= min(_bound_product([k, k], delta), (k * delta) ** 4)


@pytest.mark.parametrize("k", [6, 9])  # r + 1 and 2r - 1 for d = 3
@pytest.mark.parametrize("quantile", [0.9, 0.98])
def test_confidence_amplification_for_groups_of_r_to_2r_minus_1(k, quantile):
    m = _amplification_k(k, quantile)
    assert _bound_holds(m), m
    assert m["p1"] <= m["mean1"] / 5, m
    assert m["p2"] <= m["mean2"] / 5, m
    assert m["p2"] <= m["p1"] <= m["delta"] / 5, m


def test_larger_group_bound_check_can_fail():
    """A "Radon point" that returns one model of its group fails the bound for k = 2r - 1."""
    rng = np.random.default_rng(0)
    k, d = 9, 3
    W, w_star = _least_squares_models(1500 * k * k, d, rng)
    Q = ((W - w_star) ** 2).sum(axis=-1)
    eps = np.quantile(Q, 0.98)
    first = W.reshape(-1, k, d)[:, 0]
    m = {"k": k, "delta": float(np.mean(Q > eps)), "p1": float(np.mean(((first - w_star) ** 2).sum(-1) > eps)), "p2": 0.0}
    assert not _bound_holds(m)


def test_confidence_amplification_through_the_spread_tree():
    """81 = (2r - 1)^2 models in R^3 per tree: groups of 9 = 2r - 1 at both levels, the
    largest the spread tree makes. P(bad) is below the bound and far below averaging's."""
    d, n = 3, 81
    tr = radon_tree(n, d)
    assert tr.group_sizes == ((9, 9), (9, 9))
    rng = np.random.default_rng(1)
    W, w_star = _least_squares_models(800 * n, d, rng)
    Q = lambda w: ((w - w_star) ** 2).sum(axis=-1)
    eps = np.quantile(Q(W), 0.95)
    delta = float(np.mean(Q(W) > eps))
    trees = np.array([radonml.iterated_radon_point(g, rng=j) for j, g in enumerate(W.reshape(-1, n, d))])
    means = W.reshape(-1, n, d).mean(axis=1)
    p2, pm = np.mean(Q(trees) > eps), np.mean(Q(means) > eps)
    assert math.isclose(tr.failure_bound(delta), _bound_product([9, 9], delta), rel_tol=1e-12)
    assert p2 <= min(tr.failure_bound(delta), (9 * delta) ** 4)
    assert p2 <= pm / 5


def test_failure_bound_is_the_product_over_levels():
    tr = radon_tree(10**6, 10)
    for delta in (1e-4, 1e-3):
        expected = _bound_product([hi for _, hi in tr.group_sizes], delta)
        assert math.isclose(tr.failure_bound(delta), expected, rel_tol=1e-9)
    assert tr.failure_bound(0.0) == 0.0 and tr.failure_bound(1.0) == 1.0
    drop = radon_tree(10**6, 10, remainder="drop")
    assert math.isclose(drop.failure_bound(1e-3), comb(12, 2) ** 31 * 1e-3**32, rel_tol=1e-9)
    with pytest.raises(ValueError, match="resample"):
        radon_tree(30, 3, remainder="resample").failure_bound(0.1)
    with pytest.raises(ValueError, match="delta must be a probability"):
        tr.failure_bound(1.5)


# ---------------------------------------------------------------- kind 8: memory, options, scales


def test_case_20_radon_point_of_40000_points_in_bounded_memory():
    """Handed case 20: 40,000 points in R^2 whose first four are equal raised MemoryError (an
    r x r kernel matrix); under a 3 GiB address-space limit it returns a certified partition
    that covers every point."""
    out = _run(
        """
        X = np.vstack([np.ones((4, 2)), np.random.default_rng(0).standard_normal((39996, 2))])
        res = radonml.radon_point(X, return_partition=True)
        np.save("/dev/stdout", np.concatenate([res.point, res.weights]))
        """.replace('np.save("/dev/stdout", ', "print(repr(").replace("]))", "]).tolist()))"),
        timeout=120,
        memory_limit=3 << 30,
    )
    vals = np.array(eval(out.strip()))
    X = np.vstack([np.ones((4, 2)), np.random.default_rng(0).standard_normal((39996, 2))])
    res = radonml.RadonPartition(point=vals[:2], weights=vals[2:], positive=vals[2:] > 0)
    assert res.weights.shape == (40000,)
    check_certificate(X, res, lp=False)
    pos = res.positive
    assert hull_gap(X[pos], res.point, X) <= 1e-7 and hull_gap(X[~pos], res.point, X) <= 1e-7


@pytest.mark.parametrize("first_solver", [1, 2])
def test_rank_revealing_fallbacks_need_no_k_by_k_matrix(first_solver):
    """The full-pivot LU and QR fallbacks on 20,000 points in R^3 with many duplicates."""
    rng = np.random.default_rng(first_solver)
    base = rng.standard_normal((50, 3))
    P = base[rng.integers(0, 50, size=20000)]
    pts, lams, solvers = _core.radon_points(P[None], 1, _core.RadonSolver(first_solver))
    assert solvers[0] == first_solver
    res = radonml.RadonPartition(point=pts[0], weights=lams[0], positive=lams[0] > 0)
    check_certificate(P, res, lp=False)


def test_case_20_absurd_thread_counts():
    G = np.random.default_rng(0).standard_normal((2, 4, 2))
    ref = radonml.radon_points(G, n_threads=1)
    for big in (2**31, 2**63, np.int64(2**40), 10**30):  # capped at the core's 256 threads
        assert np.array_equal(radonml.radon_points(G, n_threads=big), ref)
    X = np.random.default_rng(1).standard_normal((100, 2))
    assert np.array_equal(radonml.iterated_radon_point(X, rng=0, n_threads=2**31), radonml.iterated_radon_point(X, rng=0))
    for bad, exc in ((True, TypeError), (1.0, TypeError), ("4", TypeError), (0, ValueError), (-2, ValueError), (-(2**31), ValueError)):
        with pytest.raises(exc, match="n_threads"):
            radonml.radon_points(G, n_threads=bad)
        with pytest.raises(exc, match="n_threads"):
            radonml.iterated_radon_point(X, n_threads=bad)
    assert _core.max_threads == 256


def test_absurd_height_is_refused_before_any_work():
    out = _run(
        """
        X = np.zeros((20, 2))
        for h, rem in ((10**8, "spread"), (10**12, "drop"), (10**12, "raise"), (10**12, "resample")):
            try:
                radonml.iterated_radon_point(X, height=h, remainder=rem)
            except ValueError as e:
                assert "height" in str(e) or "r^height" in str(e), str(e)
            else:
                raise AssertionError(h)
        print("ok")
        """,
        timeout=60,
    )
    assert out.strip() == "ok"


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: radonml.radon_point(np.eye(4, 2), return_partition="yes"), TypeError, r"return_partition must be True or False, got 'yes'"),
        (lambda: radonml.iterated_radon_point(np.zeros((20, 2)), remainder=None), ValueError, r"remainder must be one of.*got None"),
        (lambda: radonml.iterated_radon_point(np.zeros((20, 2)), rng="abc"), TypeError, r"rng must be"),
        (lambda: radonml.iterated_radon_point(np.zeros((20, 2)), height=True), TypeError, r"height must be an integer"),
        (lambda: radonml.iterated_radon_point(np.zeros((20, 2)), height=5, remainder="resample"), ValueError, r"height=5 is too large for 20 models with remainder='resample'"),
        (lambda: radonml.tree_height(10, 2, remainder="pad"), ValueError, r"remainder must be one of"),
        (lambda: radon_tree(10, 2, height=3), ValueError, r"height=3 is too large for 10 models"),
        (lambda: radon_tree(10, 0), ValueError, r"n_dims must be >= 1"),
        (lambda: radon_tree(3, 2), ValueError, r"n_models must hold at least r = d \+ 2 = 4 models in dimension d = 2, got 3"),
        (lambda: radonml.tukey_depth(np.zeros(3), np.zeros((5, 3)), n_directions=10**12), ValueError, r"n_directions must be at most 10\*\*7, got 1000000000000"),
        (lambda: radonml.tukey_depth(np.zeros(3), np.zeros((5, 3)), rng="abc"), TypeError, r"rng must be"),
    ],
)
def test_options_are_validated(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


@pytest.mark.parametrize("d", [2, 10, 20])  # SIMD kernel (d <= 16) and the general path
@pytest.mark.parametrize("scale", [1e300, 1e-300, 1e-310, 1e307])
def test_extreme_scales_through_the_tree(d, scale):
    """Normalise, then compute: the tree commutes with scaling by any finite factor, down to
    subnormal coordinates, and mixed scales per coordinate work too."""
    X = np.random.default_rng(d).standard_normal((300, d))
    p = radonml.iterated_radon_point(X, rng=4)
    q = radonml.iterated_radon_point(X * scale, rng=4)
    assert np.isfinite(q).all()
    rel = 1e-9 if scale >= 1e-300 else 1e-6  # subnormals carry fewer digits
    np.testing.assert_allclose(q / scale, p, rtol=0, atol=rel * np.abs(p).max() + (0 if scale >= 1e-300 else 1e-6))
    mixed = X * np.geomspace(1e-300, 1e300, d)
    m = radonml.iterated_radon_point(mixed, rng=4)
    assert np.isfinite(m).all()
    f = _normalizer(mixed)
    assert np.abs(f(m) - f(p * np.geomspace(1e-300, 1e300, d))).max() <= 1e-6


def test_extreme_scales_in_larger_groups():
    P = np.random.default_rng(3).standard_normal((9, 3))  # k = 2d + 3
    for scale in (1e300, 1e-300, 1e-310):
        res = radonml.radon_point(P * scale, return_partition=True)
        ref = radonml.radon_point(P, return_partition=True)
        np.testing.assert_allclose(res.weights, ref.weights, rtol=0, atol=1e-6 if scale < 1e-300 else 1e-10)
        assert np.isfinite(res.point).all()


def test_exact_setting_gives_one_tree_under_every_policy_that_uses_each_model_once():
    """With exactly r^h models (the Radon machine's setting) "drop" drops none: the tree, and so
    the point, equals the default "spread" tree and "raise" for the same seed."""
    X = np.random.default_rng(5).standard_normal((5**2, 3))
    spread = radonml.iterated_radon_point(X, height=2, rng=11)
    assert np.array_equal(spread, radonml.iterated_radon_point(X, height=2, rng=11, remainder="raise"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing is left out, so "drop" has nothing to warn about
        assert np.array_equal(spread, radonml.iterated_radon_point(X, height=2, rng=11, remainder="drop"))
