r"""Permutation symmetries of a network's hidden units: which axes of which tensors one
permutation acts on (a :class:`PermutationSpec`), derived from the model or written by hand.

Permuting the hidden units of a layer (the rows of its weight and bias, the matching entries
of its normalization layer, the columns of the next layer's weight) leaves the function the
network computes unchanged (Hecht-Nielsen, 1990). Weight and activation matching
(:mod:`radonml.lmc.alignment`) search over these permutations; this module says which they
are. Residual connections tie permutations together: every tensor added to the residual
stream must be permuted alike, so one permutation acts on all of them (Ainsworth et al., 2023).

A permutation ``perm`` of size ``n`` acts on an axis of size ``n`` as ``new[i] = old[perm[i]]``
(``torch.index_select``), and on an axis of size ``n * k`` (a linear layer after
``nn.Flatten`` of ``n`` channels of ``k`` positions each) on the ``n`` blocks of ``k``
consecutive entries, as flattening a ``(N, n, ...)`` tensor lays them out.

References
----------
S. K. Ainsworth, J. Hayase, S. Srinivasa, "Git Re-Basin: Merging models modulo permutation
symmetries", ICLR 2023.
R. Hecht-Nielsen, "On the algebraic structure of feedforward network weight spaces", 1990.
"""

from __future__ import annotations

import builtins
import operator
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.fx
import torch.nn.functional as F
from torch import nn

from ._common import JSONMixin

__all__ = ["PermutationSpec", "permutation_spec", "permute_state", "permute_axis", "check_permutations",
           "check_permutation_spec"]


# ------------------------------------------------------------------------------ the spec --

@dataclass
class PermutationSpec(JSONMixin):
    r"""Which permutation acts on which axis of which state-dict tensor.

    Attributes
    ----------
    axes : dict of str to tuple of (str or None)
        For every floating-point ``state_dict`` key of the model, one entry per axis of the
        tensor: the name of the permutation acting on that axis, or None. E.g. for
        ``nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 1))``:
        ``{"0.weight": ("P_0", None), "0.bias": ("P_0",), "2.weight": (None, "P_0"),
        "2.bias": (None,)}``. Keys of non-floating buffers (``num_batches_tracked``) may be
        left out.
    activations : dict of str to tuple of str
        For activation matching: permutation name to the names of the modules whose outputs
        carry it on their channel axis (axis 1 of an ``(N, C, ...)`` output, or the feature
        axis of an ``(N, F)`` one). Optional for weight matching.

    Examples
    --------
    >>> spec = PermutationSpec({"0.weight": ("P", None), "0.bias": ("P",), "1.weight": (None, "P"),
    ...                         "1.bias": (None,)})
    >>> spec.perms
    ['P']
    >>> spec.perm_to_axes["P"]
    [('0.weight', 0), ('0.bias', 0), ('1.weight', 1)]
    """

    axes: Dict[str, Tuple[Optional[str], ...]]
    activations: Dict[str, Tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self):
        if not isinstance(self.axes, Mapping):
            raise TypeError(f"PermutationSpec: axes must be a dict of state_dict key to a tuple of permutation "
                            f"names (or None) per axis, got {type(self.axes).__name__}")
        axes = OrderedDict()
        for k, v in self.axes.items():
            if not isinstance(k, str):
                raise TypeError(f"PermutationSpec: axes keys must be state_dict keys (str), got {k!r}")
            if isinstance(v, (str, bytes)) or not isinstance(v, Sequence):
                raise TypeError(f"PermutationSpec: axes[{k!r}] must be a tuple with one permutation name or None per "
                                f"axis of the tensor, got {v!r}")
            for p in v:
                if p is not None and not isinstance(p, str):
                    raise TypeError(f"PermutationSpec: axes[{k!r}] holds {p!r}; entries must be permutation names "
                                    "(str) or None")
            axes[k] = tuple(v)
        if not isinstance(self.activations, Mapping):
            raise TypeError(f"PermutationSpec: activations must be a dict of permutation name to module names, got "
                            f"{type(self.activations).__name__}")
        acts = OrderedDict()
        for p, names in self.activations.items():
            names = (names,) if isinstance(names, str) else tuple(names)
            if not all(isinstance(n, str) for n in names):
                raise TypeError(f"PermutationSpec: activations[{p!r}] must be module names (str), got {names!r}")
            acts[str(p)] = names
        self.axes, self.activations = axes, acts
        known = set(self.perms)
        for p in acts:
            if p not in known:
                raise ValueError(f"PermutationSpec: activations names permutation {p!r}, which acts on no axis; "
                                 f"the permutations are {sorted(known)}")

    @property
    def perm_to_axes(self) -> "OrderedDict[str, List[Tuple[str, int]]]":
        """Permutation name to the (key, axis) pairs it acts on, in key order."""
        out: "OrderedDict[str, List[Tuple[str, int]]]" = OrderedDict()
        for k, ax in self.axes.items():
            for i, p in enumerate(ax):
                if p is not None:
                    out.setdefault(p, []).append((k, i))
        return out

    @property
    def perms(self) -> List[str]:
        """The permutations' names, in the order of their first axis."""
        return list(self.perm_to_axes)

    def sizes(self, state: Mapping[str, torch.Tensor]) -> "OrderedDict[str, int]":
        """Each permutation's size in ``state`` (a model's ``state_dict``), validating the spec
        against it: every floating-point key listed with one entry per axis, no unknown key,
        and each permutation's axes of a common size ``n`` or multiples of it (flattened
        channels). Raises ValueError naming the key otherwise."""
        for k in self.axes:
            if k not in state:
                raise ValueError(f"the permutation spec names {k!r}, which is not a state_dict key of the model")
        for k, v in state.items():
            if k not in self.axes:
                if torch.is_tensor(v) and v.is_floating_point():
                    raise ValueError(f"the permutation spec does not list state_dict key {k!r}; give its axes "
                                     f"({v.dim()} entries, None where no permutation acts)")
                continue
            if len(self.axes[k]) != v.dim():
                raise ValueError(f"the permutation spec gives {len(self.axes[k])} axes for {k!r}, which has "
                                 f"{v.dim()} (shape {tuple(v.shape)})")
        out: "OrderedDict[str, int]" = OrderedDict()
        for p, axes in self.perm_to_axes.items():
            lens = [int(state[k].shape[i]) for k, i in axes]
            n = min(lens)
            for (k, i), m in zip(axes, lens):
                if n == 0 or m % n:
                    raise ValueError(f"permutation {p!r} acts on axes of sizes {sorted(set(lens))}: {k!r} axis {i} has "
                                     f"{m} entries, not a multiple of {n}")
            out[p] = n
        return out

    def __repr__(self) -> str:
        perms = self.perm_to_axes
        lines = [f"PermutationSpec({len(perms)} permutations over {len(self.axes)} tensors)"]
        for p, axes in perms.items():
            shown = ", ".join(f"{k}[{i}]" for k, i in axes[:6]) + (", ..." if len(axes) > 6 else "")
            lines.append(f"  {p}: {shown}")
        return "\n".join(lines)


# ------------------------------------------------------------------- applying permutations --

def permute_axis(t: torch.Tensor, axis: int, perm: torch.Tensor) -> torch.Tensor:
    """``t`` with ``new[i] = old[perm[i]]`` along ``axis``: on single entries when the axis has
    ``len(perm)`` of them, on blocks of ``k`` consecutive entries when it has ``k * len(perm)``
    (flattened channels).

    Parameters
    ----------
    t : torch.Tensor
    axis : int
    perm : (n,) torch.Tensor of int64
        A permutation of ``range(n)``; ``t.shape[axis]`` is ``n`` or a multiple of it.

    Returns
    -------
    torch.Tensor
        A new tensor of ``t``'s shape.

    Examples
    --------
    >>> t = torch.arange(6.0).reshape(3, 2)
    >>> permute_axis(t, 0, torch.tensor([2, 0, 1]))
    tensor([[4., 5.],
            [0., 1.],
            [2., 3.]])
    >>> permute_axis(torch.arange(4.0), 0, torch.tensor([1, 0]))  # blocks of 2 (flattened channels)
    tensor([2., 3., 0., 1.])
    """
    n, m = perm.numel(), t.shape[axis]
    if m == n:
        return t.index_select(axis, perm)
    k = m // n  # blocks of k entries (flattened channels)
    shape = tuple(t.shape)
    v = t.reshape(shape[:axis] + (n, k) + shape[axis + 1:])
    return v.index_select(axis, perm).reshape(shape)


def check_permutations(spec: PermutationSpec, permutations, sizes) -> Dict[str, np.ndarray]:
    """``permutations`` validated: one permutation of ``range(n)`` per name of ``spec``.

    Parameters
    ----------
    spec : PermutationSpec
    permutations : dict of str to (n,) array-like of int
    sizes : dict of str to int
        Each permutation's size (:meth:`PermutationSpec.sizes`).

    Returns
    -------
    dict of str to (n,) ndarray of int64

    Raises
    ------
    TypeError
        ``permutations`` is not a mapping.
    ValueError
        A permutation missing, extra, or not a permutation of ``range(n)``.

    Examples
    --------
    >>> spec = PermutationSpec({"w": ("P",)})
    >>> check_permutations(spec, {"P": [1, 0, 2]}, {"P": 3})
    {'P': array([1, 0, 2])}
    >>> check_permutations(spec, {"P": [1, 1, 2]}, {"P": 3})
    Traceback (most recent call last):
    ...
    ValueError: permutations['P'] must be a permutation of range(3), got an array of shape (3,) and dtype int64
    """
    if not isinstance(permutations, Mapping):
        raise TypeError(f"permutations must be a dict of permutation name to index array, got {type(permutations).__name__}")
    out = {}
    for p, n in sizes.items():
        if p not in permutations:
            raise ValueError(f"permutations lacks {p!r}; the spec's permutations are {list(sizes)}")
        a = np.asarray(permutations[p])
        if a.shape != (n,) or a.dtype.kind not in "iu" or not np.array_equal(np.sort(a), np.arange(n)):
            raise ValueError(f"permutations[{p!r}] must be a permutation of range({n}), got an array of shape "
                             f"{a.shape} and dtype {a.dtype}")
        out[p] = a.astype(np.int64)
    extra = set(permutations) - set(sizes)
    if extra:
        raise ValueError(f"permutations names {sorted(extra)}, which the spec does not have")
    return out


def permute_state(state: Mapping[str, torch.Tensor], spec: PermutationSpec, permutations) -> "OrderedDict[str, torch.Tensor]":
    r"""A ``state_dict`` with the permutations applied: along every axis the spec assigns to
    permutation ``P``, ``new[i] = old[P[i]]`` (new tensors; ``state`` is not modified).

    Parameters
    ----------
    state : dict of str to Tensor
        A model's ``state_dict``.
    spec : PermutationSpec
    permutations : dict of str to (n,) int array
        One permutation of ``range(n)`` per name of the spec.

    Returns
    -------
    OrderedDict of str to Tensor

    Raises
    ------
    ValueError
        The spec does not fit ``state`` (see :meth:`PermutationSpec.sizes`), or a permutation
        is missing or not a permutation of ``range(n)``.

    Examples
    --------
    >>> spec = PermutationSpec({"weight": ("P", None), "bias": ("P",)})
    >>> m = nn.Linear(1, 3)
    >>> sd = permute_state(m.state_dict(), spec, {"P": np.array([2, 0, 1])})
    >>> torch.equal(sd["bias"], m.bias.detach()[[2, 0, 1]])
    True
    """
    if not isinstance(spec, PermutationSpec):
        raise TypeError(f"spec must be a PermutationSpec, got {type(spec).__name__}")
    sizes = spec.sizes(state)
    perms = check_permutations(spec, permutations, sizes)
    out: "OrderedDict[str, torch.Tensor]" = OrderedDict()
    for k, v in state.items():
        t = v.detach()
        for axis, p in enumerate(spec.axes.get(k, ())):
            if p is not None:
                t = permute_axis(t, axis, torch.as_tensor(perms[p], device=t.device))
        out[k] = t.clone() if t is v or t.data_ptr() == v.data_ptr() else t
    return out


# ----------------------------------------------------------------------- derivation (fx) --

_ACTIVATIONS = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.RReLU, nn.Tanh, nn.Sigmoid, nn.GELU, nn.SiLU, nn.Mish, nn.ELU,
                nn.SELU, nn.CELU, nn.Softplus, nn.Softsign, nn.Hardtanh, nn.Hardswish, nn.Hardsigmoid,
                nn.Tanhshrink, nn.LogSigmoid)
# modules that act on each channel alike (or on each channel separately): output carries the input's permutation
_EQUIVARIANT = _ACTIVATIONS + (
    nn.Identity, nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout,
    nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d,
    nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d,
    nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d, nn.LPPool1d, nn.LPPool2d,
    nn.Softmax, nn.LogSoftmax, nn.Upsample, nn.ZeroPad1d, nn.ZeroPad2d, nn.ZeroPad3d,
    nn.ConstantPad1d, nn.ConstantPad2d, nn.ConstantPad3d, nn.ReflectionPad1d, nn.ReflectionPad2d,
    nn.ReplicationPad1d, nn.ReplicationPad2d,
)
_BATCHNORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)
_PER_CHANNEL_NORMS = _BATCHNORMS + (nn.InstanceNorm1d, nn.InstanceNorm2d, nn.InstanceNorm3d)
_CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_CONV_TRANSPOSES = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)

_EQUIVARIANT_FUNCTIONS = {
    F.relu, F.relu6, F.leaky_relu, F.gelu, F.silu, F.mish, F.elu, F.selu, F.celu, F.softplus, F.hardtanh,
    F.hardswish, F.hardsigmoid, F.sigmoid, F.tanh, F.logsigmoid, F.softsign, F.dropout, F.dropout1d, F.dropout2d,
    F.dropout3d, F.alpha_dropout, F.max_pool1d, F.max_pool2d, F.max_pool3d, F.avg_pool1d, F.avg_pool2d,
    F.avg_pool3d, F.adaptive_avg_pool1d, F.adaptive_avg_pool2d, F.adaptive_avg_pool3d, F.adaptive_max_pool1d,
    F.adaptive_max_pool2d, F.adaptive_max_pool3d, F.softmax, F.log_softmax, F.normalize, F.interpolate, F.pad,
    torch.relu, torch.sigmoid, torch.tanh, torch.exp, torch.abs, torch.neg, torch.square, torch.sqrt, torch.clamp,
    torch.clip, torch.softmax, torch.log_softmax, torch.max_pool2d, torch.avg_pool1d, operator.neg, operator.pos,
    builtins.abs,
}
_EQUIVARIANT_METHODS = {
    "relu", "relu_", "sigmoid", "sigmoid_", "tanh", "tanh_", "exp", "abs", "neg", "square", "sqrt", "clamp",
    "clamp_", "clip", "softmax", "log_softmax", "contiguous", "clone", "detach", "float", "double", "half",
    "to", "type_as", "pow",
}
_BINARY_FUNCTIONS = {operator.add, operator.sub, operator.mul, operator.truediv, operator.iadd, operator.imul,
                     torch.add, torch.sub, torch.mul, torch.div, torch.maximum, torch.minimum}
_BINARY_METHODS = {"add", "add_", "sub", "sub_", "mul", "mul_", "div", "div_"}
_REDUCTIONS = {"mean", "sum", "amax", "amin"}
_NOT_TENSOR = "not a tensor"


class _UnionFind:
    def __init__(self):
        self.parent: List[int] = []
        self.names: List[Optional[str]] = []

    def new(self, name) -> int:
        self.parent.append(len(self.parent))
        self.names.append(name)
        return len(self.parent) - 1

    def find(self, i: int) -> int:
        root = i
        while self.parent[root] != root:  # bounded by the number of variables
            root = self.parent[root]
        while self.parent[i] != root:
            self.parent[i], i = root, self.parent[i]
        return root

    def union(self, i: int, j: int) -> int:
        ri, rj = self.find(i), self.find(j)
        if ri != rj:  # the older variable is the root: the fixed one (0) always stays fixed
            ri, rj = min(ri, rj), max(ri, rj)
            self.parent[rj] = ri
        return ri


def _cannot(what: str) -> ValueError:
    return ValueError(f"cannot derive the permutation structure: {what}; write a PermutationSpec for this model "
                      "(radonml.lmc.PermutationSpec) and pass it as spec=")


class _Builder:
    """Propagates 'which permutation does this tensor's channel axis carry' through an fx graph."""

    FIXED = 0  # the inputs and outputs: never permuted

    def __init__(self, model: nn.Module):
        self.model = model
        self.uf = _UnionFind()
        self.uf.new(None)  # FIXED
        self.axes: Dict[str, tuple] = {}
        self.calls: List[Tuple[str, str, int]] = []  # (module name, role, variable)
        self.module_io: Dict[str, Tuple[int, int]] = {}
        self.size: Dict[int, int] = {}

    def new(self, name, size):
        v = self.uf.new(name)
        self.size[v] = int(size)
        return v

    def build(self, gm: torch.fx.GraphModule) -> PermutationSpec:
        env = {}
        for node in gm.graph.nodes:
            env[node] = self.visit(node, env)
        state = self.model.state_dict()
        axes = OrderedDict()
        for k, v in state.items():
            if not (torch.is_tensor(v) and v.is_floating_point()):
                continue
            rec = self.axes.get(k)
            axes[k] = tuple(self.name(x) for x in rec) if rec is not None else (None,) * v.dim()
        return PermutationSpec(axes, self.activation_points(set(p for ax in axes.values() for p in ax if p)))

    def name(self, var) -> Optional[str]:
        if var is None:
            return None
        r = self.uf.find(var)
        return None if r == self.FIXED else self.uf.names[r]

    def activation_points(self, perms) -> Dict[str, Tuple[str, ...]]:
        by_perm: Dict[str, Dict[str, List[str]]] = {}
        for mod, role, var in self.calls:
            p = self.name(var)
            if p is not None and p in perms:
                lst = by_perm.setdefault(p, {}).setdefault(role, [])
                if mod not in lst:
                    lst.append(mod)
        out = OrderedDict()
        for p in sorted(by_perm, key=lambda q: self.uf.names.index(q)):
            roles = by_perm[p]
            for role in ("activation", "norm", "layer", "other"):
                if roles.get(role):
                    out[p] = tuple(roles[role])
                    break
        return out

    # -- nodes --
    def tensor_vars(self, node, env) -> List[int]:
        found = []
        torch.fx.node.map_arg((node.args, node.kwargs), lambda n: found.append(env[n]) or n)
        return [v for v in found if v is not _NOT_TENSOR]

    def first_var(self, node, env) -> int:
        a = node.args[0] if node.args else next(iter(node.kwargs.values()), None)
        v = env.get(a, _NOT_TENSOR) if isinstance(a, torch.fx.Node) else _NOT_TENSOR
        if v is _NOT_TENSOR:
            raise _cannot(f"node {node.name!r} ({node.target}) does not act on a tensor the spec can follow")
        return v

    def visit(self, node, env):
        if node.op == "placeholder":
            return self.FIXED
        if node.op == "output":
            for v in self.tensor_vars(node, env):
                self.uf.union(v, self.FIXED)
            return None
        if node.op == "get_attr":
            raise _cannot(f"the forward reads the tensor {node.target!r} directly (not through a module the spec "
                          "knows), so how it is permuted cannot be told")
        if node.op == "call_module":
            return self.visit_module(node, env)
        if node.op == "call_function" and node.target is builtins.getattr:
            return _NOT_TENSOR  # x.shape and the like
        if node.op == "call_function" and node.target is operator.getitem:
            if env.get(node.args[0]) is _NOT_TENSOR:
                return _NOT_TENSOR
            raise _cannot(f"node {node.name!r} indexes a tensor (slicing or selecting channels)")
        if node.op == "call_method" and node.target in ("size", "dim", "numel"):
            return _NOT_TENSOR
        vs = self.tensor_vars(node, env)
        if vs and all(self.uf.find(v) == self.FIXED for v in vs):
            return self.FIXED  # any function of unpermuted tensors is unpermuted (e.g. reshaping the input)
        target = node.target
        name = target if isinstance(target, str) else getattr(target, "__name__", str(target))
        if (node.op == "call_function" and target in _BINARY_FUNCTIONS) or (
                node.op == "call_method" and target in _BINARY_METHODS):
            vs = self.tensor_vars(node, env)
            if not vs:
                return _NOT_TENSOR
            r = vs[0]
            for v in vs[1:]:
                r = self.uf.union(r, v)
            return r
        if (node.op == "call_function" and target in _EQUIVARIANT_FUNCTIONS) or (
                node.op == "call_method" and target in _EQUIVARIANT_METHODS):
            return self.first_var(node, env)
        if name == "flatten":
            start = node.args[1] if len(node.args) > 1 else node.kwargs.get("start_dim", 0)
            end = node.args[2] if len(node.args) > 2 else node.kwargs.get("end_dim", -1)
            if start != 1 or end != -1:
                raise _cannot(f"node {node.name!r} flattens from dimension {start} to {end}; only flatten(x, 1) "
                              "(channels then positions) keeps track of the channels")
            return self.first_var(node, env)
        if name in _REDUCTIONS:
            dims = node.args[1] if len(node.args) > 1 else node.kwargs.get("dim")
            dims = (dims,) if isinstance(dims, int) else dims
            if dims is None or not all(isinstance(d, int) and d >= 2 for d in dims):
                raise _cannot(f"node {node.name!r} reduces over dimensions {dims}; only reductions over positions "
                              "(dimensions >= 2 given explicitly) keep the channel axis")
            return self.first_var(node, env)
        raise _cannot(f"node {node.name!r} calls {name!r}, whose effect on the channel axis is not known "
                      "(supported: Linear, Conv, BatchNorm, LayerNorm, GroupNorm, element-wise activations, pooling, "
                      "flatten(x, 1), additions and products of tensors)")

    def record(self, key, axes):
        old = self.axes.get(key)
        if old is not None:  # a module called twice: its tensors' axes must agree
            for a, b in zip(old, axes):
                if (a is None) != (b is None):
                    raise _cannot(f"{key!r} is used twice with different channel structure")
                if a is not None:
                    self.uf.union(a, b)
        else:
            self.axes[key] = axes

    def visit_module(self, node, env):
        name = node.target
        mod = self.model.get_submodule(name)
        v_in = self.first_var(node, env)
        if name in self.module_io:  # shared module: same input permutation, same output
            old_in, old_out = self.module_io[name]
            self.uf.union(v_in, old_in)
            return old_out
        try:
            return self.visit_known_module(name, mod, v_in)
        except ValueError:
            if self.uf.find(v_in) != self.FIXED:
                raise
        # a module of unknown channel structure on unpermuted inputs: nothing of it is permuted
        p = f"{name}."
        for n, t in list(mod.named_parameters(recurse=False)) + list(mod.named_buffers(recurse=False)):
            if t is not None and t.is_floating_point():
                self.axes[p + n] = (None,) * t.dim()
        self.module_io[name] = (v_in, self.FIXED)
        return self.FIXED

    def visit_known_module(self, name, mod, v_in):
        p = f"{name}."
        if isinstance(mod, nn.Linear):
            out = self.new(f"P_{name}", mod.out_features)
            self.record(p + "weight", (out, v_in))
            if mod.bias is not None:
                self.record(p + "bias", (out,))
            role = "layer"
        elif isinstance(mod, _CONVS + _CONV_TRANSPOSES):
            transposed = isinstance(mod, _CONV_TRANSPOSES)
            k = (None,) * (mod.weight.dim() - 2)
            if mod.groups == 1:
                out = self.new(f"P_{name}", mod.out_channels)
                self.record(p + "weight", ((v_in, out) if transposed else (out, v_in)) + k)
            elif mod.groups == mod.in_channels == mod.out_channels:  # depthwise: one filter per channel
                out = v_in
                self.record(p + "weight", (v_in, None) + k)
            else:
                raise _cannot(f"module {name!r} ({type(mod).__name__}) is a grouped convolution (groups={mod.groups}); "
                              "its channels can only be permuted within groups")
            if mod.bias is not None:
                self.record(p + "bias", (out,))
            role = "layer"
        elif isinstance(mod, _PER_CHANNEL_NORMS) or isinstance(mod, nn.GroupNorm):
            if isinstance(mod, nn.GroupNorm) and mod.num_groups not in (1, mod.num_channels):
                raise _cannot(f"module {name!r} (GroupNorm with {mod.num_groups} groups of {mod.num_channels} channels) "
                              "ties channels into groups; only 1 group or one channel per group are permutation "
                              "equivariant")
            out = v_in
            for t in ("weight", "bias", "running_mean", "running_var"):
                if getattr(mod, t, None) is not None:
                    self.record(p + t, (out,))
            role = "norm"
        elif isinstance(mod, nn.LayerNorm):
            out = v_in
            shape = tuple(mod.normalized_shape)
            if mod.weight is not None:
                root = self.uf.find(out)
                if root != self.FIXED and shape[0] % self.size.get(root, 1):
                    raise _cannot(f"module {name!r} (LayerNorm{shape}) does not normalize over the channel axis "
                                  f"({self.size.get(root)} channels)")
                ax = (out,) + (None,) * (len(shape) - 1)
                self.record(p + "weight", ax)
                if mod.bias is not None:
                    self.record(p + "bias", ax)
            role = "norm"
        elif isinstance(mod, nn.PReLU):
            out = v_in
            self.record(p + "weight", (out if mod.num_parameters > 1 else None,))
            role = "activation"
        elif isinstance(mod, nn.Flatten):
            if mod.start_dim != 1 or mod.end_dim != -1:
                raise _cannot(f"module {name!r} (Flatten(start_dim={mod.start_dim}, end_dim={mod.end_dim})) mixes the "
                              "channel axis with others; only Flatten(1, -1) keeps track of the channels")
            out = v_in
            role = "other"
        elif isinstance(mod, _EQUIVARIANT):
            out = v_in
            role = "activation" if isinstance(mod, _ACTIVATIONS) else "other"
        else:
            raise _cannot(f"module {name!r} ({type(mod).__name__}) is not one whose channel structure is known "
                          "(Linear, Conv, BatchNorm, LayerNorm, GroupNorm, element-wise activations, pooling, Flatten)")
        own = [n for n, _ in mod.named_parameters(recurse=False)]
        missing = [n for n in own if p + n not in self.axes]
        if missing:
            raise _cannot(f"module {name!r} ({type(mod).__name__}) has parameter {missing[0]!r}, whose role is not known")
        self.module_io[name] = (v_in, out)
        self.calls.append((name, role, out))
        return out


def permutation_spec(model: nn.Module, *, example_input=None) -> PermutationSpec:
    r"""The permutation symmetries of ``model``'s hidden units, derived from a ``torch.fx`` trace.

    Every ``nn.Linear``/``nn.Conv*d`` output that is not the model's output gets a
    permutation (named ``"P_<module>"``) acting on that layer's output axis, the
    normalization layers and element-wise activations after it, and the input axis of the
    layers that read it. Tensors added together (residual connections) or multiplied share
    one permutation (named after the earliest of them). Supported: Linear, Conv (and
    depthwise Conv), ConvTranspose, BatchNorm, InstanceNorm, LayerNorm over the channels,
    GroupNorm with 1 group or one channel per group, element-wise activations, dropout,
    pooling, ``flatten(x, 1)``, reductions over positions, sums and products of tensors.
    Anything applied to unpermuted tensors only (e.g. reshaping or embedding the raw input)
    is left unpermuted, whatever it is. Activations are ``(N, C, ...)`` with the channel axis
    1, or ``(N, F)``.

    Parameters
    ----------
    model : torch.nn.Module
        E.g. an ``nn.Sequential`` MLP or CNN, or a residual network whose ``forward`` torch.fx
        can trace (no control flow on tensor values).
    example_input : Tensor, optional
        An input batch: when given, the spec is checked by permuting a copy of the model with
        random permutations and comparing outputs (:func:`check_permutation_spec`).

    Returns
    -------
    PermutationSpec

    Raises
    ------
    TypeError
        ``model`` is not a module.
    ValueError
        torch.fx cannot trace the model, or a module or operation whose channel structure is
        unknown (the message names it): write a :class:`PermutationSpec` instead.

    References
    ----------
    S. K. Ainsworth, J. Hayase, S. Srinivasa, "Git Re-Basin: Merging models modulo permutation
    symmetries", ICLR 2023 (permutation specs; weight matching).

    Examples
    --------
    >>> m = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 1))
    >>> permutation_spec(m).perms
    ['P_0', 'P_2']
    >>> permutation_spec(m).axes["2.weight"]
    ('P_2', 'P_0')
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    try:
        gm = torch.fx.symbolic_trace(model)
    except Exception as exc:
        raise ValueError(f"cannot derive the permutation structure of {type(model).__name__}: torch.fx cannot trace "
                         f"its forward ({type(exc).__name__}: {exc}); write a PermutationSpec for this model "
                         "(radonml.lmc.PermutationSpec) and pass it as spec=") from exc
    spec = _Builder(model).build(gm)
    if example_input is not None:
        check_permutation_spec(model, spec, example_input)
    return spec


def check_permutation_spec(model: nn.Module, spec: PermutationSpec, example_input, *, rng=0, rtol: float = 1e-4) -> float:
    r"""Check that permuting ``model`` by ``spec`` leaves its function unchanged.

    Applies one random permutation per name of ``spec`` to a copy of ``model`` and compares
    the outputs on ``example_input`` (eval mode):
    :math:`\max|f_\pi(x) - f(x)| \le \mathrm{rtol} \cdot \max(1, \max|f(x)|)`.

    Parameters
    ----------
    model : torch.nn.Module
    spec : PermutationSpec
    example_input : Tensor
        A batch of inputs.
    rng : int or numpy.random.Generator, default 0
    rtol : float, default 1e-4

    Returns
    -------
    float
        The largest absolute change of an output.

    Raises
    ------
    ValueError
        The permuted model computes another function (the spec is wrong for this model), the
        spec does not fit the model's tensors, or the outputs are not finite.

    Examples
    --------
    >>> m = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 1))
    >>> check_permutation_spec(m, permutation_spec(m), torch.randn(5, 2)) < 1e-5
    True
    """
    import copy

    from .._validation import check_rng

    g = check_rng(rng)
    state = model.state_dict()
    sizes = spec.sizes(state)
    perms = {p: g.permutation(n) for p, n in sizes.items()}
    other = copy.deepcopy(model).eval()
    other.load_state_dict(permute_state(state, spec, perms))
    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            x = example_input if isinstance(example_input, tuple) else (example_input,)
            y0, y1 = model(*x), other(*x)
    finally:
        model.train(was)
    if not bool(torch.isfinite(y0).all()):
        raise ValueError("the model's outputs on example_input are not finite (NaN or inf), so whether the permutation "
                         "spec keeps its function cannot be checked")
    diff = float((y1 - y0).abs().max()) if y0.numel() else 0.0
    scale = max(1.0, float(y0.abs().max())) if y0.numel() else 1.0
    if not diff <= rtol * scale:
        raise ValueError(f"the permutation spec does not fit this model: permuting its hidden units by it changes "
                         f"the output by up to {diff:.3g} (scale {scale:.3g}); write a PermutationSpec that "
                         "assigns each permutation to every axis it acts on")
    return diff
