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
]


def _describe(x) -> str:
    if isinstance(x, np.ndarray):
        return f"array of shape {x.shape} and dtype {x.dtype}"
    return f"{type(x).__name__}"


def as_float_array(x, name: str, *, ndim: Optional[int] = None, allow_empty: bool = False) -> np.ndarray:
    """Convert ``x`` to a C-contiguous float64 array, checking dtype, shape and finiteness.

    float32, integer, boolean, non-contiguous and Fortran-ordered inputs are converted;
    strings, complex numbers and other non-numeric data raise ``TypeError``; NaN or
    infinite values, a wrong number of dimensions and empty input raise ``ValueError``.
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
    if not np.isfinite(arr).all():
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
    if not w.sum() > 0:
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
