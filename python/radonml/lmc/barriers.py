r"""Barriers along interpolation paths and the result objects that carry paths (SPEC §5).

Torch-free: :mod:`radonml.lmc.linear` and :mod:`radonml.lmc.deep_linear` use it without torch.

References
----------
L. Adilova, M. Andriushchenko, M. Kamp, A. Fischer, M. Jaggi, "Layer-wise linear mode
connectivity", ICLR 2024.
R. Entezari, H. Sedghi, O. Saukh, B. Neyshabur, "The role of permutation invariance in linear
mode connectivity of neural networks", ICLR 2022 (the "linear" barrier).
J. Frankle, G. K. Dziugaite, D. Roy, M. Carbin, "Linear mode connectivity and the lottery
ticket hypothesis", ICML 2020 (the "mean" barrier).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple

import numpy as np

from ._common import (
    BARRIER_KINDS,
    JSONMixin,
    barrier_from_values,
    barrier_metric,
    check_kind,
    pair_of_numbers,
)

__all__ = ["BARRIER_KINDS", "PathResult", "ExactBarrier", "barrier"]


@dataclass
class PathResult(JSONMixin):
    """Metrics of models along an interpolation path :math:`\\theta(\\alpha)`.

    Attributes
    ----------
    alphas : (m,) ndarray of float64
        Interpolation weights; :math:`\\alpha = 0` is the path's start, 1 its end.
    metrics : dict of str to (m,) ndarray
        One array per metric (e.g. ``"loss"``, ``"accuracy"``, ``"error"``); each is also an
        attribute (``path.loss``) and an item (``path["loss"]``).
    layers : list of str or None
        The interpolated layers (None: the whole model).
    base : str or None
        ``"a"`` or ``"b"``: the model the non-interpolated layers come from.
    method : str
        How the path was evaluated (``"vmap"``, ``"loop"``, ``"closed form"``, ...).
    """

    alphas: np.ndarray
    metrics: Dict[str, np.ndarray]
    layers: Optional[list] = None
    base: Optional[str] = None
    method: str = ""

    def __getattr__(self, name):
        metrics = self.__dict__.get("metrics")
        if metrics is not None and name in metrics:
            return metrics[name]
        raise AttributeError(f"{type(self).__name__} has no attribute or metric {name!r}")

    def __getitem__(self, name):
        return self.metrics[name]

    def barrier(self, metric: str = "loss", kind: str = "linear", **kwargs) -> float:
        """:func:`barrier` of this path."""
        return barrier(self, metric, kind, **kwargs)


@dataclass
class ExactBarrier(JSONMixin):
    """A barrier computed exactly from a polynomial loss along the path.

    Attributes
    ----------
    value : float
        The barrier (SPEC §5, see :func:`radonml.lmc.barrier` for the definitions).
    alpha : float
        Where on [0, 1] the maximum is attained.
    kind : str
        ``"linear"``, ``"mean"`` or ``"max"``.
    loss_at_alpha : float
        The loss at ``alpha``.
    endpoint_losses : (float, float)
        The reference losses :math:`L_A, L_B` the barrier is measured against.
    coefficients : (p,) ndarray
        The loss polynomial's coefficients in ``basis``.
    basis : str
        ``"monomial in alpha"`` or ``"chebyshev in t = 2 alpha - 1"``.
    """

    value: float
    alpha: float
    kind: str
    loss_at_alpha: float
    endpoint_losses: Tuple[float, float]
    coefficients: np.ndarray = field(default_factory=lambda: np.zeros(0))
    basis: str = ""


def barrier(path, metric: str = "loss", kind: str = "linear", *, endpoints=None, tol: float = 0.1,
            return_alpha: bool = False):
    r"""Loss (or error) barrier along an interpolation path.

    With :math:`L(\alpha)` the metric at :math:`\theta(\alpha) = (1-\alpha)\theta_A + \alpha\theta_B`
    and :math:`L_A, L_B` its values at the endpoints (SPEC §5):

    - ``"linear"`` (Entezari et al., 2022):
      :math:`B = \sup_\alpha [L(\alpha) - ((1-\alpha) L_A + \alpha L_B)]`;
    - ``"mean"`` (Frankle et al., 2020): :math:`B = \max_\alpha L(\alpha) - \tfrac12 (L_A + L_B)`;
    - ``"max"``: :math:`B = \max_\alpha L(\alpha) - \max(L_A, L_B)`.

    The supremum is over the path's points with :math:`0 \le \alpha \le 1`. For accuracy the
    barrier is that of the error :math:`1 - \text{accuracy}`. When :math:`L_A` and :math:`L_B`
    differ by more than ``tol`` (relatively), the ``"mean"`` barrier contains half that gap even
    for a straight, barrier-free path, so an
    :class:`~radonml.exceptions.EndpointMismatchWarning` recommends the ``"linear"`` barrier.

    Parameters
    ----------
    path : PathResult
        From :func:`radonml.lmc.evaluate_path`, :func:`radonml.lmc.linear.path_metrics` or
        :func:`radonml.lmc.deep_linear.path_loss`.
    metric : str, default "loss"
        A metric of ``path``; ``"accuracy"`` is turned into the error.
    kind : {"linear", "mean", "max"}, default "linear"
    endpoints : (float, float), optional
        Reference values :math:`(L_A, L_B)` of ``metric``; default the path's values at
        :math:`\alpha = 0, 1`. Layer-wise barriers are measured against the full endpoint
        models this way (Adilova et al., 2024). For ``metric="accuracy"`` give accuracies:
        they are turned into errors like the path's values.
    tol : float, default 0.1
        Relative endpoint difference :math:`|L_A - L_B| / \max(|L_A|, |L_B|)` above which
        the ``"mean"`` barrier warns.
    return_alpha : bool, default False
        Also return the :math:`\alpha` where the supremum is attained.

    Returns
    -------
    float, or (float, float) with ``return_alpha``

    Raises
    ------
    TypeError
        ``path`` is not a :class:`PathResult`, or ``endpoints`` is not a pair of numbers.
    ValueError
        Unknown ``kind`` or ``metric``; no point at :math:`\alpha = 0` or 1 without
        ``endpoints``; NaN in the metric.

    References
    ----------
    L. Adilova, M. Andriushchenko, M. Kamp, A. Fischer, M. Jaggi, "Layer-wise linear mode
    connectivity", ICLR 2024.

    Examples
    --------
    >>> p = PathResult(alphas=np.array([0.0, 0.5, 1.0]), metrics={"loss": np.array([1.0, 3.0, 1.0])})
    >>> barrier(p, kind="linear")
    2.0
    """
    check_kind(kind)
    if not isinstance(path, PathResult):
        raise TypeError(f"path must be a PathResult (from evaluate_path, path_metrics or path_loss), got {type(path).__name__}")
    name, values, from_accuracy = barrier_metric(path.metrics, metric)
    if endpoints is not None and from_accuracy:
        endpoints = pair_of_numbers(endpoints)
        endpoints = (1.0 - endpoints[0], 1.0 - endpoints[1])
    alphas = np.asarray(path.alphas, dtype=np.float64)
    return barrier_from_values(alphas, values, kind, endpoints=endpoints, tol=tol, return_alpha=return_alpha,
                               what=name)
