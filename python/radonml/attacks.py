r"""Byzantine attacks on the models (or gradients) that learners send, and on their data.

The threat model of Byzantine-robust learning: :math:`n` learners each send a vector
:math:`x_i \in \mathbb{R}^d` (a model, an update or a gradient); :math:`f` of them are
*Byzantine* and send whatever hurts most. An *attack* is the rule by which they choose
their vectors. Model-level attacks see the :math:`n_h = n - f` honest vectors
(the usual omniscient adversary) and, where the attack corrupts a learner's own result
(sign flip, Gaussian noise), the Byzantine learners' own honest vectors; data-level attacks
act on a Byzantine learner's training data before it trains (label flip).

Three layers, each with one job:

- the **formulas**: :func:`sign_flip`, :func:`gaussian_noise`, :func:`alie`, :func:`ipm`,
  :func:`mimic`, :func:`inf_nan`, :func:`min_max`, :func:`min_sum` map the honest vectors,
  an ``(n_h, d)`` array, to the ``(f, d)`` Byzantine vectors; :func:`label_flip` maps labels
  to labels;
- :func:`corrupt` applies one of them to the full ``(n, d)`` stack of models that ``n``
  learners produced: it marks ``f`` rows Byzantine (drawn at random, or given), and returns a
  :class:`Corruption` holding the corrupted stack and the mask. The stack goes straight into
  :func:`radonml.aggregate`;
- :class:`Attack` is an attack chosen once (name, ``f``, parameters): the object that the
  Radon machine, the federated simulator and the Flower examples accept.

The attacks and where they come from: ALIE [1]_, IPM [2]_, Mimic [3]_, min-max and
min-sum [4]_, Gaussian noise [5]_, sign flip [6]_, label flip [7]_ [6]_. The
:doc:`attacks page </concepts/attacks>` of the documentation states each formula.

All attacks are in one registry (:func:`available_attacks`, :func:`attack_info`,
:func:`register_attack`), so a benchmark can iterate over every attack as it does over every
aggregator.

Examples
--------
>>> import numpy as np
>>> from radonml import aggregate
>>> models = np.array([[1.0, 1.0], [1.2, 0.8], [0.8, 1.2], [1.1, 0.9], [0.9, 1.1]])
>>> out = corrupt(models, "ipm", f=2, rng=0, epsilon=1.0)
>>> out
Corruption(attack='ipm', n=5, d=2, f=2, byzantine=[3, 4], epsilon=1.0)
>>> out.models[out.byzantine]     # -epsilon times the mean of the three honest rows
array([[-1., -1.],
       [-1., -1.]])
>>> aggregate(out.models, "median")
array([0.8, 0.8])

References
----------
.. [1] M. Baruch, G. Baruch, Y. Goldberg, "A Little Is Enough: Circumventing Defenses For
   Distributed Learning", NeurIPS 2019.
.. [2] C. Xie, O. Koyejo, I. Gupta, "Fall of Empires: Breaking Byzantine-tolerant SGD by
   Inner Product Manipulation", UAI 2020 (PMLR 115).
.. [3] S. P. Karimireddy, L. He, M. Jaggi, "Byzantine-Robust Learning on Heterogeneous
   Datasets via Bucketing", ICLR 2022.
.. [4] V. Shejwalkar, A. Houmansadr, "Manipulating the Byzantine: Optimizing Model Poisoning
   Attacks and Defenses for Federated Learning", NDSS 2021.
.. [5] P. Blanchard, E. M. El Mhamdi, R. Guerraoui, J. Stainer, "Machine Learning with
   Adversaries: Byzantine Tolerant Gradient Descent", NeurIPS 2017.
.. [6] Z. Allen-Zhu, F. Ebrahimianghazani, J. Li, D. Alistarh, "Byzantine-Resilient
   Non-Convex Stochastic Gradient Descent", ICLR 2021.
.. [7] C. Fung, C. J. M. Yoon, I. Beschastnikh, "The Limitations of Federated Learning in
   Sybil Settings", RAID 2020 (label flipping).
"""

from __future__ import annotations

import inspect
import numbers
from dataclasses import dataclass, field
from typing import Callable, Dict, Optional, Tuple

import numpy as np
from scipy.special import ndtri

from ._validation import as_float_array, check_int, check_rng
from .aggregators import aggregate

__all__ = [
    "sign_flip",
    "gaussian_noise",
    "alie",
    "alie_z",
    "ipm",
    "mimic",
    "inf_nan",
    "min_max",
    "min_sum",
    "label_flip",
    "corrupt",
    "Corruption",
    "Attack",
    "AttackInfo",
    "register_attack",
    "available_attacks",
    "attack_info",
]

KINDS = ("model", "data")


# ------------------------------------------------------------------ validation helpers


def _honest(honest, attack: str, min_rows: int = 0) -> np.ndarray:
    """The honest vectors as a finite (n_h, d) float64 array with at least ``min_rows`` rows."""
    H = as_float_array(honest, "honest", ndim=2, allow_empty=True)
    if H.shape[1] == 0:
        raise ValueError(f"honest must have at least one column (d >= 1), got shape {H.shape}")
    if H.shape[0] < min_rows:
        raise ValueError(
            f"{attack} needs at least {min_rows} honest model(s) (rows of honest), got {H.shape[0]}"
        )
    return H


def _own(own, f: int, d: int, attack: str) -> np.ndarray:
    if own is None:
        raise ValueError(
            f"{attack} corrupts the Byzantine learners' own models but own=None; pass own, the "
            f"({f}, {d}) array of their honest models (radonml.attacks.corrupt does), or choose "
            "another reference (see the docstring)"
        )
    O = as_float_array(own, "own", ndim=2, allow_empty=True)
    if O.shape != (f, d):
        raise ValueError(f"own must have shape (f, d) = ({f}, {d}), one row per Byzantine learner, got {O.shape}")
    return O


def _positive(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r} of type {type(value).__name__}")
    value = float(value)
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive finite number, got {value}")
    return value


def _finite_real(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r} of type {type(value).__name__}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return value


def _choice(value, name: str, options) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, one of {list(options)}, got {value!r} of type {type(value).__name__}")
    if value not in options:
        raise ValueError(f"{name} must be one of {list(options)}, got {value!r}")
    return value


def _rows(vector: np.ndarray, f: int) -> np.ndarray:
    """``f`` copies of ``vector`` as a fresh (f, d) array."""
    return np.repeat(vector[None, :], f, axis=0)


# ------------------------------------------------------------------ model-level attacks


def sign_flip(honest, f, *, scale=1.0, of="own", own=None) -> np.ndarray:
    r"""Sign flip: each Byzantine learner sends a model of opposite sign, optionally scaled.

    .. math::

        b_k = -s\, o_k \quad (\texttt{of="own"}), \qquad
        b_k = -s\, \bar x = -\frac{s}{n_h}\sum_{i=1}^{n_h} x_i \quad (\texttt{of="mean"}),

    :math:`k = 1, \dots, f`, with :math:`o_k` the :math:`k`-th Byzantine learner's own honest
    model and :math:`s > 0` the scale. ``of="own"`` with scale :math:`s` is what
    ``radonml compare --corrupt K --corrupt-scale s`` does to ``K`` base models; it needs no
    knowledge of the other learners. ``of="mean"`` is the omniscient form of Allen-Zhu et al.
    (2021), ByzFL's ``SignFlipping``.

    Parameters
    ----------
    honest : (n_h, d) array-like of float
        The honest learners' vectors (may have 0 rows with ``of="own"``).
    f : int
        Number of Byzantine vectors, :math:`f \ge 0`.
    scale : float, default 1.0
        :math:`s > 0`.
    of : {"own", "mean"}, default "own"
        Flip each Byzantine learner's own model, or the honest mean.
    own : (f, d) array-like of float, optional
        The Byzantine learners' own honest models; required with ``of="own"``.

    Returns
    -------
    (f, d) ndarray of float64

    Raises
    ------
    ValueError
        Non-finite or mis-shaped input, ``scale <= 0``, ``of="own"`` without ``own``,
        ``of="mean"`` without honest rows.

    References
    ----------
    Allen-Zhu, Ebrahimianghazani, Li, Alistarh, ICLR 2021 (``of="mean"``).

    Examples
    --------
    >>> sign_flip([[1.0, 2.0]], 1, own=[[3.0, -1.0]], scale=2.0)
    array([[-6.,  2.]])
    >>> sign_flip([[1.0, 2.0], [3.0, 4.0]], 2, of="mean")
    array([[-2., -3.],
           [-2., -3.]])
    """
    of = _choice(of, "of", ("own", "mean"))
    H = _honest(honest, "sign_flip", 1 if of == "mean" else 0)
    f = check_int(f, "f", minimum=0)
    s = _positive(scale, "scale")
    if of == "own":
        return -s * _own(own, f, H.shape[1], "sign_flip with of='own'")
    return _rows(-s * H.mean(axis=0), f)


def gaussian_noise(honest, f, *, sigma=1.0, center="own", own=None, rng=None) -> np.ndarray:
    r"""Gaussian noise: each Byzantine learner sends a centre plus isotropic Gaussian noise.

    .. math::

        b_k = c_k + \sigma\, \xi_k, \qquad \xi_k \sim \mathcal{N}(0, I_d) \text{ i.i.d.},

    with the centre :math:`c_k` the learner's own model (``center="own"``), the honest mean
    :math:`\bar x` (``"mean"``) or :math:`0` (``"zero"``: the Gaussian Byzantine vectors of
    Blanchard et al., 2017, who use :math:`\sigma = 200`). The noise is
    ``rng.standard_normal((f, d))``.

    Parameters
    ----------
    honest : (n_h, d) array-like of float
        The honest vectors (may have 0 rows unless ``center="mean"``).
    f : int
        Number of Byzantine vectors, :math:`f \ge 0`.
    sigma : float, default 1.0
        Standard deviation :math:`\sigma > 0` of every coordinate's noise.
    center : {"own", "mean", "zero"}, default "own"
    own : (f, d) array-like of float, optional
        The Byzantine learners' own models; required with ``center="own"``.
    rng : None, int or numpy.random.Generator
        Source of the noise.

    Returns
    -------
    (f, d) ndarray of float64

    Raises
    ------
    ValueError
        Non-finite or mis-shaped input, ``sigma <= 0``, ``center="own"`` without ``own``.

    References
    ----------
    Blanchard, El Mhamdi, Guerraoui, Stainer, NeurIPS 2017.

    Examples
    --------
    >>> b = gaussian_noise([[0.0, 0.0, 0.0]], 2, sigma=0.5, center="zero", rng=0)
    >>> b.shape, bool(np.all(np.abs(b) < 3))
    ((2, 3), True)
    """
    center = _choice(center, "center", ("own", "mean", "zero"))
    H = _honest(honest, "gaussian_noise", 1 if center == "mean" else 0)
    f = check_int(f, "f", minimum=0)
    sigma = _positive(sigma, "sigma")
    gen = check_rng(rng)
    d = H.shape[1]
    if center == "own":
        C = _own(own, f, d, "gaussian_noise with center='own'")
    elif center == "mean":
        C = _rows(H.mean(axis=0), f)
    else:
        C = np.zeros((f, d))
    return C + sigma * gen.standard_normal((f, d))


def alie_z(n, f) -> float:
    r""":math:`z_{\max}` of "A little is enough" (Baruch et al., 2019, Alg. 1) for :math:`n`
    learners of which :math:`f` are Byzantine.

    With the :math:`f` Byzantine copies, the attackers need :math:`s = \lfloor n/2 + 1 \rfloor
    - f` more learners "behind" the Byzantine value (farther from the mean on its side) to
    form a majority that a median- or distance-based rule follows. For normally distributed
    honest values, a share :math:`1 - \Phi(z)` lies more than :math:`z` standard deviations
    out on one side; the largest :math:`z` with :math:`1 - \Phi(z) > s/n` is

    .. math:: z_{\max} = \max_z \bigl\{\Phi(z) < \tfrac{n - s}{n}\bigr\} = \Phi^{-1}\Bigl(\frac{n - s}{n}\Bigr).

    (Karimireddy et al.'s code uses :math:`\Phi^{-1}((n - f - s)/(n - f))` instead, the share
    among the honest learners; pass ``z`` to :func:`alie` for that.)

    Parameters
    ----------
    n : int
        Number of learners, honest and Byzantine, :math:`n \ge 1`.
    f : int
        Number of Byzantine learners, :math:`0 \le f < \lfloor n/2 \rfloor + 1` (else
        :math:`s \le 0` and :math:`z_{\max} = \infty`).

    Returns
    -------
    float

    Raises
    ------
    ValueError
        ``f > n`` or :math:`f \ge \lfloor n/2 \rfloor + 1`.

    Examples
    --------
    >>> round(alie_z(10, 2), 6)   # s = 6 - 2 = 4, Phi^{-1}(0.6)
    0.253347
    """
    n = check_int(n, "n", minimum=1)
    f = check_int(f, "f", minimum=0)
    if f > n:
        raise ValueError(f"f must be at most n = {n}, got {f}")
    s = (n // 2 + 1) - f  # floor(n/2 + 1) for integer n
    if s <= 0:
        raise ValueError(
            f"ALIE's z_max needs f < floor(n/2) + 1 = {n // 2 + 1} (s = floor(n/2 + 1) - f > 0), got n = {n}, "
            f"f = {f}; pass z explicitly"
        )
    return float(ndtri((n - s) / n))


def alie(honest, f, *, z=None) -> np.ndarray:
    r"""A little is enough (ALIE; Baruch, Baruch, Goldberg, NeurIPS 2019).

    Every Byzantine learner sends, coordinate by coordinate,

    .. math:: b_j = \mu_j - z\, \sigma_j, \qquad j = 1, \dots, d,

    with :math:`\mu_j` and :math:`\sigma_j` the mean and the (sample, ``ddof=1``) standard
    deviation of the honest vectors' :math:`j`-th coordinates and, by default,
    :math:`z = z_{\max}(n, f)` of :func:`alie_z` with :math:`n = n_h + f`. The shift stays
    within the honest spread in every coordinate, so the coordinate-wise median, the trimmed
    mean and Krum keep the Byzantine vectors, yet it moves all coordinates at once. (ByzFL's
    ``ALittleIsEnough`` adds :math:`+\tau\sigma`; that is ``z=-tau``.)

    Parameters
    ----------
    honest : (n_h, d) array-like of float
        :math:`n_h \ge 2` honest vectors.
    f : int
        Number of Byzantine vectors, :math:`f \ge 0`.
    z : float, optional
        The shift in standard deviations; default :func:`alie_z` ``(n_h + f, f)``.

    Returns
    -------
    (f, d) ndarray of float64
        ``f`` equal rows.

    Raises
    ------
    ValueError
        Fewer than 2 honest vectors, non-finite input or ``z``, or no default ``z`` (see
        :func:`alie_z`).

    References
    ----------
    Baruch, Baruch, Goldberg, NeurIPS 2019, Algorithm 1.

    Examples
    --------
    >>> alie([[1.0, 2.0], [3.0, 2.0], [5.0, 2.0]], 2, z=1.0)   # mean (3, 2), std (2, 0)
    array([[1., 2.],
           [1., 2.]])
    """
    H = _honest(honest, "alie", 2)
    f = check_int(f, "f", minimum=0)
    z = alie_z(H.shape[0] + f, f) if z is None else _finite_real(z, "z")
    return _rows(H.mean(axis=0) - z * H.std(axis=0, ddof=1), f)


def ipm(honest, f, *, epsilon=0.1) -> np.ndarray:
    r"""Inner product manipulation (IPM; Xie, Koyejo, Gupta, UAI 2020, "Fall of Empires").

    Every Byzantine learner sends

    .. math:: b = -\varepsilon\, \bar x = -\frac{\varepsilon}{n_h}\sum_{i=1}^{n_h} x_i,

    so that the inner product of the aggregate with the true mean turns negative: a small
    :math:`\varepsilon` (0.1 in the paper) hides among the honest vectors and defeats the
    median and Krum; a large one (:math:`\varepsilon > (n - f)/f`) reverses the mean.

    Parameters
    ----------
    honest : (n_h, d) array-like of float
        :math:`n_h \ge 1` honest vectors.
    f : int
        Number of Byzantine vectors, :math:`f \ge 0`.
    epsilon : float, default 0.1
        :math:`\varepsilon > 0`.

    Returns
    -------
    (f, d) ndarray of float64
        ``f`` equal rows.

    References
    ----------
    Xie, Koyejo, Gupta, UAI 2020.

    Examples
    --------
    >>> ipm([[1.0, 2.0], [3.0, 4.0]], 1, epsilon=0.5)
    array([[-1. , -1.5]])
    """
    H = _honest(honest, "ipm", 1)
    f = check_int(f, "f", minimum=0)
    eps = _positive(epsilon, "epsilon")
    return _rows(-eps * H.mean(axis=0), f)


def mimic(honest, f, *, target=None, direction=None) -> np.ndarray:
    r"""Mimic (Karimireddy, He, Jaggi, ICLR 2022): every Byzantine learner copies one honest
    learner's vector, over-weighting that learner in the aggregate.

    .. math:: b = x_{i^\star}, \qquad
        i^\star = \arg\max_i \bigl|\langle z, x_i - \bar x\rangle\bigr|,

    where :math:`z` is the direction of largest variance of the honest vectors (the top
    right-singular vector of :math:`X - \bar x`) or a given ``direction``: the learner
    farthest from the mean along it, which biases the aggregate most under heterogeneous
    data. Ties go to the smaller index. A given ``target`` skips the heuristic. (The
    authors' code estimates :math:`z` by a power iteration over the first rounds, fixes the
    target after them, and takes :math:`\arg\max_i \langle z, x_i\rangle` for its sign of
    :math:`z`; the absolute value here makes the choice independent of the sign that the SVD
    returns. For a target fixed across rounds, pass ``target``.)

    Parameters
    ----------
    honest : (n_h, d) array-like of float
        :math:`n_h \ge 1` honest vectors.
    f : int
        Number of Byzantine vectors, :math:`f \ge 0`.
    target : int, optional
        Row of ``honest`` to copy (``0 <= target < n_h``).
    direction : (d,) array-like of float, optional
        :math:`z` (e.g. estimated over past rounds); not with ``target``.

    Returns
    -------
    (f, d) ndarray of float64
        ``f`` copies of ``honest[i*]``.

    References
    ----------
    Karimireddy, He, Jaggi, ICLR 2022, Sec. 5 and App. (mimic attack).

    Raises
    ------
    ValueError
        Both ``target`` and ``direction`` given, ``target`` not a row of ``honest``, or
        ``direction`` of the wrong length or zero.

    Examples
    --------
    >>> honest = [[0.0, 0.0], [1.0, 0.1], [-3.0, 0.0], [2.0, -0.1]]
    >>> mimic(honest, 2)      # the largest variance is along the first axis; -3 lies farthest
    array([[-3.,  0.],
           [-3.,  0.]])
    >>> mimic(honest, 1, target=1)
    array([[1. , 0.1]])
    """
    H = _honest(honest, "mimic", 1)
    f = check_int(f, "f", minimum=0)
    n_h, d = H.shape
    if target is not None:
        if direction is not None:
            raise ValueError("give target or direction, not both")
        target = check_int(target, "target", minimum=0)
        if target >= n_h:
            raise ValueError(f"target must index a row of honest (0 <= target < {n_h}), got {target}")
        return _rows(H[target], f)
    C = H - H.mean(axis=0)
    if direction is not None:
        z = as_float_array(direction, "direction", ndim=1)
        if z.shape[0] != d:
            raise ValueError(f"direction must have d = {d} entries, got {z.shape[0]}")
        if not np.any(z):
            raise ValueError("direction must not be the zero vector")
    elif not np.any(C):
        return _rows(H[0], f)  # identical honest vectors: every choice is the same
    else:
        z = np.linalg.svd(C, full_matrices=False)[2][0]
    return _rows(H[int(np.argmax(np.abs(C @ z)))], f)


def inf_nan(honest, f, *, value=np.inf) -> np.ndarray:
    r"""Non-finite vectors: every coordinate of every Byzantine vector is :math:`+\infty`,
    :math:`-\infty` or NaN.

    .. math:: b = (v, \dots, v), \qquad v \in \{+\infty, -\infty, \mathrm{NaN}\}.

    A rule that averages without checking its input returns a non-finite model;
    :func:`radonml.aggregate` rejects such input with a ``ValueError`` and the Flower
    strategy drops the replies.

    Parameters
    ----------
    honest : (n_h, d) array-like of float
        The honest vectors (only ``d`` is used; may have 0 rows).
    f : int
        Number of Byzantine vectors, :math:`f \ge 0`.
    value : float, default inf
        ``np.inf``, ``-np.inf`` or ``np.nan``.

    Returns
    -------
    (f, d) ndarray of float64

    Raises
    ------
    TypeError
        ``value`` not a real number.
    ValueError
        ``value`` finite.

    Examples
    --------
    >>> inf_nan([[1.0, 2.0]], 1, value=np.nan)
    array([[nan, nan]])
    """
    H = _honest(honest, "inf_nan", 0)
    f = check_int(f, "f", minimum=0)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"value must be inf, -inf or nan, got {value!r} of type {type(value).__name__}")
    if np.isfinite(float(value)):
        raise ValueError(f"value must be inf, -inf or nan, got the finite {float(value)}; use another attack")
    return np.full((f, H.shape[1]), float(value))


PERTURBATIONS = ("unit_vec", "std", "sign")


def _perturbation(H: np.ndarray, perturbation) -> np.ndarray:
    """The direction :math:`p` of Shejwalkar & Houmansadr's attacks."""
    mu = H.mean(axis=0)
    if isinstance(perturbation, str):
        _choice(perturbation, "perturbation", PERTURBATIONS)
        if perturbation == "unit_vec":
            norm = np.linalg.norm(mu)
            if norm == 0:
                raise ValueError("perturbation='unit_vec' needs a non-zero honest mean; choose 'std' or 'sign', or an array")
            p = -mu / norm
        elif perturbation == "std":
            p = -H.std(axis=0, ddof=1) if H.shape[0] > 1 else np.zeros_like(mu)
        else:
            p = -np.sign(mu)
    else:
        p = as_float_array(perturbation, "perturbation", ndim=1)
        if p.shape[0] != H.shape[1]:
            raise ValueError(f"perturbation must have d = {H.shape[1]} entries, got {p.shape[0]}")
    if not np.any(p):
        raise ValueError(
            f"the perturbation {perturbation if isinstance(perturbation, str) else 'array'!r} is the zero vector "
            "(e.g. identical honest models for 'std', a zero mean for 'sign'); choose another one"
        )
    return p


def _sq_dists(H: np.ndarray) -> np.ndarray:
    """Pairwise squared distances from one Gram matrix of the centred rows (BLAS)."""
    C = H - H.mean(axis=0)
    G = C @ C.T
    g = np.diag(G)
    return np.maximum(g[:, None] + g[None, :] - 2.0 * G, 0.0)


def _min_max_gamma(H: np.ndarray, p: np.ndarray) -> float:
    r"""The largest :math:`\gamma \ge 0` with :math:`\max_i \lVert \bar x + \gamma p - x_i\rVert
    \le \max_{i,j} \lVert x_i - x_j\rVert`, in closed form."""
    mu = H.mean(axis=0)
    D2 = float(_sq_dists(H).max())
    R = mu - H  # rows mu - x_i
    a = float(p @ p)
    b = R @ p
    c = np.einsum("ij,ij->i", R, R)
    slack = np.maximum(D2 - c, 0.0)  # >= 0: the mean lies in the hull, within D of every x_i
    disc = np.sqrt(b * b + a * slack)
    # the larger root of a g^2 + 2 b g - slack = 0, without cancellation
    with np.errstate(divide="ignore", invalid="ignore"):
        root = np.where(b <= 0, (disc - b) / a, slack / (b + disc))
    return float(np.min(root))


def min_max(
    honest,
    f,
    *,
    perturbation="unit_vec",
    aggregator=None,
    aggregator_options=None,
    gamma_max=None,
    n_grid: int = 20,
    n_refine: int = 20,
    rng=None,
) -> np.ndarray:
    r"""Min-max attack (Shejwalkar & Houmansadr, NDSS 2021), aggregator-agnostic or
    aggregator-aware.

    Every Byzantine learner sends :math:`b = \bar x + \gamma p`, the honest mean moved along a
    perturbation direction :math:`p`: ``"unit_vec"`` :math:`p = -\bar x / \lVert\bar x\rVert`,
    ``"std"`` :math:`p = -\sigma` (coordinate-wise standard deviation of the honest vectors),
    ``"sign"`` :math:`p = -\operatorname{sign}(\bar x)`, or a given vector.

    **Agnostic** (``aggregator=None``; the paper's "AGR-agnostic Min-Max"): the largest
    :math:`\gamma` for which :math:`b` lies no farther from any honest vector than the honest
    vectors lie from each other,

    .. math::

        \gamma^\star = \max\Bigl\{\gamma \ge 0 : \max_i \lVert \bar x + \gamma p - x_i \rVert
        \le \max_{i,j} \lVert x_i - x_j \rVert = D\Bigr\}.

    Each :math:`\lVert \bar x + \gamma p - x_i\rVert^2 = a\gamma^2 + 2 b_i\gamma + c_i` is a
    convex quadratic (:math:`a = \lVert p\rVert^2`, :math:`b_i = \langle p, \bar x - x_i\rangle`,
    :math:`c_i = \lVert \bar x - x_i\rVert^2 \le D^2`), so the feasible set is an interval
    :math:`[0, \gamma^\star]` and :math:`\gamma^\star = \min_i` of the larger roots of
    :math:`a\gamma^2 + 2b_i\gamma + c_i - D^2 = 0`: computed exactly, where the paper's code
    bisects.

    **Aggregator-aware** (``aggregator`` given; the paper's "AGR-tailored" attack, which knows
    the aggregation rule): the :math:`\gamma \in [0, \Gamma]` that maximises the aggregate's
    deviation from the honest mean,

    .. math::

        \max_{0 \le \gamma \le \Gamma} \bigl\lVert \mathrm{agg}(x_1, \dots, x_{n_h},
        \underbrace{b(\gamma), \dots, b(\gamma)}_{f}) - \bar x \bigr\rVert,

    found by evaluating ``n_grid`` equally spaced :math:`\gamma` in :math:`[0, \Gamma]` and
    :math:`\gamma^\star` (when :math:`\gamma^\star \le \Gamma`), then ``n_refine`` steps of
    golden-section search around the best grid point; the best :math:`\gamma` evaluated wins.
    Because :math:`\gamma^\star` is among the candidates, the aware attack moves the aggregate
    at least as far as the agnostic one. :math:`\Gamma` is ``gamma_max``, by default
    :math:`10\gamma^\star` (the mean, whose deviation grows without bound in :math:`\gamma`,
    is then pushed to :math:`\Gamma`). The Byzantine rows follow the honest ones in the stack
    that is aggregated; a randomised aggregator (``"radon"``) without an ``rng`` in
    ``aggregator_options`` gets one seed drawn from ``rng``, the same for every :math:`\gamma`.

    Parameters
    ----------
    honest : (n_h, d) array-like of float
        :math:`n_h \ge 2` honest vectors.
    f : int
        Number of Byzantine vectors, :math:`f \ge 0`.
    perturbation : {"unit_vec", "std", "sign"} or (d,) array-like of float, default "unit_vec"
        The direction :math:`p` (``"unit_vec"`` is the default of the paper's code).
    aggregator : str or callable, optional
        A name of :func:`radonml.available_aggregators` or a callable as in
        :func:`radonml.aggregate`; ``None`` for the agnostic attack.
    aggregator_options : dict, optional
        Passed to :func:`radonml.aggregate` (e.g. ``{"beta": 0.2}``, ``{"f": 3}``).
    gamma_max : float, optional
        :math:`\Gamma > 0` (aware attack only); default :math:`10\gamma^\star`.
    n_grid : int, default 20
        Grid points in :math:`[0, \Gamma]` (at least 2).
    n_refine : int, default 20
        Golden-section steps, one evaluation each after two to start (0: none).
    rng : None, int or numpy.random.Generator
        Seed for a randomised aggregator (see above).

    Returns
    -------
    (f, d) ndarray of float64
        ``f`` copies of :math:`b = \bar x + \gamma p`.

    Raises
    ------
    ValueError
        Fewer than 2 honest vectors, non-finite input, a zero perturbation, an aggregator
        that fails on the stack or returns a non-finite vector.

    References
    ----------
    Shejwalkar, Houmansadr, NDSS 2021, Sec. IV (AGR-tailored) and V (AGR-agnostic Min-Max).

    Examples
    --------
    >>> honest = [[1.0, 0.0], [-1.0, 0.0]]   # D = 2; with p = (0, 1): 1 + g^2 = 4
    >>> b = min_max(honest, 1, perturbation=[0.0, 1.0])
    >>> bool(np.allclose(b, [[0.0, np.sqrt(3.0)]]))
    True
    >>> min_max(honest, 2, perturbation=[0.0, 1.0], aggregator="mean", gamma_max=5.0)
    array([[0., 5.],
           [0., 5.]])
    """
    H = _honest(honest, "min_max", 2)
    f = check_int(f, "f", minimum=0)
    p = _perturbation(H, perturbation)
    mu = H.mean(axis=0)
    g_star = _min_max_gamma(H, p)
    if aggregator is None:
        for name, value in (("aggregator_options", aggregator_options), ("gamma_max", gamma_max)):
            if value is not None:
                raise ValueError(f"{name} is used only by the aggregator-aware attack; pass aggregator= too")
        return _rows(mu + g_star * p, f)
    if not (isinstance(aggregator, str) or callable(aggregator)):
        raise TypeError(f"aggregator must be an aggregator name or a callable, got {type(aggregator).__name__}")
    if aggregator_options is None:
        options = {}
    elif isinstance(aggregator_options, dict):
        options = dict(aggregator_options)
    else:
        raise TypeError(f"aggregator_options must be a dict, got {type(aggregator_options).__name__}")
    n_grid = check_int(n_grid, "n_grid", minimum=2)
    n_refine = check_int(n_refine, "n_refine", minimum=0)
    gen = check_rng(rng)
    if aggregator == "radon" and options.get("rng") is None:
        options["rng"] = int(gen.integers(2**63 - 1))
    G = 10.0 * g_star if gamma_max is None else _positive(gamma_max, "gamma_max")
    if f == 0:
        return np.empty((0, H.shape[1]))

    def damage(g: float) -> float:
        stack = np.vstack([H, _rows(mu + g * p, f)])
        out = aggregate(stack, aggregator, **options)
        dev = float(np.linalg.norm(out - mu))
        if not np.isfinite(dev):
            raise ValueError(f"aggregator {aggregator!r} returned a non-finite vector at gamma = {g}")
        return dev

    grid = np.linspace(0.0, G, n_grid)
    if g_star <= G:
        grid = np.union1d(grid, [g_star])
    values = np.array([damage(g) for g in grid])
    best = int(np.argmax(values))  # first maximum: the smallest such gamma
    best_g, best_v = float(grid[best]), float(values[best])
    lo, hi = float(grid[max(best - 1, 0)]), float(grid[min(best + 1, len(grid) - 1)])
    ratio = (np.sqrt(5.0) - 1.0) / 2.0
    x1, x2 = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
    refine = n_refine > 0 and hi > lo
    v1, v2 = (damage(x1), damage(x2)) if refine else (-np.inf, -np.inf)
    for _ in range(n_refine if refine else 0):  # golden-section search for the maximum
        if v1 >= v2:
            hi, x2, v2 = x2, x1, v1
            x1 = hi - ratio * (hi - lo)
            v1 = damage(x1)
        else:
            lo, x1, v1 = x1, x2, v2
            x2 = lo + ratio * (hi - lo)
            v2 = damage(x2)
    for g, v in ((x1, v1), (x2, v2)):
        if v > best_v:
            best_g, best_v = g, v
    return _rows(mu + best_g * p, f)


def min_sum(honest, f, *, perturbation="unit_vec") -> np.ndarray:
    r"""Min-sum attack (Shejwalkar & Houmansadr, NDSS 2021, AGR-agnostic): like
    :func:`min_max`, with the sum of squared distances in the constraint.

    .. math::

        \gamma^\star = \max\Bigl\{\gamma \ge 0 : \sum_i \lVert \bar x + \gamma p - x_i\rVert^2
        \le \max_i \sum_j \lVert x_i - x_j\rVert^2\Bigr\}
        = \frac{\max_i \lVert x_i - \bar x\rVert}{\lVert p\rVert},

    because :math:`\sum_i \lVert \bar x + \gamma p - x_i\rVert^2 = n_h\gamma^2\lVert p\rVert^2
    + S` and :math:`\sum_j \lVert x_i - x_j\rVert^2 = n_h\lVert x_i - \bar x\rVert^2 + S`, with
    :math:`S = \sum_i \lVert x_i - \bar x\rVert^2`.

    Parameters
    ----------
    honest : (n_h, d) array-like of float
        :math:`n_h \ge 2` honest vectors.
    f : int
        Number of Byzantine vectors, :math:`f \ge 0`.
    perturbation : {"unit_vec", "std", "sign"} or (d,) array-like of float, default "unit_vec"
        As in :func:`min_max`.

    Returns
    -------
    (f, d) ndarray of float64
        ``f`` copies of :math:`\bar x + \gamma^\star p`.

    References
    ----------
    Shejwalkar, Houmansadr, NDSS 2021, Sec. V.

    Examples
    --------
    >>> min_sum([[1.0, 0.0], [-1.0, 0.0]], 1, perturbation=[0.0, 2.0])
    array([[0., 1.]])
    """
    H = _honest(honest, "min_sum", 2)
    f = check_int(f, "f", minimum=0)
    p = _perturbation(H, perturbation)
    mu = H.mean(axis=0)
    r = float(np.sqrt(np.einsum("ij,ij->i", H - mu, H - mu).max()))
    return _rows(mu + (r / float(np.linalg.norm(p))) * p, f)


# ------------------------------------------------------------------ data-level attacks


def label_flip(y, classes, *, permutation=None) -> np.ndarray:
    r"""Label flip: a Byzantine learner trains on wrong labels.

    With the classes :math:`c_0, \dots, c_{K-1}` in the given order, label :math:`c_i` becomes
    :math:`c_{\pi(i)}`, by default :math:`\pi(i) = K - 1 - i` (for labels :math:`0, \dots,
    K-1`: :math:`y \mapsto K - 1 - y`, as Allen-Zhu et al. 2021 and Karimireddy et al. 2022
    use it).

    Parameters
    ----------
    y : (m,) array-like
        The learner's labels.
    classes : int or (K,) array-like
        :math:`K \ge 2` (labels :math:`0, \dots, K-1`) or the :math:`K` distinct class labels
        of the whole task (not only those of this learner's data).
    permutation : (K,) array-like of int, optional
        :math:`\pi`, a permutation of :math:`0, \dots, K-1`.

    Returns
    -------
    (m,) ndarray
        The flipped labels (the dtype of ``y`` for ``classes=K`` and integer ``y``, else that
        of ``classes``).

    Raises
    ------
    ValueError
        A label not among ``classes``, fewer than 2 or repeated classes, a ``permutation``
        that is not one of :math:`0, \dots, K-1`.

    References
    ----------
    Fung, Yoon, Beschastnikh, RAID 2020; Allen-Zhu et al., ICLR 2021.

    Examples
    --------
    >>> label_flip([0, 1, 2, 9], 10)
    array([9, 8, 7, 0])
    >>> label_flip(["cat", "dog", "cat"], ["cat", "dog"])
    array(['dog', 'cat', 'dog'], dtype='<U3')
    """
    y_arr = np.asarray(y)
    if y_arr.ndim != 1:
        raise ValueError(f"y must be a 1-dimensional array of labels, got shape {y_arr.shape}")
    if isinstance(classes, numbers.Integral) and not isinstance(classes, bool):
        K = check_int(classes, "classes", minimum=2)
        C = np.arange(K)
    else:
        C = np.asarray(classes)
        if C.ndim != 1:
            raise ValueError(f"classes must be an int K or a 1-dimensional array of labels, got shape {C.shape}")
        K = C.shape[0]
        if K < 2:
            raise ValueError(f"classes must hold at least 2 labels, got {K}")
        if np.unique(C).shape[0] != K:
            raise ValueError(f"classes must be distinct, got {C.tolist()}")
    if permutation is None:
        perm = np.arange(K)[::-1]
    else:
        perm = np.asarray(permutation)
        if perm.shape != (K,) or perm.dtype.kind not in "iu" or not np.array_equal(np.sort(perm), np.arange(K)):
            raise ValueError(f"permutation must be a permutation of 0, ..., {K - 1} ({K} integers), got {perm.tolist()}")
    order = np.argsort(C, kind="stable")
    try:
        pos = np.searchsorted(C[order], y_arr)
    except TypeError:
        raise TypeError(f"y's labels (dtype {y_arr.dtype}) cannot be compared with classes (dtype {C.dtype})") from None
    pos = np.clip(pos, 0, K - 1)
    idx = order[pos]
    found = C[idx] == y_arr
    if not np.all(found):
        bad = y_arr[~found][0].item()
        raise ValueError(f"y holds the label {bad!r}, which is not among classes {C.tolist()}")
    out = C[perm[idx]]
    if isinstance(classes, numbers.Integral) and y_arr.dtype.kind in "iu":
        out = out.astype(y_arr.dtype)
    return out


def _label_flip_data(X, y, *, classes=None, permutation=None):
    if classes is None:
        raise ValueError("label_flip needs classes=: the number of classes K (labels 0, ..., K-1) or the "
                         "task's class labels, not only those in this learner's data")
    return X, label_flip(y, classes, permutation=permutation)


# ------------------------------------------------------------------ registry


@dataclass(frozen=True)
class AttackInfo:
    """A registered attack: its function and how :func:`corrupt` calls it.

    Attributes
    ----------
    name : str
    fn : callable
        ``kind="model"``: ``fn(honest, f, **params) -> (f, d)``, also given ``own=`` (the
        ``(f, d)`` Byzantine learners' own models) when ``takes_own`` and ``rng=`` (a
        ``numpy.random.Generator``) when ``takes_rng``. ``kind="data"``: ``fn(X, y, **params)
        -> (X, y)``, given ``rng=`` when ``takes_rng``.
    kind : {"model", "data"}
    takes_own : bool
    takes_rng : bool
    knows_aggregator : bool
        ``fn`` accepts ``aggregator=`` and ``aggregator_options=`` and then attacks that
        aggregator (as :func:`min_max`); a benchmark passes the aggregator under test.

    Examples
    --------
    >>> info = attack_info("alie")
    >>> info.kind, info.takes_own, info.accepted_params()
    ('model', False, ('z',))
    """

    name: str
    fn: Callable
    kind: str = "model"
    takes_own: bool = False
    takes_rng: bool = False
    knows_aggregator: bool = False

    def accepted_params(self) -> Optional[Tuple[str, ...]]:
        """Keyword parameters a caller may set (None: any, ``fn`` takes ``**kwargs``)."""
        try:
            sig = inspect.signature(self.fn)
        except (TypeError, ValueError):  # builtins without a signature
            return None
        if any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
            return None
        names = [p.name for p in sig.parameters.values() if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]
        return tuple(n for n in names[2:] if n not in _RESERVED)


_RESERVED = ("own", "rng")
_REGISTRY: Dict[str, AttackInfo] = {}


def register_attack(
    name: str,
    fn: Callable,
    *,
    kind: str = "model",
    takes_own: bool = False,
    takes_rng: bool = False,
    knows_aggregator: bool = False,
    overwrite: bool = False,
) -> None:
    """Add an attack to the registry used by :func:`corrupt`, :class:`Attack` and radonml's
    benchmarks.

    Parameters
    ----------
    name : str
        The name users pass.
    fn : callable
        See :class:`AttackInfo`: ``fn(honest, f, **params) -> (f, d)`` for ``kind="model"``,
        ``fn(X, y, **params) -> (X, y)`` for ``kind="data"``.
    kind : {"model", "data"}, default "model"
    takes_own, takes_rng, knows_aggregator : bool, default False
        Whether ``fn`` accepts ``own=``, ``rng=``, ``aggregator=`` (see :class:`AttackInfo`).
    overwrite : bool, default False
        Allow replacing an existing name.

    Raises
    ------
    TypeError
        ``name`` not a non-empty string, ``fn`` not callable, or a flag not a bool.
    ValueError
        A data-level attack with ``takes_own`` or ``knows_aggregator``, or an existing name
        without ``overwrite=True``.

    Examples
    --------
    >>> import numpy as np
    >>> register_attack("zero", lambda honest, f: np.zeros((f, honest.shape[1])), overwrite=True)
    >>> corrupt([[1.0, 2.0], [3.0, 4.0]], "zero", byzantine=[1]).models
    array([[1., 2.],
           [0., 0.]])
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a non-empty string, got {name!r}")
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    _choice(kind, "kind", KINDS)
    for flag, value in (("takes_own", takes_own), ("takes_rng", takes_rng), ("knows_aggregator", knows_aggregator)):
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"{flag} must be True or False, got {value!r}")
    if kind == "data" and (takes_own or knows_aggregator):
        raise ValueError("a data-level attack takes neither own nor an aggregator")
    if name in _REGISTRY and not overwrite:
        raise ValueError(f"an attack named {name!r} is already registered; pass overwrite=True to replace it")
    _REGISTRY[name] = AttackInfo(name, fn, kind, bool(takes_own), bool(takes_rng), bool(knows_aggregator))


def available_attacks(kind: Optional[str] = None) -> list:
    """Names of the registered attacks, sorted; only those of one ``kind`` if given.

    Parameters
    ----------
    kind : {"model", "data"}, optional
        Model-level attacks (on the vectors learners send) or data-level ones (on a
        learner's training data); default both.

    Returns
    -------
    list of str

    Raises
    ------
    ValueError
        An unknown ``kind``.

    Examples
    --------
    >>> available_attacks("data")
    ['label_flip']
    >>> {"alie", "ipm", "min_max", "sign_flip"} <= set(available_attacks("model"))
    True
    """
    if kind is not None:
        _choice(kind, "kind", KINDS)
    return sorted(k for k, e in _REGISTRY.items() if kind is None or e.kind == kind)


def attack_info(attack) -> AttackInfo:
    """Look up a registered attack by name (a callable becomes an unregistered model-level
    attack that takes neither ``own`` nor ``rng``).

    Parameters
    ----------
    attack : str or callable
        A name of :func:`available_attacks`, or ``fn(honest, f, **params) -> (f, d)``.

    Returns
    -------
    AttackInfo

    Raises
    ------
    TypeError
        ``attack`` is neither a string nor callable.
    ValueError
        An unknown name.

    Examples
    --------
    >>> attack_info("sign_flip").takes_own, attack_info("min_max").knows_aggregator
    (True, True)
    """
    if callable(attack) and not isinstance(attack, str):
        for entry in _REGISTRY.values():  # a registered function keeps its entry
            if entry.fn is attack:
                return entry
        return AttackInfo(getattr(attack, "__name__", "callable"), attack)
    if not isinstance(attack, str):
        raise TypeError(f"attack must be a registered attack name or a callable, got {type(attack).__name__}")
    try:
        return _REGISTRY[attack]
    except KeyError:
        raise ValueError(f"unknown attack {attack!r}; expected one of {available_attacks()}") from None


def _check_params(info: AttackInfo, params: dict) -> None:
    for key in _RESERVED:
        if key in params:
            raise TypeError(f"{key!r} is supplied by radonml.attacks (the Byzantine rows' own models, the rng); "
                            f"do not pass it as a parameter of {info.name!r}")
    accepted = info.accepted_params()
    if accepted is not None:
        unknown = sorted(set(params) - set(accepted))
        if unknown:
            raise TypeError(f"attack {info.name!r} has no parameter(s) {unknown}; it accepts {list(accepted)}")


# ------------------------------------------------------------------ the full stack


def _byzantine_mask(n: int, f, byzantine, gen: np.random.Generator) -> np.ndarray:
    """(n,) bool mask of the Byzantine rows: given, or ``f`` rows drawn without replacement."""
    if byzantine is None:
        if f is None:
            raise ValueError("give f (the number of Byzantine models) or byzantine (which rows)")
        f = check_int(f, "f", minimum=0)
        if f > n:
            raise ValueError(f"f must be at most the number of models n = {n}, got {f}")
        mask = np.zeros(n, dtype=bool)
        if f > 0:
            mask[gen.choice(n, size=f, replace=False)] = True
        return mask
    b = np.asarray(byzantine)
    if b.dtype == bool:
        if b.shape != (n,):
            raise ValueError(f"byzantine as a boolean mask must have shape ({n},), one entry per model, got {b.shape}")
        mask = b.copy()
    elif b.dtype.kind in "iu" or b.size == 0:
        if b.ndim != 1:
            raise ValueError(f"byzantine as indices must be 1-dimensional, got shape {b.shape}")
        b = b.astype(np.intp)
        if b.size and (b.min() < 0 or b.max() >= n):
            raise ValueError(f"byzantine indices must lie in [0, {n}), got {b.tolist()}")
        if np.unique(b).size != b.size:
            raise ValueError(f"byzantine indices must be distinct, got {b.tolist()}")
        mask = np.zeros(n, dtype=bool)
        mask[b] = True
    else:
        raise TypeError(f"byzantine must be a boolean mask or integer indices, got dtype {b.dtype}")
    if f is not None and check_int(f, "f", minimum=0) != int(mask.sum()):
        raise ValueError(f"f = {f} disagrees with byzantine, which marks {int(mask.sum())} model(s)")
    return mask


def _json(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json(v) for v in value]
    if callable(value):
        return getattr(value, "__name__", repr(value))
    return value


@dataclass(frozen=True, eq=False, repr=False)
class Corruption:
    """The stack of models after an attack (made by :func:`corrupt`).

    Attributes
    ----------
    models : (n, d) ndarray of float64
        The honest rows unchanged, the Byzantine rows replaced; may hold inf/NaN
        (:func:`inf_nan`).
    byzantine : (n,) ndarray of bool
        Which rows are Byzantine.
    attack : str
        The attack's name.
    params : dict
        Its parameters.

    Examples
    --------
    >>> out = corrupt([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]], "sign_flip", byzantine=[2])
    >>> out.n, out.f, out.indices, out.honest
    (3, 1, array([2]), array([[1., 1.],
           [2., 2.]]))
    >>> out.to_dict()["attack"]
    'sign_flip'
    """

    models: np.ndarray
    byzantine: np.ndarray
    attack: str
    params: dict = field(default_factory=dict)

    @property
    def n(self) -> int:
        """Number of models."""
        return int(self.models.shape[0])

    @property
    def f(self) -> int:
        """Number of Byzantine models."""
        return int(self.byzantine.sum())

    @property
    def indices(self) -> np.ndarray:
        """Indices of the Byzantine rows, increasing."""
        return np.flatnonzero(self.byzantine)

    @property
    def honest(self) -> np.ndarray:
        """The honest rows, (n - f, d)."""
        return self.models[~self.byzantine]

    def __repr__(self) -> str:
        extra = "".join(f", {k}={_json(v)!r}" for k, v in self.params.items())
        return (f"Corruption(attack={self.attack!r}, n={self.n}, d={self.models.shape[1]}, f={self.f}, "
                f"byzantine={self.indices.tolist()}{extra})")

    def to_dict(self) -> dict:
        """JSON-ready dict (non-finite entries stay float ``inf``/``nan``)."""
        return {"attack": self.attack, "params": _json(self.params), "n": self.n, "d": int(self.models.shape[1]),
                "f": self.f, "byzantine": self.indices.tolist(), "models": self.models.tolist()}


def corrupt(models, attack, *, f=None, byzantine=None, rng=None, **params) -> Corruption:
    r"""Let ``f`` of ``n`` learners be Byzantine: replace their rows of the stack of models
    by an attack's vectors.

    The Byzantine rows are ``byzantine`` if given, else ``f`` rows drawn uniformly without
    replacement (``rng.choice(n, f, replace=False)``, the first draw from ``rng``). The attack
    sees the honest rows (``honest = models[~mask]``) and, if it takes them, the Byzantine
    rows' own models (``own = models[mask]``) and the same generator. With ``f = 0`` the
    attack is not called and the models come back unchanged.

    ``corrupt(models, "sign_flip", f=K, scale=s, rng=g).models`` is what
    ``radonml compare --corrupt K --corrupt-scale s`` does to the base models with the
    generator ``g``. An :class:`Attack` brings its ``f`` and parameters:
    ``corrupt(models, Attack("ipm", f=2, epsilon=0.5), rng=g)`` is
    ``corrupt(models, "ipm", f=2, epsilon=0.5, rng=g)`` and ``Attack("ipm", f=2, epsilon=0.5)(models, rng=g)``.

    Parameters
    ----------
    models : (n, d) array-like of float
        The models the ``n`` learners computed honestly, one per row; finite.
    attack : str, callable or Attack
        A name of :func:`available_attacks` with ``kind="model"``,
        ``fn(honest, f, **params) -> (f, d)``, or an :class:`Attack` (its ``f`` is used
        where neither ``f`` nor ``byzantine`` is given; ``byzantine`` takes its place as in
        ``Attack.__call__``; ``params`` add to its parameters).
    f : int, optional
        Number of Byzantine learners, :math:`0 \le f \le n`.
    byzantine : (n,) array-like of bool or 1-D array-like of int, optional
        Which rows are Byzantine (a mask or distinct indices); with ``f``, they must agree.
    rng : None, int or numpy.random.Generator
        Seed of the choice of rows and of a random attack.
    **params
        The attack's parameters.

    Returns
    -------
    Corruption
        ``.models`` is the corrupted (n, d) stack for :func:`radonml.aggregate`,
        ``.byzantine`` the mask.

    Raises
    ------
    TypeError
        An unknown parameter, a non-callable attack.
    ValueError
        Non-finite or mis-shaped models, an unknown or data-level attack, ``f`` and
        ``byzantine`` missing or disagreeing, ``f > n``, what the attack itself rejects, an
        attack returning another shape than (f, d), or an :class:`Attack` whose ``f`` or a
        parameter differs from the ``f`` or ``params`` given here.

    Examples
    --------
    >>> import numpy as np
    >>> models = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    >>> corrupt(models, "sign_flip", byzantine=[0], scale=10.0).models
    array([[-10., -20.],
           [  3.,   4.],
           [  5.,   6.]])
    >>> corrupt(models, Attack("sign_flip", f=1, scale=10.0), byzantine=[2]).models[2]
    array([-50., -60.])
    >>> corrupt(models, Attack("sign_flip", f=1), f=2)
    Traceback (most recent call last):
    ...
    ValueError: f=2 differs from the Attack's f=1; give f once (in the Attack or to corrupt)
    """
    if isinstance(attack, Attack):
        if f is not None and attack.f is not None and f != attack.f:
            raise ValueError(f"f={f} differs from the Attack's f={attack.f}; give f once (in the Attack or to corrupt)")
        for key, value in params.items():
            if key in attack.params and not _same(attack.params[key], value):
                raise ValueError(f"{key}={value!r} differs from the Attack's {key}={attack.params[key]!r}; give it "
                                 "once (in the Attack or to corrupt)")
        if f is None and byzantine is None:
            f = attack.f
        return _corrupt(attack.info, models, f, byzantine, rng, {**attack.params, **params})
    return _corrupt(attack_info(attack), models, f, byzantine, rng, params)


def _same(a, b) -> bool:
    """Whether two attack parameters are equal (arrays elementwise)."""
    try:
        return bool(np.array_equal(np.asarray(a), np.asarray(b)))
    except Exception:  # not comparable as arrays (e.g. callables): identity or ==
        return a is b or a == b


def _corrupt(info: AttackInfo, models, f, byzantine, rng, params: dict) -> Corruption:
    if info.kind != "model":
        raise ValueError(f"{info.name!r} is a data-level attack: it corrupts a learner's data before training "
                         "(see radonml.attacks.label_flip and Attack.corrupt_data), not the models")
    _check_params(info, params)
    X = as_float_array(models, "models", ndim=2)
    gen = check_rng(rng)
    mask = _byzantine_mask(X.shape[0], f, byzantine, gen)
    out = X.copy()
    k = int(mask.sum())
    if k > 0:
        kwargs = dict(params)
        if info.takes_own:
            kwargs["own"] = X[mask]
        if info.takes_rng:
            kwargs["rng"] = gen
        B = np.asarray(info.fn(X[~mask], k, **kwargs), dtype=np.float64)
        if B.shape != (k, X.shape[1]):
            raise ValueError(f"attack {info.name!r} returned shape {B.shape}, expected (f, d) = ({k}, {X.shape[1]})")
        out[mask] = B
    return Corruption(models=out, byzantine=mask, attack=info.name, params=dict(params))


class Attack:
    r"""An attack chosen once: its name, the number ``f`` of Byzantine learners and its
    parameters. What the Radon machine, the federated simulator and the Flower examples take.

    Parameters
    ----------
    attack : str or callable
        A name of :func:`available_attacks` or a model-level ``fn(honest, f, **params)``.
    f : int, optional
        Number of Byzantine learners; may instead come with a ``byzantine`` mask per call.
    **params
        The attack's parameters, checked against its signature now.

    Examples
    --------
    >>> import numpy as np
    >>> atk = Attack("alie", f=1, z=1.0)
    >>> atk
    Attack('alie', f=1, z=1.0)
    >>> atk(np.array([[0.0], [2.0], [4.0], [9.0]]), byzantine=[3]).models.ravel()  # 2 - 1 * 2
    array([0., 2., 4., 0.])
    >>> Attack("label_flip", f=2, classes=3).corrupt_data(None, np.array([0, 1, 2]))[1]
    array([2, 1, 0])
    """

    def __init__(self, attack, f=None, **params):
        self._info = attack_info(attack)
        self.f = check_int(f, "f", minimum=0, allow_none=True)
        _check_params(self._info, params)
        self.params = dict(params)

    @property
    def name(self) -> str:
        return self._info.name

    @property
    def kind(self) -> str:
        """``"model"`` or ``"data"``."""
        return self._info.kind

    @property
    def info(self) -> AttackInfo:
        return self._info

    def select(self, n, *, rng=None) -> np.ndarray:
        """The (n,) boolean mask of ``f`` Byzantine learners out of ``n``, drawn as
        :func:`corrupt` draws it (so ``select(n, rng=s)`` equals ``self(models, rng=s).byzantine``)."""
        n = check_int(n, "n", minimum=1)
        return _byzantine_mask(n, self.f, None, check_rng(rng))

    def __call__(self, models, *, byzantine=None, rng=None) -> Corruption:
        """Corrupt the stack ``models`` (n, d): :func:`corrupt` with this attack's ``f`` and
        parameters.

        ``byzantine`` (a mask or indices) names this call's Byzantine rows and then takes the
        place of ``f``: e.g. the rows, among the learners sampled in a round, of the learners
        that :meth:`select` made Byzantine once.
        """
        if self.kind != "model":
            raise ValueError(f"{self.name!r} is a data-level attack; call corrupt_data on the Byzantine learners' data")
        return _corrupt(self._info, models, self.f if byzantine is None else None, byzantine, rng, self.params)

    def corrupt_data(self, X, y, *, rng=None, **params) -> Tuple[object, np.ndarray]:
        """Apply a data-level attack to one Byzantine learner's data: ``(X, y) -> (X', y')``.

        ``params`` add to (and override) the configured ones, e.g. ``classes=`` known only
        where the data is.
        """
        if self.kind != "data":
            raise ValueError(f"{self.name!r} is a model-level attack; call the Attack on the stack of models")
        merged = {**self.params, **params}
        _check_params(self._info, merged)
        if self._info.takes_rng:
            merged["rng"] = check_rng(rng)
        return self._info.fn(X, y, **merged)

    def to_dict(self) -> dict:
        """JSON-ready description: ``{"attack", "f", "params"}``."""
        return {"attack": self.name, "f": self.f, "params": _json(self.params)}

    def __repr__(self) -> str:
        extra = "".join(f", {k}={v!r}" for k, v in self.params.items())
        f = "" if self.f is None else f", f={self.f}"
        return f"Attack({self.name!r}{f}{extra})"

    def __eq__(self, other) -> bool:
        if not isinstance(other, Attack):
            return NotImplemented
        return self._info == other._info and self.f == other.f and _json(self.params) == _json(other.params)

    __hash__ = None  # mutable parameters


register_attack("sign_flip", sign_flip, takes_own=True)
register_attack("gaussian_noise", gaussian_noise, takes_own=True, takes_rng=True)
register_attack("alie", alie)
register_attack("ipm", ipm)
register_attack("mimic", mimic)
register_attack("inf_nan", inf_nan)
register_attack("min_max", min_max, takes_rng=True, knows_aggregator=True)
register_attack("min_sum", min_sum)
register_attack("label_flip", _label_flip_data, kind="data")
