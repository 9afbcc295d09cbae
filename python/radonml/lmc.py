r"""(Layer-wise) linear mode connectivity of two torch models (SPEC §5).

Two models :math:`\theta_A, \theta_B` of one architecture; the path
:math:`\theta(\alpha) = (1-\alpha)\theta_A + \alpha\theta_B`, possibly only for some layers
with the rest from a *base* model. Everything here evaluates models with
:func:`torch.func.functional_call` on interpolated parameter dictionaries, never by copying
modules per point; with :func:`classification_evaluator` the points of a path (or the draws of
a perturbation study) run in one batched forward pass per data batch through
:func:`torch.func.vmap`, falling back to one pass per point for models vmap cannot batch.

Models are evaluated in eval mode (dropout off, normalization layers on their running
statistics, which are interpolated with their layer). Non-floating buffers (e.g. BatchNorm's
``num_batches_tracked``) come from the base model.

References
----------
L. Adilova, M. Andriushchenko, M. Kamp, A. Fischer, M. Jaggi, "Layer-wise linear mode
connectivity", ICLR 2024.
R. Entezari, H. Sedghi, O. Saukh, B. Neyshabur, "The role of permutation invariance in linear
mode connectivity of neural networks", ICLR 2022 (the "linear" barrier).
J. Frankle, G. K. Dziugaite, D. Roy, M. Carbin, "Linear mode connectivity and the lottery
ticket hypothesis", ICML 2020 (the "mean" barrier).
"""

from __future__ import annotations

import copy
import numbers
import warnings
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, vmap

from ._paths import BARRIER_KINDS, PathResult, all_barriers, barrier, barrier_metrics, check_alphas, check_base
from ._paths import _JSONMixin
from ._validation import check_int, check_rng
from .exceptions import RadonmlWarning

__all__ = [
    "layer_groups",
    "interpolate",
    "evaluate_path",
    "classification_evaluator",
    "ClassificationEvaluator",
    "barrier",
    "layerwise_barriers",
    "cumulative_barriers",
    "perturbation_robustness",
    "subspace_perturbations",
    "PathResult",
    "LayerwiseResult",
    "CumulativeResult",
    "RobustnessResult",
    "SubspaceResult",
]

ROOT = "(root)"


# ------------------------------------------------------------------------------- groups --

def layer_groups(model: nn.Module, example_input=None) -> "OrderedDict[str, List[str]]":
    """Parameters and buffers of ``model`` grouped by the module that owns them.

    A layer (SPEC §5) is one module's own tensors: weight, bias and normalization statistics
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

    Examples
    --------
    >>> m = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    >>> dict(layer_groups(m))
    {'0': ['0.weight', '0.bias'], '2': ['2.weight', '2.bias']}
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    keys = set(model.state_dict().keys())
    groups: "OrderedDict[str, List[str]]" = OrderedDict()
    modules = dict(model.named_modules())
    for name, mod in modules.items():
        own = [n for n, _ in mod.named_parameters(recurse=False)] + [n for n, _ in mod.named_buffers(recurse=False)]
        full = [f"{name}.{n}" if name else n for n in own]
        full = [k for k in full if k in keys]
        if full:
            groups[name or ROOT] = full
    if example_input is not None:
        order: List[str] = []
        handles = []
        for name, mod in modules.items():
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
        groups = OrderedDict((g, groups[g]) for g in seen + rest)
    return groups


def _resolve_groups(model, groups) -> "OrderedDict[str, List[str]]":
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


def _resolve_layers(layers, groups) -> List[str]:
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


def _bases(base) -> List[str]:
    return ["a", "b"] if check_base(base, allow_both=True) == "both" else [base]


# ------------------------------------------------------------------------------- states --

class _Pair:
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
        self.groups = _resolve_groups(model_a, groups)
        self.template = copy.deepcopy(model_a).eval()
        self.param_names = [n for n, _ in model_a.named_parameters()]
        self.keys = list(sa)
        self.floating = {k for k, v in sa.items() if v.is_floating_point()}

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
class _Points:
    """P parameter sets: shared tensors plus, for the keys in ``keys``, a function that builds
    the stacked (chunk, ...) tensors of points [i0, i1)."""

    size: int
    keys: List[str]
    shared: Dict[str, torch.Tensor]
    make: Callable[[int, int], Dict[str, torch.Tensor]]


def _interp_points(pair: _Pair, alphas: np.ndarray, keys: List[str], base: str) -> _Points:
    sa, sb = pair.sa, pair.sb
    shared = {k: v for k, v in pair.state(base).items() if k not in set(keys)}

    def make(i0, i1):
        out = {}
        for k in keys:
            a = torch.as_tensor(alphas[i0:i1], dtype=sa[k].dtype, device=sa[k].device)
            w = a.view(-1, *([1] * sa[k].dim()))
            out[k] = (1 - w) * sa[k] + w * sb[k]
        return out

    return _Points(size=len(alphas), keys=keys, shared=shared, make=make)


def _offset_points(state: Dict[str, torch.Tensor], keys: List[str], coefs: np.ndarray,
                   directions: List[Dict[str, torch.Tensor]], which: np.ndarray) -> _Points:
    """Points state + coefs[i] * directions[which[i]] on ``keys``."""
    shared = {k: v for k, v in state.items() if k not in set(keys)}

    def make(i0, i1):
        out = {}
        for k in keys:
            dirs = torch.stack([directions[int(j)][k] for j in which[i0:i1]])
            c = torch.as_tensor(coefs[i0:i1], dtype=state[k].dtype, device=state[k].device)
            out[k] = state[k] + c.view(-1, *([1] * state[k].dim())) * dirs
        return out

    return _Points(size=len(coefs), keys=keys, shared=shared, make=make)


class _FunctionalModel:
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
        here_device, here_dtype = _device_dtype(self)
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


def _chunk_size(points: _Points, chunk_size) -> int:
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


def _evaluate_points(pair: _Pair, evaluate, points: _Points, chunk_size=None):
    """Metrics of every point: dict name -> (P,) float64 array, and the method used."""
    if not callable(evaluate):
        raise TypeError(f"evaluate must be a callable evaluate(model) -> dict, got {type(evaluate).__name__}")
    P = points.size
    cs = _chunk_size(points, chunk_size)
    results: Dict[str, np.ndarray] = {}
    method = "loop"
    with torch.no_grad():
        for i0 in range(0, P, cs):
            i1 = min(P, i0 + cs)
            batched = points.make(i0, i1)
            chunk = None
            if isinstance(evaluate, ClassificationEvaluator) and evaluate.vectorize:
                chunk = evaluate._evaluate_stacked(pair.template, batched, points.shared, i1 - i0)
                if chunk is not None:
                    method = evaluate.last_method
            if chunk is None:
                rows = []
                for j in range(i1 - i0):
                    params = dict(points.shared)
                    params.update({k: v[j] for k, v in batched.items()})
                    fm = _FunctionalModel(pair.template, params, pair.param_names, pair.keys)
                    rows.append(_check_metrics(evaluate(fm)))
                chunk = {k: np.array([r[k] for r in rows]) for k in rows[0]}
            for k, v in chunk.items():
                results.setdefault(k, np.empty(P))[i0:i1] = v
    return results, method


# --------------------------------------------------------------------------- evaluators --

class ClassificationEvaluator:
    """Mean loss and accuracy of a classifier on fixed data (see :func:`classification_evaluator`).

    Calling it on a model returns ``{"loss": ..., "accuracy": ...}``; path functions detect it
    and evaluate many parameter sets in one vmapped forward pass per batch.
    """

    def __init__(self, data, loss_fn=None, batch_size=1024, vectorize=True):
        self.loss_fn = loss_fn
        self.batch_size = batch_size
        self.vectorize = vectorize
        self.vmap_error: Optional[str] = None  # why the last model could not be vmapped
        self._vmap_failed: Dict[tuple, str] = {}  # per architecture
        self.last_method = ""
        if isinstance(data, (tuple, list)) and len(data) == 2 and not _is_loader(data):
            X, y = data
            X = torch.as_tensor(X)
            y = torch.as_tensor(y)
            if X.shape[0] != y.shape[0]:
                raise ValueError(f"data must be (X, y) with one label per row, got {X.shape[0]} rows and {y.shape[0]} labels")
            if X.shape[0] == 0:
                raise ValueError("data must not be empty")
            if y.dtype.is_floating_point:
                if not torch.equal(y, y.round()):
                    raise ValueError("data: y must hold integer class labels, got non-integer values")
                y = y.long()
            self._tensors = (X, y)
            self._loader = None
        elif hasattr(data, "__iter__"):
            self._tensors = None
            self._loader = data
        else:
            raise TypeError(f"data must be a pair (X, y) of tensors/arrays or an iterable of (x, y) batches, got {type(data).__name__}")

    def _batches(self, device, dtype):
        if self._tensors is not None:
            X, y = self._tensors
            for i in range(0, X.shape[0], self.batch_size):
                yield _cast(X[i:i + self.batch_size], device, dtype), y[i:i + self.batch_size].to(device)
        else:
            for batch in self._loader:
                x, y = batch[0], batch[1]
                yield _cast(torch.as_tensor(x), device, dtype), torch.as_tensor(y).to(device)

    def _loss_sum(self, out, y):
        if self.loss_fn is None:
            return torch.nn.functional.cross_entropy(out, y, reduction="sum")
        return self.loss_fn(out, y) * y.shape[0]

    def __call__(self, model) -> Dict[str, float]:
        dev, dt = _device_dtype(model)
        total, loss, correct = 0, 0.0, 0.0
        with torch.no_grad():
            for x, y in self._batches(dev, dt):
                out = model(x)
                loss += float(self._loss_sum(out, y))
                correct += float((out.argmax(-1) == y).sum())
                total += y.shape[0]
        if total == 0:
            raise ValueError("data yielded no examples")
        return {"loss": loss / total, "accuracy": correct / total}

    def _evaluate_stacked(self, template, batched, shared, P):
        """All P parameter sets at once; None when vmap cannot batch this model."""
        sig = (type(template), tuple(sorted(batched)), tuple(sorted(shared)))
        if sig in self._vmap_failed:
            return None
        dev, dt = _device_dtype(template)

        def f(bp, x):
            params = dict(shared)
            params.update(bp)
            return functional_call(template, params, (x,))

        fast = _sequential_forward(template, batched, shared, P)
        vf = fast if fast is not None else vmap(f, in_dims=(0, None))
        self.last_method = "batched" if fast is not None else "vmap"
        loss = torch.zeros(P, dtype=torch.float64)
        correct = torch.zeros(P, dtype=torch.float64)
        total = 0
        # rows per forward pass: P x rows activations should stay in cache (measured on an MLP:
        # 11 x 256 rows run about 1.8x faster than 11 x 1024)
        sub = max(16, _STACKED_ROWS // P)
        try:
            for xb_, yb_ in self._batches(dev, dt):
                for s0 in range(0, yb_.shape[0], sub):
                    x, y = xb_[s0:s0 + sub], yb_[s0:s0 + sub]
                    out = vf(batched, x)  # (P, B, C)
                    if self.loss_fn is None:
                        ls = torch.nn.functional.cross_entropy(out.reshape(-1, out.shape[-1]), y.repeat(P),
                                                               reduction="none")
                        ls = ls.view(P, -1).sum(1)
                    else:
                        ls = torch.stack([self._loss_sum(out[j], y) for j in range(P)])
                    loss += ls.double().cpu()
                    correct += (out.argmax(-1) == y).sum(1).double().cpu()
                    total += y.shape[0]
        except Exception as exc:  # vmap cannot batch this model: remember and use the loop
            self.vmap_error = self._vmap_failed[sig] = f"{type(exc).__name__}: {exc}"
            return None
        if total == 0:
            raise ValueError("data yielded no examples")
        return {"loss": (loss / total).numpy(), "accuracy": (correct / total).numpy()}


_STACKED_ROWS = 3072

_ELEMENTWISE = (nn.ReLU, nn.LeakyReLU, nn.Tanh, nn.Sigmoid, nn.GELU, nn.SiLU, nn.ELU, nn.Identity, nn.Dropout,
                nn.Softplus)


def _sequential_forward(template, batched, shared, P):
    """A forward over P parameter sets for ``nn.Sequential`` stacks of ``nn.Linear`` and
    element-wise activations, or None for other models (which go through vmap).

    Batched layers run as one ``baddbmm``; layers whose parameters are shared by all P sets
    (e.g. the layers before the interpolated one in a layer-wise path) run once, unbatched,
    until the first batched layer. Same arithmetic as the module's forward, without vmap's
    overhead.
    """
    if type(template) is not nn.Sequential:
        return None
    plan = []
    for name, mod in template.named_children():
        if isinstance(mod, nn.Linear):
            plan.append((name, mod))
        elif type(mod) in _ELEMENTWISE:
            plan.append((None, mod))
        else:
            return None
    params = dict(shared)
    params.update(batched)
    if set(params) != set(template.state_dict()):
        return None

    def forward(_batched, x):
        h, is_batched = x, False
        for name, mod in plan:
            if name is None:
                h = mod(h)
                continue
            W, b = params[f"{name}.weight"], params.get(f"{name}.bias")
            w_batched = f"{name}.weight" in batched
            b_batched = b is not None and f"{name}.bias" in batched
            if not (w_batched or b_batched or is_batched):
                h = torch.nn.functional.linear(h, W, b)
                continue
            if not is_batched:
                h = h.unsqueeze(0).expand(P, *h.shape)
                is_batched = True
            Wb = W if w_batched else W.unsqueeze(0).expand(P, *W.shape)
            if b is None:
                h = torch.bmm(h, Wb.transpose(1, 2))
            else:
                bb = (b if b_batched else b.unsqueeze(0).expand(P, *b.shape)).unsqueeze(1)
                h = torch.baddbmm(bb, h, Wb.transpose(1, 2))
        return h if is_batched else h.unsqueeze(0).expand(P, *h.shape)

    return forward


def _is_loader(data):
    return hasattr(data, "dataset") and hasattr(data, "batch_size")


def _device_dtype(model):
    for p in (model.parameters() if hasattr(model, "parameters") else []):
        return p.device, p.dtype
    return torch.device("cpu"), torch.get_default_dtype()


def _cast(x, device, dtype):
    x = x.to(device)
    if x.is_floating_point() and x.dtype != dtype:
        x = x.to(dtype)
    return x


def classification_evaluator(data, *, loss_fn=None, batch_size: int = 1024, vectorize: bool = True) -> ClassificationEvaluator:
    r"""An ``evaluate(model)`` for classifiers: mean loss and accuracy on ``data``.

    .. math:: \text{loss} = \frac1n \sum_i \ell(f(x_i), y_i), \qquad
              \text{accuracy} = \frac1n \sum_i [\arg\max_c f(x_i)_c = y_i]

    Parameters
    ----------
    data : (X, y) tensors or arrays, or an iterable of (x, y) batches (e.g. a DataLoader)
        Integer class labels. Floating inputs are cast to the model's dtype.
    loss_fn : callable(output, target) -> scalar, optional
        Batch-mean loss; default cross-entropy.
    batch_size : int, default 1024
        For (X, y) data.
    vectorize : bool, default True
        Let path functions evaluate many parameter sets per forward pass with ``torch.func.vmap``
        (they fall back to one pass per point when the model cannot be vmapped).

    Returns
    -------
    ClassificationEvaluator
        ``evaluator(model) -> {"loss": float, "accuracy": float}``.
    """
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    if loss_fn is not None and not callable(loss_fn):
        raise TypeError(f"loss_fn must be callable(output, target) or None, got {type(loss_fn).__name__}")
    return ClassificationEvaluator(data, loss_fn=loss_fn, batch_size=batch_size, vectorize=bool(vectorize))


# ---------------------------------------------------------------------- interpolation --

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
        Layer names (keys of :func:`layer_groups`) or indices; None: the whole model (every
        floating-point tensor, also those custom ``groups`` leave out).
    base : {"a", "b"}, default "a"
    groups : mapping, optional
        Custom grouping (see :func:`layer_groups`); it need not cover every tensor.

    Returns
    -------
    torch.nn.Module
        A deep copy of the base model with the interpolated state loaded.
    """
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not np.isfinite(alpha):
        raise TypeError(f"alpha must be a finite real number, got {alpha!r}")
    pair = _Pair(model_a, model_b, groups)
    base = check_base(base)
    keys = pair.keys_of(None if layers is None else _resolve_layers(layers, pair.groups))
    pts = _interp_points(pair, np.array([float(alpha)]), keys, base)
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
        :func:`classification_evaluator` to batch all alphas per forward pass with vmap.
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
    """
    pair = _Pair(model_a, model_b, groups)
    base = check_base(base)
    al = check_alphas(alphas)
    lay = None if layers is None else _resolve_layers(layers, pair.groups)
    pts = _interp_points(pair, al, pair.keys_of(lay), base)
    metrics, method = _evaluate_points(pair, evaluate, pts, chunk_size)
    return PathResult(alphas=al, metrics=metrics, layers=lay, base=base, method=method)


def _barriers_of(alphas, metrics, endpoints) -> Dict[str, Dict[str, float]]:
    bm = barrier_metrics(metrics)
    return {k: all_barriers(alphas, v, endpoints=endpoints.get(k), what=k) for k, v in bm.items()}


class _Paths:
    """Paths of one pair on fixed alphas, each evaluated once: a path is identified by its
    interpolated keys and its base (or by its keys alone when the rest of A and B agree, e.g.
    the whole-model path, which every base gives)."""

    def __init__(self, pair, evaluate, alphas, chunk_size):
        self.pair, self.evaluate, self.alphas, self.chunk_size = pair, evaluate, alphas, chunk_size
        self._cache: Dict[tuple, tuple] = {}

    def get(self, keys, base):
        """(metrics, method) of the path interpolating ``keys`` with the rest from ``base``."""
        ks = frozenset(keys)
        key = (ks, None if self.pair.base_free(ks) else base)
        if key not in self._cache:
            pts = _interp_points(self.pair, self.alphas, list(keys), base)
            self._cache[key] = _evaluate_points(self.pair, self.evaluate, pts, self.chunk_size)
        return self._cache[key]

    def full(self):
        return self.get(self.pair.keys_of(None), "a")

    def endpoints(self):
        """Metric (accuracy as error) to its values (L(theta_A), L(theta_B)) at the full endpoint
        models: read off the whole-model path when it is evaluated and has alpha = 0 and 1."""
        ks = frozenset(self.pair.keys_of(None))
        hit = [v for (k, _), v in self._cache.items() if k == ks]
        i0, i1 = np.flatnonzero(self.alphas == 0.0), np.flatnonzero(self.alphas == 1.0)
        if hit and i0.size and i1.size:
            m, j0, j1 = hit[0][0], int(i0[0]), int(i1[0])
        else:
            pts = _interp_points(self.pair, np.array([0.0, 1.0]), self.pair.keys_of(None), "a")
            (m, _), j0, j1 = _evaluate_points(self.pair, self.evaluate, pts, self.chunk_size), 0, 1
        return {k: (float(v[j0]), float(v[j1])) for k, v in barrier_metrics(m).items()}


# -------------------------------------------------------------------------- layer-wise --

@dataclass
class LayerwiseResult(_JSONMixin):
    r"""Barriers of single-layer paths against the full endpoint models (SPEC §5).

    Attributes
    ----------
    layers : list of str
    bases : list of str
        ``"a"``/``"b"``: the model the other layers come from.
    alphas : (m,) ndarray
    endpoints : dict
        Metric (accuracy as ``"error"``) to :math:`(L(\theta_A), L(\theta_B))` of the full models.
    paths : dict
        Metric to (n_layers, n_bases, m) array of the metric along each path.
    barriers : dict
        Metric to kind (``"linear"``, ``"mean"``, ``"max"``) to (n_layers, n_bases) array.
    full_path : PathResult
        The whole-model path (every floating-point tensor interpolated, whatever ``groups``).
    full_barriers : dict
        Metric to kind to the whole-model barrier.
    """

    layers: List[str]
    bases: List[str]
    alphas: np.ndarray
    endpoints: Dict[str, tuple]
    paths: Dict[str, np.ndarray]
    barriers: Dict[str, Dict[str, np.ndarray]]
    full_path: PathResult
    full_barriers: Dict[str, Dict[str, float]]

    def table(self, metric: str = "loss", kind: str = "mean") -> str:
        """Plain-text table of the barriers per layer and base, with the full model's."""
        b = self.barriers[metric][kind]
        head = f"{'layer':<24}" + "".join(f"{'base ' + x:>14}" for x in self.bases)
        lines = [f"{metric} barrier ({kind})", head]
        for i, l in enumerate(self.layers):
            lines.append(f"{l:<24}" + "".join(f"{b[i, j]:>14.4f}" for j in range(len(self.bases))))
        lines.append(f"{'full model':<24}{self.full_barriers[metric][kind]:>14.4f}")
        return "\n".join(lines)


def layerwise_barriers(model_a: nn.Module, model_b: nn.Module, evaluate, *, base: str = "both", alphas=None,
                       layers=None, groups=None, chunk_size=None) -> LayerwiseResult:
    r"""Barrier of interpolating one layer at a time, against the full endpoint models.

    For layer l and base k, the path is :math:`\theta_k` with layer l replaced by
    :math:`(1-\alpha)\theta_A^l + \alpha\theta_B^l`; its barrier is measured against the full
    models' :math:`L(\theta_A), L(\theta_B)` (Adilova et al., 2024; read off the whole-model
    path when ``alphas`` contains 0 and 1), e.g. for the ``"mean"``
    kind :math:`B_l^{(k)} = \max_\alpha L(\text{path}(\alpha)) - \tfrac12(L(\theta_A) + L(\theta_B))`.
    It is not symmetric in k, so both bases are reported by default. All three kinds of
    :func:`barrier` are computed, for every metric (accuracy as error).

    Parameters
    ----------
    model_a, model_b, evaluate
        As in :func:`evaluate_path`.
    base : {"a", "b", "both"}, default "both"
    alphas : default 11 points of [0, 1]
    layers : optional
        Subset of layers (default all).
    groups, chunk_size
        As in :func:`evaluate_path`.

    Returns
    -------
    LayerwiseResult
    """
    pair = _Pair(model_a, model_b, groups)
    bases = _bases(base)
    al = check_alphas(alphas)
    lay = _resolve_layers(layers, pair.groups)
    cache = _Paths(pair, evaluate, al, chunk_size)
    fm, method = cache.full()
    full_path = PathResult(alphas=al, metrics=fm, base="a", method=method)
    ends = cache.endpoints()
    paths: Dict[str, np.ndarray] = {}
    barriers: Dict[str, Dict[str, np.ndarray]] = {}
    for i, l in enumerate(lay):
        for j, b in enumerate(bases):
            m, _ = cache.get(pair.keys_of([l]), b)
            for k, v in m.items():
                paths.setdefault(k, np.empty((len(lay), len(bases), len(al))))[i, j] = v
            for k, kinds in _barriers_of(al, m, ends).items():
                for kind, val in kinds.items():
                    barriers.setdefault(k, {}).setdefault(kind, np.empty((len(lay), len(bases))))[i, j] = val
    return LayerwiseResult(
        layers=lay, bases=bases, alphas=al, endpoints=ends, paths=paths, barriers=barriers,
        full_path=full_path, full_barriers=_barriers_of(al, fm, ends),
    )


# -------------------------------------------------------------------------- cumulative --

@dataclass
class CumulativeResult(_JSONMixin):
    r"""Barriers of interpolating the first (or last) 1, 2, ..., L layers (SPEC §5).

    Attributes
    ----------
    layers : list of str
        All layers, input to output.
    directions : list of str
        ``"input"`` (first layers averaged, counted from the input) and/or ``"output"``.
    bases : list of str
    counts : (L,) ndarray of int
        Number of averaged layers.
    alphas : (m,) ndarray
    endpoints : dict
        Full models' metrics (accuracy as error).
    paths : dict
        Metric to (n_directions, n_bases, L, m) array.
    barriers : dict
        Metric to kind to (n_directions, n_bases, L) array.
    """

    layers: List[str]
    directions: List[str]
    bases: List[str]
    counts: np.ndarray
    alphas: np.ndarray
    endpoints: Dict[str, tuple]
    paths: Dict[str, np.ndarray]
    barriers: Dict[str, Dict[str, np.ndarray]]


def cumulative_barriers(model_a: nn.Module, model_b: nn.Module, evaluate, *, direction: str = "input",
                        base: str = "a", alphas=None, groups=None, chunk_size=None) -> CumulativeResult:
    r"""Barrier of averaging the first c layers from the input (or the last c from the output).

    For c = 1..L the path interpolates layers :math:`1..c` (``direction="input"``) or
    :math:`L-c+1..L` (``"output"``) and takes the rest from the base model; barriers are
    measured against the full endpoint models as in :func:`layerwise_barriers`. At c = L
    both directions give the full-model path (when custom ``groups`` leave tensors out, c = L
    interpolates only the grouped ones). Each distinct path is evaluated once (c = L is shared
    by both directions, and by both bases when it is the whole model).

    Parameters
    ----------
    direction : {"input", "output", "both"}, default "input"
    base : {"a", "b", "both"}, default "a"
    model_a, model_b, evaluate, alphas, groups, chunk_size
        As in :func:`layerwise_barriers`.

    Returns
    -------
    CumulativeResult
    """
    if direction not in ("input", "output", "both"):
        raise ValueError(f"direction must be 'input', 'output' or 'both', got {direction!r}")
    pair = _Pair(model_a, model_b, groups)
    bases = _bases(base)
    dirs = ["input", "output"] if direction == "both" else [direction]
    al = check_alphas(alphas)
    names = list(pair.groups)
    L = len(names)
    cache = _Paths(pair, evaluate, al, chunk_size)
    cache.get(pair.keys_of(names), bases[0])  # c = L: the whole model when the groups cover it
    ends = cache.endpoints()
    paths: Dict[str, np.ndarray] = {}
    barriers: Dict[str, Dict[str, np.ndarray]] = {}
    for di, d in enumerate(dirs):
        for bi, b in enumerate(bases):
            for c in range(1, L + 1):
                lay = names[:c] if d == "input" else names[L - c:]
                m, _ = cache.get(pair.keys_of(lay), b)
                for k, v in m.items():
                    paths.setdefault(k, np.empty((len(dirs), len(bases), L, len(al))))[di, bi, c - 1] = v
                for k, kinds in _barriers_of(al, m, ends).items():
                    for kind, val in kinds.items():
                        barriers.setdefault(k, {}).setdefault(kind, np.empty((len(dirs), len(bases), L)))[di, bi, c - 1] = val
    return CumulativeResult(layers=names, directions=dirs, bases=bases, counts=np.arange(1, L + 1), alphas=al,
                            endpoints=ends, paths=paths, barriers=barriers)


# -------------------------------------------------------------------------- robustness --

@dataclass
class RobustnessResult(_JSONMixin):
    r"""Per layer: moving toward :math:`\theta_B^l` vs random directions of the same norm.

    Attributes
    ----------
    layers : list of str
    alphas : (m,) ndarray
        Step sizes as fractions of :math:`\lVert\theta_B^l - \theta_A^l\rVert`.
    norms : (n_layers,) ndarray
        :math:`\lVert\theta_B^l - \theta_A^l\rVert` (parameters only).
    interpolation : dict
        Metric to (n_layers, m): :math:`\theta_A + \alpha(\theta_B^l - \theta_A^l)` on layer l.
    random_mean, random_std : dict
        Metric to (n_layers, m) over the draws of :math:`\theta_A + \alpha\,\lVert\Delta^l\rVert\,u`,
        u a uniformly random unit direction over layer l's parameters.
    random_draws : dict
        Metric to (n_layers, n_draws, m).
    """

    layers: List[str]
    alphas: np.ndarray
    norms: np.ndarray
    interpolation: Dict[str, np.ndarray]
    random_mean: Dict[str, np.ndarray]
    random_std: Dict[str, np.ndarray]
    random_draws: Dict[str, np.ndarray]


def _torch_generator(rng, device):
    g = torch.Generator(device=device)
    g.manual_seed(int(check_rng(rng).integers(0, 2**62)))
    return g


def _random_direction(ref: Dict[str, torch.Tensor], keys, norm, gen):
    d = {k: torch.randn(ref[k].shape, generator=gen, dtype=ref[k].dtype, device=ref[k].device) for k in keys}
    tot = torch.sqrt(sum((v.double() ** 2).sum() for v in d.values()))
    scale = float(norm) / float(tot) if float(tot) > 0 else 0.0
    return {k: v * scale for k, v in d.items()}


def _norm(d: Dict[str, torch.Tensor]) -> float:
    return float(torch.sqrt(sum((v.double() ** 2).sum() for v in d.values()))) if d else 0.0


def perturbation_robustness(model_a: nn.Module, model_b: nn.Module, evaluate, *, n_draws: int = 5, rng=None,
                            alphas=None, layers=None, groups=None, chunk_size=None) -> RobustnessResult:
    r"""Robustness of each layer to random perturbations vs. the averaging direction (SPEC §5).

    For layer l with :math:`\Delta^l = \theta_B^l - \theta_A^l` (its parameters; buffers stay
    at :math:`\theta_A`'s), evaluate :math:`\theta_A + \alpha\Delta^l` and, for ``n_draws``
    Gaussian directions :math:`g` over the layer rescaled to :math:`\lVert\Delta^l\rVert`,
    :math:`\theta_A + \alpha\,\lVert\Delta^l\rVert\, g/\lVert g\rVert`. The averaging step is
    :math:`\alpha = 1/2`. Adilova et al. (2024) find the averaging direction far more harmful.

    Parameters
    ----------
    n_draws : int, default 5
    rng : None, int or numpy.random.Generator
    alphas : default 11 points of [0, 1]
    model_a, model_b, evaluate, layers, groups, chunk_size
        As in :func:`layerwise_barriers`.

    Returns
    -------
    RobustnessResult
    """
    n_draws = check_int(n_draws, "n_draws", minimum=1)
    pair = _Pair(model_a, model_b, groups)
    al = check_alphas(alphas)
    lay = _resolve_layers(layers, pair.groups)
    gen = _torch_generator(rng, next(iter(pair.sa.values())).device)
    m = len(al)
    norms = np.zeros(len(lay))
    interp, rmean, rstd, draws = {}, {}, {}, {}
    for i, l in enumerate(lay):
        keys = pair.keys_of([l], params_only=True)
        if not keys:
            raise ValueError(f"layer {l!r} has no floating-point parameters to perturb")
        delta = {k: pair.sb[k] - pair.sa[k] for k in keys}
        norms[i] = _norm(delta)
        dirs = [delta] + [_random_direction(pair.sa, keys, norms[i], gen) for _ in range(n_draws)]
        coefs = np.tile(al, n_draws + 1)
        which = np.repeat(np.arange(n_draws + 1), m)
        res, _ = _evaluate_points(pair, evaluate, _offset_points(pair.sa, keys, coefs, dirs, which), chunk_size)
        for k, v in res.items():
            v = v.reshape(n_draws + 1, m)
            interp.setdefault(k, np.empty((len(lay), m)))[i] = v[0]
            draws.setdefault(k, np.empty((len(lay), n_draws, m)))[i] = v[1:]
            rmean.setdefault(k, np.empty((len(lay), m)))[i] = v[1:].mean(0)
            rstd.setdefault(k, np.empty((len(lay), m)))[i] = v[1:].std(0)
    return RobustnessResult(layers=lay, alphas=al, norms=norms, interpolation=interp, random_mean=rmean,
                            random_std=rstd, random_draws=draws)


# ---------------------------------------------------------------------------- subspace --

@dataclass
class SubspaceResult(_JSONMixin):
    r"""Perturbations along the interpolation direction, the training subspace and its complement.

    Attributes
    ----------
    models : list of str
        ``["a", "b"]``: the model perturbed (its interpolation direction points to the other).
    directions : list of str
        ``["interpolation", "training", "null"]``.
    scales : (s,) ndarray
        Perturbation norms as fractions of :math:`\lVert\theta_B - \theta_A\rVert` (of the layer's
        part with ``per_layer``).
    distance : float
        :math:`\lVert\theta_B - \theta_A\rVert` over all parameters.
    subspace_dim : int
        Dimension of the training subspace (numerical rank of the checkpoint matrix).
    n_params : int
    mean, std : dict
        Metric to (n_models, 3, s) array, over the draws (the interpolation direction is one
        deterministic draw, std 0); NaN for a direction kind that does not exist (an empty
        training subspace, or one without complement).
    layers : list of str or None
        With ``per_layer``: the layers, and ``layer_mean``/``layer_std`` of shape
        (n_layers, n_models, 3, s), ``layer_subspace_dims`` and ``layer_distances``.
    """

    models: List[str]
    directions: List[str]
    scales: np.ndarray
    distance: float
    subspace_dim: int
    n_params: int
    mean: Dict[str, np.ndarray]
    std: Dict[str, np.ndarray]
    origin: str = "first"
    layers: Optional[List[str]] = None
    layer_mean: Optional[Dict[str, np.ndarray]] = None
    layer_std: Optional[Dict[str, np.ndarray]] = None
    layer_subspace_dims: Optional[List[int]] = None
    layer_distances: Optional[List[float]] = None


def _checkpoint_states(checkpoints, keys, ref) -> List[Dict[str, torch.Tensor]]:
    if isinstance(checkpoints, dict):
        items = [c for v in checkpoints.values() for c in (v if isinstance(v, (list, tuple)) else [v])]
    elif isinstance(checkpoints, (list, tuple)):
        items = list(checkpoints)
    else:
        raise TypeError(f"checkpoints must be a list of models or state dicts, got {type(checkpoints).__name__}")
    if len(items) == 0:
        raise ValueError("checkpoints must hold at least one model or state dict")
    out = []
    for i, c in enumerate(items):
        sd = c.state_dict() if isinstance(c, nn.Module) else c
        if not isinstance(sd, dict):
            raise TypeError(f"checkpoints[{i}] must be a torch.nn.Module or a state dict, got {type(c).__name__}")
        missing = [k for k in keys if k not in sd]
        if missing:
            raise ValueError(f"checkpoints[{i}] lacks parameter {missing[0]!r} of the models")
        for k in keys:
            if tuple(sd[k].shape) != tuple(ref[k].shape):
                raise ValueError(f"checkpoints[{i}][{k!r}] has shape {tuple(sd[k].shape)}, expected {tuple(ref[k].shape)}")
        out.append({k: sd[k].detach().clone().to(ref[k].device) for k in keys})  # copies, never aliases
    return out


def _flat(state, keys):
    return torch.cat([state[k].reshape(-1).double() for k in keys])


def _unflat(vec, keys, ref):
    out, i = {}, 0
    for k in keys:
        n = ref[k].numel()
        out[k] = vec[i:i + n].view(ref[k].shape).to(ref[k].dtype)
        i += n
    return out


def _subspace_study(pair, evaluate, keys, ckpts, scales, n_draws, origin, gen, chunk_size, what="the model"):
    V = torch.stack([_flat(c, keys) for c in ckpts])  # (c, p)
    # numerical rank: singular values below the rounding of the stored checkpoints do not count
    eps = max(torch.finfo(ckpts[0][k].dtype).eps for k in keys)
    tol_store = 10.0 * eps * float(V.norm(dim=1).max())
    if origin == "first":
        V = V[1:] - V[0]
    p = V.shape[1]
    if V.shape[0] == 0:
        Q = torch.zeros((p, 0), dtype=torch.float64)
    else:
        U, S, _ = torch.linalg.svd(V.T, full_matrices=False)
        tol = max(float(S[0]) * max(V.shape) * torch.finfo(torch.float64).eps, tol_store)
        Q = U[:, S > tol] if float(S[0]) > 0 else torch.zeros((p, 0), dtype=torch.float64)
    rank = int(Q.shape[1])
    # a subspace of dimension 0 has no directions, nor has the complement of the whole space:
    # those entries are NaN, with a warning, instead of the unperturbed model or rounding noise
    if rank == 0:
        warnings.warn(f"the checkpoints do not move {what} (training subspace of dimension 0), so its "
                      "'training' perturbations are undefined and reported as NaN", RadonmlWarning, stacklevel=3)
    if rank >= p:
        warnings.warn(f"the training subspace of {what} spans all its {p} parameters, so there is no orthogonal "
                      "complement and its 'null' perturbations are reported as NaN", RadonmlWarning, stacklevel=3)
    n_train = n_draws if rank > 0 else 0
    n_null = n_draws if rank < p else 0
    fa, fb = _flat(pair.sa, keys), _flat(pair.sb, keys)
    dist = float(torch.linalg.norm(fb - fa))
    ns = len(scales)
    res_mean: Dict[str, np.ndarray] = {}
    res_std: Dict[str, np.ndarray] = {}
    for mi, (state, here, there) in enumerate(((pair.sa, fa, fb), (pair.sb, fb, fa))):
        dirs_flat = []
        u = there - here
        dirs_flat.append(u / dist if dist > 0 else u)
        for _ in range(n_train):  # training subspace
            g = Q @ torch.randn(rank, generator=gen, dtype=torch.float64)
            dirs_flat.append(g / torch.linalg.norm(g))
        for _ in range(n_null):  # orthogonal complement
            h = torch.randn(p, generator=gen, dtype=torch.float64)
            h = h - Q @ (Q.T @ h)
            h = h - Q @ (Q.T @ h)  # twice is enough (Kahan)
            dirs_flat.append(h / torch.linalg.norm(h))
        dirs = [_unflat(d * dist, keys, state) for d in dirs_flat]
        which = np.repeat(np.arange(len(dirs)), ns)
        coefs = np.tile(np.asarray(scales, dtype=np.float64), len(dirs))
        res, _ = _evaluate_points(pair, evaluate, _offset_points(state, keys, coefs, dirs, which), chunk_size)
        for k, v in res.items():
            v = v.reshape(len(dirs), ns)
            groups_ = [v[:1], v[1:1 + n_train], v[1 + n_train:]]
            mean = res_mean.setdefault(k, np.full((2, 3, ns), np.nan))
            std = res_std.setdefault(k, np.full((2, 3, ns), np.nan))
            for gi, gr in enumerate(groups_):
                if len(gr):
                    mean[mi, gi], std[mi, gi] = gr.mean(0), gr.std(0)
    return res_mean, res_std, rank, dist, p


def subspace_perturbations(model_a: nn.Module, model_b: nn.Module, checkpoints, evaluate, *,
                           scales=(0.0, 0.1, 0.25, 0.5, 0.75, 1.0), n_draws: int = 5, per_layer: bool = False,
                           origin: str = "first", rng=None, groups=None, chunk_size=None) -> SubspaceResult:
    r"""Loss under perturbations along the interpolation direction, in the training subspace and
    in its orthogonal complement (SPEC §5; Adilova et al., 2024, Fig. 6).

    The checkpoints of both training runs are copied (never aliased) and flattened over the
    models' parameters; the *training subspace* is spanned by their differences from the first
    checkpoint (``origin="first"``, the shared initialization when it is listed first) or by the
    vectors themselves (``origin="zero"``), with an orthonormal basis Q from an SVD (numerical
    rank). For each model :math:`M \in \{A, B\}` and scale s, with
    :math:`D = \lVert\theta_B - \theta_A\rVert`, evaluate :math:`\theta_M + sD\,u` for

    - the interpolation direction :math:`u = (\theta_{\bar M} - \theta_M)/D`;
    - ``n_draws`` random unit directions :math:`u = Qg/\lVert Qg\rVert` in the training subspace;
    - ``n_draws`` random unit directions in its orthogonal complement,
      :math:`u \propto (I - QQ^\top) h`.

    With ``per_layer=True`` the same is done for each layer separately (its coordinates only,
    its own subspace and distance), in addition to the whole model (all floating-point
    parameters, also those custom ``groups`` leave out).

    When the checkpoints do not move the parameters (subspace of dimension 0) the "training"
    entries are NaN, and when the subspace is the whole parameter space the "null" entries are
    NaN; each case emits a :class:`~radonml.exceptions.RadonmlWarning`.

    Parameters
    ----------
    model_a, model_b : torch.nn.Module
    checkpoints : list of torch.nn.Module or state dicts (or a dict of such lists, one per run)
    evaluate : callable
    scales : sequence of float, default (0, 0.1, 0.25, 0.5, 0.75, 1)
    n_draws : int, default 5
    per_layer : bool, default False
    origin : {"first", "zero"}, default "first"
    rng : None, int or numpy.random.Generator
    groups, chunk_size
        As in :func:`evaluate_path`.

    Returns
    -------
    SubspaceResult
    """
    n_draws = check_int(n_draws, "n_draws", minimum=1)
    if origin not in ("first", "zero"):
        raise ValueError(f"origin must be 'first' or 'zero', got {origin!r}")
    sc = np.asarray(check_alphas(list(scales) if not isinstance(scales, np.ndarray) else scales, "scales"))
    if (sc < 0).any():
        raise ValueError(f"scales must be non-negative, got {sc.tolist()}")
    pair = _Pair(model_a, model_b, groups)
    keys = pair.keys_of(None, params_only=True)  # the whole model, whatever the groups
    ckpts = _checkpoint_states(checkpoints, keys, pair.sa)
    if origin == "first" and len(ckpts) < 2:
        raise ValueError("checkpoints must hold at least 2 states with origin='first' (differences from the first)")
    gen = _torch_generator(rng, next(iter(pair.sa.values())).device)
    mean, std, rank, dist, p = _subspace_study(pair, evaluate, keys, ckpts, sc, n_draws, origin, gen, chunk_size,
                                               "the model")
    out = SubspaceResult(models=["a", "b"], directions=["interpolation", "training", "null"], scales=sc,
                         distance=dist, subspace_dim=rank, n_params=p, mean=mean, std=std, origin=origin)
    if per_layer:
        names = [l for l in pair.groups if pair.keys_of([l], params_only=True)]
        lm: Dict[str, np.ndarray] = {}
        ls: Dict[str, np.ndarray] = {}
        dims, dists = [], []
        for i, l in enumerate(names):
            lk = pair.keys_of([l], params_only=True)
            m_, s_, r_, d_, _ = _subspace_study(pair, evaluate, lk, ckpts, sc, n_draws, origin, gen, chunk_size,
                                                f"layer {l!r}")
            for k in m_:
                lm.setdefault(k, np.zeros((len(names), 2, 3, len(sc))))[i] = m_[k]
                ls.setdefault(k, np.zeros((len(names), 2, 3, len(sc))))[i] = s_[k]
            dims.append(r_)
            dists.append(d_)
        out.layers, out.layer_mean, out.layer_std = names, lm, ls
        out.layer_subspace_dims, out.layer_distances = dims, dists
    return out
