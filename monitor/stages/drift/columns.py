"""Column preparation shared by the profile and the nightly run: numbers, categories, runs.

NaN and inf are dropped (and counted) as Evidently does; text that should be numbers is
read as numbers; category values meet on one canonical key (1, 1.0 and "1" are one value).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np
import pandas as pd

from monitor.io.text_codes import value_counts
from monitor.textcut import cut

__all__ = ["Numeric", "numeric", "canonical", "category_counts", "runs", "quantile_edges"]


@dataclass
class Numeric:
    values: np.ndarray  # finite float64 (unsorted until sorted by the caller)
    n_null: int
    n_inf: int
    n_unparsed: int
    from_text: bool
    integer: bool
    mixed: bool = False  # an object column of numbers (e.g. ints and floats mixed)


def numeric(s: pd.Series) -> Numeric:
    """Finite float64 values of a column, with what was dropped and why."""
    from_text = mixed = False
    n_unparsed = 0
    dtype = s.dtype
    if pd.api.types.is_bool_dtype(dtype):
        s = s.astype("float64")
    elif not pd.api.types.is_numeric_dtype(dtype):
        # Text or mixed object column: read numbers, count what is not one.
        before = s.notna()
        from_text = bool(before.any()) and not _all_numbers(s[before])
        mixed = not from_text
        s = pd.to_numeric(s, errors="coerce")
        n_unparsed = int((before & s.isna()).sum())
        dtype = s.dtype
    integer = pd.api.types.is_integer_dtype(dtype)
    if isinstance(dtype, np.dtype) and dtype.kind in "fiu":
        # plain numpy values: NaN is their only null, so no pandas isna pass and no copy before the filter
        x = s.to_numpy()
    else:
        x = s.to_numpy(dtype=np.float64, na_value=np.nan, copy=True)
    finite = np.isfinite(x)
    n_finite = int(np.count_nonzero(finite))
    n_nan = n_inf = 0
    if n_finite < x.size:
        n_nan = int(np.count_nonzero(np.isnan(x)))
        n_inf = int(x.size - n_nan - n_finite)
        x = x[finite]  # a new array
    elif x.dtype == np.float64:
        x = x.copy()  # the caller sorts it in place
    return Numeric(x.astype(np.float64, copy=False), n_nan, n_inf, n_unparsed, from_text, integer, mixed)


def _all_numbers(s: pd.Series) -> bool:
    if len(s) == 0:
        return True
    sample = s.iloc[:1000]
    return all(isinstance(v, (int, float, np.integer, np.floating, bool, np.bool_)) for v in sample)


def canonical(v: Any) -> Optional[str]:
    """One key per category value: 1, 1.0 and "1" meet; None for NaN/inf (dropped, as Evidently does)."""
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        f = float(v)
        if not math.isfinite(f):
            return None
        return str(int(f)) if f.is_integer() and abs(f) < 2**63 else repr(f)
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    # a megabyte value becomes a short key (its start and a fingerprint): the profile, its cache and
    # the results hold keys, never the whole value (the counts are the same: equal values, equal keys)
    return cut(v if isinstance(v, str) else str(v))


def category_counts(s: pd.Series) -> tuple[list[str], np.ndarray, int]:
    values, counts = value_counts(s)  # s.value_counts(dropna=True, sort=False), by code where it can
    merged: dict[str, int] = {}
    for v, n in zip(values, counts.tolist()):
        k = canonical(v)
        if k is not None and n > 0:  # a pandas Categorical lists unused categories with count 0
            merged[k] = merged.get(k, 0) + int(n)
    n_valid = sum(merged.values())
    return list(merged), np.fromiter(merged.values(), dtype=np.int64, count=len(merged)), int(len(s) - n_valid)


def runs(sorted_values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values of a sorted array and how often each occurs (linear time)."""
    x = sorted_values
    if x.size == 0:
        return x[:0].copy(), np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.concatenate(([True], x[1:] != x[:-1])))
    counts = np.diff(np.append(starts, x.size)).astype(np.int64)
    return x[starts].copy(), counts


def quantile_edges(sorted_values: np.ndarray, bins: int) -> Optional[np.ndarray]:
    if sorted_values.size == 0:
        return None
    q = np.quantile(sorted_values, np.linspace(0, 1, bins + 1))
    return np.unique(q)

