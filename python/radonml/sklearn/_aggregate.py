"""Aggregating linear estimators fitted elsewhere (private module of :mod:`radonml.sklearn`)."""

from __future__ import annotations

import copy

import numpy as np
from sklearn.base import BaseEstimator

from .._validation import check_rng
from ..aggregators import accepts_option
from ._attacks import byzantine_parts, check_attack_fits, check_corrupt, corrupt_models
from ._feature_map import fitted_difference, split_pipeline
from ._parameters import (
    aggregate_rows,
    check_aggregation,
    check_aggregation_options,
    check_fitted,
    check_multiclass,
    choose_aggregation,
    has_intercept,
    linear_rows,
    set_linear_rows,
)

__all__ = ["aggregate_estimators"]



def _compatible_rows(e, i: int, first, map0, final0, has_icpt: bool, shape0) -> np.ndarray:
    """``estimators[i]``'s (k, d) parameter rows, after checking that it can be aggregated with
    ``estimators[0]`` (whose rows have shape ``shape0``; None for ``estimators[0]`` itself): one
    class, one final step's class, the same fitted feature map, the same intercept setting,
    classes and coefficient shape."""
    cls = type(first)
    if type(e) is not cls:
        raise TypeError(f"estimators must all be of one class; estimators[0] is {cls.__name__}, "
                        f"estimators[{i}] is {type(e).__name__}")
    check_fitted(e, f"estimators[{i}]")  # before comparing fitted attributes with estimators[0]'s
    map_i, final_i = split_pipeline(e)
    if type(final_i) is not type(final0):
        raise TypeError(f"estimators must all end in one class; estimators[0] ends in {type(final0).__name__}, "
                        f"estimators[{i}] in {type(final_i).__name__}")
    if i > 0 and map0 is not None:
        names0, names_i = [s[0] for s in first.steps], [s[0] for s in e.steps]
        if names0 != names_i:
            raise ValueError(f"estimators[{i}] has the steps {names_i}, estimators[0] has {names0}")
        diff = fitted_difference(map0, map_i)
        if diff:
            raise ValueError(
                f"estimators[{i}] has another feature map (steps before the last) than estimators[0]: {diff}. "
                "Linear models on different feature maps live in different spaces and cannot be aggregated; "
                "fit the feature map once and share it among the models (RadonMachineClassifier and "
                "RadonMachineRegressor do this for a Pipeline estimator)"
            )
    if has_intercept(final_i) != has_icpt:
        raise ValueError(
            f"estimators[{i}] has fit_intercept={has_intercept(final_i)}, estimators[0] has {has_icpt}"
        )
    if hasattr(final0, "classes_") and not np.array_equal(getattr(final_i, "classes_", None), final0.classes_):
        raise ValueError(
            f"estimators[{i}] has classes_ {getattr(final_i, 'classes_', None)}, estimators[0] has {final0.classes_}"
        )
    row = linear_rows(final_i, has_icpt, f"estimators[{i}]")
    if shape0 is not None and row.shape != shape0:
        raise ValueError(
            f"estimators[{i}].coef_ has shape {np.shape(final_i.coef_)}, estimators[0].coef_ has "
            f"{np.shape(final0.coef_)}"
        )
    return row


def aggregate_estimators(estimators, method="radon", *, multiclass="per_class", corrupt=None, rng=None, fallback=None,
                         **options):
    r"""Aggregate fitted linear estimators, e.g. trained at different sites, into one.

    Every estimator is written as :math:`(w_i, b_i)` (``coef_`` with ``intercept_`` appended)
    and the :math:`m` vectors are aggregated with :func:`radonml.aggregate` (per class row,
    or jointly; see :class:`RadonMachineClassifier`): any registered rule or pipeline
    (``"krum"`` with ``f=2``, ``"nnm>krum"``), its options checked by the registry before
    any work. With ``method="radon"`` the iterated Radon point's options (``height``,
    ``remainder`` of :func:`radonml.iterated_radon_point`) are passed on. Per class, every
    row is aggregated from the same models in the same groups: one seed (``rng`` itself when
    it is an int, else one drawn from it) serves all rows. Give ``rng`` for a reproducible
    result.

    **Byzantine models** (``corrupt``): a model-level attack of :mod:`radonml.attacks`
    replaces ``f`` of the models' parameter rows by its vectors before aggregation, as
    :class:`RadonMachineClassifier` does with ``corrupt=`` (per class row or jointly, per
    ``multiclass``; min-max attacks the aggregator used here). ``rng`` then seeds both:
    ``attack_seed, aggregation_seed = numpy.random.default_rng(rng).integers(0, 2**63 - 1,
    size=2)``; the attack draws the Byzantine models and its own randomness from
    ``numpy.random.default_rng(attack_seed)`` (for one block,
    ``radonml.attacks.corrupt(rows, attack, f=f, rng=attack_seed)``), and a rule that takes
    ``rng`` gets ``aggregation_seed``. The returned estimator carries ``byzantine_``, the
    (m,) bool mask of the replaced models. A data-level attack (label flip) cannot act on
    models that are already fitted and is refused.

    Fitted :class:`~sklearn.pipeline.Pipeline` objects are aggregated by their last step,
    which must be linear; their steps before the last (the feature map) must be **equal**
    (the same classes, parameters and fitted attributes, e.g. one fitted scaler or random
    feature map shared by all), since linear models on different feature maps live in
    different spaces. The result is a pipeline with those steps and the aggregated last step.

    Parameters
    ----------
    estimators : sequence of fitted estimators of one class
        With equal ``coef_`` shapes, equal ``classes_`` (classifiers), equal
        ``fit_intercept`` and, for pipelines, equal steps before the last.
    method : str or callable, default "radon"
        Any name of :func:`radonml.available_aggregators`, a pipeline of pre-aggregators
        ending in one (``"nnm>krum"``), or a callable.
    multiclass : {"per_class", "joint"}, default "per_class"
    corrupt : None, str or radonml.attacks.Attack, default None
        A model-level attack (see above); an attack without ``f`` takes ``options["f"]``.
    rng : None, int or numpy.random.Generator, default None
        Seed of the aggregator (rules that take ``rng``: the Radon tree, bucketing) and, with
        ``corrupt``, of the attack.
    fallback : str or None, default None
        None: a rule whose condition fails on these models (e.g. ``"radon"`` with fewer than
        :math:`d + 2` models, ``"krum"`` with fewer than :math:`2f + 3`) raises
        :class:`~radonml.exceptions.TooFewModelsError`. A registered name (e.g.
        ``"geometric_median"``, the Radon machine's): use it instead, with a
        :class:`~radonml.FallbackWarning`
        (:func:`radonml.aggregators.aggregate_with_fallback`).
    **options
        Passed on to the aggregator (e.g. ``f=2``); a name no step of ``method`` takes is a
        ``TypeError``.

    Returns
    -------
    estimator
        A copy of ``estimators[0]`` whose ``coef_`` and ``intercept_`` (of the last step, for
        a pipeline) are the aggregate; the inputs are not modified. With ``corrupt``, it also
        has ``byzantine_``.

    Raises
    ------
    TypeError
        Estimators of different classes, without ``coef_``, or whose ``coef_`` cannot be set
        (libsvm's SVC: aggregate :func:`linear_parameters` with :func:`aggregate_parameters`);
        an option the method does not take; ``rng`` for a method without randomness and no
        ``corrupt``.
    ValueError
        Different shapes, classes, ``fit_intercept`` or feature maps (naming the first
        attribute that differs); an unknown method or attack; a data-level attack; an
        attack with more Byzantine models than estimators or without ``f``.
    sklearn.exceptions.NotFittedError
        An estimator that is not fitted (scikit-learn's ``check_is_fitted``), naming
        ``estimators[i]``; a subclass of ValueError.
    TooFewModelsError
        The method's condition fails and ``fallback=None``.

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

    Pipelines that share their fitted scaler:

    >>> from sklearn.pipeline import Pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> scaler = StandardScaler().fit(X)
    >>> pa = Pipeline([("scale", scaler), ("lr", LinearRegression().fit(scaler.transform(X), 2 * X.ravel()))])
    >>> pb = Pipeline([("scale", scaler), ("lr", LinearRegression().fit(scaler.transform(X), 4 * X.ravel()))])
    >>> aggregate_estimators([pa, pb], "mean").predict([[1.0]]).round(6).tolist()
    [3.0]

    Five sites, one of them Byzantine (a sign flip scaled by 100): the mean follows it, Krum
    (tolerating one) picks an honest model.

    >>> from radonml.attacks import Attack
    >>> sites = [LinearRegression().fit(X, (2 + 0.1 * i) * X.ravel()) for i in range(5)]
    >>> attack = Attack("sign_flip", f=1, scale=100.0)
    >>> bad = aggregate_estimators(sites, "mean", corrupt=attack, rng=0)
    >>> good = aggregate_estimators(sites, "krum", f=1, corrupt=attack, rng=0)
    >>> int(bad.byzantine_.sum()), bool(bad.coef_[0] < 0), bool(2.0 <= good.coef_[0] <= 2.4)
    (1, True, True)
    """
    check_multiclass(multiclass)
    method = check_aggregation(method, "method")
    options = check_aggregation_options(method, options, "options")
    attack = check_corrupt(corrupt, options)
    if attack is not None and attack.kind == "data":
        raise ValueError(
            f"corrupt={attack!r} is a data-level attack: it changes a learner's training data before it trains, but "
            "aggregate_estimators gets models that are already fitted. Corrupt the data where the models are "
            "trained (radonml.attacks.Attack.corrupt_data), or use RadonMachineClassifier(corrupt=...), which does "
            "it before fitting its base models"
        )
    if fallback is not None:
        check_aggregation(fallback, "fallback")
    attack_seed = None
    if attack is not None:
        attack_seed, agg_seed = (int(s) for s in check_rng(rng).integers(0, 2**63 - 1, size=2))
        if isinstance(method, str) and accepts_option(method, "rng"):
            options.setdefault("rng", agg_seed)
    elif rng is not None:
        if isinstance(method, str) and not accepts_option(method, "rng"):
            raise TypeError(
                f"rng seeds the attack (corrupt=) and aggregators that take rng (the Radon tree, bucketing), but "
                f"{method!r} takes none and corrupt is None; drop rng"
            )
        options["rng"] = rng
    if isinstance(estimators, BaseEstimator) or not hasattr(estimators, "__len__"):
        raise TypeError(f"estimators must be a sequence of fitted estimators, got {type(estimators).__name__}")
    estimators = list(estimators)
    if len(estimators) == 0:
        raise ValueError("estimators must hold at least one fitted estimator, got an empty sequence")
    first = estimators[0]
    map0, final0 = split_pipeline(first)
    has_icpt = has_intercept(final0)
    rows = []
    for i, e in enumerate(estimators):
        rows.append(_compatible_rows(e, i, first, map0, final0, has_icpt, rows[0].shape if rows else None))
    models = np.stack(rows)
    m, k, d = models.shape
    block_d = k * d if multiclass == "joint" else d
    mask = None
    if len(estimators) == 1 and attack is None:
        agg = models[0]
    else:
        choice = choose_aggregation(method, options, m, block_d, fallback)  # options' values, before the work
        if attack is not None:
            check_attack_fits(attack, m)
            gen = np.random.default_rng(attack_seed)
            mask = byzantine_parts(attack, m, gen)
            models = corrupt_models(models, attack, mask, gen, multiclass, choice.used, choice.options)
        agg = models[0] if m == 1 else aggregate_rows(models, method, multiclass, options, fallback)[0]
    out = copy.deepcopy(first)
    _, out_final = split_pipeline(out)
    if not set_linear_rows(out_final, agg, has_icpt):
        raise TypeError(
            f"{type(final0).__name__}'s coef_ cannot be set (it is computed from other fitted attributes), so the "
            "aggregate cannot be returned as this class; aggregate radonml.sklearn.linear_parameters of the "
            "models with radonml.sklearn.aggregate_parameters instead"
        )
    if mask is not None:
        out.byzantine_ = mask
    return out
