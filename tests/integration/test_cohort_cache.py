"""Whole runs on one baseline snapshot: the second takes the baseline side of its cohorts from the cache
under `_profiles/` (same metrics.json); other cohort settings are another cache file."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import yaml

from monitor.config import load_config
from monitor.run import RunOptions, compute
from monitor.stages import cohorts as cohorts_module
from tests.support.golden import differences
from tests.support.seeded import seeded_store

DAY = dt.date(2026, 3, 10)


def _metrics(out: str) -> dict:
    return json.loads(Path(out, "metrics.json").read_text())


def _cohort_caches(root: Path) -> list[Path]:
    return [p for p in (root / "out" / "seeded" / "_profiles").glob("*.json")
            if json.loads(p.read_text()).get("format") == "monitor.cohorts.baseline"]


def test_a_second_run_takes_the_cohorts_baseline_side_from_the_cache(tmp_path, monkeypatch):
    monkeypatch.delenv("MONITOR_STREAM_CELLS", raising=False)
    path = seeded_store(tmp_path, 3000)
    opts = RunOptions(as_of=DAY, failure_notice=False)
    calls: list[int] = []
    real = cohorts_module._Context.baseline_estimates
    monkeypatch.setattr(cohorts_module._Context, "baseline_estimates", lambda self, *a: calls.append(1) or real(self, *a))

    first = _metrics(compute(load_config(path), DAY, opts)["output_uri"])
    assert calls and len(_cohort_caches(tmp_path)) == 1
    calls.clear()
    summed: list[int] = []
    summarize = cohorts_module.summarize
    monkeypatch.setattr(cohorts_module, "summarize", lambda data, *a, **k: summed.append(data.n) or summarize(data, *a, **k))
    second = _metrics(compute(load_config(path), DAY, opts)["output_uri"])
    assert calls == []  # every cohort's baseline side came from the cache
    assert len(summed) == 3 and len(set(summed)) == 1  # the window's total and its 2 partitions: no baseline rows
    assert first["cohorts"] and differences({**first, "profile_cached": None}, {**second, "profile_cached": None}) == []

    raw = yaml.safe_load(path.read_text())
    raw["cohorts"] = [{"column": "region"}, {"column": "x0", "bins": [-10, -1, 1, 10]}]
    path.write_text(yaml.safe_dump(raw))
    third = _metrics(compute(load_config(path), DAY, opts)["output_uri"])
    assert calls and len(_cohort_caches(tmp_path)) == 2  # other bins: another file, worked out
    assert "x0=[-1, 1)" in {c["cohort"] for c in third["cohorts"]}
