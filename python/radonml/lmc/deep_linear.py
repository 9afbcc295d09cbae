r"""Deep linear networks :math:`f(X) = X W_1 W_2 \cdots W_L` along (partial) interpolation paths.

With the squared loss :math:`L(W) = \frac1n \lVert X W_1\cdots W_L - Y\rVert_F^2`, interpolating a
set S of k layers, :math:`W_l(\alpha) = (1-\alpha)W_l^A + \alpha W_l^B` for :math:`l \in S` and the
other layers from a base model, makes the end-to-end matrix a polynomial of degree k in
:math:`\alpha` and the loss one of degree 2k (:doc:`/concepts/lmc`). One layer gives a convex quadratic;
the whole network a polynomial of degree 2L, which can have a barrier. radonml computes that
polynomial exactly in the compiled core and maximizes it through the real roots of its
derivative, so barriers are exact, not read off a grid.

Numerics: the polynomials are kept in the Chebyshev basis of :math:`t = 2\alpha - 1`. The
end-to-end matrix is evaluated directly at the k + 1 Chebyshev points and transformed to
Chebyshev coefficients (exact for a degree-k polynomial), the loss's coefficients follow from
the Gram matrix of the residual's coefficients and :math:`T_iT_j = (T_{i+j} + T_{|i-j|})/2`.
Monomial coefficients in :math:`\alpha` grow like binomials and cancel; Chebyshev ones do not.

References
----------
L. Adilova, M. Andriushchenko, M. Kamp, A. Fischer, M. Jaggi, "Layer-wise linear mode
connectivity", ICLR 2024 (Fig. 4: the deep linear toy).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Sequence, Tuple

import numpy as np
from numpy.polynomial import chebyshev as _cheb

from .. import _core
from .._validation import as_float_array, check_int, check_n_threads, check_rng
from ._common import JSONMixin, check_alphas, check_base, check_kind
from .barriers import ExactBarrier, PathResult

__all__ = [
    "PathPolynomial",
    "DLNToy",
    "loss",
    "path_polynomial",
    "path_loss",
    "exact_barrier",
    "init_weights",
    "train",
    "toy_example",
]


def _check_network(weights, name, d_in=None):
    if isinstance(weights, np.ndarray) or not isinstance(weights, (list, tuple)):
        raise TypeError(f"{name} must be a list of 2-d weight matrices [W_1, ..., W_L], got {type(weights).__name__}")
    if len(weights) == 0:
        raise ValueError(f"{name} must hold at least one layer, got an empty list")
    ws = [as_float_array(w, f"{name}[{i}]", ndim=2) for i, w in enumerate(weights)]
    for i in range(1, len(ws)):
        if ws[i].shape[0] != ws[i - 1].shape[1]:
            raise ValueError(
                f"{name}[{i}] must have {ws[i - 1].shape[1]} rows to follow {name}[{i - 1}] of shape "
                f"{ws[i - 1].shape}, got shape {ws[i].shape}"
            )
    if d_in is not None and ws[0].shape[0] != d_in:
        raise ValueError(f"{name}[0] must have {d_in} rows (the columns of X), got shape {ws[0].shape}")
    return ws


def _check_data(X, Y):
    X = as_float_array(X, "X", ndim=2)
    Y = as_float_array(Y, "Y")
    if Y.ndim == 1:
        Y = Y[:, None]
    if Y.ndim != 2 or Y.shape[0] != X.shape[0]:
        raise ValueError(f"Y must have shape ({X.shape[0]}, d_out) (one row per row of X), got {Y.shape}")
    return X, np.ascontiguousarray(Y)


def _check_pair(X, Y, weights_a, weights_b):
    X, Y = _check_data(X, Y)
    wa = _check_network(weights_a, "weights_a", X.shape[1])
    wb = _check_network(weights_b, "weights_b", X.shape[1])
    if len(wa) != len(wb) or any(a.shape != b.shape for a, b in zip(wa, wb)):
        raise ValueError(
            f"weights_a and weights_b must have the same layer shapes, got {[a.shape for a in wa]} and "
            f"{[b.shape for b in wb]}"
        )
    if wa[-1].shape[1] != Y.shape[1]:
        raise ValueError(f"Y must have {wa[-1].shape[1]} columns (the network's outputs), got {Y.shape[1]}")
    return X, Y, wa, wb


def _check_layers(layers, L):
    if layers is None:
        return list(range(L))
    if isinstance(layers, (int, np.integer)) and not isinstance(layers, bool):
        layers = [layers]
    try:
        out = sorted({check_int(l, "layers") for l in layers})
    except TypeError:
        raise TypeError(f"layers must be None, a layer index or a list of indices, got {layers!r}") from None
    for l in out:
        if not 0 <= l < L:
            raise ValueError(f"layers must be indices in [0, {L}) for a network of {L} layers, got {l}")
    return out


def loss(X, Y, weights) -> float:
    r"""Squared loss :math:`\frac1n \lVert X W_1 \cdots W_L - Y\rVert_F^2` of a deep linear network.

    Parameters
    ----------
    X : (n, d_0) array-like of float
    Y : (n, d_L) or (n,) array-like of float
    weights : list of (d_{l-1}, d_l) arrays
        :math:`W_1, \dots, W_L`.

    Returns
    -------
    float

    Raises
    ------
    TypeError
        ``weights`` is not a list of matrices.
    ValueError
        Shapes that do not chain (``X``'s columns, consecutive weights, ``Y``'s columns), or
        an empty network.

    Examples
    --------
    >>> loss(np.eye(2), np.zeros((2, 1)), [np.ones((2, 1))])
    1.0
    """
    X, Y = _check_data(X, Y)
    ws = _check_network(weights, "weights", X.shape[1])
    out = X
    for w in ws:
        out = out @ w
    if out.shape[1] != Y.shape[1]:
        raise ValueError(f"Y must have {out.shape[1]} columns (the network's outputs), got {Y.shape[1]}")
    return float(np.sum((out - Y) ** 2) / X.shape[0])


@dataclass
class PathPolynomial(JSONMixin):
    r"""The exact loss along a (partial) interpolation path of a deep linear network.

    Attributes
    ----------
    chebyshev : (2k + 1,) ndarray
        Coefficients of :math:`L` in the Chebyshev basis of :math:`t = 2\alpha - 1`.
    product_chebyshev : (k + 1, d_0, d_L) ndarray
        Chebyshev coefficients of the end-to-end matrix :math:`W_1(\alpha)\cdots W_L(\alpha)`.
    layers : list of int
        The interpolated layers (0-based: 0 is :math:`W_1`).
    base : str
        Where the other layers come from.
    degree : int
        :math:`2k`.

    Examples
    --------
    One layer :math:`w(\alpha) = 1 - 2\alpha` (from 1 to -1) of a one-layer network on
    :math:`x = 1, y = 1`: :math:`L(\alpha) = (1 - 2\alpha - 1)^2 = 4\alpha^2`.

    >>> poly = path_polynomial(np.eye(1), np.ones((1, 1)), [np.array([[1.0]])], [np.array([[-1.0]])])
    >>> poly.degree, poly([0.0, 0.5, 1.0]), poly.monomial().round(12)
    (2, array([0., 1., 4.]), array([0., 0., 4.]))
    """

    chebyshev: np.ndarray
    product_chebyshev: np.ndarray
    layers: List[int]
    base: str
    degree: int

    def __call__(self, alphas) -> np.ndarray:
        """The loss at ``alphas`` (Clenshaw recurrence; O(k) per point)."""
        a = np.asarray(alphas, dtype=np.float64)
        return _cheb.chebval(2.0 * a - 1.0, self.chebyshev)

    def monomial(self) -> np.ndarray:
        """Coefficients in the monomial basis of alpha, lowest first (for display: they can
        be large and cancel for deep networks; evaluate with the object itself)."""
        c = _cheb.cheb2poly(self.chebyshev)  # in t
        # substitute t = 2 alpha - 1
        return np.polynomial.polynomial.Polynomial(c)(np.polynomial.polynomial.Polynomial([-1.0, 2.0])).coef

    def product(self, alpha) -> np.ndarray:
        """The end-to-end matrix at one ``alpha``."""
        t = 2.0 * float(alpha) - 1.0
        T = _cheb.chebvander(np.array([t]), self.product_chebyshev.shape[0] - 1)[0]
        return np.tensordot(T, self.product_chebyshev, axes=1)


def _endpoints_for(wa, wb, layers, base):
    L = len(wa)
    fixed = wa if base == "a" else wb
    start = [wa[l] if l in layers else fixed[l] for l in range(L)]
    end = [wb[l] if l in layers else fixed[l] for l in range(L)]
    flags = [1 if l in layers else 0 for l in range(L)]
    return start, end, flags


def path_polynomial(X, Y, weights_a, weights_b, *, layers=None, base: str = "a", n_threads=None) -> PathPolynomial:
    r"""The squared loss along an interpolation path of a deep linear network, as an exact polynomial.

    For the interpolated layers :math:`l \in S`,
    :math:`W_l(\alpha) = (1-\alpha) W_l^A + \alpha W_l^B`; the others are :math:`W_l^{base}`.
    Then :math:`P(\alpha) = W_1(\alpha)\cdots W_L(\alpha)` has degree :math:`k = |S|` and

    .. math:: L(\alpha) = \frac1n \lVert X P(\alpha) - Y \rVert_F^2

    degree 2k. Both are returned in the Chebyshev basis of :math:`t = 2\alpha - 1` (see the
    module docstring for why).

    Parameters
    ----------
    X : (n, d_0) array-like
    Y : (n, d_L) or (n,) array-like
    weights_a, weights_b : list of (d_{l-1}, d_l) arrays
    layers : int or list of int, optional
        0-based indices of the interpolated layers; None interpolates all (degree 2L).
    base : {"a", "b"}, default "a"
    n_threads : int, optional

    Returns
    -------
    PathPolynomial

    Raises
    ------
    TypeError
        ``weights`` is not a list of matrices.
    ValueError
        Shapes that do not chain (``X``'s columns, consecutive weights, ``Y``'s columns), or
        an empty network; ``layers`` outside ``[0, L)``.

    References
    ----------
    L. Adilova, M. Andriushchenko, M. Kamp, A. Fischer, M. Jaggi, "Layer-wise linear mode
    connectivity", ICLR 2024 (deep linear networks).

    Examples
    --------
    Interpolating the second of two layers only: :math:`k = 1`, a quadratic.

    >>> wa = [np.array([[1.0]]), np.array([[1.0]])]; wb = [np.array([[-1.0]]), np.array([[-1.0]])]
    >>> path_polynomial(np.eye(1), np.ones((1, 1)), wa, wb, layers=[1]).degree
    2
    """
    X, Y, wa, wb = _check_pair(X, Y, weights_a, weights_b)
    S = _check_layers(layers, len(wa))
    base = check_base(base)
    start, end, flags = _endpoints_for(wa, wb, S, base)
    coef, prod = _core.dln_path_chebyshev(X, Y, start, end, flags, check_n_threads(n_threads))
    return PathPolynomial(chebyshev=coef, product_chebyshev=prod, layers=S, base=base, degree=2 * len(S))


def path_loss(X, Y, weights_a, weights_b, alphas=None, *, layers=None, base: str = "a", n_threads=None) -> PathResult:
    r"""Squared loss of a deep linear network at each point of an interpolation path, exactly.

    Evaluates the polynomial of :func:`path_polynomial` at ``alphas`` (cost O(k) per point
    after one pass over the data).

    Parameters
    ----------
    X, Y, weights_a, weights_b, layers, base, n_threads
        As in :func:`path_polynomial`.
    alphas : (m,) array-like or int, default 11 points of [0, 1]

    Returns
    -------
    PathResult
        Metric ``"loss"``.

    Examples
    --------
    >>> X = np.eye(1); Y = np.ones((1, 1))
    >>> wa = [np.array([[1.0]]), np.array([[1.0]])]; wb = [np.array([[-1.0]]), np.array([[-1.0]])]
    >>> path_loss(X, Y, wa, wb, [0.0, 0.5, 1.0]).loss.round(12).tolist()   # ((1 - 2a)^2 - 1)^2
    [0.0, 1.0, 0.0]
    """
    poly = path_polynomial(X, Y, weights_a, weights_b, layers=layers, base=base, n_threads=n_threads)
    al = check_alphas(alphas)
    return PathResult(alphas=al, metrics={"loss": poly(al)}, layers=[str(l) for l in poly.layers], base=poly.base,
                      method="exact polynomial")


def exact_barrier(X, Y, weights_a, weights_b, *, layers=None, base: str = "a", kind: str = "linear",
                  endpoints: str = "full", n_threads=None) -> ExactBarrier:
    r"""Exact loss barrier of a deep linear network along a (partial) interpolation path.

    The loss :math:`L(\alpha)` is the degree-2k polynomial of :func:`path_polynomial`. With
    reference losses :math:`L_A, L_B` the barrier (:doc:`/concepts/lmc`) is

    - ``"linear"``: :math:`\max_{\alpha\in[0,1]} L(\alpha) - (1-\alpha)L_A - \alpha L_B`,
    - ``"mean"``: :math:`\max_{\alpha\in[0,1]} L(\alpha) - \tfrac12(L_A + L_B)`,
    - ``"max"``: :math:`\max_{\alpha\in[0,1]} L(\alpha) - \max(L_A, L_B)`,

    each the maximum of a polynomial on [0, 1], attained at an endpoint or at a real root of
    its derivative. The roots are the eigenvalues of the derivative's Chebyshev colleague
    matrix, refined by Newton steps.

    Parameters
    ----------
    X, Y, weights_a, weights_b, layers, base, n_threads
        As in :func:`path_polynomial`.
    kind : {"linear", "mean", "max"}, default "linear"
    endpoints : {"full", "path"}, default "full"
        ``"full"``: :math:`L_A, L_B` are the losses of the full networks A and B, as for
        layer-wise barriers (Adilova et al., 2024); ``"path"``: the path's own values at
        :math:`\alpha = 0, 1`. The two agree when all layers are interpolated.

    Returns
    -------
    ExactBarrier
        ``coefficients`` are the loss's Chebyshev coefficients.

    Raises
    ------
    ValueError
        An unknown ``kind`` or ``endpoints``; otherwise as :func:`path_polynomial`.

    Examples
    --------
    >>> X = np.eye(1); Y = np.ones((1, 1))
    >>> wa = [np.array([[1.0]]), np.array([[1.0]])]; wb = [np.array([[-1.0]]), np.array([[-1.0]])]
    >>> round(exact_barrier(X, Y, wa, wb).value, 12)   # L = ((1 - 2a)^2 - 1)^2 peaks at a = 1/2
    1.0
    """
    check_kind(kind)
    if endpoints not in ("full", "path"):
        raise ValueError(f"endpoints must be 'full' or 'path', got {endpoints!r}")
    poly = path_polynomial(X, Y, weights_a, weights_b, layers=layers, base=base, n_threads=n_threads)
    if endpoints == "path":
        ends = (float(poly(0.0)), float(poly(1.0)))
    else:
        ends = (loss(X, Y, weights_a), loss(X, Y, weights_b))
    return _exact_barrier_chebyshev(poly.chebyshev, ends, kind)


def _maximize_chebyshev(coef: np.ndarray) -> Tuple[float, float]:
    """Maximum of a Chebyshev series on [-1, 1]: (t*, value), via the real roots of its
    derivative (colleague-matrix eigenvalues, polished by Newton steps) and the endpoints."""
    coef = np.asarray(coef, dtype=np.float64)
    cand = [-1.0, 1.0]
    if coef.size >= 3:
        d1 = _cheb.chebder(coef)
        d2 = _cheb.chebder(d1)
        roots = _cheb.chebroots(d1) if np.any(d1 != 0) else np.zeros(0)
        for r in np.atleast_1d(roots):
            if abs(r.imag) > 1e-7 * (1.0 + abs(r.real)):
                continue
            t = float(r.real)
            if not -1.0 - 1e-9 <= t <= 1.0 + 1e-9:
                continue
            for _ in range(3):  # Newton on the derivative
                g2 = _cheb.chebval(t, d2)
                if g2 == 0 or not np.isfinite(g2):
                    break
                t_new = t - _cheb.chebval(t, d1) / g2
                if not -1.0 <= t_new <= 1.0:
                    break
                t = t_new
            cand.append(min(1.0, max(-1.0, t)))
    cand = np.asarray(cand)
    vals = _cheb.chebval(cand, coef)
    i = int(np.argmax(vals))
    return float(cand[i]), float(vals[i])


def _exact_barrier_chebyshev(coef, endpoints, kind) -> ExactBarrier:
    """Exact barrier of a loss given as a Chebyshev series in t = 2 alpha - 1."""
    la, lb = (float(v) for v in endpoints)
    g = np.array(coef, dtype=np.float64)
    if kind == "linear":  # subtract (1 - a) L_A + a L_B = (L_A + L_B)/2 + t (L_B - L_A)/2
        g = np.concatenate([g, np.zeros(max(0, 2 - g.size))])
        g[0] -= 0.5 * (la + lb)
        g[1] -= 0.5 * (lb - la)
        t, val = _maximize_chebyshev(g)
        value = val
    else:
        t, val = _maximize_chebyshev(g)
        value = val - (0.5 * (la + lb) if kind == "mean" else max(la, lb))
    alpha = 0.5 * (t + 1.0)
    return ExactBarrier(
        value=float(value),
        alpha=float(alpha),
        kind=kind,
        loss_at_alpha=float(_cheb.chebval(t, coef)),
        endpoint_losses=(la, lb),
        coefficients=np.asarray(coef, dtype=np.float64),
        basis="chebyshev in t = 2 alpha - 1",
    )


def init_weights(dims: Sequence[int], *, rng=None, scale: float = 1.0) -> List[np.ndarray]:
    r"""Gaussian initial weights :math:`W_l \sim \mathcal N(0, \text{scale}^2 / d_{l-1})`.

    Parameters
    ----------
    dims : sequence of int
        :math:`(d_0, d_1, \ldots, d_L)`: input, hidden widths, output.
    rng : None, int or numpy.random.Generator
    scale : float, default 1.0

    Returns
    -------
    list of (d_{l-1}, d_l) ndarray of float64

    Raises
    ------
    ValueError
        Fewer than two sizes, or a size below 1.

    Examples
    --------
    >>> [w.shape for w in init_weights([4, 3, 2], rng=0)]
    [(4, 3), (3, 2)]
    """
    dims = [check_int(d, "dims", minimum=1) for d in dims]
    if len(dims) < 2:
        raise ValueError(f"dims must list at least an input and an output size, got {dims}")
    g = check_rng(rng)
    return [g.standard_normal((dims[i], dims[i + 1])) * (scale / np.sqrt(dims[i])) for i in range(len(dims) - 1)]


def train(X, Y, weights, *, lr: float = 0.05, n_steps: int = 500, return_history: bool = False):
    r"""Full-batch gradient descent on :math:`L = \frac1n\lVert X W_1\cdots W_L - Y\rVert_F^2`.

    Each step sets :math:`W_l \leftarrow W_l - \eta\,\nabla_{W_l} L` with
    :math:`\nabla_{W_l} L = \frac2n (X W_1\cdots W_{l-1})^\top (XP - Y)(W_{l+1}\cdots W_L)^\top`.
    Deterministic: two networks differ by their initial weights (see :func:`init_weights`,
    seeded) or their data.

    Parameters
    ----------
    X : (n, d_0) array-like
    Y : (n, d_L) array-like
    weights : list of arrays
        Initial weights (not modified).
    lr : float, default 0.05
    n_steps : int, default 500
    return_history : bool, default False
        Also return the loss before each step and after the last, shape (n_steps + 1,).

    Returns
    -------
    list of ndarray, or (list, ndarray) with ``return_history``

    Raises
    ------
    ValueError
        Shapes that do not chain, ``lr`` not positive and finite, ``n_steps < 0``, or a loss
        that became NaN or infinite (diverged; the message says at which step).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((50, 3)); Y = X @ rng.standard_normal((3, 2))
    >>> ws, hist = train(X, Y, init_weights([3, 4, 2], rng=1), lr=0.05, n_steps=300, return_history=True)
    >>> bool(hist[-1] < 1e-3 * hist[0])
    True
    """
    X, Y = _check_data(X, Y)
    ws = [w.copy() for w in _check_network(weights, "weights", X.shape[1])]
    if ws[-1].shape[1] != Y.shape[1]:
        raise ValueError(f"Y must have {ws[-1].shape[1]} columns (the network's outputs), got {Y.shape[1]}")
    if not (isinstance(lr, (int, float)) and not isinstance(lr, bool) and lr > 0 and np.isfinite(lr)):
        raise ValueError(f"lr must be a positive finite number, got {lr!r}")
    n_steps = check_int(n_steps, "n_steps", minimum=0)
    n = X.shape[0]
    hist = np.empty(n_steps + 1)
    for step in range(n_steps + 1):
        acts = [X]
        with np.errstate(over="ignore", invalid="ignore"):
            for w in ws:
                acts.append(acts[-1] @ w)
        R = acts[-1] - Y
        with np.errstate(over="ignore", invalid="ignore"):
            hist[step] = np.sum(R * R) / n
        if step == n_steps:
            break
        if not np.isfinite(hist[step]):
            raise ValueError(f"gradient descent diverged at step {step} (loss {hist[step]}); lower lr (got {lr})")
        G = (2.0 / n) * R
        with np.errstate(over="ignore", invalid="ignore"):
            for l in range(len(ws) - 1, -1, -1):
                grad = acts[l].T @ G
                G = G @ ws[l].T
                ws[l] -= lr * grad
    return (ws, hist) if return_history else ws


@dataclass
class DLNToy(JSONMixin):
    r"""The deep linear toy of Adilova et al. (2024, Fig. 4), in closed form.

    Attributes
    ----------
    X, Y : ndarrays
        Data with :math:`Y = X M` (noise-free, both networks fit it exactly).
    weights_a, weights_b : lists of two matrices
        :math:`A = (W_1, W_2)` with :math:`W_1 W_2 = M`, and :math:`B = (g W_1, W_2 / g)`.
    g : float
    barriers : dict
        Closed-form barriers (all three definitions agree: both endpoints have zero loss):
        ``"full"``, ``"layer 1"`` and ``"layer 2"`` (each layer interpolated into A).

    Examples
    --------
    >>> toy = toy_example(g=10.0)
    >>> exact = exact_barrier(toy.X, toy.Y, toy.weights_a, toy.weights_b).value
    >>> bool(np.isclose(exact, toy.barriers["full"]))
    True
    """

    X: np.ndarray
    Y: np.ndarray
    weights_a: List[np.ndarray]
    weights_b: List[np.ndarray]
    g: float
    barriers: Dict[str, float] = field(default_factory=dict)


def toy_example(g: float = 10.0, *, n: int = 200, dims=(5, 5, 3), rng=0) -> DLNToy:
    r"""The seed's deep-linear toy: a full-path barrier, a much lower one for layer 2 alone, a
    high one for layer 1 alone.

    Construction. Draw X (n x d_0), :math:`M` (d_0 x d_2) and an invertible :math:`W_1`
    (d_0 x d_1, d_1 >= d_0); set :math:`W_2 = W_1^+ M` so that :math:`W_1W_2 = M`,
    :math:`Y = XM`, and :math:`B = (gW_1, W_2/g)`: the same function, by the rescaling symmetry
    of linear networks. Both endpoints have zero loss. With :math:`S = \lVert Y\rVert_F^2/n`:

    - full path: :math:`P(\alpha) = p(\alpha)M`, :math:`p(\alpha) = (1-\alpha+\alpha g)(1-\alpha+\alpha/g)`,
      :math:`p - 1 = \alpha(1-\alpha)(g + 1/g - 2)`, so the barrier is
      :math:`\bigl(\tfrac{(g-1)^2}{4g}\bigr)^2 S` at :math:`\alpha = 1/2`;
    - layer 1 into A: :math:`P = (1 + \alpha(g-1))M`, barrier :math:`(g-1)^2 S` (at :math:`\alpha=1`);
    - layer 2 into A: :math:`P = (1 + \alpha(1/g-1))M`, barrier :math:`(1-1/g)^2 S < S`.

    For g = 10: full 4.10 S, layer 2 0.81 S, layer 1 81 S.

    Parameters
    ----------
    g : float, default 10.0
        Rescaling factor, > 1.
    n : int, default 200
    dims : (d_0, d_1, d_2), default (5, 5, 3)
        Needs d_1 >= d_0.
    rng : None, int or numpy.random.Generator, default 0

    Returns
    -------
    DLNToy

    Raises
    ------
    ValueError
        ``g`` not a finite number above 1, ``n`` below 1, or :math:`d_1 < d_0`.

    References
    ----------
    L. Adilova, M. Andriushchenko, M. Kamp, A. Fischer, M. Jaggi, "Layer-wise linear mode
    connectivity", ICLR 2024 (Fig. 4).

    Examples
    --------
    >>> toy = toy_example(g=10.0)
    >>> S = float(np.sum(toy.Y ** 2) / len(toy.Y))
    >>> {k: round(v / S, 2) for k, v in toy.barriers.items()}
    {'full': 4.1, 'layer 1': 81.0, 'layer 2': 0.81}
    """
    if not isinstance(g, (int, float)) or isinstance(g, bool) or not g > 1 or not np.isfinite(g):
        raise ValueError(f"g must be a finite number > 1, got {g!r}")
    n = check_int(n, "n", minimum=1)
    d0, d1, d2 = (check_int(d, "dims", minimum=1) for d in dims)
    if d1 < d0:
        raise ValueError(f"dims must have d_1 >= d_0 so that W_1 has full row rank, got {tuple(dims)}")
    r = check_rng(rng)
    X = r.standard_normal((n, d0))
    M = r.standard_normal((d0, d2))
    W1 = r.standard_normal((d0, d1)) + 2.0 * np.eye(d0, d1)
    W2 = np.linalg.pinv(W1) @ M
    Y = X @ (W1 @ W2)
    S = float(np.sum(Y * Y) / n)
    g = float(g)
    barriers = {
        "full": ((g - 1.0) ** 2 / (4.0 * g)) ** 2 * S,
        "layer 1": (g - 1.0) ** 2 * S,
        "layer 2": (1.0 - 1.0 / g) ** 2 * S,
    }
    return DLNToy(X=X, Y=Y, weights_a=[W1, W2], weights_b=[g * W1, W2 / g], g=g, barriers=barriers)
