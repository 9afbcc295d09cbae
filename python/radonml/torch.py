"""Aggregate PyTorch modules with any aggregator of the registry (:doc:`/concepts/aggregators`).

A module's *parameters* (``module.parameters()``, in registration order) are flattened into
one vector per model, the vectors are stacked into an ``(m, d)`` float64 array and combined
by :func:`radonml.aggregate`; the result is written into a copy of the first module. The
flatten/unflatten helpers are public so that other components (the federated simulator, the
Flower strategy) use the very same layout. :func:`make_mlp` and :func:`make_cnn` build the
small seeded networks of radonml's examples, benchmarks and command line.

:func:`aggregate_modules` aggregates a module's whole *state* (its ``state_dict``: parameters
and buffers by name) under one policy, decided in :func:`tensor_rule` and shared with
:class:`radonml.flower.FedAggregate` and the federated simulator: every floating-point tensor,
BatchNorm running statistics included, goes through the chosen aggregator (so a robust
aggregator is robust for every tensor); integer buffers such as ``num_batches_tracked`` become
the element-wise (weighted) lower median of the modules' values. :func:`state_layout` says
which tensor goes where; ``buffers="mean"`` / ``"first"`` keep the previous behaviour (buffers
averaged outside the aggregator, or copied from the first module).

Architectures are compared by what they compute, not by Python class objects: the class of
every submodule before parametrization, the names, shapes, dtypes and kinds (parameter or
buffer) of the state's tensors. Parametrized modules
(:mod:`torch.nn.utils.parametrize`: ``weight_norm``, ``spectral_norm``, ``orthogonal``, your
own) are aggregated through their state, i.e. the *original* tensors
(``parametrizations.weight.original0``/``original1`` of weight normalisation,
``parametrizations.weight.original`` and the power method's vectors ``_u``/``_v`` of spectral
normalisation); the parametrized weight of the result is the parametrization applied to the
aggregated originals.
"""

from __future__ import annotations

import copy
from typing import Dict, List, Sequence

import numpy as np

try:
    import torch
    from torch import nn
    from torch.nn.utils import parametrize
except ModuleNotFoundError as exc:  # pragma: no cover - torch is an optional dependency
    raise ModuleNotFoundError(
        "radonml.torch needs PyTorch; install it with `pip install 'radonml[torch]'`"
    ) from exc

from .aggregators import aggregate
from .exceptions import NoRadonPointError
from ._state import BUFFER_POLICIES, StateLayout, lower_median, tensor_rule
from ._validation import check_int, check_weights

__all__ = [
    "flatten_parameters",
    "load_flat_parameters",
    "unflatten_parameters",
    "parameter_slices",
    "n_parameters",
    "aggregate_modules",
    "state_layout",
    "state_arrays",
    "tensor_rule",
    "lower_median",
    "StateLayout",
    "BUFFER_POLICIES",
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

    Parameters
    ----------
    module : torch.nn.Module

    Returns
    -------
    int

    Raises
    ------
    TypeError
        ``module`` is not a ``torch.nn.Module``.

    Examples
    --------
    >>> n_parameters(torch.nn.Linear(3, 2))
    8
    """
    _check_module(module)
    return int(sum(p.numel() for p in module.parameters()))


def parameter_slices(module) -> Dict[str, slice]:
    """Where each named parameter lies in the flat vector of :func:`flatten_parameters`.

    Parameters
    ----------
    module : torch.nn.Module

    Returns
    -------
    dict
        ``{name: slice}`` in registration order (the names of ``module.named_parameters()``).

    Raises
    ------
    TypeError
        ``module`` is not a ``torch.nn.Module``.

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
    converted to ``dtype``. The module is not modified. NaN and inf in the module's parameters
    are copied as they are (this function reads, it does not judge; :func:`aggregate_modules`
    refuses them).

    Parameters
    ----------
    module : torch.nn.Module
    dtype : numpy floating dtype, default float64

    Returns
    -------
    (d,) ndarray

    Raises
    ------
    ValueError
        A finite parameter value does not fit in ``dtype`` (it would become inf); the message
        names the parameter.
    TypeError
        ``dtype`` is not a floating-point dtype.

    Examples
    --------
    >>> lin = torch.nn.Linear(2, 1)
    >>> with torch.no_grad():
    ...     _ = lin.weight.copy_(torch.tensor([[1.0, 2.0]])); _ = lin.bias.fill_(3.0)
    >>> flatten_parameters(lin)
    array([1., 2., 3.])
    """
    _check_module(module)
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt is None or dt.kind != "f":
        raise TypeError(f"dtype must be a numpy floating-point dtype, got {dtype!r}")
    params = list(module.parameters())
    if not params:
        return np.zeros(0, dtype=dt)
    with torch.no_grad():
        parts = [p.detach().reshape(-1).to(device="cpu", dtype=torch.float64) for p in params]
        vec = torch.cat(parts).numpy()
    with np.errstate(over="ignore"):  # an overflow is reported below, by name
        out = vec.astype(dt, copy=False)
    if dt.itemsize < 8:
        _check_cast(vec, out, module.named_parameters(), f"parameter of module converted to {dt}")
    return out


def _check_cast(before: np.ndarray, after: np.ndarray, named, what: str) -> None:
    """Raise if a finite value of ``before`` became inf in ``after`` (the cast overflowed)."""
    grew = np.isfinite(before) & ~np.isfinite(after)
    if grew.any():
        i = int(np.argmax(grew))
        start = 0
        for name, t in named:
            if i < start + t.numel():
                raise ValueError(
                    f"{what}: {name!r} holds {float(before[i])!r}, which does not fit in the target dtype "
                    f"(it would become inf)"
                )
            start += t.numel()
        raise ValueError(f"{what}: value {float(before[i])!r} does not fit in the target dtype")


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
    device. Returns ``module`` for chaining. The vector is checked before anything is written:
    NaN or inf, or a value that does not fit in its parameter's dtype, raises ``ValueError``
    and leaves the module as it was.

    Parameters
    ----------
    module : torch.nn.Module
        Modified in place.
    vector : (d,) array-like or Tensor of float
        :math:`d` = :func:`n_parameters` of ``module``.

    Returns
    -------
    torch.nn.Module
        ``module`` itself.

    Raises
    ------
    TypeError
        ``module`` is not a module, or ``vector`` not a 1-D array of numbers.
    ValueError
        ``vector`` of the wrong length, with NaN or inf, or with a value that overflows its
        parameter's dtype (the message names the parameter).

    Examples
    --------
    >>> lin = load_flat_parameters(torch.nn.Linear(2, 1), [1.0, 2.0, 3.0])
    >>> lin.bias.item()
    3.0
    """
    _check_module(module)
    v = _as_vector(vector, n_parameters(module))
    start, parts = 0, []
    for name, p in module.named_parameters():
        k = p.numel()
        part = v[start : start + k].reshape(p.shape).to(dtype=p.dtype)
        if p.is_floating_point() and not bool(torch.isfinite(part).all()):
            raise ValueError(
                f"vector: the values for parameter {name!r} do not fit in its dtype {p.dtype} (they would become inf)"
            )
        parts.append(part)
        start += k
    with torch.no_grad():
        for p, part in zip(module.parameters(), parts):
            p.copy_(part.to(device=p.device))
    return module


def unflatten_parameters(module, vector) -> Dict[str, np.ndarray]:
    """Split a flat vector into ``{name: array}`` with the shapes of ``module``'s parameters.

    The inverse of :func:`flatten_parameters` without touching the module.

    Parameters
    ----------
    module : torch.nn.Module
        Only its parameters' names and shapes are read.
    vector : (d,) array-like or Tensor of float
        :math:`d` = :func:`n_parameters` of ``module``.

    Returns
    -------
    dict of str to ndarray of float64
        In registration order.

    Raises
    ------
    TypeError
        ``module`` is not a module, or ``vector`` not a 1-D array of numbers.
    ValueError
        ``vector`` of the wrong length or with NaN or inf.

    Examples
    --------
    >>> {k: v.shape for k, v in unflatten_parameters(torch.nn.Linear(3, 2), np.arange(8.0)).items()}
    {'weight': (2, 3), 'bias': (2,)}
    """
    _check_module(module)
    v = _as_vector(vector, n_parameters(module)).numpy()
    return {
        name: v[s].reshape(tuple(p.shape)).copy()
        for (name, p), s in zip(module.named_parameters(), parameter_slices(module).values())
    }


def state_layout(module, *, buffers: str = "aggregate") -> StateLayout:
    r"""Which tensors of ``module.state_dict()`` go through the aggregator, and how the others
    are combined: the one policy of :func:`tensor_rule`, shared by :func:`aggregate_modules`,
    :class:`radonml.flower.FedAggregate` and the federated simulator.

    The aggregated vector :math:`f \in \mathbb{R}^d` of a module concatenates its
    ``"aggregator"`` tensors in ``state_dict`` order, each row-major (for a module without
    buffers, the vector of :func:`flatten_parameters`). Non-tensor entries of the state
    (``get_extra_state``) and non-persistent buffers are not part of it.

    Parameters
    ----------
    module : torch.nn.Module
    buffers : {"aggregate", "mean", "first"}, default "aggregate"
        The buffer policy (:func:`tensor_rule`).

    Returns
    -------
    StateLayout
        ``names``, ``shapes``, ``rules``, ``slices`` (where each aggregated tensor lies in the
        vector), ``n_aggregated`` (:math:`d`); ``stack(states)`` builds the (m, d) matrix of
        :func:`state_arrays` states and ``combine(vector, states, weights)`` the aggregated
        state.

    Raises
    ------
    TypeError
        A complex or quantized tensor in the state.
    ValueError
        An unknown ``buffers`` policy.

    Examples
    --------
    >>> lay = state_layout(torch.nn.BatchNorm1d(2))
    >>> list(zip(lay.names, lay.rules))  # doctest: +NORMALIZE_WHITESPACE
    [('weight', 'aggregator'), ('bias', 'aggregator'), ('running_mean', 'aggregator'),
     ('running_var', 'aggregator'), ('num_batches_tracked', 'lower_median')]
    >>> lay.n_aggregated
    8
    """
    _check_module(module)
    entries = [
        (name, tuple(t.shape), t.dtype, not isinstance(t, nn.Parameter))
        for name, t in module.state_dict(keep_vars=True).items()
        if isinstance(t, torch.Tensor)
    ]
    return StateLayout.from_entries(entries, buffers=buffers)


def state_arrays(module) -> Dict[str, np.ndarray]:
    """The tensors of ``module.state_dict()`` as numpy arrays on the CPU, in its order:
    floating-point tensors as float64, integer and boolean ones in their dtype.

    The input of :meth:`StateLayout.stack` and :meth:`StateLayout.combine`. NaN and inf are
    copied as they are (:meth:`StateLayout.nonfinite` finds them).

    Parameters
    ----------
    module : torch.nn.Module

    Returns
    -------
    dict of str to ndarray

    Raises
    ------
    TypeError
        ``module`` is not a ``torch.nn.Module``.

    Examples
    --------
    >>> {k: v.dtype.name for k, v in state_arrays(torch.nn.BatchNorm1d(2)).items()}  # doctest: +NORMALIZE_WHITESPACE
    {'weight': 'float64', 'bias': 'float64', 'running_mean': 'float64', 'running_var': 'float64',
     'num_batches_tracked': 'int64'}
    """
    _check_module(module)
    out = {}
    with torch.no_grad():
        for name, t in module.state_dict().items():
            if isinstance(t, torch.Tensor):
                t = t.detach().to("cpu")
                out[name] = t.to(torch.float64).numpy() if t.is_floating_point() else t.numpy()
    return out


def _class_of(mod) -> type:
    """The module's class before torch.nn.utils.parametrize replaced it by a generated subclass."""
    cls = type(mod)
    if parametrize.is_parametrized(mod):
        cls = cls.__bases__[0]
    return cls


def _architecture(module):
    """What a module computes, by name: {submodule: (class, parametrized tensors)} and
    {state tensor: (shape, dtype, parameter/buffer)}. Classes are compared by module and
    qualified name, never by object identity."""
    mods = {}
    for name, m in module.named_modules():
        cls = _class_of(m)
        par = tuple(m.parametrizations.keys()) if parametrize.is_parametrized(m) else ()
        mods[name] = (f"{cls.__module__}.{cls.__qualname__}", cls.__name__, par)
    tensors = {
        name: (tuple(t.shape), t.dtype, "parameter" if isinstance(t, nn.Parameter) else "buffer")
        for name, t in module.state_dict(keep_vars=True).items()
        if isinstance(t, torch.Tensor)
    }
    return mods, tensors


def _describe_class(info, other) -> str:
    qual, short, par = info
    # the short name unless both short names coincide while the classes differ
    text = qual if (short == other[1] and qual != other[0]) else short
    if par:
        text += f" with {', '.join(repr(p) for p in par)} parametrized"
    return text


def _architecture_differences(a, b, i: int) -> List[str]:
    """What differs between modules[0] (a) and modules[i] (b), each named exactly."""
    (mods_a, ten_a), (mods_b, ten_b) = a, b
    out = []
    for name, info in mods_a.items():
        where = "" if name == "" else f"submodule {name!r} of "
        if name not in mods_b:
            out.append(f"modules[{i}] has no submodule {name!r} ({_describe_class(info, info)} in modules[0])")
        elif info != mods_b[name]:
            out.append(
                f"{where}modules[0] is {_describe_class(info, mods_b[name])}, "
                f"{where}modules[{i}] is {_describe_class(mods_b[name], info)}"
            )
    out += [
        f"modules[{i}] has a submodule {name!r} ({_describe_class(info, info)}) that modules[0] lacks"
        for name, info in mods_b.items()
        if name not in mods_a
    ]
    for name, (shape, dtype, kind) in ten_a.items():
        if name not in ten_b:
            out.append(f"modules[{i}] has no {kind} {name!r} (modules[0] has one of shape {shape})")
            continue
        shape_b, dtype_b, kind_b = ten_b[name]
        if kind != kind_b:
            out.append(f"{name!r} is a {kind} in modules[0] and a {kind_b} in modules[{i}]")
        if shape != shape_b:
            out.append(f"{kind} {name!r} has shape {shape} in modules[0] and {shape_b} in modules[{i}]")
        if dtype != dtype_b:
            out.append(f"{kind} {name!r} has dtype {dtype} in modules[0] and {dtype_b} in modules[{i}]")
    out += [
        f"modules[{i}] has a {kind} {name!r} of shape {shape} that modules[0] lacks"
        for name, (shape, _, kind) in ten_b.items()
        if name not in ten_a
    ]
    return out


def aggregate_modules(modules: Sequence, method="radon", *, weights=None, buffers: str = "aggregate", **options) -> nn.Module:
    r"""Aggregate trained modules of one architecture into a new module.

    With :math:`f_i \in \mathbb{R}^d` the vector of module :math:`i`'s floating-point state
    tensors (its parameters and floating-point buffers, in ``state_dict`` order;
    :func:`state_layout`), the result's tensors are
    :math:`\operatorname{agg}(f_1, \dots, f_m)` for the aggregator ``method`` of
    :func:`radonml.aggregate`: the iterated Radon point by default (the Radon machine,
    Kamp et al., "Effective parallelisation for machine learning", NeurIPS 2017), or
    ``"mean"`` (FedAvg, McMahan et al., 2017), ``"median"``, ``"geometric_median"``, ... Integer
    buffers (``num_batches_tracked``) become the element-wise (weighted) lower median of the
    modules' values (:func:`lower_median`). This is the one policy of :func:`tensor_rule`, the
    same as :class:`radonml.flower.FedAggregate` applies to the same models' ``state_dict``
    arrays. The Radon point of :math:`m` models needs :math:`m \ge d + 2`, so it suits small
    models (e.g. logistic regression); for networks use ``"mean"`` or a median.

    Parametrized modules (``weight_norm``, ``spectral_norm``, ...) are aggregated through their
    state: the original tensors (``parametrizations.weight.original0``/``original1``; for
    spectral normalisation ``parametrizations.weight.original`` and the power method's
    ``_u``/``_v``, which go through the aggregator like every floating-point buffer). Then every
    parametrization is evaluated once as a training step's forward does, without gradients:
    spectral normalisation runs its power method (``n_power_iterations`` steps) from the
    aggregated ``_u``/``_v`` on the aggregated weight, so that :math:`\sigma = u^\top W v` is
    the aggregated weight's spectral norm again (in one test, five modules trained from one
    start: the aggregated vectors alone gave :math:`\sigma` 6 % too small in evaluation mode,
    one power step 2e-5, as in each module); Flower clients do the same on their first
    training step. A
    parametrization that keeps a point of its constraint set as a buffer (``orthogonal``'s
    ``base`` with ``use_trivialization=True``) has that buffer aggregated too, and a mean of
    orthogonal matrices is not orthogonal: re-assign the weight (``agg.weight = agg.weight``
    runs the parametrization's ``right_inverse``, which projects it back) if the constraint
    must hold exactly. What every parametrization computes from the aggregated originals is
    checked to be finite. The hook-based ``torch.nn.utils.weight_norm`` cannot be copied by
    torch and is refused with a clear error; use :mod:`torch.nn.utils.parametrizations`.

    Parameters
    ----------
    modules : sequence of torch.nn.Module
        At least one module, all of one architecture: the same class for every submodule
        before parametrization (compared by module and qualified name, not by Python object),
        and the same state tensor names, shapes, dtypes and kinds (parameter or buffer).
        Settings that do not show in the state (a convolution's stride, dropout's ``p``) are
        not compared; the result has those of ``modules[0]``.
    method : str or callable, default "radon"
        A registered aggregator name or a callable (see :func:`radonml.aggregate`).
    weights : (m,) array-like, optional
        Per-module weights (e.g. sample counts) for aggregators that use them; they also
        weight the lower median of integer buffers (and the average of ``buffers="mean"``).
    buffers : {"aggregate", "mean", "first"}, default "aggregate"
        ``"aggregate"``: floating-point buffers (BatchNorm ``running_mean``/``running_var``) go
        through ``method`` with the parameters; integer buffers become the lower median.
        ``"mean"`` (the earlier default): floating-point buffers are (weighted) averaged
        outside the aggregator, integer buffers copied from ``modules[0]``. ``"first"``: every
        buffer copied from ``modules[0]``.
    **options
        Passed to the aggregator (e.g. ``rng``/``height`` for ``"radon"``).

    Returns
    -------
    torch.nn.Module
        A deep copy of ``modules[0]`` (same class, dtypes, devices, ``requires_grad``,
        parametrizations and non-persistent buffers) holding the aggregate. The inputs are not
        modified.

    Raises
    ------
    TypeError
        ``modules`` is not a list or tuple of modules.
    ValueError
        An empty list, modules of different architectures (the message names every
        difference: which submodule's class, which tensor's shape, dtype or kind, which tensor
        is missing), a module holding NaN or inf (named: which module, which parameter or
        buffer; a diverged model), an aggregate that is not finite or does not fit in the
        tensor's dtype (named), an unknown ``buffers`` policy, and every error of
        :func:`radonml.aggregate` (unknown method, too few models for a Radon point:
        :class:`radonml.exceptions.NoRadonPointError`, whose message names the aggregators
        that suit networks).

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
    if buffers not in BUFFER_POLICIES:
        raise ValueError(f"buffers must be one of {BUFFER_POLICIES}, got {buffers!r}")
    first = modules[0]
    arch0 = _architecture(first)
    for i, mod in enumerate(modules[1:], start=1):
        diffs = _architecture_differences(arch0, _architecture(mod), i)
        if diffs:
            more = f"; and {len(diffs) - 4} more" if len(diffs) > 4 else ""
            raise ValueError(f"modules must share one architecture: {'; '.join(diffs[:4])}{more}")
    w = check_weights(weights, len(modules))
    layout = state_layout(first, buffers=buffers)
    states = [state_arrays(m) for m in modules]
    for i, (mod, st) in enumerate(zip(modules, states)):
        bad = layout.nonfinite(st)
        if bad:
            kinds = arch0[1]
            listed = ", ".join(f"{kinds[n][2]} {n!r} ({k} value{'s' if k > 1 else ''})" for n, k in bad)
            raise ValueError(
                f"modules[{i}] holds NaN or infinite values (a diverged model?): {listed}; "
                "remove or repair it before aggregating"
            )
    X = layout.stack(states)
    name = method if isinstance(method, str) else getattr(method, "__name__", "callable")
    try:
        theta = aggregate(X, method, weights=w, **options) if X.shape[1] else np.zeros(0)
    except NoRadonPointError as exc:  # the default method on a network: say what to do instead
        raise NoRadonPointError(
            f"{exc}; aggregate_modules' default method='radon' suits small models (d + 2 = {X.shape[1] + 2} "
            f"models needed here, {len(modules)} given): for networks choose method='mean', 'median', "
            "'geometric_median' or a robust rule such as 'trimmed_mean' or 'krum'"
        ) from None
    try:
        new = layout.combine(theta, states, w)
    except ValueError as exc:
        raise ValueError(f"aggregator {name!r}: {exc}") from None
    try:
        out = copy.deepcopy(first)
    except RuntimeError as exc:  # e.g. the hook-based torch.nn.utils.weight_norm (pytorch/pytorch#103001)
        raise ValueError(
            f"modules[0] cannot be copied to hold the aggregate ({exc}); hook-based torch.nn.utils.weight_norm "
            "holds a computed weight that torch cannot deep-copy: use torch.nn.utils.parametrizations.weight_norm"
        ) from None
    full = out.state_dict()
    for key, arr in new.items():
        target = full[key]
        t = torch.from_numpy(np.ascontiguousarray(arr)).to(dtype=target.dtype)
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            raise ValueError(
                f"aggregator {name!r}: the aggregate of {arch0[1][key][2]} {key!r} does not fit in its dtype "
                f"{target.dtype} (it would become inf)"
            )
        full[key] = t
    out.load_state_dict(full)
    _refresh_parametrizations(out, name)
    return out


def _refresh_parametrizations(module, name: str) -> None:
    """Evaluate every parametrization of ``module`` once, as a training step's forward does
    (without gradients): spectral normalisation runs its power method on the aggregated
    weight, so that u and v are its singular vectors again. Each result must be finite."""
    modes = [(m, m.training) for m in module.modules()]
    try:
        module.train()
        with torch.no_grad():
            for mod_name, m in module.named_modules():
                if not parametrize.is_parametrized(m):
                    continue
                for tensor_name in m.parametrizations.keys():
                    value = getattr(m, tensor_name)
                    if value.is_floating_point() and not bool(torch.isfinite(value).all()):
                        where = f"{mod_name}.{tensor_name}" if mod_name else tensor_name
                        raise ValueError(
                            f"aggregator {name!r}: the parametrized tensor {where!r} computed from the aggregated "
                            "originals holds NaN or infinite values"
                        )
    finally:
        for m, training in modes:
            m.training = training


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
