"""Exact, compiled paths of linear models: :mod:`radonml.lmc.linear` (this import path is kept
for compatibility; the same objects)."""

from .lmc.barriers import ExactBarrier, PathResult
from .lmc.linear import LOSSES, exact_barrier, path_metrics, squared_loss_coefficients

__all__ = ["path_metrics", "exact_barrier", "squared_loss_coefficients", "LOSSES", "PathResult", "ExactBarrier"]
