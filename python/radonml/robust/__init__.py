r"""Robust aggregation under attack, measured: the benchmark behind ``radonml robust``.

:func:`benchmark` runs a grid of aggregators (:mod:`radonml.aggregators`, Krum [1]_ and
pre-aggregator pipelines such as NNM [3]_ included) x attacks (:mod:`radonml.attacks`) x fractions of Byzantine models x data
heterogeneity (iid, Dirichlet label skew) on the built-in data sets (:mod:`radonml.datasets`),
in two settings:

- (a) :class:`OneShot`: one-shot aggregation of scikit-learn linear models, the Radon
  machine's setting [2]_ (:mod:`radonml.robust.oneshot`): :math:`n = r^h` base models fitted on
  disjoint parts, :math:`f` of them Byzantine, aggregated once;
- (b) :class:`Federated`: federated rounds in the simulator (:mod:`radonml.robust.federated`,
  :func:`radonml.federated.simulate` with ``attack=``), :math:`f` of :math:`m` learners
  Byzantine in every round.

It returns a :class:`RobustResult`: every cell, and the views people cite: each aggregator's
accuracy under its worst attack per :math:`f` (as ByzFL reports it [4]_), heat maps
(:func:`radonml.plot.plot_robust`), tables, JSON. :mod:`radonml.robust.capture` measures why
the Radon point fails under colluding attacks: two equal vectors form a Radon partition
(:func:`radon_capture`, :func:`tree_capture`).

Examples
--------
>>> from radonml.robust import tree_capture
>>> tree_capture(2, 21, 1)     # 2 identical Byzantine vectors among r = 21 models: captured
1.0

References
----------
.. [1] P. Blanchard, E. M. El Mhamdi, R. Guerraoui, J. Stainer, "Machine Learning with
   Adversaries: Byzantine Tolerant Gradient Descent", NeurIPS 2017.
.. [2] M. Kamp, M. Boley, O. Missura, T. Gärtner, "Effective Parallelisation for Machine
   Learning", NeurIPS 2017.
.. [3] Y. Allouah, S. Farhadkhani, R. Guerraoui, N. Gupta, R. Pinot, J. Stephan, "Fixing by
   Mixing: A Recipe for Optimal Byzantine ML under Heterogeneity", AISTATS 2023.
.. [4] M. González, R. Guerraoui, R. Pinot, G. Rizk, J. Stephan, F. Taïani, "ByzFL: Research
   Framework for Robust Federated Learning", arXiv:2505.24802, 2025.
"""

from ._common import (
    DEFAULT_AGGREGATOR_PARAMS,
    DEFAULT_AGGREGATORS,
    DEFAULT_ATTACK_PARAMS,
    DEFAULT_ATTACKS,
    DEFAULT_FRACTIONS,
    DEFAULT_HETEROGENEITY,
    Heterogeneity,
    byzantine_count,
    parse_heterogeneity,
)
from .capture import CaptureResult, radon_capture, tree_capture
from .federated import Federated
from .grid import IDENTICAL_ATTACKS, benchmark
from .oneshot import BaseModels, OneShot, aggregate_rows, dirichlet_parts, fit_base_models
from .result import RobustResult

__all__ = [
    "benchmark",
    "RobustResult",
    "OneShot",
    "Federated",
    "Heterogeneity",
    "parse_heterogeneity",
    "byzantine_count",
    "dirichlet_parts",
    "aggregate_rows",
    "fit_base_models",
    "BaseModels",
    "radon_capture",
    "tree_capture",
    "CaptureResult",
    "DEFAULT_AGGREGATORS",
    "DEFAULT_ATTACKS",
    "DEFAULT_ATTACK_PARAMS",
    "DEFAULT_AGGREGATOR_PARAMS",
    "DEFAULT_FRACTIONS",
    "DEFAULT_HETEROGENEITY",
    "IDENTICAL_ATTACKS",
]
