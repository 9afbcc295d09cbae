"""radonml.robust: the benchmark's pieces checked against independent computations (scikit-learn's
own aggregation path, closed forms, direct refits), its grid and its summaries."""

import json
import math
import warnings

import numpy as np
import pytest
from radonml import FallbackWarning, aggregate, radon_point
from radonml.attacks import label_flip
from radonml.robust import (
    Federated,
    OneShot,
    RobustResult,
    aggregate_rows,
    benchmark,
    byzantine_count,
    dirichlet_parts,
    fit_base_models,
    parse_heterogeneity,
    radon_capture,
    tree_capture,
)
from radonml.robust._common import load_dataset
from radonml.sklearn import aggregate_parameters, linear_decision, linear_parameters
from sklearn.base import clone

SMALL = OneShot(n_samples=4000)


# ---------------------------------------------------------------- pieces


@pytest.mark.parametrize("method", ["mean", "median", "geometric_median", "radon", "trimmed_mean"])
def test_aggregate_rows_is_aggregate_parameters_per_class(rng, method):
    P = rng.standard_normal((27, 3, 5))  # 27 models of 3 class rows in R^5 (r = 7)
    opts = {"rng": 4} if method == "radon" else {"f": 2} if method == "trimmed_mean" else {}
    want = aggregate_parameters(P, method, **opts)
    got, fallbacks, dropped = aggregate_rows(P, method, seed=4, f=2)  # f goes to the rules that take it
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    assert fallbacks == [] and dropped == 0


def test_aggregate_rows_drops_non_finite_models_and_lowers_f(rng):
    P = rng.standard_normal((9, 1, 2))
    P[[1, 4], 0, 0] = [np.inf, np.nan]
    rows, fallbacks, dropped = aggregate_rows(P, "krum", f=3)
    # 7 finite models, f = 3 - 2 = 1: Krum runs (7 >= 2 * 1 + 3) on them
    np.testing.assert_array_equal(rows[0], aggregate(np.delete(P[:, 0], [1, 4], axis=0), "krum", f=1))
    assert (fallbacks, dropped) == ([], 2)


def test_aggregate_rows_falls_back_and_says_why(rng):
    P = rng.standard_normal((10, 2, 3))
    rows, fallbacks, _ = aggregate_rows(P, "bulyan", f=2)  # Bulyan needs 4 * 2 + 3 = 11 models
    np.testing.assert_allclose(rows, np.stack([aggregate(P[:, j], "geometric_median") for j in range(2)]))
    assert len(fallbacks) == 2 and "bulyan" in fallbacks[0] and "11" in fallbacks[0]
    with pytest.raises(ValueError, match="every model holds NaN"):
        aggregate_rows(np.full((3, 1, 2), np.inf), "mean")


def test_dirichlet_parts_cover_every_row_once_with_every_class(rng):
    y = rng.integers(0, 3, size=900)
    parts = dirichlet_parts(y, 12, 0.1, min_per_class=2, rng=0)
    assert np.array_equal(np.sort(np.concatenate(parts)), np.arange(900))
    counts = np.array([[np.sum(y[p] == c) for c in range(3)] for p in parts])
    assert counts.min() >= 2
    # label skew: with alpha = 0.1 some part holds far more of one class than the average share
    assert (counts / counts.sum(axis=1, keepdims=True)).max() > 0.8
    iid = dirichlet_parts(y, 12, 1e6, rng=0)  # a huge alpha deals every class evenly
    shares = np.array([[np.mean(y[p] == c) for c in range(3)] for p in iid])
    assert np.abs(shares - np.bincount(y) / 900).max() < 0.08
    with pytest.raises(ValueError, match="fewer than n_parts"):
        dirichlet_parts(np.r_[np.zeros(20), np.ones(5)], 6, 0.5)
    with pytest.raises(ValueError, match="alpha"):
        dirichlet_parts(y, 3, 0.0)


def test_counts_and_specifications():
    assert [byzantine_count(p, 40) for p in (0.05, 0.1, 0.2, 0.3)] == [2, 4, 8, 12]
    assert byzantine_count(0.01, 21) == 1 and byzantine_count(0.99, 10) == 9
    assert parse_heterogeneity("iid").label == "iid"
    assert parse_heterogeneity("Dirichlet(0.5)").alpha == 0.5
    for bad in ("dirichlet:-1", "dirichlet:x", "shards", True, 0):
        with pytest.raises(ValueError, match="heterogeneity"):
            parse_heterogeneity(bad)


# ---------------------------------------------------------------- the Radon point's capture


def test_two_equal_points_are_a_radon_partition(rng):
    """Direct transcription: with s_i = s_j = b, lambda = e_i - e_j solves M lambda = 0, so the
    Radon point is b; radonml's Radon point agrees, and one copy does not capture the group."""
    d = 6
    H = rng.standard_normal((d, d))
    b = 10 * rng.standard_normal(d)
    np.testing.assert_allclose(radon_point(np.vstack([H, b, b])), b, rtol=1e-9, atol=1e-9)
    p = radon_point(np.vstack([H, rng.standard_normal(d), b]))
    assert np.abs(p - b).max() > 1e-3


def test_radon_capture_measures_it(rng):
    H = rng.standard_normal((40, 5))
    res = radon_capture(H, rng.standard_normal(5) + 3, counts=(0, 1, 2, 3), n_groups=30, rng=1, label="x")
    assert res.captured == [0.0, 0.0, 1.0, 1.0] and res.r == 7
    assert res.distance[2] < 1e-9 < res.distance[1]
    # an honest vector copied once (mimic) already makes two equal points in the groups that hold it
    mimic = radon_capture(H, H[0], counts=(1,), n_groups=200, rng=2)
    assert 0 < mimic.captured[0] < 1
    assert json.loads(res.to_json())["captured"] == res.captured and "x" in repr(res)
    with pytest.raises(ValueError, match="d = 5 entries"):
        radon_capture(H, np.zeros(4))


def test_tree_capture_matches_the_closed_form():
    r = 21
    assert tree_capture(1, r, 1) == 0.0 and tree_capture(2, r, 1) == 1.0
    assert tree_capture(3, r, 2) == 0.0  # at most one group of the first level can hold two
    # f = 4 among r^2 leaves capture the root exactly when they fall 2 + 2 into two groups
    exact = math.comb(r, 2) * math.comb(r, 2) ** 2 / math.comb(r * r, 4)
    assert abs(tree_capture(4, r, 2, n_draws=50_000, rng=0) - exact) < 4 * math.sqrt(exact / 50_000)


# ---------------------------------------------------------------- the one-shot grid


@pytest.fixture(scope="module")
def oneshot():
    return benchmark(SMALL, aggregators=["mean", "median", "krum", "bulyan", "radon"],
                     attacks=["sign_flip", "ipm", "min_max", "label_flip"], fractions=[0.1, 0.3],
                     heterogeneity=["iid"], capture=True)


def test_oneshot_grid_shape_and_fallbacks(oneshot):
    cells = oneshot.cells
    assert len(cells) == 5 * (1 + 4 * 2)
    assert {c["f"] for c in cells} == {0, 2, 6} and all(c["n"] == 21 and c["d"] == 19 for c in cells)
    by = {(c["aggregator"], c["f"], c["attack"]): c for c in cells}
    # Bulyan needs 4f + 3 = 27 > 21 models at f = 6: the geometric median, recorded; at f = 2 it runs
    assert by["bulyan", 6, "sign_flip"]["fell_back"] and by["bulyan", 6, "sign_flip"]["used"] == "geometric_median"
    assert "27" in by["bulyan", 6, "sign_flip"]["fallback_reason"]
    assert not by["bulyan", 2, "sign_flip"]["fell_back"] and not by["krum", 6, "ipm"]["fell_back"]
    assert all(c["error"] is None for c in cells)


def test_oneshot_cells_against_direct_refits(oneshot):
    """The cells' accuracies recomputed here from the public pieces: the Radon machine's base models,
    the Byzantine draw, the attack's formulas, a refit on flipped labels."""
    ds = load_dataset("synthetic", 4000, 0)
    X, y = ds.X_train, ds.y_train
    fit = fit_base_models(SMALL, parse_heterogeneity("iid"), X, y, 0)
    by = {(c["aggregator"], c["f"], c["attack"]): c for c in oneshot.cells}

    def acc(rows):
        return float(np.mean((linear_decision(rows, ds.X_test)[:, 0] > 0) == ds.y_test))

    assert by["mean", 0, "none"]["accuracy"] == acc(fit.P.mean(axis=0))
    mask = np.zeros(21, dtype=bool)
    mask[np.random.default_rng([0, 2, 6]).choice(21, size=6, replace=False)] = True
    honest_mean = fit.P[~mask].mean(axis=0)
    # IPM: every Byzantine model is -0.1 times the honest mean; two of them capture the Radon point
    assert by["radon", 6, "ipm"]["captured"] and by["radon", 6, "ipm"]["accuracy"] == acc(-0.1 * honest_mean)
    assert not by["radon", 0, "none"]["captured"]
    # sign flip (scale 4) of 6 of 21 models: the mean is (sum honest - 4 sum byzantine) / 21
    flipped = fit.P.copy()
    flipped[mask] *= -4.0
    assert by["mean", 6, "sign_flip"]["accuracy"] == acc(flipped.mean(axis=0))
    # label flip: the Byzantine parts refitted on y -> 1 - y
    P = fit.P.copy()
    for i in np.flatnonzero(mask):
        part = fit.parts[i]
        P[i] = linear_parameters(clone(fit.estimators[i]).fit(X[part], label_flip(y[part], fit.classes)))
    np.testing.assert_allclose(by["mean", 6, "label_flip"]["accuracy"], acc(P.mean(axis=0)))
    # the fallback is the geometric median on the same corrupted models
    assert by["bulyan", 6, "sign_flip"]["accuracy"] == acc(aggregate(flipped[:, 0], "geometric_median")[None])


def test_oneshot_robust_rules_survive_where_the_mean_does_not(oneshot):
    hm = oneshot.heatmap("oneshot", "iid")
    worst = dict(zip(hm["aggregators"], hm["worst"][:, 1]))  # f = 6 of 21
    assert worst["mean"] < 0.5 < 0.7 < worst["median"]
    assert worst["radon"] < 0.5  # captured by two identical vectors
    # the aggregator-aware min-max hurts the mean at least as much as the agnostic one would
    agnostic = benchmark(SMALL, aggregators=["mean"], attacks=["min_max"], fractions=[0.3], heterogeneity=["iid"],
                         aware=False, capture=False)
    by = {c["f"]: c["accuracy"] for c in oneshot.cells if c["aggregator"] == "mean" and c["attack"] == "min_max"}
    assert by[6] <= agnostic.cells[-1]["accuracy"]


def test_summary_is_the_least_accuracy_over_attacks(oneshot):
    rows = oneshot.summary()
    assert len(rows) == 5 * 2
    for r in rows:
        cells = [c for c in oneshot.cells if c["aggregator"] == r["aggregator"] and c["f"] == r["f"]]
        least = min(cells, key=lambda c: c["accuracy"])
        assert r["worst"] == least["accuracy"] and r["accuracies"][r["worst_attack"]] == r["worst"]
        assert r["clean"] == next(c["accuracy"] for c in oneshot.cells
                                  if c["aggregator"] == r["aggregator"] and c["f"] == 0)
    hm = oneshot.heatmap("oneshot", "iid")
    assert hm["worst"].shape == (5, 2) and hm["f"] == [2, 6] and hm["fractions"] == [0.1, 0.3]
    assert oneshot.breakdown("oneshot", "iid")["mean"] == 6 and oneshot.breakdown("oneshot", "iid")["radon"] == 2
    assert oneshot.ranking("oneshot", "iid")[-1][0] in ("mean", "radon")
    table = oneshot.table()
    assert "radon" in table and "f=6 (30%)" in table and "ipm*" in table
    assert "| aggregator |" in oneshot.table(markdown=True)
    assert "label_flip" in oneshot.attack_table("oneshot", "iid", 6)
    with pytest.raises(ValueError, match="no cells"):
        oneshot.heatmap("federated", "iid")


def test_capture_measurement_and_json(oneshot, tmp_path):
    cap = {c["label"]: c for c in oneshot.capture}
    assert set(cap) == {"ipm", "min_max"}  # the attacks of the grid that send identical vectors
    assert cap["ipm"]["captured"] == [0.0, 0.0, 1.0, 1.0]
    text = oneshot.to_json(tmp_path / "r.json")
    back = RobustResult(**{k: v for k, v in json.loads(text).items()})
    assert back.summary()[0]["worst"] == oneshot.summary()[0]["worst"]
    assert "RobustResult(45 cells" in repr(oneshot)


def test_reproducible_and_the_same_in_parallel():
    kw = dict(aggregators=["median", "radon"], attacks=["gaussian_noise", "alie"], fractions=[0.1],
              heterogeneity=["iid", "dirichlet:0.5"], capture=False)
    a, b = benchmark(SMALL, **kw), benchmark(SMALL, n_jobs=2, **kw)

    def strip(cells):
        return [{k: v for k, v in c.items() if not k.endswith("cpu_s")} for c in cells]

    # the same cells; measured distances may differ in the last bits where a worker's BLAS sums
    # in another order (numpy 1.23's OpenBLAS under the workers' thread limit)
    sa, sb = strip(a.cells), strip(b.cells)
    assert [sorted(c) for c in sa] == [sorted(c) for c in sb]
    for ca, cb in zip(sa, sb):
        for k, v in ca.items():
            if isinstance(v, float) and k == "deviation":
                assert cb[k] == pytest.approx(v, rel=1e-12, abs=1e-15), k
            else:
                assert cb[k] == v, k


def test_dirichlet_oneshot_uses_skewed_parts():
    ds = load_dataset("synthetic", 4000, 0)
    fit = fit_base_models(SMALL, parse_heterogeneity("dirichlet:0.1"), ds.X_train, ds.y_train, 0)
    shares = np.array([np.mean(ds.y_train[p]) for p in fit.parts])
    assert fit.P.shape == (21, 1, 19) and shares.max() - shares.min() > 0.5
    assert all(set(ds.y_train[p]) == {0, 1} for p in fit.parts)


# ---------------------------------------------------------------- the federated grid


def test_federated_grid_records_attacks_and_fallbacks():
    pytest.importorskip("torch")
    setting = Federated(dataset="digits", learners=6, steps=20, period=5, lr=0.2)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FallbackWarning)  # fallbacks are recorded, not warned
        res = benchmark(setting, aggregators=["mean", "median", "radon"], attacks=["sign_flip", "label_flip"],
                        fractions=[0.34], heterogeneity=["iid"])
    by = {(c["aggregator"], c["f"], c["attack"]): c for c in res.cells}
    assert len(res.cells) == 3 * (1 + 2) and res.capture == []
    assert by["mean", 2, "sign_flip"]["replaced"] == 2 * 4 and by["mean", 2, "label_flip"]["replaced"] == 0
    assert by["mean", 2, "sign_flip"]["accuracy"] < 0.5 < by["median", 2, "sign_flip"]["accuracy"]
    # the Radon point of 6 models in d = 650 cannot exist: every aggregation used the geometric median
    assert by["radon", 0, "none"]["fell_back"] and by["radon", 0, "none"]["fallback_aggregations"] == 4
    assert by["radon", 0, "none"]["used"] == "geometric_median"


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(settings="central"), TypeError, "settings must be"),
        (dict(aggregators=["mean", "nope"]), ValueError, "unknown aggregator"),
        (dict(attacks=["ipm", "ipm"]), ValueError, "distinct"),
        (dict(attacks=["zzz"]), ValueError, "unknown attack"),
        (dict(fractions=[0.0]), ValueError, r"fractions must lie in \(0, 1\)"),
        (dict(heterogeneity=["iid", "iid"]), ValueError, "distinct"),
        (dict(attack_params={"ipm": {"eps": 1}}), TypeError, "no parameter"),
        (dict(attack_params={"alie": {"z": 1}}), ValueError, "not among the attacks"),
        (dict(aggregator_params={"mean": {"beta": 0.1}}), ValueError, "does not take"),
        (dict(aggregator_params={"mean": {"n_threads": 1}}), ValueError, "benchmark sets itself"),
        (dict(n_jobs=0), ValueError, "n_jobs"),
        (dict(seeds=[]), ValueError, "seeds"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    kw = dict(settings=SMALL, aggregators=["mean"], attacks=["ipm"], fractions=[0.1], heterogeneity=["iid"])
    kw.update(kwargs)
    with pytest.raises(error, match=match):
        benchmark(kw.pop("settings"), **kw)


def test_settings_validate_their_parameters():
    with pytest.raises(ValueError, match="dataset"):
        OneShot(dataset="cifar")
    with pytest.raises(ValueError, match="protocol"):
        Federated(protocol="gossip")
    with pytest.raises(ValueError, match="lr"):
        Federated(lr=0.0)
    with pytest.raises(ValueError, match="height"):
        OneShot(height=0)
