"""Time budgets for storage operations: limits.read_seconds per operation, limits.run_seconds per run."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional

from monitor.errors import DeadlineError

if TYPE_CHECKING:  # pragma: no cover
    pass


__all__ = ['time_limits', 'check_deadline', 'bounded']


@dataclass(frozen=True)
class _Limits:
    read_seconds: Optional[float]
    run_seconds: Optional[float]
    deadline: Optional[float]  # time.monotonic() at which the run's budget ends


_LIMITS: ContextVar[Optional[_Limits]] = ContextVar("monitor_storage_limits", default=None)


@contextmanager
def time_limits(read_seconds: Optional[float] = None, run_seconds: Optional[float] = None) -> Iterator[None]:
    """Budgets for the S3 operations made inside the block: each at most `read_seconds` (all its
    retries included) and all of them within `run_seconds` from now. Past a budget: DeadlineError."""
    outer = _LIMITS.get()
    deadline = time.monotonic() + run_seconds if run_seconds else None
    if outer is not None and outer.deadline is not None and (deadline is None or outer.deadline < deadline):
        deadline, run_seconds = outer.deadline, outer.run_seconds  # a nested block never extends the run
    token = _LIMITS.set(_Limits(read_seconds, run_seconds, deadline))
    try:
        yield
    finally:
        _LIMITS.reset(token)


def check_deadline(what: str) -> None:
    """Raise DeadlineError when the run's budget (limits.run_seconds) is spent; `what` says where we were."""
    lim = _LIMITS.get()
    if lim is not None and lim.deadline is not None and time.monotonic() >= lim.deadline:
        raise DeadlineError(f"the run exceeded limits.run_seconds={lim.run_seconds:g} before {what}")


def bounded(what: str, fn: Callable[[], Any]) -> Any:
    """Run one storage operation within the read and run budgets. The call runs in a worker thread;
    when its budget ends first, DeadlineError is raised and the worker is abandoned (a daemon thread
    that botocore's own socket timeouts end later)."""
    lim = _LIMITS.get()
    if lim is None:
        return fn()
    budgets: list[tuple[float, str]] = []
    if lim.read_seconds:
        budgets.append((lim.read_seconds, f"limits.read_seconds={lim.read_seconds:g}"))
    if lim.deadline is not None:
        budgets.append((lim.deadline - time.monotonic(), f"limits.run_seconds={lim.run_seconds:g} (the run's budget)"))
    if not budgets:
        return fn()
    budget, which = min(budgets)
    if budget <= 0:
        raise DeadlineError(f"the run exceeded {which} before {what}")
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            box["error"] = exc

    worker = threading.Thread(target=work, name=f"storage: {what[:60]}", daemon=True)
    worker.start()
    worker.join(budget)
    if worker.is_alive():
        raise DeadlineError(f"{what}: no complete answer within {budget:.3g} s ({which}); "
                            "the storage endpoint is slow or not answering")
    if "error" in box:
        raise box["error"]
    return box.get("value")
