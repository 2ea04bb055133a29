"""What a streamed day keeps in its column cache: the columns several stages read (ids, model
outputs, label, cohort columns), not the features that quality and drift each go through once
(caching those evicted the others and held up to 1 GB for nothing)."""

from __future__ import annotations

import collections
import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from monitor.config import load_config
from monitor.io.columns import ColumnFrame, ParquetColumns
from monitor.run import RunOptions, compute
from tests.support.seeded import seeded_store

DAY = dt.date(2026, 3, 10)


@pytest.fixture
def reads(monkeypatch) -> collections.Counter:
    """How often each (parent/folder, column) is read from parquet through a ColumnFrame."""
    seen: collections.Counter = collections.Counter()
    read = ParquetColumns._read

    def spy(self: ParquetColumns, name: str) -> pd.Series:
        seen[(_folder(self), name)] += 1
        return read(self, name)

    monkeypatch.setattr(ParquetColumns, "_read", spy)
    return seen


def test_cache_only_keeps_those_columns(tmp_path, reads):
    path = tmp_path / "day.parquet"
    pd.DataFrame({"id": np.arange(50), "x": np.linspace(0, 1, 50), "y": np.ones(50)}).to_parquet(path, index=False)
    frame = ColumnFrame(ParquetColumns([path]))
    frame.cache_only(["id"])
    for _ in range(3):
        assert frame["id"].sum() == 1225 and frame["x"].size == 50
    here = "/".join(tmp_path.parts[-2:])
    assert reads[(here, "id")] == 1 and reads[(here, "x")] == 3
    assert list(frame._src._cache) == ["id"]
    assert frame.assign(z=np.zeros(50))["id"].size == 50 and reads[(here, "id")] == 1  # shared by its copies


def _folder(self: ParquetColumns) -> str:
    return "/".join(Path(str(self._paths[0])).parts[-3:-1])


def test_a_streamed_run_caches_what_several_stages_read(tmp_path, reads, monkeypatch):
    monkeypatch.setenv("MONITOR_STREAM_CELLS", "0")
    path = seeded_store(tmp_path, 4000)
    path.write_text(path.read_text().replace("window_days: 2", "window_days: 1"))
    cfg = load_config(path)
    assert cfg.window_days == 1
    compute(cfg, DAY, RunOptions(as_of=DAY, failure_notice=False))
    day = {col: n for (folder, col), n in reads.items() if folder == f"pred/dt={DAY}"}
    kept = {"id", "score", "pred", "region", "x0"}  # ids, outputs, the cohort columns (`region`; `x0` in bins)
    assert {c: day[c] for c in kept} == {c: 1 for c in kept}, day
    features = {"x1", "x2", "x3", "x4", "x5", "visits", "plan"}
    assert all(day[c] in (2, 3) for c in features), day  # quality, drift (and once more for a drifted one's annotation)


def test_a_window_of_days_caches_every_column(tmp_path, monkeypatch):
    """Drift reads each feature twice in a row there (the window, then its newest day on its own)."""
    monkeypatch.setenv("MONITOR_STREAM_CELLS", "0")
    cfg = load_config(seeded_store(tmp_path, 1000))
    assert cfg.window_days == 2
    from monitor.io.inputs import read_inputs
    from monitor.run.computation import make_context

    ctx = make_context(cfg, DAY, read_inputs(cfg, DAY, None), [], DAY)
    assert isinstance(ctx.current, ColumnFrame) and ctx.current._src.cache_only is None
