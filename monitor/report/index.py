"""`<output>/index.html`: every monitor x the last 30 days, each day linking to its report, and the
latest alerts. Rewritten after each run.

Each monitor keeps a small summary of its days in `<output>/_index/<name>.json`, written only by
its own runs (so monitors never race on one file); the page is rendered from all the summaries,
which costs one listing and one small read per monitor, whatever the history's length.
A summary that is missing (first run, or deleted) is rebuilt from the monitor's committed metrics.json files.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any, Optional

from monitor.errors import MonitorError, NotFoundError

__all__ = ["INDEX_DAYS", "STATUS_STYLE", "summarize_day", "failed_day", "update_index", "render_index"]

INDEX_DAYS = 30
_KEEP_DAYS = 120  # days kept in a monitor's summary
_TOP_ALERTS = 5
_SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}
STATUS_STYLE = {  # status: (cell colour, text colour, label)
    "ok": ("#16a34a", "#ffffff", "OK"),
    "warning": ("#f59e0b", "#111827", "WARNING"),
    "alert": ("#dc2626", "#ffffff", "ALERT"),
    "no_data": ("#6b7280", "#ffffff", "NO DATA"),
    "failed": ("#111827", "#ffffff", "FAILED"),
}


def _join(base: str, *parts: str) -> str:
    return base.rstrip("/") + "/" + "/".join(p.strip("/") for p in parts)


def summarize_day(name: str, metrics: dict) -> dict:
    """The index entry of one day from its metrics.json: status, alert counts, the worst alerts."""
    day = str(metrics.get("date"))
    alerts = [a for a in (metrics.get("alerts") or []) if isinstance(a, dict)]
    alerts.sort(key=lambda a: (_SEVERITY_ORDER.get(str(a.get("severity")), 3), not a.get("new")))
    return {
        "status": str(metrics.get("status") or "ok"),
        "alerts": len(alerts),
        "critical": sum(1 for a in alerts if a.get("severity") == "critical"),
        "new": sum(1 for a in alerts if a.get("new")),
        "report": f"{name}/date={day}/report.html",
        "top": [
            {"severity": str(a.get("severity") or ""), "kind": str(a.get("kind") or ""),
             "subject": str(a.get("subject") or ""), "message": str(a.get("message") or "")[:240],
             "new": bool(a.get("new"))}
            for a in alerts[:_TOP_ALERTS]
        ],
    }


def failed_day(name: str, day: dt.date, error: str) -> dict:
    """The index entry of a day whose run could not complete (there is no report to link to)."""
    first = (str(error).strip().splitlines() or ["the run could not complete"])[0]
    return {"status": "failed", "alerts": 0, "critical": 0, "new": 0, "top": [], "error": first[:240],
            "report": f"{name}/date={day.isoformat()}/report.html"}


def _rebuild(storage: Any, output_uri: str, name: str) -> dict[str, dict]:
    """A monitor's summary from its committed metrics.json files (the last INDEX_DAYS days that have one;
    a metrics.json no manifest vouches for is left out, see monitor.io.commit)."""
    from monitor.io.commit import committed_metrics

    base = _join(output_uri, name) + "/"
    return {day: summarize_day(name, {**doc, "date": day}) for day, doc in committed_metrics(storage, base, limit=INDEX_DAYS)}


def _read_summary(storage: Any, uri: str) -> Optional[dict]:
    try:
        data = storage.read_json(uri)
    except MonitorError:
        return None
    return data if isinstance(data, dict) and isinstance(data.get("days"), dict) else None


def update_index(
    storage: Any,
    output_uri: str,
    name: str,
    day: dt.date,
    entry: dict,
    *,
    now: Optional[dt.datetime] = None,
) -> str:
    """Record `entry` (see summarize_day; or {"status": "failed", ...}) as `name`'s `day`, then rewrite
    `<output_uri>/index.html` from every monitor's summary. Returns the URI of index.html."""
    now = now or dt.datetime.now(dt.UTC)
    own = _join(output_uri, "_index", f"{name}.json")
    summary = _read_summary(storage, own)
    days = summary["days"] if summary else _rebuild(storage, output_uri, name)
    days[day.isoformat()] = entry
    keep = sorted(days)[-_KEEP_DAYS:]
    summary = {"monitor": name, "updated_at": now.isoformat(timespec="seconds"), "days": {d: days[d] for d in keep}}
    storage.write_text(own, json.dumps(summary, indent=1, sort_keys=True), "application/json")

    summaries = []
    try:
        listed = storage.list(_join(output_uri, "_index") + "/")
    except NotFoundError:
        listed = []
    for obj in listed:
        if obj.uri.endswith(".json"):
            other = summary if obj.uri.replace("\\", "/").endswith(f"/_index/{name}.json") else _read_summary(storage, obj.uri)
            if other is not None:
                summaries.append(other)
    if not any(s.get("monitor") == name for s in summaries):
        summaries.append(summary)
    uri = _join(output_uri, "index.html")
    storage.write_text(uri, render_index(summaries, now=now), "text/html; charset=utf-8")
    return uri


def render_index(summaries: list[dict], *, now: dt.datetime, days: int = INDEX_DAYS) -> str:
    """The page: a monitors x days grid of statuses (each cell links to that day's report) and,
    per monitor, the alerts of its latest day. The grid ends on the latest monitored day."""
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    summaries = sorted((s for s in summaries if s.get("monitor")), key=lambda s: str(s["monitor"]))
    all_days = [d for s in summaries for d in s.get("days", {})]
    end = dt.date.fromisoformat(max(all_days)) if all_days else now.date()
    dates = [end - dt.timedelta(days=i) for i in range(days - 1, -1, -1)]
    rows, latest = [], []
    for s in summaries:
        by_day = s.get("days", {})
        cells = []
        for d in dates:
            e = by_day.get(d.isoformat())
            cells.append(None if e is None else {**e, "date": d.isoformat(), "style": _style(e)})
        last_day = max(by_day) if by_day else None
        last = by_day[last_day] if last_day else None
        rows.append({"monitor": s["monitor"], "cells": cells, "last_day": last_day, "last": last, "last_style": _style(last)})
        if last:
            latest.append({"monitor": s["monitor"], "date": last_day, "entry": last, "style": _style(last)})
    env = Environment(loader=FileSystemLoader(str(_templates())), autoescape=select_autoescape(["html", "j2"]))
    return env.get_template("index.html.j2").render(
        rows=rows, dates=dates, latest=latest, styles=STATUS_STYLE, days=days,
        generated_at=now.strftime("%Y-%m-%d %H:%M UTC"), end=end,
    )


def _style(entry: Optional[dict]) -> tuple[str, str, str]:
    return STATUS_STYLE.get(str((entry or {}).get("status")), STATUS_STYLE["ok"])


def _templates() -> Path:
    return Path(__file__).resolve().parent / "templates"
