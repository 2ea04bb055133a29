"""Values against the reference: each feature's profile (null rate, usable or not), and the checks
`null_rate`, `out_of_range`, `unseen_categories`, `duplicate_ids` and `timestamp_window`."""

from __future__ import annotations

import math
from typing import Any, Optional

import numpy as np
import pandas as pd

from monitor.config import QualityConfig
from monitor.io.text_codes import isin
from monitor.stages.quality.coltypes import _compatible, _to_utc_naive
from monitor.stages.quality.common import _count, _examples, _excess, _num, _pct, _plain, _repeats, _rows, _why
from monitor.stages.quality.context import Context, SchemaAnalysis
from monitor.stages.quality.refstats import ReferenceStats, counts_up_to
from monitor.stages.quality.result import Finding

__all__: list[str] = []  # internal to the quality package


def profile_columns(
    current: pd.DataFrame, reference: pd.DataFrame, features: dict[str, str], schema: SchemaAnalysis,
    stats: Optional[ReferenceStats] = None, config: Optional[QualityConfig] = None,
) -> tuple[dict[str, dict], dict[str, str], list[Finding]]:
    """Every feature's profile (the `columns` section before the checks add to it), the usable
    features (present, not all-null, of the training type or converted to it), and a finding
    for each column that could not be profiled.

    With `config`, the range and category checks of each column are worked out in the same pass,
    while the column is in hand (a streamed day is read once for all three, not three times); the
    checks report them in their turn (`_early`)."""
    columns: dict[str, dict] = {}
    usable: dict[str, str] = {}
    out: list[Finding] = []
    stats = stats if stats is not None else ReferenceStats(reference, kinds=features)
    for col, kind in features.items():
        try:
            columns[col] = _profile(col, kind, current, reference, schema, stats, config)
        except Exception as exc:  # noqa: BLE001 - one unreadable column must not sink the others
            columns[col] = {**_blank(col, kind, current, reference, stats), "note": f"could not be checked: {type(exc).__name__}"}
            msg = f"`{col}` could not be checked ({_why(exc)}), so it is left out of this run"
            out.append(Finding("values", col, "warning", msg))
        if columns[col]["usable"]:
            usable[col] = kind
    return columns, usable, out


def _blank(
    col: str, kind: str, current: pd.DataFrame, reference: pd.DataFrame, stats: ReferenceStats, cur: Optional[pd.Series] = None
) -> dict[str, Any]:
    if cur is None and col in current.columns:
        cur = current[col]
    return {
        "kind": kind,
        "dtype": str(cur.dtype) if cur is not None else None,
        "dtype_reference": stats.dtype(col) if col in reference.columns else None,
        "null_rate": None,
        "null_rate_reference": None,
        "out_of_range_share": None,
        "unseen_share": None,
        "unseen_examples": [],
        "usable": False,
    }


def _profile(
    col: str, kind: str, current: pd.DataFrame, reference: pd.DataFrame, schema: SchemaAnalysis, stats: ReferenceStats,
    config: Optional[QualityConfig] = None,
) -> dict:
    raw = current[col] if col in current.columns else None  # one read of a streamed column for all its figures
    info = _blank(col, kind, current, reference, stats, raw)
    if raw is None:
        info["note"] = "missing"
        return info
    has_ref = col in reference.columns
    if has_ref and len(reference):
        info["null_rate_reference"] = stats.n_null(col) / len(reference)  # = float(isna().mean()), exactly
    if len(current) == 0:
        info["usable"] = True
        return info
    done = schema.coercions.get(col)
    cur = done[1] if done is not None else raw
    null_rate = _null_rate(cur)  # after conversion: unparseable values count as nulls
    info["null_rate"] = null_rate
    rk, ck = schema.kinds.get(col, (None, None))
    type_ok = rk is None or ck is None or _compatible(rk, ck) or done is not None
    if null_rate == 1.0:
        info["note"] = "all null"
    elif has_ref and len(reference) and stats.n_null(col) == len(reference):
        info["note"] = "all null in the reference"
    elif not type_ok:
        info["note"] = "type changed"
    else:
        info["usable"] = True
    info["_checkable"] = has_ref and len(reference) > 0 and null_rate < 1.0 and type_ok
    check = {"numerical": ("out_of_range", _range_check), "categorical": ("unseen_categories", _unseen_check)}.get(kind)
    if info["_checkable"] and config is not None and check is not None and config.is_on(check[0]):
        try:
            info["_early"] = check[1](col, cur, stats, config)
        except Exception as exc:  # noqa: BLE001 - raised again when the check comes to this column
            info["_early"] = exc.with_traceback(None)  # its frames would keep the column alive
    return info


def _null_rate(s: pd.Series) -> float:
    """`float(s.isna().mean())` (of a non-empty column), counted on the array for plain floats."""
    if isinstance(s.dtype, np.dtype) and s.dtype == np.float64:  # the same k / n: isna() of float64 is isnan
        return int(np.count_nonzero(np.isnan(s.to_numpy()))) / len(s)
    return float(s.isna().mean())


def _early(ctx: Context, col: str, check: Any) -> Any:
    """The check's figures for the column, worked out by the profile pass when it had the column, else now."""
    done = ctx.columns.get(col, {}).get("_early", None)
    if isinstance(done, Exception):
        raise done
    return done if done is not None else check(col, ctx.col(col), ctx.stats, ctx.config)


def _checkable(ctx: Context, kind: str) -> list[str]:
    """Features of this kind whose values can be compared with the reference's."""
    return [c for c, info in ctx.columns.items() if info.get("_checkable") and ctx.features.get(c) == kind]


def check_null_rate(ctx: Context) -> tuple[dict, list[Finding]]:
    """More nulls than the reference by the tolerance AND by more than sampling noise at today's rows."""
    out = []
    n, n_ref = ctx.n, len(ctx.reference)
    for col, info in ctx.columns.items():
        null_rate, ref_null = info.get("null_rate"), info.get("null_rate_reference")
        if null_rate is None:
            continue
        increase = null_rate - (ref_null if ref_null is not None else 0.0)
        newly_all_null = null_rate == 1.0 and (ref_null is None or ref_null < 1.0)  # all-null in training too is no news
        above = ref_null is not None and _excess(
            null_rate * n, n, ref_null * n_ref, n_ref, ctx.config.null_rate_tolerance, ctx.config.significance_z
        )[0]
        if not (newly_all_null or above):
            continue
        critical = null_rate == 1.0 or increase >= ctx.config.null_rate_critical
        against = f"vs {_pct(ref_null)} in training" if ref_null is not None else "(no reference to compare)"
        head = f"`{col}`: all {_rows(n)} are null today" if null_rate == 1.0 else f"`{col}`: {_pct(null_rate)} nulls today"
        out.append(Finding("null_rate", col, "critical" if critical else "warning", f"{head} {against}", null_rate,
                           (ref_null or 0.0) + ctx.config.null_rate_tolerance))
    return {}, out


def check_out_of_range(ctx: Context) -> tuple[dict, list[Finding]]:
    """Numbers outside the training range [min, max], beyond what a sample of the reference's size leaves out.

    A new value from the reference's own distribution falls outside the range of n reference values with
    probability at most 2 / (n + 1) (exchangeability; ties only lower it): 2.5% for 80 rows, so a fixed 5%
    share warned on most healthy 36-row windows of a small wine model. The share must exceed that rate by
    `out_of_range_share` and by `significance_z` standard errors (the same test as the other rates)."""
    columns: dict[str, dict] = {}
    out = []
    for col in _checkable(ctx, "numerical"):
        figures, finding = _early(ctx, col, _range_check)
        if figures is not None:
            columns[col] = figures
        if finding is not None:
            out.append(finding)
    return columns, out


def _range_check(col: str, values: pd.Series, stats: ReferenceStats, config: QualityConfig) -> tuple[Optional[dict], Optional[Finding]]:
    """out_of_range on one column: its figures (None: not comparable) and its finding (None: no alert)."""
    # nulls stay in (as NaN) and are left out of the counts: no copy of the column
    if not pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_bool_dtype(values.dtype):
        return None, None
    ref_range = stats.finite_range(col)  # the reference's finite values read as numbers
    x = values.to_numpy(dtype=float, na_value=np.nan)
    n_valid = x.size - int(np.count_nonzero(np.isnan(x)))
    if ref_range is None or n_valid == 0:
        return None, None
    lo, hi, n_ref = ref_range
    outside = (x < lo) | (x > hi)  # +-inf count as outside, NaN never
    k_out = int(np.count_nonzero(outside))
    share = k_out / n_valid
    expected = 2.0 / (n_ref + 1)
    figures = {"out_of_range_share": share, "out_of_range_expected": expected, "reference_range": [lo, hi]}
    alert, _ = _excess(k_out, n_valid, 2, n_ref + 1, config.out_of_range_share, config.significance_z)
    if not alert:
        return figures, None
    extreme = ([f"min today {_num(float(np.nanmin(x)))}"] if (x < lo).any() else []) + (
        [f"max today {_num(float(np.nanmax(x)))}"] if (x > hi).any() else [])
    severity = "critical" if share >= config.out_of_range_critical else "warning"
    msg = f"`{col}`: {_pct(share)} of values outside the training range [{_num(lo)}, {_num(hi)}] ({', '.join(extreme)})"
    return figures, Finding("out_of_range", col, severity, msg, share, config.out_of_range_share)


def check_unseen_categories(ctx: Context) -> tuple[dict, list[Finding]]:
    """Categories never seen in training, beyond what the reference's own rare values predict."""
    columns: dict[str, dict] = {}
    out = []
    for col in _checkable(ctx, "categorical"):
        figures, finding = _early(ctx, col, _unseen_check)
        if figures is not None:
            columns[col] = figures
        if finding is not None:
            out.append(finding)
    return columns, out


def _unseen_check(col: str, values: pd.Series, stats: ReferenceStats, config: QualityConfig) -> tuple[Optional[dict], Optional[Finding]]:
    """unseen_categories on one column: its figures (None: no values) and its finding (None: no alert)."""
    k = config.examples
    present = values.notna().to_numpy()  # nulls stay in and are left out of the counts: no copy of the column
    n_valid = int(np.count_nonzero(present))
    if not n_valid:
        return None, None
    seen, singletons, ref_total = stats.categories(col)  # the reference's non-null values
    unseen_mask = present & ~isin(values, seen)  # by code for a text column read dictionary-encoded
    share = int(np.count_nonzero(unseen_mask)) / n_valid
    # Good-Turing: the share of reference rows whose category occurs once is what a new sample
    # of the same data shows as unseen (high for ids or zip codes, ~0 for a handful of categories).
    info: dict[str, Any] = {"unseen_share": share, "unseen_share_expected": singletons / max(ref_total, 1)}
    if share > 0:
        info["unseen_examples"] = [_plain(v) for v in values[unseen_mask].value_counts().index[:k]]
    alert, _ = _excess(int(unseen_mask.sum()), n_valid, singletons, ref_total, config.unseen_category_share, config.significance_z)
    if not alert:
        return info, None
    severity = "critical" if share >= config.unseen_category_critical else "warning"
    msg = (
        f"`{col}`: {_pct(share)} of values ({_rows(int(unseen_mask.sum()))}) are categories never seen in training, "
        f"e.g. {_examples(info['unseen_examples'], k)}"
    )
    return info, Finding("unseen_categories", col, severity, msg, share, config.unseen_category_share)


def _duplicate_rows(ids: pd.Series) -> int:
    present = ids.dropna()
    if not _repeats(present):  # the usual case, answered without a hash table of every id
        return 0
    return int(present.duplicated(keep=False).sum())


def check_ids(ctx: Context) -> tuple[dict, list[Finding]]:
    """Duplicated ids, against the reference's own rate when its ids repeat."""
    current, model, config, reference = ctx.current, ctx.model, ctx.config, ctx.reference
    if not model.id or model.id not in current.columns or len(current) == 0:
        return {}, []
    col = model.id
    ids = current[col]
    null_ids = int(ids.isna().sum())
    present = ids.dropna()
    dup_mask = present.duplicated(keep=False) if _repeats(present) else np.zeros(len(present), dtype=bool)
    dup_rows = int(dup_mask.sum())
    dups = present[dup_mask]
    dup_ids = int(dups.nunique())
    share = dup_rows / len(current)
    info = {"column": col, "null": null_ids, "duplicate_rows": dup_rows, "duplicate_ids": dup_ids, "duplicate_share": share,
            "duplicate_examples": [_plain(v) for v in pd.unique(dups)[: config.examples]]}
    # Against the reference's own duplicate rate when its ids repeat (a log keyed by customer);
    # otherwise ids are unique by contract and any duplicate counts.
    ref_dups, ref_n = (
        (ctx.stats.figure(f"duplicate_rows|{col}", lambda: _duplicate_rows(reference[col]), counts_up_to(len(reference))),
         len(reference)) if col in reference.columns else (0, 0)
    )
    info["duplicate_share_reference"] = ref_dups / ref_n if ref_n else None
    alert, _ = _excess(dup_rows, len(current), ref_dups, ref_n if ref_dups else 0, config.duplicate_id_share, config.significance_z)
    out = []
    if dup_rows and alert:
        out.append(
            Finding(
                "duplicate_ids",
                col,
                "warning",
                f"`{col}`: {_rows(dup_rows)} ({_pct(share)}) share {_count(dup_ids, 'duplicated id')}, "
                f"e.g. {_examples(info['duplicate_examples'], config.examples)}",
                share,
                config.duplicate_id_share,
            )
        )
    return info, out


def _usual_outside_share(history: list[dict], runs: int) -> tuple[Optional[float], int]:
    """The median share of rows stamped outside their window over the last runs (late events
    written into the next day's partition are normal for some pipelines), and how many runs."""
    shares = []
    for h in (history or [])[-runs:]:
        try:
            v = float(h["quality"]["timestamps"]["outside_share"])
        except (KeyError, TypeError, ValueError):
            continue
        if math.isfinite(v):
            shares.append(v)
    return (float(np.median(shares)), len(shares)) if shares else (None, 0)


def check_timestamps(ctx: Context) -> tuple[dict, list[Finding]]:
    """Rows stamped outside the window, beyond the share usual for this pipeline."""
    current, model, config, start, end = ctx.current, ctx.model, ctx.config, ctx.window_start, ctx.window_end
    if not model.timestamp or model.timestamp not in current.columns or len(current) == 0:
        return {}, []
    col = model.timestamp
    raw = current[col]
    t = _to_utc_naive(raw)
    lo = pd.Timestamp(start)
    hi = pd.Timestamp(end) + pd.Timedelta(days=1)
    unparsed = int((t.isna() & raw.notna()).sum())
    ok = t.dropna()
    before, after = int((ok < lo).sum()), int((ok >= hi).sum())
    n = len(current)
    share = (before + after) / n
    info = {
        "column": col,
        "window": [start.isoformat(), end.isoformat()],
        "outside_rows": before + after,
        "outside_share": share,
        "before": before,
        "after": after,
        "unparseable": unparsed,
        "min": str(ok.min()) if len(ok) else None,
        "max": str(ok.max()) if len(ok) else None,
    }
    usual, runs = _usual_outside_share(ctx.history, config.volume_history_runs)
    if runs < config.volume_min_history:
        usual = None
    info["outside_share_usual"] = usual
    limit = (usual or 0.0) + config.timestamp_outside_share
    out = []
    span = start.isoformat() if start == end else f"{start.isoformat()}..{end.isoformat()}"
    if share > limit:
        parts = ([f"{_num(before)} before, earliest {ok.min()}"] if before else []) + (
            [f"{_num(after)} after, latest {ok.max()}"] if after else [])
        msg = (
            f"`{col}`: {_pct(share)} of rows ({_num(before + after)}) are stamped outside the window {span} "
            f"({'; '.join(parts)})" + (f"; usually {_pct(usual)}" if usual else "")
        )
        out.append(Finding("timestamp_window", col, "warning", msg, share, limit))
    if unparsed and unparsed / n > config.timestamp_outside_share:
        bad = raw[t.isna() & raw.notna()].head(config.examples)
        msg = (
            f"`{col}`: {_pct(unparsed / n)} of rows ({_num(unparsed)}) have a timestamp that cannot be read, "
            f"e.g. {_examples(bad, config.examples)}"
        )
        out.append(Finding("timestamp_window", f"{col}:unparseable", "warning", msg, unparsed / n, config.timestamp_outside_share))
    return info, out
