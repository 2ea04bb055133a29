"""The view: everything the templates show, decided here (what, in which order, how much of it).

    view, images = build_view(doc, history, provenance, charts=True, trend_runs=30)

The templates only format; the view is plain dicts and strings.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Optional

from monitor.document import AlertEntry, MetricsDocument
from monitor.jsonutil import finite
from monitor.report.format import DASH, fmt_int, fmt_num, fmt_size, one_line
from monitor.report.glance import glance
from monitor.report.sections import (
    MAX_DRIFT_CHARTS,
    ChartFn,
    business_section,
    cohorts_section,
    drift_section,
    performance_section,
    quality_section,
)
from monitor.report.subject import STATUS_TAG
from monitor.report.trends import SparkFn, trends_section

__all__ = ["build_view", "STATUS_COLORS", "MAX_DRIFT_ALERT_ROWS", "MAX_WORST_ROWS", "MAX_WORST_COLUMNS"]

MAX_DRIFT_ALERT_ROWS = 6  # more drift alerts than this are listed as one row in "what changed"
MAX_WORST_ROWS = 10
MAX_WORST_COLUMNS = 8
# (accent colour, pale background) per status
STATUS_COLORS = {
    "ok": ("#15803d", "#dcfce7"),
    "warning": ("#b45309", "#fef3c7"),
    "alert": ("#b91c1c", "#fee2e2"),
    "no_data": ("#4b5563", "#e5e7eb"),
    "failed": ("#7f1d1d", "#fecaca"),
}
_SEVERITY_ORDER = {"critical": 0, "warning": 1}


def _since(alert: AlertEntry, history: Sequence[MetricsDocument], today: Optional[str]) -> tuple[Optional[str], int]:
    """First date of the unbroken run of previous runs raising the same (kind, subject), and the run count."""
    since, runs = today, 1
    if alert.new:
        return since, runs
    for h in reversed(history):
        if (alert.kind, alert.subject) not in {(a.kind, a.subject) for a in h.alerts}:
            break
        since, runs = h.date or since, runs + 1
    return since, runs


def _alert_rows(doc: MetricsDocument, history: Sequence[MetricsDocument]) -> tuple[list[dict], list[dict], list[dict]]:
    new: list[dict] = []
    ongoing: list[dict] = []
    for a in doc.alerts:
        since, runs = _since(a, history, doc.date)
        row = {"kind": a.kind, "subject": a.subject, "severity": a.severity, "message": a.message,
               "since": since, "runs": runs, "known_since": not a.new and bool(history)}
        (new if a.new else ongoing).append(row)
    resolved = [  # what it was, briefly: the details are in the previous report
        {"kind": a.kind, "subject": a.subject, "severity": a.severity, "message": one_line(a.message, 110)}
        for a in doc.resolved
    ]
    key = lambda r: (_SEVERITY_ORDER.get(r["severity"], 2), r["kind"], r["subject"])  # noqa: E731
    return _collapse(sorted(new, key=key)), _collapse(sorted(ongoing, key=key)), _collapse(resolved)


def _collapse(rows: list[dict], kind: str = "drift", keep: int = MAX_DRIFT_ALERT_ROWS) -> list[dict]:
    """Many drift alerts become one row naming the columns: the drift section has the details."""
    same = [r for r in rows if r["kind"] == kind]
    if len(same) <= keep:
        return rows
    names = [r["subject"] for r in same]
    first = same[0]
    merged = dict(first, subject=f"{len(same)} columns", severity="critical" if any(r["severity"] == "critical" for r in same) else first["severity"],
                  message=", ".join(names[:12]) + (f" and {len(names) - 12} more" if len(names) > 12 else "") + " (details under Drift)")
    if "since" in first:
        merged["since"] = min((str(r["since"]) for r in same if r.get("since")), default=first.get("since"))
        merged["runs"] = max(r.get("runs", 1) for r in same)
    out = [r for r in rows if r["kind"] != kind]
    out.insert(rows.index(first) if rows.index(first) <= len(out) else len(out), merged)
    return out


def _failures(doc: MetricsDocument) -> Optional[dict]:
    analysis = doc.analysis
    if analysis is None or not analysis.worst_rows:
        return None
    rows = []
    for worst in analysis.worst_rows[:MAX_WORST_ROWS]:
        flat = worst.to_json()
        rows.append({**{k: v for k, v in flat.items() if k != "features"}, **worst.features})
    cols = [c for c in ("id", "label", "prediction", "score", "loss") if any(c in r for r in rows)]
    for r in rows:
        for c in r:
            if c not in cols and len(cols) < MAX_WORST_COLUMNS:
                cols.append(str(c))

    def cell(c: str, v: Any) -> str:
        if isinstance(v, str):
            return v
        if c == "id" and v is not None:
            return str(v)  # an identifier, not a quantity: no thousands separators
        return fmt_num(v)

    return {"columns": cols, "rows": [[cell(c, r.get(c)) for c in cols] for r in rows],
            "annotate": analysis.to_annotate_uri or doc.links.get("to_annotate")}


def _links(doc: MetricsDocument) -> list[dict]:
    names = {"report": "Full report", "evidently": "Evidently deep-dive", "to_annotate": "Rows to annotate"}
    return [{"label": names.get(k, k.replace("_", " ")), "href": v if re.match(r"^https?://", v, re.I) else None, "text": v}
            for k, v in doc.links.items() if v]


def _provenance(doc: MetricsDocument, provenance: Mapping[str, Any]) -> dict:
    """Inputs read (from the manifest) and the facts that say which run this was."""
    inputs = []
    for i in provenance.get("inputs") or []:
        version = i.get("etag") or i.get("mtime")
        inputs.append({"role": str(i.get("role") or ""), "uri": str(i.get("uri") or ""), "size": fmt_size(i.get("size")),
                       "version": str(version) if version is not None else DASH,
                       "rows": fmt_int(i.get("rows")) if i.get("rows") is not None else DASH})
    rows, seconds = doc.rows, finite(provenance.get("run_seconds"))
    facts = []
    for label, value in (
        ("rows today / reference / labelled",
         " / ".join(fmt_int(n) for n in (rows.current, rows.reference, rows.labelled)) if rows else None),
        ("config hash", provenance.get("config_hash")), ("code version", provenance.get("code_version")),
        ("run time", f"{seconds:.1f} s" if seconds is not None else None),
        ("generated at", provenance.get("generated_at")), ("metrics schema", doc.schema_version),
    ):
        if value not in (None, ""):
            facts.append({"label": label, "value": str(value)})
    return {"inputs": inputs, "facts": facts}


def _stage_errors(doc: MetricsDocument) -> list[str]:
    """Stages that raised during the run: the report is partial and says so at the top."""
    return ([f"{e.stage or 'errors'}: {e.error}".strip() for e in doc.errors] + [e for e in doc.cohort_errors if e])[:10]


def _window(doc: MetricsDocument) -> str:
    w = doc.window
    if w is None:
        return ""
    return f"{w.start} \u2192 {w.end}" if w.start and w.end and w.start != w.end else str(w.start or w.end or "")


def build_view(doc: MetricsDocument, history: Sequence[MetricsDocument], provenance: Mapping[str, Any], *,
               chart: Optional[ChartFn], spark: Optional[SparkFn], trend_runs: int) -> tuple[dict, dict[str, bytes]]:
    """The templates' variables and the images they reference by cid."""
    images: dict[str, bytes] = {}
    status = doc.status if doc.status in STATUS_COLORS else ("alert" if doc.status == "critical" else "warning")
    quiet = status == "ok"
    new, ongoing, resolved = _alert_rows(doc, history)
    business = business_section(doc)
    rows = doc.rows
    accent, pale = STATUS_COLORS[status]
    view = {
        "status": status, "tag": STATUS_TAG[status], "accent": accent, "pale": pale, "quiet": quiet,
        "monitor": doc.monitor or "monitor", "date": doc.date or "", "window": _window(doc),
        "rows_today": fmt_int(rows.current) if rows and rows.current is not None else None,
        "rows_labelled": fmt_int(rows.labelled) if rows and rows.labelled is not None else None,
        "glance": glance(doc, new, ongoing, business),
        "new": new, "ongoing": ongoing, "resolved": resolved,
        "links": _links(doc), "business": business,
        "performance": performance_section(doc.performance), "cohorts": cohorts_section(doc, quiet),
        "drift": drift_section(doc.drift, images, chart), "quality": quality_section(doc.quality),
        "trends": trends_section(doc, history, images, spark, trend_runs),
        "failures": None if quiet else _failures(doc),
        "provenance": _provenance(doc, provenance),
        "max_charts": MAX_DRIFT_CHARTS,
        "errors": _stage_errors(doc),
    }
    return view, images

