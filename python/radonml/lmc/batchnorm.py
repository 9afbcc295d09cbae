r"""BatchNorm statistics re-estimated for a model, or for every point of a path at once.

The running statistics of a BatchNorm layer belong to the network they were measured in: a
point :math:`\theta(\alpha)` of an interpolation path computes other activations than either
endpoint, so its statistics interpolated from the endpoints' are not its own, and a barrier
measured with them is an artefact (Garipov et al., 2018; Jordan et al., 2023). The field's
remedy, :func:`torch.optim.swa_utils.update_bn`, re-estimates them with one pass over data
in training mode, as a cumulative average over batches (``momentum=None``):

.. math:: \hat\mu = \frac1K\sum_{k=1}^K \mu_k, \qquad
          \hat\sigma^2 = \frac1K\sum_{k=1}^K \frac{n_k}{n_k - 1}\,\sigma_k^2,

with :math:`\mu_k, \sigma_k^2` the mean and (biased) variance of the layer's input over the
:math:`n_k` entries per channel of batch k; every layer normalizes with its batch's
statistics during the pass, as in training. :func:`reestimate_bn` does this for one model;
:func:`stacked_batchnorm_statistics` does it for many parameter sets in one vmapped forward
pass per batch (the path functions of :mod:`radonml.lmc` use it through ``bn_data=``).
Unlike ``update_bn``, the other layers stay in eval mode (dropout off), so the estimate is
deterministic.

References
----------
T. Garipov, P. Izmailov, D. Podoprikhin, D. Vetrov, A. G. Wilson, "Loss surfaces, mode
connectivity, and fast ensembling of DNNs", NeurIPS 2018.
P. Izmailov, D. Podoprikhin, T. Garipov, D. Vetrov, A. G. Wilson, "Averaging weights leads to
wider optima and better generalization", UAI 2018 (``update_bn``).
K. Jordan, H. Sedghi, O. Saukh, R. Entezari, B. Neyshabur, "REPAIR: REnormalizing Permuted
Activations for Interpolation Repair", ICLR 2023.
"""

from __future__ import annotations

import copy
from typing import Callable, Dict, Iterable, List, Optional, Tuple

import torch
from torch import nn
from torch.func import functional_call, vmap

from .._validation import check_int
from ._data import DEFAULT_BATCH_SIZE, device_dtype, input_batches, loop_beats_vmap

__all__ = ["BATCHNORM_TYPES", "batchnorm_layers", "reestimate_bn", "stacked_batchnorm_statistics", "batch_normalize"]

#: The BatchNorm classes whose running statistics are re-estimated (and their subclasses,
#: e.g. the lazy variants) -- the classes :func:`torch.optim.swa_utils.update_bn` resets.
BATCHNORM_TYPES = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)


def batchnorm_layers(model: nn.Module) -> List[str]:
    """Names of ``model``'s BatchNorm modules that keep running statistics (``""``: the model itself).

    Parameters
    ----------
    model : torch.nn.Module

    Returns
    -------
    list of str
        In ``model.named_modules()`` order.

    Examples
    --------
    >>> net = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3), nn.BatchNorm1d(3, track_running_stats=False))
    >>> batchnorm_layers(net)
    ['1']
    """
    return [n for n, m in model.named_modules()
            if isinstance(m, BATCHNORM_TYPES) and m.track_running_stats and m.running_mean is not None]


def batch_normalize(x: torch.Tensor, weight, bias, eps: float, where: str = "") -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""Training-mode batch normalization of ``x`` (N, C, ...) over all axes but 1.

    :math:`y = (x - \mu)/\sqrt{\sigma^2 + \epsilon}\,\gamma + \beta`, with :math:`\sigma^2`
    the biased variance (as BatchNorm normalizes; two-pass) over the :math:`n` entries per
    channel.

    Parameters
    ----------
    x : (N, C, ...) torch.Tensor
    weight, bias : (C,) torch.Tensor or None
        :math:`\gamma` and :math:`\beta` (None: 1 and 0).
    eps : float
        :math:`\epsilon`.
    where : str, default ""
        The layer's name, for error messages.

    Returns
    -------
    y : torch.Tensor
        Of ``x``'s shape.
    mean : (C,) torch.Tensor
        :math:`\mu`.
    unbiased_var : (C,) torch.Tensor
        :math:`\tfrac{n}{n-1}\sigma^2`, what BatchNorm tracks.

    Raises
    ------
    ValueError
        ``x`` with fewer than 2 dimensions, or fewer than 2 entries per channel (the message
        names ``where``).

    Examples
    --------
    >>> x = torch.tensor([[0.0], [2.0]])
    >>> y, mean, var = batch_normalize(x, None, None, eps=0.0)
    >>> y.ravel(), mean, var
    (tensor([-1.,  1.]), tensor([1.]), tensor([2.]))
    """
    if x.dim() < 2:
        raise ValueError(f"BatchNorm layer {where!r}: expected an input of shape (N, C, ...), got {tuple(x.shape)}")
    C = x.shape[1]
    xc = x.transpose(0, 1).reshape(C, -1)  # channels first, contiguous: fast reductions on CPU
    n = xc.shape[1]
    if n < 2:
        raise ValueError(f"BatchNorm layer {where!r} sees a batch with {n} value per channel: its statistics cannot be "
                         "estimated from it (use batches of at least 2 examples)")
    mean = xc.mean(1)
    d = xc - mean.unsqueeze(1)
    var = (d * d).sum(1) / n
    scale = torch.rsqrt(var + eps)
    if weight is not None:
        scale = scale * weight
    shift = -mean * scale
    if bias is not None:
        shift = shift + bias
    shape = [1, C] + [1] * (x.dim() - 2)
    return x * scale.view(shape) + shift.view(shape), mean, var * (n / (n - 1))


class _BatchStatisticsNorm(nn.Module):
    """Stands in for a BatchNorm module in a private copy of the model: normalizes with the
    batch's statistics (training-mode arithmetic, nothing updated, so it runs under vmap) and
    records (name, mean, unbiased variance) of each call. Same parameter names as the module
    it replaces."""

    def __init__(self, bn, name, calls):
        super().__init__()
        self.weight = bn.weight
        self.bias = bn.bias
        self.eps, self.name, self.calls = bn.eps, name, calls

    def forward(self, x):
        y, mean, var = batch_normalize(x, self.weight, self.bias, self.eps, self.name)
        self.calls.append((self.name, mean, var))
        return y


class _Recorder:
    """A private copy of a template whose BatchNorm modules are replaced by
    :class:`_BatchStatisticsNorm` (recording into ``calls``); ``keys`` its state-dict keys."""

    def __init__(self, template: nn.Module, names: List[str]):
        self.model = copy.deepcopy(template).eval()
        self.calls: List[Tuple[str, torch.Tensor, torch.Tensor]] = []
        for n in names:
            new = _BatchStatisticsNorm(self.model.get_submodule(n), n, self.calls)
            if n == "":
                self.model = new
            else:
                parent, _, child = n.rpartition(".")
                setattr(self.model.get_submodule(parent), child, new)
        self.keys = set(self.model.state_dict())


def stacked_batchnorm_statistics(template: nn.Module, stacked: Dict[str, torch.Tensor], shared: Dict[str, torch.Tensor],
                                 n_points: int, batches: Callable[[], Iterable[torch.Tensor]], *,
                                 layers: Optional[List[str]] = None, describe: Callable[[int], str] = str,
                                 ) -> Tuple[Dict[str, torch.Tensor], Dict[str, torch.Tensor], str]:
    r"""BatchNorm statistics of ``n_points`` parameter sets at once, as :func:`reestimate_bn`
    gives them for each set separately.

    Parameters
    ----------
    template : torch.nn.Module
        The architecture, in eval mode; its own tensors are not used.
    stacked : dict of str to Tensor
        State-dict entries that differ between the points, each of shape (n_points, ...).
    shared : dict of str to Tensor
        The other entries.
    n_points : int
    batches : callable() -> iterable of Tensor
        A fresh iterator over the input batches at each call.
    layers : list of str, optional
        BatchNorm module names (default :func:`batchnorm_layers` of ``template``).
    describe : callable(int) -> str
        Names point j in error messages.

    Returns
    -------
    (dict, dict, str)
        The new stacked entries (``running_mean``/``running_var`` of each layer, shape
        (n_points, C)), the new shared ones (``num_batches_tracked`` = the number of calls
        of the layer) and the method, ``"vmap"`` or ``"loop"`` (one point at a time: for
        models vmap cannot batch, and for convolutional models on the CPU, where it is
        faster).

    Raises
    ------
    ValueError
        ``batches`` yields nothing, a batch with one value per channel, or statistics that
        are not finite (the message names the layer and the point).

    Examples
    --------
    Two parameter sets of one BatchNorm layer: its input is the same, so the statistics are.

    >>> template = nn.Sequential(nn.Linear(1, 1), nn.BatchNorm1d(1)).eval()
    >>> state = template.state_dict()
    >>> stacked = {k: torch.stack([v, v]) for k, v in state.items() if k.startswith("0.")}
    >>> shared = {k: v for k, v in state.items() if not k.startswith("0.")}
    >>> X = torch.tensor([[1.0], [2.0], [3.0]])
    >>> new_stacked, new_shared, method = stacked_batchnorm_statistics(template, stacked, shared, 2, lambda: [X])
    >>> new_stacked["1.running_mean"].shape, bool(torch.equal(*new_stacked["1.running_var"]))
    (torch.Size([2, 1]), True)
    """
    names = batchnorm_layers(template) if layers is None else list(layers)
    try:
        return _statistics(template, stacked, shared, n_points, batches, names, describe, allow_vmap=True)
    except _VmapFailed:  # vmap cannot batch this model: one point at a time
        return _statistics(template, stacked, shared, n_points, batches, names, describe, allow_vmap=False)


class _VmapFailed(Exception):
    pass


def _statistics(template, stacked, shared, n_points, batches, names, describe, *, allow_vmap):
    order: List[str] = []
    device, dtype = device_dtype(template)
    sums: Dict[str, List[torch.Tensor]] = {}
    counts: Dict[str, int] = {}
    n_batches = 0
    rec = _Recorder(template, names)
    stacked_in = {k: v for k, v in stacked.items() if k in rec.keys}
    shared_in = {k: v for k, v in shared.items() if k in rec.keys}
    method = "vmap" if (stacked_in and allow_vmap and not loop_beats_vmap(template)) else "loop"

    def run(bp, x):
        rec.calls.clear()
        params = dict(shared_in)
        params.update(bp)
        functional_call(rec.model, params, (x,))
        order[:] = [c[0] for c in rec.calls]
        return tuple(c[1] for c in rec.calls), tuple(c[2] for c in rec.calls)

    for x in batches():
        n_batches += 1
        if method == "vmap":
            try:
                means, vars_ = vmap(run, in_dims=(0, None))(stacked_in, x)
            except ValueError:
                raise
            except Exception as exc:
                raise _VmapFailed() from exc
        else:
            outs = [run({k: v[j] for k, v in stacked_in.items()}, x) for j in range(n_points)]
            means = tuple(torch.stack([o[0][i] for o in outs]) for i in range(len(order)))
            vars_ = tuple(torch.stack([o[1][i] for o in outs]) for i in range(len(order)))
        for name, m, v in zip(order, means, vars_):
            s = sums.setdefault(name, [torch.zeros(m.shape, dtype=torch.float64, device=m.device),
                                       torch.zeros(v.shape, dtype=torch.float64, device=v.device)])
            s[0] += m.double()
            s[1] += v.double()
            counts[name] = counts.get(name, 0) + 1
    if n_batches == 0:
        raise ValueError("the data for the BatchNorm statistics yielded no examples")
    new_stacked, new_shared = {}, {}
    for name in names:
        p = f"{name}." if name else ""
        if name not in counts:
            raise ValueError(f"BatchNorm layer {name!r} does not run in the model's forward, so its statistics cannot "
                             "be estimated")
        c = counts[name]
        mean, var = sums[name][0] / c, sums[name][1] / c
        bad = ~(torch.isfinite(mean).all(1) & torch.isfinite(var).all(1))
        if bool(bad.any()):
            j = int(torch.nonzero(bad)[0])
            raise ValueError(f"the re-estimated statistics of BatchNorm layer {name!r} are not finite (NaN or inf) at "
                             f"{describe(j)}: the activations overflow there")
        ref = shared.get(p + "running_mean", stacked.get(p + "running_mean"))
        rdtype = ref.dtype if ref is not None else dtype
        new_stacked[p + "running_mean"] = mean.to(rdtype)
        new_stacked[p + "running_var"] = var.to(rdtype)
        if (p + "num_batches_tracked") in shared or (p + "num_batches_tracked") in stacked:
            new_shared[p + "num_batches_tracked"] = torch.tensor(c, dtype=torch.long, device=device)
    return new_stacked, new_shared, method


def reestimate_bn(model: nn.Module, data, *, batch_size: int = DEFAULT_BATCH_SIZE, inplace: bool = False) -> nn.Module:
    r"""The model with its BatchNorm running statistics re-estimated on ``data``.

    One pass over ``data`` in which every BatchNorm layer normalizes with its batch's
    statistics (training mode) and tracks their cumulative average over batches:
    :math:`\hat\mu = \frac1K\sum_k \mu_k`, :math:`\hat\sigma^2 = \frac1K\sum_k
    \tfrac{n_k}{n_k-1}\sigma_k^2` (the unbiased batch variances), and
    ``num_batches_tracked`` = K -- what :func:`torch.optim.swa_utils.update_bn` computes,
    except that the other layers stay in eval mode (dropout off: deterministic). Parameters
    do not change. Modules without running statistics are left alone.

    Parameters
    ----------
    model : torch.nn.Module
    data : tensor X, (X,) / (X, y) tensors, or a DataLoader of batches
        Inputs (a batch's first element, as ``update_bn`` reads a loader); tensors are
        used in batches of ``batch_size`` rows. Each batch counts equally.
    batch_size : int, default 1024
    inplace : bool, default False
        Update ``model`` itself; by default a copy is returned and ``model`` is untouched.

    Returns
    -------
    torch.nn.Module
        In ``model``'s training mode.

    Raises
    ------
    TypeError
        ``model`` not a module; ``data`` of an unknown kind or a one-shot iterator.
    ValueError
        ``data`` empty; a batch with one value per channel; statistics that are not finite.

    References
    ----------
    P. Izmailov, D. Podoprikhin, T. Garipov, D. Vetrov, A. G. Wilson, "Averaging weights leads
    to wider optima and better generalization", UAI 2018.

    Examples
    --------
    >>> m = nn.Sequential(nn.Linear(1, 1, bias=False), nn.BatchNorm1d(1))
    >>> _ = m[0].weight.data.fill_(2.0)
    >>> x = torch.tensor([[0.0], [1.0], [2.0], [3.0]])
    >>> r = reestimate_bn(m, x)
    >>> r[1].running_mean.item(), round(r[1].running_var.item(), 4)  # of 2x: mean 3, unbiased variance 20/3
    (3.0, 6.6667)
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    out = model if inplace else copy.deepcopy(model)
    names = batchnorm_layers(out)
    if not names:
        return out
    device, dtype = device_dtype(out)
    template = copy.deepcopy(out).eval()
    state = {k: v.detach() for k, v in out.state_dict().items()}
    with torch.no_grad():
        new, new_shared, _ = stacked_batchnorm_statistics(
            template, {}, state, 1, lambda: input_batches(data, "data", device, dtype, batch_size=batch_size),
            layers=names, describe=lambda _j: "the model")
        mods = dict(out.named_modules())
        for name in names:
            p = f"{name}." if name else ""
            mods[name].running_mean.copy_(new[p + "running_mean"][0])
            mods[name].running_var.copy_(new[p + "running_var"][0])
            if mods[name].num_batches_tracked is not None and (p + "num_batches_tracked") in new_shared:
                mods[name].num_batches_tracked.copy_(new_shared[p + "num_batches_tracked"])
    return out
