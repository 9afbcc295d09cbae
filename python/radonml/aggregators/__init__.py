"""One registry of aggregators over a stack of models (:doc:`/concepts/aggregators` states
each rule, its breakdown condition and its paper).

Every component of radonml that combines models (the scikit-learn Radon machine, the torch
adapters, the federated protocols and the Flower strategy) goes through :func:`aggregate`,
so a name registered here with :func:`register_aggregator` is available everywhere, and a
pre-aggregator registered with :func:`register_preaggregator` composes with any of them as
``"pre>aggregator"``.

Modules, one per family: :mod:`~radonml.aggregators.coordinate` (mean, median, trimmed mean,
MeaMed), :mod:`~radonml.aggregators.geometric` (geometric median, centered clipping),
:mod:`~radonml.aggregators.distance` (Krum, Multi-Krum, Bulyan, minimum-diameter averaging)
and :mod:`~radonml.aggregators.preaggregators` (NNM, bucketing, static clipping, ARC). The
heavy work runs in the compiled core (``cpp/radonml/robust.hpp``), in threads with the GIL
released.
"""

from __future__ import annotations

import inspect

from .._validation import check_fraction
from ..radon import iterated_radon_point
from ._common import pairwise_sq_distances
from ._registry import (
    REGISTRY,  # noqa: F401 - the registry itself (tests remove the rules they register)
    RegisteredRule,
    ResolvedAggregator,
    accepts_option,
    aggregate,
    aggregate_with_fallback,
    available_aggregators,
    available_preaggregators,
    check_method,
    register_aggregator,
    register_preaggregator,
    resolve_aggregator,
    supports_weights,
)
from .coordinate import coordinate_median, meamed, meamed_condition, trimmed_mean, weighted_mean
from .distance import (
    bulyan,
    bulyan_condition,
    krum,
    krum_condition,
    krum_scores,
    mda_condition,
    minimum_diameter_averaging,
    multi_krum,
)
from .geometric import centered_clipping, centered_clipping_options, geometric_median, geometric_median_options
from .preaggregators import (
    adaptive_robust_clipping,
    arc_condition,
    bucketing,
    bucketing_n_out,
    nearest_neighbour_mixing,
    nnm_condition,
    static_clipping,
)

__all__ = [
    "aggregate",
    "register_aggregator",
    "register_preaggregator",
    "available_aggregators",
    "available_preaggregators",
    "supports_weights",
    "check_method",
    "accepts_option",
    "resolve_aggregator",
    "ResolvedAggregator",
    "RegisteredRule",
    "aggregate_with_fallback",
    "weighted_mean",
    "coordinate_median",
    "trimmed_mean",
    "meamed",
    "geometric_median",
    "centered_clipping",
    "krum",
    "multi_krum",
    "krum_scores",
    "bulyan",
    "minimum_diameter_averaging",
    "nearest_neighbour_mixing",
    "bucketing",
    "static_clipping",
    "adaptive_robust_clipping",
    "pairwise_sq_distances",
    "radon_condition",
]


def radon_condition(n, d, **_):
    r"""Why no Radon point exists for ``n`` models in :math:`\mathbb{R}^d` (None if one does).

    The registry's condition of ``"radon"``: a Radon point needs :math:`n \ge d + 2`
    (:doc:`/concepts/radon`).

    Parameters
    ----------
    n : int
        Number of models.
    d : int
        Their dimension.
    **_
        The aggregator's options (none changes the condition).

    Returns
    -------
    str or None
        The reason, in the words of the error :func:`aggregate` raises; None when
        :math:`n \ge d + 2`.

    Examples
    --------
    >>> radon_condition(4, 2) is None
    True
    >>> radon_condition(3, 2)
    '3 models are fewer than the Radon number r = d + 2 = 4 (a Radon point needs at least r = d + 2 models)'
    """
    if n >= d + 2:
        return None
    return f"{n} models are fewer than the Radon number r = d + 2 = {d + 2} (a Radon point needs at least r = d + 2 models)"


def _radon(models, weights=None, **options):
    return iterated_radon_point(models, **options)


# the registry routes options by the names a rule declares (accepts_option("radon", "rng")):
# declare iterated_radon_point's keywords as _radon's own, so the two cannot drift apart
_radon.__signature__ = inspect.Signature(
    [inspect.Parameter("models", inspect.Parameter.POSITIONAL_OR_KEYWORD),
     inspect.Parameter("weights", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None)]
    + [p for p in inspect.signature(iterated_radon_point).parameters.values() if p.kind is p.KEYWORD_ONLY]
)


def _register_builtins():
    reg, pre = register_aggregator, register_preaggregator
    reg("radon", _radon, weighted=False, condition=radon_condition)
    reg("mean", weighted_mean, weighted=True, propagates_nonfinite=True)
    reg("median", coordinate_median, weighted=True)
    reg("trimmed_mean", trimmed_mean, weighted=True, condition=_trimmed_mean_condition)
    reg("meamed", meamed, weighted=False, condition=meamed_condition)
    reg("geometric_median", geometric_median, weighted=True, condition=geometric_median_options)
    reg("centered_clipping", centered_clipping, weighted=True, condition=centered_clipping_options)
    reg("krum", krum, weighted=False, condition=krum_condition)
    reg("multi_krum", multi_krum, weighted=True, condition=krum_condition)
    reg("bulyan", bulyan, weighted=False, condition=bulyan_condition)
    reg("mda", minimum_diameter_averaging, weighted=True, condition=mda_condition)
    pre("nnm", nearest_neighbour_mixing, condition=nnm_condition)
    pre("bucketing", bucketing, n_out=bucketing_n_out)
    pre("static_clipping", static_clipping)
    pre("arc", adaptive_robust_clipping, condition=arc_condition)


def _trimmed_mean_condition(n, d, f=None, beta=None, **_):
    """trimmed_mean with f= needs n > 2f models (with beta it always runs); beta validated."""
    if f is not None and beta is not None:
        raise TypeError("trimmed_mean takes beta= (a fraction) or f= (a count per end), not both")
    if beta is not None:
        check_fraction(beta, "beta", low=0.0, high=0.5)
    if f is None:
        return None
    from ._common import check_f

    f = check_f(f)
    return None if n > 2 * f else f"trimmed_mean needs n >= 2f + 1 = {2 * f + 1} models for f = {f}, got {n}"


_register_builtins()
