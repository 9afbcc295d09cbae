r"""Shared feature maps: the steps of a Pipeline before its linear last step (private module
of :mod:`radonml.sklearn`).

Linear models on one fixed feature map :math:`\phi` live in one vector space, whatever
:math:`\phi` is (a scaler, a one-hot encoding, random Fourier features), so their Radon point
is defined; models on two different maps are not comparable coordinate by coordinate. The
Radon machine therefore fits the steps before the last one **once** and shares them among all
parts, and :func:`radonml.sklearn.aggregate_estimators` checks that fitted pipelines share
equal steps before it aggregates their last steps.
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.pipeline import Pipeline

from .._validation import fraction_to_count

__all__ = ["split_pipeline", "fitted_difference", "seed_unseeded", "check_feature_map_samples", "sample_rows"]


def split_pipeline(estimator):
    """``(steps before the last, last step)`` of a Pipeline, ``(None, estimator)`` otherwise.

    The first is a Pipeline sharing the steps' objects (``Pipeline.__getitem__``), or None
    when the last step is the only one; the last step is never ``"passthrough"``."""
    if not isinstance(estimator, Pipeline):
        return None, estimator
    steps = estimator.steps
    if not steps:
        raise ValueError("estimator is a Pipeline without steps")
    final = steps[-1][1]
    if final is None or (isinstance(final, str) and final == "passthrough"):
        raise TypeError(
            "estimator is a Pipeline whose last step is 'passthrough'; the last step must be the linear model "
            "fitted on every part (e.g. LogisticRegression)"
        )
    if isinstance(final, Pipeline):
        raise TypeError(
            "estimator is a Pipeline whose last step is itself a Pipeline; write the steps flat, "
            "make_pipeline(*feature_steps, linear_model), so that the last step is the linear model"
        )
    return (estimator[:-1] if len(steps) > 1 else None), final


def _first_difference(a, b, path: str, depth: int = 0):
    """Where two fitted objects differ (an attribute path), or None when they are equal:
    the same class, equal parameters and equal fitted state (arrays equal element by
    element, NaN equal to NaN)."""
    if a is b:
        return None
    if depth > 50:
        return f"{path} (nested too deeply to compare)"
    if type(a) is not type(b):
        return f"{path} is {type(a).__name__} in one and {type(b).__name__} in the other"
    if isinstance(a, np.ndarray):
        if a.shape != b.shape or a.dtype != b.dtype:
            return f"{path} has shape {a.shape} ({a.dtype}) in one and {b.shape} ({b.dtype}) in the other"
        if a.dtype.kind in "fc":
            return None if np.array_equal(a, b, equal_nan=True) else f"{path} differs"
        if a.dtype.kind == "O":
            for i, (x, y) in enumerate(zip(a.ravel(), b.ravel())):
                diff = _first_difference(x, y, f"{path}[{i}]", depth + 1)
                if diff:
                    return diff
            return None
        return None if np.array_equal(a, b) else f"{path} differs"
    if hasattr(a, "toarray") and hasattr(a, "nnz"):  # scipy sparse
        if a.shape != b.shape or (a != b).nnz:
            return f"{path} differs"
        return None
    if isinstance(a, (list, tuple)):
        if len(a) != len(b):
            return f"{path} has {len(a)} entries in one and {len(b)} in the other"
        for i, (x, y) in enumerate(zip(a, b)):
            diff = _first_difference(x, y, f"{path}[{i}]", depth + 1)
            if diff:
                return diff
        return None
    if isinstance(a, dict):
        if list(a) != list(b):
            return f"{path} has keys {sorted(map(str, a))} in one and {sorted(map(str, b))} in the other"
        for k in a:
            diff = _first_difference(a[k], b[k], f"{path}[{k!r}]", depth + 1)
            if diff:
                return diff
        return None
    if isinstance(a, np.generic):
        a, b = a.item(), b.item()
    if isinstance(a, float):
        return None if (a == b or (a != a and b != b)) else f"{path} is {a!r} in one and {b!r} in the other"
    if isinstance(a, (str, bytes, numbers.Number, type(None), bool, type)):
        return None if a == b else f"{path} is {a!r} in one and {b!r} in the other"
    if hasattr(a, "__dict__"):  # estimators and other plain objects: parameters and fitted state
        return _attr_path(vars(a), vars(b), path, depth)
    try:
        return None if bool(a == b) else f"{path} differs"
    except Exception:  # incomparable objects: equal only when identical
        return f"{path} cannot be compared"


def _attr_path(va: dict, vb: dict, path: str, depth: int):
    """The first differing attribute of two objects, as ``path.attribute...``."""
    if set(va) != set(vb):
        extra = sorted(set(va) ^ set(vb))
        return f"{path} has attribute {extra[0]} in only one of them"
    for k in va:
        diff = _first_difference(va[k], vb[k], f"{path}.{k}", depth + 1)
        if diff:
            return diff
    return None


def fitted_difference(a, b):
    """Where two fitted feature maps (Pipelines of the same step names) differ, as
    ``step 'name' (Class): attribute ...``, or None when they are the same map: the same
    classes, parameters and fitted attributes in every step."""
    for (name, x), (_, y) in zip(a.steps, b.steps):
        diff = _first_difference(x, y, f"step {name!r} ({type(x).__name__}):")
        if diff:
            return diff.replace(":.", ": ", 1)
    return None


def seed_unseeded(feature_map, gen: np.random.Generator):
    """Set every ``random_state`` parameter of ``feature_map``'s steps that is None to a
    seed drawn from ``gen`` (none drawn when every step is seeded already), so that a Radon
    machine with a fixed ``random_state`` fits the same feature map every time."""
    params = feature_map.get_params(deep=True)
    unseeded = sorted(k for k, v in params.items() if (k == "random_state" or k.endswith("__random_state")) and v is None)
    if unseeded:
        seeds = gen.integers(0, 2**31 - 1, size=len(unseeded))
        feature_map.set_params(**{k: int(s) for k, s in zip(unseeded, seeds)})
    return feature_map


def check_feature_map_samples(value):
    """None, an int >= 1 or a float in (0, 1]."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            "feature_map_samples must be None (all rows), an int >= 1 (that many rows) or a float in (0, 1] "
            f"(that fraction of rows), got {value!r} of type {type(value).__name__}"
        )
    if isinstance(value, numbers.Integral):
        if value < 1:
            raise ValueError(f"feature_map_samples must be >= 1 when an int, got {value}")
        return int(value)
    value = float(value)
    if not 0.0 < value <= 1.0:
        raise ValueError(f"feature_map_samples must lie in (0, 1] when a float, got {value}")
    return value


def sample_rows(n: int, samples, gen: np.random.Generator):
    """Rows (ascending) to fit the feature map on: all (None), ``samples`` of them (int,
    at most n) or, for a float, the fraction's count rounded up (at least 1), drawn without
    replacement. The count is exact at representable boundaries
    (:func:`radonml._validation.fraction_to_count`): 0.07 of 100 rows is 7, although
    ``ceil(0.07 * 100) == 8`` in floating point."""
    if samples is None:
        return None
    if isinstance(samples, int):
        m = min(n, samples)
    else:
        m = max(1, fraction_to_count(samples, n, rounding="ceil", name="feature_map_samples"))
    if m >= n:
        return None
    return np.sort(gen.choice(n, size=m, replace=False))
