"""The first screen of the email: what is wrong, for whom, since when, what it costs."""

from __future__ import annotations

from typing import Any, Optional

from monitor.document import MetricsDocument
from monitor.report.facts import regressed_overall, worst_cohort
from monitor.report.format import fmt_int, fmt_num, metric_name, one_line

__all__ = ["glance"]

_SEVERITY_ORDER = {"critical": 0, "warning": 1}
_KIND_ORDER = ("no_data", "performance", "cohort", "volume", "quality", "drift", "business")


def _what(doc: MetricsDocument, alerts: list[dict], business: Optional[dict]) -> list[str]:
    """One line per kind of alert, the most severe kinds first; many drifted columns make one line."""
    by_kind: dict[str, list[dict]] = {}
    for a in sorted(alerts, key=lambda a: _SEVERITY_ORDER.get(a["severity"], 2)):
        by_kind.setdefault(a["kind"], []).append(a)
    if business and business.get("cost") and len(by_kind) > 1:  # told once, under "what it costs"
        by_kind.pop("business", None)
    regressed = [m for m, _ in regressed_overall(doc)]
    worst = worst_cohort(doc)
    prefer = {"performance": regressed[0] if regressed else None, "cohort": worst[0].cohort if worst else None}
    what = []
    for kind in sorted(by_kind, key=lambda k: (min(_SEVERITY_ORDER.get(a["severity"], 2) for a in by_kind[k]),
                                               _KIND_ORDER.index(k) if k in _KIND_ORDER else 9)):
        group = by_kind[kind]
        if kind == "drift" and len(group) > 1:
            names = [a["subject"] for a in group]
            what.append(f"{len(group)} columns drifted: {', '.join(names[:6])}{', ...' if len(names) > 6 else ''}")
            continue
        first = next((a for a in group if prefer.get(kind) and a["subject"] == prefer[kind]), group[0])
        line = one_line(first["message"] or f"{kind} {first['subject']}", 140)
        if len(group) > 1:
            noun = {"performance": "metric", "cohort": "cohort"}.get(kind, f"{kind} alert")
            line += f" (and {len(group) - 1} more {noun}{'s' if len(group) > 2 else ''})"
        what.append(line)
    return what[:4] + [f"and {len(what) - 4} more kinds of alert (below)"] if len(what) > 4 else what


def _whom(doc: MetricsDocument) -> list[str]:
    worst = worst_cohort(doc)
    total = doc.rows.current if doc.rows else None
    if worst:
        c, m, info = worst
        share = (c.rows or 0) / total if total else None
        who = f"cohort {c.cohort}: {fmt_int(c.rows)} rows" + (f" ({share:.0%} of today)" if share else "")
        return [who + f", {metric_name(m)} {fmt_num(info.value)} vs {fmt_num(info.baseline)} baseline"]
    if regressed_overall(doc) or (doc.drift is not None and doc.drift.dataset_drift):
        return ["all traffic (no single cohort stands out)"]
    return []


def _since_when(doc: MetricsDocument, new: list[dict], ongoing: list[dict]) -> list[str]:
    lines = []
    if new:
        lines.append(f"{len(new)} new today ({doc.date})")
    known = [a for a in ongoing if a.get("known_since")]
    if known:
        o = min(known, key=lambda a: str(a["since"]))
        lines.append(f"{len(ongoing)} ongoing, the oldest since {o['since']} ({o['runs']} runs): {o['kind']} {o['subject']}")
    elif ongoing:
        lines.append(f"{len(ongoing)} ongoing from the previous run")
    return lines


def _costs(business: Optional[dict]) -> list[str]:
    lines = []
    if business and business.get("cost"):
        c = business["cost"]
        what = "cost of errors" if c["framing"] == "cost" else "net value"
        lines.append(f"{c['actual']} {what} vs {c['expected']} expected at baseline ({c['delta']})")
    for g in (business or {}).get("guardrails", []):
        if g["breached"]:
            lines.append(f"guardrail {g['name']} = {g['value']} (allowed {g['bounds']})")
    return lines


def glance(doc: MetricsDocument, new: list[dict], ongoing: list[dict], business: Optional[dict]) -> list[dict[str, Any]]:
    """The first screen: labelled groups of lines; empty on a day without alerts."""
    if not new and not ongoing:
        return []
    groups = [("What is wrong", _what(doc, new + ongoing, business)), ("For whom", _whom(doc)),
              ("Since when", _since_when(doc, new, ongoing)), ("What it costs", _costs(business))]
    return [{"label": label, "lines": lines} for label, lines in groups if lines or label == "What is wrong"]
