"""A shorter switch interval while a Python-heavy thread runs beside threads that mostly run numpy.

A thread that released the GIL for a numpy call waits for it afterwards until the holder gives it
up, which a thread running Python code does only every switch interval (5 ms by default). Beside
scikit-learn's import or fit (Python code, holding the GIL), a column thread then made one numpy
call per 5 ms: the work did not overlap at all, the column pass took as long as the import on top
of its own time. At 0.2 ms it waits little and the import loses little (a switch costs microseconds).

`sharing_the_gil()` is counted: the interval is shortened by the first holder and put back by the
last one (unless someone else changed it meanwhile), so overlapping users (the import thread, the
column pass) do not undo each other.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["sharing_the_gil", "SHARED_SWITCH_INTERVAL"]

SHARED_SWITCH_INTERVAL = 0.0002  # seconds

_lock = threading.Lock()
_holders = 0
_saved = (0.0, 0.0)  # (the interval before, the one set)


@contextmanager
def sharing_the_gil() -> Iterator[None]:
    global _holders, _saved
    with _lock:
        if _holders == 0:
            before = sys.getswitchinterval()
            sys.setswitchinterval(min(before, SHARED_SWITCH_INTERVAL))
            _saved = (before, sys.getswitchinterval())  # as Python stores it (whole microseconds)
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0 and sys.getswitchinterval() == _saved[1]:  # unless someone else changed it
                sys.setswitchinterval(_saved[0])
