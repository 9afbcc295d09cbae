r"""Aggregators defined by distances to a moving centre: the geometric median (Weiszfeld)
and centered clipping.

The geometric median is computed by Weiszfeld's iterations [1]_ with Vardi and Zhang's
modification at the data points [2]_; it is the aggregation of RFA [3]_. Centered clipping is
Karimireddy et al.'s [4]_. Both run in the compiled core on data scaled by an exact power of two, so no raw
coordinate is squared: they are scale-equivariant from 1e-170 to 1e300.

References
----------
.. [1] E. Weiszfeld, "Sur le point pour lequel la somme des distances de n points donnés
   est minimum", Tôhoku Math. J. 43, 1937.
.. [2] Y. Vardi, C.-H. Zhang, "The multivariate L1-median and associated data depth",
   PNAS 97(4), 2000.
.. [3] K. Pillutla, S. M. Kakade, Z. Harchaoui, "Robust aggregation for federated
   learning", IEEE Trans. Signal Process. 70, 2022 (RFA).
.. [4] S. P. Karimireddy, L. He, M. Jaggi, "Learning from history for Byzantine robust
   optimization", ICML 2021 (centered clipping).
"""

from __future__ import annotations

import numbers
import warnings
from typing import Optional

import numpy as np

from .. import _core
from .._validation import as_float_array, check_int
from ..exceptions import ConvergenceWarning
from ._common import threads, unit_weights
from .coordinate import coordinate_median

__all__ = ["geometric_median", "centered_clipping", "geometric_median_options", "centered_clipping_options"]


def _positive(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value) or not value > 0:
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


def _start(init, models, weights, name, n_threads):
    z = _check_init(init, models.shape[1], name)
    if z is not None:
        return z
    if init == "mean":
        return _core.column_mean(models, unit_weights(weights), threads(n_threads))
    if init == "zero":
        return np.zeros(models.shape[1])
    return coordinate_median(models, weights, n_threads=n_threads)


def geometric_median_options(n, d, tol=1e-10, max_iter=1000, init=None, **_):
    """Validate the geometric median's options before any work (a registry condition: it
    runs on any n, so it returns None).

    Parameters
    ----------
    n, d : int
        Number of models and their dimension.
    tol, max_iter, init
        The options of :func:`geometric_median`.
    **_
        Options of other steps of a pipeline (ignored).

    Returns
    -------
    None
        The geometric median runs on any number of models.

    Raises
    ------
    ValueError
        ``tol`` not positive and finite, ``max_iter`` below 1, or ``init`` neither a known
        name nor a (d,) vector.

    Examples
    --------
    >>> geometric_median_options(5, 2, init=[0.0, 0.0]) is None
    True
    >>> geometric_median_options(5, 2, tol=-1.0)
    Traceback (most recent call last):
    ...
    ValueError: tol must be a positive finite number, got -1.0
    """
    _positive(tol, "tol")
    check_int(max_iter, "max_iter", minimum=1)
    _check_init(init, d, "init")
    return None


def centered_clipping_options(n, d, radius=None, iterations=1, init=None, **_):
    """Validate centered clipping's options before any work (returns None: any n).

    Parameters
    ----------
    n, d : int
        Number of models and their dimension.
    radius, iterations, init
        The options of :func:`centered_clipping`.
    **_
        Options of other steps of a pipeline (ignored).

    Returns
    -------
    None
        Centered clipping runs on any number of models.

    Raises
    ------
    ValueError
        ``radius`` not positive and finite, ``iterations`` negative, or ``init`` neither a
        known name nor a (d,) vector.

    Examples
    --------
    >>> centered_clipping_options(5, 2, radius=1.0, iterations=3) is None
    True
    """
    if radius is not None:
        _positive(radius, "radius")
    check_int(iterations, "iterations", minimum=0)
    _check_init(init, d, "init")
    return None


def _check_init(init, d, name):
    if init is None or (isinstance(init, str) and init in ("median", "mean", "zero")):
        return None
    if isinstance(init, str):
        raise ValueError(f"{name} must be 'median', 'mean', 'zero' or a (d,) array, got {init!r}")
    z = as_float_array(init, name, ndim=1)
    if z.shape != (d,):
        raise ValueError(f"{name} must have d = {d} entries, got shape {z.shape}")
    return z


def geometric_median(
    models: np.ndarray,
    weights: Optional[np.ndarray] = None,
    *,
    tol: float = 1e-10,
    max_iter: int = 1000,
    init=None,
    n_threads=None,
) -> np.ndarray:
    r"""Weighted geometric median by Weiszfeld's iterations (RFA's aggregation).

    .. math:: \hat z = \arg\min_z \sum_i w_i \lVert z - x_i \rVert

    Iterates :math:`z \leftarrow \sum_i \frac{w_i x_i}{\lVert z - x_i\rVert} \big/ \sum_i
    \frac{w_i}{\lVert z - x_i\rVert}` from ``init`` (the weighted coordinate-wise median),
    with Vardi and Zhang's (2000) step when an iterate lands on a model, until a step is
    below ``tol`` times the median distance of the models to the start (a scale of the
    majority, which far outliers do not loosen), or ``max_iter``
    iterations (then a :class:`~radonml.exceptions.ConvergenceWarning`). In the core, the
    data are scaled by a power of two (scale-equivariant at 1e200 and 1e-170), and for
    :math:`d > n` the iterations first run on the :math:`n \times n` Gram matrix
    (:math:`O(n^2)` each), then continue on directly computed distances until a direct
    step meets the tolerance.

    Breakdown point :math:`\lfloor (n + 1)/2 \rfloor / n` (Lopuhaä & Rousseeuw 1991):
    resilient for :math:`n \ge 2f + 1`; as :math:`f < n/2` outliers move to infinity the
    estimate stays bounded.

    Parameters
    ----------
    models : (n, d) ndarray of float64
    weights : (n,) ndarray of float64, optional
        Models of zero weight are ignored.
    tol : float, default 1e-10
        Relative step tolerance (> 0).
    max_iter : int, default 1000
        Iteration limit (>= 1).
    init : {"median", "mean"} or (d,) array-like, optional
        Start point; default the weighted coordinate-wise median.
    n_threads : int, optional

    Returns
    -------
    (d,) ndarray of float64

    Examples
    --------
    >>> X = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])  # Fermat point of a right triangle
    >>> np.allclose(geometric_median(X), 0.5 - 0.5 / np.sqrt(3))
    True
    """
    tol = _positive(tol, "tol")
    max_iter = check_int(max_iter, "max_iter", minimum=1)
    w = np.ones(models.shape[0]) if weights is None else unit_weights(weights)
    keep = w > 0
    if not keep.all():
        models, w = np.ascontiguousarray(models[keep]), w[keep]
    start = _start(init, models, None if weights is None else w, "init", n_threads)
    if models.shape[0] == 1:
        return models[0].copy()
    z, _, converged = _core.geometric_median(models, w, start, tol, max_iter, threads(n_threads))
    if not converged:
        warnings.warn(
            f"geometric_median: Weiszfeld did not reach tol={tol} in max_iter={max_iter} iterations",
            ConvergenceWarning,
            stacklevel=3,
        )
    return z


def centered_clipping(
    models: np.ndarray,
    weights: Optional[np.ndarray] = None,
    *,
    radius=None,
    iterations: int = 1,
    init=None,
    n_threads=None,
) -> np.ndarray:
    r"""Centered clipping (Karimireddy, He, Jaggi, ICML 2021).

    From a start point :math:`v_0`, ``iterations`` (:math:`L`) times

    .. math:: v_{l+1} = v_l + \frac{1}{\sum_i w_i} \sum_i w_i\, (x_i - v_l)
              \min\!\Big(1, \frac{\tau}{\lVert x_i - v_l \rVert}\Big).

    Each model moves the centre by at most :math:`\tau` (times its weight share), so
    :math:`f` Byzantine models move it by at most :math:`\tau f / n` per iteration; the paper
    proves robustness for :math:`f/n` below a constant (:math:`\delta < 0.1`) with
    :math:`v_0` the previous aggregate (momentum). Stateless here: :math:`v_0` is ``init``.

    Parameters
    ----------
    models : (n, d) ndarray of float64
    weights : (n,) ndarray of float64, optional
    radius : float, optional
        :math:`\tau > 0` in the models' units. Default: the median distance of the models to
        :math:`v_0` (scale-equivariant); ByzFL's default is 100.
    iterations : int, default 1
        :math:`L \ge 0`.
    init : {"median", "mean", "zero"} or (d,) array-like, optional
        :math:`v_0`; default the (weighted) coordinate-wise median. ByzFL starts at zero
        (``init="zero"``) and keeps :math:`v` between calls.
    n_threads : int, optional

    Returns
    -------
    (d,) ndarray of float64

    Examples
    --------
    >>> X = np.array([[0.0], [1.0], [2.0], [1000.0]])
    >>> centered_clipping(X, radius=1.0, iterations=3, init="zero")
    array([1.3125])
    """
    iterations = check_int(iterations, "iterations", minimum=0)
    if radius is not None:
        radius = _positive(radius, "radius")
    nt = threads(n_threads)
    w = unit_weights(weights)
    v0 = _start(init, models, weights, "init", n_threads)
    if radius is None:
        dist, scale = _core.row_distances(models, v0, nt)
        radius = float(np.median(dist)) * scale
        if not radius > 0:  # at least half the models sit on the start point
            return v0
    return _core.centered_clipping(models, w, v0, radius, iterations, nt)
