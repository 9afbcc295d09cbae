"""Hessian-vector products of an empirical loss, and the data it is taken over (private to
:mod:`radonml.flatness`; its names are public within the package).

The empirical loss of a model on n examples given in batches :math:`B_1, \\dots, B_K` is

.. math:: L(\\theta) = \\frac1n \\sum_i \\ell(f_\\theta(x_i), y_i)
          = \\sum_b \\frac{n_b}{n}\\, \\bar\\ell_b(\\theta),

with :math:`\\bar\\ell_b` the batch mean that ``loss_fn`` returns, so its Hessian is the
:math:`n_b/n`-weighted sum of the batch Hessians. Every routine here accumulates
:math:`n_b \\cdot (\\dots)` over batches and divides by the total n at the end: the data set is
never held in memory at once, and batches of unequal size are weighted correctly.
"""

from __future__ import annotations

from typing import Callable, Dict, Iterator, Optional, Sequence, Tuple

import torch
from torch import nn
from torch.func import functional_call, grad, jvp, vjp, vmap

__all__ = ["Objective", "batches", "check_data", "check_loss_fn", "resolve_parameter", "device_dtype", "HVP_MODES",
           "QUAD_MODE"]

# How a batch of Hessian-vector products was computed, fastest first:
#   "vmap(jvp(grad))": forward-over-reverse, vectorized over the probe vectors;
#   "loop(jvp(grad))": forward-over-reverse, one probe at a time (models vmap cannot batch);
#   "autograd": reverse-over-reverse with torch.autograd, the gradient graph built once per
#               batch and reused for every probe (models torch.func cannot transform at all).
HVP_MODES = ("vmap(jvp(grad))", "loop(jvp(grad))", "autograd")

# How quadratic forms v^T H v were computed when no Hessian-vector product was needed (Hutchinson
# estimates): second-order forward mode through a chain of Linear layers and elementwise
# activations, the primal pass shared by all probes (see :class:`ChainQuadraticForm`).
QUAD_MODE = "forward quadratic form (Linear chain)"


def device_dtype(model: nn.Module) -> Tuple[torch.device, torch.dtype]:
    for p in model.parameters():
        return p.device, p.dtype
    return torch.device("cpu"), torch.get_default_dtype()


def _is_array(a) -> bool:
    return isinstance(a, torch.Tensor) or (hasattr(a, "shape") and hasattr(a, "dtype") and not isinstance(a, (tuple, list)))


def _describe(x) -> str:
    if _is_array(x):
        return f"{type(x).__name__} of shape {tuple(x.shape)}"
    return type(x).__name__


def check_data(data, *, reiterable: bool = False):
    """``data`` validated: an ``(X, y)`` pair of tensors/arrays (returned as tensors) or an
    iterable of ``(x, y)`` batches (a DataLoader; returned as is).

    ``reiterable`` demands data that can be iterated more than once (iterative eigensolvers
    pass over it many times): a one-shot iterator or generator is refused.
    """
    if isinstance(data, (tuple, list)) and len(data) == 2 and _is_array(data[0]) and _is_array(data[1]):
        X, y = torch.as_tensor(data[0]), torch.as_tensor(data[1])
        if X.ndim == 0 or y.ndim == 0:
            raise ValueError(f"data must be (X, y) with a leading example axis, got X {_describe(data[0])} and y {_describe(data[1])}")
        if X.shape[0] != y.shape[0]:
            raise ValueError(f"data must be (X, y) with one target per row, got {X.shape[0]} rows and {y.shape[0]} targets")
        if X.shape[0] == 0:
            raise ValueError("data must not be empty, got 0 examples")
        return (X, y)
    if _is_array(data):  # a bare X: iterating it would read its rows as "batches"
        raise TypeError(f"data must be a pair (X, y) of tensors/arrays or an iterable of (x, y) batches (e.g. a "
                        f"DataLoader), got a single {_describe(data)}; pass (X, y)")
    if isinstance(data, (str, bytes)) or not hasattr(data, "__iter__"):
        raise TypeError(f"data must be a pair (X, y) of tensors/arrays or an iterable of (x, y) batches (e.g. a DataLoader), "
                        f"got {_describe(data)}")
    if reiterable and iter(data) is data:
        raise TypeError("data must be re-iterable (a DataLoader, a list of batches or an (X, y) pair): this computation "
                        f"passes over the data several times, got a one-shot {type(data).__name__}")
    return data


def _cast(t: torch.Tensor, device, dtype) -> torch.Tensor:
    t = torch.as_tensor(t).to(device)
    if t.is_floating_point() and t.dtype != dtype:
        t = t.to(dtype)
    return t


def batches(data, batch_size: int, device, dtype) -> Iterator[Tuple[torch.Tensor, torch.Tensor, int]]:
    """``(x, y, n_b)`` per batch of checked ``data``; floating tensors cast to the model's dtype."""
    if isinstance(data, tuple):
        X, y = data
        for i in range(0, X.shape[0], batch_size):
            yb = y[i:i + batch_size]
            yield _cast(X[i:i + batch_size], device, dtype), _cast(yb, device, dtype), int(yb.shape[0])
        return
    for k, batch in enumerate(data):
        if not isinstance(batch, (tuple, list)) or len(batch) < 2:
            raise ValueError(f"data: batch {k} must be an (x, y) pair, got {_describe(batch)}")
        x, y = torch.as_tensor(batch[0]), torch.as_tensor(batch[1])
        if y.ndim == 0 or x.ndim == 0 or x.shape[0] != y.shape[0]:
            raise ValueError(f"data: batch {k} must hold x and y with one leading example axis of equal length, "
                             f"got x {_describe(x)} and y {_describe(y)}")
        if y.shape[0] == 0:
            continue
        yield _cast(x, device, dtype), _cast(y, device, dtype), int(y.shape[0])


def check_loss_fn(loss_fn) -> Callable:
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be callable(output, target) -> scalar batch mean, got {_describe(loss_fn)}")
    return loss_fn


def resolve_parameter(model: nn.Module, layer, *, need_matrix: bool = False, what: str = "layer") -> str:
    """The parameter name ``layer`` refers to: a parameter name (``"2.weight"``) or a module
    name whose ``weight`` is meant (``"2"``). ``need_matrix``: the parameter must be 2-D."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(layer, str):
        raise TypeError(f"{what} must be a parameter name (str, e.g. '2.weight'), got {type(layer).__name__}")
    params = dict(model.named_parameters())
    name = layer if layer in params else (f"{layer}.weight" if f"{layer}.weight" in params else None)
    if name is None:
        mats = [n for n, p in params.items() if p.ndim == 2]
        raise ValueError(f"{what} {layer!r} is not a parameter of the model; its 2-D weights are {mats}"
                         if need_matrix else f"{what} {layer!r} is not a parameter of the model; its parameters are {list(params)}")
    if need_matrix and params[name].ndim != 2:
        raise ValueError(f"{what} {name!r} must be a 2-D weight matrix (out_features, in_features), "
                         f"got a parameter of shape {tuple(params[name].shape)}")
    return name


class Objective:
    """The loss ``loss_fn(model(x), y)`` as a function of the parameters ``names``, with the
    others held at their current values, and its Hessian-vector products.

    Parameters
    ----------
    model : nn.Module
    names : list of str
        The parameters the Hessian is taken with respect to.
    loss_fn : callable(output, target) -> scalar batch mean
    live : bool, default False
        False: the parameters are detached (measurement). True: they stay the model's own
        tensors, so the products are differentiable with respect to every parameter (FAM).
    params : dict, optional
        Parameter values to use instead of the model's (e.g. one learner's under ``vmap``).
    """

    def __init__(self, model: nn.Module, names: Sequence[str], loss_fn: Callable, *, live: bool = False,
                 params: Optional[Dict[str, torch.Tensor]] = None):
        self.model = model
        self.names = list(names)
        self.loss_fn = loss_fn
        self.live = live
        src = dict(model.named_parameters()) if params is None else dict(params)
        if not live:
            src = {k: v.detach() for k, v in src.items()}
        self.primal = {n: src[n] for n in self.names}
        self.fixed = {k: v for k, v in src.items() if k not in self.primal}
        self.mode: Optional[str] = None  # the mode that worked last
        self.note = ""  # why a faster mode was left
        # the forward quadratic form: only for measurement (FAM differentiates through products)
        self._chain = None if live else ChainQuadraticForm.of(model, src, self.names)
        self._chain_ok: Optional[bool] = None  # None: untried

    def loss(self, sub: Dict[str, torch.Tensor], x, y) -> torch.Tensor:
        p = dict(self.fixed)
        p.update(sub)
        return self.loss_fn(functional_call(self.model, p, (x,)), y)

    def check_scalar(self, x, y) -> None:
        """loss_fn must give a scalar (the batch mean); checked once on the first batch."""
        with torch.no_grad():
            out = self.loss({k: v.detach() for k, v in self.primal.items()}, x, y)
        if not isinstance(out, torch.Tensor) or out.ndim != 0:
            raise ValueError("loss_fn must return a scalar (the mean loss of the batch), got "
                             f"{_describe(out) if isinstance(out, torch.Tensor) else type(out).__name__}")
        if not out.is_floating_point():
            raise ValueError(f"loss_fn must return a floating-point scalar, got dtype {out.dtype}")

    def _fwd_rev(self, x, y):
        def f(sub):
            return self.loss(sub, x, y)

        g = grad(f)

        def hvp(v):
            return jvp(g, (self.primal,), (v,))[1]

        return hvp

    def hvp(self, x, y, V: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        """:math:`H_b v_p` for the probes ``V`` (each ``(P, *shape)``) on the batch ``(x, y)``,
        :math:`H_b` the Hessian of the batch-mean loss; same shapes as ``V``.

        Tries the modes of :data:`HVP_MODES` in order until one works for this model, then
        keeps to it (an error in a mode that worked before is raised, not skipped).
        """
        P = next(iter(V.values())).shape[0]
        i = HVP_MODES.index(self.mode) if self.mode in HVP_MODES else 0
        while True:
            mode = HVP_MODES[i]
            try:
                if i == 0:
                    out = vmap(self._fwd_rev(x, y), randomness="same")(V)
                elif i == 1:
                    hvp = self._fwd_rev(x, y)
                    rows = [hvp({k: v[p] for k, v in V.items()}) for p in range(P)]
                    out = {k: torch.stack([r[k] for r in rows]) for k in V}
                else:
                    out = self._autograd_hvp(x, y, V, P)
            except Exception as exc:
                if self.mode == mode or i == len(HVP_MODES) - 1:  # worked before, or nothing left to try
                    raise
                why = "vmap" if i == 0 else "torch.func"
                nxt = "probes looped" if i == 0 else "torch.autograd double backward"
                self.note = (self.note + "; " if self.note else "") + \
                    f"{why} failed ({type(exc).__name__}: {_first_line(exc)}): {nxt}"
                i += 1
                continue
            self.mode = mode
            return out

    def quad(self, x, y, V: Dict[str, torch.Tensor]) -> torch.Tensor:
        """(P,) float64 :math:`v_p^\\top H_b v_p` for the probes ``V`` (each ``(P, *shape)``) on the
        batch ``(x, y)``.

        Models that are a chain of ``nn.Linear`` layers and elementwise activations (an
        ``nn.Sequential``, see :class:`ChainQuadraticForm`) take the forward quadratic form, about
        half the multiply-adds of a Hessian-vector product; any other model, or one on which that
        path fails, takes :meth:`hvp` and the inner product.
        """
        if self._chain is not None and self._chain_ok is not False:
            try:
                out = self._chain.quad(x, y, V, self.loss_fn)
            except Exception as exc:
                if self._chain_ok:  # worked before: a real error
                    raise
                self._chain_ok = False
                self.note = (self.note + "; " if self.note else "") + \
                    f"forward quadratic form failed ({type(exc).__name__}: {_first_line(exc)}): Hessian-vector products"
            else:
                self._chain_ok = True
                self.mode = QUAD_MODE
                return out
        HV = self.hvp(x, y, V)
        return sum((V[k] * HV[k]).flatten(1).sum(1).double().cpu() for k in V)

    def row_elements(self, x1) -> Optional[int]:
        """The largest number of elements one example's input or module output has, for the
        forward quadratic form's memory (``x1``: one example, with its leading axis); None when
        the model does not take that path."""
        if self._chain is None or self._chain_ok is False:
            return None
        device, dtype = device_dtype(self.model)
        try:
            return self._chain.row_elements(_cast(x1, device, dtype))
        except Exception:
            return None

    def operator(self, x, y) -> Callable[[Dict[str, torch.Tensor]], Dict[str, torch.Tensor]]:
        """``v -> H_b v`` for one vector ``v`` (unbatched shapes), with the batch's gradient graph
        built once here and reused by every call (reverse-over-reverse through
        :func:`torch.func.vjp`): for iterative eigensolvers on data held in memory. Falls back
        to :meth:`hvp` per call when torch.func cannot transform the model."""
        def f(sub):
            return self.loss(sub, x, y)

        try:
            _, fn = vjp(grad(f), self.primal)
        except Exception as exc:
            self.note = (self.note + "; " if self.note else "") + \
                f"graph reuse failed ({type(exc).__name__}: {_first_line(exc)}): products recomputed per call"
            return lambda v: {k: t[0] for k, t in self.hvp(x, y, {k: t[None] for k, t in v.items()}).items()}
        self.mode = self.mode or "vjp(grad), graph reused"
        return lambda v: fn(v)[0]

    def _autograd_hvp(self, x, y, V, P):
        with torch.enable_grad():
            prim = {k: (v if self.live else v.detach().requires_grad_(True)) for k, v in self.primal.items()}
            loss = self.loss(prim, x, y)
            keys = list(prim)
            g = torch.autograd.grad(loss, [prim[k] for k in keys], create_graph=True)
            rows = []
            for p in range(P):
                hv = torch.autograd.grad(g, [prim[k] for k in keys], grad_outputs=[V[k][p] for k in keys],
                                         retain_graph=True, create_graph=self.live)
                rows.append(hv)
        out = {k: torch.stack([r[i] for r in rows]) for i, k in enumerate(keys)}
        return out if self.live else {k: v.detach() for k, v in out.items()}


# Elementwise activations the forward quadratic form knows: (sigma, sigma', sigma'') come from
# torch.func on the module itself; the piecewise-linear ones have sigma'' = 0 almost everywhere
# (as torch's derivatives have), so their curvature term is skipped.
_PIECEWISE_LINEAR = (nn.ReLU, nn.LeakyReLU, nn.ReLU6, nn.Hardtanh)
_SMOOTH = (nn.Tanh, nn.Sigmoid, nn.GELU, nn.SiLU, nn.ELU, nn.CELU, nn.SELU, nn.Softplus, nn.Mish, nn.LogSigmoid,
           nn.Softsign, nn.Tanhshrink)
_RESHAPE = (nn.Identity, nn.Flatten, nn.Unflatten)


def _hooked(m: nn.Module) -> bool:
    return any(getattr(m, h, None) for h in ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks",
                                              "_backward_pre_hooks"))


class ChainQuadraticForm:
    r"""Quadratic forms :math:`v^\top H_b v` of a batch-mean loss for a model that is a chain of
    ``nn.Linear`` layers and elementwise activations, all probes of a chunk at once.

    With :math:`L(t) = \bar\ell(f_{\theta + t v}(x), y)`, module outputs :math:`a_k`, their
    tangents :math:`a_k' = \partial_t a_k` and the gradients :math:`\delta_k = \partial \bar\ell /
    \partial a_k` at :math:`t = 0`, the chain rule twice gives

    .. math:: v^\top H_b v = L''(0) = a_K'^\top \nabla^2\bar\ell\, a_K'
              + \sum_{\text{Linear } k} 2\,\langle \delta_k, V_k a_{k-1}'\rangle
              + \sum_{\text{activations } k} \langle \delta_k, \sigma''(z_k) \odot z_k'^2\rangle,

    where :math:`z_k` is the activation's input and :math:`V_k` the probe's block of layer k's
    weight. The primal pass and the :math:`\delta_k` (one backward pass) are computed once per
    batch and shared by every probe; per probe and layer it costs three matrix products of the
    layer's size (:math:`W a'`, :math:`V a` and :math:`\delta^\top a'`), each batched over the
    probes into one BLAS call, where a Hessian-vector product by double backward (PyHessian) or
    forward-over-reverse costs six. The loss term is a forward-over-reverse product of
    ``loss_fn`` alone, on the model's output.

    Applies to an ``nn.Sequential`` (nested ones too) of ``nn.Linear``, the elementwise
    activations of ``_PIECEWISE_LINEAR`` and ``_SMOOTH``, ``nn.Identity``/``Flatten``/
    ``Unflatten`` and ``nn.Dropout`` in eval mode, without hooks, whose parameters are all those
    of its Linear layers; :meth:`of` returns None for any other model.
    """

    def __init__(self, steps, params):
        self.steps = steps  # [(kind, module, weight name, bias name)]
        self.params = params  # name -> detached tensor
        self._key = None
        self._cache = None
        self._loss_way: Optional[int] = None  # which way of _loss_term worked

    @classmethod
    def of(cls, model: nn.Module, params: Dict[str, torch.Tensor], names) -> Optional["ChainQuadraticForm"]:
        from torch.nn.modules import module as _module_mod

        if any(getattr(_module_mod, g, None) for g in ("_global_forward_hooks", "_global_forward_pre_hooks",
                                                       "_global_backward_hooks", "_global_backward_pre_hooks")):
            return None
        steps = []

        def walk(m: nn.Module, prefix: str) -> bool:
            if _hooked(m):
                return False
            if isinstance(m, nn.Sequential) and type(m).forward is nn.Sequential.forward:
                return all(walk(c, f"{prefix}{k}.") for k, c in m._modules.items() if c is not None)
            if type(m) is nn.Linear:
                w, b = prefix + "weight", (prefix + "bias" if m.bias is not None else None)
                if w not in params:
                    return False  # a weight shared with another module (named_parameters names it once)
                steps.append(("linear", m, w, b))
                return b is None or b in params
            if list(m.parameters(recurse=False)) or list(m.buffers(recurse=False)):
                return False
            if type(m) in _PIECEWISE_LINEAR:
                steps.append(("pwl", m, None, None))
            elif type(m) in _SMOOTH:
                steps.append(("smooth", m, None, None))
            elif type(m) in _RESHAPE or (type(m) in (nn.Dropout, nn.AlphaDropout) and not m.training):
                steps.append(("reshape", m, None, None))
            else:
                return False
            return True

        if not walk(model, ""):
            return None
        covered = {n for _, _, w, b in steps for n in (w, b) if n is not None}
        if not set(params) <= covered or not set(names) <= covered or not any(k == "linear" for k, *_ in steps):
            return None
        return cls(steps, {k: v.detach() for k, v in params.items()})

    def row_elements(self, x1) -> int:
        with torch.no_grad():
            a, most = x1, x1[:1].numel()
            for kind, m, w, b in self.steps:
                if kind == "linear":
                    a = torch.nn.functional.linear(a, self.params[w], None if b is None else self.params[b])
                else:
                    a = m(a * 1)
                most = max(most, a[:1].numel())
        return int(most)

    def _primal(self, x, y, loss_fn):
        """Module inputs, activation derivatives and the gradients delta_k, once per batch."""
        if self._key is not None and self._key[0] is x and self._key[1] is y:
            return self._cache
        from torch.func import jvp

        with torch.enable_grad():
            a = x.detach().requires_grad_(True) if x.is_floating_point() else x
            ins, outs, derivs = [], [], []
            for kind, m, w, b in self.steps:
                ins.append(a.detach())
                if kind == "linear":
                    a = torch.nn.functional.linear(a, self.params[w], None if b is None else self.params[b])
                    derivs.append(None)
                elif kind == "reshape":
                    a = m(a)
                    derivs.append(None)
                else:
                    z = a.detach()
                    one = torch.ones_like(z)
                    if kind == "pwl":
                        d1 = jvp(lambda u: m(u * 1), (z,), (one,))[1]
                        d2 = None
                    else:
                        d1, d2 = jvp(lambda u: jvp(lambda s: m(s * 1), (u,), (one,))[1], (z,), (one,))
                    derivs.append((d1.detach(), None if d2 is None else d2.detach()))
                    a = m(a * 1)  # an in-place activation must not overwrite the saved input
                outs.append(a)
            loss = loss_fn(a, y)
            need = [i for i, (kind, *_r) in enumerate(self.steps) if kind in ("linear", "smooth")]
            g = torch.autograd.grad(loss, [outs[i] for i in need], allow_unused=True)
        deltas = [None] * len(self.steps)
        for i, gi in zip(need, g):
            deltas[i] = None if gi is None else gi.detach()
        self._key = (x, y)
        self._cache = (ins, [o.detach() for o in outs], derivs, deltas)
        return self._cache

    def quad(self, x, y, V: Dict[str, torch.Tensor], loss_fn) -> torch.Tensor:
        ins, outs, derivs, deltas = self._primal(x, y, loss_fn)
        P = next(iter(V.values())).shape[0]
        q = torch.zeros(P, dtype=outs[-1].dtype, device=outs[-1].device)
        t = None  # tangent of the current activation, (P, *shape), or None while it is 0
        for i, (kind, m, w, b) in enumerate(self.steps):
            if kind == "linear":
                Vw, Vb = V.get(w), (V.get(b) if b is not None else None)
                W = self.params[w]
                o, k = W.shape
                a = ins[i]
                lead = a.shape[:-1]
                a2 = a.reshape(-1, k)
                N = a2.shape[0]
                z = None
                if Vw is not None:
                    z = torch.matmul(a2, Vw.transpose(1, 2))  # (P, N, o): the probe's weights on the input
                if Vb is not None:
                    z = Vb.unsqueeze(1).expand(P, N, o).clone() if z is None else z.add_(Vb.unsqueeze(1))
                if t is not None:
                    t2 = t.reshape(P * N, k)
                    if z is None:
                        z = (t2 @ W.t()).view(P, N, o)
                    else:
                        z.view(P * N, o).addmm_(t2, W.t())
                    if Vw is not None and deltas[i] is not None:
                        # <delta, V a'> = <V, delta^T a'>, one (o x N) by (N x k) product per probe
                        M = torch.matmul(deltas[i].reshape(N, o).t(), t.reshape(P, N, k))  # (P, o, k)
                        q += 2 * torch.bmm(M.reshape(P, 1, o * k), Vw.reshape(P, o * k, 1)).view(P)
                t = None if z is None else z.view(P, *lead, o)
            elif kind == "reshape":
                if t is not None:
                    t = t.reshape(P, *outs[i].shape)
            else:
                if t is not None:
                    d1, d2 = derivs[i]
                    if d2 is not None and deltas[i] is not None:
                        q += (t * t * (deltas[i] * d2)).flatten(1).sum(1)
                    t = t.mul_(d1) if t.is_contiguous() else t * d1
        if t is None:  # no probe reaches the output (parameters that do not act): H v = 0 here
            return q.double().cpu()
        q += self._loss_term(outs[-1], y, t, loss_fn)
        return q.double().cpu()

    def _loss_term(self, out, y, t, loss_fn) -> torch.Tensor:
        """(P,) :math:`t_p^\\top \\nabla^2\\bar\\ell(out)\\, t_p`: forward-over-reverse of ``loss_fn``
        alone, vectorized over the probes (about twice as fast as forward-over-forward on
        cross-entropy), else forward-over-forward (forward-over-reverse of ``mse_loss`` fails in
        torch.func), else torch.autograd double backward probe by probe."""
        from torch.func import grad, jvp, vmap

        def f(o_):
            return loss_fn(o_, y)

        def fwd_fwd(tt):
            return jvp(lambda u: jvp(f, (u,), (tt,))[1], (out,), (tt,))[1]

        def fwd_rev(tt):
            return (jvp(grad(f), (out,), (tt,))[1] * tt).sum()

        def autograd_loop(T):
            with torch.enable_grad():
                o_ = out.detach().requires_grad_(True)
                (g_,) = torch.autograd.grad(f(o_), o_, create_graph=True)
                return torch.stack([(torch.autograd.grad(g_, o_, grad_outputs=tt, retain_graph=True)[0] * tt).sum()
                                    for tt in T])

        ways = [lambda T: vmap(fwd_rev)(T), lambda T: vmap(fwd_fwd)(T), autograd_loop]
        for i in range(self._loss_way or 0, len(ways)):
            try:
                val = ways[i](t)
            except Exception:
                if i == len(ways) - 1 or self._loss_way == i:  # nothing left, or it worked before
                    raise
                continue
            self._loss_way = i
            return val.detach()
        raise AssertionError("unreachable")


def _first_line(exc: BaseException) -> str:
    s = str(exc).strip().splitlines()
    return s[0][:160] if s else ""
