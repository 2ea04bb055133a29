"""Cohort bias: a cohort alerts when its change differs from the change of the rest of the data.

A cohort is one value of a column, one numeric bin of a column, or a named
`where` filter. For each cohort and metric the test is on
(cohort now - cohort at baseline) - (rest now - rest at baseline): the four are
disjoint row sets, so their variances add (intervals.contrast_p_value). A
regression shared by every cohort is then no cohort alert at all: it is the
overall performance alert, which says so (PerformanceResult.with_cohorts).

The statistics of every cohort of a column come from one pass over the rows
(summary.summarize with the column's codes), and "the rest" is the total minus
the cohort, so the cost does not grow with cohorts x rows.

Alerts are meant to be rare and true:
* FDR is controlled at two levels (see `_flag`): BH across cohorts, then BH
  across cohorts x metrics; a metric stands out only when both pass and the
  cohort itself got worse. The test is of "the contrast is at most the metric's
  min_delta in the bad direction" (performance.stage: the alert needs evidence of
  a material difference, not only of some difference); critical needs the
  adjusted p at `performance.critical_fdr`, else the alert is a warning.
* Cohorts under the minimum labelled size (or whose rest is) are reported but
  never alerted on and take no part in the FDR correction.
* A standing-out cohort whose contrast vanishes once the rows of a
  higher-impact standing-out cohort are removed is marked `explained_by` it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, Optional

import numpy as np
import pandas as pd

from monitor.alerts import Alert
from monitor.config import CohortConfig, ModelConfig, PerformanceConfig
from monitor.jsonutil import to_jsonable
from monitor.stages.cohort_figures import BaselineFigures
from monitor.stages.cohort_partitions import Partition, cohort_partitions
from monitor.stages.performance import intervals as iv
from monitor.stages.performance.registry import Metric
from monitor.stages.performance.stage import compare, flag_regressions, material_test, materiality
from monitor.stages.performance.summary import Summary, estimate, group_sizes, summarize
from monitor.stages.performance.tasks import Prepared, PreparedPair, Task, task_for

__all__ = ["CohortsResult", "evaluate_cohorts", "cohort_partitions", "Partition"]


@dataclass(frozen=True)
class CohortsResult:
    cohorts: tuple  # of dicts, ranked by impact
    errors: tuple = ()

    def to_dict(self) -> dict[str, Any]:
        rows = []
        for c in self.cohorts:
            c = dict(c)
            c["metrics"] = {k: {kk: vv for kk, vv in v.items() if kk != "drop"} for k, v in c["metrics"].items()}
            rows.append(c)
        return to_jsonable({"cohorts": rows, "errors": list(self.errors)})

    def standing_out(self) -> dict[str, list[str]]:
        """metric -> the cohorts that stand out on it (explained ones left out)."""
        out: dict[str, list[str]] = {}
        for c in self.cohorts:
            if not c.get("explained_by"):
                for k, v in c["metrics"].items():
                    if v.get("regressed"):
                        out.setdefault(k, []).append(c["cohort"])
        return out

    def alerts(self) -> list[Alert]:
        out = []
        for c in self.cohorts:
            bad = [(k, v) for k, v in c["metrics"].items() if v.get("regressed")]
            if not bad or c.get("explained_by"):
                continue
            parts = ", ".join(
                f"{k} {v['value']:.4g} vs {v['baseline']:.4g} ({v['delta']:+.4g}; the rest of the data {v['rest_delta']:+.4g}, "
                f"adj. p={v['p_value_adjusted']:.2g})"
                for k, v in bad
            )
            msg = f"cohort {c['cohort']} ({c['rows']} rows, {c['labelled']} labelled) regressed more than the rest: {parts}"
            severity = "critical" if any(v.get("severity") == "critical" for _, v in bad) else "warning"
            out.append(Alert("cohort", c["cohort"], severity, msg))
        return out


# --------------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class _Context:
    task: Task
    specs: list[Metric]
    cur: Prepared
    base: Prepared
    cells: int
    cur_total: Summary
    spread: Optional[float]
    config: PerformanceConfig
    untestable: dict[str, str]
    figures: Optional[BaselineFigures] = None  # the baseline side of cohorts, kept between runs on one snapshot

    @cached_property
    def base_total(self) -> Summary:
        """The baseline's total, held coarse (only subtracted from); summed up only when a cohort's baseline side is not kept."""
        return summarize(self.base, self.specs, self.cells)[0].for_rest()

    def estimates(self, s: Summary, seed: int) -> dict:
        c = self.config
        return estimate(s, self.specs, self.cur.classes, c.confidence, c.bootstrap if s.n else 0, seed)

    def baseline_estimates(self, cohort: Optional[Summary], rest: Optional[Summary], seed: int) -> tuple[dict, dict]:
        """The estimates of a cohort's baseline rows and of the rest of the baseline (none without rows)."""
        base_e = self.estimates(cohort, seed + 1) if cohort is not None and cohort.n else {}
        rest_base = self.estimates(rest, seed + 3) if rest is not None and rest.n else {}
        return base_e, rest_base

    def figure_key(self, part: Partition, g: int, seed: int) -> Optional[str]:
        """Cohort g's entry in the baseline figures, or None when they are not kept (or its rows depend on the window)."""
        key = part.keys[g] if part.keys is not None and self.figures is not None else None
        return None if key is None else f"{key}|seed={seed}|classes={self.cur.classes!r}"

    def metric_rows(self, cohort: Summary, rest: Summary, base: tuple[dict, dict], seed: int) -> dict[str, dict]:
        """Per metric output: the cohort's own comparison, the rest's change and the contrast test
        (`base`: the `baseline_estimates` of the cohort and of the rest)."""
        cur_e = self.estimates(cohort, seed)
        rest_cur = self.estimates(rest, seed + 2)
        base_e, rest_base = base
        out = {}
        for name, est in cur_e.items():
            d = self.task.metric_of(name).direction
            row = compare(d, est, base_e.get(name))
            rest_row = compare(d, rest_cur[name], rest_base.get(name))
            ses = [est.se, _se(base_e, name), rest_cur[name].se, _se(rest_base, name)]
            contrast, p = iv.contrast_p_value(row["delta"], rest_row["delta"], ses)
            own_drop = row["drop"]
            if contrast is None:
                drop = 0.0
            else:
                drop = abs(contrast) if d == 0 else max(0.0, -d * contrast)
            row.update(
                rest_value=rest_row["value"], rest_baseline=rest_row["baseline"], rest_delta=rest_row["delta"], contrast=contrast,
                p_value=p, own_drop=own_drop, drop=drop if own_drop > 0 else 0.0,
                min_delta=materiality(self.task, self.config, name, row["baseline"], self.spread),
                contrast_se=iv.combined_se(ses) if contrast is not None else None,
            )
            # tested for every cohort (an honest BH family); `drop` is 0, so no alert, when the cohort did not get worse itself
            material_test(row, d, contrast, row["contrast_se"], self.untestable.get(self.task.metric_of(name).name))
            out[name] = row
        return out


def _se(est: dict, name: str) -> Optional[float]:
    e = est.get(name)
    return e.se if e is not None else None


def evaluate_cohorts(
    current: pd.DataFrame,
    baseline: pd.DataFrame,
    model: ModelConfig,
    metrics: list[str],
    cohorts: list[CohortConfig],
    config: PerformanceConfig,
    categorical_features: Optional[list[str]] = None,
    *,
    prepared: Optional[PreparedPair | tuple[Prepared, Prepared]] = None,
    baseline_figures: Optional[BaselineFigures] = None,
) -> CohortsResult:
    """Cohort bias per cohort and metric; `prepared` reuses the performance stage's encoded rows
    (a PreparedPair is taken: they are released with this stage). `baseline_figures`: the baseline
    side of cohorts kept by an earlier run on this baseline under these settings (added to)."""
    pair = prepared.take() if isinstance(prepared, PreparedPair) else prepared
    del prepared
    parts, errors = cohort_partitions(
        current, baseline, cohorts, all_categorical=config.all_categorical_cohorts, categorical_features=categorical_features,
        max_values=config.cohort_values,
    )
    if not parts:
        return CohortsResult((), tuple(errors))
    task = task_for(model)
    specs = task.resolve(metrics)
    cur, base = pair if pair is not None else task.prepare_pair(current, baseline)[:2]
    del pair
    cells = task.n_cells(cur.classes)
    # the totals are only subtracted from (the rest of the data): held coarse, O(REST_BINS) not O(rows); the
    # baseline's (ctx.base_total) only when a cohort's baseline side is not kept
    cur_total = summarize(cur, specs, cells)[0].for_rest()
    ctx = _Context(task, specs, cur, base, cells, cur_total, task.spread(base), config, task.untestable(base), baseline_figures)
    results: list[dict] = []
    for part in parts:
        results += _partition_rows(ctx, part, len(results))
    _flag(results, config)
    for c in results:
        drops = [r["drop"] for r in c["metrics"].values()]
        c["impact"] = float(c["rows"] * max(drops)) if drops else 0.0
    results.sort(key=lambda c: (-c["impact"], c["cohort"]))
    _explain_overlaps(results, ctx)
    if any(c["explained_by"] for c in results):
        # Again without the explained cohorts: their overlapping discoveries would
        # otherwise make BH lenient for everything else (more rejections, higher cut-off).
        _flag([c for c in results if not c["explained_by"]], config)
    for c in results:
        del c["_where"]
    return CohortsResult(tuple(results), tuple(errors))


def _partition_rows(ctx: _Context, part: Partition, first: int) -> list[dict]:
    G, cfg = len(part.names), ctx.config
    cur_s = summarize(ctx.cur, ctx.specs, ctx.cells, part.current[ctx.cur.rows], G)
    seeds = [cfg.seed + 4 * (first + g) + 10 for g in range(G)]
    keys = [ctx.figure_key(part, g, seeds[g]) for g in range(G)]
    known = [ctx.figures.get(k) if ctx.figures is not None and k is not None else None for k in keys]
    # the baseline's rows are summed up only for cohorts whose baseline figures are not kept
    base_s = (summarize(ctx.base, ctx.specs, ctx.cells, part.baseline[ctx.base.rows], G)
              if part.baseline is not None and any(k is None for k in known) else None)
    rows = group_sizes(part.current, G)
    out = []
    for g, name in enumerate(part.names):
        labelled = cur_s[g].n
        base_n, base = _baseline_side(ctx, base_s[g] if base_s is not None else None, known[g], keys[g], seeds[g])
        rest_n = ctx.cur_total.n - labelled
        too_small = labelled < cfg.min_cohort_labelled or rest_n < cfg.min_cohort_labelled
        notes = []
        if labelled == 0:
            notes.append("no labelled rows in this cohort yet")
        elif labelled < cfg.min_cohort_labelled:
            notes.append(f"too small: {labelled} labelled rows < performance.min_cohort_labelled={cfg.min_cohort_labelled}; not alerted on")
        elif too_small:
            notes.append(f"the rest of the data has {rest_n} labelled rows < performance.min_cohort_labelled: nothing to compare with")
        if part.baseline is None:
            notes.append("no baseline for this cohort")
        elif base_n == 0:
            notes.append("no labelled rows of this cohort in the baseline set")
        out.append(
            {
                "cohort": name,
                "rows": int(rows[g]),
                "labelled": labelled,
                "label_coverage": labelled / int(rows[g]) if rows[g] else 0.0,
                "too_small": bool(too_small),
                "note": "; ".join(notes) or None,
                "impact": None,
                "explained_by": None,
                "metrics": ctx.metric_rows(cur_s[g], ctx.cur_total.minus(cur_s[g]), base, seeds[g]),
                "_where": (part, g),
            }
        )
    return out


def _baseline_side(
    ctx: _Context, bsum: Optional[Summary], known: Optional[tuple[int, dict, dict]], key: Optional[str], seed: int
) -> tuple[Optional[int], tuple[dict, dict]]:
    """A cohort's labelled baseline rows (None: no baseline) and its `baseline_estimates`: the kept ones,
    else from its baseline summary (then kept, when the cohort has a key)."""
    if known is not None:
        return known[0], (known[1], known[2])
    if bsum is None:
        return None, ({}, {})
    base = ctx.baseline_estimates(bsum, ctx.base_total.minus(bsum), seed)
    if key is not None and ctx.figures is not None:
        ctx.figures.put(key, bsum.n, *base)
    return bsum.n, base


def _flag(results: list[dict], config: PerformanceConfig) -> None:
    """Two-level FDR control: cohorts first, then their metrics.

    The alert unit is the cohort, so Benjamini-Hochberg runs across cohorts on a
    cohort p-value (Bonferroni over its metrics: m x the smallest p). Each metric
    also gets BH across all cohorts x metrics (`p_value_adjusted`), and stands out
    (`regressed`) only when both its cohort and itself pass, with a material
    contrast. A cohort hit on several metrics so counts as one discovery.
    """
    ok = [not c["too_small"] for c in results]
    cohort_p = []
    for c in results:
        ps = [r["p_value_material"] for r in c["metrics"].values() if r.get("p_value_material") is not None]
        cohort_p.append(min(1.0, len(ps) * min(ps)) if ps else None)
    cohort_q = iv.bh_adjust([p if e else None for p, e in zip(cohort_p, ok)])
    rows = [(r, e) for c, e in zip(results, ok) for r in c["metrics"].values()]
    flag_regressions([r for r, _ in rows], config.fdr, critical_fdr=config.critical_fdr, eligible=[e for _, e in rows])
    for c, p, q in zip(results, cohort_p, cohort_q):
        c["p_value"] = p
        c["p_value_adjusted"] = iv.finite(q)
        if c["p_value_adjusted"] is None or c["p_value_adjusted"] > config.fdr:
            for r in c["metrics"].values():
                r["regressed"] = False
                r["severity"] = None


def _codes_without(part: Partition, g: int, lead: tuple[Partition, int], baseline: bool) -> Optional[np.ndarray]:
    """0 = the cohort without the leader's rows, 1 = neither (the rest without the leader), -1 = the leader."""
    mine, theirs = (part.baseline, lead[0].baseline) if baseline else (part.current, lead[0].current)
    if mine is None or theirs is None:
        return None
    in_lead = theirs == lead[1]
    return np.where(in_lead, -1, np.where(mine == g, 0, 1))


def _explain_overlaps(results: list[dict], ctx: _Context) -> None:
    """Mark a standing-out cohort `explained_by` a higher-impact one when its contrast is only their overlap.

    E.g. region=south breaks and new_drivers are mostly southern: without the
    southern rows, new drivers do no worse than the rest (also without the
    southern rows). Explained cohorts stay in the list but raise no alert.
    """
    leaders: list[dict] = []
    cfg = ctx.config
    for c in results:
        bad = [k for k, r in c["metrics"].items() if r.get("regressed")]
        if not bad:
            continue
        part, g = c["_where"]
        for lead in leaders:
            cur_codes = _codes_without(part, g, lead["_where"], False)
            if cur_codes is None or not ((part.current == g) & (cur_codes == -1)).any():
                continue  # no overlap
            cs = summarize(ctx.cur, ctx.specs, ctx.cells, cur_codes[ctx.cur.rows], 2)
            if cs[0].n < cfg.min_cohort_labelled:
                c["explained_by"] = lead["cohort"]
                break
            base_codes = _codes_without(part, g, lead["_where"], True)
            if base_codes is None:
                continue
            bs = summarize(ctx.base, ctx.specs, ctx.cells, base_codes[ctx.base.rows], 2)
            rows = ctx.metric_rows(cs[0], cs[1], ctx.baseline_estimates(bs[0], bs[1], cfg.seed + 99), cfg.seed + 99)
            # Bonferroni over the metrics re-tested: a chance dip of one metric is not "still standing out"
            still = any(
                rows[k].get("p_value_material") is not None and rows[k]["p_value_material"] <= cfg.fdr / len(bad) for k in bad
            )
            if not still:
                c["explained_by"] = lead["cohort"]
                break
        if c["explained_by"] is None:
            leaders.append(c)
        else:
            note = f"its drop comes from its overlap with {c['explained_by']}: no separate alert"
            c["note"] = f"{c['note']}; {note}" if c["note"] else note
