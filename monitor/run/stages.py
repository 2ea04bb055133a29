"""The stages after the inputs are read, each a small object with a `name`, `applies(ctx)` and
`run(ctx, done)`; `done` holds the results of the stages before it:

    quality -> drift -> performance -> cohorts -> business -> analysis

`runner.py` runs them (drift beside the others for an in-memory day); `computation.py` assembles
their results into the metrics document.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional, Protocol

from monitor.io.outputs import cached_profile, read_cached, write_cached
from monitor.run.columns import kind_of, reference_days
from monitor.run.context import RunContext

if TYPE_CHECKING:
    from monitor.io.storage import S3Storage

__all__ = ["Stage", "QualityStage", "DriftStage", "PerformanceStage", "CohortStage", "BusinessStage", "AnalysisStage",
           "default_stages"]


class Stage(Protocol):
    """One step of the computation. `run` returns a result with `alerts()` and `to_dict()`, or None."""

    name: str

    def applies(self, ctx: RunContext) -> bool: ...

    def run(self, ctx: RunContext, done: dict[str, Any]) -> Any: ...



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
        ref_days = stats.figure(  # the days the snapshot spans: its timestamps read and parsed once per snapshot
            f"days|{ctx.cfg.model.timestamp}", lambda: reference_days(ctx.cfg, ctx.reference),
            lambda v: v is None or (isinstance(v, float) and v >= 1.0),
        )
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


@dataclass
class PerformanceStage:
    """Realized and estimated performance. What it needs of the baseline (binary models: its estimates, notes and
    CBPE's calibration) is cached next to the drift profile, keyed by the baseline snapshot and the settings."""

    s3: Optional[S3Storage] = None
    name: str = "performance"
    defer_alerts: bool = True  # told after the cohorts: a regression no cohort stands out on is "shared by all cohorts"

    def applies(self, ctx: RunContext) -> bool:
        return ctx.has_data and ctx.cfg.model.target in ctx.baseline.columns and _has_outputs(ctx)

    def run(self, ctx: RunContext, done: dict[str, Any]) -> Any:
        from monitor.stages.performance import evaluate_performance

        cfg = ctx.cfg
        side, cache = self._baseline_side(ctx)
        result = evaluate_performance(
            ctx.current, ctx.baseline, cfg.model, cfg.metrics, cfg.performance, final=ctx.final, human_level=cfg.human_level,
            baseline_side=side,
        )
        if cache and side is None and result.baseline_side is not None:
            raw = result.baseline_side.to_json()
            if raw is not None:
                write_cached(cfg, cache, raw, self.s3)
        return result

    def _baseline_side(self, ctx: RunContext) -> tuple[Any, Optional[str]]:
        """The baseline side an earlier run on this baseline left (else none) and its cache's name."""
        from monitor.stages.performance.baseline_side import FORMAT, VERSION, BaselineSide

        cfg = ctx.cfg
        if cfg.model.task != "binary_classification":
            return None, None
        return _cached_baseline(ctx, self.s3, BaselineSide.from_json, cfg.performance.model_dump_json(), fmt=f"{FORMAT}|{VERSION}")


@dataclass
class CohortStage:
    """Cohort bias. The baseline side of each cohort (its estimates and those of the rest of the baseline) is
    cached next to the drift profile, keyed by the baseline snapshot and the settings (`drift.cache_profile`)."""

    s3: Optional[S3Storage] = None
    name: str = "cohorts"

    def applies(self, ctx: RunContext) -> bool:
        cfg = ctx.cfg
        return PerformanceStage().applies(ctx) and bool(cfg.cohorts or cfg.performance.all_categorical_cohorts)

    def run(self, ctx: RunContext, done: dict[str, Any]) -> Any:
        from monitor.stages.cohorts import evaluate_cohorts

        cfg = ctx.cfg
        cats = [c for c, k in ctx.features.items() if k == "categorical"]
        perf = done.get("performance")
        figures, cache = self._baseline_figures(ctx)
        result = evaluate_cohorts(
            ctx.current, ctx.baseline, cfg.model, cfg.metrics, cfg.cohorts, cfg.performance, categorical_features=cats,
            prepared=perf.prepared if perf is not None else None, baseline_figures=figures,
        )
        if cache and figures is not None and figures.changed:
            write_cached(cfg, cache, figures.to_json(), self.s3)
        return result

    def _baseline_figures(self, ctx: RunContext) -> tuple[Any, Optional[str]]:
        """The baseline figures an earlier run on this baseline left (else none yet) and their cache's name."""
        from monitor.stages.cohort_figures import BaselineFigures

        cfg = ctx.cfg
        found, name = _cached_baseline(ctx, self.s3, BaselineFigures.from_json,
                                       json.dumps([c.model_dump_json() for c in cfg.cohorts]), cfg.performance.model_dump_json())
        return (found or BaselineFigures(), name) if name else (None, None)


def _cached_baseline(ctx: RunContext, s3: Optional[S3Storage], parse: Any, *settings: str,
                     fmt: Optional[str] = None) -> tuple[Any, Optional[str]]:
    """What an earlier run worked out of this baseline snapshot under these settings (None: nothing, or a file
    that does not parse: worked out again and rewritten), and the cache file's name (None: no caching)."""
    from monitor.stages.cohort_figures import cache_name

    identity = _baseline_identity(ctx)
    if not (ctx.cfg.drift.cache_profile and identity):
        return None, None
    from monitor import __version__

    cfg = ctx.cfg  # the code's version too: figures worked out by other code are not reused
    name = cache_name(identity, __version__, cfg.model.model_dump_json(), json.dumps(list(cfg.metrics)), *settings,
                      **({"fmt": fmt} if fmt else {}))
    raw = read_cached(cfg, name, s3)
    if raw is not None:
        try:
            return parse(raw), name
        except (ValueError, TypeError):
            pass  # corrupt or of another version
    return None, name


def _baseline_identity(ctx: RunContext) -> Optional[str]:
    """The baseline snapshot's identity: the reference's, with the baseline's objects when it has its own."""
    identity = ctx.inputs.reference_identity
    if identity and ctx.cfg.baseline:
        identity += "|baseline:" + "|".join(
            f"{o['uri']}:{o.get('size')}:{o.get('etag') or o.get('mtime')}" for o in ctx.inputs.objects if o["role"] == "baseline"
        )
    return identity


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
    return [DriftStage(s3=s3), PerformanceStage(s3=s3), CohortStage(s3=s3), BusinessStage(), AnalysisStage()]

