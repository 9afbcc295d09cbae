"""Interpolation paths and their barriers (private; public through radonml.lmc, .linear, .dln).

Torch-free, so that :mod:`radonml.linear` and :mod:`radonml.dln` work without torch.
"""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
import warnings
from dataclasses import dataclass, field
from typing import Dict, Optional, Sequence, Tuple

import numpy as np

from ._validation import as_float_array
from .exceptions import EndpointMismatchWarning

__all__ = ["PathResult", "ExactBarrier", "barrier", "BARRIER_KINDS", "default_alphas", "check_alphas", "to_jsonable"]

BARRIER_KINDS = ("linear", "mean", "max")
_ERROR_ALIASES = ("accuracy", "acc")


def check_base(base, *, allow_both: bool = False) -> str:
    """``base`` validated: ``"a"`` or ``"b"`` (or ``"both"`` with ``allow_both``)."""
    allowed = ("a", "b", "both") if allow_both else ("a", "b")
    if not isinstance(base, str) or base not in allowed:
        raise ValueError(f"base must be one of {allowed}, got {base!r}")
    return base


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


def to_jsonable(obj):
    """Recursively convert dataclasses, numpy arrays and scalars to JSON types (NaN -> None)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, (np.floating, float)):
        v = float(obj)
        return None if not math.isfinite(v) else v
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj


class _JSONMixin:
    def to_dict(self) -> dict:
        """The result as plain Python types (lists, floats, None for NaN)."""
        return to_jsonable(self)

    def to_json(self, path=None, **kwargs) -> str:
        """JSON text of :meth:`to_dict`; written to ``path`` when given."""
        text = json.dumps(self.to_dict(), indent=kwargs.pop("indent", 2), **kwargs)
        if path is not None:
            with open(path, "w") as fh:
                fh.write(text)
        return text


@dataclass
class PathResult(_JSONMixin):
    """Metrics of models along an interpolation path :math:`\\theta(\\alpha)`.

    Attributes
    ----------
    alphas : (m,) ndarray of float64
        Interpolation weights; :math:`\\alpha = 0` is the path's start, 1 its end.
    metrics : dict of str to (m,) ndarray
        One array per metric (e.g. ``"loss"``, ``"accuracy"``, ``"error"``); each is also an
        attribute (``path.loss``) and an item (``path["loss"]``).
    layers : list of str or None
        The interpolated layers (None: the whole model).
    base : str or None
        ``"a"`` or ``"b"``: the model the non-interpolated layers come from.
    method : str
        How the path was evaluated (``"vmap"``, ``"loop"``, ``"closed form"``, ...).
    """

    alphas: np.ndarray
    metrics: Dict[str, np.ndarray]
    layers: Optional[list] = None
    base: Optional[str] = None
    method: str = ""

    def __getattr__(self, name):
        metrics = self.__dict__.get("metrics")
        if metrics is not None and name in metrics:
            return metrics[name]
        raise AttributeError(f"{type(self).__name__} has no attribute or metric {name!r}")

    def __getitem__(self, name):
        return self.metrics[name]

    def barrier(self, metric: str = "loss", kind: str = "linear", **kwargs) -> float:
        """:func:`barrier` of this path."""
        return barrier(self, metric, kind, **kwargs)


@dataclass
class ExactBarrier(_JSONMixin):
    """A barrier computed exactly from a polynomial loss along the path.

    Attributes
    ----------
    value : float
        The barrier (SPEC §5, see :func:`radonml.lmc.barrier` for the definitions).
    alpha : float
        Where on [0, 1] the maximum is attained.
    kind : str
        ``"linear"``, ``"mean"`` or ``"max"``.
    loss_at_alpha : float
        The loss at ``alpha``.
    endpoint_losses : (float, float)
        The reference losses :math:`L_A, L_B` the barrier is measured against.
    coefficients : (p,) ndarray
        The loss polynomial's coefficients in ``basis``.
    basis : str
        ``"monomial in alpha"`` or ``"chebyshev in t = 2 alpha - 1"``.
    """

    value: float
    alpha: float
    kind: str
    loss_at_alpha: float
    endpoint_losses: Tuple[float, float]
    coefficients: np.ndarray = field(default_factory=lambda: np.zeros(0))
    basis: str = ""


def _check_kind(kind) -> str:
    if kind not in BARRIER_KINDS:
        raise ValueError(f"kind must be one of {BARRIER_KINDS}, got {kind!r}")
    return kind


def _endpoint_value(alphas, values, target, what):
    hit = np.flatnonzero(alphas == target)
    if hit.size == 0:
        raise ValueError(
            f"the path has no point at alpha = {target:g} ({what}); include 0 and 1 in alphas or pass endpoints="
        )
    return float(values[hit[0]])


def barrier(path, metric: str = "loss", kind: str = "linear", *, endpoints=None, tol: float = 0.1,
            return_alpha: bool = False):
    r"""Loss (or error) barrier along an interpolation path.

    With :math:`L(\alpha)` the metric at :math:`\theta(\alpha) = (1-\alpha)\theta_A + \alpha\theta_B`
    and :math:`L_A, L_B` its values at the endpoints (SPEC §5):

    - ``"linear"`` (Entezari et al., 2022):
      :math:`B = \sup_\alpha [L(\alpha) - ((1-\alpha) L_A + \alpha L_B)]`;
    - ``"mean"`` (Frankle et al., 2020): :math:`B = \max_\alpha L(\alpha) - \tfrac12 (L_A + L_B)`;
    - ``"max"``: :math:`B = \max_\alpha L(\alpha) - \max(L_A, L_B)`.

    The supremum is over the path's points with :math:`0 \le \alpha \le 1`. For accuracy the
    barrier is that of the error :math:`1 - \text{accuracy}`. When :math:`L_A` and :math:`L_B`
    differ by more than ``tol`` (relatively), the ``"mean"`` barrier contains half that gap even
    for a straight, barrier-free path, so an
    :class:`~radonml.exceptions.EndpointMismatchWarning` recommends the ``"linear"`` barrier.

    Parameters
    ----------
    path : PathResult
        From :func:`radonml.lmc.evaluate_path`, :func:`radonml.linear.path_metrics` or
        :func:`radonml.dln.path_loss`.
    metric : str, default "loss"
        A metric of ``path``; ``"accuracy"`` is turned into the error.
    kind : {"linear", "mean", "max"}, default "linear"
    endpoints : (float, float), optional
        Reference values :math:`(L_A, L_B)` of ``metric``; default the path's values at
        :math:`\alpha = 0, 1`. Layer-wise barriers are measured against the full endpoint
        models this way (Adilova et al., 2024). For ``metric="accuracy"`` give accuracies:
        they are turned into errors like the path's values.
    tol : float, default 0.1
        Relative endpoint difference :math:`|L_A - L_B| / \max(|L_A|, |L_B|)` above which
        the ``"mean"`` barrier warns.
    return_alpha : bool, default False
        Also return the :math:`\alpha` where the supremum is attained.

    Returns
    -------
    float, or (float, float) with ``return_alpha``

    References
    ----------
    L. Adilova, M. Andriushchenko, M. Kamp, A. Fischer, M. Jaggi, "Layer-wise linear mode
    connectivity", ICLR 2024.

    Examples
    --------
    >>> p = PathResult(alphas=np.array([0.0, 0.5, 1.0]), metrics={"loss": np.array([1.0, 3.0, 1.0])})
    >>> barrier(p, kind="linear")
    2.0
    """
    _check_kind(kind)
    if not isinstance(path, PathResult):
        raise TypeError(f"path must be a PathResult (from evaluate_path, path_metrics or path_loss), got {type(path).__name__}")
    name, values, from_accuracy = barrier_metric(path.metrics, metric)
    if endpoints is not None and from_accuracy:
        endpoints = _pair_of_numbers(endpoints)
        endpoints = (1.0 - endpoints[0], 1.0 - endpoints[1])
    alphas = np.asarray(path.alphas, dtype=np.float64)
    return barrier_from_values(alphas, values, kind, endpoints=endpoints, tol=tol, return_alpha=return_alpha,
                               what=name)


def _pair_of_numbers(endpoints) -> Tuple[float, float]:
    try:
        la, lb = (float(v) for v in endpoints)
    except (TypeError, ValueError):
        raise TypeError(f"endpoints must be a pair of numbers (L_A, L_B), got {endpoints!r}") from None
    return la, lb


def barrier_from_values(alphas, values, kind, *, endpoints=None, tol=0.1, return_alpha=False, what="loss"):
    """:func:`barrier` on plain arrays (private helper)."""
    _check_kind(kind)
    alphas = np.asarray(alphas, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    if alphas.shape != values.shape or alphas.ndim != 1:
        raise ValueError(f"alphas and values must be 1-d of equal length, got {alphas.shape} and {values.shape}")
    if endpoints is None:
        la = _endpoint_value(alphas, values, 0.0, "start")
        lb = _endpoint_value(alphas, values, 1.0, "end")
    else:
        la, lb = _pair_of_numbers(endpoints)
    inside = (alphas >= 0.0) & (alphas <= 1.0)
    if not inside.any():
        raise ValueError("the path has no point with 0 <= alpha <= 1")
    a, v = alphas[inside], values[inside]
    if np.isnan(v).any():
        raise ValueError(f"the path's {what} contains NaN")
    if kind == "linear":
        excess = v - ((1.0 - a) * la + a * lb)
    elif kind == "mean":
        excess = v - 0.5 * (la + lb)
    else:
        excess = v - max(la, lb)
    i = int(np.argmax(excess))
    if kind == "mean":
        gap = abs(la - lb)
        scale = max(abs(la), abs(lb))
        if gap > tol * scale and gap > 1e-12:
            warnings.warn(
                f"the endpoints' {what} differ by {gap:.4g} ({la:.4g} vs {lb:.4g}, more than tol={tol:g} "
                f"relative), so the 'mean' barrier includes {0.5 * gap:.4g} that is only this gap; "
                "read kind='linear' (safe for different endpoints) or 'max' (a lower bound)",
                EndpointMismatchWarning,
                stacklevel=3,
            )
    b = float(excess[i])
    return (b, float(a[i])) if return_alpha else b


def all_barriers(alphas, values, endpoints=None, what="loss") -> Dict[str, float]:
    """The three barriers of one path, without warnings (private helper)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EndpointMismatchWarning)
        return {k: barrier_from_values(alphas, values, k, endpoints=endpoints, what=what) for k in BARRIER_KINDS}


def maximize_chebyshev(coef: np.ndarray) -> Tuple[float, float]:
    """Maximum of a Chebyshev series on [-1, 1]: (t*, value), via the real roots of its
    derivative (colleague-matrix eigenvalues, polished by Newton steps) and the endpoints."""
    from numpy.polynomial import chebyshev as C

    coef = np.asarray(coef, dtype=np.float64)
    cand = [-1.0, 1.0]
    if coef.size >= 3:
        d1 = C.chebder(coef)
        d2 = C.chebder(d1)
        roots = C.chebroots(d1) if np.any(d1 != 0) else np.zeros(0)
        for r in np.atleast_1d(roots):
            if abs(r.imag) > 1e-7 * (1.0 + abs(r.real)):
                continue
            t = float(r.real)
            if not -1.0 - 1e-9 <= t <= 1.0 + 1e-9:
                continue
            for _ in range(3):  # Newton on the derivative
                g2 = C.chebval(t, d2)
                if g2 == 0 or not np.isfinite(g2):
                    break
                t_new = t - C.chebval(t, d1) / g2
                if not -1.0 <= t_new <= 1.0:
                    break
                t = t_new
            cand.append(min(1.0, max(-1.0, t)))
    cand = np.asarray(cand)
    vals = C.chebval(cand, coef)
    i = int(np.argmax(vals))
    return float(cand[i]), float(vals[i])


def exact_barrier_chebyshev(coef, endpoints, kind) -> ExactBarrier:
    """Exact barrier of a loss given as a Chebyshev series in t = 2 alpha - 1 (private)."""
    from numpy.polynomial import chebyshev as C

    _check_kind(kind)
    la, lb = (float(v) for v in endpoints)
    g = np.array(coef, dtype=np.float64)
    if kind == "linear":  # subtract (1 - a) L_A + a L_B = (L_A + L_B)/2 + t (L_B - L_A)/2
        g = np.concatenate([g, np.zeros(max(0, 2 - g.size))])
        g[0] -= 0.5 * (la + lb)
        g[1] -= 0.5 * (lb - la)
        t, val = maximize_chebyshev(g)
        value = val
    else:
        t, val = maximize_chebyshev(g)
        value = val - (0.5 * (la + lb) if kind == "mean" else max(la, lb))
    alpha = 0.5 * (t + 1.0)
    return ExactBarrier(
        value=float(value),
        alpha=float(alpha),
        kind=kind,
        loss_at_alpha=float(C.chebval(t, coef)),
        endpoint_losses=(la, lb),
        coefficients=np.asarray(coef, dtype=np.float64),
        basis="chebyshev in t = 2 alpha - 1",
    )
