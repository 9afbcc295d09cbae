"""The robust-aggregation catalogue (issue 10): every rule against a direct numpy
transcription of its paper's definition, and against ByzFL's outputs stored as test data
(tests/data/byzfl_reference.npz, made by benchmarks/make_byzfl_reference.py); pipelines of
pre-aggregators; the one fallback mechanism for rules whose condition on n fails; options
validated before any work."""

import itertools
import re
import os
import warnings

import numpy as np
import pytest

import radonml
from radonml.aggregators import (
    REGISTRY,
    adaptive_robust_clipping,
    aggregate_with_fallback,
    bucketing,
    nearest_neighbour_mixing,
    pairwise_sq_distances,
    resolve_aggregator,
    static_clipping,
)
from radonml.aggregators._common import canonical_order
from radonml.exceptions import FallbackWarning, NoRadonPointError, TooFewModelsError

DATA = os.path.join(os.path.dirname(__file__), "data", "byzfl_reference.npz")


def sample(seed, n, d, f=0, far=4.0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal(d) + 0.3 * rng.standard_normal((n, d))
    X[:f] += far * rng.standard_normal((f, d))
    return X


# ------------------------------------------------ transcriptions of the papers


def sqdist(X):
    diff = X[:, None, :] - X[None, :, :]
    return np.einsum("ijk,ijk->ij", diff, diff)


def ref_krum_scores(X, k):
    D = sqdist(X)
    return np.array([np.sort(np.delete(D[i], i))[:k].sum() for i in range(len(X))])


def first_by_score(scores, X):
    """Lowest score first; equal scores (a mutual nearest pair has them whenever Krum counts
    one neighbour) in radonml's documented fixed order of the vectors."""
    pos = np.empty(len(X), dtype=int)
    pos[canonical_order(X)] = np.arange(len(X))
    return np.lexsort((pos, scores))


def ref_krum(X, f, k=None):
    n = len(X)
    return X[first_by_score(ref_krum_scores(X, n - f - 2 if k is None else k), X)[0]]


def ref_multi_krum(X, f, m=None, k=None, w=None):
    n = len(X)
    s = ref_krum_scores(X, n - f - 2 if k is None else k)
    sel = first_by_score(s, X)[: (n - f if m is None else m)]
    ww = np.ones(n) if w is None else w
    return (ww[sel, None] * X[sel]).sum(0) / ww[sel].sum()


def ref_meamed_columns(S, keep):
    out = []
    for col in S.T:
        med = np.median(col)
        out.append(col[np.argsort(np.abs(col - med), kind="stable")[:keep]].mean())
    return np.array(out)


def ref_bulyan(X, f):
    n = len(X)
    theta, beta = n - 2 * f, n - 4 * f
    rem, sel = list(range(n)), []
    for _ in range(theta):
        s = ref_krum_scores(X[rem], max(len(rem) - f - 2, 0))
        sel.append(rem.pop(int(first_by_score(s, X[rem])[0])))
    return ref_meamed_columns(X[sel], beta)


def ref_bulyan_geomed(X, f):
    n = len(X)
    theta, beta = n - 2 * f, n - 4 * f
    rem, sel = list(range(n)), []
    for _ in range(theta):
        v = radonml.aggregate(X[rem], "geometric_median", tol=1e-13)
        sel.append(rem.pop(int(np.argmin(np.linalg.norm(X[rem] - v, axis=1)))))
    return ref_meamed_columns(X[sel], beta)


def ref_mda(X, f, w=None):
    n = len(X)
    D = np.sqrt(sqdist(X))
    best, best_d = None, np.inf
    for S in itertools.combinations(range(n), n - f):
        diam = D[np.ix_(S, S)].max()
        if diam < best_d:
            best, best_d = S, diam
    S = list(best)
    ww = np.ones(n) if w is None else w
    return (ww[S, None] * X[S]).sum(0) / ww[S].sum()


def ref_centered_clipping(X, v, tau, L, w=None):
    ww = np.ones(len(X)) if w is None else w
    for _ in range(L):
        diff = X - v
        c = np.minimum(1.0, tau / np.linalg.norm(diff, axis=1))
        v = v + (ww * c) @ diff / ww.sum()
    return v


def ref_nnm(X, f):
    D = sqdist(X)
    k = len(X) - f
    return np.stack([X[np.argsort(D[i], kind="stable")[:k]].mean(0) for i in range(len(X))])


def ref_arc(X, f):
    n = len(X)
    k = int(2 * f * (n - f) // n)
    norms = np.linalg.norm(X, axis=1)
    order = np.argsort(-norms, kind="stable")
    Y = X.copy()
    if k:
        thr = norms[order[k]]
        for i in order[:k]:
            Y[i] = X[i] * min(1.0, thr / norms[i])
    return Y


CASES = [(s, n, d, f) for s in range(4) for (n, d, f) in ((11, 5, 2), (15, 8, 3), (23, 3, 5))]


@pytest.mark.parametrize("seed,n,d,f", CASES)
def test_krum_and_multi_krum_match_the_paper(seed, n, d, f):
    X = sample(seed, n, d, f)
    got = radonml.aggregate(X, "krum", f=f)
    np.testing.assert_array_equal(got, ref_krum(X, f))
    assert any(np.array_equal(got, x) for x in X)  # Krum's output is one of the inputs
    np.testing.assert_allclose(radonml.aggregate(X, "multi_krum", f=f), ref_multi_krum(X, f), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(radonml.aggregate(X, "multi_krum", f=f, m=3, n_neighbours=n - f - 1),
                               ref_multi_krum(X, f, m=3, k=n - f - 1), rtol=1e-12, atol=1e-12)
    w = np.random.default_rng(seed).uniform(0.5, 3, n)
    np.testing.assert_allclose(radonml.aggregate(X, "multi_krum", f=f, weights=w), ref_multi_krum(X, f, w=w),
                               rtol=1e-12, atol=1e-12)


# f >= 2: with f = 1 the last inner Krum (2f + 1 models left) scores over 0 neighbours, a tie
@pytest.mark.parametrize("seed,n,d,f", [(s, n, d, f) for s in range(3) for (n, d, f) in ((11, 6, 2), (16, 3, 3), (19, 4, 4))])
def test_bulyan_matches_the_paper_with_krum_and_geometric_median_inside(seed, n, d, f):
    X = sample(seed, n, d, f)
    np.testing.assert_allclose(radonml.aggregate(X, "bulyan", f=f), ref_bulyan(X, f), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(radonml.aggregate(X, "bulyan", f=f, inner="geometric_median"), ref_bulyan_geomed(X, f),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("seed,n,d,f", [(s, n, d, f) for s in range(3) for (n, d, f) in ((9, 3, 2), (11, 6, 3), (12, 2, 4))])
def test_mda_matches_exhaustive_search(seed, n, d, f):
    X = sample(seed, n, d, f)
    np.testing.assert_allclose(radonml.aggregate(X, "mda", f=f), ref_mda(X, f), rtol=1e-12, atol=1e-12)
    w = np.random.default_rng(seed).uniform(0.5, 3, n)
    np.testing.assert_allclose(radonml.aggregate(X, "mda", f=f, weights=w), ref_mda(X, f, w), rtol=1e-12, atol=1e-12)


def test_mda_approximation_above_max_subsets_is_within_twice_the_diameter():
    for seed in range(5):
        X = sample(seed, 12, 4, 3)
        D = np.sqrt(sqdist(X))
        exact = min(D[np.ix_(S, S)].max() for S in itertools.combinations(range(12), 9))
        approx = radonml.aggregate(X, "mda", f=3, max_subsets=1)  # C(12, 3) = 220 > 1: approximation
        # the average of some 9-subset S with diam(S) <= 2 * exact: find S back (distinct sums)
        found = [S for S in itertools.combinations(range(12), 9) if np.allclose(X[list(S)].mean(0), approx)]
        assert len(found) == 1 and D[np.ix_(found[0], found[0])].max() <= 2 * exact + 1e-12


@pytest.mark.parametrize("seed,n,d,f", CASES)
def test_meamed_trimmed_mean_and_median_match_the_definitions(seed, n, d, f):
    X = sample(seed, n, d, f)
    np.testing.assert_allclose(radonml.aggregate(X, "meamed", f=f), ref_meamed_columns(X, n - f), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(radonml.aggregate(X, "trimmed_mean", f=f), np.sort(X, 0)[f : n - f].mean(0), rtol=1e-12)
    np.testing.assert_array_equal(radonml.aggregate(X, "median"), np.median(X, axis=0))


def test_meamed_ties_at_the_cut_share_the_places():
    # median 1, keep 4: 1, 0, 2 nearer; -1 and 3 tie at distance 2 for the last place and
    # count half each: (1 + 0 + 2 + (-1 + 3) / 2) / 4 = 1 (either alone would give 0.5 or 1.5)
    X = np.array([[-2.0], [-1.0], [0.0], [1.0], [2.0], [3.0], [50.0]])
    np.testing.assert_allclose(radonml.aggregate(X, "meamed", f=3), [1.0])
    np.testing.assert_allclose(radonml.aggregate(X[::-1].copy(), "meamed", f=3), [1.0])


@pytest.mark.parametrize("seed", range(4))
def test_centered_clipping_matches_the_paper(seed):
    X = sample(seed, 12, 5, 3)
    v0 = np.random.default_rng(seed).standard_normal(5)
    w = np.random.default_rng(seed + 9).uniform(0.5, 2, 12)
    for tau, L in ((0.3, 1), (1.0, 5), (100.0, 2)):
        np.testing.assert_allclose(radonml.aggregate(X, "centered_clipping", radius=tau, iterations=L, init=v0),
                                   ref_centered_clipping(X, v0, tau, L), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(
            radonml.aggregate(X, "centered_clipping", radius=tau, iterations=L, init=v0, weights=w),
            ref_centered_clipping(X, v0, tau, L, w), rtol=1e-12, atol=1e-12)
    # default: start at the coordinate median, radius the median distance to it
    med = np.median(X, 0)
    tau = np.median(np.linalg.norm(X - med, axis=1))
    np.testing.assert_allclose(radonml.aggregate(X, "centered_clipping"), ref_centered_clipping(X, med, tau, 1),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_preaggregators_match_their_definitions(seed):
    X = sample(seed, 13, 6, 3)
    Y, _ = nearest_neighbour_mixing(X, f=3)
    np.testing.assert_allclose(Y, ref_nnm(X, 3), rtol=1e-12, atol=1e-12)
    Y, _ = adaptive_robust_clipping(X, f=3)
    np.testing.assert_allclose(Y, ref_arc(X, 3), rtol=1e-12, atol=1e-12)
    Y, _ = static_clipping(X, max_norm=1.5)
    norms = np.linalg.norm(X, axis=1)
    np.testing.assert_allclose(Y, X * np.minimum(1, 1.5 / norms)[:, None], rtol=1e-12)
    # bucketing: a partition of the models into buckets of 4 (last of 1), each replaced by its mean
    B, wb = bucketing(X, bucket_size=4, rng=seed)
    assert B.shape == (4, 6) and wb is None
    used = []
    for b, size in zip(B, (4, 4, 4, 1)):
        hits = [S for S in itertools.combinations(range(13), size) if np.allclose(X[list(S)].mean(0), b, rtol=1e-12)]
        assert len(hits) == 1
        used += hits[0]
    assert sorted(used) == list(range(13))
    # weights: a bucket's weight is the sum of its models'
    w = np.arange(1.0, 14.0)
    B, wb = bucketing(X, w, bucket_size=13, rng=0)
    np.testing.assert_allclose(B[0], np.average(X, axis=0, weights=w), rtol=1e-12)
    np.testing.assert_allclose(wb, [w.sum()])


def test_pipelines_compose_any_preaggregator_with_any_aggregator():
    X = sample(0, 15, 4, 3)
    Y, _ = nearest_neighbour_mixing(X, f=3)
    np.testing.assert_allclose(radonml.aggregate(X, "nnm>krum", f=3), ref_krum(Y, 3), rtol=1e-12)
    np.testing.assert_allclose(radonml.aggregate(X, "nnm > mean", f=3), Y.mean(0), rtol=1e-12)
    Z = ref_arc(X, 3)
    np.testing.assert_allclose(radonml.aggregate(X, "arc>nnm>trimmed_mean", f=3), np.sort(ref_nnm(Z, 3), 0)[3:12].mean(0),
                               rtol=1e-12)
    # bucket_size = 1 only permutes: bucketing>median is the median
    np.testing.assert_array_equal(radonml.aggregate(X, "bucketing>median", bucket_size=1, rng=5), np.median(X, 0))
    for pre in radonml.aggregators.available_preaggregators():
        for agg in ("mean", "median", "geometric_median", "krum", "mda", "meamed"):
            method = f"{pre}>{agg}"
            opts = {"rng": 0, "bucket_size": 1} if pre == "bucketing" else {}
            if radonml.aggregators.accepts_option(method, "f"):
                opts["f"] = 1
            out = radonml.aggregate(X, method, **opts)
            assert out.shape == (4,) and np.isfinite(out).all()
    assert radonml.supports_weights("nnm>mean") and not radonml.supports_weights("nnm>krum")
    w = np.linspace(1, 2, 15)
    np.testing.assert_allclose(radonml.aggregate(X, "nnm>mean", f=3, weights=w), np.average(Y, axis=0, weights=w),
                               rtol=1e-12)
    ra = resolve_aggregator("nnm>multi_krum")
    assert ra.weighted and ra.name == "nnm>multi_krum"
    vec, used = ra(X, weights=w, f=3)
    assert used == "nnm>multi_krum" and vec.shape == (4,)


# ------------------------------------------------------------ ByzFL as data


def byzfl_cases():
    if not os.path.exists(DATA):
        return []
    data = np.load(DATA)
    return sorted(k[2:] for k in data.files if k.startswith("X_"))


@pytest.mark.parametrize("case", byzfl_cases())
def test_equals_byzfl_where_the_definitions_agree(case):
    data = np.load(DATA)
    X, Y = data["X_" + case], data["Y_" + case]
    rule = case.split("_s")[0]
    n, f = X.shape[0], int(case.rsplit("_f", 1)[1])
    tol = dict(rtol=1e-12, atol=1e-12)
    if rule == "average":
        np.testing.assert_allclose(radonml.aggregate(X, "mean"), Y, **tol)
    elif rule == "median":
        np.testing.assert_allclose(radonml.aggregate(X, "median"), Y, **tol)  # numpy path: the midpoint
    elif rule == "trmean":
        np.testing.assert_allclose(radonml.aggregate(X, "trimmed_mean", f=f), Y, **tol)
    elif rule == "meamed":
        np.testing.assert_allclose(radonml.aggregate(X, "meamed", f=f), Y, **tol)
    elif rule == "krum":  # ByzFL counts n - f nearest including itself: n - f - 1 others
        np.testing.assert_array_equal(radonml.aggregate(X, "krum", f=f, n_neighbours=n - f - 1), Y)
    elif rule == "multikrum":
        np.testing.assert_allclose(radonml.aggregate(X, "multi_krum", f=f, n_neighbours=n - f - 1), Y, **tol)
    elif rule == "mda":
        np.testing.assert_allclose(radonml.aggregate(X, "mda", f=f), Y, **tol)
    elif rule == "geomed":  # ByzFL's smoothed Weiszfeld with nu = 1e-14 and 2000 steps from 0
        np.testing.assert_allclose(radonml.aggregate(X, "geometric_median", tol=1e-14), Y, rtol=1e-9, atol=1e-9)
    elif rule.startswith("cc"):
        tau, L = 0.5, 3
        np.testing.assert_allclose(radonml.aggregate(X, "centered_clipping", radius=tau, iterations=L, init="zero"), Y,
                                   **tol)
    elif rule == "nnm":
        np.testing.assert_allclose(nearest_neighbour_mixing(X, f=f)[0], Y, **tol)
    elif rule == "arc":
        np.testing.assert_allclose(adaptive_robust_clipping(X, f=f)[0], Y, **tol)
    elif rule.startswith("clipping"):
        np.testing.assert_allclose(static_clipping(X, max_norm=2.0)[0], Y, **tol)
    else:  # pragma: no cover
        pytest.fail(f"unknown case {case}")


def test_byzfl_reference_data_is_there():
    assert len(byzfl_cases()) >= 100


# ------------------------------------------------ conditions and the fallback


@pytest.mark.parametrize(
    "method, n, f, needs",
    [("krum", 6, 2, "n >= 2f + 3 = 7"), ("multi_krum", 6, 2, "n >= 2f + 3 = 7"), ("bulyan", 10, 2, "n >= 4f + 3 = 11"),
     ("mda", 4, 2, "n >= 2f + 1 = 5"), ("meamed", 4, 2, "n >= 2f + 1 = 5"), ("trimmed_mean", 4, 2, "n >= 2f + 1 = 5"),
     ("nnm>mean", 4, 2, "n >= 2f + 1 = 5"), ("arc>mean", 4, 2, "n >= 2f + 1 = 5"),
     ("bucketing>krum", 12, 2, "n >= 2f + 3 = 7")],  # 12 models in buckets of 2: 6 for krum
)
def test_rules_check_n_against_their_condition_and_fall_back_through_one_mechanism(method, n, f, needs):
    X = sample(1, n, 3)
    needs = re.escape(needs)
    with pytest.raises(TooFewModelsError, match=rf"aggregator '{method}' cannot run on {n} models.*{needs}"):
        radonml.aggregate(X, method, f=f)
    with pytest.warns(FallbackWarning, match=rf"{needs}.*aggregating with 'geometric_median' instead"):
        vec, used = aggregate_with_fallback(X, method, f=f)
    assert used == "geometric_median"
    np.testing.assert_allclose(vec, radonml.aggregate(X, "geometric_median"))
    with pytest.raises(TooFewModelsError, match=needs):
        aggregate_with_fallback(X, method, f=f, fallback=None)
    # the fallback gets f when it takes it, and its own condition holds too
    opts = {"bucket_size": 2} if "bucketing" in method else {}
    if n > 2 * f:
        with pytest.warns(FallbackWarning):
            vec, used = aggregate_with_fallback(X, method, f=f, fallback="trimmed_mean", **opts)
        assert used == "trimmed_mean"
        np.testing.assert_array_equal(vec, radonml.aggregate(X, "trimmed_mean", f=f))
    else:
        with pytest.warns(FallbackWarning), pytest.raises(TooFewModelsError, match="trimmed_mean needs n >= 2f"):
            aggregate_with_fallback(X, method, f=f, fallback="trimmed_mean", **opts)
    # and the resolved aggregator of the federated protocols and Flower does the same
    with pytest.warns(FallbackWarning):
        vec, used = resolve_aggregator(method, fallback="median")(X, f=f)
    assert used == "median"


def test_radon_falls_back_as_before_and_its_error_is_a_too_few_models_error():
    X = sample(0, 3, 3)
    with pytest.warns(FallbackWarning, match="fewer than the Radon number"):
        _, used = aggregate_with_fallback(X, "radon")
    assert used == "geometric_median"
    with pytest.raises(NoRadonPointError, match="the Radon point of 3 models in dimension d = 3 needs at least r = d \\+ 2 = 5 models, and fallback=None"):
        aggregate_with_fallback(X, "radon", fallback=None)
    assert issubclass(NoRadonPointError, TooFewModelsError) and issubclass(TooFewModelsError, ValueError)


def test_a_registered_condition_is_honoured():
    radonml.register_aggregator("test_needs_five", lambda m, weights=None: m.mean(0), overwrite=True,
                                condition=lambda n, d, **o: None if n >= 5 else f"needs 5 models, got {n}")
    try:
        with pytest.raises(TooFewModelsError, match="needs 5 models, got 4"):
            radonml.aggregate(np.eye(4), "test_needs_five")
        with pytest.warns(FallbackWarning, match="needs 5 models, got 4"):
            aggregate_with_fallback(np.eye(4), "test_needs_five", fallback="median")
    finally:
        REGISTRY.pop("test_needs_five", None)


# ---------------------------------------------------- options, before the work


@pytest.mark.parametrize(
    "method, options, exc, match",
    [
        ("krum", {}, TypeError, r"krum needs f=, the number of Byzantine models"),
        ("krum", {"f": "x"}, TypeError, r"f must be a non-negative integer .* got 'x'"),
        ("krum", {"f": 1.5}, TypeError, r"f must be a non-negative integer"),
        ("krum", {"f": True}, TypeError, r"f must be a non-negative integer"),
        ("krum", {"f": -1}, ValueError, r"f must be >= 0, got -1"),
        ("krum", {"f": 1, "n_neighbours": 20}, ValueError, r"n_neighbours must be at most n - 1 = 19 \(the other models\), got 20"),
        ("multi_krum", {"f": 1, "m": 0}, ValueError, r"m must be >= 1, got 0"),
        ("multi_krum", {"f": 1, "m": 21}, ValueError, r"m must be at most n = 20, got 21"),
        ("bulyan", {"f": 1, "inner": "nope"}, ValueError, r"unknown aggregator method 'nope'"),
        ("bulyan", {"f": 1, "inner": 3}, TypeError, r"inner must be a registered aggregator name"),
        ("mda", {"f": 2, "max_subsets": 0}, ValueError, r"max_subsets must be >= 1, got 0"),
        ("trimmed_mean", {"f": 2, "beta": 0.1}, TypeError, r"beta= .* or f= .*, not both"),
        ("centered_clipping", {"radius": -1.0}, ValueError, r"radius must be a positive finite number, got -1.0"),
        ("centered_clipping", {"radius": np.inf}, ValueError, r"radius must be a positive finite number"),
        ("centered_clipping", {"iterations": -1}, ValueError, r"iterations must be >= 0, got -1"),
        ("centered_clipping", {"init": "far"}, ValueError, r"init must be 'median', 'mean', 'zero' or a \(d,\) array"),
        ("centered_clipping", {"init": np.zeros(2)}, ValueError, r"init must have d = 3 entries, got shape \(2,\)"),
        ("geometric_median", {"init": [np.nan, 0, 0]}, ValueError, r"init must be finite"),
        ("geometric_median", {"tol": np.nan}, ValueError, r"tol must be a positive finite number"),
        ("bucketing>mean", {"bucket_size": 0}, ValueError, r"bucket_size must be >= 1, got 0"),
        ("bucketing>mean", {"rng": "abc"}, TypeError, r"rng must be None, an int seed or a numpy.random.Generator"),
        ("static_clipping>mean", {"max_norm": 0}, ValueError, r"max_norm must be a positive finite number, got 0"),
        ("nnm>krum", {}, TypeError, r"nnm needs f="),
        ("nnm>krum", {"f": 1, "beta": 0.2}, TypeError, r"'nnm>krum' got an unexpected option 'beta' \(nnm takes \['f', 'n_threads'\]"),
        ("krum>nnm", {"f": 1}, ValueError, r"only pre-aggregators .* may come before '>', but 'krum' is an aggregator"),
        ("nnm", {"f": 1}, ValueError, r"'nnm' must end in an aggregator, but 'nnm' is a pre-aggregator"),
        ("nope>mean", {}, ValueError, r"unknown pre-aggregator 'nope' in 'nope>mean'; expected one of \['arc', 'bucketing'"),
        ("mean", {"n_threads": 0}, ValueError, r"n_threads"),
        ("median", {"n_threads": "x"}, TypeError, r"n_threads"),
    ],
)
def test_options_are_validated_with_messages_that_name_them(method, options, exc, match):
    X = sample(0, 20, 3)
    with pytest.raises(exc, match=match):
        radonml.aggregate(X, method, **options)


def test_every_registered_aggregator_and_preaggregator_has_a_numpydoc_docstring_with_its_paper():
    for name, rule in REGISTRY.items():
        if name == "radon" or name.startswith("test_"):
            continue
        doc = rule.fn.__doc__ or ""
        assert "Parameters" in doc and "Returns" in doc and "Examples" in doc, name
        assert any(str(y) in doc or str(y) in (rule.fn.__module__ and __import__(rule.fn.__module__, fromlist=["x"]).__doc__)
                   for y in range(1937, 2026)), f"{name}: no paper (year) cited"


def test_distances_come_from_one_gram_matrix_and_match_direct_ones():
    X = sample(3, 30, 50, 5, far=1e6)  # outliers a million times farther than the honest spread
    D, s = pairwise_sq_distances(X)
    ref = sqdist(X)
    honest = np.ix_(range(5, 30), range(5, 30))
    np.testing.assert_allclose(D[honest] * s * s, ref[honest], rtol=1e-9)  # centring at the median: honest exact
    np.testing.assert_allclose(D * s * s, ref, rtol=1e-9, atol=1e-9 * ref.max())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        radonml.aggregate(X, "krum", f=5)


@pytest.mark.parametrize("method, options, match", [
    ("bulyan", {"f": 1, "inner": "nope"}, "unknown aggregator method 'nope'"),
    ("krum", {"f": 1, "n_neighbours": 99}, "n_neighbours must be at most"),
    ("multi_krum", {"f": 1, "m": 0}, "m must be >= 1"),
    ("mda", {"f": 1, "max_subsets": 0}, "max_subsets must be >= 1"),
    ("trimmed_mean", {"beta": 0.7}, r"beta must lie in \[0.0, 0.5\)"),
    ("geometric_median", {"max_iter": 0}, "max_iter must be >= 1"),
    ("centered_clipping", {"init": "far"}, "init must be 'median'"),
])
def test_options_are_checked_before_any_step_of_a_pipeline_runs(method, options, match):
    calls = []

    def recorder(models, weights=None):
        calls.append(1)
        return models, weights

    radonml.aggregators.register_preaggregator("test_recorder", recorder, overwrite=True)
    try:
        with pytest.raises((ValueError, TypeError), match=match):
            radonml.aggregate(sample(0, 20, 3), f"test_recorder>{method}", **options)
        assert calls == []  # nothing ran
    finally:
        REGISTRY.pop("test_recorder", None)
