r"""Coordinate-wise aggregators: the mean, the median, the trimmed mean and MeaMed.

Each works on every coordinate :math:`j` of the models :math:`x_1, \dots, x_n \in
\mathbb{R}^d` separately. The compiled core sorts each column (a sorting network applied to
blocks of columns for :math:`n \le 128`, ``std::nth_element`` above), in threads with the
GIL released; sums that would overflow are summed again scaled, so an average of finite
values is finite.

References
----------
.. [1] D. Yin, Y. Chen, K. Ramchandran, P. Bartlett, "Byzantine-robust distributed
   learning: towards optimal statistical rates", ICML 2018 (coordinate-wise median and
   trimmed mean).
.. [2] C. Xie, O. Koyejo, I. Gupta, "Generalized Byzantine-tolerant SGD", arXiv:1802.10116,
   2018 (MeaMed, mean around the median).
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from .. import _core
from .._validation import check_fraction, fraction_to_count
from ._common import check_f, require_f, threads, unit_weights

__all__ = ["weighted_mean", "coordinate_median", "trimmed_mean", "meamed"]


def weighted_mean(models: np.ndarray, weights: Optional[np.ndarray] = None, *, n_threads=None) -> np.ndarray:
    r"""(Weighted) mean of the models, FedAvg's aggregation.

    .. math:: \bar x = \sum_i w_i x_i \Big/ \sum_i w_i

    Breakdown point :math:`0`: one model moves it arbitrarily far.

    Parameters
    ----------
    models : (n, d) ndarray of float64
        One finite model per row (as :func:`radonml.aggregate` passes them).
    weights : (n,) ndarray of float64, optional
        Non-negative, positive sum. Scaled by a power of two before use, so weights of
        1e308 or 5e-324 each give the plain mean.
    n_threads : int, optional
        Threads of the core (None or -1: all cores).

    Returns
    -------
    (d,) ndarray of float64
        Finite: a sum that overflows is summed again scaled (the mean of two models at
        1e308 is 1e308).

    Examples
    --------
    >>> weighted_mean(np.array([[0.0, 1.0], [2.0, 3.0]]), np.array([3.0, 1.0]))
    array([0.5, 1.5])
    """
    return _core.column_mean(models, unit_weights(weights), threads(n_threads))


def coordinate_median(models: np.ndarray, weights: Optional[np.ndarray] = None, *, n_threads=None) -> np.ndarray:
    r"""Coordinate-wise median; with weights, the weighted median.

    Unweighted: :func:`numpy.median` of every column (the midpoint of the two middle values
    for even :math:`n`). Weighted: the midpoint of the lower and the upper weighted medians
    (the smallest values whose cumulative weight reaches, resp. exceeds, half the total),
    so equal weights give :func:`numpy.median` and integer weights the median of the models
    repeated that many times.

    Breakdown point :math:`\lfloor (n - 1)/2 \rfloor / n` per coordinate (resilient for
    :math:`n \ge 2f + 1`; Yin et al. 2018).

    Parameters
    ----------
    models : (n, d) ndarray of float64
    weights : (n,) ndarray of float64, optional
    n_threads : int, optional

    Returns
    -------
    (d,) ndarray of float64

    Examples
    --------
    >>> coordinate_median(np.array([[0.0], [1.0], [10.0]]))
    array([1.])
    """
    if weights is None:
        return _core.column_select(models, _core.ColumnStatistic.median, 0, threads(n_threads))
    return _core.column_weighted_select(models, unit_weights(weights), _core.ColumnStatistic.median, 0.0, threads(n_threads))


def _trim_fraction(beta, f, n):
    if f is not None and beta is not None:
        raise TypeError("trimmed_mean takes beta= (a fraction) or f= (a count per end), not both")
    if f is not None:
        f = check_f(f)
        if 2 * f >= n:
            raise ValueError(f"trimmed_mean(f={f}) needs n > 2f models, got n = {n}")
        return f / n, f
    beta = check_fraction(0.1 if beta is None else beta, "beta", low=0.0, high=0.5)
    return beta, fraction_to_count(beta, n, name="beta")


def trimmed_mean(
    models: np.ndarray, weights: Optional[np.ndarray] = None, *, beta=None, f=None, n_threads=None
) -> np.ndarray:
    r"""Coordinate-wise trimmed mean.

    Unweighted: in every coordinate, drop the :math:`k` smallest and :math:`k` largest
    values and average the :math:`n - 2k` others, with :math:`k = f` when ``f`` is given and
    :math:`k = \lfloor \beta n \rfloor` otherwise, counted exactly
    (:func:`radonml._validation.fraction_to_count`: ``beta=0.29`` of 100 models drops 29,
    as :func:`scipy.stats.trim_mean` means to). Weighted: drop the fraction :math:`\beta`
    (or :math:`f/n`) of the total weight at each end, a model straddling a cut counting in
    part; a cut that falls on a boundary between two models (up to rounding) trims whole
    models, so equal weights give the unweighted result wherever :math:`\beta n` is (the
    double nearest to) an integer.

    Resilient to :math:`f` Byzantine models when :math:`k \ge f`, i.e. :math:`\beta \ge
    f/n`, and :math:`n > 2k` (Yin et al. 2018).

    Parameters
    ----------
    models : (n, d) ndarray of float64
    weights : (n,) ndarray of float64, optional
    beta : float in [0, 0.5), default 0.1
        Fraction trimmed at each end.
    f : int, optional
        Number trimmed at each end instead of ``beta`` (:math:`n > 2f`).
    n_threads : int, optional

    Returns
    -------
    (d,) ndarray of float64

    Examples
    --------
    >>> X = (np.arange(100.0) ** 2)[:, None]
    >>> float(trimmed_mean(X, beta=0.29)[0]) == float(np.sort(X[:, 0])[29:71].mean())
    True
    """
    n = models.shape[0]
    beta, k = _trim_fraction(beta, f, n)
    if weights is None:
        return _core.column_select(models, _core.ColumnStatistic.trimmed_mean, k, threads(n_threads))
    return _core.column_weighted_select(models, unit_weights(weights), _core.ColumnStatistic.trimmed_mean, beta, threads(n_threads))


def meamed_condition(n, d, f=None, **_):
    """Why MeaMed cannot run on n models (None if it can)."""
    f = require_f(f, "meamed")
    return None if n >= 2 * f + 1 else f"meamed needs n >= 2f + 1 = {2 * f + 1} models for f = {f}, got {n}"


def meamed(models: np.ndarray, weights=None, *, f=None, n_threads=None) -> np.ndarray:
    r"""Mean around the median (MeaMed; Xie, Koyejo, Gupta 2018).

    In every coordinate :math:`j`, with :math:`m_j` the median of
    :math:`x_{1j}, \dots, x_{nj}`, average the :math:`n - f` values closest to
    :math:`m_j`:

    .. math:: \mathrm{MeaMed}(x)_j = \frac{1}{n - f} \sum_{i \in S_j} x_{ij}, \quad
              S_j = \text{the } n - f \text{ indices with the smallest } |x_{ij} - m_j|.

    Values tied at the cut-off distance (:math:`m_j \pm \delta`) share the places left
    equally, so the result does not depend on the order of the models. :math:`m_j` is
    :func:`numpy.median` (the midpoint of the two middle values for even :math:`n`; ByzFL's
    torch backend takes the lower one). Resilient for :math:`n \ge 2f + 1`.

    Parameters
    ----------
    models : (n, d) ndarray of float64
    f : int
        Number of Byzantine models tolerated; :math:`n \ge 2f + 1`.
    n_threads : int, optional

    Returns
    -------
    (d,) ndarray of float64

    Raises
    ------
    TypeError
        ``f`` missing or not a non-negative integer.
    ValueError
        Fewer than :math:`2f + 1` models.

    Examples
    --------
    >>> meamed(np.array([[0.0], [1.0], [2.0], [100.0]]), f=1)
    array([1.])
    """
    n = models.shape[0]
    why = meamed_condition(n, models.shape[1], f=f)
    if why:
        raise ValueError(why)
    return _core.column_select(models, _core.ColumnStatistic.meamed, n - int(f), threads(n_threads))
