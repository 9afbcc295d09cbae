r"""Barriers along interpolation paths and the result objects that carry paths (Frankle et al., ICML 2020; Adilova et al., ICLR 2024).

Barriers are read off evaluated points (:func:`barrier`) or found to a given resolution by
refining the path where its maximum can lie (:func:`search_barrier`, :func:`find_barrier`).
Torch-free at import: :mod:`radonml.lmc.linear` and :mod:`radonml.lmc.deep_linear` use it
without torch; :func:`find_barrier` imports torch when called.

References
----------
L. Adilova, M. Andriushchenko, M. Kamp, A. Fischer, M. Jaggi, "Layer-wise linear mode
connectivity", ICLR 2024.
R. Entezari, H. Sedghi, O. Saukh, B. Neyshabur, "The role of permutation invariance in linear
mode connectivity of neural networks", ICLR 2022 (the "linear" barrier).
J. Frankle, G. K. Dziugaite, D. Roy, M. Carbin, "Linear mode connectivity and the lottery
ticket hypothesis", ICML 2020 (the "mean" barrier).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple

import numpy as np

from ._common import (
    BARRIER_KINDS,
    JSONMixin,
    barrier_from_values,
    barrier_metric,
    check_alphas,
    check_kind,
    pair_of_numbers,
)

__all__ = ["BARRIER_KINDS", "DEFAULT_RESOLUTION", "PathResult", "ExactBarrier", "BarrierSearch", "barrier",
           "search_barrier", "find_barrier"]


@dataclass
class PathResult(JSONMixin):
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

    See Also
    --------
    radonml.lmc.evaluate_path : makes one from two torch models.
    barrier : the barrier of a path.

    Examples
    --------
    >>> import numpy as np
    >>> from radonml.lmc import PathResult
    >>> p = PathResult(alphas=np.array([0.0, 0.5, 1.0]),
    ...                metrics={"loss": np.array([1.0, 3.0, 1.0]), "accuracy": np.array([0.9, 0.6, 0.9])})
    >>> p.loss.tolist(), p["accuracy"].tolist()
    ([1.0, 3.0, 1.0], [0.9, 0.6, 0.9])
    >>> p.barrier(), round(p.barrier("accuracy"), 6)     # the error barrier: 0.4 - 0.1
    (2.0, 0.3)
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
class ExactBarrier(JSONMixin):
    r"""A barrier computed exactly from a polynomial loss along the path.

    Attributes
    ----------
    value : float
        The barrier (Frankle et al., ICML 2020; see :func:`radonml.lmc.barrier` for the definitions).
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

    See Also
    --------
    radonml.lmc.linear.exact_barrier, radonml.lmc.deep_linear.exact_barrier : make one.

    Examples
    --------
    The squared loss of a linear model is a quadratic in :math:`\alpha`:
    :math:`L(\alpha) = 0.5 - \alpha + 5\alpha^2` between :math:`w_A = (1, 0)` and
    :math:`w_B = (0, 3)` on :math:`X = I, y = 0`.

    >>> import numpy as np
    >>> from radonml.lmc.linear import exact_barrier
    >>> e = exact_barrier(np.eye(2), np.zeros(2), [1.0, 0.0], [0.0, 3.0], kind="mean")
    >>> e.value, e.alpha, e.endpoint_losses, e.coefficients.tolist()
    (2.0, 1.0, (0.5, 4.5), [0.5, -1.0, 5.0])
    """

    value: float
    alpha: float
    kind: str
    loss_at_alpha: float
    endpoint_losses: Tuple[float, float]
    coefficients: np.ndarray = field(default_factory=lambda: np.zeros(0))
    basis: str = ""


def barrier(path, metric: str = "loss", kind: str = "linear", *, endpoints=None, tol: float = 0.1,
            return_alpha: bool = False):
    r"""Loss (or error) barrier along an interpolation path.

    With :math:`L(\alpha)` the metric at :math:`\theta(\alpha) = (1-\alpha)\theta_A + \alpha\theta_B`
    and :math:`L_A, L_B` its values at the endpoints (Adilova et al., ICLR 2024, Eq. 1):

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
        From :func:`radonml.lmc.evaluate_path`, :func:`radonml.lmc.linear.path_metrics` or
        :func:`radonml.lmc.deep_linear.path_loss`.
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

    Raises
    ------
    TypeError
        ``path`` is not a :class:`PathResult`, or ``endpoints`` is not a pair of numbers.
    ValueError
        Unknown ``kind`` or ``metric``; no point at :math:`\alpha = 0` or 1 without
        ``endpoints``; NaN in the metric.

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
    check_kind(kind)
    if not isinstance(path, PathResult):
        raise TypeError(f"path must be a PathResult (from evaluate_path, path_metrics or path_loss), got {type(path).__name__}")
    name, values, from_accuracy = barrier_metric(path.metrics, metric)
    if endpoints is not None and from_accuracy:
        endpoints = pair_of_numbers(endpoints)
        endpoints = (1.0 - endpoints[0], 1.0 - endpoints[1])
    alphas = np.asarray(path.alphas, dtype=np.float64)
    return barrier_from_values(alphas, values, kind, endpoints=endpoints, tol=tol, return_alpha=return_alpha,
                               what=name)


# --------------------------------------------------------------------- barriers found --

#: Default relative resolution of :func:`search_barrier` and :func:`find_barrier`.
DEFAULT_RESOLUTION = 1e-3
_SAFETY = 2.0          # the curvature bound is this many times the largest one observed
_MIN_WIDTH = 1e-4      # intervals narrower than this are not split (float32 rounding dominates)


@dataclass
class BarrierSearch(JSONMixin):
    r"""A barrier found by :func:`search_barrier`: the value, a certified bound, the evidence.

    Attributes
    ----------
    value : float
        The barrier of ``kind``: the largest excess over the evaluated points (a lower bound of
        the supremum over :math:`\alpha \in [0, 1]`).
    upper_bound : float
        Upper bound on the supremum, valid when the metric's concavity along the path is at
        most ``curvature`` (see :func:`search_barrier`).
    alpha : float
        Where ``value`` is attained.
    kind, metric : str
    barriers, upper_bounds, alphas_at : dict of str to float
        The same for every kind (``"linear"``, ``"mean"``, ``"max"``).
    endpoints : (float, float)
        :math:`(L_A, L_B)` the barriers are measured against.
    path : PathResult
        Every evaluated point, sorted by :math:`\alpha`.
    n_evals : int
        Points the result rests on (forward passes over the data), the initial grid included
        (also when it was passed as ``initial``).
    certified : bool
        Whether ``upper_bound - value <= tolerance`` for every kind at the end.
    curvature : float
        The bound M on :math:`-L''(\alpha)` the upper bounds rest on.
    tolerance : float
        The absolute tolerance reached for (see ``resolution``).

    See Also
    --------
    search_barrier, find_barrier : make one.

    Examples
    --------
    >>> from radonml.lmc import search_barrier
    >>> s = search_barrier(lambda a: {"loss": 1 - 40 * (a - 0.537) ** 2}, kind="mean", endpoints=(0.0, 0.0))
    >>> s
    BarrierSearch(loss barrier (mean) 0.999997 at alpha=0.5367, upper bound 1.00027, 16 evaluations, certified)
    >>> s.value <= 1.0 <= s.upper_bound, s.path.alphas.size
    (True, 16)
    """

    value: float
    upper_bound: float
    alpha: float
    kind: str
    metric: str
    barriers: Dict[str, float]
    upper_bounds: Dict[str, float]
    alphas_at: Dict[str, float]
    endpoints: Tuple[float, float]
    path: PathResult
    n_evals: int
    certified: bool
    curvature: float
    tolerance: float

    def __repr__(self) -> str:
        return (f"BarrierSearch({self.metric} barrier ({self.kind}) {self.value:.6g} at alpha={self.alpha:.4f}, "
                f"upper bound {self.upper_bound:.6g}, {self.n_evals} evaluations, "
                f"{'certified' if self.certified else 'NOT certified'})")


def _references(alphas, kind, la, lb):
    if kind == "linear":
        return (1.0 - alphas) * la + alphas * lb
    return np.full_like(alphas, 0.5 * (la + lb) if kind == "mean" else max(la, lb))


def _concavity_bound(a, v) -> float:
    """Largest -f'' seen in the second divided differences of consecutive points, >= 0."""
    if a.size < 3:
        return 0.0
    s = np.diff(v) / np.diff(a)
    d2 = 2.0 * np.diff(s) / (a[2:] - a[:-2])
    return float(max(0.0, np.max(-d2)))


def _envelope_maxima(a, g, M):
    """Per interval [a_i, a_{i+1}]: the maximum of the concave quadratic envelope
    l(x) + M/2 (x - a_i)(a_{i+1} - x) over the interval, and where it is attained."""
    h = np.diff(a)
    s = np.diff(g) / h
    if M > 0:
        x = np.clip(0.5 * (a[:-1] + a[1:]) + s / M, a[:-1], a[1:])
    else:
        x = np.where(s >= 0, a[1:], a[:-1])
    u = g[:-1] + s * (x - a[:-1]) + 0.5 * M * (x - a[:-1]) * (a[1:] - x)
    return u, x


def _as_metrics(out, n, metric):
    if isinstance(out, dict):
        metrics = {str(k): np.asarray(v, dtype=np.float64).reshape(-1) for k, v in out.items()}
    else:
        metrics = {metric: np.asarray(out, dtype=np.float64).reshape(-1)}
    for k, v in metrics.items():
        if v.shape != (n,):
            raise ValueError(f"fun must return one value per alpha for every metric: {k!r} has {v.size}, expected {n}")
    return metrics


def search_barrier(fun, *, metric: str = "loss", kind: str = "linear", alphas=11, endpoints=None,
                   resolution: float = DEFAULT_RESOLUTION, max_evals: int = 200, batch: int = 2,
                   initial=None) -> BarrierSearch:
    r"""The barrier along a path, found to a given resolution instead of read off a grid.

    A fixed grid only bounds the supremum :math:`\sup_\alpha [L(\alpha) - r(\alpha)]` from below
    (r the reference of the barrier's kind, linear in :math:`\alpha`; see :func:`barrier`).
    This search refines :math:`\alpha` where the maximum can still lie, with a certified bound
    from a curvature estimate (Piyavskii-Shubert on the derivative; Breiman and Cutler, 1993):

    - If :math:`-L''(\alpha) \le M` on an interval :math:`[a, b]`, then
      :math:`L(\alpha) \le \ell(\alpha) + \tfrac M2 (\alpha - a)(b - \alpha)`, with
      :math:`\ell` the chord through :math:`(a, L(a))` and :math:`(b, L(b))` (the interpolation
      error formula). Subtracting the linear reference changes nothing of :math:`L''`, so the
      same bound holds for every kind, and its maximum over the interval is closed-form.
    - M is estimated as ``2`` times the largest :math:`-L''` seen in the second divided
      differences of consecutive evaluated points (each equals :math:`L''` somewhere between
      them), re-estimated after every round. Only concavity matters: where the curve is convex
      the chords already bound it.
    - Each round evaluates the envelope's maximizers in the ``batch`` intervals whose upper
      bound exceeds the best value found by the most; it stops when, for all three kinds,
      :math:`U - B \le \text{resolution} \cdot \max(|B|, 0.01 \max |L|)` (U the upper bound,
      B the barrier, the maximum of :math:`|L|` over the points seen), or
      after ``max_evals`` points (then ``certified`` is False), or when only intervals narrower
      than 1e-4 remain uncertain.

    What it guarantees: ``value`` is attained (a true lower bound); ``upper_bound`` is a true
    upper bound whenever :math:`-L'' \le M` along the path. M is an estimate: a spike narrower
    than the spacing of the initial grid can hide from every method that samples the curve,
    this one included, so start with a grid that resolves the curve's shape (11 points do for
    the loss along the paths of :func:`~radonml.lmc.layerwise_barriers`; ``benchmarks/lmc.md``
    compares the result with a 1001-point grid). Metrics other than ``metric`` are recorded at
    the same points; for a piecewise-constant one such as the error their barrier is only the
    best evaluated value.

    Parameters
    ----------
    fun : callable((m,) ndarray of float64) -> dict of str to (m,) array, or (m,) array
        The metrics at the given alphas (e.g. one batched evaluation of the path's points).
    metric : str, default "loss"
        The metric whose barrier is certified (a key of ``fun``'s dict).
    kind : {"linear", "mean", "max"}, default "linear"
        The kind reported as ``value``; all three are certified.
    alphas : int or (m,) array-like, default 11
        The initial grid (0 and 1 are added when missing).
    endpoints : (float, float), optional
        Reference values :math:`(L_A, L_B)`; default the path's values at 0 and 1 (give the full
        models' values for layer-wise paths).
    resolution : float, default 1e-3
        Relative resolution of the barrier (see above); > 0.
    max_evals : int, default 200
        Most points in all, the initial grid included.
    batch : int, default 2
        Points per round (per call of ``fun``).
    initial : (alphas, dict of metric arrays), optional
        Points already evaluated (e.g. a grid a study computed): reused, not evaluated again.

    Returns
    -------
    BarrierSearch

    Raises
    ------
    ValueError
        Unknown ``kind``; ``resolution <= 0``; ``max_evals`` or ``batch`` < 1; alphas outside
        [0, 1]; ``fun`` returning the wrong number of values, no ``metric``, or NaN.
    TypeError
        ``fun`` not callable.

    References
    ----------
    S. A. Piyavskii, "An algorithm for finding the absolute extremum of a function", USSR
    Comput. Math. Math. Phys. 12 (1972). L. Breiman, A. Cutler, "A deterministic algorithm for
    global optimization", Math. Programming 58 (1993).

    Examples
    --------
    A loss with its maximum between grid points: the 11-point grid misses it, the search does
    not (the true barrier is 1 at alpha = 0.537; 5 points beyond the grid).

    >>> f = lambda a: {"loss": 1 - 40 * (a - 0.537) ** 2}
    >>> grid = np.linspace(0, 1, 11)
    >>> round(barrier(PathResult(grid, f(grid)), kind="mean", endpoints=(0.0, 0.0)), 4)
    0.9452
    >>> s = search_barrier(f, kind="mean", endpoints=(0.0, 0.0))
    >>> round(s.value, 5), round(s.alpha, 3), s.certified, s.n_evals
    (1.0, 0.537, True, 16)
    """
    check_kind(kind)
    if not callable(fun):
        raise TypeError(f"fun must be callable(alphas) -> dict of metric arrays, got {type(fun).__name__}")
    if isinstance(resolution, bool) or not isinstance(resolution, (int, float, np.floating)) \
            or not np.isfinite(resolution) or resolution <= 0:
        raise ValueError(f"resolution must be a positive number, got {resolution!r}")
    for name, v in (("max_evals", max_evals), ("batch", batch)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
    grid = check_alphas(alphas)
    if ((grid < 0) | (grid > 1)).any():
        raise ValueError(f"alphas must lie in [0, 1] for a barrier search, got {grid.tolist()}")
    grid = np.union1d(grid, [0.0, 1.0])
    known_a = np.zeros(0)
    known: Dict[str, np.ndarray] = {}
    if initial is not None:
        ia, im = initial
        known_a = np.asarray(ia, dtype=np.float64)
        known = _as_metrics(im, known_a.size, metric)
    todo = np.setdiff1d(grid, known_a)
    if todo.size:
        new = _as_metrics(fun(todo.copy()), todo.size, metric)
        known_a = np.concatenate([known_a, todo])
        known = {k: np.concatenate([known[k], new[k]]) if k in known else new[k] for k in new} if known else new
    if metric not in known:
        raise ValueError(f"metric must be one of fun's metrics {sorted(known)}, got {metric!r}")
    n_evals = int(known_a.size)  # the initial points count, whoever evaluated them
    order = np.argsort(known_a, kind="stable")
    a, metrics = known_a[order], {k: v[order] for k, v in known.items()}
    if endpoints is None:
        la, lb = float(metrics[metric][0]), float(metrics[metric][-1])
    else:
        la, lb = pair_of_numbers(endpoints)
    M = 0.0
    while True:
        L = metrics[metric]
        if np.isnan(L).any():
            raise ValueError(f"the path's {metric} contains NaN")
        M = _SAFETY * _concavity_bound(a, L)
        floor = 0.01 * float(np.max(np.abs(L)))
        best, upper, where, gaps, cands = {}, {}, {}, [], []
        for k in BARRIER_KINDS:
            g = L - _references(a, k, la, lb)
            i = int(np.argmax(g))
            u, x = _envelope_maxima(a, g, M)
            best[k], where[k], upper[k] = float(g[i]), float(a[i]), max(float(g[i]), float(u.max()))
            tol_k = resolution * max(abs(best[k]), floor)
            gaps.append(upper[k] - best[k] - tol_k)
            wide = (np.diff(a) > _MIN_WIDTH) & (u - best[k] > tol_k)
            cands += [(float(u[j] - best[k]), float(x[j]), j) for j in np.flatnonzero(wide)]
        certified = max(gaps) <= 0
        if certified or not cands or n_evals >= max_evals:
            break
        picked, used = [], set()
        for _, x, j in sorted(cands, reverse=True):
            if j in used:
                continue
            h = a[j + 1] - a[j]
            picked.append(float(np.clip(x, a[j] + 0.1 * h, a[j + 1] - 0.1 * h)))
            used.add(j)
            if len(picked) >= min(batch, max_evals - n_evals):
                break
        new_a = np.array(sorted(picked))
        new = _as_metrics(fun(new_a.copy()), new_a.size, metric)
        n_evals += new_a.size
        a = np.concatenate([a, new_a])
        order = np.argsort(a, kind="stable")
        a = a[order]
        metrics = {k: np.concatenate([metrics[k], new[k]])[order] for k in metrics}
    tol = resolution * max(abs(best[kind]), 0.01 * float(np.max(np.abs(metrics[metric]))))
    return BarrierSearch(value=best[kind], upper_bound=upper[kind], alpha=where[kind], kind=kind, metric=metric,
                         barriers=best, upper_bounds=upper, alphas_at=where, endpoints=(la, lb),
                         path=PathResult(alphas=a, metrics=metrics, method="search"), n_evals=n_evals,
                         certified=bool(certified), curvature=M, tolerance=tol)


def find_barrier(model_a, model_b, evaluate, *, layers=None, base: str = "a", metric: str = "loss",
                 kind: str = "linear", resolution: float = DEFAULT_RESOLUTION, alphas=11, endpoints=None,
                 max_evals: int = 200, batch: int = 2, groups=None, chunk_size=None) -> BarrierSearch:
    r"""The barrier between two torch models (on ``layers``), found to ``resolution``.

    :func:`search_barrier` on the path :math:`\theta(\alpha) = (1-\alpha)\theta_A + \alpha\theta_B`
    (only ``layers`` interpolated, the rest from ``base``), each round's alphas evaluated in one
    batched pass as by :func:`~radonml.lmc.evaluate_path`. For a layer-wise path pass the full
    models' values as ``endpoints`` (Adilova et al., 2024), as
    :func:`~radonml.lmc.layerwise_barriers` does with ``resolution``.

    Parameters
    ----------
    model_a, model_b : torch.nn.Module
    evaluate : callable(model) -> dict of float
        E.g. :func:`~radonml.lmc.classification_evaluator`.
    layers, base, groups, chunk_size
        As in :func:`~radonml.lmc.evaluate_path`.
    metric, kind, resolution, alphas, endpoints, max_evals, batch
        As in :func:`search_barrier`.

    Returns
    -------
    BarrierSearch

    Raises
    ------
    TypeError, ValueError
        As :func:`~radonml.lmc.evaluate_path` and :func:`search_barrier`.

    Examples
    --------
    >>> import torch
    >>> a, b = torch.nn.Linear(1, 1, bias=False), torch.nn.Linear(1, 1, bias=False)
    >>> _ = a.weight.data.fill_(-1.0), b.weight.data.fill_(1.0)
    >>> ev = lambda m: {"loss": 1 - float(m.state_dict()["weight"]) ** 2}   # barrier 1 at alpha 1/2
    >>> s = find_barrier(a, b, ev, alphas=4)
    >>> round(s.value, 6), s.certified
    (1.0, True)
    """
    from ._common import check_base
    from ._points import ModelPair, evaluate_points, interpolation_points, resolve_layers

    pair = ModelPair(model_a, model_b, groups)
    base = check_base(base)
    keys = pair.keys_of(None if layers is None else resolve_layers(layers, pair.groups))

    def fun(al):
        return evaluate_points(pair, evaluate, interpolation_points(pair, al, keys, base), chunk_size)[0]

    return search_barrier(fun, metric=metric, kind=kind, alphas=alphas, endpoints=endpoints, resolution=resolution,
                          max_evals=max_evals, batch=batch)
