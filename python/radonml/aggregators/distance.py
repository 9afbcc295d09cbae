r"""Aggregators that select models by their pairwise distances: Krum, Multi-Krum, Bulyan
and minimum-diameter averaging (MDA).

All distances come from one Gram matrix computed in the compiled core
(:func:`pairwise_sq_distances`: centred at the coordinate-wise median, scaled by a power of
two, Eigen's blocked rank-k update in threads). Ties (equal scores, equal diameters) are
broken by a fixed order of the vectors (:func:`radonml.aggregators._common.canonical_order`),
so every rule here is a function of the set of models: permuting them changes nothing.

References
----------
.. [1] P. Blanchard, E. M. El Mhamdi, R. Guerraoui, J. Stainer, "Machine learning with
   adversaries: Byzantine tolerant gradient descent", NeurIPS 2017 (Krum, Multi-Krum).
.. [2] E. M. El Mhamdi, R. Guerraoui, S. Rouault, "The hidden vulnerability of distributed
   learning in Byzantium", ICML 2018 (Bulyan).
.. [3] E. M. El Mhamdi, R. Guerraoui, A. Guirguis, L. N. Hoang, S. Rouault, "Genuinely
   distributed Byzantine machine learning", PODC 2020 / Distributed Computing 2022, and
   P. J. Rousseeuw, "Multivariate estimation with high breakdown point", 1985 (minimum-
   diameter averaging, MDA).
"""

from __future__ import annotations

import math

import numpy as np

from .. import _core
from .._validation import check_int
from ._common import canonical_order, pairwise_sq_distances, rank_with_ties, require_f, threads, unit_weights

__all__ = [
    "krum",
    "multi_krum",
    "bulyan",
    "minimum_diameter_averaging",
    "krum_scores",
    "pairwise_sq_distances",
]


# ------------------------------------------------------------------ Krum


def krum_condition(n, d, f=None, n_neighbours=None, m=None, **_):
    """Why Krum / Multi-Krum cannot run on n models (None if they can): n >= 2f + 3.
    Validates ``n_neighbours`` and ``m`` too, before any work."""
    f = require_f(f, "krum")
    if n < 2 * f + 3:
        return f"krum needs n >= 2f + 3 = {2 * f + 3} models for f = {f}, got {n}"
    _n_neighbours(n_neighbours, n, f)
    if m is not None and check_int(m, "m", minimum=1) > n:
        raise ValueError(f"m must be at most n = {n}, got {m}")
    return None


def _n_neighbours(n_neighbours, n, f):
    if n_neighbours is None:
        return n - f - 2
    k = check_int(n_neighbours, "n_neighbours", minimum=0)
    if k > n - 1:
        raise ValueError(f"n_neighbours must be at most n - 1 = {n - 1} (the other models), got {k}")
    return k


def krum_scores(D: np.ndarray, n_neighbours: int) -> np.ndarray:
    r"""Krum's scores from squared distances: :math:`s(i) = \sum_{j \in N_i} D_{ij}` over the
    ``n_neighbours`` models :math:`j \ne i` closest to :math:`i`.

    Parameters
    ----------
    D : (n, n) ndarray of float64
        Squared distances (any common unit), zero diagonal.
    n_neighbours : int
        In [0, n - 1].

    Returns
    -------
    (n,) ndarray of float64

    Examples
    --------
    >>> D = np.array([[0.0, 1, 4], [1, 0, 9], [4, 9, 0]])
    >>> krum_scores(D, 1)
    array([1., 1., 4.])
    """
    n = D.shape[0]
    if n_neighbours == 0:
        return np.zeros(n)
    off = D + np.diag(np.full(n, np.inf))  # a model is not its own neighbour
    return np.sort(np.partition(off, n_neighbours - 1, axis=1)[:, :n_neighbours], axis=1).sum(axis=1)



def _check_krum(models: np.ndarray, f) -> None:
    """Krum's resilience condition n >= 2f + 3 (and f's type), before any distance."""
    why = krum_condition(models.shape[0], models.shape[1], f=f)
    if why:
        raise ValueError(why)


def _krum_ranking(models: np.ndarray, f, n_neighbours, n_threads) -> np.ndarray:
    """Model indices by increasing Krum score (ties in a fixed order of the vectors)."""
    k = _n_neighbours(n_neighbours, models.shape[0], int(f))
    D, _ = pairwise_sq_distances(models, n_threads)
    return rank_with_ties(krum_scores(D, k), models)


def krum(models: np.ndarray, weights=None, *, f=None, n_neighbours=None, n_threads=None) -> np.ndarray:
    r"""Krum (Blanchard, El Mhamdi, Guerraoui, Stainer, NeurIPS 2017).

    The model with the smallest score

    .. math:: s(i) = \sum_{j \in N_i} \lVert x_i - x_j \rVert^2,

    where :math:`N_i` are the :math:`n - f - 2` models closest to :math:`x_i` (others than
    :math:`x_i`). The output is one of the inputs. Resilient (:math:`(\alpha, f)`-Byzantine
    resilient) for :math:`n \ge 2f + 3`; that condition is checked.

    ByzFL's ``Krum`` scores over the :math:`n - f` nearest vectors *counting* :math:`x_i`
    itself, i.e. :math:`n - f - 1` others: ``n_neighbours=n - f - 1`` reproduces it.

    Parameters
    ----------
    models : (n, d) ndarray of float64
    f : int
        Number of Byzantine models tolerated.
    n_neighbours : int, optional
        :math:`|N_i|`; default :math:`n - f - 2` (the paper's).
    n_threads : int, optional

    Returns
    -------
    (d,) ndarray of float64
        A copy of the selected model; equal scores go to the first model in a fixed order
        of the vectors (independent of the input order).

    Raises
    ------
    TypeError
        ``f`` missing or not a non-negative integer.
    ValueError
        Fewer than :math:`2f + 3` models, or ``n_neighbours`` above :math:`n - 1`.

    Examples
    --------
    >>> X = np.array([[0.0], [0.1], [0.25], [0.3], [50.0]])
    >>> krum(X, f=1)
    array([0.25])
    """
    _check_krum(models, f)
    best = _krum_ranking(models, f, n_neighbours, n_threads)[0]
    return models[best].copy()


def multi_krum(models: np.ndarray, weights=None, *, f=None, m=None, n_neighbours=None, n_threads=None) -> np.ndarray:
    r"""Multi-Krum (Blanchard et al. 2017): the (weighted) average of the :math:`m` models
    with the smallest Krum scores (:func:`krum`).

    .. math:: \mathrm{MultiKrum}(x) = \sum_{i \in S} w_i x_i \Big/ \sum_{i \in S} w_i,
              \quad S = \text{the } m \text{ smallest scores } s(i)

    :math:`m = 1` is Krum; the default :math:`m = n - f` is ByzFL's and Flower's. Resilient
    for :math:`n \ge 2f + 3` (checked).

    Parameters
    ----------
    models : (n, d) ndarray of float64
    weights : (n,) ndarray of float64, optional
        Used in the average only (the selection is by distances).
    f : int
    m : int, optional
        Number of models averaged, in [1, n]; default :math:`n - f`.
    n_neighbours : int, optional
        As in :func:`krum`.
    n_threads : int, optional

    Returns
    -------
    (d,) ndarray of float64

    Raises
    ------
    TypeError
        ``f`` missing or not a non-negative integer.
    ValueError
        Fewer than :math:`2f + 3` models, ``m`` above :math:`n`, or every selected model of
        weight 0.

    Examples
    --------
    >>> X = np.array([[0.0], [0.1], [0.2], [0.3], [50.0]])
    >>> multi_krum(X, f=1)
    array([0.15])
    """
    n = models.shape[0]
    _check_krum(models, f)
    m = n - int(f) if m is None else check_int(m, "m", minimum=1)
    if m > n:
        raise ValueError(f"m must be at most n = {n}, got {m}")
    chosen = _krum_ranking(models, f, n_neighbours, n_threads)[:m]
    sel = np.zeros(n)
    sel[chosen] = 1.0
    w = sel if weights is None else sel * unit_weights(weights)
    if not w.sum() > 0:
        raise ValueError("multi_krum: every selected model has weight 0")
    return _core.column_mean(models, w, threads(n_threads))


# ---------------------------------------------------------------- Bulyan


def bulyan_condition(n, d, f=None, inner="krum", **_):
    """Why Bulyan cannot run on n models (None if it can): n >= 4f + 3. Validates ``inner``
    too, before any work."""
    from ._registry import check_method  # noqa: PLC0415 (the registry imports this module's rules)

    f = require_f(f, "bulyan")
    if not isinstance(inner, str):
        raise TypeError(f"inner must be a registered aggregator name, got {type(inner).__name__}")
    check_method(inner, "inner")
    return None if n >= 4 * f + 3 else f"bulyan needs n >= 4f + 3 = {4 * f + 3} models for f = {f}, got {n}"


def bulyan(models: np.ndarray, weights=None, *, f=None, inner="krum", n_threads=None) -> np.ndarray:
    r"""Bulyan (El Mhamdi, Guerraoui, Rouault, ICML 2018) over any inner rule.

    1. Selection: :math:`\theta = n - 2f` times, apply the inner rule :math:`A` to the models
       not yet selected and move the model it picks to the selection :math:`S`. Krum picks
       one of its inputs; any other rule (the geometric median, say) picks the remaining
       model closest to its output.
    2. Aggregation: in every coordinate :math:`j`, average the :math:`\beta = \theta - 2f`
       values of :math:`S` closest to their median (MeaMed of :math:`S` keeping
       :math:`\beta`).

    Resilient for :math:`n \ge 4f + 3` (checked). In step 1 the inner Krum scores over
    :math:`\max(r - f - 2, 0)` neighbours of the :math:`r` models left (down to
    :math:`r = 2f + 1`), from the one Gram matrix of all models.

    Parameters
    ----------
    models : (n, d) ndarray of float64
    f : int
    inner : str, default "krum"
        A registered aggregator name (e.g. ``"krum"``, ``"geometric_median"``,
        ``"median"``), called with ``f=`` when it takes it.
    n_threads : int, optional

    Returns
    -------
    (d,) ndarray of float64

    Raises
    ------
    TypeError
        ``f`` missing or not a non-negative integer, or ``inner`` not a registered name.
    ValueError
        Fewer than :math:`4f + 3` models.

    Examples
    --------
    >>> X = np.array([[0.0], [0.1], [0.2], [0.3], [0.4], [0.5], [90.0]])
    >>> bulyan(X, f=1)
    array([0.2])
    """
    from ._registry import aggregate, accepts_option, check_method  # noqa: PLC0415 (registry calls back)

    n = models.shape[0]
    why = bulyan_condition(n, models.shape[1], f=f)
    if why:
        raise ValueError(why)
    f = int(f)
    if not isinstance(inner, str):
        raise TypeError(f"inner must be a registered aggregator name, got {type(inner).__name__}")
    check_method(inner, "inner")
    nt = threads(n_threads)
    theta, beta = n - 2 * f, n - 4 * f
    order = canonical_order(models)
    pos = np.empty(n, dtype=np.int64)
    pos[order] = np.arange(n)
    remaining = list(order)  # canonical order: ties go to the first
    selected = []
    D = pairwise_sq_distances(models, n_threads)[0] if inner == "krum" else None
    for _ in range(theta):  # bounded: theta picks
        rem = np.array(remaining)
        if inner == "krum":
            k = max(len(rem) - f - 2, 0)
            scores = krum_scores(D[np.ix_(rem, rem)], k)
        else:
            opts = {"f": f} if accepts_option(inner, "f") else {}
            v = aggregate(models[rem], inner, **opts)
            dist, _ = _core.row_distances(np.ascontiguousarray(models[rem]), v, nt)
            scores = dist
        pick = int(np.argmin(np.where(scores == scores.min(), pos[rem], n + pos[rem])))  # min score, then canonical
        selected.append(int(rem[pick]))
        remaining.pop(pick)
    S = np.ascontiguousarray(models[np.array(sorted(selected, key=lambda i: pos[i]))])
    return _core.column_select(S, _core.ColumnStatistic.meamed, beta, nt)


# ---------------------------------------------- minimum-diameter averaging


def mda_condition(n, d, f=None, max_subsets=10**8, **_):
    """Why MDA cannot run on n models (None if it can): n >= 2f + 1. Validates
    ``max_subsets`` too."""
    check_int(max_subsets, "max_subsets", minimum=1)
    f = require_f(f, "minimum_diameter_averaging")
    return None if n >= 2 * f + 1 else (
        f"minimum_diameter_averaging needs n >= 2f + 1 = {2 * f + 1} models for f = {f}, got {n}")


def _mda_approximation(D, m, pos, n_centers=256):
    """Best of the balls around the centres with the smallest m-th-neighbour radius:
    diameter at most twice the minimum (for i in the optimal set, all of it lies within
    the optimal diameter of i)."""
    n = D.shape[0]
    posm = np.broadcast_to(pos, (n, n))
    near = np.lexsort((posm, D), axis=1)[:, :m]  # m nearest to each i, itself included
    radius = D[np.arange(n), near[:, -1]]
    centers = np.lexsort((pos, radius))[:n_centers]
    best, best_d = None, np.inf
    for i in centers:  # bounded: at most n_centers
        s = near[i]
        diam = D[np.ix_(s, s)].max()
        if diam < best_d:
            best, best_d = s, diam
    return best, best_d


def minimum_diameter_averaging(
    models: np.ndarray, weights=None, *, f=None, max_subsets: int = 10**8, n_threads=None
) -> np.ndarray:
    r"""Minimum-diameter averaging (MDA; El Mhamdi et al. 2020, after Rousseeuw 1985).

    The (weighted) average of the :math:`n - f` models whose diameter is smallest:

    .. math:: S^* = \arg\min_{|S| = n - f} \max_{i, j \in S} \lVert x_i - x_j \rVert, \qquad
              \mathrm{MDA}(x) = \sum_{i \in S^*} w_i x_i \Big/ \sum_{i \in S^*} w_i.

    Resilient for :math:`n \ge 2f + 1` (checked). Exact when :math:`\binom{n}{f} \le`
    ``max_subsets``: a branch-and-bound search in the core over the :math:`(n - f)`-subsets
    (it visits at most all of them, usually a tiny part), started from the approximation
    below as a bound; among subsets of equal diameter the first in a fixed order of the
    vectors wins. Above ``max_subsets``, a documented approximation: the best of the sets
    "the :math:`n - f` models nearest to :math:`x_i`" over the (at most 256) centres
    :math:`x_i` with the smallest such radius, whose diameter is at most **twice** the
    minimum.

    Parameters
    ----------
    models : (n, d) ndarray of float64
    weights : (n,) ndarray of float64, optional
        Used in the average only.
    f : int
    max_subsets : int, default 10**8
        Largest :math:`\binom{n}{f}` searched exactly.
    n_threads : int, optional

    Returns
    -------
    (d,) ndarray of float64

    Raises
    ------
    TypeError
        ``f`` missing or not a non-negative integer.
    ValueError
        Fewer than :math:`2f + 1` models, or every selected model of weight 0.
    RuntimeError
        The exact search found no subset (a bug: it always finds one).

    Examples
    --------
    >>> X = np.array([[0.0], [1.0], [2.0], [10.0], [11.0]])
    >>> minimum_diameter_averaging(X, f=2)
    array([1.])
    """
    n = models.shape[0]
    why = mda_condition(n, models.shape[1], f=f)
    if why:
        raise ValueError(why)
    f = int(f)
    max_subsets = check_int(max_subsets, "max_subsets", minimum=1)
    m = n - f
    D, _ = pairwise_sq_distances(models, n_threads)
    order = canonical_order(models)
    pos = np.empty(n, dtype=np.int64)
    pos[order] = np.arange(n)
    subset, bound = _mda_approximation(D, m, pos)
    if math.comb(n, f) <= max_subsets:
        mask, _ = _core.mda_exact(D, m, order, float(bound))
        subset = np.flatnonzero(mask)
        if subset.size != m:  # cannot happen: the bound is reachable
            raise RuntimeError("minimum_diameter_averaging: the exact search found no subset")
    sel = np.zeros(n)
    sel[subset] = 1.0
    w = sel if weights is None else sel * unit_weights(weights)
    if not w.sum() > 0:
        raise ValueError("minimum_diameter_averaging: every selected model has weight 0")
    return _core.column_mean(models, w, threads(n_threads))
