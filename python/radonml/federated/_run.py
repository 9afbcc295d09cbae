"""The state of one simulation run, shared by the protocols and :func:`simulate` (private module).

A :class:`Run` holds the learners, the protocol's random generator and the communication
counters; protocols talk through it (:meth:`Run.send_up`, :meth:`Run.send_down`,
:meth:`Run.control`, :meth:`Run.combine`), so every message is counted in one place, and every
aggregation, where an :class:`Adversary` (Byzantine learners, ``simulate(..., attack=...)``)
replaces the Byzantine learners' messages, goes through one seam.
"""

from __future__ import annotations

import warnings
from typing import Optional

import numpy as np
import torch

from ..exceptions import RadonmlWarning

__all__ = ["Run", "Adversary", "ATTACK_SPACES", "MESSAGES"]

#: Where a model-level attack acts: on what a learner changed since the coordinator last sent it a
#: model (``"update"``), or on the model it sends (``"model"``).
ATTACK_SPACES = ("update", "model")
#: What the rows of one aggregation are: models (or some of their columns) or gradients.
MESSAGES = ("model", "gradient")


class Adversary:
    r"""The Byzantine learners of one simulation and what they do to the messages.

    Made by :func:`radonml.federated.simulate` from its ``attack``, ``byzantine``,
    ``attack_on`` and ``attack_rng``; see there for the threat model. Randomness, all from
    ``seed`` (never from the protocol's generator, so the honest part of a run is the clean
    run's): the fixed Byzantine learners are ``attack.select(m, rng=default_rng([seed, 0]))``;
    aggregation :math:`k` (0, 1, ...: every call of :meth:`Run.combine`, attacked or not) uses
    ``default_rng([seed, 1, k])``, first to draw its Byzantine rows when they are drawn per
    round, then for the attack's own randomness; a data-level attack on learner :math:`i`'s
    shard uses ``default_rng([seed, 2, i])``.

    Attributes
    ----------
    attack : radonml.attacks.Attack
    mask : (m,) ndarray of bool or None
        The fixed Byzantine learners (None when drawn per round).
    attack_on : {"update", "model"}
    seed : int
    received : (m, d) tensor or None
        The model each learner last received from the coordinator (the common initial model
        before the first), kept for ``attack_on="update"``.
    log : list of dict
        One entry per aggregation that had Byzantine rows or dropped a message: ``aggregation``
        (its index k), ``step``, ``learners`` (whose messages the rows are, in order),
        ``byzantine`` (the learners whose messages were replaced), ``dropped`` (learners whose
        message was not finite and was left out), and ``skipped`` (why the attack could not run
        on these rows, the messages then staying honest) where that happened.
    replaced, dropped, aggregations : int
        Messages replaced, messages dropped, aggregations seen.
    """

    def __init__(self, attack, mask: Optional[np.ndarray], attack_on: str, seed: int, theta0: torch.Tensor, m: int):
        self.attack = attack
        self.mask = mask
        self.attack_on = attack_on
        self.seed = int(seed)
        track = attack.kind == "model" and attack_on == "update"
        self.received = theta0.detach().repeat(m, 1) if track else None
        self.log = []
        self.replaced = 0
        self.dropped = 0
        self.aggregations = 0

    def generator(self, *key: int) -> np.random.Generator:
        """``numpy.random.default_rng([seed, *key])``."""
        return np.random.default_rng([self.seed, *key])

    def delivered(self, payload: torch.Tensor, receivers: np.ndarray, cols=None) -> None:
        """The coordinator sent ``payload`` (its columns ``cols``) to the learners ``receivers``."""
        if self.received is None or receivers.size == 0:
            return
        idx = torch.as_tensor(receivers)
        if cols is None:
            self.received[idx] = payload.detach().to(self.received.dtype)
        else:
            self.received[idx[:, None], cols[None, :]] = payload.detach().to(self.received.dtype)

    def _reference(self, learners: np.ndarray, message: str, cols) -> np.ndarray:
        """(k, d) float64: what each row's update is measured from (0 for gradients and models)."""
        if message == "gradient" or self.received is None:
            return np.zeros(1)
        ref = self.received[torch.as_tensor(learners)]
        if cols is not None:
            ref = ref[:, cols]
        return ref.double().numpy()

    def intercept(self, X: np.ndarray, dtype: torch.dtype, learners: np.ndarray, message: str, cols, weights,
                  step: int):
        """Replace the Byzantine rows of one aggregation's stack ``X`` (k, d) and drop non-finite
        rows; returns ``(X, weights, n_dropped)``."""
        k = X.shape[0]
        index = self.aggregations
        self.aggregations += 1
        gen = self.generator(1, index)
        if self.mask is None:  # drawn per round: min(f, k) of this aggregation's rows
            rows = np.zeros(k, dtype=bool)
            f = min(int(self.attack.f), k)
            if f:
                rows[gen.choice(k, size=f, replace=False)] = True
        else:
            rows = self.mask[learners]
        model_level = self.attack.kind == "model"
        entry = {"aggregation": index, "step": int(step), "learners": learners.tolist(),
                 "byzantine": learners[rows].tolist() if model_level else [], "dropped": []}
        if model_level and rows.any():
            G = self._reference(learners, message, cols)
            try:
                with np.errstate(over="ignore", invalid="ignore"):
                    B = self.attack(X - G, byzantine=rows, rng=gen).models[rows]
                    B = B + (G[rows] if G.ndim == 2 else G)
                    # the attackers send tensors of the learners' dtype (the same size as an honest message)
                    B = B.astype(torch.empty(0, dtype=dtype).numpy().dtype).astype(np.float64)
            except (ValueError, FloatingPointError, np.linalg.LinAlgError) as exc:
                entry["byzantine"] = []
                entry["skipped"] = str(exc)
                warnings.warn(f"aggregation {index} (step {step}): the attack {self.attack.name!r} cannot run on these "
                              f"{k} messages ({exc}); the Byzantine learners' messages stay honest", RadonmlWarning,
                              stacklevel=4)
            else:
                X = X.copy()
                X[rows] = B
                self.replaced += int(rows.sum())
        finite = np.isfinite(X).all(axis=1)
        n_dropped = int(k - finite.sum())
        if n_dropped:
            if n_dropped == k:
                raise ValueError(f"aggregation {index} (step {step}): every one of the {k} messages the coordinator "
                                 "received holds NaN or infinite values; nothing is left to aggregate")
            entry["dropped"] = learners[~finite].tolist()
            self.dropped += n_dropped
            X = X[finite]
            weights = None if weights is None else np.asarray(weights)[finite]
        if entry["byzantine"] or entry["dropped"] or "skipped" in entry:
            self.log.append(entry)
        return X, weights, n_dropped


class Run:
    """Mutable state of one simulation: learners, counters, and the coordinator's helpers.

    Attributes
    ----------
    learners : Learners
        The simulation's own copy, reset to the common initial model.
    rng : numpy.random.Generator
        The protocol's randomness (client sampling, the Radon tree).
    adversary : Adversary or None
        The Byzantine learners (``simulate(..., attack=...)``), or None.
    step : int
        The current time step (set by :func:`simulate`).
    messages, bytes_up, bytes_down, syncs, balancings : int
        Counters: messages of any kind, bytes learner -> coordinator and coordinator ->
        learners (``numel * element_size`` of each payload), synchronisations of all
        (selected) learners, and partial synchronisations of a subset (dynamic averaging's
        balancings). Byzantine learners send messages of the honest sizes, so an attack
        changes no counter by itself.
    """

    def __init__(self, learners, rng: np.random.Generator, adversary: Optional[Adversary] = None):
        self.learners = learners
        self.rng = rng
        self.adversary = adversary
        self.step = 0
        self.messages = 0
        self.bytes_up = 0
        self.bytes_down = 0
        self.syncs = 0
        self.balancings = 0

    def _learner_indices(self, learners, what: str, expected: Optional[int] = None) -> np.ndarray:
        m = self.learners.m
        if learners is None:
            if expected is not None and expected != m:
                raise ValueError(f"{what}: {expected} rows but no learner indices; pass learners= (which learner "
                                 "each row belongs to)")
            return np.arange(m)
        idx = np.asarray(learners)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        idx = idx.astype(np.int64).ravel()
        if expected is not None and idx.size != expected:
            raise ValueError(f"{what}: {expected} rows but {idx.size} learner indices")
        return idx

    def send_up(self, payload: torch.Tensor, *, whole_models: bool = True):
        """Each row of ``payload`` is one message from one learner to the coordinator; a whole
        model also carries its integer buffers (``learners.int_nbytes``; gradients and layer
        columns do not)."""
        rows = payload.shape[0]
        self.messages += rows
        extra = self.learners.int_nbytes if whole_models else 0
        self.bytes_up += payload.numel() * payload.element_size() + rows * extra

    def send_down(self, payload: torch.Tensor, receivers, cols=None, *, whole_models: bool = True):
        """The coordinator sends ``payload`` to ``receivers``: the learners' indices (or a boolean
        mask), or their number (all ``m`` learners, or, without an adversary that tracks what
        each learner received, any ``n``). ``cols``: the columns of the models that ``payload``
        holds (layer-wise averaging). ``whole_models``: the payload is a whole model, sent
        with its integer buffers (``learners.int_nbytes`` bytes more per receiver)."""
        if isinstance(receivers, (int, np.integer)):
            n = int(receivers)
            idx = np.arange(self.learners.m) if n == self.learners.m else None
        else:
            idx = self._learner_indices(receivers, "send_down")
            n = idx.size
        self.messages += n
        extra = self.learners.int_nbytes if whole_models and cols is None else 0
        self.bytes_down += n * (payload.numel() * payload.element_size() + extra)
        if self.adversary is not None and self.adversary.received is not None:
            if idx is None:
                raise ValueError(f"send_down to {n} of {self.learners.m} learners: pass their indices, so that the "
                                 "Byzantine learners' updates are measured from what each received")
            self.adversary.delivered(payload, idx, cols)

    def control(self, n: int):
        """``n`` messages without a tensor (0 bytes counted)."""
        self.messages += int(n)

    def combine(self, rows: torch.Tensor, protocol, weights=None, *, learners=None, message: str = "model",
                cols=None) -> torch.Tensor:
        """Aggregate ``rows`` (k, d), the messages of ``learners`` (indices; default all m, in
        order), with ``protocol``'s resolved aggregator; records the aggregator actually used (a
        fallback shows) in ``protocol.used_method``.

        With an adversary, the Byzantine learners' rows are replaced first and rows holding NaN
        or inf are left out (the coordinator checks what it receives; ``f``, when the aggregator
        takes it, drops by their number), see :func:`radonml.federated.simulate`. ``message``:
        ``"model"`` (models, or their columns ``cols``) or ``"gradient"``.
        """
        options = dict(protocol.options)
        if protocol.method == "radon" and options.get("rng") is None:
            options["rng"] = self.rng
        X = rows.detach().double().numpy()
        if self.adversary is not None:
            idx = self._learner_indices(learners, "combine", rows.shape[0])
            X, weights, n_dropped = self.adversary.intercept(X, rows.dtype, idx, message, cols, weights, self.step)
            if n_dropped and options.get("f") is not None:
                options["f"] = max(0, int(options["f"]) - n_dropped)
        vec, used = protocol.aggregator(X, weights=weights, **options)
        protocol.used_method = used
        return torch.as_tensor(vec, dtype=rows.dtype)
