"""The reference profile: learned once per training snapshot, cached as bytes, read without copying.

    fit_profile(reference, columns, config) -> ReferenceProfile
    ReferenceProfile.to_bytes() / ReferenceProfile.from_bytes(buffer)

Per column: sorted finite values (float64) for numeric columns, or (value, count) runs
when there are few distinct values; category counts for categorical ones; null/inf
counts; the standard deviation Evidently norms Wasserstein by; bin edges. For the
domain classifier, a fixed sample of reference rows encoded as one float matrix.

The serialised form is one buffer: a magic string, a JSON header, then every array
at a 64-byte aligned offset. `from_bytes` makes read-only numpy views into the buffer
it is given (bytes, memoryview or mmap): loading is O(header), not O(profile). From a
memory-mapped file a column's pages are read when its test reads them, and
`ReferenceProfile.release(column)` gives them back after it (the cached profile of a
million-row reference is 160 MB, of which a column test needs its own 8).
No pickle anywhere.
"""

from __future__ import annotations

import hashlib
import json
import mmap
import struct
from dataclasses import dataclass, field
from typing import Any, Optional, Union

import numpy as np
import pandas as pd

from monitor.config import DriftConfig
from monitor.errors import DataError
from monitor.stages.drift.columns import canonical, category_counts, numeric, quantile_edges, runs

__all__ = ["ColumnProfile", "ReferenceProfile", "MappedPages", "fit_profile", "profile_cache_key", "KINDS"]

PROFILE_FORMAT = "monitor.drift.profile"
PROFILE_VERSION = 3
MAGIC = b"MDPROF\x00\x03"
ALIGN = 64
KINDS = ("numerical", "categorical")
CHART_BINS = 20  # bins / categories kept for the report's chart
STORE_RUNS_UP_TO = 1000  # distinct reference values kept as (value, count) in the profile
CATEGORY_CODES = 254  # domain classifier: categories beyond the 254 most frequent share one code

Buffer = Union[bytes, bytearray, memoryview]


@dataclass(frozen=True, eq=False)
class ColumnProfile:
    """What the reference holds about one column: enough to run every method without it."""

    name: str
    kind: str  # "numerical" | "categorical"
    n_rows: int
    n_null: int  # NaN / None (and, for numeric columns, text that is not a number)
    n_inf: int
    n_unparsed: int  # non-null text values that pd.to_numeric could not read (counted in n_null too)
    from_text: bool  # numeric column stored as text in the reference: coerced
    integer: bool  # numeric values of an integer dtype (numpy bins integers differently)
    mixed: bool = False  # numeric: an object column of mixed Python number types, read as float64
    values: Optional[np.ndarray] = None  # numeric: sorted finite float64 (None when kept as runs)
    std: Optional[float] = None  # numeric: np.std of the finite values (Evidently's Wasserstein norm)
    n_unique: int = 0  # distinct non-null values (finite, for numeric)
    # numeric with <= STORE_RUNS_UP_TO distinct values: the exact sorted sample as (value, count) runs
    run_values: Optional[np.ndarray] = None
    run_counts: Optional[np.ndarray] = None
    categories: tuple = ()  # categorical: canonical keys (str), most frequent first
    counts: Optional[np.ndarray] = None  # categorical: count per category
    chart_edges: Optional[np.ndarray] = None  # numeric: <= CHART_BINS+1 reference-quantile edges
    psi_edges: Optional[np.ndarray] = None  # numeric: config.psi_bins reference-quantile edges

    @property
    def n_valid(self) -> int:
        if self.kind == "numerical":
            if self.values is not None:
                return int(self.values.size)
            return 0 if self.run_counts is None else int(self.run_counts.sum())
        return 0 if self.counts is None else int(self.counts.sum())

    def runs(self) -> tuple[np.ndarray, np.ndarray]:
        """Distinct reference values and their counts (numeric)."""
        if self.run_values is not None and self.run_counts is not None:
            return self.run_values, self.run_counts
        return runs(self.sorted_values())

    def sorted_values(self) -> np.ndarray:
        """The sorted finite reference sample (numeric), expanded from its runs when stored as runs."""
        if self.values is not None:
            return self.values
        if self.run_values is None or self.run_counts is None:
            return np.zeros(0, dtype=np.float64)
        return np.repeat(self.run_values, self.run_counts)

    def encode(self, s: pd.Series) -> np.ndarray:
        """The column as the domain classifier reads it: float values, or category codes; NaN = missing."""
        if self.kind == "numerical":
            x = pd.to_numeric(s, errors="coerce") if not pd.api.types.is_numeric_dtype(s.dtype) else s
            out = np.asarray(x.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64).copy()
            out[~np.isfinite(out)] = np.nan
            return out
        index = {k: min(i, CATEGORY_CODES) for i, k in enumerate(self.categories)}
        keys = [canonical(v) for v in s.tolist()]
        return np.array([np.nan if k is None else index.get(k, CATEGORY_CODES) for k in keys], dtype=np.float64)


_ARRAYS = ("values", "run_values", "run_counts", "counts", "chart_edges", "psi_edges")
_SCALARS = ("name", "kind", "n_rows", "n_null", "n_inf", "n_unparsed", "from_text", "integer", "mixed", "std", "n_unique")


@dataclass(frozen=True, eq=False)
class ReferenceProfile:
    """The fitted reference: one ColumnProfile per column, and a row sample for the domain classifier."""

    columns: dict[str, ColumnProfile]
    n_rows: int
    psi_bins: int
    sample: Optional[np.ndarray] = None  # rows x len(sample_columns), encoded by ColumnProfile.encode
    sample_columns: tuple[str, ...] = ()
    pages: Optional[MappedPages] = field(default=None, repr=False)  # the file mapping the arrays are views into

    @property
    def mapped(self) -> bool:
        """Whether the arrays are views into a memory-mapped file (loaded from a local cache)."""
        return self.pages is not None

    def release(self, column: str) -> None:
        """Give back the memory of `column`'s reference arrays when they are mapped from a file; they stay
        valid (a later read pages them in again). Nothing to do for a fitted or in-memory profile."""
        cp = self.columns.get(column)
        if self.pages is None or cp is None:
            return
        for a in _ARRAYS:
            arr = getattr(cp, a)
            if arr is not None:
                self.pages.release(arr)

    def to_bytes(self) -> bytes:
        arrays: list[tuple[str, np.ndarray]] = []
        entries = []
        for i, cp in enumerate(self.columns.values()):
            entry: dict[str, Any] = {k: getattr(cp, k) for k in _SCALARS}
            entry["categories"] = list(cp.categories)
            entry["arrays"] = {}
            for a in _ARRAYS:
                arr = getattr(cp, a)
                if arr is not None:
                    entry["arrays"][a] = f"c{i}_{a}"
                    arrays.append((f"c{i}_{a}", np.ascontiguousarray(arr)))
            entries.append(entry)
        if self.sample is not None:
            arrays.append(("sample", np.ascontiguousarray(self.sample, dtype=np.float64)))
        return _pack(
            {"format": PROFILE_FORMAT, "version": PROFILE_VERSION, "n_rows": self.n_rows, "psi_bins": self.psi_bins,
             "columns": entries, "sample_columns": list(self.sample_columns)},
            arrays,
        )

    @classmethod
    def from_bytes(cls, buffer: Buffer) -> ReferenceProfile:
        """Read a profile; its arrays are read-only views into `buffer` (keep it alive, don't modify it)."""
        try:
            header, arrays = _unpack(buffer)
            cols = {}
            for entry in header["columns"]:
                kw = {k: entry[k] for k in _SCALARS}
                kw["categories"] = tuple(entry["categories"])
                for a, key in entry["arrays"].items():
                    kw[a] = arrays[key]
                cols[entry["name"]] = ColumnProfile(**kw)
            return cls(columns=cols, n_rows=int(header["n_rows"]), psi_bins=int(header["psi_bins"]),
                       sample=arrays.get("sample"), sample_columns=tuple(header.get("sample_columns", ())),
                       pages=MappedPages(buffer) if isinstance(buffer, mmap.mmap) else None)
        except DataError:
            raise
        except Exception as exc:  # json/key/size errors: a corrupt or foreign object
            raise DataError(f"cannot read the drift profile ({exc}): delete the cached profile so it is fitted again") from exc


class MappedPages:
    """The read-only file mapping a loaded profile's arrays are views into.

    `release(array)` drops the array's pages from this process (madvise MADV_DONTNEED). The mapping is
    read-only, so no page was ever modified: one touched again is read again from the file, which is
    never rewritten in place (the cache is replaced by a rename). Pages at an array's edges may hold
    the neighbour's first or last bytes; dropping them is just as harmless."""

    def __init__(self, mapping: mmap.mmap) -> None:
        self._map = mapping
        self._base = np.frombuffer(mapping, dtype=np.uint8).__array_interface__["data"][0] if len(mapping) else 0

    def release(self, arr: np.ndarray) -> None:
        start = int(arr.__array_interface__["data"][0]) - self._base
        end = min(start + arr.nbytes, len(self._map))
        start -= start % mmap.PAGESIZE
        if 0 <= start < end and not self._map.closed:
            self._map.madvise(mmap.MADV_DONTNEED, start, end - start)


def _pack(header: dict, arrays: list[tuple[str, np.ndarray]]) -> bytes:
    offset = 0
    layout: list[dict[str, Any]] = []
    for key, arr in arrays:
        layout.append({"key": key, "dtype": arr.dtype.str, "shape": list(arr.shape), "offset": offset})
        offset += -(-arr.nbytes // ALIGN) * ALIGN
    blob = json.dumps({**header, "layout": layout}).encode("utf-8")
    start = -(-(len(MAGIC) + 8 + len(blob)) // ALIGN) * ALIGN
    out = bytearray(start + offset)
    out[: len(MAGIC)] = MAGIC
    out[len(MAGIC): len(MAGIC) + 8] = struct.pack("<Q", len(blob))
    out[len(MAGIC) + 8: len(MAGIC) + 8 + len(blob)] = blob
    for (_, arr), spec in zip(arrays, layout):
        o = start + spec["offset"]
        out[o: o + arr.nbytes] = arr.tobytes()
    return bytes(out)


def _unpack(buffer: Buffer) -> tuple[dict, dict[str, np.ndarray]]:
    mv = memoryview(buffer).cast("B")
    if bytes(mv[: len(MAGIC)]) != MAGIC:
        raise DataError(
            f"not a drift profile of version {PROFILE_VERSION}: delete the cached profile so it is fitted again"
        )
    (size,) = struct.unpack("<Q", mv[len(MAGIC): len(MAGIC) + 8])
    header = json.loads(bytes(mv[len(MAGIC) + 8: len(MAGIC) + 8 + size]).decode("utf-8"))
    if header.get("format") != PROFILE_FORMAT or header.get("version") != PROFILE_VERSION:
        raise DataError(f"not a drift profile of version {PROFILE_VERSION}: delete the cached profile so it is fitted again")
    start = -(-(len(MAGIC) + 8 + size) // ALIGN) * ALIGN
    arrays = {}
    for spec in header["layout"]:
        dtype = np.dtype(spec["dtype"])
        count = int(np.prod(spec["shape"], dtype=np.int64))
        a = np.frombuffer(mv, dtype=dtype, count=count, offset=start + int(spec["offset"]))
        a.flags.writeable = False
        arrays[spec["key"]] = a.reshape(spec["shape"])
    return header, arrays


def profile_cache_key(reference_identity: str, columns: dict[str, str], config: DriftConfig) -> str:
    """Short hex key for a cached profile: snapshot identity + everything that shapes the profile."""
    mv = config.multivariate
    blob = json.dumps(
        {
            "format": PROFILE_FORMAT,
            "version": PROFILE_VERSION,
            "category_keys": "cut-200",  # long category values are keyed by their cut (textcut.cut), not whole
            "reference": str(reference_identity),
            "columns": sorted((str(k), str(v)) for k, v in columns.items()),
            "psi_bins": config.psi_bins,
            "sample": [mv.enabled, mv.max_rows, mv.seed],
        },
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:20]


def fit_profile(reference: pd.DataFrame, columns: dict[str, str], config: DriftConfig, *,
                held_out: Optional[pd.DataFrame] = None, held_out_columns: tuple[str, ...] = ()) -> ReferenceProfile:
    """Learn the reference profile, one column at a time. Columns missing from `reference` raise DataError.

    `held_out_columns` (the model's outputs) are profiled from `held_out` (the baseline: scores the
    model gave to rows it was not fitted on) instead: a training snapshot's own scores are in-sample,
    more confident than any production day (a random forest's drift by a normed Wasserstein of 0.17
    on healthy days). The domain classifier's row sample then comes from `held_out` when it has
    every column, else from the reference without those columns."""
    from monitor.stages.drift.methods import validate_method_names

    validate_method_names(config)
    if held_out is None:
        held_out_columns = ()
    source = {c: held_out if c in held_out_columns and held_out is not None else reference for c in columns}
    missing = [c for c in columns if c not in source[c].columns]
    if missing:
        raise DataError(
            f"drift: column(s) {missing} are not in the reference data (columns: {list(reference.columns)[:12]}); "
            "fix features/model in the monitor config"
        )
    bad = {c: k for c, k in columns.items() if k not in KINDS}
    if bad:
        raise DataError(f"drift: column kind must be one of {KINDS}, got {bad}")
    profiles = {c: _fit_column(c, k, source[c][c], config) for c, k in columns.items()}
    sample, sample_columns = None, tuple(profiles)
    if config.multivariate.enabled and profiles:
        rows_from = reference
        if held_out_columns:
            assert held_out is not None
            if all(c in held_out.columns for c in profiles):
                rows_from = held_out
            else:
                sample_columns = tuple(c for c in profiles if c not in held_out_columns)
        rows = _sample_rows(len(rows_from), config.multivariate.max_rows, config.multivariate.seed)
        if sample_columns:
            sample = np.column_stack([profiles[c].encode(rows_from[c].iloc[rows]) for c in sample_columns])
    return ReferenceProfile(columns=profiles, n_rows=int(len(reference)), psi_bins=config.psi_bins,
                            sample=sample, sample_columns=sample_columns if sample is not None else ())


def _sample_rows(n: int, k: int, seed: int) -> np.ndarray:
    if n <= k:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, k, replace=False))


def _fit_column(name: str, kind: str, s: pd.Series, config: DriftConfig) -> ColumnProfile:
    if kind == "numerical":
        num = numeric(s)
        values = num.values
        values.sort()
        std = float(np.std(values)) if values.size else None
        rv, rc = runs(values)
        keep_runs = rv.size <= STORE_RUNS_UP_TO
        # few distinct values: the runs are the exact sample, at a fraction of its size
        as_runs = keep_runs and 2 * rv.size < values.size
        return ColumnProfile(
            name=name, kind=kind, n_rows=int(len(s)), n_null=num.n_null, n_inf=num.n_inf, n_unparsed=num.n_unparsed,
            from_text=num.from_text, integer=num.integer, mixed=num.mixed,
            values=None if as_runs else values, std=std, n_unique=int(rv.size),
            run_values=rv if keep_runs else None, run_counts=rc if keep_runs else None,
            chart_edges=quantile_edges(values, CHART_BINS), psi_edges=quantile_edges(values, config.psi_bins),
        )
    cats, counts, n_null = category_counts(s)
    order = np.argsort(-counts, kind="stable")
    return ColumnProfile(
        name=name, kind=kind, n_rows=int(len(s)), n_null=n_null, n_inf=0, n_unparsed=0, from_text=False, integer=False,
        n_unique=len(cats), categories=tuple(cats[i] for i in order), counts=counts[order].astype(np.int64),
    )
