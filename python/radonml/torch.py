"""Aggregate PyTorch modules with any aggregator of the registry (SPEC §2, §3).

A module's *parameters* (``module.parameters()``, in registration order) are flattened into
one vector per model, the vectors are stacked into an ``(m, d)`` float64 array and combined
by :func:`radonml.aggregate`; the result is written into a copy of the first module. The
flatten/unflatten helpers are public so that other components (the federated simulator, the
Flower strategy) use the very same layout. :func:`make_mlp` and :func:`make_cnn` build the
small seeded networks of radonml's examples, benchmarks and command line.

Buffers (``module.buffers()``, e.g. batch-norm running statistics) are not parameters and
are **not** passed to the aggregator. By default floating-point buffers are averaged
(weighted by ``weights`` if given) and all other buffers (integer counters such as
``num_batches_tracked``) are taken from the first module; ``buffers="first"`` copies every
buffer from the first module.
"""

from __future__ import annotations

import copy
from typing import Dict, List, Sequence, Tuple

import numpy as np

try:
    import torch
    from torch import nn
except ModuleNotFoundError as exc:  # pragma: no cover - torch is an optional dependency
    raise ModuleNotFoundError(
        "radonml.torch needs PyTorch; install it with `pip install 'radonml[torch]'`"
    ) from exc

from .aggregators import aggregate
from ._validation import check_int, check_weights

__all__ = [
    "flatten_parameters",
    "load_flat_parameters",
    "unflatten_parameters",
    "parameter_slices",
    "n_parameters",
    "aggregate_modules",
    "make_mlp",
    "make_cnn",
    "MLP_INITS",
]

#: Initializations of :func:`make_mlp`.
MLP_INITS = ("uniform", "kaiming_normal")


def _check_module(module, name: str = "module") -> nn.Module:
    if not isinstance(module, nn.Module):
        raise TypeError(f"{name} must be a torch.nn.Module, got {type(module).__name__}")
    return module


def n_parameters(module) -> int:
    """Number of scalar parameters :math:`d` of ``module`` (the length of its flat vector).

    >>> n_parameters(torch.nn.Linear(3, 2))
    8
    """
    _check_module(module)
    return int(sum(p.numel() for p in module.parameters()))


def parameter_slices(module) -> Dict[str, slice]:
    """Where each named parameter lies in the flat vector of :func:`flatten_parameters`.

    Returns
    -------
    dict
        ``{name: slice}`` in registration order (the names of ``module.named_parameters()``).

    Examples
    --------
    >>> parameter_slices(torch.nn.Linear(3, 2))
    {'weight': slice(0, 6, None), 'bias': slice(6, 8, None)}
    """
    _check_module(module)
    out, start = {}, 0
    for name, p in module.named_parameters():
        out[name] = slice(start, start + p.numel())
        start += p.numel()
    return out


def flatten_parameters(module, *, dtype=np.float64) -> np.ndarray:
    r"""The parameters of ``module`` as one numpy vector :math:`\theta \in \mathbb{R}^d`.

    The parameters are concatenated in ``module.parameters()`` order, each flattened in
    row-major order (as :func:`torch.nn.utils.parameters_to_vector`), copied to the CPU and
    converted to ``dtype``. The module is not modified.

    Parameters
    ----------
    module : torch.nn.Module
    dtype : numpy dtype, default float64

    Returns
    -------
    (d,) ndarray

    Examples
    --------
    >>> lin = torch.nn.Linear(2, 1)
    >>> with torch.no_grad():
    ...     _ = lin.weight.copy_(torch.tensor([[1.0, 2.0]])); _ = lin.bias.fill_(3.0)
    >>> flatten_parameters(lin)
    array([1., 2., 3.])
    """
    _check_module(module)
    params = list(module.parameters())
    if not params:
        return np.zeros(0, dtype=dtype)
    with torch.no_grad():
        parts = [p.detach().reshape(-1).to(device="cpu", dtype=torch.float64) for p in params]
        return torch.cat(parts).numpy().astype(dtype, copy=False)


def _as_vector(vector, d: int, name: str = "vector") -> torch.Tensor:
    if isinstance(vector, torch.Tensor):
        v = vector.detach().to("cpu")
    else:
        try:
            v = torch.as_tensor(np.asarray(vector, dtype=np.float64))
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{name} must be a 1-D array of numbers, got {type(vector).__name__}") from exc
    if v.ndim != 1 or v.shape[0] != d:
        raise ValueError(f"{name} must have shape ({d},) (the module's number of parameters), got {tuple(v.shape)}")
    if v.is_floating_point() and not bool(torch.isfinite(v).all()):
        raise ValueError(f"{name} must be finite, got NaN or infinite values")
    return v


def load_flat_parameters(module, vector) -> nn.Module:
    """Write a flat vector (layout of :func:`flatten_parameters`) into ``module`` in place.

    Each slice is reshaped to its parameter's shape and cast to that parameter's dtype and
    device. Returns ``module`` for chaining.

    Examples
    --------
    >>> lin = load_flat_parameters(torch.nn.Linear(2, 1), [1.0, 2.0, 3.0])
    >>> lin.bias.item()
    3.0
    """
    _check_module(module)
    v = _as_vector(vector, n_parameters(module))
    start = 0
    with torch.no_grad():
        for p in module.parameters():
            k = p.numel()
            p.copy_(v[start : start + k].reshape(p.shape).to(device=p.device, dtype=p.dtype))
            start += k
    return module


def unflatten_parameters(module, vector) -> Dict[str, np.ndarray]:
    """Split a flat vector into ``{name: array}`` with the shapes of ``module``'s parameters.

    The inverse of :func:`flatten_parameters` without touching the module.

    >>> {k: v.shape for k, v in unflatten_parameters(torch.nn.Linear(3, 2), np.arange(8.0)).items()}
    {'weight': (2, 3), 'bias': (2,)}
    """
    _check_module(module)
    v = _as_vector(vector, n_parameters(module)).numpy()
    return {
        name: v[s].reshape(tuple(p.shape)).copy()
        for (name, p), s in zip(module.named_parameters(), parameter_slices(module).values())
    }


def _signature(module) -> Tuple[List[Tuple[str, tuple, torch.dtype]], List[Tuple[str, tuple, torch.dtype]]]:
    params = [(n, tuple(p.shape), p.dtype) for n, p in module.named_parameters()]
    bufs = [(n, tuple(b.shape), b.dtype) for n, b in module.named_buffers()]
    return params, bufs


def aggregate_modules(modules: Sequence, method="radon", *, weights=None, buffers: str = "mean", **options) -> nn.Module:
    r"""Aggregate trained modules of one architecture into a new module.

    With :math:`\theta_i \in \mathbb{R}^d` the flat parameter vector of module :math:`i`
    (:func:`flatten_parameters`), the result's parameters are
    :math:`\operatorname{agg}(\theta_1, \dots, \theta_m)` for the aggregator ``method`` of
    :func:`radonml.aggregate`: the iterated Radon point by default (the Radon machine,
    Kamp et al., "Effective parallelisation for machine learning", NeurIPS 2017), or
    ``"mean"`` (FedAvg, McMahan et al., 2017), ``"median"``, ``"geometric_median"``, ... The
    Radon point of :math:`m` models needs :math:`m \ge d + 2`, so it suits small models
    (e.g. logistic regression); for networks use ``"mean"`` or a median.

    Parameters
    ----------
    modules : sequence of torch.nn.Module
        At least one module; all of the same class with the same parameter and buffer names,
        shapes and dtypes.
    method : str or callable, default "radon"
        A registered aggregator name or a callable (see :func:`radonml.aggregate`).
    weights : (m,) array-like, optional
        Per-module weights (e.g. sample counts) for aggregators that use them; also used to
        weight the average of floating-point buffers.
    buffers : {"mean", "first"}, default "mean"
        ``"mean"``: floating-point buffers (e.g. ``running_mean``/``running_var``) are
        (weighted) averaged, other buffers (``num_batches_tracked``) copied from the first
        module. ``"first"``: every buffer copied from the first module.
    **options
        Passed to the aggregator (e.g. ``rng``/``height`` for ``"radon"``).

    Returns
    -------
    torch.nn.Module
        A deep copy of ``modules[0]`` (same class, dtypes, devices and ``requires_grad``)
        holding the aggregate. The inputs are not modified.

    Examples
    --------
    >>> a, b = torch.nn.Linear(1, 1), torch.nn.Linear(1, 1)
    >>> _ = load_flat_parameters(a, [0.0, 1.0]); _ = load_flat_parameters(b, [2.0, 3.0])
    >>> flatten_parameters(aggregate_modules([a, b], "mean"))
    array([1., 2.])
    """
    if isinstance(modules, nn.Module) or not isinstance(modules, (list, tuple)):
        raise TypeError(f"modules must be a list or tuple of torch.nn.Module, got {type(modules).__name__}")
    if len(modules) == 0:
        raise ValueError("modules must hold at least one module, got an empty sequence")
    for i, mod in enumerate(modules):
        _check_module(mod, f"modules[{i}]")
    if buffers not in ("mean", "first"):
        raise ValueError(f"buffers must be 'mean' or 'first', got {buffers!r}")
    first = modules[0]
    sig0 = _signature(first)
    for i, mod in enumerate(modules[1:], start=1):
        if type(mod) is not type(first):
            raise ValueError(
                f"modules must share one architecture: modules[0] is {type(first).__name__}, "
                f"modules[{i}] is {type(mod).__name__}"
            )
        sig = _signature(mod)
        for kind, a, b in (("parameters", sig0[0], sig[0]), ("buffers", sig0[1], sig[1])):
            if a != b:
                diff = next(((x, y) for x, y in zip(a, b) if x != y), (a[len(b):] or None, b[len(a):] or None))
                raise ValueError(
                    f"modules must share one architecture: {kind} of modules[{i}] differ from modules[0] "
                    f"(first difference: modules[0] has {diff[0]}, modules[{i}] has {diff[1]})"
                )
    w = check_weights(weights, len(modules))
    X = np.stack([flatten_parameters(m) for m in modules])
    theta = aggregate(X, method, weights=w, **options) if X.shape[1] else np.zeros(0)
    out = copy.deepcopy(first)
    load_flat_parameters(out, theta)
    if buffers == "mean" and len(modules) > 1:
        ww = torch.ones(len(modules), dtype=torch.float64) if w is None else torch.as_tensor(w, dtype=torch.float64)
        ww = ww / ww.sum()
        named = [dict(m.named_buffers()) for m in modules]
        with torch.no_grad():
            for name, buf in out.named_buffers():
                if buf.is_floating_point():
                    stack = torch.stack([nb[name].detach().to("cpu", torch.float64) for nb in named])
                    avg = torch.tensordot(ww, stack, dims=1)
                    buf.copy_(avg.to(device=buf.device, dtype=buf.dtype))
    return out


# --------------------------------------------------------------------------------- models --

def _check_dtype(dtype) -> torch.dtype:
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating torch.dtype (e.g. torch.float32), got {dtype!r}")
    return dtype


def _seeded(seed, build):
    """``build()`` under ``torch.manual_seed(seed)`` without touching the caller's global random
    state; seed None: ``build()`` on the global random state as it is."""
    if seed is None:
        return build()
    seed = check_int(seed, "seed", minimum=0)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


def _kaiming_normal(model: nn.Module) -> nn.Module:
    r"""He initialization: weights :math:`\mathcal N(0, 2/\text{fan}_\text{in})`, biases 0."""
    for m in model.modules():
        if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d)):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            nn.init.zeros_(m.bias)
    return model


def _uniform_fan_in(model: nn.Module, generator) -> nn.Module:
    r"""Weights and biases :math:`U(-1/\sqrt{\text{fan}_\text{in}}, 1/\sqrt{\text{fan}_\text{in}})`,
    drawn in float64 (weight, then bias, layer by layer) and rounded to the model's dtype."""
    with torch.no_grad():
        for mod in model:
            if isinstance(mod, nn.Linear):
                bound = 1.0 / np.sqrt(mod.in_features)
                mod.weight.copy_((torch.rand(mod.weight.shape, generator=generator, dtype=torch.float64) * 2 - 1) * bound)
                mod.bias.copy_((torch.rand(mod.bias.shape, generator=generator, dtype=torch.float64) * 2 - 1) * bound)
    return model


def make_mlp(n_in: int, hidden, n_out: int, *, init: str = "uniform", seed=0, dtype=torch.float32) -> nn.Sequential:
    r"""A ReLU MLP ``Linear-ReLU-...-Linear`` with a reproducible initialization.

    Two initializations, for a layer with fan-in :math:`d`:

    - ``"uniform"``: weights and biases :math:`\sim U(-1/\sqrt d, 1/\sqrt d)`, PyTorch's default
      distribution, drawn in float64 from a ``torch.Generator`` seeded with ``seed`` (weight,
      then bias, layer by layer) and rounded to ``dtype``; the same weights on every platform
      and for every dtype;
    - ``"kaiming_normal"`` (He et al., 2015): weights :math:`\sim \mathcal N(0, 2/d)` and zero
      biases, which keeps deep ReLU stacks trainable (the default initialization shrinks the
      signal layer by layer); drawn from torch's global random state under
      ``torch.manual_seed(seed)``.

    With an integer ``seed`` the caller's global torch random state is left as it was; with
    ``seed=None`` the weights come from the global random state, which advances (as building
    ``torch.nn`` layers does), so that a sequence of calls after one ``torch.manual_seed`` is
    reproducible, as :func:`radonml.lmc.train_pair` needs.

    Parameters
    ----------
    n_in : int
        Input features.
    hidden : int or sequence of int
        Hidden widths (an empty sequence: a linear model).
    n_out : int
        Outputs (classes).
    init : {"uniform", "kaiming_normal"}, default "uniform"
    seed : int or None, default 0
    dtype : torch.dtype, default torch.float32

    Returns
    -------
    torch.nn.Sequential

    Raises
    ------
    TypeError, ValueError
        Non-integer or non-positive sizes, unknown ``init``, negative ``seed``, a non-floating
        ``dtype``.

    References
    ----------
    K. He, X. Zhang, S. Ren, J. Sun, "Delving deep into rectifiers: surpassing human-level
    performance on ImageNet classification", ICCV 2015.

    Examples
    --------
    >>> make_mlp(40, 32, 10)
    Sequential(
      (0): Linear(in_features=40, out_features=32, bias=True)
      (1): ReLU()
      (2): Linear(in_features=32, out_features=10, bias=True)
    )
    >>> bool((make_mlp(4, [8], 2, init="kaiming_normal").state_dict()["0.bias"] == 0).all())
    True
    """
    widths = [hidden] if isinstance(hidden, (int, np.integer)) and not isinstance(hidden, bool) else list(hidden)
    dims = [check_int(n_in, "n_in", minimum=1)] + [check_int(h, "hidden", minimum=1) for h in widths]
    n_out = check_int(n_out, "n_out", minimum=1)
    dtype = _check_dtype(dtype)
    if init not in MLP_INITS:
        raise ValueError(f"init must be one of {MLP_INITS}, got {init!r}")

    def build():
        layers: List[nn.Module] = []
        for a, b in zip(dims[:-1], dims[1:]):
            layers += [nn.Linear(a, b), nn.ReLU()]
        layers.append(nn.Linear(dims[-1], n_out))
        net = nn.Sequential(*layers).to(dtype)
        if init == "kaiming_normal":
            return _kaiming_normal(net)
        gen = None if seed is None else torch.Generator().manual_seed(int(seed))
        return _uniform_fan_in(net, gen)

    return _seeded(seed, build)


def make_cnn(n_in: int, n_out: int, *, image_side=None, seed=0, dtype=torch.float32) -> nn.Sequential:
    r"""A small ReLU CNN: two convolutions, one hidden linear layer of 64, He initialization.

    For flat inputs of ``n_in`` values it reshapes them to one channel and runs
    ``Conv1d(1, 16, 5, padding=2)``, ``Conv1d(16, 32, 3, padding=1, stride=2)``; with
    ``image_side`` s (``n_in`` = s²) it reads s x s images and runs ``Conv2d(1, 16, 3, padding=1)``,
    ``Conv2d(16, 32, 3, padding=1, stride=2)``. Then ``Flatten``, ``Linear(., 64)``, ``ReLU``,
    ``Linear(64, n_out)``. Weights :math:`\sim \mathcal N(0, 2/	ext{fan}_	ext{in})` (He et al.,
    2015), biases zero, drawn under ``torch.manual_seed(seed)`` as in :func:`make_mlp` with
    ``init="kaiming_normal"`` (``seed=None``: from the global random state).

    Parameters
    ----------
    n_in : int
        Input values per example (the signal length, or s² for images).
    n_out : int
        Outputs (classes).
    image_side : int, optional
        Side s of square one-channel images.
    seed : int or None, default 0
    dtype : torch.dtype, default torch.float32

    Returns
    -------
    torch.nn.Sequential

    Raises
    ------
    TypeError, ValueError
        Non-integer or non-positive sizes, ``n_in != image_side**2``, a non-floating ``dtype``.

    Examples
    --------
    >>> make_cnn(64, 10, image_side=8)(torch.zeros(2, 64)).shape
    torch.Size([2, 10])
    """
    n_in = check_int(n_in, "n_in", minimum=1)
    n_out = check_int(n_out, "n_out", minimum=1)
    dtype = _check_dtype(dtype)
    if image_side is not None:
        image_side = check_int(image_side, "image_side", minimum=1)
        if image_side * image_side != n_in:
            raise ValueError(f"n_in must be image_side**2 = {image_side * image_side} for square images, got {n_in}")

    def build():
        if image_side:  # 2-d images (digits: 8 x 8)
            net = nn.Sequential(
                nn.Unflatten(1, (1, image_side, image_side)),
                nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(),
                nn.Conv2d(16, 32, 3, padding=1, stride=2), nn.ReLU(),
                nn.Flatten(), nn.Linear(32 * ((image_side + 1) // 2) ** 2, 64), nn.ReLU(), nn.Linear(64, n_out),
            )
        else:
            net = nn.Sequential(
                nn.Unflatten(1, (1, n_in)),
                nn.Conv1d(1, 16, 5, padding=2), nn.ReLU(),
                nn.Conv1d(16, 32, 3, padding=1, stride=2), nn.ReLU(),
                nn.Flatten(), nn.Linear(32 * ((n_in + 1) // 2), 64), nn.ReLU(), nn.Linear(64, n_out),
            )
        return _kaiming_normal(net.to(dtype))

    return _seeded(seed, build)
