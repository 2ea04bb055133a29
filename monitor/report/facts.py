"""What the report derives from a metrics document before it formats anything: the worst cohort,
the regressed metrics in order of harm, the money figure as a cost or a value, model-output drift.
Shared by the subject line and the body, so the two never disagree."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from monitor.document import Cohort, ColumnDrift, Drift, MetricResult, MetricsDocument
from monitor.report.format import LOWER_IS_BETTER

__all__ = [
    "MoneyFacts", "money_facts", "higher_is_better", "badness", "overall_metrics", "regressed_overall",
    "worst_cohort", "model_output_drift", "drifted_count",
]


@dataclass(frozen=True)
class MoneyFacts:
    """The business money of the window, framed for a reader: a net cost is shown as a positive cost."""

    framing: str  # "cost" | "value"
    actual: float
    expected: Optional[float]  # at the baseline's rate
    delta: Optional[float]  # actual - expected, in the framing's sign
    worse: bool
    per_day: Optional[float]
    currency: str


def _neg(x: Optional[float]) -> Optional[float]:
    return None if x is None else -x


def money_facts(doc: MetricsDocument) -> Optional[MoneyFacts]:
    """From `business.money` (signed: negative = cost); None while no labelled row has a money figure."""
    b = doc.business
    money = b.money if b is not None else None
    if b is None or money is None or money.value is None or money.labelled == 0:
        return None
    value, expected, change, cur = float(money.value), money.expected_at_baseline_rate, money.change, b.currency or "$"
    if change is None and expected is not None:
        change = value - expected
    # "same": the change is within the sampling noise (older documents without a direction: its sign)
    worse = money.direction == "worse" if money.direction is not None else (change or 0) < 0
    if value <= 0 and (expected is None or expected <= 0):  # a cost: show it as a positive amount
        return MoneyFacts("cost", -value, _neg(expected), _neg(change), worse, _neg(money.per_day), cur)
    return MoneyFacts("value", value, expected, change, worse, money.per_day, cur)


def higher_is_better(metric: str, info: MetricResult, overall: Optional[dict[str, MetricResult]] = None) -> bool:
    """The metric's direction: as the overall result says, else this result, else known from its name."""
    ref = (overall or {}).get(metric)
    for hib in (ref.higher_is_better if ref is not None else None, info.higher_is_better):
        if hib is not None:
            return hib
    return metric not in LOWER_IS_BETTER


def badness(metric: str, info: MetricResult, overall: dict[str, MetricResult]) -> float:
    """How much worse than baseline (positive = worse), in the metric's own units."""
    if info.delta is None:
        return 0.0
    return -info.delta if higher_is_better(metric, info, overall) else float(info.delta)


def overall_metrics(doc: MetricsDocument) -> dict[str, MetricResult]:
    return doc.performance.overall if doc.performance is not None else {}


def regressed_overall(doc: MetricsDocument) -> list[tuple[str, MetricResult]]:
    """The regressed overall metrics, the most harmed first."""
    overall = overall_metrics(doc)
    out = [(m, i) for m, i in overall.items() if i.regressed]
    return sorted(out, key=lambda mi: -badness(mi[0], mi[1], overall))


def worst_cohort(doc: MetricsDocument, metric: Optional[str] = None) -> Optional[tuple[Cohort, str, MetricResult]]:
    """The regressed cohort metric (of `metric`, if given) furthest below its baseline: (cohort, metric, result)."""
    overall = overall_metrics(doc)
    best: Optional[tuple[float, Cohort, str, MetricResult]] = None
    for c in doc.cohorts:
        for m, info in c.metrics.items():
            if info.regressed and (metric is None or m == metric):
                bad = badness(m, info, overall)
                if best is None or bad > best[0]:
                    best = (bad, c, m, info)
    return None if best is None else (best[1], best[2], best[3])


def model_output_drift(drift: Drift) -> list[tuple[str, ColumnDrift]]:
    """(label, result) for prediction and target drift, one per column: `prediction y_pred_proba`."""
    return [(f"{role} {col}", r) for role, per_column in (("prediction", drift.prediction), ("target", drift.target))
            for col, r in per_column.items()]


def drifted_count(drift: Drift) -> int:
    return drift.n_drifted if drift.n_drifted is not None else sum(1 for f in drift.features.values() if f.drifted)
