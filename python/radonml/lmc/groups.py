"""Layers of a torch model as groups of its ``state_dict`` tensors (:doc:`/concepts/lmc`).

A layer is one module's own tensors: weight, bias and normalization statistics move together.
Every function of :mod:`radonml.lmc` that takes ``layers`` names them by these groups and
accepts a custom grouping as ``groups``.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import List

import torch
from torch import nn

__all__ = ["ROOT", "layer_groups"]

#: Group name of the tensors a model owns itself (not through a submodule).
ROOT = "(root)"


def layer_groups(model: nn.Module, example_input=None) -> "OrderedDict[str, List[str]]":
    """Parameters and buffers of ``model`` grouped by the module that owns them.

    A layer (:doc:`/concepts/lmc`) is one module's own tensors: weight, bias and normalization statistics
    move together. Groups are ordered from input to output: by the order in which the modules
    run on ``example_input`` when it is given (forward hooks), otherwise by registration order,
    which is the execution order for :class:`torch.nn.Sequential` and most models.

    Parameters
    ----------
    model : torch.nn.Module
    example_input : Tensor or tuple of Tensors, optional
        One input to trace the execution order with (run under ``torch.no_grad`` in eval mode).

    Returns
    -------
    OrderedDict of str to list of str
        Module name (``"(root)"`` for the model's own tensors) to its ``state_dict`` keys.
        Any function here accepts such a mapping (or a list of key lists) as ``groups``.

    Raises
    ------
    TypeError
        ``model`` is not a :class:`torch.nn.Module`.

    Examples
    --------
    >>> m = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    >>> dict(layer_groups(m))
    {'0': ['0.weight', '0.bias'], '2': ['2.weight', '2.bias']}
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    groups = _groups_in_registration_order(model)
    if example_input is not None:
        groups = _in_execution_order(model, groups, example_input)
    return groups


def _groups_in_registration_order(model) -> "OrderedDict[str, List[str]]":
    keys = set(model.state_dict().keys())
    groups: "OrderedDict[str, List[str]]" = OrderedDict()
    for name, mod in model.named_modules():
        own = [n for n, _ in mod.named_parameters(recurse=False)] + [n for n, _ in mod.named_buffers(recurse=False)]
        full = [f"{name}.{n}" if name else n for n in own]
        full = [k for k in full if k in keys]
        if full:
            groups[name or ROOT] = full
    return groups


def _in_execution_order(model, groups, example_input) -> "OrderedDict[str, List[str]]":
    """``groups`` reordered by when their modules first run on ``example_input``; modules that
    do not run keep their registration order, after the others."""
    order: List[str] = []
    handles = []
    for name, mod in model.named_modules():
        key = name or ROOT
        if key in groups:
            handles.append(mod.register_forward_pre_hook(lambda m, inp, key=key: order.append(key)))
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            args = example_input if isinstance(example_input, tuple) else (example_input,)
            model(*args)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    seen = list(OrderedDict.fromkeys(order))
    rest = [g for g in groups if g not in seen]
    return OrderedDict((g, groups[g]) for g in seen + rest)
