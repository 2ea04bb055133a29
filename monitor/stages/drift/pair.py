"""One column's reference profile and current values, as every method sees them.

The nightly run sorts the current column (the only O(n log n) step) and merges it with
the cached sorted reference in linear time; KS, Cramer-von Mises and Anderson-Darling
read the same merged CDFs, the count-based methods the same union of distinct values.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np
import pandas as pd

from monitor.stages.drift.columns import category_counts, numeric, runs
from monitor.stages.drift.profile import ColumnProfile

__all__ = ["Pair", "prepare", "hist_counts", "FEW_VALUES"]

FEW_VALUES = 5  # Evidently: a numeric column with this many values is treated by its counts


class Pair:
    """Reference profile + current values of one column; merged views computed once, on demand."""

    def __init__(self, ref: ColumnProfile, cur_values: Optional[np.ndarray] = None,
                 cur_keys: Optional[list] = None, cur_counts: Optional[np.ndarray] = None,
                 cur_integer: bool = False):
        empty = np.zeros(0, dtype=np.float64)
        self.ref = ref
        self.kind = ref.kind
        self.x: np.ndarray = ref.sorted_values() if ref.kind == "numerical" else empty  # sorted reference
        self.y: np.ndarray = cur_values if cur_values is not None else empty  # sorted current (numeric)
        self.cur_keys: list = cur_keys if cur_keys is not None else []
        self.cur_counts: np.ndarray = cur_counts if cur_counts is not None else np.zeros(0, dtype=np.int64)
        self.integer = ref.integer and cur_integer
        self._merge: Optional[tuple[np.ndarray, np.ndarray, int, int]] = None
        self._counts: Optional[tuple[Any, np.ndarray, np.ndarray]] = None

    @property
    def n_ref(self) -> int:
        return self.ref.n_valid

    @property
    def n_cur(self) -> int:
        if self.kind == "numerical":
            return int(self.y.size)
        return int(self.cur_counts.sum())

    def merged(self) -> tuple[np.ndarray, np.ndarray, int, int]:
        """(z, v, n1, n2): z = both samples sorted; v[k] = current values among z[:k+1].

        At the last position of each run of ties, k+1-v and v are exactly the counts of
        reference and current values <= z[k] (what scipy gets from searchsorted 'right').
        """
        if self._merge is None:
            x, y = self.x, self.y
            n1, n2 = x.size, y.size
            pos = np.searchsorted(x, y, side="right")
            pos += np.arange(n2)
            is_cur = np.zeros(n1 + n2, dtype=bool)
            is_cur[pos] = True
            v = np.cumsum(is_cur)
            del is_cur, pos
            z = np.concatenate([x, y])
            z.sort(kind="stable")  # two sorted runs: timsort merges them in linear time
            self._merge = (z, v, n1, n2)
        return self._merge

    def counts(self) -> tuple[Any, np.ndarray, np.ndarray]:
        """(keys, ref_counts, cur_counts) over the union of distinct non-null values, reference keys first."""
        if self._counts is None:
            if self.kind == "categorical":
                ref_idx = {k: i for i, k in enumerate(self.ref.categories)}
                names = list(self.ref.categories)
                ref_n: list[int] = [] if self.ref.counts is None else self.ref.counts.tolist()
                cur_n = [0] * len(names)
                for k, n in zip(self.cur_keys, self.cur_counts.tolist()):
                    i = ref_idx.get(k)
                    if i is None:
                        names.append(k)
                        ref_n.append(0)
                        cur_n.append(n)
                    else:
                        cur_n[i] += n
                self._counts = (names, np.asarray(ref_n, dtype=np.int64), np.asarray(cur_n, dtype=np.int64))
            else:
                rv, rcnt = self.ref.runs()
                cv, ccnt = runs(self.y)
                keys = np.union1d(rv, cv)
                rc = np.zeros(keys.size, dtype=np.int64)
                cc = np.zeros(keys.size, dtype=np.int64)
                rc[np.searchsorted(keys, rv)] = rcnt
                cc[np.searchsorted(keys, cv)] = ccnt
                self._counts = (keys, rc, cc)
        return self._counts

    def n_values(self) -> int:
        """Distinct non-null values in reference and current together (Evidently's nunique of the concat)."""
        if self.kind == "numerical" and self.ref.n_unique > FEW_VALUES:
            return self.ref.n_unique  # already above every cut-off that uses it
        return len(self.counts()[0])



def hist_counts(sorted_values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """np.histogram counts (half-open bins, last one closed) from sorted data covering [edges[0], edges[-1]]."""
    idx = np.searchsorted(sorted_values, edges, side="left")
    idx[-1] = np.searchsorted(sorted_values, edges[-1], side="right")
    return np.diff(idx)


def prepare(cp: ColumnProfile, s: pd.Series) -> tuple[Pair, int, list[str]]:
    """The current column against its profile: (pair, null current values, notes on what was read how)."""
    notes: list[str] = []
    if cp.from_text:
        notes.append(f"reference stored as text: read as numbers ({cp.n_unparsed} unreadable values counted as null)")
    if cp.mixed:
        notes.append("reference values of mixed Python types (object column): read as float64")
    if cp.n_inf:
        notes.append(f"{cp.n_inf} infinite reference values excluded")
    if cp.kind != "numerical":
        keys, counts, n_null = category_counts(s)
        return Pair(cp, cur_keys=keys, cur_counts=counts), n_null, notes
    num = numeric(s)
    y = num.values
    y.sort()
    if num.from_text:
        notes.append(f"current values arrived as text: read as numbers ({num.n_unparsed} unreadable values counted as null)")
    if num.mixed:
        notes.append("current values of mixed Python types (object column): read as float64")
    elif cp.integer != num.integer and num.values.size:
        notes.append(
            f"reference is {'integer' if cp.integer else 'float'}, current is {'integer' if num.integer else 'float'}: compared as float64"
        )
    if num.n_inf:
        notes.append(f"{num.n_inf} infinite current values excluded")
    return Pair(cp, cur_values=y, cur_integer=num.integer), num.n_null, notes
