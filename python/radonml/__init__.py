"""radonml: Radon points and the Radon machine, averaging-based distributed learning, and
(layer-wise) linear mode connectivity, on a compiled C++ core.

Public names are re-exported here; submodules are named after what users do:
:mod:`radonml.radon`, :mod:`radonml.aggregators`, :mod:`radonml.attacks`, :mod:`radonml.flatness`, :mod:`radonml.sklearn`,
:mod:`radonml.torch`, :mod:`radonml.lmc`, :mod:`radonml.linear`, :mod:`radonml.dln`,
:mod:`radonml.federated`, :mod:`radonml.flower`, :mod:`radonml.datasets`, :mod:`radonml.plot`.
Modules that need optional dependencies (torch, flwr) are imported on first use.
"""

from importlib import import_module as _import_module

from .aggregators import (
    aggregate,
    available_aggregators,
    available_preaggregators,
    register_aggregator,
    register_preaggregator,
    supports_weights,
)
from .exceptions import (
    ConvergenceWarning,
    EndpointMismatchWarning,
    FallbackWarning,
    NoRadonPointError,
    RadonmlWarning,
    TooFewModelsError,
)
from .radon import (
    RadonPartition,
    RadonTree,
    iterated_radon_point,
    radon_number,
    radon_point,
    radon_points,
    radon_tree,
    tree_height,
    tukey_depth,
)

# the package version, read by the build (pyproject.toml: metadata.version.provider)
__version__ = "0.2.0.dev0"

__all__ = [
    "radon_number",
    "radon_point",
    "radon_points",
    "iterated_radon_point",
    "tree_height",
    "radon_tree",
    "RadonTree",
    "tukey_depth",
    "RadonPartition",
    "aggregate",
    "register_aggregator",
    "available_aggregators",
    "supports_weights",
    "register_preaggregator",
    "available_preaggregators",
    "RadonmlWarning",
    "ConvergenceWarning",
    "EndpointMismatchWarning",
    "FallbackWarning",
    "NoRadonPointError",
    "TooFewModelsError",
]

_LAZY = {"sklearn", "torch", "lmc", "linear", "dln", "federated", "flower", "datasets", "plot", "cli", "attacks", "flatness"}


def __getattr__(name):
    if name in _LAZY:
        return _import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
