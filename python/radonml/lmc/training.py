r"""Two training runs to compare: the setting of (layer-wise) linear mode connectivity.

Frankle et al. (2020) and Adilova et al. (2024) train two copies of one network from a shared
initialization with different data orders (SGD noise) and study the path between them;
:func:`train_pair` does this, keeping a checkpoint every epoch for the training-subspace
study (:func:`radonml.lmc.subspace_perturbations`).

References
----------
J. Frankle, G. K. Dziugaite, D. Roy, M. Carbin, "Linear mode connectivity and the lottery
ticket hypothesis", ICML 2020.
L. Adilova, M. Andriushchenko, M. Kamp, A. Fischer, M. Jaggi, "Layer-wise linear mode
connectivity", ICLR 2024.
"""

from __future__ import annotations

import numbers
from typing import Dict, List, NamedTuple

import numpy as np
import torch
from torch import nn

from .._validation import check_int

__all__ = ["TrainedPair", "train_pair"]

# the second initialization (different_init) and the data orders are seeded from ``seed``
_SECOND_INIT_OFFSET = 7919


class TrainedPair(NamedTuple):
    """The two trained models and their checkpoints (unpacks as ``model_a, model_b, checkpoints``).

    Attributes
    ----------
    model_a, model_b : torch.nn.Module
        The trained models, in eval mode.
    checkpoints : dict of str to list of dict
        ``{"a": [...], "b": [...]}``: copies of each run's state dict, the initialization first,
        then one after every epoch (``epochs + 1`` each).

    Examples
    --------
    >>> import torch
    >>> X, y = torch.randn(16, 3), torch.arange(16) % 2
    >>> pair = train_pair(lambda: torch.nn.Linear(3, 2), X, y, epochs=1, batch_size=8)
    >>> model_a, model_b, checkpoints = pair
    >>> sorted(checkpoints), len(checkpoints["b"]), model_a.training
    (['a', 'b'], 2, False)
    """

    model_a: nn.Module
    model_b: nn.Module
    checkpoints: Dict[str, List[Dict[str, torch.Tensor]]]


def _check_positive(value, name, *, allow_zero=False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise TypeError(f"{name} must be a finite real number, got {value!r}")
    if value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {value!r}")
    return float(value)


def _state_copy(model) -> Dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _run_sgd(model, Xt, yt, *, epochs, lr, momentum, weight_decay, batch_size, generator, progress):
    """Plain SGD on cross-entropy, mini-batches in the generator's order; the checkpoints."""
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    n = Xt.shape[0]
    hist = [_state_copy(model)]
    for _ in range(epochs):
        model.train()
        perm = torch.randperm(n, generator=generator)
        for i in range(0, n, batch_size):
            idx = perm[i:i + batch_size]
            opt.zero_grad(set_to_none=True)
            loss = torch.nn.functional.cross_entropy(model(Xt[idx]), yt[idx])
            loss.backward()
            opt.step()
        hist.append(_state_copy(model))
        if progress is not None:
            progress.update(1)
    model.eval()
    return hist


def train_pair(make_model, X, y, *, epochs: int = 20, lr: float = 0.05, momentum: float = 0.0,
               batch_size: int = 32, seed: int = 0, weight_decay: float = 0.0, different_init: bool = False,
               progress=None) -> TrainedPair:
    r"""Two SGD runs from one (or two) seeded initializations with different seeded data orders.

    ``torch.manual_seed(seed)``, then ``make_model()`` gives the shared initialization
    :math:`\theta_0`; run a starts from it, and so does run b unless ``different_init``
    (then b is ``make_model()`` after ``torch.manual_seed(seed + 7919)``). Each run minimizes
    the cross-entropy by SGD,
    :math:`\theta \leftarrow \theta - \eta\,(\nabla \ell_B(\theta) + \lambda\theta)` (with
    momentum), on mini-batches of a random permutation per epoch drawn from its own
    generator (seeds ``1000 seed + 17`` and ``1000 seed + 18``): the runs differ by their
    data order, the SGD noise of Frankle et al. (2020). Deterministic for a given seed (and
    torch build and thread count). Sets torch's global seed.

    Parameters
    ----------
    make_model : callable() -> torch.nn.Module
        Builds the architecture with fresh weights from torch's global random state, e.g.
        ``lambda: radonml.torch.make_mlp(64, [128] * 3, 10, init="kaiming_normal", seed=None)``.
    X : (n, d) array-like or Tensor of float
        Training inputs (converted to float32).
    y : (n,) array-like or Tensor of int
        Class labels.
    epochs : int, default 20
    lr : float, default 0.05
        Learning rate :math:`\eta > 0`.
    momentum : float, default 0.0
    batch_size : int, default 32
    seed : int, default 0
    weight_decay : float, default 0.0
        :math:`\lambda \ge 0`.
    different_init : bool, default False
        Initialize run b independently (a different seed) instead of from :math:`\theta_0`.
    progress : object with ``update(int)``, optional
        E.g. a ``tqdm`` bar; advanced by one per epoch of each run (2 ``epochs`` in all).

    Returns
    -------
    TrainedPair
        ``(model_a, model_b, checkpoints)``.

    Raises
    ------
    TypeError
        ``make_model`` not callable or not returning a module; non-numeric hyperparameters.
    ValueError
        X and y of different lengths or empty; ``epochs < 0``, ``batch_size < 1``,
        ``lr <= 0``, negative ``momentum``, ``weight_decay`` or ``seed``.

    References
    ----------
    J. Frankle, G. K. Dziugaite, D. Roy, M. Carbin, "Linear mode connectivity and the lottery
    ticket hypothesis", ICML 2020.

    Examples
    --------
    >>> X, y = torch.randn(40, 3), torch.arange(40) % 2
    >>> a, b, ckpts = train_pair(lambda: nn.Linear(3, 2), X, y, epochs=2, batch_size=8)
    >>> len(ckpts["a"]), torch.equal(ckpts["a"][0]["weight"], ckpts["b"][0]["weight"])
    (3, True)
    """
    if not callable(make_model):
        raise TypeError(f"make_model must be a callable returning a torch.nn.Module, got {type(make_model).__name__}")
    epochs = check_int(epochs, "epochs", minimum=0)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    seed = check_int(seed, "seed", minimum=0)
    lr = _check_positive(lr, "lr")
    momentum = _check_positive(momentum, "momentum", allow_zero=True)
    weight_decay = _check_positive(weight_decay, "weight_decay", allow_zero=True)
    Xt = torch.as_tensor(X, dtype=torch.float32)
    yt = torch.as_tensor(y, dtype=torch.long)
    if Xt.ndim < 1 or Xt.shape[0] == 0 or yt.shape != (Xt.shape[0],):
        raise ValueError(f"X and y must hold n >= 1 examples and n labels, got shapes {tuple(Xt.shape)} "
                         f"and {tuple(yt.shape)}")

    torch.manual_seed(seed)
    init = _new_model(make_model)
    models, ckpts = {}, {}
    for run_i, name in enumerate(("a", "b")):
        if different_init and name == "b":
            torch.manual_seed(seed + _SECOND_INIT_OFFSET)
            model = _new_model(make_model)
        else:
            model = _new_model(make_model)
            model.load_state_dict(init.state_dict())
        gen = torch.Generator().manual_seed(seed * 1000 + 17 + run_i)  # the data order differs
        ckpts[name] = _run_sgd(model, Xt, yt, epochs=epochs, lr=lr, momentum=momentum, weight_decay=weight_decay,
                               batch_size=batch_size, generator=gen, progress=progress)
        models[name] = model
    return TrainedPair(models["a"], models["b"], ckpts)


def _new_model(make_model) -> nn.Module:
    model = make_model()
    if not isinstance(model, nn.Module):
        raise TypeError(f"make_model() must return a torch.nn.Module, got {type(model).__name__}")
    return model
