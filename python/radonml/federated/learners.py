r"""Learners: :math:`m` copies of one torch architecture, each with its own data shard,
trained together with :func:`torch.func.vmap` (one forward and one backward pass for all).

:class:`Learners` holds the state, one ``(m, d)`` tensor of flat parameter vectors;
:func:`make_learners` splits a data set (:mod:`radonml.federated.splits`) and builds them;
:func:`make_mlp` (from :mod:`radonml.torch`, re-exported here) is the seeded ReLU MLP of the examples
and the command line.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, grad, vmap

from .._validation import check_int
from ..torch import flatten_parameters, load_flat_parameters, make_mlp, n_parameters, parameter_slices
from .splits import split_indices

__all__ = ["make_mlp", "Learners", "make_learners"]


def _check_model(model) -> nn.Module:
    """A deep copy of ``model`` after checking it is a module with parameters and no running statistics."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    for mod in model.modules():
        if isinstance(mod, nn.modules.batchnorm._BatchNorm) and mod.track_running_stats:
            raise ValueError("model must not contain BatchNorm layers with running statistics; use LayerNorm or GroupNorm")
    if next(model.parameters(), None) is None:
        raise ValueError("model must have parameters")
    return copy.deepcopy(model)


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

    Attributes
    ----------
    theta : (m, d) tensor
        The learners' current parameter vectors.
    m, d : int
        Number of learners and of parameters.
    X, y : tensor
        All shards stacked; learner :math:`i` holds rows ``offsets[i]`` to
        ``offsets[i] + n_samples[i]``.
    n_samples, offsets : (m,) int64 ndarray
    slices : dict of str to slice
        Each parameter's columns in ``theta`` (:func:`radonml.torch.parameter_slices`).

    Examples
    --------
    >>> net = make_mlp(2, 4, 2, seed=0)
    >>> X, y = np.zeros((6, 2), dtype=np.float32), np.array([0, 1, 0, 1, 0, 1])
    >>> L = Learners(net, [(X[:3], y[:3]), (X[3:], y[3:])], batch_size=2)
    >>> L.m, L.d, tuple(L.theta.shape), L.n_samples.tolist()
    (2, 22, (2, 22), [3, 3])
    """

    def __init__(self, model, shards, *, lr=0.1, batch_size=32, loss=None, X_test=None, y_test=None, seed=0):
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
        self.slices = parameter_slices(self.template)
        self.shapes = {n: tuple(p.shape) for n, p in self.template.named_parameters()}
        self.d = n_parameters(self.template)
        self.theta0 = torch.as_tensor(flatten_parameters(self.template), dtype=self.dtype)
        self.reset()  # sets theta (m, d) and the batch generator
        self._vectorize()

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

    def _vectorize(self) -> None:
        """The vmapped loss, gradient and forward pass over the rows of an (m, d) parameter matrix."""

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

    def forward(self, thetas, X) -> torch.Tensor:
        """The network's outputs for every row of ``thetas``, in one vmapped pass.

        Parameters
        ----------
        thetas : (k, d) tensor
            Flat parameter vectors (e.g. :attr:`theta`, or a global model as ``g[None]``).
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
        """Loss and accuracy of each row of ``thetas`` (k, d) on (X, y): two (k,) arrays."""
        with torch.no_grad():
            out = self.forward(thetas, X)
            k = out.shape[0]
            losses = torch.stack([self.loss(out[j], y) for j in range(k)])
            acc = (out.argmax(-1) == y).double().mean(-1) if out.ndim == 3 else torch.full((k,), float("nan"))
        return losses.double().numpy(), acc.numpy()

    def module(self, vector) -> nn.Module:
        """A copy of the architecture holding the flat parameter ``vector``."""
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
        X_test=X_test, y_test=y_test, seed=seed,
    )
