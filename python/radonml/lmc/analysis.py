r"""Every study of :mod:`radonml.lmc` on one pair of models, and the paper's findings on them.

:func:`analyze_pair` is what ``radonml lmc`` runs, as one call: the full-model path and the
layer-wise barriers (both bases), the cumulative barriers (from the input and from the output,
both bases), per-layer robustness (the averaging direction against random directions of the
same norm), the training-subspace study (when the runs' checkpoints are given), and
:func:`~radonml.lmc.paper_findings` on them; with ``flatness=True`` also each layer's relative
flatness in both models (:func:`radonml.flatness.relative_flatness`), beside its single-layer
barriers and robustness, for the seed's claim "flatter -> more robust -> lower layer barriers". It works on any pair of torch models, trained by
:func:`~radonml.lmc.train_pair` or loaded with :func:`~radonml.lmc.load_pair`.

References
----------
L. Adilova, M. Andriushchenko, M. Kamp, A. Fischer, M. Jaggi, "Layer-wise linear mode
connectivity", ICLR 2024.
H. Petzka, M. Kamp, L. Adilova, C. Sminchisescu, M. Boley, "Relative flatness and
generalization", NeurIPS 2021.
"""

from __future__ import annotations

import numbers
import os
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional

import numpy as np
from torch import nn

from .._validation import check_int, check_rng
from ._common import JSONMixin, barrier_metrics, check_alphas, check_kind
from .barriers import DEFAULT_RESOLUTION
from .findings import Findings, paper_findings
from .layerwise import CumulativeResult, LayerwiseResult, cumulative_barriers, layerwise_barriers
from .loading import check_data_fits
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
    flatness : dict or None
        With ``flatness=True``: ``{"layers": [...], "weights": [...], "a": [...], "b": [...]}``,
        per layer the 2-D weight measured (None for a layer without exactly one, e.g. a
        convolution) and each model's :class:`radonml.flatness.FlatnessResult` (None where
        not measured). Else None.

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
    flatness: Optional[Dict[str, list]] = None

    @property
    def full_path(self):
        """The whole-model path (a :class:`~radonml.lmc.PathResult`)."""
        return self.layerwise.full_path

    # ------------------------------------------------------------------ per layer
    def per_layer(self) -> List[Dict[str, object]]:
        r"""One row per layer: its single-layer barriers (every metric, both bases, kind
        ``self.kind``) and, with the robustness study, the raise of ``self.metric`` by half the
        step toward B and by a random direction of the same norm; with the flatness study, the
        relative flatness :math:`\kappa` of the layer's weight in A and in B
        (``relative_flatness_a``, ``relative_flatness_b``; None where not measured). A list of
        dicts, so that further per-layer measures are one more key."""
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
        fl = self.flatness
        if fl is not None:
            index = {l: i for i, l in enumerate(fl["layers"])}
            for row in rows:
                i = index.get(row["layer"])
                for m in ("a", "b"):
                    r = None if i is None else fl[m][i]
                    row[f"relative_flatness_{m}"] = None if r is None else float(r.value)
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
                   "random direction of the same norm" + ("; relative flatness of the layer in A and B"
                                                          if self.flatness is not None else ""))
        out.append(f"{'layer':<12}" + "".join(f"{heads[c]:>{width}}" for c in cols))
        for row in rows:
            out.append(f"{row['layer']:<12}" + "".join(f"{_cell(c, row[c]):>{width}}" for c in cols))
        if self.flatness is not None:
            out.append(_flatness_note(self.flatness))
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

        from ..plot import plot_layer_flatness

        figs = {"path.png": plot_path(self.full_path, self.metric),
                "layerwise.png": plot_layerwise_barriers(self.layerwise, self.metric, self.kind)}
        if self.cumulative is not None:
            figs["cumulative.png"] = plot_cumulative_barriers(self.cumulative, self.metric, self.kind)
        if self.robustness is not None:
            figs["robustness.png"] = plot_robustness(self.robustness, self.metric)
        if self.subspace is not None:
            figs["subspace.png"] = plot_subspace(self.subspace, self.metric)
        if self.flatness is not None and any(w is not None for w in self.flatness["weights"]):
            figs["flatness.png"] = plot_layer_flatness(self, self.metric, self.kind)
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
        if self.findings is not None:  # each finding with its verdict ("not applicable", ...)
            d["findings"] = self.findings.to_dict()
        if self.alignment is not None:
            d["alignment"] = self.alignment.to_dict() if hasattr(self.alignment, "to_dict") else repr(self.alignment)
        return d


def _head(column: str, metric: str) -> str:
    """A column of :meth:`PairAnalysis.per_layer` as a table heading."""
    if "_barrier_into_" in column:
        m, b = column.split("_barrier_into_")
        return f"{m} into {b.upper()}"
    return {f"{metric}_raise_toward_b": "raise toward B", f"{metric}_raise_random": "raise random",
            "relative_flatness_a": "flatness A", "relative_flatness_b": "flatness B"}.get(column, column)


def _cell(column: str, value) -> str:
    if value is None:
        return "-"
    return f"{value:.4g}" if column.startswith("relative_flatness_") else f"{value:.4f}"


def _flatness_note(fl) -> str:
    """How the flatness column was measured (method, probes, examples; the widest interval)."""
    res = [r for m in ("a", "b") for r in fl[m] if r is not None]
    if not res:
        return "relative flatness: no layer with one 2-D weight to measure"
    methods = sorted({r.method for r in res})
    text = (f"relative flatness kappa (Petzka et al. 2021) of each layer's weight on {res[0].n_examples} examples, "
            + " / ".join(methods))
    hut = [r for r in res if r.method == "hutchinson"]
    if hut:
        rel = [(r.interval[1] - r.interval[0]) / 2 / abs(r.value) for r in hut if r.interval is not None and r.value]
        text += f" ({hut[0].n_probes} probes, seed {hut[0].seed}"
        text += f"; 95% intervals within ±{100 * max(rel):.0f}%)" if rel else ")"
    skipped = [l for l, w in zip(fl["layers"], fl["weights"]) if w is None]
    if skipped:
        text += f"; not measured (no single 2-D weight): {', '.join(skipped)}"
    return text


def _evaluator_loss(evaluate) -> Callable:
    """The batch-mean loss that an evaluator measures, as ``loss_fn(output, target)`` for
    :mod:`radonml.flatness`: cross-entropy (or the evaluator's ``loss_fn``) for a
    :class:`~radonml.lmc.ClassificationEvaluator`, the mean squared error for a regression
    evaluator of ``"mse"`` (targets reshaped to the output's shape, as the evaluator does).

    Parameters
    ----------
    evaluate : ClassificationEvaluator or RegressionEvaluator

    Returns
    -------
    callable(output, target) -> 0-d Tensor

    Raises
    ------
    ValueError
        Another evaluator, or an ``"l1"`` regression evaluator (its Hessian is zero almost
        everywhere): pass ``flatness_loss=`` to :func:`analyze_pair`.

    Examples
    --------
    >>> import torch
    >>> from radonml.lmc import classification_evaluator
    >>> loss = _evaluator_loss(classification_evaluator((torch.zeros(2, 3), torch.tensor([0, 1]))))
    >>> round(float(loss(torch.zeros(2, 3), torch.tensor([0, 1]))), 4)  # log 3
    1.0986
    """
    import torch

    from .evaluators import ClassificationEvaluator
    from .loading import RegressionEvaluator

    if isinstance(evaluate, ClassificationEvaluator):
        return evaluate.loss_fn if evaluate.loss_fn is not None else torch.nn.functional.cross_entropy
    if isinstance(evaluate, RegressionEvaluator) and (evaluate.loss == "mse" or callable(evaluate.loss)):
        base = evaluate.loss if callable(evaluate.loss) else torch.nn.functional.mse_loss

        def loss(out, y):
            return base(out, y.reshape(out.shape) if y.numel() == out.numel() else y)

        return loss
    what = f"a regression evaluator of {evaluate.loss!r}" if isinstance(evaluate, RegressionEvaluator) \
        else type(evaluate).__name__
    raise ValueError(f"flatness needs a twice-differentiable loss; cannot take it from {what}: pass flatness_loss=")


def _flatness_study(model_a, model_b, groups, data, loss_fn, method, n_probes, seed):
    """Relative flatness of each layer's one 2-D weight in both models (seeds as
    :func:`radonml.flatness.layerwise_flatness`: ``seed + 2 i`` for the i-th measured weight)."""
    from ..flatness import relative_flatness

    params = dict(model_a.named_parameters())
    weights = []
    for layer, keys in groups.items():
        mats = [k for k in keys if k in params and params[k].ndim == 2]
        weights.append(mats[0] if len(mats) == 1 else None)
    out = {"layers": list(groups), "weights": weights, "a": [], "b": []}
    for m, model in (("a", model_a), ("b", model_b)):
        i = 0
        for w in weights:
            if w is None:
                out[m].append(None)
                continue
            out[m].append(relative_flatness(model, data, layer=w, loss_fn=loss_fn, method=method, n_probes=n_probes,
                                            seed=seed + 2 * i))
            i += 1
    return out


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
                 progress: Optional[Callable[[str], None]] = None, flatness: bool = False, flatness_data=None,
                 flatness_method: str = "auto", flatness_probes: int = 20, flatness_loss=None) -> PairAnalysis:
    r"""Every (layer-wise) linear mode connectivity study of two models, and the paper's findings.

    Runs, in this order, :func:`~radonml.lmc.layerwise_barriers` (both bases; it evaluates the
    whole-model path too), :func:`~radonml.lmc.cumulative_barriers` (both directions and bases),
    :func:`~radonml.lmc.perturbation_robustness` (on ``alphas`` with 1/2 added, the averaging
    step) and :func:`~radonml.lmc.subspace_perturbations` (when ``checkpoints`` are given),
    then :func:`~radonml.lmc.paper_findings`. With ``align``, B is aligned to A once, and the
    same alignment is used by every study (the checkpoints of B's run are permuted with it).

    With ``flatness=True``, last, the relative flatness (Petzka et al., 2021) of each layer's
    weight :math:`W \in \mathbb R^{d\times m}` (rows :math:`w_s`) in A and in B,

    .. math:: \kappa(W) = \sum_{s,s'=1}^{d} \langle w_s, w_{s'}\rangle\,\mathrm{Tr}(H_{s,s'}),

    :math:`H_{s,s'}` the blocks of the Hessian of the mean loss on ``flatness_data`` with
    respect to :math:`W` (:func:`radonml.flatness.relative_flatness`): one column beside the
    layer's single-layer barriers and robustness in :meth:`PairAnalysis.per_layer`, the
    table, the JSON and a figure (:func:`radonml.plot.plot_layer_flatness`). It is invariant
    to the rescalings of a ReLU network that leave its function unchanged, which the Hessian
    trace is not. Layers without exactly one 2-D weight (convolutions, normalization layers)
    get None.

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
    flatness : bool, default False
        Also measure each layer's relative flatness in both models (timed as ``"flatness"``).
    flatness_data : (X, y) pair or DataLoader, optional
        The data the loss is taken on (default: the evaluator's own data, ``evaluate.data``).
    flatness_method : {"auto", "exact", "hutchinson"}, default "auto"
        As ``method`` of :func:`radonml.flatness.relative_flatness`: ``"auto"`` is exact for
        layers of at most 4096 weights, else Hutchinson's estimate with an interval.
    flatness_probes : int, default 20
        Probe matrices per Hutchinson estimate (on the default ``radonml lmc`` model, 20 give
        95% intervals within ±30% of the value for every layer; ``benchmarks/lmc.md``, section 9).
    flatness_loss : callable(output, target) -> scalar, optional
        The batch-mean loss (default: the evaluator's: cross-entropy, or its ``loss_fn``, for
        :func:`~radonml.lmc.classification_evaluator`; the mean squared error for a regression
        evaluator of ``"mse"``; required otherwise, e.g. for ``"l1"``, whose Hessian is zero
        almost everywhere).

    Returns
    -------
    PairAnalysis
        ``.table()`` prints what ``radonml lmc`` prints, ``.to_dict()`` is its JSON,
        ``.save_figures(dir)`` its figures.

    Raises
    ------
    ValueError, TypeError
        As the studies; data or a loss that does not fit model A (checked first, with one
        forward pass on a few examples: :func:`~radonml.lmc.loading.check_data_fits`); an
        unknown study, ``align`` or ``kind``; ``flatness`` not a bool,
        ``flatness_method`` unknown, ``flatness_probes < 1``, no data or no loss for the
        flatness study.

    References
    ----------
    L. Adilova, M. Andriushchenko, M. Kamp, A. Fischer, M. Jaggi, "Layer-wise linear mode
    connectivity", ICLR 2024.
    H. Petzka, M. Kamp, L. Adilova, C. Sminchisescu, M. Boley, "Relative flatness and
    generalization", NeurIPS 2021.

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

    With the flatness column (exact for this small layer):

    >>> res = analyze_pair(a, b, classification_evaluator((X, y)), alphas=3, n_draws=1, flatness=True)
    >>> row = res.per_layer()[0]
    >>> row["relative_flatness_a"] > 0, res.flatness["a"][0].method
    (True, 'exact')
    """
    check_kind(kind)
    if not isinstance(flatness, (bool, np.bool_)):
        raise TypeError(f"flatness must be True or False, got {flatness!r}")
    if flatness:
        if flatness_method not in ("auto", "exact", "hutchinson"):
            raise ValueError(f"flatness_method must be 'auto', 'exact' or 'hutchinson', got {flatness_method!r}")
        flatness_probes = check_int(flatness_probes, "flatness_probes", minimum=1)
        fdata = flatness_data if flatness_data is not None else getattr(evaluate, "data", None)
        if fdata is None:
            raise ValueError("flatness=True needs data to take the loss on: pass flatness_data= (X, y) or a DataLoader "
                             "(or an evaluate that holds its data, such as classification_evaluator)")
        floss = flatness_loss if flatness_loss is not None else _evaluator_loss(evaluate)
        if not callable(floss):
            raise TypeError(f"flatness_loss must be callable(output, target), got {type(floss).__name__}")
    n_draws = check_int(n_draws, "n_draws", minimum=1)
    unknown = [s for s in studies if s not in STUDIES]
    if unknown:
        raise ValueError(f"studies must be a subset of {STUDIES}, got {unknown}")
    al = check_alphas(alphas)
    check_data_fits(model_a, evaluate)  # one forward pass on a few examples, before any study
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
    if flatness:
        from ._points import resolve_groups

        if isinstance(rng, numbers.Integral) and not isinstance(rng, bool) and rng >= 0:
            fseed = int(rng)
        else:
            fseed = int(check_rng(rng).integers(0, 2**62))
        res.flatness = timed("flatness", lambda: _flatness_study(
            model_a, model_b, resolve_groups(model_a, groups), fdata, floss, flatness_method, flatness_probes,
            fseed))
    res.findings = paper_findings(res.layerwise, res.cumulative, res.robustness, res.subspace, metric=metric,
                                  kind=kind)
    res.timings_s = timings
    return res
