"""Hessian-vector products of an empirical loss, and the data it is taken over (private to
:mod:`radonml.flatness`; its names are public within the package).

The empirical loss of a model on n examples given in batches :math:`B_1, \\dots, B_K` is

.. math:: L(\\theta) = \\frac1n \\sum_i \\ell(f_\\theta(x_i), y_i)
          = \\sum_b \\frac{n_b}{n}\\, \\bar\\ell_b(\\theta),

with :math:`\\bar\\ell_b` the batch mean that ``loss_fn`` returns, so its Hessian is the
:math:`n_b/n`-weighted sum of the batch Hessians. Every routine here accumulates
:math:`n_b \\cdot (\\dots)` over batches and divides by the total n at the end: the data set is
never held in memory at once, and batches of unequal size are weighted correctly.
"""

from __future__ import annotations

from typing import Callable, Dict, Iterator, Optional, Sequence, Tuple

import torch
from torch import nn
from torch.func import functional_call, grad, jvp, vjp, vmap

__all__ = ["Objective", "batches", "check_data", "check_loss_fn", "resolve_parameter", "device_dtype", "HVP_MODES"]

# How a batch of Hessian-vector products was computed, fastest first:
#   "vmap(jvp(grad))": forward-over-reverse, vectorized over the probe vectors;
#   "loop(jvp(grad))": forward-over-reverse, one probe at a time (models vmap cannot batch);
#   "autograd": reverse-over-reverse with torch.autograd, the gradient graph built once per
#               batch and reused for every probe (models torch.func cannot transform at all).
HVP_MODES = ("vmap(jvp(grad))", "loop(jvp(grad))", "autograd")


def device_dtype(model: nn.Module) -> Tuple[torch.device, torch.dtype]:
    for p in model.parameters():
        return p.device, p.dtype
    return torch.device("cpu"), torch.get_default_dtype()


def _is_array(a) -> bool:
    return isinstance(a, torch.Tensor) or (hasattr(a, "shape") and hasattr(a, "dtype") and not isinstance(a, (tuple, list)))


def _describe(x) -> str:
    if _is_array(x):
        return f"{type(x).__name__} of shape {tuple(x.shape)}"
    return type(x).__name__


def check_data(data, *, reiterable: bool = False):
    """``data`` validated: an ``(X, y)`` pair of tensors/arrays (returned as tensors) or an
    iterable of ``(x, y)`` batches (a DataLoader; returned as is).

    ``reiterable`` demands data that can be iterated more than once (iterative eigensolvers
    pass over it many times): a one-shot iterator or generator is refused.
    """
    if isinstance(data, (tuple, list)) and len(data) == 2 and _is_array(data[0]) and _is_array(data[1]):
        X, y = torch.as_tensor(data[0]), torch.as_tensor(data[1])
        if X.ndim == 0 or y.ndim == 0:
            raise ValueError(f"data must be (X, y) with a leading example axis, got X {_describe(data[0])} and y {_describe(data[1])}")
        if X.shape[0] != y.shape[0]:
            raise ValueError(f"data must be (X, y) with one target per row, got {X.shape[0]} rows and {y.shape[0]} targets")
        if X.shape[0] == 0:
            raise ValueError("data must not be empty, got 0 examples")
        return (X, y)
    if isinstance(data, (str, bytes)) or not hasattr(data, "__iter__"):
        raise TypeError(f"data must be a pair (X, y) of tensors/arrays or an iterable of (x, y) batches (e.g. a DataLoader), "
                        f"got {_describe(data)}")
    if reiterable and iter(data) is data:
        raise TypeError("data must be re-iterable (a DataLoader, a list of batches or an (X, y) pair): this computation "
                        f"passes over the data several times, got a one-shot {type(data).__name__}")
    return data


def _cast(t: torch.Tensor, device, dtype) -> torch.Tensor:
    t = torch.as_tensor(t).to(device)
    if t.is_floating_point() and t.dtype != dtype:
        t = t.to(dtype)
    return t


def batches(data, batch_size: int, device, dtype) -> Iterator[Tuple[torch.Tensor, torch.Tensor, int]]:
    """``(x, y, n_b)`` per batch of checked ``data``; floating tensors cast to the model's dtype."""
    if isinstance(data, tuple):
        X, y = data
        for i in range(0, X.shape[0], batch_size):
            yb = y[i:i + batch_size]
            yield _cast(X[i:i + batch_size], device, dtype), _cast(yb, device, dtype), int(yb.shape[0])
        return
    for k, batch in enumerate(data):
        if not isinstance(batch, (tuple, list)) or len(batch) < 2:
            raise ValueError(f"data: batch {k} must be an (x, y) pair, got {_describe(batch)}")
        x, y = torch.as_tensor(batch[0]), torch.as_tensor(batch[1])
        if y.ndim == 0 or x.ndim == 0 or x.shape[0] != y.shape[0]:
            raise ValueError(f"data: batch {k} must hold x and y with one leading example axis of equal length, "
                             f"got x {_describe(x)} and y {_describe(y)}")
        if y.shape[0] == 0:
            continue
        yield _cast(x, device, dtype), _cast(y, device, dtype), int(y.shape[0])


def check_loss_fn(loss_fn) -> Callable:
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be callable(output, target) -> scalar batch mean, got {_describe(loss_fn)}")
    return loss_fn


def resolve_parameter(model: nn.Module, layer, *, need_matrix: bool = False, what: str = "layer") -> str:
    """The parameter name ``layer`` refers to: a parameter name (``"2.weight"``) or a module
    name whose ``weight`` is meant (``"2"``). ``need_matrix``: the parameter must be 2-D."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(layer, str):
        raise TypeError(f"{what} must be a parameter name (str, e.g. '2.weight'), got {type(layer).__name__}")
    params = dict(model.named_parameters())
    name = layer if layer in params else (f"{layer}.weight" if f"{layer}.weight" in params else None)
    if name is None:
        mats = [n for n, p in params.items() if p.ndim == 2]
        raise ValueError(f"{what} {layer!r} is not a parameter of the model; its 2-D weights are {mats}"
                         if need_matrix else f"{what} {layer!r} is not a parameter of the model; its parameters are {list(params)}")
    if need_matrix and params[name].ndim != 2:
        raise ValueError(f"{what} {name!r} must be a 2-D weight matrix (out_features, in_features), "
                         f"got a parameter of shape {tuple(params[name].shape)}")
    return name


class Objective:
    """The loss ``loss_fn(model(x), y)`` as a function of the parameters ``names``, with the
    others held at their current values, and its Hessian-vector products.

    Parameters
    ----------
    model : nn.Module
    names : list of str
        The parameters the Hessian is taken with respect to.
    loss_fn : callable(output, target) -> scalar batch mean
    live : bool, default False
        False: the parameters are detached (measurement). True: they stay the model's own
        tensors, so the products are differentiable with respect to every parameter (FAM).
    params : dict, optional
        Parameter values to use instead of the model's (e.g. one learner's under ``vmap``).
    """

    def __init__(self, model: nn.Module, names: Sequence[str], loss_fn: Callable, *, live: bool = False,
                 params: Optional[Dict[str, torch.Tensor]] = None):
        self.model = model
        self.names = list(names)
        self.loss_fn = loss_fn
        self.live = live
        src = dict(model.named_parameters()) if params is None else dict(params)
        if not live:
            src = {k: v.detach() for k, v in src.items()}
        self.primal = {n: src[n] for n in self.names}
        self.fixed = {k: v for k, v in src.items() if k not in self.primal}
        self.mode: Optional[str] = None  # the mode that worked last
        self.note = ""  # why a faster mode was left

    def loss(self, sub: Dict[str, torch.Tensor], x, y) -> torch.Tensor:
        p = dict(self.fixed)
        p.update(sub)
        return self.loss_fn(functional_call(self.model, p, (x,)), y)

    def check_scalar(self, x, y) -> None:
        """loss_fn must give a scalar (the batch mean); checked once on the first batch."""
        with torch.no_grad():
            out = self.loss({k: v.detach() for k, v in self.primal.items()}, x, y)
        if not isinstance(out, torch.Tensor) or out.ndim != 0:
            raise ValueError("loss_fn must return a scalar (the mean loss of the batch), got "
                             f"{_describe(out) if isinstance(out, torch.Tensor) else type(out).__name__}")
        if not out.is_floating_point():
            raise ValueError(f"loss_fn must return a floating-point scalar, got dtype {out.dtype}")

    def _fwd_rev(self, x, y):
        def f(sub):
            return self.loss(sub, x, y)

        g = grad(f)

        def hvp(v):
            return jvp(g, (self.primal,), (v,))[1]

        return hvp

    def hvp(self, x, y, V: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        """:math:`H_b v_p` for the probes ``V`` (each ``(P, *shape)``) on the batch ``(x, y)``,
        :math:`H_b` the Hessian of the batch-mean loss; same shapes as ``V``.

        Tries the modes of :data:`HVP_MODES` in order until one works for this model, then
        keeps to it (an error in a mode that worked before is raised, not skipped).
        """
        P = next(iter(V.values())).shape[0]
        i = HVP_MODES.index(self.mode) if self.mode in HVP_MODES else 0
        while True:
            mode = HVP_MODES[i]
            try:
                if i == 0:
                    out = vmap(self._fwd_rev(x, y), randomness="same")(V)
                elif i == 1:
                    hvp = self._fwd_rev(x, y)
                    rows = [hvp({k: v[p] for k, v in V.items()}) for p in range(P)]
                    out = {k: torch.stack([r[k] for r in rows]) for k in V}
                else:
                    out = self._autograd_hvp(x, y, V, P)
            except Exception as exc:
                if self.mode == mode or i == len(HVP_MODES) - 1:  # worked before, or nothing left to try
                    raise
                why = "vmap" if i == 0 else "torch.func"
                nxt = "probes looped" if i == 0 else "torch.autograd double backward"
                self.note = (self.note + "; " if self.note else "") + \
                    f"{why} failed ({type(exc).__name__}: {_first_line(exc)}): {nxt}"
                i += 1
                continue
            self.mode = mode
            return out

    def operator(self, x, y) -> Callable[[Dict[str, torch.Tensor]], Dict[str, torch.Tensor]]:
        """``v -> H_b v`` for one vector ``v`` (unbatched shapes), with the batch's gradient graph
        built once here and reused by every call (reverse-over-reverse through
        :func:`torch.func.vjp`): for iterative eigensolvers on data held in memory. Falls back
        to :meth:`hvp` per call when torch.func cannot transform the model."""
        def f(sub):
            return self.loss(sub, x, y)

        try:
            _, fn = vjp(grad(f), self.primal)
        except Exception as exc:
            self.note = (self.note + "; " if self.note else "") + \
                f"graph reuse failed ({type(exc).__name__}: {_first_line(exc)}): products recomputed per call"
            return lambda v: {k: t[0] for k, t in self.hvp(x, y, {k: t[None] for k, t in v.items()}).items()}
        self.mode = self.mode or "vjp(grad), graph reused"
        return lambda v: fn(v)[0]

    def _autograd_hvp(self, x, y, V, P):
        with torch.enable_grad():
            prim = {k: (v if self.live else v.detach().requires_grad_(True)) for k, v in self.primal.items()}
            loss = self.loss(prim, x, y)
            keys = list(prim)
            g = torch.autograd.grad(loss, [prim[k] for k in keys], create_graph=True)
            rows = []
            for p in range(P):
                hv = torch.autograd.grad(g, [prim[k] for k in keys], grad_outputs=[V[k][p] for k in keys],
                                         retain_graph=True, create_graph=self.live)
                rows.append(hv)
        out = {k: torch.stack([r[i] for r in rows]) for i, k in enumerate(keys)}
        return out if self.live else {k: v.detach() for k, v in out.items()}


def _first_line(exc: BaseException) -> str:
    s = str(exc).strip().splitlines()
    return s[0][:160] if s else ""
