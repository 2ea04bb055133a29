"""The baseline side of each cohort, worked out once per baseline snapshot.

A cohort's test compares its change with the rest's: four estimates, two of them of the
baseline (the cohort's baseline rows, and the rest of the baseline). Those depend on the
baseline, the cohort's definition and the settings alone, so a run on an unchanged
baseline takes them from the cache next to the drift profile instead of summing the
baseline's rows up again per cohort. The cache file is named by everything the figures
depend on besides the cohort (the snapshot's identity, the code's version, the model, the
metrics, the cohort and performance settings: see `cache_name`); an entry by the cohort's identity (its value,
bins or filter), its seed and the class list. A cohort whose rows depend on the window
(the "(other N values)" one) is never cached. Estimates round-trip through JSON exactly
(finite floats, None and text); an entry that does not is worked out again.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any, Optional

from monitor.stages.performance.summary import MetricEstimate

__all__ = ["BaselineFigures", "cache_name"]

FORMAT = "monitor.cohorts.baseline"
VERSION = 1
Estimates = dict[str, MetricEstimate]


def cache_name(identity: str, *settings: str) -> str:
    """The cache file of one baseline snapshot under these settings (each a canonical text)."""
    key = "|".join([FORMAT, str(VERSION), identity, *settings])
    return hashlib.sha256(key.encode()).hexdigest()[:20] + ".json"


class BaselineFigures:
    """Per cohort: its labelled baseline rows, its baseline estimates and those of the rest of the baseline."""

    def __init__(self, entries: Optional[dict[str, Any]] = None) -> None:
        self._entries: dict[str, Any] = dict(entries or {})
        self.changed = False  # entries were added that the cache did not hold

    def get(self, key: str) -> Optional[tuple[int, Estimates, Estimates]]:
        """(labelled rows, cohort estimates, rest estimates), or None when not kept (or not trusted)."""
        entry = self._entries.get(key)
        try:
            n, base, rest = entry["n"], _estimates(entry["base"]), _estimates(entry["rest"])  # type: ignore[index]
        except (KeyError, TypeError, ValueError):
            return None
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            return None
        return n, base, rest

    def put(self, key: str, n: int, base: Estimates, rest: Estimates) -> None:
        """Keep a cohort's figures, when they survive JSON as they are."""
        entry = {"n": int(n), "base": _plain(base), "rest": _plain(rest)}
        if entry["base"] is None or entry["rest"] is None:
            return
        self._entries[key] = entry
        self.changed = True

    def to_json(self) -> bytes:
        return json.dumps({"format": FORMAT, "version": VERSION, "entries": self._entries}, allow_nan=False,
                          separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> BaselineFigures:
        doc = json.loads(raw)
        if not isinstance(doc, dict) or doc.get("format") != FORMAT or doc.get("version") != VERSION:
            raise ValueError("not cohort baseline figures of this version")
        if not isinstance(doc.get("entries"), dict):
            raise ValueError("cohort baseline figures of the wrong shape")
        return cls(doc["entries"])


_FIELDS = ("value", "ci_low", "ci_high", "se")


def _plain(estimates: Estimates) -> Optional[dict[str, list]]:
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
    import numpy as np

    if v is None:
        return True
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.floating)):
        return False
    return math.isfinite(v)


def _estimates(doc: Any) -> Estimates:
    if not isinstance(doc, dict):
        raise TypeError("estimates must be a mapping")
    out = {}
    for name, v in doc.items():
        if not (isinstance(v, list) and len(v) == 5 and (v[4] is None or isinstance(v[4], str))
                and all(_number(x) for x in v[:4])):
            raise ValueError(f"estimate {name!r} of the wrong shape")
        out[name] = MetricEstimate(v[0], v[1], v[2], v[3], v[4])
    return out
