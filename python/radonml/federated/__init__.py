r"""Distributed learning protocols side by side, with honest communication accounting (McMahan et al., AISTATS 2017; Kamp et al., ECML PKDD 2018).

:math:`m` learners share one torch architecture; each holds its own data shard (iid, a
Dirichlet(:math:`\alpha`) label split, or class shards) and its own parameter vector
:math:`f_i \in \mathbb{R}^d`. All learners are trained together, vectorized with
:func:`torch.func.vmap`, so a simulation of ten small networks costs about as much as one.

One module per concept:

- :mod:`radonml.federated.splits`: :func:`split_iid`, :func:`split_dirichlet`,
  :func:`split_shards`, :func:`split_indices` (how the data are dealt to the learners);
- :mod:`radonml.federated.learners`: :class:`Learners`, :func:`make_learners`,
  :func:`make_mlp` (the learners' state and local SGD);
- :mod:`radonml.federated.protocols`: :class:`Protocol` and :class:`MiniBatchSGD`,
  :class:`PeriodicAveraging` (FedAvg), :class:`DynamicAveraging` (Kamp et al., 2018),
  :class:`LayerwiseAveraging` (Adilova et al., 2024), :class:`RadonOneShot` (the one-round
  Radon machine; Kamp et al., 2017), :class:`NoSync` (what is communicated, and when; every
  aggregation goes through :func:`radonml.aggregate`, so ``method=`` swaps the mean for the
  median, the geometric median or the Radon point);
- :mod:`radonml.federated.simulation`: :func:`simulate` and its :class:`History` (per round
  the test loss and accuracy, cumulative messages and bytes up/down counted from the tensors
  actually sent, synchronisations, balancings and the divergence
  :math:`\frac{1}{m}\sum_i \lVert f_i - \bar f\rVert^2`);
- :mod:`radonml.federated.claims`: the workshop essay's four claims measured, each a
  :class:`ClaimResult` with its verdict: :func:`minibatch_limit`,
  :func:`effective_learning_rate`, :func:`dynamic_vs_periodic` (with :func:`bytes_to_reach`),
  :func:`radon_one_round`.

Every name is importable from :mod:`radonml.federated` itself.

Examples
--------
>>> import torch
>>> from radonml.datasets import load_mnist1d
>>> ds = load_mnist1d(1000)
>>> learners = make_learners(make_mlp(40, 16, 10, seed=0), ds.X_train, ds.y_train, 4,
...                          X_test=ds.X_test, y_test=ds.y_test, seed=0)
>>> h = simulate(PeriodicAveraging(period=5), learners, rounds=3)
>>> h["syncs"].tolist(), h["messages"].tolist()
([1, 2, 3], [8, 16, 24])
"""

from .claims import (
    ClaimResult,
    bytes_to_reach,
    dynamic_vs_periodic,
    effective_learning_rate,
    minibatch_limit,
    radon_one_round,
)
from .learners import Learners, make_learners, make_mlp
from .protocols import (
    DynamicAveraging,
    LayerwiseAveraging,
    MiniBatchSGD,
    NoSync,
    PeriodicAveraging,
    Protocol,
    RadonOneShot,
)
from .simulation import History, simulate
from .splits import SPLITS, split_dirichlet, split_iid, split_indices, split_shards

__all__ = [
    "split_iid",
    "split_dirichlet",
    "split_shards",
    "split_indices",
    "SPLITS",
    "make_mlp",
    "Learners",
    "make_learners",
    "Protocol",
    "MiniBatchSGD",
    "PeriodicAveraging",
    "DynamicAveraging",
    "LayerwiseAveraging",
    "RadonOneShot",
    "NoSync",
    "History",
    "simulate",
    "ClaimResult",
    "minibatch_limit",
    "effective_learning_rate",
    "dynamic_vs_periodic",
    "radon_one_round",
    "bytes_to_reach",
]
