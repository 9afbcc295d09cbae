r"""The paper's findings, measured: does this pair of models show what Adilova et al. (2024) found?

:func:`paper_findings` reads the results of the four studies of :mod:`radonml.lmc` and states,
for each finding of the paper, the numbers that decide it and whether it holds on this run.
The criteria are fixed here, before any run, and written out in :func:`paper_findings`; a run
either meets them or it does not. Torch-free: it reads result objects only.

References
----------
L. Adilova, M. Andriushchenko, M. Kamp, A. Fischer, M. Jaggi, "Layer-wise linear mode
connectivity", ICLR 2024.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional

import numpy as np

from ._common import JSONMixin, barrier_metrics, check_kind

__all__ = ["Finding", "Findings", "paper_findings", "in_middle", "SINGLE_LAYER_RATIO", "FAR_MORE", "MIDDLE",
           "MIN_LAYERS_MIDDLE"]

#: Finding 1 holds when the largest single-layer barrier is below this fraction of the full one.
SINGLE_LAYER_RATIO = 0.5
#: Finding 3 holds when the averaging direction raises the loss at least this many times more.
FAR_MORE = 2.0
#: Finding 2's "middle": layers, neither the first nor the last, whose centre lies strictly inside
#: this fraction of the depth.
MIDDLE = (0.2, 0.8)
#: Finding 2 needs at least this many layers: with one or two, every layer is the first or the last.
MIN_LAYERS_MIDDLE = 3


@dataclass
class Finding(JSONMixin):
    """One finding of the paper, measured on one run.

    Attributes
    ----------
    key : str
        ``"single_layer"``, ``"middle_layers"``, ``"averaging_direction"`` or ``"subspaces"``.
    claim : str
        The paper's statement.
    holds : bool or None
        Whether the run meets the criterion; None when it cannot be decided on this run: the
        study's grid lacks a point the criterion reads (not measured), or the input is
        degenerate for it (not applicable, ``applicable`` False: no full-model barrier, fewer
        than three layers for "the middle", identical models).
    summary : str
        One line with the measured numbers (and, when not applicable, why).
    measured : dict
        The numbers the decision rests on.
    applicable : bool, default True
        False when the finding says nothing about this run (``holds`` is then None).

    Examples
    --------
    >>> f = Finding("single_layer", "Averaging one layer leaves no barrier", True, "max 0.01 < 0.05",
    ...             {"max_single_layer_barrier": 0.01})
    >>> f.line()
    'Averaging one layer leaves no barrier: holds. max 0.01 < 0.05'
    >>> Finding("middle_layers", "Barriers sit in the middle", None, "2 layers have no middle", {},
    ...         applicable=False).verdict
    'not applicable'
    """

    key: str
    claim: str
    holds: Optional[bool]
    summary: str
    measured: Dict[str, object] = field(default_factory=dict)
    applicable: bool = True

    @property
    def verdict(self) -> str:
        """``"holds"``, ``"does not hold on this run"``, ``"not measured"`` or ``"not applicable"``."""
        if self.holds is None:
            return "not measured" if self.applicable else "not applicable"
        return "holds" if self.holds else "does not hold on this run"

    def line(self) -> str:
        """The finding as one line: claim, verdict, summary."""
        return f"{self.claim}: {self.verdict}. {self.summary}"

    def to_dict(self) -> dict:
        """The fields as plain Python types, with ``verdict``."""
        d = super().to_dict()
        d["verdict"] = self.verdict
        return d


@dataclass
class Findings(JSONMixin):
    """The findings of :func:`paper_findings`, in the paper's order.

    Attributes
    ----------
    findings : list of Finding
        ``"single_layer"``, ``"middle_layers"``, ``"averaging_direction"``, ``"subspaces"``:
        those whose studies were run.
    metric : str, default "loss"
        The metric the barriers were measured in.
    kind : str, default "linear"
        The barrier definition (see :data:`radonml.lmc.BARRIER_KINDS`).

    Examples
    --------
    >>> F = Findings([Finding("single_layer", "claim", True, "", {}), Finding("subspaces", "claim", None, "", {})])
    >>> F["single_layer"].holds, F.all_hold
    (True, True)
    """

    findings: List[Finding]
    metric: str = "loss"
    kind: str = "linear"

    def __getitem__(self, key) -> Finding:
        for f in self.findings:
            if f.key == key:
                return f
        raise KeyError(f"no finding {key!r}; the findings are {[f.key for f in self.findings]}")

    @property
    def all_hold(self) -> bool:
        """Whether every measured finding holds."""
        return all(f.holds for f in self.findings if f.holds is not None)

    def text(self) -> str:
        """The findings as numbered lines."""
        return "\n".join(f"{i}. {f.line()}" for i, f in enumerate(self.findings, 1))

    def __str__(self) -> str:
        return self.text()

    def to_dict(self) -> dict:
        """The findings as plain Python types, each with its ``verdict``."""
        return {"findings": [f.to_dict() for f in self.findings], "metric": self.metric, "kind": self.kind}

    def __repr__(self) -> str:
        return "Findings(" + ", ".join(f"{f.key}: {f.verdict.replace(' on this run', '')}"
                                       for f in self.findings) + ")"


def _fmt(x: float) -> str:
    return "inf" if not np.isfinite(x) else f"{x:.3g}"


def _alpha_index(alphas, target: float) -> Optional[int]:
    hit = np.flatnonzero(np.isclose(np.asarray(alphas, dtype=float), target, rtol=0, atol=1e-9))
    return int(hit[0]) if hit.size else None


def _not_measured(key, claim, what, values, target) -> Finding:
    return Finding(key, claim, None, f"{what} have no point at {target:g} (got {np.round(values, 4).tolist()}): "
                                     "include it to read this finding")


def _barrier_exists(full: float, endpoints) -> bool:
    """A full-model barrier worth comparing with: above a tenth of the worse endpoint's value."""
    return full > 0.1 * max(abs(endpoints[0]), abs(endpoints[1])) and full > 0


def _no_barrier(metric, full, endpoints) -> str:
    worse = max(abs(endpoints[0]), abs(endpoints[1]))
    return (f"the full-model {metric} barrier {full:.4g} is not above a tenth of the worse "
            f"endpoint's {metric} ({0.1 * worse:.4g}), so the runs are linearly connected and there is no barrier")


def _single_layer(lw, metric, kind) -> Finding:
    claim = "single-layer barriers are small next to the full-model barrier"
    full = float(lw.full_barriers[metric][kind])
    B = np.asarray(lw.barriers[metric][kind], dtype=float)
    i, j = np.unravel_index(int(np.argmax(B)), B.shape)
    single = float(B[i, j])
    exists = _barrier_exists(full, lw.endpoints[metric])
    measured = {"full_barrier": full, "max_single_layer_barrier": single, "ratio": None,
                "layer": lw.layers[i], "base": lw.bases[j], "threshold": SINGLE_LAYER_RATIO,
                "full_barrier_exists": exists}
    largest = (f"largest single-layer {metric} barrier {single:.4g} (layer {lw.layers[i]} into "
               f"{lw.bases[j].upper()})")
    if not exists:  # a ratio to a (near-)zero barrier says nothing
        return Finding("single_layer", claim, None,
                       _no_barrier(metric, full, lw.endpoints[metric]) + f" to compare with; {largest}",
                       measured, applicable=False)
    ratio = single / full
    measured["ratio"] = ratio
    summary = f"{largest} / full-model barrier {full:.4g} = {_fmt(ratio)} (holds below {SINGLE_LAYER_RATIO:g})"
    return Finding("single_layer", claim, bool(ratio < SINGLE_LAYER_RATIO), summary, measured)


def in_middle(position: int, n_layers: int) -> bool:
    r"""Whether layer ``position`` of ``n_layers`` sits in the middle of the network (finding 2).

    Layer :math:`p` of :math:`L` (counted from the input, 1-based) spans the depths
    :math:`[(p-1)/L, p/L]`; it is in the middle when it is neither the first nor the last layer
    and its centre :math:`(p - 1/2)/L` lies strictly inside :data:`MIDDLE` = (0.2, 0.8). The
    paper's "middle layers" are those away from both ends of the network; the first and the
    last layer never are, whatever the depth (for :math:`L \le 2` every layer is one of them:
    no layer is in the middle, and finding 2 is not applicable). For :math:`L \ge 3` the band
    alone already excludes them (:math:`1/(2L) < 0.2` and :math:`1 - 1/(2L) > 0.8` need
    :math:`L > 2.5`); for :math:`L = 1` (centre 1/2) and :math:`L = 2` (centres 1/4, 3/4) it
    does not, hence both conditions.

    Parameters
    ----------
    position : int
        The layer, 1 to ``n_layers``, counted from the input.
    n_layers : int
        The number of layers L >= 1.

    Returns
    -------
    bool

    Raises
    ------
    ValueError
        ``position`` outside 1 to ``n_layers``.

    References
    ----------
    L. Adilova, M. Andriushchenko, M. Kamp, A. Fischer, M. Jaggi, "Layer-wise linear mode
    connectivity", ICLR 2024.

    Examples
    --------
    >>> [p for p in range(1, 6) if in_middle(p, 5)]  # centres 0.1, 0.3, 0.5, 0.7, 0.9
    [2, 3, 4]
    >>> in_middle(1, 2) or in_middle(2, 2) or in_middle(1, 1)
    False
    """
    if not 1 <= position <= n_layers:
        raise ValueError(f"position must be a layer 1 to n_layers = {n_layers}, got {position}")
    centre = (position - 0.5) / n_layers
    return 1 < position < n_layers and MIDDLE[0] < centre < MIDDLE[1]


def _middle_layers(cu, metric, kind, exists) -> Finding:
    claim = "the layers that create the barrier sit in the middle (cumulative barriers)"
    B = np.asarray(cu.barriers[metric][kind], dtype=float).mean(axis=1)  # over bases: (directions, L)
    L = len(cu.layers)
    measured: Dict[str, object] = {"n_layers": L, "middle": list(MIDDLE)}
    if L < MIN_LAYERS_MIDDLE:
        return Finding("middle_layers", claim, None,
                       f"a network of {L} layer{'s' if L != 1 else ''} has no middle (every layer "
                       f"is the first or the last; the finding needs at least {MIN_LAYERS_MIDDLE})",
                       measured, applicable=False)
    if exists is None:  # no layer-wise study: the cumulative path of all L layers is the full-model path
        full = float(B[:, -1].max())
        exists = _barrier_exists(full, cu.endpoints[metric])
        if not exists:
            return Finding("middle_layers", claim, None, _no_barrier(metric, full, cu.endpoints[metric])
                           + " to locate", measured, applicable=False)
    elif not exists:
        return Finding("middle_layers", claim, None,
                       "no full-model barrier to locate (see finding 1)", measured, applicable=False)
    parts, ok = [], []
    for di, d in enumerate(cu.directions):
        rise = np.diff(np.concatenate([[0.0], B[di]]))
        c = int(np.argmax(rise)) + 1  # number of averaged layers at the steepest rise
        position = c if d == "input" else L - c + 1  # that layer, counted from the input (1-based)
        peak = int(np.argmax(B[di])) + 1
        measured[d] = {"steepest_rise_layer": position, "layer_name": cu.layers[position - 1],
                       "rise": float(rise[c - 1]), "peak_count": peak, "peak": float(B[di, peak - 1]),
                       "in_middle": in_middle(position, L)}
        ok.append(in_middle(position, L))
        parts.append(f"from the {d} the barrier rises most at layer {position} of {L} ({cu.layers[position - 1]}, "
                     f"+{rise[c - 1]:.3g}) and peaks at {B[di, peak - 1]:.3g} with {peak} layers averaged")
    summary = "; ".join(parts) + (f" (holds when both layers are neither the first nor the last and lie in the "
                                  f"middle {MIDDLE[0]:g}-{MIDDLE[1]:g} of the depth)")
    return Finding("middle_layers", claim, bool(all(ok)), summary, measured)


def _averaging_direction(rb, metric) -> Finding:
    claim = "the averaging direction hurts far more than random directions of the same norm"
    i0, ih = _alpha_index(rb.alphas, 0.0), _alpha_index(rb.alphas, 0.5)
    if i0 is None or ih is None:
        return _not_measured("averaging_direction", claim, "the robustness study's alphas", rb.alphas,
                             0.0 if i0 is None else 0.5)
    norms = np.asarray(rb.norms, dtype=float)
    if not np.any(norms > 0):
        return Finding("averaging_direction", claim, None, "A and B are identical in every layer "
                       "(the averaging steps have norm 0): no direction to compare", {"n_layers": len(rb.layers)},
                       applicable=False)
    interp = barrier_metrics(rb.interpolation)[metric]
    rand = barrier_metrics(rb.random_mean)[metric]
    base = interp[:, i0]
    toward = interp[:, ih] - base  # per layer: raise of the metric by the averaging step
    random = rand[:, ih] - base
    mt, mr = float(toward.mean()), float(random.mean())
    # neither raises the metric: the averaging step does not hurt, so the claim fails; no ratio
    ratio = mt / mr if mr > 0 else float("inf") if mt > 0 else None
    holds = bool(mt > 0 and (mr <= 0 or ratio >= FAR_MORE))
    n_more = int((toward > FAR_MORE * np.maximum(random, 0.0)).sum())
    compare = (f"ratio {_fmt(ratio)} (holds at {FAR_MORE:g} or more)" if ratio is not None
               else "neither raises it (holds only when the averaging step does)")
    summary = (f"half the step toward B raises the {metric} by {mt:.3g} (mean over {len(rb.layers)} layers), a random "
               f"direction of the same norm by {mr:.3g}: {compare}; "
               f"more than {FAR_MORE:g}x in {n_more} of {len(rb.layers)} layers")
    return Finding("averaging_direction", claim, holds, summary,
                   {"mean_increase_averaging": mt, "mean_increase_random": mr, "ratio": ratio,
                    "layers_far_more": n_more, "n_layers": len(rb.layers), "threshold": FAR_MORE,
                    "increase_averaging": toward, "increase_random": random})


def _subspaces(sp, metric) -> Finding:
    claim = "the interpolation direction is the most susceptible to noise (vs training subspace, null space)"
    scales = np.asarray(sp.scales, dtype=float)
    s = _alpha_index(scales, 0.5)
    if s is None:
        return _not_measured("subspaces", claim, "the subspace study's scales", scales, 0.5)
    if not sp.distance > 0:
        return Finding("subspaces", claim, None, "A and B are identical (distance D = 0), so there "
                       "is no interpolation line and noise of norm D/2 is no noise", {"distance": sp.distance},
                       applicable=False)
    base = np.asarray(barrier_metrics(sp.unperturbed)[metric], dtype=float)
    M = np.asarray(barrier_metrics(sp.mean)[metric], dtype=float)[:, :, s]  # (models, directions)
    rise = (M - base[:, None]).mean(axis=0)  # mean over the two models
    named = dict(zip(sp.directions, rise))
    interp, train, null = named["interpolation"], named["training"], named["null"]
    others = [v for v in (train, null) if np.isfinite(v)]
    measured = {"scale": 0.5, "increase_interpolation": interp, "increase_training": train,
                "increase_null": null, "subspace_dim": sp.subspace_dim, "distance": sp.distance}
    if not np.isfinite(interp) or not others:
        return Finding("subspaces", claim, None, f"nothing to compare (raise on the interpolation "
                       f"line {interp:.3g}, training subspace {train:.3g}, null space {null:.3g})", measured,
                       applicable=False)
    holds = bool(all(interp > v for v in others))
    summary = (f"noise of norm D/2 = {sp.distance / 2:.3g} raises the {metric} by {interp:.3g} on the interpolation "
               f"line, {train:.3g} in the training subspace (dim {sp.subspace_dim}), {null:.3g} in the null space "
               "(mean of A and B)")
    return Finding("subspaces", claim, holds, summary, measured)


def paper_findings(layerwise=None, cumulative=None, robustness=None, subspace=None, *, metric: str = "loss",
                   kind: str = "linear") -> Findings:
    r"""The findings of Adilova et al. (2024), measured on the results of the four studies.

    Each finding is decided by a criterion fixed in advance (module constants):

    1. **Single-layer barriers are small next to the full-model barrier** (from
       :func:`~radonml.lmc.layerwise_barriers`): the largest barrier of interpolating one layer
       (any layer, either base) is below ``SINGLE_LAYER_RATIO`` = 0.5 times the full-model
       barrier. Not applicable when there is no full-model barrier (not above a tenth of the
       worse endpoint's value, and above 0): the runs are linearly connected, and a ratio to a
       (near-)zero barrier says nothing.
    2. **Barrier-prone layers sit in the middle** (from :func:`~radonml.lmc.cumulative_barriers`,
       averaged over the bases): for each direction, the layer whose inclusion raises the
       cumulative barrier most; the finding holds when, from the input and from the output,
       that layer is in the middle (:func:`in_middle`: neither the first nor the last layer,
       and its centre :math:`(p - 1/2)/L` strictly inside ``MIDDLE`` = (0.2, 0.8) of the
       depth). Not applicable with fewer than ``MIN_LAYERS_MIDDLE`` = 3 layers (no middle) or
       without a full-model barrier (from ``layerwise`` when given, else the cumulative
       barrier of all layers).
    3. **The averaging direction hurts far more than random directions of the same norm**
       (from :func:`~radonml.lmc.perturbation_robustness`, alphas containing 0 and 1/2): the
       raise of the metric by half the step toward B, :math:`L(\theta_A + \Delta^l/2) - L(\theta_A)`,
       averaged over layers, is at least ``FAR_MORE`` = 2 times the raise by random
       directions of the same norm (or random directions do not raise it at all). Raises, not
       values: the shared :math:`L(\theta_A)` would make any two small perturbations look alike.
       When the averaging step does not raise it, the finding does not hold (no ratio is
       reported when neither raises it). Not applicable when A and B are identical in every
       layer (steps of norm 0).
    4. **The interpolation direction is the most susceptible to noise** (from
       :func:`~radonml.lmc.subspace_perturbations`, scales containing 1/2): at the averaging
       step's norm :math:`D/2`, the raise of the metric (mean of A and B) is larger on the
       interpolation line than in the training subspace and than in the null space. Not
       applicable when :math:`D = 0` or there is nothing finite to compare with.

    Parameters
    ----------
    layerwise : LayerwiseResult, optional
    cumulative : CumulativeResult, optional
    robustness : RobustnessResult, optional
    subspace : SubspaceResult, optional
        Findings whose study is missing are left out.
    metric : str, default "loss"
        A metric of the results (``"error"`` reads 1 - accuracy).
    kind : {"linear", "mean", "max"}, default "linear"
        Barrier kind for findings 1 and 2 (see :func:`~radonml.lmc.barrier`).

    Returns
    -------
    Findings
        ``.findings`` (each with ``holds``, ``summary``, ``measured``), ``.text()``.

    Robustness alphas without 0 or 1/2, or subspace scales without 1/2, leave that finding
    not measured (``holds`` None); a degenerate input leaves it not applicable (``holds``
    None, ``applicable`` False, the summary saying why).

    Raises
    ------
    ValueError
        Unknown ``kind``.

    References
    ----------
    L. Adilova, M. Andriushchenko, M. Kamp, A. Fischer, M. Jaggi, "Layer-wise linear mode
    connectivity", ICLR 2024.

    Examples
    --------
    >>> from radonml.lmc.layerwise import LayerwiseResult
    >>> from radonml.lmc.barriers import PathResult
    >>> lw = LayerwiseResult(layers=["0", "2"], bases=["a"], alphas=np.array([0, 0.5, 1.0]),
    ...     endpoints={"loss": (0.1, 0.1)}, paths={}, barriers={"loss": {"linear": np.array([[0.1], [0.2]])}},
    ...     full_path=PathResult(np.array([0, 1.0]), {}), full_barriers={"loss": {"linear": 1.0}})
    >>> paper_findings(lw)["single_layer"].holds
    True

    Without a full-model barrier finding 1 is not applicable (no ratio to a zero barrier):

    >>> lw.full_barriers = {"loss": {"linear": 0.0}}
    >>> f = paper_findings(lw)["single_layer"]
    >>> f.holds, f.verdict, f.measured["ratio"]
    (None, 'not applicable', None)
    """
    check_kind(kind)
    out: List[Finding] = []
    exists = None  # without the layer-wise study, finding 2 reads the full barrier off the cumulative one
    if layerwise is not None:
        f1 = _single_layer(layerwise, metric, kind)
        exists = bool(f1.measured["full_barrier_exists"])
        out.append(f1)
    if cumulative is not None:
        out.append(_middle_layers(cumulative, metric, kind, exists))
    if robustness is not None:
        out.append(_averaging_direction(robustness, metric))
    if subspace is not None:
        out.append(_subspaces(subspace, metric))
    return Findings(findings=out, metric=metric, kind=kind)
