"""Data nobody on the team made: scikit-learn's bundled data sets, a real model, healthy days must be OK.

A multiclass model (digits, 10 classes, `model.scores`, a random forest whose training-snapshot scores are
in-sample) on daily partitions with one undated labels table, and a regression model (diabetes,
`cost_per_unit_error`) on yearly `year={date:%Y}` partitions read by a 7-day window. Production rows are
held-out rows the model never saw, each window's rows distinct. Every healthy day: status ok, subject [OK].
Then one real incident each must be named.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from monitor.config import parse_config
from monitor.report.subject import subject_line
from monitor.run.context import RunOptions
from monitor.run.phases import run

pytest.importorskip("sklearn")

START = dt.date(2026, 10, 1)
OPTIONS = RunOptions(send_email=False, as_of=dt.date(2027, 6, 1))  # labels final


def _digits(tmp_path, days: int = 5, per_day: int = 100):
    from sklearn.datasets import load_digits
    from sklearn.ensemble import RandomForestClassifier

    X, y = load_digits(return_X_y=True, as_frame=True)
    rng = np.random.default_rng(0)
    df = X.assign(target=y.to_numpy(), channel=rng.choice(["web", "app", "scan"], len(X), p=[0.5, 0.3, 0.2]))
    order = rng.permutation(len(df))
    train, val, held = df.iloc[order[:720]], df.iloc[order[720:1080]], df.iloc[order[1080:]]
    feats = list(X.columns)
    model = RandomForestClassifier(n_estimators=40, random_state=0).fit(train[feats], train["target"])

    def scored(part: pd.DataFrame, start_id: int) -> pd.DataFrame:
        probs = model.predict_proba(part[feats])
        out = part.assign(**{f"p_{c}": probs[:, j] for j, c in enumerate(model.classes_)})
        return out.assign(y_pred=model.classes_[probs.argmax(1)], id=start_id + np.arange(len(part)))

    scored(train, 0).to_parquet(tmp_path / "train.parquet")
    scored(val, 10_000).to_parquet(tmp_path / "validation.parquet")
    labels = []
    for k in range(days):  # consecutive slices of the held-out rows: i.i.d., distinct within a window
        part = scored(held.iloc[k * per_day:(k + 1) * per_day], 100_000 * (k + 1))
        folder = tmp_path / "preds" / f"date={START + dt.timedelta(days=k)}"
        folder.mkdir(parents=True)
        part.drop(columns=["target"]).to_parquet(folder / "part-0.parquet")
        labels.append(part[["id", "target"]])
    pd.concat(labels).to_parquet(tmp_path / "labels.parquet")
    return parse_config({
        "name": "digits", "window_days": 3,
        "reference": {"uri": str(tmp_path / "train.parquet")},
        "baseline": {"uri": str(tmp_path / "validation.parquet")},
        "production": {"uri": str(tmp_path / "preds" / "date={date}") + "/"},
        "labels": {"uri": str(tmp_path / "labels.parquet"), "join_on": ["id"], "delay_days": 3},
        "model": {"task": "multiclass_classification", "target": "target", "prediction": "y_pred", "id": "id",
                  "scores": {c: f"p_{c}" for c in range(10)}},
        "features": {"categorical": ["channel"]},  # the pixels are inferred as numerical
        "cohorts": [{"column": "channel"}],
        "metrics": ["accuracy", "roc_auc", "f1_macro"],
        "performance": {"bootstrap": 50},
        "output": {"uri": str(tmp_path / "out")},
    }, "digits.yaml")


def _diabetes(tmp_path, years=(2024, 2025)):
    from sklearn.datasets import load_diabetes
    from sklearn.ensemble import RandomForestRegressor

    X, y = load_diabetes(return_X_y=True, as_frame=True, scaled=False)
    df = X.assign(target=y.to_numpy(), sex=X["sex"].map({1.0: "F", 2.0: "M"}))
    order = np.random.default_rng(1).permutation(len(df))
    train, val, held = df.iloc[order[:222]], df.iloc[order[222:322]], df.iloc[order[322:]]
    feats = [c for c in X.columns if c != "sex"]
    model = RandomForestRegressor(n_estimators=40, random_state=0).fit(train[feats], train["target"])

    def scored(part: pd.DataFrame, start_id: int) -> pd.DataFrame:
        return part.assign(y_pred=model.predict(part[feats]), id=start_id + np.arange(len(part)))

    scored(train, 0).to_parquet(tmp_path / "train.parquet")
    scored(val, 10_000).to_parquet(tmp_path / "validation.parquet")
    labels = []
    for k, year in enumerate(years):
        part = scored(held.iloc[k * 60:(k + 1) * 60], 100_000 * (k + 1))
        (tmp_path / "preds" / f"year={year}").mkdir(parents=True)
        part.drop(columns=["target"]).to_parquet(tmp_path / "preds" / f"year={year}" / "data.parquet")
        labels.append(part[["id", "target"]])
    pd.concat(labels).to_parquet(tmp_path / "labels.parquet")
    return parse_config({
        "name": "diabetes", "window_days": 7,
        "reference": {"uri": str(tmp_path / "train.parquet")},
        "baseline": {"uri": str(tmp_path / "validation.parquet")},
        "production": {"uri": str(tmp_path / "preds" / "year={date:%Y}") + "/"},
        "labels": {"uri": str(tmp_path / "labels.parquet"), "join_on": ["id"], "delay_days": 30},
        "model": {"task": "regression", "target": "target", "prediction": "y_pred", "id": "id"},
        "cohorts": [{"column": "sex"}],
        "metrics": ["mae", "rmse"],
        "performance": {"bootstrap": 50, "min_labelled": 50},
        "business": {"cost_per_unit_error": 2.5},
        "output": {"uri": str(tmp_path / "out")},
    }, "diabetes.yaml")


def _quiet(res) -> None:
    alerts = [f"{a['kind']}:{a['subject']}: {a['message'][:160]}" for a in res.metrics["alerts"]]
    assert res.status == "ok" and alerts == [], alerts
    assert subject_line(res.metrics).startswith(f"[OK] {res.metrics['monitor']} {res.date}"), subject_line(res.metrics)


def test_multiclass_digits_healthy_days_are_ok_and_a_unit_change_is_named(tmp_path):
    cfg = _digits(tmp_path)
    for k in range(2, 5):  # windows of three full days
        res = run(cfg, START + dt.timedelta(days=k), OPTIONS)
        _quiet(res)
        assert res.metrics["performance"]["overall"]["roc_auc"]["value"] > 0.9
        assert "pixel_3_4" in res.metrics["drift"]["features"] and "p_3" in res.metrics["drift"]["prediction"]
    day = START + dt.timedelta(days=4)
    path = tmp_path / "preds" / f"date={day}" / "part-0.parquet"
    part = pd.read_parquet(path)
    part.assign(pixel_3_4=part["pixel_3_4"] * 16).to_parquet(path)  # must: a unit change on the newest day
    res = run(cfg, day, OPTIONS)
    assert res.status != "ok" and any(a["subject"] == "pixel_3_4" for a in res.metrics["alerts"]), res.metrics["alerts"]


def test_regression_on_yearly_partitions_healthy_years_are_ok_and_a_cohort_regression_is_named(tmp_path):
    cfg = _diabetes(tmp_path)
    for day in (dt.date(2024, 12, 31), dt.date(2025, 6, 30), dt.date(2025, 1, 3)):  # the last window spans new year
        res = run(cfg, day, OPTIONS)
        _quiet(res)
        assert res.metrics["rows"]["current"] == (120 if day == dt.date(2025, 1, 3) else 60)  # each year read once
        assert res.metrics["business"]["money"]["direction"] == "same"
    path = tmp_path / "preds" / "year=2025" / "data.parquet"
    part = pd.read_parquet(path)
    men = part["sex"] == "M"
    part.loc[men, "y_pred"] = part.loc[men, "y_pred"] + 120.0  # must: the model is wrong for one cohort
    part.to_parquet(path)
    res = run(cfg, dt.date(2025, 6, 30), OPTIONS)
    assert res.status != "ok"
    assert any(a["kind"] in ("cohort", "performance") for a in res.metrics["alerts"]), res.metrics["alerts"]
