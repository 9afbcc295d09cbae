"""Aggregation with a documented fallback when no Radon point exists (used by
:mod:`radonml.federated` and :mod:`radonml.flower`; needs neither torch nor flwr)."""

from __future__ import annotations

import warnings

import numpy as np

from .aggregators import aggregate, supports_weights
from .exceptions import FallbackWarning
from .radon import radon_number

__all__ = ["aggregate_with_fallback", "NoRadonPointError"]


class NoRadonPointError(ValueError):
    """Raised by :func:`aggregate_with_fallback` for ``method="radon"`` with fewer models than
    the Radon number and ``fallback=None``."""


def aggregate_with_fallback(models, method="mean", *, weights=None, fallback="geometric_median", **options):
    """:func:`radonml.aggregate`, except that ``method="radon"`` with fewer models than the Radon
    number :math:`r = d + 2` (no Radon point exists) uses ``fallback`` instead and emits a
    :class:`~radonml.FallbackWarning` (``fallback=None``: raises :class:`NoRadonPointError`).
    Weights are passed only to aggregators that use them.

    Returns ``(vector, used_method)``; ``used_method`` differs from ``method`` exactly when the
    fallback was used. This is the one place that makes that decision (for
    :mod:`radonml.federated` and :mod:`radonml.flower`).
    """
    X = np.asarray(models, dtype=np.float64)
    used = method
    if method == "radon" and X.shape[0] < radon_number(X.shape[1]):
        if fallback is None:
            raise NoRadonPointError(
                f"the Radon point of {X.shape[0]} models in dimension d = {X.shape[1]} needs at least "
                f"r = d + 2 = {radon_number(X.shape[1])} models, and fallback=None"
            )
        warnings.warn(
            f"{X.shape[0]} models are fewer than the Radon number r = d + 2 = {radon_number(X.shape[1])}; "
            f"aggregating with {fallback!r} instead",
            FallbackWarning,
            stacklevel=3,
        )
        used, options = fallback, {}
    w = weights if (weights is not None and (callable(used) or supports_weights(used))) else None
    return aggregate(X, used, weights=w, **options), used
