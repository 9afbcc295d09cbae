"""What the aggregator modules share (private module, public names): the number of
Byzantine models ``f`` and its conditions, thread counts, normalised weights and an order
of the models that does not depend on the order they came in."""

from __future__ import annotations

import numbers
from typing import Optional

import numpy as np

from .. import _core
from .._validation import check_int, check_n_threads, normalize_weights

__all__ = [
    "check_f",
    "require_f",
    "threads",
    "unit_weights",
    "canonical_order",
    "rank_with_ties",
    "canonical_positions",
    "pairwise_sq_distances",
]


def check_f(f, name: str = "f") -> int:
    """``f`` (the number of Byzantine models tolerated): a non-negative integer."""
    if isinstance(f, bool) or not isinstance(f, numbers.Integral):
        raise TypeError(f"{name} must be a non-negative integer (the number of Byzantine models tolerated), "
                        f"got {f!r} of type {type(f).__name__}")
    return check_int(f, name, minimum=0)


def require_f(f, rule: str) -> int:
    """``f`` for a rule that cannot run without it: a clear TypeError when it is missing."""
    if f is None:
        raise TypeError(f"{rule} needs f=, the number of Byzantine models to tolerate (e.g. f=1)")
    return check_f(f)


def threads(n_threads) -> int:
    """A validated thread count for the core (0: all cores)."""
    return check_n_threads(n_threads)


def unit_weights(weights) -> Optional[np.ndarray]:
    """None, or validated weights scaled by a power of two (largest in [0.5, 1))."""
    return None if weights is None else normalize_weights(weights)


_DIRECTION_SEED = 0x5EED


def canonical_order(models: np.ndarray) -> np.ndarray:
    """A permutation that sorts the rows of ``models`` by a fixed order of vectors.

    Rows are sorted by their projection on a fixed pseudo-random direction (seeded, the
    same for every call), rows with equal projections lexicographically. Applied before
    any rule that must break ties (Krum's equal scores, MDA's equal diameters) or draw a
    random permutation (bucketing), it makes the result a function of the *set* of models:
    permuting the input does not change it.

    Returns
    -------
    (m,) ndarray of int64
        ``models[order]`` is in canonical order.
    """
    m, d = models.shape
    if m <= 1:
        return np.arange(m, dtype=np.int64)
    u = np.random.default_rng(_DIRECTION_SEED).standard_normal(d)
    keys = models @ u
    if not np.isfinite(keys).all():  # entries near 1e308: project the scaled models
        _, e = np.frexp(max(float(models.max()), -float(models.min())))
        keys = models @ np.ldexp(u, -int(e) - 1)  # |keys| <= ||u||_1 / 2
    order = np.argsort(keys, kind="stable")
    k = keys[order]
    ties = np.flatnonzero(k[1:] == k[:-1])
    if ties.size:  # resolve equal keys lexicographically (rare: equal rows, mostly)
        order = order.copy()
        start = 0
        while start < m:  # bounded: start strictly increases
            stop = start + 1
            while stop < m and k[stop] == k[start]:
                stop += 1
            if stop - start > 1:
                grp = order[start:stop]
                sub = np.lexsort(models[grp][:, ::-1].T)
                order[start:stop] = grp[sub]
            start = stop
    return order.astype(np.int64)


def rank_with_ties(scores: np.ndarray, models: np.ndarray) -> np.ndarray:
    """Indices sorted by ``scores``; equal scores in the canonical order of ``models`` (see
    :func:`canonical_order`, computed only when two scores are equal), so the ranking does
    not depend on the input order."""
    order = np.argsort(scores, kind="stable")
    s = scores[order]
    if not (s[1:] == s[:-1]).any():
        return order.astype(np.int64)
    canon = canonical_order(models)
    pos = np.empty_like(canon)
    pos[canon] = np.arange(canon.size)
    return np.lexsort((pos, scores)).astype(np.int64)


def canonical_positions(models: np.ndarray) -> np.ndarray:
    """``pos[i]``: the place of model ``i`` in :func:`canonical_order`."""
    canon = canonical_order(models)
    pos = np.empty_like(canon)
    pos[canon] = np.arange(canon.size)
    return pos


def pairwise_sq_distances(models: np.ndarray, n_threads=None):
    r"""Squared Euclidean distances between all pairs of models, from one Gram matrix.

    The core centres the models at their column means — or, when the mean sits far from most
    models compared with their mutual distances (outliers pull it away), at their
    coordinate-wise median, which keeps the majority's norms, hence the rounding of their
    mutual distances, small — scales them by an exact power of two :math:`s \ge \max|x|`,
    forms :math:`G = Y Y^\top` with :math:`Y = (X - \mathbf 1 c^\top)/s` (Eigen's blocked
    symmetric rank-k update, in threads) and returns :math:`D_{ij} = G_{ii} + G_{jj} -
    2 G_{ij}` in units of :math:`s^2`. The scaling keeps :math:`D` finite for inputs near
    1e300 and normal for inputs near 1e-170.

    Parameters
    ----------
    models : (m, d) ndarray of float64
        One model per row, C-contiguous and finite (as :func:`radonml.aggregate` passes them).
    n_threads : int, optional
        Threads of the compiled core (None or 0: all cores).

    Returns
    -------
    D : (m, m) ndarray of float64
        :math:`\lVert x_i - x_j \rVert^2 / s^2`, symmetric, zero diagonal.
    scale : float
        :math:`s`.

    Examples
    --------
    >>> import numpy as np
    >>> D, scale = pairwise_sq_distances(np.array([[0.0, 0.0], [3.0, 4.0], [6.0, 8.0]]))
    >>> D * scale**2
    array([[  0.,  25., 100.],
           [ 25.,   0.,  25.],
           [100.,  25.,   0.]])
    """
    D, _, _, scale = _core.centered_gram(models, threads(n_threads))
    return D, float(scale)
