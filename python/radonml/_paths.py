"""Transitional (private): :mod:`radonml.plot` still imports the barrier helpers from here.

They live in :mod:`radonml.lmc._common`; once ``plot`` imports ``pair_of_numbers``,
``all_barriers`` and ``barrier_metric`` from there, delete this module.
"""

from .lmc._common import all_barriers, barrier_metric
from .lmc._common import pair_of_numbers as _pair_of_numbers  # the name plot/_lmc.py imports

__all__ = ["all_barriers", "barrier_metric"]
