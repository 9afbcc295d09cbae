r"""(Layer-wise) linear mode connectivity (:doc:`/concepts/lmc`).

Two models :math:`\theta_A, \theta_B` of one architecture; the path
:math:`\theta(\alpha) = (1-\alpha)\theta_A + \alpha\theta_B`, possibly only for some layers
with the rest from a *base* model, and the barriers along it. One module per concept:

- :mod:`~radonml.lmc.barriers`: :func:`barrier` (the "linear", "mean" and "max" barriers),
  :class:`PathResult`, :class:`ExactBarrier`, and barriers found to a given resolution instead
  of read off a grid (:func:`search_barrier`, :func:`find_barrier`, :class:`BarrierSearch`);
- :mod:`~radonml.lmc.groups`: a model's layers as groups of state-dict tensors
  (:func:`layer_groups`);
- :mod:`~radonml.lmc.interpolation`: :func:`interpolate` (a model on the path) and
  :func:`evaluate_path` (metrics along it);
- :mod:`~radonml.lmc.evaluators`: :func:`classification_evaluator`, which evaluates all points
  of a path in one batched forward pass per data batch (:func:`torch.func.vmap`, or one
  batched matrix product per layer for ``nn.Sequential`` MLPs);
- :mod:`~radonml.lmc.layerwise`: :func:`layerwise_barriers` and :func:`cumulative_barriers`,
  measured against the full endpoint models;
- :mod:`~radonml.lmc.robustness`: :func:`perturbation_robustness` (the averaging direction vs.
  random directions, per layer);
- :mod:`~radonml.lmc.subspaces`: :func:`subspace_perturbations` (the training subspace and its
  complement);
- :mod:`~radonml.lmc.permutations`: the permutation symmetries of hidden units
  (:class:`PermutationSpec`, derived by :func:`permutation_spec`);
- :mod:`~radonml.lmc.alignment`: :func:`weight_matching` and :func:`activation_matching`
  (model B's hidden units permuted to match A's: :class:`AlignmentResult`);
- :mod:`~radonml.lmc.batchnorm`: :func:`reestimate_bn` (BatchNorm statistics re-estimated, as
  every path function does at each point through ``bn_data=``);
- :mod:`~radonml.lmc.renormalization`: :func:`repair` (REPAIR of interpolated networks without
  BatchNorm);
- :mod:`~radonml.lmc.training`: :func:`train_pair` (two SGD runs from one initialization);
- :mod:`~radonml.lmc.loading`: :func:`load_pair` (your own checkpoints and architecture),
  :func:`load_data`, :func:`make_evaluator` (classification or regression);
- :mod:`~radonml.lmc.analysis`: :func:`analyze_pair` (every study at once, what ``radonml lmc``
  runs) and :class:`PairAnalysis`;
- :mod:`~radonml.lmc.findings`: :func:`paper_findings` (the paper's four findings, measured,
  each with "holds" or "does not hold");
- :mod:`~radonml.lmc.linear`: exact, compiled paths of linear models (``path_metrics``);
- :mod:`~radonml.lmc.deep_linear`: exact paths of deep linear networks as polynomials in
  :math:`\alpha` (``path_loss``, ``exact_barrier``).

The torch studies are imported on first use: ``import radonml.lmc`` (and
:mod:`~radonml.lmc.barriers`, :mod:`~radonml.lmc.findings`, :mod:`~radonml.lmc.linear`,
:mod:`~radonml.lmc.deep_linear`) need only numpy and the compiled core.

Every study takes ``align=`` (``"weight"``, ``"activation"`` or an :class:`AlignmentResult`)
to align B to A first, and ``bn_data=`` for the data BatchNorm statistics are re-estimated on
at every point (by default the evaluator's inputs).

References
----------
S. K. Ainsworth, J. Hayase, S. Srinivasa, "Git Re-Basin: Merging models modulo permutation
symmetries", ICLR 2023 (weight and activation matching).
K. Jordan, H. Sedghi, O. Saukh, R. Entezari, B. Neyshabur, "REPAIR: REnormalizing Permuted
Activations for Interpolation Repair", ICLR 2023.
L. Adilova, M. Andriushchenko, M. Kamp, A. Fischer, M. Jaggi, "Layer-wise linear mode
connectivity", ICLR 2024.
R. Entezari, H. Sedghi, O. Saukh, B. Neyshabur, "The role of permutation invariance in linear
mode connectivity of neural networks", ICLR 2022 (the "linear" barrier).
J. Frankle, G. K. Dziugaite, D. Roy, M. Carbin, "Linear mode connectivity and the lottery
ticket hypothesis", ICML 2020 (the "mean" barrier).
"""

from __future__ import annotations

from importlib import import_module as _import_module
from typing import TYPE_CHECKING

from .barriers import BARRIER_KINDS, DEFAULT_RESOLUTION, BarrierSearch, ExactBarrier, PathResult, barrier, find_barrier, search_barrier
from .findings import Finding, Findings, paper_findings

if TYPE_CHECKING:  # the lazily imported names, for type checkers and IDEs
    from .alignment import AlignmentResult, activation_matching, weight_matching
    from .batchnorm import reestimate_bn
    from .analysis import PairAnalysis, analyze_pair
    from .loading import load_checkpoint, load_data, load_pair, make_evaluator, RegressionEvaluator, regression_evaluator
    from .evaluators import ClassificationEvaluator, classification_evaluator
    from .groups import ROOT, layer_groups
    from .interpolation import evaluate_path, interpolate
    from .layerwise import CumulativeResult, LayerwiseResult, cumulative_barriers, layerwise_barriers
    from .permutations import PermutationSpec, check_permutation_spec, permutation_spec, permute_state
    from .renormalization import repair
    from .robustness import RobustnessResult, perturbation_robustness
    from .subspaces import DEFAULT_SCALES, SubspaceResult, subspace_perturbations
    from .training import TrainedPair, train_pair

__all__ = [
    "layer_groups",
    "interpolate",
    "evaluate_path",
    "classification_evaluator",
    "ClassificationEvaluator",
    "barrier",
    "search_barrier",
    "find_barrier",
    "layerwise_barriers",
    "cumulative_barriers",
    "perturbation_robustness",
    "subspace_perturbations",
    "train_pair",
    "weight_matching",
    "activation_matching",
    "permutation_spec",
    "check_permutation_spec",
    "permute_state",
    "reestimate_bn",
    "repair",
    "load_pair",
    "load_checkpoint",
    "load_data",
    "make_evaluator",
    "regression_evaluator",
    "RegressionEvaluator",
    "analyze_pair",
    "paper_findings",
    "PathResult",
    "ExactBarrier",
    "BarrierSearch",
    "LayerwiseResult",
    "CumulativeResult",
    "RobustnessResult",
    "SubspaceResult",
    "TrainedPair",
    "AlignmentResult",
    "PermutationSpec",
    "PairAnalysis",
    "Finding",
    "Findings",
    "BARRIER_KINDS",
    "DEFAULT_RESOLUTION",
    "DEFAULT_SCALES",
    "ROOT",
]

# name -> submodule that defines it (these need torch: imported on first access)
_LAZY_NAMES = {
    "ROOT": "groups",
    "layer_groups": "groups",
    "interpolate": "interpolation",
    "evaluate_path": "interpolation",
    "ClassificationEvaluator": "evaluators",
    "classification_evaluator": "evaluators",
    "LayerwiseResult": "layerwise",
    "layerwise_barriers": "layerwise",
    "CumulativeResult": "layerwise",
    "cumulative_barriers": "layerwise",
    "RobustnessResult": "robustness",
    "perturbation_robustness": "robustness",
    "SubspaceResult": "subspaces",
    "DEFAULT_SCALES": "subspaces",
    "subspace_perturbations": "subspaces",
    "TrainedPair": "training",
    "train_pair": "training",
    "AlignmentResult": "alignment",
    "weight_matching": "alignment",
    "activation_matching": "alignment",
    "PermutationSpec": "permutations",
    "permutation_spec": "permutations",
    "check_permutation_spec": "permutations",
    "permute_state": "permutations",
    "reestimate_bn": "batchnorm",
    "repair": "renormalization",
    "load_pair": "loading",
    "load_checkpoint": "loading",
    "load_data": "loading",
    "make_evaluator": "loading",
    "regression_evaluator": "loading",
    "RegressionEvaluator": "loading",
    "PairAnalysis": "analysis",
    "analyze_pair": "analysis",
}
_SUBMODULES = ("barriers", "groups", "interpolation", "evaluators", "layerwise", "robustness", "subspaces",
               "training", "loading", "analysis", "findings", "linear", "deep_linear", "permutations", "alignment",
               "batchnorm", "renormalization")


def __getattr__(name):
    if name in _LAZY_NAMES:
        value = getattr(_import_module(f"{__name__}.{_LAZY_NAMES[name]}"), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return _import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY_NAMES) | set(_SUBMODULES))
