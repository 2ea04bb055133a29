"""The baseline side of the performance stage, worked out once per baseline snapshot (binary models).

The stage compares the window with the baseline set. What it needs of the baseline is its labelled
rows' count, its estimates (value, interval and standard error per metric), the notes its rows gave,
and CBPE's calibration (scores -> P(positive), fitted on the baseline's labelled scores). All of it
depends on the baseline, the model and the settings alone, so a run on an unchanged snapshot takes it
from a cache file next to the drift profile (named like the cohorts' baseline figures) instead of
reading, encoding and sorting the baseline's rows again: at 1M rows 30-34 MB held through the
performance and cohort stages, and ~0.2 s of CPU. The rows are still encoded when a later step needs
them (`LazyPrepared`: a cohort whose baseline side is not kept). The numbers round-trip through JSON
exactly; a file that does not read back is worked out again, and the result is the same either way.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from monitor.stages.performance.estimates import MetricEstimate

__all__ = ["FORMAT", "BaselineSide", "LazyPrepared", "estimates_to_json", "estimates_from_json"]

FORMAT = "monitor.performance.baseline"
VERSION = 1


@dataclass(frozen=True)
class BaselineSide:
    n: int  # labelled baseline rows
    notes: tuple[str, ...]  # what encoding the baseline's rows noted (without the "baseline: " prefix)
    estimates: dict[str, MetricEstimate]
    calibration: Optional[tuple[np.ndarray, np.ndarray]]  # CBPE's (score, P(positive)) points; None: cannot calibrate

    def to_json(self) -> Optional[bytes]:
        """The cache file's bytes, or None when a number would not come back exactly."""
        est = estimates_to_json(self.estimates)
        cal = None if self.calibration is None else [a.astype(float).tolist() for a in self.calibration]
        if est is None or (cal is not None and not all(math.isfinite(v) for a in cal for v in a)):
            return None
        doc = {"format": FORMAT, "version": VERSION, "n": int(self.n), "notes": list(self.notes), "estimates": est,
               "calibration": cal}
        return json.dumps(doc, allow_nan=False, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> BaselineSide:
        """Raises ValueError or TypeError on a file of another format, version or shape."""
        doc = json.loads(raw)
        if not isinstance(doc, dict) or doc.get("format") != FORMAT or doc.get("version") != VERSION:
            raise ValueError("not a performance baseline side of this version")
        n, notes, cal = doc.get("n"), doc.get("notes"), doc.get("calibration")
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise ValueError("labelled rows of the wrong shape")
        if not isinstance(notes, list) or not all(isinstance(x, str) for x in notes):
            raise ValueError("notes of the wrong shape")
        calibration = None
        if cal is not None:
            if not (isinstance(cal, list) and len(cal) == 2 and all(isinstance(a, list) for a in cal) and len(cal[0]) == len(cal[1])
                    and all(isinstance(v, float) and math.isfinite(v) for a in cal for v in a)):
                raise ValueError("calibration of the wrong shape")
            calibration = (np.asarray(cal[0], dtype=np.float64), np.asarray(cal[1], dtype=np.float64))
        return cls(n, tuple(notes), estimates_from_json(doc.get("estimates")), calibration)


class LazyPrepared:
    """Stands for the baseline's encoded rows (a `Prepared`), encoded the first time anything of them is asked for."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self._make: Optional[Callable[[], Any]] = make
        self._value: Any = None

    def __getattr__(self, name: str) -> Any:  # only for what this object does not have itself
        if self._make is not None:
            self._value, self._make = self._make(), None
        return getattr(self._value, name)


_FIELDS = ("value", "ci_low", "ci_high", "se")


def estimates_to_json(estimates: dict[str, MetricEstimate]) -> Optional[dict[str, list]]:
    """dict[str, MetricEstimate] as JSON values, or None when one would not come back exactly."""
    out = {}
    for name, e in estimates.items():
        nums = [getattr(e, f) for f in _FIELDS]
        if not all(_number(v) for v in nums) or not (e.note is None or isinstance(e.note, str)):
            return None
        entry: list[Any] = [v if v is None or isinstance(v, int) else float(v) for v in nums]  # np.float64: its float
        out[str(name)] = [*entry, e.note]
    return out


def _number(v: Any) -> bool:
    """None or a finite number (not a bool) that JSON gives back as it is."""
    if v is None:
        return True
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.floating)):
        return False
    return math.isfinite(v)


def estimates_from_json(doc: Any) -> dict[str, MetricEstimate]:
    """dict[str, MetricEstimate] from `estimates_to_json`'s values; ValueError or TypeError when of another shape."""
    if not isinstance(doc, dict):
        raise TypeError("estimates must be a mapping")
    out = {}
    for name, v in doc.items():
        if not (isinstance(v, list) and len(v) == 5 and (v[4] is None or isinstance(v[4], str))
                and all(_number(x) for x in v[:4])):
            raise ValueError(f"estimate {name!r} of the wrong shape")
        out[name] = MetricEstimate(v[0], v[1], v[2], v[3], v[4])
    return out
