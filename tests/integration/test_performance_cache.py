"""Whole runs on one baseline snapshot: the second takes the performance stage's baseline side (its estimates,
notes and CBPE's calibration) from the cache under `_profiles/` and does not encode the baseline's rows at all
(same metrics.json); a damaged cache file is worked out again and rewritten."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from monitor.config import load_config
from monitor.run import RunOptions, compute
from monitor.stages.performance.tasks import BinaryTask
from tests.support.golden import differences
from tests.support.seeded import seeded_store

DAY = dt.date(2026, 3, 10)


def _metrics(out: str) -> dict:
    return {**json.loads(Path(out, "metrics.json").read_text()), "profile_cached": None}


def _side_caches(root: Path) -> list[Path]:
    return [p for p in (root / "out" / "seeded" / "_profiles").glob("*.json")
            if json.loads(p.read_text()).get("format") == "monitor.performance.baseline"]


def test_a_second_run_takes_the_baseline_side_from_the_cache_and_reads_no_baseline_rows(tmp_path, monkeypatch):
    monkeypatch.delenv("MONITOR_STREAM_CELLS", raising=False)
    path = seeded_store(tmp_path, 3000)
    opts = RunOptions(as_of=DAY, failure_notice=False)
    encoded: list[int] = []
    real = BinaryTask.prepare
    monkeypatch.setattr(BinaryTask, "prepare", lambda self, df, classes=None: encoded.append(len(df)) or real(self, df, classes))

    first = _metrics(compute(load_config(path), DAY, opts)["output_uri"])
    assert len(encoded) == 2 and len(_side_caches(tmp_path)) == 1  # the window and the baseline
    doc = json.loads(_side_caches(tmp_path)[0].read_text())
    assert doc["n"] > 0 and doc["estimates"] and len(doc["calibration"][0]) > 1

    encoded.clear()
    second = _metrics(compute(load_config(path), DAY, opts)["output_uri"])
    assert len(encoded) == 1  # the window's rows only: the baseline side and the cohorts' came from their caches
    assert first["performance"]["overall"] and first["performance"]["estimated"] and first["cohorts"]
    assert differences(first, second) == []

    _side_caches(tmp_path)[0].write_text('{"format": "monitor.performance.baseline", "version": 1, "n": "many"}')
    encoded.clear()
    third = _metrics(compute(load_config(path), DAY, opts)["output_uri"])
    assert len(encoded) == 2 and differences(first, third) == []  # worked out again
    assert json.loads(_side_caches(tmp_path)[0].read_text())["n"] == doc["n"]  # and rewritten
