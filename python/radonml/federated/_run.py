"""The state of one simulation run, shared by the protocols and :func:`simulate` (private module).

A :class:`Run` holds the learners, the protocol's random generator and the communication
counters; protocols talk through it (:meth:`Run.send_up`, :meth:`Run.send_down`,
:meth:`Run.control`, :meth:`Run.combine`), so every message is counted in one place.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["Run"]


class Run:
    """Mutable state of one simulation: learners, counters, and the coordinator's helpers.

    Attributes
    ----------
    learners : Learners
        The simulation's own copy, reset to the common initial model.
    rng : numpy.random.Generator
        The protocol's randomness (client sampling, the Radon tree).
    messages, bytes_up, bytes_down, syncs, balancings : int
        Counters: messages of any kind, bytes learner -> coordinator and coordinator ->
        learners (``numel * element_size`` of each payload), synchronisations of all
        (selected) learners, and partial synchronisations of a subset (dynamic averaging's
        balancings).
    """

    def __init__(self, learners, rng: np.random.Generator):
        self.learners = learners
        self.rng = rng
        self.messages = 0
        self.bytes_up = 0
        self.bytes_down = 0
        self.syncs = 0
        self.balancings = 0

    def send_up(self, payload: torch.Tensor):
        """Each row of ``payload`` is one message from one learner to the coordinator."""
        rows = payload.shape[0]
        self.messages += rows
        self.bytes_up += payload.numel() * payload.element_size()

    def send_down(self, payload: torch.Tensor, n_receivers: int):
        """The coordinator sends ``payload`` to ``n_receivers`` learners."""
        self.messages += int(n_receivers)
        self.bytes_down += int(n_receivers) * payload.numel() * payload.element_size()

    def control(self, n: int):
        """``n`` messages without a tensor (0 bytes counted)."""
        self.messages += int(n)

    def combine(self, rows: torch.Tensor, protocol, weights=None) -> torch.Tensor:
        """Aggregate ``rows`` (k, d) with ``protocol``'s resolved aggregator; records the
        aggregator actually used (a fallback shows) in ``protocol.used_method``."""
        options = dict(protocol.options)
        if protocol.method == "radon" and options.get("rng") is None:
            options["rng"] = self.rng
        vec, used = protocol.aggregator(rows.detach().double().numpy(), weights=weights, **options)
        protocol.used_method = used
        return torch.as_tensor(vec, dtype=rows.dtype)
