r"""Two training runs to compare: the setting of (layer-wise) linear mode connectivity.

Frankle et al. (2020) and Adilova et al. (2024) train two copies of one network from a shared
initialization with different data orders (SGD noise) and study the path between them;
:func:`train_pair` does this, keeping a checkpoint every epoch for the training-subspace
study (:func:`radonml.lmc.subspace_perturbations`). With ``fam=``, each run adds the FAM
regularizer (relative flatness of one layer, :func:`radonml.flatness.fam_penalty`) to its loss,
so that the seed's claim "flatter -> more robust -> lower layer barriers" can be measured on
pairs trained with and without it.

References
----------
J. Frankle, G. K. Dziugaite, D. Roy, M. Carbin, "Linear mode connectivity and the lottery
ticket hypothesis", ICML 2020.
L. Adilova, M. Andriushchenko, M. Kamp, A. Fischer, M. Jaggi, "Layer-wise linear mode
connectivity", ICLR 2024.
L. Adilova, A. Abourayya, J. Li, A. Dada, H. Petzka, J. Egger, J. Kleesiek, M. Kamp,
"FAM: Relative flatness aware minimization", ICML Workshop TAG-ML, PMLR 221, 2023.
H. Petzka, M. Kamp, L. Adilova, C. Sminchisescu, M. Boley, "Relative flatness and
generalization", NeurIPS 2021.
"""

from __future__ import annotations

import copy
import numbers
from typing import Dict, List, NamedTuple, Optional

import numpy as np
import torch
from torch import nn

from .._validation import check_int
from ..flatness import fam_penalty, last_linear_weight
from ..flatness._hvp import resolve_parameter

__all__ = ["TrainedPair", "train_pair"]

# the second initialization (different_init) and the data orders are seeded from ``seed``
_SECOND_INIT_OFFSET = 7919
# FAM's probes: a generator of their own per run (seed 1000 seed + 250 + run), so that the data
# orders do not depend on fam (the federated simulator's probe stream is tagged 0xFA = 250 too)
_FAM_PROBE_OFFSET = 0xFA


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


def _check_fam(fam) -> float:
    """FAM's weight lambda: None or a finite number >= 0 (None and 0 turn FAM off)."""
    if fam is None:
        return 0.0
    if isinstance(fam, bool) or not isinstance(fam, numbers.Real) or not np.isfinite(fam) or fam < 0:
        raise ValueError(f"fam must be None or a non-negative finite number (the FAM weight lambda), got {fam!r}")
    return float(fam)


def _fam_model(model: nn.Module) -> nn.Module:
    """A copy of ``model`` for the FAM term: BatchNorm normalizes with the batch's statistics
    and keeps no running statistics (torch.func's patch), so the penalty's Hessian-vector
    products do not touch the model's buffers; other buffers are refused."""
    from torch.func import replace_all_batch_norm_modules_

    fam_model = copy.deepcopy(model)
    bn = {f"{m}.{b}" if m else b for m, mod in fam_model.named_modules()
          if isinstance(mod, nn.modules.batchnorm._BatchNorm) for b, _ in mod.named_buffers(recurse=False)}
    other = [n for n, _ in fam_model.named_buffers() if n not in bn]
    if other:
        raise ValueError(f"fam > 0 supports buffers of BatchNorm layers only; the model also has {other}")
    return replace_all_batch_norm_modules_(fam_model).train()


def _run_sgd(model, Xt, yt, *, epochs, lr, momentum, weight_decay, batch_size, generator, progress,
             fam=0.0, fam_layer=None, fam_probes=1, fam_generator=None, run_name="a"):
    """SGD on cross-entropy (plus FAM), mini-batches in the generator's order; the checkpoints."""
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    n = Xt.shape[0]
    hist = [_state_copy(model)]
    ce = torch.nn.functional.cross_entropy
    fam_model = _fam_model(model) if fam else None
    for _ in range(epochs):
        model.train()
        perm = torch.randperm(n, generator=generator)
        for i in range(0, n, batch_size):
            idx = perm[i:i + batch_size]
            opt.zero_grad(set_to_none=True)
            loss = ce(model(Xt[idx]), yt[idx])
            if fam:
                loss = loss + fam * fam_penalty(fam_model, Xt[idx], yt[idx], loss_fn=ce, layer=fam_layer,
                                                n_probes=fam_probes, generator=fam_generator,
                                                params=dict(model.named_parameters()))
            loss.backward()
            opt.step()
        hist.append(_state_copy(model))
        bad = [k for k, v in hist[-1].items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
        if bad:
            raise ValueError(f"run {run_name} diverged in epoch {len(hist) - 1} of {epochs}: {bad[0]!r}"
                             f"{f' and {len(bad) - 1} more tensors' if len(bad) > 1 else ''} hold non-finite values; "
                             f"lower lr ({lr:g})" + (f" or fam ({fam:g})" if fam else ""))
        if progress is not None:
            progress.update(1)
    model.eval()
    return hist


def train_pair(make_model, X, y, *, epochs: int = 20, lr: float = 0.05, momentum: float = 0.0,
               batch_size: int = 32, seed: int = 0, weight_decay: float = 0.0, different_init: bool = False,
               progress=None, fam: Optional[float] = 0.0, fam_layer: Optional[str] = None,
               fam_probes: int = 1) -> TrainedPair:
    r"""Two SGD runs from one (or two) seeded initializations with different seeded data orders,
    optionally with the FAM regularizer.

    ``torch.manual_seed(seed)``, then ``make_model()`` gives the shared initialization
    :math:`\theta_0`; run a starts from it, and so does run b unless ``different_init``
    (then b is ``make_model()`` after ``torch.manual_seed(seed + 7919)``). Each run minimizes
    the cross-entropy by SGD,
    :math:`\theta \leftarrow \theta - \eta\,(\nabla \ell_B(\theta) + \lambda\theta)` (with
    momentum), on mini-batches of a random permutation per epoch drawn from its own
    generator (seeds ``1000 seed + 17`` and ``1000 seed + 18``): the runs differ by their
    data order, the SGD noise of Frankle et al. (2020). Deterministic for a given seed (and
    torch build and thread count). Sets torch's global seed.

    With ``fam`` :math:`=\mu > 0` (FAM, relative flatness aware minimization; Adilova et al.,
    2023) each step minimizes instead

    .. math:: \ell_B(\theta) + \mu\,\hat\kappa_B(W), \qquad
              \hat\kappa_B(W) = \frac1P\sum_{p=1}^{P} \langle W Z_p,\, H^B[W Z_p]\rangle,

    the Hutchinson estimate with :math:`P` = ``fam_probes`` Rademacher matrices
    :math:`Z_p \in \{\pm1\}^{m\times m}` of the relative flatness
    :math:`\kappa_B(W) = \sum_{s,s'}\langle w_s, w_{s'}\rangle\,\mathrm{Tr}(H^B_{s,s'})`
    (Petzka et al., 2021) of the layer ``fam_layer`` (weight :math:`W \in \mathbb R^{d\times m}`,
    rows :math:`w_s`; :math:`H^B` the Hessian of the mini-batch loss with respect to
    :math:`W`): :func:`radonml.flatness.fam_penalty`, with its gradient through the Hessian
    (unbiased for :math:`\nabla\kappa_B`). The probes come from a generator of each run's own
    (seed ``1000 seed + 250`` for a, ``+ 251`` for b), so the data orders are those of the
    run without FAM, and runs stay deterministic. ``fam=0`` (or None) is plain SGD, bit for
    bit. BatchNorm layers are taken with the batch's statistics in the FAM term (without
    updating running statistics); dropout draws its own mask there. A FAM step costs about
    10x to 15x a plain one on small MLPs (``benchmarks/flatness.md``); useful weights are
    small (:math:`\mu` = 0.003 to 0.01 there; 0.1 collapsed the network).

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
    fam : float or None, default 0.0
        :math:`\mu \ge 0`, the weight of the FAM term; 0 or None: no FAM (the same option as
        the federated simulator's ``fam``, :class:`radonml.federated.Learners`).
    fam_layer : str, optional
        The 2-D weight whose relative flatness is penalized (``"4.weight"`` or the module name
        ``"4"``); default the last ``nn.Linear``'s weight, the paper's choice (the weights from
        the penultimate layer's features to the output,
        :func:`radonml.flatness.last_linear_weight`). Checked even when ``fam`` is 0.
    fam_probes : int, default 1
        :math:`P`, probe matrices per step (more: lower variance, more cost).

    Returns
    -------
    TrainedPair
        ``(model_a, model_b, checkpoints)``.

    Raises
    ------
    TypeError
        ``make_model`` not callable or not returning a module; non-numeric hyperparameters.
    ValueError
        A run diverged (non-finite weights after an epoch: the message names the run, the
        epoch and the tensor). X and y of different lengths or empty; ``epochs < 0``, ``batch_size < 1``,
        ``lr <= 0``, negative ``momentum``, ``weight_decay`` or ``seed``; ``fam`` negative or not
        finite, ``fam_layer`` not a 2-D weight of the model, ``fam_probes < 1``; ``fam > 0``
        with buffers other than BatchNorm's.

    References
    ----------
    J. Frankle, G. K. Dziugaite, D. Roy, M. Carbin, "Linear mode connectivity and the lottery
    ticket hypothesis", ICML 2020.
    L. Adilova, A. Abourayya, J. Li, A. Dada, H. Petzka, J. Egger, J. Kleesiek, M. Kamp,
    "FAM: Relative flatness aware minimization", ICML Workshop TAG-ML, PMLR 221, 2023.
    H. Petzka, M. Kamp, L. Adilova, C. Sminchisescu, M. Boley, "Relative flatness and
    generalization", NeurIPS 2021.

    Examples
    --------
    >>> X, y = torch.randn(40, 3), torch.arange(40) % 2
    >>> a, b, ckpts = train_pair(lambda: nn.Linear(3, 2), X, y, epochs=2, batch_size=8)
    >>> len(ckpts["a"]), torch.equal(ckpts["a"][0]["weight"], ckpts["b"][0]["weight"])
    (3, True)

    With FAM on the last layer (here the only one); the data orders are the same, so the
    runs differ from the plain ones by the regularizer alone:

    >>> a_fam, _, _ = train_pair(lambda: nn.Linear(3, 2), X, y, epochs=2, batch_size=8, fam=0.01)
    >>> bool(torch.equal(a_fam.weight, a.weight))
    False
    """
    if not callable(make_model):
        raise TypeError(f"make_model must be a callable returning a torch.nn.Module, got {type(make_model).__name__}")
    epochs = check_int(epochs, "epochs", minimum=0)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    seed = check_int(seed, "seed", minimum=0)
    lr = _check_positive(lr, "lr")
    momentum = _check_positive(momentum, "momentum", allow_zero=True)
    weight_decay = _check_positive(weight_decay, "weight_decay", allow_zero=True)
    fam = _check_fam(fam)
    fam_probes = check_int(fam_probes, "fam_probes", minimum=1)
    Xt = torch.as_tensor(X, dtype=torch.float32)
    yt = torch.as_tensor(y, dtype=torch.long)
    if Xt.ndim < 1 or Xt.shape[0] == 0 or yt.shape != (Xt.shape[0],):
        raise ValueError(f"X and y must hold n >= 1 examples and n labels, got shapes {tuple(Xt.shape)} "
                         f"and {tuple(yt.shape)}")

    torch.manual_seed(seed)
    init = _new_model(make_model)
    if fam_layer is not None or fam:
        try:
            fam_layer = (last_linear_weight(init) if fam_layer is None
                         else resolve_parameter(init, fam_layer, need_matrix=True, what="fam_layer"))
        except ValueError as exc:
            raise ValueError(f"fam_layer: {exc}") from None
    if fam:
        _fam_model(init)  # refuse unsupported buffers before training
    models, ckpts = {}, {}
    for run_i, name in enumerate(("a", "b")):
        if different_init and name == "b":
            torch.manual_seed(seed + _SECOND_INIT_OFFSET)
            model = _new_model(make_model)
        else:
            model = _new_model(make_model)
            model.load_state_dict(init.state_dict())
        gen = torch.Generator().manual_seed(seed * 1000 + 17 + run_i)  # the data order differs
        fam_gen = torch.Generator().manual_seed(seed * 1000 + _FAM_PROBE_OFFSET + run_i) if fam else None
        ckpts[name] = _run_sgd(model, Xt, yt, epochs=epochs, lr=lr, momentum=momentum, weight_decay=weight_decay,
                               batch_size=batch_size, generator=gen, progress=progress, fam=fam, fam_layer=fam_layer,
                               fam_probes=fam_probes, fam_generator=fam_gen, run_name=name)
        models[name] = model
    return TrainedPair(models["a"], models["b"], ckpts)


def _new_model(make_model) -> nn.Module:
    model = make_model()
    if not isinstance(model, nn.Module):
        raise TypeError(f"make_model() must return a torch.nn.Module, got {type(model).__name__}")
    return model
