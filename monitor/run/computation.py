"""The computation of one date: the stages in order over one frozen RunContext.

    quality -> drift -> performance -> cohorts -> business -> analysis  ->  the metrics document

Each stage is a small object with a `name`, `applies(ctx)` and `run(ctx, done)`; `done`
holds the results of the stages before it. A stage that raises becomes an `errors`
entry and a critical alert, and the others still run.
"""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Optional, Protocol

from monitor.alerts import Alert, mark_new, resolved_since, status_of
from monitor.document import SCHEMA_VERSION, MetricsDocument
from monitor.errors import MonitorError
from monitor.io.inputs import Inputs, window_dates
from monitor.io.outputs import cached_profile, read_cached, write_cached
from monitor.jsonutil import to_jsonable
from monitor.run.columns import cache_policy, infer_features, kind_of, reference_days
from monitor.run.context import RunContext
from monitor.textcut import bound_json

if TYPE_CHECKING:
    import datetime as dt

    import pandas as pd

    from monitor.config import MonitorConfig
    from monitor.io.storage import S3Storage

__all__ = ["Stage", "StageRunner", "Computed", "default_stages", "compute_metrics", "infer_features", "make_context"]


class Stage(Protocol):
    """One step of the computation. `run` returns a result with `alerts()` and `to_dict()`, or None."""

    name: str

    def applies(self, ctx: RunContext) -> bool: ...

    def run(self, ctx: RunContext, done: dict[str, Any]) -> Any: ...


@dataclass
class StageRunner:
    """Runs each stage, keeping its result; a stage that raises becomes an error entry and an alert."""

    errors: list[dict] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    def run(self, stage: Stage, ctx: RunContext, done: dict[str, Any]) -> Any:
        return self.record(stage, execute(stage, ctx, done))

    def record(self, stage: Stage, outcome: Outcome) -> Any:
        """Keep what `execute` gave: its result, or its error as an error entry and an alert."""
        if outcome.error is not None:
            self._fail(stage.name, outcome.error)
        self.timings[stage.name] = outcome.seconds
        result = outcome.result
        if result is not None and hasattr(result, "alerts") and not getattr(stage, "defer_alerts", False):
            self.alerts.extend(result.alerts())
        return result

    def _fail(self, name: str, message: str) -> None:
        self.errors.append({"stage": name, "error": message})
        self.alerts.append(Alert("quality", f"stage:{name}", "critical", f"{name} could not be computed: {message}"))


@dataclass
class Outcome:
    """One stage's run: its result, or the error it raised (as the message the run reports), and its seconds."""

    result: Any = None
    error: Optional[str] = None
    seconds: float = 0.0


def execute(stage: Stage, ctx: RunContext, done: dict[str, Any]) -> Outcome:
    """Run one stage, catching what it raises (nothing is recorded: `StageRunner.record` does that, in stage order)."""
    t = time.perf_counter()
    out = Outcome()
    try:
        out.result = stage.run(ctx, done)
    except MonitorError as exc:
        out.error = str(exc)
    except Exception as exc:  # noqa: BLE001 - a bug or an unforeseen input: report it, keep the other stages
        out.error = f"{type(exc).__name__}: {exc}"
    out.seconds = round(time.perf_counter() - t, 4)
    return out


# --------------------------------------------------------------------------- the stages


@dataclass
class QualityStage:
    """Always runs: with quality switched off it still checks arrival.

    The reference's per-feature figures the checks compare with (dtype, nulls, range, categories) are
    cached next to the drift profile, keyed by the snapshot (`drift.cache_profile`): a run on a cached
    snapshot reads none of the reference's feature columns."""

    s3: Optional[S3Storage] = None
    name: str = "quality"

    def applies(self, ctx: RunContext) -> bool:
        return True

    def run(self, ctx: RunContext, done: dict[str, Any]) -> Any:
        from monitor.stages.quality import check_quality

        stats, cache = self._reference_stats(ctx)
        ref_days = reference_days(ctx.cfg, ctx.reference)
        result = check_quality(
            ctx.current, ctx.reference, model=ctx.cfg.model, features=ctx.features, config=ctx.cfg.quality,
            window_start=ctx.window[0], window_end=ctx.window[-1], partitions=ctx.inputs.partitions,
            history=ctx.history, labels=ctx.inputs.labels,
            reference_daily_rows=(len(ctx.reference) / ref_days) if ref_days else None,
            labels_partitioned=ctx.inputs.labels_partitioned, labels_due=ctx.inputs.labels_due,
            reference_stats=stats,
        )
        if cache and stats.changed:
            write_cached(ctx.cfg, cache, stats.to_json(), self.s3)
        return result

    def _reference_stats(self, ctx: RunContext) -> tuple[Any, Optional[str]]:
        """The reference's figures (from the cache when an earlier run on this snapshot left them) and the cache's name."""
        import hashlib

        from monitor.stages.quality.refstats import FORMAT, VERSION, ReferenceStats

        identity = ctx.inputs.reference_identity
        if not (ctx.cfg.drift.cache_profile and identity):
            return ReferenceStats(ctx.reference, kinds=ctx.features), None
        name = hashlib.sha256(f"{FORMAT}|{VERSION}|{identity}".encode()).hexdigest()[:20] + ".json"
        raw = read_cached(ctx.cfg, name, self.s3)
        if raw is not None:
            try:
                return ReferenceStats.from_json(ctx.reference, raw, kinds=ctx.features), name
            except (ValueError, TypeError, KeyError, AttributeError):
                pass  # corrupt or of another version: worked out again and rewritten
        return ReferenceStats(ctx.reference, kinds=ctx.features), name


@dataclass
class DriftStage:
    """Per-column and dataset drift against the reference profile (fitted once, cached)."""

    s3: Optional[S3Storage] = None
    name: str = "drift"
    cache_hit: Optional[bool] = None
    profile_seconds: Optional[float] = None

    def applies(self, ctx: RunContext) -> bool:
        return ctx.has_data

    def run(self, ctx: RunContext, done: dict[str, Any]) -> Any:
        from monitor.stages.drift import ReferenceProfile, detect_drift, fit_profile, profile_cache_key

        m, reference = ctx.cfg.model, ctx.reference
        roles = {c: "feature" for c in ctx.features}
        # multiclass: one probability column per class (`model.scores`), each drift-tested on its own
        for col in (m.prediction, m.score, *(getattr(m, "scores", None) or {}).values()):
            if col and col in reference.columns:
                roles[col] = "prediction"
        if ctx.labelled and m.target in reference.columns:
            roles[m.target] = "target"
        kinds = {c: ctx.features.get(c) or kind_of(reference, c) for c in roles}
        # the model's outputs against the baseline's (held-out) scores, not the training snapshot's in-sample ones
        outputs = tuple(c for c, r in roles.items() if r == "prediction")
        held_out = ctx.baseline if ctx.cfg.baseline and outputs and all(c in ctx.baseline.columns for c in outputs) else None
        identity = ctx.inputs.reference_identity
        if held_out is not None and identity:
            identity += "|held_out:" + "|".join(
                f"{o['uri']}:{o.get('size')}:{o.get('etag') or o.get('mtime')}" for o in ctx.inputs.objects if o["role"] == "baseline"
            )
        key = None
        if ctx.cfg.drift.cache_profile and identity:
            key = profile_cache_key(identity, kinds, ctx.cfg.drift)
        t = time.perf_counter()
        profile, self.cache_hit = cached_profile(
            ctx.cfg, key,
            lambda: fit_profile(reference, kinds, ctx.cfg.drift, held_out=held_out, held_out_columns=outputs if held_out is not None else ()),
            ReferenceProfile.from_bytes, self.s3,
        )
        self.profile_seconds = round(time.perf_counter() - t, 4)
        return detect_drift(profile, ctx.current, ctx.cfg.drift, roles, newest_day=_newest_day(ctx))


def _newest_day(ctx: RunContext) -> Any:
    """The last day of a multi-day window on its own (its rows come last: partitions are read in date order)."""
    import numpy as np

    from monitor.stages.drift import Day

    last = ctx.window[-1].isoformat()
    n = sum(int(p["rows"] or 0) for p in ctx.inputs.partitions if p["date"] == last and p["found"])
    if len(ctx.window) < 2 or n == 0 or n > len(ctx.current):
        return None
    rows = np.zeros(len(ctx.current), dtype=bool)
    rows[len(ctx.current) - n:] = True
    return Day(last, ctx.current[rows])


class PerformanceStage:
    name = "performance"
    defer_alerts = True  # told after the cohorts: a regression no cohort stands out on is "shared by all cohorts"

    def applies(self, ctx: RunContext) -> bool:
        return ctx.has_data and ctx.cfg.model.target in ctx.baseline.columns and _has_outputs(ctx)

    def run(self, ctx: RunContext, done: dict[str, Any]) -> Any:
        from monitor.stages.performance import evaluate_performance

        cfg = ctx.cfg
        return evaluate_performance(
            ctx.current, ctx.baseline, cfg.model, cfg.metrics, cfg.performance, final=ctx.final, human_level=cfg.human_level
        )


class CohortStage:
    name = "cohorts"

    def applies(self, ctx: RunContext) -> bool:
        cfg = ctx.cfg
        return PerformanceStage().applies(ctx) and bool(cfg.cohorts or cfg.performance.all_categorical_cohorts)

    def run(self, ctx: RunContext, done: dict[str, Any]) -> Any:
        from monitor.stages.cohorts import evaluate_cohorts

        cfg = ctx.cfg
        cats = [c for c, k in ctx.features.items() if k == "categorical"]
        perf = done.get("performance")
        return evaluate_cohorts(
            ctx.current, ctx.baseline, cfg.model, cfg.metrics, cfg.cohorts, cfg.performance, categorical_features=cats,
            prepared=perf.prepared if perf is not None else None,
        )


class BusinessStage:
    name = "business"

    def applies(self, ctx: RunContext) -> bool:
        return ctx.has_data and ctx.cfg.business is not None

    def run(self, ctx: RunContext, done: dict[str, Any]) -> Any:
        from monitor.stages.business import evaluate_business

        assert ctx.cfg.business is not None
        return evaluate_business(ctx.current, ctx.baseline, ctx.cfg.model, ctx.cfg.business, window_days=ctx.cfg.window_days)


def _has_outputs(ctx: RunContext) -> bool:
    """The model's outputs arrived: its prediction, or the scores a classifier's prediction follows from.
    Without them quality's missing_columns names the column once; the stages that need it do not run
    (a regression model's dropped prediction column raised three 'could not be computed', one a KeyError)."""
    m, cols = ctx.cfg.model, ctx.current.columns
    return (m.prediction in cols or (m.score is not None and m.score in cols)
            or (bool(m.scores) and all(c in cols for c in (m.scores or {}).values())))


class AnalysisStage:
    """The worst cohorts and rows, and the unlabelled rows worth labelling. Returns (dict, frame)."""

    name = "analysis"
    reads_drift = True  # waits for a drift stage running in its own thread

    def applies(self, ctx: RunContext) -> bool:
        return ctx.has_data and _has_outputs(ctx)

    def run(self, ctx: RunContext, done: dict[str, Any]) -> Any:
        from monitor.stages import analysis as an

        cfg, m = ctx.cfg, ctx.cfg.model
        drift, cohorts = done.get("drift"), done.get("cohorts")
        out: dict[str, Any] = {}
        if ctx.labelled:
            out["worst_rows"] = an.worst_rows(ctx.current, m, list(ctx.features), cfg.performance.worst_rows)
        if cohorts is not None:
            out["top_cohorts"] = an.top_cohorts(cohorts, 5)
        drifted = [c for c, f in (drift.to_dict().get("features") or {}).items() if f.get("drifted")] if drift else []
        cache_also = getattr(ctx.current, "cache_also", None)
        if cache_also is not None and cfg.performance.annotate_rows:
            cache_also(drifted)  # read for the unlabelled and the labelled rows in turn
        sample = an.select_for_annotation(
            ctx.current, m, cfg.performance.annotate_rows, cfg.performance.seed,
            cohort_columns=[c.column for c in cfg.cohorts if c.column], drifted_features=drifted,
        ) if cfg.performance.annotate_rows else None
        return out, sample


def default_stages(s3: Optional[S3Storage] = None) -> list[Stage]:
    """The stages after quality, in order (each sees the results of the ones before)."""
    return [DriftStage(s3=s3), PerformanceStage(), CohortStage(), BusinessStage(), AnalysisStage()]


# --------------------------------------------------------------------------- the document


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
    drift_stage = _run_stages(ctx, default_stages(s3), runner, done)
    perf, cohorts = done.get("performance"), done.get("cohorts")
    if perf is not None:
        done["performance"] = perf = perf.with_cohorts(cohorts.standing_out() if cohorts is not None else {}, evaluated=cohorts is not None)
        runner.alerts.extend(perf.alerts())
    if drift_stage is not None and drift_stage.profile_seconds is not None:
        runner.timings["drift_profile"] = drift_stage.profile_seconds
    analysis, to_annotate = done.get("analysis") or ({}, None)
    metrics = _document(ctx, runner, done, analysis, drift_stage.cache_hit if drift_stage else None)
    return Computed(metrics, runner.timings, to_annotate)


def _run_stages(ctx: RunContext, stages: list[Stage], runner: StageRunner, done: dict[str, Any]) -> Optional[DriftStage]:
    """Run `stages` in order; the drift stage of an in-memory day runs in its own thread beside the
    performance, cohort and business stages (its column tests spend most of their time in numpy calls that
    release the GIL), until a stage that reads its result. What they give is recorded in stage order
    either way (alerts, errors, timings), so the document is the same as with one stage after the other."""
    drift_stage: Optional[DriftStage] = None
    queue: list[tuple[Stage, Any]] = []  # outcomes (or the drift's Future) not recorded yet, in stage order
    for stage in stages:
        if isinstance(stage, DriftStage):
            drift_stage = stage
        if not stage.applies(ctx):
            done[stage.name] = None
            continue
        if isinstance(stage, DriftStage) and _drift_beside(ctx):
            queue.append((stage, _in_thread(execute, stage, ctx, done)))
            continue
        if getattr(stage, "reads_drift", False):
            _record(runner, queue, done)
        outcome = execute(stage, ctx, done)
        done[stage.name] = outcome.result
        queue.append((stage, outcome))
        if not any(isinstance(item, Future) for _, item in queue):
            _record(runner, queue, done)
    _record(runner, queue, done)
    return drift_stage


def _drift_beside(ctx: RunContext) -> bool:
    """Drift runs beside the other stages for a day held in memory; a streamed day (read column by column,
    50M rows) keeps one stage at a time, so that two stages' columns are never in memory together."""
    import pandas as pd

    return isinstance(ctx.current, pd.DataFrame)


def _in_thread(fn: Any, *args: Any) -> Future:
    """`fn(*args)` in a new thread, in a copy of this context (the run's time limits are context variables)."""
    import contextvars

    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stage")
    job = pool.submit(contextvars.copy_context().run, fn, *args)
    pool.shutdown(wait=False)  # the thread ends with the job
    return job


def _record(runner: StageRunner, queue: list[tuple[Stage, Any]], done: dict[str, Any]) -> None:
    """Record the queued outcomes in stage order, waiting for a stage still running in its thread."""
    for stage, item in queue:
        done[stage.name] = runner.record(stage, item.result() if isinstance(item, Future) else item)
    queue.clear()


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
