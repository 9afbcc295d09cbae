r"""Perturbations along the interpolation direction, in the training subspace and in its
orthogonal complement (SPEC §5; Adilova et al., 2024, Fig. 6).

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
from ._points import ModelPair, evaluate_points, offset_points, torch_generator

__all__ = ["SubspaceResult", "subspace_perturbations"]

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
        Perturbation norms as fractions of :math:`\lVert\theta_B - \theta_A\rVert` (of the layer's
        part with ``per_layer``).
    distance : float
        :math:`\lVert\theta_B - \theta_A\rVert` over all parameters.
    subspace_dim : int
        Dimension of the training subspace (numerical rank of the checkpoint matrix).
    n_params : int
    mean, std : dict
        Metric to (n_models, 3, s) array, over the draws (the interpolation direction is one
        deterministic draw, std 0); NaN for a direction kind that does not exist (an empty
        training subspace, or one without complement).
    layers : list of str or None
        With ``per_layer``: the layers, and ``layer_mean``/``layer_std`` of shape
        (n_layers, n_models, 3, s), ``layer_subspace_dims`` and ``layer_distances``.
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
    """Flat unit directions from ``here``: toward ``there``, then ``n_train`` random ones in the
    span of Q, then ``n_null`` random ones in its orthogonal complement (drawn in this order)."""
    u = there - here
    dirs = [u / dist if dist > 0 else u]
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


def _subspace_study(pair, evaluate, keys, ckpts, scales, n_draws, origin, gen, chunk_size, what="the model"):
    """Mean and std (metric to (2, 3, s)) of the perturbed models, the subspace's rank, the
    distance between A and B on ``keys`` and the number of coordinates."""
    Q = _training_basis(ckpts, keys, origin)
    rank, p = int(Q.shape[1]), int(Q.shape[0])
    _warn_if_degenerate(rank, p, what)
    n_train = n_draws if rank > 0 else 0
    n_null = n_draws if rank < p else 0
    fa, fb = _flat(pair.sa, keys), _flat(pair.sb, keys)
    dist = float(torch.linalg.norm(fb - fa))
    ns = len(scales)
    res_mean: Dict[str, np.ndarray] = {}
    res_std: Dict[str, np.ndarray] = {}
    for mi, (state, here, there) in enumerate(((pair.sa, fa, fb), (pair.sb, fb, fa))):
        dirs = [_unflat(d * dist, keys, state) for d in _unit_directions(here, there, dist, Q, n_train, n_null, gen)]
        which = np.repeat(np.arange(len(dirs)), ns)
        coefs = np.tile(np.asarray(scales, dtype=np.float64), len(dirs))
        res, _ = evaluate_points(pair, evaluate, offset_points(state, keys, coefs, dirs, which), chunk_size)
        for k, v in res.items():
            v = v.reshape(len(dirs), ns)
            mean = res_mean.setdefault(k, np.full((2, 3, ns), np.nan))
            std = res_std.setdefault(k, np.full((2, 3, ns), np.nan))
            for gi, gr in enumerate([v[:1], v[1:1 + n_train], v[1 + n_train:]]):
                if len(gr):
                    mean[mi, gi], std[mi, gi] = gr.mean(0), gr.std(0)
    return res_mean, res_std, rank, dist, p


def _per_layer_studies(out: SubspaceResult, pair, evaluate, ckpts, n_draws, origin, gen, chunk_size) -> None:
    """The study of every layer with parameters, on its own coordinates, written into ``out``."""
    sc = out.scales
    names = [l for l in pair.groups if pair.keys_of([l], params_only=True)]
    lm: Dict[str, np.ndarray] = {}
    ls: Dict[str, np.ndarray] = {}
    dims, dists = [], []
    for i, l in enumerate(names):
        lk = pair.keys_of([l], params_only=True)
        m_, s_, r_, d_, _ = _subspace_study(pair, evaluate, lk, ckpts, sc, n_draws, origin, gen, chunk_size,
                                            f"layer {l!r}")
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


def subspace_perturbations(model_a: nn.Module, model_b: nn.Module, checkpoints, evaluate, *,
                           scales=(0.0, 0.1, 0.25, 0.5, 0.75, 1.0), n_draws: int = 5, per_layer: bool = False,
                           origin: str = "first", rng=None, groups=None, chunk_size=None, align=None, align_data=None,
                           bn_data=None) -> SubspaceResult:
    r"""Loss under perturbations along the interpolation direction, in the training subspace and
    in its orthogonal complement (SPEC §5; Adilova et al., 2024, Fig. 6).

    The checkpoints of both training runs are copied (never aliased) and flattened over the
    models' parameters; the *training subspace* is spanned by their differences from the first
    checkpoint (``origin="first"``, the shared initialization when it is listed first) or by the
    vectors themselves (``origin="zero"``), with an orthonormal basis Q from an SVD (numerical
    rank). For each model :math:`M \in \{A, B\}` and scale s, with
    :math:`D = \lVert\theta_B - \theta_A\rVert`, evaluate :math:`\theta_M + sD\,u` for

    - the interpolation direction :math:`u = (\theta_{\bar M} - \theta_M)/D`;
    - ``n_draws`` random unit directions :math:`u = Qg/\lVert Qg\rVert` in the training subspace;
    - ``n_draws`` random unit directions in its orthogonal complement,
      :math:`u \propto (I - QQ^\top) h`.

    With ``per_layer=True`` the same is done for each layer separately (its coordinates only,
    its own subspace and distance), in addition to the whole model (all floating-point
    parameters, also those custom ``groups`` leave out).

    When the checkpoints do not move the parameters (subspace of dimension 0) the "training"
    entries are NaN, and when the subspace is the whole parameter space the "null" entries are
    NaN; each case emits a :class:`~radonml.exceptions.RadonmlWarning`.

    Parameters
    ----------
    model_a, model_b : torch.nn.Module
    checkpoints : list of torch.nn.Module or state dicts (or a dict of such lists, one per run)
    evaluate : callable
    scales : sequence of float, default (0, 0.1, 0.25, 0.5, 0.75, 1)
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
    mean, std, rank, dist, p = _subspace_study(pair, evaluate, keys, ckpts, sc, n_draws, origin, gen, chunk_size,
                                               "the model")
    out = SubspaceResult(models=["a", "b"], directions=list(_DIRECTIONS), scales=sc, distance=dist, subspace_dim=rank,
                         n_params=p, mean=mean, std=std, origin=origin)
    if per_layer:
        _per_layer_studies(out, pair, evaluate, ckpts, n_draws, origin, gen, chunk_size)
    return out
