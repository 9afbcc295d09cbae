r"""Simulation: run one protocol on a fresh copy of the learners and record every round.

:func:`simulate` returns a :class:`History`: per round the test loss and accuracy of the
protocol's global model and of the local models, cumulative messages and bytes up/down
(counted from the tensors actually sent: ``numel * element_size`` of each payload; control
messages without a tensor, such as the coordinator's request for models in dynamic averaging,
count as messages with 0 bytes), synchronisations, the divergence
:math:`\frac{1}{m}\sum_i \lVert f_i - \bar f\rVert^2` and the wall time of training and
communication.

With ``attack=``, some learners are Byzantine (:mod:`radonml.attacks`): the coordinator
aggregates their messages after the attack replaced them (model-level attacks), or they train
on corrupted data (data-level attacks); :class:`History` then also records who was Byzantine
and which messages were replaced or dropped.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, List, Optional

import numpy as np
import torch

from .._validation import check_int
from ._run import ATTACK_SPACES, Adversary, Run
from .learners import Learners
from .protocols import Protocol

__all__ = ["History", "simulate"]


@dataclass
class History:
    """Per-round records of one :func:`simulate` run; ``history[key]`` is a numpy column.

    Keys: ``step``, ``loss``, ``accuracy`` (of the protocol's global model), ``local_loss``,
    ``local_accuracy`` (means over the learners' own models), ``messages``, ``bytes_up``,
    ``bytes_down``, ``bytes``, ``syncs`` (synchronisations of all selected learners),
    ``balancings`` (dynamic averaging's partial synchronisations), ``divergence``, ``time`` (cumulative wall seconds of
    training and communication, evaluation excluded). ``local_*`` and ``divergence`` cover the
    learners of the current round (:meth:`Protocol.active`): all of them, except for
    :class:`PeriodicAveraging` with ``fraction < 1``, where the learners selected for the
    round that follows the record (right after a synchronisation they hold the new global
    model, so the divergence is 0 there).

    Attributes
    ----------
    protocol : str
        The protocol's label (with the aggregator used last, e.g. a fallback).
    records : list of dict
        One record per round.
    final_model : (d,) float64 ndarray or None
        The global model after the last step.
    learners : Learners or None
        The simulation's learners in their final state (with a data-level attack, the
        Byzantine learners' shards as they trained on them).
    attack : dict or None
        With ``simulate(..., attack=...)``: the attack (:meth:`radonml.attacks.Attack.to_dict`)
        with ``byzantine`` (``"fixed"`` or ``"per_round"``), ``attack_on`` and ``attack_rng``.
        The records then also hold ``replaced`` and ``dropped``, the cumulative numbers of
        messages the attack replaced and of non-finite messages the coordinator left out.
    byzantine : list of int or None
        The Byzantine learners when they are fixed for the run (None: none, or drawn per round).
    attack_log : list of dict
        One entry per aggregation with Byzantine rows or dropped messages: ``aggregation`` (its
        index), ``step``, ``learners`` (whose messages the rows were), ``byzantine`` (whose were
        replaced), ``dropped``, and ``skipped`` (why the attack could not run) where it could not.

    Examples
    --------
    >>> from radonml.datasets import load_synthetic
    >>> from radonml.federated import PeriodicAveraging, make_learners, make_mlp, simulate
    >>> ds = load_synthetic(800, seed=0)
    >>> L = make_learners(make_mlp(18, 8, 2), ds.X_train, ds.y_train, 4, X_test=ds.X_test, y_test=ds.y_test)
    >>> h = simulate(PeriodicAveraging(5), L, rounds=3)
    >>> len(h), h.protocol, h["step"].tolist()
    (3, 'periodic(b=5)[mean]', [5, 10, 15])
    >>> h.final_model.shape, 0.0 <= h.final["accuracy"] <= 1.0
    ((170,), True)
    """

    protocol: str
    records: List[dict] = field(default_factory=list)
    final_model: Optional[np.ndarray] = None
    learners: Optional[Learners] = None
    attack: Optional[dict] = None
    byzantine: Optional[List[int]] = None
    attack_log: List[dict] = field(default_factory=list)

    def __getitem__(self, key):
        return np.array([r[key] for r in self.records])

    def __len__(self):
        return len(self.records)

    @property
    def final(self) -> dict:
        """The last record."""
        return self.records[-1]

    def to_dict(self) -> dict:
        """``{"protocol": ..., "records": [...]}`` (with an attack, also ``attack``,
        ``byzantine`` and ``attack_log``), plain Python types for JSON."""
        out = {"protocol": self.protocol, "records": self.records}
        if self.attack is not None:
            out.update(attack=self.attack, byzantine=self.byzantine, attack_log=self.attack_log)
        return out


def _check_evaluate(evaluate):
    if evaluate is not None and not callable(evaluate):
        if not isinstance(evaluate, (tuple, list)) or len(evaluate) != 2:
            raise TypeError("evaluate must be None, an (X_test, y_test) pair or a callable")
    return evaluate


def _total_steps(protocol, steps, rounds, steps_per_round):
    """(total steps, steps per record) from exactly one of ``steps`` and ``rounds``."""
    if (steps is None) == (rounds is None):
        raise ValueError(f"give exactly one of steps and rounds, got steps={steps!r} and rounds={rounds!r}")
    spr = check_int(steps_per_round if steps_per_round is not None else protocol.round_steps, "steps_per_round", minimum=1)
    total = check_int(steps, "steps", minimum=1) if steps is not None else check_int(rounds, "rounds", minimum=1) * spr
    return total, spr


def _evaluate(learners: Learners, protocol, run, evaluate, active=None) -> dict:
    """Loss and accuracy of the global model and mean loss and accuracy of the (active) local models."""
    g = protocol.global_model(run).detach()
    rows = np.arange(learners.m) if active is None else np.flatnonzero(active)
    local = learners.theta[torch.as_tensor(rows)]
    if evaluate is None:
        if learners.X_test is None:
            return {}
        evaluate = (learners.X_test, learners.y_test)
    if callable(evaluate):
        res = evaluate(learners.module(g))
        loc = [evaluate(learners.learner_module(i)) for i in rows]
        return {
            "loss": float(res.get("loss", np.nan)),
            "accuracy": float(res.get("accuracy", np.nan)),
            "local_loss": float(np.mean([r.get("loss", np.nan) for r in loc])),
            "local_accuracy": float(np.mean([r.get("accuracy", np.nan) for r in loc])),
        }
    X, y = evaluate
    X = torch.as_tensor(np.asarray(X), dtype=learners.dtype)
    y = torch.as_tensor(np.asarray(y), dtype=learners.y.dtype)
    losses, accs = learners.evaluate(torch.cat([g[None], local]), X, y)
    return {
        "loss": float(losses[0]),
        "accuracy": float(accs[0]),
        "local_loss": float(losses[1:].mean()),
        "local_accuracy": float(accs[1:].mean()),
    }


def _record(t: int, protocol, run: Run, evaluate, elapsed: float) -> dict:
    """One row of the history after step ``t``: evaluation, counters, divergence, time."""
    L = run.learners
    active = protocol.active(run)
    rec = {"step": t}
    rec.update(_evaluate(L, protocol, run, evaluate, active))
    rec.update(
        messages=run.messages,
        bytes_up=run.bytes_up,
        bytes_down=run.bytes_down,
        bytes=run.bytes_up + run.bytes_down,
        syncs=run.syncs,
        balancings=run.balancings,
        divergence=L.divergence(active),
        time=elapsed,
    )
    if run.adversary is not None:
        rec.update(replaced=run.adversary.replaced, dropped=run.adversary.dropped)
    return rec


def _check_attack(attack, byzantine, attack_on, attack_rng, m: int):
    """Validate simulate's attack arguments: (Attack, fixed mask or None, attack_on, seed) or None."""
    if attack is None:
        for name, value in (("byzantine", byzantine), ("attack_rng", attack_rng)):
            if value is not None:
                raise ValueError(f"{name} is used only with attack=; pass an attack or drop {name}")
        return None
    from ..attacks import Attack

    if isinstance(attack, str):
        attack = Attack(attack)
    elif not isinstance(attack, Attack):
        raise TypeError(f"attack must be an attack name or a radonml.attacks.Attack, got {type(attack).__name__}")
    if attack_on not in ATTACK_SPACES:
        raise ValueError(f"attack_on must be one of {list(ATTACK_SPACES)}, got {attack_on!r}")
    seed = None if attack_rng is None else check_int(attack_rng, "attack_rng", minimum=0)
    if isinstance(byzantine, str):
        if byzantine != "per_round":
            raise ValueError("byzantine must be None, 'per_round' or the Byzantine learners' indices, "
                             f"got {byzantine!r}")
        if attack.kind == "data":
            raise ValueError(f"{attack.name!r} corrupts the Byzantine learners' data before they train, so they are "
                             "fixed for the run; byzantine='per_round' needs a model-level attack")
        if attack.f is None:
            raise ValueError("byzantine='per_round' draws attack.f learners per aggregation; give Attack(..., f=...)")
        return attack, None, attack_on, seed
    if byzantine is None:
        if attack.f is None:
            raise ValueError("the attack has no f: give Attack(name, f=...) (f Byzantine learners drawn once with "
                             "attack_rng) or byzantine= (the Byzantine learners' indices)")
        if attack.f > m:
            raise ValueError(f"the attack's f = {attack.f} exceeds the number of learners m = {m}")
        return attack, "draw", attack_on, seed
    b = np.asarray(byzantine)
    if b.dtype == bool:
        if b.shape != (m,):
            raise ValueError(f"byzantine as a boolean mask must have shape ({m},), one entry per learner, "
                             f"got {b.shape}")
        mask = b.copy()
    else:
        if b.ndim != 1 or (b.size and b.dtype.kind not in "iu"):
            raise TypeError("byzantine must be None, 'per_round', integer learner indices or a boolean mask, "
                            f"got {byzantine!r}")
        b = b.astype(np.int64)
        if b.size and (b.min() < 0 or b.max() >= m):
            raise ValueError(f"byzantine learner indices must lie in [0, {m}), got {b.tolist()}")
        if np.unique(b).size != b.size:
            raise ValueError(f"byzantine learner indices must be distinct, got {b.tolist()}")
        mask = np.zeros(m, dtype=bool)
        mask[b] = True
    if attack.f is not None and attack.f != int(mask.sum()):
        raise ValueError(f"the attack's f = {attack.f} disagrees with byzantine, which names {int(mask.sum())} "
                         "learner(s)")
    return attack, mask, attack_on, seed


def _corrupt_shards(adversary: Adversary, L: Learners) -> None:
    """A data-level attack: replace the Byzantine learners' shards (new tensors; the data that
    ``L`` shares with the caller's learners stay untouched)."""
    attack = adversary.attack
    extra = {}
    if "classes" not in attack.params and L.y.dtype in (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8):
        top = int(L.y.max())
        if L.y_test is not None and L.y_test.numel():
            top = max(top, int(L.y_test.max()))
        extra["classes"] = top + 1
    X, y = L.X.clone(), L.y.clone()
    for i in np.flatnonzero(adversary.mask):
        o, n = int(L.offsets[i]), int(L.n_samples[i])
        Xi, yi = L.X[o : o + n].numpy(), L.y[o : o + n].numpy()
        Xc, yc = attack.corrupt_data(Xi, yi, rng=adversary.generator(2, int(i)), **extra)
        Xc, yc = np.asarray(Xc), np.asarray(yc)
        if Xc.shape != Xi.shape or yc.shape != yi.shape:
            raise ValueError(f"the data-level attack {attack.name!r} changed the shape of learner {i}'s shard from "
                             f"{Xi.shape}, {yi.shape} to {Xc.shape}, {yc.shape}; it must keep every example")
        X[o : o + n] = torch.as_tensor(Xc, dtype=X.dtype)
        y[o : o + n] = torch.as_tensor(yc, dtype=y.dtype)
    L.X, L.y = X, y


def _progress_bar(progress: bool, total: int, label: str):
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=label, leave=False)


def simulate(
    protocol: Protocol,
    learners: Learners,
    *,
    steps: Optional[int] = None,
    rounds: Optional[int] = None,
    steps_per_round: Optional[int] = None,
    evaluate=None,
    callback: Optional[Callable] = None,
    progress: bool = False,
    seed: Optional[int] = None,
    attack=None,
    byzantine=None,
    attack_on: str = "update",
    attack_rng: Optional[int] = None,
) -> History:
    r"""Run ``protocol`` on a fresh copy of ``learners`` (reset to the common initial model and
    the seeded batch stream, so protocols are compared on identical draws), optionally with
    Byzantine learners.

    **Byzantine learners** (``attack=``). :math:`f` of the :math:`m` learners are Byzantine:
    they train honestly (their own models are what ``sign_flip`` and ``gaussian_noise`` with
    ``of/center="own"`` corrupt), but every message they send to the coordinator is replaced
    by the attack's vector before the coordinator aggregates (a model-level attack of
    :func:`radonml.attacks.available_attacks`), or they train on corrupted data (a data-level
    attack: ``label_flip`` flips the labels of their shards, :math:`y \mapsto K - 1 - y` with
    :math:`K` the number of classes, before the first step). In every protocol the attack acts
    on what is sent up: the gradients of :class:`MiniBatchSGD`, the models of
    :class:`PeriodicAveraging` and :class:`RadonOneShot`, the models that learners report
    when a local condition is violated and those the coordinator asks for while balancing
    (:class:`DynamicAveraging`), the averaged columns of :class:`LayerwiseAveraging`. In each
    aggregation :math:`x_1, \dots, x_k` (the messages of the learners the coordinator
    combines; :func:`radonml.aggregate`'s input), the Byzantine rows :math:`B` become

    .. math::

        x_B \leftarrow g_B + \mathrm{attack}\bigl((x_i - g_i)_{i \notin B}\bigr)

    (``attack_on="update"``, the default, as the attacks' papers and
    :class:`radonml.flower.FedAggregate` define them), with :math:`g_i` the model the
    coordinator last sent to learner :math:`i` (the common initial model before that), or
    :math:`x_B \leftarrow \mathrm{attack}((x_i)_{i \notin B})` (``attack_on="model"``, and
    always for gradients): exactly ``attack(X - G, byzantine=rows, rng=gen).models`` of
    :class:`radonml.attacks.Attack` on that stack, then cast to the learners' dtype (a
    Byzantine learner sends a tensor of the honest size, so messages and bytes are counted as
    without the attack). The attack is omniscient: it sees the other messages of the same
    aggregation; in a balancing of dynamic averaging that grows its set, each aggregate the
    coordinator forms is attacked anew. The coordinator leaves out messages holding NaN or
    inf (``inf_nan``), and an aggregator that takes ``f`` then gets ``f`` minus their number;
    if every message of an aggregation is non-finite it raises ``ValueError``. An aggregator
    that cannot run on the number of messages falls back as usual
    (:class:`~radonml.FallbackWarning`). Give the aggregator its ``f`` through the protocol:
    ``PeriodicAveraging(method="krum", f=2)``.

    Which learners are Byzantine: ``byzantine=None`` draws ``attack.f`` learners once per run
    (``attack.select(m, rng=default_rng([attack_rng, 0]))``); ``byzantine="per_round"`` draws
    :math:`\min(f, k)` of the :math:`k` rows of every aggregation anew (model-level attacks
    only; with dynamic averaging's small balancings, ``f`` may then be all of them); indices
    or a boolean mask fix them. Aggregation number :math:`j` (0, 1, ...) uses the generator
    ``numpy.random.default_rng([attack_rng, 1, j])``, to draw its rows (per round) and then for
    the attack; a data-level attack on learner :math:`i` uses ``default_rng([attack_rng, 2,
    i])``. The attack never draws from the protocol's generator, so with ``f = 0`` a run is
    the clean run, bit for bit.

    Parameters
    ----------
    protocol : Protocol
    learners : Learners
    steps, rounds : int
        Exactly one: the number of time steps (one local SGD step on every active learner),
        or of rounds of ``steps_per_round`` steps.
    steps_per_round : int, optional
        Steps between records; default ``protocol.round_steps`` (the period or check interval).
        A record is also taken after the last step, after :meth:`Protocol.finish`.
    evaluate : None, (X_test, y_test) or callable
        ``None``: the learners' test set if they have one (else no loss/accuracy columns); a
        pair: loss (the learners' loss) and accuracy, vectorized over the models; a callable
        ``evaluate(module) -> {"loss": ..., "accuracy": ...}``.
    callback : callable, optional
        ``callback(t, protocol, learners)`` after every step (for inspection; do not modify).
    progress : bool
        Show a tqdm bar.
    seed : int, optional
        Seed of the protocol's own randomness (client sampling, the Radon tree); default the
        learners' seed.
    attack : str or radonml.attacks.Attack, optional
        The Byzantine learners' attack, with its ``f`` and parameters (a name: an attack
        without parameters, whose learners ``byzantine`` must name). ``min_max`` attacks the
        aggregator given as its ``aggregator=`` parameter (e.g. ``Attack("min_max", f=2,
        aggregator="krum", aggregator_options={"f": 2})``).
    byzantine : None, "per_round", or (f,) int / (m,) bool array-like, optional
        Which learners are Byzantine (see above).
    attack_on : {"update", "model"}, default "update"
        Where a model-level attack acts on models (see above); gradients are attacked as they are.
    attack_rng : int, optional
        Seed of the attack; default ``seed`` (or the learners' seed).

    Returns
    -------
    History

    Raises
    ------
    TypeError
        If ``protocol`` or ``learners`` has the wrong type, ``evaluate`` is neither None,
        a pair nor a callable, or ``attack`` is neither a name nor an ``Attack``.
    ValueError
        Unless exactly one of ``steps`` and ``rounds`` is given, as a positive integer; an
        attack without ``f`` and without ``byzantine``, ``f > m``, ``byzantine`` out of range
        or disagreeing with ``f``, ``"per_round"`` with a data-level attack, an unknown
        ``attack_on``; an aggregation whose every message is non-finite.

    Examples
    --------
    >>> from radonml.datasets import load_mnist1d
    >>> from radonml.federated import NoSync, make_learners, make_mlp
    >>> ds = load_mnist1d(1000)
    >>> L = make_learners(make_mlp(40, 16, 10), ds.X_train, ds.y_train, 4, X_test=ds.X_test, y_test=ds.y_test)
    >>> h = simulate(NoSync(), L, rounds=2)
    >>> h["step"].tolist(), h["bytes"].tolist()
    ([10, 20], [0, 0])

    Two of four learners flip the sign of their updates (scaled by 4) in periodic averaging;
    the coordinator uses the coordinate-wise median:

    >>> from radonml.attacks import Attack
    >>> from radonml.federated import PeriodicAveraging
    >>> h = simulate(PeriodicAveraging(5, method="median"), L, rounds=2,
    ...              attack=Attack("sign_flip", f=2, scale=4.0), attack_rng=0)
    >>> h.byzantine, h.final["replaced"], [e["step"] for e in h.attack_log]
    ([2, 3], 4, [5, 10])
    """
    if not isinstance(protocol, Protocol):
        raise TypeError(f"protocol must be a radonml.federated.Protocol, got {type(protocol).__name__}")
    if not isinstance(learners, Learners):
        raise TypeError(f"learners must be a radonml.federated.Learners, got {type(learners).__name__}")
    total, spr = _total_steps(protocol, steps, rounds, steps_per_round)
    evaluate = _check_evaluate(evaluate)
    checked = _check_attack(attack, byzantine, attack_on, attack_rng, learners.m)
    L = learners.copy().reset()
    protocol.used_method = protocol.method
    seed = learners.seed if seed is None else check_int(seed, "seed", minimum=0)
    rng = np.random.default_rng(seed)
    adversary = None
    if checked is not None:
        attack, mask, attack_on, attack_seed = checked
        attack_seed = seed if attack_seed is None else attack_seed
        adversary = Adversary(attack, None, attack_on, attack_seed, L.theta0, L.m)
        if isinstance(mask, str):  # "draw": attack.f learners, once
            mask = attack.select(L.m, rng=adversary.generator(0))
        adversary.mask = mask
        if attack.kind == "data":
            _corrupt_shards(adversary, L)
    run = Run(L, rng, adversary)
    hist = History(protocol=protocol.label())
    if adversary is not None:
        hist.attack = {**adversary.attack.to_dict(),
                       "byzantine": "fixed" if adversary.mask is not None else "per_round",
                       "attack_on": adversary.attack_on, "attack_rng": adversary.seed}
        hist.byzantine = None if adversary.mask is None else np.flatnonzero(adversary.mask).tolist()
    bar = _progress_bar(progress, total, protocol.label())
    L.warmup()
    t0 = time.perf_counter()
    with torch.no_grad():
        protocol.start(run)
    elapsed = time.perf_counter() - t0
    for t in range(1, total + 1):
        t0 = time.perf_counter()
        run.step = t
        protocol.step(run, t)
        if t == total:
            protocol.finish(run)
        elapsed += time.perf_counter() - t0
        if callback is not None:
            callback(t, protocol, L)
        if t % spr == 0 or t == total:
            hist.records.append(_record(t, protocol, run, evaluate, elapsed))
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    hist.protocol = protocol.label()
    hist.final_model = protocol.global_model(run).detach().double().numpy().copy()
    hist.learners = L
    if adversary is not None:
        hist.attack_log = adversary.log
    return hist
