"""What a column holds (numbers, strings, timestamps...) whatever its storage type, and conversions back."""

from __future__ import annotations

import re
from typing import Any, Optional

import numpy as np
import pandas as pd

__all__: list[str] = []  # internal to the quality package

_TZ_SUFFIX = re.compile(r"(Z|[+-]\d\d:?\d\d)$")


def _kind(s: pd.Series) -> str:
    """numeric | bool | datetime | string | timedelta | mixed | empty: what the values are, not the storage."""
    d = s.dtype
    if isinstance(d, pd.CategoricalDtype):
        return _kind(pd.Series(d.categories)) if len(d.categories) else "empty"
    if pd.api.types.is_bool_dtype(d):
        return "bool"
    if pd.api.types.is_numeric_dtype(d):
        return "numeric"
    if pd.api.types.is_datetime64_any_dtype(d):
        return "datetime"
    if pd.api.types.is_timedelta64_dtype(d):
        return "timedelta"
    if pd.api.types.is_object_dtype(d):
        inferred = pd.api.types.infer_dtype(s, skipna=True)
        return {
            "integer": "numeric",
            "floating": "numeric",
            "mixed-integer-float": "numeric",
            "decimal": "numeric",
            "boolean": "bool",
            "string": "string",
            "datetime": "datetime",
            "datetime64": "datetime",
            "date": "datetime",
            "empty": "empty",
        }.get(inferred, "mixed")
    if pd.api.types.is_string_dtype(d):
        return "string"
    return str(d)


def _kind_of(frame: Any, col: str) -> str:
    """`_kind(frame[col])`, from the storage type alone when that decides it (anything but object
    and categorical dtypes), so a streamed column is not read just to learn what it holds."""
    schema_dtype = getattr(frame, "schema_dtype", None)
    d = schema_dtype(col) if schema_dtype is not None else None
    if d is not None and not pd.api.types.is_object_dtype(d) and not isinstance(d, pd.CategoricalDtype):
        return _kind(pd.Series([], dtype=d))
    return _kind(frame[col])


def _describe(s: pd.Series, kind: str) -> str:
    if kind == "numeric":
        if pd.api.types.is_integer_dtype(s.dtype):
            return "integers"
        if pd.api.types.is_float_dtype(s.dtype) and _integral(s):
            return "integers"
        return "decimals"
    return {
        "bool": "booleans",
        "datetime": "timestamps",
        "string": "strings",
        "timedelta": "durations",
        "mixed": "mixed values",
        "empty": "nulls only",
    }.get(kind, kind)


def _integral(s: pd.Series) -> bool:
    """Every value is a finite whole number (and there is at least one)."""
    x = s.to_numpy(dtype=float, na_value=np.nan)
    x = x[~np.isnan(x)]
    return bool(len(x)) and bool(np.all(np.isfinite(x))) and bool(np.all(x == np.round(x)))


def _compatible(ref: str, cur: str) -> bool:
    return ref == cur or "empty" in (ref, cur) or {ref, cur} == {"numeric", "bool"}


def _kinds_changed(kinds: dict[str, tuple[str, str]]) -> set[str]:
    return {c for c, (r, k) in kinds.items() if not _compatible(r, k)}


def _convert(s: pd.Series, to: str) -> pd.Series:
    if to == "numeric":
        return pd.to_numeric(s, errors="coerce")  # tolerates surrounding whitespace
    if to == "datetime":
        return pd.to_datetime(s, errors="coerce", format="mixed")
    if to == "string":
        x = pd.to_numeric(s, errors="coerce") if not pd.api.types.is_numeric_dtype(s.dtype) else s
        if pd.api.types.is_bool_dtype(x.dtype):
            return x.astype("string")
        if _integral(x):
            return x.astype("Int64").astype("string")  # 3.0 -> "3", as the reference wrote it
        return x.astype("string")
    raise ValueError(f"unknown conversion {to!r}")


def _coercion(ref_kind: str, cur_kind: str) -> Optional[str]:
    if ref_kind in ("numeric", "bool") and cur_kind in ("string", "mixed"):
        return "numeric"
    if ref_kind == "string" and cur_kind in ("numeric", "bool"):
        return "string"
    if ref_kind == "datetime" and cur_kind in ("string", "mixed"):
        return "datetime"
    return None


def _to_utc_naive(s: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        t = s
    elif pd.api.types.is_numeric_dtype(s.dtype):
        return pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns]")  # epoch units are ambiguous
    else:
        t = _parse_timestamps(s)
    if getattr(t.dt, "tz", None) is not None:
        t = t.dt.tz_convert("UTC").dt.tz_localize(None)
    return t


def _parse_timestamps(s: pd.Series) -> pd.Series:
    """Timestamp strings to UTC: Arrow's ISO-8601 cast first (pandas takes ~12 s per million strings
    with offsets, Arrow ~0.1 s), then pandas ISO-8601, then pandas' per-value guess for the rest."""
    try:
        import pyarrow as pa

        arr = pa.array(s.array) if pd.api.types.is_string_dtype(s.dtype) and s.dtype != object else pa.array(
            s.to_numpy(dtype=object), type=pa.string()
        )
        # Arrow casts offset strings to a UTC type and naive ones to a naive type; a failed
        # cast costs seconds, so pick the type from the first value rather than trying both.
        first = s.dropna().iloc[0] if s.notna().any() else ""
        zoned = bool(_TZ_SUFFIX.search(str(first)))
        try:
            values = arr.cast(pa.timestamp("ns", tz="UTC") if zoned else pa.timestamp("ns"))
            return pd.Series(values.to_numpy(zero_copy_only=False), index=s.index, dtype="datetime64[ns]")
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
    except Exception:  # noqa: BLE001 - not Arrow-castable (mixed objects, no pyarrow): pandas below
        pass
    t = pd.to_datetime(s, errors="coerce", utc=True, format="ISO8601").astype("datetime64[ns, UTC]")
    failed = t.isna() & s.notna()
    if failed.any():
        guessed = pd.to_datetime(s[failed], errors="coerce", utc=True, format="mixed")
        t.loc[failed] = guessed.astype("datetime64[ns, UTC]")
    return t
