"""Plain JSON out of numpy/pandas values: no NaN (null instead), no numpy scalars."""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any, Optional

__all__ = ["to_jsonable", "dumps", "finite"]


def finite(x: object) -> Optional[float]:
    """`x` as a float when it is a finite number (or a numeric string), else None: None, bool, NaN, inf, text."""
    if x is None or isinstance(x, bool):
        return None
    try:
        f = float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def to_jsonable(obj: Any) -> Any:
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, int):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, (dt.datetime, dt.date)):
        return obj.isoformat()
    if hasattr(obj, "to_dict") and callable(obj.to_dict):
        return to_jsonable(obj.to_dict())
    # numpy / pandas scalars and arrays, without importing them here
    if hasattr(obj, "tolist"):
        return to_jsonable(obj.tolist())
    if hasattr(obj, "item"):
        return to_jsonable(obj.item())
    if obj.__class__.__name__ in ("NAType", "NaTType"):
        return None
    return str(obj)


def dumps(obj: Any) -> str:
    return json.dumps(to_jsonable(obj), indent=2, sort_keys=False, allow_nan=False)
