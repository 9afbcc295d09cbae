r"""Flatness measures of a torch model's empirical loss: relative flatness (Petzka et al., 2021),
the Hessian trace and the top Hessian eigenvalue, per layer and for the whole model.

Notation. A model :math:`f_\theta`, data :math:`S = \{(x_i, y_i)\}_{i=1}^n`, the empirical loss
:math:`L(\theta) = \frac1n\sum_i \ell(f_\theta(x_i), y_i)` (``loss_fn`` returns the batch mean
of :math:`\ell`; batches are weighted by their size), and :math:`H = \nabla^2 L`. For a layer
with weight matrix :math:`W \in \mathbb R^{d\times m}` (``nn.Linear.weight``: d = out_features,
m = in_features), :math:`w_s \in \mathbb R^m` is its s-th **row**: the weights into output neuron
s. :math:`H_{s,s'} \in \mathbb R^{m\times m}` is the block of the Hessian with respect to
:math:`W` for rows s and s', :math:`(H_{s,s'})_{jk} = \partial^2 L / \partial W_{sj}\partial W_{s'k}`.

Relative flatness (Petzka et al., 2021, Def. 3, :math:`\kappa^\phi_{Tr}`):

.. math:: \kappa(W) = \sum_{s,s'=1}^{d} \langle w_s, w_{s'}\rangle\, \mathrm{Tr}(H_{s,s'})
          = \mathrm{Tr}\big(H\,(W W^\top \otimes I_m)\big).

It is unchanged when the network is reparametrized without changing its function: for a
ReLU network, multiplying neuron s of this layer (row :math:`w_s` and its bias) by
:math:`\lambda_s > 0` and the next layer's column s by :math:`1/\lambda_s` leaves
:math:`\kappa` as it is (the Hessian blocks scale by :math:`1/(\lambda_s\lambda_{s'})`, the
inner products by :math:`\lambda_s\lambda_{s'}`); the Hessian trace and eigenvalues change.

Estimators.

- ``"exact"``: :math:`H` (the block of the chosen parameters) column by column, one
  Hessian-vector product per weight, vectorized with :func:`torch.func.vmap` over chunks of
  basis vectors; :math:`\mathrm{Tr}(H_{s,s'})` is reduced on the fly, so memory is
  :math:`O(d^2 + \text{chunk}\cdot dm)`, time :math:`dm` products per batch.
- ``"hutchinson"``: :math:`\mathrm{Tr}(A) = \mathbb E[z^\top A z]` for Rademacher :math:`z`
  (Hutchinson, 1989). For relative flatness, with :math:`W W^\top \otimes I = (W\otimes
  I)(W\otimes I)^\top`, :math:`\kappa = \mathbb E_Z[\langle WZ, H[WZ]\rangle]` for a Rademacher
  :math:`Z \in \{\pm1\}^{m\times m}`: the quadratic form of a symmetric matrix, one
  Hessian-vector product per probe. The interval is the Student-t interval of the mean of
  the probe values (it relies on the central limit theorem over probes: use tens of probes).

Hessian-vector products are forward-over-reverse (:func:`torch.func.jvp` of
:func:`torch.func.grad`), batched over probe vectors with :func:`torch.func.vmap`; models that
vmap cannot batch fall back to a loop over probes, models torch.func cannot transform to
``torch.autograd`` double backward (the result's ``hvp_mode`` and ``note`` say which).
Hutchinson estimates need only the quadratic forms :math:`v^\top H v`: for a model that is an
``nn.Sequential`` of ``nn.Linear`` layers and elementwise activations they are computed by
second-order forward mode, the primal pass and its gradients shared by all probes, at about
half the multiply-adds of a Hessian-vector product (``hvp_mode`` ``"forward quadratic form
(Linear chain)"``; any other model takes the products).
Models are evaluated in eval mode (dropout off, BatchNorm on its running statistics).

References
----------
H. Petzka, M. Kamp, L. Adilova, C. Sminchisescu, M. Boley, "Relative flatness and
generalization", NeurIPS 2021.
M. F. Hutchinson, "A stochastic estimator of the trace of the influence matrix for Laplacian
smoothing splines", Communications in Statistics - Simulation and Computation 18(3), 1989.
Z. Yao, A. Gholami, K. Keutzer, M. W. Mahoney, "PyHessian: Neural networks through the lens of
the Hessian", IEEE BigData 2020 (the trace and eigenvalue estimators users compare with).
"""

from __future__ import annotations

import math
import numbers
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
import torch
from torch import nn

from .._results import to_jsonable
from .._validation import check_fraction, check_int, check_rng
from ..exceptions import ConvergenceWarning
from ._hvp import Objective, batches, check_data, check_loss_fn, device_dtype, resolve_parameter

__all__ = [
    "relative_flatness",
    "hessian_trace",
    "top_hessian_eigenvalue",
    "hessian",
    "layerwise_flatness",
    "FlatnessResult",
    "EigenvalueResult",
    "LayerwiseFlatness",
]

_METHODS = ("auto", "exact", "hutchinson")


# ------------------------------------------------------------------------------ results --

class _JSON:
    def to_dict(self) -> dict:
        """The result as plain Python types (lists, floats, None for NaN)."""
        return to_jsonable(self)


@dataclass(repr=False)
class FlatnessResult(_JSON):
    r"""A flatness measure of a model's empirical loss (:func:`relative_flatness`,
    :func:`hessian_trace`).

    Attributes
    ----------
    measure : str
        ``"relative_flatness"`` (:math:`\kappa(W)`) or ``"hessian_trace"`` (:math:`\mathrm{Tr}\,H`).
    value : float
        The exact value, or the mean of the probe values for ``"hutchinson"``.
    parameters : list of str
        The parameters the Hessian is taken with respect to.
    method : str
        ``"exact"`` or ``"hutchinson"``.
    n_examples : int
        Examples the empirical loss averages over.
    interval : (float, float) or None
        Student-t confidence interval of the mean at level ``confidence`` (Hutchinson with at
        least 2 probes; None otherwise).
    std_error : float or None
        Standard error of the mean over probes (Hutchinson with at least 2 probes).
    confidence : float or None
    n_probes : int or None
        Number of probe vectors (Hutchinson only).
    seed : int or None
        Seed of the probes: passing it again reproduces the estimate.
    samples : (n_probes,) ndarray or None
        The probe values :math:`z_p^\top A z_p`, whose mean is ``value``.
    hvp_mode : str
        How Hessian-vector products were computed (``"vmap(jvp(grad))"``, ...), or
        ``"forward quadratic form (Linear chain)"`` when a Hutchinson estimate needed only the
        quadratic forms :math:`v^\top H v` and the model is a chain of Linear layers and
        elementwise activations.
    note : str
        Why a slower mode was used, if one was.

    Examples
    --------
    >>> import torch
    >>> from radonml.flatness import relative_flatness
    >>> _ = torch.manual_seed(0)
    >>> model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    >>> X, y = torch.randn(16, 4), torch.randint(0, 2, (16,))
    >>> res = relative_flatness(model, (X, y), layer="2.weight", loss_fn=torch.nn.functional.cross_entropy)
    >>> res.measure, res.method, res.n_examples, res.interval
    ('relative_flatness', 'exact', 16, None)
    """

    measure: str
    value: float
    parameters: List[str]
    method: str
    n_examples: int
    interval: Optional[Tuple[float, float]] = None
    std_error: Optional[float] = None
    confidence: Optional[float] = None
    n_probes: Optional[int] = None
    seed: Optional[int] = None
    samples: Optional[np.ndarray] = None
    hvp_mode: str = ""
    note: str = ""

    def _what(self) -> str:
        p = self.parameters
        return repr(p[0]) if len(p) == 1 else (f"{len(p)} parameters" if p else "no parameters")

    def _value_text(self) -> str:
        if self.interval is None:
            return f"{self.value:.6g}" + (" (one probe: no interval)" if self.n_probes == 1 else "")
        lo, hi = self.interval
        return f"{self.value:.6g} ({100 * self.confidence:g}% interval [{lo:.6g}, {hi:.6g}])"

    def __repr__(self) -> str:
        how = self.method if self.n_probes is None else f"{self.method}, {self.n_probes} probes, seed {self.seed}"
        return (f"FlatnessResult({self.measure!r}, value={self._value_text()}, of {self._what()}, {how}, "
                f"{self.n_examples} examples)")


@dataclass(repr=False)
class EigenvalueResult(_JSON):
    r"""The eigenvalue of largest magnitude of the Hessian (:func:`top_hessian_eigenvalue`).

    Attributes
    ----------
    value : float
        The eigenvalue :math:`\lambda` with the largest :math:`|\lambda|` (signed); at a
        minimum, where :math:`H \succeq 0`, this is :math:`\lambda_{\max}`.
    parameters : list of str
    method : str
        ``"lanczos"``, ``"power"`` or ``"exact"`` (dense, for tiny parameter blocks).
    converged : bool
    n_hvp : int
        Hessian-vector products computed, each one pass over the data.
    n_examples : int
    seed : int or None
    hvp_mode, note : str
        As in :class:`FlatnessResult`.

    Examples
    --------
    >>> import torch
    >>> from radonml.flatness import top_hessian_eigenvalue
    >>> _ = torch.manual_seed(0)
    >>> model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    >>> X, y = torch.randn(16, 4), torch.randint(0, 2, (16,))
    >>> res = top_hessian_eigenvalue(model, (X, y), loss_fn=torch.nn.functional.cross_entropy, layer="2.weight", seed=0)
    >>> res.converged, res.value >= 0
    (True, True)
    """

    value: float
    parameters: List[str]
    method: str
    converged: bool
    n_hvp: int
    n_examples: int
    seed: Optional[int] = None
    hvp_mode: str = ""
    note: str = ""

    def __repr__(self) -> str:
        p = self.parameters
        what = repr(p[0]) if len(p) == 1 else f"{len(p)} parameters"
        conv = "converged" if self.converged else "NOT converged"
        return (f"EigenvalueResult(value={self.value:.6g}, of {what}, {self.method}, "
                f"{self.n_hvp} Hessian-vector products, {conv}, {self.n_examples} examples)")


@dataclass(repr=False)
class LayerwiseFlatness(_JSON):
    r"""Flatness measures of every 2-D weight of a model, and of the whole model
    (:func:`layerwise_flatness`).

    Attributes
    ----------
    layers : list of str
        Weight names, in the model's parameter order.
    shapes : list of (int, int)
    relative_flatness : list of FlatnessResult
        :math:`\kappa(W_l)` per layer.
    hessian_trace : list of FlatnessResult
        :math:`\mathrm{Tr}\,H_{W_l W_l}` per layer (the block of the layer's weight matrix).
    top_eigenvalue : list of EigenvalueResult or None
        Of each layer's block (None when not asked for).
    model_trace : FlatnessResult or None
        :math:`\mathrm{Tr}\,H` over all parameters (what PyHessian's ``trace`` estimates).
    model_top_eigenvalue : EigenvalueResult or None
        Over all parameters (PyHessian's ``eigenvalues``).

    Examples
    --------
    >>> import torch
    >>> from radonml.flatness import layerwise_flatness
    >>> _ = torch.manual_seed(0)
    >>> model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    >>> X, y = torch.randn(16, 4), torch.randint(0, 2, (16,))
    >>> res = layerwise_flatness(model, (X, y), loss_fn=torch.nn.functional.cross_entropy, eigenvalues=False)
    >>> sorted(res.values), res.values["relative_flatness"].shape
    (['hessian_trace', 'relative_flatness'], (2,))
    """

    layers: List[str]
    shapes: List[Tuple[int, int]]
    relative_flatness: List[FlatnessResult]
    hessian_trace: List[FlatnessResult]
    top_eigenvalue: Optional[List[EigenvalueResult]] = None
    model_trace: Optional[FlatnessResult] = None
    model_top_eigenvalue: Optional[EigenvalueResult] = None

    @property
    def values(self) -> Dict[str, np.ndarray]:
        """Measure name to (n_layers,) array of values."""
        out = {"relative_flatness": np.array([r.value for r in self.relative_flatness]),
               "hessian_trace": np.array([r.value for r in self.hessian_trace])}
        if self.top_eigenvalue is not None:
            out["top_eigenvalue"] = np.array([r.value for r in self.top_eigenvalue])
        return out

    def table(self) -> str:
        """Plain-text table: one row per layer, then the whole model."""
        def cell(r):
            if r is None:
                return "-"
            if getattr(r, "interval", None) is None:
                return f"{r.value:.5g}"
            return f"{r.value:.5g} ± {(r.interval[1] - r.interval[0]) / 2:.2g}"

        eig = self.top_eigenvalue is not None
        head = f"{'layer':<22}{'shape':>11}{'relative flatness':>24}{'Hessian trace':>24}"
        head += f"{'top eigenvalue':>16}" if eig else ""
        lines = [head]
        for i, name in enumerate(self.layers):
            row = (f"{name:<22}{'x'.join(map(str, self.shapes[i])):>11}{cell(self.relative_flatness[i]):>24}"
                   f"{cell(self.hessian_trace[i]):>24}")
            if eig:
                row += f"{cell(self.top_eigenvalue[i]):>16}"
            lines.append(row)
        if self.model_trace is not None or self.model_top_eigenvalue is not None:
            row = f"{'whole model':<22}{'':>11}{'-':>24}{cell(self.model_trace):>24}"
            if eig or self.model_top_eigenvalue is not None:
                row += f"{cell(self.model_top_eigenvalue):>16}"
            lines.append(row)
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"LayerwiseFlatness({len(self.layers)} layers)\n{self.table()}"


# --------------------------------------------------------------------------- plumbing --

@contextmanager
def _eval_mode(model: nn.Module):
    was = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was)


def _check_common(model, loss_fn, batch_size, chunk_size):
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    check_loss_fn(loss_fn)
    batch_size = None if batch_size is None else check_int(batch_size, "batch_size", minimum=1)
    chunk_size = check_int(chunk_size, "chunk_size", minimum=1)
    return batch_size, chunk_size


def _check_method(method, allowed=_METHODS) -> str:
    if method not in allowed:
        raise ValueError(f"method must be one of {allowed}, got {method!r}")
    return method


def _seed_of(seed) -> int:
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
        if seed < 0:
            raise ValueError(f"seed must be a non-negative integer or None, got {seed}")
        return int(seed)
    return int(check_rng(seed).integers(0, 2**62))


def _resolve_group(model, layer) -> List[str]:
    """None: every parameter; a name; or a list of names."""
    if layer is None:
        names = [n for n, _ in model.named_parameters()]
        if not names:
            raise ValueError("model has no parameters")
        return names
    if isinstance(layer, str):
        return [resolve_parameter(model, layer)]
    if isinstance(layer, (list, tuple)) and layer:
        names = [resolve_parameter(model, n) for n in layer]
        if len(set(names)) != len(names):
            raise ValueError(f"layer lists a parameter twice: {list(layer)}")
        return names
    raise TypeError(f"layer must be None (the whole model), a parameter name or a non-empty list of names, got {layer!r}")


class _Probes:
    """Deterministic probe vectors: probe p is drawn from its own generator, seeded from
    ``seed`` and p, so estimates do not depend on chunking; chunks are kept in memory for
    the next batch while they fit ``cache_bytes``, regenerated otherwise."""

    def __init__(self, seed: int, n: int, make, cache_bytes: int = 1 << 28):
        self.seeds = np.random.default_rng(seed).integers(0, 2**62, size=n)
        self.make = make  # (generator) -> dict of one probe
        self.cache: Dict[int, Dict[str, torch.Tensor]] = {}
        self.budget = cache_bytes

    def chunk(self, i0: int, i1: int) -> Dict[str, torch.Tensor]:
        if i0 in self.cache:
            return self.cache[i0]
        rows = [self.make(torch.Generator().manual_seed(int(s))) for s in self.seeds[i0:i1]]
        out = {k: torch.stack([r[k] for r in rows]) for k in rows[0]}
        size = sum(v.numel() * v.element_size() for v in out.values())
        if size <= self.budget:
            self.budget -= size
            self.cache[i0] = out
        return out


def _even_chunks(n: int, size: int) -> List[Tuple[int, int]]:
    """``[(i0, i1), ...]`` covering ``range(n)`` in ``ceil(n / size)`` chunks of nearly equal size
    (100 probes in chunks of at most 32: 4 x 25, not 32, 32, 32, 4)."""
    k = -(-n // size)
    edges = [n * j // k for j in range(k + 1)]
    return list(zip(edges[:-1], edges[1:]))


def _rademacher(shape, gen, dtype, device) -> torch.Tensor:
    if dtype in (torch.float32, torch.float64):  # drawn as floats: the same numbers, one pass less
        return torch.randint(0, 2, shape, generator=gen, dtype=dtype).mul_(2).sub_(1).to(device=device)
    return (torch.randint(0, 2, shape, generator=gen) * 2 - 1).to(device=device, dtype=dtype)


def _finite(x, what):
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{what} is not finite (the loss or its derivatives overflowed or are NaN on this "
                         "model and data); check the inputs and the loss function")


def _interval(samples: np.ndarray, confidence: float) -> Tuple[float, float, float]:
    from scipy import stats

    P = samples.shape[0]
    mean = float(samples.mean())
    if P < 2:
        return mean, float("nan"), float("nan")
    se = float(samples.std(ddof=1) / math.sqrt(P))
    t = float(stats.t.ppf(0.5 + confidence / 2, P - 1))
    return mean, se, t * se


def _stochastic_result(measure, names, samples, n, confidence, seed, obj) -> FlatnessResult:
    _finite(samples, measure.replace("_", " "))
    mean, se, half = _interval(samples, confidence)
    if samples.shape[0] < 2:  # one probe: an estimate, but no spread to build an interval from
        interval, se = None, None
    else:
        interval = (mean - half, mean + half)
    return FlatnessResult(measure=measure, value=mean, parameters=list(names), method="hutchinson", n_examples=n,
                          interval=interval, std_error=se, confidence=confidence,
                          n_probes=int(samples.shape[0]), seed=seed, samples=samples, hvp_mode=obj.mode or "",
                          note=obj.note)


# Memory for one probe chunk's tangents (about four arrays of chunk x rows x widest activation)
# that batch_size=None allows the forward quadratic form on (X, y) data.
_TANGENT_BYTES = 1 << 28


def _auto_rows(obj: Objective, data, chunk: Optional[int]) -> int:
    """Rows per block for ``batch_size=None``: 256, or for the forward quadratic form (``chunk``
    given) on (X, y) data as many as keep a chunk's tangents within ``_TANGENT_BYTES``: its cost
    per block (primal pass, gradients, the loss term, Python) does not grow with the probes."""
    if chunk is None or not isinstance(data, tuple):
        return 256
    per_row = obj.row_elements(data[0][:1])
    if per_row is None:
        return 256
    _, dtype = device_dtype(obj.model)
    itemsize = torch.empty((), dtype=dtype).element_size()
    return int(max(256, _TANGENT_BYTES // (4 * chunk * per_row * itemsize)))


def _over_batches(obj: Objective, data, batch_size: Optional[int], step, chunk: Optional[int] = None) -> int:
    """Call ``step(x, y, n_b)`` for every batch; the number of examples. ``batch_size=None``:
    :func:`_auto_rows` (``chunk``: the probes per quadratic-form call, None elsewhere)."""
    if batch_size is None:
        batch_size = _auto_rows(obj, data, chunk)
    device, dtype = device_dtype(obj.model)
    total = 0
    for x, y, nb in batches(data, batch_size, device, dtype):
        if total == 0:
            obj.check_scalar(x, y)
        step(x, y, nb)
        total += nb
    if total == 0:
        raise ValueError("data yielded no examples")
    return total


def _unit_chunk(names, shapes, i0, i1, p, device, dtype) -> Dict[str, torch.Tensor]:
    c = i1 - i0
    E = torch.zeros(c, p, device=device, dtype=dtype)
    E[torch.arange(c), torch.arange(i0, i1)] = 1
    out, off = {}, 0
    for n in names:
        k = int(np.prod(shapes[n]))
        out[n] = E[:, off:off + k].reshape(c, *shapes[n])
        off += k
    return out


def _flat_rows(HV: Dict[str, torch.Tensor], names) -> torch.Tensor:
    return torch.cat([HV[n].flatten(1) for n in names], dim=1)


# ------------------------------------------------------------------- layer estimates --

def _layer_pass(model, data, name, loss_fn, *, method, n_probes, seed, kappa, trace, batch_size, chunk_size):
    """Relative flatness and/or the Hessian trace of one 2-D weight in one pass over the data.

    Returns ``(kappa_out, trace_out, obj, n)`` where each out is a float (exact) or a
    (n_probes,) array of probe values (Hutchinson), or None when not asked for.
    """
    obj = Objective(model, [name], loss_fn)
    W = obj.primal[name]
    d, m = W.shape
    device, dtype = W.device, W.dtype
    if method == "exact":
        p = d * m
        T = torch.zeros(d, d, dtype=torch.float64, device=device)
        tr = torch.zeros((), dtype=torch.float64, device=device)

        def step(x, y, nb):
            nonlocal tr
            for i0 in range(0, p, chunk_size):
                i1 = min(i0 + chunk_size, p)
                HV = obj.hvp(x, y, _unit_chunk([name], {name: (d, m)}, i0, i1, p, device, dtype))[name]  # (c, d, m)
                idx = torch.arange(i0, i1, device=device)
                s_idx, j_idx = idx // m, idx % m
                c = i1 - i0
                # basis vector (s, j) gives column (s, j) of H; its entries (s', j) add to Tr(H_{s', s})
                cols = HV[torch.arange(c, device=device), :, j_idx].double()  # (c, d): H[(s', j), (s, j)]
                T.index_add_(1, s_idx, cols.T * nb)
                if trace:
                    tr += nb * HV[torch.arange(c, device=device), s_idx, j_idx].double().sum()

        n = _over_batches(obj, data, batch_size, step)
        G = (W.double() @ W.double().T)
        k_val = float((G * T).sum() / n) if kappa else None
        t_val = float(tr / n) if trace else None
        if kappa:
            _finite(k_val, "relative flatness")
        if trace:
            _finite(t_val, "Hessian trace")
        return k_val, t_val, obj, n

    # Hutchinson: kappa probes V = W Z (Z in {-1, 1}^{m x m}), trace probes V in {-1, 1}^{d x m}
    Wd = W.detach()
    kp = _Probes(seed, n_probes, lambda g: {name: Wd @ _rademacher((m, m), g, dtype, device)}) if kappa else None
    tp = _Probes(seed + 1, n_probes, lambda g: {name: _rademacher((d, m), g, dtype, device)}) if trace else None
    qk = torch.zeros(n_probes, dtype=torch.float64) if kappa else None
    qt = torch.zeros(n_probes, dtype=torch.float64) if trace else None
    per = max(1, chunk_size // (int(kappa) + int(trace)))

    def step(x, y, nb):
        for i0, i1 in _even_chunks(n_probes, per):
            parts = [pr.chunk(i0, i1)[name] for pr in (kp, tp) if pr is not None]
            V = {name: torch.cat(parts) if len(parts) > 1 else parts[0]}
            q = obj.quad(x, y, V) * nb
            c = i1 - i0
            if kappa:
                qk[i0:i1] += q[:c]
            if trace:
                qt[i0:i1] += q[-c:]

    n = _over_batches(obj, data, batch_size, step, chunk=chunk_size)
    return (None if qk is None else (qk / n).numpy()), (None if qt is None else (qt / n).numpy()), obj, n


def _auto(method, size, exact_limit):
    return ("exact" if size <= exact_limit else "hutchinson") if method == "auto" else method


# ----------------------------------------------------------------------- public API --

def relative_flatness(model: nn.Module, data, *, layer: str, loss_fn: Callable, method: str = "auto",
                      n_probes: int = 100, confidence: float = 0.95, seed=None, batch_size: Optional[int] = None,
                      chunk_size: int = 32, exact_limit: int = 4096) -> FlatnessResult:
    r"""Relative flatness :math:`\kappa(W)` of one layer (Petzka et al., 2021).

    .. math:: \kappa(W) = \sum_{s,s'=1}^{d} \langle w_s, w_{s'}\rangle\,\mathrm{Tr}(H_{s,s'}),
              \qquad (H_{s,s'})_{jk} = \frac{\partial^2 L}{\partial W_{sj}\,\partial W_{s'k}},

    with :math:`w_s` the s-th row of :math:`W \in \mathbb R^{d\times m}` (the weights into
    output neuron s of ``nn.Linear``) and :math:`L` the mean loss over all of ``data``. See
    the module docstring for the estimators and the reparametrization invariance.

    Parameters
    ----------
    model : torch.nn.Module
        Evaluated in eval mode (restored afterwards); not modified.
    data : (X, y) pair of tensors/arrays, or an iterable of (x, y) batches (a DataLoader)
        ``X``: (n, ...) inputs, ``y``: (n, ...) targets. Floating tensors are cast to the
        model's dtype. A DataLoader is iterated once, batch by batch; the loss is the mean
        over all examples, each batch weighted by its size.
    layer : str
        A 2-D weight parameter (``"2.weight"``), or a module whose ``weight`` is meant (``"2"``).
    loss_fn : callable(output, target) -> scalar
        The batch-mean loss, e.g. :func:`torch.nn.functional.cross_entropy`.
    method : {"auto", "exact", "hutchinson"}, default "auto"
        ``"auto"``: exact when the layer has at most ``exact_limit`` weights.
    n_probes : int, default 100
        Probe matrices for ``"hutchinson"`` (at least 2 for an interval).
    confidence : float, default 0.95
        Level of the Student-t interval of the Hutchinson estimate.
    seed : None, int or numpy.random.Generator
        Seeds the probes; the seed used is stored in the result.
    batch_size : int or None, default None
        Rows per batch for (X, y) data. None: 256, except for a Hutchinson estimate of a model
        that takes the forward quadratic form (an ``nn.Sequential`` of Linear layers and
        elementwise activations), which takes as many rows as keep a probe chunk's
        activations' tangents within about 256 MB (the whole digits training set for a
        64-256-256-10 MLP): its per-block cost does not grow with the probes, so larger
        blocks are faster (``benchmarks/flatness.md``).
    chunk_size : int, default 32
        Probe (or basis) vectors per vectorized Hessian-vector product; memory grows with
        ``chunk_size x batch rows x activations``.
    exact_limit : int, default 4096
        Largest layer (in weights) that ``"auto"`` computes exactly.

    Returns
    -------
    FlatnessResult
        ``.value`` is :math:`\kappa`; ``.interval`` the confidence interval (Hutchinson).

    Raises
    ------
    ValueError
        ``layer`` is not a parameter or not 2-D; ``data`` is empty; the loss is not a scalar or
        its derivatives are not finite.
    TypeError
        ``model``, ``data`` or ``loss_fn`` of the wrong kind.

    References
    ----------
    H. Petzka, M. Kamp, L. Adilova, C. Sminchisescu, M. Boley, "Relative flatness and
    generalization", NeurIPS 2021.

    Examples
    --------
    A linear model :math:`f(x) = Wx` with mean squared error over the :math:`n d` outputs has
    :math:`H_{s,s'} = \delta_{ss'}\,\tfrac{2}{nd} X^\top X`, so
    :math:`\kappa = \tfrac{2}{nd}\,\lVert W\rVert_F^2\,\lVert X\rVert_F^2`; here
    :math:`\tfrac{2}{4}\cdot 8 \cdot 2 = 8`:

    >>> import torch
    >>> from radonml.flatness import relative_flatness
    >>> model = torch.nn.Linear(2, 2, bias=False)
    >>> with torch.no_grad():
    ...     _ = model.weight.copy_(2 * torch.eye(2))
    >>> X, y = torch.eye(2), torch.zeros(2, 2)
    >>> relative_flatness(model, (X, y), layer="weight", loss_fn=torch.nn.functional.mse_loss)
    FlatnessResult('relative_flatness', value=8, of 'weight', exact, 2 examples)
    >>> r = relative_flatness(model, (X, y), layer="weight", loss_fn=torch.nn.functional.mse_loss,
    ...                       method="hutchinson", n_probes=10, seed=0)
    >>> r.value, r.interval  # every probe gives 8 here, as W^T W and H are multiples of I
    (8.0, (8.0, 8.0))
    """
    batch_size, chunk_size = _check_common(model, loss_fn, batch_size, chunk_size)
    name = resolve_parameter(model, layer, need_matrix=True)
    _check_method(method)
    n_probes = check_int(n_probes, "n_probes", minimum=1)
    confidence = check_fraction(confidence, "confidence", low=0.0, high=1.0)
    exact_limit = check_int(exact_limit, "exact_limit", minimum=0)
    data = check_data(data)
    W = dict(model.named_parameters())[name]
    method = _auto(method, W.numel(), exact_limit)
    s = _seed_of(seed) if method == "hutchinson" else None
    with _eval_mode(model):
        k, _, obj, n = _layer_pass(model, data, name, loss_fn, method=method, n_probes=n_probes, seed=s or 0,
                                   kappa=True, trace=False, batch_size=batch_size, chunk_size=chunk_size)
    if method == "exact":
        return FlatnessResult("relative_flatness", k, [name], "exact", n, hvp_mode=obj.mode or "", note=obj.note)
    return _stochastic_result("relative_flatness", [name], k, n, confidence, s, obj)


def hessian_trace(model: nn.Module, data, *, loss_fn: Callable, layer=None, method: str = "hutchinson",
                  n_probes: int = 100, confidence: float = 0.95, seed=None, batch_size: Optional[int] = None,
                  chunk_size: int = 32, exact_limit: int = 4096) -> FlatnessResult:
    r"""Trace of the Hessian of the empirical loss, over the whole model or some parameters.

    .. math:: \mathrm{Tr}\,H = \sum_i \frac{\partial^2 L}{\partial\theta_i^2}
              = \mathbb E_z[z^\top H z], \quad z \in \{\pm 1\}^p \text{ Rademacher}

    (Hutchinson's estimator, as PyHessian computes it, with a confidence interval), or
    exactly from the p basis vectors. Not invariant to reparametrizations that keep the
    network's function (compare :func:`relative_flatness`).

    Parameters
    ----------
    model, data, loss_fn
        As in :func:`relative_flatness`.
    layer : None, str or list of str, default None
        None: all parameters (PyHessian's ``trace``); a parameter name; or several.
    method : {"hutchinson", "exact", "auto"}, default "hutchinson"
        ``"auto"``: exact when the block has at most ``exact_limit`` entries.
    n_probes, confidence, seed, batch_size, chunk_size, exact_limit
        As in :func:`relative_flatness`.

    Returns
    -------
    FlatnessResult
        ``measure == "hessian_trace"``.

    Raises
    ------
    ValueError, TypeError
        As in :func:`relative_flatness`.

    References
    ----------
    M. F. Hutchinson, Comm. Stat. Simul. Comput. 18(3), 1989; Z. Yao et al., "PyHessian",
    IEEE BigData 2020.

    Examples
    --------
    For the linear model of :func:`relative_flatness`, :math:`H = \tfrac{2}{nd}\,I_d \otimes
    X^\top X = \tfrac12 I_4`, so the trace is 2 (and every Rademacher probe gives it):

    >>> import torch
    >>> from radonml.flatness import hessian_trace
    >>> model = torch.nn.Linear(2, 2, bias=False)
    >>> data = (torch.eye(2), torch.zeros(2, 2))
    >>> hessian_trace(model, data, loss_fn=torch.nn.functional.mse_loss, method="exact").value
    2.0
    >>> hessian_trace(model, data, loss_fn=torch.nn.functional.mse_loss, n_probes=5, seed=1).value
    2.0
    """
    batch_size, chunk_size = _check_common(model, loss_fn, batch_size, chunk_size)
    names = _resolve_group(model, layer)
    _check_method(method)
    n_probes = check_int(n_probes, "n_probes", minimum=1)
    confidence = check_fraction(confidence, "confidence", low=0.0, high=1.0)
    exact_limit = check_int(exact_limit, "exact_limit", minimum=0)
    data = check_data(data)
    params = dict(model.named_parameters())
    shapes = {n: tuple(params[n].shape) for n in names}
    p = sum(int(np.prod(s)) for s in shapes.values())
    method = _auto(method, p, exact_limit)
    with _eval_mode(model):
        obj = Objective(model, names, loss_fn)
        device, dtype = device_dtype(model)
        if method == "exact":
            tr = torch.zeros((), dtype=torch.float64)

            def step(x, y, nb):
                nonlocal tr
                for i0 in range(0, p, chunk_size):
                    i1 = min(i0 + chunk_size, p)
                    rows = _flat_rows(obj.hvp(x, y, _unit_chunk(names, shapes, i0, i1, p, device, dtype)), names)
                    tr += nb * rows[torch.arange(i1 - i0), torch.arange(i0, i1)].double().sum().cpu()

            n = _over_batches(obj, data, batch_size, step)
            val = float(tr / n)
            _finite(val, "Hessian trace")
            return FlatnessResult("hessian_trace", val, names, "exact", n, hvp_mode=obj.mode or "", note=obj.note)
        s = _seed_of(seed)
        probes = _Probes(s, n_probes, lambda g: {k: _rademacher(shapes[k], g, dtype, device) for k in names})
        q = torch.zeros(n_probes, dtype=torch.float64)

        def step(x, y, nb):
            for i0, i1 in _even_chunks(n_probes, chunk_size):
                V = probes.chunk(i0, i1)
                q[i0:i1] += nb * obj.quad(x, y, V)

        n = _over_batches(obj, data, batch_size, step, chunk=chunk_size)
    return _stochastic_result("hessian_trace", names, (q / n).numpy(), n, confidence, s, obj)


def hessian(model: nn.Module, data, *, loss_fn: Callable, layer=None, batch_size: int = 256, chunk_size: int = 32,
            max_size: int = 10_000) -> torch.Tensor:
    r"""The Hessian :math:`H = \nabla^2 L(\theta)` of the empirical loss, as a dense matrix.

    Parameters
    ----------
    model, data, loss_fn, batch_size, chunk_size
        As in :func:`relative_flatness`.
    layer : None, str or list of str, default None
        The parameters, in this order (None: all, in ``model.named_parameters()`` order).
    max_size : int, default 10000
        Largest number p of parameters allowed (the result has :math:`p^2` entries).

    Returns
    -------
    (p, p) torch.Tensor of float64
        Rows and columns follow the parameters in order, each flattened row-major; for one
        weight of shape (d, m), ``H.reshape(d, m, d, m)[s, j, t, k]`` is
        :math:`\partial^2 L / \partial W_{sj}\partial W_{tk}`.

    Raises
    ------
    ValueError
        p exceeds ``max_size``; otherwise as :func:`relative_flatness`.

    Examples
    --------
    >>> import torch
    >>> from radonml.flatness import hessian
    >>> model = torch.nn.Linear(2, 1, bias=False)
    >>> hessian(model, (torch.eye(2), torch.zeros(2, 1)), loss_fn=torch.nn.functional.mse_loss)
    tensor([[1., 0.],
            [0., 1.]], dtype=torch.float64)
    """
    batch_size, chunk_size = _check_common(model, loss_fn, batch_size, chunk_size)
    names = _resolve_group(model, layer)
    max_size = check_int(max_size, "max_size", minimum=1)
    data = check_data(data)
    params = dict(model.named_parameters())
    shapes = {n: tuple(params[n].shape) for n in names}
    p = sum(int(np.prod(s)) for s in shapes.values())
    if p > max_size:
        raise ValueError(f"the Hessian of {p} parameters has {p}^2 entries, more than max_size={max_size} allows; "
                         "choose fewer parameters with layer= or estimate with hessian_trace/relative_flatness")
    device, dtype = device_dtype(model)
    H = torch.zeros(p, p, dtype=torch.float64, device=device)
    with _eval_mode(model):
        obj = Objective(model, names, loss_fn)

        def step(x, y, nb):
            for i0 in range(0, p, chunk_size):
                i1 = min(i0 + chunk_size, p)
                H[i0:i1] += nb * _flat_rows(obj.hvp(x, y, _unit_chunk(names, shapes, i0, i1, p, device, dtype)),
                                            names).double()

        n = _over_batches(obj, data, batch_size, step)
    H /= n
    _finite(H.cpu().numpy(), "the Hessian")
    return H.cpu()


def _full_hvp(obj: Objective, data, batch_size: int, shapes, names):
    """v (p,) float64 numpy -> (Hv (p,), n). For (X, y) data held in memory, each batch's
    gradient graph is built on the first call and reused by the later ones (as PyHessian does
    for one batch); a DataLoader is passed over anew each call, never held."""
    device, dtype = device_dtype(obj.model)
    sizes = [int(np.prod(shapes[k])) for k in names]
    offs = np.concatenate([[0], np.cumsum(sizes)])
    ops: List[Tuple[Callable, int]] = []

    def apply(v: np.ndarray):
        vt = torch.as_tensor(v, dtype=dtype, device=device)
        V = {k: vt[offs[i]:offs[i + 1]].reshape(shapes[k]) for i, k in enumerate(names)}
        acc = torch.zeros(int(offs[-1]), dtype=torch.float64, device=device)
        if isinstance(data, tuple):
            if not ops:
                def build(x, y, nb):
                    ops.append((obj.operator(x, y), nb))

                _over_batches(obj, data, batch_size, build)
            for op, nb in ops:
                hv = op(V)
                acc += nb * torch.cat([hv[k].reshape(-1) for k in names]).double()
            n = sum(nb for _, nb in ops)
        else:
            def step(x, y, nb):
                nonlocal acc
                acc += nb * _flat_rows(obj.hvp(x, y, {k: t[None] for k, t in V.items()}), names)[0].double()

            n = _over_batches(obj, data, batch_size, step)
        out = (acc / n).cpu().numpy()
        _finite(out, "a Hessian-vector product")
        return out, n

    return apply


def top_hessian_eigenvalue(model: nn.Module, data, *, loss_fn: Callable, layer=None, method: str = "lanczos",
                           max_iter: int = 100, tol: float = 1e-3, seed=None, batch_size: int = 256) -> EigenvalueResult:
    r"""The Hessian eigenvalue of largest magnitude, by Lanczos or power iteration.

    Finds :math:`\lambda` with :math:`Hv = \lambda v` and :math:`|\lambda|` largest, from
    Hessian-vector products of the full empirical loss (each one pass over ``data``).
    ``"lanczos"``: the implicitly restarted Lanczos method (ARPACK through
    :func:`scipy.sparse.linalg.eigsh`, ``which="LM"``); ``"power"``: power iteration
    :math:`v \leftarrow Hv/\lVert Hv\rVert`, :math:`\lambda = v^\top H v`, stopped when
    :math:`\lambda` changes by at most ``tol`` relatively (PyHessian's ``eigenvalues``).
    Lanczos usually needs far fewer products for the same accuracy. At a minimum
    (:math:`H \succeq 0`) the result is :math:`\lambda_{\max}`, the usual "sharpness".

    Parameters
    ----------
    model, data, loss_fn, batch_size
        As in :func:`relative_flatness`; ``data`` must be re-iterable (not a generator). For
        (X, y) tensors the gradient graph of each batch is built once and reused by every
        iteration (reverse-over-reverse, as PyHessian does; memory about that of one backward
        pass over X); a DataLoader is passed over anew for every product.
    layer : None, str or list of str, default None
        None: all parameters; a parameter name (its block of the Hessian); or several.
    method : {"lanczos", "power"}, default "lanczos"
    max_iter : int, default 100
        Power iteration: most products. Lanczos: most ARPACK restarts.
    tol : float, default 1e-3
        Relative tolerance on the eigenvalue.
    seed : None, int or numpy.random.Generator
        Seeds the start vector.

    Returns
    -------
    EigenvalueResult
        ``converged`` False (and a :class:`radonml.ConvergenceWarning`) when ``max_iter`` ran out.

    Raises
    ------
    ValueError, TypeError
        As in :func:`relative_flatness`.

    References
    ----------
    C. Lanczos, J. Res. Natl. Bur. Stand. 45, 1950; R. B. Lehoucq, D. C. Sorensen, C. Yang,
    "ARPACK Users' Guide", SIAM 1998; Z. Yao et al., "PyHessian", IEEE BigData 2020.

    Examples
    --------
    >>> import torch
    >>> from radonml.flatness import top_hessian_eigenvalue
    >>> model = torch.nn.Linear(3, 1, bias=False)
    >>> X = torch.diag(torch.tensor([1.0, 2.0, 3.0]))  # H = (2/3) X^T X = diag(2/3, 8/3, 6)
    >>> r = top_hessian_eigenvalue(model, (X, torch.zeros(3, 1)), loss_fn=torch.nn.functional.mse_loss, seed=0)
    >>> round(r.value, 4), r.converged
    (6.0, True)
    """
    _check_common(model, loss_fn, batch_size, 1)
    names = _resolve_group(model, layer)
    method = _check_method(method, ("lanczos", "power"))
    max_iter = check_int(max_iter, "max_iter", minimum=1)
    if isinstance(tol, bool) or not isinstance(tol, numbers.Real) or not tol > 0:
        raise ValueError(f"tol must be a positive number, got {tol!r}")
    data = check_data(data, reiterable=True)
    s = _seed_of(seed)
    params = dict(model.named_parameters())
    shapes = {n: tuple(params[n].shape) for n in names}
    p = sum(int(np.prod(shapes[n])) for n in names)
    rng = np.random.default_rng(s)
    from threadpoolctl import threadpool_limits

    # The eigensolvers' vector arithmetic (numpy, ARPACK) is tiny next to a Hessian-vector
    # product, but numpy's OpenBLAS threads contend with torch's OpenMP threads: measured 23 ms
    # per 85k-element dot product with both pools active on 2 loaded cores, 0.1 ms with OpenBLAS
    # on one thread. Only the BLAS pools are limited (torch's own BLAS is not among them).
    with _eval_mode(model), threadpool_limits(limits=1, user_api="blas"):
        obj = Objective(model, names, loss_fn)
        apply = _full_hvp(obj, data, batch_size, shapes, names)
        count = 0
        n_ex = 0

        def mv(v):
            nonlocal count, n_ex
            count += 1
            out, n_ex = apply(np.asarray(v, dtype=np.float64).ravel())
            return out

        if p < 3:  # ARPACK needs p > k + 1: the dense Hessian of a tiny block
            H = np.column_stack([mv(e) for e in np.eye(p)])
            ev = np.linalg.eigvalsh((H + H.T) / 2)
            val, conv, used = float(ev[np.argmax(np.abs(ev))]), True, "exact"
        elif method == "lanczos":
            from scipy.sparse.linalg import ArpackNoConvergence, LinearOperator, eigsh

            op = LinearOperator((p, p), matvec=mv, dtype=np.float64)
            try:
                ev = eigsh(op, k=1, which="LM", v0=rng.standard_normal(p), tol=tol, maxiter=max_iter,
                           ncv=min(p, 20), return_eigenvectors=False)
                val, conv = float(ev[0]), True
            except ArpackNoConvergence as exc:
                val = float(exc.eigenvalues[0]) if len(exc.eigenvalues) else float("nan")
                conv = False
            used = "lanczos"
        else:
            v = rng.standard_normal(p)
            v /= np.linalg.norm(v)
            val, conv, used = float("nan"), False, "power"
            for _ in range(max_iter):
                Hv = mv(v)
                lam = float(v @ Hv)
                nrm = float(np.linalg.norm(Hv))
                if nrm == 0.0:
                    val, conv = 0.0, True
                    break
                if not math.isnan(val) and abs(lam - val) <= tol * max(abs(lam), 1e-30):
                    val, conv = lam, True
                    break
                val, v = lam, Hv / nrm
    if not conv:
        warnings.warn(f"top_hessian_eigenvalue ({used}) did not reach tol={tol} within max_iter={max_iter}; "
                      "the value is the last estimate", ConvergenceWarning, stacklevel=2)
    _finite(val, "the eigenvalue estimate")
    return EigenvalueResult(value=val, parameters=names, method=used, converged=conv, n_hvp=count, n_examples=n_ex,
                            seed=s, hvp_mode=obj.mode or "", note=obj.note)


def layerwise_flatness(model: nn.Module, data, *, loss_fn: Callable, layers=None, method: str = "auto",
                       eigenvalues: bool = True, model_measures: bool = True, n_probes: int = 100,
                       confidence: float = 0.95, seed=None, batch_size: Optional[int] = None, chunk_size: int = 32,
                       exact_limit: int = 4096, eigen_method: str = "lanczos", max_iter: int = 100,
                       tol: float = 1e-3) -> LayerwiseFlatness:
    r"""Relative flatness, Hessian trace and top eigenvalue of every layer, and of the model.

    For each 2-D weight :math:`W_l`: :math:`\kappa(W_l)` (:func:`relative_flatness`), the trace
    of its Hessian block :math:`\mathrm{Tr}\,H_{W_lW_l}` (computed in the same pass over the
    data) and optionally the block's top eigenvalue; then the whole model's trace and top
    eigenvalue (PyHessian's quantities). The table puts the invariant measure beside the
    ones that are not.

    Parameters
    ----------
    model, data, loss_fn
        As in :func:`relative_flatness` (``data`` re-iterable: it is passed over per layer).
    layers : None or list of str
        Weights to measure (default: every 2-D parameter, e.g. all ``nn.Linear`` weights).
    method : {"auto", "exact", "hutchinson"}, default "auto"
        For relative flatness and the traces; ``"auto"`` per layer (and for the model) by
        ``exact_limit``.
    eigenvalues : bool, default True
        Also the top eigenvalues (Lanczos: tens of passes over the data each).
    model_measures : bool, default True
        Also the whole model's trace (and top eigenvalue).
    n_probes, confidence, seed, batch_size, chunk_size, exact_limit
        As in :func:`relative_flatness`; one seed drives all layers.
    eigen_method, max_iter, tol
        As ``method``, ``max_iter``, ``tol`` of :func:`top_hessian_eigenvalue`.

    Returns
    -------
    LayerwiseFlatness
        ``.table()`` prints it.

    Raises
    ------
    ValueError
        The model has no 2-D weight; otherwise as :func:`relative_flatness`.
    TypeError
        ``layers`` neither None nor a non-empty list of weight names.

    Examples
    --------
    >>> import torch
    >>> from radonml.flatness import layerwise_flatness
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    >>> X, y = torch.randn(16, 4), torch.randint(0, 2, (16,))
    >>> res = layerwise_flatness(model, (X, y), loss_fn=torch.nn.functional.cross_entropy, eigenvalues=False)
    >>> res.layers
    ['0.weight', '2.weight']
    >>> res.relative_flatness[0].method, res.model_trace.method
    ('exact', 'exact')
    """
    batch_size, chunk_size = _check_common(model, loss_fn, batch_size, chunk_size)
    _check_method(method)
    n_probes = check_int(n_probes, "n_probes", minimum=1)
    confidence = check_fraction(confidence, "confidence", low=0.0, high=1.0)
    exact_limit = check_int(exact_limit, "exact_limit", minimum=0)
    params = dict(model.named_parameters())
    if layers is None:
        names = [n for n, p in params.items() if p.ndim == 2]
        if not names:
            raise ValueError("model has no 2-D weight parameters (nn.Linear layers) to measure")
    else:
        if isinstance(layers, str) or not isinstance(layers, (list, tuple)) or not layers:
            raise TypeError(f"layers must be None or a non-empty list of weight names, got {layers!r}")
        names = [resolve_parameter(model, l, need_matrix=True, what="layers entry") for l in layers]
    data = check_data(data, reiterable=True)
    base = _seed_of(seed)
    kap, tra, eig = [], [], ([] if eigenvalues else None)
    with _eval_mode(model):
        for i, name in enumerate(names):
            W = params[name]
            m_used = _auto(method, W.numel(), exact_limit)
            s = base + 2 * i
            k, t, obj, n = _layer_pass(model, data, name, loss_fn, method=m_used, n_probes=n_probes, seed=s,
                                       kappa=True, trace=True, batch_size=batch_size, chunk_size=chunk_size)
            if m_used == "exact":
                kap.append(FlatnessResult("relative_flatness", k, [name], "exact", n, hvp_mode=obj.mode or "", note=obj.note))
                tra.append(FlatnessResult("hessian_trace", t, [name], "exact", n, hvp_mode=obj.mode or "", note=obj.note))
            else:
                kap.append(_stochastic_result("relative_flatness", [name], k, n, confidence, s, obj))
                tra.append(_stochastic_result("hessian_trace", [name], t, n, confidence, s + 1, obj))
            if eigenvalues:
                eig.append(top_hessian_eigenvalue(model, data, loss_fn=loss_fn, layer=name, method=eigen_method,
                                                  max_iter=max_iter, tol=tol, seed=s, batch_size=batch_size))
        mt = me = None
        if model_measures:
            mt = hessian_trace(model, data, loss_fn=loss_fn, method=method, n_probes=n_probes, confidence=confidence,
                               seed=base + 2 * len(names), batch_size=batch_size, chunk_size=chunk_size,
                               exact_limit=exact_limit)
            if eigenvalues:
                me = top_hessian_eigenvalue(model, data, loss_fn=loss_fn, method=eigen_method, max_iter=max_iter,
                                            tol=tol, seed=base + 2 * len(names) + 1, batch_size=batch_size)
    return LayerwiseFlatness(layers=names, shapes=[tuple(params[n].shape) for n in names], relative_flatness=kap,
                             hessian_trace=tra, top_eigenvalue=eig, model_trace=mt, model_top_eigenvalue=me)
