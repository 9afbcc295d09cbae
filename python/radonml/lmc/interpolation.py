r"""The interpolation path :math:`\theta(\alpha) = (1-\alpha)\theta_A + \alpha\theta_B` of two torch
models, whole or on some layers, as a model and as metrics along the path (SPEC §5).

Models are evaluated with :func:`torch.func.functional_call` on interpolated parameter
dictionaries, never by copying modules per point, in eval mode (dropout off, normalization
layers on their running statistics, which are interpolated with their layer). Non-floating
buffers (e.g. BatchNorm's ``num_batches_tracked``) come from the base model.
"""

from __future__ import annotations

import copy
import numbers

import numpy as np
from torch import nn

from ._common import check_alphas, check_base
from ._points import ModelPair, evaluate_points, interpolation_points, resolve_layers
from .barriers import PathResult

__all__ = ["interpolate", "evaluate_path"]


def interpolate(model_a: nn.Module, model_b: nn.Module, alpha: float, *, layers=None, base: str = "a",
                groups=None) -> nn.Module:
    r"""A new model with parameters :math:`(1-\alpha)\theta_A + \alpha\theta_B` on ``layers``.

    The other layers, and all non-floating buffers, come from ``base``. The inputs are not
    modified. :math:`\alpha = 0` and :math:`\alpha = 1` reproduce the endpoints exactly.

    Parameters
    ----------
    model_a, model_b : torch.nn.Module
        Same architecture.
    alpha : float
    layers : str, int or list of them, optional
        Layer names (keys of :func:`~radonml.lmc.layer_groups`) or indices; None: the whole
        model (every floating-point tensor, also those custom ``groups`` leave out).
    base : {"a", "b"}, default "a"
    groups : mapping, optional
        Custom grouping (see :func:`~radonml.lmc.layer_groups`); it need not cover every tensor.

    Returns
    -------
    torch.nn.Module
        A deep copy of the base model with the interpolated state loaded.

    Raises
    ------
    TypeError
        ``alpha`` not a finite real number; a model not a :class:`torch.nn.Module`.
    ValueError
        Different architectures; unknown layers or base.

    Examples
    --------
    >>> a, b = nn.Linear(1, 1), nn.Linear(1, 1)
    >>> _ = a.weight.data.fill_(0.0), b.weight.data.fill_(4.0)
    >>> interpolate(a, b, 0.25).weight.item()
    1.0
    """
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not np.isfinite(alpha):
        raise TypeError(f"alpha must be a finite real number, got {alpha!r}")
    pair = ModelPair(model_a, model_b, groups)
    base = check_base(base)
    keys = pair.keys_of(None if layers is None else resolve_layers(layers, pair.groups))
    pts = interpolation_points(pair, np.array([float(alpha)]), keys, base)
    state = dict(pts.shared)
    state.update({k: v[0] for k, v in pts.make(0, 1).items()})
    out = copy.deepcopy(model_a if base == "a" else model_b)
    out.load_state_dict(state)
    return out


def evaluate_path(model_a: nn.Module, model_b: nn.Module, evaluate, *, alphas=None, layers=None, base: str = "a",
                  groups=None, chunk_size=None) -> PathResult:
    r"""Metrics along :math:`\theta(\alpha) = (1-\alpha)\theta_A + \alpha\theta_B` (on ``layers``).

    Parameters
    ----------
    model_a, model_b : torch.nn.Module
    evaluate : callable(model) -> dict of float
        Gets a callable that behaves like the model's forward (a
        :func:`torch.func.functional_call` on the interpolated parameters). Use
        :func:`~radonml.lmc.classification_evaluator` to batch all alphas per forward pass.
    alphas : (m,) array-like or int, default 11 points of [0, 1]
    layers, base, groups
        As in :func:`interpolate`.
    chunk_size : int, optional
        Points per vmapped pass (default: as many as fit 2^25 stacked parameter entries).

    Returns
    -------
    PathResult
        ``alphas`` and one array per metric; ``method`` is ``"batched"`` (``nn.Sequential`` of
        ``nn.Linear`` and element-wise activations: one batched matrix product per layer),
        ``"vmap"`` (other models) or ``"loop"`` (one pass per point).

    Raises
    ------
    TypeError
        ``evaluate`` not callable or not returning a dict of numbers; a model not a module.
    ValueError
        Different architectures; unknown layers, groups or base; invalid ``alphas``.

    Examples
    --------
    >>> a, b = nn.Linear(1, 1), nn.Linear(1, 1)
    >>> _ = a.weight.data.fill_(0.0), b.weight.data.fill_(2.0), a.bias.data.zero_(), b.bias.data.zero_()
    >>> weight = lambda model: {"w": float(model.state_dict()["weight"])}
    >>> evaluate_path(a, b, weight, alphas=3).metrics["w"].tolist()
    [0.0, 1.0, 2.0]
    """
    pair = ModelPair(model_a, model_b, groups)
    base = check_base(base)
    al = check_alphas(alphas)
    lay = None if layers is None else resolve_layers(layers, pair.groups)
    pts = interpolation_points(pair, al, pair.keys_of(lay), base)
    metrics, method = evaluate_points(pair, evaluate, pts, chunk_size)
    return PathResult(alphas=al, metrics=metrics, layers=lay, base=base, method=method)
