"""Render a run's metrics.json into the email (HTML + plain text + inline charts).

The input is the metrics dict of one run (the metrics.json contract) plus the previous
runs' dicts for trends and "since when". Every section is optional: a missing or None
part of the dict leaves its section out, it never raises. The templates only format;
what to show, in which order and how much of it is decided here, in `_view`.

    report = render_report(metrics, history=previous_runs, provenance=manifest_bits)
    report.subject, report.html (cid: images), report.text, report.images
    report.standalone_html()   # images inlined, for report.html in storage
"""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

__all__ = ["Report", "render_report", "render_failure", "subject_line", "TEMPLATES_DIR", "MAX_DRIFT_CHARTS"]

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"  # shipped inside the package
MAX_DRIFT_CHARTS = 12  # charts beyond this are listed as rows only: keeps the email small
MAX_COHORT_ROWS = 8
MAX_DRIFT_ALERT_ROWS = 6  # more drift alerts than this are listed as one row in "what changed"
MAX_WORST_ROWS = 10
MAX_WORST_COLUMNS = 8
SUBJECT_MAX = 130

_STATUS_TAG = {"ok": "OK", "warning": "WARNING", "alert": "ALERT", "no_data": "NO DATA", "failed": "FAILED"}
# (accent colour, pale background) per status
_STATUS_COLORS = {
    "ok": ("#15803d", "#dcfce7"),
    "warning": ("#b45309", "#fef3c7"),
    "alert": ("#b91c1c", "#fee2e2"),
    "no_data": ("#4b5563", "#e5e7eb"),
    "failed": ("#7f1d1d", "#fecaca"),
}
_METRIC_NAMES = {
    "roc_auc": "ROC AUC", "pr_auc": "PR AUC", "average_precision": "avg precision", "accuracy": "accuracy",
    "balanced_accuracy": "balanced accuracy", "f1": "F1", "f1_macro": "F1 macro", "f1_micro": "F1 micro",
    "f1_weighted": "F1 weighted", "precision": "precision", "recall": "recall", "log_loss": "log loss",
    "brier": "Brier", "mae": "MAE", "rmse": "RMSE", "mse": "MSE", "mape": "MAPE", "r2": "R\u00b2",
}
_LOWER_IS_BETTER = {"log_loss", "brier", "mae", "rmse", "mse", "mape"}
_METHOD_NAMES = {
    "ks": "K-S", "psi": "PSI", "wasserstein": "Wasserstein", "chisquare": "chi-square", "chi2": "chi-square",
    "jensenshannon": "Jensen-Shannon", "js": "Jensen-Shannon", "kl_div": "KL divergence", "hellinger": "Hellinger",
    "z": "z-test", "ztest": "z-test", "fisher_exact": "Fisher exact", "g_test": "G-test", "tvd": "TVD",
    "energy": "energy distance", "anderson": "Anderson-Darling", "cramer_von_mises": "Cram\u00e9r-von Mises",
    "empirical_mmd": "MMD", "t_test": "t-test", "mannw": "Mann-Whitney", "cbpe": "CBPE", "dle": "DLE",
}


@dataclass(frozen=True)
class Report:
    """One rendered email: subject, HTML (with `cid:` images), plain text and the images by cid."""

    subject: str
    html: str
    text: str
    images: Mapping[str, bytes] = field(default_factory=dict)
    monitor: str = ""
    date: Optional[str] = None
    status: str = ""

    def standalone_html(self) -> str:
        """The same HTML with every `cid:` image inlined as a data: URI (for report.html in storage)."""
        html = self.html
        for cid, data in self.images.items():
            uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
            html = html.replace(f'src="cid:{cid}"', f'src="{uri}"')
        return html


# --------------------------------------------------------------------------- formatting


def _num(x: Any) -> Optional[float]:
    if isinstance(x, bool) or x is None:
        return None
    try:
        f = float(x)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def fmt_num(x: Any, digits: int = 3) -> str:
    if isinstance(x, bool):
        return str(x).lower()
    f = _num(x)
    if f is None:
        return x if isinstance(x, str) else "\u2013"
    if isinstance(x, int) or (f.is_integer() and abs(f) >= 1000):
        return f"{int(f):,}"
    if f != 0 and abs(f) < 10 ** (-digits):
        return f"{f:.1e}"
    if abs(f) >= 1000:
        return f"{f:,.0f}"
    if abs(f) >= 10:  # a latency or an amount: no spurious trailing zeros
        return f"{f:.{1 if abs(f) >= 100 else 2}f}".rstrip("0").rstrip(".")
    return f"{f:.{digits}f}"


def fmt_int(x: Any) -> str:
    f = _num(x)
    return "\u2013" if f is None else f"{int(round(f)):,}"


def fmt_delta(x: Any, digits: int = 3) -> str:
    f = _num(x)
    if f is None:
        return "\u2013"
    if f != 0 and abs(f) < 10 ** (-digits):
        return f"{f:+.1e}"
    return f"{f:+.{digits}f}"


def fmt_pct(x: Any, digits: int = 1) -> str:
    f = _num(x)
    return "\u2013" if f is None else f"{f * 100:.{digits}f}%"


def fmt_p(x: Any) -> str:
    f = _num(x)
    if f is None:
        return "\u2013"
    if f < 1e-3:
        return f"{f:.0e}" if f > 0 else "<1e-300"
    return f"{f:.3f}" if f < 0.1 else f"{f:.2f}"


def fmt_money(x: Any, currency: str = "$", signed: bool = False) -> str:
    f = _num(x)
    if f is None:
        return "\u2013"
    sign = ("+" if f > 0 else "-" if f < 0 else "") if signed else ("-" if f < 0 else "")
    body = f"{abs(f):,.0f}" if abs(f) >= 100 else f"{abs(f):,.2f}"
    cur = currency or ""
    return f"{sign}{cur}{body}" if len(cur) <= 1 else f"{sign}{body} {cur}"


def metric_name(key: Any) -> str:
    return _METRIC_NAMES.get(str(key), str(key).replace("_", " "))


def method_name(key: Any) -> str:
    return _METHOD_NAMES.get(str(key).lower(), str(key)) if key else "\u2013"


def _one_line(s: Any, limit: int = 0) -> str:
    text = re.sub(r"[\r\n\t\v\f\x00-\x1f\x7f\u2028\u2029]+", " ", str(s if s is not None else "")).strip()
    text = re.sub(r" {2,}", " ", text)
    if limit and len(text) > limit:
        text = text[: limit - 1].rstrip() + "\u2026"
    return text


def _d(x: Any) -> dict:
    return x if isinstance(x, dict) else {}


def _l(x: Any) -> list:
    return list(x) if isinstance(x, (list, tuple)) else []


def _higher_is_better(metric: str, info: Mapping) -> bool:
    hib = info.get("higher_is_better") if isinstance(info, Mapping) else None
    return bool(hib) if isinstance(hib, bool) else metric not in _LOWER_IS_BETTER


def _badness(metric: str, info: Mapping, overall: Mapping) -> float:
    """How much worse than baseline (positive = worse), in the metric's own units."""
    delta = _num(_d(info).get("delta"))
    if delta is None:
        return 0.0
    hib = _higher_is_better(metric, _d(overall.get(metric)) or info)
    return -delta if hib else delta


# --------------------------------------------------------------------------- business money, either shape


def _money_facts(metrics: Mapping) -> Optional[dict]:
    """Normalise the business money block to {framing, actual, expected, delta, worse, per_day, currency}.

    Accepts `business.cost` {actual, expected_at_baseline, delta (+ = more cost)} and the
    business stage's `business.money` {value, expected_at_baseline_rate, change, direction}
    where money is signed (negative = cost). A net cost is shown as a positive cost.
    """
    b = _d(metrics.get("business"))
    cur = str(b.get("currency") or "$")
    cost = _d(b.get("cost"))
    if cost and any(_num(cost.get(k)) is not None for k in ("actual", "expected_at_baseline", "delta")):
        actual, expected, delta = _num(cost.get("actual")), _num(cost.get("expected_at_baseline")), _num(cost.get("delta"))
        if delta is None and actual is not None and expected is not None:
            delta = actual - expected
        return {"framing": "cost", "actual": actual, "expected": expected, "delta": delta, "worse": (delta or 0) > 0,
                "per_day": _num(cost.get("per_day")), "currency": str(cost.get("currency") or cur)}
    money = _d(b.get("money"))
    value = _num(money.get("value"))
    if value is None or money.get("labelled") == 0:  # no labels yet: no money figure to show
        return None
    expected = _num(money.get("expected_at_baseline_rate", money.get("expected_at_baseline")))
    change = _num(money.get("change"))
    if change is None and expected is not None:
        change = value - expected
    worse = money.get("direction") == "worse" if money.get("direction") in ("worse", "better") else (change or 0) < 0
    if value <= 0 and (expected is None or expected <= 0):  # a cost: show it as a positive amount
        neg = lambda x: None if x is None else -x  # noqa: E731
        return {"framing": "cost", "actual": -value, "expected": neg(expected), "delta": neg(change), "worse": worse,
                "per_day": neg(_num(money.get("per_day"))), "currency": cur}
    return {"framing": "value", "actual": value, "expected": expected, "delta": change, "worse": worse,
            "per_day": _num(money.get("per_day")), "currency": cur}


def _breached(g: Mapping) -> bool:
    return g.get("breached") is True or str(g.get("status") or "").lower() in ("breached", "violated", "fail", "failed")


def _model_output_drift(drift: Mapping) -> list[tuple[str, dict]]:
    """(label, result) for prediction and target drift: one result, or one per column."""
    out = []
    for role in ("prediction", "target"):
        v = drift.get(role)
        if not isinstance(v, dict):
            continue
        if "drifted" in v or "method" in v or "statistic" in v:
            out.append((role, v))
        else:
            out += [(f"{role} {col}", r) for col, r in v.items() if isinstance(r, dict)]
    return out


# --------------------------------------------------------------------------- subject


def _worst_cohort(metrics: Mapping, metric: Optional[str] = None) -> Optional[tuple[dict, str, dict]]:
    """The regressed cohort metric (of `metric`, if given) furthest below its baseline: (cohort, metric, info)."""
    overall = _d(_d(metrics.get("performance")).get("overall"))
    best: Optional[tuple[float, dict, str, dict]] = None
    for c in _l(metrics.get("cohorts")):
        if not isinstance(c, dict):
            continue
        for m, info in _d(c.get("metrics")).items():
            if isinstance(info, dict) and info.get("regressed") and (metric is None or m == metric):
                bad = _badness(m, info, overall)
                if best is None or bad > best[0]:
                    best = (bad, c, m, info)
    return None if best is None else best[1:]


def _regressed_overall(metrics: Mapping) -> list[tuple[str, dict]]:
    overall = _d(_d(metrics.get("performance")).get("overall"))
    out = [(m, i) for m, i in overall.items() if isinstance(i, dict) and i.get("regressed")]
    return sorted(out, key=lambda mi: -_badness(mi[0], mi[1], overall))


def _short_delta(x: Any) -> str:
    f = _num(x)
    if f is None:
        return ""
    return f"{f:+.2f}" if abs(f) >= 0.01 else f"{f:+.3f}"


def subject_line(metrics: Mapping) -> str:
    """One line to triage from the inbox: `[ALERT] car_loan 2026-11-25: ROC AUC -0.04 (cohort x), 3 features drifted`."""
    metrics = _d(metrics)
    status = str(metrics.get("status") or "ok")
    tag = _STATUS_TAG.get(status, status.upper())
    head = _one_line(f"[{tag}] {metrics.get('monitor') or 'monitor'} {metrics.get('date') or ''}").strip()
    alerts = [a for a in _l(metrics.get("alerts")) if isinstance(a, dict)]
    parts: list[str] = []
    if status == "no_data":
        nd = next((a for a in alerts if a.get("kind") == "no_data"), None)
        w = _d(metrics.get("window"))
        parts.append(_one_line(nd.get("message")) if nd else f"no rows for {w.get('start') or ''}..{w.get('end') or ''}".strip())
    regressed = _regressed_overall(metrics)
    worst = _worst_cohort(metrics)
    if regressed:
        m, info = regressed[0]
        part = f"{metric_name(m)} {_short_delta(info.get('delta'))}".strip()
        same = _worst_cohort(metrics, m)
        if same or worst:
            c, cm, cinfo = same or worst
            what = "" if cm == m else f" {metric_name(cm)}"
            part += f" (cohort {_one_line(c.get('cohort'), 40)}{what} {_short_delta(cinfo.get('delta'))})"
        parts.append(part)
    elif worst:
        c, cm, cinfo = worst
        parts.append(f"{metric_name(cm)} {_short_delta(cinfo.get('delta'))} (cohort {_one_line(c.get('cohort'), 40)})")
    drift = _d(metrics.get("drift"))
    n_drifted = drift.get("n_drifted")
    if n_drifted is None and drift.get("features"):
        n_drifted = sum(1 for f in _d(drift.get("features")).values() if isinstance(f, dict) and f.get("drifted"))
    outputs = {label.split(" ")[0] for label, r in _model_output_drift(drift) if r.get("drifted")}
    pred = " + prediction" if "prediction" in outputs else ""
    if isinstance(n_drifted, int) and n_drifted > 0:
        parts.append(f"{n_drifted} feature{'s' if n_drifted != 1 else ''}{pred} drifted")
    elif pred:
        parts.append("prediction drifted")
    money = _money_facts(metrics)
    if money and money["worse"] and money["delta"] is not None:
        parts.append(f"{money['framing']} {fmt_money(money['delta'], money['currency'], signed=True)}")
    breached = [g for g in _l(_d(metrics.get("business")).get("guardrails")) if isinstance(g, dict) and _breached(g)]
    if breached:
        parts.append(f"{len(breached)} guardrail{'s' if len(breached) != 1 else ''} breached")
    n_quality = sum(1 for a in alerts if a.get("kind") in ("quality", "volume"))
    if n_quality:
        parts.append(f"{n_quality} data-quality issue{'s' if n_quality != 1 else ''}")
    if not parts:
        if alerts:
            parts.append(_one_line(alerts[0].get("message"), 90))
        elif status == "failed":
            parts.append("run failed")
        else:
            parts.append("no issues")
    # whole parts in priority order while they fit; the email body has the rest
    kept = [_one_line(parts[0], SUBJECT_MAX - len(head) - 2)]
    for part in parts[1:]:
        if len(head) + 2 + len(", ".join(kept + [part])) > SUBJECT_MAX:
            break
        kept.append(part)
    return _one_line(f"{head}: {', '.join(kept)}", SUBJECT_MAX)


# --------------------------------------------------------------------------- view model


def _since(alert: Mapping, history: Sequence[Mapping], today: Optional[str]) -> tuple[Optional[str], int]:
    """First date of the unbroken run of previous runs raising the same (kind, subject), and the run count."""
    key = (alert.get("kind"), alert.get("subject"))
    since, runs = today, 1
    if alert.get("new", True):
        return since, runs
    for h in reversed(history):
        keys = {(a.get("kind"), a.get("subject")) for a in _l(_d(h).get("alerts")) if isinstance(a, dict)}
        if key not in keys:
            break
        since, runs = h.get("date") or since, runs + 1
    return since, runs


def _alert_rows(metrics: Mapping, history: Sequence[Mapping]) -> tuple[list[dict], list[dict], list[dict]]:
    today = metrics.get("date")
    sev_order = {"critical": 0, "warning": 1}
    new, ongoing = [], []
    for a in _l(metrics.get("alerts")):
        if not isinstance(a, dict):
            continue
        since, runs = _since(a, history, today)
        row = {
            "kind": str(a.get("kind") or ""), "subject": str(a.get("subject") or ""),
            "severity": str(a.get("severity") or "warning"), "message": str(a.get("message") or ""),
            "since": since, "runs": runs, "known_since": not a.get("new", True) and bool(history),
        }
        (new if a.get("new", True) else ongoing).append(row)
    resolved = [  # what it was, briefly: the details are in the previous report
        {"kind": str(a.get("kind") or ""), "subject": str(a.get("subject") or ""),
         "severity": str(a.get("severity") or "warning"), "message": _one_line(a.get("message"), 110)}
        for a in _l(metrics.get("resolved")) if isinstance(a, dict)
    ]
    key = lambda r: (sev_order.get(r["severity"], 2), r["kind"], r["subject"])  # noqa: E731
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


def _metric_row(m: str, info: Mapping, overall: Mapping) -> dict:
    hib = _higher_is_better(m, _d(overall.get(m)) or info)
    delta = _num(info.get("delta"))
    worse = delta is not None and ((delta < 0) if hib else (delta > 0))
    return {
        "key": m, "name": metric_name(m), "value": fmt_num(info.get("value")), "baseline": fmt_num(info.get("baseline")),
        "delta": fmt_delta(info.get("delta")), "worse": worse, "regressed": bool(info.get("regressed")),
        "ci": (f"{fmt_num(info.get('ci_low'))}\u2013{fmt_num(info.get('ci_high'))}"
               if _num(info.get("ci_low")) is not None and _num(info.get("ci_high")) is not None else "\u2013"),
        "p": fmt_p(info.get("p_value_adjusted") if info.get("p_value_adjusted") is not None else info.get("p_value")),
        "human": fmt_num(info.get("human_level")) if info.get("human_level") is not None else None,
        "gap": fmt_delta(info.get("gap_to_human")) if info.get("gap_to_human") is not None else None,
        "too_few": info.get("verdict") == "too few labels",
    }


def _performance(metrics: Mapping) -> Optional[dict]:
    perf = metrics.get("performance")
    if not isinstance(perf, dict):
        return None
    overall = _d(perf.get("overall"))
    rows = [_metric_row(m, i, overall) for m, i in overall.items() if isinstance(i, dict) and _num(i.get("value")) is not None]
    estimated = [
        {"name": metric_name(m), "value": fmt_num(i.get("value")), "method": method_name(i.get("method") or "estimate"),
         "ci": (f"{fmt_num(i.get('ci_low'))}\u2013{fmt_num(i.get('ci_high'))}"
                if _num(i.get("ci_low")) is not None and _num(i.get("ci_high")) is not None else "\u2013"),
         "baseline": fmt_num(_d(overall.get(m)).get("baseline")) if overall.get(m) else "\u2013"}
        for m, i in _d(perf.get("estimated")).items() if isinstance(i, dict)
    ]
    if not rows and not estimated and perf.get("label_coverage") is None:
        return None
    return {
        "notes": [str(n) for n in _l(perf.get("notes"))][:5],
        "rows": rows, "estimated": estimated, "any_human": any(r["human"] for r in rows),
        "coverage": fmt_pct(perf.get("label_coverage"), 0) if perf.get("label_coverage") is not None else None,
        "labelled": fmt_int(perf.get("labelled")) if perf.get("labelled") is not None else None,
        "final": bool(perf.get("final")),
    }


def _cohorts(metrics: Mapping, quiet: bool) -> Optional[dict]:
    cohorts = [c for c in _l(metrics.get("cohorts")) if isinstance(c, dict)]
    if not cohorts:
        return None
    overall = _d(_d(metrics.get("performance")).get("overall"))
    rows = []
    for c in cohorts:
        ms = {m: i for m, i in _d(c.get("metrics")).items() if isinstance(i, dict)}
        worst_m = max(ms, key=lambda m: (bool(ms[m].get("regressed")), _badness(m, ms[m], overall)), default=None)
        cov = c.get("label_coverage")
        labelled = fmt_int(c.get("labelled")) + (f" ({fmt_pct(cov, 0)})" if isinstance(cov, (int, float)) else "")
        row = {
            "cohort": str(c.get("cohort") or ""), "rows": fmt_int(c.get("rows")), "labelled": labelled,
            "too_small": bool(c.get("too_small")), "note": str(c.get("note") or ""),
            # a drop that is only the overlap with a worse cohort is shown, not counted as its own regression
            "regressed": any(bool(i.get("regressed")) for i in ms.values()) and not c.get("explained_by"),
            "explained_by": str(c.get("explained_by") or ""),
            "metric": _metric_row(worst_m, ms[worst_m], overall) if worst_m else None,
            "_bad": _badness(worst_m, ms[worst_m], overall) if worst_m else -1e9,
        }
        rows.append(row)
    if quiet and not any(r["regressed"] for r in rows):
        return None
    for r in rows:
        if r["metric"] and r["metric"]["value"] == "\u2013":
            r["metric"], r["_bad"] = None, -1e9
    judged = [r for r in rows if r["metric"]]
    if not judged:
        return {"rows": [], "more": 0, "n": len(rows), "n_regressed": 0, "n_small": sum(r["too_small"] for r in rows),
                "empty": "No cohort has labelled rows yet: cohort performance waits for labels."}
    rows.sort(key=lambda r: (not r["regressed"], r["metric"] is None, r["too_small"], -r["_bad"]))
    shown = rows[:MAX_COHORT_ROWS]
    return {"empty": None, "rows": shown, "more": len(rows) - len(shown), "n": len(rows),
            "n_regressed": sum(r["regressed"] for r in rows), "n_small": sum(r["too_small"] for r in rows)}


def _drift(metrics: Mapping, images: dict, charts: bool) -> Optional[dict]:
    drift = metrics.get("drift")
    if not isinstance(drift, dict):
        return None
    feats = {str(k): v for k, v in _d(drift.get("features")).items() if isinstance(v, dict)}
    n_features = drift.get("n_features") if isinstance(drift.get("n_features"), int) else len(feats)
    drifted = [k for k, v in feats.items() if v.get("drifted")]
    n_drifted = drift.get("n_drifted") if isinstance(drift.get("n_drifted"), int) else len(drifted)
    rank = {str(k): i for i, k in enumerate(_l(drift.get("ranking")))}
    drifted.sort(key=lambda k: (rank.get(k, len(rank)), -(_num(feats[k].get("effect_size")) or 0.0)))
    entries: list[tuple[str, str, dict]] = []
    for label, v in _model_output_drift(drift):
        if v.get("drifted"):
            entries.append((label, label, dict(v, kind="model output" if label.startswith("prediction") else "label")))
    entries += [(k, k, feats[k]) for k in drifted]
    rows = []
    for i, (label, _key, v) in enumerate(entries):
        cid = None
        if charts and i < MAX_DRIFT_CHARTS and isinstance(v.get("histogram"), dict):
            from monitor.report.charts import distribution_png

            png = distribution_png(v["histogram"])
            if png:
                cid = f"drift{i}"
                images[cid] = png
        p = v.get("p_value_adjusted") if v.get("p_value_adjusted") is not None else v.get("p_value")
        rows.append({
            "name": label, "method": method_name(v.get("method")), "kind": str(v.get("kind") or ""),
            "statistic": fmt_num(v.get("statistic")), "threshold": fmt_num(v.get("threshold")),
            "p": fmt_p(p) if p is not None else None, "effect": fmt_num(v.get("effect_size")) if v.get("effect_size") is not None else None,
            "note": str(v.get("note") or ""), "cid": cid,
        })
    skipped = drift.get("skipped")
    if isinstance(skipped, dict):
        skipped = [f"{k} ({v})" if v else str(k) for k, v in skipped.items()]
    return {
        "skipped": [str(x) for x in _l(skipped)][:20],
        "rows": rows, "charted": [r for r in rows if r["cid"]], "others": [r for r in rows if not r["cid"]], "n_features": n_features, "n_drifted": n_drifted,
        "share": fmt_pct(drift.get("share_drifted"), 0) if drift.get("share_drifted") is not None else None,
        "dataset_drift": drift.get("dataset_drift"), "n_charts": sum(1 for r in rows if r["cid"]),
    }


def _quality(metrics: Mapping) -> Optional[dict]:
    q = metrics.get("quality")
    if not isinstance(q, dict):
        return None
    sev = {"critical": 0, "warning": 1}
    findings = [
        {"check": str(f.get("check") or "").replace("_", " "), "subject": str(f.get("subject") or ""),
         "severity": str(f.get("severity") or "warning"), "message": str(f.get("message") or ""),
         "value": fmt_num(f.get("value")) if f.get("value") is not None else "\u2013",
         "threshold": fmt_num(f.get("threshold")) if f.get("threshold") is not None else "\u2013"}
        for f in _l(q.get("findings")) if isinstance(f, dict)
    ]
    findings.sort(key=lambda f: sev.get(f["severity"], 2))
    schema = _d(q.get("schema"))
    schema_notes = []
    for k in ("missing", "extra", "type_changed"):
        v = schema.get(k)
        if v:
            schema_notes.append(f"{k.replace('_', ' ')}: {', '.join(map(str, v if isinstance(v, list) else [v]))}")
    if not findings and not schema_notes:
        return None
    return {"findings": findings, "schema": schema_notes}


def _business(metrics: Mapping) -> Optional[dict]:
    b = metrics.get("business")
    if not isinstance(b, dict):
        return None
    out: dict[str, Any] = {"cost": None, "guardrails": [],
                           "findings": [str(f.get("message", f)) if isinstance(f, dict) else str(f) for f in _l(b.get("findings"))]}
    money = _money_facts(metrics)
    if money:
        cur = money["currency"]
        out["cost"] = {
            "framing": money["framing"],
            "actual": fmt_money(money["actual"], cur), "expected": fmt_money(money["expected"], cur),
            "delta": fmt_money(money["delta"], cur, signed=True), "worse": money["worse"],
            "per_day": fmt_money(money["per_day"], cur) if money["per_day"] is not None else None,
        }
    for g in _l(b.get("guardrails")):
        if not isinstance(g, dict):
            continue
        lo, hi = g.get("min"), g.get("max")
        bounds = " and ".join(x for x in (f"\u2265 {fmt_num(lo)}" if lo is not None else "",
                                          f"\u2264 {fmt_num(hi)}" if hi is not None else "") if x)
        out["guardrails"].append({
            "name": str(g.get("name") or f"{g.get('stat') or ''}({g.get('column') or ''})"),
            "column": str(g.get("column") or ""), "stat": str(g.get("stat") or ""),
            "value": fmt_num(g.get("value")), "bounds": bounds or "\u2013", "breached": _breached(g),
            "baseline": fmt_num(g.get("baseline")) if g.get("baseline") is not None else None,
            "state": "breached" if _breached(g) else str(g.get("status") or "ok").replace("_", " "),
            "note": str(g.get("note") or ""),
        })
    if out["cost"] is None and not out["guardrails"] and not out["findings"]:
        return None
    return out


def _series(history: Sequence[Mapping], metrics: Mapping, getter) -> list[Optional[float]]:
    out = []
    for h in list(history) + [metrics]:
        try:
            out.append(_num(getter(_d(h))))
        except (AttributeError, KeyError, TypeError, IndexError):
            out.append(None)
    return out


def _trends(metrics: Mapping, history: Sequence[Mapping], images: dict, charts: bool, runs: int) -> Optional[dict]:
    history = [h for h in history if isinstance(h, dict)][-(max(runs, 2) - 1):]
    if not history:
        return None
    overall = _d(_d(metrics.get("performance")).get("overall"))
    headline = next(iter(overall), None)
    if headline is None:  # no labels today: take the metric the history knows
        for h in reversed(history):
            headline = next(iter(_d(_d(h.get("performance")).get("overall"))), None)
            if headline:
                break
    specs = []
    if headline:
        specs.append((metric_name(headline), "trend_metric",
                      lambda h: h["performance"]["overall"][headline]["value"], lambda v: fmt_num(v)))
    specs.append(("drift share", "trend_drift", lambda h: h["drift"]["share_drifted"], lambda v: fmt_pct(v, 0)))
    specs.append(("rows", "trend_rows", lambda h: h["rows"]["current"], fmt_int))
    from_date = history[0].get("date")
    items = []
    for label, cid, get, fmt in specs:
        values = _series(history, metrics, get)
        present = [v for v in values if v is not None]
        if len(present) < 2:
            continue
        png = None
        if charts:
            from monitor.report.charts import sparkline_png

            png = sparkline_png(values)
        if png:
            images[cid] = png
        items.append({"label": label, "cid": cid if png else None,
                      "last": fmt(values[-1]) if values[-1] is not None else f"\u2013 today (last {fmt(present[-1])})",
                      "min": fmt(min(present)), "max": fmt(max(present)), "n": len(values),
                      "spark": _text_spark(values)})
    if not items:
        return None
    return {"items": items, "from": from_date, "to": metrics.get("date"), "n": len(history) + 1}


def _text_spark(values: Sequence[Optional[float]]) -> str:
    bars = "\u2581\u2582\u2583\u2584\u2585\u2586\u2587\u2588"
    present = [v for v in values if v is not None]
    lo, hi = min(present), max(present)
    return "".join(" " if v is None else bars[0 if hi == lo else int((v - lo) / (hi - lo) * 7)] for v in values)


def _failures(metrics: Mapping) -> Optional[dict]:
    analysis = _d(metrics.get("analysis"))
    rows = [r for r in _l(analysis.get("worst_rows")) if isinstance(r, dict)][:MAX_WORST_ROWS]
    if not rows:
        return None
    rows = [{**{k: v for k, v in r.items() if k != "features"}, **_d(r.get("features"))} for r in rows]
    first = ["id", "label", "prediction", "score", "loss"]
    cols = [c for c in first if any(c in r for r in rows)]
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

    table = [[cell(c, r.get(c)) for c in cols] for r in rows]
    return {"columns": cols, "rows": table, "annotate": analysis.get("to_annotate_uri") or _d(metrics.get("links")).get("to_annotate")}


def _links(metrics: Mapping) -> list[dict]:
    names = {"report": "Full report", "evidently": "Evidently deep-dive", "to_annotate": "Rows to annotate"}
    out = []
    for k, v in _d(metrics.get("links")).items():
        if not v or not isinstance(v, str):
            continue
        is_url = bool(re.match(r"^https?://", v, re.I))
        out.append({"label": names.get(k, str(k).replace("_", " ")), "href": v if is_url else None, "text": v})
    return out


def _provenance(metrics: Mapping, provenance: Optional[Mapping]) -> dict:
    p = _d(provenance)
    inputs = []
    for i in _l(p.get("inputs")):
        if not isinstance(i, dict):
            continue
        version = i.get("etag") or i.get("mtime")
        inputs.append({"role": str(i.get("role") or ""), "uri": str(i.get("uri") or ""), "size": _size(i.get("size")),
                       "version": str(version) if version is not None else "\u2013",
                       "rows": fmt_int(i.get("rows")) if i.get("rows") is not None else "\u2013"})
    rows = _d(metrics.get("rows"))
    facts = []
    for label, value in (
        ("rows today / reference / labelled",
         " / ".join(fmt_int(rows.get(k)) for k in ("current", "reference", "labelled")) if rows else None),
        ("config hash", p.get("config_hash")), ("code version", p.get("code_version")),
        ("run time", f"{_num(p.get('run_seconds')):.1f} s" if _num(p.get("run_seconds")) is not None else None),
        ("generated at", p.get("generated_at")), ("metrics schema", metrics.get("schema_version")),
    ):
        if value not in (None, ""):
            facts.append({"label": label, "value": str(value)})
    return {"inputs": inputs, "facts": facts}


def _size(x: Any) -> str:
    f = _num(x)
    if f is None:
        return "\u2013"
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if f < 1000 or unit == "TB":
            return f"{f:.0f} {unit}" if unit == "B" else f"{f:.1f} {unit}"
        f /= 1000
    return "\u2013"


def _stage_errors(metrics: Mapping) -> list[str]:
    """Stages that raised during the run: the report is partial and says so at the top."""
    out = []
    for key in ("errors", "cohort_errors"):
        for e in _l(metrics.get(key)):
            if isinstance(e, dict):
                out.append(f"{e.get('stage') or e.get('cohort') or key}: {e.get('error') or e.get('message') or ''}".strip())
            elif e:
                out.append(str(e))
    return out[:10]


def _glance(metrics: Mapping, new: list, ongoing: list, business: Optional[dict]) -> list[dict]:
    """The first screen: what is wrong, for whom, since when, what it costs."""
    out: list[dict] = []
    alerts = new + ongoing
    if not alerts:
        return out
    sev = {"critical": 0, "warning": 1}
    order = ("no_data", "performance", "cohort", "volume", "quality", "drift", "business")
    by_kind: dict[str, list[dict]] = {}
    for a in sorted(alerts, key=lambda a: sev.get(a["severity"], 2)):
        by_kind.setdefault(a["kind"], []).append(a)
    if business and business.get("cost") and len(by_kind) > 1:  # told once, under "what it costs"
        by_kind.pop("business", None)
    regressed = [m for m, _ in _regressed_overall(metrics)]
    worst = _worst_cohort(metrics)
    prefer = {"performance": regressed[0] if regressed else None, "cohort": worst[0].get("cohort") if worst else None}
    what = []
    for kind in sorted(by_kind, key=lambda k: (min(sev.get(a["severity"], 2) for a in by_kind[k]),
                                               order.index(k) if k in order else 9)):
        group = by_kind[kind]
        if kind == "drift" and len(group) > 1:
            names = [a["subject"] for a in group]
            what.append(f"{len(group)} columns drifted: {', '.join(names[:6])}{', ...' if len(names) > 6 else ''}")
            continue
        first = next((a for a in group if prefer.get(kind) and a["subject"] == prefer[kind]), group[0])
        line = _one_line(first["message"] or f"{kind} {first['subject']}", 140)
        if len(group) > 1:
            noun = {"performance": "metric", "cohort": "cohort"}.get(kind, f"{kind} alert")
            line += f" (and {len(group) - 1} more {noun}{'s' if len(group) > 2 else ''})"
        what.append(line)
    if len(what) > 4:
        what = what[:4] + [f"and {len(what) - 4} more kinds of alert (below)"]
    out.append({"label": "What is wrong", "lines": what})
    worst = _worst_cohort(metrics)
    total = _num(_d(metrics.get("rows")).get("current"))
    if worst:
        c, m, info = worst
        share = (_num(c.get("rows")) or 0) / total if total else None
        who = f"cohort {c.get('cohort')}: {fmt_int(c.get('rows'))} rows" + (f" ({share:.0%} of today)" if share else "")
        who += f", {metric_name(m)} {fmt_num(info.get('value'))} vs {fmt_num(info.get('baseline'))} baseline"
        out.append({"label": "For whom", "lines": [who]})
    elif _regressed_overall(metrics) or _d(metrics.get("drift")).get("dataset_drift"):
        out.append({"label": "For whom", "lines": ["all traffic (no single cohort stands out)"]})
    since_lines = []
    if new:
        since_lines.append(f"{len(new)} new today ({metrics.get('date')})")
    oldest = [a for a in ongoing if a.get("known_since")]
    if oldest:
        o = min(oldest, key=lambda a: str(a["since"]))
        since_lines.append(f"{len(ongoing)} ongoing, the oldest since {o['since']} ({o['runs']} runs): {o['kind']} {o['subject']}")
    elif ongoing:
        since_lines.append(f"{len(ongoing)} ongoing from the previous run")
    if since_lines:
        out.append({"label": "Since when", "lines": since_lines})
    cost_lines = []
    if business and business.get("cost"):
        c = business["cost"]
        if c["framing"] == "cost":
            cost_lines.append(f"{c['actual']} cost of errors vs {c['expected']} expected at baseline ({c['delta']})")
        else:
            cost_lines.append(f"{c['actual']} net value vs {c['expected']} expected at baseline ({c['delta']})")
    for g in (business or {}).get("guardrails", []):
        if g["breached"]:
            cost_lines.append(f"guardrail {g['name']} = {g['value']} (allowed {g['bounds']})")
    if cost_lines:
        out.append({"label": "What it costs", "lines": cost_lines})
    return out


def _view(metrics: Mapping, history: Sequence[Mapping], provenance: Optional[Mapping], *, charts: bool, trend_runs: int) -> tuple[dict, dict]:
    images: dict[str, bytes] = {}
    status = str(metrics.get("status") or "ok")
    if status not in _STATUS_COLORS:
        status = "alert" if status == "critical" else "warning"
    quiet = status == "ok"
    history = [h for h in history if isinstance(h, dict)]
    new, ongoing, resolved = _alert_rows(metrics, history)
    business = _business(metrics)
    window = _d(metrics.get("window"))
    rows = _d(metrics.get("rows"))
    accent, pale = _STATUS_COLORS[status]
    view = {
        "status": status, "tag": _STATUS_TAG[status], "accent": accent, "pale": pale, "quiet": quiet,
        "monitor": str(metrics.get("monitor") or "monitor"), "date": str(metrics.get("date") or ""),
        "window": (f"{window.get('start')} \u2192 {window.get('end')}" if window.get("start") and window.get("end")
                   and window.get("start") != window.get("end") else str(window.get("start") or window.get("end") or "")),
        "rows_today": fmt_int(rows.get("current")) if rows.get("current") is not None else None,
        "rows_labelled": fmt_int(rows.get("labelled")) if rows.get("labelled") is not None else None,
        "glance": _glance(metrics, new, ongoing, business),
        "new": new, "ongoing": ongoing, "resolved": resolved,
        "links": _links(metrics), "business": business,
        "performance": _performance(metrics), "cohorts": _cohorts(metrics, quiet),
        "drift": _drift(metrics, images, charts), "quality": _quality(metrics),
        "trends": _trends(metrics, history, images, charts, trend_runs),
        "failures": None if quiet else _failures(metrics),
        "provenance": _provenance(metrics, provenance),
        "max_charts": MAX_DRIFT_CHARTS,
        "errors": _stage_errors(metrics),
    }
    return view, images


# --------------------------------------------------------------------------- rendering


def _env():
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "htm", "xml", "html.j2"), default=False),
        undefined=jinja2.ChainableUndefined,  # a missing key renders empty, never raises
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(num=fmt_num, delta=fmt_delta, pct=fmt_pct, pval=fmt_p, money=fmt_money, metric=metric_name,
                       wrap_text=_wrap)
    return env


def _wrap(text: Any, width: int = 76, indent: str = "  ") -> str:
    import textwrap

    return textwrap.fill(str(text), width=width, subsequent_indent=indent, break_long_words=False, break_on_hyphens=False)


def render_report(metrics: dict, *, history: Iterable[dict] = (), provenance: Optional[dict] = None,
                  charts: bool = True, trend_runs: int = 30) -> Report:
    """The email for one run. `history` is the previous runs' metrics dicts, oldest first."""
    metrics = metrics if isinstance(metrics, dict) else {}
    view, images = _view(metrics, list(history or ()), provenance, charts=charts, trend_runs=trend_runs)
    subject = subject_line(metrics)
    env = _env()
    view["subject"] = subject
    html = env.get_template("report.html.j2").render(**view)
    text = env.get_template("report.txt.j2").render(**view)
    return Report(subject=subject, html=html, text=text, images=images, monitor=view["monitor"],
                  date=view["date"] or None, status=view["status"])


def render_failure(*, monitor: str, date: Optional[str], error: str, task: Optional[str] = None,
                   dag_id: Optional[str] = None, details: Optional[str] = None) -> Report:
    """The notice for a run that could not complete (always sent, whatever `email.send` says)."""
    first = _one_line(str(error).strip().splitlines()[0] if str(error).strip() else "unknown error", 100)
    where = f" in task {_one_line(task, 40)}" if task else ""
    subject = _one_line(f"[FAILED] {monitor} {date or ''}".strip() + f": run could not complete{where}: {first}", SUBJECT_MAX)
    accent, pale = _STATUS_COLORS["failed"]
    view = {
        "subject": subject, "tag": "FAILED", "accent": accent, "pale": pale, "monitor": str(monitor),
        "date": str(date or ""), "error": str(error), "task": task, "dag_id": dag_id, "details": details,
        "rerun": f"python -m monitor run CONFIG --date {date}" if date else "python -m monitor run CONFIG --date YYYY-MM-DD",
    }
    env = _env()
    html = env.get_template("failure.html.j2").render(**view)
    text = env.get_template("failure.txt.j2").render(**view)
    return Report(subject=subject, html=html, text=text, images={}, monitor=str(monitor), date=date, status="failed")
