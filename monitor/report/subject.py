"""The subject line: one line to triage from the inbox.

    [ALERT] car_loan 2026-11-25: ROC AUC -0.04 (cohort x -0.09), 3 features + prediction drifted, cost +$16,700
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Union

from monitor.document import MetricsDocument, read_document
from monitor.report.facts import drifted_count, model_output_drift, money_facts, regressed_overall, worst_cohort
from monitor.report.format import fmt_money, metric_name, one_line, short_delta

__all__ = ["subject_line", "SUBJECT_MAX", "STATUS_TAG"]

SUBJECT_MAX = 130
STATUS_TAG = {"ok": "OK", "warning": "WARNING", "alert": "ALERT", "no_data": "NO DATA", "failed": "FAILED"}


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' if n != 1 else ''}"


def _performance_part(doc: MetricsDocument) -> list[str]:
    regressed, worst = regressed_overall(doc), worst_cohort(doc)
    if regressed:
        m, info = regressed[0]
        part = f"{metric_name(m)} {short_delta(info.delta)}".strip()
        pick = worst_cohort(doc, m) or worst
        if pick:
            c, cm, cinfo = pick
            what = "" if cm == m else f" {metric_name(cm)}"
            part += f" (cohort {one_line(c.cohort, 40)}{what} {short_delta(cinfo.delta)})"
        return [part]
    if worst:
        c, cm, cinfo = worst
        return [f"{metric_name(cm)} {short_delta(cinfo.delta)} (cohort {one_line(c.cohort, 40)})"]
    return []


def _drift_part(doc: MetricsDocument) -> list[str]:
    if doc.drift is None:
        return []
    n = drifted_count(doc.drift)
    outputs = {label.split(" ")[0] for label, r in model_output_drift(doc.drift) if r.drifted}
    pred = " + prediction" if "prediction" in outputs else ""
    if n > 0:
        return [f"{_plural(n, 'feature')}{pred} drifted"]
    out = ["prediction drifted"] if pred else []
    # an incident that only the newest day or the joint test sees is named too, not left to the body
    day, mv = doc.drift.newest_day, doc.drift.multivariate
    if day is not None and day.drifted:
        more = f" +{len(day.drifted) - 2}" if len(day.drifted) > 2 else ""
        out.append(f"{day.date or 'newest day'} shifted ({', '.join(one_line(c, 30) for c in day.drifted[:2])}{more})")
    elif mv is not None and mv.drifted:
        top = f" ({one_line(mv.top_features[0].column or '', 30)})" if mv.top_features else ""
        out.append(f"joint drift{top}")
    return out


def _parts(doc: MetricsDocument) -> list[str]:
    parts: list[str] = []
    if doc.status == "no_data":
        nd = next((a for a in doc.alerts if a.kind == "no_data"), None)
        start, end = (doc.window.start or "", doc.window.end or "") if doc.window else ("", "")
        parts.append(one_line(nd.message) if nd else f"no rows for {start}..{end}".strip())
    parts += _performance_part(doc) + _drift_part(doc)
    money = money_facts(doc)
    if money and money.worse and money.delta is not None:
        parts.append(f"{money.framing} {fmt_money(money.delta, money.currency, signed=True)}")
    breached = [g for g in doc.business.guardrails if g.breached] if doc.business else []
    if breached:
        parts.append(f"{_plural(len(breached), 'guardrail')} breached")
    n_quality = sum(1 for a in doc.alerts if a.kind in ("quality", "volume"))
    if n_quality:
        parts.append(f"{_plural(n_quality, 'data-quality issue')}")
    if not parts:
        parts.append(one_line(doc.alerts[0].message, 90) if doc.alerts else "run failed" if doc.status == "failed" else "no issues")
    return parts


def subject_line(metrics: Union[MetricsDocument, Mapping[str, Any]]) -> str:
    """`[ALERT] car_loan 2026-11-25: ROC AUC -0.04 (cohort x), 3 features drifted`: whole parts, in priority order, while they fit."""
    doc = read_document(metrics)
    tag = STATUS_TAG.get(doc.status, doc.status.upper())
    head = one_line(f"[{tag}] {doc.monitor or 'monitor'} {doc.date or ''}").strip()
    parts = _parts(doc)
    kept = [one_line(parts[0], SUBJECT_MAX - len(head) - 2)]
    for part in parts[1:]:  # the email body has the rest
        if len(head) + 2 + len(", ".join(kept + [part])) > SUBJECT_MAX:
            break
        kept.append(part)
    return one_line(f"{head}: {', '.join(kept)}", SUBJECT_MAX)
