r"""The interpolation path :math:`\theta(\alpha) = (1-\alpha)\theta_A + \alpha\theta_B` of two torch
models, whole or on some layers, as a model and as metrics along the path (:doc:`/concepts/lmc`).

Models are evaluated with :func:`torch.func.functional_call` on interpolated parameter
dictionaries, never by copying modules per point, in eval mode (dropout off, normalization
layers on their running statistics). BatchNorm running statistics are re-estimated at every
point (``bn_data``, :mod:`radonml.lmc.batchnorm`): those interpolated with their layer are not
the interpolated network's and give artefact barriers. Model B can be aligned to A first
(``align``, :mod:`radonml.lmc.alignment`), and a whole-model path REPAIRed (``repair``,
:mod:`radonml.lmc.renormalization`). Non-floating buffers (e.g. BatchNorm's ``num_batches_tracked``)
come from the base model, unless re-estimated.
"""

from __future__ import annotations

import copy
import numbers

import numpy as np
import torch
from torch import nn

from ._common import check_alphas, check_base
from ._points import ModelPair, evaluate_points, interpolation_points, renormalize_points, resolve_layers
from .barriers import PathResult

__all__ = ["interpolate", "evaluate_path"]


def interpolate(model_a: nn.Module, model_b: nn.Module, alpha: float, *, layers=None, base: str = "a",
                groups=None, align=None, align_data=None, bn_data=None, repair: bool = False) -> nn.Module:
    r"""A new model with parameters :math:`(1-\alpha)\theta_A + \alpha\theta_B` on ``layers``.

    The other layers, and all non-floating buffers, come from ``base``. The inputs are not
    modified. :math:`\alpha = 0` and :math:`\alpha = 1` reproduce the endpoints exactly
    (BatchNorm statistics aside: with BatchNorm layers they are re-estimated on ``bn_data``
    unless ``bn_data=False``).

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
    align : None, "weight", "activation" or AlignmentResult, default None
        Permute model B's hidden units to match A's first (:func:`~radonml.lmc.weight_matching`,
        :func:`~radonml.lmc.activation_matching`, or the permutations of a result already
        computed); B itself is not modified.
    align_data : tensor X, (X,) / (X, y) tensors, or a DataLoader, optional
        Inputs for ``align="activation"`` (with ``"weight"``: one batch checks that the
        permutation structure leaves B's function unchanged); default ``bn_data``.
    bn_data : None, False, tensor X, (X,) / (X, y) tensors, or a DataLoader, default None
        For models with BatchNorm: the inputs their running statistics are re-estimated on
        (:func:`~radonml.lmc.reestimate_bn`). None: a model with BatchNorm raises a ValueError
        asking for data; False: keep the interpolated statistics. Ignored without BatchNorm
        (unless ``repair``).
    repair : bool, default False
        Apply REPAIR (:func:`~radonml.lmc.repair`, for networks without BatchNorm) on
        ``bn_data``; whole-model interpolation only.

    Returns
    -------
    torch.nn.Module
        A deep copy of the base model with the interpolated state loaded.

    Raises
    ------
    TypeError
        ``alpha`` not a finite real number; a model not a :class:`torch.nn.Module`.
    ValueError
        Different architectures; unknown layers or base; a model with BatchNorm and no
        ``bn_data``; non-finite parameters; ``repair`` with ``layers``.

    Examples
    --------
    >>> a, b = nn.Linear(1, 1), nn.Linear(1, 1)
    >>> _ = a.weight.data.fill_(0.0), b.weight.data.fill_(4.0)
    >>> interpolate(a, b, 0.25).weight.item()
    1.0
    """
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not np.isfinite(alpha):
        raise TypeError(f"alpha must be a finite real number, got {alpha!r}")
    _check_repair_layers(repair, layers)
    pair = ModelPair(model_a, model_b, groups, align=align, align_data=align_data, bn_data=bn_data, repair=repair)
    base = check_base(base)
    keys = pair.keys_of(None if layers is None else resolve_layers(layers, pair.groups))
    al = np.array([float(alpha)])
    pts = interpolation_points(pair, al, keys, base)
    with torch.no_grad():
        batched, shared = renormalize_points(pair, pts.make(0, 1), pts.shared, 1, al, pts.describe)
    state = dict(shared)
    state.update({k: v[0] for k, v in batched.items()})
    out = copy.deepcopy(model_a if base == "a" else model_b)
    out.load_state_dict(state)
    return out


def _check_repair_layers(repair, layers):
    if repair is True and layers is not None:
        raise ValueError("repair=True applies to whole-model paths (layers=None): REPAIR interpolates the statistics "
                         "of the two endpoint networks")


def evaluate_path(model_a: nn.Module, model_b: nn.Module, evaluate, *, alphas=None, layers=None, base: str = "a",
                  groups=None, chunk_size=None, align=None, align_data=None, bn_data=None,
                  repair: bool = False) -> PathResult:
    r"""Metrics along :math:`\theta(\alpha) = (1-\alpha)\theta_A + \alpha\theta_B` (on ``layers``).

    Every point's BatchNorm statistics are re-estimated (``bn_data``; by default on the
    inputs of ``evaluate`` when it holds its data), as
    :func:`torch.optim.swa_utils.update_bn` would for each interpolated model, for all
    points of a chunk in one vmapped pass per batch. ``align="weight"`` measures the path
    after permuting B's hidden units to match A's; ``repair=True`` adds REPAIR (networks
    without BatchNorm).

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
    align : None, "weight", "activation" or AlignmentResult, default None
        Permute model B's hidden units to match A's first (:func:`~radonml.lmc.weight_matching`,
        :func:`~radonml.lmc.activation_matching`, or the permutations of a result already
        computed); B itself is not modified.
    align_data : tensor X, (X,) / (X, y) tensors, or a DataLoader, optional
        Inputs for ``align="activation"`` (with ``"weight"``: one batch checks that the
        permutation structure leaves B's function unchanged); default ``bn_data``, else the
        data of ``evaluate`` when it holds some (:func:`~radonml.lmc.classification_evaluator`).
    bn_data : None, False, tensor X, (X,) / (X, y) tensors, or a DataLoader, default None
        For models with BatchNorm: the inputs their running statistics are re-estimated on at
        every point (each batch counts equally, as in ``update_bn``). None: the inputs of
        ``evaluate`` when it holds its data, in its batches; for another ``evaluate`` a model
        with BatchNorm raises a ValueError asking for data. False: keep the interpolated
        statistics (their barriers are artefacts). Ignored without BatchNorm (unless
        ``repair``).
    repair : bool, default False
        REPAIR every point (Jordan et al., 2023; :func:`~radonml.lmc.repair`): the hidden
        units' statistics on ``bn_data`` (default as above) set to the interpolation of the
        endpoints'. Networks without BatchNorm, whole-model paths.

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
        Different architectures; unknown layers, groups or base; invalid ``alphas``;
        non-finite parameters; a metric that is NaN or infinite at a point (the message
        names it); a model with BatchNorm and no data to re-estimate its statistics on; a
        permutation structure that cannot be derived (the message names the module).

    Examples
    --------
    >>> a, b = nn.Linear(1, 1), nn.Linear(1, 1)
    >>> _ = a.weight.data.fill_(0.0), b.weight.data.fill_(2.0), a.bias.data.zero_(), b.bias.data.zero_()
    >>> weight = lambda model: {"w": float(model.state_dict()["weight"])}
    >>> evaluate_path(a, b, weight, alphas=3).metrics["w"].tolist()
    [0.0, 1.0, 2.0]
    """
    _check_repair_layers(repair, layers)
    pair = ModelPair(model_a, model_b, groups, evaluate=evaluate, align=align, align_data=align_data, bn_data=bn_data,
                     repair=repair)
    base = check_base(base)
    al = check_alphas(alphas)
    lay = None if layers is None else resolve_layers(layers, pair.groups)
    pts = interpolation_points(pair, al, pair.keys_of(lay), base, "the path")
    metrics, method = evaluate_points(pair, evaluate, pts, chunk_size)
    return PathResult(alphas=al, metrics=metrics, layers=lay, base=base, method=method)
