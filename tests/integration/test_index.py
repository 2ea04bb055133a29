"""<output>/index.html: every monitor x the last 30 days, each day linking to its report, and the
latest alerts; rewritten after each run (the CLI's and the DAG's notify phase), failures included."""

from __future__ import annotations

import datetime as dt
import json
import re

import numpy as np
import pandas as pd
import pytest

from monitor.config import parse_config
from monitor.io.storage import LocalStorage
from monitor.report.index import failed_day, render_index, summarize_day, update_index
from monitor.run import Clients, RunOptions, notify_failure, run

DAY = dt.date(2026, 3, 25)


def _frame(n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    score = rng.uniform(size=n)
    return pd.DataFrame({"id": np.arange(n) + seed * 10_000, "x": rng.normal(shift, 1, size=n), "s": score,
                         "p": (score > 0.5).astype(int), "y": (rng.uniform(size=n) < score).astype(int)})


@pytest.fixture
def store(tmp_path):
    _frame(800, 1).to_parquet(tmp_path / "ref.parquet")
    for i in range(3):
        d = DAY - dt.timedelta(days=2 - i)
        part = tmp_path / "prod" / f"dt={d}"
        part.mkdir(parents=True)
        _frame(400, 2 + i, shift=3.0 if i == 2 else 0.0).to_parquet(part / "part-0.parquet")  # the last day drifts
    return tmp_path


def _config(tmp_path, name: str, **over):
    data = {
        "name": name,
        "reference": {"uri": str(tmp_path / "ref.parquet")},
        "production": {"uri": str(tmp_path / "prod" / "dt={date}") + "/"},
        "model": {"task": "binary_classification", "target": "y", "prediction": "p", "score": "s", "id": "id"},
        "output": {"uri": str(tmp_path / "out")},
        "email": {"outbox": str(tmp_path / "outbox")},
        **over,
    }
    return parse_config(data, str(tmp_path / f"{name}.yaml"))


def _cells(html: str) -> dict[str, str]:
    """report link -> the cell's title (monitor, date, status)."""
    return dict(re.findall(r'<a href="([^"]+/report\.html)" style="[^"]*" title="([^"]+)"', html))


def test_each_run_rewrites_the_index_with_every_monitor_and_day(store):
    a, b = _config(store, "car_loan"), _config(store, "churn")
    for i in range(3):
        run(a, DAY - dt.timedelta(days=2 - i), RunOptions(send_email=False))
    run(b, DAY, RunOptions(send_email=False))
    index = store / "out" / "index.html"
    html = index.read_text()
    cells = _cells(html)
    assert set(cells) == {f"car_loan/date={DAY - dt.timedelta(days=k)}/report.html" for k in range(3)} | {
        f"churn/date={DAY}/report.html"}
    for link in cells:  # relative links that open the day's report next to the index
        assert (index.parent / link).is_file(), link
    assert "car_loan 2026-03-25: ALERT" in cells[f"car_loan/date={DAY}/report.html"]
    assert "the 30 days ending 2026-03-25" in html
    # the latest alerts: the drifted feature of each monitor's latest day, linked to its report
    latest = html[html.index("Latest alerts"):]
    assert "drift: x" in latest and f'href="car_loan/date={DAY}/report.html"' in latest
    summary = json.loads((store / "out" / "_index" / "car_loan.json").read_text())
    assert sorted(summary["days"]) == [str(DAY - dt.timedelta(days=k)) for k in (2, 1, 0)]


def test_a_failed_run_shows_in_the_grid_and_in_the_latest_alerts(store):
    cfg = _config(store, "car_loan")
    run(cfg, DAY - dt.timedelta(days=1), RunOptions(send_email=False))
    (store / "ref.parquet").unlink()
    with pytest.raises(Exception, match="ref.parquet"):
        run(cfg, DAY, RunOptions(send_email=False))
    html = (store / "out" / "index.html").read_text()
    assert f"car_loan {DAY}: FAILED" in html
    assert "ref.parquet" in html[html.index("Latest alerts"):]


def test_a_missing_summary_is_rebuilt_from_the_metrics_files(store):
    cfg = _config(store, "car_loan")
    for i in range(3):
        run(cfg, DAY - dt.timedelta(days=2 - i), RunOptions(send_email=False))
    (store / "out" / "_index" / "car_loan.json").unlink()
    metrics = json.loads((store / "out" / "car_loan" / f"date={DAY}" / "metrics.json").read_text())
    update_index(LocalStorage(), str(store / "out"), "car_loan", DAY, summarize_day("car_loan", metrics))
    assert len(_cells((store / "out" / "index.html").read_text())) == 3


def test_the_grid_is_the_30_days_ending_on_the_latest_day():
    days = {str(DAY - dt.timedelta(days=k)): {"status": "ok", "alerts": 0, "critical": 0, "new": 0, "top": [],
                                              "report": f"m/date={DAY - dt.timedelta(days=k)}/report.html"} for k in range(45)}
    html = render_index([{"monitor": "m", "days": days}], now=dt.datetime(2026, 4, 1, tzinfo=dt.UTC))
    cells = _cells(html)
    assert len(cells) == 30
    assert f"m/date={DAY}/report.html" in cells and f"m/date={DAY - dt.timedelta(days=29)}/report.html" in cells
    assert f"m/date={DAY - dt.timedelta(days=30)}/report.html" not in cells


def test_failure_notice_records_the_day_and_escapes_what_it_shows(store):
    cfg = _config(store, "car_loan")
    notify_failure(cfg, DAY, "NotFoundError: <b>s3://x/train.parquet</b>: no such object", clients=Clients())
    html = (store / "out" / "index.html").read_text()
    assert "&lt;b&gt;s3://x/train.parquet&lt;/b&gt;" in html and "<b>s3://" not in html
    assert failed_day("m", DAY, "a\nb")["error"] == "a"
