r"""Protocols: what the learners communicate, and when (SPEC §4).

:class:`MiniBatchSGD`, :class:`PeriodicAveraging` (FedAvg), :class:`DynamicAveraging` (Kamp
et al., 2018), :class:`LayerwiseAveraging` (Adilova et al., 2024), :class:`RadonOneShot` (the
one-round Radon machine; Kamp et al., 2017) and :class:`NoSync`, all subclasses of
:class:`Protocol`. Every aggregation goes through :func:`radonml.aggregators.resolve_aggregator`,
so ``method=`` swaps the mean for the median, the geometric median or the Radon point.

A protocol acts on the run object that :func:`radonml.federated.simulate` passes to its
methods: ``run.learners`` (:class:`~radonml.federated.Learners`), ``run.rng``, and the
coordinator's ``run.send_up(rows)``, ``run.send_down(payload, n_receivers)``,
``run.control(n)`` (messages without a tensor) and ``run.combine(rows, protocol, weights)``,
which count every message and byte.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import torch

from .._validation import check_fraction, check_int
from ..aggregators import resolve_aggregator
from ._run import Run

__all__ = [
    "Protocol",
    "MiniBatchSGD",
    "PeriodicAveraging",
    "DynamicAveraging",
    "LayerwiseAveraging",
    "RadonOneShot",
    "NoSync",
]


class Protocol:
    """Interface of a protocol: :meth:`start`, :meth:`step` (one time step: local update and
    any communication), :meth:`finish`, :meth:`global_model`.

    ``round_steps`` is the default number of steps per recorded round in :func:`simulate`.

    Parameters
    ----------
    method : str or callable
        How the coordinator combines what it receives: any name of
        :func:`radonml.available_aggregators` (``"mean"``, ``"median"``, ``"trimmed_mean"``,
        ``"geometric_median"``, ``"radon"``, ...) or a callable (see :func:`radonml.aggregate`).
    weighted : bool or None, default None
        Weight learner :math:`i` by its number of examples :math:`n_i`. ``None``: weight
        exactly when the named aggregator uses weights (:func:`radonml.supports_weights`;
        the mean, the median, the geometric median, not the Radon point), never for a
        callable. ``True`` with an aggregator that ignores weights raises ``ValueError``.
    fallback : str or None, default "geometric_median"
        Used with a :class:`~radonml.FallbackWarning` when ``method="radon"`` gets fewer models
        than the Radon number :math:`d + 2`; ``None`` raises instead.
    **options
        Passed to the aggregator (e.g. ``beta=0.2`` for ``"trimmed_mean"``; ``"radon"`` gets
        the simulation's seeded generator as ``rng`` unless one is given).
    """

    name = "protocol"
    round_steps = 1

    def __init__(self, method="mean", *, weighted=None, fallback="geometric_median", **options):
        # unknown names and impossible weightings fail here, not at the first synchronisation
        self.aggregator = resolve_aggregator(method, weighted=weighted, fallback=fallback)
        self.method = method
        self.weighted = self.aggregator.weighted
        self.fallback = fallback
        self.options = options
        self.used_method = method

    def _method_label(self) -> str:
        """The aggregator actually used at the last synchronisation (a fallback shows), by name."""
        m = self.used_method
        return m if isinstance(m, str) else getattr(m, "__name__", "callable")

    def label(self) -> str:
        return f"{self.name}[{self._method_label()}]"

    def _weights(self, run: Run, idx=None):
        if not self.weighted:
            return None
        w = run.learners.n_samples.astype(np.float64)
        return w if idx is None else w[idx]

    def active(self, run: Run) -> Optional[np.ndarray]:
        """Boolean mask (m,) of the learners taking part in the current round, or None for all.

        :func:`simulate` computes ``divergence``, ``local_loss`` and ``local_accuracy`` over
        these learners; only :class:`PeriodicAveraging` with ``fraction < 1`` leaves some out.
        """
        return None

    def start(self, run: Run) -> None:
        pass

    def step(self, run: Run, t: int) -> None:
        raise NotImplementedError

    def finish(self, run: Run) -> None:
        pass

    def global_model(self, run: Run) -> torch.Tensor:
        """The model evaluated as "the" model: by default the plain average of the local models
        (computed for evaluation only, not communicated)."""
        return run.learners.theta.mean(0)


class NoSync(Protocol):
    """Every learner trains alone; nothing is communicated. The reported global model is the
    (uncommunicated) average of the local models."""

    name = "nosync"
    round_steps = 10

    def __init__(self):
        super().__init__("mean")

    def label(self):
        return self.name

    def step(self, run, t):
        run.learners.local_step()


class MiniBatchSGD(Protocol):
    r"""Distributed mini-batch SGD: every step each learner sends its batch gradient
    :math:`g_i`; the coordinator combines them (``method``, default the mean) and sends back
    :math:`f \leftarrow f - \eta\, \operatorname{agg}(g_1, \dots, g_m)`.

    Per step: :math:`m` messages up (gradients) and :math:`m` down (the model).
    """

    name = "minibatch_sgd"
    round_steps = 10

    def __init__(self, method="mean", *, weighted=False, **options):
        super().__init__(method, weighted=weighted, **options)

    def step(self, run, t):
        L = run.learners
        g = L.gradients()
        run.send_up(g)
        comb = run.combine(g, self, self._weights(run))
        new = L.theta[0] - L.lr * comb
        run.send_down(new, L.m)
        L.theta[:] = new
        run.syncs += 1


class PeriodicAveraging(Protocol):
    r"""Periodic averaging (FedAvg; McMahan et al., AISTATS 2017).

    Each selected learner takes ``period`` local SGD steps from the global model; then they
    send their models up, the coordinator aggregates them (``method``, default the mean
    weighted by sample counts, :math:`\sum_i n_i f_i / \sum_i n_i`; see :class:`Protocol`
    for ``weighted``, ``fallback`` and ``options``) and sends the result down to the learners
    selected for the next round (``fraction`` of them, at least one, drawn without
    replacement; all if ``fraction=1``). Per round: :math:`k` models up and :math:`k` down,
    :math:`k = \max(1, \lfloor \text{fraction}\, m\rfloor)`.

    Unselected learners idle: no gradient is computed for them and they draw no mini-batches.
    Their (stale) models are not part of the federation's state, so with ``fraction < 1`` the
    history's ``divergence``, ``local_loss`` and ``local_accuracy`` cover only the learners
    selected for the current round (see :meth:`Protocol.active`).

    >>> PeriodicAveraging(10, method="radon").weighted  # the Radon point ignores weights
    False
    """

    name = "periodic"

    def __init__(self, period: int = 10, fraction: float = 1.0, weighted: Optional[bool] = None, method="mean", **options):
        super().__init__(method, weighted=weighted, **options)
        self.period = check_int(period, "period", minimum=1)
        self.fraction = check_fraction(fraction, "fraction", low=0.0, high=1.0, closed_high=True)
        if self.fraction == 0.0:
            raise ValueError("fraction must be positive, got 0.0")
        self.round_steps = self.period

    def label(self):
        extra = f",frac={self.fraction:g}" if self.fraction < 1 else ""
        return f"periodic(b={self.period}{extra})[{self._method_label()}]"

    def _sample(self, run):
        m = run.learners.m
        k = max(1, int(np.floor(self.fraction * m)))
        mask = np.zeros(m, dtype=bool)
        mask[run.rng.choice(m, size=k, replace=False) if k < m else np.arange(m)] = True
        return mask

    def start(self, run):
        self.global_ = run.learners.theta[0].clone()
        self.selected = self._sample(run)

    def active(self, run):
        return None if self.selected.all() else self.selected

    def step(self, run, t):
        L = run.learners
        L.local_step(self.active(run))
        if t % self.period == 0:
            idx = np.flatnonzero(self.selected)
            rows = L.theta[torch.as_tensor(idx)]
            run.send_up(rows)
            self.global_ = run.combine(rows, self, self._weights(run, idx))
            run.syncs += 1
            self.selected = self._sample(run)
            run.send_down(self.global_, int(self.selected.sum()))
            L.theta[torch.as_tensor(self.selected)] = self.global_

    def global_model(self, run):
        return self.global_


class DynamicAveraging(Protocol):
    r"""Dynamic averaging (Kamp, Adilova, Sicking, Hüger, Schlicht, Wirtz, Wrobel, "Efficient
    decentralized deep learning by dynamic model averaging", ECML PKDD 2018).

    Every ``check_every`` steps each learner tests its local condition
    :math:`\lVert f_i - r\rVert^2 \le \Delta` against the reference model :math:`r` (the last
    aggregate; initially the common start), which costs no communication. If any learner
    violates it, the violators send their models, the coordinator requests (0-byte control
    messages) and receives the others' models, aggregates all :math:`m` (``method``, default
    the mean weighted by sample counts; see :class:`Protocol`) and sends
    the result to everyone, which becomes the new :math:`r` (a full synchronisation). While
    every local condition holds,

    .. math:: \frac{1}{m}\sum_i \lVert f_i - \bar f\rVert^2 \le \frac{1}{m}\sum_i \lVert f_i - r\rVert^2 \le \Delta,

    since the mean minimizes the sum of squared distances.
    """

    name = "dynamic"

    def __init__(self, delta: float = 1.0, check_every: int = 10, weighted: Optional[bool] = None, method="mean", **options):
        super().__init__(method, weighted=weighted, **options)
        if isinstance(delta, bool) or not isinstance(delta, (int, float, np.floating, np.integer)) or not delta >= 0:
            raise ValueError(f"delta must be a non-negative number, got {delta!r}")
        self.delta = float(delta)
        self.check_every = check_int(check_every, "check_every", minimum=1)
        self.round_steps = self.check_every

    def label(self):
        return f"dynamic(Δ={self.delta:g},b={self.check_every})[{self._method_label()}]"

    def start(self, run):
        self.reference = run.learners.theta[0].clone()
        self.violations = 0

    def local_conditions(self, run) -> np.ndarray:
        """:math:`\\lVert f_i - r\\rVert^2` for every learner (float64)."""
        return ((run.learners.theta.double() - self.reference.double()) ** 2).sum(1).numpy()

    def step(self, run, t):
        L = run.learners
        L.local_step()
        if t % self.check_every:
            return
        viol = self.local_conditions(run) > self.delta
        if not viol.any():
            return
        self.violations += int(viol.sum())
        run.send_up(L.theta[torch.as_tensor(viol)])
        run.control(int((~viol).sum()))
        run.send_up(L.theta[torch.as_tensor(~viol)])
        self.reference = run.combine(L.theta, self, self._weights(run))
        run.send_down(self.reference, L.m)
        L.theta[:] = self.reference
        run.syncs += 1


class LayerwiseAveraging(Protocol):
    r"""Periodic averaging of only some layers (SPEC §5; Adilova et al., ICLR 2024): every
    ``period`` steps the parameters of ``layers`` (module names such as ``"0"`` or
    ``"encoder.fc1"``; a parameter belongs to a layer if its name is ``layer`` or starts with
    ``layer + "."``) are aggregated across all learners and sent back; the other parameters
    stay local. Bytes count only the averaged parameters. ``method``, ``weighted``,
    ``fallback`` and ``options`` as in :class:`Protocol` (the Radon point of the averaged
    columns needs :math:`m \ge d_{\text{layers}} + 2` learners).
    """

    name = "layerwise"

    def __init__(self, layers: Sequence[str], period: int = 10, weighted: Optional[bool] = None, method="mean", **options):
        super().__init__(method, weighted=weighted, **options)
        if isinstance(layers, str) or not isinstance(layers, (list, tuple)) or not layers:
            raise ValueError(f"layers must be a non-empty list of layer names, got {layers!r}")
        self.layers = [str(x) for x in layers]
        self.period = check_int(period, "period", minimum=1)
        self.round_steps = self.period

    def label(self):
        return f"layerwise({'+'.join(self.layers)},b={self.period})[{self._method_label()}]"

    def start(self, run):
        cols = []
        names = list(run.learners.slices)
        for layer in self.layers:
            hit = [n for n in names if n == layer or n.startswith(layer + ".")]
            if not hit:
                raise ValueError(f"layer {layer!r} matches no parameter; the model's parameters are {names}")
            for n in hit:
                s = run.learners.slices[n]
                cols.append(np.arange(s.start, s.stop))
        self.cols = torch.as_tensor(np.unique(np.concatenate(cols)))

    def step(self, run, t):
        L = run.learners
        L.local_step()
        if t % self.period == 0:
            rows = L.theta[:, self.cols]
            run.send_up(rows)
            avg = run.combine(rows, self, self._weights(run))
            run.send_down(avg, L.m)
            L.theta[:, self.cols] = avg
            run.syncs += 1


class RadonOneShot(Protocol):
    """One round (SPEC §4): every learner trains alone to the end, then sends its model once;
    the coordinator aggregates with ``method`` (default the iterated Radon point, Kamp et al.,
    NeurIPS 2017; any registered name works) and sends the result back.

    The Radon point of :math:`m` models in :math:`\\mathbb{R}^d` needs :math:`m \\ge d + 2`;
    with fewer learners ``fallback`` (default the geometric median) is used with a
    :class:`~radonml.FallbackWarning` (``fallback=None`` raises instead). Before the final
    aggregation the reported global model is the (uncommunicated) average of the local models.
    """

    name = "oneshot"
    round_steps = 10

    def __init__(self, method="radon", *, fallback="geometric_median", weighted: bool = False, **options):
        super().__init__(method, weighted=weighted, fallback=fallback, **options)

    def label(self):
        return f"oneshot[{self._method_label()}]"

    def start(self, run):
        self.final_ = None

    def step(self, run, t):
        run.learners.local_step()

    def finish(self, run):
        L = run.learners
        run.send_up(L.theta)
        self.final_ = run.combine(L.theta, self, self._weights(run))
        run.send_down(self.final_, L.m)
        L.theta[:] = self.final_
        run.syncs += 1
