"""Column streaming gives the same results as the in-memory path, on the demo and on a seeded day.

Both paths run in the same test on copies of the same store: once with the default
(small days are read into memory), once with MONITOR_STREAM_CELLS=0 (every parquet
table, the reference included, is read column by column through a ColumnFrame). The
metrics.json documents must agree: every number to 1e-12 (relative), everything else
(alerts, verdicts, names, counts) exactly, and to_annotate.csv byte for byte. Comparing
the two paths in one run keeps this test meaningful while alerting changes on purpose.

MONITOR_TEST_SEEDED_ROWS (default 30000) sets the seeded day's size, e.g. 1000000.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from monitor.config import load_config
from monitor.demo.generator import DRIFT_DAY, QUALITY_DAY, generate
from monitor.io.columns import ColumnFrame
from monitor.io.storage import LocalStorage, read_tables
from monitor.run import RunOptions, compute
from tests.support.golden import differences
from tests.support.seeded import seeded_store

END = dt.date(2026, 11, 25)
DEMO_CONFIG = Path(__file__).resolve().parents[2] / "monitor" / "demo" / "car_loan.yaml"


def test_differences_sees_a_change():
    a = {"x": 0.5, "alerts": [{"kind": "drift"}], "n": 3}
    assert differences(a, json.loads(json.dumps(a))) == []
    assert differences(a, {**a, "x": 0.5 + 1e-9})
    assert differences(a, {**a, "alerts": []})
    assert differences(a, {**a, "n": 4})
    assert differences({"p": None}, {"p": 0.0})


def _both_ways(monkeypatch, run_one) -> tuple[Any, Any]:
    monkeypatch.delenv("MONITOR_STREAM_CELLS", raising=False)
    in_memory = run_one("memory")
    monkeypatch.setenv("MONITOR_STREAM_CELLS", "0")
    streamed = run_one("streamed")
    return in_memory, streamed


def _outputs(out: str, root: Path) -> tuple[dict, bytes]:
    """metrics.json (the store's own path replaced, as the two copies differ only there) and to_annotate.csv."""
    metrics = json.loads(Path(out, "metrics.json").read_text().replace(json.dumps(str(root))[1:-1], "<store>"))
    csv = Path(out, "to_annotate.csv")
    return metrics, (csv.read_bytes() if csv.exists() else b"")


# --------------------------------------------------------------------------- the demo


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory):
    work = tmp_path_factory.mktemp("stream_demo")
    generate(work / "memory", END)
    shutil.copytree(work / "memory", work / "streamed")  # same bytes and mtimes
    return work


def test_streamed_demo_equals_in_memory(demo_store, monkeypatch):
    days = [END - dt.timedelta(days=30 - n) for n in (DRIFT_DAY, DRIFT_DAY + 1, QUALITY_DAY, 30)]

    def run_one(kind: str) -> list[tuple[dict, bytes]]:
        monkeypatch.setenv("DEMO_DIR", str(demo_store / kind))
        cfg = load_config(DEMO_CONFIG)
        return [_outputs(compute(cfg, d, RunOptions(as_of=END + dt.timedelta(days=1), failure_notice=False))["output_uri"],
                         demo_store / kind)
                for d in days]

    memory, streamed = _both_ways(monkeypatch, run_one)
    for d, (m1, csv1), (m2, csv2) in zip(days, memory, streamed):
        assert not m1["errors"] and not m2["errors"], (d, m1["errors"], m2["errors"])
        assert differences(m1, m2) == [], d
        assert csv1 == csv2, d
    # the days hold what the demo injected, so the comparison covers alerts of every kind
    kinds = {a["kind"] for m, _ in memory for a in m["alerts"]}
    assert {"drift", "cohort", "quality"} <= kinds, kinds
    assert any(csv for _, csv in memory), "no day had rows to annotate"


# --------------------------------------------------------------------------- a seeded day


def test_streamed_seeded_day_equals_in_memory(tmp_path, monkeypatch):
    rows = int(os.environ.get("MONITOR_TEST_SEEDED_ROWS", "30000"))
    (tmp_path / "memory").mkdir()
    seeded_store(tmp_path / "memory", rows)
    shutil.copytree(tmp_path / "memory", tmp_path / "streamed")
    config = tmp_path / "streamed" / "seeded.yaml"
    config.write_text(config.read_text().replace(str(tmp_path / "memory"), str(tmp_path / "streamed")))
    day = dt.date(2026, 3, 10)

    def run_one(kind: str) -> tuple[dict, bytes]:
        cfg = load_config(tmp_path / kind / "seeded.yaml")
        return _outputs(compute(cfg, day, RunOptions(as_of=day, failure_notice=False))["output_uri"], tmp_path / kind)

    (m1, csv1), (m2, csv2) = _both_ways(monkeypatch, run_one)
    assert not m1["errors"], m1["errors"]
    assert m1["rows"] == {"current": rows // 2 * 2, "reference": rows, "labelled": m1["rows"]["labelled"]}
    assert 0 < m1["rows"]["labelled"] < m1["rows"]["current"]
    assert differences(m1, m2) == []
    assert csv1 == csv2 and csv1


def test_the_switch_streams_and_the_default_does_not(tmp_path, monkeypatch):
    path = tmp_path / "t.parquet"
    pd.DataFrame({"a": np.arange(10), "b": list("abcdefghij")}).to_parquet(path, index=False)
    monkeypatch.delenv("MONITOR_STREAM_CELLS", raising=False)
    df, _ = read_tables(LocalStorage(), str(path))
    assert isinstance(df, pd.DataFrame)
    monkeypatch.setenv("MONITOR_STREAM_CELLS", "0")
    cf, _ = read_tables(LocalStorage(), str(path))
    assert isinstance(cf, ColumnFrame) and len(cf) == 10 and list(cf.columns) == ["a", "b"]
    pd.testing.assert_series_equal(cf["b"], df["b"])
    sub = cf[cf["a"].to_numpy() % 2 == 0]
    assert sub["a"].tolist() == [0, 2, 4, 6, 8]
    assert sub.iloc[1]["b"] == "c" and cf.loc[[9, 0]]["b"].tolist() == ["j", "a"]
    assert cf.assign(c=np.ones(10))["c"].sum() == 10 and "c" not in cf.columns
