"""Inputs for :mod:`radonml.lmc`'s torch studies (private).

Where a model lives (:func:`device_dtype`), inputs moved there (:func:`cast_input`), and the
input batches of the data that statistics are estimated on (BatchNorm re-estimation, REPAIR,
activation matching: :func:`input_batches`). Names carry no underscore so that the package's
modules import them; they are not public API.
"""

from __future__ import annotations

from typing import Iterator, Optional

import numpy as np
import torch
from torch import nn

__all__ = ["device_dtype", "cast_input", "input_batches", "first_batch", "loop_beats_vmap", "DEFAULT_BATCH_SIZE"]

#: Rows per batch when statistics are estimated on in-memory tensors.
DEFAULT_BATCH_SIZE = 1024


def device_dtype(model):
    """(device, dtype) of ``model``'s first parameter (CPU and the default dtype without any)."""
    for p in (model.parameters() if hasattr(model, "parameters") else []):
        return p.device, p.dtype
    return torch.device("cpu"), torch.get_default_dtype()


def cast_input(x, device, dtype):
    """``x`` on ``device``; floating inputs also cast to ``dtype``."""
    x = x.to(device)
    if x.is_floating_point() and x.dtype != dtype:
        x = x.to(dtype)
    return x


_CONVOLUTIONS = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)


def loop_beats_vmap(model) -> bool:
    """Whether evaluating many parameter sets one at a time is faster than one
    :func:`torch.func.vmap` pass: for convolutions on the CPU, which vmap runs as one grouped
    convolution (measured 2.2x slower than a loop over 11 points on two small CNNs; 0.7x, i.e.
    faster, for an MLP: benchmarks/lmc.md section 5)."""
    dev, _ = device_dtype(model)
    return dev.type == "cpu" and any(isinstance(m, _CONVOLUTIONS) for m in model.modules())


def _is_array(x) -> bool:
    return isinstance(x, (torch.Tensor, np.ndarray))


def _as_input(x, name):
    if isinstance(x, (list, tuple)):
        if not x:
            raise TypeError(f"{name}: a batch must be a tensor or a tuple whose first element is the input, got an empty {type(x).__name__}")
        x = x[0]
    if not _is_array(x):
        raise TypeError(f"{name}: a batch must be a tensor or a tuple whose first element is the input tensor, "
                        f"got {type(x).__name__}")
    return torch.as_tensor(x)


def input_batches(data, name: str, device, dtype, *, batch_size: int = DEFAULT_BATCH_SIZE) -> Iterator[torch.Tensor]:
    """The input tensors of ``data``, batch by batch, on ``device`` (floating ones in ``dtype``).

    ``data`` is a tensor or array ``X`` (used in batches of ``batch_size`` rows), a tuple
    ``(X,)`` or ``(X, y)`` of them (``y`` is ignored), or a re-iterable of batches such as a
    :class:`torch.utils.data.DataLoader`, each batch a tensor or a tuple/list whose first
    element is the input (as :func:`torch.optim.swa_utils.update_bn` reads a loader). A
    one-shot iterator is refused: statistics are estimated in several passes.
    """
    if _is_array(data):
        X = torch.as_tensor(data)
        if X.ndim == 0 or X.shape[0] == 0:
            raise ValueError(f"{name} must hold at least one example, got a tensor of shape {tuple(X.shape)}")
        for i in range(0, X.shape[0], batch_size):
            yield cast_input(X[i:i + batch_size], device, dtype)
        return
    if isinstance(data, tuple) and 1 <= len(data) <= 2 and all(_is_array(v) for v in data):
        yield from input_batches(data[0], name, device, dtype, batch_size=batch_size)
        return
    if isinstance(data, (str, bytes)) or not hasattr(data, "__iter__"):
        raise TypeError(f"{name} must be a tensor X, a tuple (X,) or (X, y), or a DataLoader (an iterable of batches), "
                        f"got {type(data).__name__}")
    if iter(data) is data:
        raise TypeError(f"{name} must be re-iterable (a DataLoader, a list of batches or tensors): statistics are "
                        f"estimated in several passes, and a one-shot {type(data).__name__} would be empty after the first")
    n = 0
    for batch in data:
        x = _as_input(batch, name)
        if x.ndim == 0 or x.shape[0] == 0:
            continue
        n += 1
        yield cast_input(x, device, dtype)
    if n == 0:
        raise ValueError(f"{name} yielded no examples")


def first_batch(data, name: str, device, dtype, *, batch_size: int = DEFAULT_BATCH_SIZE) -> Optional[torch.Tensor]:
    """The first input batch of ``data`` (see :func:`input_batches`)."""
    for x in input_batches(data, name, device, dtype, batch_size=batch_size):
        return x
    return None
