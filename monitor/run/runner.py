"""Running the stages: each one's outcome (its result, or the error it raised) is recorded in stage order
as alerts, errors and timings. A stage that raises becomes an `errors` entry and a critical alert, and
the others still run. The drift stage of an in-memory day runs in its own thread beside the next stages.
"""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Optional

from monitor.alerts import Alert
from monitor.errors import MonitorError
from monitor.run.context import RunContext
from monitor.run.stages import DriftStage, Stage

__all__ = ["StageRunner", "Outcome", "Early", "execute", "start_drift", "run_stages"]


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



@dataclass
class Early:
    """The drift stage started before the quality stage, on the columns as read (`start_drift`)."""

    stage: DriftStage
    job: Future
    ctx: RunContext


def start_drift(ctx: RunContext, stages: list[Stage]) -> Optional[Early]:
    """Start the drift stage of an in-memory day now, in its own thread, to run beside the quality stage
    (and the stages after it) on the columns as read. Quality can change what drift should see (a retyped
    column converted back, an unusable feature dropped): `run_stages` keeps this run only when it did not."""
    drift = next((s for s in stages if isinstance(s, DriftStage)), None)
    if drift is None or not _drift_beside(ctx) or not drift.applies(ctx):
        return None
    return Early(drift, _in_thread(execute, drift, ctx, {}), ctx)


def run_stages(ctx: RunContext, stages: list[Stage], runner: StageRunner, done: dict[str, Any],
               early: Optional[Early] = None) -> Optional[DriftStage]:
    """Run `stages` in order; the drift stage of an in-memory day runs in its own thread beside the
    performance, cohort and business stages (its column tests spend most of their time in numpy calls that
    release the GIL), until a stage that reads its result. What they give is recorded in stage order
    either way (alerts, errors, timings), so the document is the same as with one stage after the other.

    `early`: the drift stage already started before quality (`start_drift`); its run is kept when `ctx`
    has the same frame and features it ran on, else it is waited for, dropped, and drift runs again."""
    drift_stage: Optional[DriftStage] = None
    queue: list[tuple[Stage, Any]] = []  # outcomes (or the drift's Future) not recorded yet, in stage order
    for stage in stages:
        if isinstance(stage, DriftStage):
            drift_stage = stage
        if not stage.applies(ctx):
            done[stage.name] = None
            continue
        if early is not None and early.stage is stage:
            if early.ctx.current is ctx.current and early.ctx.features == ctx.features:
                queue.append((stage, early.job))
                continue
            early.job.result()  # run on columns quality has since converted or dropped: not used
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

