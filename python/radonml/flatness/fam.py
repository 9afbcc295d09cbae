r"""FAM: relative flatness aware minimization (Adilova et al., 2023).

Training minimizes :math:`L(\theta) + \lambda\,\kappa(W)`, with :math:`\kappa` the relative
flatness (:func:`radonml.flatness.relative_flatness`) of one layer's weights on the current
mini-batch. As in the paper and its public code, the default layer is the weight matrix of
the last ``nn.Linear``: the weights from the penultimate layer's features
:math:`\phi(x)` to the output, for which Petzka et al. (2021) connect :math:`\kappa` to
generalization.

:func:`fam_penalty` returns :math:`\kappa` as a differentiable 0-d tensor; its gradient
flows into every parameter of the model (the weights through :math:`\langle w_s,
w_{s'}\rangle`, all layers through the Hessian: third derivatives of the loss). The paper's
public code detaches the Hessian (only the inner products receive gradient); here the
gradient is the true gradient of :math:`\kappa` (or, for the stochastic estimate, an
unbiased estimate of it) by default, and the public code's variant with
``through_hessian=False``: the Hessian held fixed at its current value, so the gradient is
:math:`\partial\kappa/\partial w_s = 2\sum_{s'} \mathrm{Tr}(H_{s,s'})\, w_{s'}` on the layer alone
(a data-dependent weight decay), cheaper (no third derivatives). In
``benchmarks/flatness.md`` only the true gradient lowers :math:`\kappa`; the fixed-Hessian
variant raises it and costs accuracy.
"""

from __future__ import annotations

import numbers
from typing import Callable, Dict, Optional

import torch
from torch import nn
from torch.func import functional_call, grad, hessian, jvp, vmap

from ._hvp import check_loss_fn, resolve_parameter

__all__ = ["fam_penalty", "last_linear_weight"]


def last_linear_weight(model: nn.Module) -> str:
    """Name of the weight of the last ``nn.Linear`` module (in registration order): the
    weights from the penultimate layer's features to the output, FAM's default layer.

    Parameters
    ----------
    model : torch.nn.Module

    Returns
    -------
    str

    Raises
    ------
    ValueError
        The model has no ``nn.Linear`` module.

    Examples
    --------
    >>> from torch import nn
    >>> last_linear_weight(nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)))
    '2.weight'
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    last = None
    for name, mod in model.named_modules():
        if isinstance(mod, nn.Linear):
            last = name
    if last is None:
        raise ValueError("model has no nn.Linear module; pass layer= the weight to regularize")
    return f"{last}.weight" if last else "weight"


def fam_penalty(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, loss_fn: Callable, layer: Optional[str] = None,
                n_probes: int = 1, generator: Optional[torch.Generator] = None, method: str = "hutchinson",
                params: Optional[Dict[str, torch.Tensor]] = None, probes: Optional[torch.Tensor] = None,
                through_hessian: bool = True) -> torch.Tensor:
    r"""The FAM regularizer: relative flatness of one layer on a batch, differentiable.

    .. math:: \kappa_B(W) = \sum_{s,s'} \langle w_s, w_{s'}\rangle\,\mathrm{Tr}(H^B_{s,s'})
              = \mathbb E_Z\big[\langle WZ,\, H^B[WZ]\rangle\big],
              \quad Z \in \{\pm 1\}^{m\times m} \text{ Rademacher},

    :math:`H^B` the Hessian of ``loss_fn(model(x), y)`` with respect to the layer's weight
    :math:`W \in \mathbb R^{d\times m}` (rows :math:`w_s`), as in
    :func:`radonml.flatness.relative_flatness`. Add :math:`\lambda` times it to the loss:
    ``loss = loss_fn(model(x), y) + lam * fam_penalty(model, x, y, loss_fn=loss_fn)``.

    Cost per call (``"hutchinson"``): one forward and backward pass of the model, plus
    ``n_probes`` forward-mode tangents of that backward pass (vectorized with
    :func:`torch.func.vmap`), plus, with ``through_hessian=True``, the ``.backward()``
    through all of it (third derivatives). Measured (``benchmarks/flatness.md``, CPU, a
    64-128-128-128-10 MLP, batches of 32, one probe): a step costs 10x to 15x a plain SGD
    step, 5x to 12x with ``through_hessian=False``. ``"exact"`` builds the layer's full
    Hessian (:math:`dm` products): only for small layers.

    Parameters
    ----------
    model : torch.nn.Module
        Used in its current mode (train/eval); dropout masks are shared by the probes.
    x : (B, ...) torch.Tensor
        A batch of inputs.
    y : (B, ...) torch.Tensor
        Its targets.
    loss_fn : callable(output, target) -> scalar
        The batch-mean loss whose Hessian is taken.
    layer : str, optional
        The 2-D weight to regularize (default :func:`last_linear_weight`).
    n_probes : int, default 1
        Probe matrices for ``"hutchinson"``; the estimate and its gradient are unbiased
        for any number, more probes lower their variance.
    generator : torch.Generator, optional
        Draws the probes (default: torch's global generator).
    method : {"hutchinson", "exact"}, default "hutchinson"
    params : dict of str to torch.Tensor, optional
        Parameter values to use instead of the model's own (a functional call: e.g. one
        learner's parameters under :func:`torch.func.vmap`); the result is differentiable
        with respect to them.
    probes : (n_probes, m, m) torch.Tensor, optional
        The probe matrices :math:`Z` (entries :math:`\pm1`), drawn by the caller (needed under
        ``vmap``, where random draws are not allowed); overrides ``n_probes`` and ``generator``.
    through_hessian : bool, default True
        True: the gradient of :math:`\kappa` through everything, the Hessian included (third
        derivatives of the loss, into every layer). False: the Hessian is held fixed, as in
        the paper's public code; the gradient reaches only the layer's weights, as
        :math:`2\sum_{s'}\mathrm{Tr}(H_{s,s'})\,w_{s'}` for row s. The value is the same.

    Returns
    -------
    torch.Tensor
        0-d, in the model's dtype, attached to the autograd graph of the parameters.

    Raises
    ------
    ValueError
        ``layer`` unknown or not 2-D, a bad ``probes`` shape, or ``x``/``y`` of different lengths.

    References
    ----------
    L. Adilova, A. Abourayya, J. Li, A. Dada, H. Petzka, J. Egger, J. Kleesiek, M. Kamp,
    "FAM: Relative flatness aware minimization", ICML Workshop TAG-ML, PMLR 221, 2023.
    H. Petzka et al., "Relative flatness and generalization", NeurIPS 2021.

    Examples
    --------
    The linear model of :func:`radonml.flatness.relative_flatness` (:math:`\kappa = 8`);
    :math:`d\kappa/dW = 2\cdot\tfrac{2}{nd}\lVert X\rVert_F^2\, W = 2W` there:

    >>> import torch
    >>> from radonml.flatness import fam_penalty
    >>> model = torch.nn.Linear(2, 2, bias=False)
    >>> with torch.no_grad():
    ...     _ = model.weight.copy_(2 * torch.eye(2))
    >>> kappa = fam_penalty(model, torch.eye(2), torch.zeros(2, 2), loss_fn=torch.nn.functional.mse_loss,
    ...                     method="exact")
    >>> kappa.backward()
    >>> float(kappa.detach()), model.weight.grad
    (8.0, tensor([[4., 0.],
            [0., 4.]]))
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    check_loss_fn(loss_fn)
    name = last_linear_weight(model) if layer is None else resolve_parameter(model, layer, need_matrix=True)
    if method not in ("hutchinson", "exact"):
        raise ValueError(f"method must be 'hutchinson' or 'exact', got {method!r}")
    if not isinstance(x, torch.Tensor) or not isinstance(y, torch.Tensor):
        raise TypeError(f"x and y must be torch tensors, got {type(x).__name__} and {type(y).__name__}")
    if x.ndim == 0 or y.ndim == 0 or x.shape[0] != y.shape[0] or x.shape[0] == 0:
        raise ValueError(f"x and y must hold the same positive number of examples along axis 0, "
                         f"got shapes {tuple(x.shape)} and {tuple(y.shape)}")
    src = dict(model.named_parameters()) if params is None else dict(params)
    if name not in src:
        raise ValueError(f"params must contain the layer {name!r}")
    W = src[name]
    d, m = W.shape[-2:]
    if through_hessian:  # the Hessian is differentiated too: take it at the live parameters
        Wh, rest = W, {k: v for k, v in src.items() if k != name}
    else:  # the Hessian at the current point, held fixed: only <w_s, w_s'> is differentiated
        Wh, rest = W.detach(), {k: v.detach() for k, v in src.items() if k != name}

    def f(w):
        p = dict(rest)
        p[name] = w
        return loss_fn(functional_call(model, p, (x,)), y)

    if method == "exact":
        Hf = hessian(f)(Wh)  # (d, m, d, m)
        T = torch.einsum("sjtj->st", Hf)
        return ((W @ W.T) * T).sum()

    if probes is None:
        if isinstance(n_probes, bool) or not isinstance(n_probes, numbers.Integral) or n_probes < 1:
            raise ValueError(f"n_probes must be a positive integer, got {n_probes!r}")
        Z = (torch.randint(0, 2, (int(n_probes), m, m), generator=generator) * 2 - 1).to(dtype=W.dtype, device=W.device)
    else:
        Z = torch.as_tensor(probes)
        if Z.ndim != 3 or tuple(Z.shape[1:]) != (m, m):
            raise ValueError(f"probes must have shape (n_probes, {m}, {m}) for a layer with {m} inputs, "
                             f"got {tuple(Z.shape)}")
        Z = Z.to(dtype=W.dtype, device=W.device)
    V = W @ Z  # (P, d, m); depends on W, so the gradient includes d<WZ, H WZ>/dW through V
    g = grad(f)

    def hvp(v):
        return jvp(g, (Wh,), (v,))[1]

    Vh = V if through_hessian else V.detach()
    try:
        HV = vmap(hvp, randomness="same")(Vh)
    except Exception:  # a model vmap cannot batch: one probe at a time
        HV = torch.stack([hvp(v) for v in Vh])
    q = (V * HV).sum(dim=(-2, -1))
    if not through_hessian:
        # <V, H V> with H fixed: value <V, HV>, gradient 2 H V Z^T; HV is a constant here, so
        # 2<V, HV> - <V_detached, HV> has that value and that gradient
        q = 2 * q - (Vh * HV).sum(dim=(-2, -1))
    return q.mean()
