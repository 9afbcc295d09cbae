r"""Evaluators: ``evaluate(model) -> dict of metrics`` on fixed data, batched over parameter sets.

Every study of :mod:`radonml.lmc` takes an ``evaluate`` callable. Any function of a model
works (it is called once per point of a path, on a :func:`torch.func.functional_call` view of
the point's parameters). :func:`classification_evaluator` returns one that also evaluates many
parameter sets in one forward pass per data batch: through :func:`torch.func.vmap`, or, for an
``nn.Sequential`` of ``nn.Linear`` and element-wise activations, through one batched matrix
product per layer (the *stacked forward*, same arithmetic without vmap's overhead).
Convolutional models on the CPU go one point at a time: vmap runs their convolutions as one
grouped convolution, measured 2.2x slower than a loop (benchmarks/lmc.md section 5).
"""

from __future__ import annotations

from typing import Dict, Optional, Tuple

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, vmap

from .._validation import check_int
from ._data import cast_input, device_dtype, loop_beats_vmap

__all__ = ["ClassificationEvaluator", "classification_evaluator"]

# rows per stacked forward pass: P x rows activations should stay in cache (measured on an
# MLP: 11 x 256 rows run about 1.8x faster than 11 x 1024)
_STACKED_ROWS = 3072

_ELEMENTWISE = (nn.ReLU, nn.LeakyReLU, nn.Tanh, nn.Sigmoid, nn.GELU, nn.SiLU, nn.ELU, nn.Identity, nn.Dropout,
                nn.Softplus)


class ClassificationEvaluator:
    """Mean loss and accuracy of a classifier on fixed data (see :func:`classification_evaluator`).

    Calling it on a model returns ``{"loss": ..., "accuracy": ...}``; path functions detect it
    (its :meth:`evaluate_stacked`) and evaluate many parameter sets in one vmapped forward pass
    per batch.

    Attributes
    ----------
    loss_fn, batch_size, vectorize
        As given to :func:`classification_evaluator`.
    vmap_error : str or None
        Why the last model could not be batched (then its points were evaluated one by one).
    last_method : str
        How :meth:`evaluate_stacked` last ran: ``"batched"`` or ``"vmap"``.

    Examples
    --------
    >>> import torch
    >>> model = torch.nn.Linear(2, 2)
    >>> with torch.no_grad():
    ...     _ = model.weight.copy_(torch.eye(2)), model.bias.zero_()
    >>> X = torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 1.0]])
    >>> evaluate = classification_evaluator((X, torch.tensor([0, 1, 1])))
    >>> metrics = evaluate(model)
    >>> round(metrics["accuracy"], 4)
    0.6667
    """

    def __init__(self, data, loss_fn=None, batch_size=1024, vectorize=True):
        self.loss_fn = loss_fn
        self.batch_size = batch_size
        self.vectorize = vectorize
        self.vmap_error: Optional[str] = None  # why the last model could not be vmapped
        self._vmap_failed: Dict[tuple, str] = {}  # per architecture
        self.last_method = ""
        if isinstance(data, (tuple, list)) and len(data) == 2 and not _is_loader(data):
            self._tensors = _check_tensors(*data)
            self._loader = None
        elif hasattr(data, "__iter__"):
            self._tensors = None
            self._loader = data
        else:
            raise TypeError(f"data must be a pair (X, y) of tensors/arrays or an iterable of (x, y) batches, got {type(data).__name__}")

    @property
    def data(self):
        """The data as given: the ``(X, y)`` tensors or the iterable of batches. Path
        functions re-estimate BatchNorm statistics on its inputs when no ``bn_data`` is given."""
        return self._tensors if self._tensors is not None else self._loader

    def _batches(self, device, dtype):
        if self._tensors is not None:
            X, y = self._tensors
            for i in range(0, X.shape[0], self.batch_size):
                yield cast_input(X[i:i + self.batch_size], device, dtype), y[i:i + self.batch_size].to(device)
        else:
            for batch in self._loader:
                x, y = batch[0], batch[1]
                yield cast_input(torch.as_tensor(x), device, dtype), torch.as_tensor(y).to(device)

    def _loss_sum(self, out, y):
        if self.loss_fn is None:
            return torch.nn.functional.cross_entropy(out, y, reduction="sum")
        return self.loss_fn(out, y) * y.shape[0]

    def __call__(self, model) -> Dict[str, float]:
        dev, dt = device_dtype(model)
        total, loss, correct = 0, 0.0, 0.0
        with torch.no_grad():
            for x, y in self._batches(dev, dt):
                out = model(x)
                if not bool(torch.isfinite(out).all()):
                    n_bad = int((~torch.isfinite(out)).sum())
                    raise ValueError(f"the model's outputs contain {n_bad} non-finite value(s) (NaN or inf) of "
                                     f"{out.numel()}: loss and accuracy are undefined (a diverged model?)")
                loss += float(self._loss_sum(out, y))
                correct += float((out.argmax(-1) == y).sum())
                total += y.shape[0]
        if total == 0:
            raise ValueError("data yielded no examples")
        return {"loss": loss / total, "accuracy": correct / total}

    def evaluate_stacked(self, template: nn.Module, stacked: Dict[str, torch.Tensor],
                         shared: Dict[str, torch.Tensor], n_points: int) -> Optional[Tuple[Dict[str, np.ndarray], str]]:
        """Loss and accuracy of ``n_points`` parameter sets at once, or None when the model
        cannot be batched (the caller then evaluates the points one by one).

        Parameters
        ----------
        template : torch.nn.Module
            The architecture, in eval mode; its own tensors are not used.
        stacked : dict of str to Tensor
            State-dict keys that differ between the points, each of shape (n_points, ...).
        shared : dict of str to Tensor
            The other state-dict entries, one tensor for all points.
        n_points : int

        Returns
        -------
        (dict of str to (n_points,) ndarray, str) or None
            ``{"loss": ..., "accuracy": ...}`` (both NaN for a point whose outputs are not
            all finite: path functions report it as an error naming the point) and the method, ``"batched"`` (an
            ``nn.Sequential`` of ``nn.Linear`` and element-wise activations: one batched matrix
            product per layer) or ``"vmap"``. None, with :attr:`vmap_error` set, when vmap
            fails on this architecture (remembered: later calls return None at once); None
            also for convolutional models on the CPU, where one point at a time is faster
            than vmap (vmap measured 2.2x slower, benchmarks/lmc.md section 5).
        """
        sig = (type(template), tuple(sorted(stacked)), tuple(sorted(shared)))
        if sig in self._vmap_failed:
            return None
        fast = _sequential_forward(template, stacked, shared, n_points)
        if fast is None and loop_beats_vmap(template):
            return None  # convolutions on the CPU: one point at a time is faster than vmap
        if fast is not None:
            forward, method = fast, "batched"
        else:
            forward, method = _vmapped_forward(template, shared), "vmap"
        try:
            loss, correct, total = self._stacked_sums(forward, stacked, n_points, device_dtype(template))
        except Exception as exc:  # vmap cannot batch this model: remember and use the loop
            self.vmap_error = self._vmap_failed[sig] = f"{type(exc).__name__}: {exc}"
            return None
        if total == 0:
            raise ValueError("data yielded no examples")
        metrics = {"loss": (loss / total).numpy(), "accuracy": (correct / total).numpy()}
        self.last_method = method
        return metrics, method

    def _stacked_sums(self, forward, stacked, P, device_and_dtype):
        """Summed loss and number of correct predictions of each of the P sets, and the count."""
        loss = torch.zeros(P, dtype=torch.float64)
        correct = torch.zeros(P, dtype=torch.float64)
        finite = torch.ones(P, dtype=torch.bool)
        total = 0
        sub = max(16, _STACKED_ROWS // P)
        for xb_, yb_ in self._batches(*device_and_dtype):
            for s0 in range(0, yb_.shape[0], sub):
                x, y = xb_[s0:s0 + sub], yb_[s0:s0 + sub]
                out = forward(stacked, x)  # (P, B, C)
                finite &= torch.isfinite(out).reshape(P, -1).all(1).cpu()
                if self.loss_fn is None:
                    ls = torch.nn.functional.cross_entropy(out.reshape(-1, out.shape[-1]), y.repeat(P),
                                                           reduction="none")
                    ls = ls.view(P, -1).sum(1)
                else:
                    ls = torch.stack([self._loss_sum(out[j], y) for j in range(P)])
                loss += ls.double().cpu()
                correct += (out.argmax(-1) == y).sum(1).double().cpu()
                total += y.shape[0]
        loss[~finite] = float("nan")
        correct[~finite] = float("nan")
        return loss, correct, total


def _check_tensors(X, y):
    X = torch.as_tensor(X)
    y = torch.as_tensor(y)
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"data must be (X, y) with one label per row, got {X.shape[0]} rows and {y.shape[0]} labels")
    if X.shape[0] == 0:
        raise ValueError("data must not be empty")
    if y.dtype.is_floating_point:
        if not torch.equal(y, y.round()):
            raise ValueError("data: y must hold integer class labels, got non-integer values")
        y = y.long()
    return X, y


def _is_loader(data):
    return hasattr(data, "dataset") and hasattr(data, "batch_size")


def _vmapped_forward(template, shared):
    def f(bp, x):
        params = dict(shared)
        params.update(bp)
        return functional_call(template, params, (x,))

    return vmap(f, in_dims=(0, None))


def _sequential_forward(template, batched, shared, P):
    """A forward over P parameter sets for ``nn.Sequential`` stacks of ``nn.Linear`` and
    element-wise activations, or None for other models (which go through vmap).

    Batched layers run as one ``baddbmm``; layers whose parameters are shared by all P sets
    (e.g. the layers before the interpolated one in a layer-wise path) run once, unbatched,
    until the first batched layer. Same arithmetic as the module's forward, without vmap's
    overhead.
    """
    if type(template) is not nn.Sequential:
        return None
    plan = []
    for name, mod in template.named_children():
        if isinstance(mod, nn.Linear):
            plan.append((name, mod))
        elif type(mod) in _ELEMENTWISE:
            plan.append((None, mod))
        else:
            return None
    params = dict(shared)
    params.update(batched)
    if set(params) != set(template.state_dict()):
        return None

    def forward(_batched, x):
        h, is_batched = x, False
        for name, mod in plan:
            if name is None:
                h = mod(h)
                continue
            W, b = params[f"{name}.weight"], params.get(f"{name}.bias")
            w_batched = f"{name}.weight" in batched
            b_batched = b is not None and f"{name}.bias" in batched
            if not (w_batched or b_batched or is_batched):
                h = torch.nn.functional.linear(h, W, b)
                continue
            if not is_batched:
                h = h.unsqueeze(0).expand(P, *h.shape)
                is_batched = True
            Wb = W if w_batched else W.unsqueeze(0).expand(P, *W.shape)
            if b is None:
                h = torch.bmm(h, Wb.transpose(1, 2))
            else:
                bb = (b if b_batched else b.unsqueeze(0).expand(P, *b.shape)).unsqueeze(1)
                h = torch.baddbmm(bb, h, Wb.transpose(1, 2))
        return h if is_batched else h.unsqueeze(0).expand(P, *h.shape)

    return forward


def classification_evaluator(data, *, loss_fn=None, batch_size: int = 1024, vectorize: bool = True) -> ClassificationEvaluator:
    r"""An ``evaluate(model)`` for classifiers: mean loss and accuracy on ``data``.

    .. math:: \text{loss} = \frac1n \sum_i \ell(f(x_i), y_i), \qquad
              \text{accuracy} = \frac1n \sum_i [\arg\max_c f(x_i)_c = y_i]

    Parameters
    ----------
    data : (X, y) tensors or arrays, or an iterable of (x, y) batches (e.g. a DataLoader)
        Integer class labels. Floating inputs are cast to the model's dtype.
    loss_fn : callable(output, target) -> scalar, optional
        Batch-mean loss; default cross-entropy.
    batch_size : int, default 1024
        For (X, y) data.
    vectorize : bool, default True
        Let path functions evaluate many parameter sets per forward pass with ``torch.func.vmap``
        (they fall back to one pass per point when the model cannot be vmapped).

    Returns
    -------
    ClassificationEvaluator
        ``evaluator(model) -> {"loss": float, "accuracy": float}``.

    Raises
    ------
    ValueError
        (X, y) of different lengths, empty, or with non-integer labels; ``batch_size < 1``.
        Calling the evaluator on a model whose outputs are not finite raises a ValueError
        too (never a NaN loss).
    TypeError
        ``data`` neither a pair nor an iterable; ``loss_fn`` not callable.

    Examples
    --------
    >>> ev = classification_evaluator((torch.eye(2), torch.tensor([0, 1])))
    >>> ev(nn.Identity())["accuracy"]
    1.0
    """
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    if loss_fn is not None and not callable(loss_fn):
        raise TypeError(f"loss_fn must be callable(output, target) or None, got {type(loss_fn).__name__}")
    return ClassificationEvaluator(data, loss_fn=loss_fn, batch_size=batch_size, vectorize=bool(vectorize))
