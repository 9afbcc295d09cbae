"""Input validation shared by radonml's public functions (private).

Every public function validates its arguments once, here, and raises a
``TypeError`` or ``ValueError`` that names the argument, what was expected and
what was received.
"""

from __future__ import annotations

import numbers
import os
from typing import Optional

import numpy as np

__all__ = [
    "as_float_array",
    "check_weights",
    "check_n_threads",
    "check_rng",
    "check_int",
    "check_fraction",
    "fraction_to_count",
    "check_models",
    "normalize_weights",
]


def _describe(x) -> str:
    if isinstance(x, np.ndarray):
        return f"array of shape {x.shape} and dtype {x.dtype}"
    return f"{type(x).__name__}"


def as_float_array(
    x, name: str, *, ndim: Optional[int] = None, allow_empty: bool = False, finite: bool = True
) -> np.ndarray:
    """Convert ``x`` to a C-contiguous float64 array, checking dtype, shape and finiteness.

    float32, integer, boolean, non-contiguous and Fortran-ordered inputs are converted;
    strings, complex numbers and other non-numeric data raise ``TypeError``; NaN or
    infinite values (unless ``finite=False``: the caller checks them), a wrong number of
    dimensions and empty input raise ``ValueError``.
    """
    if x is None:
        raise TypeError(f"{name} must be an array of numbers, got None")
    if hasattr(x, "detach") and hasattr(x, "cpu") and hasattr(x, "numpy"):  # torch tensor
        x = x.detach().cpu().numpy()
    try:
        arr = np.asarray(x)
    except Exception as exc:  # ragged nested lists and the like
        raise ValueError(f"{name} must be a rectangular array of numbers; could not convert it: {exc}") from None
    if arr.dtype.kind in "biuf":
        pass
    elif arr.dtype.kind == "c":
        raise TypeError(f"{name} must be real numbers, got complex dtype {arr.dtype}")
    elif arr.dtype.kind == "O":
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError):
            raise TypeError(
                f"{name} must contain only real numbers, got an object array with non-numeric entries"
            ) from None
    else:
        raise TypeError(f"{name} must contain real numbers, got {_describe(arr)}")
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must be a {ndim}-dimensional array, got {arr.ndim} dimension(s) (shape {arr.shape})")
    if arr.size == 0 and not allow_empty:
        raise ValueError(f"{name} must not be empty, got shape {arr.shape}")
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    if finite and not np.isfinite(arr).all():
        bad = np.argwhere(~np.isfinite(arr))
        first = tuple(int(i) for i in bad[0])
        raise ValueError(
            f"{name} must be finite, got {len(bad)} NaN or infinite value(s), the first at index {first}"
        )
    return arr


def check_weights(weights, n: int, name: str = "weights") -> Optional[np.ndarray]:
    """Validate per-model weights: None, or n non-negative finite numbers with a positive sum."""
    if weights is None:
        return None
    w = as_float_array(weights, name, ndim=1)
    if w.shape[0] != n:
        raise ValueError(f"{name} must have one entry per model ({n}), got {w.shape[0]}")
    if (w < 0).any():
        i = int(np.argmax(w < 0))
        raise ValueError(f"{name} must be non-negative, got {float(w[i])!r} at index {i}")
    if not (w > 0).any():  # (not w.sum(): weights near 1e308 would overflow it)
        raise ValueError(f"{name} must have a positive sum, got all zeros")
    return w


def check_int(value, name: str, *, minimum: Optional[int] = None, allow_none: bool = False) -> Optional[int]:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r} of type {type(value).__name__}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def check_fraction(value, name: str, *, low: float = 0.0, high: float = 1.0, closed_high: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r} of type {type(value).__name__}")
    value = float(value)
    ok = low <= value <= high if closed_high else low <= value < high
    if not ok:
        bracket = "]" if closed_high else ")"
        raise ValueError(f"{name} must lie in [{low}, {high}{bracket}, got {value}")
    return value


def check_n_threads(n_threads) -> int:
    """Thread count for the compiled core: None or -1 -> all cores (0 for the core); a
    positive integer otherwise, capped at the core's limit (``radonml._core.max_threads``,
    256: more threads than that only cost memory). Bools, floats, 0 and values below -1 are
    refused with a message naming ``n_threads``."""
    if n_threads is None:
        return 0
    n = check_int(n_threads, "n_threads")
    if n == -1:
        return 0
    if n < 1:
        raise ValueError(f"n_threads must be a positive integer, -1 or None (all cores), got {n}")
    from . import _core

    return min(n, int(_core.max_threads))


def check_rng(rng) -> np.random.Generator:
    """None, an int seed, a SeedSequence or a Generator -> Generator."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, (numbers.Integral, np.random.SeedSequence)) and not isinstance(rng, bool):
        return np.random.default_rng(rng)
    if isinstance(rng, np.random.RandomState):
        return np.random.default_rng(rng.randint(0, 2**31 - 1))
    raise TypeError(f"rng must be None, an int seed or a numpy.random.Generator, got {type(rng).__name__}")


def n_cpus() -> int:
    return os.cpu_count() or 1


def check_models(models, name: str = "models", *, finite: bool = True) -> np.ndarray:
    """Validate a stack of models: a (m, d) C-contiguous float64 array of finite values.

    A NaN or infinite entry (a diverged model) raises a ``ValueError`` that names the
    first such model and coordinate and counts the others: aggregating it would give a
    NaN, or a model silently dominated by it. ``finite=False`` leaves that check to the
    caller (who must make it before returning a result).
    """
    from . import _core

    X = as_float_array(models, name, ndim=2, finite=False)
    if not finite:
        return X
    k = _core.first_nonfinite(X)
    if k >= 0:
        bad = ~np.isfinite(X)
        rows = np.flatnonzero(bad.any(axis=1))
        i, j = divmod(int(k), X.shape[1])
        listed = ", ".join(str(int(r)) for r in rows[:10]) + (", ..." if len(rows) > 10 else "")
        raise ValueError(
            f"{name} must be finite, but model {i} has {float(X[i, j])!r} at coordinate {j} "
            f"({int(bad.sum())} non-finite value(s) in {len(rows)} model(s): {listed}); "
            "a diverged model cannot be aggregated: remove it (or count it as failed) first"
        )
    return X


def normalize_weights(weights: np.ndarray) -> np.ndarray:
    """Scale validated non-negative weights by an exact power of two so that the largest
    lies in [0.5, 1).

    Ratios are kept exactly (integer weights stay integer multiples of one another), and
    sums of up to 2**52 such weights neither overflow nor underflow: weights of 1e308 or
    of 5e-324 each give the same result as weights of 1. Relative weights below 2**-1074
    become 0.
    """
    w = np.asarray(weights, dtype=np.float64)
    _, e = np.frexp(w.max())
    return np.ldexp(w, -int(e))


def fraction_to_count(fraction, n: int, *, rounding: str = "floor", name: str = "fraction") -> int:
    r"""Turn a fraction of ``n`` items into a count, exactly at representable boundaries.

    ``rounding="floor"`` returns :math:`\max\{k \in \{0, \dots, n\} : \mathrm{fl}(k/n) \le
    \text{fraction}\}` and ``"ceil"`` returns :math:`\min\{k : \mathrm{fl}(k/n) \ge
    \text{fraction}\}`, where :math:`\mathrm{fl}(k/n)` is the double nearest to the rational
    :math:`k/n` (Python's ``k / n`` of two ints is correctly rounded). So whenever
    ``fraction`` is the double nearest to some :math:`k/n` — ``0.29`` of 100, ``1/3`` of 3,
    ``0.1`` of 30 — the count is exactly :math:`k`, as in exact arithmetic, although
    ``0.29 * 100 == 28.999999999999996`` in floating point. Between such boundaries it is the
    floor (ceiling) of the exact product. Every place that turns a fraction into a count
    (trimming, client sampling, splits) should use this one helper.

    Parameters
    ----------
    fraction : float
        In [0, 1].
    n : int
        Number of items, >= 0.
    rounding : {"floor", "ceil"}, default "floor"
    name : str
        The argument's name, for error messages.

    Returns
    -------
    int in [0, n]

    Examples
    --------
    >>> fraction_to_count(0.29, 100), int(0.29 * 100)
    (29, 28)
    >>> fraction_to_count(1 / 3, 3), fraction_to_count(0.5, 3), fraction_to_count(0.5, 3, rounding="ceil")
    (1, 1, 2)
    """
    q = check_fraction(fraction, name, low=0.0, high=1.0, closed_high=True)
    n = check_int(n, "n", minimum=0)
    if rounding not in ("floor", "ceil"):
        raise ValueError(f"rounding must be 'floor' or 'ceil', got {rounding!r}")
    if n == 0:
        return 0
    k = min(n, max(0, int(q * n)))  # within one of the answer: q * n is off by at most an ulp
    if rounding == "floor":
        for _ in range(3):  # bounded: the start is at most one step off
            if k < n and (k + 1) / n <= q:
                k += 1
            elif k > 0 and k / n > q:
                k -= 1
            else:
                break
        return k
    k = min(n, k + 1)
    for _ in range(3):
        if k > 0 and (k - 1) / n >= q:
            k -= 1
        elif k < n and k / n < q:
            k += 1
        else:
            break
    return k
