"""What the value checks need from each reference feature: its dtype, its nulls, its finite range
(numerical features) and its categories (categorical ones).

Each column is read once, when a check first asks (and, from a streamed or lazily opened
reference, not kept in the column cache), and summed up in a few numbers. The summaries are
small and depend on the snapshot alone, so the run caches them next to the drift profile
(`to_json` / `from_json`, keyed by the snapshot's identity): a run on a cached snapshot reads
none of the feature columns of the reference. Every figure is the one the checks computed from
the column before (`float(isna().mean())` is n_null / n_rows exactly; the range is that of the
finite values after `pd.to_numeric(errors="coerce")`; the categories are `dropna().value_counts()`).
A summary that raised is re-raised where the check asks for it, so a check fails as it did.

Figures of the whole reference that are not a feature's (`figure`: its duplicate ids, its invalid
scores, its prediction/score disagreement, its label classes, what each feature holds) are cached
the same way, each named by what it depends on besides the snapshot (columns, threshold...).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Optional

import numpy as np
import pandas as pd

__all__: list[str] = []  # internal to the quality package

FORMAT = "monitor.quality.reference_stats"
VERSION = 2  # 2: the whole-reference figures (`figure`)
CACHED_CATEGORIES = 100_000  # a column with more distinct values is summed up again on each run, not cached
_INDEX_DTYPES = ("str", "string", "object", "int64", "float64", "bool")  # category dtypes that survive JSON


class ReferenceStats:
    """Per-column summaries of the reference, computed on first use (one read per column)."""

    def __init__(self, reference: Any, cached: Optional[dict] = None, kinds: Optional[dict[str, str]] = None,
                 figures: Optional[dict[str, Any]] = None) -> None:
        self._ref = reference
        self._n = len(reference)
        self._kinds = dict(kinds or {})  # feature -> numerical | categorical: which figure a read works out
        self._cols: dict[str, dict[str, Any]] = {}  # column -> {"dtype", "n_null", "range", "categories"}
        self._errors: dict[tuple[str, str], Exception] = {}
        self.changed = False  # figures were computed that the cache did not hold
        self._figures: dict[str, Any] = dict(figures or {})  # name (with what it depends on) -> JSON value
        for col, entry in (cached or {}).items():
            if col in reference.columns:
                self._cols[col] = dict(entry)

    # ------------------------------------------------------------------ the figures
    def dtype(self, col: str) -> str:
        """str(reference[col].dtype)."""
        return str(self._get(col, "dtype"))

    def n_null(self, col: str) -> int:
        return int(self._get(col, "n_null"))

    def finite_range(self, col: str) -> Optional[tuple[float, float, int]]:
        """(min, max, count) of the finite values read as numbers, or None without any."""
        r = self._get(col, "range")
        return None if r is None else (float(r[0]), float(r[1]), int(r[2]))

    def categories(self, col: str) -> tuple[pd.Index, int, int]:
        """(the distinct non-null values, how many occur once, how many non-null values)."""
        return self._get(col, "categories")

    def figure(self, name: str, compute: Callable[[], Any], valid: Callable[[Any], bool] = lambda v: True) -> Any:
        """A figure of the whole reference, `compute()` once per snapshot: `name` says everything it
        depends on besides the snapshot (its columns, the threshold...). Its value must survive JSON
        exactly (ints, finite floats, text, lists of them, None); a cached value `valid` rejects is
        worked out again. An error is not cached: the check asking fails as it did."""
        if name in self._figures and valid(self._figures[name]):
            return self._figures[name]
        value = compute()
        self._figures[name] = value
        self.changed = True
        return value

    # ------------------------------------------------------------------ computing
    def _get(self, col: str, what: str) -> Any:
        entry = self._cols.get(col)
        if entry is None or what not in entry:
            if (col, what) not in self._errors:
                self._compute(col, what)
        if (col, what) in self._errors:
            raise self._errors[(col, what)]
        return self._cols[col][what]

    def _compute(self, col: str, what: str) -> None:
        """Read the column once and work out every figure not known yet (the one asked, and those
        of the same column a check will ask for next: nulls with the dtype, range or categories)."""
        s = self._ref.peek(col) if hasattr(self._ref, "peek") else self._ref[col]
        entry = self._cols.setdefault(col, {})
        kind = self._kinds.get(col)
        wanted = {what, "dtype", "n_null"} | ({"range"} if kind == "numerical" else {"categories"} if kind == "categorical" else set())
        for name in wanted - set(entry):
            try:
                entry[name] = _FIGURES[name](s)
            except Exception as exc:  # noqa: BLE001 - raised again where a check asks for it
                self._errors[(col, name)] = exc.with_traceback(None)  # its frames would keep the column alive
        self.changed = True

    # ------------------------------------------------------------------ the cache
    def to_json(self) -> bytes:
        """The figures that round-trip exactly through JSON (others are summed up again next time)."""
        out: dict[str, dict[str, Any]] = {}
        for col, entry in self._cols.items():
            keep: dict[str, Any] = {k: entry[k] for k in ("dtype", "n_null", "range") if k in entry}
            cats = entry.get("categories")
            if cats is not None and _cacheable(cats[0]):
                keep["categories"] = {"dtype": str(cats[0].dtype), "values": cats[0].tolist(),
                                      "singletons": cats[1], "total": cats[2]}
            out[col] = keep
        figures = {k: v for k, v in self._figures.items() if _json_exact(v)}
        doc = {"format": FORMAT, "version": VERSION, "rows": self._n, "columns": out, "figures": figures}
        return json.dumps(doc, allow_nan=False, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, reference: Any, raw: bytes, kinds: Optional[dict[str, str]] = None) -> ReferenceStats:
        """The cached figures, trusted only when they are this format's and of a reference this long."""
        doc = json.loads(raw)
        if doc.get("format") != FORMAT or doc.get("version") != VERSION or doc.get("rows") != len(reference):
            raise ValueError("not a reference summary of this version and length")
        columns = doc["columns"]
        if not isinstance(columns, dict) or not all(_valid(e, len(reference)) for e in columns.values()):
            raise ValueError("a reference summary with figures of the wrong shape")
        figures = doc.get("figures", {})
        if not isinstance(figures, dict):
            raise ValueError("a reference summary with figures of the wrong shape")
        for entry in columns.values():
            c = entry.get("categories")
            if c is not None:  # the values as the Index value_counts gave (raises on values not of its dtype)
                entry["categories"] = (pd.Index(c["values"], dtype=c["dtype"]), c["singletons"], c["total"])
        return cls(reference, columns, kinds, figures)


def counts_up_to(n: int, size: int = 1) -> Callable[[Any], bool]:
    """A `figure` validator: `size` whole numbers in [0, n] (one number when `size` is 1)."""
    def whole(v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= n

    return lambda v: whole(v) if size == 1 else isinstance(v, list) and len(v) == size and all(whole(x) for x in v)


def _json_exact(v: Any) -> bool:
    """The value comes back from JSON as it is: None, bool, int, str, finite float, or lists/dicts of them."""
    if v is None or isinstance(v, (bool, int, str)):
        return True
    if isinstance(v, float):
        return bool(np.isfinite(v))
    if isinstance(v, list):
        return all(_json_exact(x) for x in v)
    if isinstance(v, dict):
        return all(isinstance(k, str) and _json_exact(x) for k, x in v.items())
    return False


def _valid(entry: Any, n: int) -> bool:
    """A cached column's figures have the shapes the checks read (a damaged cache is not trusted)."""
    def whole(v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= n

    def number(v: Any) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool)

    if not isinstance(entry, dict) or set(entry) - {"dtype", "n_null", "range", "categories"}:
        return False
    r, c = entry.get("range"), entry.get("categories")
    return all((
        isinstance(entry.get("dtype", ""), str),
        whole(entry.get("n_null", 0)),
        r is None or (isinstance(r, list) and len(r) == 3 and number(r[0]) and number(r[1]) and whole(r[2])),
        c is None or (isinstance(c, dict) and c.get("dtype") in _INDEX_DTYPES and isinstance(c.get("values"), list)
                      and whole(c.get("singletons")) and whole(c.get("total"))),
    ))


def _range(s: pd.Series) -> Optional[list]:
    rv = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    rv = rv[np.isfinite(rv)]
    return [float(rv.min()), float(rv.max()), int(len(rv))] if len(rv) else None


def _categories(s: pd.Series) -> tuple[pd.Index, int, int]:
    counts = s.dropna().value_counts()
    return counts.index, int((counts == 1).sum()), int(counts.sum())


def _cacheable(index: pd.Index) -> bool:
    if len(index) > CACHED_CATEGORIES or str(index.dtype) not in _INDEX_DTYPES:
        return False
    if str(index.dtype) == "object":  # only plain text survives JSON as it was
        return pd.api.types.infer_dtype(index, skipna=False) == "string"
    if str(index.dtype) == "float64":
        return bool(np.isfinite(index.to_numpy()).all())
    return True


_FIGURES = {
    "dtype": lambda s: str(s.dtype),
    "n_null": lambda s: int(s.isna().sum()),
    "range": _range,
    "categories": _categories,
}
