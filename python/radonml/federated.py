r"""Distributed learning protocols side by side, with honest communication accounting (SPEC §4).

:math:`m` learners share one torch architecture; each holds its own data shard (iid, a
Dirichlet(:math:`\alpha`) label split, or class shards) and its own parameter vector
:math:`f_i \in \mathbb{R}^d`. All learners are trained together, vectorized with
:func:`torch.func.vmap`, so a simulation of ten small networks costs about as much as one.

A *protocol* decides what is communicated: :class:`MiniBatchSGD`, :class:`PeriodicAveraging`
(FedAvg), :class:`DynamicAveraging` (Kamp et al., 2018), :class:`LayerwiseAveraging`
(Adilova et al., 2024), :class:`RadonOneShot` (the one-round Radon machine; Kamp et al., 2017)
and :class:`NoSync`. Every aggregation goes through :func:`radonml.aggregate`, so ``method=``
swaps the mean for the median, the geometric median or the Radon point.

:func:`simulate` runs one protocol and returns a :class:`History`: per round the test loss and
accuracy, cumulative messages and bytes up/down (counted from the tensors actually sent:
``numel * element_size`` of each payload; control messages without a tensor, such as the
coordinator's request for models in dynamic averaging, count as messages with 0 bytes),
synchronisations and the divergence :math:`\frac{1}{m}\sum_i \lVert f_i - \bar f\rVert^2`.

Examples
--------
>>> import torch
>>> from radonml.datasets import load_mnist1d
>>> ds = load_mnist1d(1000)
>>> learners = make_learners(make_mlp(40, 16, 10, seed=0), ds.X_train, ds.y_train, 4,
...                          X_test=ds.X_test, y_test=ds.y_test, seed=0)
>>> h = simulate(PeriodicAveraging(period=5), learners, rounds=3)
>>> h["syncs"].tolist(), h["messages"].tolist()
([1, 2, 3], [8, 16, 24])
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import Callable, List, Optional, Sequence

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, grad, vmap

from ._validation import check_fraction, check_int, check_rng
from .aggregators import resolve_aggregator
from .torch import flatten_parameters, n_parameters, parameter_slices

__all__ = [
    "split_iid",
    "split_dirichlet",
    "split_shards",
    "make_mlp",
    "Learners",
    "make_learners",
    "Protocol",
    "MiniBatchSGD",
    "PeriodicAveraging",
    "DynamicAveraging",
    "LayerwiseAveraging",
    "RadonOneShot",
    "NoSync",
    "History",
    "simulate",
]


# ------------------------------------------------------------------ data splits


def _check_labels(y) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1 or y.size == 0:
        raise ValueError(f"y must be a non-empty 1-D array of labels, got shape {y.shape}")
    return y


def split_iid(y, n_learners, *, rng=None) -> List[np.ndarray]:
    """Shuffle the indices of ``y`` and cut them into ``n_learners`` parts of (almost) equal size.

    >>> [len(p) for p in split_iid(np.zeros(10), 3, rng=0)]
    [4, 3, 3]
    """
    y = _check_labels(y)
    m = check_int(n_learners, "n_learners", minimum=1)
    if m > y.size:
        raise ValueError(f"n_learners must be at most the number of examples ({y.size}), got {m}")
    gen = check_rng(rng)
    return [np.sort(p) for p in np.array_split(gen.permutation(y.size), m)]


def split_dirichlet(y, n_learners, alpha=0.5, *, rng=None, min_size: int = 1, max_tries: int = 100) -> List[np.ndarray]:
    r"""Non-iid label split: for every class :math:`c`, draw proportions
    :math:`p_c \sim \mathrm{Dirichlet}(\alpha \mathbf{1}_m)` and deal the class's examples to
    the learners in these proportions (Hsu, Qi, Brown, 2019). Small :math:`\alpha` (0.1) gives
    learners that see few classes; large :math:`\alpha` approaches iid. Redrawn (up to
    ``max_tries`` times) until every learner holds at least ``min_size`` examples.
    """
    y = _check_labels(y)
    m = check_int(n_learners, "n_learners", minimum=1)
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.floating, np.integer)) or not alpha > 0:
        raise ValueError(f"alpha must be a positive number, got {alpha!r}")
    min_size = check_int(min_size, "min_size", minimum=0)
    if m * min_size > y.size:
        raise ValueError(f"cannot give {m} learners at least min_size={min_size} of {y.size} examples")
    gen = check_rng(rng)
    classes = np.unique(y)
    for _ in range(max_tries):
        parts: List[list] = [[] for _ in range(m)]
        for c in classes:
            idx = gen.permutation(np.flatnonzero(y == c))
            p = gen.dirichlet(np.full(m, float(alpha)))
            cuts = (np.cumsum(p)[:-1] * idx.size).astype(int)
            for i, chunk in enumerate(np.split(idx, cuts)):
                parts[i].append(chunk)
        out = [np.sort(np.concatenate(p)) for p in parts]
        if min(len(p) for p in out) >= min_size:
            return out
    raise ValueError(
        f"could not draw a Dirichlet(alpha={alpha}) split where every learner has >= {min_size} examples "
        f"in {max_tries} tries; increase alpha or lower min_size"
    )


def split_shards(y, n_learners, shards_per_learner: int = 2, *, rng=None) -> List[np.ndarray]:
    """Pathological non-iid split of McMahan et al. (2017): sort by label, cut into
    ``n_learners * shards_per_learner`` equal shards and give each learner
    ``shards_per_learner`` random shards, so a learner sees about that many classes.
    """
    y = _check_labels(y)
    m = check_int(n_learners, "n_learners", minimum=1)
    s = check_int(shards_per_learner, "shards_per_learner", minimum=1)
    if m * s > y.size:
        raise ValueError(f"n_learners * shards_per_learner = {m * s} exceeds the number of examples ({y.size})")
    gen = check_rng(rng)
    order = np.argsort(y, kind="stable")
    shards = np.array_split(order, m * s)
    assign = gen.permutation(m * s).reshape(m, s)
    return [np.sort(np.concatenate([shards[j] for j in row])) for row in assign]


def make_mlp(n_in: int, hidden, n_out: int, *, seed: int = 0, dtype=torch.float32) -> nn.Sequential:
    """A small ReLU MLP ``Linear-ReLU-...-Linear`` with seeded initialization.

    ``hidden`` is an int or a sequence of widths (empty: logistic regression).

    >>> make_mlp(40, 32, 10)
    Sequential(
      (0): Linear(in_features=40, out_features=32, bias=True)
      (1): ReLU()
      (2): Linear(in_features=32, out_features=10, bias=True)
    )
    """
    widths = [hidden] if isinstance(hidden, (int, np.integer)) else list(hidden)
    dims = [check_int(n_in, "n_in", minimum=1)] + [check_int(h, "hidden", minimum=1) for h in widths]
    n_out = check_int(n_out, "n_out", minimum=1)
    gen = torch.Generator().manual_seed(int(seed))
    layers: List[nn.Module] = []
    for a, b in zip(dims[:-1], dims[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    layers.append(nn.Linear(dims[-1], n_out))
    net = nn.Sequential(*layers).to(dtype)
    with torch.no_grad():
        for mod in net:
            if isinstance(mod, nn.Linear):
                bound = 1.0 / np.sqrt(mod.in_features)
                mod.weight.copy_((torch.rand(mod.weight.shape, generator=gen, dtype=torch.float64) * 2 - 1) * bound)
                mod.bias.copy_((torch.rand(mod.bias.shape, generator=gen, dtype=torch.float64) * 2 - 1) * bound)
    return net


# ------------------------------------------------------------------ learners


class Learners:
    r"""``m`` learners of one torch architecture, each with its own shard, trained together.

    The state is one ``(m, d)`` tensor :attr:`theta` of flat parameter vectors (layout of
    :func:`radonml.torch.flatten_parameters`). A local step is plain SGD,
    :math:`f_i \leftarrow f_i - \eta \nabla \ell_i(f_i)`, on a mini-batch of ``batch_size``
    examples drawn with replacement from learner :math:`i`'s shard (``batch_size=None``: the
    full shard), computed for all learners at once (one ``vmap``-ed forward pass and one backward pass).

    Parameters
    ----------
    model : torch.nn.Module
        The architecture and the common initial parameters. Modules with running-statistics
        buffers (BatchNorm) are not supported (use LayerNorm or GroupNorm).
    shards : sequence of (X_i, y_i)
        One training set per learner.
    lr : float, default 0.1
        Local learning rate :math:`\eta`.
    batch_size : int or None, default 32
    loss : callable, default :func:`torch.nn.functional.cross_entropy`
        ``loss(output, target) -> scalar``.
    X_test, y_test : array-like, optional
        Held-out data used by :func:`simulate` when ``evaluate`` is not given.
    seed : int, default 0
        Seeds the mini-batch draws; :func:`simulate` restarts from it, so every protocol sees
        the same draws.
    """

    def __init__(self, model, shards, *, lr=0.1, batch_size=32, loss=None, X_test=None, y_test=None, seed=0):
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        for mod in model.modules():
            if isinstance(mod, nn.modules.batchnorm._BatchNorm) and mod.track_running_stats:
                raise ValueError("model must not contain BatchNorm layers with running statistics; use LayerNorm or GroupNorm")
        if not isinstance(shards, (list, tuple)) or len(shards) == 0:
            raise ValueError(f"shards must be a non-empty list of (X, y) pairs, got {type(shards).__name__}")
        self.template = copy.deepcopy(model)
        p0 = next(self.template.parameters(), None)
        if p0 is None:
            raise ValueError("model must have parameters")
        self.dtype = p0.dtype
        self.lr = float(lr)
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {lr}")
        self.batch_size = check_int(batch_size, "batch_size", minimum=1, allow_none=True)
        self.loss = nn.functional.cross_entropy if loss is None else loss
        if not callable(self.loss):
            raise TypeError(f"loss must be callable, got {type(self.loss).__name__}")
        self.seed = check_int(seed, "seed", minimum=0)
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
        self.X_test = None if X_test is None else torch.as_tensor(np.asarray(X_test), dtype=self.dtype)
        self.y_test = None if y_test is None else torch.as_tensor(np.asarray(y_test), dtype=self.y.dtype)
        self.slices = parameter_slices(self.template)
        self.shapes = {n: tuple(p.shape) for n, p in self.template.named_parameters()}
        self.d = n_parameters(self.template)
        self.theta0 = torch.as_tensor(flatten_parameters(self.template), dtype=self.dtype)
        self.reset()  # sets theta (m, d) and the batch generator

        def _loss(th, Xb, yb):
            return self.loss(functional_call(self.template, self._unflatten(th), (Xb,)), yb)

        def _forward(th, X):
            return functional_call(self.template, self._unflatten(th), (X,))

        losses = vmap(_loss)

        def _grad_batched(theta, Xb, yb):
            # per-learner losses are independent, so d(sum_i loss_i)/d theta_i = grad loss_i; one
            # vmapped forward plus one ordinary backward is faster than vmap(grad(...))
            with torch.enable_grad():
                th = theta.detach().requires_grad_(True)
                return torch.autograd.grad(losses(th, Xb, yb).sum(), th)[0]

        self._grad = _grad_batched
        self._grad_full = grad(_loss)
        self._forward = vmap(_forward, in_dims=(0, None))

    @property
    def m(self) -> int:
        """Number of learners."""
        return int(self.n_samples.shape[0])

    def _unflatten(self, th):
        return {n: th[s].reshape(self.shapes[n]) for n, s in self.slices.items()}

    def reset(self):
        """Back to the common initial model and the seeded batch stream."""
        self.theta = self.theta0.repeat(self.m, 1)
        self._rng = np.random.default_rng(self.seed)
        return self

    def copy(self) -> "Learners":
        """An independent copy (state and batch stream) sharing the data."""
        new = copy.copy(self)
        new.theta = self.theta.clone()
        new._rng = copy.deepcopy(self._rng)
        return new

    def gradients(self, theta=None, rows=None) -> torch.Tensor:
        """One stochastic gradient per learner at ``theta`` (default: the current models), (m, d).

        ``rows`` (indices of learners, increasing) restricts the computation to those learners
        and returns ``(len(rows), d)``; only they draw mini-batches (``len(rows) * batch_size``
        uniforms from the learners' generator, row by row).
        """
        th = self.theta if theta is None else theta
        offsets, sizes = self.offsets, self.n_samples
        if rows is not None:
            rows = np.asarray(rows, dtype=np.int64)
            th, offsets, sizes = th[torch.as_tensor(rows)], offsets[rows], sizes[rows]
        if self.batch_size is None:
            return torch.stack(
                [self._grad_full(th[j], self.X[o : o + n], self.y[o : o + n]) for j, (o, n) in enumerate(zip(offsets, sizes))]
            )
        idx = offsets[:, None] + (self._rng.random((len(sizes), self.batch_size)) * sizes[:, None]).astype(np.int64)
        idx = torch.as_tensor(idx)
        return self._grad(th, self.X[idx], self.y[idx])

    def local_step(self, mask=None):
        """One SGD step on every learner, or only on those where the boolean ``mask`` (m,) is
        True (the others compute nothing and draw no mini-batches)."""
        if mask is None:
            g = self.gradients()
            with torch.no_grad():
                self.theta -= self.lr * g
            return
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != (self.m,):
            raise ValueError(f"mask must be a boolean array of shape ({self.m},), got shape {mask.shape}")
        rows = np.flatnonzero(mask)
        if rows.size == 0:
            return
        g = self.gradients(rows=rows)
        with torch.no_grad():
            self.theta[torch.as_tensor(rows)] -= self.lr * g

    def warmup(self) -> None:
        """Trace the vectorized gradient once (on each shard's first rows; no random draws), so
        that the first timed step does not pay for it."""
        if self.batch_size is None:
            return
        idx = torch.as_tensor(self.offsets[:, None] + np.arange(self.batch_size)[None, :] % self.n_samples[:, None])
        self._grad(self.theta, self.X[idx], self.y[idx])

    def divergence(self, mask=None) -> float:
        r""":math:`\frac{1}{m}\sum_i \lVert f_i - \bar f\rVert^2` with the unweighted mean :math:`\bar f`
        (over the learners where the boolean ``mask`` is True, if given)."""
        th = self.theta.double()
        if mask is not None:
            th = th[torch.as_tensor(np.asarray(mask, dtype=bool))]
        return float(((th - th.mean(0)) ** 2).sum(1).mean())

    def evaluate(self, thetas, X, y):
        """Loss and accuracy of each row of ``thetas`` (k, d) on (X, y): two (k,) arrays."""
        with torch.no_grad():
            out = self._forward(thetas, X)
            k = out.shape[0]
            losses = torch.stack([self.loss(out[j], y) for j in range(k)])
            acc = (out.argmax(-1) == y).double().mean(-1) if out.ndim == 3 else torch.full((k,), float("nan"))
        return losses.double().numpy(), acc.numpy()

    def module(self, vector) -> nn.Module:
        """A copy of the architecture holding the flat parameter ``vector``."""
        from .torch import load_flat_parameters

        return load_flat_parameters(copy.deepcopy(self.template), vector)


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
) -> Learners:
    """Split (X, y) among ``n_learners`` and build :class:`Learners` from a common initial ``model``.

    Parameters
    ----------
    model : torch.nn.Module
        Architecture and initial parameters shared by all learners.
    X, y : array-like
        Training data, split by ``split``.
    n_learners : int, default 10
    split : {"iid", "dirichlet", "shards"}, default "iid"
        :func:`split_iid`, :func:`split_dirichlet` (with ``alpha``) or :func:`split_shards`
        (with ``shards_per_learner``).
    alpha : float, default 0.5
    shards_per_learner : int, default 2
    lr, batch_size, loss, X_test, y_test
        See :class:`Learners`.
    seed : int, default 0
        Seeds the split and the mini-batch stream.

    Returns
    -------
    Learners
    """
    X = np.asarray(X)
    y = np.asarray(y)
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"X and y must have the same number of rows, got {X.shape[0]} and {y.shape[0]}")
    rng = np.random.default_rng(check_int(seed, "seed", minimum=0))
    if split == "iid":
        parts = split_iid(y, n_learners, rng=rng)
    elif split == "dirichlet":
        parts = split_dirichlet(y, n_learners, alpha, rng=rng, min_size=1)
    elif split == "shards":
        parts = split_shards(y, n_learners, shards_per_learner, rng=rng)
    else:
        raise ValueError(f"split must be 'iid', 'dirichlet' or 'shards', got {split!r}")
    return Learners(
        model, [(X[p], y[p]) for p in parts], lr=lr, batch_size=batch_size, loss=loss,
        X_test=X_test, y_test=y_test, seed=seed,
    )


# ------------------------------------------------------------------ protocols


class _Run:
    """Mutable state of one simulation: learners, counters, and the coordinator's helpers."""

    def __init__(self, learners: Learners, rng: np.random.Generator):
        self.learners = learners
        self.rng = rng
        self.messages = 0
        self.bytes_up = 0
        self.bytes_down = 0
        self.syncs = 0

    def send_up(self, payload: torch.Tensor):
        """Each row of ``payload`` is one message from one learner to the coordinator."""
        rows = payload.shape[0]
        self.messages += rows
        self.bytes_up += payload.numel() * payload.element_size()

    def send_down(self, payload: torch.Tensor, n_receivers: int):
        """The coordinator sends ``payload`` to ``n_receivers`` learners."""
        self.messages += int(n_receivers)
        self.bytes_down += int(n_receivers) * payload.numel() * payload.element_size()

    def control(self, n: int):
        """``n`` messages without a tensor (0 bytes counted)."""
        self.messages += int(n)

    def combine(self, rows: torch.Tensor, protocol, weights=None) -> torch.Tensor:
        options = dict(protocol.options)
        if protocol.method == "radon" and options.get("rng") is None:
            options["rng"] = self.rng
        vec, used = protocol.aggregator(rows.detach().double().numpy(), weights=weights, **options)
        protocol.used_method = used
        return torch.as_tensor(vec, dtype=rows.dtype)


class Protocol:
    """Interface of a protocol: :meth:`start`, :meth:`step` (one time step: local update and
    any communication), :meth:`finish`, :meth:`global_model`.

    ``round_steps`` is the default number of steps per recorded round in :func:`simulate`.

    Parameters
    ----------
    method : str or callable
        How the coordinator combines what it receives: any name of
        :func:`radonml.available_aggregators` (``"mean"``, ``"median"``, ``"trimmed_mean"``,
        ``"geometric_median"``, ``"radon"``, ...) or a callable (see :func:`radonml.aggregate`).
    weighted : bool or None, default None
        Weight learner :math:`i` by its number of examples :math:`n_i`. ``None``: weight
        exactly when the named aggregator uses weights (:func:`radonml.supports_weights`;
        the mean, the median, the geometric median, not the Radon point), never for a
        callable. ``True`` with an aggregator that ignores weights raises ``ValueError``.
    fallback : str or None, default "geometric_median"
        Used with a :class:`~radonml.FallbackWarning` when ``method="radon"`` gets fewer models
        than the Radon number :math:`d + 2`; ``None`` raises instead.
    **options
        Passed to the aggregator (e.g. ``beta=0.2`` for ``"trimmed_mean"``; ``"radon"`` gets
        the simulation's seeded generator as ``rng`` unless one is given).
    """

    name = "protocol"
    round_steps = 1

    def __init__(self, method="mean", *, weighted=None, fallback="geometric_median", **options):
        # unknown names and impossible weightings fail here, not at the first synchronisation
        self.aggregator = resolve_aggregator(method, weighted=weighted, fallback=fallback)
        self.method = method
        self.weighted = self.aggregator.weighted
        self.fallback = fallback
        self.options = options
        self.used_method = method

    def _method_label(self) -> str:
        """The aggregator actually used at the last synchronisation (a fallback shows), by name."""
        m = self.used_method
        return m if isinstance(m, str) else getattr(m, "__name__", "callable")

    def label(self) -> str:
        return f"{self.name}[{self._method_label()}]"

    def _weights(self, run: _Run, idx=None):
        if not self.weighted:
            return None
        w = run.learners.n_samples.astype(np.float64)
        return w if idx is None else w[idx]

    def active(self, run: _Run) -> Optional[np.ndarray]:
        """Boolean mask (m,) of the learners taking part in the current round, or None for all.

        :func:`simulate` computes ``divergence``, ``local_loss`` and ``local_accuracy`` over
        these learners; only :class:`PeriodicAveraging` with ``fraction < 1`` leaves some out.
        """
        return None

    def start(self, run: _Run) -> None:
        pass

    def step(self, run: _Run, t: int) -> None:
        raise NotImplementedError

    def finish(self, run: _Run) -> None:
        pass

    def global_model(self, run: _Run) -> torch.Tensor:
        """The model evaluated as "the" model: by default the plain average of the local models
        (computed for evaluation only, not communicated)."""
        return run.learners.theta.mean(0)


class NoSync(Protocol):
    """Every learner trains alone; nothing is communicated. The reported global model is the
    (uncommunicated) average of the local models."""

    name = "nosync"
    round_steps = 10

    def __init__(self):
        super().__init__("mean")

    def label(self):
        return self.name

    def step(self, run, t):
        run.learners.local_step()


class MiniBatchSGD(Protocol):
    r"""Distributed mini-batch SGD: every step each learner sends its batch gradient
    :math:`g_i`; the coordinator combines them (``method``, default the mean) and sends back
    :math:`f \leftarrow f - \eta\, \operatorname{agg}(g_1, \dots, g_m)`.

    Per step: :math:`m` messages up (gradients) and :math:`m` down (the model).
    """

    name = "minibatch_sgd"
    round_steps = 10

    def __init__(self, method="mean", *, weighted=False, **options):
        super().__init__(method, weighted=weighted, **options)

    def step(self, run, t):
        L = run.learners
        g = L.gradients()
        run.send_up(g)
        comb = run.combine(g, self, self._weights(run))
        new = L.theta[0] - L.lr * comb
        run.send_down(new, L.m)
        L.theta[:] = new
        run.syncs += 1


class PeriodicAveraging(Protocol):
    r"""Periodic averaging (FedAvg; McMahan et al., AISTATS 2017).

    Each selected learner takes ``period`` local SGD steps from the global model; then they
    send their models up, the coordinator aggregates them (``method``, default the mean
    weighted by sample counts, :math:`\sum_i n_i f_i / \sum_i n_i`; see :class:`Protocol`
    for ``weighted``, ``fallback`` and ``options``) and sends the result down to the learners
    selected for the next round (``fraction`` of them, at least one, drawn without
    replacement; all if ``fraction=1``). Per round: :math:`k` models up and :math:`k` down,
    :math:`k = \max(1, \lfloor \text{fraction}\, m\rfloor)`.

    Unselected learners idle: no gradient is computed for them and they draw no mini-batches.
    Their (stale) models are not part of the federation's state, so with ``fraction < 1`` the
    history's ``divergence``, ``local_loss`` and ``local_accuracy`` cover only the learners
    selected for the current round (see :meth:`Protocol.active`).

    >>> PeriodicAveraging(10, method="radon").weighted  # the Radon point ignores weights
    False
    """

    name = "periodic"

    def __init__(self, period: int = 10, fraction: float = 1.0, weighted: Optional[bool] = None, method="mean", **options):
        super().__init__(method, weighted=weighted, **options)
        self.period = check_int(period, "period", minimum=1)
        self.fraction = check_fraction(fraction, "fraction", low=0.0, high=1.0, closed_high=True)
        if self.fraction == 0.0:
            raise ValueError("fraction must be positive, got 0.0")
        self.round_steps = self.period

    def label(self):
        extra = f",frac={self.fraction:g}" if self.fraction < 1 else ""
        return f"periodic(b={self.period}{extra})[{self._method_label()}]"

    def _sample(self, run):
        m = run.learners.m
        k = max(1, int(np.floor(self.fraction * m)))
        mask = np.zeros(m, dtype=bool)
        mask[run.rng.choice(m, size=k, replace=False) if k < m else np.arange(m)] = True
        return mask

    def start(self, run):
        self.global_ = run.learners.theta[0].clone()
        self.selected = self._sample(run)

    def active(self, run):
        return None if self.selected.all() else self.selected

    def step(self, run, t):
        L = run.learners
        L.local_step(self.active(run))
        if t % self.period == 0:
            idx = np.flatnonzero(self.selected)
            rows = L.theta[torch.as_tensor(idx)]
            run.send_up(rows)
            self.global_ = run.combine(rows, self, self._weights(run, idx))
            run.syncs += 1
            self.selected = self._sample(run)
            run.send_down(self.global_, int(self.selected.sum()))
            L.theta[torch.as_tensor(self.selected)] = self.global_

    def global_model(self, run):
        return self.global_


class DynamicAveraging(Protocol):
    r"""Dynamic averaging (Kamp, Adilova, Sicking, Hüger, Schlicht, Wirtz, Wrobel, "Efficient
    decentralized deep learning by dynamic model averaging", ECML PKDD 2018).

    Every ``check_every`` steps each learner tests its local condition
    :math:`\lVert f_i - r\rVert^2 \le \Delta` against the reference model :math:`r` (the last
    aggregate; initially the common start), which costs no communication. If any learner
    violates it, the violators send their models, the coordinator requests (0-byte control
    messages) and receives the others' models, aggregates all :math:`m` (``method``, default
    the mean weighted by sample counts; see :class:`Protocol`) and sends
    the result to everyone, which becomes the new :math:`r` (a full synchronisation). While
    every local condition holds,

    .. math:: \frac{1}{m}\sum_i \lVert f_i - \bar f\rVert^2 \le \frac{1}{m}\sum_i \lVert f_i - r\rVert^2 \le \Delta,

    since the mean minimizes the sum of squared distances.
    """

    name = "dynamic"

    def __init__(self, delta: float = 1.0, check_every: int = 10, weighted: Optional[bool] = None, method="mean", **options):
        super().__init__(method, weighted=weighted, **options)
        if isinstance(delta, bool) or not isinstance(delta, (int, float, np.floating, np.integer)) or not delta >= 0:
            raise ValueError(f"delta must be a non-negative number, got {delta!r}")
        self.delta = float(delta)
        self.check_every = check_int(check_every, "check_every", minimum=1)
        self.round_steps = self.check_every

    def label(self):
        return f"dynamic(Δ={self.delta:g},b={self.check_every})[{self._method_label()}]"

    def start(self, run):
        self.reference = run.learners.theta[0].clone()
        self.violations = 0

    def local_conditions(self, run) -> np.ndarray:
        """:math:`\\lVert f_i - r\\rVert^2` for every learner (float64)."""
        return ((run.learners.theta.double() - self.reference.double()) ** 2).sum(1).numpy()

    def step(self, run, t):
        L = run.learners
        L.local_step()
        if t % self.check_every:
            return
        viol = self.local_conditions(run) > self.delta
        if not viol.any():
            return
        self.violations += int(viol.sum())
        run.send_up(L.theta[torch.as_tensor(viol)])
        run.control(int((~viol).sum()))
        run.send_up(L.theta[torch.as_tensor(~viol)])
        self.reference = run.combine(L.theta, self, self._weights(run))
        run.send_down(self.reference, L.m)
        L.theta[:] = self.reference
        run.syncs += 1


class LayerwiseAveraging(Protocol):
    r"""Periodic averaging of only some layers (SPEC §5; Adilova et al., ICLR 2024): every
    ``period`` steps the parameters of ``layers`` (module names such as ``"0"`` or
    ``"encoder.fc1"``; a parameter belongs to a layer if its name is ``layer`` or starts with
    ``layer + "."``) are aggregated across all learners and sent back; the other parameters
    stay local. Bytes count only the averaged parameters. ``method``, ``weighted``,
    ``fallback`` and ``options`` as in :class:`Protocol` (the Radon point of the averaged
    columns needs :math:`m \ge d_{\text{layers}} + 2` learners).
    """

    name = "layerwise"

    def __init__(self, layers: Sequence[str], period: int = 10, weighted: Optional[bool] = None, method="mean", **options):
        super().__init__(method, weighted=weighted, **options)
        if isinstance(layers, str) or not isinstance(layers, (list, tuple)) or not layers:
            raise ValueError(f"layers must be a non-empty list of layer names, got {layers!r}")
        self.layers = [str(x) for x in layers]
        self.period = check_int(period, "period", minimum=1)
        self.round_steps = self.period

    def label(self):
        return f"layerwise({'+'.join(self.layers)},b={self.period})[{self._method_label()}]"

    def start(self, run):
        cols = []
        names = list(run.learners.slices)
        for layer in self.layers:
            hit = [n for n in names if n == layer or n.startswith(layer + ".")]
            if not hit:
                raise ValueError(f"layer {layer!r} matches no parameter; the model's parameters are {names}")
            for n in hit:
                s = run.learners.slices[n]
                cols.append(np.arange(s.start, s.stop))
        self.cols = torch.as_tensor(np.unique(np.concatenate(cols)))

    def step(self, run, t):
        L = run.learners
        L.local_step()
        if t % self.period == 0:
            rows = L.theta[:, self.cols]
            run.send_up(rows)
            avg = run.combine(rows, self, self._weights(run))
            run.send_down(avg, L.m)
            L.theta[:, self.cols] = avg
            run.syncs += 1


class RadonOneShot(Protocol):
    """One round (SPEC §4): every learner trains alone to the end, then sends its model once;
    the coordinator aggregates with ``method`` (default the iterated Radon point, Kamp et al.,
    NeurIPS 2017; any registered name works) and sends the result back.

    The Radon point of :math:`m` models in :math:`\\mathbb{R}^d` needs :math:`m \\ge d + 2`;
    with fewer learners ``fallback`` (default the geometric median) is used with a
    :class:`~radonml.FallbackWarning` (``fallback=None`` raises instead). Before the final
    aggregation the reported global model is the (uncommunicated) average of the local models.
    """

    name = "oneshot"
    round_steps = 10

    def __init__(self, method="radon", *, fallback="geometric_median", weighted: bool = False, **options):
        super().__init__(method, weighted=weighted, fallback=fallback, **options)

    def label(self):
        return f"oneshot[{self._method_label()}]"

    def start(self, run):
        self.final_ = None

    def step(self, run, t):
        run.learners.local_step()

    def finish(self, run):
        L = run.learners
        run.send_up(L.theta)
        self.final_ = run.combine(L.theta, self, self._weights(run))
        run.send_down(self.final_, L.m)
        L.theta[:] = self.final_
        run.syncs += 1


# ------------------------------------------------------------------ simulation


@dataclass
class History:
    """Per-round records of one :func:`simulate` run; ``history[key]`` is a numpy column.

    Keys: ``step``, ``loss``, ``accuracy`` (of the protocol's global model), ``local_loss``,
    ``local_accuracy`` (means over the learners' own models), ``messages``, ``bytes_up``,
    ``bytes_down``, ``bytes``, ``syncs``, ``divergence``, ``time`` (cumulative wall seconds of
    training and communication, evaluation excluded). ``local_*`` and ``divergence`` cover the
    learners of the current round (:meth:`Protocol.active`): all of them, except for
    :class:`PeriodicAveraging` with ``fraction < 1``, where the learners selected for the
    round that follows the record (right after a synchronisation they hold the new global
    model, so the divergence is 0 there).
    """

    protocol: str
    records: List[dict] = field(default_factory=list)
    final_model: Optional[np.ndarray] = None
    learners: Optional[Learners] = None

    def __getitem__(self, key):
        return np.array([r[key] for r in self.records])

    def __len__(self):
        return len(self.records)

    @property
    def final(self) -> dict:
        """The last record."""
        return self.records[-1]

    def to_dict(self) -> dict:
        return {"protocol": self.protocol, "records": self.records}


def _eval(learners: Learners, protocol, run, evaluate, active=None) -> dict:
    g = protocol.global_model(run).detach()
    local = learners.theta if active is None else learners.theta[torch.as_tensor(active)]
    if evaluate is None:
        if learners.X_test is None:
            return {}
        evaluate = (learners.X_test, learners.y_test)
    if callable(evaluate):
        res = evaluate(learners.module(g))
        loc = [evaluate(learners.module(th)) for th in local]
        return {
            "loss": float(res.get("loss", np.nan)),
            "accuracy": float(res.get("accuracy", np.nan)),
            "local_loss": float(np.mean([r.get("loss", np.nan) for r in loc])),
            "local_accuracy": float(np.mean([r.get("accuracy", np.nan) for r in loc])),
        }
    X, y = evaluate
    X = torch.as_tensor(np.asarray(X), dtype=learners.dtype)
    y = torch.as_tensor(np.asarray(y), dtype=learners.y.dtype)
    losses, accs = learners.evaluate(torch.cat([g[None], local]), X, y)
    return {
        "loss": float(losses[0]),
        "accuracy": float(accs[0]),
        "local_loss": float(losses[1:].mean()),
        "local_accuracy": float(accs[1:].mean()),
    }


def simulate(
    protocol: Protocol,
    learners: Learners,
    *,
    steps: Optional[int] = None,
    rounds: Optional[int] = None,
    steps_per_round: Optional[int] = None,
    evaluate=None,
    callback: Optional[Callable] = None,
    progress: bool = False,
    seed: Optional[int] = None,
) -> History:
    """Run ``protocol`` on a fresh copy of ``learners`` (reset to the common initial model and
    the seeded batch stream, so protocols are compared on identical draws).

    Parameters
    ----------
    protocol : Protocol
    learners : Learners
    steps, rounds : int
        Exactly one: the number of time steps (one local SGD step on every active learner),
        or of rounds of ``steps_per_round`` steps.
    steps_per_round : int, optional
        Steps between records; default ``protocol.round_steps`` (the period or check interval).
        A record is also taken after the last step, after :meth:`Protocol.finish`.
    evaluate : None, (X_test, y_test) or callable
        ``None``: the learners' test set if they have one (else no loss/accuracy columns); a
        pair: loss (the learners' loss) and accuracy, vectorized over the models; a callable
        ``evaluate(module) -> {"loss": ..., "accuracy": ...}``.
    callback : callable, optional
        ``callback(t, protocol, learners)`` after every step (for inspection; do not modify).
    progress : bool
        Show a tqdm bar.
    seed : int, optional
        Seed of the protocol's own randomness (client sampling, the Radon tree); default the
        learners' seed.

    Returns
    -------
    History
    """
    if not isinstance(protocol, Protocol):
        raise TypeError(f"protocol must be a radonml.federated.Protocol, got {type(protocol).__name__}")
    if not isinstance(learners, Learners):
        raise TypeError(f"learners must be a radonml.federated.Learners, got {type(learners).__name__}")
    if (steps is None) == (rounds is None):
        raise ValueError(f"give exactly one of steps and rounds, got steps={steps!r} and rounds={rounds!r}")
    spr = check_int(steps_per_round if steps_per_round is not None else protocol.round_steps, "steps_per_round", minimum=1)
    total = check_int(steps, "steps", minimum=1) if steps is not None else check_int(rounds, "rounds", minimum=1) * spr
    if evaluate is not None and not callable(evaluate):
        if not isinstance(evaluate, (tuple, list)) or len(evaluate) != 2:
            raise TypeError("evaluate must be None, an (X_test, y_test) pair or a callable")
    L = learners.copy().reset()
    protocol.used_method = protocol.method
    rng = np.random.default_rng(learners.seed if seed is None else check_int(seed, "seed", minimum=0))
    run = _Run(L, rng)
    hist = History(protocol=protocol.label())
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, desc=protocol.label(), leave=False)
    L.warmup()
    elapsed = 0.0
    t0 = time.perf_counter()
    with torch.no_grad():
        protocol.start(run)
    elapsed += time.perf_counter() - t0

    def record(t):
        rec = {"step": t}
        active = protocol.active(run)
        rec.update(_eval(L, protocol, run, evaluate, active))
        rec.update(
            messages=run.messages,
            bytes_up=run.bytes_up,
            bytes_down=run.bytes_down,
            bytes=run.bytes_up + run.bytes_down,
            syncs=run.syncs,
            divergence=L.divergence(active),
            time=elapsed,
        )
        hist.records.append(rec)

    for t in range(1, total + 1):
        t0 = time.perf_counter()
        protocol.step(run, t)
        if t == total:
            protocol.finish(run)
        elapsed += time.perf_counter() - t0
        if callback is not None:
            callback(t, protocol, L)
        if t % spr == 0 or t == total:
            record(t)
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    hist.protocol = protocol.label()
    hist.final_model = protocol.global_model(run).detach().double().numpy().copy()
    hist.learners = L
    return hist
