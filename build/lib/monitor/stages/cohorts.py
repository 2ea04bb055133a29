"""Performance per cohort, with Benjamini-Hochberg control across cohorts x metrics.

A cohort is one value of a column, one numeric bin of a column, or a named
pandas `query` expression; each is evaluated on the window and, for its
baseline, on the same cohort of the baseline set. Cohorts under the minimum
labelled size are reported but never alerted on and take no part in the FDR
correction. Cohorts are ranked by impact: rows affected x the largest drop.

Alerts are meant to be rare and true:
* FDR is controlled at two levels (see `_flag`): BH across cohorts, then BH
  across cohorts x metrics; a metric regresses only when both pass.
* Overlapping cohorts share rows: when region=south breaks, every car-value bin
  dips a little. A regressed cohort whose drop vanishes once the rows of a
  higher-impact regressed cohort are removed is marked `explained_by` it and
  raises no alert of its own (`_explain_overlaps`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np
import pandas as pd

from monitor.alerts import Alert
from monitor.config import CohortConfig, ModelConfig, PerformanceConfig
from monitor.jsonutil import to_jsonable
from monitor.stages.performance.metrics import (
    classes_of,
    compare,
    direction_of,
    estimate,
    flag_regressions,
    prepare,
    resolve_metrics,
)
from monitor.stages.performance.stats import bh_adjust

__all__ = ["CohortsResult", "evaluate_cohorts", "cohort_masks"]


@dataclass(frozen=True)
class CohortsResult:
    cohorts: tuple  # of dicts, ranked by impact
    errors: tuple = ()

    def to_dict(self) -> dict:
        rows = []
        for c in self.cohorts:
            c = dict(c)
            c["metrics"] = {k: {kk: vv for kk, vv in v.items() if kk != "drop"} for k, v in c["metrics"].items()}
            rows.append(c)
        return to_jsonable({"cohorts": rows, "errors": list(self.errors)})

    def alerts(self) -> list[Alert]:
        out = []
        for c in self.cohorts:
            bad = [(k, v) for k, v in c["metrics"].items() if v.get("regressed")]
            if not bad or c.get("explained_by"):
                continue
            parts = ", ".join(f"{k} {v['value']:.4g} vs {v['baseline']:.4g} (adj. p={v['p_value_adjusted']:.2g})" for k, v in bad)
            out.append(
                Alert("cohort", c["cohort"], "critical", f"cohort {c['cohort']} ({c['rows']} rows, {c['labelled']} labelled) regressed: {parts}")
            )
        return out


def _fmt_edge(x: float) -> str:
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def _value_cohorts(col: str, cur: pd.DataFrame, base: pd.DataFrame, errors: list[str]) -> list[tuple[str, np.ndarray, Optional[np.ndarray]]]:
    if col not in cur.columns:
        errors.append(f"cohort column {col!r} is not in the window's data: no cohorts made from it")
        return []
    s = cur[col]
    if s.notna().sum() == 0:
        errors.append(f"cohort column {col!r} is all null in the window: no cohorts made from it")
        return []
    values = s.dropna().unique().tolist()  # python scalars, so they match uniques.tolist() below
    try:
        values = sorted(values)
    except TypeError:
        values = sorted(values, key=str)
    # factorize once, then integer compares: much cheaper than one string compare per value
    codes, uniques = pd.factorize(s)
    pos = {u: i for i, u in enumerate(uniques.tolist())}
    if col in base.columns:
        bcodes = pd.Categorical(base[col], categories=uniques).codes
    out = []
    for v in values:
        bm = (bcodes == pos[v]) if col in base.columns else None
        out.append((f"{col}={v}", codes == pos[v], bm))
    return out


def _bin_cohorts(col: str, bins: list[float], cur: pd.DataFrame, base: pd.DataFrame, errors: list[str]):
    if col not in cur.columns:
        errors.append(f"cohort column {col!r} is not in the window's data: no cohorts made from it")
        return []
    x = pd.to_numeric(cur[col], errors="coerce")
    if x.notna().sum() == 0:
        errors.append(f"cohort column {col!r} is all null (or not numeric) in the window: no bins made from it")
        return []
    xb = pd.to_numeric(base[col], errors="coerce") if col in base.columns else None
    out = []
    for a, b in zip(bins, bins[1:]):
        name = f"{col}=[{_fmt_edge(a)}, {_fmt_edge(b)})"
        cm = ((x >= a) & (x < b)).to_numpy()
        bm = ((xb >= a) & (xb < b)).to_numpy() if xb is not None else None
        out.append((name, cm, bm))
    return out


def _where_cohort(name: str, where: str, cur: pd.DataFrame, base: pd.DataFrame, errors: list[str]):
    def mask(df: pd.DataFrame) -> np.ndarray:
        m = df.eval(where)
        if not isinstance(m, pd.Series) or m.dtype != bool:
            raise ValueError("the expression does not give one true/false value per row")
        return m.to_numpy()

    try:
        cm = mask(cur)
    except Exception as exc:  # noqa: BLE001 - pandas raises many kinds for a bad expression
        errors.append(f"cohort {name!r}: invalid where expression {where!r}: {type(exc).__name__}: {exc}")
        return []
    try:
        bm = mask(base)
    except Exception as exc:  # noqa: BLE001 - as above, on the baseline
        errors.append(f"cohort {name!r}: where expression {where!r} fails on the baseline set ({exc}): no baseline for it")
        bm = None
    return [(name, cm, bm)]


def cohort_masks(
    current: pd.DataFrame,
    baseline: pd.DataFrame,
    cohorts: list[CohortConfig],
    *,
    all_categorical: bool = False,
    categorical_features: Optional[list[str]] = None,
) -> tuple[list[tuple[str, np.ndarray, Optional[np.ndarray]]], list[str]]:
    """(name, mask over current rows, mask over baseline rows or None) per cohort, and error messages."""
    errors: list[str] = []
    out = []
    value_columns = set()
    for c in cohorts:
        if c.where is not None:
            out += _where_cohort(c.label, c.where, current, baseline, errors)
        elif c.bins is not None:
            out += _bin_cohorts(c.column, c.bins, current, baseline, errors)
        else:
            value_columns.add(c.column)
            out += _value_cohorts(c.column, current, baseline, errors)
    if all_categorical:
        for col in categorical_features or []:
            if col not in value_columns:
                value_columns.add(col)
                out += _value_cohorts(col, current, baseline, errors)
    seen, unique = set(), []
    for item in out:
        if item[0] not in seen:
            seen.add(item[0])
            unique.append(item)
    return unique, errors


def evaluate_cohorts(
    current: pd.DataFrame,
    baseline: pd.DataFrame,
    model: ModelConfig,
    metrics: list[str],
    cohorts: list[CohortConfig],
    config: PerformanceConfig,
    categorical_features: Optional[list[str]] = None,
) -> CohortsResult:
    specs = resolve_metrics(model.task, metrics)
    masks, errors = cohort_masks(
        current, baseline, cohorts, all_categorical=config.all_categorical_cohorts, categorical_features=categorical_features
    )
    if not masks:
        return CohortsResult((), tuple(errors))
    classes = classes_of([current, baseline], model) if model.task == "multiclass_classification" else None
    cur, _, _ = prepare(current, model, classes)
    base, _, _ = prepare(baseline, model, classes)
    B, conf, seed = config.bootstrap, config.confidence, config.seed

    results = []
    for i, (name, cm, bm) in enumerate(masks):
        rows = int(cm.sum())
        sub = cur.subset(cur.rows_in(cm))
        labelled = sub.n
        too_small = labelled < config.min_cohort_labelled
        notes = []
        if labelled == 0:
            notes.append("no labelled rows in this cohort yet")
        elif too_small:
            notes.append(f"too small: {labelled} labelled rows < performance.min_cohort_labelled={config.min_cohort_labelled}; not alerted on")
        if labelled > 0:
            cur_est = estimate(sub, specs, B, seed + 2 * i + 10, conf)
        else:
            cur_est = estimate(sub, specs, 0, 0, conf)
        if bm is not None:
            bsub = base.subset(base.rows_in(bm))
            base_est = estimate(bsub, specs, B, seed + 2 * i + 11, conf) if bsub.n else {}
            if bsub.n == 0:
                notes.append("no labelled rows of this cohort in the baseline set")
        else:
            base_est = {}
            notes.append("no baseline for this cohort")
        mrows = {}
        for mname, est in cur_est.items():
            r = compare(mname, direction_of(model.task, mname), est, base_est.get(mname))
            mrows[mname] = r
        results.append(
            {
                "cohort": name,
                "rows": rows,
                "labelled": labelled,
                "label_coverage": labelled / rows if rows else 0.0,
                "too_small": too_small,
                "note": "; ".join(notes) or None,
                "impact": None,
                "explained_by": None,
                "metrics": mrows,
            }
        )
        results[-1]["_masks"] = (cm, bm)
    _flag(results, config)
    for c in results:
        drops = [r["drop"] for r in c["metrics"].values() if r["value"] is not None and r["baseline"] is not None]
        c["impact"] = float(c["rows"] * max(drops)) if drops else 0.0
    results.sort(key=lambda c: (-c["impact"], c["cohort"]))
    _explain_overlaps(results, cur, base, specs, model, config)
    if any(c["explained_by"] for c in results):
        # Again without the explained cohorts: their overlapping discoveries would
        # otherwise make BH lenient for everything else (more rejections, higher cut-off).
        _flag([c for c in results if not c["explained_by"]], config)
    for c in results:
        del c["_masks"]
    return CohortsResult(tuple(results), tuple(errors))


def _flag(results: list[dict], config: PerformanceConfig) -> None:
    """Two-level FDR control: cohorts first, then their metrics.

    The alert unit is the cohort, so Benjamini-Hochberg runs across cohorts on a
    cohort p-value (Bonferroni over its metrics: m x the smallest p). Each metric
    also gets BH across all cohorts x metrics (`p_value_adjusted`), and is
    `regressed` only when both its cohort and itself pass, with a drop of at least
    min_delta. A cohort hit on several metrics so counts as one discovery, not
    several that would loosen the cut-off for the others.
    """
    ok = [not c["too_small"] for c in results]
    cohort_p = []
    for c in results:
        ps = [r["p_value"] for r in c["metrics"].values() if r["p_value"] is not None]
        cohort_p.append(min(1.0, len(ps) * min(ps)) if ps else None)
    cohort_q = bh_adjust([p if (p is not None and e) else np.nan for p, e in zip(cohort_p, ok)])
    rows = [(r, e) for c, e in zip(results, ok) for r in c["metrics"].values()]
    flag_regressions([r for r, _ in rows], config.fdr, config.min_delta, eligible=[e for _, e in rows])
    for c, p, q in zip(results, cohort_p, cohort_q):
        c["p_value"] = p
        c["p_value_adjusted"] = float(q) if np.isfinite(q) else None
        if c["p_value_adjusted"] is None or c["p_value_adjusted"] > config.fdr:
            for r in c["metrics"].values():
                r["regressed"] = False


def _explain_overlaps(results, cur, base, specs, model, config) -> None:
    """Mark a regressed cohort `explained_by` a higher-impact regressed one when its drop is only their overlap.

    E.g. when region=south breaks, every value bin holds some southern rows and
    may dip too; a bin is explained by region=south when, without the southern
    rows, no metric of the bin is significantly worse than the same rows of the
    baseline (p > fdr / metrics re-tested, or drop < min_delta). Explained cohorts are kept in the
    list but raise no alert of their own.
    """
    leaders: list[dict] = []
    for c in results:
        bad = [k for k, r in c["metrics"].items() if r.get("regressed")]
        if not bad:
            continue
        cm, bm = c["_masks"]
        for lead in leaders:
            lm, lbm = lead["_masks"]
            if not (cm & lm).any():
                continue
            rest = cur.subset(cur.rows_in(cm & ~lm))
            if rest.n < config.min_cohort_labelled:
                c["explained_by"] = lead["cohort"]
                break
            base_rest = base.subset(base.rows_in(bm & ~lbm)) if (bm is not None and lbm is not None) else None
            if base_rest is None or base_rest.n == 0:
                continue
            still = False
            r_est = estimate(rest, specs, config.bootstrap, config.seed + 99, config.confidence)
            b_est = estimate(base_rest, specs, config.bootstrap, config.seed + 98, config.confidence)
            for k in bad:
                r = compare(k, direction_of(model.task, k), r_est[k], b_est.get(k))
                # Bonferroni over the metrics re-tested: a chance dip of one metric is not "still regressed"
                if r["p_value"] is not None and r["p_value"] <= config.fdr / len(bad) and r["drop"] >= config.min_delta:
                    still = True
                    break
            if not still:
                c["explained_by"] = lead["cohort"]
                break
        if c["explained_by"] is None:
            leaders.append(c)
        else:
            note = f"its drop comes from its overlap with {c['explained_by']}: no separate alert"
            c["note"] = f"{c['note']}; {note}" if c["note"] else note
