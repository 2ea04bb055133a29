"""The body's sections, each from its part of the metrics document to the plain dicts the templates
show: performance, cohorts, drift, data quality, business. A section with nothing to say is None."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Optional

from monitor.document import Business, ColumnDrift, Drift, Guardrail, MetricResult, MetricsDocument, Performance, Quality
from monitor.report.facts import badness, higher_is_better, model_output_drift, money_facts, overall_metrics
from monitor.report.format import DASH, fmt_delta, fmt_int, fmt_money, fmt_num, fmt_p, fmt_pct, method_name, metric_name

__all__ = ["performance_section", "cohorts_section", "drift_section", "quality_section", "business_section",
           "MAX_DRIFT_CHARTS", "MAX_COHORT_ROWS"]

MAX_DRIFT_CHARTS = 12  # charts beyond this are listed as rows only: keeps the email small
MAX_COHORT_ROWS = 8
ChartFn = Callable[[dict[str, Any]], tuple[Optional[bytes], Optional[str]]]  # histogram -> (png, note)


def _ci(info: MetricResult) -> str:
    return f"{fmt_num(info.ci_low)}\u2013{fmt_num(info.ci_high)}" if info.ci_low is not None and info.ci_high is not None else DASH


def metric_row(m: str, info: MetricResult, overall: dict[str, MetricResult]) -> dict[str, Any]:
    worse = info.delta is not None and ((info.delta < 0) if higher_is_better(m, info, overall) else (info.delta > 0))
    return {
        "key": m, "name": metric_name(m), "value": fmt_num(info.value), "baseline": fmt_num(info.baseline),
        "delta": fmt_delta(info.delta), "worse": worse, "regressed": info.regressed, "ci": _ci(info),
        "p": fmt_p(info.p_value_adjusted if info.p_value_adjusted is not None else info.p_value),
        "human": fmt_num(info.human_level) if info.human_level is not None else None,
        "gap": fmt_delta(info.gap_to_human) if info.gap_to_human is not None else None,
        "too_few": info.verdict == "too few labels",
    }


def performance_section(perf: Optional[Performance]) -> Optional[dict[str, Any]]:
    if perf is None:
        return None
    rows = [metric_row(m, i, perf.overall) for m, i in perf.overall.items() if i.value is not None]
    estimated = [
        {"name": metric_name(m), "value": fmt_num(i.value), "method": method_name(i.method or "estimate"), "ci": _ci(i),
         "baseline": fmt_num(perf.overall[m].baseline) if m in perf.overall else DASH}
        for m, i in perf.estimated.items()
    ]
    if not rows and not estimated and perf.label_coverage is None:
        return None
    return {
        "notes": perf.notes[:5], "rows": rows, "estimated": estimated, "any_human": any(r["human"] for r in rows),
        "coverage": fmt_pct(perf.label_coverage, 0) if perf.label_coverage is not None else None,
        "labelled": fmt_int(perf.labelled) if perf.labelled is not None else None,
        "final": bool(perf.final),
    }


def _cohort_rows(doc: MetricsDocument) -> list[dict[str, Any]]:
    overall = overall_metrics(doc)
    rows = []
    for c in doc.cohorts:
        ms = c.metrics
        worst_m = max(ms, key=lambda m: (ms[m].regressed, badness(m, ms[m], overall)), default=None)
        cov = c.label_coverage
        rows.append({
            "cohort": c.cohort, "rows": fmt_int(c.rows),
            "labelled": fmt_int(c.labelled) + (f" ({fmt_pct(cov, 0)})" if cov is not None else ""),
            "too_small": c.too_small, "note": c.note or "",
            # a drop that is only the overlap with a worse cohort is shown, not counted as its own regression
            "regressed": any(i.regressed for i in ms.values()) and not c.explained_by,
            "explained_by": c.explained_by or "",
            "metric": metric_row(worst_m, ms[worst_m], overall) if worst_m else None,
            "_bad": badness(worst_m, ms[worst_m], overall) if worst_m else -1e9,
        })
    return rows


def cohorts_section(doc: MetricsDocument, quiet: bool) -> Optional[dict[str, Any]]:
    rows = _cohort_rows(doc)
    if not rows or (quiet and not any(r["regressed"] for r in rows)):
        return None
    for r in rows:
        if r["metric"] and r["metric"]["value"] == DASH:
            r["metric"], r["_bad"] = None, -1e9
    n_small = sum(r["too_small"] for r in rows)
    if not any(r["metric"] for r in rows):
        return {"rows": [], "more": 0, "n": len(rows), "n_regressed": 0, "n_small": n_small,
                "empty": "No cohort has labelled rows yet: cohort performance waits for labels."}
    rows.sort(key=lambda r: (not r["regressed"], r["metric"] is None, r["too_small"], -r["_bad"]))
    shown = rows[:MAX_COHORT_ROWS]
    return {"empty": None, "rows": shown, "more": len(rows) - len(shown), "n": len(rows),
            "n_regressed": sum(r["regressed"] for r in rows), "n_small": n_small}


def _drifted_entries(drift: Drift) -> list[tuple[str, ColumnDrift, str]]:
    """(label, result, kind): drifted model outputs first, then drifted features, most shifted first."""
    rank = {k: i for i, k in enumerate(drift.ranking)}
    drifted = sorted((k for k, v in drift.features.items() if v.drifted),
                     key=lambda k: (rank.get(k, len(rank)), -(drift.features[k].effect_size or 0.0)))
    entries = [(label, v, "model output" if label.startswith("prediction") else "label")
               for label, v in model_output_drift(drift) if v.drifted]
    return entries + [(k, drift.features[k], drift.features[k].kind or "") for k in drifted]


def drift_section(drift: Optional[Drift], images: dict[str, bytes], chart: Optional[ChartFn]) -> Optional[dict[str, Any]]:
    """`chart` draws one histogram (None: no charts); the first MAX_DRIFT_CHARTS drifted columns get one."""
    if drift is None:
        return None
    rows = []
    for i, (label, v, kind) in enumerate(_drifted_entries(drift)):
        cid, chart_note = None, None
        if chart is not None and i < MAX_DRIFT_CHARTS and v.histogram is not None:
            png, chart_note = chart(v.histogram.to_json())
            if png:
                cid = f"drift{i}"
                images[cid] = png
        p = v.p_value_adjusted if v.p_value_adjusted is not None else v.p_value
        rows.append({
            "name": label, "method": method_name(v.method), "kind": kind,
            "statistic": fmt_num(v.statistic), "threshold": fmt_num(v.threshold),
            "p": fmt_p(p) if p is not None else None, "effect": fmt_num(v.effect_size) if v.effect_size is not None else None,
            "note": "; ".join(n for n in (v.note or "", chart_note or "") if n), "cid": cid,
        })
    return {
        "skipped": [f"{k} ({v})" if v else k for k, v in drift.skipped.items()][:20],
        "rows": rows, "charted": [r for r in rows if r["cid"]], "others": [r for r in rows if not r["cid"]],
        "n_features": drift.n_features if drift.n_features is not None else len(drift.features),
        "n_drifted": drift.n_drifted if drift.n_drifted is not None else sum(v.drifted for v in drift.features.values()),
        "share": fmt_pct(drift.share_drifted, 0) if drift.share_drifted is not None else None,
        "dataset_drift": drift.dataset_drift, "n_charts": sum(1 for r in rows if r["cid"]),
        "beside": [line for line in (_joint_line(drift), _newest_day_line(drift)) if line],
    }


def _joint_line(drift: Drift) -> Optional[str]:
    """The domain classifier next to the per-column verdicts."""
    mv = drift.multivariate
    if mv is None:
        return None
    if mv.statistic is None:
        return f"Joint distribution (domain classifier): not judged ({mv.note or mv.verdict or 'not computed'})."
    auc = f"ROC AUC {fmt_num(mv.statistic)} (95% CI {fmt_num(mv.ci_low)}-{fmt_num(mv.ci_high)})"
    if not mv.drifted:
        return f"Joint distribution (domain classifier): no change, {auc}."
    lean = [t.column for t in mv.top_features[:3] if t.column]
    return (f"Joint distribution (domain classifier): changed, {auc} above {fmt_num(mv.threshold)}"
            f"{'; it leans on ' + ', '.join(lean) if lean else ''}.")


def _newest_day_line(drift: Drift) -> Optional[str]:
    nd = drift.newest_day
    if nd is None or nd.date is None:
        return None
    if nd.note:
        return f"Newest day {nd.date} on its own: {nd.note}."
    shifted = ", ".join(nd.drifted)
    return f"Newest day {nd.date} on its own ({nd.rows} rows): {'shifted: ' + shifted if shifted else 'no shift'}."


def quality_section(q: Optional[Quality]) -> Optional[dict[str, Any]]:
    if q is None:
        return None
    sev = {"critical": 0, "warning": 1}
    findings = sorted(
        ({"check": f.check.replace("_", " "), "subject": f.subject, "severity": f.severity, "message": f.message,
          "value": fmt_num(f.value) if f.value is not None else DASH,
          "threshold": fmt_num(f.threshold) if f.threshold is not None else DASH} for f in q.findings),
        key=lambda f: sev.get(f["severity"], 2))
    s = q.schema_
    changes = (("missing", s.missing), ("added", s.added), ("type changed", s.type_changed)) if s is not None else ()
    notes = [f"{label}: {', '.join(map(str, cols))}" for label, cols in changes if cols]
    if not findings and not notes:
        return None
    return {"findings": findings, "schema": notes}


def _guardrail_row(g: Guardrail) -> dict[str, Any]:
    bounds = " and ".join(x for x in (f"\u2265 {fmt_num(g.min)}" if g.min is not None else "",
                                      f"\u2264 {fmt_num(g.max)}" if g.max is not None else "") if x)
    return {
        "name": g.name or f"{g.stat or ''}({g.column or ''})", "column": g.column or "", "stat": g.stat or "",
        "value": fmt_num(g.value), "bounds": bounds or DASH, "breached": g.breached,
        "baseline": fmt_num(g.baseline) if g.baseline is not None else None,
        "state": "breached" if g.breached else g.status.replace("_", " "), "note": g.note or "",
    }


def business_section(doc: MetricsDocument) -> Optional[dict[str, Any]]:
    b: Optional[Business] = doc.business
    if b is None:
        return None
    out: dict[str, Any] = {"cost": None, "guardrails": [_guardrail_row(g) for g in b.guardrails], "findings": list(b.findings)}
    money = money_facts(doc)
    if money:
        cur = money.currency
        out["cost"] = {
            "framing": money.framing, "actual": fmt_money(money.actual, cur), "expected": fmt_money(money.expected, cur),
            "delta": fmt_money(money.delta, cur, signed=True), "worse": money.worse,
            "per_day": fmt_money(money.per_day, cur) if money.per_day is not None else None,
        }
    if out["cost"] is None and not out["guardrails"] and not out["findings"]:
        return None
    return out
