"""Cohort definitions: a column's values, its numeric bins, or a named `where` filter (the safe grammar).

Cohorts that cannot overlap (one column's values or bins, one filter) form a
`Partition`: one small integer code per row (-1 = in none of them), so the
performance statistics of all of them come from one pass over the rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np
import pandas as pd

from monitor.config import CohortConfig
from monitor.io.columns import ColumnFrame
from monitor.io.text_codes import factorize
from monitor.stages.cohort_filter import parse_filter
from monitor.textcut import cut

__all__ = ["Partition", "cohort_partitions"]


@dataclass(frozen=True)
class Partition:
    """Cohorts that do not overlap (one column's values or bins, or one filter): a code per row, -1 = none."""

    names: tuple[str, ...]
    current: np.ndarray  # code per row of the window
    baseline: Optional[np.ndarray]  # code per row of the baseline set; None = no baseline for these cohorts
    # per cohort, what its baseline rows are, whatever the window (a value, bins, a filter), or None
    # when they depend on the window (the "(other N values)" cohort): the baseline figures' cache key
    keys: Optional[tuple[Optional[str], ...]] = None


def _fmt_edge(x: float) -> str:
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def _value_cohorts(col: str, cur: pd.DataFrame, base: pd.DataFrame, errors: list[str], max_values: int) -> list[Partition]:
    """One cohort per value of `col` in the window: the `max_values` most frequent, the rest as one
    "(other N values)" cohort (a column of 50k distinct values makes 51 cohorts, not 50k)."""
    if col not in cur.columns:
        errors.append(f"cohort column {col!r} is not in the window's data: no cohorts made from it")
        return []
    s = cur[col]
    if s.notna().sum() == 0:
        errors.append(f"cohort column {col!r} is all null in the window: no cohorts made from it")
        return []
    codes, uniques = factorize(s)  # pd.factorize(s), by code where it can
    keep = np.arange(len(uniques))
    if len(uniques) > max_values:  # the most frequent values (ties: first seen), the rest in one cohort
        keep = np.sort(np.argsort(-np.bincount(codes[codes >= 0], minlength=len(uniques)), kind="stable")[:max_values])
    every = uniques.tolist()  # python scalars
    values = [every[i] for i in keep.tolist()]
    try:
        order = sorted(range(len(values)), key=lambda i: values[i])
    except TypeError:
        order = sorted(range(len(values)), key=lambda i: str(values[i]))
    names = [f"{col}={cut(values[i])}" for i in order]
    keys: list[Optional[str]] = [f"value:{col}={values[i]!r}" for i in order]
    # code of each distinct value -> its cohort (rank among the kept values; the rest: the "other" cohort)
    rank = np.full(len(uniques) + 1, len(values), dtype=np.int64)
    rank[keep[np.asarray(order, dtype=np.int64)]] = np.arange(len(values))
    rank[-1] = -1  # code -1 (null) stays -1
    if len(values) < len(uniques):
        names.append(f"{col}=(other {len(uniques) - len(values):,} values)")
        keys.append(None)
    cohort_of = _small(rank)  # narrow before the gathers: one byte a row where it fits, not eight
    bcodes = _cohort_codes(base, col, uniques, cohort_of) if col in base.columns else None
    return [Partition(tuple(names), cohort_of[codes], bcodes, tuple(keys))]


def _cohort_codes(frame: pd.DataFrame, col: str, uniques: pd.Index, cohort_of: np.ndarray) -> np.ndarray:
    """The cohort of each value of `frame[col]`: `cohort_of[i]` for the value `uniques[i]`, matched by
    value (-1 for nulls and values not among them; `cohort_of[-1]` is -1).

    One factorize of the column and a lookup of its distinct values (not a Categorical
    built over the rows; and a categorical column's own category order does not matter).
    A streamed frame's text column comes dictionary-encoded from the file (`ColumnFrame.codes`).
    """
    codes, seen = frame.codes(col) if isinstance(frame, ColumnFrame) else factorize(frame[col])
    at = pd.Index(np.asarray(uniques, dtype=object)).get_indexer(np.asarray(seen, dtype=object))
    return cohort_of[np.append(at, -1)][codes]


def _bin_cohorts(col: str, bins: list[float], cur: pd.DataFrame, base: pd.DataFrame, errors: list[str]) -> list[Partition]:
    if col not in cur.columns:
        errors.append(f"cohort column {col!r} is not in the window's data: no cohorts made from it")
        return []
    x = pd.to_numeric(cur[col], errors="coerce")
    if x.notna().sum() == 0:
        errors.append(f"cohort column {col!r} is all null (or not numeric) in the window: no bins made from it")
        return []
    edges = np.asarray(bins, dtype=float)

    def codes(v: pd.Series) -> np.ndarray:
        c = np.searchsorted(edges, v.to_numpy(dtype=float, na_value=np.nan), side="right") - 1
        return np.where((c >= 0) & (c < edges.size - 1), c, -1)

    names = tuple(f"{col}=[{_fmt_edge(a)}, {_fmt_edge(b)})" for a, b in zip(bins, bins[1:]))
    base_codes = _small(codes(pd.to_numeric(base[col], errors="coerce"))) if col in base.columns else None
    return [Partition(names, _small(codes(x)), base_codes, tuple(f"bins:{n}" for n in names))]


def _where_cohort(name: str, where: str, cur: pd.DataFrame, base: pd.DataFrame, errors: list[str]):
    def mask(df: pd.DataFrame) -> np.ndarray:
        return parse_filter(where).mask(df)  # the safe grammar, never df.eval / query

    try:
        cm = mask(cur)
    except Exception as exc:  # noqa: BLE001 - pandas raises many kinds for a bad expression
        errors.append(f"cohort {name!r}: invalid where expression {where!r}: {type(exc).__name__}: {exc}")
        return []
    try:
        bm = mask(base)
    except Exception as exc:  # noqa: BLE001 - as above, on the baseline
        errors.append(f"cohort {name!r}: where expression {where!r} fails on the baseline set ({exc}): no baseline for it")
        bm = None
    return [(name, cm, bm)]


def _mask_codes(mask: np.ndarray) -> np.ndarray:
    return np.where(np.asarray(mask, dtype=bool), np.int8(0), np.int8(-1))


def _small(codes: np.ndarray) -> np.ndarray:
    """Codes in the narrowest integer type that holds them (they are kept for the whole stage)."""
    top = int(codes.max()) if codes.size else 0
    return codes.astype(np.int8 if top < 2**7 else np.int16 if top < 2**15 else np.int32)


def cohort_partitions(
    current: pd.DataFrame,
    baseline: pd.DataFrame,
    cohorts: list[CohortConfig],
    *,
    all_categorical: bool = False,
    categorical_features: Optional[list[str]] = None,
    max_values: int = 50,
) -> tuple[list[Partition], list[str]]:
    """The configured cohorts as partitions of the window's (and the baseline's) rows, and error messages.

    A column's values: at most `max_values` cohorts of its own, plus one for the rest."""
    errors: list[str] = []
    out: list[Partition] = []
    value_columns: set[str] = set()
    for c in cohorts:
        if c.where is not None:
            for name, cm, bm in _where_cohort(c.label, c.where, current, baseline, errors):
                out.append(Partition((name,), _mask_codes(cm), None if bm is None else _mask_codes(bm), (f"where:{name}",)))
        elif c.bins is not None and c.column is not None:
            out += _bin_cohorts(c.column, c.bins, current, baseline, errors)
        elif c.column is not None and c.column not in value_columns:
            value_columns.add(c.column)
            out += _value_cohorts(c.column, current, baseline, errors, max_values)
    if all_categorical:
        for col in categorical_features or []:
            if col not in value_columns:
                value_columns.add(col)
                out += _value_cohorts(col, current, baseline, errors, max_values)
    seen: set[str] = set()
    unique = []
    for p in out:
        if not set(p.names) & seen:
            seen.update(p.names)
            unique.append(p)
    return unique, errors
