"""Result objects' shared plumbing (private): conversion to JSON types for ``to_dict`` and
``to_json``, used by every subpackage that returns result dataclasses."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np

__all__ = ["to_jsonable", "JSONMixin"]


def to_jsonable(obj):
    """Recursively convert dataclasses, numpy arrays and scalars to JSON types (NaN -> None)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, (np.floating, float)):
        v = float(obj)
        return None if not math.isfinite(v) else v
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj


class JSONMixin:
    """``to_dict`` and ``to_json`` for the package's result dataclasses."""

    def to_dict(self) -> dict:
        """The result as plain Python types (lists, floats, None for NaN)."""
        return to_jsonable(self)

    def to_json(self, path=None, **kwargs) -> str:
        """JSON text of :meth:`to_dict`; written to ``path`` when given."""
        text = json.dumps(self.to_dict(), indent=kwargs.pop("indent", 2), **kwargs)
        if path is not None:
            with open(path, "w") as fh:
                fh.write(text)
        return text
