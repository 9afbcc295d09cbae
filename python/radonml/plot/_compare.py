"""Figures of ``radonml compare``: the Radon machine against central training and the
averaging/median baselines (see radonml.plot)."""

from __future__ import annotations

__all__ = ["plot_compare", "plot_compare_regimes"]

_STYLE = {
    "central": ("k", "*"),
    "radon": ("tab:red", "o"),
    "mean": ("tab:blue", "s"),
    "median": ("tab:green", "^"),
    "geometric_median": ("tab:purple", "D"),
}


def plot_compare(results, *, ax=None, title=None, path=None, min_auc_span=0.01):
    """Training wall time against test AUC, one marker per method.

    Parameters
    ----------
    results : sequence of dict
        As in the ``"results"`` list of ``radonml compare``'s JSON: each with ``"label"``,
        ``"method"`` (``"central"``, ``"radon"``, ``"mean"``, ``"median"``,
        ``"geometric_median"`` or another aggregator name), ``"train_time"`` (seconds) and
        ``"auc"``.
    ax : matplotlib Axes, optional
        Draw into it; a new figure otherwise.
    title : str, optional
    path : str or path-like, optional
        Save the figure there (PNG, 150 dpi).
    min_auc_span : float, default 0.01
        Smallest AUC range the y axis shows, so that differences in the fifth decimal do
        not look like large gaps.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        If ``results`` is empty or an entry lacks one of the keys.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from radonml.plot import plot_compare
    >>> res = [{"label": "central", "method": "central", "train_time": 2.0, "auc": 0.95},
    ...        {"label": "radon h=1", "method": "radon", "train_time": 0.3, "auc": 0.94},
    ...        {"label": "averaging h=1", "method": "mean", "train_time": 0.3, "auc": 0.945}]
    >>> fig = plot_compare(res, title="breast cancer")
    >>> fig.axes[0].get_xlabel(), fig.axes[0].get_ylabel()
    ('training wall time [s]', 'test ROC AUC')
    >>> plt.close(fig)
    """
    if ax is None:
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6.4, 4.2), constrained_layout=True)
    else:
        fig = ax.figure
    results = list(results)
    if not results:
        raise ValueError("results must hold at least one entry, got none")
    for r in results:
        for key in ("label", "method", "train_time", "auc"):
            if key not in r:
                raise ValueError(f"every entry of results needs a {key!r} key; got keys {sorted(r)}")
    central = [r for r in results if r["method"] == "central"]
    if central:
        ax.axhline(central[0]["auc"], color="0.6", lw=0.8, ls="--", zorder=0)
    aucs = [r["auc"] for r in results]
    lo, hi = min(aucs), max(aucs)
    span = max(hi - lo, min_auc_span)
    # Methods that share their base models (times within 1%) and land on nearly the same AUC are
    # labelled once, their names stacked, instead of printing labels on top of each other.
    clusters = []
    for r in results:
        color, marker = _STYLE.get(r["method"], ("tab:gray", "x"))
        ax.scatter(r["train_time"], r["auc"], color=color, marker=marker, s=90 if marker == "*" else 45, zorder=3)
        for c in clusters:
            if abs(c["t"] - r["train_time"]) <= 0.01 * c["t"] and abs(c["auc"] - r["auc"]) < span / 40:
                c["labels"].append(r["label"])
                break
        else:
            clusters.append({"t": r["train_time"], "auc": r["auc"], "labels": [r["label"]]})
    for c in clusters:
        ax.annotate("\n".join(c["labels"]), (c["t"], c["auc"]), textcoords="offset points", xytext=(6, 4),
                    fontsize=8, va="bottom")
    times = [r["train_time"] for r in results if r["train_time"] > 0]
    if times and max(times) / min(times) > 20:
        ax.set_xscale("log")
    ax.margins(x=0.2)  # room for the labels right of the markers
    ax.set_xlabel("training wall time [s]")
    ax.set_ylabel("test ROC AUC")
    ax.set_title(title or "Radon machine vs. central learner and baselines")
    ax.grid(True, alpha=0.3)
    # Differences in AUC below ~0.001 are noise: never zoom the y axis in further than
    # +-min_span/2 around the data, so equal methods look equal.
    if hi - lo < min_auc_span:
        mid = 0.5 * (lo + hi)
        ax.set_ylim(mid - 0.5 * min_auc_span, mid + 0.5 * min_auc_span)
    lo_y, hi_y = ax.get_ylim()
    ax.set_ylim(lo_y, hi_y + 0.12 * (hi_y - lo_y))  # room for the stacked labels under the title
    ax.ticklabel_format(axis="y", useOffset=False)
    if path is not None:
        fig.savefig(path, dpi=150)
    return fig


def plot_compare_regimes(regimes, *, path=None, min_auc_span=0.01):
    """One :func:`plot_compare` panel per regime of ``radonml compare``, side by side.

    Parameters
    ----------
    regimes : sequence of dict
        As in the ``"regimes"`` list of ``radonml compare``'s JSON: each with ``"results"``
        (see :func:`plot_compare`), ``"title"`` and optionally ``"verdict"`` (shown under the
        title).
    path : str or path-like, optional
        Save the figure there (PNG, 150 dpi).
    min_auc_span : float, default 0.01
        As in :func:`plot_compare`.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        If ``regimes`` is empty or a regime has no ``"results"``.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from radonml.plot import plot_compare_regimes
    >>> res = [{"label": "central", "method": "central", "train_time": 2.0, "auc": 0.95},
    ...        {"label": "radon h=1", "method": "radon", "train_time": 0.3, "auc": 0.94},
    ...        {"label": "averaging h=1", "method": "mean", "train_time": 0.3, "auc": 0.945}]
    >>> fig = plot_compare_regimes([{"title": "speed-up", "results": res}, {"title": "robustness", "results": res}])
    >>> len(fig.axes)
    2
    >>> plt.close(fig)
    """
    import matplotlib.pyplot as plt

    regimes = list(regimes)
    if not regimes:
        raise ValueError("regimes must hold at least one regime, got none")
    for i, reg in enumerate(regimes):
        if "results" not in reg:
            raise ValueError(f"regimes[{i}] needs a 'results' key; got keys {sorted(reg)}")
    fig, axes = plt.subplots(1, len(regimes), figsize=(6.0 * len(regimes), 4.6), constrained_layout=True,
                             squeeze=False)
    import textwrap

    for ax, reg in zip(axes[0], regimes):
        title = "\n".join(textwrap.wrap(reg.get("title", ""), 70))
        if reg.get("verdict"):
            title += "\n" + "\n".join(textwrap.wrap(reg["verdict"], 70))
        plot_compare(reg["results"], ax=ax, title=title, min_auc_span=min_auc_span)
        ax.title.set_fontsize(9)
    if path is not None:
        fig.savefig(path, dpi=150)
    return fig
