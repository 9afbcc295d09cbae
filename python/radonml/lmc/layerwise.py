r"""Layer-wise and cumulative barriers: interpolate one layer, or the first (last) c layers, and
measure the barrier against the full endpoint models (Adilova et al., 2024; :doc:`/concepts/lmc`).

References
----------
L. Adilova, M. Andriushchenko, M. Kamp, A. Fischer, M. Jaggi, "Layer-wise linear mode
connectivity", ICLR 2024.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional

import numpy as np
from torch import nn

from ._common import JSONMixin, all_barriers, barrier_metrics, check_alphas
from ._points import ModelPair, evaluate_points, interpolation_points, resolve_bases, resolve_layers
from .barriers import PathResult, search_barrier

__all__ = ["LayerwiseResult", "layerwise_barriers", "CumulativeResult", "cumulative_barriers"]


def _barriers_of(alphas, metrics, endpoints) -> Dict[str, Dict[str, float]]:
    bm = barrier_metrics(metrics)
    return {k: all_barriers(alphas, v, endpoints=endpoints.get(k), what=k) for k, v in bm.items()}


class _PathCache:
    """Paths of one pair on fixed alphas, each evaluated once: a path is identified by its
    interpolated keys and its base (or by its keys alone when the rest of A and B agree, e.g.
    the whole-model path, which every base gives)."""

    def __init__(self, pair, evaluate, alphas, chunk_size, resolution=None):
        self.pair, self.evaluate, self.alphas, self.chunk_size = pair, evaluate, alphas, chunk_size
        self.resolution = resolution
        self._cache: Dict[tuple, tuple] = {}
        self._found: Dict[tuple, tuple] = {}

    def get(self, keys, base):
        """(metrics, method) of the path interpolating ``keys`` with the rest from ``base``."""
        ks = frozenset(keys)
        key = (ks, None if self.pair.base_free(ks) else base)
        if key not in self._cache:
            shown = ", ".join(repr(k) for k in list(keys)[:3]) + (", ..." if len(keys) > 3 else "")
            pts = interpolation_points(self.pair, self.alphas, list(keys), base,
                                       f"the path interpolating {shown} (the rest from model {base})")
            self._cache[key] = evaluate_points(self.pair, self.evaluate, pts, self.chunk_size)
        return self._cache[key]

    def full(self):
        return self.get(self.pair.keys_of(None), "a")

    def found(self, keys, base, ends):
        """(barriers, search) of one path: None and None without ``resolution``; otherwise the
        barriers (metric to kind to value) over the grid and the points that
        :func:`~radonml.lmc.search_barrier` added to find the loss barrier to ``resolution``."""
        if self.resolution is None:
            return None, None
        m, _ = self.get(keys, base)
        ks = frozenset(keys)
        key = (ks, None if self.pair.base_free(ks) else base)
        if key not in self._found:
            bm = barrier_metrics(m)  # accuracy as error, like ``ends``
            metric = "loss" if "loss" in bm else next(iter(bm))
            inside = (self.alphas >= 0) & (self.alphas <= 1)

            def fun(al):
                pts = interpolation_points(self.pair, al, list(keys), base)
                return barrier_metrics(evaluate_points(self.pair, self.evaluate, pts, self.chunk_size)[0])

            s = search_barrier(fun, metric=metric, alphas=self.alphas[inside], endpoints=ends[metric],
                               resolution=self.resolution,
                               initial=(self.alphas[inside], {k: v[inside] for k, v in bm.items()}))
            self._found[key] = (_barriers_of(s.path.alphas, s.path.metrics, ends), s)
        return self._found[key]

    def endpoints(self):
        """Metric (accuracy as error) to its values (L(theta_A), L(theta_B)) at the full endpoint
        models: read off the whole-model path when it is evaluated and has alpha = 0 and 1."""
        ks = frozenset(self.pair.keys_of(None))
        hit = [v for (k, _), v in self._cache.items() if k == ks]
        i0, i1 = np.flatnonzero(self.alphas == 0.0), np.flatnonzero(self.alphas == 1.0)
        if hit and i0.size and i1.size:
            m, j0, j1 = hit[0][0], int(i0[0]), int(i1[0])
        else:
            pts = interpolation_points(self.pair, np.array([0.0, 1.0]), self.pair.keys_of(None), "a", "the full models")
            (m, _), j0, j1 = evaluate_points(self.pair, self.evaluate, pts, self.chunk_size), 0, 1
        return {k: (float(v[j0]), float(v[j1])) for k, v in barrier_metrics(m).items()}


def _store(paths, barriers, index, shape, alphas, metrics, endpoints, found=None, search=None, searches=None):
    """Write one path's metrics and its barriers (``found`` ones where given) at ``index`` of
    arrays of ``shape``; with ``search``, its evaluations, upper bound and certificate too."""
    for k, v in metrics.items():
        paths.setdefault(k, np.empty(shape + (len(alphas),)))[index] = v
    if search is not None:
        searches.setdefault("n_evals", np.zeros(shape, dtype=int))[index] = search.n_evals
        searches.setdefault("certified", np.zeros(shape, dtype=bool))[index] = search.certified
        for kind, ub in search.upper_bounds.items():
            searches.setdefault("upper_bounds", {}).setdefault(kind, np.empty(shape))[index] = ub
    for k, kinds in (found if found is not None else _barriers_of(alphas, metrics, endpoints)).items():
        for kind, val in kinds.items():
            barriers.setdefault(k, {}).setdefault(kind, np.empty(shape))[index] = val


# -------------------------------------------------------------------------- layer-wise --

@dataclass
class LayerwiseResult(JSONMixin):
    r"""Barriers of single-layer paths against the full endpoint models (:doc:`/concepts/lmc`).

    Attributes
    ----------
    layers : list of str
    bases : list of str
        ``"a"``/``"b"``: the model the other layers come from.
    alphas : (m,) ndarray
    endpoints : dict
        Metric (accuracy as ``"error"``) to :math:`(L(\theta_A), L(\theta_B))` of the full models.
    paths : dict
        Metric to (n_layers, n_bases, m) array of the metric along each path.
    barriers : dict
        Metric to kind (``"linear"``, ``"mean"``, ``"max"``) to (n_layers, n_bases) array.
    full_path : PathResult
        The whole-model path (every floating-point tensor interpolated, whatever ``groups``).
    full_barriers : dict
        Metric to kind to the whole-model barrier.
    search : dict or None
        With ``resolution``: ``"metric"`` (the one searched), ``"resolution"``, and for the
        single-layer paths ``"n_evals"`` (points evaluated, grid included), ``"certified"``
        and ``"upper_bounds"`` (kind to array), with the same for the whole model under
        ``"full"`` (see :func:`~radonml.lmc.search_barrier`).

    Examples
    --------
    See :func:`~radonml.lmc.layerwise_barriers`; ``table(kind=...)`` prints one row per layer
    and the whole model's barrier beside them.
    >>> import torch
    >>> from radonml import lmc
    >>> _ = torch.manual_seed(0)
    >>> def mlp():
    ...     return torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    >>> model_a, model_b = mlp(), mlp()
    >>> X, y = torch.randn(64, 2), torch.randint(0, 2, (64,))
    >>> evaluate = lmc.classification_evaluator((X, y))
    >>> res = lmc.layerwise_barriers(model_a, model_b, evaluate)
    >>> res.barriers["loss"]["linear"].shape == (len(res.layers), len(res.bases))
    True
    """

    layers: List[str]
    bases: List[str]
    alphas: np.ndarray
    endpoints: Dict[str, tuple]
    paths: Dict[str, np.ndarray]
    barriers: Dict[str, Dict[str, np.ndarray]]
    full_path: PathResult
    full_barriers: Dict[str, Dict[str, float]]
    search: Optional[dict] = None

    def table(self, metric: str = "loss", kind: str = "mean") -> str:
        """Plain-text table of the barriers per layer and base, with the full model's."""
        b = self.barriers[metric][kind]
        head = f"{'layer':<24}" + "".join(f"{'base ' + x:>14}" for x in self.bases)
        lines = [f"{metric} barrier ({kind})", head]
        for i, l in enumerate(self.layers):
            lines.append(f"{l:<24}" + "".join(f"{b[i, j]:>14.4f}" for j in range(len(self.bases))))
        lines.append(f"{'full model':<24}{self.full_barriers[metric][kind]:>14.4f}")
        return "\n".join(lines)


def layerwise_barriers(model_a: nn.Module, model_b: nn.Module, evaluate, *, base: str = "both", alphas=None,
                       layers=None, groups=None, chunk_size=None, align=None, align_data=None,
                       bn_data=None, resolution=None) -> LayerwiseResult:
    r"""Barrier of interpolating one layer at a time, against the full endpoint models.

    For layer l and base k, the path is :math:`\theta_k` with layer l replaced by
    :math:`(1-\alpha)\theta_A^l + \alpha\theta_B^l`; its barrier is measured against the full
    models' :math:`L(\theta_A), L(\theta_B)` (Adilova et al., 2024; read off the whole-model
    path when ``alphas`` contains 0 and 1), e.g. for the ``"mean"``
    kind :math:`B_l^{(k)} = \max_\alpha L(\text{path}(\alpha)) - \tfrac12(L(\theta_A) + L(\theta_B))`.
    It is not symmetric in k, so both bases are reported by default. All three kinds of
    :func:`~radonml.lmc.barrier` are computed, for every metric (accuracy as error).

    Parameters
    ----------
    model_a, model_b, evaluate
        As in :func:`~radonml.lmc.evaluate_path`.
    base : {"a", "b", "both"}, default "both"
    alphas : default 11 points of [0, 1]
    layers : optional
        Subset of layers (default all).
    groups, chunk_size
        As in :func:`~radonml.lmc.evaluate_path`.
    align, align_data, bn_data
        As in :func:`~radonml.lmc.evaluate_path`: align B to A first (``"weight"``,
        ``"activation"`` or an :class:`~radonml.lmc.AlignmentResult`); re-estimate BatchNorm
        statistics at every point of every path (default: on the inputs of ``evaluate`` when
        it holds its data; ``False`` keeps the interpolated ones).
    resolution : float, optional
        Find every path's loss barrier (all kinds) to this relative resolution by refining
        the path from the ``alphas`` grid where its maximum can lie
        (:func:`~radonml.lmc.search_barrier`) instead of reading it off the grid; the other
        metrics' barriers are taken over the same points. ``paths`` stay on the grid.

    Returns
    -------
    LayerwiseResult

    Raises
    ------
    TypeError, ValueError
        As :func:`~radonml.lmc.evaluate_path`.

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
    >>> res = lmc.layerwise_barriers(model_a, model_b, evaluate)
    >>> res.layers, res.bases
    (['0', '2'], ['a', 'b'])
    >>> res.barriers["loss"]["linear"].shape, bool(res.full_barriers["loss"]["linear"] >= 0)
    ((2, 2), True)
    """
    pair = ModelPair(model_a, model_b, groups, evaluate=evaluate, align=align, align_data=align_data, bn_data=bn_data)
    bases = resolve_bases(base)
    al = check_alphas(alphas)
    lay = resolve_layers(layers, pair.groups)
    cache = _PathCache(pair, evaluate, al, chunk_size, resolution)
    fm, method = cache.full()
    full_path = PathResult(alphas=al, metrics=fm, base="a", method=method)
    ends = cache.endpoints()
    paths: Dict[str, np.ndarray] = {}
    barriers: Dict[str, Dict[str, np.ndarray]] = {}
    searches: Dict[str, object] = {}
    for i, l in enumerate(lay):
        for j, b in enumerate(bases):
            keys = pair.keys_of([l])
            m, _ = cache.get(keys, b)
            found, s = cache.found(keys, b, ends)
            _store(paths, barriers, (i, j), (len(lay), len(bases)), al, m, ends, found, s, searches)
    full_found, full_search = cache.found(pair.keys_of(None), "a", ends)
    if resolution is not None:
        searches.update(metric=full_search.metric, resolution=resolution,
                        full={"n_evals": full_search.n_evals, "certified": full_search.certified,
                              "upper_bounds": full_search.upper_bounds})
    return LayerwiseResult(
        layers=lay, bases=bases, alphas=al, endpoints=ends, paths=paths, barriers=barriers,
        full_path=full_path, full_barriers=full_found or _barriers_of(al, fm, ends),
        search=searches or None,
    )


# -------------------------------------------------------------------------- cumulative --

@dataclass
class CumulativeResult(JSONMixin):
    r"""Barriers of interpolating the first (or last) 1, 2, ..., L layers (:doc:`/concepts/lmc`).

    Attributes
    ----------
    layers : list of str
        All layers, input to output.
    directions : list of str
        ``"input"`` (first layers averaged, counted from the input) and/or ``"output"``.
    bases : list of str
    counts : (L,) ndarray of int
        Number of averaged layers.
    alphas : (m,) ndarray
    endpoints : dict
        Full models' metrics (accuracy as error).
    paths : dict
        Metric to (n_directions, n_bases, L, m) array.
    barriers : dict
        Metric to kind to (n_directions, n_bases, L) array.
    search : dict or None
        With ``resolution``: as :attr:`LayerwiseResult.search`, arrays of shape
        (n_directions, n_bases, L).

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
    >>> res = lmc.cumulative_barriers(model_a, model_b, evaluate, direction="both")
    >>> res.directions, res.counts.tolist(), res.barriers["loss"]["mean"].shape
    (['input', 'output'], [1, 2], (2, 1, 2))
    """

    layers: List[str]
    directions: List[str]
    bases: List[str]
    counts: np.ndarray
    alphas: np.ndarray
    endpoints: Dict[str, tuple]
    paths: Dict[str, np.ndarray]
    barriers: Dict[str, Dict[str, np.ndarray]]
    search: Optional[dict] = None


def cumulative_barriers(model_a: nn.Module, model_b: nn.Module, evaluate, *, direction: str = "input",
                        base: str = "a", alphas=None, groups=None, chunk_size=None, align=None, align_data=None,
                        bn_data=None, resolution=None) -> CumulativeResult:
    r"""Barrier of averaging the first c layers from the input (or the last c from the output).

    For c = 1..L the path interpolates layers :math:`1..c` (``direction="input"``) or
    :math:`L-c+1..L` (``"output"``) and takes the rest from the base model; barriers are
    measured against the full endpoint models as in :func:`layerwise_barriers`. At c = L
    both directions give the full-model path (when custom ``groups`` leave tensors out, c = L
    interpolates only the grouped ones). Each distinct path is evaluated once (c = L is shared
    by both directions, and by both bases when it is the whole model).

    Parameters
    ----------
    direction : {"input", "output", "both"}, default "input"
    base : {"a", "b", "both"}, default "a"
    model_a, model_b, evaluate, alphas, groups, chunk_size, resolution
        As in :func:`layerwise_barriers`.
    align, align_data, bn_data
        As in :func:`~radonml.lmc.evaluate_path`: align B to A first (``"weight"``,
        ``"activation"`` or an :class:`~radonml.lmc.AlignmentResult`); re-estimate BatchNorm
        statistics at every point of every path (default: on the inputs of ``evaluate`` when
        it holds its data; ``False`` keeps the interpolated ones).

    Returns
    -------
    CumulativeResult

    Raises
    ------
    ValueError
        Unknown ``direction``; otherwise as :func:`~radonml.lmc.evaluate_path`.

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
    >>> res = lmc.cumulative_barriers(model_a, model_b, evaluate)
    >>> full = lmc.layerwise_barriers(model_a, model_b, evaluate).full_barriers["loss"]["linear"]
    >>> bool(abs(res.barriers["loss"]["linear"][0, 0, -1] - full) < 1e-6)  # c = L: the whole model
    True
    """
    if direction not in ("input", "output", "both"):
        raise ValueError(f"direction must be 'input', 'output' or 'both', got {direction!r}")
    pair = ModelPair(model_a, model_b, groups, evaluate=evaluate, align=align, align_data=align_data, bn_data=bn_data)
    bases = resolve_bases(base)
    dirs = ["input", "output"] if direction == "both" else [direction]
    al = check_alphas(alphas)
    names = list(pair.groups)
    L = len(names)
    cache = _PathCache(pair, evaluate, al, chunk_size, resolution)
    cache.get(pair.keys_of(names), bases[0])  # c = L: the whole model when the groups cover it
    ends = cache.endpoints()
    paths: Dict[str, np.ndarray] = {}
    barriers: Dict[str, Dict[str, np.ndarray]] = {}
    searches: Dict[str, object] = {}
    for di, d in enumerate(dirs):
        for bi, b in enumerate(bases):
            for c in range(1, L + 1):
                keys = pair.keys_of(names[:c] if d == "input" else names[L - c:])
                m, _ = cache.get(keys, b)
                found, s = cache.found(keys, b, ends)
                _store(paths, barriers, (di, bi, c - 1), (len(dirs), len(bases), L), al, m, ends, found, s, searches)
                if s is not None:
                    searches.update(metric=s.metric, resolution=resolution)
    return CumulativeResult(layers=names, directions=dirs, bases=bases, counts=np.arange(1, L + 1), alphas=al,
                            endpoints=ends, paths=paths, barriers=barriers, search=searches or None)
