r"""How colluding Byzantine models capture the Radon point.

A Radon point of :math:`r = d + 2` points in :math:`\mathbb{R}^d` lies in the convex hulls of
both parts of a Radon partition. One arbitrary outlier can sit in only one part, so the point
stays in the convex hull of the honest points. But two *equal* points :math:`b, b` already
form a Radon partition, :math:`\{b\} \cup \{b\}`, whose point is :math:`b`: the null vector
:math:`e_i - e_j` of :math:`M = [s_1 \cdots s_r; 1 \cdots 1]` (unique when the other points are
in general position). Attacks that send :math:`f` identical vectors (ALIE, IPM, min-max,
min-sum, mimic) therefore capture every group that holds two of them, and in the iterated
Radon point a captured group is one more such vector at the next level: the final point is
captured as soon as two groups of some level are, so :math:`2^h` well-placed Byzantine models
out of :math:`r^h` suffice (a breakdown point of :math:`(2/r)^h`), against :math:`\lceil n/2
\rceil` for the geometric median and :math:`(n - 2)/2` for Krum.

:func:`radon_capture` measures the first statement on real models; :func:`tree_capture`
measures the second for Byzantine models placed at random, as in the benchmark.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from .._results import JSONMixin
from .._validation import as_float_array, check_int, check_rng

__all__ = ["CaptureResult", "radon_capture", "tree_capture"]


@dataclass(frozen=True, repr=False)
class CaptureResult(JSONMixin):
    """Made by :func:`radon_capture`.

    Attributes
    ----------
    counts : list of int
        Copies :math:`k` of the Byzantine vector in a group of :math:`r`.
    captured : list of float
        Per count, the fraction of groups whose Radon point is the Byzantine vector.
    distance : list of float
        Per count, the mean distance of the Radon point from the Byzantine vector, relative to
        the distance of the honest mean from it.
    r, d, n_groups : int
    label : str
        What the Byzantine vector is (e.g. the attack's name).

    Examples
    --------
    >>> import numpy as np
    >>> from radonml.robust import radon_capture
    >>> rng = np.random.default_rng(0)
    >>> res = radon_capture(rng.standard_normal((30, 3)), [5.0, 5.0, 5.0], counts=(1, 2), n_groups=50, rng=0)
    >>> res.r, res.counts, res.captured          # two copies in a group of r = 5 capture it
    (5, [1, 2], [0.0, 1.0])
    """

    counts: list
    captured: list
    distance: list
    r: int
    d: int
    n_groups: int
    label: str = ""
    extra: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        pairs = ", ".join(f"{k}: {c:.2f}" for k, c in zip(self.counts, self.captured))
        what = f"{self.label!r}, " if self.label else ""
        return f"CaptureResult({what}r={self.r}, captured by copies {{{pairs}}}, n_groups={self.n_groups})"


def radon_capture(honest, byzantine, *, counts: Sequence[int] = (0, 1, 2, 3), n_groups: int = 200, rng=None,
                  tol: float = 1e-9, label: str = "") -> CaptureResult:
    r"""Measure how often the Radon point of a group holding :math:`k` copies of a Byzantine
    vector :math:`b` *is* :math:`b`.

    For every count :math:`k`, ``n_groups`` groups of :math:`r = d + 2` points are formed: the
    :math:`k` copies of :math:`b` and :math:`r - k` honest vectors drawn without replacement,
    in a random order; the group is captured when its Radon point :math:`p`
    (:func:`radonml.radon_points`) satisfies :math:`\max_j |p_j - b_j| \le \mathrm{tol} \cdot
    \max(1, \max_j |b_j|)`. By the argument of this module, :math:`k \ge 2` captures every
    group whose honest points are in general position, and :math:`k \le 1` none (unless
    :math:`b` equals an honest vector, as mimic's does). On degenerate models (honest points
    on a lower-dimensional affine subspace, e.g. coefficients of always-zero features) the null
    space has more dimensions, and which Radon point is returned, hence whether the group is
    captured, depends on the order of the points: the random order measures what a shuffled
    Radon tree does.

    Parameters
    ----------
    honest : (n_h, d) array-like of float
        :math:`n_h \ge r` honest vectors (e.g. base models).
    byzantine : (d,) array-like of float
        :math:`b`.
    counts : sequence of int, default (0, 1, 2, 3)
        Each :math:`0 \le k \le r`.
    n_groups : int, default 200
    rng : None, int or numpy.random.Generator
    tol : float, default 1e-9
    label : str, optional

    Returns
    -------
    CaptureResult

    Raises
    ------
    ValueError
        Shapes that do not fit, too few honest vectors, a count out of range.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> res = radon_capture(rng.standard_normal((30, 3)), [5.0, 5.0, 5.0], counts=(1, 2), n_groups=50, rng=0)
    >>> res.captured
    [0.0, 1.0]
    """
    from ..radon import radon_points

    H = as_float_array(honest, "honest", ndim=2)
    b = as_float_array(byzantine, "byzantine", ndim=1)
    n_h, d = H.shape
    if b.shape[0] != d:
        raise ValueError(f"byzantine must have d = {d} entries (honest has {d} columns), got {b.shape[0]}")
    r = d + 2
    n_groups = check_int(n_groups, "n_groups", minimum=1)
    counts = [check_int(k, "count", minimum=0) for k in counts]
    if any(k > r for k in counts):
        raise ValueError(f"every count must be at most r = d + 2 = {r}, got {counts}")
    if n_h < r - min(counts):
        raise ValueError(f"honest must hold at least r - min(counts) = {r - min(counts)} vectors, got {n_h}")
    gen = check_rng(rng)
    scale = tol * max(1.0, float(np.abs(b).max()))
    ref = max(float(np.linalg.norm(H.mean(axis=0) - b)), 1e-300)
    captured, distance = [], []
    for k in counts:
        groups = np.empty((n_groups, r, d))
        for g in range(n_groups):
            groups[g, : r - k] = H[gen.choice(n_h, size=r - k, replace=False)]
            groups[g, r - k:] = b
            groups[g] = groups[g, gen.permutation(r)]  # the copies at random places, as in a shuffled tree
        P = radon_points(groups, n_threads=1)
        captured.append(float(np.mean(np.abs(P - b).max(axis=1) <= scale)))
        distance.append(float(np.mean(np.linalg.norm(P - b, axis=1)) / ref))
    return CaptureResult(counts=counts, captured=captured, distance=distance, r=r, d=d, n_groups=n_groups, label=label)


def tree_capture(f: int, r: int, height: int, *, n_draws: int = 10000, rng=None) -> float:
    r"""Probability that :math:`f` Byzantine models, placed at random among the
    :math:`r^h` leaves of the Radon machine's tree, capture its root, when a group is captured
    exactly if at least two of its members are (Byzantine leaves or captured groups): the
    model of :func:`radon_capture` for identical Byzantine vectors. Monte Carlo over
    ``n_draws`` random placements.

    Parameters
    ----------
    f : int
        :math:`0 \le f \le r^h`.
    r : int
        The Radon number :math:`r \ge 3`.
    height : int
        :math:`h \ge 1`.
    n_draws : int, default 10000
        Random placements drawn.
    rng : None, int or numpy.random.Generator
        Seed of the placements.

    Returns
    -------
    float
        The fraction of the draws whose root is captured, in [0, 1].

    Raises
    ------
    ValueError
        If ``r`` < 3, ``height`` < 1, ``f`` is not in :math:`[0, r^h]` or ``n_draws`` < 1.

    Examples
    --------
    >>> from radonml.robust import tree_capture
    >>> tree_capture(2, 21, 1), tree_capture(1, 21, 1)   # one group: two copies capture it
    (1.0, 0.0)
    >>> tree_capture(5, 21, 2, rng=0) < 0.05 < 0.95 < tree_capture(22, 21, 2, rng=0)   # 441 leaves
    True
    """
    r = check_int(r, "r", minimum=3)
    h = check_int(height, "height", minimum=1)
    n = r**h
    f = check_int(f, "f", minimum=0)
    if f > n:
        raise ValueError(f"f must be at most r^height = {n}, got {f}")
    n_draws = check_int(n_draws, "n_draws", minimum=1)
    gen = check_rng(rng)
    if f < 2:
        return 0.0
    captured = 0
    batch = max(1, min(n_draws, 2**22 // n))  # bounded memory: about 4 million leaves at a time
    for start in range(0, n_draws, batch):
        b = min(batch, n_draws - start)
        idx = np.argpartition(gen.random((b, n)), f - 1, axis=1)[:, :f]  # f distinct random leaves per draw
        bad = np.zeros((b, n), dtype=bool)
        np.put_along_axis(bad, idx, True, axis=1)
        for _ in range(h):
            bad = bad.reshape(b, -1, r).sum(axis=2) >= 2
        captured += int(bad[:, 0].sum())
    return captured / n_draws
