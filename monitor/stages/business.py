"""Business impact: the confusion matrix (or the errors) in money, and guardrails.

Money is counted on the labelled rows of the window, with the sign convention
of the config (negative = cost). To show the change, the same rate per 1000
predictions is computed on the baseline set: "expected at the baseline rate" is
what the labelled rows would have earned or cost had the model performed as on
the baseline, and `change` = actual - expected (negative = worse).

The change is judged against its sampling noise: the per-row money of the labelled rows and
of the baseline each have a variance (from the confusion cells, or the absolute errors), so
`change` has a standard error and a 95% interval (`change_low`, `change_high`); `direction`
is "worse" or "better" only when that interval excludes 0, else "same". A healthy churn
model's 30-day window was "worse" by $4,369 (0.3 standard errors) on one night in two.

Guardrails are statistics of named columns over every row of the window
(labelled or not), checked against their bounds.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np
import pandas as pd

from monitor.alerts import Alert
from monitor.config import BusinessConfig, Guardrail, ModelConfig
from monitor.errors import UnknownMethodError
from monitor.jsonutil import to_jsonable
from monitor.stages.performance.tasks import Task, task_for

__all__ = ["BusinessResult", "evaluate_business", "guardrail_stat", "GUARDRAIL_STATS"]

GUARDRAIL_STATS = ("mean", "median", "min", "max", "sum", "p50", "p90", "p95", "p99")
_PCT = re.compile(r"^p(\d{1,2}(?:\.\d+)?)$")


def guardrail_stat(values: pd.Series, stat: str) -> Optional[float]:
    """mean | median | min | max | sum | pNN (any percentile, e.g. p95, p99.9) of the non-null values."""
    x = pd.to_numeric(values, errors="coerce").dropna().to_numpy(dtype=float)
    m = _PCT.match(stat)
    if stat not in ("mean", "median", "min", "max", "sum") and not m:
        raise UnknownMethodError(f"unknown guardrail stat {stat!r}; known: {', '.join(GUARDRAIL_STATS)} (or any pNN percentile)")
    if x.size == 0:
        return None
    if m:
        return float(np.percentile(x, float(m.group(1))))
    reducers: dict[str, Callable[[np.ndarray], Any]] = {
        "mean": np.mean, "median": np.median, "min": np.min, "max": np.max, "sum": np.sum}
    return float(reducers[stat](x))


def _per_1000(value: float, n: int) -> Optional[float]:
    return value / n * 1000 if n else None


@dataclass(frozen=True)
class BusinessResult:
    currency: str
    money: Optional[dict]  # None when no cost matrix / cost per unit error is configured
    guardrails: tuple  # of dicts
    findings: tuple = ()

    def to_dict(self) -> dict:
        return to_jsonable({"currency": self.currency, "money": self.money, "guardrails": list(self.guardrails), "findings": list(self.findings)})

    def alerts(self) -> list[Alert]:
        out = []
        for g in self.guardrails:
            if g["status"] == "breached":
                bound = f"max {g['max']:g}" if g["max"] is not None and g["value"] > g["max"] else f"min {g['min']:g}"
                out.append(Alert("business", g["name"], "critical", f"guardrail {g['name']} is {g['value']:.4g}, outside its bound ({bound})"))
            elif g["status"] in ("missing", "no_data"):
                out.append(Alert("business", g["name"], "warning", g["note"]))
        return out


def _money(current: pd.DataFrame, baseline: pd.DataFrame, task: Task, business: BusinessConfig, window_days: int) -> tuple[Optional[dict], list[str]]:
    findings: list[str] = []
    rows = len(current)
    cm = task.confusion_counts(current) if business.cost_matrix else None
    errors = task.abs_errors(current) if business.cost_per_unit_error is not None else None
    if business.cost_matrix and cm is not None:
        costs = {k: float(business.cost_matrix.get(k, 0.0)) for k in ("tp", "fp", "fn", "tn")}
        bcm = task.confusion_counts(baseline) or {}
        n, bn = sum(cm.values()), sum(bcm.values())
        value = sum(cm[k] * costs[k] for k in costs)
        bvalue = sum(bcm[k] * costs[k] for k in costs)
        var = _cell_variance(cm, costs), _cell_variance(bcm, costs)
        out: dict[str, Any] = {"basis": "cost_matrix", "cost_matrix": costs, "confusion": cm, "baseline_confusion": bcm}
    elif business.cost_per_unit_error is not None and errors is not None:
        unit = -abs(business.cost_per_unit_error)  # a cost, whichever sign the config used
        be = task.abs_errors(baseline)
        be = be if be is not None else np.zeros(0)
        n, bn = int(errors.size), int(be.size)
        value, bvalue = unit * float(errors.sum()), unit * float(be.sum())
        var = (unit**2 * float(np.var(errors)) if n else 0.0, unit**2 * float(np.var(be)) if bn else 0.0)
        out = {"basis": "cost_per_unit_error", "cost_per_unit_error": unit, "abs_error_sum": float(errors.sum())}
    else:
        if business.cost_matrix:
            findings.append("business.cost_matrix does not apply to a regression model: use cost_per_unit_error")
        if business.cost_per_unit_error is not None:
            findings.append("business.cost_per_unit_error applies to regression models only: use cost_matrix")
        return None, findings
    rate, brate = _per_1000(value, n), _per_1000(bvalue, bn)
    expected = brate * n / 1000 if (brate is not None and n) else None
    change = value - expected if expected is not None else None
    # change = n * (mean per row - baseline mean per row): its standard error counts both samples
    se = n * float(np.sqrt(var[0] / n + var[1] / bn)) if (change is not None and n and bn) else None
    low, high = (change - _Z95 * se, change + _Z95 * se) if (change is not None and se is not None) else (None, None)
    direction = None
    if change is not None:
        direction = "worse" if (high if high is not None else change) < 0 else "better" if (low if low is not None else change) > 0 else "same"
    out.update(
        {
            "labelled": n,
            "rows": rows,
            "value": value,
            "per_day": value / window_days if n else None,
            "per_1000": rate,
            "baseline_per_1000": brate,
            "expected_at_baseline_rate": expected,
            "change": change,
            "change_per_day": change / window_days if change is not None else None,
            # all predictions of the window at the labelled rows' rate (labels may cover only part)
            "projected_window_value": rate * rows / 1000 if rate is not None else None,
            "change_se": se,
            "change_low": low,
            "change_high": high,
            "direction": direction,
        }
    )
    if n == 0:
        findings.append("no labelled rows in the window: the money figure waits for labels")
    return out, findings


_Z95 = 1.959963984540054  # two-sided 95% normal quantile


def _cell_variance(cm: dict, costs: dict[str, float]) -> float:
    """Variance of the per-row money when each row is worth its confusion cell's cost."""
    n = sum(cm.get(k, 0) for k in costs)
    if not n:
        return 0.0
    mean = sum(cm.get(k, 0) * c for k, c in costs.items()) / n
    return max(sum(cm.get(k, 0) * c * c for k, c in costs.items()) / n - mean * mean, 0.0)


def _guardrail(g: Guardrail, current: pd.DataFrame, baseline: pd.DataFrame) -> dict:
    name = g.name or f"{g.stat}({g.column})"
    row = {"name": name, "column": g.column, "stat": g.stat, "min": g.min, "max": g.max, "value": None, "baseline": None, "status": "ok", "note": None}
    if g.column not in current.columns:
        row["status"] = "missing"
        row["note"] = f"guardrail {name}: column {g.column!r} is not in the window's data (check the serving log schema or the guardrail's column)"
        return row
    if g.column in baseline.columns:
        row["baseline"] = guardrail_stat(baseline[g.column], g.stat)
    v = guardrail_stat(current[g.column], g.stat)
    row["value"] = v
    if v is None:
        row["status"] = "no_data"
        row["note"] = f"guardrail {name}: column {g.column!r} has no numeric values in the window"
    elif (g.max is not None and v > g.max) or (g.min is not None and v < g.min):
        row["status"] = "breached"
    return row


def evaluate_business(
    current: pd.DataFrame,
    baseline: pd.DataFrame,
    model: ModelConfig,
    business: BusinessConfig,
    *,
    window_days: int = 1,
) -> BusinessResult:
    money, findings = _money(current, baseline, task_for(model), business, max(1, int(window_days)))
    guardrails = [_guardrail(g, current, baseline) for g in business.guardrails]
    findings += [g["note"] for g in guardrails if g["note"]]
    return BusinessResult(business.currency, money, tuple(guardrails), tuple(findings))
