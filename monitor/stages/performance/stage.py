"""Model performance on the labelled rows of a window, against the baseline set.

A metric regresses when (1) the window has at least `performance.min_labelled`
labelled rows (else its verdict is "too few labels") and (2) the data show a
*material* regression: the test is of "the change in the bad direction is at
most the metric's `min_delta`" (per metric, absolute or relative to the baseline;
see registry.py for the defaults), two-sample (the window's and the baseline's
standard errors add), Benjamini-Hochberg-adjusted across the metrics, against
`performance.fdr`. A test of "no change at all" with the point change >= min_delta
on the side would alert on chance dips of about min_delta at every sample size
(a drop of 1 SE that happens to be 1 min_delta passes it as often as chance
allows); the interval null does not. Severity: `critical` needs the adjusted p
at or below `performance.critical_fdr` (0.005, strong evidence), a weaker but
still significant material regression is a `warning`. `p_value` (two-sided, of
no change) is kept for reading; `p_value_material` and `p_value_adjusted` are
the alert's test. While labels are pending, classifiers with scores also get a
CBPE estimate on every row (cbpe.py), kept apart from the realized figures.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any, Optional, cast

import pandas as pd

from monitor.alerts import Alert
from monitor.config import ModelConfig, PerformanceConfig
from monitor.jsonutil import to_jsonable
from monitor.stages.performance import intervals as iv
from monitor.stages.performance.baseline_side import BaselineSide, LazyPrepared
from monitor.stages.performance.cbpe import baseline_calibration, cbpe
from monitor.stages.performance.estimates import MetricEstimate, estimate
from monitor.stages.performance.summary import summarize
from monitor.stages.performance.tasks import BinaryTask, Prepared, PreparedPair, Task, task_for

__all__ = ["PerformanceResult", "evaluate_performance", "compare", "flag_regressions", "material_test", "materiality", "TOO_FEW_LABELS"]

TOO_FEW_LABELS = "too few labels"


def materiality(task: Task, config: PerformanceConfig, output: str, baseline: Optional[float], spread: Optional[float]) -> Optional[float]:
    """The smallest change of `output` worth an alert (None when its basis is unknown: then no alert)."""
    spec = config.min_delta
    metric = task.metric_of(output)
    if isinstance(spec, (int, float)):
        return float(spec)
    chosen = (spec or {}).get(output, (spec or {}).get(metric.name))
    if isinstance(chosen, str):
        pct = float(re.sub(r"%\s*$", "", chosen.strip())) / 100
        return pct * abs(baseline) if baseline is not None else None
    if chosen is not None:
        return float(chosen)
    value, basis = metric.materiality
    if basis == "absolute":
        return value
    if basis == "spread":
        return value * spread if spread else None
    return value * abs(baseline) if baseline is not None else None


def compare(direction: int, cur: MetricEstimate, base: Optional[MetricEstimate]) -> dict[str, Any]:
    """value/baseline/delta/ci/p-value for one metric; `drop` is the change in the bad direction (>= 0)."""
    b = base.value if base is not None else None
    delta = cur.value - b if (cur.value is not None and b is not None) else None
    se = iv.combined_se([cur.se, base.se if base is not None else None]) if delta is not None else None
    p = iv.difference_p_value(delta, [cur.se, base.se if base is not None else None])
    drop = 0.0 if delta is None else abs(delta) if direction == 0 else max(0.0, -direction * delta)
    row: dict[str, Any] = {
        "value": cur.value,
        "baseline": b,
        "delta": delta,
        "ci_low": cur.ci_low,
        "ci_high": cur.ci_high,
        "baseline_ci_low": base.ci_low if base is not None else None,
        "baseline_ci_high": base.ci_high if base is not None else None,
        "delta_se": se,
        "p_value": p,
        "higher_is_better": None if direction == 0 else direction > 0,
        "drop": drop,
    }
    notes = [x for x in (cur.note, None if base is None else (f"baseline {base.note}" if base.note else None)) if x]
    if notes:
        row["note"] = "; ".join(notes)
    return row


def flag_regressions(rows: list[dict[str, Any]], fdr: float, *, critical_fdr: Optional[float] = None,
                     eligible: Optional[list[bool]] = None) -> None:
    """BH across rows' `p_value_material`; set p_value_adjusted, regressed and severity in place.

    A row regresses when its adjusted material p is at most `fdr`; it is critical when the
    adjusted p is also at most `critical_fdr` (default: fdr, i.e. every regression critical).
    """
    ok = eligible if eligible is not None else [True] * len(rows)
    adj = iv.bh_adjust([r.get("p_value_material") if e else None for r, e in zip(rows, ok)])
    strong = fdr if critical_fdr is None else min(critical_fdr, fdr)
    for r, q in zip(rows, adj):
        r["p_value_adjusted"] = q = iv.finite(q)
        r["regressed"] = bool(q is not None and q <= fdr and r.get("min_delta") is not None and r["drop"] > 0)
        r["severity"] = ("critical" if q is not None and q <= strong else "warning") if r["regressed"] else None


def material_test(row: dict[str, Any], direction: int, change: Optional[float], se: Optional[float],
                  untestable: Optional[str] = None) -> None:
    """Set row["p_value_material"]: is `change` (the tested quantity) a regression beyond row["min_delta"]?
    `untestable`: why the metric gets no test here (see Task.untestable); it is reported, never alerted on."""
    if untestable:
        row["p_value_material"] = None
        row["untestable"] = untestable
        row["note"] = "; ".join(x for x in (row.get("note"), untestable) if x)
        return
    row["p_value_material"] = iv.material_p_value(change, direction, row.get("min_delta"), se)


def verdict(row: dict[str, Any], enough: bool) -> str:
    if row["value"] is None:
        return "undefined"
    if not enough:
        return TOO_FEW_LABELS
    if row.get("untestable"):
        return "no test"
    if row["baseline"] is None:
        return "no baseline"
    if row.get("p_value") is None:
        return "no test"
    return "regressed" if row.get("regressed") else "ok"


@dataclass(frozen=True)
class PerformanceResult:
    rows: int
    labelled: int
    final: bool
    overall: dict  # metric -> comparison row
    estimated: dict  # metric -> {"value", "ci_low", "ci_high", "method"}
    estimation_error: dict
    notes: tuple = ()
    min_labelled: int = 0
    shared: tuple = ()  # regressed metrics on which no cohort stands out (set by with_cohorts)
    # the encoded rows (window, baseline), for the cohort stage to take and reuse; not part of the document
    prepared: Optional[PreparedPair] = field(default=None, repr=False, compare=False)
    # what the run needed of the baseline (binary models), for the stage to cache; not part of the document
    baseline_side: Optional[BaselineSide] = field(default=None, repr=False, compare=False)

    @property
    def label_coverage(self) -> float:
        return self.labelled / self.rows if self.rows else 0.0

    @property
    def too_few_labels(self) -> bool:
        return self.labelled < self.min_labelled

    @property
    def verdict(self) -> str:
        """no labels | too few labels | regressed | ok"""
        if self.labelled == 0:
            return "no labels"
        if self.too_few_labels:
            return TOO_FEW_LABELS
        return "regressed" if any(r.get("regressed") for r in self.overall.values()) else "ok"

    def with_cohorts(self, standing_out: dict[str, list[str]], evaluated: bool) -> PerformanceResult:
        """Mark the regressed metrics that no cohort stands out on: a regression shared by all cohorts."""
        if not evaluated:
            return self
        shared = tuple(k for k, r in self.overall.items() if r.get("regressed") and not standing_out.get(k))
        return replace(self, shared=shared)

    def to_dict(self) -> dict[str, Any]:
        overall = {k: {kk: vv for kk, vv in v.items() if kk != "drop"} for k, v in self.overall.items()}
        out = {
            "label_coverage": self.label_coverage,
            "labelled": self.labelled,
            "rows": self.rows,
            "final": self.final,
            "min_labelled": self.min_labelled,
            "verdict": self.verdict,
            "overall": overall,
            "shared_by_all_cohorts": list(self.shared),
            "estimated": self.estimated,
            "estimation_error": self.estimation_error,
            "notes": list(self.notes),
        }
        return to_jsonable(out)

    def alerts(self) -> list[Alert]:
        out = []
        status = "final" if self.final else "provisional, labels still arriving"
        for name, r in self.overall.items():
            if r.get("regressed"):
                where = "; shared by all cohorts (no cohort stands out)" if name in self.shared else ""
                out.append(
                    Alert(
                        "performance",
                        name,
                        r.get("severity") or "critical",
                        f"{name} is {r['value']:.4g} vs {r['baseline']:.4g} on the baseline ({r['delta']:+.4g}, "
                        f"beyond the material change {r['min_delta']:.2g}: adjusted p={r['p_value_adjusted']:.2g}) "
                        f"on {self.labelled} labelled rows ({status}){where}",
                    )
                )
        return out


def evaluate_performance(
    current: pd.DataFrame,
    baseline: pd.DataFrame,
    model: ModelConfig,
    metrics: list[str],
    config: PerformanceConfig,
    *,
    final: bool,
    human_level: Optional[dict[str, float]] = None,
    baseline_side: Optional[BaselineSide] = None,
) -> PerformanceResult:
    """Realized metrics on the window's labelled rows vs the baseline set, plus CBPE estimates.

    `baseline_side`: what an earlier run on this baseline snapshot worked out of it (binary models): the
    baseline's rows are then not encoded unless the cohort stage asks for them."""
    task = task_for(model)
    specs = task.resolve(metrics)
    B, conf, seed = config.bootstrap, config.confidence, config.seed
    binary = isinstance(task, BinaryTask)
    classes = task.classes([current, baseline])  # as task.prepare_pair: one class list
    cur, _, notes = task.prepare(current, classes)
    cells = task.n_cells(cur.classes)
    base, side = _baseline(task, baseline, classes, specs, cells, config, baseline_side if binary else None)
    notes = list(notes) + [f"baseline: {n}" for n in side.notes]
    if side.n == 0:
        notes.append("the baseline set has no labelled rows: no comparison is possible")
    cur_est = estimate(summarize(cur, specs, cells)[0], specs, cur.classes, conf, B, seed)
    base_est = side.estimates
    spread = task.spread(base)  # binary: None, and the rows are not needed
    untestable = task.untestable(base)
    enough = cur.n >= config.min_labelled
    if not enough and cur.n:
        notes.append(f"{TOO_FEW_LABELS}: {cur.n} labelled rows < performance.min_labelled={config.min_labelled}; no verdict")
    overall: dict[str, dict[str, Any]] = {}
    for name, est in cur_est.items():
        d = task.metric_of(name).direction
        row = compare(d, est, base_est.get(name))
        row["min_delta"] = materiality(task, config, name, row["baseline"], spread)
        material_test(row, d, row["delta"], row["delta_se"], untestable.get(task.metric_of(name).name))
        h = (human_level or {}).get(name)
        row.update(human_level=h, gap_to_human=_gap(h, row["value"], d), baseline_gap_to_human=_gap(h, row["baseline"], d))
        overall[name] = row
    flag_regressions(list(overall.values()), config.fdr, critical_fdr=config.critical_fdr, eligible=[enough] * len(overall))
    for row in overall.values():
        row["verdict"] = verdict(row, enough)

    estimated, cb_notes = cbpe(task, current, base, metrics, B, seed + 2, conf, cur,
                               calibration=side.calibration if binary else "fit")
    notes += cb_notes
    estimation_error = {}
    for name, e in estimated.items():
        r = overall.get(name)
        # the realized baseline, so an estimated drop shows while labels are pending
        e["baseline"] = r["baseline"] if r else None
        e["delta"] = e["value"] - e["baseline"] if (e["value"] is not None and e["baseline"] is not None) else None
        if r and r["value"] is not None and e["value"] is not None:
            estimation_error[name] = r["value"] - e["value"]
    return PerformanceResult(
        len(current), cur.n, bool(final), overall, estimated, estimation_error, tuple(notes), config.min_labelled,
        prepared=PreparedPair(cur, base), baseline_side=side if binary else None,
    )


def _baseline(task: Task, baseline: pd.DataFrame, classes: list, specs: list, cells: int, config: PerformanceConfig,
              cached: Optional[BaselineSide]) -> tuple[Prepared, BaselineSide]:
    """The baseline's encoded rows and what the stage needs of them: `cached` when an earlier run left it (the
    rows are then encoded only if something asks for them), else worked out here (a calibration for binary models)."""
    if cached is not None:
        return cast(Prepared, LazyPrepared(lambda: task.prepare(baseline, classes)[0])), cached
    base, _, notes = task.prepare(baseline, classes)
    est = estimate(summarize(base, specs, cells)[0], specs, base.classes, config.confidence, config.bootstrap, config.seed + 1)
    calibration = baseline_calibration(base) if isinstance(task, BinaryTask) else None
    return base, BaselineSide(base.n, tuple(notes), est, calibration)


def _gap(human: Optional[float], value: Optional[float], direction: int) -> Optional[float]:
    """How far `value` is from human level, positive = worse than human."""
    if human is None or value is None:
        return None
    return value - human if direction < 0 else human - value
