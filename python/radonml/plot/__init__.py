"""matplotlib figures for radonml's analyses; every figure function is public here.

Import is cheap: matplotlib is loaded when a figure is made. The figures of one analysis
live together in a private module (``_compare``, ``_federated``, ``_lmc``, ``_robust``); use them from
:mod:`radonml.plot`:

- ``radonml compare``: :func:`plot_compare_regimes` (one panel per regime: speed-up,
  robustness, no speed-up), :func:`plot_compare` (training time against test AUC per method);
- ``radonml federated``: :func:`plot_claims` (one panel per claim of the essay),
  :func:`plot_accuracy_vs_communication` (Kamp et al. 2018's plot), :func:`plot_federated`
  (two panels), :func:`plot_accuracy_vs_bytes`, :func:`plot_divergence`;
- (layer-wise) linear mode connectivity: :func:`plot_path`, :func:`plot_layerwise_barriers`,
  :func:`plot_cumulative_barriers`, :func:`plot_robustness`, :func:`plot_subspace`,
  :func:`plot_layer_flatness` (each layer's relative flatness beside its single-layer barriers);
- ``radonml robust``: :func:`plot_robust` (heat maps of every aggregator's accuracy under its
  worst attack, per f), :func:`plot_worst_case` (one of them).
"""

from ._compare import plot_compare, plot_compare_regimes
from ._federated import (
    plot_accuracy_vs_bytes,
    plot_accuracy_vs_communication,
    plot_claims,
    plot_divergence,
    plot_federated,
)
from ._lmc import (
    plot_cumulative_barriers,
    plot_layer_flatness,
    plot_layerwise_barriers,
    plot_path,
    plot_robustness,
    plot_subspace,
)
from ._robust import plot_robust, plot_worst_case

__all__ = [
    "plot_compare",
    "plot_compare_regimes",
    "plot_federated",
    "plot_accuracy_vs_bytes",
    "plot_divergence",
    "plot_claims",
    "plot_accuracy_vs_communication",
    "plot_path",
    "plot_layerwise_barriers",
    "plot_cumulative_barriers",
    "plot_robustness",
    "plot_subspace",
    "plot_layer_flatness",
    "plot_robust",
    "plot_worst_case",
]
