"""Drift: exact two-sample statistics at the cost of a sort, Evidently-compatible.

    fit_profile(reference, columns, config) -> ReferenceProfile      once per training snapshot
    detect_drift(profile, current, config, roles) -> DriftResult     every night, current window only

The reference side is learned once: sorted finite values (float64) for numeric
columns, category counts for categorical ones, null/inf counts, the standard
deviation Evidently norms Wasserstein by, bin edges. The nightly run sorts the
current column (the only O(n log n) step) and merges it with the cached sorted
reference in linear time; KS, normed Wasserstein, Cramer-von Mises and
Anderson-Darling all read the same merged CDFs. The numbers equal scipy's and
Evidently 0.7's (tests compare them to 1e-9): same formulas, same bins, same
treatment of NaN and inf (dropped, and counted here).

Method choice `auto` mirrors Evidently's default stattest
(`evidently.legacy.calculations.stattests.registry._get_default_stattest`):
reference <= 1000 rows: numeric -> ks (chisquare / z when <= 5 values),
categorical -> chisquare (z when binary); larger references: numeric ->
normed wasserstein (jensenshannon when <= 5 values), categorical ->
jensenshannon. "Values" counts the distinct non-null values of reference and
current together, as Evidently does.

Verdicts. Distance methods (wasserstein, psi, jensenshannon, hellinger): the
statistic is the effect size and the column drifts when it is >= the threshold
(default 0.1), as in Evidently. P-value methods (ks, chisquare, z,
cramer_von_mises, anderson): p-values of the features are adjusted together
with Benjamini-Hochberg, and a feature drifts only when the adjusted p is below
the threshold (default `config.fdr`) AND its effect size reaches
`config.min_effect` (default 0.05): the KS distance D for numeric tests, the
total variation distance between the value shares for count tests. At large n a
p-value alone flags differences too small to matter; the floor keeps alerts
rare and true. `drifted_evidently` in each column's dict is Evidently's own
verdict (raw p against the threshold) for comparison.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np
import pandas as pd

from monitor.alerts import Alert
from monitor.config import DriftConfig
from monitor.errors import ConfigError, DataError, MonitorError, UnknownMethodError

__all__ = [
    "METHODS",
    "Method",
    "ColumnProfile",
    "ReferenceProfile",
    "DriftResult",
    "fit_profile",
    "detect_drift",
    "profile_cache_key",
    "get_method",
    "benjamini_hochberg",
    "wasserstein_sorted",
    "ks_sorted",
]

PROFILE_FORMAT = "monitor.drift.profile"
PROFILE_VERSION = 2
KINDS = ("numerical", "categorical")
ROLES = ("feature", "prediction", "target")
CHART_BINS = 20  # bins / categories kept for the report's chart
SMALL_REFERENCE = 1000  # Evidently: p-value tests up to this many reference rows
FEW_VALUES = 5  # Evidently: a numeric column with this many values is treated by its counts
HIST_BY_COUNTS = 20  # Evidently's get_binned_data: <= this many reference values -> counts, else Sturges bins
STORE_RUNS_UP_TO = 1000  # distinct reference values kept as (value, count) in the profile
KS_EXACT_UP_TO = 10000  # scipy ks_2samp(method="auto"): exact p-value when both samples are this small
CVM_EXACT_UP_TO = 20  # scipy/Evidently cramer-von mises: exact p-value up to this many rows per sample


# --------------------------------------------------------------------------- profile


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
        if self.run_values is not None:
            return self.run_values, self.run_counts
        return _runs(self.values)

    def sorted_values(self) -> np.ndarray:
        """The sorted finite reference sample (numeric), expanded from its runs when stored as runs."""
        if self.values is not None:
            return self.values
        if self.run_values is None:
            return np.zeros(0, dtype=np.float64)
        return np.repeat(self.run_values, self.run_counts)


_ARRAYS = ("values", "run_values", "run_counts", "counts", "chart_edges", "psi_edges")
_SCALARS = ("name", "kind", "n_rows", "n_null", "n_inf", "n_unparsed", "from_text", "integer", "mixed", "std", "n_unique")


@dataclass(frozen=True, eq=False)
class ReferenceProfile:
    """The fitted reference: one ColumnProfile per column. Serialises without pickle."""

    columns: dict[str, ColumnProfile]
    n_rows: int
    psi_bins: int

    def to_bytes(self) -> bytes:
        """An .npz archive: one array per numeric field, plus a JSON header (no pickle)."""
        header: dict[str, Any] = {
            "format": PROFILE_FORMAT,
            "version": PROFILE_VERSION,
            "n_rows": self.n_rows,
            "psi_bins": self.psi_bins,
            "columns": [],
        }
        arrays: dict[str, np.ndarray] = {}
        for i, cp in enumerate(self.columns.values()):
            entry: dict[str, Any] = {k: getattr(cp, k) for k in _SCALARS}
            entry["categories"] = list(cp.categories)
            entry["arrays"] = {}
            for a in _ARRAYS:
                arr = getattr(cp, a)
                if arr is not None:
                    key = f"c{i}_{a}"
                    arrays[key] = np.ascontiguousarray(arr)
                    entry["arrays"][a] = key
            header["columns"].append(entry)
        arrays["header"] = np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8)
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, b: bytes) -> ReferenceProfile:
        try:
            with np.load(io.BytesIO(b), allow_pickle=False) as npz:
                header = json.loads(bytes(npz["header"]).decode("utf-8"))
                if header.get("format") != PROFILE_FORMAT or header.get("version") != PROFILE_VERSION:
                    raise DataError(
                        f"not a drift profile of version {PROFILE_VERSION} (got {header.get('format')!r} "
                        f"v{header.get('version')}): delete the cached profile so it is fitted again"
                    )
                cols = {}
                for entry in header["columns"]:
                    kw = {k: entry[k] for k in _SCALARS}
                    kw["categories"] = tuple(entry["categories"])
                    for a, key in entry["arrays"].items():
                        kw[a] = npz[key]
                    cols[entry["name"]] = ColumnProfile(**kw)
        except DataError:
            raise
        except Exception as exc:  # zipfile/json/key errors: a corrupt or foreign object
            raise DataError(f"cannot read the drift profile ({exc}): delete the cached profile so it is fitted again") from exc
        return cls(columns=cols, n_rows=int(header["n_rows"]), psi_bins=int(header["psi_bins"]))


def profile_cache_key(reference_identity: str, columns: dict[str, str], config: DriftConfig) -> str:
    """Short hex key for a cached profile: snapshot identity + everything that shapes the profile."""
    blob = json.dumps(
        {
            "format": PROFILE_FORMAT,
            "version": PROFILE_VERSION,
            "reference": str(reference_identity),
            "columns": sorted((str(k), str(v)) for k, v in columns.items()),
            "psi_bins": config.psi_bins,
        },
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:20]


def fit_profile(reference: pd.DataFrame, columns: dict[str, str], config: DriftConfig) -> ReferenceProfile:
    """Learn the reference profile, one column at a time. Columns missing from `reference` raise DataError."""
    _validate_config(config)
    missing = [c for c in columns if c not in reference.columns]
    if missing:
        raise DataError(
            f"drift: column(s) {missing} are not in the reference data (columns: {list(reference.columns)[:12]}); "
            "fix features/model in the monitor config"
        )
    bad = {c: k for c, k in columns.items() if k not in KINDS}
    if bad:
        raise DataError(f"drift: column kind must be one of {KINDS}, got {bad}")
    profiles = {c: _fit_column(c, k, reference[c], config) for c, k in columns.items()}
    return ReferenceProfile(columns=profiles, n_rows=int(len(reference)), psi_bins=config.psi_bins)


def _fit_column(name: str, kind: str, s: pd.Series, config: DriftConfig) -> ColumnProfile:
    if kind == "numerical":
        num = _numeric(s)
        values = num.values
        values.sort()
        std = float(np.std(values)) if values.size else None
        rv, rc = _runs(values)
        keep_runs = rv.size <= STORE_RUNS_UP_TO
        # few distinct values: the runs are the exact sample, at a fraction of its size
        as_runs = keep_runs and 2 * rv.size < values.size
        return ColumnProfile(
            name=name,
            kind=kind,
            n_rows=int(len(s)),
            n_null=num.n_null,
            n_inf=num.n_inf,
            n_unparsed=num.n_unparsed,
            from_text=num.from_text,
            integer=num.integer,
            mixed=num.mixed,
            values=None if as_runs else values,
            std=std,
            n_unique=int(rv.size),
            run_values=rv if keep_runs else None,
            run_counts=rc if keep_runs else None,
            chart_edges=_quantile_edges(values, CHART_BINS),
            psi_edges=_quantile_edges(values, config.psi_bins),
        )
    cats, counts, n_null = _category_counts(s)
    order = np.argsort(-counts, kind="stable")
    return ColumnProfile(
        name=name,
        kind=kind,
        n_rows=int(len(s)),
        n_null=n_null,
        n_inf=0,
        n_unparsed=0,
        from_text=False,
        integer=False,
        n_unique=len(cats),
        categories=tuple(cats[i] for i in order),
        counts=counts[order].astype(np.int64),
    )


# --------------------------------------------------------------------------- column preparation


@dataclass
class _Numeric:
    values: np.ndarray  # finite float64 (unsorted until sorted by the caller)
    n_null: int
    n_inf: int
    n_unparsed: int
    from_text: bool
    integer: bool
    mixed: bool = False  # an object column of numbers (e.g. ints and floats mixed)


def _numeric(s: pd.Series) -> _Numeric:
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
    x = s.to_numpy(dtype=np.float64, na_value=np.nan, copy=True)
    finite = np.isfinite(x)
    n_finite = int(np.count_nonzero(finite))
    n_nan = n_inf = 0
    if n_finite < x.size:
        n_nan = int(np.count_nonzero(np.isnan(x)))
        n_inf = int(x.size - n_nan - n_finite)
        x = x[finite]
    return _Numeric(x, n_nan, n_inf, n_unparsed, from_text, integer, mixed)


def _all_numbers(s: pd.Series) -> bool:
    if len(s) == 0:
        return True
    sample = s.iloc[:1000]
    return all(isinstance(v, (int, float, np.integer, np.floating, bool, np.bool_)) for v in sample)


def _canonical(v: Any) -> Optional[str]:
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
    return str(v)


def _category_counts(s: pd.Series) -> tuple[list[str], np.ndarray, int]:
    vc = s.value_counts(dropna=True, sort=False)
    merged: dict[str, int] = {}
    for v, n in zip(vc.index.tolist(), vc.to_numpy().tolist()):
        k = _canonical(v)
        if k is not None and n > 0:  # a pandas Categorical lists unused categories with count 0
            merged[k] = merged.get(k, 0) + int(n)
    n_valid = sum(merged.values())
    return list(merged), np.fromiter(merged.values(), dtype=np.int64, count=len(merged)), int(len(s) - n_valid)


def _runs(sorted_values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values of a sorted array and how often each occurs (linear time)."""
    x = sorted_values
    if x.size == 0:
        return x[:0].copy(), np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.concatenate(([True], x[1:] != x[:-1])))
    counts = np.diff(np.append(starts, x.size)).astype(np.int64)
    return x[starts].copy(), counts


def _quantile_edges(sorted_values: np.ndarray, bins: int) -> Optional[np.ndarray]:
    if sorted_values.size == 0:
        return None
    q = np.quantile(sorted_values, np.linspace(0, 1, bins + 1))
    return np.unique(q)


# --------------------------------------------------------------------------- the current column, as methods see it


class _Pair:
    """Reference profile + current values of one column; merged views computed once, on demand."""

    def __init__(self, ref: ColumnProfile, cur_values: Optional[np.ndarray] = None,
                 cur_keys: Optional[list] = None, cur_counts: Optional[np.ndarray] = None,
                 cur_integer: bool = False):
        self.ref = ref
        self.kind = ref.kind
        self.x = ref.sorted_values() if ref.kind == "numerical" else None  # sorted reference
        self.y = cur_values  # sorted current (numeric)
        self.cur_keys = cur_keys
        self.cur_counts = cur_counts
        self.integer = ref.integer and cur_integer
        self._merge = None
        self._counts = None

    @property
    def n_ref(self) -> int:
        return self.ref.n_valid

    @property
    def n_cur(self) -> int:
        if self.kind == "numerical":
            return int(self.y.size)
        return int(self.cur_counts.sum())

    def merged(self):
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

    def counts(self):
        """(keys, ref_counts, cur_counts) over the union of distinct non-null values, reference keys first."""
        if self._counts is None:
            if self.kind == "categorical":
                ref_idx = {k: i for i, k in enumerate(self.ref.categories)}
                keys = list(self.ref.categories)
                rc = list(self.ref.counts.tolist())
                cc = [0] * len(keys)
                for k, n in zip(self.cur_keys, self.cur_counts.tolist()):
                    i = ref_idx.get(k)
                    if i is None:
                        keys.append(k)
                        rc.append(0)
                        cc.append(n)
                    else:
                        cc[i] += n
                self._counts = (keys, np.asarray(rc, dtype=np.int64), np.asarray(cc, dtype=np.int64))
            else:
                rv, rcnt = self.ref.runs()
                cv, ccnt = _runs(self.y)
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


# --------------------------------------------------------------------------- methods


@dataclass(frozen=True)
class Method:
    """A drift method: `func(pair) -> (statistic, p_value | None, effect_size)`."""

    name: str
    display: str
    kind: str  # "p_value" | "distance"
    default_threshold: Optional[float]  # None: config.fdr
    column_kinds: tuple
    func: Callable[[_Pair], tuple]


def ks_sorted(x: np.ndarray, y: np.ndarray, block: int = 1 << 13) -> float:
    """Two-sided KS statistic D of two sorted samples, bit-equal to scipy's (asymptotic-mode) value.

    F - G peaks just before a current value (x counts `left`) and G - F at a current value
    (x counts `right`), so two searches of the current values in the reference suffice; they
    run in cache-sized blocks of current values against the matching slice of the reference.
    Each candidate is a/n1 - b/n2 with scipy's integer counts, so D is the same float.
    """
    n1, n2 = x.size, y.size
    d_plus, d_minus = 0.0, -1.0  # max(F - G) over the data (>= 0: both reach 1), max(G - F)
    for lo in range(0, n2, block):
        hi = min(lo + block, n2)
        yb = y[lo:hi]
        a = int(np.searchsorted(x, yb[0], "left"))
        xs = x[a:int(np.searchsorted(x, yb[-1], "right"))]
        f = np.searchsorted(xs, yb, "left")
        f += a
        v = f / n1
        v -= np.arange(lo, hi, dtype=np.float64) / n2
        d_plus = max(d_plus, float(v.max()))
        f = np.searchsorted(xs, yb, "right")
        f += a
        v = np.arange(lo + 1, hi + 1, dtype=np.float64) / n2
        v -= f / n1
        d_minus = max(d_minus, float(v.max()))
    d_minus = min(max(d_minus, 0.0), 1.0)
    return d_minus if d_minus > d_plus else d_plus


def _ks(p: _Pair):
    from scipy import stats

    n1, n2 = p.x.size, p.y.size
    if max(n1, n2) <= KS_EXACT_UP_TO:
        # exact distribution (and scipy's lattice-rounded D): scipy's own code on the small samples
        r = stats.ks_2samp(p.x, p.y)
        return float(r.statistic), float(r.pvalue), float(r.statistic)
    stat = ks_sorted(p.x, p.y)
    m, n = sorted([float(n1), float(n2)], reverse=True)
    en = m * n / (m + n)
    pv = float(np.clip(stats.kstwo.sf(stat, np.round(en)), 0, 1))
    return stat, pv, stat


def _ks_effect(p: _Pair) -> float:
    return ks_sorted(p.x, p.y)


def wasserstein_sorted(x: np.ndarray, y: np.ndarray, block: int = 1 << 13) -> float:
    """First Wasserstein distance between two sorted samples, in linear time, no search.

    W1 = integral over t in [0, 1] of |Qx(t) - Qy(t)|: the empirical quantile functions are
    step functions on the grids k/n1 and k/n2, so the merged grid (in units of 1/(n1*n2)) and
    the quantile index on each of its segments follow from integer arithmetic. Equal to
    scipy.stats.wasserstein_distance (which integrates |F - G| over the merged data) up to
    the order of the floating-point sum. Worked in cache-sized blocks: memory traffic is
    one read of each sample.
    """
    n1, n2 = int(x.size), int(y.size)
    total = 0.0
    # segments of the merged grid that end at k*n2 (k = 1..n1): x index k-1, y index (k*n2-1)//n1
    for lo in range(0, n1, block):
        hi = min(lo + block, n1)
        a = np.arange(lo * n2 + n2 - 1, hi * n2, n2, dtype=np.int64)  # k*n2 - 1
        iy, a = np.divmod(a, n1)
        a += 1
        np.minimum(a, n2, out=a)  # length back to the previous grid point (a multiple of n1 or of n2)
        d = y[iy]
        np.subtract(x[lo:hi], d, out=d)
        np.abs(d, out=d)
        total += float(d @ a.astype(np.float64))
    # segments that end at k*n1 (k = 1..n2) and not also at a multiple of n2 (counted above)
    for lo in range(0, n2, block):
        hi = min(lo + block, n2)
        b = np.arange(lo * n1 + n1 - 1, hi * n1, n1, dtype=np.int64)  # k*n1 - 1
        ix, b = np.divmod(b, n2)
        common = b == n2 - 1
        b += 1
        np.minimum(b, n1, out=b)
        length = b.astype(np.float64)
        length[common] = 0.0
        d = x[ix]
        np.subtract(d, y[lo:hi], out=d)
        np.abs(d, out=d)
        total += float(d @ length)
    return total / (float(n1) * float(n2))


def _wasserstein(p: _Pair):
    # Evidently: wasserstein_distance(ref, cur) / max(std(ref), 0.001)
    w = wasserstein_sorted(p.x, p.y)
    stat = w / max(float(p.ref.std), 0.001)
    return stat, None, stat


def _fill_zeroes(a: np.ndarray) -> np.ndarray:
    nz = a[a != 0]
    lo = nz.min()
    a = a.copy()
    np.place(a, a == 0, lo / 10**6 if lo <= 0.0001 else 0.0001)
    return a


def _sturges_edges(lo: float, hi: float, n: int, integer: bool) -> np.ndarray:
    """np.histogram_bin_edges(a, "sturges") from a's min, max and size."""
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    width = (hi - lo) / (np.log2(n) + 1.0)
    if width:
        if integer and width < 1:
            width = 1
        nbins = int(np.ceil((hi - lo) / width))
    else:
        nbins = 1
    return np.linspace(lo, hi, nbins + 1, endpoint=True)


def _hist_counts(sorted_values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """np.histogram counts (half-open bins, last one closed) from sorted data covering [edges[0], edges[-1]]."""
    idx = np.searchsorted(sorted_values, edges, side="left")
    idx[-1] = np.searchsorted(sorted_values, edges[-1], side="right")
    return np.diff(idx)


def _binned_shares(p: _Pair):
    """Evidently's get_binned_data: shares by value when the reference has <= 20 values, else Sturges bins."""
    if p.kind == "numerical" and p.ref.n_unique > HIST_BY_COUNTS:
        lo = min(p.x[0], p.y[0])
        hi = max(p.x[-1], p.y[-1])
        edges = _sturges_edges(float(lo), float(hi), p.x.size + p.y.size, p.integer)
        return _hist_counts(p.x, edges) / p.x.size, _hist_counts(p.y, edges) / p.y.size
    _, rc, cc = p.counts()
    return rc / p.n_ref, cc / p.n_cur


def _psi(p: _Pair):
    r, c = _binned_shares(p)
    r, c = _fill_zeroes(r), _fill_zeroes(c)
    stat = float(np.sum((r - c) * np.log(r / c)))
    return stat, None, stat


def _psi_quantile(p: _Pair):
    # Classic PSI: config.psi_bins bins at reference quantiles (fixed in the profile), open-ended
    # outer bins; categorical columns fall back to shares by category. Zero shares filled as in `psi`.
    if p.kind == "numerical":
        edges = p.ref.psi_edges.astype(np.float64).copy()
        if edges.size < 2:
            edges = np.array([edges[0], edges[0]])
        edges[0], edges[-1] = -np.inf, np.inf
        r = _hist_counts(p.x, edges) / p.x.size
        c = _hist_counts(p.y, edges) / p.y.size
    else:
        _, rc, cc = p.counts()
        r, c = rc / p.n_ref, cc / p.n_cur
    r, c = _fill_zeroes(r), _fill_zeroes(c)
    stat = float(np.sum((r - c) * np.log(r / c)))
    return stat, None, stat


def _jensenshannon(p: _Pair):
    # scipy.spatial.distance.jensenshannon(ref_shares, cur_shares), natural log, in numpy
    r, c = _binned_shares(p)
    r = r / r.sum()
    c = c / c.sum()
    m = (r + c) / 2.0
    js = float(np.sum(_rel_entr(r, m))) + float(np.sum(_rel_entr(c, m)))
    stat = math.sqrt(max(js / 2.0, 0.0))
    return stat, None, stat


def _rel_entr(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """scipy.special.rel_entr for x >= 0, y > 0 where x > 0: x*log(x/y), 0 at x == 0."""
    out = np.zeros_like(x)
    pos = x > 0
    out[pos] = x[pos] * np.log(x[pos] / y[pos])
    return out


def _tvd(p: _Pair) -> float:
    _, rc, cc = p.counts()
    return float(0.5 * np.abs(rc / p.n_ref - cc / p.n_cur).sum())


def _chisquare(p: _Pair):
    from scipy import stats

    _, rc, cc = p.counts()
    f_exp = rc * (p.n_cur / p.n_ref)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = stats.chisquare(cc.astype(np.float64), f_exp)
    return float(r.statistic), float(r.pvalue), _tvd(p)


def _z(p: _Pair):
    from scipy import stats

    keys, rc, cc = p.counts()
    if len(keys) == 1:
        return 0.0, 1.0, 0.0
    # Evidently: the first of the sorted keys against the rest
    first = int(np.argmin(keys)) if p.kind == "numerical" else keys.index(sorted(keys)[0])
    n1, n2 = p.n_ref, p.n_cur
    p1 = float(n1 - rc[first]) / n1
    p2 = float(n2 - cc[first]) / n2
    pooled = float(p1 * n1 + p2 * n2) / (n1 + n2)
    zs = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1.0 / n1 + 1.0 / n2))
    pv = float(2 * stats.norm.sf(abs(zs)))
    return float(zs), pv, _tvd(p)


def _hellinger(p: _Pair):
    if p.kind == "categorical":
        _, rc, cc = p.counts()
        s = float(np.sum(np.sqrt((rc / p.n_ref) * (cc / p.n_cur))))
    else:
        keys, _, _ = p.counts()
        edges = _sturges_edges(float(keys[0]), float(keys[-1]), keys.size, p.integer)
        h1 = _hist_counts(p.x, edges)
        h2 = _hist_counts(p.y, edges)
        db = np.diff(edges)
        h1 = h1 / db / h1.sum()
        h2 = h2 / db / h2.sum()
        width = (edges.max() - edges.min()) / (len(edges) - 1)
        s = float(np.sum(np.sqrt(h1 * h2) * width))
    stat = math.sqrt(1 - float(np.clip(s, 0, 1)))
    return stat, None, stat


def _cdf_cvm_inf(x: float) -> float:
    """CDF of the limiting Cramer-von Mises distribution (scipy.stats._hypotests._cdf_cvm_inf)."""
    from scipy.special import gammaln, kv

    tot, k = 0.0, 0
    while True:
        u = math.exp(gammaln(k + 0.5) - gammaln(k + 1)) / (math.pi**1.5 * math.sqrt(x))
        y = 4 * k + 1
        q = y**2 / (16 * x)
        term = u * math.sqrt(y) * math.exp(-q) * float(kv(0.25, q))
        tot += term
        if abs(term) < 1e-7:
            return tot
        k += 1


def _tie_runs(z: np.ndarray):
    """(starts, lengths) of runs of equal values in sorted z."""
    starts = np.flatnonzero(np.concatenate(([True], z[1:] != z[:-1])))
    return starts, np.diff(np.append(starts, z.size))


def _cramer_von_mises(p: _Pair):
    from scipy import stats

    nx, ny = p.x.size, p.y.size
    if nx < 2 or ny < 2:
        raise _Skip("Cramer-von Mises needs at least two values on each side")
    if max(nx, ny) <= CVM_EXACT_UP_TO:
        r = stats.cramervonmises_2samp(p.x, p.y, method="exact")
        return float(r.statistic), float(r.pvalue), _ks_effect(p)
    z, v, _, _ = p.merged()
    starts, lengths = _tie_runs(z)
    N = z.size
    avg = starts + (lengths + 1) / 2.0  # midrank of each run (1-based)
    rank = np.repeat(avg, lengths)
    # current values sit after the reference values of their tie run; ranks are per run, so any order works
    is_cur = np.diff(np.concatenate(([0], v))).astype(bool)
    rx, ry = rank[~is_cur], rank[is_cur]
    u = nx * np.sum((rx - np.arange(1, nx + 1, dtype=np.float64)) ** 2)
    u += ny * np.sum((ry - np.arange(1, ny + 1, dtype=np.float64)) ** 2)
    k = nx * ny
    t = u / (k * N) - (4 * k - 1) / (6 * N)
    et = (1 + 1 / N) / 6
    vt = (N + 1) * (4 * k * N - 3 * (nx**2 + ny**2) - 2 * k)
    vt = vt / (45 * N**2 * 4 * k)
    tn = 1 / 6 + (t - et) / math.sqrt(45 * vt)
    pv = 1.0 if tn < 0.003 else max(0.0, 1.0 - _cdf_cvm_inf(tn))
    return float(t), float(pv), _ks_effect(p)


def _anderson(p: _Pair):
    # scipy.stats.anderson_ksamp([ref, cur]) (midrank variant, interpolated p-value capped to
    # [0.001, 0.25]), computed from the merged sorted samples.
    z, v, n1, n2 = p.merged()
    N = z.size
    starts, lj = _tie_runs(z)
    if starts.size < 2:
        raise _Skip("Anderson-Darling needs more than one distinct value")
    ends = starts + lj - 1
    cur_le = v[ends]  # current values <= each distinct value
    cur_lt = cur_le - np.diff(np.concatenate(([0], cur_le)))
    ref_le = ends + 1 - cur_le
    ref_lt = starts - cur_lt
    lj = lj.astype(np.float64) if N != starts.size else 1.0
    Bj = starts + lj / 2.0
    a2 = 0.0
    for le, lt, n in ((ref_le, ref_lt, n1), (cur_le, cur_lt, n2)):
        Mij = le.astype(float)
        Mij -= (le - lt) / 2.0
        inner = lj / float(N) * (N * Mij - Bj * n) ** 2 / (Bj * (N - Bj) - N * lj / 4.0)
        a2 += inner.sum() / n
    a2 *= (N - 1.0) / N
    k = 2
    H = 1.0 / n1 + 1.0 / n2
    hs_cs = (1.0 / np.arange(N - 1, 1, -1)).cumsum()
    h = hs_cs[-1] + 1
    g = (hs_cs / np.arange(2, N)).sum()
    a = (4 * g - 6) * (k - 1) + (10 - 6 * g) * H
    b = (2 * g - 4) * k**2 + 8 * h * k + (2 * g - 14 * h - 4) * H - 8 * h + 4 * g - 6
    c = (6 * h + 2 * g - 2) * k**2 + (4 * h - 4 * g + 6) * k + (2 * h - 6) * H + 4 * h
    d = (2 * h + 6) * k**2 - 4 * h * k
    sigmasq = (a * N**3 + b * N**2 + c * N + d) / ((N - 1.0) * (N - 2.0) * (N - 3.0))
    m = k - 1
    A2 = (a2 - m) / math.sqrt(sigmasq)
    b0 = np.array([0.675, 1.281, 1.645, 1.96, 2.326, 2.573, 3.085])
    b1 = np.array([-0.245, 0.25, 0.678, 1.149, 1.822, 2.364, 3.615])
    b2 = np.array([-0.105, -0.305, -0.362, -0.391, -0.396, -0.345, -0.154])
    critical = b0 + b1 / math.sqrt(m) + b2 / m
    sig = np.array([0.25, 0.1, 0.05, 0.025, 0.01, 0.005, 0.001])
    if A2 < critical.min():
        pv = float(sig.max())
    elif A2 > critical.max():
        pv = float(sig.min())
    else:
        pf = np.polyfit(critical, np.log(sig), 2)
        pv = math.exp(np.polyval(pf, A2))
    return float(A2), pv, _ks_effect(p)


class _Skip(Exception):
    """A column the method cannot score; the message becomes the column's note."""


class _Registry(dict):
    def __missing__(self, key):
        raise UnknownMethodError(f"unknown drift method {key!r}; known methods: {', '.join(self)}")


_NUM, _CAT = ("numerical",), ("numerical", "categorical")
METHODS: dict[str, Method] = _Registry(
    (m.name, m)
    for m in (
        Method("ks", "K-S", "p_value", None, _NUM, _ks),
        Method("wasserstein", "normed Wasserstein", "distance", 0.1, _NUM, _wasserstein),
        Method("psi", "PSI", "distance", 0.1, _CAT, _psi),
        Method("psi_quantile", "PSI (reference-quantile bins)", "distance", 0.1, _CAT, _psi_quantile),
        Method("jensenshannon", "Jensen-Shannon", "distance", 0.1, _CAT, _jensenshannon),
        Method("chisquare", "chi-square", "p_value", None, _CAT, _chisquare),
        Method("z", "Z-test", "p_value", None, _CAT, _z),
        Method("hellinger", "Hellinger", "distance", 0.1, _CAT, _hellinger),
        Method("cramer_von_mises", "Cramer-von Mises", "p_value", None, _NUM, _cramer_von_mises),
        Method("anderson", "Anderson-Darling", "p_value", None, _NUM, _anderson),
    )
)


def get_method(name: str) -> Method:
    """The method registered under `name`; UnknownMethodError lists the known names."""
    return METHODS[name]


def _validate_config(config: DriftConfig) -> None:
    names = [("drift.method", config.method)] + [
        (f"drift.features.{c}.method", o.method) for c, o in config.features.items() if o.method
    ]
    for where, name in names:
        if name != "auto" and name not in METHODS:
            raise UnknownMethodError(f"{where}: unknown drift method {name!r}; known methods: auto, {', '.join(METHODS)}")


def auto_method(p: _Pair) -> str:
    """Evidently 0.7's default stattest for this column (see the module docstring)."""
    n_values = p.n_values()
    small = p.n_ref <= SMALL_REFERENCE
    if p.kind == "numerical":
        if n_values <= FEW_VALUES:
            if small:
                return "chisquare" if n_values > 2 else "z"
            return "jensenshannon"
        return "ks" if small else "wasserstein"
    if small:
        return "chisquare" if n_values > 2 else "z"
    return "jensenshannon"


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class ColumnDrift:
    column: str
    role: str
    method: Optional[str]
    kind: str
    statistic: Optional[float]
    p_value: Optional[float]
    p_value_adjusted: Optional[float]
    threshold: Optional[float]
    drifted: bool
    drifted_evidently: Optional[bool]
    effect_size: Optional[float]
    n_reference: int
    n_current: int
    nulls_reference: int
    nulls_current: int
    note: Optional[str]
    histogram: dict

    @property
    def evaluated(self) -> bool:
        return self.statistic is not None or self.p_value is not None

    def to_dict(self) -> dict:
        return {
            "method": self.method,
            "kind": self.kind,
            "statistic": _num(self.statistic),
            "p_value": _num(self.p_value),
            "p_value_adjusted": _num(self.p_value_adjusted),
            "threshold": _num(self.threshold),
            "drifted": bool(self.drifted),
            "drifted_evidently": self.drifted_evidently,
            "effect_size": _num(self.effect_size),
            "n_reference": int(self.n_reference),
            "n_current": int(self.n_current),
            "nulls_reference": int(self.nulls_reference),
            "nulls_current": int(self.nulls_current),
            "note": self.note,
            "histogram": self.histogram,
        }


def _num(x: Optional[float]) -> Optional[float]:
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


@dataclass(frozen=True)
class DriftResult:
    dataset_drift: bool
    share_drifted: float
    share_threshold: float
    n_features: int
    n_drifted: int
    features: dict[str, ColumnDrift]
    prediction: dict[str, ColumnDrift]
    target: dict[str, ColumnDrift]
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def ranking(self) -> list[str]:
        scored = [c for c in self.features.values() if c.effect_size is not None and math.isfinite(c.effect_size)]
        scored.sort(key=lambda c: (-c.effect_size, c.column))
        return [c.column for c in scored]

    def method_summary(self) -> dict:
        out: dict[str, dict] = {}
        for c in self.features.values():
            if c.method is None:
                continue
            s = out.setdefault(c.method, {"columns": 0, "drifted": 0, "threshold": c.threshold})
            s["columns"] += 1
            s["drifted"] += int(c.drifted)
        return out

    def to_dict(self) -> dict:
        return {
            "dataset_drift": bool(self.dataset_drift),
            "share_drifted": float(self.share_drifted),
            "share_threshold": float(self.share_threshold),
            "n_features": int(self.n_features),
            "n_drifted": int(self.n_drifted),
            "method_summary": self.method_summary(),
            "features": {k: v.to_dict() for k, v in self.features.items()},
            "prediction": {k: v.to_dict() for k, v in self.prediction.items()},
            "target": {k: v.to_dict() for k, v in self.target.items()},
            "ranking": self.ranking,
            "skipped": dict(self.skipped),
        }

    def alerts(self) -> list[Alert]:
        out: list[Alert] = []
        for c in self.features.values():
            if c.drifted:
                out.append(Alert("drift", c.column, "warning", _describe(c)))
        if self.dataset_drift:
            out.append(
                Alert(
                    "drift",
                    "dataset",
                    "critical",
                    f"dataset drift: {self.n_drifted} of {self.n_features} features drifted "
                    f"({self.share_drifted:.0%} >= {self.share_threshold:.0%}); "
                    f"most shifted: {', '.join(self.ranking[:3])}",
                )
            )
        for label, group in (("prediction drift", self.prediction), ("target drift", self.target)):
            for c in group.values():
                if c.drifted:
                    out.append(Alert("drift", c.column, "warning", f"{label}: {_describe(c)}"))
        return out


def _fmt(x: float) -> str:
    return f"{x:.3g}" if abs(x) >= 0.001 or x == 0 else f"{x:.1e}"


def _describe(c: ColumnDrift) -> str:
    m = METHODS[c.method]
    if m.kind == "distance":
        return f"`{c.column}`: {m.display} {_fmt(c.statistic)} >= {_fmt(c.threshold)}"
    p = c.p_value_adjusted
    ptxt = "p<0.001" if p < 0.001 else f"p={_fmt(p)}"
    eff = "D" if m.column_kinds == _NUM else "TVD"
    return f"`{c.column}`: {m.display} {eff}={_fmt(c.effect_size)} ({ptxt} after BH < {_fmt(c.threshold)})"


def benjamini_hochberg(p_values: Iterable[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values (same as scipy.stats.false_discovery_control); the one
    implementation lives with the performance stage's intervals."""
    from monitor.stages.performance.intervals import bh_adjust

    return [float(q) for q in bh_adjust(list(p_values))]


# --------------------------------------------------------------------------- detection


@dataclass
class _Raw:
    """One column's outcome before the multiple-testing correction."""

    column: str
    role: str
    kind: str
    method: Optional[str] = None
    statistic: Optional[float] = None
    p_value: Optional[float] = None
    effect: Optional[float] = None
    threshold: Optional[float] = None
    n_reference: int = 0
    n_current: int = 0
    nulls_reference: int = 0
    nulls_current: int = 0
    notes: list = field(default_factory=list)
    histogram: dict = field(default_factory=dict)


def detect_drift(
    profile: ReferenceProfile,
    current: pd.DataFrame,
    config: DriftConfig,
    roles: Optional[dict[str, str]] = None,
) -> DriftResult:
    """Drift of every column in `roles` (default: every profiled column, as a feature).

    Only "feature" columns count toward the dataset verdict; "prediction" and "target"
    are reported (and alerted) on their own. Columns missing from `current` or from the
    profile, and disabled ones, are listed in `skipped` with the reason.
    """
    _validate_config(config)
    if roles is None:
        roles = {c: "feature" for c in profile.columns}
    bad = {c: r for c, r in roles.items() if r not in ROLES}
    if bad:
        raise DataError(f"drift: roles must be one of {ROLES}, got {bad}")

    skipped: dict[str, str] = {}
    todo: list[tuple[str, str]] = []
    for col, role in roles.items():
        override = config.features.get(col)
        if override is not None and not override.enabled:
            skipped[col] = "disabled in the config (drift.features.<column>.enabled: false)"
        elif col not in profile.columns:
            skipped[col] = "not in the reference profile (refit the profile with this column)"
        elif col not in current.columns:
            skipped[col] = "not in the current data"
        else:
            todo.append((col, role))

    def run(item):
        col, role = item
        cp = profile.columns[col]
        try:
            return _column_drift(cp, current[col], role, config)
        except MonitorError:
            raise  # a config problem: the run must say so, not hide it in a note
        except Exception as exc:  # noqa: BLE001 - data this engine did not foresee: report it on the column, never crash the run
            raw = _Raw(column=col, role=role, kind=cp.kind, n_reference=cp.n_valid, nulls_reference=cp.n_null)
            raw.notes.append(f"drift could not be computed: {type(exc).__name__}: {exc}")
            return _finish(raw)

    if config.workers > 1 and len(todo) > 1:
        # numpy releases the GIL in sort/searchsorted/cumsum: columns overlap on separate cores;
        # at most `workers` columns are in memory at once.
        with ThreadPoolExecutor(max_workers=config.workers) as pool:
            raws = list(pool.map(run, todo))
    else:
        raws = [run(t) for t in todo]

    return _verdicts(raws, config, skipped)


def _column_drift(cp: ColumnProfile, s: pd.Series, role: str, config: DriftConfig) -> _Raw:
    raw = _Raw(column=cp.name, role=role, kind=cp.kind, n_reference=cp.n_valid, nulls_reference=cp.n_null)
    if cp.from_text:
        raw.notes.append(f"reference stored as text: read as numbers ({cp.n_unparsed} unreadable values counted as null)")
    if cp.mixed:
        raw.notes.append("reference values of mixed Python types (object column): read as float64")
    if cp.n_inf:
        raw.notes.append(f"{cp.n_inf} infinite reference values excluded")
    if cp.kind == "numerical":
        num = _numeric(s)
        y = num.values
        y.sort()
        pair = _Pair(cp, cur_values=y, cur_integer=num.integer)
        raw.nulls_current = num.n_null
        if num.from_text:
            raw.notes.append(f"current values arrived as text: read as numbers ({num.n_unparsed} unreadable values counted as null)")
        if num.mixed:
            raw.notes.append("current values of mixed Python types (object column): read as float64")
        elif cp.integer != num.integer and num.values.size:
            raw.notes.append(
                f"reference is {'integer' if cp.integer else 'float'}, current is {'integer' if num.integer else 'float'}: compared as float64"
            )
        if num.n_inf:
            raw.notes.append(f"{num.n_inf} infinite current values excluded")
    else:
        keys, counts, n_null = _category_counts(s)
        pair = _Pair(cp, cur_keys=keys, cur_counts=counts)
        raw.nulls_current = n_null
    raw.n_current = pair.n_cur
    if raw.nulls_current:
        raw.notes.append(f"{raw.nulls_current} null current values excluded")

    if pair.n_ref == 0:
        raw.notes.append("the reference has no usable values: drift not computed")
        return _finish(raw)
    raw.histogram = _histogram(pair)
    if pair.n_cur == 0:
        raw.notes.append("the current window has no usable values: drift not computed")
        return _finish(raw)

    override = config.features.get(cp.name)
    name = (override.method if override and override.method else None) or config.method
    if name != "auto" and cp.kind not in METHODS[name].column_kinds:
        if override and override.method:
            raise ConfigError(
                f"drift.features.{cp.name}.method: {name!r} works on numerical columns only and "
                f"{cp.name!r} is categorical; use one of "
                f"{', '.join(n for n, m in METHODS.items() if cp.kind in m.column_kinds)}"
            )
        raw.notes.append(f"{name} does not apply to a categorical column: method chosen as with auto")
        name = "auto"
    if name == "auto":
        name = auto_method(pair)
    method = METHODS[name]
    raw.method = name
    thr = override.threshold if override and override.threshold is not None else config.threshold
    if thr is None:
        thr = method.default_threshold if method.default_threshold is not None else config.fdr
    raw.threshold = float(thr)

    if cp.kind == "numerical":
        if pair.ref.n_unique == 1 and pair.y[0] == pair.y[-1] and pair.y[0] == pair.x[0]:
            raw.notes.append("constant column, same value in reference and current")
        elif pair.ref.n_unique == 1:
            raw.notes.append("constant in the reference")
    if cp.kind == "categorical":
        keys, rc, cc = pair.counts()
        unseen = [(k, int(n)) for k, r, n in zip(keys, rc.tolist(), cc.tolist()) if r == 0 and n > 0]
        if unseen:
            unseen.sort(key=lambda t: -t[1])
            shown = ", ".join(f"{k!r} ({n})" for k, n in unseen[:5])
            raw.notes.append(f"{len(unseen)} categor{'y' if len(unseen) == 1 else 'ies'} never seen in training: {shown}")
    try:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            stat, pv, eff = method.func(pair)
    except _Skip as exc:
        raw.notes.append(str(exc))
        return _finish(raw)
    raw.statistic, raw.p_value, raw.effect = stat, pv, eff
    if raw.effect is not None and not math.isfinite(raw.effect):
        raw.effect = None
    return _finish(raw)


def _finish(raw: _Raw) -> _Raw:
    raw.notes = "; ".join(raw.notes) or None  # type: ignore[assignment]
    return raw


def _histogram(p: _Pair) -> dict:
    """Small shares for the report's chart: <= CHART_BINS bins or categories."""
    if p.kind == "numerical":
        edges = p.ref.chart_edges.astype(np.float64).copy()
        if p.y.size:
            edges[0] = min(edges[0], p.y[0])
            edges[-1] = max(edges[-1], p.y[-1])
        if edges.size == 1:
            edges = np.array([edges[0] - 0.5, edges[0] + 0.5])
        r = _hist_counts(p.x, edges) / max(p.x.size, 1)
        c = _hist_counts(p.y, edges) / max(p.y.size, 1) if p.y.size else np.zeros(edges.size - 1)
        return {"edges": [float(e) for e in edges], "reference": r.tolist(), "current": c.tolist()}
    keys, rc, cc = p.counts()
    r = rc / max(p.n_ref, 1)
    c = cc / max(p.n_cur, 1)
    top = np.argsort(-np.maximum(r, c), kind="stable")
    if len(keys) <= CHART_BINS:
        idx = top
        cats = [str(keys[i]) for i in idx]
        return {"categories": cats, "reference": r[idx].tolist(), "current": c[idx].tolist()}
    idx = top[: CHART_BINS - 1]
    rest = top[CHART_BINS - 1:]
    return {
        "categories": [str(keys[i]) for i in idx] + [f"(other {len(rest)})"],
        "reference": r[idx].tolist() + [float(r[rest].sum())],
        "current": c[idx].tolist() + [float(c[rest].sum())],
    }


def _verdicts(raws: list[_Raw], config: DriftConfig, skipped: dict[str, str]) -> DriftResult:
    groups: dict[str, dict[str, ColumnDrift]] = {r: {} for r in ROLES}
    for role in ROLES:
        members = [r for r in raws if r.role == role]
        tested = [r for r in members if r.p_value is not None and math.isfinite(r.p_value)]
        adjusted = dict(zip((r.column for r in tested), benjamini_hochberg(r.p_value for r in tested)))
        for r in members:
            groups[role][r.column] = _decide(r, adjusted.get(r.column), config)
    feats = groups["feature"]
    evaluated = [c for c in feats.values() if c.evaluated]
    n_drifted = sum(c.drifted for c in evaluated)
    share = n_drifted / len(evaluated) if evaluated else 0.0
    return DriftResult(
        dataset_drift=bool(evaluated) and share >= config.share,
        share_drifted=share,
        share_threshold=config.share,
        n_features=len(evaluated),
        n_drifted=n_drifted,
        features=feats,
        prediction=groups["prediction"],
        target=groups["target"],
        skipped=skipped,
    )


def _decide(r: _Raw, p_adj: Optional[float], config: DriftConfig) -> ColumnDrift:
    drifted = False
    evidently = None
    if r.method is not None and (r.statistic is not None or r.p_value is not None):
        m = METHODS[r.method]
        if m.kind == "distance":
            drifted = evidently = r.statistic is not None and r.statistic >= r.threshold
        elif r.p_value is not None:
            # Evidently: ks and cramer_von_mises reject at p <= threshold, the others at p < threshold
            evidently = r.p_value <= r.threshold if r.method in ("ks", "cramer_von_mises") else r.p_value < r.threshold
            drifted = p_adj is not None and p_adj < r.threshold and (r.effect or 0.0) >= config.min_effect
    return ColumnDrift(
        column=r.column,
        role=r.role,
        method=r.method,
        kind=r.kind,
        statistic=r.statistic,
        p_value=r.p_value,
        p_value_adjusted=p_adj,
        threshold=r.threshold,
        drifted=bool(drifted),
        drifted_evidently=None if evidently is None else bool(evidently),
        effect_size=r.effect,
        n_reference=r.n_reference,
        n_current=r.n_current,
        nulls_reference=r.nulls_reference,
        nulls_current=r.nulls_current,
        note=r.notes,
        histogram=r.histogram,
    )
