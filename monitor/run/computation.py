"""The computation of one date: the stages (stages.py) run over one frozen RunContext (runner.py), and
their results assembled into the metrics document (the metrics.json contract).

    quality -> drift -> performance -> cohorts -> business -> analysis  ->  the metrics document
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Optional

from monitor.alerts import Alert, mark_new, resolved_since, status_of
from monitor.document import SCHEMA_VERSION, MetricsDocument
from monitor.io.inputs import Inputs, window_dates
from monitor.jsonutil import to_jsonable
from monitor.run.columns import cache_policy, infer_features
from monitor.run.context import RunContext
from monitor.run.runner import StageRunner, run_stages, start_drift
from monitor.run.stages import QualityStage, Stage, default_stages
from monitor.textcut import bound_json

if TYPE_CHECKING:
    import datetime as dt

    import pandas as pd

    from monitor.config import MonitorConfig
    from monitor.io.storage import S3Storage

__all__ = ["Stage", "StageRunner", "Computed", "default_stages", "compute_metrics", "infer_features", "make_context"]


@dataclass
class Computed:
    """What the computation gives the compute phase: the metrics document, timings and rows to annotate."""

    metrics: dict
    timings: dict[str, float]
    to_annotate: Optional[pd.DataFrame]


def make_context(
    cfg: MonitorConfig, day: dt.date, inputs: Inputs, history: list[dict], as_of: dt.date
) -> RunContext:
    current = inputs.current
    target = cfg.model.target
    features = infer_features(cfg, inputs.reference)
    cache_policy(cfg, current, features)
    return RunContext(
        cfg=cfg, day=day, window=window_dates(day, cfg.window_days), as_of=as_of, inputs=inputs, current=current,
        features=features, history=history,
        labelled=int(current[target].notna().sum()) if target in current.columns else 0,
        final=(as_of - day).days >= (cfg.labels.delay_days if cfg.labels else 0),
    )


def compute_metrics(ctx: RunContext, s3: Optional[S3Storage] = None) -> Computed:
    """Run the stages over `ctx` and assemble the metrics document (the metrics.json contract)."""
    runner = StageRunner()
    done: dict[str, Any] = {}
    stages = default_stages(s3)
    early = start_drift(ctx, stages)  # beside quality, on the columns as read (kept if quality changes none)
    q = done["quality"] = runner.run(QualityStage(s3=s3), ctx, done)
    # The labels table (already joined into `current`) is read by the quality checks only: release it
    # before the later stages' peak (0.8 GB at 50M labels).
    ctx.inputs.labels = None
    if q is not None and ctx.has_data:
        # The run continues on the columns it can use: retyped columns converted back, unusable ones dropped.
        from monitor.stages.quality import coerce_types

        features = {c: k for c, k in ctx.features.items() if c in q.usable_features} if q.usable_features else ctx.features
        ctx = replace(ctx, current=coerce_types(ctx.current, q), features=features)
    for err in ctx.inputs.label_errors:
        runner.alerts.append(Alert("quality", "labels", "warning", err))
    drift_stage = run_stages(ctx, stages, runner, done, early)
    perf, cohorts = done.get("performance"), done.get("cohorts")
    if perf is not None:
        done["performance"] = perf = perf.with_cohorts(cohorts.standing_out() if cohorts is not None else {}, evaluated=cohorts is not None)
        runner.alerts.extend(perf.alerts())
    if drift_stage is not None and drift_stage.profile_seconds is not None:
        runner.timings["drift_profile"] = drift_stage.profile_seconds
    analysis, to_annotate = done.get("analysis") or ({}, None)
    metrics = _document(ctx, runner, done, analysis, drift_stage.cache_hit if drift_stage else None)
    return Computed(metrics, runner.timings, to_annotate)



def _document(ctx: RunContext, runner: StageRunner, done: dict[str, Any], analysis: dict, cached: Optional[bool]) -> dict:
    cfg, window = ctx.cfg, ctx.window
    q, drift, perf, cohorts, business = (done.get(k) for k in ("quality", "drift", "performance", "cohorts", "business"))
    alerts = list(runner.alerts)
    if not ctx.has_data and not any(a.kind == "no_data" for a in alerts):
        missing = ", ".join(p["date"] for p in ctx.inputs.partitions if not p["found"]) or window[-1].isoformat()
        alerts.append(Alert("no_data", "production", "critical", f"no production rows for {missing}: the partition is missing or empty"))
    previous = ctx.history[-1] if ctx.history else None
    alerts = mark_new(_dedupe(alerts), previous)
    cohort_doc = cohorts.to_dict() if cohorts is not None else {}
    metrics = {  # the keys of MetricsDocument, in the order metrics.json has them
        "schema_version": SCHEMA_VERSION,
        "monitor": cfg.name,
        "date": ctx.day.isoformat(),
        "window": {"start": window[0].isoformat(), "end": window[-1].isoformat()},
        "status": status_of(alerts, ctx.has_data),
        "rows": {"current": int(len(ctx.current)), "reference": int(len(ctx.reference)), "labelled": ctx.labelled},
        "alerts": [a.to_dict() for a in alerts],
        "resolved": resolved_since(alerts, previous, _checked_kinds(ctx.has_data, drift, perf, cohorts, business, q)),
        "drift": drift.to_dict() if drift is not None else None,
        "quality": q.to_dict() if q is not None else None,
        "performance": perf.to_dict() if perf is not None else None,
        "cohorts": cohort_doc.get("cohorts", []),
        "cohort_errors": cohort_doc.get("errors", []),
        "business": business.to_dict() if business is not None else None,
        "analysis": analysis or None,
        "errors": runner.errors,
        "final": ctx.final,
        "as_of": ctx.as_of.isoformat(),
        "profile_cached": cached,
    }
    # every text cut at textcut.TEXT_CHARS: the stages cut the data values they quote; this is the last guard
    return MetricsDocument.model_validate(bound_json(to_jsonable(metrics))).to_json()


def _checked_kinds(has_data: bool, drift: Any, perf: Any, cohorts: Any, business: Any, quality: Any) -> set[str]:
    """The alert kinds whose checks actually ran (the others cannot have resolved)."""
    kinds = {"no_data"}
    if quality is not None:
        kinds |= {"quality", "volume"}
    if has_data and drift is not None:
        kinds.add("drift")
    if perf is not None and (perf.to_dict().get("labelled") or 0) > 0:
        kinds.add("performance")
        if cohorts is not None:
            kinds.add("cohort")
    if business is not None:
        kinds.add("business")
    return kinds


def _dedupe(alerts: list[Alert]) -> list[Alert]:
    seen, out = set(), []
    for a in alerts:
        if (a.kind, a.subject, a.message) not in seen:
            seen.add((a.kind, a.subject, a.message))
            out.append(a)
    return out
