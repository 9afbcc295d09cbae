"""Figures for distributed learning protocols side by side (:mod:`radonml.federated`)."""

from __future__ import annotations

import numpy as np

__all__ = ["plot_accuracy_vs_bytes", "plot_divergence", "plot_federated"]


def _series(h):
    """(label, {key: array}) from a History or its ``to_dict()``."""
    if hasattr(h, "records"):
        label, records = h.protocol, h.records
    elif isinstance(h, dict) and "records" in h:
        label, records = h.get("protocol", "?"), h["records"]
    else:
        raise TypeError(f"each history must be a radonml.federated.History or its to_dict(), got {type(h).__name__}")
    if not records:
        raise ValueError(f"history {label!r} has no records")
    keys = records[0].keys()
    return label, {k: np.array([r.get(k, np.nan) for r in records], dtype=float) for k in keys}


def _axes(ax):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(6, 4))
    return ax


def plot_accuracy_vs_bytes(histories, ax=None, *, key: str = "accuracy"):
    """Test accuracy of each protocol's global model against cumulative bytes communicated
    (up + down), one line per protocol, bytes on a symmetric-log axis (protocols that send
    nothing sit at 0). Returns the axes."""
    ax = _axes(ax)
    for h in histories:
        label, s = _series(h)
        if key not in s:
            raise ValueError(f"history {label!r} has no {key!r} column (simulate without a test set?)")
        ax.plot(s["bytes"], s[key], marker="o", ms=3, label=label)
    ax.set_xscale("symlog", linthresh=1e4, linscale=0.5)
    ax.set_xlabel("bytes communicated (up + down)")
    ax.set_ylabel(f"test {key}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return ax


def plot_divergence(histories, ax=None):
    r"""Divergence :math:`\frac{1}{m}\sum_i \lVert f_i - \bar f\rVert^2` against training steps,
    one line per protocol (log scale; zeros, i.e. right after a full synchronisation, are
    drawn at the axis floor). Returns the axes."""
    ax = _axes(ax)
    floor = None
    series = [_series(h) for h in histories]
    pos = [s["divergence"][s["divergence"] > 0] for _, s in series]
    pos = [p for p in pos if p.size]
    if pos:
        floor = min(p.min() for p in pos) / 10
    for label, s in series:
        div = s["divergence"]
        if floor is not None:
            div = np.where(div > 0, div, floor)
        ax.plot(s["step"], div, label=label)
    if floor is not None:
        ax.set_yscale("log")
        ax.annotate("0 (synchronised)", xy=(0.01, floor), xycoords=("axes fraction", "data"), fontsize=7,
                    va="bottom", color="0.4")
    ax.set_xlabel("step")
    ax.set_ylabel(r"divergence $\frac{1}{m}\sum_i \|f_i - \bar f\|^2$")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return ax


def plot_federated(histories, path=None, *, title=None):
    """Two panels: accuracy against bytes and divergence over time. Saves to ``path`` if given
    (the figure is closed then) and returns the figure."""
    import matplotlib.pyplot as plt

    histories = list(histories)
    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4.5))
    plot_accuracy_vs_bytes(histories, a)
    plot_divergence(histories, b)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
        plt.close(fig)
    return fig
