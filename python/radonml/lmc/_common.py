"""Shared internals of :mod:`radonml.lmc` (private; torch-free).

What several modules of the package need: the JSON form of result objects, the checks of
``alphas``, ``base`` and barrier ``kind``, and the barrier arithmetic on plain arrays that
:func:`radonml.lmc.barrier`, the layer-wise studies and :mod:`radonml.plot` share. Names here
carry no underscore so that the package's modules import them without reaching into another
module's privates; they are not public API.
"""

from __future__ import annotations

import math
import numbers
import warnings
from typing import Dict, Tuple

import numpy as np

from .._results import JSONMixin, to_jsonable
from .._validation import as_float_array
from ..exceptions import EndpointMismatchWarning

__all__ = [
    "BARRIER_KINDS",
    "JSONMixin",
    "to_jsonable",
    "default_alphas",
    "check_alphas",
    "check_base",
    "check_kind",
    "pair_of_numbers",
    "barrier_metrics",
    "barrier_metric",
    "barrier_from_values",
    "all_barriers",
]

BARRIER_KINDS = ("linear", "mean", "max")
_ERROR_ALIASES = ("accuracy", "acc")


# ------------------------------------------------------------------------------ results --

# ------------------------------------------------------------------------------- checks --

def default_alphas(n: int = 11) -> np.ndarray:
    """``n`` equally spaced points of [0, 1] (both ends included)."""
    return np.linspace(0.0, 1.0, n)


def check_alphas(alphas, name: str = "alphas") -> np.ndarray:
    """None -> 11 points of [0, 1]; an int m -> m points; otherwise a 1-d finite array."""
    if alphas is None:
        return default_alphas()
    if isinstance(alphas, numbers.Integral) and not isinstance(alphas, bool):
        if alphas < 2:
            raise ValueError(f"{name} as a number of points must be >= 2, got {alphas}")
        return default_alphas(int(alphas))
    a = as_float_array(alphas, name)
    if a.ndim == 0:
        a = a.reshape(1)
    if a.ndim != 1:
        raise ValueError(f"{name} must be a 1-dimensional array of interpolation weights, got shape {a.shape}")
    return a


def check_base(base, *, allow_both: bool = False) -> str:
    """``base`` validated: ``"a"`` or ``"b"`` (or ``"both"`` with ``allow_both``)."""
    allowed = ("a", "b", "both") if allow_both else ("a", "b")
    if not isinstance(base, str) or base not in allowed:
        raise ValueError(f"base must be one of {allowed}, got {base!r}")
    return base


def check_kind(kind) -> str:
    """``kind`` validated: one of :data:`BARRIER_KINDS`."""
    if kind not in BARRIER_KINDS:
        raise ValueError(f"kind must be one of {BARRIER_KINDS}, got {kind!r}")
    return kind


def pair_of_numbers(endpoints) -> Tuple[float, float]:
    """``endpoints`` as two floats ``(L_A, L_B)``; TypeError otherwise."""
    try:
        la, lb = (float(v) for v in endpoints)
    except (TypeError, ValueError):
        raise TypeError(f"endpoints must be a pair of numbers (L_A, L_B), got {endpoints!r}") from None
    return la, lb


# ----------------------------------------------------------------------- barrier values --

def barrier_metrics(metrics) -> Dict[str, np.ndarray]:
    """The metrics barriers are taken of (float64): an accuracy (``"accuracy"`` or ``"acc"``)
    becomes ``"error"`` = 1 - accuracy; a metric named ``"error"`` itself takes precedence."""
    out: Dict[str, np.ndarray] = {}
    for k, v in metrics.items():
        v = np.asarray(v, dtype=np.float64)
        if k in _ERROR_ALIASES:
            out.setdefault("error", 1.0 - v)
        else:
            out[k] = v
    return out


def barrier_metric(metrics, metric: str) -> Tuple[str, np.ndarray, bool]:
    """(name, values, from_accuracy) of ``metric`` as barriers read it: ``"accuracy"``,
    ``"acc"`` and ``"error"`` all give the error; ``from_accuracy`` tells that ``metric``
    named an accuracy, so reference values given for it are accuracies too."""
    if not isinstance(metric, str):
        raise TypeError(f"metric must be a string, got {type(metric).__name__}")
    name = "error" if metric in _ERROR_ALIASES else metric
    values = barrier_metrics(metrics).get(name)
    if values is None:
        raise ValueError(f"metric must be one of the path's metrics {sorted(metrics)}, got {metric!r}")
    return name, values, metric in _ERROR_ALIASES


def _endpoint_value(alphas, values, target, what):
    hit = np.flatnonzero(alphas == target)
    if hit.size == 0:
        raise ValueError(
            f"the path has no point at alpha = {target:g} ({what}); include 0 and 1 in alphas or pass endpoints="
        )
    return float(values[hit[0]])


def _warn_endpoint_gap(la, lb, tol, what):
    gap = abs(la - lb)
    scale = max(abs(la), abs(lb))
    if gap > tol * scale and gap > 1e-12:
        warnings.warn(
            f"the endpoints' {what} differ by {gap:.4g} ({la:.4g} vs {lb:.4g}, more than tol={tol:g} "
            f"relative), so the 'mean' barrier includes {0.5 * gap:.4g} that is only this gap; "
            "read kind='linear' (safe for different endpoints) or 'max' (a lower bound)",
            EndpointMismatchWarning,
            stacklevel=4,
        )


def barrier_from_values(alphas, values, kind, *, endpoints=None, tol=0.1, return_alpha=False, what="loss"):
    """:func:`radonml.lmc.barrier` on plain arrays: the supremum over the points with
    0 <= alpha <= 1 of the metric's excess over the reference of ``kind``."""
    check_kind(kind)
    alphas = np.asarray(alphas, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    if alphas.shape != values.shape or alphas.ndim != 1:
        raise ValueError(f"alphas and values must be 1-d of equal length, got {alphas.shape} and {values.shape}")
    if endpoints is None:
        la = _endpoint_value(alphas, values, 0.0, "start")
        lb = _endpoint_value(alphas, values, 1.0, "end")
    else:
        la, lb = pair_of_numbers(endpoints)
    inside = (alphas >= 0.0) & (alphas <= 1.0)
    if not inside.any():
        raise ValueError("the path has no point with 0 <= alpha <= 1")
    a, v = alphas[inside], values[inside]
    bad = np.flatnonzero(~np.isfinite(v))
    if bad.size:
        raise ValueError(f"the path's {what} contains NaN or inf ({v[bad[0]]} at alpha = {a[bad[0]]:g}): no barrier can "
                         "be read from a diverged point")
    if not (math.isfinite(la) and math.isfinite(lb)):
        raise ValueError(f"the endpoints' {what} must be finite, got ({la}, {lb})")
    if kind == "linear":
        excess = v - ((1.0 - a) * la + a * lb)
    elif kind == "mean":
        excess = v - 0.5 * (la + lb)
    else:
        excess = v - max(la, lb)
    i = int(np.argmax(excess))
    if kind == "mean":
        _warn_endpoint_gap(la, lb, tol, what)
    b = float(excess[i])
    return (b, float(a[i])) if return_alpha else b


def all_barriers(alphas, values, endpoints=None, what="loss") -> Dict[str, float]:
    """The three barriers of one path (kind to value), without warnings."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EndpointMismatchWarning)
        return {k: barrier_from_values(alphas, values, k, endpoints=endpoints, what=what) for k in BARRIER_KINDS}
