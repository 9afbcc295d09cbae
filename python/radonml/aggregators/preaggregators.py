r"""Pre-aggregators: steps that turn :math:`n` models into :math:`n'` models before an
aggregator runs, composed by name as ``"nnm>krum"`` (see :func:`radonml.aggregate`).

Each takes ``(models, weights=None, **options)`` and returns ``(models', weights')``;
weights are carried along (bucketing sums them per bucket).

References
----------
.. [1] Y. Allouah, S. Farhadkhani, R. Guerraoui, N. Gupta, R. Pinot, J. Stephan, "Fixing by
   mixing: a recipe for optimal Byzantine ML under heterogeneity", AISTATS 2023 (NNM).
.. [2] S. P. Karimireddy, L. He, M. Jaggi, "Byzantine-robust learning on heterogeneous
   datasets via bucketing", ICLR 2022.
.. [3] Y. Allouah, R. Guerraoui, N. Gupta, A. Jellouli, G. Rizk, J. Stephan, "Boosting
   robustness by clipping gradients in distributed learning" / "Adaptive gradient clipping
   for robust federated learning", 2024 (ARC).
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .. import _core
from .._validation import check_int, check_rng
from ._common import canonical_order, canonical_positions, pairwise_sq_distances, rank_with_ties, require_f, threads

__all__ = ["nearest_neighbour_mixing", "bucketing", "static_clipping", "adaptive_robust_clipping"]


def nnm_condition(n, d, f=None, **_):
    """Why NNM cannot run on n models (None if it can): n >= 2f + 1."""
    f = require_f(f, "nnm")
    return None if n >= 2 * f + 1 else f"nnm needs n >= 2f + 1 = {2 * f + 1} models for f = {f}, got {n}"


def nearest_neighbour_mixing(models: np.ndarray, weights=None, *, f=None, n_threads=None):
    r"""Nearest-neighbour mixing (NNM; Allouah et al., AISTATS 2023).

    Replace every model by the average of its :math:`n - f` nearest models (itself
    included):

    .. math:: y_i = \frac{1}{n - f} \sum_{j \in N_i} x_j, \qquad N_i = \text{the } n - f
              \text{ models closest to } x_i.

    Composed with a robust aggregator it attains the optimal error under heterogeneity for
    :math:`n \ge 2f + 1` (checked). Distances from one Gram matrix; among equally distant
    models the first in a fixed order of the vectors counts.

    Parameters
    ----------
    models : (n, d) ndarray of float64
    weights : (n,) ndarray of float64, optional
        Carried along unchanged.
    f : int
    n_threads : int, optional

    Returns
    -------
    models : (n, d) ndarray of float64
    weights : (n,) ndarray or None

    Raises
    ------
    TypeError
        ``f`` missing or not a non-negative integer.
    ValueError
        Fewer than :math:`2f + 1` models.

    Examples
    --------
    >>> Y, _ = nearest_neighbour_mixing(np.array([[0.0], [1.0], [2.0], [10.0]]), f=1)
    >>> Y.ravel()
    array([1.        , 1.        , 1.        , 4.33333333])
    """
    n = models.shape[0]
    why = nnm_condition(n, models.shape[1], f=f)
    if why:
        raise ValueError(why)
    k = n - int(f)
    D, _ = pairwise_sq_distances(models, n_threads)
    Ds = np.sort(D, axis=1)
    if (Ds[:, 1:] == Ds[:, :-1]).any():  # equally distant neighbours: canonical order decides
        pos = canonical_positions(models)
        near = np.lexsort((np.broadcast_to(pos, (n, n)), D), axis=1)[:, :k]
    else:
        near = np.argsort(D, axis=1)[:, :k]
    M = np.zeros((n, n))
    np.put_along_axis(M, near, 1.0 / k, axis=1)
    # rows of M are convex weights: M @ X cannot overflow beyond max|x| (up to rounding)
    Y = M @ models
    if not np.isfinite(Y).all():  # values near the overflow threshold: average scaled rows
        Y = np.stack([_core.column_mean(models, M[i], threads(n_threads)) for i in range(n)])
    return Y, weights


def bucketing_n_out(n, bucket_size=2, **_):
    """Number of buckets for n models."""
    return math.ceil(n / check_int(bucket_size, "bucket_size", minimum=1))


def bucketing(models: np.ndarray, weights=None, *, bucket_size: int = 2, rng=None, n_threads=None):
    r"""Bucketing (Karimireddy, He, Jaggi, ICLR 2022).

    Shuffle the models with ``rng``, split them into :math:`\lceil n/s \rceil` buckets of
    :math:`s` (the last may be smaller) and replace each bucket by its (weighted) mean.
    Averaging reduces the heterogeneity the aggregator sees by a factor :math:`s`, while
    :math:`f` Byzantine models corrupt at most :math:`f` buckets: the following aggregator
    gets the same ``f`` (the paper takes :math:`s \le n/(2f)`).

    The models are first put in a fixed order of the vectors, so the shuffle, hence the
    result, depends on ``rng`` and on the set of models, not on their input order.

    Parameters
    ----------
    models : (n, d) ndarray of float64
    weights : (n,) ndarray of float64, optional
        A bucket's weight is the sum of its models' weights.
    bucket_size : int, default 2
        :math:`s \ge 1`.
    rng : None, int, numpy.random.Generator
        Seed of the shuffle.
    n_threads : int, optional

    Returns
    -------
    models : (ceil(n / s), d) ndarray of float64
    weights : (ceil(n / s),) ndarray or None

    Examples
    --------
    >>> Y, _ = bucketing(np.array([[0.0], [1.0], [2.0], [3.0]]), bucket_size=4, rng=0)
    >>> Y
    array([[1.5]])
    """
    s = check_int(bucket_size, "bucket_size", minimum=1)
    gen = check_rng(rng)
    n = models.shape[0]
    perm = canonical_order(models)[gen.permutation(n)]
    nt = threads(n_threads)
    out, wout = [], []
    for b in range(0, n, s):  # bounded: ceil(n / s) buckets
        idx = perm[b : b + s]
        sel = np.zeros(n)
        sel[idx] = 1.0 if weights is None else weights[idx]
        if not sel.sum() > 0:  # a bucket of zero-weight models: its plain mean, weight 0
            sel[idx] = 1.0
            wout.append(0.0)
        else:
            wout.append(float(sel.sum()) if weights is not None else 1.0)
        out.append(_core.column_mean(models, sel / sel.max(), nt))
    return np.stack(out), (None if weights is None else np.array(wout))


def _positive(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value) or not value > 0:
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


def static_clipping(models: np.ndarray, weights=None, *, max_norm=2.0, n_threads=None):
    r"""Static clipping: scale every model of norm above :math:`c` onto the sphere of
    radius :math:`c`, :math:`x_i \leftarrow x_i \min(1, c / \lVert x_i \rVert)` (ByzFL's
    ``Clipping``; for gradients or model updates).

    Parameters
    ----------
    models : (n, d) ndarray of float64
    weights : (n,) ndarray of float64, optional
        Carried along.
    max_norm : float, default 2.0
        :math:`c > 0`, in the models' units (ByzFL's default).
    n_threads : int, optional

    Returns
    -------
    models : (n, d) ndarray of float64
    weights : (n,) ndarray or None

    Examples
    --------
    >>> Y, _ = static_clipping(np.array([[3.0, 4.0], [0.3, 0.4]]), max_norm=1.0)
    >>> Y
    array([[0.6, 0.8],
           [0.3, 0.4]])
    """
    c = _positive(max_norm, "max_norm")
    norms, scale = _core.row_distances(models, np.zeros(models.shape[1]), threads(n_threads))
    factor = np.minimum(1.0, (c / scale) / np.where(norms > 0, norms, 1.0))
    return models * factor[:, None], weights


def arc_n_clipped(n: int, f: int) -> int:
    r""":math:`k = \lfloor 2 (f/n) (n - f) \rfloor`, the number of models ARC clips, in exact
    integer arithmetic.

    >>> arc_n_clipped(10, 2)
    3
    """
    return (2 * f * (n - f)) // n


def arc_condition(n, d, f=None, **_):
    """Why ARC cannot run on n models (None if it can): n >= 2f + 1."""
    f = require_f(f, "arc")
    return None if n >= 2 * f + 1 else f"arc needs n >= 2f + 1 = {2 * f + 1} models for f = {f}, got {n}"


def adaptive_robust_clipping(models: np.ndarray, weights=None, *, f=None, n_threads=None):
    r"""Adaptive robust clipping (ARC; Allouah et al. 2024).

    Clip the :math:`k = \lfloor 2 (f/n)(n - f) \rfloor` models of largest norm to the norm of
    the :math:`(k+1)`-th largest:

    .. math:: x_i \leftarrow x_i \min\!\big(1, \lVert x_{(k+1)} \rVert / \lVert x_i \rVert\big).

    The threshold adapts to the honest models' norms; composed with a robust aggregator
    it keeps its guarantee for :math:`n \ge 2f + 1` (checked). :math:`k` is computed in
    exact integer arithmetic (ByzFL's ``int(2 * f / n * (n - f))`` can round one down).

    Parameters
    ----------
    models : (n, d) ndarray of float64
    weights : (n,) ndarray of float64, optional
        Carried along.
    f : int
    n_threads : int, optional

    Returns
    -------
    models : (n, d) ndarray of float64
    weights : (n,) ndarray or None

    Raises
    ------
    TypeError
        ``f`` missing or not a non-negative integer.
    ValueError
        Fewer than :math:`2f + 1` models.

    Examples
    --------
    >>> Y, _ = adaptive_robust_clipping(np.array([[1.0], [2.0], [3.0], [40.0], [-50.0]]), f=2)
    >>> Y.ravel()
    array([ 1.,  2.,  3.,  3., -3.])
    """
    n = models.shape[0]
    why = arc_condition(n, models.shape[1], f=f)
    if why:
        raise ValueError(why)
    k = arc_n_clipped(n, int(f))
    if k == 0:
        return models.copy(), weights
    norms, scale = _core.row_distances(models, np.zeros(models.shape[1]), threads(n_threads))
    ranked = rank_with_ties(-norms, models)  # largest first
    threshold = norms[ranked[k]]
    factor = np.ones(n)
    clipped = ranked[:k]
    nz = norms[clipped] > 0
    factor[clipped[nz]] = np.minimum(1.0, threshold / norms[clipped[nz]])
    return models * factor[:, None], weights
