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

from dataclasses import dataclass

import numpy as np

from . import _core
from ._validation import as_float_array, check_int, check_n_threads, check_rng

__all__ = [
    "RadonPartition",
    "radon_number",
    "radon_point",
    "radon_points",
    "iterated_radon_point",
    "tree_height",
    "tukey_depth",
]

REMAINDER_POLICIES = ("drop", "resample", "raise")


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

    Examples
    --------
    >>> radon_number(2)
    4
    """
    d = check_int(n_dims, "n_dims", minimum=1)
    return d + 2


@dataclass(frozen=True)
class RadonPartition:
    """A Radon point with the null vector and partition that certify it.

    Attributes
    ----------
    point : (d,) ndarray of float64
        The Radon point :math:`p = \\sum_{i \\in I} \\lambda_i s_i = \\sum_{j \\in J} -\\lambda_j s_j`.
    weights : (r,) ndarray of float64
        The null vector :math:`\\lambda` of SPEC §1, scaled so that its positive entries sum to 1
        and the others to -1: ``weights[positive]`` are the convex weights of the I-points and
        ``-weights[~positive]`` those of the J-points.
    positive : (r,) ndarray of bool
        Mask of :math:`I = \\{i : \\lambda_i > 0\\}`.
    """

    point: np.ndarray
    weights: np.ndarray
    positive: np.ndarray


def _check_points(points, name="points"):
    pts = as_float_array(points, name, ndim=2)
    r, d = pts.shape
    if r < d + 2:
        raise ValueError(
            f"{name} must hold at least d + 2 = {d + 2} points in dimension d = {d} "
            f"(the Radon number), got {r} (shape {pts.shape})"
        )
    return pts


def radon_point(points, *, return_partition: bool = False):
    r"""Radon point of :math:`r \ge d + 2` points in :math:`\mathbb{R}^d`.

    A non-zero null vector :math:`\lambda` of

    .. math:: M = \begin{bmatrix} s_1 & \cdots & s_r \\ 1 & \cdots & 1 \end{bmatrix},
              \qquad M\lambda = 0,

    splits the points into :math:`I = \{i : \lambda_i > 0\}` and :math:`J`; with
    :math:`A = \sum_{i \in I} \lambda_i`,

    .. math:: p = \sum_{i \in I} \frac{\lambda_i}{A} s_i = \sum_{j \in J} \frac{-\lambda_j}{A} s_j

    lies in the convex hulls of both parts (Radon, 1921). The null vector comes from a
    partial-pivot LU of the square block of :math:`M` (one :math:`O(d^3)` factorization),
    with checked fallbacks to a rank-revealing full-pivot LU of :math:`M` and, as a last
    resort, a column-pivoted QR of :math:`M^T` (whose last Q column is always a null vector)
    when that block is singular or ill-conditioned (duplicated points, points on an affine
    subspace). Every null vector must pass :math:`\lVert M\lambda\rVert_\infty \le
    256 (d+2)\,\epsilon\,\lVert\lambda\rVert_1` (normalized :math:`M`) before it is used,
    so both parts' combinations agree to rounding. The points are mapped to :math:`[-1, 1]^d`
    coordinate-wise first, which leaves the null space unchanged (it is affine invariant), so
    inputs of any scale, down to subnormal numbers, work. No noise is ever added. For
    :math:`r > d + 2`, or degenerate inputs, the null space has more than one dimension and
    one valid Radon point is returned (for :math:`r > d + 2`, the Radon point of the first
    :math:`d + 2` points when they are in general position; the other weights are 0).

    The weights are canonical: the positive ones sum to 1, the others to -1, and the entry
    of largest magnitude is positive (the first one on exact ties), so the point is the
    convex combination of the part that holds it.

    Parameters
    ----------
    points : (r, d) array-like of float
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
        If ``points`` is not numeric.

    References
    ----------
    Kamp, Boley, Missura, Gärtner, "Effective Parallelisation for Machine Learning", NeurIPS 2017.

    Examples
    --------
    The diagonals of a square cross at its centre:

    >>> radon_point([[0, 0], [1, 1], [1, 0], [0, 1]])
    array([0.5, 0.5])
    """
    pts = _check_points(points)
    p, lam, _ = _core.radon_points(pts[None], 1)
    if not return_partition:
        return p[0]
    lam = lam[0]
    return RadonPartition(point=p[0], weights=lam, positive=lam > 0)


def radon_points(groups, *, n_threads=None):
    r"""Radon points of many groups at once, in parallel in the compiled core.

    Computes :func:`radon_point` of every ``groups[k]``; the GIL is released and the groups
    are split over ``n_threads`` threads. The result does not depend on the thread count.

    Parameters
    ----------
    groups : (g, r, d) array-like of float
        ``g`` groups of ``r >= d + 2`` points each.
    n_threads : int, optional
        Number of threads; ``None`` or ``-1`` uses all cores.

    Returns
    -------
    points : (g, d) ndarray of float64

    Examples
    --------
    >>> radon_points([[[0, 0], [2, 2], [2, 0], [0, 2]], [[0, 0], [4, 4], [4, 0], [0, 4]]])
    array([[1., 1.],
           [2., 2.]])
    """
    arr = as_float_array(groups, "groups", ndim=3)
    g, r, d = arr.shape
    if r < d + 2:
        raise ValueError(
            f"groups must hold at least d + 2 = {d + 2} points per group in dimension d = {d}, "
            f"got {r} (shape {arr.shape})"
        )
    p, _, _ = _core.radon_points(arr, check_n_threads(n_threads))
    return p


def tree_height(n_models, n_dims, *, remainder: str = "drop") -> int:
    r"""Height of the Radon machine's aggregation tree for ``n_models`` models in ``n_dims``.

    With :math:`r = d + 2`: the largest :math:`h` with :math:`r^h \le n` (``remainder`` is
    ``"drop"`` or ``"raise"``), or the smallest :math:`h` with :math:`r^h \ge n`
    (``"resample"``).

    Examples
    --------
    >>> tree_height(144, 10)
    2
    >>> tree_height(145, 10, remainder="resample")
    3
    """
    n = check_int(n_models, "n_models", minimum=1)
    r = radon_number(n_dims)
    _check_remainder(remainder)
    h, size = 0, 1
    if remainder == "resample":
        while size < n:
            size *= r
            h += 1
        return h
    while size * r <= n:
        size *= r
        h += 1
    return h


def _check_remainder(remainder):
    if remainder not in REMAINDER_POLICIES:
        raise ValueError(f"remainder must be one of {REMAINDER_POLICIES}, got {remainder!r}")


def _leaves(n: int, r: int, height: int, remainder: str, rng: np.random.Generator) -> np.ndarray:
    """Leaf order of the aggregation tree: r**height indices into the n models."""
    L = r**height
    if remainder == "raise":
        if n != L:
            raise ValueError(
                f"points must hold exactly r^height = {r}^{height} = {L} models with remainder='raise', got {n}"
            )
        return rng.permutation(n)
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
        extra = rng.integers(0, n, size=(n_groups_left, r))
        while True:  # redraw groups that hold a model twice
            s = np.sort(extra, axis=1)
            dup = (s[:, 1:] == s[:, :-1]).any(axis=1)
            if not dup.any():
                break
            extra[dup] = rng.integers(0, n, size=(int(dup.sum()), r))
        parts.append(extra.ravel())
    return np.concatenate(parts).astype(np.int64, copy=False)


def iterated_radon_point(points, *, height=None, rng=None, remainder: str = "drop", n_threads=None):
    r"""Iterated Radon point: the aggregation tree of the Radon machine.

    The models are shuffled into groups of :math:`r = d + 2`; each group is replaced by its
    Radon point, and this is repeated ``height`` times (Kamp et al., 2017, Alg. 1). Only the
    leaf level is shuffled: the points of later levels come from disjoint groups, so they are
    already independent and identically distributed, and grouping them in order is
    equivalent to shuffling them.

    If a group's Radon point has regret :math:`Q > \varepsilon` for a convex regret
    :math:`Q`, at least two of its models do; for i.i.d. models with
    :math:`\delta = P(Q(f) > \varepsilon)`, after :math:`h` levels

    .. math:: P(Q(\text{result}) > \varepsilon) \le (r\delta)^{2^h}.

    The iterated Radon point of :math:`n` points also has Tukey depth
    :math:`\Omega(n / d^2)` with high probability (Clarkson et al., 1996).

    Parameters
    ----------
    points : (n, d) array-like of float
        The models, one per row (e.g. ``coef_`` with ``intercept_`` appended).
    height : int, optional
        Number of levels :math:`h \ge 1`. ``None`` uses the largest :math:`h` with
        :math:`r^h \le n` (``"drop"``, ``"raise"``) or the smallest with :math:`r^h \ge n`
        (``"resample"``).
    rng : None, int or numpy.random.Generator
        Source of the random grouping; a fixed seed gives identical results.
    remainder : {"drop", "resample", "raise"}, default "drop"
        What to do when :math:`n \ne r^h`:

        - ``"drop"`` (default): aggregate :math:`r^h` models drawn uniformly at random
          without replacement and leave the others out. The guarantee above holds for
          :math:`r^h` i.i.d. models; a random subset of i.i.d. models is again i.i.d., so
          the guarantee is kept intact. This is why it is the default. To use every model,
          give exactly :math:`r^h` of them (the scikit-learn Radon machine splits the data
          into :math:`r^h` parts for this reason).
        - ``"resample"``: use every model; complete the last group with models drawn
          without replacement from outside it, and fill any remaining groups of the tree
          with :math:`r` distinct models drawn at random. Groups hold no duplicates (a
          duplicate would make that group's Radon point the duplicated model), but
          resampled models appear in two groups, so groups are no longer independent.
        - ``"raise"``: require :math:`n = r^h` exactly.
    n_threads : int, optional
        Threads for the compiled core; ``None`` or ``-1`` uses all cores. The result does
        not depend on it.

    Returns
    -------
    point : (d,) ndarray of float64

    Examples
    --------
    Four points in the plane have one Radon point; the tree of height 1 is that point:

    >>> iterated_radon_point([[0, 0], [1, 1], [1, 0], [0, 1]], rng=0)
    array([0.5, 0.5])
    """
    pts = as_float_array(points, "points", ndim=2)
    n, d = pts.shape
    r = d + 2
    _check_remainder(remainder)
    if height is None:
        if n < r and remainder != "resample":
            raise ValueError(
                f"points must hold at least r = d + 2 = {r} models in dimension d = {d}, got {n}"
            )
        h = tree_height(n, d, remainder=remainder)
        h = max(h, 1)
    else:
        h = check_int(height, "height", minimum=1)
        if r**h > 10**12:
            raise ValueError(f"height={h} is too large: r^height = {r}^{h} exceeds any feasible number of models")
    gen = check_rng(rng)
    leaves = _leaves(n, r, h, remainder, gen)
    return _core.iterated_radon_point(pts, leaves, r, h, check_n_threads(n_threads))


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
        Random directions for :math:`d \ge 3`.
    rng : None, int or numpy.random.Generator

    Returns
    -------
    depth : int
        0 for a point outside the convex hull; at most :math:`\lceil n/2 \rceil` for
        points in general position.

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
    diff = pts - p
    if d == 1:
        x = diff[:, 0]
        return int(min((x >= 0).sum(), (x <= 0).sum()))
    if d == 2:
        return _tukey_depth_2d(diff)
    gen = check_rng(rng)
    u = gen.standard_normal((n_dir, d))
    u = np.concatenate([u, np.eye(d), -np.eye(d)])
    depth = n
    chunk = max(1, int(4_000_000 // max(n, 1)))
    for start in range(0, u.shape[0], chunk):
        proj = diff @ u[start : start + chunk].T  # (n, k)
        depth = min(depth, int((proj >= 0).sum(axis=0).min()))
    return depth
