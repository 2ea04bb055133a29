"""The drift stage in the pipeline: the newest day of a window is judged on its own and named the
morning after an abrupt shift; a quiet window says nothing; the domain classifier reaches metrics.json."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from monitor.config import parse_config
from monitor.run.context import RunOptions
from monitor.run.phases import compute, window_dates

DAY = dt.date(2026, 3, 30)


def _frame(n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    a = rng.normal(size=n) + shift
    score = 1 / (1 + np.exp(-a))
    return pd.DataFrame({"id": np.arange(n) + 1000 * seed, "a": a, "b": a + rng.normal(scale=0.3, size=n),
                         "k": rng.choice(["x", "y", "z"], n, p=[0.5, 0.3, 0.2]), "s": score, "p": (score > 0.5).astype(int)})


def _store(tmp_path, shift_last: float) -> None:
    _frame(20_000, 0).assign(y=0).to_parquet(tmp_path / "ref.parquet")
    days = window_dates(DAY, 10)
    for i, d in enumerate(days):
        part = tmp_path / "pred" / f"dt={d}"
        part.mkdir(parents=True)
        _frame(165, i + 1, shift_last if d == days[-1] else 0.0).to_parquet(part / "part-0.parquet")


def _config(tmp_path):
    return parse_config({
        "name": "m", "window_days": 10,
        "reference": {"uri": str(tmp_path / "ref.parquet")},
        "production": {"uri": str(tmp_path / "pred" / "dt={date}") + "/"},
        "model": {"task": "binary_classification", "target": "y", "prediction": "p", "score": "s", "id": "id"},
        "features": {"numerical": ["a", "b"], "categorical": ["k"]},
        "output": {"uri": str(tmp_path / "out")},
        "email": {"outbox": str(tmp_path / "outbox")},
    }, "t.yaml")


def _drift(tmp_path, shift_last: float) -> dict:
    import json

    _store(tmp_path, shift_last)
    compute(_config(tmp_path), DAY, RunOptions(as_of=DAY))
    return json.loads((tmp_path / "out" / "m" / f"date={DAY}" / "metrics.json").read_text())


def test_abrupt_shift_on_the_newest_day_is_named_that_morning(tmp_path):
    m = _drift(tmp_path, shift_last=0.8)
    nd = m["drift"]["newest_day"]
    assert nd["date"] == str(DAY) and nd["rows"] == 165 and "a" in nd["drifted"]
    assert not m["drift"]["features"]["a"]["drifted"]  # the 10-day window has not caught up yet
    alerts = [a for a in m["alerts"] if a["kind"] == "drift" and a["subject"] == "newest day"]
    assert len(alerts) == 1 and str(DAY) in alerts[0]["message"]
    assert m["drift"]["multivariate"]["method"] == "domain_classifier"


def test_quiet_window_raises_no_drift_alert(tmp_path):
    m = _drift(tmp_path, shift_last=0.0)
    assert m["drift"]["newest_day"]["drifted"] == [] and m["drift"]["newest_day"]["rows"] == 165
    mv = m["drift"]["multivariate"]
    assert mv["drifted"] is False and mv["statistic"] is not None and mv["ci_low"] < mv["threshold"]
    assert [a for a in m["alerts"] if a["kind"] == "drift"] == []
