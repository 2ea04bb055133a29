"""Reading inputs: each distinct object once per run (labels, and production partitions a yearly or undated URI
shares between days), orphans only for dated labels, labels due."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd

from monitor.config import parse_config
from monitor.run.context import RunOptions
from monitor.run.phases import run

DAY = dt.date(2026, 11, 25)


def frame(n: int, seed: int, start_id: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    score = rng.uniform(size=n)
    return pd.DataFrame({
        "id": np.arange(start_id, start_id + n),
        "x": rng.normal(size=n),
        "s": score,
        "p": (score > 0.5).astype(int),
        "y": (rng.uniform(size=n) < score).astype(int),
    })


def store(tmp_path, days: int = 8, labelled_days: int | None = None, undated: bool = False):
    """Daily partitions ending on DAY; labels for all but the last `days - labelled_days` days."""
    frame(600, 1).to_parquet(tmp_path / "ref.parquet")
    all_labels = []
    for k in range(days):
        d = DAY - dt.timedelta(days=days - 1 - k)
        f = frame(200, k + 10, start_id=1000 * (k + 1))
        part = tmp_path / "preds" / f"dt={d}"
        part.mkdir(parents=True)
        f.drop(columns=["y"]).to_parquet(part / "part-0.parquet")
        if labelled_days is not None and k >= labelled_days:
            continue
        all_labels.append(f[["id", "y"]])
        if not undated:
            lab = tmp_path / "labels" / f"dt={d}"
            lab.mkdir(parents=True)
            f[["id", "y"]].to_csv(lab / "labels.csv", index=False)
    if undated:
        (tmp_path / "labels").mkdir()
        pd.concat(all_labels).to_csv(tmp_path / "labels" / "all.csv", index=False)


def config(tmp_path, undated: bool = False, window_days: int = 1, delay: int = 3):
    uri = str(tmp_path / "labels" / "all.csv") if undated else str(tmp_path / "labels" / "dt={date}") + "/"
    return parse_config({
        "name": "m",
        "window_days": window_days,
        "reference": {"uri": str(tmp_path / "ref.parquet")},
        "production": {"uri": str(tmp_path / "preds" / "dt={date}") + "/"},
        "labels": {"uri": uri, "join_on": ["id"], "delay_days": delay},
        "model": {"task": "binary_classification", "target": "y", "prediction": "p", "score": "s", "id": "id"},
        "performance": {"bootstrap": 20},
        "output": {"uri": str(tmp_path / "out")},
        "email": {"outbox": str(tmp_path / "outbox")},
    }, "t.yaml")


def findings(res, check: str) -> list[dict]:
    return [f for f in res.metrics["quality"]["findings"] if f["check"] == check]


def label_reads(tmp_path) -> list[str]:
    manifest = json.loads((tmp_path / "out" / "m" / f"date={DAY}" / "manifest.json").read_text())
    return [i["uri"] for i in manifest["inputs"] if i.get("role") == "labels"]


def test_an_undated_labels_table_is_read_once_and_raises_no_orphans(tmp_path):
    store(tmp_path, undated=True)
    res = run(config(tmp_path, undated=True, window_days=5), DAY, RunOptions(send_email=False))
    reads = label_reads(tmp_path)
    assert len(reads) == 1 and reads[0].endswith("all.csv"), reads
    assert res.metrics["quality"]["labels"]["label_rows"] == 8 * 200  # once, not once per window day
    assert findings(res, "orphan_labels") == []  # labels of other dates are normal in one table
    assert res.metrics["rows"]["labelled"] == 5 * 200


def test_dated_labels_still_report_orphans(tmp_path):
    store(tmp_path)
    lab = tmp_path / "labels" / f"dt={DAY}" / "labels.csv"
    extra = pd.DataFrame({"id": np.arange(900_000, 900_050), "y": 1})
    pd.concat([pd.read_csv(lab), extra]).to_csv(lab, index=False)
    res = run(config(tmp_path), DAY, RunOptions(send_email=False))
    assert len(findings(res, "orphan_labels")) == 1
    reads = label_reads(tmp_path)
    assert len(reads) == len(set(reads)) == 2  # the window's day and the day whose labels are due, once each
    assert any(f"dt={DAY - dt.timedelta(days=3)}" in r for r in reads)


def test_labels_due_alerts_when_the_feed_broke(tmp_path):
    store(tmp_path, labelled_days=3)  # labels stopped arriving five days ago
    res = run(config(tmp_path, delay=3), DAY, RunOptions(send_email=False))
    due = DAY - dt.timedelta(days=3)
    got = findings(res, "labels_due")
    assert len(got) == 1 and got[0]["subject"] == due.isoformat(), res.metrics["quality"]["findings"]
    assert f"dt={due}" in got[0]["message"] and got[0]["severity"] == "critical"
    assert any(a["kind"] == "quality" and a["subject"] == due.isoformat() for a in res.metrics["alerts"])


def test_labels_due_quiet_when_labels_arrived(tmp_path):
    store(tmp_path, labelled_days=6)  # the last two days are not due yet
    res = run(config(tmp_path, delay=3), DAY, RunOptions(send_email=False))
    assert findings(res, "labels_due") == []
    assert res.metrics["quality"]["labels"]["due"]["coverage"] == 1.0


def test_labels_due_with_an_undated_table(tmp_path):
    store(tmp_path, labelled_days=3, undated=True)
    res = run(config(tmp_path, undated=True, delay=3), DAY, RunOptions(send_email=False))
    assert len(findings(res, "labels_due")) == 1
    assert len(label_reads(tmp_path)) == 1  # the due day reuses the one read


def production_reads(tmp_path, day: dt.date = DAY) -> list[str]:
    manifest = json.loads((tmp_path / "out" / "m" / f"date={day}" / "manifest.json").read_text())
    return [i["uri"] for i in manifest["inputs"] if i.get("role") == "production"]


def yearly_store(tmp_path, years=(2025, 2026)) -> None:
    frame(600, 1).to_parquet(tmp_path / "ref.parquet")
    for k, year in enumerate(years):
        part = tmp_path / "preds" / f"year={year}"
        part.mkdir(parents=True)
        f = frame(300, 20 + k, start_id=100_000 * (k + 1))
        f.drop(columns=["y"]).to_parquet(part / "part-0.parquet")
        (tmp_path / "labels").mkdir(exist_ok=True)
        f[["id", "y"]].to_csv(tmp_path / "labels" / f"{year}.csv", index=False)


def yearly_config(tmp_path, window_days: int):
    cfg = config(tmp_path, undated=True, window_days=window_days).model_dump()
    cfg["production"]["uri"] = str(tmp_path / "preds" / "year={date:%Y}") + "/"
    cfg["labels"]["uri"] = str(tmp_path / "labels") + "/"
    return parse_config(cfg, "t.yaml")


def test_a_yearly_partition_is_read_once_per_run_not_once_per_day(tmp_path):
    """A `{date:%Y}` template names one object for every day of a 7-day window: read 7 times, its rows
    came 7 times over and every id looked duplicated."""
    yearly_store(tmp_path)
    res = run(yearly_config(tmp_path, window_days=7), DAY, RunOptions(send_email=False))
    assert production_reads(tmp_path) == [str(tmp_path / "preds" / "year=2026" / "part-0.parquet")]
    assert res.metrics["rows"]["current"] == 300 and res.metrics["rows"]["labelled"] == 300
    assert findings(res, "duplicate_ids") == [] and res.metrics["status"] == "ok", res.metrics["alerts"]
    parts = res.metrics["quality"]["arrival"]["partitions"]
    assert len(parts) == 1 and parts[0]["date"] == str(DAY - dt.timedelta(days=6))  # dated by the oldest day it serves


def test_a_window_across_new_year_reads_both_yearly_partitions(tmp_path):
    yearly_store(tmp_path)
    day = dt.date(2026, 1, 3)
    res = run(yearly_config(tmp_path, window_days=7), day, RunOptions(send_email=False))
    assert len(production_reads(tmp_path, day)) == 2 and res.metrics["rows"]["current"] == 600
    assert findings(res, "duplicate_ids") == []
    # a real double write is still named: the same rows twice in one year's partition
    f = pd.read_parquet(tmp_path / "preds" / "year=2026" / "part-0.parquet")
    pd.concat([f, f]).to_parquet(tmp_path / "preds" / "year=2026" / "part-0.parquet")
    res = run(yearly_config(tmp_path, window_days=7), day, RunOptions(send_email=False))
    assert len(findings(res, "duplicate_ids")) == 1


def undated_store(tmp_path, days: int = 3) -> None:
    """One production file for every day (a serving log), rows stamped with their day; one labels table."""
    frame(600, 1).to_parquet(tmp_path / "ref.parquet")
    parts = []
    for k in range(days):
        d = DAY - dt.timedelta(days=days - 1 - k)
        f = frame(200, 40 + k, start_id=1000 * (k + 1))
        parts.append(f.assign(ts=pd.Timestamp(d) + pd.to_timedelta(np.arange(200) * 400, unit="s")))
    log = pd.concat(parts)
    log.drop(columns=["y"]).to_parquet(tmp_path / "log.parquet")
    (tmp_path / "labels").mkdir()
    log[["id", "y"]].to_csv(tmp_path / "labels" / "all.csv", index=False)


def undated_config(tmp_path, production: str):
    cfg = config(tmp_path, undated=True).model_dump()
    cfg["production"]["uri"] = production
    cfg["model"]["timestamp"] = "ts"
    return parse_config(cfg, "t.yaml")


def test_an_undated_production_file_is_windowed_by_its_timestamps(tmp_path):
    """All days in one file: the window is the rows stamped in it, not the whole log (which then was
    '67% of rows stamped outside the window')."""
    undated_store(tmp_path)
    res = run(undated_config(tmp_path, str(tmp_path / "log.parquet")), DAY - dt.timedelta(days=1), RunOptions(send_email=False))
    assert res.metrics["rows"]["current"] == 200 and res.metrics["rows"]["labelled"] == 200
    assert findings(res, "timestamp_window") == [] and res.metrics["status"] == "ok", res.metrics["alerts"]
    part = res.metrics["quality"]["arrival"]["partitions"][0]
    assert part["rows"] == 200
    # a day the log has no rows for is no data, not the other days' rows
    res = run(undated_config(tmp_path, str(tmp_path / "log.parquet")), DAY + dt.timedelta(days=2), RunOptions(send_email=False))
    assert res.metrics["rows"]["current"] == 0 and res.metrics["status"] == "no_data"


def test_a_dated_partition_with_other_days_rows_is_still_named(tmp_path):
    undated_store(tmp_path)
    (tmp_path / "preds" / f"dt={DAY}").mkdir(parents=True)
    (tmp_path / "log.parquet").rename(tmp_path / "preds" / f"dt={DAY}" / "part-0.parquet")  # every day's rows in one day
    res = run(undated_config(tmp_path, str(tmp_path / "preds" / "dt={date}") + "/"), DAY, RunOptions(send_email=False))
    assert res.metrics["rows"]["current"] == 600 and len(findings(res, "timestamp_window")) == 1
