"""radonml.sklearn: the Radon machine as scikit-learn meta-estimators (issue 5)."""

import copy

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.linear_model import (
    LinearRegression,
    LogisticRegression,
    Ridge,
    RidgeClassifier,
    SGDClassifier,
    SGDRegressor,
)
from sklearn.metrics import roc_auc_score
from sklearn.neighbors import KNeighborsClassifier
from sklearn.svm import SVC, LinearSVC
from sklearn.utils.estimator_checks import parametrize_with_checks

import radonml
from radonml.exceptions import FallbackWarning
from radonml.sklearn import (
    RadonMachineClassifier,
    RadonMachineRegressor,
    aggregate_estimators,
    aggregate_parameters,
    linear_decision,
    linear_parameters,
)


@pytest.fixture(autouse=True)
def _one_blas_thread():
    # many small dense fits: multi-threaded BLAS only adds contention (joblib's workers get one thread each)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


def _vec(est, intercept=True):
    coef = np.atleast_2d(np.asarray(est.coef_, dtype=float))
    if not intercept:
        return coef
    icpt = np.broadcast_to(np.asarray(est.intercept_, dtype=float).reshape(-1), (coef.shape[0],))
    return np.concatenate([coef, icpt[:, None]], axis=1)


# ----------------------------------------------------------------- scikit-learn contract

# Expected failures: none for these configurations. With a base estimator that is not exact
# under sample weights (LinearSVC), check_sample_weight_equivalence_on_dense_data fails as it
# does for the base itself, and additionally because repeating rows changes the random
# partition whenever height_ >= 1; that configuration is therefore not listed here.
@parametrize_with_checks(
    [
        RadonMachineClassifier(),
        RadonMachineClassifier(min_samples=5, random_state=0),
        RadonMachineRegressor(),
        RadonMachineRegressor(min_samples=5, random_state=0),
    ]
)
@pytest.mark.filterwarnings("ignore::radonml.exceptions.FallbackWarning")
def test_sklearn_contract(estimator, check):
    check(estimator)


# ----------------------------------------------------------------- partition


@pytest.mark.parametrize("stratified", [False, True])
def test_partition_is_disjoint_cover_with_balanced_sizes(stratified):
    gen = np.random.default_rng(3)
    n, P = 1003, 21
    y = (np.arange(n) % 3 == 0).astype(int) + (np.arange(n) % 7 == 0)  # classes 0, 1, 2, unbalanced
    X = gen.standard_normal((n, 18))  # r = 18 + 1 + 2 = 21 parts at height 1
    if stratified:
        rm = RadonMachineClassifier(LogisticRegression(), height=1, random_state=3).fit(X, y)
    else:
        rm = RadonMachineRegressor(Ridge(), height=1, random_state=3).fit(X, y + 0.1 * X[:, 0])
    parts = rm.estimators_samples_
    # the fitted attribute is the partition the base models were fitted on
    for e, p in zip(rm.estimators_, parts):
        ref = clone(e).fit(X[p], y[p] if stratified else (y + 0.1 * X[:, 0])[p])
        np.testing.assert_allclose(_vec(e), _vec(ref), rtol=1e-10, atol=1e-12)
    assert len(parts) == P
    allidx = np.concatenate(parts)
    assert np.array_equal(np.sort(allidx), np.arange(n))  # disjoint and covering
    sizes = np.array([len(p) for p in parts])
    assert sizes.max() - sizes.min() <= 1
    if stratified:
        for c in np.unique(y):
            per_part = np.array([(y[p] == c).sum() for p in parts])
            nc = (y == c).sum()
            assert set(per_part.tolist()) <= {nc // P, -(-nc // P)}


def test_parts_see_every_class_and_height_auto(rng):
    X, y = make_classification(3000, n_features=4, n_informative=3, n_redundant=0, n_classes=3, random_state=0)
    rm = RadonMachineClassifier(min_samples=40, random_state=0).fit(X, y)
    # r = 4 + 3 = 7; floor(3000 / 7^2) = 61 >= 40 but floor(3000 / 7^3) = 8 < 40
    assert (rm.radon_number_, rm.height_, rm.n_models_) == (7, 2, 49)
    assert len(rm.estimators_) == 49
    for e in rm.estimators_:
        assert np.array_equal(e.classes_, [0, 1, 2])


# ----------------------------------------------------------------- aggregation, recomputed


def test_height_one_is_the_unique_radon_point_of_the_models():
    X, y = make_classification(4000, n_features=5, n_informative=5, n_redundant=0, random_state=1)
    rm = RadonMachineClassifier(height=1, random_state=0).fit(X, y)
    assert rm.n_models_ == 8 == len(rm.estimators_)
    models = np.concatenate([_vec(e) for e in rm.estimators_])  # (8, 6): r = d + 2, unique point
    expected = radonml.radon_point(models)
    np.testing.assert_allclose(np.r_[rm.coef_.ravel(), rm.intercept_], expected, rtol=1e-9, atol=1e-12)
    # it lies in the hull of the models: a convex combination with the certified weights
    part = radonml.radon_point(models, return_partition=True)
    w = part.weights
    np.testing.assert_allclose(w[w > 0].sum(), 1.0)


def test_full_pipeline_recomputed_by_hand():
    """Partition, per-part fits and the Radon tree, redone with plain scikit-learn."""
    X, y = make_classification(6000, n_features=3, n_informative=3, n_redundant=0, random_state=2)
    rm = RadonMachineClassifier(height=2, random_state=7).fit(X, y)
    parts = rm.estimators_samples_  # a stratified partition: test_partition_is_disjoint_cover_with_balanced_sizes
    assert len(parts) == 36  # r = 3 + 3 = 6, r^2 = 36
    assert np.array_equal(np.sort(np.concatenate(parts)), np.arange(len(y)))
    # one stream of random_state: the partition's permutation, then the base seeds, then the tree's seed
    gen = np.random.default_rng(7)
    gen.permutation(len(y))
    seeds = gen.integers(0, 2**31 - 1, size=36)
    agg_seed = int(gen.integers(0, 2**31 - 1))
    assert rm.aggregation_seed_ == agg_seed
    models = np.concatenate(
        [_vec(LogisticRegression(random_state=int(s)).fit(X[p], y[p])) for p, s in zip(parts, seeds)]
    )
    for e, m in zip(rm.estimators_, models):
        np.testing.assert_allclose(_vec(e)[0], m, rtol=1e-12)
    expected = radonml.iterated_radon_point(models, height=2, rng=agg_seed)
    np.testing.assert_allclose(np.r_[rm.coef_.ravel(), rm.intercept_], expected, rtol=1e-9, atol=1e-12)


def test_mean_and_callable_aggregation_on_the_same_partition():
    X, y = make_classification(3000, n_features=4, n_informative=4, n_redundant=0, random_state=3)
    a = RadonMachineClassifier(height=1, aggregation="mean", random_state=5).fit(X, y)
    models = np.concatenate([_vec(e) for e in a.estimators_])
    np.testing.assert_allclose(np.r_[a.coef_.ravel(), a.intercept_], models.mean(axis=0), rtol=1e-12)
    b = RadonMachineClassifier(height=1, aggregation=lambda m: m[3], random_state=5).fit(X, y)
    np.testing.assert_array_equal(b.coef_, a.estimators_[3].coef_)  # same partition, same models
    med = RadonMachineClassifier(height=1, aggregation="median", random_state=5).fit(X, y)
    np.testing.assert_allclose(np.r_[med.coef_.ravel(), med.intercept_], np.median(models, axis=0))


def test_base_parameters_reaggregated_through_public_functions():
    X, y = make_classification(
        3000, n_features=3, n_informative=3, n_redundant=0, n_classes=3, n_clusters_per_class=1, random_state=6
    )
    rm = RadonMachineClassifier(height=1, random_state=2).fit(X, y)  # r = 3 + 3 = 6 parts
    V = np.stack([_vec(e) for e in rm.estimators_])  # (6, 3, 4), written out by hand
    np.testing.assert_array_equal(rm.base_parameters_, V)
    assert rm.has_intercept_ is True
    for e, v in zip(rm.estimators_, V):
        np.testing.assert_array_equal(linear_parameters(e), v)
        np.testing.assert_allclose(linear_decision(v, X), e.decision_function(X), rtol=1e-12, atol=1e-12)
    # the Radon machine's own aggregate, recomputed from its base models and seed, row by row
    again = aggregate_parameters(rm.base_parameters_, "radon", height=1, rng=rm.aggregation_seed_)
    np.testing.assert_array_equal(again, np.c_[rm.coef_, rm.intercept_])
    for j in range(3):
        np.testing.assert_allclose(again[j], radonml.radon_point(V[:, j, :]), rtol=1e-9, atol=1e-12)
    # another method on the very same base models equals a fit with that aggregation
    mean = aggregate_parameters(rm.base_parameters_, "mean")
    np.testing.assert_allclose(mean, V.mean(axis=0), rtol=1e-12)
    refit = RadonMachineClassifier(height=1, aggregation="mean", random_state=2).fit(X, y)
    np.testing.assert_allclose(mean, np.c_[refit.coef_, refit.intercept_], rtol=1e-12)
    np.testing.assert_allclose(linear_decision(mean, X), refit.decision_function(X), rtol=1e-10, atol=1e-10)
    # without an intercept
    noi = LogisticRegression(fit_intercept=False).fit(X, y)
    np.testing.assert_array_equal(linear_parameters(noi), noi.coef_)
    np.testing.assert_allclose(linear_decision(noi.coef_, X, fit_intercept=False), noi.decision_function(X))
    # a progress bar changes nothing
    np.testing.assert_array_equal(RadonMachineClassifier(height=1, random_state=2, verbose=1).fit(X, y).coef_, rm.coef_)


def test_public_parameter_functions_reject_bad_input():
    X, y = make_classification(300, n_features=3, n_informative=3, n_redundant=0, random_state=0)
    with pytest.raises(TypeError, match="coef_.*KNeighborsClassifier"):
        linear_parameters(KNeighborsClassifier().fit(X, y))
    with pytest.raises(ValueError, match=r"X has 3 features but parameters of shape \(1, 3\)"):
        linear_decision(np.zeros((1, 3)), X)
    with pytest.raises(ValueError, match="X must be finite"):
        linear_decision(np.zeros((1, 4)), np.full((2, 3), np.nan))
    with pytest.raises(ValueError, match=r"parameters must be an \(m, k, d\) array"):
        aggregate_parameters(np.zeros((2, 2, 2, 2)), "mean")
    with pytest.raises(ValueError, match="multiclass must be one of"):
        aggregate_parameters(np.zeros((3, 1, 2)), "mean", multiclass="ovo")
    with pytest.raises(ValueError, match="verbose must be >= 0"):
        RadonMachineClassifier(height=1, verbose=-1).fit(X, y)


def test_multiclass_per_class_and_joint():
    X, y = make_classification(
        6000, n_features=2, n_informative=2, n_redundant=0, n_classes=3, n_clusters_per_class=1, random_state=4
    )
    per = RadonMachineClassifier(height=1, random_state=0).fit(X, y)
    assert per.radon_number_ == 5 and per.n_models_ == 5 and per.coef_.shape == (3, 2)
    models = np.stack([_vec(e) for e in per.estimators_])  # (5, 3, 3)
    for j in range(3):
        np.testing.assert_allclose(
            np.r_[per.coef_[j], per.intercept_[j]], radonml.radon_point(models[:, j, :]), rtol=1e-9, atol=1e-12
        )
    # a multinomial model's rows sum to zero (a degenerate point set, whose Radon point is not
    # unique), so the joint check uses one-vs-rest LinearSVC, whose rows are independent
    joint = RadonMachineClassifier(LinearSVC(), height=1, multiclass="joint", random_state=0).fit(X, y)
    assert joint.radon_number_ == 11 and joint.n_models_ == 11  # d = 3 * (2 + 1) = 9
    models = np.stack([_vec(e).ravel() for e in joint.estimators_])
    np.testing.assert_allclose(
        np.c_[joint.coef_, joint.intercept_].ravel(), radonml.radon_point(models), rtol=1e-8, atol=1e-11
    )
    for rm in (per, joint):
        assert rm.score(X, y) > 0.8
    np.testing.assert_allclose(per.predict_proba(X).sum(axis=1), 1.0)
    assert not hasattr(joint, "predict_proba")


CLASSIFIERS = [
    LogisticRegression(),
    LinearSVC(),
    SGDClassifier(random_state=0),
    SGDClassifier(loss="log_loss", random_state=0),
    RidgeClassifier(),
    SVC(kernel="linear"),
    LogisticRegression(fit_intercept=False),
]


@pytest.mark.parametrize("base", CLASSIFIERS, ids=lambda e: repr(e))
def test_linear_classifiers(base):
    X, y = make_classification(4000, n_features=6, class_sep=1.5, random_state=5)
    rm = RadonMachineClassifier(base, height=1, random_state=0).fit(X, y)
    icpt = base.get_params().get("fit_intercept", True)
    assert rm.radon_number_ == 6 + 2 + icpt
    assert type(rm.estimators_[0]) is type(base)
    assert np.shape(rm.coef_) == np.shape(rm.estimators_[0].coef_) and np.size(rm.coef_) == 6
    dec = rm.decision_function(X)
    np.testing.assert_allclose(dec, X @ rm.coef_.ravel() + np.ravel(rm.intercept_)[0], rtol=1e-9, atol=1e-9)
    np.testing.assert_array_equal(rm.predict(X), rm.classes_[(dec > 0).astype(int)])
    assert rm.score(X, y) > 0.85
    assert hasattr(rm, "predict_proba") == hasattr(base, "predict_proba")


@pytest.mark.parametrize(
    "base", [Ridge(), LinearRegression(), SGDRegressor(random_state=0), Ridge(fit_intercept=False)], ids=repr
)
def test_linear_regressors(base, rng):
    X = rng.standard_normal((5000, 4))
    w = np.array([1.0, -2.0, 0.5, 3.0])
    y = X @ w + (2.0 if base.fit_intercept else 0.0) + 0.1 * rng.standard_normal(5000)
    rm = RadonMachineRegressor(base, height=1, random_state=0).fit(X, y)
    assert rm.n_models_ == 4 + 2 + base.fit_intercept
    np.testing.assert_allclose(rm.coef_, w, atol=0.05)
    np.testing.assert_allclose(rm.predict(X), X @ rm.coef_ + rm.intercept_, rtol=1e-10, atol=1e-10)
    assert rm.score(X, y) > 0.99


def test_multioutput_regression_per_target(rng):
    X = rng.standard_normal((3000, 3))
    W = rng.standard_normal((3, 2))
    Y = X @ W + 0.05 * rng.standard_normal((3000, 2))
    rm = RadonMachineRegressor(height=1, random_state=0).fit(X, Y)
    assert rm.coef_.shape == (2, 3) and rm.intercept_.shape == (2,)
    models = np.stack([_vec(e) for e in rm.estimators_])
    for j in range(2):
        np.testing.assert_allclose(np.r_[rm.coef_[j], rm.intercept_[j]], radonml.radon_point(models[:, j]), atol=1e-12)
    assert rm.predict(X).shape == (3000, 2)


def test_same_random_state_same_model_and_seeds_reach_base():
    X, y = make_classification(3000, n_features=4, random_state=6)
    base = SGDClassifier(random_state=None)
    a = RadonMachineClassifier(base, height=1, random_state=11).fit(X, y)
    b = RadonMachineClassifier(base, height=1, random_state=11, n_jobs=2).fit(X, y)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    seeds = {e.random_state for e in a.estimators_}
    assert len(seeds) == a.n_models_  # every clone got its own seed
    c = RadonMachineClassifier(base, height=1, random_state=12).fit(X, y)
    assert not np.array_equal(a.coef_, c.coef_)


def test_memmap_input_with_two_jobs(tmp_path):
    X, y = radonml.datasets.make_synthetic(20000, seed=3)
    np.save(tmp_path / "X.npy", X)
    Xm = np.load(tmp_path / "X.npy", mmap_mode="r")
    a = RadonMachineClassifier(height=1, random_state=0, n_jobs=2).fit(Xm, y)
    b = RadonMachineClassifier(height=1, random_state=0).fit(X, y)
    np.testing.assert_array_equal(a.coef_, b.coef_)


def test_auc_close_to_central_on_synthetic():
    ds = radonml.datasets.load_synthetic(60000, seed=4)
    central = LogisticRegression().fit(ds.X_train, ds.y_train)
    auc_c = roc_auc_score(ds.y_test, central.decision_function(ds.X_test))
    for h in (1, 2):
        rm = RadonMachineClassifier(height=h, random_state=0, n_jobs=2).fit(ds.X_train, ds.y_train)
        assert rm.n_models_ == 21**h
        auc = roc_auc_score(ds.y_test, rm.decision_function(ds.X_test))
        assert abs(auc - auc_c) < 0.005


def test_sample_weight_reaches_parts():
    X, y = make_classification(2000, n_features=3, n_informative=3, n_redundant=0, random_state=8)
    sw = np.ones(len(y))
    a = RadonMachineClassifier(height=1, random_state=0).fit(X, y, sample_weight=sw)
    b = RadonMachineClassifier(height=1, random_state=0).fit(X, y)
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-10)
    sw[y == 1] = 5.0  # upweighting class 1 moves the intercept up
    c = RadonMachineClassifier(height=1, random_state=0).fit(X, y, sample_weight=sw)
    assert c.intercept_[0] > b.intercept_[0]


# ----------------------------------------------------------------- errors


class _CountingKNN(KNeighborsClassifier):
    """k-NN that counts its fits (a real estimator without coef_)."""

    fits = 0

    def fit(self, X, y):
        type(self).fits += 1
        return super().fit(X, y)


def test_estimator_without_coef_is_rejected_before_any_part_is_fitted():
    X, y = make_classification(5000, n_features=3, n_informative=3, n_redundant=0, random_state=0)
    _CountingKNN.fits = 0
    with pytest.raises(TypeError, match=r"coef_.*_CountingKNN.*before fitting any part"):
        RadonMachineClassifier(_CountingKNN(), height=2, random_state=0).fit(X, y)  # 36 parts
    assert _CountingKNN.fits == 1  # one probe on 20 rows, no part
    # scikit-learn's own non-linear models are refused without any fit
    from sklearn.linear_model import RANSACRegressor
    from sklearn.svm import SVR

    with pytest.raises(TypeError, match=r"SVC\(kernel='rbf'\) has no coef_.*RBFSampler"):
        RadonMachineClassifier(SVC(), height=1).fit(X, y)
    with pytest.raises(TypeError, match=r"SVR\(kernel='poly'\) has no coef_"):
        RadonMachineRegressor(SVR(kernel="poly"), height=1).fit(X, X[:, 0])
    with pytest.raises(TypeError, match="RANSACRegressor has no coef_"):
        RadonMachineRegressor(RANSACRegressor(), height=1).fit(X, X[:, 0])
    with pytest.raises(TypeError, match="estimator must be a scikit-learn estimator"):
        RadonMachineClassifier(object(), height=1).fit(X, y)
    with pytest.raises(TypeError, match="RadonMachineClassifier needs a classifier.*the regressor Ridge"):
        RadonMachineClassifier(Ridge(), height=1).fit(X, y)
    with pytest.raises(TypeError, match="RadonMachineRegressor needs a regressor.*LogisticRegression"):
        RadonMachineRegressor(LogisticRegression(), height=1).fit(X, X[:, 0])
    # after fit, linear_parameters refuses a model without coef_ too
    with pytest.raises(TypeError, match="coef_.*KNeighborsClassifier"):
        linear_parameters(KNeighborsClassifier().fit(X, y))


@pytest.mark.parametrize(
    "params, exc, msg",
    [
        ({"height": "tall"}, ValueError, "height must be 'auto'"),
        ({"height": -1}, ValueError, "height must be >= 0"),
        ({"height": 1.5}, TypeError, "height must be an integer"),
        ({"height": 3}, ValueError, r"height=3 needs r\^height = 6\^3 = 216 parts.*smallest class"),
        ({"min_samples": 0}, ValueError, "min_samples must be >= 1"),
        ({"aggregation": "nope"}, ValueError, "aggregation must be one of"),
        ({"aggregation": 3}, TypeError, "aggregation must be a registered aggregator name or a callable"),
        ({"multiclass": "ovo"}, ValueError, "multiclass must be one of"),
        ({"random_state": "abc"}, TypeError, "random_state must be None, an int seed >= 0.*got 'abc' of type str"),
        ({"random_state": -3}, ValueError, "random_state must be None, an int seed >= 0"),
        ({"random_state": 1.5}, TypeError, "random_state must be"),
        ({"feature_map_samples": 100}, ValueError, "feature_map_samples=100 applies to a Pipeline"),
    ],
)
def test_bad_parameters(params, exc, msg):
    X, y = make_classification(300, n_features=3, n_informative=2, n_redundant=0, random_state=0)
    with pytest.raises(exc, match=msg):
        RadonMachineClassifier(**params).fit(X, y)


def test_bad_sample_weight_and_too_few_samples_warns():
    X, y = make_classification(300, n_features=3, n_informative=3, n_redundant=0, random_state=0)
    with pytest.raises(ValueError, match=r"sample_weight must have shape \(300,\)"):
        RadonMachineClassifier(height=1).fit(X, y, sample_weight=np.ones(5))
    with pytest.raises(TypeError, match="does not accept sample_weight"):
        RadonMachineClassifier(KNeighborsClassifier(), height=1).fit(X, y, sample_weight=np.ones(300))
    with pytest.warns(FallbackWarning, match="height_ = 0"):
        rm = RadonMachineClassifier().fit(X, y)  # 300 / 6 < 100
    assert rm.height_ == 0 and rm.n_models_ == 1
    # the one part holds all rows, in random order (lbfgs then agrees to rounding)
    np.testing.assert_allclose(rm.coef_, LogisticRegression().fit(X, y).coef_, rtol=1e-6)


@pytest.mark.parametrize("params", [{}, {"decision_function_shape": "ovo"}, {"break_ties": True}], ids=repr)
def test_one_vs_one_svc_votes_as_libsvm(params):
    """SVC(kernel="linear") on 4 classes: one coef_ row per class pair, aggregated pair by pair;
    the aggregate votes as libsvm does. With one part (height 0) it is SVC itself."""
    from radonml.sklearn._parameters import ovo_to_ovr, ovo_votes  # checked against SVC itself below

    X, y = make_classification(4000, n_features=3, n_informative=3, n_redundant=0, n_classes=4,
                               n_clusters_per_class=1, random_state=0)
    base = SVC(kernel="linear", **params)
    one = RadonMachineClassifier(base, height=0, random_state=0).fit(X[:600], y[:600])
    svc = SVC(kernel="linear", **params).fit(X[:600][one.estimators_samples_[0]], y[:600][one.estimators_samples_[0]])
    np.testing.assert_allclose(one.decision_function(X), svc.decision_function(X), rtol=1e-7, atol=1e-7)
    np.testing.assert_array_equal(one.predict(X), svc.predict(X))
    assert one.estimator_ is None  # SVC's coef_ cannot carry the aggregate
    rm = RadonMachineClassifier(base, height=1, random_state=0).fit(X, y)
    assert rm.coef_.shape == (6, 3) and rm.radon_number_ == 6 and rm.n_models_ == 6
    models = np.stack([_vec(e) for e in rm.estimators_])  # (6 models, 6 pairs, 4)
    rows = np.stack([radonml.radon_point(models[:, j, :]) for j in range(6)])
    np.testing.assert_allclose(np.c_[rm.coef_, rm.intercept_], rows, rtol=1e-8, atol=1e-10)
    dec = X @ rows[:, :3].T + rows[:, 3]  # pair (i, j) > 0 votes for i: libsvm's convention
    votes = np.zeros((len(X), 4))
    for p, (i, j) in enumerate([(a, b) for a in range(4) for b in range(a + 1, 4)]):
        votes[dec[:, p] > 0, i] += 1
        votes[dec[:, p] <= 0, j] += 1
    np.testing.assert_array_equal(ovo_votes(dec, 4), votes)
    if params.get("break_ties"):
        expected = rm.classes_[np.argmax(ovo_to_ovr(dec, 4), axis=1)]
    else:
        expected = rm.classes_[np.argmax(votes, axis=1)]  # first class on a tie, as libsvm
    np.testing.assert_array_equal(rm.predict(X), expected)
    assert rm.score(X, y) > SVC(kernel="linear", **params).fit(X, y).score(X, y) - 0.02


# ----------------------------------------------------------------- aggregate_estimators


def _site_models(n_sites=8):
    X, y = make_classification(4000, n_features=4, n_informative=4, n_redundant=0, random_state=9)
    return [LogisticRegression().fit(X[i::n_sites], y[i::n_sites]) for i in range(n_sites)], X, y


def test_aggregate_estimators_mean_radon_and_inputs_untouched():
    models, X, y = _site_models(7)  # d = 5, r = 7
    before = [copy.deepcopy(m.coef_) for m in models]
    V = np.concatenate([_vec(m) for m in models])
    out = aggregate_estimators(models, "mean")
    assert type(out) is LogisticRegression and out is not models[0]
    np.testing.assert_allclose(np.r_[out.coef_.ravel(), out.intercept_], V.mean(axis=0), rtol=1e-12)
    rad = aggregate_estimators(models, "radon", rng=0)
    np.testing.assert_allclose(np.r_[rad.coef_.ravel(), rad.intercept_], radonml.radon_point(V), rtol=1e-9)
    assert rad.score(X, y) > 0.8
    for m, b in zip(models, before):
        np.testing.assert_array_equal(m.coef_, b)
    gm = aggregate_estimators(models, "geometric_median")
    np.testing.assert_allclose(np.r_[gm.coef_.ravel(), gm.intercept_], radonml.aggregate(V, "geometric_median"))


def test_aggregate_estimators_errors():
    models, X, y = _site_models(3)
    other = LogisticRegression().fit(X[:, :3], y)
    with pytest.raises(ValueError, match=r"coef_ has shape \(1, 3\)"):
        aggregate_estimators(models + [other], "mean")
    y3 = y.copy()
    y3[:30] = 2
    with pytest.raises(ValueError, match="classes_"):
        aggregate_estimators(models + [LogisticRegression().fit(X, y3)], "mean")
    with pytest.raises(TypeError, match="of one class"):
        aggregate_estimators(models + [LinearSVC().fit(X, y)], "mean")
    with pytest.raises(ValueError, match="empty"):
        aggregate_estimators([], "mean")
    with pytest.raises(TypeError, match="sequence of fitted estimators"):
        aggregate_estimators(models[0], "mean")
    with pytest.raises(TypeError, match="coef_"):
        aggregate_estimators([KNeighborsClassifier().fit(X, y)] * 2, "mean")
    with pytest.raises(TypeError, match="cannot be set"):
        aggregate_estimators([SVC(kernel="linear").fit(X[:200], y[:200])] * 2, "mean")
    with pytest.raises(ValueError, match="fit_intercept"):
        aggregate_estimators([models[0], LogisticRegression(fit_intercept=False).fit(X, y)], "mean")
    with pytest.raises(ValueError, match="at least r"):
        aggregate_estimators(models, "radon")  # 3 models < r = 7


@pytest.mark.parametrize("module", ["_machine", "_parameters", "_aggregate"])
def test_docstring_examples(module):
    import doctest
    import importlib

    res = doctest.testmod(importlib.import_module(f"radonml.sklearn.{module}"), optionflags=doctest.ELLIPSIS)
    assert res.attempted > 0 and res.failed == 0


# ----------------------------------------------------------------- review fixes


def _affinely_coupled_models(n_models=30):
    """Real 3-class fits whose class rows 1 and 2 are then set to affine images of row 0
    (coef and intercept together), so an aggregate that groups every row the same way keeps
    the relation exactly (the Radon point is affine equivariant), and one that does not,
    breaks it."""
    X, y = make_classification(3000, n_features=3, n_informative=3, n_redundant=0, n_classes=3, random_state=0)
    models = [LogisticRegression().fit(X[i::n_models], y[i::n_models]) for i in range(n_models)]
    for m in models:
        v = np.r_[m.coef_[0], m.intercept_[0]]
        for j, (a, b) in ((1, (2.0, 1.0)), (2, (-0.5, 3.0))):
            m.coef_[j], m.intercept_[j] = a * v[:-1] + b, a * v[-1] + b
    return models


@pytest.mark.parametrize("rng", [None, "generator", 4], ids=["none", "generator", "int"])
def test_aggregate_estimators_per_class_rows_share_one_grouping(rng):
    models = _affinely_coupled_models()  # 30 models, r = 6: 6 of them drawn at random for h = 1
    gen = (lambda: np.random.default_rng(12)) if rng == "generator" else (lambda: rng)
    out = aggregate_estimators(models, "radon", rng=gen())
    v = np.c_[out.coef_, out.intercept_]
    np.testing.assert_allclose(v[1], 2.0 * v[0] + 1.0, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(v[2], -0.5 * v[0] + 3.0, rtol=1e-9, atol=1e-9)
    if rng is not None:  # a seed gives the same aggregate every time
        again = aggregate_estimators(models, "radon", rng=gen())
        np.testing.assert_array_equal(again.coef_, out.coef_)
        np.testing.assert_array_equal(again.intercept_, out.intercept_)



def test_aggregate_estimators_per_class_rows_with_one_seed_are_each_rows_radon_tree():
    models = _affinely_coupled_models()
    V = np.stack([_vec(m) for m in models])  # (30, 3, 4)
    out = aggregate_estimators(models, "radon", rng=4)
    for j in range(3):  # an int seed is used as it is, for every row
        expected = radonml.iterated_radon_point(V[:, j, :], rng=4)
        np.testing.assert_allclose(np.r_[out.coef_[j], out.intercept_[j]], expected, rtol=1e-12)


class _SharedInterceptRidge(Ridge):
    """Multi-target Ridge with one intercept shared by all targets (its mean)."""

    def fit(self, X, y, sample_weight=None):
        super().fit(X, y, sample_weight=sample_weight)
        self.intercept_ = float(np.mean(self.intercept_))
        return self


def test_one_intercept_for_several_coef_rows_is_rejected(rng):
    X = rng.standard_normal((700, 3))
    Y = X @ rng.standard_normal((3, 2)) + [1.0, 5.0]
    models = [_SharedInterceptRidge().fit(X[i::7], Y[i::7]) for i in range(7)]
    assert np.shape(models[0].coef_) == (2, 3) and np.ndim(models[0].intercept_) == 0
    msg = r"estimators\[0\]\.intercept_ has 1 entry but coef_ has 2 rows"
    with pytest.raises(ValueError, match=msg):
        aggregate_estimators(models, "mean")
    with pytest.raises(ValueError, match=r"estimators_\[0\]\.intercept_ has 1 entry but coef_ has 2 rows"):
        RadonMachineRegressor(_SharedInterceptRidge(), height=1, random_state=0).fit(X, Y)
    # one row with a scalar intercept (single-target Ridge) is fine
    one = [Ridge().fit(X[i::7], Y[i::7, 0]) for i in range(7)]
    out = aggregate_estimators(one, "mean")
    assert out.intercept_ == pytest.approx(np.mean([m.intercept_ for m in one]), rel=1e-12)


@pytest.mark.parametrize(
    "bad, msg",
    [
        (np.nan, "sample_weight contains NaN"),
        (np.inf, "sample_weight contains infinity"),
        (-1.0, "Negative values in data passed to `sample_weight`"),
    ],
)
def test_sample_weight_must_be_finite_and_non_negative(bad, msg):
    X, y = make_classification(300, n_features=3, n_informative=3, n_redundant=0, random_state=0)
    sw = np.ones(300)
    sw[[3, 77]] = bad
    with pytest.raises(ValueError, match=msg):
        RadonMachineClassifier(height=1, random_state=0).fit(X, y, sample_weight=sw)
    with pytest.raises(ValueError, match="at least one non-zero"):
        RadonMachineClassifier(height=1, random_state=0).fit(X, y, sample_weight=np.zeros(300))


# ----------------------------------------------------------------- options checked before the work (case 20)


@pytest.mark.parametrize("height", [10**8, 10**3, 7])
def test_a_height_too_large_is_refused_at_once(height):
    """r^h parts for h = 10^8 is a number of ~48 million digits: refused before it is computed."""
    import time

    X = np.random.default_rng(0).standard_normal((600, 3))
    t0 = time.perf_counter()
    with pytest.raises(ValueError, match=rf"height={height} needs r\^height parts, at least 3\^{height}.*n = 600"):
        RadonMachineClassifier(height=height).fit(X, (X[:, 0] > 0).astype(int))
    assert time.perf_counter() - t0 < 5.0  # no r**h of tens of millions of digits
    with pytest.raises(ValueError, match=rf"height={height} needs"):
        RadonMachineRegressor(height=height).fit(X, X[:, 0])


def test_largest_possible_height_is_still_checked_against_r():
    X = np.random.default_rng(0).standard_normal((600, 3))  # r = 6: 6^3 = 216 <= 600 < 6^4, but 3^5 = 243 <= 600
    with pytest.raises(ValueError, match=r"height=4 needs r\^height = 6\^4 = 1296 parts"):
        RadonMachineRegressor(height=4).fit(X, X[:, 0])
    assert RadonMachineRegressor(height=3, random_state=0).fit(X, X[:, 0]).n_models_ == 216


def test_scalar_sample_weight_is_a_full_array():
    X = np.random.default_rng(0).standard_normal((600, 3))
    y = (X[:, 0] > 0).astype(int)
    a = RadonMachineClassifier(random_state=0, min_samples=20).fit(X, y, sample_weight=2.0)
    b = RadonMachineClassifier(random_state=0, min_samples=20).fit(X, y, sample_weight=np.full(600, 2.0))
    assert a.height_ == 1
    np.testing.assert_array_equal(a.coef_, b.coef_)
    np.testing.assert_array_equal(a.intercept_, b.intercept_)
    # and weight 2 everywhere is C doubled for every part (LogisticRegression minimises C * sum w_i loss_i + ||w||^2 / 2)
    c = RadonMachineClassifier(LogisticRegression(C=2.0), random_state=0, min_samples=20).fit(X, y)
    np.testing.assert_allclose(a.coef_, c.coef_, rtol=1e-4)
    with pytest.raises(ValueError, match="Negative values"):
        RadonMachineClassifier(random_state=0).fit(X, y, sample_weight=-1.0)


def test_up_to_two_to_the_h_minus_one_corrupted_models_keep_the_radon_point_in_the_honest_hull():
    """What radonml compare's robustness regime relies on: a group's Radon point leaves the hull
    of its honest models only when both sides of its partition hold a corrupted point, so a tree
    of height h needs 2^h corrupted leaves to leave the honest hull. Checked with an LP oracle
    (scipy's linprog: is the point a convex combination of the honest models?)."""
    from scipy.optimize import linprog

    from radonml.attacks import corrupt

    X, y = make_classification(6000, n_features=3, n_informative=3, n_redundant=0, random_state=3)
    rm = RadonMachineClassifier(height=2, random_state=0).fit(X, y)  # r = 6, 36 models in R^4
    models = rm.base_parameters_[:, 0, :]

    def in_honest_hull(point, honest):
        m = len(honest)
        res = linprog(np.zeros(m), A_eq=np.vstack([honest.T, np.ones(m)]), b_eq=np.r_[point, 1.0],
                      bounds=[(0, None)] * m, method="highs")
        return res.status == 0

    for seed in range(12):
        out = corrupt(models, "sign_flip", f=3, scale=1e4, rng=seed)
        point = aggregate_parameters(out.models, "radon", height=2, rng=seed)[0]
        assert in_honest_hull(point, models[~out.byzantine]), seed
        assert not in_honest_hull(out.models.mean(axis=0), models[~out.byzantine])  # the mean leaves it


def test_aggregate_estimators_names_an_unfitted_estimator():
    from sklearn.exceptions import NotFittedError
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from radonml.sklearn import aggregate_estimators, linear_parameters

    X = np.random.default_rng(0).standard_normal((60, 3))
    y = (X[:, 0] > 0).astype(int)
    fitted = LogisticRegression().fit(X, y)
    cases = [([LogisticRegression()], r"estimators\[0\] \(LogisticRegression\) is not fitted"),
             ([fitted, fitted, LogisticRegression()], r"estimators\[2\] \(LogisticRegression\) is not fitted"),
             ([make_pipeline(StandardScaler(), LogisticRegression())], r"estimators\[0\] \(Pipeline\) is not fitted")]
    for estimators, msg in cases:
        with pytest.raises(NotFittedError, match=msg):
            aggregate_estimators(estimators, "mean")
    with pytest.raises(ValueError, match=r"estimator \(LogisticRegression\) is not fitted"):  # NotFittedError
        linear_parameters(LogisticRegression())
    # a fitted model without coef_ is still "not a linear model"
    with pytest.raises(TypeError, match="KNeighborsClassifier, which has no coef_"):
        aggregate_estimators([KNeighborsClassifier(n_neighbors=3).fit(X, y)], "mean")
