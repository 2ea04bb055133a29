"""The phases of one monitored date: compute, render, notify (and run, which chains them)."""

from monitor.run.phases import (
    RunResult,
    build_deep_dive,
    compute,
    infer_features,
    load_history,
    notify,
    notify_failure,
    output_prefix,
    reevaluate_final,
    render,
    run,
    window_dates,
)

__all__ = [
    "RunResult",
    "run",
    "compute",
    "render",
    "notify",
    "reevaluate_final",
    "window_dates",
    "output_prefix",
    "infer_features",
    "load_history",
    "notify_failure",
    "build_deep_dive",
]
