"""Shared internals of :mod:`radonml.lmc`'s torch studies (private).

A validated pair of models (:class:`ModelPair`), sets of parameter points built from it
(interpolations, offsets along directions: :class:`PointSet`) and their evaluation
(:func:`evaluate_points`): through an evaluator's batched ``evaluate_stacked`` where it offers
one, otherwise one :func:`torch.func.functional_call` per point on a :class:`FunctionalModel`.
Names carry no underscore so that the package's modules import them; they are not public API.
"""

from __future__ import annotations

import copy
import numbers
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Dict, List

import numpy as np
import torch
from torch import nn
from torch.func import functional_call

from .._validation import check_int, check_rng
from ._common import check_base
from .groups import layer_groups

__all__ = [
    "ModelPair",
    "PointSet",
    "FunctionalModel",
    "resolve_groups",
    "resolve_layers",
    "resolve_bases",
    "interpolation_points",
    "offset_points",
    "evaluate_points",
    "device_dtype",
    "cast_input",
    "torch_generator",
]


# ------------------------------------------------------------------------ layers, bases --

def resolve_groups(model, groups) -> "OrderedDict[str, List[str]]":
    """``groups`` validated against ``model``'s state dict (None: :func:`layer_groups`)."""
    if groups is None:
        return layer_groups(model)
    keys = set(model.state_dict().keys())
    if isinstance(groups, dict):
        items = [(str(k), list(v)) for k, v in groups.items()]
    elif isinstance(groups, (list, tuple)):
        items = [(str(i), list(v)) for i, v in enumerate(groups)]
    else:
        raise TypeError(f"groups must be a dict of name to state_dict keys or a list of key lists, got {type(groups).__name__}")
    for name, ks in items:
        if not ks:
            raise ValueError(f"groups[{name!r}] is empty; every group needs at least one state_dict key")
        for k in ks:
            if not isinstance(k, str) or k not in keys:
                raise ValueError(f"groups[{name!r}] names {k!r}, which is not a state_dict key of the model")
    return OrderedDict(items)


def resolve_layers(layers, groups) -> List[str]:
    """``layers`` (None, a name or index, or a list of them) as a list of group names."""
    names = list(groups)
    if layers is None:
        return names
    if isinstance(layers, (str, numbers.Integral)) and not isinstance(layers, bool):
        layers = [layers]
    out = []
    try:
        items = list(layers)
    except TypeError:
        raise TypeError(f"layers must be None, a layer name or index, or a list of them, got {layers!r}") from None
    for l in items:
        if isinstance(l, numbers.Integral) and not isinstance(l, bool):
            if not -len(names) <= int(l) < len(names):
                raise ValueError(f"layers: index {l} is out of range for {len(names)} layers")
            out.append(names[int(l)])
        elif isinstance(l, str):
            if l not in groups:
                raise ValueError(f"layers: {l!r} is not a layer; the layers are {names}")
            out.append(l)
        else:
            raise TypeError(f"layers must hold layer names or indices, got {l!r}")
    return list(OrderedDict.fromkeys(out))


def resolve_bases(base) -> List[str]:
    """``base`` (``"a"``, ``"b"`` or ``"both"``) as the list of bases it names."""
    return ["a", "b"] if check_base(base, allow_both=True) == "both" else [base]


# ------------------------------------------------------------------------------- states --

class ModelPair:
    """Validated pair of models: template (eval mode, a private copy) and detached states."""

    def __init__(self, model_a, model_b, groups=None):
        for name, m in (("model_a", model_a), ("model_b", model_b)):
            if not isinstance(m, nn.Module):
                raise TypeError(f"{name} must be a torch.nn.Module, got {type(m).__name__}")
        sa = {k: v.detach() for k, v in model_a.state_dict().items()}
        sb = {k: v.detach() for k, v in model_b.state_dict().items()}
        if sa.keys() != sb.keys():
            diff = sorted(set(sa) ^ set(sb))
            raise ValueError(f"model_a and model_b must have the same architecture; state_dict keys differ: {diff[:5]}")
        for k in sa:
            if sa[k].shape != sb[k].shape:
                raise ValueError(
                    f"model_a and model_b must have the same architecture; {k!r} has shape "
                    f"{tuple(sa[k].shape)} in model_a and {tuple(sb[k].shape)} in model_b"
                )
        self.sa, self.sb = sa, {k: v.to(sa[k].device) for k, v in sb.items()}
        self.groups = resolve_groups(model_a, groups)
        self.template = copy.deepcopy(model_a).eval()
        self.param_names = [n for n, _ in model_a.named_parameters()]
        self.keys = list(sa)
        self.floating = {k for k, v in sa.items() if v.is_floating_point()}

    @property
    def device(self) -> torch.device:
        """Where the states live (the first tensor's device)."""
        return next(iter(self.sa.values())).device

    def state(self, which):
        return self.sa if which == "a" else self.sb

    def keys_of(self, layers, *, params_only=False) -> List[str]:
        """Floating keys of ``layers``; None: of the whole model (every floating tensor, also
        those that custom ``groups`` leave out), in state_dict order."""
        if layers is None:
            ks = [k for k in self.sa if k in self.floating]
        else:
            ks = [k for l in layers for k in self.groups[l] if k in self.floating]
        if params_only:
            pn = set(self.param_names)
            ks = [k for k in ks if k in pn]
        return list(OrderedDict.fromkeys(ks))

    def base_free(self, keys) -> bool:
        """Whether the path on ``keys`` is the same from either base (the rest of A and B agree)."""
        ks = set(keys)
        return all(v.dtype == self.sb[k].dtype and torch.equal(v, self.sb[k]) for k, v in self.sa.items() if k not in ks)


@dataclass
class PointSet:
    """P parameter sets: shared tensors plus, for the keys in ``keys``, a function that builds
    the stacked (chunk, ...) tensors of points [i0, i1)."""

    size: int
    keys: List[str]
    shared: Dict[str, torch.Tensor]
    make: Callable[[int, int], Dict[str, torch.Tensor]]


def interpolation_points(pair: ModelPair, alphas: np.ndarray, keys: List[str], base: str) -> PointSet:
    """Points :math:`(1-\\alpha)\\theta_A + \\alpha\\theta_B` on ``keys``, the rest from ``base``."""
    sa, sb = pair.sa, pair.sb
    shared = {k: v for k, v in pair.state(base).items() if k not in set(keys)}

    def make(i0, i1):
        out = {}
        for k in keys:
            a = torch.as_tensor(alphas[i0:i1], dtype=sa[k].dtype, device=sa[k].device)
            w = a.view(-1, *([1] * sa[k].dim()))
            out[k] = (1 - w) * sa[k] + w * sb[k]
        return out

    return PointSet(size=len(alphas), keys=keys, shared=shared, make=make)


def offset_points(state: Dict[str, torch.Tensor], keys: List[str], coefs: np.ndarray,
                  directions: List[Dict[str, torch.Tensor]], which: np.ndarray) -> PointSet:
    """Points state + coefs[i] * directions[which[i]] on ``keys``."""
    shared = {k: v for k, v in state.items() if k not in set(keys)}

    def make(i0, i1):
        out = {}
        for k in keys:
            dirs = torch.stack([directions[int(j)][k] for j in which[i0:i1]])
            c = torch.as_tensor(coefs[i0:i1], dtype=state[k].dtype, device=state[k].device)
            out[k] = state[k] + c.view(-1, *([1] * state[k].dim())) * dirs
        return out

    return PointSet(size=len(coefs), keys=keys, shared=shared, make=make)


def torch_generator(rng, device) -> torch.Generator:
    """A torch generator on ``device`` seeded from ``rng`` (None, int or numpy Generator)."""
    g = torch.Generator(device=device)
    g.manual_seed(int(check_rng(rng).integers(0, 2**62)))
    return g


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


# -------------------------------------------------------------------------- evaluation --

class FunctionalModel:
    """What a generic ``evaluate`` receives: callable like the model (a
    :func:`torch.func.functional_call` on one point's parameters), always in eval mode.

    ``parameters()``, ``named_parameters()``, ``buffers()``, ``named_buffers()`` and
    ``state_dict()`` give detached copies: changing them changes neither the point being
    evaluated nor ``model_a``/``model_b``. ``to()`` (and ``cpu()``, ``float()``, ...) accept
    the device and dtype the parameters already have. Other ``nn.Module`` methods raise an
    AttributeError that says what is available.
    """

    training = False

    def __init__(self, template, params, param_names, keys):
        self._template, self._params, self._param_names, self._keys = template, params, param_names, keys

    def __call__(self, *args, **kwargs):
        return functional_call(self._template, self._params, args, kwargs)

    forward = __call__

    def eval(self):
        return self

    def train(self, mode=True):
        return self

    def requires_grad_(self, requires_grad=True):
        return self

    def named_parameters(self):
        return ((k, self._params[k].detach().clone()) for k in self._param_names)

    def parameters(self):
        return (v for _, v in self.named_parameters())

    def named_buffers(self):
        pn = set(self._param_names)
        return ((k, self._params[k].detach().clone()) for k in self._keys if k not in pn)

    def buffers(self):
        return (v for _, v in self.named_buffers())

    def state_dict(self):
        return OrderedDict((k, self._params[k].detach().clone()) for k in self._keys)

    def to(self, *args, **kwargs):
        device, dtype = kwargs.get("device"), kwargs.get("dtype")
        for a in args:
            if isinstance(a, torch.dtype):
                dtype = a
            elif isinstance(a, torch.Tensor):
                device, dtype = a.device, a.dtype
            elif isinstance(a, (str, torch.device, int)):
                device = a
        here_device, here_dtype = device_dtype(self)
        if device is not None:
            want = torch.device(device)
            if want.type != here_device.type or (want.index is not None and want.index != here_device.index):
                raise ValueError(f"evaluate cannot move the interpolated model (its parameters are on {here_device}) "
                                 f"to {want}: move model_a and model_b there before the call")
        if dtype is not None and dtype != here_dtype:
            raise ValueError(f"evaluate cannot cast the interpolated model (its parameters are {here_dtype}) to "
                             f"{dtype}: cast model_a and model_b before the call")
        return self

    def cpu(self):
        return self.to("cpu")

    def cuda(self, device=None):
        return self.to("cuda" if device is None else torch.device("cuda", device) if isinstance(device, int) else device)

    def float(self):
        return self.to(torch.float32)

    def double(self):
        return self.to(torch.float64)

    def half(self):
        return self.to(torch.float16)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        raise AttributeError(
            f"evaluate receives a functional view of the interpolated model, which has no {name!r}: call it like "
            "the model (model(x)); it also offers eval(), train(), to() (same device and dtype), parameters(), "
            "named_parameters(), buffers(), named_buffers() and state_dict() (copies)"
        )


def _chunk_size(points: PointSet, chunk_size) -> int:
    if chunk_size is not None:
        return check_int(chunk_size, "chunk_size", minimum=1)
    if points.size == 0 or not points.keys:
        return max(1, points.size)
    probe = points.make(0, 1)
    numel = sum(v.numel() for v in probe.values())
    return int(max(1, min(points.size, (1 << 25) // max(1, numel))))


def _check_metrics(out):
    if not isinstance(out, dict) or not out:
        raise TypeError(f"evaluate(model) must return a non-empty dict of metric name to number, got {type(out).__name__}")
    res = {}
    for k, v in out.items():
        try:
            res[str(k)] = float(v)
        except (TypeError, ValueError):
            raise TypeError(f"evaluate(model) returned a non-numeric value for metric {k!r}: {v!r}") from None
    return res


def _evaluate_one_by_one(pair: ModelPair, evaluate, shared, batched, n) -> Dict[str, np.ndarray]:
    rows = []
    for j in range(n):
        params = dict(shared)
        params.update({k: v[j] for k, v in batched.items()})
        fm = FunctionalModel(pair.template, params, pair.param_names, pair.keys)
        rows.append(_check_metrics(evaluate(fm)))
    return {k: np.array([r[k] for r in rows]) for k in rows[0]}


def evaluate_points(pair: ModelPair, evaluate, points: PointSet, chunk_size=None):
    """Metrics of every point: dict name -> (P,) float64 array, and the method used.

    An ``evaluate`` with ``vectorize`` true and an ``evaluate_stacked`` method (a
    :class:`~radonml.lmc.ClassificationEvaluator`) gets each chunk of points at once; when it
    returns None (a model it cannot batch), or for any other callable, every point is one call
    on a :class:`FunctionalModel` (method ``"loop"``).
    """
    if not callable(evaluate):
        raise TypeError(f"evaluate must be a callable evaluate(model) -> dict, got {type(evaluate).__name__}")
    stacked = getattr(evaluate, "evaluate_stacked", None) if getattr(evaluate, "vectorize", False) else None
    P = points.size
    cs = _chunk_size(points, chunk_size)
    results: Dict[str, np.ndarray] = {}
    method = "loop"
    with torch.no_grad():
        for i0 in range(0, P, cs):
            i1 = min(P, i0 + cs)
            batched = points.make(i0, i1)
            out = None if stacked is None else stacked(pair.template, batched, points.shared, i1 - i0)
            if out is not None:
                chunk, method = out
            else:
                chunk = _evaluate_one_by_one(pair, evaluate, points.shared, batched, i1 - i0)
            for k, v in chunk.items():
                results.setdefault(k, np.empty(P))[i0:i1] = v
    return results, method
