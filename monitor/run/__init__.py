"""The phases of one monitored date: compute, render, notify (and run, which chains them).

    from monitor.run import RunOptions, Clients, run
    run(cfg, day, RunOptions(send_email=False), Clients.from_env())
"""

from monitor.run.computation import Stage
from monitor.run.context import Clients, RunContext, RunOptions, RunResult
from monitor.run.email import notify_failure
from monitor.run.phases import build_deep_dive, compute, notify, reevaluate_final, render, run

__all__ = [
    "Clients",
    "RunContext",
    "RunOptions",
    "RunResult",
    "Stage",
    "build_deep_dive",
    "compute",
    "notify",
    "notify_failure",
    "reevaluate_final",
    "render",
    "run",
]
