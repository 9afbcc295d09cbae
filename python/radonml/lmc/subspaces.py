r"""Noise of a given norm along the interpolation line, in the training subspace and in its
orthogonal complement (Adilova et al., ICLR 2024, Fig. 6).

References
----------
L. Adilova, M. Andriushchenko, M. Kamp, A. Fischer, M. Jaggi, "Layer-wise linear mode
connectivity", ICLR 2024.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Dict, List, Optional

import numpy as np
import torch
from torch import nn

from .._validation import check_int
from ..exceptions import RadonmlWarning
from ._common import JSONMixin, check_alphas
from ._points import ModelPair, evaluate_points, interpolation_points, offset_points, torch_generator

__all__ = ["DEFAULT_SCALES", "SubspaceResult", "subspace_perturbations"]

_DIRECTIONS = ["interpolation", "training", "null"]


@dataclass
class SubspaceResult(JSONMixin):
    r"""Perturbations along the interpolation direction, the training subspace and its complement.

    Attributes
    ----------
    models : list of str
        ``["a", "b"]``: the model perturbed (its interpolation direction points to the other).
    directions : list of str
        ``["interpolation", "training", "null"]``.
    scales : (s,) ndarray
        Noise norms as fractions of :math:`\lVert\theta_B - \theta_A\rVert` (of the layer's
        part with ``per_layer``).
    distance : float
        :math:`\lVert\theta_B - \theta_A\rVert` over all parameters.
    subspace_dim : int
        Dimension of the training subspace (numerical rank of the checkpoint matrix).
    n_params : int
    mean, std : dict
        Metric to (n_models, 3, s) array, over the draws (the interpolation line's two draws
        are its two signs); NaN for a direction kind that does not exist (an empty training
        subspace, or one without complement).
    origin : str
        ``"first"`` or ``"zero"``, as given.
    unperturbed : dict
        Metric to (2,) array: the metrics of model A and model B themselves (scale 0).
    layers : list of str or None
        With ``per_layer``: the layers, and ``layer_mean``/``layer_std`` of shape
        (n_layers, n_models, 3, s), ``layer_subspace_dims`` and ``layer_distances``.

    See Also
    --------
    subspace_perturbations : makes one.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from radonml.lmc import subspace_perturbations
    >>> a, b = nn.Linear(2, 1, bias=False), nn.Linear(2, 1, bias=False)
    >>> _ = a.weight.data.copy_(torch.tensor([[0.0, 0.0]])), b.weight.data.copy_(torch.tensor([[2.0, 0.0]]))
    >>> ev = lambda m: {"loss": float(m.state_dict()["weight"][0, 1] ** 2)}
    >>> res = subspace_perturbations(a, b, [a, b], ev, scales=[0.5], n_draws=2, rng=0)
    >>> res.directions, res.distance, res.subspace_dim, res.mean["loss"].shape
    (['interpolation', 'training', 'null'], 2.0, 1, (2, 3, 1))
    """

    models: List[str]
    directions: List[str]
    scales: np.ndarray
    distance: float
    subspace_dim: int
    n_params: int
    mean: Dict[str, np.ndarray]
    std: Dict[str, np.ndarray]
    origin: str = "first"
    unperturbed: Optional[Dict[str, np.ndarray]] = None
    layers: Optional[List[str]] = None
    layer_mean: Optional[Dict[str, np.ndarray]] = None
    layer_std: Optional[Dict[str, np.ndarray]] = None
    layer_subspace_dims: Optional[List[int]] = None
    layer_distances: Optional[List[float]] = None


# --------------------------------------------------------------------------- checkpoints --

def _checkpoint_states(checkpoints, keys, ref) -> List[Dict[str, torch.Tensor]]:
    if isinstance(checkpoints, dict):
        items = [c for v in checkpoints.values() for c in (v if isinstance(v, (list, tuple)) else [v])]
    elif isinstance(checkpoints, (list, tuple)):
        items = list(checkpoints)
    else:
        raise TypeError(f"checkpoints must be a list of models or state dicts, got {type(checkpoints).__name__}")
    if len(items) == 0:
        raise ValueError("checkpoints must hold at least one model or state dict")
    out = []
    for i, c in enumerate(items):
        sd = c.state_dict() if isinstance(c, nn.Module) else c
        if not isinstance(sd, dict):
            raise TypeError(f"checkpoints[{i}] must be a torch.nn.Module or a state dict, got {type(c).__name__}")
        missing = [k for k in keys if k not in sd]
        if missing:
            raise ValueError(f"checkpoints[{i}] lacks parameter {missing[0]!r} of the models")
        for k in keys:
            if tuple(sd[k].shape) != tuple(ref[k].shape):
                raise ValueError(f"checkpoints[{i}][{k!r}] has shape {tuple(sd[k].shape)}, expected {tuple(ref[k].shape)}")
        out.append({k: sd[k].detach().clone().to(ref[k].device) for k in keys})  # copies, never aliases
    return out


def _flat(state, keys):
    return torch.cat([state[k].reshape(-1).double() for k in keys])


def _unflat(vec, keys, ref):
    out, i = {}, 0
    for k in keys:
        n = ref[k].numel()
        out[k] = vec[i:i + n].view(ref[k].shape).to(ref[k].dtype)
        i += n
    return out


# ------------------------------------------------------------------------- the subspace --

def _training_basis(ckpts, keys, origin) -> torch.Tensor:
    """Orthonormal basis Q (p, rank) of the span of the checkpoints (differences from the first
    with ``origin="first"``), float64, by an SVD; singular values below the rounding of the
    stored checkpoints do not count."""
    V = torch.stack([_flat(c, keys) for c in ckpts])  # (c, p)
    eps = max(torch.finfo(ckpts[0][k].dtype).eps for k in keys)
    tol_store = 10.0 * eps * float(V.norm(dim=1).max())
    if origin == "first":
        V = V[1:] - V[0]
    p = V.shape[1]
    if V.shape[0] == 0:
        return torch.zeros((p, 0), dtype=torch.float64)
    U, S, _ = torch.linalg.svd(V.T, full_matrices=False)
    tol = max(float(S[0]) * max(V.shape) * torch.finfo(torch.float64).eps, tol_store)
    return U[:, S > tol] if float(S[0]) > 0 else torch.zeros((p, 0), dtype=torch.float64)


def _warn_if_degenerate(rank, p, what):
    """A subspace of dimension 0 has no directions, nor has the complement of the whole space:
    those entries are NaN, with a warning, instead of the unperturbed model or rounding noise."""
    if rank == 0:
        warnings.warn(f"the checkpoints do not move {what} (training subspace of dimension 0), so its "
                      "'training' perturbations are undefined and reported as NaN", RadonmlWarning, stacklevel=4)
    if rank >= p:
        warnings.warn(f"the training subspace of {what} spans all its {p} parameters, so there is no orthogonal "
                      "complement and its 'null' perturbations are reported as NaN", RadonmlWarning, stacklevel=4)


def _unit_directions(here, there, dist, Q, n_train, n_null, gen) -> List[torch.Tensor]:
    """Flat unit directions from ``here``: toward ``there`` and away from it (the two signs of
    noise on the interpolation line), then ``n_train`` random ones in the span of Q, then
    ``n_null`` random ones in its orthogonal complement (drawn in this order)."""
    u = there - here
    u = u / dist if dist > 0 else u
    dirs = [u, -u]
    rank, p = Q.shape[1], Q.shape[0]
    for _ in range(n_train):  # training subspace
        g = Q @ torch.randn(rank, generator=gen, dtype=torch.float64)
        dirs.append(g / torch.linalg.norm(g))
    for _ in range(n_null):  # orthogonal complement
        h = torch.randn(p, generator=gen, dtype=torch.float64)
        h = h - Q @ (Q.T @ h)
        h = h - Q @ (Q.T @ h)  # twice is enough (Kahan)
        dirs.append(h / torch.linalg.norm(h))
    return dirs


def _unperturbed(pair, evaluate, chunk_size) -> Dict[str, np.ndarray]:
    """Metric to (2,): the metrics of model A and model B themselves (evaluated once)."""
    pts = interpolation_points(pair, np.array([0.0, 1.0]), pair.keys_of(None), "a")
    res, _ = evaluate_points(pair, evaluate, pts, chunk_size)
    return {k: np.asarray(v, dtype=np.float64) for k, v in res.items()}


def _subspace_study(pair, evaluate, keys, ckpts, scales, n_draws, origin, gen, chunk_size, base_values,
                    what="the model"):
    """Mean and std (metric to (2, 3, s)) of the perturbed models, the subspace's rank, the
    distance between A and B on ``keys`` and the number of coordinates. Scale 0 is the model
    itself for every direction kind that exists: read from ``base_values``, not evaluated."""
    Q = _training_basis(ckpts, keys, origin)
    rank, p = int(Q.shape[1]), int(Q.shape[0])
    _warn_if_degenerate(rank, p, what)
    n_train = n_draws if rank > 0 else 0
    n_null = n_draws if rank < p else 0
    fa, fb = _flat(pair.sa, keys), _flat(pair.sb, keys)
    dist = float(torch.linalg.norm(fb - fa))
    ns = len(scales)
    moved = np.flatnonzero(scales > 0)
    res_mean: Dict[str, np.ndarray] = {}
    res_std: Dict[str, np.ndarray] = {}
    for mi, (state, here, there) in enumerate(((pair.sa, fa, fb), (pair.sb, fb, fa))):
        units = _unit_directions(here, there, dist, Q, n_train, n_null, gen)
        kinds = [units[:2], units[2:2 + n_train], units[2 + n_train:]]
        if moved.size:
            dirs = [_unflat(d * dist, keys, state) for d in units]
            which = np.repeat(np.arange(len(dirs)), moved.size)
            coefs = np.tile(scales[moved], len(dirs))
            res, _ = evaluate_points(pair, evaluate, offset_points(state, keys, coefs, dirs, which), chunk_size)
        else:
            res = {k: np.zeros(0) for k in base_values}
        for k, v in res.items():
            v = v.reshape(len(units), moved.size)
            mean = res_mean.setdefault(k, np.full((2, 3, ns), np.nan))
            std = res_std.setdefault(k, np.full((2, 3, ns), np.nan))
            first = 0
            for gi, kind in enumerate(kinds):
                if not kind:
                    continue
                gr = v[first:first + len(kind)]
                first += len(kind)
                mean[mi, gi, :], std[mi, gi, :] = base_values[k][mi], 0.0
                mean[mi, gi, moved], std[mi, gi, moved] = gr.mean(0), gr.std(0)
    return res_mean, res_std, rank, dist, p


def _per_layer_studies(out: SubspaceResult, pair, evaluate, ckpts, n_draws, origin, gen, chunk_size,
                       base_values) -> None:
    """The study of every layer with parameters, on its own coordinates, written into ``out``."""
    sc = out.scales
    names = [l for l in pair.groups if pair.keys_of([l], params_only=True)]
    lm: Dict[str, np.ndarray] = {}
    ls: Dict[str, np.ndarray] = {}
    dims, dists = [], []
    for i, l in enumerate(names):
        lk = pair.keys_of([l], params_only=True)
        m_, s_, r_, d_, _ = _subspace_study(pair, evaluate, lk, ckpts, sc, n_draws, origin, gen, chunk_size,
                                            base_values, f"layer {l!r}")
        for k in m_:
            lm.setdefault(k, np.zeros((len(names), 2, 3, len(sc))))[i] = m_[k]
            ls.setdefault(k, np.zeros((len(names), 2, 3, len(sc))))[i] = s_[k]
        dims.append(r_)
        dists.append(d_)
    out.layers, out.layer_mean, out.layer_std = names, lm, ls
    out.layer_subspace_dims, out.layer_distances = dims, dists


def _check_scales(scales) -> np.ndarray:
    sc = np.asarray(check_alphas(list(scales) if not isinstance(scales, np.ndarray) else scales, "scales"))
    if (sc < 0).any():
        raise ValueError(f"scales must be non-negative, got {sc.tolist()}")
    return sc


#: Default noise norms, as fractions of the distance between the models: from the small-noise
#: regime (where the comparison reads each subspace's average curvature) to the averaging step.
DEFAULT_SCALES = (0.0, 0.05, 0.1, 0.25, 0.5)


def subspace_perturbations(model_a: nn.Module, model_b: nn.Module, checkpoints, evaluate, *,
                           scales=DEFAULT_SCALES, n_draws: int = 5, per_layer: bool = False,
                           origin: str = "first", rng=None, groups=None, chunk_size=None, align=None, align_data=None,
                           bn_data=None) -> SubspaceResult:
    r"""Loss under noise of a given norm along the interpolation line, in the training subspace
    and in its orthogonal complement (Adilova et al., 2024, Fig. 6; :doc:`/concepts/lmc`).

    The checkpoints of both training runs are copied (never aliased) and flattened over the
    models' parameters; the *training subspace* is spanned by their differences from the first
    checkpoint (``origin="first"``, the shared initialization when it is listed first) or by the
    vectors themselves (``origin="zero"``), with an orthonormal basis Q from an SVD (numerical
    rank); the *null space* is its orthogonal complement. For each model
    :math:`M \in \{A, B\}` and scale s, with :math:`D = \lVert\theta_B - \theta_A\rVert`, the
    metrics of :math:`\theta_M + sD\,u` for unit directions u drawn uniformly from the unit
    sphere of each subspace:

    - the interpolation line, :math:`u = \pm(\theta_{\bar M} - \theta_M)/D` (noise on a line
      has a random sign: both signs, averaged, which is its exact expectation);
    - ``n_draws`` directions :math:`u = Qg/\lVert Qg\rVert` in the training subspace;
    - ``n_draws`` directions :math:`u \propto (I - QQ^\top) h` in the null space
      (g, h standard normal).

    So every kind of noise has the same norm :math:`sD`. With ``per_layer=True`` the same is
    done for each layer on its own coordinates (its own subspace and distance
    :math:`D_l = \lVert\theta_B^l - \theta_A^l\rVert`), in addition to the whole model (all
    floating-point parameters, also those custom ``groups`` leave out).

    **Which scales mean something.** The default scales run from 0.05 to 0.5, i.e. up to
    the averaging step :math:`D/2`, the norm of the move from :math:`\theta_A` to the
    average :math:`(\theta_A + \theta_B)/2`, and no further: (a) beyond :math:`D/2` noise
    toward the other model passes the midpoint and falls into the other model's basin, and at
    :math:`s = 1` it *is* the other model, a minimum, so larger scales cannot show how
    susceptible the interpolation direction is; (b) the two runs' distance is about as large
    as each run's whole way from the initialization (in the default run of ``radonml lmc``,
    a 16 x 128 MLP on digits: 5.10 against 5.02), so a random training-subspace direction of
    norm D leaves the region the runs explored (loss 100 against 0.0025 at the models), and
    nothing is compared there but how fast the loss explodes; (c) at small scales the comparison is second order: averaged over the
    two signs the first-order term cancels, and the loss increase is
    :math:`\tfrac12 s^2D^2\,\mathbb E[u^\top H u]`, the average curvature of each subspace.
    The paper's finding (the interpolation direction is the most susceptible) is read at
    :math:`s = 1/2`, the norm at which :func:`~radonml.lmc.perturbation_robustness` compares
    the averaging direction with random ones (see :func:`~radonml.lmc.paper_findings`).

    When the checkpoints do not move the parameters (subspace of dimension 0) the "training"
    entries are NaN, and when the subspace is the whole parameter space the "null" entries are
    NaN; each case emits a :class:`~radonml.exceptions.RadonmlWarning`.

    Parameters
    ----------
    model_a, model_b : torch.nn.Module
    checkpoints : list of torch.nn.Module or state dicts (or a dict of such lists, one per run)
    evaluate : callable
    scales : sequence of float, default (0, 0.05, 0.1, 0.25, 0.5)
        Noise norms as fractions of D (of :math:`D_l` per layer); scale 0 is the model itself
        and costs no evaluation.
    n_draws : int, default 5
    per_layer : bool, default False
    origin : {"first", "zero"}, default "first"
    rng : None, int or numpy.random.Generator
    groups, chunk_size
        As in :func:`~radonml.lmc.evaluate_path`.
    align, align_data, bn_data
        As in :func:`~radonml.lmc.evaluate_path`. With ``align``, B and the checkpoints of
        its run (``checkpoints["b"]``, which must then be given as a dict) are permuted alike;
        every perturbed model's BatchNorm statistics are re-estimated.

    Returns
    -------
    SubspaceResult

    Raises
    ------
    ValueError
        Unknown ``origin``; negative ``scales``; ``n_draws < 1``; fewer than 2 checkpoints with
        ``origin="first"``; checkpoints that lack a parameter or have other shapes.
    TypeError
        ``checkpoints`` not a list (or dict of lists) of modules or state dicts.

    References
    ----------
    L. Adilova, M. Andriushchenko, M. Kamp, A. Fischer, M. Jaggi, "Layer-wise linear mode
    connectivity", ICLR 2024.

    Examples
    --------
    A model whose loss is the squared distance to the line through A and B: noise along the
    line costs nothing, noise across it costs its squared norm.

    >>> a, b = nn.Linear(2, 1, bias=False), nn.Linear(2, 1, bias=False)
    >>> _ = a.weight.data.copy_(torch.tensor([[0.0, 0.0]])), b.weight.data.copy_(torch.tensor([[2.0, 0.0]]))
    >>> ev = lambda m: {"loss": float(m.state_dict()["weight"][0, 1] ** 2)}
    >>> res = subspace_perturbations(a, b, [a, b], ev, scales=[0.5], n_draws=2, rng=0)
    >>> res.mean["loss"][0, :, 0].round(6).tolist()  # interpolation, training, null; norm 1
    [0.0, 0.0, 1.0]
    """
    n_draws = check_int(n_draws, "n_draws", minimum=1)
    if origin not in ("first", "zero"):
        raise ValueError(f"origin must be 'first' or 'zero', got {origin!r}")
    sc = _check_scales(scales)
    pair = ModelPair(model_a, model_b, groups, evaluate=evaluate, align=align, align_data=align_data, bn_data=bn_data)
    if pair.alignment is not None:  # B's run is permuted with B
        if not (isinstance(checkpoints, dict) and "b" in checkpoints):
            raise ValueError("with align=, pass checkpoints as {'a': [...], 'b': [...]} so that B's are permuted with B")
        checkpoints = {**checkpoints, "b": [pair.alignment.apply(c.state_dict() if isinstance(c, nn.Module) else c)
                                            for c in checkpoints["b"]]}
    keys = pair.keys_of(None, params_only=True)  # the whole model, whatever the groups
    ckpts = _checkpoint_states(checkpoints, keys, pair.sa)
    if origin == "first" and len(ckpts) < 2:
        raise ValueError("checkpoints must hold at least 2 states with origin='first' (differences from the first)")
    gen = torch_generator(rng, pair.device)
    base_values = _unperturbed(pair, evaluate, chunk_size)
    mean, std, rank, dist, p = _subspace_study(pair, evaluate, keys, ckpts, sc, n_draws, origin, gen, chunk_size,
                                               base_values, "the model")
    out = SubspaceResult(models=["a", "b"], directions=list(_DIRECTIONS), scales=sc, distance=dist, subspace_dim=rank,
                         n_params=p, mean=mean, std=std, origin=origin, unperturbed=base_values)
    if per_layer:
        _per_layer_studies(out, pair, evaluate, ckpts, n_draws, origin, gen, chunk_size, base_values)
    return out
