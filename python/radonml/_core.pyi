"""Typed stub of radonml's compiled core (cpp/bindings.cpp; private: use the radonml package).

Arrays are converted to C-contiguous float64 (or int64 where noted) on the way in. Arguments
are validated by the Python layer; the core only guards itself and raises ``CoreValueError``
(a ``ValueError``) on misuse. Every compiled function and enum is listed here
(tests/test_imports.py checks that this stub and the compiled module name the same things).
"""

from typing import ClassVar, Dict, Optional, Sequence, SupportsIndex, Tuple

import numpy as np
import numpy.typing as npt

_Float64 = npt.NDArray[np.float64]
_ArrayLike = npt.ArrayLike

class CoreValueError(ValueError): ...

class PathLoss:
    """Loss of :func:`linear_path_metrics` (``radonml::PathLoss``, cpp/radonml/linear_path.hpp)."""

    __members__: ClassVar[Dict[str, PathLoss]]
    logistic: ClassVar[PathLoss]  # = 0
    squared: ClassVar[PathLoss]  # = 1
    hinge: ClassVar[PathLoss]  # = 2
    softmax: ClassVar[PathLoss]  # = 3
    def __init__(self, value: SupportsIndex) -> None: ...
    def __eq__(self, other: object) -> bool: ...
    def __hash__(self) -> int: ...
    def __int__(self) -> int: ...
    def __index__(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def value(self) -> int: ...

class RadonSolver:
    """Solver that produced a Radon point (``radonml::RadonSolver``, cpp/radonml/radon.hpp);
    the values of :func:`radon_points`' ``solvers`` array."""

    __members__: ClassVar[Dict[str, RadonSolver]]
    fast_lu: ClassVar[RadonSolver]  # = 0
    full_pivot_lu: ClassVar[RadonSolver]  # = 1
    col_piv_qr: ClassVar[RadonSolver]  # = 2
    def __init__(self, value: SupportsIndex) -> None: ...
    def __eq__(self, other: object) -> bool: ...
    def __hash__(self) -> int: ...
    def __int__(self) -> int: ...
    def __index__(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def value(self) -> int: ...

class ColumnStatistic:
    """Coordinate-wise statistic of :func:`column_select` / :func:`column_weighted_select`
    (``radonml::robust::ColumnStatistic``, cpp/radonml/robust.hpp)."""

    __members__: ClassVar[Dict[str, ColumnStatistic]]
    median: ClassVar[ColumnStatistic]  # = 0
    trimmed_mean: ClassVar[ColumnStatistic]  # = 1
    meamed: ClassVar[ColumnStatistic]  # = 2
    def __init__(self, value: SupportsIndex) -> None: ...
    def __eq__(self, other: object) -> bool: ...
    def __hash__(self) -> int: ...
    def __int__(self) -> int: ...
    def __index__(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def value(self) -> int: ...

def hardware_threads() -> int:
    """Threads the core uses for ``n_threads <= 0`` (all cores)."""

def radon_points(
    groups: _ArrayLike, n_threads: SupportsIndex = 0, first_solver: RadonSolver = ..., fixed_kernel: bool = True
) -> Tuple[_Float64, _Float64, npt.NDArray[np.int8]]:
    """Radon points of g groups of k points in R^d, groups (g, k, d) with k >= d + 2.

    Returns (points (g, d), lambdas (g, k), solvers (g,) int8: :class:`RadonSolver` values).
    ``first_solver`` (for tests) skips the cheaper solvers; ``fixed_kernel=False`` skips the
    fixed-size kernel of r = d + 2, d <= 16 (the general path's LU instead).
    """

def iterated_radon_point(
    points: _ArrayLike, leaves: _ArrayLike, groups: _ArrayLike, n_threads: SupportsIndex = 0
) -> _Float64:
    """The iterated Radon point (d,) of points (n, d) over a tree: ``leaves`` (int64 indices into
    points, in tree order) and ``groups`` (int64, per level from the leaves, the number of groups
    the level's points are split into, consecutively and as evenly as possible)."""

def random_permutation(n: SupportsIndex, seed: SupportsIndex, n_threads: SupportsIndex = 0) -> npt.NDArray[np.int64]:
    """A uniformly random permutation of 0..n-1 (int64), the same for every thread count."""

max_threads: int
"""The most threads the core uses (larger n_threads are capped to it)."""

def linear_path_metrics(
    X: _ArrayLike,
    y: _ArrayLike,
    labels: _ArrayLike,
    w_a: _ArrayLike,
    w_b: _ArrayLike,
    k: SupportsIndex,
    b_a: Optional[_ArrayLike],
    b_b: Optional[_ArrayLike],
    alphas: _ArrayLike,
    loss: PathLoss,
    n_threads: SupportsIndex = 0,
) -> Tuple[_Float64, _Float64]:
    """Mean loss and error (m,) of the linear model along the path from (w_a, b_a) to (w_b, b_b).

    X (n, d); y (n, k) targets or +-1 labels; labels (n,) int64 classes for ``PathLoss.softmax``;
    w_a, w_b (d, k); b_a, b_b (k,) or None; alphas (m,).
    """

def linear_squared_coefficients(
    X: _ArrayLike,
    y: _ArrayLike,
    w_a: _ArrayLike,
    w_b: _ArrayLike,
    k: SupportsIndex,
    b_a: Optional[_ArrayLike],
    b_b: Optional[_ArrayLike],
    n_threads: SupportsIndex = 0,
) -> _Float64:
    """(c0, c1, c2) of the squared loss c0 + c1 alpha + c2 alpha^2 along the path."""

def dln_path_chebyshev(
    X: _ArrayLike,
    Y: _ArrayLike,
    w_start: Sequence[_ArrayLike],
    w_end: Sequence[_ArrayLike],
    interpolated: Sequence[SupportsIndex],
    n_threads: SupportsIndex = 0,
) -> Tuple[_Float64, _Float64]:
    """Chebyshev coefficients (in t = 2 alpha - 1) of a deep linear network's squared loss
    (2k + 1,) and of its end-to-end matrix (k + 1, d_0, d_L), k the interpolated layers."""

# ------------------------------------------------------------ robust aggregation kernels --
# (cpp/radonml/robust.hpp; called by radonml.aggregators, which validates and normalises)

def first_nonfinite(X: _ArrayLike, n_threads: SupportsIndex = 0) -> int:
    """Flat index of the first NaN/inf entry of X, or -1 when all entries are finite."""

def column_mean(X: _ArrayLike, weights: Optional[_ArrayLike] = None, n_threads: SupportsIndex = 0) -> _Float64:
    """Column means (d,) of X (n, d), weighted by ``weights`` (n,) when given."""

def column_select(
    X: _ArrayLike, kind: ColumnStatistic, param: SupportsIndex = 0, n_threads: SupportsIndex = 0
) -> _Float64:
    """Coordinate-wise median, trimmed mean (``param`` values dropped per end) or MeaMed
    (``param`` values closest to the median kept) of X (n, d): (d,)."""

def column_weighted_select(
    X: _ArrayLike, weights: _ArrayLike, kind: ColumnStatistic, beta: float = 0.0, n_threads: SupportsIndex = 0
) -> _Float64:
    """Coordinate-wise weighted median or weighted trimmed mean (a fraction ``beta`` of the
    total weight dropped per end) of X (n, d) with weights (n,): (d,)."""

def row_distances(X: _ArrayLike, z: _ArrayLike, n_threads: SupportsIndex = 0) -> Tuple[_Float64, float]:
    """Euclidean distances (n,) of the rows of X (n, d) to z (d,), and the scale they were computed at."""

def centered_gram(X: _ArrayLike, n_threads: SupportsIndex = 0) -> Tuple[_Float64, _Float64, _Float64, float]:
    """Squared distances D (n, n), Gram matrix G (n, n) of the rows centred at ``center`` (d,),
    and the power-of-two scale they were computed at."""

def geometric_median(
    X: _ArrayLike,
    weights: _ArrayLike,
    start: _ArrayLike,
    tol: float,
    max_iter: SupportsIndex,
    n_threads: SupportsIndex = 0,
) -> Tuple[_Float64, int, bool]:
    """Weiszfeld iterations (Vardi-Zhang step at a model) from ``start``: (z (d,), iterations, converged)."""

def centered_clipping(
    X: _ArrayLike,
    weights: Optional[_ArrayLike],
    start: _ArrayLike,
    radius: float,
    iterations: SupportsIndex,
    n_threads: SupportsIndex = 0,
) -> _Float64:
    """Centered clipping (Karimireddy et al. 2021): ``iterations`` steps of radius ``radius`` from ``start``: (d,)."""

def mda_exact(D: _ArrayLike, m: SupportsIndex, order: _ArrayLike, bound: float) -> Tuple[npt.NDArray[np.uint8], float]:
    """Minimum-diameter subset of m of the n points with squared distances D (n, n), by branch
    and bound over ``order`` (int64 permutation) below ``bound``: (mask (n,) uint8, diameter)."""
