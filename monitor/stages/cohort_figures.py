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
from typing import Any, Optional

from monitor.stages.performance.baseline_side import estimates_from_json, estimates_to_json
from monitor.stages.performance.summary import MetricEstimate

__all__ = ["BaselineFigures", "cache_name"]

FORMAT = "monitor.cohorts.baseline"
VERSION = 1
Estimates = dict[str, MetricEstimate]


def cache_name(identity: str, *settings: str, fmt: str = f"{FORMAT}|{VERSION}") -> str:
    """The cache file of one baseline snapshot under these settings (each a canonical text); `fmt`: what
    the file holds and its version (the cohorts' figures by default)."""
    key = "|".join([fmt, identity, *settings])
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
            n, base, rest = entry["n"], estimates_from_json(entry["base"]), estimates_from_json(entry["rest"])  # type: ignore[index]
        except (KeyError, TypeError, ValueError):
            return None
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            return None
        return n, base, rest

    def put(self, key: str, n: int, base: Estimates, rest: Estimates) -> None:
        """Keep a cohort's figures, when they survive JSON as they are."""
        entry = {"n": int(n), "base": estimates_to_json(base), "rest": estimates_to_json(rest)}
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
