"""Shared by the checks: how findings word figures, and the test that says a rate is above normal."""

from __future__ import annotations

import math
from typing import Any, Optional

import numpy as np
import pandas as pd

from monitor.textcut import cut

__all__: list[str] = []  # internal to the quality package


def _why(exc: BaseException) -> str:
    text = str(exc).splitlines()[0][:160] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _excess(k: float, n: int, k0: float, n0: int, margin: float, z_min: float) -> tuple[bool, float]:
    """Whether a rate k/n is above the reference's k0/n0 by more than `margin` AND significantly so
    (one-sided two-proportion z-test, pooled variance): what is normal for this model, not a fixed share.
    With no reference rate (n0 == 0) only the margin counts. Returns (alert, z)."""
    if n <= 0:
        return False, 0.0
    p = k / n
    p0 = k0 / n0 if n0 else 0.0
    d = p - p0
    if n0 <= 0:
        return d > margin and k > 0, math.inf if d > 0 else 0.0
    pooled = (k + k0) / (n + n0)
    se = math.sqrt(max(pooled * (1 - pooled), 1e-12) * (1 / n + 1 / n0))
    z = d / se
    return (d > margin and z >= z_min), z


def _pct(x: Optional[float]) -> str:
    """A share as a percentage a person reads at a glance: 38%, 0.4%, 0.05%, >99.9%."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    p = 100.0 * x
    if p == 0:
        return "0%"
    if p < 0.01:
        return "<0.01%"
    if p >= 99.95 and x < 1:
        return ">99.9%"
    if p >= 10:
        return f"{p:.0f}%"
    if p >= 1:
        return f"{p:.1f}".rstrip("0").rstrip(".") + "%"
    return f"{p:.2g}%"


def _num(x: Any) -> str:
    if x is None:
        return "n/a"
    if isinstance(x, (bool, np.bool_)):
        return str(bool(x))
    if isinstance(x, (int, np.integer)):
        return f"{int(x):,}"
    if isinstance(x, (float, np.floating)):
        x = float(x)
        if not math.isfinite(x):
            return str(x)
        if x == int(x) and abs(x) < 1e15:
            return f"{int(x):,}"
        return f"{x:,.4g}" if abs(x) >= 1000 else f"{x:.4g}"
    return str(x)


def _examples(values: Any, k: int) -> str:
    shown = [repr(_plain(v)) for v in list(values)[:k]]
    return ", ".join(shown)


def _plain(v: Any) -> Any:
    """A data value as quoted in a finding: a python scalar, text cut (textcut.VALUE_CHARS)."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, pd.Timestamp):
        return str(v)
    return cut(v) if isinstance(v, str) else v


def _count(k: int, noun: str) -> str:
    return f"{_num(k)} {noun}{'s' if k != 1 else ''}"


def _rows(k: int) -> str:
    return _count(k, "row")


def _dates(ds: list[str]) -> str:
    return ", ".join(ds) if len(ds) <= 5 else ", ".join(ds[:5]) + f" and {len(ds) - 5} more"


def _repeats(values: pd.Series) -> int:
    """How many of these (non-null) values repeat an earlier one: `values.duplicated().sum()`.

    Integer ids are counted on a sorted copy: at 50M ids pandas' hash table costs several times
    the memory and time of sorting one int64 array; ids already increasing (as ids are usually
    written) repeat nothing, which one comparison of neighbours says without the sort."""
    if values.dtype.kind in "iu":
        x = values.to_numpy()
        if bool(np.all(x[1:] > x[:-1])):
            return 0
        s = np.sort(x)
        return int(np.count_nonzero(s[1:] == s[:-1]))
    return int(values.duplicated().sum())
