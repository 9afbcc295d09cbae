r"""Learners: :math:`m` copies of one torch architecture, each with its own data shard,
trained together with :func:`torch.func.vmap` (one forward and one backward pass for all).

:class:`Learners` holds the state, one ``(m, d)`` tensor of flat state vectors (the
parameters and, for models with BatchNorm, the running statistics, laid out by
:func:`radonml.torch.state_layout`); :func:`make_learners` splits a data set
(:mod:`radonml.federated.splits`) and builds them; :func:`make_mlp` (from
:mod:`radonml.torch`, re-exported here) is the seeded ReLU MLP of the examples and the command
line. A local step can add the FAM regularizer (:func:`radonml.flatness.fam_penalty`) to every
learner's loss.
"""

from __future__ import annotations

import copy
import numbers
import types

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, grad, replace_all_batch_norm_modules_, vmap

from .._state import StateLayout
from .._validation import check_int
from ..flatness import fam_penalty, last_linear_weight
from ..flatness._hvp import resolve_parameter
from ..torch import lower_median, make_mlp, state_arrays, state_layout
from .splits import split_indices

__all__ = ["make_mlp", "Learners", "make_learners"]


def _cumulative_batch_norm_forward(self, input):
    """``_BatchNorm.forward`` for ``momentum=None`` (the cumulative average of the batch
    statistics), in a form ``vmap`` can batch over learners whose ``num_batches_tracked``
    differ: the factor :math:`1/n_{\text{batches}}` stays a tensor (torch's own forward turns it
    into a Python float). Other settings and evaluation mode: the module's own forward."""
    if not (self.training and self.track_running_stats and self.momentum is None and self.running_mean is not None):
        return type(self).forward(self, input)
    self._check_input_dim(input)
    with torch.no_grad():
        self.num_batches_tracked.add_(1)
        factor = 1.0 / self.num_batches_tracked.to(input.dtype)
        dims = [0] + list(range(2, input.ndim))
        self.running_mean.mul_(1 - factor).add_(factor * input.mean(dims))
        self.running_var.mul_(1 - factor).add_(factor * input.var(dims, correction=1))
    return nn.functional.batch_norm(input, None, None, self.weight, self.bias, True, 0.0, self.eps)


def _check_model(model) -> nn.Module:
    """A deep copy of ``model`` (in training mode) after checking it is a module with parameters
    that ``torch.func.functional_call`` can run with one learner's tensors."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if next(model.parameters(), None) is None:
        raise ValueError("model must have parameters")
    names = {}
    for name, mod in model.named_modules(remove_duplicate=False):
        own = next(mod.parameters(recurse=False), None) is not None or next(mod.buffers(recurse=False), None) is not None
        if id(mod) in names and own:
            raise ValueError(
                f"model registers one module under two names ({names[id(mod)]!r} and {name!r}); torch.func.functional_call "
                "cannot swap its tensors for each learner's. Use two modules and tie their parameters instead "
                "(second.weight = first.weight)"
            )
        names.setdefault(id(mod), name)
    return copy.deepcopy(model).train()


def _vmappable(template: nn.Module) -> nn.Module:
    """``template`` itself, or a copy whose BatchNorm layers with ``momentum=None`` run
    :func:`_cumulative_batch_norm_forward` (the model used for the vmapped local steps)."""
    cumulative = [m for m in template.modules()
                  if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.momentum is None and m.track_running_stats]
    if not cumulative:
        return template
    model = copy.deepcopy(template)
    for mod in model.modules():
        if isinstance(mod, nn.modules.batchnorm._BatchNorm) and mod.momentum is None and mod.track_running_stats:
            mod.forward = types.MethodType(_cumulative_batch_norm_forward, mod)
    return model


def _layout(template: nn.Module):
    """The state layout of ``template`` (:func:`radonml.torch.state_layout`), tied tensors
    (one tensor under several names) counted once under their first name, and the aliases."""
    entries, aliases, seen = [], {}, {}
    for name, t in template.state_dict(keep_vars=True).items():
        if not isinstance(t, torch.Tensor):
            continue
        if id(t) in seen:
            aliases[name] = seen[id(t)]
            continue
        seen[id(t)] = name
        entries.append((name, tuple(t.shape), t.dtype, not isinstance(t, nn.Parameter)))
    if not aliases:
        return state_layout(template), aliases
    return StateLayout.from_entries(entries), aliases


def _check_fam(fam) -> float:
    if isinstance(fam, bool) or not isinstance(fam, numbers.Real) or not 0 <= fam < np.inf:
        raise ValueError(f"fam must be a non-negative finite number (the FAM weight lambda), got {fam!r}")
    return float(fam)


class Learners:
    r"""``m`` learners of one torch architecture, each with its own shard, trained together.

    The state is one ``(m, d)`` tensor :attr:`theta`: row :math:`i` is learner :math:`i`'s
    state vector :math:`f_i`, the floating-point tensors of its ``state_dict`` (parameters and
    buffers alike, BatchNorm ``running_mean``/``running_var`` included) flattened in
    ``state_dict`` order, the layout of :func:`radonml.torch.state_layout` (for a model without
    buffers: the vector of :func:`radonml.torch.flatten_parameters`). Integer buffers
    (BatchNorm's ``num_batches_tracked``) are held per learner in :attr:`int_buffers`. A
    protocol's aggregator combines rows of :attr:`theta`, so a median coordinator takes the
    median of the running variances as well; integer buffers are combined by the element-wise
    lower median (:meth:`assign`). This is the one buffer policy of
    :func:`radonml.torch.tensor_rule`, shared with :func:`radonml.torch.aggregate_modules` and
    :mod:`radonml.flower`.

    A local step is plain SGD on a mini-batch of ``batch_size`` examples drawn with replacement
    from learner :math:`i`'s shard (``batch_size=None``: the full shard), computed for all
    learners at once (one ``vmap``-ed forward pass and one backward pass), with the model in
    training mode:

    .. math:: \theta_i \leftarrow \theta_i - \eta\, \nabla_{\theta_i}\big(\ell_i(\theta_i)
              + \lambda\, \kappa_{B_i}(W_i)\big),

    :math:`\theta_i` the parameters, :math:`\ell_i` the loss on the mini-batch :math:`B_i`
    and, if ``fam`` :math:`=\lambda > 0`, FAM's stochastic relative flatness
    :math:`\kappa_{B_i}(W_i) = \frac1P\sum_{p=1}^P \langle W_i Z_{ip}, H^{B_i}[W_i Z_{ip}]\rangle`
    of the layer ``fam_layer`` (:func:`radonml.flatness.fam_penalty`, with its gradient through
    the Hessian), with :math:`P` = ``fam_probes`` Rademacher probe matrices :math:`Z_{ip}` per
    learner and step. BatchNorm layers normalise with the mini-batch's statistics, and each
    learner's running statistics are updated by the module itself (its ``momentum``, or the
    cumulative average when ``momentum=None``), functionally under ``vmap``; the FAM term is
    taken on the same batch-statistics forward pass. :meth:`forward` and :meth:`evaluate` use
    evaluation mode, i.e. the running statistics.

    Parameters
    ----------
    model : torch.nn.Module
        The architecture and the common initial state. Buffers are allowed (BatchNorm with
        running statistics); floating-point buffers must have the parameters' dtype.
    shards : sequence of (X_i, y_i)
        One training set per learner.
    lr : float, default 0.1
        Local learning rate :math:`\eta`.
    batch_size : int or None, default 32
    loss : callable, default :func:`torch.nn.functional.cross_entropy`
        ``loss(output, target) -> scalar`` (the batch mean).
    X_test, y_test : array-like, optional
        Held-out data used by :func:`simulate` when ``evaluate`` is not given.
    seed : int, default 0
        Seeds the mini-batch draws and FAM's probes (two independent streams, so a run with
        FAM sees the same mini-batches as one without); :func:`simulate` restarts from it, so
        every protocol sees the same draws. Per step, the learners that step draw, in order,
        ``batch_size`` uniforms each from ``numpy.random.default_rng(seed)`` (example
        ``offset + floor(u * n_i)``) and, with FAM, probes ``2 * g.integers(0, 2, (k, P, n, n)) - 1``
        from ``g = numpy.random.default_rng([seed, 0xFA])`` (``n`` the layer's input width).
    fam : float, default 0.0
        :math:`\lambda \ge 0`, the weight of the FAM regularizer; 0 turns it off (the step is
        then bit for bit the plain one, and no probes are drawn).
    fam_layer : str, optional
        The 2-D weight whose relative flatness is penalised (``"2.weight"`` or the module name
        ``"2"``); default the last ``nn.Linear``'s weight, the paper's choice
        (:func:`radonml.flatness.last_linear_weight`).
    fam_probes : int, default 1
        :math:`P`, probe matrices per learner and step (more: lower variance, more cost).

    Attributes
    ----------
    theta : (m, d) tensor
        The learners' current state vectors.
    m, d : int
        Number of learners and length of a state vector (parameters plus floating-point
        buffers).
    layout : StateLayout
        Which tensor lies where in a state vector, and each tensor's rule.
    slices : dict of str to slice
        Each floating-point state tensor's columns in ``theta`` (parameters and buffers, in
        ``state_dict`` order).
    buffer_columns : (b,) int64 tensor
        The columns of ``theta`` that hold floating-point buffers (empty without buffers).
    int_buffers : dict of str to tensor
        Each integer buffer, stacked over the learners: ``(m, *shape)``.
    int_nbytes : int
        Bytes of one learner's integer buffers (0 without them): what a message carrying a
        whole model sends besides its row of ``theta``.
    X, y : tensor
        All shards stacked; learner :math:`i` holds rows ``offsets[i]`` to
        ``offsets[i] + n_samples[i]``.
    n_samples, offsets : (m,) int64 ndarray
    fam, fam_layer, fam_probes
        The FAM settings (``fam_layer`` resolved to a parameter name, None when ``fam=0``).

    Raises
    ------
    TypeError
        ``model`` is not a module, ``loss`` is not callable.
    ValueError
        A bad shard, ``lr`` not positive, a floating-point buffer of another dtype than the
        parameters, a negative ``fam``, a ``fam_layer`` that is not a 2-D weight of the model,
        or ``fam > 0`` with buffers that the module updates outside BatchNorm.

    References
    ----------
    L. Adilova, A. Abourayya, J. Li, A. Dada, H. Petzka, J. Egger, J. Kleesiek, M. Kamp,
    "FAM: Relative flatness aware minimization", ICML Workshop TAG-ML, PMLR 221, 2023.
    S. Ioffe, C. Szegedy, "Batch normalization", ICML 2015.

    Examples
    --------
    >>> net = make_mlp(2, 4, 2, seed=0)
    >>> X, y = np.zeros((6, 2), dtype=np.float32), np.array([0, 1, 0, 1, 0, 1])
    >>> L = Learners(net, [(X[:3], y[:3]), (X[3:], y[3:])], batch_size=2)
    >>> L.m, L.d, tuple(L.theta.shape), L.n_samples.tolist()
    (2, 22, (2, 22), [3, 3])

    With BatchNorm, each state vector holds the running statistics too:

    >>> bn = torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.BatchNorm1d(4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    >>> L = Learners(bn, [(X[:3], y[:3]), (X[3:], y[3:])], batch_size=2, fam=0.1)
    >>> L.d, L.buffer_columns.tolist(), list(L.int_buffers), L.fam_layer
    (38, [20, 21, 22, 23, 24, 25, 26, 27], ['1.num_batches_tracked'], '3.weight')
    """

    def __init__(self, model, shards, *, lr=0.1, batch_size=32, loss=None, X_test=None, y_test=None, seed=0,
                 fam=0.0, fam_layer=None, fam_probes=1):
        self.template = _check_model(model)
        self.dtype = next(self.template.parameters()).dtype
        self.lr = float(lr)
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {lr}")
        self.batch_size = check_int(batch_size, "batch_size", minimum=1, allow_none=True)
        self.loss = nn.functional.cross_entropy if loss is None else loss
        if not callable(self.loss):
            raise TypeError(f"loss must be callable, got {type(self.loss).__name__}")
        self.seed = check_int(seed, "seed", minimum=0)
        self._stack_shards(shards)
        self.X_test = None if X_test is None else torch.as_tensor(np.asarray(X_test), dtype=self.dtype)
        self.y_test = None if y_test is None else torch.as_tensor(np.asarray(y_test), dtype=self.y.dtype)
        self._set_layout()
        self._set_fam(fam, fam_layer, fam_probes)
        self.reset()  # sets theta (m, d), the integer buffers and the random streams
        self._vectorize()

    # ------------------------------------------------------------------ construction

    def _stack_shards(self, shards) -> None:
        """Check the (X_i, y_i) pairs and stack them: ``X``, ``y``, ``n_samples``, ``offsets``."""
        if not isinstance(shards, (list, tuple)) or len(shards) == 0:
            raise ValueError(f"shards must be a non-empty list of (X, y) pairs, got {type(shards).__name__}")
        Xs, ys = [], []
        for i, sh in enumerate(shards):
            if not isinstance(sh, (tuple, list)) or len(sh) != 2:
                raise ValueError(f"shards[{i}] must be an (X, y) pair")
            X, y = np.asarray(sh[0]), np.asarray(sh[1])
            if X.ndim < 2 or X.shape[0] != y.shape[0] or X.shape[0] == 0:
                raise ValueError(
                    f"shards[{i}] must hold X of shape (n, ...) and y of shape (n,) with n >= 1, got {X.shape} and {y.shape}"
                )
            Xs.append(X)
            ys.append(y)
        self.n_samples = np.array([len(y) for y in ys], dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.n_samples)[:-1]])
        self.X = torch.as_tensor(np.concatenate(Xs), dtype=self.dtype)
        yc = np.concatenate(ys)
        self.y = torch.as_tensor(yc, dtype=torch.long if yc.dtype.kind in "iub" else self.dtype)

    def _set_layout(self) -> None:
        """The state layout: where parameters and floating buffers lie in ``theta``; the
        integer buffers; the initial state ``theta0`` and ``int_buffers0``."""
        self.layout, self._aliases = _layout(self.template)
        state = self.template.state_dict(keep_vars=True)
        self.slices = dict(self.layout.slices)
        self.shapes = dict(zip(self.layout.names, self.layout.shapes))
        self.d = self.layout.n_aggregated
        self._param_slices, self._buffer_slices = {}, {}
        for name, s in self.slices.items():
            t = state[name]
            if isinstance(t, nn.Parameter):
                self._param_slices[name] = s
            else:
                if t.dtype != self.dtype:
                    raise ValueError(f"model: buffer {name!r} has dtype {t.dtype}, the parameters {self.dtype}; "
                                     "convert the model to one floating-point dtype (e.g. model.to(torch.float32))")
                self._buffer_slices[name] = s
        self._int_names = [n for n, r in zip(self.layout.names, self.layout.rules) if r != "aggregator"]
        cols = [np.arange(s.start, s.stop) for s in self._buffer_slices.values()]
        self.buffer_columns = torch.as_tensor(np.concatenate(cols) if cols else np.zeros(0, dtype=np.int64))
        arrays = state_arrays(self.template)
        self.theta0 = torch.as_tensor(self.layout.stack([arrays])[0], dtype=self.dtype)
        self.int_buffers0 = {n: state[n].detach().clone() for n in self._int_names}
        self.int_nbytes = int(sum(t.numel() * t.element_size() for t in self.int_buffers0.values()))
        self._eval_template = copy.deepcopy(self.template).eval()
        self._train_model = _vmappable(self.template)

    def _set_fam(self, fam, fam_layer, fam_probes) -> None:
        self.fam = _check_fam(fam)
        self.fam_probes = check_int(fam_probes, "fam_probes", minimum=1)
        self.fam_layer, self._fam_model, self._fam_width = None, None, 0
        if self.fam == 0.0:
            if fam_layer is not None:
                resolve_parameter(self.template, fam_layer, need_matrix=True, what="fam_layer")
            return
        try:
            name = last_linear_weight(self.template) if fam_layer is None else resolve_parameter(
                self.template, fam_layer, need_matrix=True, what="fam_layer")
        except ValueError as exc:
            raise ValueError(f"fam_layer: {exc}") from None
        fam_model = copy.deepcopy(self.template)
        bn = {f"{m}.{b}" if m else b for m, mod in fam_model.named_modules()
              if isinstance(mod, nn.modules.batchnorm._BatchNorm) for b, _ in mod.named_buffers(recurse=False)}
        other = [n for n, _ in fam_model.named_buffers() if n not in bn]
        if other:
            raise ValueError(f"fam > 0 supports buffers of BatchNorm layers only; the model also has {other}")
        # the penalty is taken on the training forward pass with batch statistics, without
        # touching running statistics (torch.func's documented patch for BatchNorm)
        self._fam_model = replace_all_batch_norm_modules_(fam_model)
        self.fam_layer = name
        self._fam_width = int(self.shapes[name][1])

    def _vectorize(self) -> None:
        """The vmapped loss, gradient and forward pass over the rows of an (k, d) state matrix."""
        fam = self.fam

        def _loss(th, Xb, yb, bufs, Z):
            params = self._unflatten(th, self._param_slices)
            out = functional_call(self._train_model, {**params, **bufs} if bufs else params, (Xb,))
            value = self.loss(out, yb)
            if Z is not None:
                value = value + fam * fam_penalty(self._fam_model, Xb, yb, loss_fn=self.loss, layer=self.fam_layer,
                                                  params=params, probes=Z)
            return value

        def _forward(th, X):
            return functional_call(self._eval_template, self._unflatten(th, self.slices), (X,))

        in_dims = (0, 0, 0, 0 if self._stateful else None, 0 if fam else None)
        losses = vmap(_loss, in_dims=in_dims)

        def _grad_batched(theta, Xb, yb, bufs, Z):
            # per-learner losses are independent, so d(sum_i loss_i)/d theta_i = grad loss_i; one
            # vmapped forward plus one ordinary backward is faster than vmap(grad(...)). The
            # buffers in ``bufs`` are updated in place by the modules' training forward pass.
            with torch.enable_grad():
                th = theta.detach().requires_grad_(True)
                return torch.autograd.grad(losses(th, Xb, yb, bufs, Z).sum(), th)[0]

        self._grad = _grad_batched
        self._grad_full = grad(_loss)
        self._forward = vmap(_forward, in_dims=(0, None))

    # ------------------------------------------------------------------ state

    @property
    def m(self) -> int:
        """Number of learners."""
        return int(self.n_samples.shape[0])

    @property
    def _stateful(self) -> bool:
        """Whether the model has buffers (carried per learner through local steps)."""
        return bool(self._buffer_slices or self._int_names)

    def _unflatten(self, th, slices):
        return {n: th[s].reshape(self.shapes[n]) for n, s in slices.items()}

    def reset(self):
        """Back to the common initial state and the seeded random streams."""
        self.theta = self.theta0.repeat(self.m, 1)
        self.int_buffers = {n: t.repeat(self.m, *([1] * t.ndim)) for n, t in self.int_buffers0.items()}
        self._rng = np.random.default_rng(self.seed)
        # FAM's probes: a stream of their own, so that the mini-batches do not depend on fam
        self._probe_rng = np.random.default_rng([self.seed, 0xFA])
        return self

    def copy(self) -> "Learners":
        """An independent copy (state and random streams) sharing the data."""
        new = copy.copy(self)
        new.theta = self.theta.clone()
        new.int_buffers = {n: t.clone() for n, t in self.int_buffers.items()}
        new._rng = copy.deepcopy(self._rng)
        new._probe_rng = copy.deepcopy(self._probe_rng)
        return new

    def int_buffer_median(self, rows=None, weights=None) -> dict:
        """The element-wise (weighted) lower median of the integer buffers of learners ``rows``
        (indices; default all): the one policy's rule for integer tensors
        (:func:`radonml.torch.lower_median`). ``{name: tensor}``; empty without integer buffers."""
        idx = np.arange(self.m) if rows is None else np.asarray(rows, dtype=np.int64).reshape(-1)
        return {
            n: torch.as_tensor(lower_median(t[torch.as_tensor(idx)].numpy(), weights))
            for n, t in self.int_buffers.items()
        }

    def assign(self, rows, vector, *, sources=None, weights=None) -> None:
        """Learners ``rows`` receive a model: their state vectors become ``vector`` (the
        aggregate a coordinator sends down) and their integer buffers the (weighted) lower
        median of those of the learners ``sources`` (whose models were aggregated; default
        ``rows``), as :func:`radonml.torch.aggregate_modules` combines them.

        Parameters
        ----------
        rows : (m,) bool array or array of int
            The receiving learners (a mask or indices).
        vector : (d,) tensor
        sources : array of int, optional
        weights : (len(sources),) array of float, optional
            The weights the aggregator used, if any.
        """
        idx = np.flatnonzero(rows) if np.asarray(rows).dtype == bool else np.asarray(rows, dtype=np.int64).reshape(-1)
        vec = torch.as_tensor(vector, dtype=self.dtype)
        if vec.shape != (self.d,):
            raise ValueError(f"vector must have shape ({self.d},), got {tuple(vec.shape)}")
        t_idx = torch.as_tensor(idx)
        with torch.no_grad():
            self.theta[t_idx] = vec
        if self.int_buffers:
            med = self.int_buffer_median(idx if sources is None else sources, weights)
            for n, v in med.items():
                self.int_buffers[n][t_idx] = v

    # ------------------------------------------------------------------ local steps

    def _probes(self, k: int):
        """FAM's Rademacher probes for ``k`` learners, (k, P, n, n), from the probe stream."""
        if not self.fam:
            return None
        n = self._fam_width
        z = self._probe_rng.integers(0, 2, size=(k, self.fam_probes, n, n)) * 2 - 1
        return torch.as_tensor(z, dtype=self.dtype)

    def _buffers(self, th, rows) -> dict:
        """Copies of the buffers of the learners in ``rows`` (indices; None for all), stacked
        over them: floating ones cut from ``th``, integer ones from :attr:`int_buffers`."""
        k = th.shape[0]
        bufs = {n: th[:, s].detach().reshape((k,) + self.shapes[n]).clone() for n, s in self._buffer_slices.items()}
        for n, t in self.int_buffers.items():
            bufs[n] = (t if rows is None else t[torch.as_tensor(rows)]).clone()
        return bufs

    def _step_parts(self, th, rows):
        """(gradient (k, d), updated floating buffers as (k, b) or None, updated integer buffers)
        of the learners ``rows`` (indices; None for all) at states ``th`` (k, d)."""
        offsets, sizes = self.offsets, self.n_samples
        if rows is not None:
            offsets, sizes = offsets[rows], sizes[rows]
        k = th.shape[0]
        if self.batch_size is None:
            bufs = [self._buffers(th[j : j + 1], np.array([j]) if rows is None else rows[j : j + 1]) for j in range(k)]
            bufs = [{n: v[0] for n, v in b.items()} for b in bufs]
            Z = self._probes(k)
            g = torch.stack([
                self._grad_full(th[j], self.X[o : o + n], self.y[o : o + n], bufs[j], None if Z is None else Z[j])
                for j, (o, n) in enumerate(zip(offsets, sizes))
            ])
            bufs = {n: torch.stack([b[n] for b in bufs]) for n in bufs[0]} if bufs and bufs[0] else {}
        else:
            idx = offsets[:, None] + (self._rng.random((len(sizes), self.batch_size)) * sizes[:, None]).astype(np.int64)
            idx = torch.as_tensor(idx)
            bufs = self._buffers(th, rows)
            g = self._grad(th, self.X[idx], self.y[idx], bufs, self._probes(k))
        if not self._stateful:
            return g, None, {}
        new_float = None
        if self._buffer_slices:
            new_float = torch.cat([bufs[n].reshape(k, -1) for n in self._buffer_slices], dim=1)
        return g, new_float, {n: bufs[n] for n in self._int_names}

    def gradients(self, theta=None, rows=None, *, advance: bool = False) -> torch.Tensor:
        r"""One stochastic gradient per learner at ``theta`` (default: the current states), (m, d).

        ``rows`` (indices of learners, increasing) restricts the computation to those learners
        and returns ``(len(rows), d)``; only they draw mini-batches (``len(rows) * batch_size``
        uniforms from the learners' generator, row by row) and FAM probes.

        For a model with floating-point buffers, the buffer columns hold the step's change of
        the buffers in SGD form, :math:`(b - b^+)/\eta` with :math:`b^+` the running statistics
        after the training forward pass (FedOpt's pseudo-gradient), so that
        :math:`\theta - \eta g` is the state after the local step, statistics included, and an
        aggregate of these rows aggregates the statistics' updates with the gradients.
        Nothing of the learners' state changes, except with ``advance=True``: then the
        learners' integer buffers become what the training forward pass leaves
        (``num_batches_tracked + 1``), for a protocol that steps with gradients (distributed
        mini-batch SGD; needed for BatchNorm with ``momentum=None``).
        """
        th = self.theta if theta is None else theta
        if rows is not None:
            rows = np.asarray(rows, dtype=np.int64)
            th = th[torch.as_tensor(rows)]
        g, new_float, new_int = self._step_parts(th, rows)
        if new_float is not None:
            cols = self.buffer_columns
            g[:, cols] = (th[:, cols].detach() - new_float) / self.lr
        if advance:
            for n, v in new_int.items():
                if rows is None:
                    self.int_buffers[n] = v
                else:
                    self.int_buffers[n][torch.as_tensor(rows)] = v
        return g

    def local_step(self, mask=None):
        """One SGD step on every learner, or only on those where the boolean ``mask`` (m,) is
        True (the others compute nothing and draw no mini-batches); buffers (running
        statistics) as the modules' training forward pass leaves them."""
        rows = None
        if mask is not None:
            mask = np.asarray(mask, dtype=bool)
            if mask.shape != (self.m,):
                raise ValueError(f"mask must be a boolean array of shape ({self.m},), got shape {mask.shape}")
            rows = np.flatnonzero(mask)
            if rows.size == 0:
                return
        th = self.theta if rows is None else self.theta[torch.as_tensor(rows)]
        g, new_float, new_int = self._step_parts(th, rows)
        with torch.no_grad():
            if rows is None:
                self.theta -= self.lr * g
                if new_float is not None:
                    self.theta[:, self.buffer_columns] = new_float
                for n, v in new_int.items():
                    self.int_buffers[n] = v
                return
            t_rows = torch.as_tensor(rows)
            self.theta[t_rows] -= self.lr * g
            if new_float is not None:
                self.theta[t_rows[:, None], self.buffer_columns[None, :]] = new_float
            for n, v in new_int.items():
                self.int_buffers[n][t_rows] = v

    def warmup(self) -> None:
        """Trace the vectorized gradient once (on each shard's first rows; no random draws, no
        change of state), so that the first timed step does not pay for it."""
        if self.batch_size is None:
            return
        idx = torch.as_tensor(self.offsets[:, None] + np.arange(self.batch_size)[None, :] % self.n_samples[:, None])
        Z = None
        if self.fam:
            Z = torch.ones((self.m, self.fam_probes, self._fam_width, self._fam_width), dtype=self.dtype)
        self._grad(self.theta, self.X[idx], self.y[idx], self._buffers(self.theta, None), Z)

    # ------------------------------------------------------------------ evaluation

    def divergence(self, mask=None) -> float:
        r""":math:`\frac{1}{m}\sum_i \lVert f_i - \bar f\rVert^2` with the unweighted mean :math:`\bar f`
        of the state vectors (over the learners where the boolean ``mask`` is True, if given)."""
        th = self.theta.double()
        if mask is not None:
            th = th[torch.as_tensor(np.asarray(mask, dtype=bool))]
        return float(((th - th.mean(0)) ** 2).sum(1).mean())

    def forward(self, thetas, X) -> torch.Tensor:
        """The network's outputs in evaluation mode for every row of ``thetas``, in one vmapped pass.

        Parameters
        ----------
        thetas : (k, d) tensor
            State vectors (e.g. :attr:`theta`, or a global model as ``g[None]``); BatchNorm
            layers normalise with the running statistics they hold.
        X : (n, ...) tensor
            Inputs, of the learners' dtype.

        Returns
        -------
        (k, n, ...) tensor
            ``model(X)`` for each row, without gradients.
        """
        with torch.no_grad():
            return self._forward(thetas, X)

    def evaluate(self, thetas, X, y):
        """Loss and accuracy of each row of ``thetas`` (k, d) on (X, y), in evaluation mode: two (k,) arrays."""
        with torch.no_grad():
            out = self.forward(thetas, X)
            k = out.shape[0]
            losses = torch.stack([self.loss(out[j], y) for j in range(k)])
            acc = (out.argmax(-1) == y).double().mean(-1) if out.ndim == 3 else torch.full((k,), float("nan"))
        return losses.double().numpy(), acc.numpy()

    def module(self, vector, int_buffers=None) -> nn.Module:
        """A copy of the architecture holding the state ``vector`` (d,).

        ``int_buffers`` (``{name: tensor}``) sets the integer buffers; default their lower
        median over all learners (:meth:`int_buffer_median`). The copy is in training mode,
        as the model given.

        Raises
        ------
        ValueError
            ``vector`` has the wrong shape, or a value is NaN or infinite (or does not fit in
            its tensor's dtype); the message names the tensor.
        """
        v = torch.as_tensor(vector).detach().to("cpu")
        if v.shape != (self.d,):
            raise ValueError(f"vector must have shape ({self.d},) (the learners' state length), got {tuple(v.shape)}")
        out = copy.deepcopy(self.template)
        full = out.state_dict()
        for name, s in self.slices.items():
            part = v[s].reshape(self.shapes[name]).to(dtype=full[name].dtype)
            if not bool(torch.isfinite(part).all()):
                raise ValueError(f"vector: the values for {name!r} are NaN or infinite (or do not fit in {full[name].dtype})")
            full[name] = part
        ints = self.int_buffer_median() if int_buffers is None else int_buffers
        for name in self._int_names:
            full[name] = torch.as_tensor(ints[name], dtype=full[name].dtype)
        for alias, first in self._aliases.items():
            full[alias] = full[first]
        out.load_state_dict(full)
        return out

    def learner_module(self, i: int) -> nn.Module:
        """Learner ``i``'s model as a module (its state vector and its integer buffers)."""
        i = check_int(i, "i", minimum=0)
        if i >= self.m:
            raise ValueError(f"i must be < m = {self.m}, got {i}")
        return self.module(self.theta[i], {n: t[i] for n, t in self.int_buffers.items()})


def make_learners(
    model,
    X,
    y,
    n_learners: int = 10,
    *,
    split: str = "iid",
    alpha: float = 0.5,
    shards_per_learner: int = 2,
    lr: float = 0.1,
    batch_size=32,
    loss=None,
    X_test=None,
    y_test=None,
    seed: int = 0,
    fam: float = 0.0,
    fam_layer=None,
    fam_probes: int = 1,
) -> Learners:
    """Split (X, y) among ``n_learners`` and build :class:`Learners` from a common initial ``model``.

    Parameters
    ----------
    model : torch.nn.Module
        Architecture and initial state shared by all learners.
    X, y : array-like
        Training data, split by ``split``.
    n_learners : int, default 10
    split : {"iid", "dirichlet", "shards"}, default "iid"
        :func:`split_iid`, :func:`split_dirichlet` (with ``alpha``) or :func:`split_shards`
        (with ``shards_per_learner``).
    alpha : float, default 0.5
    shards_per_learner : int, default 2
    lr, batch_size, loss, X_test, y_test, fam, fam_layer, fam_probes
        See :class:`Learners`.
    seed : int, default 0
        Seeds the split, the mini-batch stream and FAM's probes.

    Returns
    -------
    Learners

    Raises
    ------
    ValueError
        If X and y differ in length, ``split`` is unknown or the split cannot be drawn.

    Examples
    --------
    >>> y = np.repeat(np.arange(3), 20)
    >>> X = np.random.default_rng(0).standard_normal((60, 5)).astype(np.float32)
    >>> L = make_learners(make_mlp(5, 8, 3), X, y, 4, split="shards", seed=0)
    >>> L.m, int(L.n_samples.sum())
    (4, 60)
    """
    X = np.asarray(X)
    y = np.asarray(y)
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"X and y must have the same number of rows, got {X.shape[0]} and {y.shape[0]}")
    rng = np.random.default_rng(check_int(seed, "seed", minimum=0))
    parts = split_indices(y, n_learners, split, alpha=alpha, shards_per_learner=shards_per_learner, rng=rng)
    return Learners(
        model, [(X[p], y[p]) for p in parts], lr=lr, batch_size=batch_size, loss=loss,
        X_test=X_test, y_test=y_test, seed=seed, fam=fam, fam_layer=fam_layer, fam_probes=fam_probes,
    )
