"""The Radon machine as scikit-learn meta-estimators (SPEC §2).

:class:`RadonMachineClassifier` and :class:`RadonMachineRegressor` split the training data
into :math:`r^h` disjoint random parts, fit a clone of a linear base estimator on every part
(in parallel through joblib, so ``joblib.parallel_config(backend="dask")`` or Ray's joblib
backend moves the work to a cluster), and aggregate the fitted ``coef_`` and ``intercept_``
with the iterated Radon point, or any aggregator of :func:`radonml.aggregate`.
:func:`aggregate_estimators` does the aggregation step alone, for models fitted elsewhere.

References
----------
M. Kamp, M. Boley, O. Missura, T. Gärtner, "Effective Parallelisation for Machine Learning",
NeurIPS 2017.
"""

from __future__ import annotations

import copy
import numbers
import time
import warnings
from typing import NamedTuple

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, RegressorMixin, clone
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, has_fit_parameter, validate_data

from ._validation import as_float_array, check_int, check_rng
from .aggregators import aggregate
from .exceptions import FallbackWarning

__all__ = [
    "RadonMachineClassifier",
    "RadonMachineRegressor",
    "aggregate_estimators",
    "aggregate_parameters",
    "linear_parameters",
    "linear_decision",
]

MULTICLASS_MODES = ("per_class", "joint")


# ------------------------------------------------------------------ helpers


def _has_intercept(estimator) -> bool:
    """Whether ``estimator`` (fitted or not) fits an intercept."""
    try:
        return bool(estimator.get_params(deep=False).get("fit_intercept", True))
    except Exception:  # not a scikit-learn estimator
        return bool(getattr(estimator, "fit_intercept", True))


def _linear_rows(est, has_intercept: bool, name: str = "estimator") -> np.ndarray:
    """A fitted linear model as a (k, p [+1]) array: one row per class / target, the
    intercept appended when the model has one."""
    coef = getattr(est, "coef_", None)
    if coef is None:
        raise TypeError(
            f"{name} must be a linear model that exposes coef_ (and intercept_) after fit, such as "
            f"LogisticRegression, LinearSVC, SGDClassifier, RidgeClassifier, Ridge, LinearRegression or "
            f"SGDRegressor; got {type(est).__name__}, which has no coef_"
        )
    if hasattr(coef, "toarray"):  # sparse coef_ after sparsify()
        coef = coef.toarray()
    coef = np.asarray(coef, dtype=np.float64)
    if coef.ndim not in (1, 2):
        raise ValueError(f"{name}.coef_ must be 1- or 2-dimensional, got shape {coef.shape}")
    rows = coef.reshape(1, -1) if coef.ndim == 1 else coef
    if not has_intercept:
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


def _set_linear_rows(est, rows: np.ndarray, has_intercept: bool) -> bool:
    """Write ``rows`` back into ``est.coef_``/``est.intercept_`` with their original shapes and
    types. Returns False when the estimator's ``coef_`` cannot be set (e.g. ``SVC``, whose
    ``coef_`` is computed from its support vectors)."""
    old_coef = np.asarray(est.coef_)
    coef = rows[:, :-1] if has_intercept else rows
    try:
        est.coef_ = np.ascontiguousarray(coef.reshape(old_coef.shape), dtype=old_coef.dtype)
    except AttributeError:
        return False
    if has_intercept:
        old = est.intercept_
        icpt = rows[:, -1]
        if np.ndim(old) == 0:
            new = type(old)(icpt[0]) if isinstance(old, (float, np.floating)) else float(icpt[0])
        else:
            old = np.asarray(old)
            new = np.ascontiguousarray(icpt.reshape(old.shape), dtype=old.dtype)
        try:
            est.intercept_ = new
        except AttributeError:
            return False
    return True


def _aggregate_rows(models: np.ndarray, method, multiclass: str, options: dict) -> np.ndarray:
    """Aggregate (m, k, d) models into (k, d): each of the k rows separately, or all k rows
    as one vector of length k d.

    Per row with ``method="radon"``, every row uses one seed (the ``rng`` option when it is
    an int, else one drawn from it), so all rows aggregate the same subset of models in the
    same groups: the aggregate's class rows come from the same base models."""
    m, k, d = models.shape
    if multiclass == "joint" or k == 1:
        return aggregate(models.reshape(m, k * d), method, **options).reshape(k, d)
    if method == "radon":
        rng = options.get("rng")
        if not (isinstance(rng, numbers.Integral) and not isinstance(rng, bool)):
            rng = int(check_rng(rng).integers(0, 2**63 - 1))
        options = {**options, "rng": rng}
    return np.stack([aggregate(models[:, j, :], method, **options) for j in range(k)])


def _decision(rows: np.ndarray, has_intercept: bool, X: np.ndarray) -> np.ndarray:
    """Decision scores (n, k) of the linear model ``rows`` ((k, p [+1]): coef_ rows with the
    intercept appended when ``has_intercept``): ``X @ coef.T + intercept``."""
    coef = rows[:, :-1] if has_intercept else rows
    dec = X @ coef.T
    if has_intercept:
        dec += rows[:, -1]
    return dec


def linear_parameters(estimator, *, fit_intercept=None) -> np.ndarray:
    r"""A fitted linear model as parameter vectors: one row :math:`(w_j, b_j)` per ``coef_`` row.

    The vectors the Radon machine aggregates (SPEC §2): row :math:`j` is ``coef_[j]`` with
    ``intercept_[j]`` appended, so a model of :math:`p` features with an intercept is a point
    of :math:`\mathbb{R}^{p+1}`. Binary classifiers and single-target regressors give one row.

    Parameters
    ----------
    estimator : fitted estimator with ``coef_`` (and ``intercept_``)
        E.g. LogisticRegression, LinearSVC, SGDClassifier, Ridge, SVC(kernel="linear").
    fit_intercept : bool, optional
        Whether to append the intercept; default the estimator's ``fit_intercept`` parameter
        (True when it has none).

    Returns
    -------
    (k, p) or (k, p + 1) ndarray of float64

    Raises
    ------
    TypeError
        If the estimator has no ``coef_`` (not a linear model, or not fitted) or no
        ``intercept_`` while one is asked for.
    ValueError
        If ``coef_`` is not 1- or 2-dimensional, or one intercept is shared by several rows.

    See Also
    --------
    linear_decision : the decision function of such parameters.

    Examples
    --------
    >>> from sklearn.linear_model import LinearRegression
    >>> X = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> linear_parameters(LinearRegression().fit(X, X @ [1.0, 2.0] + 3.0)).round(6).tolist()
    [[1.0, 2.0, 3.0]]
    """
    has_icpt = _has_intercept(estimator) if fit_intercept is None else bool(fit_intercept)
    return _linear_rows(estimator, has_icpt, "estimator")


def linear_decision(parameters, X, *, fit_intercept: bool = True) -> np.ndarray:
    r"""Decision scores :math:`X W^	op + b` of linear models given as parameter rows.

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
    return _decision(rows, bool(fit_intercept), X)


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
        Any name of :func:`radonml.available_aggregators`, or a callable.
    multiclass : {"per_class", "joint"}, default "per_class"
    **options
        Passed on to :func:`radonml.aggregate` (e.g. ``height`` and ``rng`` for ``"radon"``).

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
    >>> P = np.array([[[1.0, 0.0]], [[3.0, 2.0]], [[5.0, 4.0]]])   # 3 models, 1 row, d = 2
    >>> aggregate_parameters(P, "mean").tolist()
    [[3.0, 2.0]]
    """
    _check_multiclass(multiclass)
    method = _check_aggregation(method)
    models = as_float_array(parameters, "parameters")
    if models.ndim == 2:
        models = models[:, None, :]
    if models.ndim != 3:
        raise ValueError(f"parameters must be an (m, k, d) array of parameter rows, got shape {models.shape}")
    return _aggregate_rows(models, method, multiclass, options)


def _check_multiclass(multiclass):
    if multiclass not in MULTICLASS_MODES:
        raise ValueError(f"multiclass must be one of {MULTICLASS_MODES}, got {multiclass!r}")
    return multiclass


def _check_aggregation(aggregation):
    if callable(aggregation):
        return aggregation
    if not isinstance(aggregation, str):
        raise TypeError(
            f"aggregation must be a registered aggregator name or a callable, got {type(aggregation).__name__}"
        )
    from .aggregators import available_aggregators

    if aggregation not in available_aggregators():
        raise ValueError(f"aggregation must be one of {available_aggregators()} or a callable, got {aggregation!r}")
    return aggregation


def _partition(n: int, n_parts: int, gen: np.random.Generator, y=None) -> list:
    """Split ``range(n)`` into ``n_parts`` disjoint random parts of sizes differing by at most
    one (per class when ``y`` is given: stratified, every part then gets
    ``floor`` or ``ceil`` of ``n_c / n_parts`` examples of every class c). Rows inside a part
    are in ascending order: gathering ``X[idx]`` then reads memory (or a memory map) forward,
    several times faster than in random order; which rows go to which part is random."""
    perm = gen.permutation(n)
    if y is None:
        labels = np.arange(n) % n_parts
    else:
        yp = y[perm]
        labels = np.empty(n, dtype=np.int64)
        offset = 0
        for c in np.unique(yp):
            at = np.flatnonzero(yp == c)
            labels[at] = (np.arange(at.size) + offset) % n_parts
            offset = (offset + at.size) % n_parts  # hand the remainders to the next parts
    part_of = np.empty(n, dtype=np.int64)
    part_of[perm] = labels
    order = np.argsort(part_of, kind="stable")  # rows of each part in ascending order
    counts = np.bincount(labels, minlength=n_parts)
    return np.split(order, np.cumsum(counts)[:-1])


def _rebuild_rows(buf, dtype, shape):
    # a copy by numpy's allocator: the alignment of X[idx] (BLAS kernels sum in an order that
    # can depend on it, and the fits must match bit for bit; a bytearray's buffer did not)
    return np.frombuffer(buf, dtype=dtype).reshape(shape).copy()


class _Rows:
    """One part's rows on their way to a worker. Pickled as raw bytes, so joblib's loky
    backend neither hashes nor memory-maps them (it does both for any array above
    ``max_nbytes``, 1 MB by default) and every backend ships exactly these rows; in-process
    (``n_jobs=1``) the array is used as is. Unpickled arrays are fresh and writable, like
    ``X[idx]``."""

    __slots__ = ("array",)

    def __init__(self, array):
        self.array = array

    def __reduce__(self):
        a = np.ascontiguousarray(self.array)
        return _rebuild_rows, (a.tobytes(), a.dtype.str, a.shape)


def _own(a):
    """``a`` as ``X[idx]`` would be: C-contiguous, writable, at an address numpy's allocator
    gives (16-byte aligned). Dask deserialises arrays inside its message frames, at any byte
    offset, and OpenBLAS then sums in another order (fits differ in the last bits)."""
    if a is None or (a.flags.c_contiguous and a.flags.writeable and a.ctypes.data % 16 == 0):
        return a
    return np.array(a, order="C")


def _fit_block(estimator, X, y, sample_weight, seed):
    """Fit ``clone(estimator)`` (with ``random_state=seed`` where it has one) on one part's
    rows; ``X``, ``y`` and ``sample_weight`` are arrays or :class:`_Rows`."""
    X, y, sample_weight = (_own(a.array if isinstance(a, _Rows) else a) for a in (X, y, sample_weight))
    est = clone(estimator)
    if seed is not None and "random_state" in est.get_params(deep=False):
        est.set_params(random_state=int(seed))
    if sample_weight is None:
        return est.fit(X, y)
    return est.fit(X, y, sample_weight=sample_weight)


def _fit_parts(estimator, X, y, parts, seeds, n_jobs=None, sample_weight=None, progress=False):
    """Fit ``clone(estimator)`` on ``X[idx], y[idx]`` for every ``idx`` in ``parts`` through
    ``sklearn.utils.parallel.Parallel``.

    Each task gets only its own rows, gathered here lazily as joblib dispatches it (at most
    ``pre_dispatch`` parts exist at once besides ``X``) and sent as raw bytes
    (:class:`_Rows`): no worker ever holds more than its parts. Sending ``X`` whole instead
    made joblib hash and memory-map it on every ``fit`` (0.19 s + 0.08 s in the parent for
    10^6 x 18 float64 before any worker started, against 0.8 s of fitting in all at height 1),
    which capped the parallel efficiency at 2 workers near 60%; see benchmarks/sklearn.md,
    section 2. The rows and their order are those of ``X[idx]``, so the fits are the same."""
    tasks = (
        delayed(_fit_block)(
            estimator, _Rows(X[idx]), _Rows(y[idx]), None if sample_weight is None else _Rows(sample_weight[idx]), seed
        )
        for idx, seed in zip(parts, seeds)
    )
    if not progress:
        return Parallel(n_jobs=n_jobs)(tasks)
    from tqdm.auto import tqdm

    out = Parallel(n_jobs=n_jobs, return_as="generator")(tasks)
    desc = progress if isinstance(progress, str) else "fitting base models"
    return list(tqdm(out, total=len(parts), desc=desc, unit="model", leave=False))


def _auto_height(n: int, r: int, min_samples: int, min_class_count=None) -> int:
    """Largest h with floor(n / r^h) >= min_samples (and, for classifiers, r^h <= the
    smallest class count, so every part sees every class)."""
    h = 0
    while n // r ** (h + 1) >= min_samples and (min_class_count is None or r ** (h + 1) <= min_class_count):
        h += 1
    return h


class _Plan(NamedTuple):
    """What a Radon machine of one height does with n examples, before fitting anything."""

    r: int  # Radon number d + 2
    height: int
    parts: list  # r^height arrays of row indices
    seeds: np.ndarray  # one base-model seed per part
    agg_seed: int  # the Radon tree's grouping


def _plan(n: int, d: int, height, min_samples: int, random_state, y=None, *, name: str = "height") -> _Plan:
    r"""The Radon machine's plan for ``n`` examples and models in :math:`\mathbb{R}^d`.

    ``height`` is ``"auto"`` (:func:`_auto_height`; may give 0) or an int whose
    :math:`r^h` parts must each get an example (of every class when ``y`` is given). The
    partition (stratified by ``y`` when given), the base models' seeds and the aggregation
    seed are drawn in this order from one stream of ``random_state``, so any caller with the
    same seed gets what :class:`RadonMachineClassifier` fits. ``name`` is the height's name
    in error messages."""
    r = d + 2
    min_class = None if y is None else int(np.unique(y, return_counts=True)[1].min())
    if height == "auto":
        h = _auto_height(n, r, min_samples, min_class)
    else:
        h = int(height)
        need = r**h
        if n // need < 1 or (min_class is not None and min_class < need):
            what = f"the smallest class has {min_class} examples" if min_class is not None else f"n = {n}"
            auto = "height='auto'" if name == "height" else f"{name} auto"
            raise ValueError(
                f"{name}={h} needs r^height = {r}^{h} = {need} parts (r = {r} for models in R^{d}), "
                f"but {what}; every part needs at least one example"
                + (" of every class" if min_class is not None else "")
                + f"; use a smaller {name} or {auto}"
            )
    n_parts = r**h
    gen = check_rng(random_state)
    parts = _partition(n, n_parts, gen, y)
    seeds = gen.integers(0, 2**31 - 1, size=n_parts)
    agg_seed = int(gen.integers(0, 2**31 - 1))
    return _Plan(r, h, parts, seeds, agg_seed)


def _fit_plan(base, X, y, plan: _Plan, has_intercept: bool, *, n_jobs=None, sample_weight=None, progress=False,
              classes=None):
    """Fit ``clone(base)`` on every part of ``plan``. Returns the fitted estimators, their
    models as an (r^h, k, p [+1]) array (:func:`_linear_rows`) and the wall seconds of the
    fits. With ``classes``, every estimator must have seen exactly those classes."""
    t0 = time.perf_counter()
    ests = _fit_parts(base, X, y, plan.parts, plan.seeds, n_jobs, sample_weight, progress)
    fit_time = time.perf_counter() - t0
    models = np.stack([_linear_rows(e, has_intercept, f"estimators_[{i}]") for i, e in enumerate(ests)])
    if classes is not None:
        for i, e in enumerate(ests):
            if not np.array_equal(getattr(e, "classes_", classes), classes):
                raise ValueError(f"estimators_[{i}] saw classes {e.classes_}, expected {classes}")
    return ests, models, fit_time


# ------------------------------------------------------------------ estimators


class _BaseRadonMachine(MetaEstimatorMixin, BaseEstimator):
    _required_parameters: list = []

    def __init__(
        self,
        estimator=None,
        *,
        height="auto",
        min_samples=100,
        aggregation="radon",
        multiclass="per_class",
        n_jobs=None,
        random_state=None,
        verbose=0,
    ):
        self.estimator = estimator
        self.height = height
        self.min_samples = min_samples
        self.aggregation = aggregation
        self.multiclass = multiclass
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    # subclasses set these
    _is_classifier = False

    def _default_estimator(self):  # pragma: no cover - overridden
        raise NotImplementedError

    def _base(self):
        return self._default_estimator() if self.estimator is None else self.estimator

    def _n_rows(self, y) -> int:
        """Rows of the base model's coef_: 1 for binary/single-target, k for k classes/targets."""
        if self._is_classifier:
            return 1 if len(self.classes_) == 2 else len(self.classes_)
        return 1 if y.ndim == 1 else y.shape[1]

    def _validate_params_radon(self):
        if isinstance(self.height, str):
            if self.height != "auto":
                raise ValueError(f"height must be 'auto' or a non-negative integer, got {self.height!r}")
        else:
            check_int(self.height, "height", minimum=0)
        check_int(self.min_samples, "min_samples", minimum=1)
        check_int(self.verbose, "verbose", minimum=0)
        _check_aggregation(self.aggregation)
        _check_multiclass(self.multiclass)
        base = self._base()
        if not hasattr(base, "fit"):
            raise TypeError(f"estimator must be a scikit-learn estimator with fit, got {type(base).__name__}")

    def _fit(self, X, y, sample_weight=None):
        self._validate_params_radon()
        base = self._base()
        if self._is_classifier:
            X, y = validate_data(self, X, y, accept_sparse=False, dtype="numeric", ensure_min_samples=2)
            check_classification_targets(y)
            self.classes_, counts = np.unique(y, return_counts=True)
            min_class = int(counts.min())
        else:
            X, y = validate_data(self, X, y, accept_sparse=False, dtype="numeric", multi_output=True, y_numeric=True)
            min_class = None
        if sample_weight is not None:
            if not has_fit_parameter(base, "sample_weight"):
                raise TypeError(f"sample_weight was given but {type(base).__name__}.fit does not accept sample_weight")
            sample_weight = np.asarray(sample_weight, dtype=np.float64)
            if sample_weight.ndim != 0 and sample_weight.shape != (X.shape[0],):
                raise ValueError(
                    f"sample_weight must have shape ({X.shape[0]},), one weight per sample, got {sample_weight.shape}"
                )
            # finite, non-negative, not all zero (NaN or negative weights would reach the parts silently)
            sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
        n, p = X.shape
        has_icpt = _has_intercept(base)
        k = self._n_rows(y)
        d = (p + has_icpt) * (k if self.multiclass == "joint" else 1)
        plan = _plan(n, d, self.height, self.min_samples, self.random_state, y if self._is_classifier else None)
        if plan.height == 0 and self.height == "auto":
            warnings.warn(
                f"height='auto': {n} examples are too few for r = {plan.r} parts of at least min_samples="
                f"{self.min_samples} examples"
                + (f" (smallest class: {min_class})" if min_class is not None else "")
                + "; fitting one estimator on all the data (height_ = 0)",
                FallbackWarning,
                stacklevel=3,
            )
        progress = f"fitting {len(plan.parts)} base models" if self.verbose else False
        self.estimators_, models, self.fit_time_ = _fit_plan(
            base, X, y, plan, has_icpt, n_jobs=self.n_jobs, sample_weight=sample_weight, progress=progress,
            classes=self.classes_ if self._is_classifier else None,
        )
        self.estimators_samples_ = plan.parts
        self.base_parameters_ = models
        self.aggregation_seed_ = plan.agg_seed
        self.height_ = plan.height
        self.n_models_ = len(plan.parts)
        self.radon_number_ = plan.r
        self.has_intercept_ = has_icpt
        if self.multiclass == "joint" and models.shape[1] * models.shape[2] != d:
            raise ValueError(
                f"multiclass='joint' expected base models with {k} coef_ row(s), got {models.shape[1]} "
                f"(from {type(base).__name__}); use multiclass='per_class'"
            )
        t0 = time.perf_counter()
        self._aggregate_models(models, self.aggregation, plan.agg_seed)
        self.aggregate_time_ = time.perf_counter() - t0
        return self

    def _aggregate_models(self, models, method, seed):
        h = self.height_
        if models.shape[0] == 1:
            rows = models[0]
        else:
            options = {"height": h, "rng": seed} if method == "radon" else {}
            rows = aggregate_parameters(models, method, multiclass=self.multiclass, **options)
        est = copy.deepcopy(self.estimators_[0])
        self._settable_ = _set_linear_rows(est, rows, self.has_intercept_)
        if not self._settable_ and rows.shape[0] != 1:
            raise TypeError(
                f"{type(est).__name__}'s coef_ cannot be set and its {rows.shape[0]} coef_ rows do not give a "
                "binary decision function (e.g. a one-vs-one SVC); use a binary problem or a linear "
                "estimator with a settable coef_ such as LinearSVC"
            )
        self.estimator_ = est
        self._rows_ = rows
        coef = rows[:, :-1] if self.has_intercept_ else rows
        shape = np.shape(self.estimators_[0].coef_)
        self.coef_ = coef.reshape(shape)
        icpt0 = getattr(self.estimators_[0], "intercept_", 0.0)
        if self.has_intercept_:
            icpt = rows[:, -1]
            self.intercept_ = float(icpt[0]) if np.ndim(icpt0) == 0 else icpt.reshape(np.shape(icpt0))
        else:
            self.intercept_ = copy.deepcopy(icpt0)

    def _linear_decision(self, X):
        out = _decision(self._rows_, self.has_intercept_, X)
        return out.ravel() if out.shape[1] == 1 else out

    def _checked(self, X):
        check_is_fitted(self)
        return validate_data(self, X, reset=False, accept_sparse=False, dtype="numeric")

    def predict(self, X):
        """Predict with the aggregated model (the base estimator's ``predict`` with the
        aggregated ``coef_`` and ``intercept_``)."""
        X = self._checked(X)
        if self._settable_:
            return self.estimator_.predict(X)
        dec = self._linear_decision(X)
        if self._is_classifier:
            return self.classes_[(dec > 0).astype(np.intp)]
        return dec

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags


class RadonMachineClassifier(ClassifierMixin, _BaseRadonMachine):
    r"""The Radon machine (Kamp et al., 2017) with a linear scikit-learn classifier.

    1. Split the training data into :math:`r^h` disjoint random parts, stratified by class
       so that every part sees every class (sizes differ by at most one per class).
    2. Fit ``clone(estimator)`` on every part, in parallel through
       :class:`sklearn.utils.parallel.Parallel` (so ``joblib.parallel_config(backend="dask")``
       runs it on a Dask cluster). Each clone with a ``random_state`` parameter gets its own
       seed drawn from ``random_state``.
    3. Write every model as a vector :math:`f_i = (w_i, b_i) \in \mathbb{R}^d`
       (``coef_`` with ``intercept_`` appended; :math:`d` = ``n_features + 1``, so
       :math:`r = d + 2` = ``n_features + 3``) and aggregate the :math:`r^h` vectors with the
       iterated Radon point of height :math:`h` (``aggregation="radon"``), or any other
       aggregator of :func:`radonml.aggregate` on the very same partition (``"mean"`` is the
       averaging baseline).

    If a group's Radon point has regret above :math:`\varepsilon` for a convex regret, at
    least two of its models do; with :math:`\delta` the probability that one base model
    does, the aggregate fails with probability at most :math:`(r\delta)^{2^h}`.

    **Multiclass.** A one-vs-rest (or multinomial) base model has a ``coef_`` of shape
    (k, n_features). ``multiclass="per_class"`` (default) aggregates each class's row with
    its intercept separately, as k problems in :math:`\mathbb{R}^{p+1}` with
    :math:`r = p + 3`: the guarantee holds per binary one-vs-rest problem, and the height
    stays that of a binary problem. ``multiclass="joint"`` aggregates all classes as one
    vector in :math:`\mathbb{R}^{k(p+1)}` (:math:`r = k(p+1) + 2`, so far more parts are
    needed per level); the aggregate is then one model of the whole multiclass loss, which
    is the coherent choice for multinomial models whose rows are coupled.

    Parameters
    ----------
    estimator : classifier with ``coef_`` and ``intercept_`` after fit, default LogisticRegression()
        E.g. LogisticRegression, LinearSVC, SGDClassifier, RidgeClassifier, or SVC(kernel="linear")
        (binary only: SVC's ``coef_`` cannot be set, so the aggregate predicts with its own
        linear decision function).
    height : "auto" or int >= 0, default "auto"
        :math:`h`. ``"auto"`` is the largest :math:`h` with
        :math:`\lfloor n / r^h \rfloor \ge` ``min_samples`` and :math:`r^h` at most the
        smallest class count. If that is 0, one estimator is fitted on all the data.
    min_samples : int, default 100
        Smallest part size for ``height="auto"``.
    aggregation : str or callable, default "radon"
        A name of :func:`radonml.available_aggregators` or ``fn(models) -> (d,)``.
    multiclass : {"per_class", "joint"}, default "per_class"
    n_jobs : int, optional
        Parallel jobs for fitting the base models (joblib semantics; ``None`` means 1 unless
        inside a ``joblib.parallel_config`` context).
    random_state : None, int or numpy.random.Generator
        Controls the partition, the base models' seeds and the Radon tree's grouping, drawn in
        this order from one stream.
    verbose : int, default 0
        ``>= 1``: show a progress bar (tqdm) while the base models are fitted.

    Attributes
    ----------
    estimators_ : list of fitted estimators
        The :math:`r^h` base models, in the order of the parts.
    estimators_samples_ : list of int64 ndarrays
        The partition: ``estimators_samples_[i]`` are the rows of ``X`` that ``estimators_[i]``
        was fitted on (ascending; disjoint; together all rows), as in scikit-learn's bagging
        estimators.
    base_parameters_ : (n_models_, k, d) ndarray of float64
        The base models as parameter rows (:func:`linear_parameters` of every ``estimators_``:
        ``coef_`` rows with the intercept appended), the points the aggregator combines.
        Re-aggregate them with :func:`aggregate_parameters`, e.g. with another method or after
        corrupting some, without refitting.
    aggregation_seed_ : int
        The seed of the Radon tree's grouping (the ``rng`` of :func:`aggregate_parameters`
        that reproduces ``coef_`` with ``aggregation="radon"``).
    has_intercept_ : bool
        Whether the base models fit an intercept (the last column of ``base_parameters_``).
    estimator_ : fitted estimator
        A copy of ``estimators_[0]`` carrying the aggregated ``coef_`` and ``intercept_``;
        ``predict``, ``predict_proba`` and ``decision_function`` delegate to it. (Its other
        fitted attributes, e.g. ``n_iter_``, are those of ``estimators_[0]``.)
    coef_, intercept_ : ndarray
        The aggregate, in the base estimator's shapes.
    classes_ : (k,) ndarray
    height_ : int
    n_models_ : int
        :math:`r^h`.
    radon_number_ : int
        :math:`r`.
    fit_time_, aggregate_time_ : float
        Wall seconds spent fitting the base models and aggregating them.

    Notes
    -----
    Large inputs: each task receives only its part's rows, gathered from ``X`` as the task
    is dispatched (a few parts at a time), so no worker holds more than the parts it fits and
    ``X`` itself is never copied (an ``np.memmap`` input, e.g. from
    ``np.load(..., mmap_mode="r")``, is read in place). This also spares joblib's loky
    backend hashing and memory-mapping the whole ``X`` on every ``fit``.

    scikit-learn compatibility: ``parametrize_with_checks`` passes with the default base
    estimators (tests/test_sklearn.py). With a base estimator that is not exact under sample
    weights (e.g. LinearSVC), ``check_sample_weight_equivalence_on_dense_data`` fails, as it
    does for the base estimator itself, and also because repeating rows changes the random
    partition when ``height_ >= 1``.

    References
    ----------
    Kamp, Boley, Missura, Gärtner, "Effective Parallelisation for Machine Learning", NeurIPS 2017.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> X, y = make_classification(10000, n_features=5, random_state=0)
    >>> rm = RadonMachineClassifier(random_state=0).fit(X, y)
    >>> rm.radon_number_, rm.height_, rm.n_models_
    (8, 2, 64)
    >>> bool(rm.score(X, y) > 0.8)
    True

    The same base models, averaged instead, without refitting:

    >>> rm.base_parameters_.shape, len(rm.estimators_samples_)
    ((64, 1, 6), 64)
    >>> mean = aggregate_parameters(rm.base_parameters_, "mean")
    >>> bool(np.allclose(mean, rm.base_parameters_.mean(axis=0)))
    True
    >>> again = aggregate_parameters(rm.base_parameters_, "radon", height=2, rng=rm.aggregation_seed_)
    >>> bool(np.array_equal(again[0], np.r_[rm.coef_[0], rm.intercept_]))
    True
    """

    _is_classifier = True

    def _default_estimator(self):
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression()

    def fit(self, X, y, sample_weight=None):
        """Fit the base models on :math:`r^h` stratified parts and aggregate them.

        Parameters
        ----------
        X : (n_samples, n_features) array-like
        y : (n_samples,) array-like of class labels
        sample_weight : (n_samples,) array-like, optional
            Passed (per part) to the base estimator's ``fit``.

        Returns
        -------
        self
        """
        return self._fit(X, y, sample_weight)

    def _base_has(name):
        def check(self):
            if hasattr(self, "estimator_"):
                return self._settable_ and hasattr(self.estimator_, name) or (
                    not self._settable_ and name == "decision_function"
                )
            return hasattr(self._base(), name)

        return check

    @available_if(_base_has("decision_function"))
    def decision_function(self, X):
        """Decision function of the aggregated model."""
        X = self._checked(X)
        if self._settable_:
            return self.estimator_.decision_function(X)
        return self._linear_decision(X)

    @available_if(_base_has("predict_proba"))
    def predict_proba(self, X):
        """Class probabilities of the aggregated model."""
        X = self._checked(X)
        return self.estimator_.predict_proba(X)

    @available_if(_base_has("predict_log_proba"))
    def predict_log_proba(self, X):
        """Log class probabilities of the aggregated model."""
        X = self._checked(X)
        return self.estimator_.predict_log_proba(X)

    del _base_has


class RadonMachineRegressor(RegressorMixin, _BaseRadonMachine):
    r"""The Radon machine (Kamp et al., 2017) with a linear scikit-learn regressor.

    As :class:`RadonMachineClassifier`, with random (unstratified) parts and
    ``Ridge()`` as the default base estimator. A multi-output base model (``coef_`` of shape
    (n_targets, n_features)) is aggregated per target by default
    (``multiclass="per_class"``; ``"joint"`` aggregates all targets as one vector).

    Parameters
    ----------
    estimator : regressor with ``coef_`` and ``intercept_`` after fit, default Ridge()
        E.g. Ridge, LinearRegression, SGDRegressor, Lasso, HuberRegressor.
    height, min_samples, aggregation, multiclass, n_jobs, random_state, verbose
        As in :class:`RadonMachineClassifier`.

    Attributes
    ----------
    estimators_, estimators_samples_, base_parameters_, aggregation_seed_, has_intercept_
        As in :class:`RadonMachineClassifier`.
    estimator_, coef_, intercept_, height_, n_models_, radon_number_, fit_time_, aggregate_time_
        As in :class:`RadonMachineClassifier`.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((20000, 3))
    >>> y = X @ [1.0, -2.0, 0.5] + 3.0 + 0.1 * rng.standard_normal(20000)
    >>> rm = RadonMachineRegressor(random_state=0).fit(X, y)
    >>> rm.n_models_, np.round(rm.coef_, 1).tolist(), round(float(rm.intercept_), 1)
    (36, [1.0, -2.0, 0.5], 3.0)
    """

    def _default_estimator(self):
        from sklearn.linear_model import Ridge

        return Ridge()

    def fit(self, X, y, sample_weight=None):
        """Fit the base models on :math:`r^h` random parts and aggregate them.

        Parameters
        ----------
        X : (n_samples, n_features) array-like
        y : (n_samples,) or (n_samples, n_targets) array-like
        sample_weight : (n_samples,) array-like, optional

        Returns
        -------
        self
        """
        return self._fit(X, y, sample_weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True  # y of shape (n, n_targets): per-target aggregation
        return tags


# ------------------------------------------------------------------ aggregate_estimators


def aggregate_estimators(estimators, method="radon", *, multiclass="per_class", **options):
    r"""Aggregate fitted linear estimators, e.g. trained at different sites, into one.

    Every estimator is written as :math:`(w_i, b_i)` (``coef_`` with ``intercept_`` appended)
    and the :math:`m` vectors are aggregated with :func:`radonml.aggregate` (per class row,
    or jointly; see :class:`RadonMachineClassifier`). With ``method="radon"`` the iterated
    Radon point uses the largest height :math:`h` with :math:`r^h \le m` and, by default,
    :math:`r^h` of the models drawn at random (options ``height``, ``rng``, ``remainder``
    of :func:`radonml.iterated_radon_point` are passed on). Per class, every row is
    aggregated from the same models in the same groups: one seed (``rng`` itself when it is
    an int, else one drawn from it) serves all rows. Give ``rng`` for a reproducible result.

    Parameters
    ----------
    estimators : sequence of fitted estimators of one class
        With equal ``coef_`` shapes, equal ``classes_`` (classifiers) and equal
        ``fit_intercept``.
    method : str or callable, default "radon"
        Any name of :func:`radonml.available_aggregators`, or a callable.
    multiclass : {"per_class", "joint"}, default "per_class"
    **options
        Passed on to the aggregator.

    Returns
    -------
    estimator
        A copy of ``estimators[0]`` whose ``coef_`` and ``intercept_`` are the aggregate;
        the inputs are not modified.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LinearRegression
    >>> X = np.arange(8.0).reshape(-1, 1)
    >>> a = LinearRegression().fit(X, 2 * X.ravel())
    >>> b = LinearRegression().fit(X, 4 * X.ravel() + 2)
    >>> m = aggregate_estimators([a, b], "mean")
    >>> round(float(m.coef_[0]), 6), round(float(m.intercept_), 6)
    (3.0, 1.0)
    """
    _check_multiclass(multiclass)
    method = _check_aggregation(method)
    if isinstance(estimators, BaseEstimator) or not hasattr(estimators, "__len__"):
        raise TypeError(f"estimators must be a sequence of fitted estimators, got {type(estimators).__name__}")
    estimators = list(estimators)
    if len(estimators) == 0:
        raise ValueError("estimators must hold at least one fitted estimator, got an empty sequence")
    first = estimators[0]
    cls = type(first)
    has_icpt = _has_intercept(first)
    rows = []
    for i, e in enumerate(estimators):
        if type(e) is not cls:
            raise TypeError(f"estimators must all be of one class; estimators[0] is {cls.__name__}, "
                            f"estimators[{i}] is {type(e).__name__}")
        if _has_intercept(e) != has_icpt:
            raise ValueError(f"estimators[{i}] has fit_intercept={_has_intercept(e)}, estimators[0] has {has_icpt}")
        if hasattr(first, "classes_") and not np.array_equal(getattr(e, "classes_", None), first.classes_):
            raise ValueError(
                f"estimators[{i}] has classes_ {getattr(e, 'classes_', None)}, estimators[0] has {first.classes_}"
            )
        rows.append(_linear_rows(e, has_icpt, f"estimators[{i}]"))
        if rows[-1].shape != rows[0].shape:
            raise ValueError(
                f"estimators[{i}].coef_ has shape {np.shape(e.coef_)}, estimators[0].coef_ has {np.shape(first.coef_)}"
            )
    models = np.stack(rows)
    agg = models[0] if len(estimators) == 1 else aggregate_parameters(models, method, multiclass=multiclass, **options)
    out = copy.deepcopy(first)
    if not _set_linear_rows(out, agg, has_icpt):
        raise TypeError(
            f"{cls.__name__}'s coef_ cannot be set (it is computed from other fitted attributes), so the "
            "aggregate cannot be returned as this class; aggregate the coef_/intercept_ vectors with "
            "radonml.aggregate instead"
        )
    return out
