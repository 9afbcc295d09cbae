"""radonml.sklearn under attack: robust aggregators (registry rules, pipelines, f=) and Byzantine
base models (``corrupt=``) in the Radon machine and aggregate_estimators (issue 10), and the
feature map's fraction of rows counted exactly (issue 9 kind 5).

Every expected value is recomputed from the fitted base models with the public building blocks
(radonml.attacks.corrupt, radonml.aggregate, plain scikit-learn fits), or checked against an
oracle (the honest models' bounding box, an exact rational count)."""

import math
import warnings
from fractions import Fraction

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import radonml
from radonml.attacks import Attack, corrupt
from radonml.exceptions import FallbackWarning, TooFewModelsError
from radonml.sklearn import RadonMachineClassifier, RadonMachineRegressor, aggregate_estimators


@pytest.fixture(autouse=True)
def _one_blas_thread():
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


def _vec(est):
    coef = np.atleast_2d(np.asarray(est.coef_, dtype=float))
    icpt = np.broadcast_to(np.asarray(est.intercept_, dtype=float).reshape(-1), (coef.shape[0],))
    return np.concatenate([coef, icpt[:, None]], axis=1)


def _agg(rm):
    """The machine's aggregate as (k, d) rows."""
    return np.c_[np.atleast_2d(rm.coef_), np.atleast_1d(rm.intercept_)]


def _binary(n=3000, p=4, seed=0):
    return make_classification(n, n_features=p, n_informative=p, n_redundant=0, random_state=seed)


def _regression(n=3000, p=4, seed=0):
    gen = np.random.default_rng(seed)
    X = gen.standard_normal((n, p))
    return X, X @ np.arange(1.0, p + 1) + 2.0 + 0.3 * gen.standard_normal(n)


def _radon_options(rm):
    return {"height": rm.height_, "rng": rm.aggregation_seed_, "remainder": "drop"}


# ----------------------------------------------------------------- scikit-learn contract with an attack


# an Attack as a constructor parameter clones, compares and refits like any other; both kinds of attack
# (a sign flip of one base model's parameters, a label flip of one part's data) keep the contract
@parametrize_with_checks(
    [
        RadonMachineClassifier(min_samples=5, random_state=0, corrupt=Attack("sign_flip", f=1)),
        RadonMachineClassifier(min_samples=5, random_state=0, corrupt=Attack("label_flip", f=1)),
        RadonMachineRegressor(min_samples=5, random_state=0, aggregation="median", corrupt=Attack("sign_flip", f=1)),
    ]
)
@pytest.mark.filterwarnings("ignore::radonml.exceptions.FallbackWarning")
def test_sklearn_contract_under_attack(estimator, check):
    check(estimator)


# ----------------------------------------------------------------- model-level attacks, recomputed


CASES = [  # (aggregation, aggregation_options, corrupt, the attack by hand: name, f, params)
    ("mean", None, Attack("sign_flip", f=2, scale=10.0), ("sign_flip", 2, {"scale": 10.0})),
    ("krum", {"f": 2}, "gaussian_noise", ("gaussian_noise", 2, {})),  # f from aggregation_options
    ("median", None, Attack("alie", f=2), ("alie", 2, {})),
    ("trimmed_mean", {"f": 2}, Attack("ipm", f=2, epsilon=0.5), ("ipm", 2, {"epsilon": 0.5})),
    ("nnm>krum", {"f": 2}, Attack("mimic", f=2), ("mimic", 2, {})),
    ("radon", None, Attack("min_max", f=2, n_grid=5, n_refine=3), ("min_max", 2, {"n_grid": 5, "n_refine": 3})),
    ("krum", {"f": 2}, Attack("min_max", f=2, n_grid=5, n_refine=3), ("min_max", 2, {"n_grid": 5, "n_refine": 3})),
]


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
@pytest.mark.parametrize("aggregation, options, attack, by_hand", CASES, ids=[c[0] + "-" + c[3][0] for c in CASES])
def test_corrupted_machine_equals_registry_on_corrupted_base_parameters(kind, aggregation, options, attack, by_hand):
    X, y = _binary() if kind == "classifier" else _regression()
    cls = RadonMachineClassifier if kind == "classifier" else RadonMachineRegressor
    rm = cls(height=1, aggregation=aggregation, aggregation_options=options, corrupt=attack, random_state=3).fit(X, y)
    assert rm.n_models_ == 7  # d = 5, r = 7: Krum with f = 2 needs 7 >= 2f + 3
    # base_parameters_ are the models as fitted (honest), written out by hand
    honest = np.stack([_vec(e) for e in rm.estimators_])[:, 0]
    np.testing.assert_array_equal(rm.base_parameters_[:, 0], honest)
    # the attack, recomputed with the public function on the fitted models and the machine's seed
    name, f, params = by_hand
    opts = dict(options or {})
    if aggregation == "radon":
        opts = _radon_options(rm)
    if name == "min_max":  # min-max attacks the machine's aggregator, with its options
        params = {**params, "aggregator": aggregation, "aggregator_options": opts}
    expected = corrupt(honest, name, f=f, rng=rm.attack_seed_, **params)
    np.testing.assert_array_equal(rm.byzantine_, expected.byzantine)
    assert rm.byzantine_.sum() == f and rm.attack_.f == f
    np.testing.assert_array_equal(rm.corrupted_parameters_[:, 0], expected.models)
    np.testing.assert_array_equal(rm.corrupted_parameters_[~rm.byzantine_], rm.base_parameters_[~rm.byzantine_])
    assert not np.array_equal(rm.corrupted_parameters_[rm.byzantine_], rm.base_parameters_[rm.byzantine_])
    # the aggregate is the registry's on the corrupted stack
    agg = radonml.aggregate(expected.models, aggregation, **opts)
    np.testing.assert_allclose(_agg(rm)[0], agg, rtol=1e-12, atol=1e-12)
    assert rm.aggregation_used_ == aggregation


def test_attack_seed_is_drawn_after_everything_else_and_corrupt_none_changes_nothing():
    X, y = _binary(seed=1)
    clean = RadonMachineClassifier(height=1, random_state=7).fit(X, y)
    rm = RadonMachineClassifier(height=1, corrupt=Attack("sign_flip", f=1), random_state=7).fit(X, y)
    gen = np.random.default_rng(7)  # one stream: partition, base seeds, tree seed, then the attack's seed
    gen.permutation(len(y))
    gen.integers(0, 2**31 - 1, size=7)
    assert rm.aggregation_seed_ == clean.aggregation_seed_ == int(gen.integers(0, 2**31 - 1))
    assert rm.attack_seed_ == int(gen.integers(0, 2**31 - 1))
    np.testing.assert_array_equal(rm.base_parameters_, clean.base_parameters_)  # the same fits
    assert clean.attack_ is None and clean.attack_seed_ is None and not clean.byzantine_.any()
    assert clean.corrupted_parameters_ is clean.base_parameters_
    # the same seed gives the same attack; the estimator clones with its Attack
    again = clone(rm).fit(X, y)
    np.testing.assert_array_equal(again.coef_, rm.coef_)
    np.testing.assert_array_equal(again.byzantine_, rm.byzantine_)
    assert again.get_params()["corrupt"] == Attack("sign_flip", f=1)


@pytest.mark.parametrize("multiclass", ["per_class", "joint"])
def test_multiclass_attack_per_block_with_one_mask(multiclass):
    X, y = make_classification(4000, n_features=2, n_informative=2, n_redundant=0, n_classes=3,
                               n_clusters_per_class=1, random_state=4)
    atk = Attack("gaussian_noise", f=2, sigma=3.0)  # random: the order of the draws matters
    rm = RadonMachineClassifier(height=1, aggregation="median", multiclass=multiclass, corrupt=atk,
                                random_state=0).fit(X, y)
    V = np.stack([_vec(e) for e in rm.estimators_])  # (m, 3, 3)
    m = V.shape[0]
    g = np.random.default_rng(rm.attack_seed_)
    if multiclass == "joint":  # one vector per model: exactly radonml.attacks.corrupt
        c = corrupt(V.reshape(m, -1), "gaussian_noise", f=2, sigma=3.0, rng=rm.attack_seed_)
        mask, W = c.byzantine, c.models.reshape(V.shape)
        expected = np.median(W.reshape(m, -1), axis=0).reshape(3, 3)
    else:  # the same Byzantine models in every class row; the rows attacked in order from one generator
        mask = atk.select(m, rng=g)
        W = np.stack([atk(V[:, j], byzantine=mask, rng=g).models for j in range(3)], axis=1)
        expected = np.median(W, axis=0)
    np.testing.assert_array_equal(rm.byzantine_, mask)
    np.testing.assert_array_equal(rm.corrupted_parameters_, W)
    np.testing.assert_allclose(_agg(rm), expected, rtol=1e-12)


# ----------------------------------------------------------------- data-level attack


def test_label_flipped_parts_equal_clones_fitted_by_hand_on_flipped_labels():
    X, y = make_classification(3000, n_features=3, n_informative=3, n_redundant=0, n_classes=3,
                               n_clusters_per_class=1, random_state=5)
    y_before = y.copy()
    rm = RadonMachineClassifier(height=1, aggregation="median", corrupt=Attack("label_flip", f=2),
                                random_state=1).fit(X, y)
    np.testing.assert_array_equal(y, y_before)  # the caller's labels are untouched
    assert rm.byzantine_.sum() == 2
    np.testing.assert_array_equal(rm.byzantine_, Attack("label_flip", f=2).select(rm.n_models_, rng=rm.attack_seed_))
    for i, (est, idx) in enumerate(zip(rm.estimators_, rm.estimators_samples_)):
        labels = 2 - y[idx] if rm.byzantine_[i] else y[idx]  # classes 0, 1, 2 reversed: c -> K - 1 - c
        ref = clone(rm.estimator or LogisticRegression()).fit(X[idx], labels)
        np.testing.assert_allclose(_vec(est), _vec(ref), rtol=1e-10, atol=1e-12)
    # the models are as fitted (on the flipped labels); nothing is replaced after fitting
    assert rm.corrupted_parameters_ is rm.base_parameters_
    np.testing.assert_allclose(_agg(rm), np.median(rm.base_parameters_, axis=0), rtol=1e-12)
    # a flipped part's model points the other way: its score on its own true rows is poor
    bad = np.flatnonzero(rm.byzantine_)[0]
    idx = rm.estimators_samples_[bad]
    assert rm.estimators_[bad].score(X[idx], y[idx]) < 0.5


# ----------------------------------------------------------------- resilience: the honest models' box


@pytest.mark.parametrize(
    "aggregation, options, inside",
    [("mean", None, False), ("median", None, True), ("krum", {"f": 4}, True), ("trimmed_mean", {"f": 4}, True),
     ("bulyan", {"f": 4}, True), ("nnm>krum", {"f": 4}, True)],
)
def test_sign_flip_attackers_drag_the_mean_out_of_the_honest_box_but_not_robust_rules(aggregation, options, inside):
    X, y = _binary(3000, 3, seed=6)  # d = 4, r = 6, height 2: 36 models; Bulyan with f = 4 needs 19
    atk = Attack("sign_flip", f=4, scale=100.0)
    rm = RadonMachineClassifier(height=2, aggregation=aggregation, aggregation_options=options, corrupt=atk,
                                random_state=2).fit(X, y)
    assert rm.n_models_ == 36 and rm.aggregation_used_ == aggregation
    honest = rm.base_parameters_[~rm.byzantine_, 0]  # the honest models as fitted
    lo, hi = honest.min(axis=0), honest.max(axis=0)
    out = _agg(rm)[0]
    in_box = bool(np.all((out >= lo - 1e-12) & (out <= hi + 1e-12)))
    assert in_box is inside
    if aggregation == "krum":  # Krum's output is one of the honest models
        assert np.any(np.all(honest == out, axis=1))
    if aggregation == "mean":  # the plain mean of the stack: 32 honest rows and -100 times 4 of them
        np.testing.assert_allclose(out, rm.corrupted_parameters_[:, 0].mean(axis=0), rtol=1e-12)


# ----------------------------------------------------------------- registry rules, pipelines, fallback


def test_pipeline_with_f_equals_the_registry_on_the_base_parameters():
    X, y = _regression(4000, 3, seed=8)  # d = 4, r = 6, height 2: 36 models
    rm = RadonMachineRegressor(height=2, aggregation="nnm>krum", aggregation_options={"f": 5},
                               random_state=0).fit(X, y)
    assert rm.aggregation_used_ == "nnm>krum" and not rm.byzantine_.any()
    V = np.stack([_vec(e) for e in rm.estimators_])[:, 0]
    np.testing.assert_allclose(_agg(rm)[0], radonml.aggregate(V, "nnm>krum", f=5), rtol=1e-12)
    # a rule that takes rng (bucketing) is seeded by the machine: aggregation_seed_
    bk = RadonMachineRegressor(height=2, aggregation="bucketing>median", aggregation_options={"bucket_size": 3},
                               random_state=0).fit(X, y)
    np.testing.assert_allclose(_agg(bk)[0], radonml.aggregate(V, "bucketing>median", bucket_size=3,
                                                              rng=bk.aggregation_seed_), rtol=1e-12)


def test_rule_whose_condition_fails_falls_back_through_the_registry():
    X, y = _binary(seed=9)  # 7 models: Krum with f = 3 needs 9
    with pytest.warns(FallbackWarning, match=r"krum needs n >= 2f \+ 3 = 9 models for f = 3, got 7.*geometric_median"):
        rm = RadonMachineClassifier(height=1, aggregation="krum", aggregation_options={"f": 3},
                                    random_state=0).fit(X, y)
    assert rm.aggregation_used_ == "geometric_median"
    V = rm.base_parameters_[:, 0]
    np.testing.assert_allclose(_agg(rm)[0], radonml.aggregate(V, "geometric_median"), rtol=1e-12)
    # per class: the fallback is said once, not once per row
    X3, y3 = make_classification(3000, n_features=4, n_informative=4, n_redundant=0, n_classes=3, random_state=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rm3 = RadonMachineClassifier(height=1, aggregation="krum", aggregation_options={"f": 3},
                                     random_state=0).fit(X3, y3)
    assert sum(issubclass(w.category, FallbackWarning) for w in caught) == 1
    assert rm3.aggregation_used_ == "geometric_median"


# ----------------------------------------------------------------- bad input, before any fit


def _unfittable_base(kind):
    """A base whose own fit fails (C < 0): an error the machine raises first was raised before any fit."""
    return LogisticRegression(C=-1.0) if kind == "classifier" else Ridge(alpha=-1.0, solver="nope")


@pytest.mark.parametrize(
    "params, exc, msg",
    [
        ({"aggregation": "krum", "aggregation_options": {"f": 1, "beta": 0.1}}, TypeError,
         r"aggregation_options has the option 'beta', which 'krum' does not take"),
        ({"aggregation": "nnm>krum", "aggregation_options": {"f": 1, "m": 2}}, TypeError, "option 'm'"),
        ({"aggregation": "krum", "aggregation_options": {"f": 1.5}}, TypeError, "f must be a non-negative integer"),
        ({"aggregation": "krum", "aggregation_options": {"f": -1}}, ValueError, "f must be >= 0"),
        ({"aggregation": "krum"}, TypeError, "krum needs f="),
        ({"aggregation": "krum", "aggregation_options": [("f", 1)]}, TypeError, "aggregation_options must be None or a dict"),
        ({"aggregation": "nnm>nope"}, ValueError, "aggregation must be one of.*unknown aggregator method 'nope'"),
        ({"aggregation": "krum>mean"}, ValueError, "only pre-aggregators"),
        ({"corrupt": Attack("sign_flip", f=8)}, ValueError, r"f = 8 base models Byzantine, but there are only 7"),
        ({"corrupt": "alie"}, ValueError, r"does not say how many base models are Byzantine.*aggregation_options"),
        ({"corrupt": "nope"}, ValueError, "unknown attack 'nope'"),
        ({"corrupt": Attack("ipm", f=1), "height": 0}, ValueError, "from the honest ones, but all 1 base model"),
        ({"corrupt": 3}, TypeError, "corrupt must be None, an attack name"),
        ({"aggregation": "median", "aggregation_options": {"f": 2}, "corrupt": "alie"}, TypeError,
         "option 'f', which 'median' does not take"),
    ],
)
def test_bad_robust_options_fail_before_any_fit(params, exc, msg):
    X, y = _binary(1000)
    with pytest.raises(exc, match=msg):
        RadonMachineClassifier(_unfittable_base("classifier"), **{"height": 1, **params}).fit(X, y)


def test_label_flip_on_a_regressor_and_inf_attack_are_clear_errors():
    X, y = _regression(700)
    with pytest.raises(ValueError, match="flips class labels, but RadonMachineRegressor learns a continuous target"):
        RadonMachineRegressor(_unfittable_base("regressor"), height=1, corrupt=Attack("label_flip", f=1)).fit(X, y)
    # an attack that sends inf reaches the aggregator, which names the model (never a silent NaN)
    with pytest.raises(ValueError, match="must be finite"):
        RadonMachineRegressor(height=1, corrupt=Attack("inf_nan", f=1), random_state=0).fit(X, y)


# ----------------------------------------------------------------- aggregate_estimators


def _sites(n_sites=9, seed=10):
    X, y = _binary(3600, 4, seed=seed)
    return [LogisticRegression().fit(X[i::n_sites], y[i::n_sites]) for i in range(n_sites)]


@pytest.mark.parametrize("method, options", [("krum", {"f": 2}), ("radon", {}), ("nnm>mean", {"f": 2})])
def test_aggregate_estimators_corrupt_equals_registry_on_corrupted_rows(method, options):
    sites = _sites()
    V = np.stack([_vec(e) for e in sites])[:, 0]  # (9, 5)
    atk = Attack("alie", f=2)
    out = aggregate_estimators(sites, method, corrupt=atk, rng=11, **options)
    attack_seed, agg_seed = np.random.default_rng(11).integers(0, 2**63 - 1, size=2)
    c = corrupt(V, "alie", f=2, rng=int(attack_seed))
    np.testing.assert_array_equal(out.byzantine_, c.byzantine)
    opts = {**options, "rng": int(agg_seed)} if method == "radon" else options
    np.testing.assert_allclose(_vec(out)[0], radonml.aggregate(c.models, method, **opts), rtol=1e-12)
    for s, v in zip(sites, V):  # the inputs are untouched
        np.testing.assert_array_equal(_vec(s)[0], v)


def test_aggregate_estimators_min_max_attacks_the_method_and_fallback():
    sites = _sites()
    V = np.stack([_vec(e) for e in sites])[:, 0]
    atk = Attack("min_max", f=2, n_grid=5, n_refine=2)
    out = aggregate_estimators(sites, "trimmed_mean", f=2, corrupt=atk, rng=1)
    attack_seed = int(np.random.default_rng(1).integers(0, 2**63 - 1, size=2)[0])
    c = corrupt(V, "min_max", f=2, rng=attack_seed, n_grid=5, n_refine=2, aggregator="trimmed_mean",
                aggregator_options={"f": 2})
    agnostic = corrupt(V, "min_max", f=2, rng=attack_seed, n_grid=5, n_refine=2)
    assert np.abs(c.models - agnostic.models).max() > 0.1  # knowing the rule changes the attack here
    np.testing.assert_allclose(_vec(out)[0], radonml.aggregate(c.models, "trimmed_mean", f=2), rtol=1e-12)
    # a rule that cannot run: an error by default, the fallback when asked
    with pytest.raises(TooFewModelsError, match=r"krum needs n >= 2f \+ 3 = 11 models for f = 4, got 9"):
        aggregate_estimators(sites, "krum", f=4)
    with pytest.warns(FallbackWarning, match="aggregating with 'geometric_median'"):
        fb = aggregate_estimators(sites, "krum", f=4, fallback="geometric_median")
    np.testing.assert_allclose(_vec(fb)[0], radonml.aggregate(V, "geometric_median"), rtol=1e-12)


def test_aggregate_estimators_bad_attacks_and_options():
    sites = _sites()
    with pytest.raises(ValueError, match="data-level attack.*already fitted.*RadonMachineClassifier"):
        aggregate_estimators(sites, "median", corrupt=Attack("label_flip", f=2))
    with pytest.raises(ValueError, match=r"f = 10 base models Byzantine, but there are only 9"):
        aggregate_estimators(sites, "median", corrupt=Attack("sign_flip", f=10))
    with pytest.raises(TypeError, match="options has the option 'beta', which 'krum' does not take"):
        aggregate_estimators(sites, "krum", f=1, beta=0.2)
    with pytest.raises(TypeError, match="rng seeds the attack.*'mean' takes none"):
        aggregate_estimators(sites, "mean", rng=0)
    with pytest.raises(ValueError, match="does not say how many"):
        aggregate_estimators(sites, "median", corrupt="ipm")
    # f for the attack from the rule's options
    out = aggregate_estimators(sites, "krum", f=2, corrupt="ipm", rng=0)
    assert out.byzantine_.sum() == 2


# ----------------------------------------------------------------- fraction of rows, exact (issue 9 kind 5)


@pytest.mark.parametrize("fraction", ["0.07", "0.28", "0.29", "0.55", "0.56", "0.57", "0.5", "0.013"])
def test_feature_map_samples_fraction_is_counted_exactly(fraction):
    X, y = _binary(100, 2, seed=12)
    q = float(fraction)
    expected = max(1, math.ceil(Fraction(fraction) * 100))  # exact rational arithmetic on the decimal literal
    rm = RadonMachineClassifier(make_pipeline(StandardScaler(), LogisticRegression()), height=1,
                                feature_map_samples=q, random_state=0).fit(X, y)
    assert rm.feature_map_.steps[0][1].n_samples_seen_ == expected
    if fraction in ("0.07", "0.28"):  # where the float product rounds up: ceil(0.07 * 100) == 8
        assert math.ceil(q * 100) == expected + 1


# ----------------------------------------------------------------- radonml compare --attack


def _compare(tmp_path, *extra):
    import json

    from radonml.cli import main

    args = ["compare", "--dataset", "synthetic", "--n-samples", "6000", "--seed", "3", "--n-jobs", "1", "--quiet",
            "--no-plot", "--out", str(tmp_path), *extra]
    rc = main(args)
    js = json.loads((tmp_path / "compare.json").read_text()) if rc == 0 else None
    return rc, js


def test_compare_attack_recomputed_from_the_machine(tmp_path):
    from radonml.datasets import load_synthetic

    rc, js = _compare(tmp_path, "--corrupt", "3", "--attack", "min_max:n_grid=5,n_refine=2")
    assert rc == 0
    (regime,) = js["regimes"]
    assert regime["attack"] == {"attack": "min_max", "f": None, "params": {"n_grid": 5, "n_refine": 2}}
    data = load_synthetic(6000, seed=3)
    rm = RadonMachineClassifier(LogisticRegression(max_iter=1000, random_state=3), height=1, random_state=3,
                                n_jobs=1).fit(data.X_train, data.y_train)  # compare's logistic, height auto = 1
    by = {r["method"]: r for r in regime["results"]}
    V = rm.base_parameters_[:, 0]
    for method in ("mean", "median", "radon"):  # min-max against each aggregator, the same 3 models Byzantine
        opts = _radon_options(rm) if method == "radon" else {}
        c = corrupt(V, "min_max", f=3, rng=np.random.default_rng([3, 1]), n_grid=5, n_refine=2, aggregator=method,
                    aggregator_options=opts)
        expected = radonml.aggregate(c.models, method, **opts)
        np.testing.assert_allclose(by[method]["coef"][0], expected[:-1], rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(by[method]["intercept"][0], expected[-1], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize(
    "extra, msg",
    [
        (["--attack", "label_flip"], "changes a learner's data before it trains"),
        (["--attack", "nope"], "unknown attack 'nope'"),
        (["--attack", "ipm:nope=1"], r"attack 'ipm' has no parameter\(s\) \['nope'\]"),
        (["--attack", "ipm", "--corrupt-scale", "5"], "--corrupt-scale applies to the sign flip"),
        (["--attack", "sign_flip:scale=3", "--corrupt-scale", "5"], "give the sign flip's scale once"),
        (["--attack", "ipm:epsilon"], "must be key=value"),
        (["--corrupt", "0", "--attack", "alie"], "--attack needs --corrupt K"),
    ],
)
def test_compare_bad_attacks_fail_before_anything_is_fitted(tmp_path, capsys, extra, msg):
    import re

    rc, _ = _compare(tmp_path, *(extra if extra[0] == "--corrupt" else ["--corrupt", "1", *extra]))
    assert rc == 2
    assert re.search(msg, capsys.readouterr().err)
    assert not (tmp_path / "compare.json").exists()
