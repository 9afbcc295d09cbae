r"""REPAIR: the statistics of a merged network's hidden units reset to the interpolation of the
endpoints' (Jordan et al., ICLR 2023), for networks without BatchNorm.

Interpolating two aligned networks shrinks the variance of their hidden units ("variance
collapse"), which costs most of the barrier left after alignment. REPAIR measures, for every
hidden layer l and channel c, the mean and standard deviation of the pre-activations of the
endpoints, :math:`\mu^A_{lc}, \sigma^A_{lc}` and :math:`\mu^B_{lc}, \sigma^B_{lc}`, and makes
the interpolated network's match their interpolation,

.. math:: \mu^{(\alpha)}_{lc} = (1-\alpha)\mu^A_{lc} + \alpha\mu^B_{lc}, \qquad
          \sigma^{(\alpha)}_{lc} = (1-\alpha)\sigma^A_{lc} + \alpha\sigma^B_{lc},

by an affine correction per channel fused into the layer:
:math:`W_c \leftarrow s_c W_c`, :math:`b_c \leftarrow s_c(b_c - m_c) + \mu^{(\alpha)}_{lc}`,
:math:`s_c = \sigma^{(\alpha)}_{lc}/\sqrt{v_c + \epsilon}`, where :math:`m_c, v_c` are the
interpolated network's own statistics, measured as BatchNorm re-estimation measures them
(:mod:`radonml.lmc.batchnorm`: one pass in which every corrected layer already normalizes
with its batch's statistics, cumulative averages over batches). Networks with BatchNorm get
the same effect from re-estimating their statistics (``bn_data=``).

References
----------
K. Jordan, H. Sedghi, O. Saukh, R. Entezari, B. Neyshabur, "REPAIR: REnormalizing Permuted
Activations for Interpolation Repair", ICLR 2023.
"""

from __future__ import annotations

import copy
import numbers
from dataclasses import dataclass
from typing import Callable, Dict, Iterable, List, Optional, Tuple

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, vmap

from .._validation import check_int
from ._data import DEFAULT_BATCH_SIZE, device_dtype, input_batches, loop_beats_vmap
from .batchnorm import batch_normalize, batchnorm_layers
from .permutations import PermutationSpec, permutation_spec

__all__ = ["repair", "repair_layers", "UnitStatistics", "unit_statistics", "interpolated_targets", "stacked_repair",
           "REPAIR_EPS"]

#: The :math:`\epsilon` of the correction (BatchNorm's default).
REPAIR_EPS = 1e-5

_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


def repair_layers(model: nn.Module, spec: Optional[PermutationSpec] = None) -> List[str]:
    """The layers REPAIR corrects: every ``nn.Linear``/``nn.Conv*d`` whose outputs are hidden
    units (a permutation of ``spec`` acts on their weight's output axis), in model order.

    Parameters
    ----------
    model : torch.nn.Module
    spec : PermutationSpec, optional
        Default: derived from ``model`` (:func:`~radonml.lmc.permutation_spec`).

    Returns
    -------
    list of str
        Module names.

    Raises
    ------
    TypeError
        ``model`` is not a module.
    ValueError
        The model has BatchNorm (re-estimate its statistics instead), its structure cannot
        be derived (the message names the module), a layer to correct has no bias, or there
        is no hidden layer.

    Examples
    --------
    >>> import torch
    >>> _ = torch.manual_seed(0)
    >>> net = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1))
    >>> repair_layers(net)
    ['0']
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    bns = batchnorm_layers(model)
    if bns:
        raise ValueError(f"REPAIR is for networks without BatchNorm; this one has BatchNorm layer {bns[0]!r}, whose "
                         "statistics are re-estimated at each point instead (bn_data=)")
    spec = permutation_spec(model) if spec is None else spec
    out = []
    for name, mod in model.named_modules():
        if isinstance(mod, _LAYERS):
            ax = spec.axes.get(f"{name}.weight" if name else "weight")
            if ax and ax[0] is not None:
                if mod.bias is None:
                    raise ValueError(f"REPAIR corrects each hidden layer's outputs through its bias, and layer {name!r} "
                                     f"({type(mod).__name__}) has none")
                out.append(name)
    if not out:
        raise ValueError("the model has no hidden Linear or Conv layer for REPAIR to correct")
    return out


@dataclass
class UnitStatistics:
    """Per-channel mean and standard deviation of some layers' outputs.

    Attributes
    ----------
    mean, std : dict of str to Tensor (C,)
        Layer name to its channels' mean and standard deviation (square root of the
        cumulative average of the unbiased batch variances).

    Examples
    --------
    >>> import torch
    >>> stats = UnitStatistics(mean={"0": torch.zeros(3)}, std={"0": torch.ones(3)})
    >>> stats.std["0"]
    tensor([1., 1., 1.])
    """

    mean: Dict[str, torch.Tensor]
    std: Dict[str, torch.Tensor]


def unit_statistics(model: nn.Module, layers: List[str], data, *, batch_size: int = DEFAULT_BATCH_SIZE) -> UnitStatistics:
    """Per-channel statistics of ``layers``' outputs on ``data`` (eval mode, outputs unchanged):
    cumulative averages over batches of the batch means and unbiased batch variances.

    Parameters
    ----------
    model : torch.nn.Module
        Not modified (a copy runs with forward hooks).
    layers : list of str
        Module names (:func:`repair_layers`).
    data : Tensor, (X, y) pair or DataLoader
        The inputs (labels are ignored).
    batch_size : int, default 1024
        Rows per forward pass when ``data`` is a tensor.

    Returns
    -------
    UnitStatistics

    Raises
    ------
    ValueError
        A layer that does not run in the forward pass, a batch with one value per channel, or
        statistics that are not finite.

    Examples
    --------
    >>> import torch
    >>> _ = torch.manual_seed(0)
    >>> net = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1))
    >>> X = torch.randn(32, 2)
    >>> stats = unit_statistics(net, ["0"], X)
    >>> torch.allclose(stats.mean["0"], net[0](X).mean(0).double(), atol=1e-6)
    True
    """
    m = copy.deepcopy(model).eval()
    mods = dict(m.named_modules())
    sums: Dict[str, List[torch.Tensor]] = {}
    handles = []

    def hook(name):
        def f(_mod, _args, out):
            _, mean, var = batch_normalize(out, None, None, 0.0, name)
            s = sums.setdefault(name, [torch.zeros_like(mean, dtype=torch.float64), torch.zeros_like(var, dtype=torch.float64), 0])
            s[0] += mean.double()
            s[1] += var.double()
            s[2] += 1
        return f

    for n in layers:
        handles.append(mods[n].register_forward_hook(hook(n)))
    dev, dt = device_dtype(m)
    try:
        with torch.no_grad():
            for x in input_batches(data, "data", dev, dt, batch_size=batch_size):
                m(x)
    finally:
        for h in handles:
            h.remove()
    mean, std = {}, {}
    for n in layers:
        if n not in sums:
            raise ValueError(f"layer {n!r} does not run in the model's forward")
        s = sums[n]
        mean[n], std[n] = s[0] / s[2], torch.sqrt(s[1] / s[2])
        if not (bool(torch.isfinite(mean[n]).all()) and bool(torch.isfinite(std[n]).all())):
            raise ValueError(f"the statistics of layer {n!r} are not finite (NaN or inf) on data: the activations overflow")
    return UnitStatistics(mean, std)


class _Resetter:
    """Forward hooks that normalize each layer's outputs with the batch's statistics to the
    current targets and record (name, mean, unbiased variance)."""

    def __init__(self, template, layers, eps):
        self.modules = dict(template.named_modules())
        self.layers, self.eps = layers, eps
        self.targets: Dict[str, Tuple[torch.Tensor, torch.Tensor]] = {}
        self.calls: List[Tuple[str, torch.Tensor, torch.Tensor]] = []
        self.handles = []

    def __enter__(self):
        for n in self.layers:
            self.handles.append(self.modules[n].register_forward_hook(self._hook(n)))
        return self

    def __exit__(self, *exc):
        for h in self.handles:
            h.remove()

    def _hook(self, name):
        def f(_mod, _args, out):
            t_mean, t_std = self.targets[name]
            y, mean, var = batch_normalize(out, t_std, t_mean, self.eps, name)
            self.calls.append((name, mean, var))
            return y
        return f


def stacked_repair(template: nn.Module, stacked: Dict[str, torch.Tensor], shared: Dict[str, torch.Tensor], n_points: int,
                   batches: Callable[[], Iterable[torch.Tensor]], layers: List[str], target_mean: Dict[str, torch.Tensor],
                   target_std: Dict[str, torch.Tensor], *, eps: float = REPAIR_EPS,
                   describe: Callable[[int], str] = str) -> Tuple[Dict[str, torch.Tensor], str]:
    r"""REPAIR of ``n_points`` parameter sets at once: the corrected weights and biases.

    Parameters
    ----------
    template, stacked, shared, n_points, batches
        As in :func:`radonml.lmc.batchnorm.stacked_batchnorm_statistics`.
    layers : list of str
        The layers to correct (:func:`repair_layers`).
    target_mean, target_std : dict of str to Tensor (n_points, C)
        The statistics each point's layers are given.
    eps : float, default 1e-5
    describe : callable(int) -> str

    Returns
    -------
    (dict, str)
        ``weight`` and ``bias`` of every corrected layer, shape (n_points, ...), and the
        method (``"vmap"`` or ``"loop"``).

    References
    ----------
    K. Jordan, H. Sedghi, O. Saukh, R. Entezari, B. Neyshabur, "REPAIR: REnormalizing Permuted
    Activations for Interpolation Repair", ICLR 2023.

    Examples
    --------
    Give the hidden layer of one parameter set the statistics of its own outputs: REPAIR
    changes (almost) nothing.

    >>> import torch
    >>> _ = torch.manual_seed(0)
    >>> net = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1))
    >>> X = torch.randn(64, 2)
    >>> stats = unit_statistics(net, ["0"], X)
    >>> state = net.state_dict()
    >>> stacked = {k: v.unsqueeze(0) for k, v in state.items() if k.startswith("0.")}
    >>> shared = {k: v for k, v in state.items() if not k.startswith("0.")}
    >>> mean, std = interpolated_targets(stats, stats, [0.0], ["0"], torch.float32)
    >>> new, method = stacked_repair(net, stacked, shared, 1, lambda: [X], ["0"], mean, std)
    >>> torch.allclose(new["0.weight"][0], state["0.weight"], atol=1e-3)
    True
    """
    try:
        return _repair(template, stacked, shared, n_points, batches, layers, target_mean, target_std, eps, describe, True)
    except _VmapFailed:
        return _repair(template, stacked, shared, n_points, batches, layers, target_mean, target_std, eps, describe, False)


class _VmapFailed(Exception):
    pass


def _repair(template, stacked, shared, n_points, batches, layers, target_mean, target_std, eps, describe, allow_vmap):
    order: List[str] = []
    sums: Dict[str, List] = {}
    method = "vmap" if allow_vmap and not loop_beats_vmap(template) else "loop"
    with _Resetter(template, layers, eps) as rec:
        def run(bp, tm, ts, x):
            rec.calls.clear()
            rec.targets = {n: (tm[n], ts[n]) for n in layers}
            params = dict(shared)
            params.update(bp)
            functional_call(template, params, (x,))
            order[:] = [c[0] for c in rec.calls]
            return tuple(c[1] for c in rec.calls), tuple(c[2] for c in rec.calls)

        n_batches = 0
        for x in batches():
            n_batches += 1
            if method == "vmap":
                try:
                    means, vars_ = vmap(run, in_dims=(0, 0, 0, None))(stacked, target_mean, target_std, x)
                except ValueError:
                    raise
                except Exception as exc:
                    raise _VmapFailed() from exc
            else:
                outs = [run({k: v[j] for k, v in stacked.items()}, {n: v[j] for n, v in target_mean.items()},
                            {n: v[j] for n, v in target_std.items()}, x) for j in range(n_points)]
                means = tuple(torch.stack([o[0][i] for o in outs]) for i in range(len(order)))
                vars_ = tuple(torch.stack([o[1][i] for o in outs]) for i in range(len(order)))
            for name, m, v in zip(order, means, vars_):
                s = sums.setdefault(name, [0.0, 0.0, 0])
                s[0] = s[0] + m.double()
                s[1] = s[1] + v.double()
                s[2] += 1
    if n_batches == 0:
        raise ValueError("the data for REPAIR's statistics yielded no examples")
    out = {}
    for name in layers:
        if name not in sums:
            raise ValueError(f"layer {name!r} does not run in the model's forward")
        s = sums[name]
        mean, var = s[0] / s[2], s[1] / s[2]  # (P, C)
        scale = target_std[name].double() / torch.sqrt(var + eps)
        bad = ~torch.isfinite(scale).all(1) | ~torch.isfinite(mean).all(1)
        if bool(bad.any()):
            raise ValueError(f"REPAIR: the statistics of layer {name!r} are not finite at {describe(int(torch.nonzero(bad)[0]))}")
        p = f"{name}." if name else ""
        W = stacked.get(p + "weight")
        W = W if W is not None else shared[p + "weight"].unsqueeze(0).expand(n_points, *shared[p + "weight"].shape)
        b = stacked.get(p + "bias")
        b = b if b is not None else shared[p + "bias"].unsqueeze(0).expand(n_points, *shared[p + "bias"].shape)
        sv = scale.view(n_points, -1, *([1] * (W.dim() - 2)))
        out[p + "weight"] = (W.double() * sv).to(W.dtype)
        out[p + "bias"] = ((b.double() - mean) * scale + target_mean[name].double()).to(b.dtype)
    return out, method


def interpolated_targets(stats_a: UnitStatistics, stats_b: UnitStatistics, alphas, layers, dtype) -> Tuple[Dict, Dict]:
    r"""Targets (n_points, C) in ``dtype`` per layer: the endpoints' means and standard
    deviations interpolated at ``alphas``,
    :math:`\mu^{(\alpha)} = (1-\alpha)\mu^A + \alpha\mu^B` and likewise :math:`\sigma^{(\alpha)}`.

    Parameters
    ----------
    stats_a, stats_b : UnitStatistics
        Of the endpoints (:func:`unit_statistics`).
    alphas : (n_points,) array-like of float
    layers : list of str
    dtype : torch.dtype
        Of the returned tensors.

    Returns
    -------
    target_mean, target_std : dict of str to (n_points, C) Tensor

    Examples
    --------
    >>> import torch
    >>> a = UnitStatistics(mean={"0": torch.zeros(2)}, std={"0": torch.ones(2)})
    >>> b = UnitStatistics(mean={"0": torch.ones(2)}, std={"0": 3 * torch.ones(2)})
    >>> mean, std = interpolated_targets(a, b, [0.0, 0.5], ["0"], torch.float32)
    >>> std["0"]
    tensor([[1., 1.],
            [2., 2.]])
    """
    al = torch.as_tensor(np.asarray(alphas, dtype=np.float64)).view(-1, 1)
    tm = {n: (1 - al) * stats_a.mean[n].cpu().view(1, -1) + al * stats_b.mean[n].cpu().view(1, -1) for n in layers}
    ts = {n: (1 - al) * stats_a.std[n].cpu().view(1, -1) + al * stats_b.std[n].cpu().view(1, -1) for n in layers}
    dev = stats_a.mean[layers[0]].device
    return ({n: v.to(dev, dtype) for n, v in tm.items()}, {n: v.to(dev, dtype) for n, v in ts.items()})


def repair(model_a: nn.Module, model_b: nn.Module, alpha: float, data, *, spec: Optional[PermutationSpec] = None,
           batch_size: int = DEFAULT_BATCH_SIZE, eps: float = REPAIR_EPS) -> nn.Module:
    r"""The interpolated model :math:`(1-\alpha)\theta_A + \alpha\theta_B` with REPAIR applied.

    Every hidden ``nn.Linear``/``nn.Conv*d`` layer's outputs get, per channel, the mean and
    standard deviation interpolated from the endpoints',
    :math:`(1-\alpha)\mu^A + \alpha\mu^B` and :math:`(1-\alpha)\sigma^A + \alpha\sigma^B`,
    by a per-channel affine correction fused into the layer's weight and bias (see the
    module docstring). Align B to A first (:func:`~radonml.lmc.weight_matching`); REPAIR
    addresses the variance collapse that remains.

    Parameters
    ----------
    model_a, model_b : torch.nn.Module
        Same architecture, without BatchNorm; not modified.
    alpha : float
    data : tensor X, (X,) / (X, y) tensors, or a DataLoader of batches
        Inputs the statistics are measured on (tensors in batches of ``batch_size`` rows).
    spec : PermutationSpec, optional
        Which layers are hidden (default: derived from ``model_a``).
    batch_size : int, default 1024
    eps : float, default 1e-5

    Returns
    -------
    torch.nn.Module
        A new module (a copy of ``model_a``'s architecture), in eval mode.

    Raises
    ------
    ValueError
        The model has BatchNorm; its structure cannot be derived; a hidden layer without bias;
        statistics that are not finite.

    References
    ----------
    K. Jordan, H. Sedghi, O. Saukh, R. Entezari, B. Neyshabur, "REPAIR: REnormalizing Permuted
    Activations for Interpolation Repair", ICLR 2023.

    Examples
    --------
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> a = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 1))
    >>> b = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 1))
    >>> x = torch.randn(500, 2)
    >>> m = repair(a, b, 0.5, x)
    >>> target = 0.5 * (a[0](x).std(0) + b[0](x).std(0))
    >>> bool(torch.allclose(m[0](x).std(0), target, rtol=1e-3))
    True
    """
    for name, m in (("model_a", model_a), ("model_b", model_b)):
        if not isinstance(m, nn.Module):
            raise TypeError(f"{name} must be a torch.nn.Module, got {type(m).__name__}")
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not np.isfinite(alpha):
        raise TypeError(f"alpha must be a finite real number, got {alpha!r}")
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    layers = repair_layers(model_a, spec)
    sa, sb = model_a.state_dict(), model_b.state_dict()
    if sa.keys() != sb.keys() or any(sa[k].shape != sb[k].shape for k in sa):
        raise ValueError("model_a and model_b must have the same architecture")
    st_a = unit_statistics(model_a, layers, data, batch_size=batch_size)
    st_b = unit_statistics(model_b, layers, data, batch_size=batch_size)
    state = {k: ((1 - alpha) * v + alpha * sb[k]) if v.is_floating_point() else v for k, v in sa.items()}
    stacked = {k: v.unsqueeze(0) for k, v in state.items() if v.is_floating_point()}
    shared = {k: v for k, v in state.items() if k not in stacked}
    template = copy.deepcopy(model_a).eval()
    dev, dt = device_dtype(template)
    tm, ts = interpolated_targets(st_a, st_b, [alpha], layers, dt)
    with torch.no_grad():
        new, _ = stacked_repair(template, stacked, shared, 1, lambda: input_batches(data, "data", dev, dt, batch_size=batch_size),
                                layers, tm, ts, eps=eps, describe=lambda _j: f"alpha = {alpha:g}")
    state.update({k: v[0] for k, v in new.items()})
    template.load_state_dict(state)
    return template
