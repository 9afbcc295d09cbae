r"""Protocols: what the learners communicate, and when (McMahan et al., AISTATS 2017; Kamp et al., ECML PKDD 2018).

:class:`MiniBatchSGD`, :class:`PeriodicAveraging` (FedAvg), :class:`DynamicAveraging` (Kamp
et al., 2018), :class:`LayerwiseAveraging` (Adilova et al., 2024), :class:`RadonOneShot` (the
one-round Radon machine; Kamp et al., 2017) and :class:`NoSync`, all subclasses of
:class:`Protocol`. Every aggregation goes through :func:`radonml.aggregators.resolve_aggregator`,
so ``method=`` swaps the mean for the median, the geometric median or the Radon point.

A protocol acts on the run object that :func:`radonml.federated.simulate` passes to its
methods: ``run.learners`` (:class:`~radonml.federated.Learners`), ``run.rng``, and the
coordinator's ``run.send_up(rows)``, ``run.send_down(payload, receivers)`` (the receivers'
indices, a boolean mask, or ``m`` for all), ``run.control(n)`` (messages without a tensor) and
``run.combine(rows, protocol, weights, learners=idx)``, which count every message and byte.
``combine`` is the one place where the coordinator aggregates: with Byzantine learners
(``simulate(..., attack=...)``) it replaces their rows first, so every protocol is attacked the
same way, on the messages it actually sends: gradients (:class:`MiniBatchSGD`, ``message=
"gradient"``), models (periodic, dynamic, one-shot) or some of their columns (layer-wise).
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import torch

from .._validation import check_fraction, check_int, fraction_to_count
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

    Attributes
    ----------
    name : str
        Short name of the protocol (the start of :meth:`label`).
    round_steps : int
        Default number of time steps per recorded round in :func:`simulate`.
    aggregator
        The resolved aggregator (name, weighting and fallback checked at construction).

    Raises
    ------
    ValueError
        If ``method`` names no registered aggregator, or ``weighted=True`` is asked of one
        that ignores weights.

    See Also
    --------
    radonml.aggregate : the aggregators a protocol can use.
    simulate : runs a protocol over :class:`Learners`.

    Examples
    --------
    A subclass implements :meth:`step` (one time step); the built-in protocols are
    :class:`NoSync`, :class:`MiniBatchSGD`, :class:`PeriodicAveraging`,
    :class:`DynamicAveraging`, :class:`LayerwiseAveraging` and :class:`RadonOneShot`.

    >>> from radonml.federated import PeriodicAveraging, Protocol
    >>> isinstance(PeriodicAveraging(5, method="geometric_median"), Protocol)
    True
    >>> PeriodicAveraging(5, method="trimmed_mean", beta=0.2).options
    {'beta': 0.2}
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
    (uncommunicated) average of the local models.

    The baseline of the protocols: what the learners reach without any communication.

    Attributes
    ----------
    name : str
        ``"nosync"``.
    round_steps : int
        10 time steps per recorded round.

    Examples
    --------
    >>> from radonml.datasets import load_synthetic
    >>> from radonml.federated import make_learners, make_mlp, simulate
    >>> ds = load_synthetic(800, seed=0)
    >>> L = make_learners(make_mlp(18, 8, 2), ds.X_train, ds.y_train, 4, X_test=ds.X_test, y_test=ds.y_test)
    >>> h = simulate(NoSync(), L, rounds=2)
    >>> h["step"].tolist(), h["messages"].tolist(), h["bytes"].tolist()
    ([10, 20], [0, 0], [0, 0])
    """

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

    Parameters
    ----------
    method : str or callable, default "mean"
        How the gradients are combined (a robust aggregator makes this the Byzantine-robust
        distributed SGD of Blanchard et al., NeurIPS 2017).
    weighted : bool, default False
        Weight learner :math:`i`'s gradient by its number of examples.
    **options
        Passed to the aggregator, as in :class:`Protocol`.

    References
    ----------
    .. [1] O. Dekel, R. Gilad-Bachrach, O. Shamir, L. Xiao, "Optimal Distributed Online
       Prediction Using Mini-Batches", JMLR 13, 2012.

    Examples
    --------
    >>> from radonml.datasets import load_synthetic
    >>> from radonml.federated import make_learners, make_mlp, simulate
    >>> ds = load_synthetic(800, seed=0)
    >>> L = make_learners(make_mlp(18, 8, 2), ds.X_train, ds.y_train, 4, X_test=ds.X_test, y_test=ds.y_test)
    >>> h = simulate(MiniBatchSGD(), L, rounds=2)   # 10 steps a round, 4 + 4 messages a step
    >>> h["step"].tolist(), h["messages"].tolist(), h["syncs"].tolist()
    ([10, 20], [80, 160], [10, 20])
    """

    name = "minibatch_sgd"
    round_steps = 10

    def __init__(self, method="mean", *, weighted=False, **options):
        super().__init__(method, weighted=weighted, **options)

    def step(self, run, t):
        L = run.learners
        g = L.gradients(advance=True)
        run.send_up(g, whole_models=False)
        comb = run.combine(g, self, self._weights(run), message="gradient")
        new = L.theta[0] - L.lr * comb
        run.send_down(new, L.m)
        L.assign(np.arange(L.m), new)
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

    Parameters
    ----------
    period : int, default 10
        Local steps :math:`b` between synchronisations.
    fraction : float in (0, 1], default 1.0
        Fraction of the :math:`m` learners selected for each round.
    weighted : bool or None, default None
        As in :class:`Protocol`.
    method : str or callable, default "mean"
        The aggregator (as in :class:`Protocol`).
    **options
        Passed to the aggregator.

    Raises
    ------
    ValueError
        If ``period`` < 1 or ``fraction`` is not in (0, 1].

    References
    ----------
    .. [1] B. McMahan, E. Moore, D. Ramage, S. Hampson, B. Agüera y Arcas,
       "Communication-Efficient Learning of Deep Networks from Decentralized Data",
       AISTATS 2017.

    Examples
    --------
    >>> PeriodicAveraging(10, method="radon").weighted  # the Radon point ignores weights
    False
    >>> from radonml.datasets import load_synthetic
    >>> from radonml.federated import make_learners, make_mlp, simulate
    >>> ds = load_synthetic(800, seed=0)
    >>> L = make_learners(make_mlp(18, 8, 2), ds.X_train, ds.y_train, 4, X_test=ds.X_test, y_test=ds.y_test)
    >>> h = simulate(PeriodicAveraging(5), L, rounds=2)   # 4 models up and 4 down a round
    >>> h["step"].tolist(), h["messages"].tolist(), h["syncs"].tolist()
    ([5, 10], [8, 16], [1, 2])
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
        k = max(1, fraction_to_count(self.fraction, m))
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
            self.global_ = run.combine(rows, self, self._weights(run, idx), learners=idx)
            run.syncs += 1
            self.selected = self._sample(run)
            run.send_down(self.global_, self.selected)
            L.assign(self.selected, self.global_, sources=idx, weights=self._weights(run, idx))

    def global_model(self, run):
        return self.global_


class DynamicAveraging(Protocol):
    r"""Dynamic averaging (Kamp, Adilova, Sicking, Hüger, Schlicht, Wirtz, Wrobel, "Efficient
    decentralized deep learning by dynamic model averaging", ECML PKDD 2018), with the
    violation resolution by balancing that the paper describes and the authors' framework
    implements (``DynamicHedgeSync`` in fraunhofer-iais/dlplatform).

    **Local conditions.** Every learner keeps the *reference model* :math:`r` (the last full
    synchronisation's aggregate; initially the common start). Every ``check_every`` steps
    each learner tests its local condition

    .. math:: \lVert f_i - r\rVert^2 \le \Delta

    (squared Euclidean distance of the flat parameter vectors), which costs no communication.
    The learners that violate it (the set :math:`V`) send their models to the coordinator.

    **Resolution by balancing** (``resolution="balancing"``, the default). The coordinator
    tries to restore the conditions with as few learners as possible:

    1. :math:`B \leftarrow V`; if :math:`B` is every learner, synchronise fully.
    2. Aggregate :math:`\bar f_B` of the models in :math:`B` (``method``, default the mean
       weighted by sample counts). If :math:`\lVert \bar f_B - r\rVert^2 \le \Delta`, send
       :math:`\bar f_B` to the learners of :math:`B` (they replace their models by it; the
       reference stays) and stop: a *balancing*.
    3. Otherwise augment: draw :math:`k = \text{growth} \cdot |B|` further learners uniformly
       at random without replacement among those not in :math:`B` (all of them if fewer are
       left). If :math:`|B| + k \ge \text{full\_sync\_fraction} \cdot m`, synchronise fully
       instead; else request their models (one 0-byte control message each), add them to
       :math:`B` and go to 2.

    A *full synchronisation* requests the models of all learners not in :math:`B` (0-byte
    control messages), aggregates all :math:`m`, sends the result to everyone, and makes it
    the new reference :math:`r`.

    The defaults are ``DynamicHedgeSync``'s: it requests ``2 * len(B)`` new learners per try
    (so :math:`B` triples: one violator is balanced with 2, then 8 random learners) and
    synchronises fully once the set would reach half of the learners. Its docstring describes
    the set growing by 1, 2, 4, 8 learners (doubling), which is ``growth=1``. The rule is
    bounded: each try adds at least :math:`\max(1, \text{growth}\cdot|B|)` learners, so
    :math:`|B|` grows by a factor of at least :math:`1 + \text{growth}` (and by at least one)
    per try, and after at most :math:`m` tries (about :math:`\log_{1+\text{growth}} m`) the
    set would reach ``full_sync_fraction * m``.
    ``resolution="full"`` is the simpler variant that synchronises fully on every violation
    (Kamp et al., ECML PKDD 2018; dlplatform's ``DynamicSync``). ``max_violations`` adds the violation counter of
    the papers' protocol description (Kamp et al. 2014, 2018): violations are summed since the
    last full synchronisation, and once the sum reaches ``max_violations`` (the papers use
    :math:`m`) the resolution is a full synchronisation; ``None`` (``DynamicHedgeSync``) never
    forces one.

    **Divergence guarantee.** After the resolution at a check step every learner satisfies its
    local condition: the learners of :math:`B` hold :math:`\bar f_B`, which was checked, and
    the others did not violate (after a full synchronisation all hold :math:`r`). Since the
    mean :math:`\bar f` minimizes the sum of squared distances, at every check step, after the
    resolution,

    .. math:: \delta(f) = \frac{1}{m}\sum_i \lVert f_i - \bar f\rVert^2
              = \frac{1}{m}\sum_i \lVert f_i - r\rVert^2 - \lVert \bar f - r\rVert^2 \le \Delta .

    Unlike the full-synchronisation variant, balancing does not bring the divergence to 0, and
    between checks (``check_every > 1``) the learners move freely, so the bound is for check
    steps only. A balancing with the (weighted) mean leaves the (weighted) mean of all
    :math:`m` models unchanged.

    **Messages** (counted by the run, bytes ``numel * element_size`` of each model): one model
    up per violator; per augmentation one 0-byte request and one model up per drawn learner;
    one model down per learner of a balanced set; a full synchronisation adds a request and a
    model up per learner not yet heard from and :math:`m` models down.

    Parameters
    ----------
    delta : float, default 1.0
        :math:`\Delta \ge 0`, in squared parameter units.
    check_every : int, default 10
        :math:`b`, local steps between checks.
    weighted, method, **options
        See :class:`Protocol`.
    resolution : {"balancing", "full"}, default "balancing"
    growth : float, default 2
        New learners requested per try, as a multiple of :math:`|B|` (at least one).
    full_sync_fraction : float in (0, 1], default 0.5
        Synchronise fully once the balancing set would reach this fraction of the learners.
    max_violations : int or None, default None
        The violation counter's limit (see above).

    Attributes
    ----------
    reference : (d,) tensor
        :math:`r`.
    violations, balancings, full_syncs : int
        Counters of the last run: learners that violated, successful balancings, full
        synchronisations.
    resolutions : list of dict
        One entry per check with a violation: ``step``, ``violators`` (indices), ``set``
        (the final set :math:`B`, all learners for a full synchronisation), ``tries``
        (aggregates tested) and ``outcome`` (``"balanced"`` or ``"full"``).

    Examples
    --------
    >>> DynamicAveraging(0.5, 5).label(), DynamicAveraging(0.5, 5, resolution="full").label()
    ('dynamic(Δ=0.5,b=5)[mean]', 'dynamic(Δ=0.5,b=5,full)[mean]')
    """

    name = "dynamic"
    RESOLUTIONS = ("balancing", "full")

    def __init__(
        self,
        delta: float = 1.0,
        check_every: int = 10,
        weighted: Optional[bool] = None,
        method="mean",
        *,
        resolution: str = "balancing",
        growth: float = 2,
        full_sync_fraction: float = 0.5,
        max_violations: Optional[int] = None,
        **options,
    ):
        super().__init__(method, weighted=weighted, **options)
        if isinstance(delta, bool) or not isinstance(delta, (int, float, np.floating, np.integer)) or not delta >= 0:
            raise ValueError(f"delta must be a non-negative number, got {delta!r}")
        self.delta = float(delta)
        self.check_every = check_int(check_every, "check_every", minimum=1)
        if resolution not in self.RESOLUTIONS:
            raise ValueError(f"resolution must be one of {self.RESOLUTIONS}, got {resolution!r}")
        self.resolution = resolution
        if isinstance(growth, bool) or not isinstance(growth, (int, float, np.floating, np.integer)) or not 0 < growth < np.inf:
            raise ValueError(f"growth must be a positive number, got {growth!r}")
        self.growth = float(growth)
        self.full_sync_fraction = check_fraction(full_sync_fraction, "full_sync_fraction", low=0.0, high=1.0, closed_high=True)
        if self.full_sync_fraction == 0.0:
            raise ValueError("full_sync_fraction must lie in (0, 1], got 0.0")
        self.max_violations = check_int(max_violations, "max_violations", minimum=1, allow_none=True)
        self.round_steps = self.check_every

    def label(self):
        extra = ""
        if self.resolution == "full":
            extra = ",full"
        else:
            if self.growth != 2:
                extra += f",growth={self.growth:g}"
            if self.full_sync_fraction != 0.5:
                extra += f",full≥{self.full_sync_fraction:g}m"
            if self.max_violations is not None:
                extra += f",v≤{self.max_violations}"
        return f"dynamic(Δ={self.delta:g},b={self.check_every}{extra})[{self._method_label()}]"

    def start(self, run):
        self.reference = run.learners.theta[0].clone()
        self.violations = 0
        self.balancings = 0
        self.full_syncs = 0
        self.resolutions = []
        self._since_full = 0  # violations since the last full synchronisation

    def local_conditions(self, run) -> np.ndarray:
        """:math:`\\lVert f_i - r\\rVert^2` for every learner (float64), shape (m,)."""
        return self.distances(run.learners.theta)

    def distances(self, models: torch.Tensor) -> np.ndarray:
        """:math:`\\lVert g - r\\rVert^2` (float64) for each row ``g`` of ``models`` (k, d)."""
        return ((models.double() - self.reference.double()) ** 2).sum(-1).numpy()

    def step(self, run, t):
        run.learners.local_step()
        if t % self.check_every == 0:
            self.check(run, t)

    def check(self, run, t: int) -> None:
        """The check at step ``t``: local conditions, then the resolution of any violation."""
        viol = np.flatnonzero(self.local_conditions(run) > self.delta)
        if viol.size == 0:
            return
        self.violations += int(viol.size)
        self._since_full += int(viol.size)
        received = self.receive(run, viol, {})  # the violators report
        entry = {"step": int(t), "violators": viol.tolist()}
        forced = self.max_violations is not None and self._since_full >= self.max_violations
        if self.resolution == "full" or viol.size == run.learners.m or forced:
            self._full_sync(run, received, entry, tries=0)
        else:
            self._balance(run, received, entry)
        self.resolutions.append(entry)

    def receive(self, run, idx: np.ndarray, received: dict) -> dict:
        """Learners ``idx`` send their models up; ``received`` (learner index -> model as the
        coordinator holds it) gains them. Every aggregate is computed from ``received``, so
        what a learner sends is exactly what the coordinator combines."""
        rows = run.learners.theta[torch.as_tensor(idx)].clone()
        run.send_up(rows)
        received.update(zip(np.asarray(idx).tolist(), rows))
        return received

    def _balance(self, run, received: dict, entry: dict) -> None:
        m = run.learners.m
        members = np.array(sorted(received))
        tries = 0
        while True:  # bounded: members grows strictly each pass, and reaching m ends the loop
            tries += 1
            rows = torch.stack([received[i] for i in members.tolist()])
            agg = run.combine(rows, self, self._weights(run, members), learners=members)
            if self.distances(agg[None])[0] <= self.delta:
                run.send_down(agg, members)
                run.learners.assign(members, agg, weights=self._weights(run, members))
                self.balancings += 1
                run.balancings += 1
                entry.update(set=members.tolist(), tries=tries, outcome="balanced")
                return
            rest = np.setdiff1d(np.arange(m), members)
            k = min(rest.size, max(1, int(np.ceil(self.growth * members.size))))
            if members.size + k >= fraction_to_count(self.full_sync_fraction, m, rounding="ceil"):
                self._full_sync(run, received, entry, tries)
                return
            new = np.sort(run.rng.choice(rest, size=k, replace=False))
            run.control(k)  # the coordinator's requests
            self.receive(run, new, received)
            members = np.union1d(members, new)

    def _full_sync(self, run, received: dict, entry: dict, tries: int) -> None:
        L = run.learners
        rest = np.setdiff1d(np.arange(L.m), np.array(sorted(received), dtype=np.int64))
        if rest.size:
            run.control(rest.size)
            self.receive(run, rest, received)
        rows = torch.stack([received[i] for i in range(L.m)])
        self.reference = run.combine(rows, self, self._weights(run))
        run.send_down(self.reference, L.m)
        L.assign(np.arange(L.m), self.reference, weights=self._weights(run))
        run.syncs += 1
        self.full_syncs += 1
        self._since_full = 0
        entry.update(set=list(range(L.m)), tries=tries + 1, outcome="full")


class LayerwiseAveraging(Protocol):
    r"""Periodic averaging of only some layers (Adilova et al., ICLR 2024): every
    ``period`` steps the parameters of ``layers`` (module names such as ``"0"`` or
    ``"encoder.fc1"``; a parameter belongs to a layer if its name is ``layer`` or starts with
    ``layer + "."``) are aggregated across all learners and sent back; the other parameters
    stay local. Bytes count only the averaged parameters. ``method``, ``weighted``,
    ``fallback`` and ``options`` as in :class:`Protocol` (the Radon point of the averaged
    columns needs :math:`m \ge d_{\text{layers}} + 2` learners).

    Parameters
    ----------
    layers : list of str
        Names of the modules whose parameters are aggregated (``"0"`` for the first layer of
        an ``nn.Sequential``).
    period : int, default 10
        Local steps between synchronisations.
    weighted : bool or None, default None
        As in :class:`Protocol`.
    method : str or callable, default "mean"
        The aggregator (as in :class:`Protocol`).
    **options
        Passed to the aggregator.

    Raises
    ------
    ValueError
        If ``layers`` is not a non-empty list, ``period`` < 1, or (at the start of a run) a
        layer matches no parameter of the model.

    References
    ----------
    .. [1] L. Adilova, M. Andriushchenko, M. Kamp, A. Fischer, M. Jaggi, "Layer-wise Linear
       Mode Connectivity", ICLR 2024.

    Examples
    --------
    Average only the first layer (``0.weight``, ``0.bias``: 8 x 18 + 8 of 170 parameters):

    >>> from radonml.datasets import load_synthetic
    >>> from radonml.federated import make_learners, make_mlp, simulate
    >>> ds = load_synthetic(800, seed=0)
    >>> L = make_learners(make_mlp(18, 8, 2), ds.X_train, ds.y_train, 4, X_test=ds.X_test, y_test=ds.y_test)
    >>> h = simulate(LayerwiseAveraging(["0"], period=5), L, rounds=2)
    >>> h["messages"].tolist(), h["bytes"].tolist()
    ([8, 16], [4864, 9728])
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
            run.send_up(rows, whole_models=False)
            avg = run.combine(rows, self, self._weights(run), cols=self.cols)
            run.send_down(avg, L.m, cols=self.cols)
            L.theta[:, self.cols] = avg
            run.syncs += 1


class RadonOneShot(Protocol):
    """One round (Kamp et al., NeurIPS 2017): every learner trains alone to the end, then sends its model once;
    the coordinator aggregates with ``method`` (default the iterated Radon point, Kamp et al.,
    NeurIPS 2017; any registered name works) and sends the result back.

    The Radon point of :math:`m` models in :math:`\\mathbb{R}^d` needs :math:`m \\ge d + 2`;
    with fewer learners ``fallback`` (default the geometric median) is used with a
    :class:`~radonml.FallbackWarning` (``fallback=None`` raises instead). Before the final
    aggregation the reported global model is the (uncommunicated) average of the local models.

    Parameters
    ----------
    method : str or callable, default "radon"
        The aggregator of the one round (as in :class:`Protocol`).
    fallback : str or None, default "geometric_median"
        Used, with a :class:`~radonml.FallbackWarning`, when there are too few learners for
        ``method``; ``None`` raises instead.
    weighted : bool, default False
        Weight the models by their numbers of examples (only with an aggregator that uses
        weights).
    **options
        Passed to the aggregator.

    References
    ----------
    .. [1] M. Kamp, M. Boley, O. Missura, T. Gärtner, "Effective Parallelisation for Machine
       Learning", NeurIPS 2017.

    Examples
    --------
    >>> from radonml.datasets import load_synthetic
    >>> from radonml.federated import make_learners, make_mlp, simulate
    >>> ds = load_synthetic(800, seed=0)
    >>> L = make_learners(make_mlp(18, 8, 2), ds.X_train, ds.y_train, 4, X_test=ds.X_test, y_test=ds.y_test)
    >>> h = simulate(RadonOneShot(method="mean"), L, rounds=2)   # one message each, at the end
    >>> h["messages"].tolist(), h["syncs"].tolist()
    ([0, 8], [0, 1])
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
        L.assign(np.arange(L.m), self.final_, weights=self._weights(run))
        run.syncs += 1
