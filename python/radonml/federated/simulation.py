r"""Simulation: run one protocol on a fresh copy of the learners and record every round.

:func:`simulate` returns a :class:`History`: per round the test loss and accuracy of the
protocol's global model and of the local models, cumulative messages and bytes up/down
(counted from the tensors actually sent: ``numel * element_size`` of each payload; control
messages without a tensor, such as the coordinator's request for models in dynamic averaging,
count as messages with 0 bytes), synchronisations, the divergence
:math:`\frac{1}{m}\sum_i \lVert f_i - \bar f\rVert^2` and the wall time of training and
communication.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, List, Optional

import numpy as np
import torch

from .._validation import check_int
from ._run import Run
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
        The simulation's learners in their final state.
    """

    protocol: str
    records: List[dict] = field(default_factory=list)
    final_model: Optional[np.ndarray] = None
    learners: Optional[Learners] = None

    def __getitem__(self, key):
        return np.array([r[key] for r in self.records])

    def __len__(self):
        return len(self.records)

    @property
    def final(self) -> dict:
        """The last record."""
        return self.records[-1]

    def to_dict(self) -> dict:
        """``{"protocol": ..., "records": [...]}``, plain Python types for JSON."""
        return {"protocol": self.protocol, "records": self.records}


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
    local = learners.theta if active is None else learners.theta[torch.as_tensor(active)]
    if evaluate is None:
        if learners.X_test is None:
            return {}
        evaluate = (learners.X_test, learners.y_test)
    if callable(evaluate):
        res = evaluate(learners.module(g))
        loc = [evaluate(learners.module(th)) for th in local]
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
    return rec


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
) -> History:
    """Run ``protocol`` on a fresh copy of ``learners`` (reset to the common initial model and
    the seeded batch stream, so protocols are compared on identical draws).

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

    Returns
    -------
    History

    Raises
    ------
    TypeError
        If ``protocol`` or ``learners`` has the wrong type, or ``evaluate`` is neither None,
        a pair nor a callable.
    ValueError
        Unless exactly one of ``steps`` and ``rounds`` is given, as a positive integer.

    Examples
    --------
    >>> from radonml.datasets import load_mnist1d
    >>> from radonml.federated import NoSync, make_learners, make_mlp
    >>> ds = load_mnist1d(1000)
    >>> L = make_learners(make_mlp(40, 16, 10), ds.X_train, ds.y_train, 4, X_test=ds.X_test, y_test=ds.y_test)
    >>> h = simulate(NoSync(), L, rounds=2)
    >>> h["step"].tolist(), h["bytes"].tolist()
    ([10, 20], [0, 0])
    """
    if not isinstance(protocol, Protocol):
        raise TypeError(f"protocol must be a radonml.federated.Protocol, got {type(protocol).__name__}")
    if not isinstance(learners, Learners):
        raise TypeError(f"learners must be a radonml.federated.Learners, got {type(learners).__name__}")
    total, spr = _total_steps(protocol, steps, rounds, steps_per_round)
    evaluate = _check_evaluate(evaluate)
    L = learners.copy().reset()
    protocol.used_method = protocol.method
    rng = np.random.default_rng(learners.seed if seed is None else check_int(seed, "seed", minimum=0))
    run = Run(L, rng)
    hist = History(protocol=protocol.label())
    bar = _progress_bar(progress, total, protocol.label())
    L.warmup()
    t0 = time.perf_counter()
    with torch.no_grad():
        protocol.start(run)
    elapsed = time.perf_counter() - t0
    for t in range(1, total + 1):
        t0 = time.perf_counter()
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
    return hist
