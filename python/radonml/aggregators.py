"""One registry of aggregators over a stack of models (SPEC §3).

Every component of radonml that combines models (the scikit-learn Radon machine, the torch
adapters, the federated protocols and the Flower strategy) goes through :func:`aggregate`,
so a name registered here with :func:`register_aggregator` is available everywhere.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable, Dict, Optional, Tuple, Union

import numpy as np

from ._validation import as_float_array, check_fraction, check_int, check_weights
from .exceptions import ConvergenceWarning, FallbackWarning, NoRadonPointError
from .radon import iterated_radon_point, radon_number

__all__ = [
    "aggregate",
    "register_aggregator",
    "available_aggregators",
    "supports_weights",
    "resolve_aggregator",
    "ResolvedAggregator",
    "aggregate_with_fallback",
    "weighted_mean",
    "coordinate_median",
    "trimmed_mean",
    "geometric_median",
]


@dataclass(frozen=True)
class _Entry:
    fn: Callable
    weighted: bool


_REGISTRY: Dict[str, _Entry] = {}


def register_aggregator(name: str, fn: Callable, *, weighted: bool = False, overwrite: bool = False) -> None:
    """Add an aggregator to the registry used by :func:`aggregate` and all of radonml.

    Parameters
    ----------
    name : str
        The name users pass as ``method``.
    fn : callable
        ``fn(models, weights=None, **options) -> (d,) array``, where ``models`` is a validated
        (m, d) float64 array and ``weights`` a validated (m,) float64 array or None.
    weighted : bool, default False
        Whether ``fn`` uses per-model weights. Passing weights to an aggregator that does not
        use them is an error rather than a silent no-op.
    overwrite : bool, default False
        Allow replacing an existing name.

    Examples
    --------
    >>> import numpy as np
    >>> register_aggregator("first", lambda models, weights=None: models[0], overwrite=True)
    >>> aggregate(np.eye(3), "first")
    array([1., 0., 0.])
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a non-empty string, got {name!r}")
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    if name in _REGISTRY and not overwrite:
        raise ValueError(f"an aggregator named {name!r} is already registered; pass overwrite=True to replace it")
    _REGISTRY[name] = _Entry(fn=fn, weighted=bool(weighted))


def available_aggregators() -> list:
    """Names of the registered aggregators, sorted.

    >>> {"mean", "median", "radon"} <= set(available_aggregators())
    True
    """
    return sorted(_REGISTRY)


def supports_weights(method) -> bool:
    """Whether the aggregator ``method`` (a registered name) uses per-model weights."""
    return _lookup(method).weighted


def _lookup(method) -> _Entry:  # the registry's own lookup; other modules use resolve_aggregator
    if not isinstance(method, str):
        raise TypeError(f"method must be a registered aggregator name or a callable, got {type(method).__name__}")
    try:
        return _REGISTRY[method]
    except KeyError:
        raise ValueError(f"unknown aggregator method {method!r}; expected one of {available_aggregators()}") from None


def aggregate(models, method="radon", *, weights=None, **options) -> np.ndarray:
    r"""Aggregate ``m`` models, each a vector in :math:`\mathbb{R}^d`, into one.

    Built-in methods (SPEC §3), with weights :math:`w_i` where supported:

    - ``"radon"``: the iterated Radon point (:func:`radonml.iterated_radon_point`; options
      ``height``, ``rng``, ``remainder``, ``n_threads``); unweighted.
    - ``"mean"``: :math:`\sum_i w_i f_i / \sum_i w_i` (FedAvg's aggregation).
    - ``"median"``: coordinate-wise (weighted) median.
    - ``"trimmed_mean"``: coordinate-wise mean after dropping a fraction ``beta`` (default
      0.1) at each end.
    - ``"geometric_median"``: :math:`\arg\min_z \sum_i w_i \lVert z - f_i \rVert` by
      Weiszfeld's iterations (options ``tol``, ``max_iter``).

    Parameters
    ----------
    models : (m, d) array-like of float
        One model per row.
    method : str or callable, default "radon"
        A registered name (:func:`available_aggregators`) or ``fn(models, weights=None, **options)``.
    weights : (m,) array-like of float, optional
        Non-negative per-model weights (e.g. sample counts).
    **options
        Passed on to the aggregator.

    Returns
    -------
    (d,) ndarray of float64

    Examples
    --------
    >>> aggregate([[0.0, 1.0], [2.0, 3.0]], "mean", weights=[3, 1])
    array([0.5, 1.5])
    """
    X = as_float_array(models, "models", ndim=2)
    w = check_weights(weights, X.shape[0])
    if callable(method):
        out = method(X, weights=w, **options) if w is not None else method(X, **options)
    else:
        entry = _lookup(method)
        if w is not None and not entry.weighted:
            raise ValueError(
                f"aggregator {method!r} does not use weights, but weights were given; "
                "drop them or choose one of "
                f"{[k for k, e in sorted(_REGISTRY.items()) if e.weighted]}"
            )
        out = entry.fn(X, weights=w, **options)
    out = np.asarray(out, dtype=np.float64)
    if out.shape != (X.shape[1],):
        raise ValueError(f"aggregator {method!r} returned shape {out.shape}, expected ({X.shape[1]},)")
    return out


def aggregate_with_fallback(models, method="mean", *, weights=None, fallback="geometric_median", **options):
    """:func:`aggregate`, except that ``method="radon"`` with fewer models than the Radon
    number :math:`r = d + 2` (no Radon point exists) uses ``fallback`` instead and emits a
    :class:`~radonml.FallbackWarning`.

    Parameters
    ----------
    models : (m, d) array-like of float
        One model per row.
    method : str or callable, default "mean"
        A registered name or a callable, as in :func:`aggregate`.
    weights : (m,) array-like of float, optional
        Passed on only to aggregators that use weights (:func:`supports_weights`) and to
        callables.
    fallback : str or None, default "geometric_median"
        The aggregator used when no Radon point exists; ``None`` raises instead.
    **options
        Passed to ``method`` (not to the fallback).

    Returns
    -------
    vector : (d,) ndarray of float64
        The aggregate.
    used : str or callable
        The aggregator that produced it; it differs from ``method`` exactly when the fallback
        was used.

    Raises
    ------
    NoRadonPointError
        ``method="radon"``, fewer than ``d + 2`` models and ``fallback=None``.

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     vec, used = aggregate_with_fallback([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0]], "radon")
    >>> used
    'geometric_median'
    """
    X = as_float_array(models, "models", ndim=2)
    used = method
    if method == "radon" and X.shape[0] < radon_number(X.shape[1]):
        if fallback is None:
            raise NoRadonPointError(
                f"the Radon point of {X.shape[0]} models in dimension d = {X.shape[1]} needs at least "
                f"r = d + 2 = {radon_number(X.shape[1])} models, and fallback=None"
            )
        warnings.warn(
            f"{X.shape[0]} models are fewer than the Radon number r = d + 2 = {radon_number(X.shape[1])}; "
            f"aggregating with {fallback!r} instead",
            FallbackWarning,
            stacklevel=3,
        )
        used, options = fallback, {}
    w = weights if (weights is not None and (callable(used) or supports_weights(used))) else None
    return aggregate(X, used, weights=w, **options), used


@dataclass(frozen=True)
class ResolvedAggregator:
    """An aggregator chosen once, with its weighting decided: what the federated protocols,
    the Flower strategy and the torch adapter call every round.

    Made by :func:`resolve_aggregator`; calling it runs :func:`aggregate_with_fallback`.

    Attributes
    ----------
    method : str or callable
        The registered name or the callable.
    weighted : bool
        Whether per-model weights are passed to it.
    fallback : str or None
        Used when no Radon point exists (see :func:`aggregate_with_fallback`).
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
        """Aggregate ``models`` (m, d); ``weights`` are used only if :attr:`weighted`.

        Returns ``(vector, used_method)`` as :func:`aggregate_with_fallback` does.
        """
        w = weights if self.weighted else None
        return aggregate_with_fallback(models, self.method, weights=w, fallback=self.fallback, **options)


def resolve_aggregator(method, *, weighted=None, fallback="geometric_median") -> ResolvedAggregator:
    """Check an aggregator choice once, before any work, and decide whether it gets weights.

    Parameters
    ----------
    method : str or callable
        A registered name (:func:`available_aggregators`) or ``fn(models, weights=None, **options)``.
    weighted : bool or None, default None
        ``None``: weights are used exactly when the named aggregator uses them
        (:func:`supports_weights`), never for a callable. ``True`` with a named aggregator that
        ignores weights is an error.
    fallback : str or None, default "geometric_median"
        A registered name used when no Radon point exists, or None.

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
    """
    if not (callable(method) or isinstance(method, str)):
        raise TypeError(f"method must be an aggregator name or a callable, got {type(method).__name__}")
    can_weight = isinstance(method, str) and _lookup(method).weighted  # unknown names fail here
    if fallback is not None:
        _lookup(fallback)
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


# ----------------------------------------------------------------- built-ins


def weighted_mean(models: np.ndarray, weights: Optional[np.ndarray] = None) -> np.ndarray:
    """(Weighted) mean of the rows."""
    if weights is None:
        return models.mean(axis=0)
    return (weights @ models) / weights.sum()


def _weighted_quantile_columns(models: np.ndarray, weights: np.ndarray, q: float) -> np.ndarray:
    order = np.argsort(models, axis=0, kind="stable")
    xs = np.take_along_axis(models, order, axis=0)
    ws = weights[order]
    cw = np.cumsum(ws, axis=0)
    total = cw[-1]
    # lower and upper weighted q-quantiles; their midpoint (the usual median convention)
    lo = np.argmax(cw >= q * total - 1e-12 * total, axis=0)
    hi = np.argmax(cw > q * total + 1e-12 * total, axis=0)
    cols = np.arange(models.shape[1])
    return 0.5 * (xs[lo, cols] + xs[hi, cols])


def coordinate_median(models: np.ndarray, weights: Optional[np.ndarray] = None) -> np.ndarray:
    """Coordinate-wise median; with weights, the weighted median (midpoint of the lower and
    upper weighted medians, so equal weights give :func:`numpy.median`)."""
    if weights is None:
        return np.median(models, axis=0)
    return _weighted_quantile_columns(models, weights, 0.5)


def trimmed_mean(models: np.ndarray, weights: Optional[np.ndarray] = None, *, beta: float = 0.1) -> np.ndarray:
    r"""Coordinate-wise trimmed mean.

    Unweighted: drop :math:`\lfloor \beta m \rfloor` values at each end of every coordinate
    and average the rest (as :func:`scipy.stats.trim_mean`). Weighted: drop a fraction
    ``beta`` of the total weight at each end (a model straddling a cut counts in part).
    """
    beta = check_fraction(beta, "beta", low=0.0, high=0.5)
    m = models.shape[0]
    xs = np.sort(models, axis=0)
    if weights is None:
        k = int(np.floor(beta * m))
        return xs[k : m - k].mean(axis=0)
    order = np.argsort(models, axis=0, kind="stable")
    ws = weights[order]
    cw = np.cumsum(ws, axis=0)
    total = cw[-1]
    lo_cut, hi_cut = beta * total, (1.0 - beta) * total
    start = cw - ws
    kept = np.clip(np.minimum(cw, hi_cut) - np.maximum(start, lo_cut), 0.0, None)
    return (kept * xs).sum(axis=0) / kept.sum(axis=0)


def geometric_median(
    models: np.ndarray,
    weights: Optional[np.ndarray] = None,
    *,
    tol: float = 1e-10,
    max_iter: int = 1000,
    init=None,
) -> np.ndarray:
    r"""Weighted geometric median :math:`\arg\min_z \sum_i w_i \lVert z - f_i \rVert` (Weiszfeld).

    Iterates :math:`z \leftarrow \sum_i \frac{w_i f_i}{\lVert z - f_i\rVert} \big/ \sum_i
    \frac{w_i}{\lVert z - f_i\rVert}` from the weighted coordinate-wise median, with Vardi and
    Zhang's (2000) correction when an iterate lands on a model, until the step is below
    ``tol`` times the models' scale or ``max_iter`` iterations (then a
    :class:`~radonml.exceptions.ConvergenceWarning`). Used as robust federated aggregation
    (RFA; Pillutla, Kakade, Harchaoui, 2022).
    """
    tol = float(tol)
    if not tol > 0:
        raise ValueError(f"tol must be positive, got {tol}")
    max_iter = check_int(max_iter, "max_iter", minimum=1)
    m, d = models.shape
    w = np.ones(m) if weights is None else weights
    keep = w > 0
    X, w = models[keep], w[keep]
    if X.shape[0] == 1:
        return X[0].copy()
    scale = max(float(np.abs(X - X.mean(axis=0)).max()), np.finfo(float).tiny)
    z = coordinate_median(X, w if weights is not None else None) if init is None else np.asarray(init, float).copy()
    for _ in range(max_iter):
        diff = X - z
        dist = np.sqrt(np.einsum("ij,ij->i", diff, diff))
        at = dist <= 1e-14 * scale
        inv = np.where(at, 0.0, w / np.where(at, 1.0, dist))
        T = (inv @ X) / inv.sum() if inv.sum() > 0 else z
        eta = w[at].sum()
        if eta > 0:  # Vardi-Zhang: z coincides with a model
            R = (inv[:, None] * (X - z)).sum(axis=0)
            rnorm = np.linalg.norm(R)
            if rnorm <= eta:
                return z
            gamma = min(1.0, eta / rnorm)
            z_new = (1 - gamma) * T + gamma * z
        else:
            z_new = T
        step = np.linalg.norm(z_new - z)
        z = z_new
        if step <= tol * scale:
            return z
    warnings.warn(
        f"geometric_median: Weiszfeld did not reach tol={tol} in max_iter={max_iter} iterations",
        ConvergenceWarning,
        stacklevel=3,
    )
    return z


def _radon(models: np.ndarray, weights=None, **options) -> np.ndarray:
    return iterated_radon_point(models, **options)


register_aggregator("radon", _radon, weighted=False)
register_aggregator("mean", weighted_mean, weighted=True)
register_aggregator("median", coordinate_median, weighted=True)
register_aggregator("trimmed_mean", trimmed_mean, weighted=True)
register_aggregator("geometric_median", geometric_median, weighted=True)
