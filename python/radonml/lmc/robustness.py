r"""Robustness of each layer: moving toward the other model vs. random directions of the same
norm (Adilova et al., 2024, who find the averaging direction far more harmful).

References
----------
L. Adilova, M. Andriushchenko, M. Kamp, A. Fischer, M. Jaggi, "Layer-wise linear mode
connectivity", ICLR 2024.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List

import numpy as np
import torch
from torch import nn

from .._validation import check_int
from ._common import JSONMixin, check_alphas
from ._points import ModelPair, evaluate_points, offset_points, resolve_layers, torch_generator

__all__ = ["RobustnessResult", "perturbation_robustness"]


@dataclass
class RobustnessResult(JSONMixin):
    r"""Per layer: moving toward :math:`\theta_B^l` vs random directions of the same norm.

    Attributes
    ----------
    layers : list of str
    alphas : (m,) ndarray
        Step sizes as fractions of :math:`\lVert\theta_B^l - \theta_A^l\rVert`.
    norms : (n_layers,) ndarray
        :math:`\lVert\theta_B^l - \theta_A^l\rVert` (parameters only).
    interpolation : dict
        Metric to (n_layers, m): :math:`\theta_A + \alpha(\theta_B^l - \theta_A^l)` on layer l.
    random_mean, random_std : dict
        Metric to (n_layers, m) over the draws of :math:`\theta_A + \alpha\,\lVert\Delta^l\rVert\,u`,
        u a uniformly random unit direction over layer l's parameters.
    random_draws : dict
        Metric to (n_layers, n_draws, m).

    Examples
    --------
    >>> import torch
    >>> from radonml import lmc
    >>> _ = torch.manual_seed(0)
    >>> def mlp():
    ...     return torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    >>> model_a, model_b = mlp(), mlp()
    >>> X, y = torch.randn(64, 2), torch.randint(0, 2, (64,))
    >>> evaluate = lmc.classification_evaluator((X, y))
    >>> res = lmc.perturbation_robustness(model_a, model_b, evaluate, n_draws=3, rng=0)
    >>> res.random_draws["loss"].shape == (len(res.layers), 3, len(res.alphas))
    True
    """

    layers: List[str]
    alphas: np.ndarray
    norms: np.ndarray
    interpolation: Dict[str, np.ndarray]
    random_mean: Dict[str, np.ndarray]
    random_std: Dict[str, np.ndarray]
    random_draws: Dict[str, np.ndarray]


def _random_direction(ref: Dict[str, torch.Tensor], keys, norm, gen):
    d = {k: torch.randn(ref[k].shape, generator=gen, dtype=ref[k].dtype, device=ref[k].device) for k in keys}
    tot = torch.sqrt(sum((v.double() ** 2).sum() for v in d.values()))
    scale = float(norm) / float(tot) if float(tot) > 0 else 0.0
    return {k: v * scale for k, v in d.items()}


def _norm(d: Dict[str, torch.Tensor]) -> float:
    return float(torch.sqrt(sum((v.double() ** 2).sum() for v in d.values()))) if d else 0.0


def perturbation_robustness(model_a: nn.Module, model_b: nn.Module, evaluate, *, n_draws: int = 5, rng=None,
                            alphas=None, layers=None, groups=None, chunk_size=None, align=None, align_data=None,
                            bn_data=None) -> RobustnessResult:
    r"""Robustness of each layer to random perturbations vs. the averaging direction (:doc:`/concepts/lmc`).

    For layer l with :math:`\Delta^l = \theta_B^l - \theta_A^l` (its parameters; buffers stay
    at :math:`\theta_A`'s), evaluate :math:`\theta_A + \alpha\Delta^l` and, for ``n_draws``
    Gaussian directions :math:`g` over the layer rescaled to :math:`\lVert\Delta^l\rVert`,
    :math:`\theta_A + \alpha\,\lVert\Delta^l\rVert\, g/\lVert g\rVert`. The averaging step is
    :math:`\alpha = 1/2`. Adilova et al. (2024) find the averaging direction far more harmful.

    Parameters
    ----------
    n_draws : int, default 5
    rng : None, int or numpy.random.Generator
    alphas : default 11 points of [0, 1]
    model_a, model_b, evaluate, layers, groups, chunk_size
        As in :func:`~radonml.lmc.layerwise_barriers`.
    align, align_data, bn_data
        As in :func:`~radonml.lmc.evaluate_path`: the averaging direction points to B
        aligned to A; each perturbed model's BatchNorm statistics are re-estimated.

    Returns
    -------
    RobustnessResult

    Raises
    ------
    ValueError
        ``n_draws < 1``; a layer without floating-point parameters; otherwise as
        :func:`~radonml.lmc.evaluate_path`.

    References
    ----------
    L. Adilova, M. Andriushchenko, M. Kamp, A. Fischer, M. Jaggi, "Layer-wise linear mode
    connectivity", ICLR 2024.

    Examples
    --------
    >>> import torch
    >>> from radonml import lmc
    >>> _ = torch.manual_seed(0)
    >>> def mlp():
    ...     return torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    >>> model_a, model_b = mlp(), mlp()
    >>> X, y = torch.randn(64, 2), torch.randint(0, 2, (64,))
    >>> evaluate = lmc.classification_evaluator((X, y))
    >>> res = lmc.perturbation_robustness(model_a, model_b, evaluate, n_draws=3, rng=0)
    >>> res.layers, res.interpolation["loss"].shape
    (['0', '2'], (2, 11))
    >>> bool(res.interpolation["loss"][0, 0] == res.random_mean["loss"][0, 0])  # alpha = 0: model A
    True
    """
    n_draws = check_int(n_draws, "n_draws", minimum=1)
    pair = ModelPair(model_a, model_b, groups, evaluate=evaluate, align=align, align_data=align_data, bn_data=bn_data)
    al = check_alphas(alphas)
    lay = resolve_layers(layers, pair.groups)
    gen = torch_generator(rng, pair.device)
    m = len(al)
    norms = np.zeros(len(lay))
    interp, rmean, rstd, draws = {}, {}, {}, {}
    for i, l in enumerate(lay):
        keys = pair.keys_of([l], params_only=True)
        if not keys:
            raise ValueError(f"layer {l!r} has no floating-point parameters to perturb")
        delta = {k: pair.sb[k] - pair.sa[k] for k in keys}
        norms[i] = _norm(delta)
        dirs = [delta] + [_random_direction(pair.sa, keys, norms[i], gen) for _ in range(n_draws)]
        coefs = np.tile(al, n_draws + 1)
        which = np.repeat(np.arange(n_draws + 1), m)
        pts = offset_points(pair.sa, keys, coefs, dirs, which, f"layer {l!r} (direction 0: toward model b)")
        res, _ = evaluate_points(pair, evaluate, pts, chunk_size)
        for k, v in res.items():
            v = v.reshape(n_draws + 1, m)
            interp.setdefault(k, np.empty((len(lay), m)))[i] = v[0]
            draws.setdefault(k, np.empty((len(lay), n_draws, m)))[i] = v[1:]
            rmean.setdefault(k, np.empty((len(lay), m)))[i] = v[1:].mean(0)
            rstd.setdefault(k, np.empty((len(lay), m)))[i] = v[1:].std(0)
    return RobustnessResult(layers=lay, alphas=al, norms=norms, interpolation=interp, random_mean=rmean,
                            random_std=rstd, random_draws=draws)
