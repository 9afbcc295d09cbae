r"""radonml's aggregators inside Flower (flwr >= 1.20 Message API: ``ServerApp``/``ClientApp``
with ``ArrayRecord``).

:class:`FedAggregate` subclasses Flower's :class:`flwr.serverapp.strategy.FedAvg` and replaces
only its aggregation of the clients' arrays: each reply's ``ArrayRecord`` is flattened into one
vector :math:`f_i \in \mathbb{R}^d` (the floating-point arrays in the record's key order, each
row-major), the vectors are combined by :func:`radonml.aggregate` with any registered method,
and the result is cut back into arrays of the original shapes and dtypes. Sampling, the
configuration messages, metric aggregation and evaluation stay FedAvg's.
:class:`FedRadon` is the same with the iterated Radon point (Kamp et al., NeurIPS 2017).

Robustness of the server:

- **Replies are matched to the global model by name.** As in Flower's own FedAvg, arrays are
  matched by their key in the ``ArrayRecord``, never by position. The keys, shapes and dtypes
  every reply must have are those of the arrays the server sent in that round
  (:meth:`FedAggregate.configure_train` records them per round; call
  :meth:`FedAggregate.set_global_arrays` yourself if you send the round's messages without
  it). A reply with a missing or extra key, another shape or another dtype is dropped with a
  logged warning that names the node and every difference. When no arrays are known for a
  round (``aggregate_train`` called on its own), the replies are matched to the signature
  (keys, shapes, dtypes) most usable replies share, a tie going to the smallest signature in
  sorted order, and the global model's keys are in sorted order. Nothing depends on which
  reply arrived first or on the order of the keys inside a reply.
- **Arrival order never matters.** The usable replies are put in the order of their node id
  (then message id, then content) before anything is aggregated, so every permutation of the
  replies, and every key order inside them, gives a bit-identical global model, the Radon
  tree of a seeded ``rng`` included.
- **Too few replies for a Radon point.** The Radon point of :math:`k` vectors in
  :math:`\mathbb{R}^d` needs :math:`k \ge r = d + 2`. When fewer clients reply (failed or slow
  clients, a small federation), the round is aggregated with ``fallback`` (default the
  geometric median, RFA; Pillutla et al., 2022), a :class:`~radonml.FallbackWarning` is
  emitted and a WARNING is logged on Flower's logger; the round number is appended to
  :attr:`FedAggregate.fallback_rounds`. ``fallback=None`` keeps the previous global model for
  that round instead.
- **Unusable replies.** Replies with errors are skipped (as in FedAvg). Unlike FedAvg, which
  stops on the first inconsistent reply, replies that do not match the global model, hold
  NaN or inf (the warning names the arrays), or (when weighted) lack a valid weight are
  dropped one by one with a logged warning. If nothing usable is left, the round keeps the
  previous global model.
- **A failing aggregator.** If ``method`` raises ``ValueError``/``LinAlgError``/
  ``FloatingPointError`` on a round's replies, or returns NaN or inf, that round uses
  ``fallback`` (warned and logged); an aggregate that does not fit in the arrays' dtype keeps
  the previous global model (logged). The server never installs a non-finite model.
- **One policy for every array** (:func:`radonml.torch.tensor_rule`, the same as
  :func:`radonml.torch.aggregate_modules` applies to the same models): every floating-point
  array, BatchNorm running statistics included, goes through ``method``; integer arrays (a
  torch ``state_dict``'s ``num_batches_tracked``) become the element-wise (weighted) lower
  median of the replies' values.

Simulated Byzantine clients (for experiments; ``attack=``):

- Attacks that need no other client's vector (sign flip, Gaussian noise, Inf/NaN, label flip
  on the client's data) belong in the malicious ``ClientApp`` itself (``examples/flower-app``).
- **Colluding attacks** (ALIE, IPM, Mimic, min-max, min-sum: :mod:`radonml.attacks`) need the
  honest clients' vectors, which only the server sees. With ``attack=`` the strategy plays
  the adversary: at the start of :meth:`FedAggregate.aggregate_train` it replaces the replies
  of the round's Byzantine clients by the attack's vectors, computed from the other usable
  replies (:meth:`FedAggregate.corrupt_replies`), and then aggregates exactly as without an
  attack (the same checks, drops and fallbacks). The Byzantine clients are ``f`` of the round's
  usable replies drawn with a generator seeded per round, the nodes whose replies carry a
  flag metric (the clients the simulation made malicious say so), or given node ids. By
  default the attack acts on the clients' *updates* :math:`x_i - g` relative to the global
  model :math:`g` sent in that round (the vectors the attacks' papers corrupt: gradients or
  model differences) and sends :math:`g + b`; ``attack_on="model"`` attacks the models.

Radon points exist only for :math:`m \ge d + 2` clients, so :class:`FedRadon` suits small
models (linear and logistic models, small heads); for networks pick ``method="median"``,
``"geometric_median"`` or ``"trimmed_mean"``.
"""

from __future__ import annotations

import copy
import hashlib
import warnings
from logging import INFO, WARNING
from typing import Dict, Iterable, List, Optional, Tuple

import numpy as np

try:
    from flwr.app import Array, ArrayRecord, Message, MetricRecord, RecordDict
    from flwr.serverapp.strategy import FedAvg
    from flwr.supercore import log
except ModuleNotFoundError as exc:  # pragma: no cover - optional dependency
    raise ModuleNotFoundError("radonml.flower needs Flower; install it with `pip install 'flwr[simulation]>=1.20'`") from exc

from ._state import StateLayout
from ._validation import check_int, check_rng
from .aggregators import accepts_option, aggregate_with_fallback, resolve_aggregator
from .attacks import Attack
from .exceptions import FallbackWarning, TooFewModelsError

__all__ = ["FedAggregate", "FedRadon", "arrayrecord_to_vector", "vector_to_arrays", "ATTACK_SPACES"]

#: Where a simulated server-side attack acts (``FedAggregate(attack_on=...)``).
ATTACK_SPACES = ("update", "model")


def arrayrecord_to_vector(record: ArrayRecord) -> Tuple[np.ndarray, List[str], List[np.ndarray]]:
    """Flatten the floating-point arrays of an ``ArrayRecord`` into one float64 vector.

    Returns ``(vector, keys, arrays)``: the vector, the record's keys in order and its arrays
    (numpy) so that :func:`vector_to_arrays` can restore shapes, dtypes and non-float arrays.
    The vector follows the record's key order; NaN and inf are copied as they are (this
    function reads; :class:`FedAggregate` drops such replies).

    Parameters
    ----------
    record : flwr.app.ArrayRecord
        A client's (or the server's) arrays.

    Returns
    -------
    vector : (d,) ndarray of float64
        The floating-point arrays, each flattened in row-major order, concatenated in key
        order; :math:`d` is their total size.
    keys : list of str
        The record's keys, in order.
    arrays : list of ndarray
        The record's arrays as numpy arrays (integer and boolean ones included).

    Examples
    --------
    >>> v, keys, arrs = arrayrecord_to_vector = arrayrecord_to_vector(ArrayRecord([np.ones((2, 2)), np.zeros(1)]))
    >>> v
    array([1., 1., 1., 1., 0.])
    """
    keys = list(record.keys())
    arrays = [record[k].numpy() for k in keys]
    parts = [np.asarray(a, dtype=np.float64).ravel() for a in arrays if np.asarray(a).dtype.kind == "f"]
    vec = np.concatenate(parts) if parts else np.zeros(0)
    return vec, keys, arrays


def vector_to_arrays(vector: np.ndarray, keys: List[str], like: List[np.ndarray]) -> ArrayRecord:
    """Inverse of :func:`arrayrecord_to_vector`: an ``ArrayRecord`` with the keys, shapes and
    dtypes of ``like``; floating arrays are read from ``vector``, others copied from ``like``.

    Parameters
    ----------
    vector : (d,) array-like of float
        :math:`d` is the total size of the floating-point arrays of ``like``.
    keys : list of str
        One key per array of ``like``.
    like : list of ndarray
        The arrays whose shapes and dtypes the result takes (as :func:`arrayrecord_to_vector`
        returns them).

    Returns
    -------
    flwr.app.ArrayRecord

    Raises
    ------
    ValueError
        ``vector`` has the wrong length, holds NaN or inf, or holds a value that does not fit
        in its array's dtype (the array is named).

    Examples
    --------
    >>> like = [np.zeros((2, 2), dtype=np.float32), np.array([7], dtype=np.int64)]
    >>> rec = vector_to_arrays(np.arange(4.0), ["w", "steps"], like)
    >>> rec["w"].numpy(), rec["steps"].numpy()
    (array([[0., 1.],
           [2., 3.]], dtype=float32), array([7]))
    """
    vector = np.asarray(vector, dtype=np.float64)
    n_float = sum(np.asarray(a).size for a in like if np.asarray(a).dtype.kind == "f")
    if vector.ndim != 1 or vector.shape[0] != n_float:
        raise ValueError(f"vector has {vector.size} entries, but the arrays hold {n_float} floating-point numbers")
    if not np.isfinite(vector).all():
        raise ValueError(f"vector must be finite, got {int(vector.size - np.isfinite(vector).sum())} NaN or infinite value(s)")
    out = ArrayRecord()
    start = 0
    for k, a in zip(keys, like):
        a = np.asarray(a)
        if a.dtype.kind == "f":
            n = a.size
            with np.errstate(over="ignore"):  # an overflow is reported below, by name
                part = vector[start : start + n].reshape(a.shape).astype(a.dtype)
            if not np.isfinite(part).all():
                raise ValueError(f"vector: the values for array {k!r} do not fit in its dtype {a.dtype} (they would become inf)")
            out[k] = Array(np.ascontiguousarray(part))
            start += n
        else:
            out[k] = Array(np.ascontiguousarray(a))
    return out


def _check_attack(attack, byzantine, attack_on, attack_rng):
    """Validate FedAggregate's attack arguments once: (Attack or None, byzantine, attack_on, seed)."""
    if attack_on not in ATTACK_SPACES:
        raise ValueError(f"attack_on must be one of {list(ATTACK_SPACES)}, got {attack_on!r}")
    if attack is None:
        for name, value in (("byzantine", byzantine), ("attack_rng", attack_rng), ("attack_on", attack_on)):
            if value is not None and value != "update":
                raise ValueError(f"{name} is used only with attack=; pass an attack or drop {name}")
        return None, None, attack_on, 0
    if not isinstance(attack, Attack):
        if not isinstance(attack, str):
            raise TypeError(f"attack must be an attack name or a radonml.attacks.Attack, got {type(attack).__name__}")
        attack = Attack(attack)
    if attack.kind != "model":
        raise ValueError(f"attack {attack.name!r} changes a client's data; it runs in the malicious ClientApp "
                         "(see examples/flower-app), not in the strategy")
    if byzantine is None:
        if attack.f is None:
            raise ValueError("the attack has no f: give Attack(..., f=...) (f Byzantine replies drawn per round) or "
                             "byzantine= (a flag metric or node ids)")
    elif not isinstance(byzantine, str):
        try:
            ids = [check_int(b, "byzantine node id") for b in byzantine]
        except TypeError:
            raise TypeError(f"byzantine must be None, a metric name or a collection of node ids, got {byzantine!r}") from None
        byzantine = frozenset(ids)
    elif not byzantine:
        raise ValueError("byzantine as a metric name must be a non-empty string")
    if attack_rng is None:
        seed = int(np.random.SeedSequence().entropy)
    else:
        seed = check_int(attack_rng, "attack_rng", minimum=0)
    return attack, byzantine, attack_on, seed


def _flagged(msg: Message, key: str) -> bool:
    """Whether one of the reply's metric or config records holds ``key`` with a non-zero value."""
    for records in (msg.content.metric_records, msg.content.config_records):
        for rec in records.values():
            if key in rec:
                try:
                    return bool(float(rec[key]) != 0.0)
                except (TypeError, ValueError):
                    return bool(rec[key])
    return False


class FedAggregate(FedAvg):
    r"""Flower strategy that aggregates the clients' arrays with any radonml aggregator.

    Parameters
    ----------
    method : str or callable, default "radon"
        A name of :func:`radonml.available_aggregators` or a callable (see
        :func:`radonml.aggregate`).
    fallback : str or None, default "geometric_median"
        Used (with a :class:`~radonml.FallbackWarning` and a logged warning) in rounds where
        ``method="radon"`` gets fewer replies than the Radon number :math:`d + 2`. ``None``:
        keep the previous global model in such rounds.
    weighted : bool, optional
        Weight the clients by the metric ``weighted_by_key`` (``"num-examples"``). Default:
        True exactly when the named aggregator uses weights (not for ``"radon"``); a callable
        gets ``weights=`` only with ``weighted=True``.
    rng : None, int or numpy.random.Generator
        Randomness of the Radon tree (which replies form a group); an int makes rounds
        reproducible.
    aggregator_options : dict, optional
        Passed to the aggregator (e.g. ``{"beta": 0.2}`` for ``"trimmed_mean"``, ``{"f": 2}``
        for a rule that takes the number of Byzantine clients).
    attack : str or radonml.attacks.Attack, optional
        Simulate Byzantine clients server-side (see :meth:`corrupt_replies`): a model-level
        attack of :func:`radonml.attacks.available_attacks` by name or an
        :class:`~radonml.attacks.Attack` with its parameters (and ``f``). None (default): no
        attack, the strategy is the plain defence.
    byzantine : None, str or collection of int, optional
        Which replies the attack replaces in each round: None, ``attack.f`` of the round's
        usable replies drawn with the round's generator; a str, the replies whose metrics
        hold that key with a non-zero value (e.g. ``"malicious"``, sent by the clients the
        simulation made malicious); else the node ids of the Byzantine clients. With a str
        or ids, ``attack.f`` is not used.
    attack_on : {"update", "model"}, default "update"
        Attack the clients' updates :math:`x_i - g` relative to the round's global model
        :math:`g` (Byzantine clients send :math:`g + b`), or the models themselves.
    attack_rng : None or int, optional
        Seed of the attack: round ``t`` uses ``numpy.random.default_rng([attack_rng, t])`` (to
        draw the Byzantine replies and for randomised attacks), so every round is
        reproducible on its own. None: a seed drawn once from fresh entropy.
    **kwargs
        Passed to :class:`flwr.serverapp.strategy.FedAvg` (``fraction_train``,
        ``min_train_nodes``, ``weighted_by_key``, ...).

    Attributes
    ----------
    fallback_rounds : list of int
        Rounds aggregated with the fallback (or skipped when ``fallback=None``).
    methods_used : dict
        ``{round: method name}`` of every aggregated round.
    attacked_nodes : dict
        ``{round: [node ids]}`` whose replies the simulated attack replaced (``attack=``).

    Notes
    -----
    Replies are matched to the arrays the server sent in their round by key (see the module
    docstring), put in node order, and aggregated under the one tensor policy of
    :func:`radonml.torch.tensor_rule`; the weights (``weighted_by_key``) are passed to the
    aggregator as the clients reported them.

    Examples
    --------
    >>> from flwr.app import Metadata, RecordDict
    >>> def reply(node, w):
    ...     meta = Metadata(run_id=1, message_id=str(node), src_node_id=node, dst_node_id=0, reply_to_message_id="",
    ...                     group_id="1", created_at=0.0, ttl=60.0, message_type="train")
    ...     content = RecordDict({"arrays": ArrayRecord({"w": Array(np.array(w))}),
    ...                           "metrics": MetricRecord({"num-examples": 1})})
    ...     return Message(content, metadata=meta)
    >>> strategy = FedAggregate("median")
    >>> strategy.set_global_arrays(1, ArrayRecord({"w": Array(np.zeros(2))}))  # what configure_train does
    >>> replies = [reply(3, [5.0, 0.0]), reply(1, [1.0, 1.0]), reply(4, [7.0]), reply(2, [2.0, 9.0])]
    >>> arrays, _ = strategy.aggregate_train(1, replies)  # node 4's reply has another shape: dropped, logged
    >>> arrays["w"].numpy()
    array([2., 1.])

    A colluding attack played by the server (IPM with :math:`\varepsilon = 2` by node 4, on
    the models): node 4 sends :math:`-2` times the mean of the others' models, and the mean
    follows it.

    >>> from radonml.attacks import Attack
    >>> strategy = FedAggregate("mean", attack=Attack("ipm", epsilon=2.0), byzantine=[4], attack_on="model")
    >>> strategy.set_global_arrays(1, ArrayRecord({"w": Array(np.zeros(2))}))
    >>> replies = [reply(1, [1.0, 1.0]), reply(2, [2.0, 2.0]), reply(3, [3.0, 3.0]), reply(4, [9.0, 9.0])]
    >>> arrays, _ = strategy.aggregate_train(1, replies)  # node 4's reply becomes (-4, -4)
    >>> arrays["w"].numpy(), strategy.attacked_nodes
    (array([0.5, 0.5]), {1: [4]})
    """

    def __init__(self, method="radon", *, fallback="geometric_median", weighted=None, rng=None, aggregator_options=None,
                 attack=None, byzantine=None, attack_on="update", attack_rng=None, **kwargs):
        super().__init__(**kwargs)
        # unknown names and impossible weightings fail here, not in round 1
        self.aggregator = resolve_aggregator(method, weighted=weighted, fallback=fallback)
        self.method = method
        self.fallback = fallback
        self.weighted = self.aggregator.weighted
        self.rng = check_rng(rng)
        self.aggregator_options = dict(aggregator_options or {})
        self.fallback_rounds: List[int] = []
        self.methods_used: dict = {}
        self._global_signatures: Dict[int, Tuple[Tuple[str, tuple, np.dtype], ...]] = {}
        self.attack, self.byzantine, self.attack_on, self._attack_seed = _check_attack(attack, byzantine, attack_on, attack_rng)
        self.attacked_nodes: Dict[int, List[int]] = {}
        self._global_values: Dict[int, Dict[str, np.ndarray]] = {}

    def summary(self) -> None:
        super().summary()
        name = self.method if isinstance(self.method, str) else getattr(self.method, "__name__", "callable")
        log(INFO, "\t└──> radonml aggregation: %s (fallback: %s, weighted: %s)", name, self.fallback, self.weighted)
        if self.attack is not None:
            who = (f"{self.attack.f} drawn per round" if self.byzantine is None
                   else f"replies flagged by the metric {self.byzantine!r}" if isinstance(self.byzantine, str)
                   else f"nodes {sorted(self.byzantine)}")
            log(INFO, "\t└──> simulated server-side attack: %r on the %ss of the Byzantine clients (%s)",
                self.attack, self.attack_on, who)

    def set_global_arrays(self, server_round: int, arrays: ArrayRecord) -> None:
        """Record the arrays the server sends in round ``server_round``: that round's replies
        must have their keys, shapes and dtypes (matched by key), and the global model keeps
        their key order.

        :meth:`configure_train` calls it; call it yourself when you send a round's messages
        without :meth:`configure_train`. Only the keys, shapes and dtypes are kept, for the
        two most recent rounds.

        Raises
        ------
        TypeError
            ``arrays`` is not an ``ArrayRecord``, or holds arrays that cannot be aggregated
            (complex, strings, objects).
        """
        if not isinstance(arrays, ArrayRecord):
            raise TypeError(f"arrays must be a flwr.app.ArrayRecord, got {type(arrays).__name__}")
        sig = []
        for key in arrays.keys():
            a = arrays[key].numpy()
            sig.append((key, tuple(a.shape), a.dtype))
        StateLayout.from_entries([(k, sh, dt, False) for k, sh, dt in sig])  # unusable dtypes fail here
        self._global_signatures[int(server_round)] = tuple(sig)
        for old in sorted(self._global_signatures)[:-2]:
            del self._global_signatures[old]
        if self.attack is not None:  # an attack on the updates needs the values, too
            self._global_values[int(server_round)] = {k: np.array(arrays[k].numpy()) for k in arrays.keys()}
            for old in sorted(self._global_values)[:-2]:
                del self._global_values[old]

    def configure_train(self, server_round: int, arrays: ArrayRecord, config, grid):
        """FedAvg's ``configure_train``, recording the arrays sent (:meth:`set_global_arrays`)."""
        self.set_global_arrays(server_round, arrays)
        return super().configure_train(server_round, arrays, config, grid)

    @staticmethod
    def _in_node_order(replies: List[Message]) -> List[Message]:
        """The replies sorted by (node id, message id), then by content for exact ties, so
        that nothing downstream depends on the order in which they arrived."""

        def key(msg):
            return (int(msg.metadata.src_node_id), str(msg.metadata.message_id))

        def digest(msg):
            h = hashlib.sha256()
            for rec_key, rec in sorted(msg.content.array_records.items()):
                h.update(rec_key.encode())
                for k in sorted(rec.keys()):
                    a = rec[k]
                    h.update(f"{k}|{a.dtype}|{a.shape}|".encode())
                    h.update(a.data)
            return h.hexdigest()

        out = sorted(replies, key=key)
        keys = [key(m) for m in out]
        if len(set(keys)) < len(keys):
            out = sorted(out, key=lambda m: (key(m), digest(m)))
        return out

    def _usable(self, server_round, replies: List[Message]):
        """Replies that can be aggregated before they are compared with the global model:
        exactly one ArrayRecord of real-valued arrays, all finite, and (if weighted) a
        non-negative finite weight in exactly one MetricRecord. Returns
        ``[(message, {key: array}, weight)]``; the others are dropped with a logged warning."""
        out = []
        for msg in replies:
            content = msg.content
            if len(content.array_records) != 1:
                self._drop(server_round, msg, f"expected exactly one ArrayRecord, got {len(content.array_records)}")
                continue
            record = next(iter(content.array_records.values()))
            arrays = {k: record[k].numpy() for k in record.keys()}
            odd = [f"{k!r} ({a.dtype})" for k, a in arrays.items() if a.dtype.kind not in "fiub"]
            if odd:
                self._drop(server_round, msg, f"its arrays {', '.join(odd)} hold no real numbers")
                continue
            bad = [(k, int(a.size - np.count_nonzero(np.isfinite(a)))) for k, a in arrays.items() if a.dtype.kind == "f"]
            bad = [(k, n) for k, n in bad if n]
            if bad:
                listed = ", ".join(f"{k!r} ({n} value{'s' if n > 1 else ''})" for k, n in bad)
                self._drop(server_round, msg, f"its arrays hold NaN or inf: {listed}")
                continue
            weight = 1.0
            metrics = list(content.metric_records.values())
            if len(metrics) != 1 or self.weighted_by_key not in metrics[0]:
                if self.weighted:
                    self._drop(server_round, msg, f"it has no MetricRecord with the weight key {self.weighted_by_key!r}")
                    continue
            elif self.weighted:
                raw = metrics[0][self.weighted_by_key]
                try:
                    weight = float(raw)
                except (TypeError, ValueError):
                    weight = float("nan")
                if not (np.isfinite(weight) and weight >= 0):
                    self._drop(server_round, msg, f"its weight {self.weighted_by_key!r} = {raw!r} is not a non-negative number")
                    continue
            out.append((msg, arrays, weight))
        return out

    @staticmethod
    def _drop(server_round, msg, why):
        log(WARNING, "round %d: dropping the reply of node %d: %s", server_round, msg.metadata.src_node_id, why)

    @staticmethod
    def _differences(signature, arrays) -> List[str]:
        """Every way ``arrays`` ({key: array}) differs from ``signature`` ((key, shape, dtype), ...)."""
        want = {k: (sh, dt) for k, sh, dt in signature}
        out = []
        missing = [k for k in want if k not in arrays]
        extra = [k for k in arrays if k not in want]
        if missing:
            out.append(f"missing array(s) {missing}")
        if extra:
            out.append(f"extra array(s) {extra}")
        for k, (shape, dtype) in want.items():
            if k in arrays:
                a = arrays[k]
                if a.shape != shape:
                    out.append(f"{k!r} has shape {a.shape}, expected {shape}")
                if a.dtype != dtype:
                    out.append(f"{k!r} has dtype {a.dtype}, expected {dtype}")
        return out

    def _signature_for(self, server_round, candidates):
        """The round's global arrays (keys in order, shapes, dtypes), or without them the
        signature most candidates share (see the module docstring), and how it was chosen."""
        if server_round in self._global_signatures:
            return self._global_signatures[server_round], "the global model's"
        votes: Dict[tuple, List[tuple]] = {}
        for _, arrays, _ in candidates:
            sig = tuple((k, a.shape, a.dtype) for k, a in arrays.items())
            votes.setdefault(tuple(sorted((k, sh, dt.str) for k, sh, dt in sig)), []).append(sig)
        best = min(votes, key=lambda s: (-len(votes[s]), s))
        by_key = {k: (k, sh, dt) for k, sh, dt in votes[best][0]}
        log(INFO, "round %d: no global arrays recorded for this round (configure_train not called); "
            "matching the replies to the arrays %d of %d usable replies share", server_round, len(votes[best]), len(candidates))
        # keys in sorted order: no reply's key order decides
        return tuple(by_key[k] for k in sorted(by_key)), f"those {len(votes[best])} of {len(candidates)} replies share"

    def aggregate_train(self, server_round: int, replies: Iterable[Message]) -> Tuple[Optional[ArrayRecord], Optional[MetricRecord]]:
        """Aggregate the replies' arrays with ``method`` (see the class docstring); with
        ``attack=``, after :meth:`corrupt_replies`."""
        replies = list(replies)
        if self.attack is not None:
            replies = self.corrupt_replies(server_round, replies)
        # FedAvg's consistency check raises on the first malformed reply; here malformed replies
        # are dropped one by one in _usable instead, so one bad client cannot stop the server
        valid, _ = self._check_and_log_replies(replies, is_train=True, validate=False)
        if not valid:
            return None, None
        candidates = self._usable(server_round, self._in_node_order(valid))
        kept = []
        if candidates:
            signature, source = self._signature_for(server_round, candidates)
            for cand in candidates:
                diffs = self._differences(signature, cand[1])
                if diffs:
                    self._drop(server_round, cand[0], f"its arrays do not match {source}: {'; '.join(diffs)}")
                else:
                    kept.append(cand)
        metrics = None
        if kept:
            try:
                metrics = self.train_metrics_aggr_fn([m.content for m, _, _ in kept], self.weighted_by_key)
            except Exception as exc:  # metrics are informational; never stop the round for them
                log(WARNING, "round %d: could not aggregate the train metrics (%s)", server_round, exc)
            self._warn_nonfinite_metrics(server_round, metrics, kept)
        if not kept:
            log(WARNING, "round %d: no usable replies; keeping the previous global model", server_round)
            return None, metrics
        layout = StateLayout.from_entries([(k, sh, dt, False) for k, sh, dt in signature])
        states = [arrays for _, arrays, _ in kept]
        w = np.asarray([wt for _, _, wt in kept], dtype=np.float64) if self.weighted else None
        if layout.n_aggregated:
            vec = self.aggregate_vectors(server_round, layout.stack(states), w)
            if vec is None:
                return None, metrics
        else:  # only integer arrays: nothing for the aggregator
            vec = np.zeros(0)
        try:
            new = layout.combine(vec, states, w)
            out = ArrayRecord()
            for key, _, dtype in signature:
                with np.errstate(over="ignore"):  # an overflow is reported below, by name
                    arr = new[key].astype(dtype, copy=False)
                if arr.dtype.kind == "f" and not np.isfinite(arr).all():
                    raise ValueError(f"the aggregate of {key!r} does not fit in its dtype {dtype} (it would become inf)")
                out[key] = Array(np.ascontiguousarray(arr))
        except ValueError as exc:
            log(WARNING, "round %d: %s; keeping the previous global model", server_round, exc)
            return None, metrics
        return out, metrics

    def corrupt_replies(self, server_round: int, replies: Iterable[Message]) -> List[Message]:
        r"""Play the simulated adversary of ``attack=`` on one round's replies.

        The *eligible* replies are those without an error, with exactly one ``ArrayRecord``
        that matches the arrays sent in ``server_round`` (keys, shapes, dtypes) and holds only
        finite numbers; the others are returned unchanged (and dropped by
        :meth:`aggregate_train` as usual). In node order (as :meth:`aggregate_train` orders
        them), their floating-point arrays form the stack :math:`X` (k, d), or the updates
        :math:`X - g` with ``attack_on="update"``. The Byzantine rows are chosen as
        ``byzantine`` says (None: ``attack.f`` rows, at most k, drawn by
        ``rng.choice(k, f, replace=False)`` with the round's generator
        ``numpy.random.default_rng([attack_rng, server_round])``), the attack replaces them
        using the other rows as the honest vectors (:class:`radonml.attacks.Attack`, the same
        generator), and each Byzantine reply gets the new vector (plus :math:`g`), cast to its
        arrays' dtypes; its integer arrays, metrics and metadata stay as they were. The node
        ids are recorded in :attr:`attacked_nodes`.

        If the attack cannot run on this round's replies (e.g. ALIE with fewer than two honest
        replies), a WARNING is logged and the replies are returned unchanged.

        Parameters
        ----------
        server_round : int
            The round; its global arrays must have been recorded (:meth:`configure_train` or
            :meth:`set_global_arrays`).
        replies : iterable of flwr.app.Message

        Returns
        -------
        list of flwr.app.Message
            The replies in their given order, the Byzantine ones replaced by new messages.

        Raises
        ------
        RuntimeError
            No attack configured, or no global arrays recorded for ``server_round`` (the
            attack would otherwise not know what the clients were sent).
        """
        replies = list(replies)
        if self.attack is None:
            raise RuntimeError("corrupt_replies needs an attack; pass attack= to FedAggregate")
        server_round = int(server_round)
        signature = self._global_signatures.get(server_round)
        if signature is None or (self.attack_on == "update" and server_round not in self._global_values):
            raise RuntimeError(
                f"round {server_round}: the simulated attack needs the global arrays sent in this round; "
                "call configure_train (FedAvg's start does) or set_global_arrays before aggregate_train"
            )
        layout = StateLayout.from_entries([(k, sh, dt, False) for k, sh, dt in signature])
        eligible = [(i, msg, arrays) for i, msg in enumerate(replies)
                    if (arrays := self._attackable(msg, signature)) is not None]
        rank = {id(m): r for r, m in enumerate(self._in_node_order([m for _, m, _ in eligible]))}
        eligible.sort(key=lambda e: rank[id(e[1])])
        gen = np.random.default_rng([self._attack_seed, server_round])
        mask = self._byzantine_mask(server_round, [m for _, m, _ in eligible], gen)
        self.attacked_nodes[server_round] = []
        if not mask.any() or layout.n_aggregated == 0:
            return replies
        X = layout.stack([arrays for _, _, arrays in eligible])
        g = layout.stack([self._global_values[server_round]])[0] if self.attack_on == "update" else 0.0
        try:
            out = self.attack(X - g, byzantine=mask, rng=gen).models + g
        except (ValueError, FloatingPointError, np.linalg.LinAlgError) as exc:
            log(WARNING, "round %d: the simulated attack %r cannot run on these %d replies (%s); the Byzantine "
                "clients' replies are aggregated as they were sent", server_round, self.attack.name, len(eligible), exc)
            return replies
        nodes = []
        for j in np.flatnonzero(mask):
            i, msg, arrays = eligible[j]
            replies[i] = self._replace_arrays(msg, layout, signature, out[j], arrays)
            nodes.append(int(msg.metadata.src_node_id))
        self.attacked_nodes[server_round] = nodes
        log(INFO, "round %d: simulated attack %r replaced the replies of node(s) %s", server_round, self.attack.name, nodes)
        return replies

    def _attackable(self, msg: Message, signature) -> Optional[Dict[str, np.ndarray]]:
        """The arrays of a reply the attack may see or replace, or None (see corrupt_replies)."""
        if msg.has_error() or len(msg.content.array_records) != 1:
            return None
        record = next(iter(msg.content.array_records.values()))
        arrays = {k: record[k].numpy() for k in record.keys()}
        if any(a.dtype.kind not in "fiub" for a in arrays.values()) or self._differences(signature, arrays):
            return None
        if any(a.dtype.kind == "f" and not np.isfinite(a).all() for a in arrays.values()):
            return None
        return arrays

    def _byzantine_mask(self, server_round: int, msgs: List[Message], gen: np.random.Generator) -> np.ndarray:
        k = len(msgs)
        mask = np.zeros(k, dtype=bool)
        if self.byzantine is None:
            f = self.attack.f
            if f > k:
                log(WARNING, "round %d: the attack's f = %d exceeds the %d usable replies; all of them are Byzantine",
                    server_round, f, k)
                f = k
            if f:
                mask[gen.choice(k, size=f, replace=False)] = True
        elif isinstance(self.byzantine, str):
            mask[:] = [_flagged(m, self.byzantine) for m in msgs]
        else:
            mask[:] = [int(m.metadata.src_node_id) in self.byzantine for m in msgs]
        return mask

    @staticmethod
    def _replace_arrays(msg: Message, layout: StateLayout, signature, vector: np.ndarray, arrays) -> Message:
        """A copy of ``msg`` whose ArrayRecord holds ``vector`` (cut into the signature's
        floating-point arrays; the others copied)."""
        record = ArrayRecord()
        for key, shape, dtype in signature:
            if key in layout.slices:
                with np.errstate(over="ignore", invalid="ignore"):  # inf/NaN attacks stay what they are
                    a = vector[layout.slices[key]].reshape(shape).astype(dtype)
            else:
                a = arrays[key]
            record[key] = Array(np.ascontiguousarray(a))
        (rec_key,) = msg.content.array_records.keys()
        content = RecordDict({k: (record if k == rec_key else v) for k, v in msg.content.items()})
        return Message(content=content, metadata=copy.copy(msg.metadata))

    @staticmethod
    def _warn_nonfinite_metrics(server_round, metrics, kept) -> None:
        """Metrics are the clients' (aggregated by FedAvg's function): a NaN or inf among them is
        logged with the nodes that reported it, never passed on silently."""

        def finite(value):
            try:
                return bool(np.isfinite(np.asarray(value, dtype=np.float64)).all())
            except (TypeError, ValueError):
                return True

        for key in [k for k, v in (metrics or {}).items() if not finite(v)]:
            nodes = [int(m.metadata.src_node_id) for m, _, _ in kept
                     if any(key in rec and not finite(rec[key]) for rec in m.content.metric_records.values())]
            log(WARNING, "round %d: the aggregated train metric %r is NaN or infinite (reported by node(s) %s)",
                server_round, key, nodes)

    def _relay(self, server_round: int, caught) -> None:
        """Log the aggregator's FallbackWarnings on Flower's logger and re-emit every warning."""
        for rec in caught:
            if issubclass(rec.category, FallbackWarning):
                log(WARNING, "round %d: %s", server_round, rec.message)
            warnings.warn_explicit(rec.message, rec.category, rec.filename, rec.lineno, source=rec.source)

    def _run(self, server_round: int, method, X, weights, options):
        """One aggregator call: its warnings relayed, a non-finite result turned into an error."""
        caught = []
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                vec, used = method(X, weights=weights, **options)
        finally:
            self._relay(server_round, caught)
        if not np.isfinite(vec).all():
            name = used if isinstance(used, str) else getattr(used, "__name__", "callable")
            raise FloatingPointError(
                f"{name!r} returned {int(vec.size - np.isfinite(vec).sum())} NaN or infinite value(s) from finite replies"
            )
        return vec, used

    def aggregate_vectors(self, server_round: int, X: np.ndarray, weights=None) -> Optional[np.ndarray]:
        """The server's aggregation of one round's flattened replies ``X`` (k, d).

        Returns the aggregate, or None to keep the previous global model. Never raises for
        data reasons: fewer replies than the Radon number, or an aggregator that fails on
        these replies (``ValueError``, ``LinAlgError``, ``FloatingPointError``) or returns NaN
        or inf, switch to ``fallback`` with a logged warning and a
        :class:`~radonml.FallbackWarning` (or keep the previous model if ``fallback`` is None
        or fails as well). ``weights`` are passed on as they are (the registry normalises
        them).
        """
        k, d = X.shape
        options = dict(self.aggregator_options)
        method = self.method
        if isinstance(method, str) and accepts_option(method, "rng"):
            options.setdefault("rng", self.rng)  # the Radon tree (and any seeded rule) draws from the strategy's rng
        try:
            # too few replies for the rule (a Radon point needs d + 2, Krum 2f + 3, ...):
            # aggregate_with_fallback switches to the fallback (and warns; _run logs it), or
            # raises TooFewModelsError when fallback is None
            vec, used = self._run(server_round, self.aggregator, X, weights, options)
        except TooFewModelsError as exc:
            self.fallback_rounds.append(server_round)
            msg = f"round {server_round}: {exc}; keeping the previous global model"
            log(WARNING, "%s", msg)
            warnings.warn(msg, FallbackWarning, stacklevel=2)
            return None
        except (ValueError, np.linalg.LinAlgError, FloatingPointError) as exc:
            if server_round not in self.fallback_rounds:
                self.fallback_rounds.append(server_round)
            msg = f"round {server_round}: aggregator {self.aggregator.name!r} failed on {k} replies ({exc})"
            if self.fallback is None or self.fallback == method:
                log(WARNING, "%s; keeping the previous global model", msg)
                warnings.warn(msg + "; keeping the previous global model", FallbackWarning, stacklevel=2)
                return None
            log(WARNING, "%s; aggregating with %r", msg, self.fallback)
            warnings.warn(f"{msg}; aggregating with {self.fallback!r}", FallbackWarning, stacklevel=2)

            def fallback(X, weights=None):
                return aggregate_with_fallback(X, self.fallback, weights=weights, fallback=None)

            try:
                vec, used = self._run(server_round, fallback, X, weights, {})
            except (ValueError, np.linalg.LinAlgError, FloatingPointError) as exc2:
                log(WARNING, "round %d: fallback %r failed too (%s); keeping the previous global model",
                    server_round, self.fallback, exc2)
                return None
        else:
            if used != method:
                self.fallback_rounds.append(server_round)
        self.methods_used[server_round] = used if isinstance(used, str) else "callable"
        log(INFO, "\t└──> radonml: aggregated %d replies with %s", k, self.methods_used[server_round])
        return vec


class FedRadon(FedAggregate):
    r""":class:`FedAggregate` with the iterated Radon point (the Radon machine's aggregation,
    Kamp, Boley, Missura, Gärtner, NeurIPS 2017) and the geometric median as fallback.

    A Radon point of :math:`k` client models in :math:`\mathbb{R}^d` exists only for
    :math:`k \ge d + 2`, so FedRadon suits small models (linear and logistic models, small
    heads); rounds with fewer replies use ``fallback`` (:doc:`/concepts/radon`).

    Parameters
    ----------
    fallback : str or None, default "geometric_median"
        As in :class:`FedAggregate`.
    rng : None, int or numpy.random.Generator
        Randomness of the Radon tree (which replies form a group).
    aggregator_options : dict, optional
        Passed to :func:`radonml.iterated_radon_point` (e.g. ``{"remainder": "resample"}``).
    **kwargs
        :class:`FedAggregate`'s attack options and Flower's ``FedAvg`` options
        (``fraction_train``, ``min_train_nodes``, ...).

    Examples
    --------
    >>> strategy = FedRadon(min_train_nodes=9, rng=0)
    >>> strategy.method, strategy.fallback, strategy.weighted
    ('radon', 'geometric_median', False)
    """

    def __init__(self, *, fallback="geometric_median", rng=None, aggregator_options=None, **kwargs):
        super().__init__("radon", fallback=fallback, weighted=False, rng=rng, aggregator_options=aggregator_options, **kwargs)
