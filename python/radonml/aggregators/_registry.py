"""The one registry of aggregators and pre-aggregators, and what runs them (private module,
public names; re-exported by :mod:`radonml.aggregators`).

A *method* is a registered aggregator name (``"krum"``), a pipeline of pre-aggregators
ending in an aggregator (``"nnm>krum"``, ``"bucketing>arc>trimmed_mean"``), or a callable.
"""

from __future__ import annotations

import inspect
import warnings
from dataclasses import dataclass
from typing import Callable, Dict, FrozenSet, Optional, Tuple, Union

import numpy as np

from .._validation import check_models, check_weights, normalize_weights
from ..exceptions import FallbackWarning, NoRadonPointError, TooFewModelsError

__all__ = [
    "RegisteredRule",
    "REGISTRY",
    "register_aggregator",
    "register_preaggregator",
    "available_aggregators",
    "available_preaggregators",
    "supports_weights",
    "check_method",
    "accepts_option",
    "aggregate",
    "aggregate_with_fallback",
    "ResolvedAggregator",
    "resolve_aggregator",
]

PIPE = ">"


@dataclass(frozen=True)
class RegisteredRule:
    """One entry of the registry.

    Attributes
    ----------
    name : str
    fn : callable
        Aggregator: ``fn(models, weights=None, **options) -> (d,)``. Pre-aggregator:
        ``fn(models, weights=None, **options) -> (models', weights')``.
    weighted : bool
        Whether ``fn`` uses per-model weights (a pre-aggregator: whether it carries them).
    kind : {"aggregator", "preaggregator"}
    condition : callable or None
        ``condition(n, d, **options) -> str or None``: why the rule cannot run on ``n``
        models in :math:`\\mathbb{R}^d` with these options (None: it can). May raise
        ``TypeError``/``ValueError`` for invalid options.
    n_out : callable or None
        Pre-aggregators: ``n_out(n, **options)``, the number of models they return
        (default ``n``).
    options : frozenset of str or None
        The keyword options ``fn`` names; None if it takes ``**options`` (anything).
    propagates_nonfinite : bool
        ``fn``'s output is non-finite whenever an input is (a plain sum, as the mean's):
        :func:`aggregate` then looks for NaN/inf in the input only when the output has one,
        which saves a pass over the models.

    Examples
    --------
    >>> from radonml.aggregators import REGISTRY
    >>> rule = REGISTRY["krum"]
    >>> rule.kind, rule.weighted, rule.accepts("f"), rule.accepts("beta")
    ('aggregator', False, True, False)
    """

    name: str
    fn: Callable
    weighted: bool
    kind: str
    condition: Optional[Callable] = None
    n_out: Optional[Callable] = None
    options: Optional[FrozenSet[str]] = None
    propagates_nonfinite: bool = False

    def accepts(self, option: str) -> bool:
        """Whether ``option`` is one of the keywords ``fn`` names.

        Parameters
        ----------
        option : str
            A keyword argument name, e.g. ``"f"``.

        Returns
        -------
        bool
            False when ``fn`` takes ``**options`` (anything goes, nothing is named).
        """
        return self.options is not None and option in self.options


REGISTRY: Dict[str, RegisteredRule] = {}


def _option_names(fn) -> Optional[FrozenSet[str]]:
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):  # builtins without a signature: anything goes
        return None
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return None
    names = [p.name for p in params[1:] if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return frozenset(n for n in names if n != "weights")


def _register(name, fn, *, weighted, kind, overwrite, condition, n_out, propagates_nonfinite=False):
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a non-empty string, got {name!r}")
    if PIPE in name or name != name.strip():
        raise ValueError(f"name must not contain {PIPE!r} (it joins pipeline steps) or surrounding spaces, got {name!r}")
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    for what, c in (("condition", condition), ("n_out", n_out)):
        if c is not None and not callable(c):
            raise TypeError(f"{what} must be callable or None, got {type(c).__name__}")
    if name in REGISTRY and not overwrite:
        raise ValueError(f"an aggregator named {name!r} is already registered; pass overwrite=True to replace it")
    REGISTRY[name] = RegisteredRule(
        name, fn, bool(weighted), kind, condition, n_out, _option_names(fn), bool(propagates_nonfinite)
    )


def register_aggregator(
    name: str,
    fn: Callable,
    *,
    weighted: bool = False,
    overwrite: bool = False,
    condition: Optional[Callable] = None,
    propagates_nonfinite: bool = False,
) -> None:
    """Add an aggregator to the registry used by :func:`aggregate` and all of radonml.

    Parameters
    ----------
    name : str
        The name users pass as ``method`` (no ``">"``).
    fn : callable
        ``fn(models, weights=None, **options) -> (d,) array``, where ``models`` is a validated
        (m, d) float64 array of finite values and ``weights`` a validated (m,) float64 array
        or None. What it returns is checked: a wrong shape or a NaN/infinite value raises a
        ``ValueError`` naming it.
    weighted : bool, default False
        Whether ``fn`` uses per-model weights. Passing weights to an aggregator that does not
        use them is an error rather than a silent no-op.
    overwrite : bool, default False
        Allow replacing an existing name.
    condition : callable, optional
        ``condition(n, d, **options) -> str or None``: why ``fn`` cannot run on ``n`` models
        (e.g. too few for its ``f``); :func:`aggregate` raises
        :class:`~radonml.exceptions.TooFewModelsError` with it, and
        :func:`aggregate_with_fallback` switches to its fallback.
    propagates_nonfinite : bool, default False
        Declare that ``fn`` returns a non-finite value whenever an input is non-finite (a
        plain weighted sum), so that the input is searched for NaN/inf only then.

    Examples
    --------
    >>> import numpy as np
    >>> register_aggregator("first", lambda models, weights=None: models[0], overwrite=True)
    >>> aggregate(np.eye(3), "first")
    array([1., 0., 0.])
    """
    _register(name, fn, weighted=weighted, kind="aggregator", overwrite=overwrite, condition=condition, n_out=None,
              propagates_nonfinite=propagates_nonfinite)


def register_preaggregator(
    name: str,
    fn: Callable,
    *,
    weighted: bool = True,
    overwrite: bool = False,
    condition: Optional[Callable] = None,
    n_out: Optional[Callable] = None,
) -> None:
    """Add a pre-aggregator: a step usable before any aggregator as ``"name>aggregator"``.

    Parameters
    ----------
    name : str
    fn : callable
        ``fn(models, weights=None, **options) -> (models', weights')`` with ``models'`` a
        (n', d) array (checked: shape and finiteness) and ``weights'`` (n',) or None.
    weighted : bool, default True
        Whether ``fn`` carries weights through.
    overwrite : bool, default False
    condition : callable, optional
        As in :func:`register_aggregator`.
    n_out : callable, optional
        ``n_out(n, **options) -> n'`` (default: ``n``), so that the conditions of later
        steps are checked before any work.

    Examples
    --------
    >>> import numpy as np
    >>> register_preaggregator("double", lambda m, weights=None: (2 * m, weights), overwrite=True)
    >>> aggregate(np.eye(2), "double>mean")
    array([1., 1.])
    """
    _register(name, fn, weighted=weighted, kind="preaggregator", overwrite=overwrite, condition=condition, n_out=n_out)


def available_aggregators() -> list:
    """Names of the registered aggregators, sorted.

    Returns
    -------
    list of str
        Every name :func:`aggregate` accepts as ``method`` (and as the last step of a
        pipeline), built-in or registered with :func:`register_aggregator`.

    Examples
    --------
    >>> {"mean", "median", "radon", "krum", "bulyan"} <= set(available_aggregators())
    True
    """
    return sorted(k for k, r in REGISTRY.items() if r.kind == "aggregator")


def available_preaggregators() -> list:
    """Names of the registered pre-aggregators, sorted (compose them as ``"nnm>krum"``).

    Returns
    -------
    list of str
        Built-in and registered (:func:`register_preaggregator`) pre-aggregators.

    Examples
    --------
    >>> available_preaggregators()
    ['arc', 'bucketing', 'nnm', 'static_clipping']
    """
    return sorted(k for k, r in REGISTRY.items() if r.kind == "preaggregator")


def _steps(method, name: str = "method") -> Tuple[RegisteredRule, ...]:
    if not isinstance(method, str):
        raise TypeError(f"{name} must be a registered aggregator name or a callable, got {type(method).__name__}")
    parts = [p.strip() for p in method.split(PIPE)]
    rules = []
    for i, part in enumerate(parts):
        rule = REGISTRY.get(part)
        last = i == len(parts) - 1
        if rule is None:
            kinds = available_aggregators() if last else available_preaggregators()
            what = "aggregator method" if last else "pre-aggregator"
            where = "" if len(parts) == 1 else f" in {method!r}"
            raise ValueError(f"unknown {what} {part!r}{where}; expected one of {kinds}")
        if last and rule.kind != "aggregator":
            raise ValueError(
                f"{method!r} must end in an aggregator, but {part!r} is a pre-aggregator; "
                f"e.g. {method!r} + '>mean' (aggregators: {available_aggregators()})"
            )
        if not last and rule.kind != "preaggregator":
            raise ValueError(
                f"in {method!r}, only pre-aggregators ({available_preaggregators()}) may come before "
                f"{PIPE!r}, but {part!r} is an aggregator"
            )
        rules.append(rule)
    return tuple(rules)


def check_method(method, name: str = "method") -> Tuple[RegisteredRule, ...]:
    """Validate a method name or pipeline (``"nnm>krum"``) and return its steps.

    Parameters
    ----------
    method : str
        A registered aggregator name or a pipeline ``"pre>...>aggregator"``.
    name : str, default "method"
        The argument's name in error messages.

    Returns
    -------
    tuple of RegisteredRule
        The steps, left to right; the last one is the aggregator.

    Raises
    ------
    TypeError
        Not a string.
    ValueError
        An unknown step, or a pipeline not made of pre-aggregators followed by one aggregator.

    Examples
    --------
    >>> [step.name for step in check_method("nnm>krum")]
    ['nnm', 'krum']
    >>> check_method("nnm>bucketing")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: 'nnm>bucketing' must end in an aggregator, but 'bucketing' is a pre-aggregator; ...
    """
    return _steps(method, name)


def accepts_option(method, option: str) -> bool:
    """Whether some step of the registered ``method`` names the keyword ``option``.

    Parameters
    ----------
    method : str
        A registered aggregator name or pipeline.
    option : str
        A keyword argument name, e.g. ``"f"``.

    Returns
    -------
    bool

    Raises
    ------
    TypeError, ValueError
        ``method`` is not a registered name or pipeline (as :func:`check_method`).

    Examples
    --------
    >>> accepts_option("krum", "f"), accepts_option("mean", "f"), accepts_option("bucketing>mean", "bucket_size")
    (True, False, True)
    """
    return any(r.accepts(option) for r in _steps(method))


def supports_weights(method) -> bool:
    """Whether ``method`` (a registered name or pipeline) uses per-model weights: its
    aggregator does, and every pre-aggregator before it carries them.

    Parameters
    ----------
    method : str
        A registered aggregator name or pipeline.

    Returns
    -------
    bool

    Raises
    ------
    TypeError, ValueError
        ``method`` is not a registered name or pipeline (as :func:`check_method`).

    Examples
    --------
    >>> supports_weights("mean"), supports_weights("krum"), supports_weights("nnm>multi_krum")
    (True, False, True)
    """
    return all(r.weighted for r in _steps(method))


def _route(steps, options: dict, label: str):
    """Send each option to the steps that name it; options no step names go to the steps
    that take ``**options``; none at all is an error."""
    routed = [dict() for _ in steps]
    for key, value in options.items():
        takers = [i for i, r in enumerate(steps) if r.accepts(key)] or [
            i for i, r in enumerate(steps) if r.options is None
        ]
        if not takers:
            taken = "; ".join(f"{r.name} takes {sorted(r.options)}" for r in steps)
            raise TypeError(f"{label!r} got an unexpected option {key!r} ({taken})")
        for i in takers:
            routed[i][key] = value
    return routed


def _first_failure(steps, routed, n: int, d: int):
    """The first step whose condition fails at the number of models it would get:
    (step, reason), or (None, None)."""
    for rule, opts in zip(steps, routed):
        if rule.condition is not None:
            reason = rule.condition(n, d, **opts)
            if reason:
                return rule, reason
        if rule.kind == "preaggregator" and rule.n_out is not None:
            n = int(rule.n_out(n, **opts))
    return None, None


def _too_few(rule, message):
    return (NoRadonPointError if rule.name == "radon" else TooFewModelsError)(message)


def _check_output(out, d: int, label: str, n: int) -> np.ndarray:
    out = np.asarray(out, dtype=np.float64)
    if out.shape != (d,):
        raise ValueError(f"aggregator {label!r} returned shape {out.shape}, expected ({d},)")
    bad = ~np.isfinite(out)
    if bad.any():
        j = int(np.argmax(bad))
        raise ValueError(
            f"aggregator {label!r} returned {int(bad.sum())} NaN or infinite value(s) (the first, {float(out[j])!r}, at "
            f"coordinate {j}) from {n} finite models; it is not usable on these models"
        )
    return out


def _deferred_check(X, method) -> bool:
    """Whether the search for NaN/inf in X can wait for the output (see propagates_nonfinite)."""
    if not isinstance(method, str) or PIPE in method:
        return False
    rule = REGISTRY.get(method)
    return rule is not None and rule.propagates_nonfinite


def _run(X: np.ndarray, w: Optional[np.ndarray], method, options: dict, checked: bool = True) -> np.ndarray:
    """Aggregate validated models: the shared body of aggregate and aggregate_with_fallback.
    ``checked=False``: X may hold NaN/inf (a method that propagates them); checked here."""
    n, d = X.shape
    if callable(method):
        out = method(X, weights=w, **options) if w is not None else method(X, **options)
        return _check_output(out, d, getattr(method, "__name__", "callable"), n)
    steps = _steps(method)
    label = method
    if w is not None and not all(r.weighted for r in steps):
        raise ValueError(
            f"aggregator {method!r} does not use weights, but weights were given; drop them or choose one of "
            f"{[k for k in available_aggregators() if REGISTRY[k].weighted]}"
        )
    routed = _route(steps, options, label)
    rule, reason = _first_failure(steps, routed, n, d)
    if reason:
        raise _too_few(rule, f"aggregator {method!r} cannot run on {n} models in dimension d = {d}: {reason}")
    Y = X
    if w is not None and len(steps) > 1:
        w = normalize_weights(w)  # sums along a pipeline stay finite
    for rule, opts in zip(steps[:-1], routed[:-1]):
        Y, w = rule.fn(Y, weights=w, **opts)
        Y = np.asarray(Y, dtype=np.float64)
        if Y.ndim != 2 or Y.shape[1] != d or Y.shape[0] < 1:
            raise ValueError(f"pre-aggregator {rule.name!r} returned shape {Y.shape}, expected (n', {d})")
        if not np.isfinite(Y).all():
            raise ValueError(f"pre-aggregator {rule.name!r} returned NaN or infinite values from finite models")
        Y = np.ascontiguousarray(Y)
        if w is not None:
            w = check_weights(w, Y.shape[0], name=f"weights returned by {rule.name!r}")
    out = steps[-1].fn(Y, weights=w, **routed[-1])
    if not checked and not np.isfinite(out).all():
        check_models(X)  # names the model and coordinate
    return _check_output(out, d, label, n)


def aggregate(models, method="radon", *, weights=None, **options) -> np.ndarray:
    r"""Aggregate :math:`n` models, each a vector in :math:`\mathbb{R}^d`, into one.

    Built-in methods (:func:`available_aggregators`), weighted (:math:`w_i`) where the
    definition allows; ``f`` is the number of Byzantine models tolerated, and rules that
    need it check :math:`n` against their condition:

    =======================  =======================================================  ========  ==============
    method                   definition                                               weights   condition
    =======================  =======================================================  ========  ==============
    ``"radon"``              iterated Radon point (Kamp et al. 2017)                  no        n >= d + 2
    ``"mean"``               :math:`\sum_i w_i x_i / \sum_i w_i` (FedAvg)             yes
    ``"median"``             coordinate-wise (weighted) median                        yes
    ``"trimmed_mean"``       drop ``beta`` (or ``f`` models) per end, per coord.      yes       n > 2f
    ``"meamed"``             mean of the n - f values nearest the median              no        n >= 2f + 1
    ``"geometric_median"``   :math:`\arg\min_z \sum_i w_i \lVert z - x_i\rVert`       yes
    ``"krum"``               the model of least Krum score (Blanchard et al. 2017)    no        n >= 2f + 3
    ``"multi_krum"``         mean of the m least-scored models                        yes       n >= 2f + 3
    ``"bulyan"``             Krum-type selection, then a trimmed mean (2018)          no        n >= 4f + 3
    ``"centered_clipping"``  iterated clipped mean around a centre (2021)             yes
    ``"mda"``                mean of the n - f models of least diameter               yes       n >= 2f + 1
    =======================  =======================================================  ========  ==============

    Pre-aggregators (:func:`available_preaggregators`) compose with any aggregator,
    left to right: ``"nnm>krum"``, ``"bucketing>geometric_median"``, ``"arc>nnm>mean"``.
    ``"nnm"`` (nearest-neighbour mixing), ``"bucketing"``, ``"static_clipping"`` and
    ``"arc"`` (adaptive robust clipping). Each option goes to every step that names it
    (``f`` to all that take it).

    Parameters
    ----------
    models : (n, d) array-like of float
        One model per row; NaN or infinite entries raise a ``ValueError`` naming the
        model and coordinate.
    method : str or callable, default "radon"
        A registered name, a pipeline ``"pre>...>aggregator"``, or
        ``fn(models, weights=None, **options)``.
    weights : (n,) array-like of float, optional
        Non-negative per-model weights (e.g. sample counts); the built-ins scale them by a
        power of two before use, so 1e308 or subnormal weights work.
    **options
        Passed on to the aggregator (and pre-aggregators), e.g. ``f=2``, ``beta=0.1``,
        ``n_threads=4``.

    Returns
    -------
    (d,) ndarray of float64
        Checked finite: an aggregator that returns NaN or inf raises a ``ValueError``
        naming it.

    Raises
    ------
    TooFewModelsError
        A rule's condition on ``n`` fails (:class:`~radonml.NoRadonPointError` for
        ``"radon"``); :func:`aggregate_with_fallback` falls back instead.

    Examples
    --------
    >>> aggregate([[0.0, 1.0], [2.0, 3.0]], "mean", weights=[3, 1])
    array([0.5, 1.5])
    >>> X = [[0.0], [0.1], [0.2], [0.3], [0.4], [0.5], [0.6], [100.0]]
    >>> aggregate(X, "nnm>krum", f=1).round(6)
    array([0.3])
    """
    defer = _deferred_check(models, method)
    X = check_models(models, finite=not defer)
    w = check_weights(weights, X.shape[0])
    return _run(X, w, method, options, checked=not defer)


def aggregate_with_fallback(models, method="mean", *, weights=None, fallback="geometric_median", **options):
    """:func:`aggregate`, except that a method whose condition on the number of models fails
    (``"radon"`` with fewer than :math:`d + 2` models, ``"krum"`` with fewer than
    :math:`2f + 3`, ...; each rule's ``condition``) uses ``fallback`` instead and emits a
    :class:`~radonml.FallbackWarning` that says why.

    Parameters
    ----------
    models : (n, d) array-like of float
        One model per row.
    method : str or callable, default "mean"
        A registered name, a pipeline or a callable, as in :func:`aggregate`.
    weights : (n,) array-like of float, optional
        Passed on only to aggregators that use weights (:func:`supports_weights`) and to
        callables.
    fallback : str or None, default "geometric_median"
        The aggregator used when ``method`` cannot run; ``None`` raises instead. It gets
        ``f`` (when it takes it), no other option.
    **options
        Passed to ``method``.

    Returns
    -------
    vector : (d,) ndarray of float64
        The aggregate.
    used : str or callable
        The aggregator that produced it; it differs from ``method`` exactly when the fallback
        was used.

    Raises
    ------
    TooFewModelsError
        The condition fails and ``fallback=None`` (:class:`~radonml.NoRadonPointError` for
        ``"radon"``).

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     vec, used = aggregate_with_fallback([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0]], "radon")
    >>> used
    'geometric_median'
    """
    defer = _deferred_check(models, method)
    X = check_models(models, finite=not defer)
    used = method
    if not callable(method):
        steps = _steps(method)
        routed = _route(steps, options, method)
        rule, reason = _first_failure(steps, routed, X.shape[0], X.shape[1])
        if reason:
            if fallback is None:
                n, d = X.shape
                if rule.name == "radon":  # the message FedRadon's users know
                    reason = (f"the Radon point of {n} models in dimension d = {d} needs at least "
                              f"r = d + 2 = {d + 2} models")
                raise _too_few(rule, f"{reason}, and fallback=None")
            fb = _steps(fallback, "fallback")
            warnings.warn(f"{reason}; aggregating with {fallback!r} instead", FallbackWarning, stacklevel=3)
            used = fallback
            options = {"f": options["f"]} if "f" in options and any(r.accepts("f") for r in fb) else {}
    use_w = weights is not None and (callable(used) or supports_weights(used))
    w = check_weights(weights, X.shape[0]) if use_w else None
    if used != method and defer:  # the fallback gets checked models
        X, defer = check_models(X), False
    return _run(X, w, used, options, checked=not defer), used


@dataclass(frozen=True)
class ResolvedAggregator:
    """An aggregator chosen once, with its weighting decided: what the federated protocols,
    the Flower strategy and the torch adapter call every round.

    Made by :func:`resolve_aggregator`; calling it runs :func:`aggregate_with_fallback`.

    Attributes
    ----------
    method : str or callable
        The registered name, pipeline or callable.
    weighted : bool
        Whether per-model weights are passed to it.
    fallback : str or None
        Used when the method's condition on the number of models fails (see
        :func:`aggregate_with_fallback`).

    Examples
    --------
    >>> agg = resolve_aggregator("trimmed_mean")
    >>> vector, used = agg([[0.0], [1.0], [2.0], [100.0]], weights=[1, 1, 1, 1], f=1)
    >>> vector, used
    (array([1.5]), 'trimmed_mean')
    """

    method: Union[str, Callable]
    weighted: bool
    fallback: Optional[str] = "geometric_median"

    @property
    def name(self) -> str:
        """The method's name (a callable's ``__name__``)."""
        m = self.method
        return m if isinstance(m, str) else getattr(m, "__name__", "callable")

    def __call__(self, models, weights=None, **options) -> Tuple[np.ndarray, Union[str, Callable]]:
        """Aggregate ``models``; ``weights`` are used only if :attr:`weighted`.

        Parameters
        ----------
        models : (m, d) array-like of float
            One model per row.
        weights : (m,) array-like of float, optional
            Per-model weights (e.g. sample counts); ignored unless :attr:`weighted`.
        **options
            Passed to the aggregator (e.g. ``f=2``).

        Returns
        -------
        vector : (d,) ndarray of float64
        used : str or callable
            The method that produced ``vector`` (the fallback when the method could not run).
        """
        w = weights if self.weighted else None
        return aggregate_with_fallback(models, self.method, weights=w, fallback=self.fallback, **options)


def resolve_aggregator(method, *, weighted=None, fallback="geometric_median") -> ResolvedAggregator:
    """Check an aggregator choice once, before any work, and decide whether it gets weights.

    Parameters
    ----------
    method : str or callable
        A registered name (:func:`available_aggregators`), a pipeline (``"nnm>krum"``) or
        ``fn(models, weights=None, **options)``.
    weighted : bool or None, default None
        ``None``: weights are used exactly when the named aggregator uses them
        (:func:`supports_weights`), never for a callable. ``True`` with a named aggregator that
        ignores weights is an error.
    fallback : str or None, default "geometric_median"
        A registered name (or pipeline) used when the method cannot run on the number of
        models it gets, or None.

    Returns
    -------
    ResolvedAggregator

    Raises
    ------
    TypeError
        ``method`` is neither a string nor callable, or ``weighted`` is not None/True/False.
    ValueError
        An unknown name, or ``weighted=True`` for an aggregator without weights.

    Examples
    --------
    >>> resolve_aggregator("mean").weighted, resolve_aggregator("radon").weighted
    (True, False)
    >>> resolve_aggregator("nnm>krum").name
    'nnm>krum'
    """
    if not (callable(method) or isinstance(method, str)):
        raise TypeError(f"method must be an aggregator name or a callable, got {type(method).__name__}")
    can_weight = isinstance(method, str) and supports_weights(method)  # unknown names fail here
    if fallback is not None:
        _steps(fallback, "fallback")
    if weighted is None:
        weighted = can_weight  # a callable gets weights= only when asked for
    elif not isinstance(weighted, (bool, np.bool_)):
        raise TypeError(f"weighted must be None, True or False, got {weighted!r}")
    if weighted and isinstance(method, str) and not can_weight:
        raise ValueError(
            f"weighted=True needs an aggregator that uses weights, but {method!r} does not; "
            "pass weighted=None (the default) or weighted=False"
        )
    return ResolvedAggregator(method=method, weighted=bool(weighted), fallback=fallback)
