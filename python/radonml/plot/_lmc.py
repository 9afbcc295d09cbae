"""Figures of (layer-wise) linear mode connectivity (see radonml.plot and radonml.lmc).

Each function takes a result object of :mod:`radonml.lmc` (or :mod:`radonml.linear`,
:mod:`radonml.dln`) and returns a matplotlib Figure; matplotlib is imported on first use.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "plot_path",
    "plot_layerwise_barriers",
    "plot_cumulative_barriers",
    "plot_robustness",
    "plot_subspace",
    "plot_layer_flatness",
]


def _plt():
    import matplotlib.pyplot as plt

    return plt


def _axes(ax, figsize):
    plt = _plt()
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
    else:
        fig = ax.figure
    return fig, ax


_ERROR_ALIASES = ("accuracy", "acc")  # metrics whose barrier is taken of the error 1 - accuracy


def _values(metrics, metric):
    if metric in metrics:
        return np.asarray(metrics[metric], dtype=float)
    if metric == "error":
        for alias in _ERROR_ALIASES:
            if alias in metrics:
                return 1.0 - np.asarray(metrics[alias], dtype=float)
    raise ValueError(f"metric must be one of {sorted(metrics)}, got {metric!r}")


def plot_path(path, metric: str = "loss", *, endpoints=None, ax=None, title=None):
    """A metric along an interpolation path, with the three barrier definitions marked.

    The ``"linear"`` barrier is drawn as the vertical gap to the chord between the endpoints,
    the ``"mean"`` one against the endpoints' mean, the ``"max"`` one against the larger
    endpoint (Adilova et al., ICLR 2024).

    Parameters
    ----------
    path : PathResult
    metric : str, default "loss"
        ``"error"`` (or ``"accuracy"``) plots 1 - accuracy, the quantity barriers are defined on.
    endpoints : (float, float), optional
        Reference values of ``metric`` (e.g. the full models' for a layer-wise path);
        accuracies for ``metric="accuracy"``, like :func:`radonml.lmc.barrier`.
    ax : matplotlib Axes, optional
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import torch
    >>> from radonml import lmc, plot
    >>> _ = torch.manual_seed(0)
    >>> X, y = torch.randn(32, 3), torch.arange(32) % 2
    >>> mlp = lambda: torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    >>> a, b, ev = mlp(), mlp(), lmc.classification_evaluator((X, y))
    >>> fig = plot.plot_path(lmc.evaluate_path(a, b, ev, alphas=5))
    >>> fig.axes[0].get_ylabel()
    'loss'
    >>> plt.close(fig)
    """
    import warnings

    from ..exceptions import EndpointMismatchWarning

    name = "error" if metric in _ERROR_ALIASES + ("error",) else metric
    with warnings.catch_warnings():  # the plot shows all three barriers; the mean one's caveat is in its docs
        warnings.simplefilter("ignore", EndpointMismatchWarning)
        b = {k: path.barrier(metric, k, endpoints=endpoints) for k in ("linear", "mean", "max")}
    v = _values(path.metrics, name)
    fig, ax = _axes(ax, (5.5, 3.8))
    a = np.asarray(path.alphas, dtype=float)
    ax.plot(a, v, "o-", color="k", label=f"{name} along the path")
    if endpoints is None:
        la, lb = float(v[np.argmin(np.abs(a))]), float(v[np.argmin(np.abs(a - 1))])
    else:
        la, lb = (float(e) for e in endpoints)  # a pair of numbers: path.barrier checked it
        if metric in _ERROR_ALIASES:
            la, lb = 1.0 - la, 1.0 - lb
    inside = (a >= 0) & (a <= 1)
    ai, vi = a[inside], v[inside]
    chord = (1 - ai) * la + ai * lb
    i_lin = int(np.argmax(vi - chord))
    i_max = int(np.argmax(vi))
    ax.plot([0, 1], [la, lb], "--", color="tab:blue", lw=1)
    ax.vlines(ai[i_lin], chord[i_lin], vi[i_lin], color="tab:blue", lw=2.5,
              label=f"linear barrier {b['linear']:.3g}")
    mean = 0.5 * (la + lb)
    ax.axhline(mean, ls=":", color="tab:orange", lw=1)
    ax.vlines(ai[i_max] + 0.01, mean, vi[i_max], color="tab:orange", lw=2.5, label=f"mean barrier {b['mean']:.3g}")
    ax.axhline(max(la, lb), ls="-.", color="tab:green", lw=1)
    ax.vlines(ai[i_max] + 0.02, max(la, lb), vi[i_max], color="tab:green", lw=2.5,
              label=f"max barrier {b['max']:.3g}")
    ax.set_xlabel(r"$\alpha$")
    ax.set_ylabel(name)
    ax.set_title(title or "interpolation path")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_layerwise_barriers(result, metric: str = "loss", kind: str = "mean", *, ax=None, title=None):
    """Heat map of layer-wise barriers (layers x bases), the full-model barrier in the title.

    Parameters
    ----------
    result : LayerwiseResult
    metric : str, default "loss"
        ``"loss"`` or ``"error"`` (or another metric of the evaluator).
    kind : {"linear", "mean", "max"}, default "mean"

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import torch
    >>> from radonml import lmc, plot
    >>> _ = torch.manual_seed(0)
    >>> X, y = torch.randn(32, 3), torch.arange(32) % 2
    >>> mlp = lambda: torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    >>> a, b, ev = mlp(), mlp(), lmc.classification_evaluator((X, y))
    >>> fig = plot.plot_layerwise_barriers(lmc.layerwise_barriers(a, b, ev, alphas=3))
    >>> [t.get_text() for t in fig.axes[0].get_yticklabels()]
    ['0', '2']
    >>> plt.close(fig)
    """
    fig, ax = _axes(ax, (1.8 + 1.3 * len(result.bases), 1.2 + 0.45 * len(result.layers)))
    B = np.asarray(result.barriers[metric][kind], dtype=float)
    full = float(result.full_barriers[metric][kind])
    vmax = max(abs(full), np.abs(B).max(), 1e-12)
    im = ax.imshow(B, cmap="magma", vmin=min(0.0, B.min()), vmax=vmax, aspect="auto")
    for i in range(B.shape[0]):
        for j in range(B.shape[1]):
            ax.text(j, i, f"{B[i, j]:.3g}", ha="center", va="center", fontsize=8,
                    color="w" if B[i, j] < 0.6 * vmax else "k")
    ax.set_xticks(range(len(result.bases)))
    ax.set_xticklabels([f"into {b.upper()}" for b in result.bases])
    ax.set_yticks(range(len(result.layers)))
    ax.set_yticklabels(result.layers)
    ax.set_ylabel("interpolated layer")
    fig.colorbar(im, ax=ax, label=f"{metric} barrier ({kind})")
    ax.set_title(title or f"layer-wise barriers (full model: {full:.3g})", fontsize=10)
    fig.tight_layout()
    return fig


def plot_cumulative_barriers(result, metric: str = "loss", kind: str = "mean", *, ax=None, title=None):
    """Barrier against the number of averaged layers, from the input and from the output.

    Parameters
    ----------
    result : CumulativeResult
    metric, kind : as in :func:`plot_layerwise_barriers`

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import torch
    >>> from radonml import lmc, plot
    >>> _ = torch.manual_seed(0)
    >>> X, y = torch.randn(32, 3), torch.arange(32) % 2
    >>> mlp = lambda: torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    >>> a, b, ev = mlp(), mlp(), lmc.classification_evaluator((X, y))
    >>> fig = plot.plot_cumulative_barriers(lmc.cumulative_barriers(a, b, ev, alphas=3))
    >>> fig.axes[0].get_xlabel()
    'number of averaged layers'
    >>> plt.close(fig)
    """
    fig, ax = _axes(ax, (5.5, 3.8))
    B = np.asarray(result.barriers[metric][kind], dtype=float)
    styles = {"input": "o-", "output": "s--"}
    for di, d in enumerate(result.directions):
        for bi, b in enumerate(result.bases):
            ax.plot(result.counts, B[di, bi], styles.get(d, "o-"), label=f"from the {d}, rest from {b.upper()}")
    ax.set_xlabel("number of averaged layers")
    ax.set_ylabel(f"{metric} barrier ({kind})")
    ax.set_xticks(result.counts)
    ax.set_title(title or "cumulative barriers")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_robustness(result, metric: str = "loss", *, title=None):
    """Per layer: the metric moving toward model B vs. random directions of the same norm.

    Parameters
    ----------
    result : RobustnessResult
    metric : str, default "loss"

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import torch
    >>> from radonml import lmc, plot
    >>> _ = torch.manual_seed(0)
    >>> X, y = torch.randn(32, 3), torch.arange(32) % 2
    >>> mlp = lambda: torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    >>> a, b, ev = mlp(), mlp(), lmc.classification_evaluator((X, y))
    >>> fig = plot.plot_robustness(lmc.perturbation_robustness(a, b, ev, n_draws=2, rng=0, alphas=3))
    >>> [ax.get_title() for ax in fig.axes]
    ['layer 0', 'layer 2']
    >>> plt.close(fig)
    """
    plt = _plt()
    n = len(result.layers)
    cols = min(n, 4)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.0 * cols, 2.6 * rows), squeeze=False, sharey=True)
    a = np.asarray(result.alphas)
    for i, l in enumerate(result.layers):
        ax = axes[i // cols][i % cols]
        ax.plot(a, _values(result.interpolation, metric)[i], "o-", color="tab:red", label="toward B")
        m = _values(result.random_mean, metric)[i]
        s = np.asarray(result.random_std[metric])[i] if metric in result.random_std else np.zeros_like(m)
        ax.plot(a, m, "s-", color="tab:gray", label="random")
        ax.fill_between(a, m - s, m + s, color="tab:gray", alpha=0.3)
        ax.set_title(f"layer {l}", fontsize=9)
        ax.set_xlabel(r"step / $\|\theta_B^l - \theta_A^l\|$")
    for j in range(n, rows * cols):
        axes[j // cols][j % cols].axis("off")
    axes[0][0].set_ylabel(metric)
    axes[0][0].legend(fontsize=8)
    fig.suptitle(title or "robustness: averaging direction vs random directions", fontsize=10)
    fig.tight_layout()
    return fig


def plot_subspace(result, metric: str = "loss", *, title=None):
    """The metric against the noise norm on the interpolation line (both signs), in the training
    subspace and in its orthogonal complement, for each model (and each layer with
    ``per_layer``); a dotted line marks the averaging step's norm (1/2), where
    :func:`radonml.lmc.paper_findings` reads the comparison. The y axis is logarithmic when the
    curves span more than a factor 50.

    Parameters
    ----------
    result : SubspaceResult
    metric : str, default "loss"

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import torch
    >>> from radonml import lmc, plot
    >>> _ = torch.manual_seed(0)
    >>> X, y = torch.randn(32, 3), torch.arange(32) % 2
    >>> mlp = lambda: torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    >>> a, b, ev = mlp(), mlp(), lmc.classification_evaluator((X, y))
    >>> res = lmc.subspace_perturbations(a, b, [mlp(), a, b], ev, scales=[0.0, 0.5], n_draws=2, rng=0)
    >>> fig = plot.plot_subspace(res)
    >>> fig.axes[0].get_title()
    'whole model'
    >>> plt.close(fig)
    """
    plt = _plt()
    panels = [("whole model", np.asarray(result.mean[metric]), np.asarray(result.std[metric]))]
    if result.layers:
        for i, l in enumerate(result.layers):
            panels.append((f"layer {l}", np.asarray(result.layer_mean[metric])[i], np.asarray(result.layer_std[metric])[i]))
    cols = min(len(panels), 4)
    rows = (len(panels) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(max(5.0, 3.2 * cols), 3.0 * rows), squeeze=False)
    colors = {"interpolation": "tab:red", "training": "tab:blue", "null": "tab:gray"}
    s = np.asarray(result.scales)
    for p, (name, M, S) in enumerate(panels):
        ax = axes[p // cols][p % cols]
        for mi, mname in enumerate(result.models):
            for di, d in enumerate(result.directions):
                ls = "-" if mi == 0 else "--"
                ax.plot(s, M[mi, di], ls, marker="o", ms=3, color=colors.get(d), label=f"{d} ({mname.upper()})")
                ax.fill_between(s, M[mi, di] - S[mi, di], M[mi, di] + S[mi, di], color=colors.get(d), alpha=0.15)
        if np.any(np.isclose(s, 0.5)):
            ax.axvline(0.5, ls=":", color="k", lw=0.8)  # the averaging step's norm, where the finding is read
        ax.set_title(name, fontsize=9)
        ax.set_xlabel(r"noise norm / $\|\theta_B - \theta_A\|$")
        positive = M[np.isfinite(M) & (M > 0)]
        if positive.size and positive.max() > 50 * positive.min():
            ax.set_yscale("log")
    for j in range(len(panels), rows * cols):
        axes[j // cols][j % cols].axis("off")
    axes[0][0].set_ylabel(metric)
    axes[0][0].legend(fontsize=7)
    fig.suptitle(title or f"perturbations (training subspace of dimension {result.subspace_dim})", fontsize=10)
    fig.tight_layout()
    return fig


def plot_layer_flatness(analysis, metric: str = "loss", kind: str = "linear", *, title=None):
    r"""Per layer: the relative flatness :math:`\kappa` of models A and B (left) beside the
    single-layer barriers into A and into B (right), on one layer axis.

    Hutchinson estimates are drawn with their confidence intervals; the flatness axis is
    logarithmic when the values span more than a factor 20. With the robustness study, the
    right panel also shows the raise of ``metric`` by a random direction of the averaging
    step's norm (half the step), the seed's link between flatness and barriers.

    Parameters
    ----------
    analysis : PairAnalysis
        Of :func:`radonml.lmc.analyze_pair` with ``flatness=True``.
    metric : str, default "loss"
        The barriers' metric (``"loss"`` or ``"error"``).
    kind : {"linear", "mean", "max"}, default "linear"

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        ``analysis`` has no flatness study, or ``metric``/``kind`` unknown.

    References
    ----------
    H. Petzka, M. Kamp, L. Adilova, C. Sminchisescu, M. Boley, "Relative flatness and
    generalization", NeurIPS 2021.

    Examples
    --------
    >>> import torch
    >>> from radonml.lmc import analyze_pair, classification_evaluator
    >>> from radonml.plot import plot_layer_flatness
    >>> _ = torch.manual_seed(0)
    >>> X, y = torch.randn(32, 3), torch.arange(32) % 2
    >>> mlp = lambda: torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    >>> res = analyze_pair(mlp(), mlp(), classification_evaluator((X, y)), alphas=3, n_draws=1,
    ...                    studies=("layerwise",), flatness=True)
    >>> fig = plot_layer_flatness(res)
    >>> [ax.get_xlabel() for ax in fig.axes]
    ['layer', 'layer']
    """
    fl = getattr(analysis, "flatness", None)
    if fl is None:
        raise ValueError("analysis has no flatness study: run analyze_pair(..., flatness=True)")
    lw = analysis.layerwise
    if metric not in lw.barriers:
        raise ValueError(f"metric must be one of {sorted(lw.barriers)}, got {metric!r}")
    if kind not in lw.barriers[metric]:
        raise ValueError(f"kind must be one of {sorted(lw.barriers[metric])}, got {kind!r}")
    plt = _plt()
    layers = list(lw.layers)
    x = np.arange(len(layers))
    index = {l: i for i, l in enumerate(fl["layers"])}
    fig, (ax_k, ax_b) = plt.subplots(1, 2, figsize=(max(8.0, 4.0 + 0.45 * len(layers)), 3.8), sharex=True)
    values = []
    for m, (color, marker, dx) in (("a", ("tab:blue", "o", -0.08)), ("b", ("tab:orange", "s", 0.08))):
        k, lo, hi = (np.full(len(layers), np.nan) for _ in range(3))
        for i, l in enumerate(layers):
            r = fl[m][index[l]] if l in index else None
            if r is None:
                continue
            k[i] = r.value
            lo[i], hi[i] = r.interval if r.interval is not None else (r.value, r.value)
        ok = np.isfinite(k)
        if ok.any():
            ax_k.errorbar(x[ok] + dx, k[ok], yerr=[k[ok] - lo[ok], hi[ok] - k[ok]], fmt=marker + "-", color=color,
                          ms=4, capsize=2, label=f"model {m.upper()}")
            values.append(k[ok])
    pos = np.concatenate(values) if values else np.array([])
    pos = pos[pos > 0]
    if pos.size and pos.max() > 20 * pos.min():
        ax_k.set_yscale("log")
    ax_k.set_ylabel(r"relative flatness $\kappa$")
    ax_k.set_title("relative flatness of each layer", fontsize=10)
    if values:
        ax_k.legend(fontsize=8)
    B = np.asarray(lw.barriers[metric][kind], dtype=float)
    for j, base in enumerate(lw.bases):
        ax_b.plot(x, B[:, j], "o-" if j == 0 else "s--", ms=4, label=f"barrier, into {base.upper()}")
    rows = analysis.per_layer()
    key = f"{analysis.metric}_raise_random"
    if metric == analysis.metric and rows and key in rows[0]:
        ax_b.plot(x, [r.get(key, np.nan) for r in rows], "^:", color="tab:gray", ms=4,
                  label="raise by a random direction")
    ax_b.axhline(0.0, color="k", lw=0.6)
    ax_b.set_ylabel(f"{metric} ({kind} barrier)")
    ax_b.set_title(f"single-layer barriers (full model: {float(lw.full_barriers[metric][kind]):.3g})", fontsize=10)
    ax_b.legend(fontsize=8)
    for ax in (ax_k, ax_b):
        ax.set_xticks(x)
        ax.set_xticklabels(layers, rotation=90 if len(layers) > 8 else 0, fontsize=8)
        ax.set_xlabel("layer")
    fig.suptitle(title or "flatter layers, lower barriers? (Petzka et al. 2021; Adilova et al. 2024)", fontsize=10)
    fig.tight_layout()
    return fig
