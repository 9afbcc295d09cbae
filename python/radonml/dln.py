"""Exact paths of deep linear networks: :mod:`radonml.lmc.deep_linear` (this import path is kept
for compatibility; the same objects)."""

from .lmc.barriers import ExactBarrier, PathResult
from .lmc.deep_linear import (
    DLNToy,
    PathPolynomial,
    exact_barrier,
    init_weights,
    loss,
    path_loss,
    path_polynomial,
    toy_example,
    train,
)

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
    "PathResult",
    "ExactBarrier",
]
