r"""Data splits: how the training examples are dealt to :math:`m` learners.

:func:`split_iid` (random, equal sizes), :func:`split_dirichlet` (non-iid label proportions
drawn from a Dirichlet distribution; Hsu, Qi, Brown, 2019) and :func:`split_shards` (the
pathological label shards of McMahan et al., 2017). Each returns one sorted array of row
indices per learner; together they cover every example exactly once.
"""

from __future__ import annotations

import numbers
from typing import List

import numpy as np

from .._validation import check_int, check_rng, fraction_to_count

__all__ = ["split_iid", "split_dirichlet", "split_shards", "SPLITS", "split_indices"]

SPLITS = ("iid", "dirichlet", "shards")


def _check_labels(y) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1 or y.size == 0:
        raise ValueError(f"y must be a non-empty 1-D array of labels, got shape {y.shape}")
    return y


def split_iid(y, n_learners, *, rng=None) -> List[np.ndarray]:
    """Shuffle the indices of ``y`` and cut them into ``n_learners`` parts of (almost) equal size.

    Parameters
    ----------
    y : (n,) array-like
        Labels (only their number is used).
    n_learners : int
        :math:`m`, at most :math:`n`.
    rng : None, int or numpy.random.Generator

    Returns
    -------
    list of m (n_i,) int64 ndarrays
        Sorted row indices; sizes differ by at most one.

    Raises
    ------
    ValueError
        If ``y`` is empty or not 1-D, or ``n_learners`` is not in [1, n].

    Examples
    --------
    >>> [len(p) for p in split_iid(np.zeros(10), 3, rng=0)]
    [4, 3, 3]
    """
    y = _check_labels(y)
    m = check_int(n_learners, "n_learners", minimum=1)
    if m > y.size:
        raise ValueError(f"n_learners must be at most the number of examples ({y.size}), got {m}")
    gen = check_rng(rng)
    return [np.sort(p) for p in np.array_split(gen.permutation(y.size), m)]


def _check_alpha(alpha) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not 0 < alpha < np.inf:
        raise ValueError(f"alpha must be a positive number, got {alpha!r}")
    return float(alpha)


def _dirichlet_draw(y, classes, m: int, alpha: float, gen: np.random.Generator) -> List[np.ndarray]:
    """One draw: per class, Dirichlet(alpha) proportions and a shuffled deal of its rows."""
    parts: List[list] = [[] for _ in range(m)]
    for c in classes:
        idx = gen.permutation(np.flatnonzero(y == c))
        p = gen.dirichlet(np.full(m, alpha))
        # learner i's part ends at the count of its cumulative proportion, exactly at boundaries
        # (issue 9 kind 5); a partial sum may round a hair above 1
        cuts = [fraction_to_count(min(float(q), 1.0), idx.size, name="cumulative proportion") for q in np.cumsum(p)[:-1]]
        for i, chunk in enumerate(np.split(idx, cuts)):
            parts[i].append(chunk)
    return [np.sort(np.concatenate(p)) for p in parts]


def split_dirichlet(y, n_learners, alpha=0.5, *, rng=None, min_size: int = 1, max_tries: int = 100) -> List[np.ndarray]:
    r"""Non-iid label split with Dirichlet label proportions (Hsu, Qi, Brown, 2019).

    For every class :math:`c`, draw proportions :math:`p_c \sim \mathrm{Dirichlet}(\alpha
    \mathbf{1}_m)` and deal the class's examples (shuffled) to the learners in these
    proportions. Small :math:`\alpha` (0.1) gives learners that see few classes; large
    :math:`\alpha` approaches iid. Learner :math:`i` gets the class's examples from position
    :math:`\lfloor P_{i-1} n_c \rfloor` to :math:`\lfloor P_i n_c \rfloor` (:math:`P_i` the
    cumulative proportions, :math:`n_c` the class size; the floor is exact where :math:`P_i` is
    the double nearest to a fraction :math:`k/n_c`: 0.29 of 100 examples is 29, although
    ``0.29 * 100 == 28.999999999999996``). The whole split is redrawn, at most ``max_tries`` times,
    until every learner holds at least ``min_size`` examples.

    Parameters
    ----------
    y : (n,) array-like
        Class labels.
    n_learners : int
        :math:`m`.
    alpha : float, default 0.5
        Concentration :math:`\alpha > 0` (finite).
    rng : None, int or numpy.random.Generator
    min_size : int, default 1
        Fewest examples a learner may get; :math:`m \cdot` ``min_size`` :math:`\le n`.
    max_tries : int, default 100
        Most draws before giving up (the retry loop is bounded).

    Returns
    -------
    list of m (n_i,) int64 ndarrays
        Sorted row indices; together they cover every example once.

    Raises
    ------
    ValueError
        If no draw within ``max_tries`` gives every learner ``min_size`` examples (the message
        says how to fix it), or an argument is out of range.
    TypeError
        If ``n_learners``, ``min_size`` or ``max_tries`` is not an integer.

    References
    ----------
    T.-M. H. Hsu, H. Qi, M. Brown, "Measuring the effects of non-identical data distribution
    for federated visual classification", arXiv:1909.06335, 2019.

    Examples
    --------
    >>> y = np.repeat(np.arange(4), 25)
    >>> parts = split_dirichlet(y, 3, alpha=0.5, rng=0)
    >>> sorted(np.concatenate(parts).tolist()) == list(range(100))
    True
    """
    y = _check_labels(y)
    m = check_int(n_learners, "n_learners", minimum=1)
    alpha = _check_alpha(alpha)
    min_size = check_int(min_size, "min_size", minimum=0)
    max_tries = check_int(max_tries, "max_tries", minimum=1)
    if m * min_size > y.size:
        raise ValueError(f"cannot give {m} learners at least min_size={min_size} of {y.size} examples")
    gen = check_rng(rng)
    classes = np.unique(y)
    smallest = 0
    for _ in range(max_tries):
        out = _dirichlet_draw(y, classes, m, alpha, gen)
        smallest = min(len(p) for p in out)
        if smallest >= min_size:
            return out
    raise ValueError(
        f"could not draw a Dirichlet(alpha={alpha:g}) split where every learner has >= {min_size} examples "
        f"in max_tries={max_tries} tries (the last draw's smallest learner had {smallest}); increase alpha, "
        "lower min_size or raise max_tries"
    )


def split_shards(y, n_learners, shards_per_learner: int = 2, *, rng=None) -> List[np.ndarray]:
    """Pathological non-iid split of McMahan et al. (2017).

    Sort the examples by label, cut them into ``n_learners * shards_per_learner`` equal
    shards and give each learner ``shards_per_learner`` random shards, so a learner sees
    about that many classes.

    Parameters
    ----------
    y : (n,) array-like
        Class labels.
    n_learners : int
    shards_per_learner : int, default 2
    rng : None, int or numpy.random.Generator

    Returns
    -------
    list of m (n_i,) int64 ndarrays
        Sorted row indices.

    Raises
    ------
    ValueError
        If ``n_learners * shards_per_learner`` exceeds the number of examples.

    References
    ----------
    H. B. McMahan, E. Moore, D. Ramage, S. Hampson, B. Agüera y Arcas, "Communication-efficient
    learning of deep networks from decentralized data", AISTATS 2017.

    Examples
    --------
    >>> y = np.repeat(np.arange(5), 20)
    >>> [len(np.unique(y[p])) <= 2 for p in split_shards(y, 5, 2, rng=0)]
    [True, True, True, True, True]
    """
    y = _check_labels(y)
    m = check_int(n_learners, "n_learners", minimum=1)
    s = check_int(shards_per_learner, "shards_per_learner", minimum=1)
    if m * s > y.size:
        raise ValueError(f"n_learners * shards_per_learner = {m * s} exceeds the number of examples ({y.size})")
    gen = check_rng(rng)
    order = np.argsort(y, kind="stable")
    shards = np.array_split(order, m * s)
    assign = gen.permutation(m * s).reshape(m, s)
    return [np.sort(np.concatenate([shards[j] for j in row])) for row in assign]


def split_indices(y, n_learners, split: str = "iid", *, alpha: float = 0.5, shards_per_learner: int = 2,
                  rng=None) -> List[np.ndarray]:
    """One of the splits by name: ``"iid"``, ``"dirichlet"`` (with ``alpha``, every learner
    getting at least one example) or ``"shards"`` (with ``shards_per_learner``).

    Parameters
    ----------
    y : (n,) array-like
    n_learners : int
    split : {"iid", "dirichlet", "shards"}, default "iid"
    alpha : float, default 0.5
        For ``"dirichlet"``.
    shards_per_learner : int, default 2
        For ``"shards"``.
    rng : None, int or numpy.random.Generator

    Returns
    -------
    list of m (n_i,) int64 ndarrays

    Raises
    ------
    ValueError
        For an unknown ``split`` name, or as the chosen split raises.

    Examples
    --------
    >>> [len(p) for p in split_indices(np.zeros(10), 2, "iid", rng=0)]
    [5, 5]
    """
    if split == "iid":
        return split_iid(y, n_learners, rng=rng)
    if split == "dirichlet":
        return split_dirichlet(y, n_learners, alpha, rng=rng, min_size=1)
    if split == "shards":
        return split_shards(y, n_learners, shards_per_learner, rng=rng)
    raise ValueError(f"split must be 'iid', 'dirichlet' or 'shards', got {split!r}")
