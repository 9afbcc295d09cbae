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

- **Too few replies for a Radon point.** The Radon point of :math:`k` vectors in
  :math:`\mathbb{R}^d` needs :math:`k \ge r = d + 2`. When fewer clients reply (failed or slow
  clients, a small federation), the round is aggregated with ``fallback`` (default the
  geometric median, RFA; Pillutla et al., 2022), a :class:`~radonml.FallbackWarning` is
  emitted and a WARNING is logged on Flower's logger; the round number is appended to
  :attr:`FedAggregate.fallback_rounds`. ``fallback=None`` keeps the previous global model for
  that round instead.
- **Unusable replies.** Replies with errors are skipped (as in FedAvg). Unlike FedAvg, which
  stops on the first inconsistent reply, replies whose arrays have other keys or shapes than
  the first usable reply, hold NaN/inf, or (when weighted) lack a valid weight are dropped one
  by one with a logged warning. If nothing usable is left, the round keeps the previous
  global model.
- **A failing aggregator.** If ``method`` raises ``ValueError``/``LinAlgError``/
  ``FloatingPointError`` on a round's replies, that round uses ``fallback`` (warned and logged).
- Integer arrays (e.g. ``num_batches_tracked`` of a torch ``state_dict``) are not aggregated:
  they are taken from the first usable reply.

Radon points exist only for :math:`m \ge d + 2` clients, so :class:`FedRadon` suits small
models (linear and logistic models, small heads); for networks pick ``method="median"``,
``"geometric_median"`` or ``"trimmed_mean"``.
"""

from __future__ import annotations

import warnings
from logging import INFO, WARNING
from typing import Iterable, List, Optional, Tuple

import numpy as np

try:
    from flwr.app import Array, ArrayRecord, Message, MetricRecord
    from flwr.serverapp.strategy import FedAvg
    from flwr.supercore import log
except ModuleNotFoundError as exc:  # pragma: no cover - optional dependency
    raise ModuleNotFoundError("radonml.flower needs Flower; install it with `pip install 'flwr[simulation]>=1.20'`") from exc

from ._validation import check_rng
from .aggregators import aggregate_with_fallback, resolve_aggregator
from .exceptions import FallbackWarning, NoRadonPointError

__all__ = ["FedAggregate", "FedRadon", "arrayrecord_to_vector", "vector_to_arrays"]


def arrayrecord_to_vector(record: ArrayRecord) -> Tuple[np.ndarray, List[str], List[np.ndarray]]:
    """Flatten the floating-point arrays of an ``ArrayRecord`` into one float64 vector.

    Returns ``(vector, keys, arrays)``: the vector, the record's keys in order and its arrays
    (numpy) so that :func:`vector_to_arrays` can restore shapes, dtypes and non-float arrays.

    >>> v, keys, arrs = arrayrecord_to_vector(ArrayRecord([np.ones((2, 2)), np.zeros(1)]))
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
    dtypes of ``like``; floating arrays are read from ``vector``, others copied from ``like``."""
    vector = np.asarray(vector, dtype=np.float64)
    n_float = sum(np.asarray(a).size for a in like if np.asarray(a).dtype.kind == "f")
    if vector.ndim != 1 or vector.shape[0] != n_float:
        raise ValueError(f"vector has {vector.size} entries, but the arrays hold {n_float} floating-point numbers")
    out = ArrayRecord()
    start = 0
    for k, a in zip(keys, like):
        a = np.asarray(a)
        if a.dtype.kind == "f":
            n = a.size
            out[k] = Array(np.ascontiguousarray(vector[start : start + n].reshape(a.shape).astype(a.dtype)))
            start += n
        else:
            out[k] = Array(np.ascontiguousarray(a))
    return out


class FedAggregate(FedAvg):
    """Flower strategy that aggregates the clients' arrays with any radonml aggregator.

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
        Passed to the aggregator (e.g. ``{"beta": 0.2}`` for ``"trimmed_mean"``).
    **kwargs
        Passed to :class:`flwr.serverapp.strategy.FedAvg` (``fraction_train``,
        ``min_train_nodes``, ``weighted_by_key``, ...).

    Attributes
    ----------
    fallback_rounds : list of int
        Rounds aggregated with the fallback (or skipped when ``fallback=None``).
    methods_used : dict
        ``{round: method name}`` of every aggregated round.
    """

    def __init__(self, method="radon", *, fallback="geometric_median", weighted=None, rng=None, aggregator_options=None, **kwargs):
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

    def summary(self) -> None:
        super().summary()
        name = self.method if isinstance(self.method, str) else getattr(self.method, "__name__", "callable")
        log(INFO, "\t└──> radonml aggregation: %s (fallback: %s, weighted: %s)", name, self.fallback, self.weighted)

    def _usable(self, server_round, replies: List[Message]):
        """Replies that can be aggregated: exactly one ArrayRecord with the keys, shapes and dtype
        kinds of the first usable reply, finite values, and (if weighted) a positive finite
        weight in exactly one MetricRecord. Others are dropped with a logged warning."""
        rows, weights, first, kept = [], [], None, []
        for msg in replies:
            node = msg.metadata.src_node_id
            content = msg.content

            def drop(why):
                log(WARNING, "round %d: dropping the reply of node %d: %s", server_round, node, why)

            if len(content.array_records) != 1:
                drop(f"expected exactly one ArrayRecord, got {len(content.array_records)}")
                continue
            vec, keys, arrays = arrayrecord_to_vector(next(iter(content.array_records.values())))
            shapes = [(np.asarray(a).shape, np.asarray(a).dtype.kind) for a in arrays]
            if first is not None and (keys != first[0] or shapes != first[2]):
                drop("its arrays differ in keys or shapes from the first usable reply")
                continue
            if not np.isfinite(vec).all():
                drop("its arrays hold NaN or inf")
                continue
            weight = 1.0
            if len(content.metric_records) != 1 or self.weighted_by_key not in next(iter(content.metric_records.values())):
                if self.weighted:
                    drop(f"it has no MetricRecord with the weight key {self.weighted_by_key!r}")
                    continue
            elif self.weighted:
                weight = float(next(iter(content.metric_records.values()))[self.weighted_by_key])
                if not (np.isfinite(weight) and weight >= 0):
                    drop(f"its weight {self.weighted_by_key!r} = {weight} is not a non-negative number")
                    continue
            if first is None:
                first = (keys, arrays, shapes)
            rows.append(vec)
            weights.append(weight)
            kept.append(msg)
        return rows, np.asarray(weights), first, kept

    def aggregate_train(self, server_round: int, replies: Iterable[Message]) -> Tuple[Optional[ArrayRecord], Optional[MetricRecord]]:
        """Aggregate the replies' arrays with ``method`` (see the class docstring)."""
        # FedAvg's consistency check raises on the first malformed reply; here malformed replies
        # are dropped one by one in _usable instead, so one bad client cannot stop the server
        valid, _ = self._check_and_log_replies(replies, is_train=True, validate=False)
        if not valid:
            return None, None
        rows, w, first, kept = self._usable(server_round, valid)
        metrics = None
        if kept:
            try:
                metrics = self.train_metrics_aggr_fn([m.content for m in kept], self.weighted_by_key)
            except Exception as exc:  # metrics are informational; never stop the round for them
                log(WARNING, "round %d: could not aggregate the train metrics (%s)", server_round, exc)
        if not rows:
            log(WARNING, "round %d: no usable replies; keeping the previous global model", server_round)
            return None, metrics
        vec = self.aggregate_vectors(server_round, np.stack(rows), w if self.weighted else None)
        if vec is None:
            return None, metrics
        return vector_to_arrays(vec, first[0], first[1]), metrics

    def aggregate_vectors(self, server_round: int, X: np.ndarray, weights=None) -> Optional[np.ndarray]:
        """The server's aggregation of one round's flattened replies ``X`` (k, d).

        Returns the aggregate, or None to keep the previous global model. Never raises for
        data reasons: fewer replies than the Radon number, or an aggregator that fails on
        these replies (``ValueError``, ``LinAlgError``, ``FloatingPointError``), switch to
        ``fallback`` with a logged warning and a :class:`~radonml.FallbackWarning` (or keep the
        previous model if ``fallback`` is None or fails as well).
        """
        k, d = X.shape
        options = dict(self.aggregator_options)
        method = self.method
        if method == "radon":
            options.setdefault("rng", self.rng)
        try:
            # too few replies for a Radon point: aggregate_with_fallback switches to the fallback
            # (and warns), or raises NoRadonPointError when fallback is None
            vec, used = self.aggregator(X, weights=weights, **options)
        except NoRadonPointError as exc:
            self.fallback_rounds.append(server_round)
            msg = f"round {server_round}: {exc}; keeping the previous global model"
            log(WARNING, "%s", msg)
            warnings.warn(msg, FallbackWarning, stacklevel=2)
            return None
        except (ValueError, np.linalg.LinAlgError, FloatingPointError) as exc:
            if server_round not in self.fallback_rounds:
                self.fallback_rounds.append(server_round)
            msg = f"round {server_round}: aggregator {method!r} failed on {k} replies ({exc})"
            if self.fallback is None or self.fallback == method:
                log(WARNING, "%s; keeping the previous global model", msg)
                warnings.warn(msg + "; keeping the previous global model", FallbackWarning, stacklevel=2)
                return None
            log(WARNING, "%s; aggregating with %r", msg, self.fallback)
            warnings.warn(f"{msg}; aggregating with {self.fallback!r}", FallbackWarning, stacklevel=2)
            try:
                vec, used = aggregate_with_fallback(X, self.fallback, weights=weights, fallback=None)
            except (ValueError, np.linalg.LinAlgError, FloatingPointError) as exc2:
                log(WARNING, "round %d: fallback %r failed too (%s); keeping the previous global model",
                    server_round, self.fallback, exc2)
                return None
        else:
            if used != method:
                self.fallback_rounds.append(server_round)
                log(WARNING, "round %d: %d replies are fewer than the Radon number r = d + 2 = %d; aggregated with %r",
                    server_round, k, d + 2, used)
        self.methods_used[server_round] = used if isinstance(used, str) else "callable"
        log(INFO, "\t└──> radonml: aggregated %d replies with %s", k, self.methods_used[server_round])
        return vec


class FedRadon(FedAggregate):
    """:class:`FedAggregate` with the iterated Radon point (the Radon machine's aggregation,
    Kamp, Boley, Missura, Gärtner, NeurIPS 2017) and the geometric median as fallback."""

    def __init__(self, *, fallback="geometric_median", rng=None, aggregator_options=None, **kwargs):
        super().__init__("radon", fallback=fallback, weighted=False, rng=rng, aggregator_options=aggregator_options, **kwargs)
