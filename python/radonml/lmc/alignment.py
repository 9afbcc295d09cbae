r"""Permutation alignment: model B's hidden units permuted to match model A's before
interpolating (Entezari et al., 2022; Ainsworth et al., 2023).

Two networks trained from different initializations compute similar functions with their
hidden units in different orders, so the straight line between their parameters crosses a
loss barrier; permuting B's units to match A's (which leaves B's function unchanged) removes
most of it. :func:`weight_matching` finds the permutations from the weights alone,
:func:`activation_matching` from the correlations of hidden activations on data. Both return
an :class:`AlignmentResult` whose ``model`` is the permuted copy of B; every study of
:mod:`radonml.lmc` also takes ``align="weight"`` or ``"activation"`` (or a result) to align
first.

References
----------
S. K. Ainsworth, J. Hayase, S. Srinivasa, "Git Re-Basin: Merging models modulo permutation
symmetries", ICLR 2023.
R. Entezari, H. Sedghi, O. Saukh, B. Neyshabur, "The role of permutation invariance in linear
mode connectivity of neural networks", ICLR 2022.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Dict, Optional

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from torch import nn

from .._validation import check_int, check_rng
from ._common import to_jsonable
from ._data import DEFAULT_BATCH_SIZE, device_dtype, input_batches
from .permutations import (
    PermutationSpec,
    check_permutation_spec,
    check_permutations,
    permutation_spec,
    permute_axis,
    permute_state,
)

__all__ = ["AlignmentResult", "weight_matching", "activation_matching"]


@dataclass
class AlignmentResult:
    r"""Model B with its hidden units permuted to match model A's.

    Attributes
    ----------
    model : torch.nn.Module
        A new module: B with the permutations applied (B itself is untouched); it computes
        the same function as B.
    permutations : dict of str to (n,) ndarray of int64
        For each permutation of ``spec``: unit ``i`` of the aligned model is unit
        ``permutations[name][i]`` of B (``aligned = B[perm]`` along each axis it acts on).
    spec : PermutationSpec
        Which axes each permutation acts on.
    method : str
        ``"weight"`` or ``"activation"``.
    objective : float
        What the matching maximizes, at the permutations found: the inner product
        :math:`\sum_\ell \langle W_\ell^A, \pi(W^B)_\ell\rangle` of all parameters (weight
        matching) or the summed correlations of matched units (activation matching).
    objective_identity : float
        The same at the identity permutations (no alignment).
    n_iter : int
        Sweeps over the permutations (weight matching; 1 for activation matching).
    converged : bool
        Whether a sweep changed nothing (weight matching stops there or at ``max_iter``).

    Examples
    --------
    B is A with its hidden units reversed; weight matching finds that permutation:

    >>> import torch
    >>> from radonml import lmc
    >>> _ = torch.manual_seed(0)
    >>> model_a = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    >>> model_b = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    >>> with torch.no_grad():
    ...     _ = model_b[0].weight.copy_(model_a[0].weight.flip(0)), model_b[0].bias.copy_(model_a[0].bias.flip(0))
    ...     _ = model_b[2].weight.copy_(model_a[2].weight.flip(1)), model_b[2].bias.copy_(model_a[2].bias)
    >>> res = lmc.weight_matching(model_a, model_b, rng=0)
    >>> [p.tolist() for p in res.permutations.values()], res.converged
    ([[3, 2, 1, 0]], True)
    >>> torch.equal(res.model[0].weight, model_a[0].weight)
    True
    """

    model: nn.Module
    permutations: Dict[str, np.ndarray]
    spec: PermutationSpec
    method: str
    objective: float
    objective_identity: float
    n_iter: int = 1
    converged: bool = True

    def apply(self, model_or_state):
        """These permutations applied to another model (a new module) or ``state_dict`` (a new
        dict) with the same tensors, e.g. the checkpoints of B's training run."""
        if isinstance(model_or_state, nn.Module):
            out = copy.deepcopy(model_or_state)
            out.load_state_dict(permute_state(model_or_state.state_dict(), self.spec, self.permutations))
            return out
        if isinstance(model_or_state, dict):
            return permute_state(model_or_state, self.spec, self.permutations)
        raise TypeError(f"apply takes a torch.nn.Module or a state_dict, got {type(model_or_state).__name__}")

    @property
    def n_moved(self) -> Dict[str, int]:
        """Per permutation: how many units it moves (not fixed points)."""
        return {p: int((v != np.arange(v.size)).sum()) for p, v in self.permutations.items()}

    def to_dict(self) -> dict:
        """The permutations and the matching's numbers as plain Python types (no model)."""
        return to_jsonable({"method": self.method, "permutations": self.permutations, "objective": self.objective,
                            "objective_identity": self.objective_identity, "n_iter": self.n_iter,
                            "converged": self.converged, "spec": self.spec.to_dict()})

    def __repr__(self) -> str:
        sizes = ", ".join(f"{p}: {v.size} ({m} moved)" for (p, v), m in zip(self.permutations.items(), self.n_moved.values()))
        return (f"AlignmentResult(method={self.method!r}, permutations={{{sizes}}}, objective={self.objective:.6g} "
                f"(identity {self.objective_identity:.6g}), n_iter={self.n_iter}, converged={self.converged})")


# ------------------------------------------------------------------------------- shared --

def _check_pair(model_a, model_b):
    for name, m in (("model_a", model_a), ("model_b", model_b)):
        if not isinstance(m, nn.Module):
            raise TypeError(f"{name} must be a torch.nn.Module, got {type(m).__name__}")
    sa, sb = model_a.state_dict(), model_b.state_dict()
    if sa.keys() != sb.keys():
        diff = sorted(set(sa) ^ set(sb))
        raise ValueError(f"model_a and model_b must have the same architecture; state_dict keys differ: {diff[:5]}")
    for k in sa:
        if sa[k].shape != sb[k].shape:
            raise ValueError(f"model_a and model_b must have the same architecture; {k!r} has shape "
                             f"{tuple(sa[k].shape)} in model_a and {tuple(sb[k].shape)} in model_b")
        for name, s in (("model_a", sa), ("model_b", sb)):
            v = s[k]
            if v.is_floating_point() and not bool(torch.isfinite(v).all()):
                n = int((~torch.isfinite(v)).sum())
                raise ValueError(f"{name}'s {k!r} has {n} non-finite value(s) (NaN or inf): a diverged model cannot be "
                                 "aligned")
    return sa, sb


def _resolve_spec(model_a, spec):
    if spec is None:
        return permutation_spec(model_a)
    if not isinstance(spec, PermutationSpec):
        raise TypeError(f"spec must be a PermutationSpec or None (derive it from the model), got {type(spec).__name__}")
    return spec


def _result(model_b, spec, perms, method, objective, objective_identity, n_iter, converged) -> AlignmentResult:
    aligned = copy.deepcopy(model_b)
    aligned.load_state_dict(permute_state(model_b.state_dict(), spec, perms))
    return AlignmentResult(model=aligned, permutations=perms, spec=spec, method=method, objective=float(objective),
                           objective_identity=float(objective_identity), n_iter=n_iter, converged=converged)


def _unit_rows(t: torch.Tensor, axis: int, n: int) -> torch.Tensor:
    """``t`` with ``axis`` (n units, or n blocks of flattened channels) first, as (n, rest)."""
    t = t.movedim(axis, 0)
    return t.reshape(n, -1)


def _check_input(model, spec, data, name):
    dev, dt = device_dtype(model)
    for x in input_batches(data, name, dev, dt):
        check_permutation_spec(model, spec, x)
        return


# ------------------------------------------------------------------------ weight matching --

def weight_matching(model_a: nn.Module, model_b: nn.Module, *, spec: Optional[PermutationSpec] = None,
                    max_iter: int = 100, rng=None, include_buffers: bool = False, check_data=None) -> AlignmentResult:
    r"""Permute model B's hidden units to match model A's weights (Ainsworth et al., 2023).

    Maximizes the inner product of the two parameter vectors over the permutations
    :math:`\pi` of the spec,

    .. math:: \max_\pi \sum_{\text{tensors } \ell} \langle W^A_\ell, \pi(W^B)_\ell \rangle,

    by coordinate descent: for one permutation :math:`P` at a time (in random order), with
    the others fixed, the objective is linear in :math:`P`,
    :math:`\sum_{(\ell, \text{axis}) \ni P} \langle W^A_\ell, P\,\tilde W^B_\ell\rangle
    = \operatorname{tr}(P^\top C)`, :math:`C = \sum W^A_{\ell,(\text{axis})}
    \tilde W^{B\top}_{\ell,(\text{axis})}` (both flattened with that axis first,
    :math:`\tilde W^B` permuted on its other axes), a linear assignment problem solved
    exactly (:func:`scipy.optimize.linear_sum_assignment`). Sweeps repeat until one
    improves nothing (the objective never decreases, so this ends) or ``max_iter`` sweeps.

    Parameters
    ----------
    model_a, model_b : torch.nn.Module
        Same architecture; B is not modified.
    spec : PermutationSpec, optional
        Default: derived from ``model_a`` (:func:`~radonml.lmc.permutation_spec`).
    max_iter : int, default 100
        Largest number of sweeps.
    rng : None, int or numpy.random.Generator
        Order of the permutations within each sweep.
    include_buffers : bool, default False
        Also match normalization statistics (``running_mean``/``running_var``); by default
        only parameters enter the objective.
    check_data : tensor, (X,) / (X, y) or DataLoader, optional
        When given, the spec is checked on its first batch: permuting B must not change its
        outputs (:func:`~radonml.lmc.check_permutation_spec`).

    Returns
    -------
    AlignmentResult
        ``method="weight"``.

    Raises
    ------
    TypeError
        A model not a module; ``spec`` not a :class:`PermutationSpec`.
    ValueError
        Different architectures; non-finite parameters; a spec that cannot be derived (the
        message names the module) or does not fit; ``max_iter < 1``.

    References
    ----------
    S. K. Ainsworth, J. Hayase, S. Srinivasa, "Git Re-Basin: Merging models modulo
    permutation symmetries", ICLR 2023, Algorithm 1.

    Examples
    --------
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> a = nn.Sequential(nn.Linear(3, 6), nn.ReLU(), nn.Linear(6, 2))
    >>> b = copy.deepcopy(a)  # b: a with its hidden units shuffled
    >>> _ = b.load_state_dict(permute_state(a.state_dict(), permutation_spec(a), {"P_0": np.array([5, 3, 1, 0, 2, 4])}))
    >>> res = weight_matching(a, b, rng=0)
    >>> all(torch.equal(v, res.model.state_dict()[k]) for k, v in a.state_dict().items())
    True
    >>> res.permutations["P_0"].tolist()
    [3, 2, 4, 1, 5, 0]
    """
    sa, sb = _check_pair(model_a, model_b)
    spec = _resolve_spec(model_a, spec)
    max_iter = check_int(max_iter, "max_iter", minimum=1)
    g = check_rng(rng)
    sizes = spec.sizes(sa)
    if check_data is not None:
        _check_input(model_b, spec, check_data, "check_data")
    params = {n for n, _ in model_a.named_parameters()}
    use = {k for k in spec.axes if (include_buffers or k in params) and sa[k].is_floating_point()}
    A = {k: sa[k].detach().to("cpu", torch.float64) for k in use}
    B = {k: sb[k].detach().to("cpu", torch.float64) for k in use}
    p2a = {p: [(k, i) for k, i in axes if k in use] for p, axes in spec.perm_to_axes.items()}
    perms = {p: np.arange(n) for p, n in sizes.items()}
    tperm = {p: torch.as_tensor(v) for p, v in perms.items()}

    def permuted_b(key, except_axis):
        t = B[key]
        for axis, p in enumerate(spec.axes[key]):
            if p is not None and axis != except_axis:
                t = permute_axis(t, axis, tperm[p])
        return t

    def cost(p):
        n = sizes[p]
        C = torch.zeros((n, n), dtype=torch.float64)
        for k, axis in p2a[p]:
            C += _unit_rows(A[k], axis, n) @ _unit_rows(permuted_b(k, axis), axis, n).T
        return C.numpy()

    def objective():
        return float(sum((A[k] * permuted_b(k, None)).sum() for k in use))

    obj_identity = objective()
    names = list(sizes)
    converged, n_iter = False, 0
    for n_iter in range(1, max_iter + 1):
        progress = False
        for j in g.permutation(len(names)):
            p = names[j]
            C = cost(p)
            _, col = linear_sum_assignment(C, maximize=True)
            n = sizes[p]
            old, new = C[np.arange(n), perms[p]].sum(), C[np.arange(n), col].sum()
            if new > old + 1e-12 * max(1.0, abs(old)):
                perms[p], tperm[p] = col, torch.as_tensor(col)
                progress = True
        if not progress:
            converged = True
            break
    return _result(model_b, spec, perms, "weight", objective(), obj_identity, n_iter, converged)


# -------------------------------------------------------------------- activation matching --

class _Moments:
    """Running sums for the correlation of A's and B's units: sum a, b, a^2, b^2, a b^T."""

    def __init__(self, n):
        self.n = n
        self.count = 0
        self.sa = torch.zeros(n, dtype=torch.float64)
        self.sb = torch.zeros(n, dtype=torch.float64)
        self.saa = torch.zeros(n, dtype=torch.float64)
        self.sbb = torch.zeros(n, dtype=torch.float64)
        self.sab = torch.zeros((n, n), dtype=torch.float64)

    def add(self, a, b):
        a, b = a.double().cpu(), b.double().cpu()
        self.count += a.shape[0]
        self.sa += a.sum(0)
        self.sb += b.sum(0)
        self.saa += (a * a).sum(0)
        self.sbb += (b * b).sum(0)
        self.sab += a.T @ b

    def correlation(self, eps=1e-12) -> np.ndarray:
        c = max(self.count, 1)
        ma, mb = self.sa / c, self.sb / c
        cov = self.sab / c - ma[:, None] * mb[None, :]
        va = (self.saa / c - ma * ma).clamp_min(0)
        vb = (self.sbb / c - mb * mb).clamp_min(0)
        return (cov / (torch.sqrt(va)[:, None] * torch.sqrt(vb)[None, :] + eps)).numpy()


def _as_units(out: torch.Tensor, n: int, where: str) -> torch.Tensor:
    """A module's output (N, C, ...) or (N, F) as (samples, n) rows of unit activations."""
    if not torch.is_tensor(out) or out.dim() < 2 or out.shape[1] % n:
        shape = tuple(out.shape) if torch.is_tensor(out) else type(out).__name__
        raise ValueError(f"activation matching: the output of module {where!r} has shape {shape}; expected (N, C, ...) "
                         f"with C a multiple of the permutation's {n} units on axis 1")
    N, C = out.shape[0], out.shape[1]
    v = out.reshape(N, n, C // n, *out.shape[2:]).movedim(1, -1)
    return v.reshape(-1, n)


def activation_matching(model_a: nn.Module, model_b: nn.Module, data, *, spec: Optional[PermutationSpec] = None,
                        batch_size: int = DEFAULT_BATCH_SIZE) -> AlignmentResult:
    r"""Permute model B's hidden units to match model A's by the correlation of their activations.

    For each permutation :math:`P` of the spec, the activations of the units it permutes
    are recorded in both models on ``data`` (the outputs of the modules
    ``spec.activations[P]``, positions of convolutional feature maps counted as samples),
    and :math:`P` maximizes the summed Pearson correlation of matched units,

    .. math:: \max_P \sum_i \operatorname{corr}(a_i, b_{P(i)}),

    a linear assignment problem solved exactly for each permutation
    (:func:`scipy.optimize.linear_sum_assignment`). Activations are functions of the
    models alone, so the permutations are found independently (no iteration).

    Parameters
    ----------
    model_a, model_b : torch.nn.Module
        Same architecture; evaluated in eval mode on copies (B is not modified).
    data : tensor X, (X,) / (X, y) tensors, or a DataLoader of batches
        Inputs (the first element of each batch); tensors are used in batches of
        ``batch_size`` rows.
    spec : PermutationSpec, optional
        Default: derived from ``model_a``; it must name the activations of each permutation.
    batch_size : int, default 1024

    Returns
    -------
    AlignmentResult
        ``method="activation"``; ``objective`` is the summed correlation of matched units.

    Raises
    ------
    TypeError
        A model not a module; ``data`` of an unknown kind; ``spec`` not a PermutationSpec.
    ValueError
        Different architectures; non-finite parameters or activations; a spec that cannot be
        derived or lacks activations for a permutation; a spec under which permuting B
        changes its outputs (checked on the first batch).

    References
    ----------
    S. K. Ainsworth, J. Hayase, S. Srinivasa, "Git Re-Basin: Merging models modulo
    permutation symmetries", ICLR 2023, Section 3.1.
    Y. Li, J. Yosinski, J. Clune, H. Lipson, J. Hopcroft, "Convergent learning: do different
    neural networks learn the same representations?", ICLR 2016.

    Examples
    --------
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> a = nn.Sequential(nn.Linear(3, 6), nn.ReLU(), nn.Linear(6, 2))
    >>> b = copy.deepcopy(a)  # b: a with its hidden units shuffled
    >>> _ = b.load_state_dict(permute_state(a.state_dict(), permutation_spec(a), {"P_0": np.array([5, 3, 1, 0, 2, 4])}))
    >>> activation_matching(a, b, torch.randn(200, 3)).permutations["P_0"].tolist()
    [3, 2, 4, 1, 5, 0]
    """
    sa, _ = _check_pair(model_a, model_b)
    spec = _resolve_spec(model_a, spec)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    sizes = spec.sizes(sa)
    missing = [p for p in sizes if not spec.activations.get(p)]
    if missing:
        raise ValueError(f"activation matching needs the modules whose outputs carry each permutation; the spec names "
                         f"none for {missing}: give PermutationSpec(..., activations={{{missing[0]!r}: [module names]}})")
    ma, mb = copy.deepcopy(model_a).eval(), copy.deepcopy(model_b).eval()
    modules_a, modules_b = dict(ma.named_modules()), dict(mb.named_modules())
    where = {}
    for p, names in spec.activations.items():
        if p not in sizes:
            continue
        for name in names:
            if name not in modules_a:
                raise ValueError(f"the spec's activations for {p!r} name {name!r}, which is not a module of the model")
            where.setdefault(name, []).append(p)
    moments = {p: _Moments(n) for p, n in sizes.items()}
    records = {"a": {}, "b": {}}
    handles = []

    def hook(side, name):
        def f(_mod, _inp, out):
            records[side].setdefault(name, []).append(out.detach())
        return f

    for name in where:
        handles.append(modules_a[name].register_forward_hook(hook("a", name)))
        handles.append(modules_b[name].register_forward_hook(hook("b", name)))
    dev, dt = device_dtype(ma)
    first = True
    try:
        with torch.no_grad():
            for x in input_batches(data, "data", dev, dt, batch_size=batch_size):
                if first:
                    check_permutation_spec(model_b, spec, x)
                    first = False
                records["a"].clear()
                records["b"].clear()
                ma(x)
                mb(x)
                for name, ps in where.items():
                    outs_a, outs_b = records["a"].get(name, []), records["b"].get(name, [])
                    if not outs_a:
                        raise ValueError(f"activation matching: module {name!r} (named in the spec's activations) does "
                                         "not run in the model's forward")
                    for oa, ob in zip(outs_a, outs_b):
                        for p in ps:
                            ua, ub = _as_units(oa, sizes[p], name), _as_units(ob, sizes[p], name)
                            if not (bool(torch.isfinite(ua).all()) and bool(torch.isfinite(ub).all())):
                                raise ValueError(f"activation matching: the activations of module {name!r} are not "
                                                 "finite (NaN or inf) on data")
                            moments[p].add(ua, ub)
    finally:
        for h in handles:
            h.remove()
    perms, obj, obj_id = {}, 0.0, 0.0
    for p, m in moments.items():
        corr = m.correlation()
        _, col = linear_sum_assignment(corr, maximize=True)
        perms[p] = col.astype(np.int64)
        obj += float(corr[np.arange(m.n), col].sum())
        obj_id += float(np.trace(corr))
    check_permutations(spec, perms, sizes)
    return _result(model_b, spec, perms, "activation", obj, obj_id, 1, True)
