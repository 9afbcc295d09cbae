r"""Every study of :mod:`radonml.lmc` on one pair of models, and the paper's findings on them.

:func:`analyze_pair` is what ``radonml lmc`` runs, as one call: the full-model path and the
layer-wise barriers (both bases), the cumulative barriers (from the input and from the output,
both bases), per-layer robustness (the averaging direction against random directions of the
same norm), the training-subspace study (when the runs' checkpoints are given), and
:func:`~radonml.lmc.paper_findings` on them. It works on any pair of torch models, trained by
:func:`~radonml.lmc.train_pair` or loaded with :func:`~radonml.lmc.load_pair`.

References
----------
L. Adilova, M. Andriushchenko, M. Kamp, A. Fischer, M. Jaggi, "Layer-wise linear mode
connectivity", ICLR 2024.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional

import numpy as np
from torch import nn

from .._validation import check_int
from ._common import JSONMixin, barrier_metrics, check_alphas, check_kind
from .barriers import DEFAULT_RESOLUTION
from .findings import Findings, paper_findings
from .layerwise import CumulativeResult, LayerwiseResult, cumulative_barriers, layerwise_barriers
from .robustness import RobustnessResult, perturbation_robustness
from .subspaces import DEFAULT_SCALES, SubspaceResult, subspace_perturbations

__all__ = ["PairAnalysis", "analyze_pair", "STUDIES"]

#: The studies :func:`analyze_pair` can run, in the order it runs them.
STUDIES = ("layerwise", "cumulative", "robustness", "subspace")


@dataclass
class PairAnalysis(JSONMixin):
    r"""The results of :func:`analyze_pair`.

    Attributes
    ----------
    layerwise : LayerwiseResult
        Includes the whole-model path (``layerwise.full_path``) and its barriers.
    cumulative : CumulativeResult or None
    robustness : RobustnessResult or None
    subspace : SubspaceResult or None
        None without checkpoints.
    findings : Findings
        :func:`~radonml.lmc.paper_findings` of the studies run.
    timings_s : dict
        Study to ``{"wall": seconds, "cpu": seconds}`` (process CPU time, all threads).
    alignment : object or None
        The :class:`~radonml.lmc.AlignmentResult` B was aligned with (``align=``), else None.
    metric, kind : str
        What the summary tables report.

    Examples
    --------
    >>> import torch
    >>> from radonml.lmc import analyze_pair, classification_evaluator
    >>> _ = torch.manual_seed(0)
    >>> X, y = torch.randn(64, 4), torch.arange(64) % 2
    >>> a, b = torch.nn.Sequential(torch.nn.Linear(4, 2)), torch.nn.Sequential(torch.nn.Linear(4, 2))
    >>> res = analyze_pair(a, b, classification_evaluator((X, y)), alphas=3, n_draws=1)
    >>> [row["layer"] for row in res.per_layer()], sorted(res.timings_s)[:1]
    (['0'], ['cumulative'])
    """

    layerwise: LayerwiseResult
    cumulative: Optional[CumulativeResult] = None
    robustness: Optional[RobustnessResult] = None
    subspace: Optional[SubspaceResult] = None
    findings: Optional[Findings] = None
    timings_s: Dict[str, Dict[str, float]] = field(default_factory=dict)
    alignment: Optional[object] = None
    metric: str = "loss"
    kind: str = "linear"

    @property
    def full_path(self):
        """The whole-model path (a :class:`~radonml.lmc.PathResult`)."""
        return self.layerwise.full_path

    # ------------------------------------------------------------------ per layer
    def per_layer(self) -> List[Dict[str, object]]:
        """One row per layer: its single-layer barriers (every metric, both bases, kind
        ``self.kind``) and, with the robustness study, the raise of ``self.metric`` by half the
        step toward B and by a random direction of the same norm. A list of dicts, so that
        further per-layer measures are one more key."""
        lw, rows = self.layerwise, []
        for i, layer in enumerate(lw.layers):
            row: Dict[str, object] = {"layer": layer}
            for metric, kinds in lw.barriers.items():
                for j, b in enumerate(lw.bases):
                    row[f"{metric}_barrier_into_{b}"] = float(kinds[self.kind][i, j])
            rows.append(row)
        rb = self.robustness
        if rb is not None:
            i0 = int(np.argmin(np.abs(rb.alphas)))
            ih = int(np.argmin(np.abs(rb.alphas - 0.5)))
            interp = barrier_metrics(rb.interpolation)[self.metric]
            rand = barrier_metrics(rb.random_mean)[self.metric]
            index = {l: i for i, l in enumerate(rb.layers)}
            for row in rows:
                i = index.get(row["layer"])
                if i is not None:
                    row[f"{self.metric}_raise_toward_b"] = float(interp[i, ih] - interp[i, i0])
                    row[f"{self.metric}_raise_random"] = float(rand[i, ih] - interp[i, i0])
        return rows

    # ---------------------------------------------------------------------- text
    def table(self) -> str:
        """The analysis as plain-text tables, then the findings (what ``radonml lmc`` prints)."""
        lw, kind = self.layerwise, self.kind
        fp = lw.full_path
        out = [f"full path {self.metric} ({len(fp.alphas)} alphas): "
               + " ".join(f"{v:.3f}" for v in barrier_metrics(fp.metrics)[self.metric])]
        kinds = ("linear", "mean", "max")
        out.append(f"{'full-model barrier':<24}" + "".join(f"{k:>10}" for k in kinds))
        for metric, b in lw.full_barriers.items():
            out.append(f"  {metric:<22}" + "".join(f"{b[k]:>10.4f}" for k in kinds))
        if lw.search:
            full = lw.search["full"]
            n = np.asarray(lw.search["n_evals"])
            out.append(f"  ({lw.search['metric']} barriers found to {lw.search['resolution']:g}: "
                       f"{full['n_evals']} evaluations for the full path, {int(n.min())}-{int(n.max())} per layer path; "
                       f"{'all certified' if full['certified'] and np.all(lw.search['certified']) else 'NOT all certified'})")
        rows = self.per_layer()
        cols = [c for c in rows[0] if c != "layer"] if rows else []
        heads = {c: _head(c, self.metric) for c in cols}
        width = max([14] + [len(h) + 2 for h in heads.values()])
        out.append(f"per layer: barriers ({kind}); raise of the {self.metric} by half the step toward B and by a "
                   "random direction of the same norm")
        out.append(f"{'layer':<12}" + "".join(f"{heads[c]:>{width}}" for c in cols))
        for row in rows:
            out.append(f"{row['layer']:<12}" + "".join(f"{row[c]:>{width}.4f}" for c in cols))
        cu = self.cumulative
        if cu is not None:
            B = np.asarray(cu.barriers[self.metric][kind]).mean(axis=1)
            for di, d in enumerate(cu.directions):
                out.append(f"cumulative {self.metric} barrier ({kind}, mean of the bases), layers averaged from the {d}: "
                           + " ".join(f"{v:.3f}" for v in B[di]))
        sp = self.subspace
        if sp is not None and self.metric in sp.mean:
            out.append(f"subspaces: noise of norm s*D (D = {sp.distance:.4g}) raises the {self.metric} (mean of A, B) by")
            base = np.asarray(sp.unperturbed[self.metric])[:, None]
            out.append(f"  {'s =':<26}" + "".join(f" {s:>10g}" for s in sp.scales))
            for di, d in enumerate(sp.directions):
                label = d + (f" (dim {sp.subspace_dim})" if d == "training" else "")
                rise = (np.asarray(sp.mean[self.metric])[:, di, :] - base).mean(axis=0)
                out.append(f"  {label:<26}" + "".join(f" {v:>10.4g}" for v in rise))
        if self.findings is not None:
            out.append("findings of Adilova et al. (ICLR 2024) on this run:")
            out.append(self.findings.text())
        return "\n".join(out)

    def __str__(self) -> str:
        return self.table()

    def __repr__(self) -> str:
        lw = self.layerwise
        full = lw.full_barriers.get(self.metric, {}).get(self.kind, float("nan"))
        studies = [k for k in STUDIES if getattr(self, k, None) is not None]
        verdicts = ", ".join(f"{i}: {'-' if f.holds is None else 'holds' if f.holds else 'does not hold'}"
                             for i, f in enumerate(self.findings.findings if self.findings else [], 1))
        return (f"PairAnalysis({len(lw.layers)} layers, full-model {self.metric} barrier ({self.kind}) {full:.4g}, "
                f"studies {studies}, findings {{{verdicts}}})")

    # ------------------------------------------------------------------ figures
    def figures(self) -> Dict[str, object]:
        """File name to matplotlib Figure, one per study (:mod:`radonml.plot`)."""
        from ..plot import plot_cumulative_barriers, plot_layerwise_barriers, plot_path, plot_robustness, plot_subspace

        figs = {"path.png": plot_path(self.full_path, self.metric),
                "layerwise.png": plot_layerwise_barriers(self.layerwise, self.metric, self.kind)}
        if self.cumulative is not None:
            figs["cumulative.png"] = plot_cumulative_barriers(self.cumulative, self.metric, self.kind)
        if self.robustness is not None:
            figs["robustness.png"] = plot_robustness(self.robustness, self.metric)
        if self.subspace is not None:
            figs["subspace.png"] = plot_subspace(self.subspace, self.metric)
        return figs

    def save_figures(self, directory) -> List[str]:
        """Write :meth:`figures` as PNG files into ``directory``; returns the file names."""
        import matplotlib.pyplot as plt

        os.makedirs(directory, exist_ok=True)
        names = []
        for name, fig in self.figures().items():
            fig.savefig(os.path.join(directory, name), dpi=110)
            plt.close(fig)
            names.append(name)
        return names

    def to_dict(self) -> dict:
        """Every result as plain Python types (the JSON ``radonml lmc`` writes)."""
        d = {k: v for k, v in super().to_dict().items() if k != "alignment"}
        d["full_path"] = d["layerwise"]["full_path"]
        d["per_layer"] = self.per_layer()
        if self.alignment is not None:
            d["alignment"] = self.alignment.to_dict() if hasattr(self.alignment, "to_dict") else repr(self.alignment)
        return d


def _head(column: str, metric: str) -> str:
    """A column of :meth:`PairAnalysis.per_layer` as a table heading."""
    if "_barrier_into_" in column:
        m, b = column.split("_barrier_into_")
        return f"{m} into {b.upper()}"
    return {f"{metric}_raise_toward_b": "raise toward B", f"{metric}_raise_random": "raise random"}.get(column, column)


def _align(model_a, model_b, align, align_data, bn_data, evaluate):
    """The :class:`~radonml.lmc.AlignmentResult` of ``align``, resolved exactly as every study
    resolves its ``align=`` (weight matching with a fixed seed; activations on ``align_data``,
    else ``bn_data``, else the evaluator's data)."""
    from ._points import resolve_alignment, statistics_source

    if bn_data is not None and bn_data is not False and not isinstance(bn_data, (str, bytes, bool)):
        source = statistics_source(bn_data, evaluate)
    else:
        source = statistics_source(None, evaluate)
    return resolve_alignment(model_a, model_b, align, align_data, source)[1]


def _split_checkpoints(checkpoints):
    """``{"a": [...], "b": [...]}`` from a dict of two runs, or None and the flat list."""
    if isinstance(checkpoints, dict):
        if set(checkpoints) == {"a", "b"}:
            return {k: list(v) for k, v in checkpoints.items()}
        raise ValueError(f"checkpoints as a dict must hold the runs 'a' and 'b', got keys {sorted(checkpoints)}")
    return None


def analyze_pair(model_a: nn.Module, model_b: nn.Module, evaluate, *, checkpoints=None, alphas=11, n_draws: int = 5,
                 scales=DEFAULT_SCALES, per_layer_subspace: bool = False, resolution=DEFAULT_RESOLUTION, rng=0,
                 studies=STUDIES, metric: str = "loss", kind: str = "linear", align=None, align_data=None,
                 bn_data=None, groups=None, chunk_size=None,
                 progress: Optional[Callable[[str], None]] = None) -> PairAnalysis:
    r"""Every (layer-wise) linear mode connectivity study of two models, and the paper's findings.

    Runs, in this order, :func:`~radonml.lmc.layerwise_barriers` (both bases; it evaluates the
    whole-model path too), :func:`~radonml.lmc.cumulative_barriers` (both directions and bases),
    :func:`~radonml.lmc.perturbation_robustness` (on ``alphas`` with 1/2 added, the averaging
    step) and :func:`~radonml.lmc.subspace_perturbations` (when ``checkpoints`` are given),
    then :func:`~radonml.lmc.paper_findings`. With ``align``, B is aligned to A once, and the
    same alignment is used by every study (the checkpoints of B's run are permuted with it).

    Parameters
    ----------
    model_a, model_b : torch.nn.Module
        Same architecture.
    evaluate : callable(model) -> dict of float
        E.g. :func:`~radonml.lmc.classification_evaluator` or
        :func:`~radonml.lmc.make_evaluator` (regression too).
    checkpoints : dict ``{"a": [...], "b": [...]}`` or list, optional
        The runs' checkpoints (modules or state dicts), the initialization first, for the
        subspace study; without them it is skipped.
    alphas : int or array-like, default 11
        The grid of every path.
    n_draws : int, default 5
        Random directions per layer (robustness) and per subspace.
    scales : sequence of float, default (0, 0.05, 0.1, 0.25, 0.5)
        Noise norms of the subspace study (fractions of :math:`\lVert\theta_B - \theta_A\rVert`).
    per_layer_subspace : bool, default False
        Also run the subspace study per layer.
    resolution : float or None, default 1e-3
        Find the loss barriers of the whole-model, layer-wise and cumulative paths to this
        relative resolution (:func:`~radonml.lmc.search_barrier`), starting from the ``alphas``
        grid; None reads them off the grid.
    rng : int, None or numpy.random.Generator, default 0
        Seeds the random directions.
    studies : sequence of str, default all of :data:`STUDIES`
        Which studies to run (``"layerwise"`` always runs).
    metric, kind : str, default "loss", "linear"
        What the findings and the summary read (see :func:`~radonml.lmc.paper_findings`).
    align : None, "weight", "activation" or AlignmentResult
        Align B's hidden units to A's first (:func:`~radonml.lmc.weight_matching`,
        :func:`~radonml.lmc.activation_matching` on ``align_data``).
    align_data : optional
        Inputs for activation matching.
    bn_data : optional
        Passed to every study (BatchNorm statistics re-estimated on it; see
        :func:`~radonml.lmc.evaluate_path`).
    groups, chunk_size
        As in :func:`~radonml.lmc.evaluate_path`.
    progress : callable(str), optional
        Called with each study's name before it runs.

    Returns
    -------
    PairAnalysis
        ``.table()`` prints what ``radonml lmc`` prints, ``.to_dict()`` is its JSON,
        ``.save_figures(dir)`` its figures.

    Raises
    ------
    ValueError, TypeError
        As the studies; an unknown study, ``align`` or ``kind``.

    References
    ----------
    L. Adilova, M. Andriushchenko, M. Kamp, A. Fischer, M. Jaggi, "Layer-wise linear mode
    connectivity", ICLR 2024.

    Examples
    --------
    >>> import torch
    >>> from radonml.lmc import classification_evaluator
    >>> _ = torch.manual_seed(0)
    >>> X, y = torch.randn(64, 4), torch.arange(64) % 2
    >>> a, b = torch.nn.Sequential(torch.nn.Linear(4, 2)), torch.nn.Sequential(torch.nn.Linear(4, 2))
    >>> res = analyze_pair(a, b, classification_evaluator((X, y)), alphas=3, n_draws=1)
    >>> res.layerwise.layers, [f.key for f in res.findings.findings]
    (['0'], ['single_layer', 'middle_layers', 'averaging_direction'])
    """
    check_kind(kind)
    n_draws = check_int(n_draws, "n_draws", minimum=1)
    unknown = [s for s in studies if s not in STUDIES]
    if unknown:
        raise ValueError(f"studies must be a subset of {STUDIES}, got {unknown}")
    al = check_alphas(alphas)
    runs = _split_checkpoints(checkpoints)
    alignment = None
    if align is not None:
        alignment = _align(model_a, model_b, align, align_data, bn_data, evaluate)
        model_b = alignment.model
        if runs is not None:
            runs["b"] = [alignment.apply(c.state_dict() if isinstance(c, nn.Module) else c) for c in runs["b"]]
        elif checkpoints is not None:
            raise ValueError("with align=, pass checkpoints as {'a': [...], 'b': [...]} so that B's run is "
                             "permuted with B")
    common = dict(groups=groups, chunk_size=chunk_size)
    if bn_data is not None:
        common["bn_data"] = bn_data
    timings: Dict[str, Dict[str, float]] = {}

    def timed(name, fn):
        if progress is not None:
            progress(name)
        w, c = time.perf_counter(), time.process_time()
        out = fn()
        timings[name] = {"wall": time.perf_counter() - w, "cpu": time.process_time() - c}
        return out

    res = PairAnalysis(layerwise=timed("layerwise", lambda: layerwise_barriers(
        model_a, model_b, evaluate, base="both", alphas=al, resolution=resolution, **common)), metric=metric,
        kind=kind, alignment=alignment)
    if "cumulative" in studies:
        res.cumulative = timed("cumulative", lambda: cumulative_barriers(
            model_a, model_b, evaluate, direction="both", base="both", alphas=al, resolution=resolution, **common))
    if "robustness" in studies:
        ra = np.union1d(al[(al >= 0) & (al <= 1)], [0.0, 0.5])
        res.robustness = timed("robustness", lambda: perturbation_robustness(
            model_a, model_b, evaluate, n_draws=n_draws, rng=rng, alphas=ra, **common))
    if "subspace" in studies and checkpoints is not None:
        ck = runs if runs is not None else checkpoints
        res.subspace = timed("subspace", lambda: subspace_perturbations(
            model_a, model_b, ck, evaluate, scales=scales, n_draws=n_draws, per_layer=per_layer_subspace, rng=rng,
            origin="first", **common))
    res.findings = paper_findings(res.layerwise, res.cumulative, res.robustness, res.subspace, metric=metric,
                                  kind=kind)
    res.timings_s = timings
    return res
