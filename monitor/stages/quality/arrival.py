"""Did the data arrive, and in the usual amount? Checks `arrival` and `volume`."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any, Optional

import numpy as np
import pandas as pd

from monitor.stages.quality.coltypes import _to_utc_naive
from monitor.stages.quality.common import _dates, _num, _pct
from monitor.stages.quality.context import Context
from monitor.stages.quality.result import Finding

__all__ = ["reference_weekday_factors"]


def check_arrival(ctx: Context) -> tuple[dict, list[Finding]]:
    """Missing, empty or unreadable daily partitions, named by date; no rows at all."""
    parts = ctx.partitions
    missing = [str(p.get("date")) for p in parts if not p.get("found")]
    unreadable = [
        {"date": str(p.get("date")), "uri": p.get("uri"), "error": str(p.get("error"))}
        for p in parts
        if p.get("found") and p.get("error")
    ]
    empty = [str(p.get("date")) for p in parts if p.get("found") and not p.get("error") and p.get("rows") == 0]
    info = {
        "expected": len(parts),
        "found": sum(1 for p in parts if p.get("found") and not p.get("error") and p.get("rows") != 0),
        "missing": missing,
        "empty": empty,
        "unreadable": unreadable,
        "partitions": [{k: p.get(k) for k in ("date", "uri", "found", "rows", "error")} for p in parts],
    }
    out = _arrival_findings(parts, missing, empty, unreadable)
    if ctx.n == 0 and not out:
        msg = "No rows in the monitoring window: nothing to check, drift and performance were not computed"
        out.append(Finding("arrival", "no_rows", "critical", msg, 0, 0))
    return info, out


def _arrival_findings(parts: list[dict], missing: list[str], empty: list[str], unreadable: list[dict]) -> list[Finding]:
    out: list[Finding] = []
    if missing:
        uris = [p.get("uri") for p in parts if not p.get("found")]
        where = f" (looked for {uris[0]})" if len(missing) == 1 and uris[0] else ""
        days = list(dict.fromkeys(missing))  # several sources can share a date
        what = "partition missing" if len(missing) == 1 else f"{len(missing)} partitions missing"
        msg = f"No data arrived for {_dates(days)}: {what}{where}"
        out.append(Finding("arrival", "partition_missing", "critical", msg, len(missing), 0))
    if empty:
        msg = f"The partition for {_dates(list(dict.fromkeys(empty)))} arrived empty (0 rows)"
        out.append(Finding("arrival", "partition_empty", "critical", msg, len(empty), 0))
    if unreadable:
        first = unreadable[0]
        err = first["error"].splitlines()[0][:200]
        more = (
            f" (and {len(unreadable) - 1} more partition(s): {_dates([u['date'] for u in unreadable[1:]])})"
            if len(unreadable) > 1 else ""
        )
        msg = f"The partition for {first['date']} could not be read ({err}): its rows are missing from this run{more}"
        out.append(Finding("arrival", "partition_unreadable", "critical", msg, len(unreadable), 0))
    return out


def _past_rows(history: list[dict]) -> list[tuple[Optional[dt.date], float]]:
    """(date, rows) of the past runs that had data, oldest first."""
    past = []
    for h in history or []:
        try:
            if h.get("status") == "no_data":
                continue
            rows = float(h["rows"]["current"])
        except (KeyError, TypeError, ValueError, AttributeError):
            continue
        try:
            day: Optional[dt.date] = dt.date.fromisoformat(str(h.get("date")))
        except ValueError:
            day = None
        if math.isfinite(rows) and rows > 0:
            past.append((day, rows))
    return past


def _weekday_factors(past: list[tuple[Optional[dt.date], float]], today: dt.date) -> Optional[dict[int, float]]:
    """Each weekday's volume relative to the median day, from the runs' own history: only when
    today's weekday and every weekday in it has two runs or more, and it explains the spread."""
    by_day: dict[int, list[float]] = {}
    for day, rows in past:
        if day is None:
            return None
        by_day.setdefault(day.weekday(), []).append(rows)
    if len(by_day.get(today.weekday(), [])) < 2 or any(len(v) < 2 for v in by_day.values()):
        return None
    overall = float(np.median([r for _, r in past]))
    return {wd: float(np.median(v)) / overall for wd, v in by_day.items()}


def reference_weekday_factors(reference: pd.DataFrame, timestamp: Optional[str]) -> Optional[dict[int, float]]:
    """Each weekday's rows per day relative to the average day in the reference, when its
    timestamps cover at least one full week (a training snapshot of live traffic)."""
    if not timestamp or timestamp not in reference.columns or len(reference) == 0:
        return None
    t = _to_utc_naive(reference[timestamp]).dropna()
    if t.empty:
        return None
    days = t.dt.normalize()
    if (days.max() - days.min()).days < 6:
        return None
    per_day = days.value_counts()
    per_weekday = per_day.groupby(per_day.index.weekday).mean()
    if len(per_weekday) < 7:
        return None
    return {int(wd): float(v) / float(per_day.mean()) for wd, v in per_weekday.items()}


def _expected_volume(
    past: list[tuple[Optional[dt.date], float]], today: Optional[dt.date], ref_factors: Optional[dict[int, float]]
) -> tuple[float, float, str]:
    """(expected rows today, robust relative spread, basis) from past runs, adjusted by weekday
    when the weekly cycle (from the history, else the reference) makes the history tighter."""
    rows = np.asarray([r for _, r in past])
    plain_mid = float(np.median(rows))
    plain_rel = rows / plain_mid - 1
    best = (plain_mid, float(np.median(np.abs(plain_rel))), "")
    if today is not None and all(d is not None for d, _ in past):
        factors = _weekday_factors(past, today)
        basis, fitted = "same weekday in the history", 1.0
        if factors is not None:
            # Factors fitted on k runs per weekday shrink the residuals by sqrt((k-1)/k): undo that.
            k = min(sum(1 for d, _ in past if d is not None and d.weekday() == wd) for wd in factors)
            fitted = math.sqrt(k / (k - 1))
        elif ref_factors is not None:
            factors, basis = ref_factors, "weekday cycle of the reference"
        if factors is not None:
            adj = np.asarray([r / max(factors.get(d.weekday(), 1.0), 1e-9) for d, r in past if d is not None])
            mid = float(np.median(adj))
            spread = float(np.median(np.abs(adj / mid - 1))) * fitted
            # The history's own cycle must explain its spread; the reference's is prior knowledge,
            # kept unless the history contradicts it.
            if spread < best[1] or (fitted == 1.0 and spread <= max(1.25 * best[1], best[1] + 0.03)):
                best = (mid * factors.get(today.weekday(), 1.0), spread, basis)
    expected, mad, basis = best
    # A perfectly stable history has MAD 0: floor the spread at 2% (and at Poisson noise) so that
    # +-1 row is not an anomaly, while halving the volume still is.
    rel_scale = max(1.4826 * mad, 0.02, 1 / math.sqrt(max(expected, 1.0)))
    return expected, rel_scale, basis


def check_volume(ctx: Context) -> tuple[dict, list[Finding]]:
    """Row count against the monitor's own history (by weekday when traffic has a weekly cycle),
    else against the reference's daily rate."""
    config = ctx.config
    all_past = _past_rows(ctx.history)
    past = all_past[-config.volume_history_runs :]
    info: dict[str, Any] = {"rows": ctx.n, "method": "none", "history_runs": len(past)}
    if ctx.n == 0:
        info["skipped"] = "no rows (see arrival)"
        return info, []
    weekly = ctx.window_start == ctx.window_end  # a one-day window follows the weekly cycle; longer ones average it
    factors = reference_weekday_factors(ctx.reference, ctx.model.timestamp) if weekly else None
    if len(past) < config.volume_min_history:
        return _volume_vs_reference(ctx, info, factors.get(ctx.window_end.weekday(), 1.0) if factors else 1.0)
    # Same-weekday runs may lie further back than the last `volume_history_runs`.
    span = all_past[-max(config.volume_history_runs, 28):] if weekly else past
    expected, rel_scale, basis = _expected_volume(span, ctx.window_end if weekly else None, factors)
    arr = np.asarray([r for _, r in past])
    rel = ctx.n / expected - 1.0
    z = rel / rel_scale
    info.update(method="history", expected=expected, median=float(np.median(arr)), basis=basis or "median",
                low=float(arr.min()), high=float(arr.max()), z=z, relative_change=rel)
    if abs(z) <= config.volume_z:
        return info, []
    severity = "critical" if abs(rel) > config.volume_tolerance else "warning"
    direction = "below" if rel < 0 else "above"
    how = f"median of the last {len(past)} runs" + (f", by {basis}" if basis else "")
    msg = (
        f"Row count {_num(ctx.n)} is {_pct(abs(rel))} {direction} the usual {_num(round(expected))} "
        f"({how}, range {_num(arr.min())}-{_num(arr.max())}; robust z {z:+.1f})"
    )
    return info, [Finding("volume", "rows", severity, msg, z, config.volume_z)]


def _volume_vs_reference(ctx: Context, info: dict, weekday_factor: float) -> tuple[dict, list[Finding]]:
    config = ctx.config
    if not ctx.reference_daily_rows:
        return info, []
    days = len({p.get("date") for p in ctx.partitions}) or ((ctx.window_end - ctx.window_start).days + 1)
    expected = float(ctx.reference_daily_rows) * max(days, 1) * weekday_factor
    rel = ctx.n / expected - 1.0
    info.update(method="reference", expected=expected, relative_change=rel)
    if abs(rel) <= config.volume_tolerance:
        return info, []
    direction = "below" if rel < 0 else "above"
    msg = (
        f"Row count {_num(ctx.n)} is {_pct(abs(rel))} {direction} the {_num(round(expected))} expected "
        f"from the reference's daily rate (no run history yet; tolerance {_pct(config.volume_tolerance)})"
    )
    return info, [Finding("volume", "rows", "warning", msg, rel, config.volume_tolerance)]
