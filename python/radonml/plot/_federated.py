"""Figures for distributed learning protocols side by side (:mod:`radonml.federated`)."""

from __future__ import annotations

import numpy as np

__all__ = ["plot_accuracy_vs_bytes", "plot_divergence", "plot_federated", "plot_accuracy_vs_communication", "plot_claims"]


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
    nothing sit at 0).

    Parameters
    ----------
    histories : sequence of History or their ``to_dict()``
        The runs of :func:`radonml.federated.simulate`, one line each.
    ax : matplotlib Axes, optional
        Draw into it; a new figure otherwise.
    key : str, default "accuracy"
        The column plotted against the bytes (``"accuracy"``, ``"loss"``, ...).

    Returns
    -------
    matplotlib Axes

    Raises
    ------
    TypeError
        If an item is neither a History nor its ``to_dict()``.
    ValueError
        If a history has no records, or no ``key`` column.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from radonml.plot import plot_accuracy_vs_bytes
    >>> runs = [{"protocol": "nosync", "records": [{"step": 10, "bytes": 0, "accuracy": 0.6, "divergence": 0.5},
    ...                                              {"step": 20, "bytes": 0, "accuracy": 0.7, "divergence": 0.9}]},
    ...         {"protocol": "periodic", "records": [{"step": 10, "bytes": 5440, "accuracy": 0.7, "divergence": 0.0},
    ...                                              {"step": 20, "bytes": 10880, "accuracy": 0.8, "divergence": 0.1}]}]
    >>> ax = plot_accuracy_vs_bytes(runs)
    >>> [line.get_label() for line in ax.get_lines()]
    ['nosync', 'periodic']
    >>> plt.close(ax.figure)
    """
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
    drawn at the axis floor).

    Parameters
    ----------
    histories : sequence of History or their ``to_dict()``
        The runs of :func:`radonml.federated.simulate`, one line each.
    ax : matplotlib Axes, optional
        Draw into it; a new figure otherwise.

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from radonml.plot import plot_divergence
    >>> runs = [{"protocol": "nosync", "records": [{"step": 10, "bytes": 0, "accuracy": 0.6, "divergence": 0.5},
    ...                                              {"step": 20, "bytes": 0, "accuracy": 0.7, "divergence": 0.9}]},
    ...         {"protocol": "periodic", "records": [{"step": 10, "bytes": 5440, "accuracy": 0.7, "divergence": 0.0},
    ...                                              {"step": 20, "bytes": 10880, "accuracy": 0.8, "divergence": 0.1}]}]
    >>> ax = plot_divergence(runs)
    >>> ax.get_yscale(), [line.get_label() for line in ax.get_lines()]
    ('log', ['nosync', 'periodic'])
    >>> plt.close(ax.figure)
    """
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
    (the figure is closed then) and returns the figure.

    Parameters
    ----------
    histories : sequence of History or their ``to_dict()``
        The runs of :func:`radonml.federated.simulate`.
    path : str or path-like, optional
        Save the figure there (PNG, 120 dpi).
    title : str, optional
        The figure's title.

    Returns
    -------
    matplotlib.figure.Figure

    See Also
    --------
    plot_accuracy_vs_bytes, plot_divergence : the two panels.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from radonml.plot import plot_federated
    >>> runs = [{"protocol": "nosync", "records": [{"step": 10, "bytes": 0, "accuracy": 0.6, "divergence": 0.5},
    ...                                              {"step": 20, "bytes": 0, "accuracy": 0.7, "divergence": 0.9}]},
    ...         {"protocol": "periodic", "records": [{"step": 10, "bytes": 5440, "accuracy": 0.7, "divergence": 0.0},
    ...                                              {"step": 20, "bytes": 10880, "accuracy": 0.8, "divergence": 0.1}]}]
    >>> fig = plot_federated(runs, title="two protocols")
    >>> len(fig.axes)
    2
    >>> plt.close(fig)
    """
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


# ----------------------------------------------------------------------------- the essay's claims

_FAMILY_STYLE = {
    "periodic": dict(color="tab:blue", marker="o", label="periodic averaging (b)"),
    "dynamic": dict(color="tab:red", marker="s", label="dynamic averaging, balancing (Δ)"),
    "dynamic-full": dict(color="tab:orange", marker="^", label="dynamic averaging, full sync (Δ)"),
}


def _short(label: str) -> str:
    """``periodic(b=5)[mean]`` -> ``b=5``; ``dynamic(Δ=1,b=1)[mean]`` -> ``Δ=1``."""
    inner = label[label.find("(") + 1 : label.find(")")] if "(" in label else label
    return inner.split(",")[0]


def plot_accuracy_vs_communication(runs, ax=None, *, key: str = "accuracy", target=None):
    """The accuracy-vs-communication plot of Kamp et al. (2018): one point per configuration
    (total bytes sent, quality ``key``), one line per family, labelled with its parameter.

    Parameters
    ----------
    runs : list of dict
        Each with ``family`` (``"periodic"``, ``"dynamic"`` or ``"dynamic-full"``), ``label``,
        ``bytes`` and ``key`` (e.g. :func:`radonml.federated.dynamic_vs_periodic`'s
        ``measured["runs"]``).
    ax : matplotlib Axes, optional
    key : str, default "accuracy"
    target : float, optional
        Drawn as a horizontal line (the accuracy to reach).

    Returns
    -------
    matplotlib Axes

    References
    ----------
    .. [1] M. Kamp, L. Adilova, J. Sicking, F. Hüger, P. Schlicht, T. Wirtz, S. Wrobel,
       "Efficient Decentralized Deep Learning by Dynamic Model Averaging", ECML PKDD 2018.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from radonml.plot import plot_accuracy_vs_communication
    >>> runs = [{"family": "periodic", "label": "periodic(b=1)[mean]", "bytes": 4e6, "accuracy": 0.90},
    ...         {"family": "periodic", "label": "periodic(b=10)[mean]", "bytes": 4e5, "accuracy": 0.88},
    ...         {"family": "dynamic", "label": "dynamic(Δ=1,b=1)[mean]", "bytes": 2e5, "accuracy": 0.89}]
    >>> ax = plot_accuracy_vs_communication(runs, target=0.89)
    >>> ax.get_xscale(), [t.get_text() for t in ax.texts]
    ('log', ['b=10', 'b=1', 'Δ=1'])
    >>> plt.close(ax.figure)
    """
    ax = _axes(ax)
    for fam, style in _FAMILY_STYLE.items():
        pts = sorted((r for r in runs if r["family"] == fam), key=lambda r: r["bytes"])
        if not pts:
            continue
        x = np.array([max(r["bytes"], 1) for r in pts], dtype=float) / 1e6
        yv = np.array([r[key] for r in pts], dtype=float)
        ax.plot(x, yv, ls="-", ms=5, alpha=0.85, **style)
        for xi, yi, r in zip(x, yv, pts):
            ax.annotate(_short(r["label"]), (xi, yi), fontsize=6, xytext=(2, 3), textcoords="offset points",
                        color=style["color"])
    if target is not None:
        ax.axhline(target, color="0.5", ls=":", lw=1, label=f"target {target:.3f}")
    ax.set_xscale("log")
    ax.set_xlabel("communication (MB sent, up + down)")
    ax.set_ylabel(f"test {key.replace('_', ' ')}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return ax


def _claim(c):
    if hasattr(c, "to_dict"):
        c = c.to_dict()
    if not isinstance(c, dict) or "number" not in c or "series" not in c:
        raise TypeError(f"each claim must be a radonml.federated.ClaimResult or its to_dict(), got {type(c).__name__}")
    return c


def _title(ax, c, extra=""):
    import textwrap

    head = f"{c['number']}. {c['title']}: {c['verdict'].upper()}"
    ax.set_title("\n".join([head] + textwrap.wrap(extra, 70)), fontsize=8,
                 color="darkgreen" if c["holds"] else "darkred")


def _panel_minibatch(ax, c):
    s = c["series"]
    m = s["m"]
    ax.plot(m, s["sgd_accuracy"], "o-", color="k", label="mini-batch SGD, rate η")
    ax.plot(m, s["sgd_train_accuracy"], "o:", color="k", alpha=0.5, label="mini-batch SGD, rate η (train)")
    ax.plot(m, s["scaled_accuracy"], "s-", color="tab:purple", label="mini-batch SGD, rate η·m")
    ax.plot(m, s["periodic_accuracy"], "o-", color="tab:blue", label="periodic averaging (bytes of dynamic)")
    ax.plot(m, s["dynamic_accuracy"], "s-", color="tab:red", label="dynamic averaging")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("nodes m (fixed per-node batch and epochs)")
    ax.set_ylabel("test accuracy")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6)
    meas = c["measured"]
    r0, r1 = meas["rows"][0], meas["rows"][-1]
    extra = (f"SGD {r0['sgd_accuracy']:.3f} (m={r0['m']}) → {r1['sgd_accuracy']:.3f} (m={r1['m']}); "
             f"η·m works to m={meas['remedy_works_up_to']}, breaks at m={meas['remedy_breaks_at']}")
    _title(ax, c, extra)


def _panel_lr(ax, c):
    s = c["series"]
    if s:
        x = np.asarray(s["central_step_eta_over_m"])
        lim = 1.1 * float(np.abs(x).max()) or 1.0
        ax.plot(np.asarray(s["central_step_eta"]), s["averaged_step"], ".", ms=2, color="0.6",
                label=f"against the step of rate η (slope 1/{s['m']})")
        ax.plot(x, s["averaged_step"], ".", ms=3, color="tab:green", label="against the step of rate η/m (slope 1)")
        ax.plot([-lim, lim], [-lim, lim], "k-", lw=0.6)
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.set_xlabel("central step on the summed gradients (θ - θ0), per coordinate")
        ax.set_ylabel(f"averaged step of m = {s['m']} learners")
        ax.legend(fontsize=6)
    ax.grid(alpha=0.3)
    worst = max(r["max_abs_deviation_eta_over_m"] for r in c["measured"]["rows"])
    _title(ax, c, f"max deviation from the η/m step {worst:.1e} (float64)")


def _panel_dynamic(ax, c):
    s = c["series"]
    plot_accuracy_vs_communication(s["runs"], ax, target=s["target"])
    sav = c["measured"]["saving"]

    def r(k):
        v = sav[f"{k}_ratio"]
        return "not reached" if v is None else f"{v:.2f}x"

    _title(ax, c, f"saving at equal accuracy: balancing {r('dynamic')}, full sync {r('dynamic-full')}")


def _panel_radon(ax, c):
    s = c["series"]
    ax.plot(s["periodic_rounds"], s["periodic_accuracy"], "o-", ms=3, color="tab:blue", label="periodic averaging")
    ax.plot([1], [s["radon_accuracy"]], "*", ms=14, color="tab:red", label="Radon machine (1 round)")
    ax.plot([1], [s["averaging_accuracy"]], "x", ms=8, color="k", label="one-shot averaging (1 round)")
    ax.axhline(s["local_accuracy"], color="0.5", ls=":", lw=1, label="local models alone")
    ax.set_xscale("log")
    ax.set_xlabel("rounds of communication")
    ax.set_ylabel("test accuracy")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6)
    meas = c["measured"]
    _title(ax, c, f"Radon {meas['radon_accuracy']:.3f} after 1 round; periodic {meas['periodic_accuracy']:.3f} "
                  f"after {meas['periodic_rounds']}")


_PANELS = {1: _panel_minibatch, 2: _panel_lr, 3: _panel_dynamic, 4: _panel_radon}


def plot_claims(claims, path=None, *, title=None):
    """One panel per claim of :mod:`radonml.federated.claims` (any subset, in order), each
    titled with its verdict and measured numbers. Saves to ``path`` if given (the figure is
    closed then) and returns the figure.

    Parameters
    ----------
    claims : list of ClaimResult or their ``to_dict()``
        Made by :func:`radonml.federated.minibatch_limit`,
        :func:`~radonml.federated.effective_learning_rate`,
        :func:`~radonml.federated.dynamic_vs_periodic` or
        :func:`~radonml.federated.radon_one_round`.
    path : str or path-like, optional
        Save the figure there (the figure is closed then).
    title : str, optional
        The figure's title.

    Returns
    -------
    matplotlib Figure

    Raises
    ------
    TypeError
        If an item is not a claim result.
    ValueError
        If ``claims`` is empty.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from radonml.datasets import load_synthetic
    >>> from radonml.federated import radon_one_round
    >>> from radonml.plot import plot_claims
    >>> claim = radon_one_round(*load_synthetic(3000, n_features=4, seed=1), steps=50)
    >>> fig = plot_claims([claim])
    >>> len(fig.axes) >= 1
    True
    >>> plt.close(fig)
    """
    import matplotlib.pyplot as plt

    cs = [_claim(c) for c in claims]
    if not cs:
        raise ValueError("claims must not be empty")
    n = len(cs)
    cols = 2 if n > 1 else 1
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(6.5 * cols, 4.8 * rows), squeeze=False)
    for ax, c in zip(axes.flat, cs):
        _PANELS[c["number"]](ax, c)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=110)
        plt.close(fig)
    return fig
