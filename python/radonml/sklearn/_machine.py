"""The Radon machine as scikit-learn meta-estimators (private module of :mod:`radonml.sklearn`;
the public names are re-exported there)."""

from __future__ import annotations

import copy
import math
import numbers
import time
import warnings
from typing import NamedTuple

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, RegressorMixin, clone
from sklearn.pipeline import Pipeline
from sklearn.utils import get_tags
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, has_fit_parameter, validate_data

from .._validation import check_int, check_rng
from ..aggregators import accepts_option
from ..exceptions import FallbackWarning
from ._attacks import byzantine_parts, check_attack_fits, check_corrupt, corrupt_models, corrupt_parts
from ._feature_map import check_feature_map_samples, sample_rows, seed_unseeded, split_pipeline
from ._parameters import (
    FALLBACK,
    LINEAR_EXAMPLES,
    aggregate_parameters,  # noqa: F401 - used by the class docstrings' examples
    aggregate_rows,
    check_aggregation,
    check_aggregation_options,
    check_multiclass,
    choose_aggregation,
    decision,
    has_intercept,
    is_libsvm,
    is_one_vs_one,
    linear_family,
    linear_rows,
    ovo_to_ovr,
    ovo_votes,
    set_linear_rows,
    shared_seed,
)

__all__ = ["RadonMachineClassifier", "RadonMachineRegressor", "check_random_state"]


# ------------------------------------------------------------------ options


def check_random_state(random_state, name: str = "random_state") -> np.random.Generator:
    """``random_state`` (None, an int >= 0, a SeedSequence, a numpy Generator or RandomState)
    as a Generator; anything else is a TypeError naming ``name``."""
    ok = (
        random_state is None
        or isinstance(random_state, (np.random.Generator, np.random.RandomState, np.random.SeedSequence))
        or (isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool))
    )
    if not ok:
        raise TypeError(
            f"{name} must be None, an int seed >= 0, a numpy.random.Generator or RandomState, "
            f"got {random_state!r} of type {type(random_state).__name__}"
        )
    if isinstance(random_state, numbers.Integral) and random_state < 0:
        raise ValueError(f"{name} must be None, an int seed >= 0 or a numpy.random.Generator, got {random_state}")
    return check_rng(random_state)


def _check_height(height):
    if isinstance(height, str):
        if height != "auto":
            raise ValueError(f"height must be 'auto' or a non-negative integer, got {height!r}")
        return height
    return check_int(height, "height", minimum=0)


def _check_height_fits(height, n: int) -> None:
    """Refuse a height whose r^h parts cannot all get a row, before computing r^h (which for
    h = 10^8 is a number of tens of millions of digits): r >= 3 always, so h needs
    3^h <= n."""
    if height == "auto" or height == 0:
        return
    if height * math.log(3) > math.log(n) + 1e-12:
        digits = int(height * math.log10(3)) + 1
        raise ValueError(
            f"height={height} needs r^height parts, at least 3^{height} (r = d + 2 >= 3; "
            + (f"{3**height}" if digits <= 30 else f"a number of {digits} digits")
            + f"), but there are n = {n} rows and every part needs at least one; use a height of at most "
            f"{int(math.log(n) / math.log(3) + 1e-9)} or height='auto'"
        )


# ------------------------------------------------------------------ the partition and the fits


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


def _fit_block(estimator, X, y, sample_weight, seed, feature_map=None):
    """Fit ``clone(estimator)`` (with ``random_state=seed`` where it has one) on one part's
    rows, mapped through the fitted ``feature_map`` first when there is one; ``X``, ``y``
    and ``sample_weight`` are arrays or :class:`_Rows`."""
    X, y, sample_weight = (_own(a.array if isinstance(a, _Rows) else a) for a in (X, y, sample_weight))
    if feature_map is not None:
        X = feature_map.transform(X)
    est = clone(estimator)
    if seed is not None and "random_state" in est.get_params(deep=False):
        est.set_params(random_state=int(seed))
    if sample_weight is None:
        return est.fit(X, y)
    return est.fit(X, y, sample_weight=sample_weight)


def _fit_parts(estimator, X, y, parts, seeds, n_jobs=None, sample_weight=None, progress=False, feature_map=None,
               replaced=None):
    """Fit ``clone(estimator)`` on ``X[idx], y[idx]`` for every ``idx`` in ``parts`` through
    ``sklearn.utils.parallel.Parallel``; part ``i`` in ``replaced`` is fitted on
    ``replaced[i] = (X_i, y_i)`` instead (a data-level attack's copy of its rows).

    Each task gets only its own rows, gathered here lazily as joblib dispatches it (at most
    ``pre_dispatch`` parts exist at once besides ``X``) and sent as raw bytes
    (:class:`_Rows`): no worker ever holds more than its parts. Sending ``X`` whole instead
    made joblib hash and memory-map it on every ``fit`` (0.19 s + 0.08 s in the parent for
    10^6 x 18 float64 before any worker started, against 0.8 s of fitting in all at height 1),
    which capped the parallel efficiency at 2 workers near 60%; see benchmarks/sklearn.md,
    section 2. The rows and their order are those of ``X[idx]``, so the fits are the same.
    With a shared ``feature_map``, each task maps its own rows (in parallel, and no mapped
    copy of ``X`` is ever held)."""
    replaced = replaced or {}

    def rows(i, idx):
        Xi, yi = replaced[i] if i in replaced else (X[idx], y[idx])
        return _Rows(Xi), _Rows(yi)

    tasks = (
        delayed(_fit_block)(
            estimator, *rows(i, idx), None if sample_weight is None else _Rows(sample_weight[idx]), seed, feature_map,
        )
        for i, (idx, seed) in enumerate(zip(parts, seeds))
    )
    if not progress:
        return Parallel(n_jobs=n_jobs)(tasks)
    from tqdm.auto import tqdm

    out = Parallel(n_jobs=n_jobs, return_as="generator")(tasks)
    desc = progress if isinstance(progress, str) else "fitting base models"
    return list(tqdm(out, total=len(parts), desc=desc, unit="model", leave=False))


def _auto_height(n: int, r: int, min_samples: int, min_class_count=None) -> int:
    """Largest h with floor(n / r^h) >= min_samples (and, for classifiers, r^h <= the
    smallest class count, so every part sees every class). Bounded: r >= 3, so h <= log3(n)."""
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
        _check_height_fits(h, n)
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


def _fit_plan(base, X, y, plan: _Plan, intercept: bool, *, n_jobs=None, sample_weight=None, progress=False,
              classes=None, feature_map=None, replaced=None):
    """Fit ``clone(base)`` on every part of ``plan`` (through ``feature_map`` when given;
    the parts in ``replaced`` on their replaced rows, see :func:`_fit_parts`).
    Returns the fitted estimators, their models as an (r^h, k, p [+1]) array
    (:func:`linear_rows`) and the wall seconds of the fits. With ``classes``, every
    estimator must have seen exactly those classes."""
    t0 = time.perf_counter()
    ests = _fit_parts(base, X, y, plan.parts, plan.seeds, n_jobs, sample_weight, progress, feature_map, replaced)
    fit_time = time.perf_counter() - t0
    models = np.stack([linear_rows(e, intercept, f"estimators_[{i}]") for i, e in enumerate(ests)])
    if classes is not None:
        for i, e in enumerate(ests):
            if not np.array_equal(getattr(e, "classes_", classes), classes):
                raise ValueError(f"estimators_[{i}] saw classes {e.classes_}, expected {classes}")
    return ests, models, fit_time


def _probe_rows(y, classifier: bool) -> np.ndarray:
    """A few rows to fit a probe on: the first 10 of every class, or the first 20."""
    if not classifier:
        return np.arange(min(len(y), 20))
    return np.sort(np.concatenate([np.flatnonzero(y == c)[:10] for c in np.unique(y)]))


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
        aggregation_options=None,
        multiclass="per_class",
        feature_map_samples=None,
        corrupt=None,
        n_jobs=None,
        random_state=None,
        verbose=0,
    ):
        self.estimator = estimator
        self.height = height
        self.min_samples = min_samples
        self.aggregation = aggregation
        self.aggregation_options = aggregation_options
        self.multiclass = multiclass
        self.corrupt = corrupt
        self.feature_map_samples = feature_map_samples
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    # subclasses set these
    _is_classifier = False

    def _default_estimator(self):  # pragma: no cover - overridden
        raise NotImplementedError

    def _base(self):
        return self._default_estimator() if self.estimator is None else self.estimator

    def _final(self):
        """The base estimator's linear model: the last step of a Pipeline, else itself."""
        return split_pipeline(self._base())[1]

    def _n_rows(self, y, final) -> int:
        """Rows of the base model's coef_: 1 for binary/single-target, k for k classes/targets,
        k(k-1)/2 for libsvm's one-vs-one classifiers."""
        if self._is_classifier:
            k = len(self.classes_)
            if k == 2:
                return 1
            return k * (k - 1) // 2 if is_one_vs_one(final, k) else k
        return 1 if y.ndim == 1 else y.shape[1]

    def _check_robust(self):
        """``aggregation``, ``aggregation_options`` (their names, through the registry) and
        ``corrupt``, before the data is looked at: (options, Attack or None)."""
        check_aggregation(self.aggregation)
        options = check_aggregation_options(self.aggregation, self.aggregation_options)
        attack = check_corrupt(self.corrupt, options)
        if attack is not None and attack.kind == "data" and not self._is_classifier and attack.name == "label_flip":
            raise ValueError(
                f"corrupt={attack!r} flips class labels, but {type(self).__name__} learns a continuous target; "
                "use a model-level attack (radonml.attacks.available_attacks('model'))"
            )
        return options, attack

    def _check_params(self):
        """Every option, before the data is looked at."""
        _check_height(self.height)
        check_int(self.min_samples, "min_samples", minimum=1)
        check_int(self.verbose, "verbose", minimum=0)
        options, attack = self._check_robust()
        check_multiclass(self.multiclass)
        check_feature_map_samples(self.feature_map_samples)
        check_random_state(self.random_state)
        base = self._base()
        if not hasattr(base, "fit"):
            raise TypeError(f"estimator must be a scikit-learn estimator with fit, got {type(base).__name__}")
        feature_map, final = split_pipeline(base)
        if feature_map is None and self.feature_map_samples is not None:
            raise ValueError(
                f"feature_map_samples={self.feature_map_samples!r} applies to a Pipeline estimator (its steps before "
                f"the last are the shared feature map), but estimator is {type(base).__name__}"
            )
        if not hasattr(final, "fit"):
            raise TypeError(f"estimator's last step must be an estimator with fit, got {type(final).__name__}")
        kind = getattr(get_tags(final), "estimator_type", None) if hasattr(final, "__sklearn_tags__") else None
        mine = "classifier" if self._is_classifier else "regressor"
        if kind in ("classifier", "regressor") and kind != mine:
            other = "RadonMachineRegressor" if self._is_classifier else "RadonMachineClassifier"
            raise TypeError(
                f"{type(self).__name__} needs a {mine} as its (last) estimator, got the {kind} "
                f"{type(final).__name__}; use {other}"
            )
        known, reason = linear_family(final)
        if known is False:
            raise TypeError(f"estimator cannot be aggregated: {reason}")
        return base, feature_map, final, known, options, attack

    def _check_sample_weight(self, sample_weight, X, final):
        if sample_weight is None:
            return None
        if not has_fit_parameter(final, "sample_weight"):
            raise TypeError(f"sample_weight was given but {type(final).__name__}.fit does not accept sample_weight")
        sw = np.asarray(sample_weight)
        if sw.ndim == 0:  # a scalar weights every row alike
            sw = np.full(X.shape[0], sw, dtype=np.float64 if sw.dtype.kind in "biuf" else sw.dtype)
        elif sw.shape != (X.shape[0],):
            raise ValueError(
                f"sample_weight must have shape ({X.shape[0]},), one weight per sample, or be a scalar, got {sw.shape}"
            )
        # finite, non-negative, not all zero (NaN or negative weights would reach the parts silently)
        return _check_sample_weight(sw, X, dtype=np.float64, ensure_non_negative=True)

    def _probe(self, final, feature_map, X, y):
        """Fit ``final`` on a few rows to see whether it has ``coef_``: the base estimators
        radonml does not know are refused before any part is fitted."""
        idx = _probe_rows(y, self._is_classifier)
        Xp = X[idx] if feature_map is None else feature_map.transform(X[idx])
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                est = clone(final).fit(Xp, y[idx])
        except Exception:  # too few rows for this estimator: the fitted parts will tell
            return
        if getattr(est, "coef_", None) is None:
            raise TypeError(
                f"estimator must be a linear model that exposes coef_ (and intercept_) after fit, such as "
                f"{LINEAR_EXAMPLES}; got {type(final).__name__}, which has no coef_ after fit (checked on "
                f"{len(idx)} rows before fitting any part)"
            )

    def _fit(self, X, y, sample_weight=None):
        base, feature_map, final, known, options, attack = self._check_params()
        X, y, min_class = self._validate_training_data(X, y)
        n, p = X.shape
        _check_height_fits(self.height, n)
        sample_weight = self._check_sample_weight(sample_weight, X, final)
        gen = check_random_state(self.random_state)
        t0 = time.perf_counter()
        feature_map, n_out = self._fit_feature_map(feature_map, X, y, gen)
        self.feature_map_ = feature_map
        self.feature_map_time_ = time.perf_counter() - t0
        if known is None:
            self._probe(final, feature_map, X, y)

        intercept = has_intercept(final)
        k = self._n_rows(y, final)
        d = (n_out + intercept) * (k if self.multiclass == "joint" else 1)
        plan = _plan(n, d, self.height, self.min_samples, gen, y if self._is_classifier else None)
        if plan.height == 0 and self.height == "auto":
            warnings.warn(
                f"height='auto': {n} examples are too few for r = {plan.r} parts of at least min_samples="
                f"{self.min_samples} examples"
                + (f" (smallest class: {min_class})" if min_class is not None else "")
                + "; fitting one estimator on all the data (height_ = 0)",
                FallbackWarning,
                stacklevel=3,
            )
        n_models = len(plan.parts)
        # the aggregator and the attack, checked at this number of models before any part is fitted
        options = self._machine_options(options, plan, n_models)
        choice = choose_aggregation(self.aggregation, options, n_models, d, FALLBACK)
        mask, replaced, attack_gen = np.zeros(n_models, dtype=bool), None, None
        self.attack_, self.attack_seed_ = attack, None
        if attack is not None:
            check_attack_fits(attack, n_models)
            self.attack_seed_ = int(gen.integers(0, 2**31 - 1))  # drawn after the plan's: corrupt=None changes nothing
            attack_gen = np.random.default_rng(self.attack_seed_)
            mask = byzantine_parts(attack, n_models, attack_gen)
            if attack.kind == "data":
                replaced = corrupt_parts(attack, X, y, plan.parts, mask, attack_gen,
                                         self.classes_ if self._is_classifier else None)
        self.byzantine_ = mask
        progress = f"fitting {n_models} base models" if self.verbose else False
        finals, models, self.fit_time_ = _fit_plan(
            final, X, y, plan, intercept, n_jobs=self.n_jobs, sample_weight=sample_weight, progress=progress,
            classes=self.classes_ if self._is_classifier else None, feature_map=feature_map, replaced=replaced,
        )
        self.estimators_ = finals if feature_map is None else [self._with_feature_map(e) for e in finals]
        self.estimators_samples_ = plan.parts
        self.base_parameters_ = models
        self.aggregation_seed_ = plan.agg_seed
        self.height_ = plan.height
        self.n_models_ = len(plan.parts)
        self.radon_number_ = plan.r
        self.has_intercept_ = intercept
        if self.multiclass == "joint" and models.shape[1] * models.shape[2] != d:
            raise ValueError(
                f"multiclass='joint' expected base models with {k} coef_ row(s), got {models.shape[1]} "
                f"(from {type(final).__name__}); use multiclass='per_class'"
            )
        if attack is not None and attack.kind == "model":
            models = corrupt_models(models, attack, mask, attack_gen, self.multiclass, choice.used, choice.options)
        self.corrupted_parameters_ = models
        t0 = time.perf_counter()
        self._aggregate_models(finals[0], models, self.aggregation, options)
        self.aggregate_time_ = time.perf_counter() - t0
        return self

    def _validate_training_data(self, X, y):
        """(X, y, size of the smallest class or None), validated as scikit-learn does; sets
        ``classes_`` for a classifier."""
        finite = "allow-nan" if get_tags(self).input_tags.allow_nan else True
        if self._is_classifier:
            X, y = validate_data(self, X, y, accept_sparse=False, dtype="numeric", ensure_min_samples=2,
                                 ensure_all_finite=finite)
            check_classification_targets(y)
            self.classes_, counts = np.unique(y, return_counts=True)
            return X, y, int(counts.min())
        multi = bool(get_tags(self).target_tags.multi_output)
        X, y = validate_data(self, X, y, accept_sparse=False, dtype="numeric", multi_output=multi,
                             y_numeric=True, ensure_all_finite=finite)
        return X, y, None

    def _fit_feature_map(self, feature_map, X, y, gen):
        """The shared feature map, fitted once (on all rows or a sample) and the same for every
        part, and the number of features it outputs; ``(None, X.shape[1])`` without one."""
        if feature_map is None:
            return None, X.shape[1]
        feature_map = seed_unseeded(clone(feature_map), gen)
        rows = sample_rows(X.shape[0], check_feature_map_samples(self.feature_map_samples), gen)
        if rows is None:
            feature_map.fit(X, y)
        else:
            feature_map.fit(X[rows], y[rows])
        Z1 = feature_map.transform(X[:1])
        if getattr(Z1, "ndim", 2) != 2:
            raise ValueError(f"the feature map (the steps before the last) must output 2-D data, got shape "
                             f"{np.shape(Z1)}")
        return feature_map, int(Z1.shape[1])

    def _machine_options(self, options: dict, plan: _Plan, n_models: int) -> dict:
        """The aggregator's options: the user's, and what the Radon machine sets unless they
        do: the tree's seed ``aggregation_seed_`` for a rule that takes ``rng``, and for
        ``"radon"`` on exactly :math:`r^h` models the height with ``remainder="drop"`` (which
        then drops none)."""
        options = dict(options)
        method = self.aggregation
        if isinstance(method, str) and accepts_option(method, "rng"):
            options.setdefault("rng", plan.agg_seed)
        if method == "radon" and n_models > 1:
            options.setdefault("height", plan.height)
            options.setdefault("remainder", "drop")
        return shared_seed(method, options)  # a generator given as rng: one seed for every row and the attack

    def _with_feature_map(self, final):
        """A fitted Pipeline of the shared feature map's steps (the same objects) and ``final``."""
        base = self._base()
        params = {k: v for k, v in base.get_params(deep=False).items() if k != "steps"}
        return Pipeline(list(self.feature_map_.steps) + [(base.steps[-1][0], final)], **params)

    def _aggregate_models(self, first, models, method, options):
        if models.shape[0] == 1:
            rows, self.aggregation_used_ = models[0], None
        else:
            # through the registry's aggregate_with_fallback: a rule whose condition fails at this number of
            # models (krum with n < 2f + 3, ...) falls back with a FallbackWarning; the rule used is recorded
            rows, self.aggregation_used_ = aggregate_rows(models, method, self.multiclass, options, FALLBACK)
        final = copy.deepcopy(first)
        settable = set_linear_rows(final, rows, self.has_intercept_)
        self._ovo_ = self._is_classifier and not settable and rows.shape[0] > 1
        if self._ovo_ and not is_one_vs_one(first, len(self.classes_)):
            raise TypeError(
                f"{type(first).__name__}'s coef_ cannot be set and its {rows.shape[0]} coef_ rows do not give a "
                "decision function radonml knows; use a linear estimator with a settable coef_ such as LinearSVC"
            )
        self._final_ = final if settable else None
        self._rows_ = rows
        if not settable:
            self.estimator_ = None
        elif self.feature_map_ is None:
            self.estimator_ = final
        else:
            self.estimator_ = self._with_feature_map(final)
        coef = rows[:, :-1] if self.has_intercept_ else rows
        shape = np.shape(first.coef_)
        self.coef_ = coef.reshape(shape)
        icpt0 = getattr(first, "intercept_", 0.0)
        if self.has_intercept_:
            icpt = rows[:, -1]
            self.intercept_ = float(icpt[0]) if np.ndim(icpt0) == 0 else icpt.reshape(np.shape(icpt0))
        else:
            self.intercept_ = copy.deepcopy(icpt0)

    def _features(self, X):
        """``X`` validated as at fit, mapped through the shared feature map."""
        check_is_fitted(self)
        finite = "allow-nan" if get_tags(self).input_tags.allow_nan else True
        X = validate_data(self, X, reset=False, accept_sparse=False, dtype="numeric", ensure_all_finite=finite)
        return X if self.feature_map_ is None else self.feature_map_.transform(X)

    def _linear_decision(self, Z):
        """Decision scores of the aggregate computed from its rows (coef_ not settable)."""
        dec = decision(self._rows_, self.has_intercept_, Z)
        if self._ovo_:
            shape = self._final().get_params(deep=False).get("decision_function_shape", "ovr")
            return ovo_to_ovr(dec, len(self.classes_)) if shape == "ovr" else dec
        return dec.ravel() if dec.shape[1] == 1 else dec

    def predict(self, X):
        """Predict with the aggregated model (the base estimator's ``predict`` with the
        aggregated ``coef_`` and ``intercept_``, after the shared feature map)."""
        Z = self._features(X)
        if self._final_ is not None:
            return self._final_.predict(Z)
        if not self._is_classifier:
            return self._linear_decision(Z)
        if self._ovo_:
            dec = decision(self._rows_, self.has_intercept_, Z)
            params = self._final().get_params(deep=False)
            if params.get("break_ties") and params.get("decision_function_shape") == "ovr":
                scores = ovo_to_ovr(dec, len(self.classes_))
            else:  # libsvm's vote: the most votes, the lowest class index on a tie
                scores = ovo_votes(dec, len(self.classes_))
            return self.classes_[np.argmax(scores, axis=1)]
        return self.classes_[(self._linear_decision(Z) > 0).astype(np.intp)]

    def __sklearn_tags__(self):
        # a meta-estimator's tags are its base estimator's (scikit-learn's convention), except
        # what the Radon machine itself decides: dense input only
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        base = self._base()
        steps = [s for _, s in base.steps if s is not None and not (isinstance(s, str) and s == "passthrough")] \
            if isinstance(base, Pipeline) else [base]
        try:
            first, final = get_tags(steps[0]), get_tags(split_pipeline(base)[1])
        except Exception:  # not a scikit-learn estimator: fit refuses it with a clear message
            return tags
        # what X may hold is decided by the step that sees X first; what y may hold, by the last.
        # Missing values must also get past the last step: it takes them, or an imputer comes before it
        # (a scaler lets NaN through to a model that refuses them)
        imputed = any(type(s).__module__.startswith("sklearn.impute") for s in steps[:-1])
        tags.input_tags.allow_nan = first.input_tags.allow_nan and (final.input_tags.allow_nan or imputed)
        tags.input_tags.positive_only = first.input_tags.positive_only
        tags.target_tags.positive_only = final.target_tags.positive_only
        tags.target_tags.single_output = final.target_tags.single_output
        tags.non_deterministic = any(get_tags(s).non_deterministic for s in steps)
        if self._is_classifier and tags.classifier_tags is not None and final.classifier_tags is not None:
            tags.classifier_tags.poor_score = final.classifier_tags.poor_score
            tags.classifier_tags.multi_class = final.classifier_tags.multi_class
        if not self._is_classifier:
            tags.target_tags.multi_output = final.target_tags.multi_output
            if tags.regressor_tags is not None and final.regressor_tags is not None:
                tags.regressor_tags.poor_score = final.regressor_tags.poor_score
        return tags


def _final_has(name):
    """available_if: whether the aggregate offers method ``name``."""

    def check(self):
        if hasattr(self, "_final_"):  # fitted
            if self._final_ is not None:
                return hasattr(self._final_, name)
            return name == "decision_function"
        final = self._final()
        if is_libsvm(final):  # the aggregate of libsvm models is computed from its rows
            return name == "decision_function"
        return hasattr(final, name)

    return check


_CLASSIFIER_DOC = r"""The Radon machine (Kamp et al., 2017) with a linear scikit-learn classifier.

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

    **Pipelines: a shared feature map.** ``estimator`` may be a
    :class:`~sklearn.pipeline.Pipeline` whose last step is linear, e.g.
    ``make_pipeline(StandardScaler(), LogisticRegression())``. The steps before the last
    are the *feature map* :math:`\phi`: they are fitted **once** (on all training rows, or
    on ``feature_map_samples`` of them) and shared by every part, so that all base models
    live in one space, :math:`f_i(x) = w_i^\top \phi(x) + b_i`; only the last step is fitted
    per part and aggregated. ``d`` is then the feature map's output dimension (+ 1). The
    result predicts through the shared steps (``estimator_`` is the fitted pipeline with the
    aggregated last step; ``feature_map_`` its steps before the last).

    **Kernel Radon machine.** A linear model on a fixed random feature map is a non-linear
    model: ``make_pipeline(RBFSampler(gamma=..., n_components=D), LinearSVC())`` (random
    Fourier features, Rahimi & Recht 2007), ``Nystroem`` (fitted once, on a sample),
    ``PolynomialCountSketch`` or ``SplineTransformer`` give a kernel machine whose base models
    are vectors of :math:`\mathbb{R}^{D+1}`, so :math:`r = D + 3`. The trade-off: a larger
    :math:`D` approximates the kernel better, but every level of the tree then needs
    :math:`D + 3` times more parts, each part has :math:`n / (D+3)^h` rows, and a base model
    of :math:`D` features needs several times :math:`D` rows to be good. With
    :math:`n` rows, height 1 and parts of at least :math:`c D` rows need
    :math:`n \ge c D (D + 3)`: for :math:`n = 50{,}000` and :math:`c = 10`,
    :math:`D \approx 65`. A few dozen to a hundred features at height 1 work well on
    low-dimensional data (benchmarks/sklearn.md, sections 7 and 8); ``min_samples`` should then be
    several times :math:`D`. scikit-learn's ``C`` (and ``alpha`` of Ridge) weighs a *sum* over
    rows: a part of :math:`n / r^h` rows is regularised :math:`r^h` times more strongly than
    one model on all rows with the same ``C``; raise ``C`` accordingly when the parts are
    small.

    **Multiclass.** A one-vs-rest (or multinomial) base model has a ``coef_`` of shape
    (k, n_features). ``multiclass="per_class"`` (default) aggregates each class's row with
    its intercept separately, as k problems in :math:`\mathbb{R}^{p+1}` with
    :math:`r = p + 3`: the guarantee holds per binary one-vs-rest problem, and the height
    stays that of a binary problem. ``multiclass="joint"`` aggregates all classes as one
    vector in :math:`\mathbb{R}^{k(p+1)}` (:math:`r = k(p+1) + 2`, so far more parts are
    needed per level); the aggregate is then one model of the whole multiclass loss, which
    is the coherent choice for multinomial models whose rows are coupled. A one-vs-one
    ``SVC(kernel="linear")`` has one row per pair of classes; the aggregate votes as
    libsvm does.

    **Robust aggregators.** ``aggregation`` may be any rule of the registry
    (:func:`radonml.aggregate`), a pipeline of pre-aggregators ending in one (``"nnm>krum"``,
    ``"bucketing>geometric_median"``) or a callable; ``aggregation_options`` are its options,
    e.g. ``{"f": 3}`` for the rules that tolerate :math:`f` Byzantine models (Krum, Bulyan,
    MDA, NNM, ...). Option names are checked through the registry before anything is fitted,
    option values (and the rule's condition on the number of models) before any base model
    is fitted. A rule whose condition fails at this number of base models (Krum needs
    :math:`r^h \ge 2f + 3`) falls back to ``"geometric_median"`` through
    :func:`radonml.aggregators.aggregate_with_fallback`, with a
    :class:`~radonml.FallbackWarning`; ``aggregation_used_`` says which rule produced
    ``coef_``.

    **Byzantine base models** (``corrupt``). An attack of :mod:`radonml.attacks` makes
    ``f`` of the :math:`r^h` base models Byzantine, chosen at random (``byzantine_``), to
    measure how an aggregator holds up. A *model-level* attack (sign flip, Gaussian noise,
    ALIE, IPM, Mimic, Inf/NaN, min-max, min-sum) replaces their parameter rows by its vectors
    after fitting, just before aggregation, computed from the honest rows in the space the
    aggregator works in: each class row separately with ``multiclass="per_class"`` (the same
    models Byzantine in every row), all rows as one vector with ``"joint"``. Min-max, which
    knows the aggregator, attacks the rule (and options) used here unless given another. A
    *data-level* attack (label flip) corrupts a copy of the Byzantine parts' training data
    before their base models are fitted (classifiers pass ``classes_``). The seed
    ``attack_seed_`` is drawn from ``random_state`` after everything else, so ``corrupt=None``
    fits exactly what it fitted before; with ``g = numpy.random.default_rng(attack_seed_)``,
    ``g`` draws the Byzantine models first (:meth:`radonml.attacks.Attack.select`), then the
    attack's own randomness. For a binary classifier or a single-target regressor the
    aggregated stack ``corrupted_parameters_[:, 0]`` is exactly
    ``radonml.attacks.corrupt(base_parameters_[:, 0], attack, f=f, rng=attack_seed_,
    **params).models``. ``estimators_`` and ``base_parameters_`` hold the base models **as
    fitted**: honest under a model-level attack (the replaced rows are in
    ``corrupted_parameters_``), fitted on the corrupted data under a data-level attack.

    Parameters
    ----------
    estimator : classifier with ``coef_`` and ``intercept_`` after fit, or a Pipeline ending in one, default LogisticRegression()
        Any linear classifier of :mod:`sklearn.linear_model` or :mod:`sklearn.svm` (e.g.
        LogisticRegression, LinearSVC, SGDClassifier, RidgeClassifier, Perceptron, or
        SVC(kernel="linear"), whose ``coef_`` cannot be set, so the aggregate predicts from its
        own rows), or one of yours. A base estimator that has no ``coef_`` after fit (a
        kernel SVC, a tree, k-NN) is refused before any part is fitted.
    height : "auto" or int >= 0, default "auto"
        :math:`h`. ``"auto"`` is the largest :math:`h` with
        :math:`\lfloor n / r^h \rfloor \ge` ``min_samples`` and :math:`r^h` at most the
        smallest class count. If that is 0, one estimator is fitted on all the data.
    min_samples : int, default 100
        Smallest part size for ``height="auto"``.
    aggregation : str or callable, default "radon"
        A name of :func:`radonml.available_aggregators`, a pipeline of
        :func:`radonml.aggregators.available_preaggregators` ending in one (``"nnm>krum"``),
        or ``fn(models, **options) -> (d,)``.
    aggregation_options : dict, optional
        Options of ``aggregation`` (e.g. ``{"f": 3}`` for ``"krum"``, ``{"beta": 0.1}`` for
        ``"trimmed_mean"``), each going to the pipeline steps that take it, as in
        :func:`radonml.aggregate`. For a rule that takes ``rng`` the default is
        ``aggregation_seed_``; for ``"radon"`` also ``height=height_`` and
        ``remainder="drop"``.
    multiclass : {"per_class", "joint"}, default "per_class"
    feature_map_samples : None, int or float, default None
        Rows the shared feature map (a Pipeline's steps before the last) is fitted on: None,
        all training rows; an int, that many rows drawn at random; a float in (0, 1], that
        fraction of them. A sample spares a full pass over the data where the map needs one
        (``StandardScaler``, ``Nystroem``); ``RBFSampler`` looks only at the number of
        features. Only for a Pipeline ``estimator``.
    corrupt : None, str or radonml.attacks.Attack, default None
        Make ``f`` base models Byzantine (see above): an
        :class:`~radonml.attacks.Attack` (``Attack("alie", f=3)``) or an attack name; an
        attack without ``f`` takes ``aggregation_options["f"]``. None: no attack.
    n_jobs : int, optional
        Parallel jobs for fitting the base models (joblib semantics; ``None`` means 1 unless
        inside a ``joblib.parallel_config`` context).
    random_state : None, int or numpy.random.Generator
        Controls, drawn in this order from one stream: the seeds of the feature map's steps
        whose ``random_state`` is None (none drawn when all are set), the rows of
        ``feature_map_samples``, the partition, the base models' seeds, the Radon tree's
        grouping and, with ``corrupt``, the attack's seed.
    verbose : int, default 0
        ``>= 1``: show a progress bar (tqdm) while the base models are fitted.

    Attributes
    ----------
    estimators_ : list of fitted estimators
        The :math:`r^h` base models as fitted, in the order of the parts (for a Pipeline
        estimator, pipelines that share the fitted ``feature_map_`` steps). Under a
        model-level attack these are the honest models; under a data-level attack the
        Byzantine parts' models were fitted on the corrupted data.
    estimators_samples_ : list of int64 ndarrays
        The partition: ``estimators_samples_[i]`` are the rows of ``X`` that ``estimators_[i]``
        was fitted on (ascending; disjoint; together all rows), as in scikit-learn's bagging
        estimators.
    base_parameters_ : (n_models, k, d) ndarray of float64
        The base models as parameter rows (:func:`linear_parameters` of every ``estimators_``:
        ``coef_`` rows with the intercept appended), the points the aggregator combines.
        Re-aggregate them with :func:`aggregate_parameters`, e.g. with another method or after
        corrupting some (:func:`radonml.attacks.corrupt`), without refitting. As fitted, like
        ``estimators_`` (a model-level attack's rows are in ``corrupted_parameters_``).
    corrupted_parameters_ : (n_models, k, d) ndarray of float64
        The stack the aggregator combined: ``base_parameters_`` with the Byzantine models'
        rows replaced by a model-level attack; ``base_parameters_`` itself otherwise.
    byzantine_ : (n_models,) ndarray of bool
        Which base models were Byzantine (all False without ``corrupt``).
    attack_ : radonml.attacks.Attack or None
        The attack applied, with its ``f``.
    attack_seed_ : int or None
        The attack's seed (see above); None without ``corrupt``.
    aggregation_used_ : str, callable or None
        The rule that produced ``coef_``: ``aggregation``, or the fallback
        ``"geometric_median"`` when its condition failed at this number of models; None
        when ``height_ = 0`` (one model, nothing aggregated).
    aggregation_seed_ : int
        The seed of the Radon tree's grouping (the ``rng`` of :func:`aggregate_parameters`
        that reproduces ``coef_`` with ``aggregation="radon"``).
    has_intercept_ : bool
        Whether the base models fit an intercept (the last column of ``base_parameters_``).
    estimator_ : fitted estimator or None
        The aggregate as an estimator of the base's class: a copy of the first base model
        carrying the aggregated ``coef_`` and ``intercept_`` (for a Pipeline estimator, the
        fitted pipeline with the shared steps and that last step); ``predict``,
        ``predict_proba`` and ``decision_function`` delegate to it. (Its other fitted
        attributes, e.g. ``n_iter_``, are those of the first base model.) None for libsvm's
        SVC(kernel="linear"), whose ``coef_`` cannot be set; the Radon machine then predicts
        from ``coef_`` and ``intercept_`` itself.
    feature_map_ : fitted Pipeline or None
        The shared feature map (the steps before the last, fitted once), or None.
    coef_, intercept_ : ndarray
        The aggregate, in the base estimator's shapes (in the feature map's output space for
        a Pipeline estimator).
    classes_ : (k,) ndarray
    height_ : int
    n_models_ : int
        :math:`r^h`.
    radon_number_ : int
        :math:`r`.
    fit_time_, aggregate_time_, feature_map_time_ : float
        Wall seconds spent fitting the base models, aggregating them and fitting the shared
        feature map.

    Notes
    -----
    Large inputs: each task receives only its part's rows, gathered from ``X`` as the task
    is dispatched (a few parts at a time), so no worker holds more than the parts it fits and
    ``X`` itself is never copied (an ``np.memmap`` input, e.g. from
    ``np.load(..., mmap_mode="r")``, is read in place). A shared feature map is applied by
    each task to its own rows. This also spares joblib's loky backend hashing and
    memory-mapping the whole ``X`` on every ``fit``.

    scikit-learn compatibility: the tags are the base estimator's (positive-only targets,
    multi-output, poor scores, missing values a pipeline imputes), as for scikit-learn's
    meta-estimators. ``check_estimator`` passes with every linear estimator of
    :mod:`sklearn.linear_model` and :mod:`sklearn.svm` as base except for the failures
    declared in tests/test_sklearn_checks.py, each with its reason: the base's own declared
    ones; sample-weight checks for bases whose ``fit`` takes no ``sample_weight``; and
    ``check_sample_weight_equivalence_on_dense_data``, where the Radon machine genuinely
    differs from its base: a weight of 2 keeps a row in one part, a repeated row puts two
    copies into two parts, so the partition and the models differ whenever ``height_ >= 1``.

    References
    ----------
    Kamp, Boley, Missura, Gärtner, "Effective Parallelisation for Machine Learning", NeurIPS 2017.
    Rahimi, Recht, "Random Features for Large-Scale Kernel Machines", NeurIPS 2007.

    Examples
    --------
    >>> import numpy as np
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

    A kernel Radon machine on data no linear model separates (a ball inside a shell):

    >>> from sklearn.kernel_approximation import RBFSampler
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.svm import LinearSVC
    >>> from sklearn.datasets import make_circles
    >>> X, y = make_circles(20000, noise=0.1, factor=0.5, random_state=0)
    >>> kernel = make_pipeline(RBFSampler(gamma=2.0, n_components=20, random_state=0), LinearSVC())
    >>> rm = RadonMachineClassifier(kernel, random_state=0).fit(X, y)
    >>> rm.radon_number_, rm.height_, rm.coef_.shape
    (23, 1, (1, 20))
    >>> bool(rm.score(X, y) > 0.85)
    True

    Three of 64 base models sign-flipped and scaled by 100: averaging breaks, Krum
    (tolerating three) holds.

    >>> from radonml.attacks import Attack
    >>> X, y = make_classification(10000, n_features=5, random_state=0)
    >>> attack = Attack("sign_flip", f=3, scale=100.0)
    >>> mean = RadonMachineClassifier(aggregation="mean", corrupt=attack, random_state=0).fit(X, y)
    >>> krum = RadonMachineClassifier(aggregation="krum", aggregation_options={"f": 3}, corrupt=attack,
    ...                               random_state=0).fit(X, y)
    >>> int(krum.byzantine_.sum()), bool(mean.score(X, y) < 0.5), bool(krum.score(X, y) > 0.8)
    (3, True, True)
    """


class RadonMachineClassifier(ClassifierMixin, _BaseRadonMachine):
    __doc__ = _CLASSIFIER_DOC

    _is_classifier = True

    def _default_estimator(self):
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression()

    def fit(self, X, y, sample_weight=None):
        """Fit the shared feature map (if any) once, the base models on :math:`r^h`
        stratified parts, and aggregate them.

        Parameters
        ----------
        X : (n_samples, n_features) array-like
        y : (n_samples,) array-like of class labels
        sample_weight : (n_samples,) array-like or scalar, optional
            Passed (per part) to the base estimator's (last step's) ``fit``; a scalar weighs
            every row alike.

        Returns
        -------
        self

        Raises
        ------
        TypeError
            A base estimator that cannot be aggregated (no ``coef_``), a regressor, a bad
            ``random_state``, ``sample_weight`` for a base that takes none.
        ValueError
            A height whose :math:`r^h` parts cannot each get a row of every class, bad
            options or data.
        """
        return self._fit(X, y, sample_weight)

    @available_if(_final_has("decision_function"))
    def decision_function(self, X):
        """Decision function of the aggregated model (after the shared feature map)."""
        Z = self._features(X)
        if self._final_ is not None:
            return self._final_.decision_function(Z)
        return self._linear_decision(Z)

    @available_if(_final_has("predict_proba"))
    def predict_proba(self, X):
        """Class probabilities of the aggregated model."""
        Z = self._features(X)
        return self._final_.predict_proba(Z)

    @available_if(_final_has("predict_log_proba"))
    def predict_log_proba(self, X):
        """Log class probabilities of the aggregated model."""
        Z = self._features(X)
        return self._final_.predict_log_proba(Z)


class RadonMachineRegressor(RegressorMixin, _BaseRadonMachine):
    r"""The Radon machine (Kamp et al., 2017) with a linear scikit-learn regressor.

    As :class:`RadonMachineClassifier`, with random (unstratified) parts and
    ``Ridge()`` as the default base estimator. A multi-output base model (``coef_`` of shape
    (n_targets, n_features)) is aggregated per target by default
    (``multiclass="per_class"``; ``"joint"`` aggregates all targets as one vector).
    Pipelines (a shared feature map, kernel features) work as for the classifier.

    Parameters
    ----------
    estimator : regressor with ``coef_`` and ``intercept_`` after fit, or a Pipeline ending in one, default Ridge()
        Any linear regressor of :mod:`sklearn.linear_model` or :mod:`sklearn.svm` (e.g.
        Ridge, LinearRegression, SGDRegressor, Lasso, HuberRegressor, PoissonRegressor,
        SVR(kernel="linear")), or one of yours.
    height, min_samples, aggregation, aggregation_options, multiclass, feature_map_samples
        As in :class:`RadonMachineClassifier`.
    corrupt, n_jobs, random_state, verbose
        As in :class:`RadonMachineClassifier` (a data-level attack must not be label flip:
        the target is continuous).

    Attributes
    ----------
    estimators_, estimators_samples_, base_parameters_, aggregation_seed_, has_intercept_
        As in :class:`RadonMachineClassifier`.
    corrupted_parameters_, byzantine_, attack_, attack_seed_, aggregation_used_
        As in :class:`RadonMachineClassifier`.
    estimator_, feature_map_, coef_, intercept_, height_, n_models_, radon_number_
        As in :class:`RadonMachineClassifier`.
    fit_time_, aggregate_time_, feature_map_time_
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
        """Fit the shared feature map (if any) once, the base models on :math:`r^h` random
        parts, and aggregate them.

        Parameters
        ----------
        X : (n_samples, n_features) array-like
        y : (n_samples,) or (n_samples, n_targets) array-like
        sample_weight : (n_samples,) array-like or scalar, optional

        Returns
        -------
        self
        """
        return self._fit(X, y, sample_weight)
