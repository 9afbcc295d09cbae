"""Figures of ``radonml robust`` (:func:`radonml.robust.benchmark`): heat maps of each
aggregator's accuracy under its worst attack, per f (see radonml.plot)."""

from __future__ import annotations

import numpy as np

__all__ = ["plot_robust", "plot_worst_case"]

#: Short labels of the attacks in the heat maps' cells.
ATTACK_LABELS = {"sign_flip": "SF", "gaussian_noise": "GN", "alie": "ALIE", "ipm": "IPM", "mimic": "Mim",
                 "inf_nan": "Inf", "min_max": "MM", "min_sum": "MS", "label_flip": "LF"}


def _result(result):
    from ..robust import RobustResult

    if isinstance(result, RobustResult):
        return result
    if isinstance(result, dict) and "cells" in result:
        keys = ("cells", "config", "capture", "wall_s", "cpu_s")
        return RobustResult(**{k: result[k] for k in keys if k in result and result[k] is not None})
    raise TypeError(f"result must be a radonml.robust.RobustResult or its to_dict(), got {type(result).__name__}")


def plot_worst_case(result, setting: str, heterogeneity: str, ax=None, *, vmin=None, vmax=None):
    """One heat map: aggregators (rows) x f (columns, after a "clean" column), coloured by the
    accuracy under the worst attack, each cell labelled with it and the attack's short name
    (SF sign flip, GN Gaussian noise, ALIE, IPM, Mim mimic, Inf inf/NaN, MM min-max, MS min-sum,
    LF label flip); ``†``: the rule fell back under that attack, ``*``: its aggregate was a
    Byzantine model.

    Parameters
    ----------
    result : RobustResult or its to_dict()
        From :func:`radonml.robust.benchmark`.
    setting, heterogeneity : str
        The block (:meth:`radonml.robust.RobustResult.blocks`).
    ax : matplotlib Axes, optional
        Draw into it; a new figure otherwise.
    vmin, vmax : float, optional
        Colour range; default from the lowest worst case to the highest clean accuracy.

    Returns
    -------
    matplotlib Axes

    Raises
    ------
    TypeError
        If ``result`` is neither a RobustResult nor its ``to_dict()``.
    ValueError
        If the result has no cells for ``setting`` and ``heterogeneity``.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from radonml.plot import plot_worst_case
    >>> from radonml.robust import OneShot, benchmark
    >>> res = benchmark(OneShot("breast-cancer"), aggregators=["mean", "median"], attacks=["sign_flip"],
    ...                 fractions=[0.1], heterogeneity=["iid"], capture=False, progress=False)
    >>> ax = plot_worst_case(res, "oneshot", "iid")
    >>> [t.get_text() for t in ax.get_yticklabels()]
    ['mean', 'median']
    >>> plt.close(ax.figure)
    """
    res = _result(result)
    hm = res.heatmap(setting, heterogeneity)
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(1.3 * (len(hm["f"]) + 1) + 2.5, 0.42 * len(hm["aggregators"]) + 1.5))
    values = np.column_stack([hm["clean"], hm["worst"]])
    finite = values[np.isfinite(values)]
    lo = float(finite.min()) if vmin is None and finite.size else (0.0 if vmin is None else vmin)
    hi = float(finite.max()) if vmax is None and finite.size else (1.0 if vmax is None else vmax)
    im = ax.imshow(values, cmap="RdYlGn", vmin=lo, vmax=max(hi, lo + 1e-9), aspect="auto")
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            v = values[i, j]
            if j == 0:
                text = f"{v:.3f}"
            else:
                atk = hm["attack"][i, j - 1]
                mark = ("†" if hm["fell_back"][i, j - 1] else "") + ("*" if hm["captured"][i, j - 1] else "")
                text = "n/a" if atk is None else f"{v:.3f}\n{ATTACK_LABELS.get(atk, atk)}{mark}"
            frac = (v - lo) / max(hi - lo, 1e-12) if np.isfinite(v) else 0.5
            ax.text(j, i, text, ha="center", va="center", fontsize=6.5,
                    color="white" if frac < 0.15 else "black")
    ax.set_xticks(range(values.shape[1]))
    ax.set_xticklabels(["clean"] + [f"f={f}\n({p:.0%})" for f, p in zip(hm["f"], hm["fractions"])], fontsize=7)
    ax.set_yticks(range(len(hm["aggregators"])))
    ax.set_yticklabels(hm["aggregators"], fontsize=7)
    ax.set_title(f"{setting}, {heterogeneity} (n = {hm['n']})", fontsize=9)
    ax.figure.colorbar(im, ax=ax, fraction=0.04, pad=0.02, label="accuracy (worst attack)")
    return ax


def plot_robust(result, path=None, *, title=None):
    """Every block of a :func:`radonml.robust.benchmark` run side by side
    (:func:`plot_worst_case` each: settings in rows, heterogeneity in columns), on one colour
    scale. Saves to ``path`` if given (the figure is closed then) and returns the figure.

    Parameters
    ----------
    result : RobustResult or its to_dict()
        From :func:`radonml.robust.benchmark`.
    path : str or path-like, optional
        PNG file (130 dpi).
    title : str, optional
        The figure's title.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    TypeError
        If ``result`` is neither a RobustResult nor its ``to_dict()``.
    ValueError
        If the result has no cells.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from radonml.plot import plot_robust
    >>> from radonml.robust import OneShot, benchmark
    >>> res = benchmark(OneShot("breast-cancer"), aggregators=["mean", "median"], attacks=["sign_flip"],
    ...                 fractions=[0.1], heterogeneity=["iid"], capture=False, progress=False)
    >>> fig = plot_robust(res.to_dict(), title="breast cancer, iid")
    >>> fig.axes[0].get_title()
    'oneshot, iid (n = 33)'
    >>> plt.close(fig)
    """
    import matplotlib.pyplot as plt

    res = _result(result)
    blocks = res.blocks()
    if not blocks:
        raise ValueError("result has no cells to plot")
    settings = list(dict.fromkeys(s for s, _ in blocks))
    hets = list(dict.fromkeys(h for _, h in blocks))
    maps = [res.heatmap(s, h) for s, h in blocks]
    n_f = max(len(m["f"]) for m in maps)
    n_a = len(res.aggregators)
    values = np.concatenate([np.r_[m["clean"], m["worst"].ravel()] for m in maps])
    values = values[np.isfinite(values)]
    lo, hi = (float(values.min()), float(values.max())) if values.size else (0.0, 1.0)  # one colour scale
    fig, axes = plt.subplots(len(settings), len(hets), squeeze=False,
                             figsize=(len(hets) * (1.15 * (n_f + 1) + 3.0), len(settings) * (0.4 * n_a + 1.6)))
    for r, s in enumerate(settings):
        for c, h in enumerate(hets):
            if (s, h) in blocks:
                plot_worst_case(res, s, h, axes[r][c], vmin=lo, vmax=hi)
            else:
                axes[r][c].set_axis_off()
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=130)
        plt.close(fig)
    return fig
