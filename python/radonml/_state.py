r"""How every tensor of a model's state is aggregated: one policy, decided here (private module).

:func:`radonml.torch.aggregate_modules`, :class:`radonml.flower.FedAggregate` and the federated
simulator aggregate a model's *state*: its parameters and its buffers by name (a torch
``state_dict``, a Flower ``ArrayRecord``). This module decides, in one place, which tensors go
through the chosen aggregator and how the others are combined, and does the combining with
numpy only (a Flower server needs no torch). :mod:`radonml.torch` re-exports the public names.

The policy (``buffers="aggregate"``, the default everywhere):

- every **floating-point** tensor, parameter or buffer (BatchNorm ``running_mean`` and
  ``running_var``, spectral norm's ``_u``/``_v``), is flattened row-major and concatenated in
  the state's order into one vector :math:`f_i \in \mathbb{R}^d` per model; the vectors go
  through the aggregator *together*, so a robust aggregator is robust for the running
  statistics as well (a corrupted model cannot set ``running_var`` through a plain mean);
- every **integer or boolean** tensor (``num_batches_tracked``) becomes, element by element,
  the (weighted) *lower median* of the models' values: the smallest value :math:`v` with
  :math:`\sum_{i: x_i \le v} w_i \ge \frac12 \sum_i w_i`. It is one of the models' values, keeps
  the dtype (an average of counters would not be an integer), and a minority of models cannot
  move it outside the honest values.

Nothing in the rule depends on the order of the models or of the tensors' names: the result is
the same for every permutation of the models (bit for bit once the models are put in a fixed
order, as the callers do).

The previous behaviour of :func:`radonml.torch.aggregate_modules` stays available by name:
``buffers="mean"`` averages floating-point *buffers* (weighted) outside the aggregator and takes
integer buffers from the first model; ``buffers="first"`` takes every buffer from the first
model. Both need to know which tensors are buffers, which a Flower ``ArrayRecord`` does not say,
so Flower uses the default.
"""

from __future__ import annotations

from typing import Dict, Iterable, List, Mapping, Sequence, Tuple

import numpy as np

__all__ = ["BUFFER_POLICIES", "TENSOR_RULES", "dtype_kind", "tensor_rule", "lower_median", "StateLayout"]

#: Accepted values of the ``buffers`` option.
BUFFER_POLICIES = ("aggregate", "mean", "first")
#: What :func:`tensor_rule` can answer.
TENSOR_RULES = ("aggregator", "mean", "lower_median", "first")


def dtype_kind(dtype) -> str:
    """The numpy kind letter of a numpy or torch dtype: ``"f"`` float, ``"c"`` complex,
    ``"i"``/``"u"`` signed/unsigned integer, ``"b"`` bool.

    Raises
    ------
    TypeError
        Not a dtype, or a dtype that holds no plain numbers (strings, objects, quantized
        torch dtypes).

    Examples
    --------
    >>> dtype_kind(np.float32), dtype_kind("int64")
    ('f', 'i')
    """
    if hasattr(dtype, "is_floating_point") and hasattr(dtype, "is_complex"):  # a torch.dtype
        if dtype.is_floating_point:
            return "f"
        if dtype.is_complex:
            return "c"
        if str(dtype) == "torch.bool":
            return "b"
        try:
            return "i" if dtype.is_signed else "u"
        except RuntimeError:  # quantized dtypes
            raise TypeError(f"tensors of dtype {dtype} cannot be aggregated; dequantize the model first") from None
    try:
        kind = np.dtype(dtype).kind
    except TypeError:
        raise TypeError(f"expected a numpy or torch dtype, got {dtype!r}") from None
    if kind not in "fciub":
        raise TypeError(f"tensors of dtype {np.dtype(dtype)} hold no numbers and cannot be aggregated")
    return kind


def tensor_rule(dtype, *, buffer: bool = False, buffers: str = "aggregate") -> str:
    """How one tensor of a model's state is aggregated (the one policy; see the module docstring).

    Parameters
    ----------
    dtype : numpy or torch dtype
        The tensor's dtype.
    buffer : bool, default False
        Whether the tensor is a buffer (BatchNorm statistics, counters) rather than a parameter.
        Only matters for ``buffers="mean"`` and ``"first"``.
    buffers : {"aggregate", "mean", "first"}, default "aggregate"
        ``"aggregate"``: floating-point tensors, buffers included, go through the aggregator.
        ``"mean"``: floating-point buffers are averaged (weighted), integer buffers come from
        the first model. ``"first"``: every buffer comes from the first model.

    Returns
    -------
    str
        ``"aggregator"`` (flattened into the vector that the chosen aggregator combines),
        ``"mean"`` (weighted mean of this tensor alone), ``"lower_median"`` (element-wise weighted
        lower median, see :func:`lower_median`) or ``"first"`` (the first model's tensor).

    Raises
    ------
    TypeError
        A complex, string, object or quantized dtype.
    ValueError
        ``buffers`` is not one of :data:`BUFFER_POLICIES`.

    Examples
    --------
    >>> tensor_rule(np.float32, buffer=True), tensor_rule(np.int64, buffer=True)
    ('aggregator', 'lower_median')
    >>> tensor_rule(np.float32, buffer=True, buffers="mean"), tensor_rule(np.int64, buffer=True, buffers="mean")
    ('mean', 'first')
    """
    if buffers not in BUFFER_POLICIES:
        raise ValueError(f"buffers must be one of {BUFFER_POLICIES}, got {buffers!r}")
    kind = dtype_kind(dtype)
    if kind == "c":
        raise TypeError(f"complex tensors (dtype {dtype}) cannot be aggregated; store real and imaginary parts as real tensors")
    old = buffer and buffers != "aggregate"
    if kind == "f":
        if not old:
            return "aggregator"
        return "mean" if buffers == "mean" else "first"
    return "first" if old else "lower_median"


def lower_median(values, weights=None) -> np.ndarray:
    r"""Element-wise (weighted) lower median of ``m`` arrays of one shape.

    For every element, the smallest of the ``m`` values :math:`x_i` with
    :math:`\sum_{i: x_i \le v} w_i \ge \frac12 \sum_i w_i` (equal weights when ``weights`` is
    None: the :math:`\lceil m/2 \rceil`-th smallest value). The result is one of the inputs'
    values and keeps their dtype; it does not depend on the order of the inputs.

    Parameters
    ----------
    values : (m, ...) array-like
        One array per model, stacked along the first axis (integers, booleans or floats).
    weights : (m,) array-like of float, optional
        Non-negative weights with a positive sum (validated by the caller).

    Returns
    -------
    ndarray of shape ``values.shape[1:]`` and the dtype of ``values``

    Raises
    ------
    ValueError
        No array along axis 0, or NaN or infinite floats.
    TypeError
        Values that are neither real numbers nor booleans.

    Examples
    --------
    >>> lower_median(np.array([[1], [4], [2], [3]]))
    array([2])
    >>> lower_median(np.array([[1], [4], [2], [3]]), weights=[1, 5, 1, 1])
    array([4])
    """
    x = np.asarray(values)
    if x.ndim == 0 or x.shape[0] == 0:
        raise ValueError(f"values must hold at least one array along axis 0, got shape {x.shape}")
    if x.dtype.kind not in "fiub":
        raise TypeError(f"values must be real numbers or booleans, got dtype {x.dtype}")
    if x.dtype.kind == "f" and not np.isfinite(x).all():
        raise ValueError("values must be finite, got NaN or infinite values")
    m = x.shape[0]
    flat = x.reshape(m, -1)
    order = np.argsort(flat, axis=0, kind="stable")
    xs = np.take_along_axis(flat, order, axis=0)
    if weights is None:
        out = xs[(m - 1) // 2]
    else:
        w = np.asarray(weights, dtype=np.float64)
        if w.shape != (m,) or not (np.isfinite(w).all() and (w >= 0).all() and w.max() > 0):
            raise ValueError(f"weights must be {m} non-negative finite numbers with a positive sum")
        w = w / w.max()  # normalised first: the cumulative sums cannot overflow
        cw = np.cumsum(w[order], axis=0)
        total = cw[-1]
        # the same boundary tolerance as radonml's weighted median, so equal weights agree with None
        idx = np.argmax(cw >= 0.5 * total - 1e-12 * total, axis=0)
        out = xs[idx, np.arange(flat.shape[1])]
    return out.reshape(x.shape[1:])


class StateLayout:
    """Which tensors of a model's state go where: the names in order, shapes, dtype kinds and
    the rule of each (:func:`tensor_rule`), and where each aggregated tensor lies in the vector.

    Made by :meth:`from_entries` (or :func:`radonml.torch.state_layout` from a module). A
    *state* is a mapping ``{name: array}`` holding at least the layout's names; floating-point
    arrays may be of any float dtype (they are read as float64).

    Attributes
    ----------
    names : tuple of str
        Every tensor's name, in the state's order.
    shapes : tuple of tuple of int
    kinds : tuple of str
        numpy dtype kinds (``"f"``, ``"i"``, ``"u"``, ``"b"``).
    rules : tuple of str
        :func:`tensor_rule` of each tensor.
    buffers : str
        The buffer policy the rules were made with.
    slices : dict
        ``{name: slice}`` of the ``"aggregator"`` tensors in the vector of :meth:`stack`.
    n_aggregated : int
        :math:`d`, the length of that vector.

    Examples
    --------
    Two states of a BatchNorm layer: the float tensors go through the aggregator, the integer
    batch counter takes the lower median.

    >>> import radonml
    >>> lay = StateLayout.from_entries([("w", (2,), np.float32, False), ("n", (), np.int64, True)])
    >>> states = [{"w": np.array([1.0, 2.0]), "n": np.array(3)}, {"w": np.array([3.0, 4.0]), "n": np.array(5)}]
    >>> X = lay.stack(states)
    >>> X
    array([[1., 2.],
           [3., 4.]])
    >>> lay.combine(radonml.aggregate(X, "mean"), states)
    {'w': array([2., 3.]), 'n': array(3)}
    """

    def __init__(self, names, shapes, kinds, rules, buffers):
        self.names = tuple(names)
        self.shapes = tuple(tuple(int(n) for n in s) for s in shapes)
        self.kinds = tuple(kinds)
        self.rules = tuple(rules)
        self.buffers = buffers
        self.slices: Dict[str, slice] = {}
        start = 0
        for name, shape, rule in zip(self.names, self.shapes, self.rules):
            if rule == "aggregator":
                size = int(np.prod(shape, dtype=np.int64))
                self.slices[name] = slice(start, start + size)
                start += size
        self.n_aggregated = start

    @classmethod
    def from_entries(cls, entries: Iterable[Tuple[str, Sequence[int], object, bool]], *, buffers: str = "aggregate") -> "StateLayout":
        """A layout from ``(name, shape, dtype, is_buffer)`` entries, in the state's order.

        Raises
        ------
        ValueError
            A name given twice, or an unknown ``buffers`` policy.
        TypeError
            A dtype that cannot be aggregated (see :func:`tensor_rule`).

        Examples
        --------
        >>> lay = StateLayout.from_entries([("w", (2, 2), np.float32, False), ("n", (), np.int64, True)])
        >>> lay.rules, lay.n_aggregated
        (('aggregator', 'lower_median'), 4)
        """
        names, shapes, kinds, rules = [], [], [], []
        for name, shape, dtype, is_buffer in entries:
            if name in names:
                raise ValueError(f"the state names tensor {name!r} twice")
            try:
                rule = tensor_rule(dtype, buffer=bool(is_buffer), buffers=buffers)
            except TypeError as exc:
                raise TypeError(f"tensor {name!r}: {exc}") from None
            names.append(name)
            shapes.append(tuple(shape))
            kinds.append(dtype_kind(dtype))
            rules.append(rule)
        return cls(names, shapes, kinds, rules, buffers)

    def __repr__(self) -> str:
        counts = {r: self.rules.count(r) for r in TENSOR_RULES if r in self.rules}
        return f"StateLayout({len(self.names)} tensors, d={self.n_aggregated}, rules={counts}, buffers={self.buffers!r})"

    def to_dict(self) -> dict:
        """The layout as plain Python (JSON-ready)."""
        return {
            "buffers": self.buffers,
            "n_aggregated": self.n_aggregated,
            "tensors": [
                {"name": n, "shape": list(s), "kind": k, "rule": r}
                for n, s, k, r in zip(self.names, self.shapes, self.kinds, self.rules)
            ],
        }

    def _get(self, state: Mapping, name: str, i: int) -> np.ndarray:
        try:
            a = np.asarray(state[name])
        except KeyError:
            raise ValueError(f"state {i} has no tensor {name!r}") from None
        shape = self.shapes[self.names.index(name)]
        if a.shape != shape:
            raise ValueError(f"tensor {name!r} of state {i} has shape {a.shape}, expected {shape}")
        return a

    def nonfinite(self, state: Mapping) -> List[Tuple[str, int]]:
        """``[(name, count)]`` of the floating-point tensors of ``state`` that hold NaN or inf."""
        out = []
        for name, kind in zip(self.names, self.kinds):
            if kind == "f":
                bad = int(np.size(state[name]) - np.count_nonzero(np.isfinite(state[name])))
                if bad:
                    out.append((name, bad))
        return out

    def stack(self, states: Sequence[Mapping]) -> np.ndarray:
        """The ``"aggregator"`` tensors of each state as one float64 row: an (m, d) array.

        Examples
        --------
        >>> lay = StateLayout.from_entries([("w", (2,), np.float32, False), ("n", (), np.int64, True)])
        >>> lay.stack([{"w": np.array([1.0, 2.0]), "n": np.array(3)}])
        array([[1., 2.]])
        """
        X = np.empty((len(states), self.n_aggregated), dtype=np.float64)
        for i, state in enumerate(states):
            for name, sl in self.slices.items():
                X[i, sl] = self._get(state, name, i).reshape(-1)
        return X

    def combine(self, vector, states: Sequence[Mapping], weights=None) -> Dict[str, np.ndarray]:
        """The aggregated state: ``"aggregator"`` tensors cut from ``vector`` (the aggregate of
        :meth:`stack`'s rows), the others combined from ``states`` by their rule.

        Floating-point results are float64 (cast them to the model's dtype); integer and boolean
        ones keep the states' dtype. ``weights`` (validated by the caller) weight ``"mean"`` and
        ``"lower_median"``; pass them exactly when the aggregator got them.

        Raises
        ------
        ValueError
            ``vector`` has the wrong length, or a result holds NaN or inf (named).

        Examples
        --------
        >>> lay = StateLayout.from_entries([("w", (2,), np.float32, False), ("n", (), np.int64, True)])
        >>> states = [{"w": np.zeros(2), "n": np.array(k)} for k in (5, 1, 9)]
        >>> lay.combine(np.array([0.5, 1.5]), states)
        {'w': array([0.5, 1.5]), 'n': array(5)}
        """
        v = np.asarray(vector, dtype=np.float64)
        if v.shape != (self.n_aggregated,):
            raise ValueError(f"vector must have shape ({self.n_aggregated},), got {v.shape}")
        w = None
        if weights is not None:
            w = np.asarray(weights, dtype=np.float64)
            if w.shape != (len(states),) or not (np.isfinite(w).all() and (w >= 0).all() and w.max() > 0):
                raise ValueError(f"weights must be {len(states)} non-negative finite numbers with a positive sum")
            w = w / w.max()  # first by the largest, so that the sum cannot overflow (1e308 weights)
            w = w / w.sum()
        out: Dict[str, np.ndarray] = {}
        for name, shape, rule in zip(self.names, self.shapes, self.rules):
            if rule == "aggregator":
                res = v[self.slices[name]].reshape(shape).copy()
            elif rule == "mean":
                stack = np.stack([self._get(s, name, i).astype(np.float64) for i, s in enumerate(states)])
                # scaled by a power of two near the largest magnitude first (exact), so that a mean
                # of finite values cannot overflow
                top = float(np.abs(stack).max()) if stack.size else 0.0
                scale = float(np.ldexp(1.0, int(np.frexp(top)[1]) - 1)) if 0.0 < top < np.inf else 1.0
                res = (np.tensordot(w, stack / scale, axes=1) if w is not None else (stack / scale).mean(axis=0)) * scale
            elif rule == "lower_median":
                res = lower_median(np.stack([self._get(s, name, i) for i, s in enumerate(states)]), w)
            else:  # "first"
                res = np.array(self._get(states[0], name, 0), copy=True)
            if res.dtype.kind == "f" and not np.isfinite(res).all():
                bad = int(res.size - np.count_nonzero(np.isfinite(res)))
                raise ValueError(f"the aggregate of tensor {name!r} holds {bad} NaN or infinite value(s)")
            out[name] = res
        return out
