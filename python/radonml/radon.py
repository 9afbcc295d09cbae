"""Radon points, iterated Radon points (the Radon machine's aggregation) and Tukey depth.

References
----------
.. [1] J. Radon, "Mengen konvexer Körper, die einen gemeinsamen Punkt enthalten",
   Math. Ann. 83, 1921.
.. [2] M. Kamp, M. Boley, O. Missura, T. Gärtner, "Effective Parallelisation for
   Machine Learning", NeurIPS 2017.
.. [3] K. Clarkson, D. Eppstein, G. Miller, C. Sturtivant, S.-H. Teng,
   "Approximating center points with iterated Radon points", SoCG 1993 / IJCGA 1996.
"""

from __future__ import annotations

import math
import numbers
import warnings
from dataclasses import dataclass

import numpy as np

from . import _core
from ._validation import as_float_array, check_int, check_n_threads, check_rng
from .exceptions import RadonmlWarning

__all__ = [
    "RadonPartition",
    "RadonTree",
    "radon_number",
    "radon_point",
    "radon_points",
    "iterated_radon_point",
    "radon_tree",
    "tree_height",
    "tukey_depth",
]

REMAINDER_POLICIES = ("spread", "drop", "resample", "raise")
MAX_DIRECTIONS = 10**7  # tukey_depth's n_directions cap (work n * n_directions * d)


def radon_number(n_dims) -> int:
    r"""Radon number of :math:`\mathbb{R}^d`: the number of points that can always be split
    into two parts with intersecting convex hulls.

    .. math:: r(\mathbb{R}^d) = d + 2

    Parameters
    ----------
    n_dims : int
        Dimension :math:`d \ge 1`. For a linear model with intercept on ``n_features``
        inputs, :math:`d` is ``n_features + 1``.

    Returns
    -------
    r : int

    Raises
    ------
    TypeError
        If ``n_dims`` is not an integer.
    ValueError
        If ``n_dims < 1``.

    Examples
    --------
    >>> radon_number(2)
    4
    """
    d = check_int(n_dims, "n_dims", minimum=1)
    return d + 2


@dataclass(frozen=True)
class RadonPartition:
    r"""A Radon point with the null vector and partition that certify it.

    The partition covers every input point: ``positive`` marks
    :math:`I = \{i : \lambda_i > 0\}` and ``~positive`` marks :math:`J`, which also holds
    the points with :math:`\lambda_i = 0`. Such points carry no weight; the point lies in
    the convex hull of the weighted points of each part, hence in the hulls of both whole
    parts (a Radon partition of a subset extends to one of the whole set by putting the
    remaining points on either side).

    Attributes
    ----------
    point : (d,) ndarray of float64
        The Radon point :math:`p = \sum_{i \in I} \lambda_i s_i = \sum_{j \in J} -\lambda_j s_j`.
    weights : (k,) ndarray of float64
        The null vector :math:`\lambda` of the Radon partition (Radon, 1921; Kamp et al., 2017), scaled so that its positive entries sum to 1
        and the others to -1: ``weights[positive]`` are the convex weights of the I-points and
        ``-weights[~positive]`` those of the J-points.
    positive : (k,) ndarray of bool
        Mask of :math:`I = \{i : \lambda_i > 0\}`.

    See Also
    --------
    radon_point : returns one with ``return_partition=True``.

    Examples
    --------
    >>> from radonml import radon_point
    >>> res = radon_point([[0, 0], [2, 0], [0, 2], [2, 2], [1, 3]], return_partition=True)
    >>> res.point
    array([0.75, 1.25])
    >>> res.positive                      # I = {1, 2}: (2, 0) and (0, 2)
    array([False,  True,  True, False, False])
    >>> float(res.weights[res.positive].sum()), float(res.weights[~res.positive].sum())
    (1.0, -1.0)
    """

    point: np.ndarray
    weights: np.ndarray
    positive: np.ndarray

    @property
    def n_weighted(self) -> int:
        """Number of points with a non-zero weight (the others carry none)."""
        return int(np.count_nonzero(self.weights))


def _check_points(points, name="points"):
    pts = as_float_array(points, name, ndim=2)
    r, d = pts.shape
    if r < d + 2:
        raise ValueError(
            f"{name} must hold at least d + 2 = {d + 2} points in dimension d = {d} "
            f"(the Radon number), got {r} (shape {pts.shape})"
        )
    return pts


def _check_bool(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r} of type {type(value).__name__}")
    return bool(value)


def radon_point(points, *, return_partition: bool = False):
    r"""Radon point of :math:`k \ge d + 2` points in :math:`\mathbb{R}^d`.

    A non-zero null vector :math:`\lambda` of

    .. math:: M = \begin{bmatrix} s_1 & \cdots & s_k \\ 1 & \cdots & 1 \end{bmatrix},
              \qquad M\lambda = 0,

    splits the points into :math:`I = \{i : \lambda_i > 0\}` and :math:`J` (the rest); with
    :math:`A = \sum_{i \in I} \lambda_i`,

    .. math:: p = \sum_{i \in I} \frac{\lambda_i}{A} s_i = \sum_{j \in J} \frac{-\lambda_j}{A} s_j

    lies in the convex hulls of both parts (Radon, 1921).

    **Which null vector.** For :math:`k = d + 2` points in general position the null space
    is one-dimensional. For :math:`k > d + 2` radonml takes the sum, over every point
    :math:`s_j` after the first :math:`d + 1`, of the null vectors of the :math:`d + 2`
    points :math:`\{s_1, \dots, s_{d+1}, s_j\}` scaled to :math:`\lambda_j = 1`:

    .. math:: \lambda_j = 1 \; (j > d + 1), \qquad
              \sum_{i \le d+1} \lambda_i \binom{s_i}{1} = -\sum_{j > d+1} \binom{s_j}{1},

    so in general position every point carries weight (every model of a group counts), at
    the cost of one :math:`O(d^3)` LU of the first :math:`d + 1` columns plus :math:`O(kd)`.
    When that block is singular or ill-conditioned (duplicated points, points on an affine
    subspace) a rank-revealing full-pivot LU of :math:`M` picks the basis instead (weight 1
    on every non-basis point, the basis solved for), and a column-pivoted QR of
    :math:`M^T` is the last resort. The returned partition always covers all :math:`k`
    points; points whose weight is exactly 0 (possible only on degenerate inputs) lie in
    :math:`J` and carry no weight (:attr:`RadonPartition.n_weighted` counts the others).
    Memory is :math:`O(kd)` whatever :math:`k`: 40,000 points in the plane need no
    :math:`k \times k` matrix.

    Every null vector must pass :math:`\lVert M\lambda\rVert_\infty \le 256 (d+2)\,\epsilon\,
    \lVert\lambda\rVert_1` (normalized :math:`M`, compensated sums) before it is used, so
    both parts' combinations agree to rounding. The points are mapped to :math:`[-1, 1]^d`
    coordinate-wise first, which leaves the null space unchanged (it is affine invariant),
    so inputs of any scale, from 1e300 down to subnormal numbers, work. No noise is ever
    added.

    The weights are canonical: the positive ones sum to 1, the others to -1, and the entry
    of largest magnitude is positive (the first one on exact ties), so the point is the
    convex combination of the part that holds it.

    Parameters
    ----------
    points : (k, d) array-like of float
        The points, one per row; converted to float64.
    return_partition : bool, default False
        Return a :class:`RadonPartition` with the null vector and the partition.

    Returns
    -------
    point : (d,) ndarray of float64, or RadonPartition

    Raises
    ------
    ValueError
        If ``points`` is empty, not 2-D, holds NaN or inf, or has fewer than d + 2 rows.
    TypeError
        If ``points`` is not numeric, or ``return_partition`` is not a bool.

    References
    ----------
    Radon, "Mengen konvexer Körper, die einen gemeinsamen Punkt enthalten", Math. Ann. 83, 1921.
    Kamp, Boley, Missura, Gärtner, "Effective Parallelisation for Machine Learning", NeurIPS 2017.

    Examples
    --------
    The diagonals of a square cross at its centre:

    >>> radon_point([[0, 0], [1, 1], [1, 0], [0, 1]])
    array([0.5, 0.5])

    Every point of a larger set carries weight, and the partition covers all of them:

    >>> res = radon_point([[0, 0], [2, 0], [0, 2], [2, 2], [1, 3]], return_partition=True)
    >>> res.n_weighted, res.positive.shape
    (5, (5,))
    """
    want = _check_bool(return_partition, "return_partition")
    pts = _check_points(points)
    p, lam, _ = _core.radon_points(pts[None], 1)
    if not want:
        return p[0]
    lam = lam[0]
    return RadonPartition(point=p[0], weights=lam, positive=lam > 0)


def radon_points(groups, *, n_threads=None):
    r"""Radon points of many groups at once, in parallel in the compiled core.

    Computes :func:`radon_point` of every ``groups[j]`` (bit-identical to calling it group by
    group); the GIL is released and the groups are split over ``n_threads`` threads. The
    result does not depend on the thread count.

    Parameters
    ----------
    groups : (g, k, d) array-like of float
        ``g`` groups of ``k >= d + 2`` points each.
    n_threads : int, optional
        Number of threads; ``None`` or ``-1`` uses all cores. At most
        ``radonml._core.max_threads`` (256) threads are started: larger values run with
        that many.

    Returns
    -------
    points : (g, d) ndarray of float64

    Raises
    ------
    ValueError
        If ``groups`` is empty, not 3-D, not finite or has fewer than d + 2 points per group,
        or ``n_threads`` is 0 or below -1.
    TypeError
        If ``groups`` is not numeric or ``n_threads`` is not an integer.

    Examples
    --------
    >>> radon_points([[[0, 0], [2, 2], [2, 0], [0, 2]], [[0, 0], [4, 4], [4, 0], [0, 4]]])
    array([[1., 1.],
           [2., 2.]])
    """
    nt = check_n_threads(n_threads)
    arr = as_float_array(groups, "groups", ndim=3)
    g, r, d = arr.shape
    if r < d + 2:
        raise ValueError(
            f"groups must hold at least d + 2 = {d + 2} points per group in dimension d = {d}, "
            f"got {r} (shape {arr.shape})"
        )
    p, _, _ = _core.radon_points(arr, nt)
    return p


def _check_remainder(remainder):
    if not isinstance(remainder, str) or remainder not in REMAINDER_POLICIES:
        raise ValueError(f"remainder must be one of {REMAINDER_POLICIES}, got {remainder!r}")
    return remainder


def _power_at_most(r: int, h: int, limit: int):
    """r**h if it is at most ``limit``, else None; O(min(h, log_r limit)) steps, so an
    absurd height costs nothing."""
    p = 1
    for _ in range(h):
        p *= r
        if p > limit:
            return None
    return p


def tree_height(n_models, n_dims, *, remainder: str = "spread") -> int:
    r"""Default height of the aggregation tree of :func:`iterated_radon_point`.

    The height is the number of levels of Radon points, i.e. of rounds until one point
    remains. With :math:`r = d + 2`:

    - ``"spread"`` (default), ``"drop"``, ``"raise"``: the largest :math:`h` with
      :math:`r^h \le n`, the most levels for which every group holds at least :math:`r`
      models (0 when :math:`n < r`);
    - ``"resample"``: the smallest :math:`h` with :math:`r^h \ge n`.

    Parameters
    ----------
    n_models : int
        Number of models :math:`n \ge 1`.
    n_dims : int
        Their dimension :math:`d \ge 1`.
    remainder : {"spread", "drop", "resample", "raise"}, default "spread"

    Returns
    -------
    height : int

    Raises
    ------
    TypeError, ValueError
        If an argument is not an integer, out of range, or ``remainder`` is unknown.

    Examples
    --------
    >>> tree_height(144, 10)
    2
    >>> tree_height(10**6, 10)
    5
    >>> tree_height(145, 10, remainder="resample")
    3
    """
    n = check_int(n_models, "n_models", minimum=1)
    r = radon_number(n_dims)
    _check_remainder(remainder)
    h, size = 0, 1
    if remainder == "resample":
        while size < n:  # at most log_r(n) + 1 steps
            size *= r
            h += 1
        return h
    while size * r <= n:  # at most log_r(n) steps
        size *= r
        h += 1
    return h


@dataclass(frozen=True)
class RadonTree:
    r"""Shape of the aggregation tree of :func:`iterated_radon_point` (see :func:`radon_tree`).

    Attributes
    ----------
    n_models : int
        Models given.
    n_dims : int
        Their dimension :math:`d`.
    radon_number : int
        :math:`r = d + 2`, the smallest group.
    height : int
        Number of levels :math:`h`.
    remainder : str
        The remainder policy.
    n_leaves : int
        Leaves of the tree (models entering level 1; with ``"resample"`` some models twice).
    n_used : int
        Distinct models that enter the tree.
    n_left_out : int
        Models that do not (``"drop"`` only).
    groups : tuple of int
        Number of groups of each level, from the leaves up; the last is 1.
    group_sizes : tuple of (int, int)
        Smallest and largest group of each level. Within a level, sizes differ by at most 1.

    Examples
    --------
    >>> from radonml import radon_tree
    >>> tree = radon_tree(100, 2)             # 100 models in R^2: r = 4, every model used
    >>> tree
    RadonTree(n_models=100, n_dims=2, r=4, height=3, remainder='spread', used=100, left_out=0, levels=[25x4, 6x4-5, 1x6])
    >>> tree.group_sizes
    ((4, 4), (4, 5), (6, 6))
    >>> radon_tree(100, 2, remainder="drop").n_left_out   # the exact r^h tree drops 36
    36
    >>> tree.failure_bound(0.05) < 1e-4       # each model bad with probability 0.05
    True
    """

    n_models: int
    n_dims: int
    radon_number: int
    height: int
    remainder: str
    n_leaves: int
    n_used: int
    n_left_out: int
    groups: tuple
    group_sizes: tuple

    def failure_bound(self, delta) -> float:
        r"""Upper bound of :math:`P(Q(\text{result}) > \varepsilon)` when each model has
        :math:`P(Q(f_i) > \varepsilon) \le \delta`, independently, for a convex :math:`Q`.

        A group's Radon point is bad only if both parts of its partition hold a bad model
        (otherwise the part that holds only good models has the point in its convex hull,
        inside the convex set :math:`\{Q \le \varepsilon\}`). For independent inputs each bad
        with probability at most :math:`\delta_l`, a group of :math:`k` is bad with
        probability at most :math:`\binom{k}{2}\delta_l^2`. Disjoint groups give independent
        points, so with :math:`c_l = \binom{k_l}{2}`, :math:`k_l` the largest group of level
        :math:`l` (from the leaves, :math:`l = 1 \dots h`),

        .. math:: \delta_l \le c_l\,\delta_{l-1}^2 \quad\Longrightarrow\quad
                  \delta_h \le \delta^{2^h} \prod_{l=1}^{h} c_l^{\,2^{h-l}}
                  \le \frac{(c\,\delta)^{2^h}}{c}, \qquad c = \max_l c_l.

        Returns that product, capped at 1. Not available for ``"resample"``, whose groups
        share models (they are not independent).

        Parameters
        ----------
        delta : float in [0, 1]
            Probability that one model is bad, :math:`P(Q(f_i) > \varepsilon)`.

        Returns
        -------
        bound : float
            The bound on the probability that the tree's result is bad, in [0, 1].

        Raises
        ------
        ValueError
            If ``delta`` is not a probability, or the tree's remainder policy is
            ``"resample"``.

        Examples
        --------
        >>> from radonml import radon_tree
        >>> tree = radon_tree(16, 2, remainder="drop")   # 4 groups of 4, then 1 of 4: c = 6
        >>> round(tree.failure_bound(0.1), 10)           # 6 * (6 * 0.1**2)**2
        0.0216
        """
        if isinstance(delta, bool) or not isinstance(delta, numbers.Real) or not 0.0 <= float(delta) <= 1.0:
            raise ValueError(f"delta must be a probability in [0, 1], got {delta!r}")
        if self.remainder == "resample":
            raise ValueError("failure_bound needs disjoint groups; remainder='resample' reuses models in several groups")
        delta = float(delta)
        if delta == 0.0:
            return 0.0
        h = self.height
        log_b = (2.0**h) * math.log(delta)
        for level, (_, k_max) in enumerate(self.group_sizes, start=1):
            log_b += (2.0 ** (h - level)) * math.log(math.comb(k_max, 2))
        return 1.0 if log_b >= 0 else math.exp(log_b)

    def to_dict(self) -> dict:
        """The fields as a dict of plain Python values (JSON-serializable)."""
        return {
            "n_models": self.n_models,
            "n_dims": self.n_dims,
            "radon_number": self.radon_number,
            "height": self.height,
            "remainder": self.remainder,
            "n_leaves": self.n_leaves,
            "n_used": self.n_used,
            "n_left_out": self.n_left_out,
            "groups": list(self.groups),
            "group_sizes": [list(s) for s in self.group_sizes],
        }

    def __repr__(self) -> str:
        levels = ", ".join(
            f"{g}x{lo}" if lo == hi else f"{g}x{lo}-{hi}" for g, (lo, hi) in zip(self.groups, self.group_sizes)
        )
        return (
            f"RadonTree(n_models={self.n_models}, n_dims={self.n_dims}, r={self.radon_number}, "
            f"height={self.height}, remainder={self.remainder!r}, used={self.n_used}, "
            f"left_out={self.n_left_out}, levels=[{levels}])"
        )


def _spread_groups(n: int, r: int, h: int) -> list:
    """Group counts per level (from the leaves) of the "spread" tree: every model used,
    groups of r to 2r - 1 below the root, the slack pushed up (see radon_tree)."""
    q = 2 * r - 1
    root_cap = max(q, -(-n // q ** (h - 1)))
    sizes = [n]  # N_h = n, then N_{h-1}, ..., N_1
    for level in range(h - 1, 0, -1):
        sizes.append(min(sizes[-1] // r, root_cap * q ** (level - 1)))
    return sizes[1:] + [1]


def _resolve_tree(n: int, d: int, height, remainder: str, name: str = "points"):
    """Validated (height, n_leaves, groups) of the tree, before any work. ``name`` is the
    argument that gave the models (``points``, or ``n_models`` for radon_tree)."""
    r = d + 2
    if height is None:
        if n < r and remainder != "resample":
            raise ValueError(f"{name} must hold at least r = d + 2 = {r} models in dimension d = {d}, got {n}")
        h = max(tree_height(n, d, remainder=remainder), 1)
    else:
        h = check_int(height, "height", minimum=1)
    if remainder == "resample":
        if n < r:
            raise ValueError(f"{name} must hold at least r = {r} models to form one group, got {n}")
        L = _power_at_most(r, h, r * (n - 1))  # r^(h-1) < n: no level made of resampled groups only
        if L is None:
            raise ValueError(
                f"height={h} is too large for {n} models with remainder='resample': r^(height-1) = {r}^{h - 1} "
                f">= {n} would resample whole levels; use height <= {tree_height(n, d, remainder='resample')}"
            )
        if L < n:
            raise ValueError(
                f"height={h} is too small for {n} models with remainder='resample': r^height = {L} < {n}; "
                "use a larger height or remainder='drop'"
            )
        return h, L, [L // r**level for level in range(1, h + 1)]
    L = _power_at_most(r, h, n)
    need = f"{r}^{h} = {r**h}" if L is not None or h <= 64 else f"{r}^{h} > {n}"
    if remainder == "raise":
        if L != n:
            raise ValueError(f"{name} must hold exactly r^height = {need} models with remainder='raise', got {n}")
    elif L is None:
        raise ValueError(
            f"height={h} is too large for {n} models: it needs r^height = {need} models (r = d + 2 = {r}); "
            f"use height <= {tree_height(n, d)}"
        )
    if remainder == "spread":
        return h, n, _spread_groups(n, r, h)
    return h, L, [L // r**level for level in range(1, h + 1)]


def radon_tree(n_models, n_dims, *, height=None, remainder: str = "spread") -> RadonTree:
    r"""Shape of the aggregation tree :func:`iterated_radon_point` builds (no models needed).

    With :math:`r = d + 2` and :math:`h` levels (default :func:`tree_height`):

    - ``"spread"`` (default): every model is used once. Level 1 splits the :math:`n`
      shuffled models into :math:`N_{h-1}` groups of consecutive models, level :math:`l`
      the :math:`N_{h-l+1}` points of the level below into :math:`N_{h-l}` groups, and the
      root (level :math:`h`) is one group of :math:`N_1` points. Within a level the sizes
      differ by at most one (the first :math:`m \bmod g` of :math:`g` groups over :math:`m`
      points hold one more). The counts are

      .. math:: N_h = n, \qquad N_l = \min\left(\lfloor N_{l+1} / r \rfloor,\;
                K (2r-1)^{l-1}\right), \qquad K = \max\left(2r - 1,\,
                \lceil n / (2r-1)^{h-1} \rceil\right),

      so every group holds :math:`r` to :math:`2r - 1` models whenever
      :math:`n \le (2r-1)^h` (always for the default height once
      :math:`h \ge \log r / \log(2 - 1/r)`, a little above :math:`\log_2 r`: e.g.
      :math:`h \ge 4` for :math:`r = 12`, so :math:`10^6` models in :math:`\mathbb{R}^{10}`);
      otherwise (:math:`n` just below :math:`r^{h+1}` for a small height, as 80 models in
      :math:`\mathbb{R}^7`, or a height below the default) only the root group is larger, up
      to :math:`\lceil n / (2r-1)^{h-1} \rceil` points, and its factor
      :math:`\binom{k}{2}` in the bound grows with it (``"drop"`` keeps groups of :math:`r`
      by leaving models out). Groups stay as close to
      :math:`r` as possible at the leaves, where their size matters most for the bound in
      :meth:`RadonTree.failure_bound`.
    - ``"drop"``: :math:`r^h` models drawn without replacement, groups of exactly
      :math:`r`; :math:`n - r^h` models are left out (the Radon machine's exact setting).
    - ``"raise"``: requires :math:`n = r^h`; groups of :math:`r`.
    - ``"resample"``: :math:`r^h \ge n` leaves, groups of :math:`r`; every model once,
      the last incomplete group and the remaining groups filled with models drawn again
      (without repetition inside a group), so groups share models.

    Parameters
    ----------
    n_models : int
    n_dims : int
    height : int, optional
        Levels; ``None`` uses :func:`tree_height`. ``"spread"`` and ``"drop"`` need
        :math:`r^h \le n`, ``"raise"`` :math:`r^h = n`, ``"resample"``
        :math:`r^{h-1} < n \le r^h`.
    remainder : {"spread", "drop", "resample", "raise"}, default "spread"

    Returns
    -------
    RadonTree

    Raises
    ------
    TypeError, ValueError
        If an argument has the wrong type, or the height does not fit the models.

    Examples
    --------
    80 models in :math:`\mathbb{R}^7` (:math:`r = 9`): one group of all 80 models, none
    left out; ``"drop"`` would use 9:

    >>> radon_tree(80, 7)
    RadonTree(n_models=80, n_dims=7, r=9, height=1, remainder='spread', used=80, left_out=0, levels=[1x80])
    >>> radon_tree(80, 7, remainder="drop").n_left_out
    71
    >>> radon_tree(10**6, 10).groups
    (83333, 6944, 529, 23, 1)
    """
    n = check_int(n_models, "n_models", minimum=1)
    d = check_int(n_dims, "n_dims", minimum=1)
    _check_remainder(remainder)
    h, L, groups = _resolve_tree(n, d, height, remainder, name="n_models")
    sizes, m = [], L
    for g in groups:
        sizes.append((m // g, -(-m // g)))
        m = g
    used = L if remainder in ("spread", "drop", "raise") else n
    return RadonTree(
        n_models=n,
        n_dims=d,
        radon_number=d + 2,
        height=h,
        remainder=remainder,
        n_leaves=L,
        n_used=used,
        n_left_out=n - used,
        groups=tuple(int(g) for g in groups),
        group_sizes=tuple(sizes),
    )


def _distinct_groups(n: int, r: int, n_groups: int, rng: np.random.Generator) -> np.ndarray:
    """n_groups rows of r distinct indices in [0, n), each a uniform random r-subset in
    random order: Floyd's algorithm, vectorized over the rows (exactly r draws, no retry)."""
    S = np.empty((n_groups, r), dtype=np.int64)
    for i, j in enumerate(range(n - r, n)):
        t = rng.integers(0, j + 1, size=n_groups)
        taken = (S[:, :i] == t[:, None]).any(axis=1)
        S[:, i] = np.where(taken, j, t)
    return rng.permuted(S, axis=1)


def _leaves(n: int, r: int, height: int, remainder: str, rng: np.random.Generator, n_threads: int = 0) -> np.ndarray:
    """Leaf order of the aggregation tree: indices into the n models, grouped in order.

    "spread" and "raise" use every model once, in a uniformly random order drawn by the
    compiled core (a seed from ``rng``; the same for every thread count). "drop" with exactly
    r^height models drops none and takes the same order, so that the Radon machine's exact
    setting gives the same tree under every policy that uses each model once."""
    L = r**height
    if remainder in ("spread", "raise") or (remainder == "drop" and n == L):
        if remainder == "raise" and n != r**height:
            raise ValueError(
                f"points must hold exactly r^height = {r}^{height} = {r**height} models with remainder='raise', got {n}"
            )
        seed = int(rng.integers(0, 2**64, dtype=np.uint64))
        return _core.random_permutation(n, seed, n_threads)
    if remainder == "drop":
        if n < L:
            raise ValueError(
                f"height={height} is too large for {n} models: it needs r^height = {r}^{height} = {L} "
                f"models (r = d + 2 = {r}); use a smaller height or remainder='resample'"
            )
        return rng.choice(n, size=L, replace=False)
    # resample: every model is used once; the last incomplete group is filled with models drawn
    # without replacement from outside it, and any remaining groups with r distinct random models.
    if n > L:
        raise ValueError(
            f"height={height} is too small for {n} models with remainder='resample': r^height = {L} < {n}; "
            "use a larger height or remainder='drop'"
        )
    perm = rng.permutation(n)
    parts = [perm]
    n_full, rest = divmod(n, r)
    if rest:
        if n_full == 0:
            raise ValueError(f"points must hold at least r = {r} models to form one group, got {n}")
        parts.append(rng.choice(perm[: n_full * r], size=r - rest, replace=False))
    n_groups_left = L // r - (n_full + (1 if rest else 0))
    if n_groups_left > 0:
        parts.append(_distinct_groups(n, r, n_groups_left, rng).ravel())
    return np.concatenate(parts).astype(np.int64, copy=False)


def iterated_radon_point(points, *, height=None, rng=None, remainder: str = "spread", n_threads=None):
    r"""Iterated Radon point: the aggregation tree of the Radon machine, using every model.

    The models are shuffled and split into groups; each group is replaced by its Radon point
    (:func:`radon_point`; for more than :math:`r = d + 2` points every point carries weight),
    and the points are grouped again, level by level, until one point remains (Kamp et al.,
    2017, Alg. 1, with groups of :math:`r` to :math:`2r - 1`). Only the leaf level is
    shuffled: the points of later levels come from disjoint groups, so they are already
    independent, and grouping them in order is equivalent to shuffling them. The exact tree
    of each policy is given by :func:`radon_tree`, which reports the group counts and sizes
    and how many models are used.

    **Guarantee.** Let :math:`Q` be a convex regret and :math:`\delta = P(Q(f) > \varepsilon)`
    for independent models. A group's Radon point is bad only if both parts hold a bad model,
    so a group of :math:`k \ge r` models is bad with probability at most
    :math:`\binom{k}{2}\delta^2 \le (k\delta)^2`. Carried through :math:`h` levels with
    :math:`c_l = \binom{k_l}{2}` for the largest group :math:`k_l` of level :math:`l`:

    .. math:: P(Q(\text{result}) > \varepsilon) \;\le\; \delta^{2^h}\prod_{l=1}^{h}
              c_l^{\,2^{h-l}} \;\le\; \frac{(c\,\delta)^{2^h}}{c}, \qquad c = \max_l c_l
              \le \binom{2r-1}{2} < 2r^2

    when every group holds at most :math:`2r - 1` models (see
    :meth:`RadonTree.failure_bound`; for groups of exactly :math:`r`, ``"drop"``, this is the
    Radon machine's :math:`(r\delta)^{2^h}`-type bound with :math:`c = \binom{r}{2}`). The
    bound doubles its exponent with every level, so using all :math:`n` models, which
    allows the largest height :math:`\lfloor \log_r n \rfloor`, is what makes it small. The
    iterated Radon point of :math:`n` points also has Tukey depth :math:`\Omega(n / d^2)`
    with high probability (Clarkson et al., 1996).

    Parameters
    ----------
    points : (n, d) array-like of float
        The models, one per row (e.g. ``coef_`` with ``intercept_`` appended).
    height : int, optional
        Number of levels :math:`h \ge 1`, i.e. of rounds until one point remains. ``None``
        uses :func:`tree_height`: the largest :math:`h` with :math:`r^h \le n` (``"spread"``,
        ``"drop"``, ``"raise"``; every group then holds at least :math:`r` models) or the
        smallest with :math:`r^h \ge n` (``"resample"``). With ``"spread"`` a smaller height
        makes the top group larger (every model is still used).
    rng : None, int or numpy.random.Generator
        Source of the random grouping; a fixed seed gives identical results.
    remainder : {"spread", "drop", "resample", "raise"}, default "spread"
        How the models are grouped when :math:`n \ne r^h`:

        - ``"spread"`` (default): every model is used exactly once; the models beyond
          groups of :math:`r` are spread over the groups, which then hold :math:`r` to
          :math:`2r - 1` models (only the root may hold more, see :func:`radon_tree`).
        - ``"drop"``: aggregate :math:`r^h` models drawn uniformly at random without
          replacement and leave the others out, with a :class:`~radonml.RadonmlWarning`
          that says how many. Groups of exactly :math:`r`: the Radon machine's setting
          (give exactly :math:`r^h` models to use them all, as the scikit-learn Radon
          machine does).
        - ``"resample"``: use every model; complete the last group with models drawn
          without replacement from outside it, and fill the remaining groups of the tree
          with :math:`r` distinct models drawn at random (each group is drawn directly
          without replacement). Resampled models appear in two groups, so groups are not
          independent.
        - ``"raise"``: require :math:`n = r^h` exactly.
    n_threads : int, optional
        Threads for the compiled core; ``None`` or ``-1`` uses all cores, at most 256 are
        started. The result does not depend on it.

    Returns
    -------
    point : (d,) ndarray of float64

    Raises
    ------
    ValueError
        If ``points`` is empty, not 2-D or not finite, has fewer than :math:`r` models, the
        height does not fit the models, or an option is out of range (all checked before any
        work).
    TypeError
        If ``points`` is not numeric or an option has the wrong type.

    Warns
    -----
    RadonmlWarning
        With ``remainder="drop"`` when models are left out, saying how many.

    References
    ----------
    Kamp, Boley, Missura, Gärtner, "Effective Parallelisation for Machine Learning", NeurIPS 2017.
    Clarkson, Eppstein, Miller, Sturtivant, Teng, "Approximating center points with iterated
    Radon points", SoCG 1993 / IJCGA 1996.

    Examples
    --------
    Four points in the plane have one Radon point; the tree of height 1 is that point:

    >>> iterated_radon_point([[0, 0], [1, 1], [1, 0], [0, 1]], rng=0)
    array([0.5, 0.5])

    Five points in the plane form one group of five, all of them weighted:

    >>> iterated_radon_point([[0, 0], [2, 0], [0, 2], [2, 2], [1, 1]], rng=0)
    array([1., 1.])
    """
    pts = as_float_array(points, "points", ndim=2)
    n, d = pts.shape
    _check_remainder(remainder)
    h, L, groups = _resolve_tree(n, d, height, remainder)
    gen = check_rng(rng)
    nt = check_n_threads(n_threads)
    leaves = _leaves(n, d + 2, h, remainder, gen, nt)
    if remainder == "drop" and L < n:
        warnings.warn(
            f"iterated_radon_point: remainder='drop' aggregates r^height = {L} of the {n} models and "
            f"leaves {n - L} out; remainder='spread' (the default) uses every model",
            RadonmlWarning,
            stacklevel=2,
        )
    return _core.iterated_radon_point(pts, leaves, np.asarray(groups, dtype=np.int64), nt)


def _tukey_depth_2d(diff: np.ndarray) -> int:
    """Exact Tukey depth of the origin among the rows of ``diff`` (n, 2).

    A closed half-plane through the origin is shallowest just next to a position where its
    boundary line runs through a data point v. For that line, with L and R the numbers of
    points strictly on either side, S the points on the ray of v and O those on the opposite
    ray, the half-planes next to it hold L + S, L + O, R + S or R + O points, so

        depth = #zeros + min over v of (min(L, R) + min(S, O)).

    Directions are sorted by angle; the side tests use exact signs of cross products (exact
    whenever those products are, e.g. for integer coordinates below 2**26), so collinear and
    opposite points are counted correctly. O(n log n).
    """
    n = diff.shape[0]
    diff = diff + 0.0  # -0.0 -> +0.0, so that arctan2 stays in (-pi, pi]
    nonzero = (diff != 0).any(axis=1)
    n_zero = n - int(nonzero.sum())
    v = diff[nonzero]
    m = v.shape[0]
    if m == 0:
        return n
    ang = np.arctan2(v[:, 1], v[:, 0])
    order = np.argsort(ang, kind="stable")
    v, ang = v[order], ang[order]
    # groups of points on the same ray (adjacent after sorting)
    same = np.zeros(m, dtype=bool)
    if m > 1:
        a, b = v[:-1], v[1:]
        same[1:] = (a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0] == 0) & ((a * b).sum(axis=1) > 0)
    starts = np.flatnonzero(~same)
    u, phi = v[starts], ang[starts]
    c = np.diff(np.append(starts, m))
    G = starts.shape[0]
    U = np.concatenate([u, u])
    PHI = np.concatenate([phi, phi + 2 * np.pi])
    C = np.concatenate([c, c])
    cum = np.concatenate([[0], np.cumsum(C)])
    g = np.arange(G)

    def cross(k):  # cross(u_g, U_k): > 0 where group k lies strictly left of group g
        return u[:, 0] * U[k, 1] - u[:, 1] * U[k, 0]

    # e[g]: the first group after g (cyclically) that is not strictly left of g; the float
    # angles give it up to rounding, the exact side tests settle it.
    e = np.clip(np.searchsorted(PHI, phi + np.pi, side="left"), g + 1, g + G)
    for _ in range(G + 1):
        back = (e - 1 > g) & ~(cross(np.maximum(e - 1, 0)) > 0)
        fwd = ~back & (e < g + G) & (cross(np.minimum(e, 2 * G - 1)) > 0)
        if not (back.any() or fwd.any()):
            break
        e = e - back + fwd
    L = cum[e] - cum[g + 1]
    k = np.minimum(e, 2 * G - 1)
    opposite = (e < g + G) & (cross(k) == 0) & ((u * U[k]).sum(axis=1) < 0)
    O = np.where(opposite, C[k], 0)
    R = m - c - O - L
    return n_zero + int((np.minimum(L, R) + np.minimum(c, O)).min())


def tukey_depth(point, points, *, n_directions: int = 1000, rng=None) -> int:
    r"""Tukey (halfspace) depth of ``point`` in the set ``points``.

    .. math:: \operatorname{depth}(p; S) = \min_{\|u\| = 1} \#\{s \in S : \langle s - p, u\rangle \ge 0\},

    the smallest number of points of :math:`S` in a closed halfspace that contains :math:`p`.
    Exact in one dimension (a count) and in two dimensions (an :math:`O(n \log n)` angular
    sweep in the spirit of Rousseeuw and Ruts, 1996, with exact side tests, so collinear and
    opposite points count correctly); in higher dimensions the minimum over
    ``n_directions`` random unit directions and the positive and negative coordinate axes,
    which is an upper bound of the depth.

    Parameters
    ----------
    point : (d,) array-like of float
    points : (n, d) array-like of float
    n_directions : int, default 1000
        Random directions for :math:`d \ge 3`, at most ``10**7``.
    rng : None, int or numpy.random.Generator

    Returns
    -------
    depth : int
        0 for a point outside the convex hull; at most :math:`\lceil n/2 \rceil` for
        points in general position.

    Raises
    ------
    ValueError
        If the arrays are empty, not finite or of mismatched dimension, or
        ``n_directions`` is outside ``[1, 10**7]``.
    TypeError
        If an argument has the wrong type.

    Examples
    --------
    >>> tukey_depth([0.0], [[-2.0], [-1.0], [1.0], [2.0], [3.0]])
    2
    """
    pts = as_float_array(points, "points", ndim=2)
    n, d = pts.shape
    p = as_float_array(point, "point", ndim=1)
    if p.shape[0] != d:
        raise ValueError(f"point must have d = {d} entries to match points of shape {pts.shape}, got {p.shape[0]}")
    n_dir = check_int(n_directions, "n_directions", minimum=1)
    if n_dir > MAX_DIRECTIONS:
        raise ValueError(f"n_directions must be at most 10**7, got {n_dir}")
    gen = check_rng(rng)
    diff = pts - p
    if d == 1:
        x = diff[:, 0]
        return int(min((x >= 0).sum(), (x <= 0).sum()))
    if d == 2:
        return _tukey_depth_2d(diff)
    axes = np.concatenate([np.eye(d), -np.eye(d)])
    depth = int((diff @ axes.T >= 0).sum(axis=0).min())
    # random directions in chunks: memory O((n + d) * chunk), whatever n_directions is
    chunk = max(1, int(4_000_000 // max(n, d, 1)))
    for start in range(0, n_dir, chunk):
        u = gen.standard_normal((min(chunk, n_dir - start), d))
        depth = min(depth, int((diff @ u.T >= 0).sum(axis=0).min()))
    return depth
