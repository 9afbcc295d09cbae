"""Linear models along the straight path between two weight vectors (:doc:`/concepts/lmc`), fast and exact.

For :math:`\\theta(\\alpha) = (1-\\alpha)\\theta_A + \\alpha\\theta_B` a linear model's outputs are
affine in :math:`\\alpha`: :math:`z(\\alpha) = (1-\\alpha) z_A + \\alpha z_B` with
:math:`z_A = X w_A + b_A`. The compiled core reads X once, in row blocks, and evaluates every
alpha on each block while it is in cache, so a path of m points costs one pass over X plus
O(n m) arithmetic, on all cores with the GIL released.

References
----------
L. Adilova, M. Andriushchenko, M. Kamp, A. Fischer, M. Jaggi, "Layer-wise linear mode
connectivity", ICLR 2024.
"""

from __future__ import annotations

import numpy as np

from .. import _core
from .._validation import as_float_array, check_n_threads
from ._common import check_alphas, check_kind
from .barriers import ExactBarrier, PathResult

__all__ = ["path_metrics", "exact_barrier", "squared_loss_coefficients", "LOSSES"]

#: The losses of :func:`path_metrics`: the names of the compiled core's ``PathLoss`` enum
#: (``cpp/radonml/linear_path.hpp``), declared there once.
LOSSES = tuple(_core.PathLoss.__members__)
_NO_LABELS = np.zeros(1, dtype=np.int64)


def _check_binary_labels(y, n):
    y = as_float_array(y, "y")
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1 or y.shape[0] != n:
        raise ValueError(f"y must have shape ({n},) (one label per row of X), got {y.shape}")
    values = set(np.unique(y).tolist())
    if values <= {0.0, 1.0}:
        return np.ascontiguousarray(2.0 * y - 1.0)
    if values <= {-1.0, 1.0}:
        return y
    raise ValueError(
        f"y must hold binary labels, all in {{0, 1}} or all in {{-1, 1}}, got values {sorted(values)[:6]}"
    )


def _check_weights(w_a, w_b, d, loss):
    wa = as_float_array(w_a, "w_a")
    wb = as_float_array(w_b, "w_b")
    if wa.shape != wb.shape:
        raise ValueError(f"w_a and w_b must have the same shape, got {wa.shape} and {wb.shape}")
    if wa.ndim == 1:
        wa, wb = wa[:, None], wb[:, None]
    if wa.ndim != 2 or wa.shape[0] != d:
        raise ValueError(f"w_a must have shape ({d},) or ({d}, k) for X with {d} columns, got {wa.shape}")
    k = wa.shape[1]
    if loss in ("logistic", "hinge") and k != 1:
        raise ValueError(f"loss={loss!r} is binary: w_a must have shape ({d},), got {wa.shape}")
    if loss == "softmax" and k < 2:
        raise ValueError(f"loss='softmax' needs weights of shape ({d}, k) with k >= 2 classes, got {wa.shape}")
    return np.ascontiguousarray(wa), np.ascontiguousarray(wb), k


def _check_intercept(b, k, name):
    if b is None:
        return None
    b = as_float_array(b, name)
    b = b.reshape(-1)
    if b.size != k:
        raise ValueError(f"{name} must be a number or have {k} entries (one per output), got {b.size}")
    return np.ascontiguousarray(b)


def _prepare(X, y, w_a, w_b, loss, intercept_a, intercept_b):
    if not isinstance(loss, str) or loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
    X = as_float_array(X, "X", ndim=2)
    n, d = X.shape
    wa, wb, k = _check_weights(w_a, w_b, d, loss)
    ba = _check_intercept(intercept_a, k, "intercept_a")
    bb = _check_intercept(intercept_b, k, "intercept_b")
    labels = _NO_LABELS
    yv = np.zeros(1)
    if loss in ("logistic", "hinge"):
        yv = _check_binary_labels(y, n)
    elif loss == "squared":
        yv = as_float_array(y, "y")
        want = (n,) if k == 1 else (n, k)
        if yv.shape != want and not (k == 1 and yv.shape == (n, 1)):
            raise ValueError(f"y must have shape {want} for weights with {k} output(s), got {yv.shape}")
        yv = np.ascontiguousarray(yv.reshape(n, k))
    else:
        yarr = np.asarray(y)
        if yarr.ndim != 1 or yarr.shape[0] != n:
            raise ValueError(f"y must be ({n},) integer class labels, got shape {yarr.shape}")
        if yarr.dtype.kind not in "iu":
            yf = as_float_array(yarr, "y")
            if not np.all(yf == np.round(yf)):
                raise ValueError("y must hold integer class labels for loss='softmax', got non-integer values")
            yarr = yf
        labels = np.ascontiguousarray(yarr, dtype=np.int64)
        if labels.min() < 0 or labels.max() >= k:
            raise ValueError(
                f"y must hold class labels in [0, {k}) for weights with {k} columns, "
                f"got labels from {labels.min()} to {labels.max()}"
            )
    return X, yv, labels, wa, wb, k, ba, bb


def path_metrics(X, y, w_a, w_b, alphas=None, *, loss: str = "logistic", intercept_a=None, intercept_b=None,
                 n_threads=None) -> PathResult:
    r"""Mean loss and error of a linear model at every point of the path from ``w_a`` to ``w_b``.

    With :math:`z_i(\alpha) = (1-\alpha)(x_i^\top W_A + b_A) + \alpha (x_i^\top W_B + b_B)`,

    .. math:: L(\alpha) = \frac1n \sum_{i=1}^n \ell(z_i(\alpha), y_i),

    where :math:`\ell` is

    - ``"logistic"``: :math:`\log(1 + e^{-y z})`, binary labels;
    - ``"hinge"``: :math:`\max(0, 1 - y z)`, binary labels;
    - ``"squared"``: :math:`\lVert z - y\rVert^2` (summed over outputs), real targets;
    - ``"softmax"``: cross-entropy :math:`\log\sum_c e^{z_c} - z_{y}`, integer class labels.

    Binary labels may be given in {0, 1} or in {-1, +1} (0 is read as -1); the model
    predicts +1 where :math:`z > 0`. The intercepts are interpolated with the weights (the
    path is the straight line between the augmented vectors :math:`(W, b)`); leave them None
    for models without intercept, or append a column of ones to ``X`` instead.

    :math:`X W_A` and :math:`X W_B` are computed once, in row blocks, and every alpha costs
    O(n k) on the block in cache: a path is about as fast as one matrix product with
    :math:`[W_A, W_B]`. Sums are reduced in a fixed order, so results do not depend on
    ``n_threads``.

    Parameters
    ----------
    X : (n, d) array-like of float
    y : (n,) labels or targets; (n, k) targets for ``"squared"`` with k outputs
    w_a, w_b : (d,) or (d, k) array-like of float
        Endpoint weights; (d, k) with k >= 2 classes for ``"softmax"``.
    alphas : (m,) array-like of float or int, default 11 points of [0, 1]
        Interpolation weights (an int m: m equally spaced points of [0, 1]).
    loss : {"logistic", "squared", "hinge", "softmax"}, default "logistic"
    intercept_a, intercept_b : float or (k,) array-like, optional
    n_threads : int, optional
        Threads (None or -1: all cores).

    Returns
    -------
    PathResult
        ``alphas`` and metrics ``"loss"`` and ``"error"`` (misclassification rate; NaN for
        ``"squared"``).

    Raises
    ------
    ValueError
        For invalid arguments, and when an endpoint's outputs :math:`X W + b` overflow float64.

    Examples
    --------
    >>> X = np.array([[1.0], [-1.0]]); y = np.array([1, 0])
    >>> p = path_metrics(X, y, [1.0], [-1.0], [0.0, 0.5, 1.0], loss="hinge")
    >>> p.loss.tolist(), p.error.tolist()
    ([0.0, 1.0, 2.0], [0.0, 0.5, 1.0])
    """
    X, yv, labels, wa, wb, k, ba, bb = _prepare(X, y, w_a, w_b, loss, intercept_a, intercept_b)
    al = check_alphas(alphas)
    nt = check_n_threads(n_threads)
    lo, er = _core.linear_path_metrics(X, yv, labels, wa, wb, k, ba, bb, al, _core.PathLoss.__members__[loss], nt)
    return PathResult(alphas=al, metrics={"loss": lo, "error": er}, method=f"linear {loss} (compiled)")


def squared_loss_coefficients(X, y, w_a, w_b, *, intercept_a=None, intercept_b=None, n_threads=None) -> np.ndarray:
    r"""Coefficients :math:`(c_0, c_1, c_2)` of the squared loss along the path,
    :math:`L(\alpha) = c_0 + c_1\alpha + c_2\alpha^2`.

    With :math:`r = z_A - y` and :math:`D = z_B - z_A`: :math:`c_0 = \frac1n\sum\lVert r_i\rVert^2`,
    :math:`c_1 = \frac2n\sum\langle r_i, D_i\rangle`, :math:`c_2 = \frac1n\sum\lVert D_i\rVert^2 \ge 0`.

    Parameters
    ----------
    X, y, w_a, w_b, intercept_a, intercept_b, n_threads
        As in :func:`path_metrics` with ``loss="squared"``.

    Returns
    -------
    (3,) ndarray of float64
        :math:`(c_0, c_1, c_2)`.

    Examples
    --------
    >>> squared_loss_coefficients(np.eye(2), np.zeros(2), [1.0, 0.0], [0.0, 3.0]).tolist()
    [0.5, -1.0, 5.0]
    """
    X, yv, _, wa, wb, k, ba, bb = _prepare(X, y, w_a, w_b, "squared", intercept_a, intercept_b)
    return _core.linear_squared_coefficients(X, yv, wa, wb, k, ba, bb, check_n_threads(n_threads))


def exact_barrier(X, y, w_a, w_b, *, kind: str = "linear", intercept_a=None, intercept_b=None,
                  n_threads=None) -> ExactBarrier:
    r"""Exact barrier of the squared loss of a linear model between ``w_a`` and ``w_b``.

    The loss is the quadratic :math:`L(\alpha) = c_0 + c_1\alpha + c_2\alpha^2` with
    :math:`c_2 = \frac1n\sum_i\lVert z_B(x_i) - z_A(x_i)\rVert^2 \ge 0` (see
    :func:`squared_loss_coefficients`), so it is convex along the path and its maximum on
    [0, 1] sits at an endpoint:

    - ``"linear"``: :math:`\sup_\alpha [L(\alpha) - (1-\alpha)L_A - \alpha L_B] = \sup_\alpha
      -c_2\,\alpha(1-\alpha) = 0` (linear models are linearly mode connected);
    - ``"mean"``: :math:`\max(L_A, L_B) - \tfrac12(L_A + L_B) = \tfrac12 |L_A - L_B|`;
    - ``"max"``: 0.

    The coefficients are computed in one pass over X; the result states them and where
    the loss is lowest is :math:`\alpha = -c_1 / (2 c_2)` (when inside [0, 1]).

    Parameters
    ----------
    X, y, w_a, w_b, intercept_a, intercept_b, n_threads
        As in :func:`path_metrics` with ``loss="squared"``.
    kind : {"linear", "mean", "max"}, default "linear"
        The barrier's definition (:func:`radonml.lmc.barrier`).

    Returns
    -------
    ExactBarrier
        With ``coefficients`` :math:`(c_0, c_1, c_2)` in the monomial basis of alpha.

    Examples
    --------
    >>> X = np.eye(2); y = np.zeros(2)
    >>> exact_barrier(X, y, [1.0, 0.0], [0.0, 3.0], kind="mean").value   # L_A = 0.5, L_B = 4.5
    2.0
    """
    check_kind(kind)
    c = squared_loss_coefficients(X, y, w_a, w_b, intercept_a=intercept_a, intercept_b=intercept_b,
                                  n_threads=n_threads)
    la, lb = float(c[0]), float(c[0] + c[1] + c[2])
    if kind == "linear":
        value, alpha = 0.0, 0.0
    else:
        alpha = 0.0 if la >= lb else 1.0
        value = max(la, lb) - (0.5 * (la + lb) if kind == "mean" else max(la, lb))
    return ExactBarrier(
        value=float(value),
        alpha=float(alpha),
        kind=kind,
        loss_at_alpha=la if alpha == 0.0 else lb,
        endpoint_losses=(la, lb),
        coefficients=np.asarray(c, dtype=np.float64),
        basis="monomial in alpha",
    )
