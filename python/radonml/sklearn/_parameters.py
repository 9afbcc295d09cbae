"""Linear scikit-learn models as parameter vectors (private module of :mod:`radonml.sklearn`).

A fitted linear model is written as rows :math:`(w_j, b_j)`: ``coef_[j]`` with
``intercept_[j]`` appended. These rows are the points the Radon machine aggregates; this
module reads them from fitted estimators, writes aggregated rows back, computes their
decision function (one-vs-one voting included, for libsvm's ``SVC(kernel="linear")``), and
decides, before anything is fitted, whether a base estimator can give such rows at all.

The public functions (:func:`linear_parameters`, :func:`linear_decision`,
:func:`aggregate_parameters`) are re-exported by :mod:`radonml.sklearn`; the other names are
shared with its sibling modules.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Mapping
from typing import NamedTuple, Optional

import numpy as np

from .._validation import as_float_array, check_rng
from ..aggregators import (
    accepts_option,
    aggregate,
    aggregate_with_fallback,
    available_aggregators,
    available_preaggregators,
    check_method,
)
from ..exceptions import NoRadonPointError, TooFewModelsError

__all__ = [
    "MULTICLASS_MODES",
    "linear_parameters",
    "linear_decision",
    "aggregate_parameters",
    "has_intercept",
    "check_fitted",
    "linear_rows",
    "set_linear_rows",
    "decision",
    "aggregate_rows",
    "aggregation_blocks",
    "shared_seed",
    "fallback_options",
    "check_aggregation",
    "check_aggregation_options",
    "AggregationChoice",
    "choose_aggregation",
    "FALLBACK",
    "check_multiclass",
    "is_libsvm",
    "is_one_vs_one",
    "ovo_to_ovr",
    "ovo_votes",
    "linear_family",
    "LINEAR_EXAMPLES",
]

MULTICLASS_MODES = ("per_class", "joint")

LINEAR_EXAMPLES = (
    "LogisticRegression, LinearSVC, SGDClassifier, RidgeClassifier, Ridge, LinearRegression, "
    "SGDRegressor or SVC(kernel='linear')"
)


# ------------------------------------------------------------------ reading and writing rows


def has_intercept(estimator) -> bool:
    """Whether ``estimator`` (fitted or not) fits an intercept: its ``fit_intercept``
    parameter, True when it has none (libsvm's SVC/SVR always fit one)."""
    try:
        return bool(estimator.get_params(deep=False).get("fit_intercept", True))
    except Exception:  # not a scikit-learn estimator
        return bool(getattr(estimator, "fit_intercept", True))


def check_fitted(est, name: str = "estimator") -> None:
    """Raise scikit-learn's ``NotFittedError`` (a ValueError), naming ``name``, when ``est``
    is a scikit-learn estimator that :func:`sklearn.utils.validation.check_is_fitted` finds
    unfitted; anything that is not an estimator (no ``fit``) passes."""
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    if not hasattr(est, "fit") or isinstance(est, type):
        return
    try:
        check_is_fitted(est)
    except NotFittedError:
        raise NotFittedError(
            f"{name} ({type(est).__name__}) is not fitted; call fit on it before aggregating"
        ) from None


def linear_rows(est, intercept: bool, name: str = "estimator") -> np.ndarray:
    """A fitted linear model as a (k, p [+1]) float64 array: one row per class / target /
    class pair, the intercept appended when ``intercept``; an unfitted estimator raises
    ``NotFittedError`` (:func:`check_fitted`)."""
    coef = getattr(est, "coef_", None)
    if coef is None:
        check_fitted(est, name)
        raise TypeError(
            f"{name} must be a linear model that exposes coef_ (and intercept_) after fit, such as "
            f"{LINEAR_EXAMPLES}; got {type(est).__name__}, which has no coef_"
        )
    if hasattr(coef, "toarray"):  # sparse coef_ after sparsify(), or libsvm fitted on sparse data
        coef = coef.toarray()
    coef = np.asarray(coef, dtype=np.float64)
    if coef.ndim not in (1, 2):
        raise ValueError(f"{name}.coef_ must be 1- or 2-dimensional, got shape {coef.shape}")
    rows = coef.reshape(1, -1) if coef.ndim == 1 else coef
    if not intercept:
        return rows
    if not hasattr(est, "intercept_"):
        raise TypeError(f"{name} fits an intercept but has no intercept_ ({type(est).__name__})")
    icpt = np.asarray(est.intercept_, dtype=np.float64).reshape(-1)
    if icpt.size != rows.shape[0]:
        # one intercept shared by k > 1 rows cannot be aggregated row by row (each row would
        # get its own), nor written back: refuse rather than keep one row's intercept
        raise ValueError(
            f"{name}.intercept_ has {icpt.size} "
            + ("entry" if icpt.size == 1 else "entries")
            + f" but coef_ has {rows.shape[0]} rows (shape {coef.shape}); radonml needs one intercept per coef_ "
            "row (or fit_intercept=False)"
        )
    return np.concatenate([rows, icpt[:, None]], axis=1)


def set_linear_rows(est, rows: np.ndarray, intercept: bool) -> bool:
    """Write ``rows`` into ``est.coef_``/``est.intercept_`` with their original shapes and
    types. Returns False, leaving ``est`` unchanged, when ``coef_`` cannot be set (libsvm's
    SVC/SVR compute it from their support vectors)."""
    if is_libsvm(est):
        return False
    old_coef = np.asarray(est.coef_)
    coef = rows[:, :-1] if intercept else rows
    try:
        est.coef_ = np.ascontiguousarray(coef.reshape(old_coef.shape), dtype=old_coef.dtype)
    except AttributeError:
        return False
    if intercept:
        old = est.intercept_
        icpt = rows[:, -1]
        if np.ndim(old) == 0:
            new = type(old)(icpt[0]) if isinstance(old, (float, np.floating)) else float(icpt[0])
        else:
            old = np.asarray(old)
            new = np.ascontiguousarray(icpt.reshape(old.shape), dtype=old.dtype)
        est.intercept_ = new
    return True


def decision(rows: np.ndarray, intercept: bool, X) -> np.ndarray:
    """Decision scores (n, k) of the linear model ``rows``: ``X @ coef.T + intercept``
    (``X`` may be a scipy sparse matrix, e.g. a one-hot feature map's output)."""
    coef = rows[:, :-1] if intercept else rows
    dec = np.asarray(X @ coef.T, dtype=np.float64)
    if intercept:
        dec = dec + rows[:, -1]
    return dec


# ------------------------------------------------------------------ libsvm's one-vs-one SVC


def is_libsvm(est) -> bool:
    """Whether ``est`` is one of libsvm's estimators (SVC, NuSVC, SVR, NuSVR, OneClassSVM),
    whose ``coef_`` is computed from support vectors and cannot be set."""
    from sklearn.svm import SVC, SVR, NuSVC, NuSVR, OneClassSVM

    return isinstance(est, (SVC, NuSVC, SVR, NuSVR, OneClassSVM))


def is_one_vs_one(est, n_classes: int) -> bool:
    """Whether ``est`` is a libsvm classifier on more than two classes: one coef_ row per
    class pair (i, j), i < j, in lexicographic order."""
    from sklearn.svm import SVC, NuSVC

    return isinstance(est, (SVC, NuSVC)) and n_classes > 2


def ovo_votes(dec: np.ndarray, n_classes: int) -> np.ndarray:
    """Votes (n, n_classes) of one-vs-one scores ``dec`` (n, K(K-1)/2): the score of pair
    (i, j) votes for class i when it is > 0 and for class j otherwise, as libsvm does."""
    votes = np.zeros((dec.shape[0], n_classes))
    p = 0
    for i in range(n_classes):
        for j in range(i + 1, n_classes):
            win = dec[:, p] > 0
            votes[win, i] += 1
            votes[~win, j] += 1
            p += 1
    return votes


def ovo_to_ovr(dec: np.ndarray, n_classes: int) -> np.ndarray:
    """One-vs-one scores as one-vs-rest scores, as ``SVC(decision_function_shape="ovr")``
    reports them: the votes plus the summed confidences squashed into (-1/3, 1/3)."""
    conf = np.zeros((dec.shape[0], n_classes))
    p = 0
    for i in range(n_classes):
        for j in range(i + 1, n_classes):
            conf[:, i] += dec[:, p]
            conf[:, j] -= dec[:, p]
            p += 1
    return ovo_votes(dec, n_classes) + conf / (3 * (np.abs(conf) + 1))


# ------------------------------------------------------------------ which estimators are linear


def linear_family(est):
    """What is known about ``est`` before fitting: ``True`` when it is one of scikit-learn's
    linear models (it will have ``coef_``), ``False`` with a reason when it certainly will
    not, ``None`` when only a fit can tell.

    Returns
    -------
    (bool or None, str)
    """
    from sklearn.linear_model import RANSACRegressor

    name = type(est).__name__
    if is_libsvm(est):
        kernel = est.get_params(deep=False).get("kernel")
        if kernel == "linear":
            return True, ""
        return False, (
            f"{name}(kernel={kernel!r}) has no coef_ (only kernel='linear' has one): its model is a sum over "
            "support vectors, not a vector of one fixed space, so two of them cannot be aggregated; for a "
            "kernel Radon machine, share a random feature map instead, e.g. "
            "make_pipeline(RBFSampler(n_components=100), LinearSVC()) or Nystroem"
        )
    if isinstance(est, RANSACRegressor):
        return False, (
            f"{name} has no coef_ (its fitted model is estimator_, refitted on the inliers); use a robust "
            "linear model with coef_ such as HuberRegressor"
        )
    module = type(est).__module__
    if module.startswith("sklearn.linear_model") or module.startswith("sklearn.svm"):
        return True, ""
    return None, ""


# ------------------------------------------------------------------ aggregation


FALLBACK = "geometric_median"  # the registry's default fallback (radonml.aggregators.aggregate_with_fallback)


def check_aggregation(aggregation, name: str = "aggregation"):
    """A registered aggregator, a pipeline of pre-aggregators ending in one (``"nnm>krum"``;
    :func:`radonml.aggregators.check_method`) or a callable; returned unchanged."""
    if callable(aggregation):
        return aggregation
    if not isinstance(aggregation, str):
        raise TypeError(
            f"{name} must be a registered aggregator name or a callable (or a pipeline such as 'nnm>krum'), "
            f"got {type(aggregation).__name__}"
        )
    try:
        check_method(aggregation, name)
    except ValueError as exc:
        raise ValueError(
            f"{name} must be one of {available_aggregators()}, a pipeline of the pre-aggregators "
            f"{available_preaggregators()} ending in one (e.g. 'nnm>krum'), or a callable; {exc}"
        ) from None
    return aggregation


def check_aggregation_options(method, options, name: str = "aggregation_options") -> dict:
    """``options`` (None or a dict) for ``method``, as a new dict: every key must be taken by
    some step of ``method`` as the registry routes options (a step that names the option, or
    else one that takes ``**options``), so a misspelt option fails before any work. A
    callable's options are not checked. Option *values* are checked by the rules' conditions
    (:func:`choose_aggregation`)."""
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise TypeError(f"{name} must be None or a dict of options for the aggregator, e.g. {{'f': 2}}, "
                        f"got {type(options).__name__}")
    opts = dict(options)
    for key in opts:
        if not isinstance(key, str):
            raise TypeError(f"{name} must have string keys (option names), got the key {key!r}")
    if callable(method):
        return opts
    steps = check_method(method)
    for key in opts:
        if not any(r.accepts(key) or r.options is None for r in steps):
            taken = "; ".join(f"{r.name} takes {sorted(r.options)}" for r in steps)
            raise TypeError(f"{name} has the option {key!r}, which {method!r} does not take ({taken})")
    return opts


class AggregationChoice(NamedTuple):
    """What the registry runs on ``n`` models (see :func:`choose_aggregation`)."""

    used: object  # the method itself, or the fallback
    options: dict  # the options ``used`` gets
    reason: Optional[str]  # why the method cannot run (None: it can)


def fallback_options(fallback, options: dict) -> dict:
    """The options :func:`radonml.aggregators.aggregate_with_fallback` gives its fallback:
    ``f`` when the fallback takes it, nothing else."""
    return {"f": options["f"]} if "f" in options and accepts_option(fallback, "f") else {}


def choose_aggregation(method, options: dict, n: int, d: int, fallback=FALLBACK) -> AggregationChoice:
    """Check ``method`` with ``options`` on ``n`` models in :math:`\\mathbb{R}^d` before any
    work, through the registry's conditions (each step's ``condition`` at the number of models
    it gets, in pipeline order; they also validate the option values, raising ``TypeError`` or
    ``ValueError``), and say what :func:`radonml.aggregators.aggregate_with_fallback` will
    run: the method, or ``fallback`` when a condition fails (with ``fallback=None`` that is
    a :class:`~radonml.exceptions.TooFewModelsError` here, as in the registry).

    The aggregation itself still goes through ``aggregate_with_fallback`` (the one fallback
    mechanism and its :class:`~radonml.FallbackWarning`); this answer is what an attack
    that knows the aggregator (min-max) is given, and what fails early."""
    if callable(method):
        return AggregationChoice(method, dict(options), None)
    steps = check_method(method)
    named = {k for k in options if any(r.accepts(k) for r in steps)}
    for rule in steps:
        opts = {k: v for k, v in options.items() if rule.accepts(k) or (k not in named and rule.options is None)}
        why = rule.condition(n, d, **opts) if rule.condition is not None else None
        if why:
            if fallback is None:
                error = NoRadonPointError if rule.name == "radon" else TooFewModelsError
                raise error(f"aggregator {method!r} cannot run on {n} models in dimension d = {d}: {why}")
            return AggregationChoice(fallback, fallback_options(fallback, options), why)
        if rule.kind == "preaggregator" and rule.n_out is not None:
            n = int(rule.n_out(n, **opts))
    return AggregationChoice(method, dict(options), None)


def check_multiclass(multiclass):
    if multiclass not in MULTICLASS_MODES:
        raise ValueError(f"multiclass must be one of {MULTICLASS_MODES}, got {multiclass!r}")
    return multiclass


def aggregation_blocks(models: np.ndarray, multiclass: str) -> list:
    """The (m, d') stacks that are aggregated: all k rows as one vector, or each row."""
    m, k, d = models.shape
    if multiclass == "joint" or k == 1:
        return [models.reshape(m, k * d)]
    return [models[:, j, :] for j in range(k)]


def shared_seed(method, options: dict) -> dict:
    """``options`` with one int ``rng`` for every row when ``method`` takes ``rng`` (the Radon
    tree, bucketing): an int is used as it is, else one is drawn from the given generator
    (or fresh entropy), so all class rows aggregate the same models in the same groups."""
    if not (isinstance(method, str) and accepts_option(method, "rng")):
        return options
    rng = options.get("rng")
    if not (isinstance(rng, numbers.Integral) and not isinstance(rng, bool)):
        rng = int(check_rng(rng).integers(0, 2**63 - 1))
    return {**options, "rng": rng}


def aggregate_rows(models: np.ndarray, method, multiclass: str, options: dict, fallback=None):
    """Aggregate (m, k, d) models into (k, d): each of the k rows separately, or all k rows
    as one vector of length k d. Returns ``(rows, used)``: the aggregate and the method that
    produced it.

    Per row, a method that takes ``rng`` (the Radon tree) gets one seed for every row
    (:func:`shared_seed`), so all rows aggregate the same subset of models in the same groups:
    the aggregate's class rows come from the same base models.

    ``fallback=None``: :func:`radonml.aggregate` (a failing condition raises). Otherwise every
    block goes through :func:`radonml.aggregators.aggregate_with_fallback` with that fallback
    (the registry's one mechanism); its :class:`~radonml.FallbackWarning` is emitted once,
    not once per row."""
    k, d = models.shape[1:]
    blocks = aggregation_blocks(models, multiclass)
    if len(blocks) > 1:
        options = shared_seed(method, options)
    if fallback is None:
        return np.stack([aggregate(b, method, **options) for b in blocks]).reshape(k, d), method
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        results = [aggregate_with_fallback(b, method, fallback=fallback, **options) for b in blocks]
    seen = set()
    for w in caught:  # the same warning for every row: say it once
        key = (w.category, str(w.message))
        if key not in seen:
            seen.add(key)
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, source=w.source)
    return np.stack([vec for vec, _ in results]).reshape(k, d), results[0][1]


# ------------------------------------------------------------------ public


def linear_parameters(estimator, *, fit_intercept=None) -> np.ndarray:
    r"""A fitted linear model as parameter vectors: one row :math:`(w_j, b_j)` per ``coef_`` row.

    The vectors the Radon machine aggregates (Kamp et al., NeurIPS 2017, Alg. 1): row :math:`j` is ``coef_[j]`` with
    ``intercept_[j]`` appended, so a model of :math:`p` features with an intercept is a point
    of :math:`\mathbb{R}^{p+1}`. Binary classifiers and single-target regressors give one row;
    a one-vs-one ``SVC(kernel="linear")`` on :math:`K` classes gives :math:`K(K-1)/2`.

    Parameters
    ----------
    estimator : fitted estimator with ``coef_`` (and ``intercept_``)
        E.g. LogisticRegression, LinearSVC, SGDClassifier, Ridge, SVC(kernel="linear"). For a
        fitted :class:`~sklearn.pipeline.Pipeline`, its last step (the rows live in the space
        of the features the steps before it produce).
    fit_intercept : bool, optional
        Whether to append the intercept; default the estimator's ``fit_intercept`` parameter
        (True when it has none).

    Returns
    -------
    (k, p) or (k, p + 1) ndarray of float64

    Raises
    ------
    TypeError
        If the fitted estimator has no ``coef_`` (not a linear model) or no
        ``intercept_`` while one is asked for.
    sklearn.exceptions.NotFittedError
        If the estimator is not fitted (a subclass of ValueError).
    ValueError
        If ``coef_`` is not 1- or 2-dimensional, or one intercept is shared by several rows.

    See Also
    --------
    linear_decision : the decision function of such parameters.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LinearRegression
    >>> X = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> linear_parameters(LinearRegression().fit(X, X @ [1.0, 2.0] + 3.0)).round(6).tolist()
    [[1.0, 2.0, 3.0]]
    """
    from sklearn.pipeline import Pipeline

    if isinstance(estimator, Pipeline):
        estimator = estimator.steps[-1][1]
    icpt = has_intercept(estimator) if fit_intercept is None else bool(fit_intercept)
    return linear_rows(estimator, icpt, "estimator")


def linear_decision(parameters, X, *, fit_intercept: bool = True) -> np.ndarray:
    r"""Decision scores :math:`X W^\top + b` of linear models given as parameter rows.

    Parameters
    ----------
    parameters : (k, p + 1) or, with ``fit_intercept=False``, (k, p) array-like
        Rows :math:`(w_j, b_j)` as :func:`linear_parameters` writes them (a single (p + 1,)
        vector is one row).
    X : (n, p) array-like
    fit_intercept : bool, default True
        Whether the last column of ``parameters`` is the intercept.

    Returns
    -------
    (n, k) ndarray of float64
        Column :math:`j` is :math:`X w_j + b_j`; for a binary classifier (k = 1) the
        positive class is predicted where it is > 0.

    Raises
    ------
    ValueError
        If the shapes do not match or the inputs are not finite.

    Examples
    --------
    >>> linear_decision([[1.0, -1.0, 0.5]], [[2.0, 1.0], [0.0, 1.0]]).tolist()
    [[1.5], [-0.5]]
    """
    rows = as_float_array(parameters, "parameters")
    if rows.ndim == 1:
        rows = rows[None, :]
    X = as_float_array(X, "X", ndim=2)
    if rows.ndim != 2:
        raise ValueError(f"parameters must be a (k, d) array of parameter rows, got shape {rows.shape}")
    p = rows.shape[1] - bool(fit_intercept)
    if X.shape[1] != p:
        raise ValueError(
            f"X has {X.shape[1]} features but parameters of shape {rows.shape} "
            f"(fit_intercept={bool(fit_intercept)}) describe models of {p}"
        )
    return decision(rows, bool(fit_intercept), X)


def aggregate_parameters(parameters, method="radon", *, multiclass: str = "per_class", **options) -> np.ndarray:
    r"""Aggregate the parameter rows of m linear models into one model's rows.

    ``parameters[i]`` holds model :math:`i`'s rows (:func:`linear_parameters`, e.g. the fitted
    ``base_parameters_`` of a Radon machine, or a corrupted copy of them). With
    ``multiclass="per_class"`` each of the k rows is aggregated on its own, as k problems in
    :math:`\mathbb{R}^d`; with ``"joint"`` all k rows form one vector of
    :math:`\mathbb{R}^{kd}`. With ``method="radon"`` every row uses one seed (``rng`` itself
    when it is an int, else one drawn from it), so all rows aggregate the same models in the
    same groups, as :class:`RadonMachineClassifier` does.

    Parameters
    ----------
    parameters : (m, k, d) array-like
        m models of k rows each; an (m, d) array is read as k = 1.
    method : str or callable, default "radon"
        Any name of :func:`radonml.available_aggregators`, a pipeline of pre-aggregators
        ending in one (``"nnm>krum"``), or a callable.
    multiclass : {"per_class", "joint"}, default "per_class"
    **options
        Passed on to :func:`radonml.aggregate` (e.g. ``height``, ``rng`` and ``remainder``
        for ``"radon"``, ``f`` for ``"krum"``).

    Returns
    -------
    (k, d) ndarray of float64

    Raises
    ------
    ValueError
        If ``parameters`` is not 2- or 3-dimensional or holds non-finite values, or as the
        aggregator raises (e.g. fewer models than the Radon number).

    Examples
    --------
    >>> import numpy as np
    >>> P = np.array([[[1.0, 0.0]], [[3.0, 2.0]], [[5.0, 4.0]]])   # 3 models, 1 row, d = 2
    >>> aggregate_parameters(P, "mean").tolist()
    [[3.0, 2.0]]
    """
    check_multiclass(multiclass)
    method = check_aggregation(method, "method")
    models = as_float_array(parameters, "parameters")
    if models.ndim == 2:
        models = models[:, None, :]
    if models.ndim != 3:
        raise ValueError(f"parameters must be an (m, k, d) array of parameter rows, got shape {models.shape}")
    return aggregate_rows(models, method, multiclass, options)[0]
