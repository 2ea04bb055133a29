"""The stages after quality: drift runs in its own thread beside performance, cohorts and business for a
day held in memory (one stage at a time for a streamed day), and what they give is recorded in stage
order either way: the alerts, errors and timings are those of one stage after the other."""

from __future__ import annotations

import threading
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest

from monitor.alerts import Alert
from monitor.errors import DataError
from monitor.io.storage.deadlines import check_deadline, time_limits
from monitor.run.runner import StageRunner, run_stages, start_drift
from monitor.run.stages import DriftStage

WAIT = 10.0  # seconds drift waits for the performance stage to start (it never does when they run in turn)


class _Result:
    def __init__(self, name: str) -> None:
        self.name = name

    def alerts(self) -> list[Alert]:
        return [Alert("quality", self.name, "warning", f"{self.name} says so")]


class _Drift(DriftStage):
    """Waits until the performance stage has started: finishes only if the two overlap."""

    def __init__(self, started: threading.Event, fail: bool = False, wait: float = WAIT) -> None:
        super().__init__()
        self.started, self.fail, self.wait, self.thread = started, fail, wait, ""

    def applies(self, ctx: Any) -> bool:
        return True

    def run(self, ctx: Any, done: dict[str, Any]) -> Any:
        self.thread = threading.current_thread().name
        overlapped = self.started.wait(self.wait)
        check_deadline("the drift stage")  # the run's time limits reach the stage's thread
        if self.fail:
            raise DataError("the profile is damaged")
        return _Result(f"drift overlapped={overlapped}")


class _Plain:
    def __init__(self, name: str, started: threading.Event | None = None, reads_drift: bool = False) -> None:
        self.name, self.started, self.reads_drift = name, started, reads_drift
        self.saw: dict[str, Any] = {}

    def applies(self, ctx: Any) -> bool:
        return True

    def run(self, ctx: Any, done: dict[str, Any]) -> Any:
        if self.started is not None:
            self.started.set()
        self.saw = dict(done)
        return _Result(self.name)


def _stages(fail: bool = False, wait: float = WAIT) -> tuple[_Drift, list[Any]]:
    started = threading.Event()
    drift = _Drift(started, fail, wait)
    return drift, [drift, _Plain("performance", started), _Plain("cohorts"), _Plain("analysis", reads_drift=True)]


def test_drift_runs_beside_the_next_stages_and_is_recorded_first():
    drift, stages = _stages()
    runner, done = StageRunner(), {}
    ctx = SimpleNamespace(current=pd.DataFrame({"x": [1.0]}))
    assert run_stages(ctx, stages, runner, done) is drift
    assert drift.thread != threading.current_thread().name
    assert [a.subject for a in runner.alerts] == ["drift overlapped=True", "performance", "cohorts", "analysis"]
    assert list(runner.timings) == ["drift", "performance", "cohorts", "analysis"]
    assert stages[-1].saw["drift"].name == "drift overlapped=True"  # analysis waited for drift's result
    assert "drift" not in stages[2].saw  # cohorts did not wait for it


def test_a_streamed_day_runs_one_stage_at_a_time():
    drift, stages = _stages(wait=0.2)
    runner = StageRunner()
    ctx = SimpleNamespace(current=object())  # a ColumnFrame: not a pandas DataFrame
    run_stages(ctx, stages, runner, {})
    assert drift.thread == threading.current_thread().name
    assert [a.subject for a in runner.alerts][0] == "drift overlapped=False"
    assert list(runner.timings) == ["drift", "performance", "cohorts", "analysis"]


def test_a_failing_drift_thread_is_an_error_entry_in_stage_order():
    drift, stages = _stages(fail=True)
    runner, done = StageRunner(), {}
    run_stages(SimpleNamespace(current=pd.DataFrame()), stages, runner, done)
    assert runner.errors == [{"stage": "drift", "error": "the profile is damaged"}]
    assert [a.subject for a in runner.alerts] == ["stage:drift", "performance", "cohorts", "analysis"]
    assert done["drift"] is None and stages[-1].saw["drift"] is None


@pytest.mark.parametrize("streamed", [False, True])
def test_the_time_limits_reach_the_drift_thread(streamed):
    drift, stages = _stages(wait=0.2)
    runner = StageRunner()
    ctx = SimpleNamespace(current=object() if streamed else pd.DataFrame())
    with time_limits(None, 1e-9):  # already spent
        run_stages(ctx, stages, runner, {})
    assert runner.errors[0]["stage"] == "drift"
    assert "exceeded limits.run_seconds" in runner.errors[0]["error"]


class _Counting(DriftStage):
    """Records each run: the features it saw and its thread."""

    def __init__(self) -> None:
        super().__init__()
        self.runs: list[tuple[dict, str]] = []

    def applies(self, ctx: Any) -> bool:
        return True

    def run(self, ctx: Any, done: dict[str, Any]) -> Any:
        self.runs.append((dict(ctx.features), threading.current_thread().name))
        return _Result(f"drift on {sorted(ctx.features)}")


def _early(features_after: dict[str, str], coerced: bool = False) -> tuple[_Counting, StageRunner]:
    drift = _Counting()
    stages: list[Any] = [drift, _Plain("performance"), _Plain("analysis", reads_drift=True)]
    frame = pd.DataFrame({"a": [1.0], "b": ["x"]})
    before: Any = SimpleNamespace(current=frame, features={"a": "numerical", "b": "categorical"})
    early = start_drift(before, stages)
    assert early is not None
    after: Any = SimpleNamespace(current=frame.copy(deep=False) if coerced else frame, features=features_after)
    runner = StageRunner()
    run_stages(after, stages, runner, {}, early)
    return drift, runner


def test_drift_started_before_quality_is_kept_when_quality_changed_nothing():
    drift, runner = _early({"a": "numerical", "b": "categorical"})
    assert len(drift.runs) == 1 and drift.runs[0][1] != threading.current_thread().name
    assert [a.subject for a in runner.alerts] == ["drift on ['a', 'b']", "performance", "analysis"]


@pytest.mark.parametrize("coerced", [False, True])
def test_drift_started_before_quality_runs_again_when_quality_changed_the_columns(coerced):
    features = {"a": "numerical", "b": "categorical"} if coerced else {"a": "numerical"}  # b unusable, or a retyped column
    drift, runner = _early(features, coerced=coerced)
    assert len(drift.runs) == 2 and drift.runs[1][0] == features
    assert [a.subject for a in runner.alerts][0] == f"drift on {sorted(features)}"  # the second run's result
    assert list(runner.timings) == ["drift", "performance", "analysis"]


def test_a_streamed_day_does_not_start_drift_before_quality():
    drift = _Counting()
    assert start_drift(SimpleNamespace(current=object(), features={}), [drift]) is None
    assert drift.runs == []
