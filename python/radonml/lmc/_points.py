"""Shared internals of :mod:`radonml.lmc`'s torch studies (private).

A validated pair of models (:class:`ModelPair`: B aligned to A on request, the data that
normalization statistics are re-estimated on), sets of parameter points built from it
(interpolations, offsets along directions: :class:`PointSet`) and their evaluation
(:func:`evaluate_points`): BatchNorm statistics re-estimated (or REPAIR applied) for all
points of a chunk at once, then an evaluator's batched ``evaluate_stacked`` where it offers
one, otherwise one :func:`torch.func.functional_call` per point on a :class:`FunctionalModel`.
Names carry no underscore so that the package's modules import them; they are not public API.
"""

from __future__ import annotations

import copy
import numbers
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional

import numpy as np
import torch
from torch import nn
from torch.func import functional_call

from .._validation import check_int, check_rng
from ._common import check_base
from ._data import DEFAULT_BATCH_SIZE, cast_input, device_dtype, first_batch, input_batches
from .alignment import AlignmentResult, activation_matching, weight_matching
from .batchnorm import batchnorm_layers, stacked_batchnorm_statistics
from .groups import layer_groups
from .renormalization import interpolated_targets, repair_layers, stacked_repair, unit_statistics

__all__ = [
    "ModelPair",
    "PointSet",
    "FunctionalModel",
    "resolve_groups",
    "resolve_layers",
    "resolve_bases",
    "statistics_source",
    "resolve_alignment",
    "renormalize_points",
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

def statistics_source(bn_data, evaluate):
    """(data, batch_size) that normalization statistics and activations are measured on:
    ``bn_data`` when it is data, else the inputs of an evaluator that holds its data (a
    :class:`~radonml.lmc.ClassificationEvaluator`, in its batches), else None."""
    if bn_data is not None and bn_data is not False:
        return bn_data, DEFAULT_BATCH_SIZE
    data = getattr(evaluate, "data", None)
    if data is not None:
        return data, getattr(evaluate, "batch_size", DEFAULT_BATCH_SIZE)
    return None


def resolve_alignment(model_a, model_b, align, align_data, source):
    """``model_b`` aligned to ``model_a`` as ``align`` asks: (the aligned model, the
    :class:`~radonml.lmc.AlignmentResult`)."""
    if isinstance(align, AlignmentResult):
        return align.apply(model_b), align
    if align not in ("weight", "activation"):
        raise ValueError(f"align must be None, 'weight', 'activation' or an AlignmentResult, got {align!r}")
    data, bs = (align_data, DEFAULT_BATCH_SIZE) if align_data is not None else (source or (None, None))
    if align == "weight":
        check = None
        if data is not None:  # check on one batch that the spec leaves B's function unchanged
            dev, dt = device_dtype(model_b)
            check = first_batch(data, "align_data" if align_data is not None else "bn_data", dev, dt, batch_size=bs)
        res = weight_matching(model_a, model_b, rng=0, check_data=check)
    else:
        if data is None:
            raise ValueError("align='activation' needs inputs to record activations on: pass align_data= (or bn_data=, "
                             "or an evaluate that holds its data such as classification_evaluator)")
        res = activation_matching(model_a, model_b, data, batch_size=bs)
    return res.model, res


def _check_bn_data(bn_data):
    if bn_data is True or isinstance(bn_data, (str, bytes)):
        raise TypeError(f"bn_data must be None (re-estimate from evaluate's data), False (keep the interpolated "
                        f"statistics) or data (a tensor X, (X,) / (X, y) tensors, or a DataLoader), got {bn_data!r}")


def _check_finite(name, state):
    for k, v in state.items():
        if v.is_floating_point() and not bool(torch.isfinite(v).all()):
            n = int((~torch.isfinite(v)).sum())
            raise ValueError(f"{name}'s {k!r} has {n} non-finite value(s) (NaN or inf) of {v.numel()}: a diverged model "
                             "has no path to measure")


class ModelPair:
    """Validated pair of models: template (eval mode, a private copy), detached states (B
    aligned to A when asked) and how each point's normalization statistics are re-estimated.

    ``renormalize`` is None (statistics as interpolated), ``"batchnorm"`` (BatchNorm
    statistics re-estimated at every point, on ``stat_data``) or ``"repair"`` (REPAIR at
    every point of an interpolation path).
    """

    def __init__(self, model_a, model_b, groups=None, *, evaluate=None, align=None, align_data=None, bn_data=None,
                 repair=False):
        for name, m in (("model_a", model_a), ("model_b", model_b)):
            if not isinstance(m, nn.Module):
                raise TypeError(f"{name} must be a torch.nn.Module, got {type(m).__name__}")
        _check_bn_data(bn_data)
        if not isinstance(repair, bool):
            raise TypeError(f"repair must be True or False, got {repair!r}")
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
        _check_finite("model_a", sa)
        _check_finite("model_b", sb)
        source = statistics_source(bn_data, evaluate)
        self.alignment = None
        if align is not None:
            model_b, self.alignment = resolve_alignment(model_a, model_b, align, align_data, source)
            sb = {k: v.detach() for k, v in model_b.state_dict().items()}
        self.sa, self.sb = sa, {k: v.to(sa[k].device) for k, v in sb.items()}
        self.groups = resolve_groups(model_a, groups)
        self.template = copy.deepcopy(model_a).eval()
        self.param_names = [n for n, _ in model_a.named_parameters()]
        self.keys = list(sa)
        self.floating = {k for k, v in sa.items() if v.is_floating_point()}
        self.bn_layers = batchnorm_layers(self.template)
        self.renormalize = None
        self.stat_data = source
        if repair:
            self.repair_layers = repair_layers(self.template, self.alignment.spec if self.alignment else None)
            if source is None or bn_data is False:
                raise ValueError("repair=True needs inputs to measure the hidden units' statistics on: pass bn_data= "
                                 "(or an evaluate that holds its data such as classification_evaluator)")
            data, bs = source
            self.repair_stats = (unit_statistics(model_a, self.repair_layers, data, batch_size=bs),
                                 unit_statistics(model_b, self.repair_layers, data, batch_size=bs))
            self.renormalize = "repair"
        elif self.bn_layers and bn_data is not False:
            if source is None:
                raise ValueError(
                    f"the models have BatchNorm layers ({', '.join(repr(n) for n in self.bn_layers[:3])}"
                    f"{', ...' if len(self.bn_layers) > 3 else ''}), whose running statistics must be re-estimated at "
                    "each point (interpolated ones are not the network's own and give artefact barriers): pass "
                    "bn_data= (a tensor X, (X,) / (X, y) tensors, or a DataLoader), or bn_data=False to keep the "
                    "interpolated statistics")
            self.renormalize = "batchnorm"

    @property
    def device(self) -> torch.device:
        """Where the states live (the first tensor's device)."""
        return next(iter(self.sa.values())).device

    def stat_batches(self):
        """A fresh iterator over the input batches statistics are re-estimated on."""
        data, bs = self.stat_data
        dev, dt = device_dtype(self.template)
        return input_batches(data, "bn_data", dev, dt, batch_size=bs)

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
    the stacked (chunk, ...) tensors of points [i0, i1). ``alphas``: each point's position on
    the interpolation path (None for other point sets); ``describe(i)`` names point i in
    error messages."""

    size: int
    keys: List[str]
    shared: Dict[str, torch.Tensor]
    make: Callable[[int, int], Dict[str, torch.Tensor]]
    alphas: Optional[np.ndarray] = None
    describe: Callable[[int], str] = field(default=lambda i: f"point {i}")


def interpolation_points(pair: ModelPair, alphas: np.ndarray, keys: List[str], base: str, what: str = "") -> PointSet:
    """Points :math:`(1-\\alpha)\\theta_A + \\alpha\\theta_B` on ``keys``, the rest from ``base``;
    ``what`` names the path in error messages."""
    sa, sb = pair.sa, pair.sb
    shared = {k: v for k, v in pair.state(base).items() if k not in set(keys)}

    def make(i0, i1):
        out = {}
        for k in keys:
            a = torch.as_tensor(alphas[i0:i1], dtype=sa[k].dtype, device=sa[k].device)
            w = a.view(-1, *([1] * sa[k].dim()))
            out[k] = (1 - w) * sa[k] + w * sb[k]
        return out

    suffix = f" of {what}" if what else ""
    return PointSet(size=len(alphas), keys=keys, shared=shared, make=make, alphas=np.asarray(alphas),
                    describe=lambda i: f"alpha = {float(alphas[i]):.4g}{suffix}")


def offset_points(state: Dict[str, torch.Tensor], keys: List[str], coefs: np.ndarray,
                  directions: List[Dict[str, torch.Tensor]], which: np.ndarray, what: str = "") -> PointSet:
    """Points state + coefs[i] * directions[which[i]] on ``keys``; ``what`` names them in
    error messages."""
    shared = {k: v for k, v in state.items() if k not in set(keys)}

    def make(i0, i1):
        out = {}
        for k in keys:
            dirs = torch.stack([directions[int(j)][k] for j in which[i0:i1]])
            c = torch.as_tensor(coefs[i0:i1], dtype=state[k].dtype, device=state[k].device)
            out[k] = state[k] + c.view(-1, *([1] * state[k].dim())) * dirs
        return out

    suffix = f" of {what}" if what else ""
    return PointSet(size=len(coefs), keys=keys, shared=shared, make=make,
                    describe=lambda i: f"step {float(coefs[i]):.4g} along direction {int(which[i])}{suffix}")


def torch_generator(rng, device) -> torch.Generator:
    """A torch generator on ``device`` seeded from ``rng`` (None, int or numpy Generator)."""
    g = torch.Generator(device=device)
    g.manual_seed(int(check_rng(rng).integers(0, 2**62)))
    return g


# -------------------------------------------------------------------------- evaluation --

class FunctionalModel:
    """What a generic ``evaluate`` receives: callable like the model (a
    :func:`torch.func.functional_call` on one point's parameters), in eval mode unless
    ``evaluate`` calls ``train()``.

    ``train()`` and ``eval()`` are honoured as by a module: in training mode dropout is on,
    and BatchNorm normalizes with batch statistics and updates this point's own running
    statistics (private copies: neither the other points nor ``model_a``/``model_b``
    change), which a later ``eval()`` forward then uses. ``training`` tells the mode.
    ``parameters()``, ``named_parameters()``, ``buffers()``, ``named_buffers()`` and
    ``state_dict()`` give detached copies: changing them changes neither the point being
    evaluated nor ``model_a``/``model_b``. ``to()`` (and ``cpu()``, ``float()``, ...) accept
    the device and dtype the parameters already have. Other ``nn.Module`` methods raise an
    AttributeError that says what is available.
    """

    def __init__(self, template, params, param_names, keys):
        pn = set(param_names)
        # buffers are this point's own: a training-mode forward updates them in place
        params = {k: (v if k in pn else v.clone()) for k, v in params.items()}
        self._template, self._params, self._param_names, self._keys = template, params, param_names, keys
        self.training = False

    def __call__(self, *args, **kwargs):
        if not self.training:
            return functional_call(self._template, self._params, args, kwargs)
        was = self._template.training
        self._template.train(True)
        try:
            return functional_call(self._template, self._params, args, kwargs)
        finally:
            self._template.train(was)

    forward = __call__

    def train(self, mode=True):
        if not isinstance(mode, bool):
            raise ValueError(f"training mode is expected to be boolean, got {mode!r}")
        self.training = mode
        return self

    def eval(self):
        return self.train(False)

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
            "the model (model(x)); it also offers eval(), train(), training, to() (same device and dtype), parameters(), "
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


def _evaluate_one_by_one(pair: ModelPair, evaluate, shared, batched, n, describe) -> Dict[str, np.ndarray]:
    rows = []
    for j in range(n):
        params = dict(shared)
        params.update({k: v[j] for k, v in batched.items()})
        fm = FunctionalModel(pair.template, params, pair.param_names, pair.keys)
        try:
            rows.append(_check_metrics(evaluate(fm)))
        except Exception as exc:
            exc.add_note(f"(raised by evaluate at {describe(j)})")
            raise
    keys = set(rows[0])
    for j, r in enumerate(rows):
        if set(r) != keys:
            raise ValueError(f"evaluate returned the metrics {sorted(r)} at {describe(j)} and {sorted(keys)} at "
                             f"{describe(0)}; it must return the same metrics at every point")
    return {k: np.array([r[k] for r in rows]) for k in rows[0]}


def renormalize_points(pair: ModelPair, batched, shared, n, alphas, describe):
    """The points' normalization statistics re-estimated as ``pair.renormalize`` asks:
    (stacked, shared) state entries with BatchNorm statistics (or REPAIR's corrected weights)
    replaced, one set per point."""
    if pair.renormalize is None:
        return batched, shared
    if pair.renormalize == "batchnorm":
        new, new_shared, _ = stacked_batchnorm_statistics(pair.template, batched, shared, n, pair.stat_batches,
                                                          layers=pair.bn_layers, describe=describe)
    else:
        if alphas is None:
            raise ValueError("REPAIR applies to points of an interpolation path (it interpolates the endpoints' "
                             "statistics), not to these points")
        _, dt = device_dtype(pair.template)
        tm, ts = interpolated_targets(*pair.repair_stats, alphas, pair.repair_layers, dt)
        new, _ = stacked_repair(pair.template, batched, shared, n, pair.stat_batches, pair.repair_layers, tm, ts,
                                describe=describe)
        new_shared = {}
    batched = dict(batched)
    batched.update(new)
    shared = {k: v for k, v in shared.items() if k not in new}
    shared.update(new_shared)
    return batched, shared


def _check_finite_metrics(chunk, i0, describe):
    for k, v in chunk.items():
        bad = np.flatnonzero(~np.isfinite(np.asarray(v, dtype=np.float64)))
        if bad.size:
            j = int(bad[0])
            where = describe(i0 + j) + (f" (and {bad.size - 1} more point(s))" if bad.size > 1 else "")
            raise ValueError(f"evaluate gave a non-finite {k!r} ({float(v[j])}) at {where}: the model's outputs or loss "
                             "are NaN or inf there (a diverged model, or a point so far from both endpoints that the "
                             "network overflows); no barrier can be read from it")


def evaluate_points(pair: ModelPair, evaluate, points: PointSet, chunk_size=None):
    """Metrics of every point: dict name -> (P,) float64 array, and the method used.

    Each chunk of points first gets its own normalization statistics (``pair.renormalize``:
    BatchNorm re-estimation or REPAIR, vmapped over the chunk where the model allows). An
    ``evaluate`` with ``vectorize`` true and an ``evaluate_stacked`` method (a
    :class:`~radonml.lmc.ClassificationEvaluator`) gets each chunk of points at once; when it
    returns None (a model it cannot batch), or for any other callable, every point is one call
    on a :class:`FunctionalModel` (method ``"loop"``). A metric that is NaN or infinite at a
    point raises a ValueError naming the metric and the point.
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
            describe = (lambda j, i0=i0: points.describe(i0 + j))
            batched = points.make(i0, i1)
            alphas = None if points.alphas is None else points.alphas[i0:i1]
            batched, shared = renormalize_points(pair, batched, points.shared, i1 - i0, alphas, describe)
            out = None if stacked is None else stacked(pair.template, batched, shared, i1 - i0)
            if out is not None:
                chunk, method = out
            else:
                chunk = _evaluate_one_by_one(pair, evaluate, shared, batched, i1 - i0, describe)
            _check_finite_metrics(chunk, i0, points.describe)
            if i0 > 0 and set(chunk) != set(results):
                raise ValueError(f"evaluate returned the metrics {sorted(chunk)} at {points.describe(i0)} and "
                                 f"{sorted(results)} before; it must return the same metrics at every point")
            for k, v in chunk.items():
                results.setdefault(k, np.empty(P))[i0:i1] = v
    return results, method
