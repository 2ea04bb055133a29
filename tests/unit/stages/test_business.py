"""Business impact: money from a hand-computed confusion matrix, regression cost, guardrails."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from monitor.config import BusinessConfig, Guardrail, ModelConfig, parse_config
from monitor.errors import ConfigError, UnknownMethodError
from monitor.stages.business import evaluate_business, guardrail_stat

MODEL = ModelConfig(task="binary_classification", target="y", prediction="pred", score="score")
COSTS = BusinessConfig(cost_matrix={"tp": 10, "fp": -50, "fn": -1000, "tn": 0})


def confusion_frame(tp: int, fp: int, fn: int, tn: int, unlabelled: int = 0) -> pd.DataFrame:
    y = [1] * tp + [0] * fp + [1] * fn + [0] * tn + [np.nan] * unlabelled
    pred = [1] * tp + [1] * fp + [0] * fn + [0] * tn + [1] * unlabelled
    return pd.DataFrame({"y": np.array(y, dtype=float), "pred": pred, "score": np.where(np.array(pred) == 1, 0.9, 0.1)})


def test_money_from_a_hand_computed_confusion_matrix():
    cur = confusion_frame(tp=30, fp=20, fn=10, tn=140, unlabelled=50)  # 200 labelled, 250 rows
    base = confusion_frame(tp=40, fp=10, fn=5, tn=145)  # 200 labelled
    res = evaluate_business(cur, base, MODEL, COSTS, window_days=2)
    m = res.to_dict()["money"]
    json.dumps(res.to_dict(), allow_nan=False)
    assert m["confusion"] == {"tp": 30, "fp": 20, "fn": 10, "tn": 140}
    value = 30 * 10 - 20 * 50 - 10 * 1000  # = -10700
    bvalue = 40 * 10 - 10 * 50 - 5 * 1000  # = -5100
    assert m["value"] == value and m["labelled"] == 200 and m["rows"] == 250
    assert m["per_day"] == value / 2
    assert m["per_1000"] == pytest.approx(value / 200 * 1000)
    assert m["baseline_per_1000"] == pytest.approx(bvalue / 200 * 1000)
    assert m["expected_at_baseline_rate"] == pytest.approx(bvalue)  # same labelled count
    assert m["change"] == pytest.approx(value - bvalue) and m["change"] < 0
    assert m["change_per_day"] == pytest.approx((value - bvalue) / 2)
    assert m["projected_window_value"] == pytest.approx(value / 200 * 250)
    assert res.alerts() == []  # money is shown, guardrails alert
    # 10 missed positives against 5 in 200 rows each: within the sampling noise (1.5 standard errors)
    var_cur = (30 * 10**2 + 20 * 50**2 + 10 * 1000**2) / 200 - (value / 200) ** 2
    var_base = (40 * 10**2 + 10 * 50**2 + 5 * 1000**2) / 200 - (bvalue / 200) ** 2
    se = 200 * np.sqrt(var_cur / 200 + var_base / 200)
    assert m["change_se"] == pytest.approx(se) and m["change_low"] < 0 < m["change_high"]
    assert m["direction"] == "same"


def test_money_direction_needs_the_change_beyond_its_noise():
    # must say worse: the same rates over ten times the rows (100 vs 50 missed positives in 2000)
    cur, base = confusion_frame(tp=300, fp=200, fn=100, tn=1400), confusion_frame(tp=400, fp=100, fn=50, tn=1450)
    m = evaluate_business(cur, base, MODEL, COSTS).to_dict()["money"]
    assert m["direction"] == "worse" and m["change_high"] < 0
    # must not: a healthy model's labelled rows drawn from the baseline's own rates, many times over
    rng = np.random.default_rng(4)
    p = np.array([0.09, 0.03, 0.04, 0.84])
    base = confusion_frame(*rng.multinomial(12_000, p))
    said = [evaluate_business(confusion_frame(*rng.multinomial(30_000, p)), base, MODEL, COSTS).to_dict()["money"]["direction"]
            for _ in range(200)]
    assert said.count("worse") <= 10 and said.count("same") >= 180
    better = evaluate_business(confusion_frame(tp=400, fp=100, fn=50, tn=1450), confusion_frame(tp=300, fp=200, fn=100, tn=1400),
                               MODEL, COSTS).to_dict()["money"]
    assert better["direction"] == "better"


def test_no_labels_yet():
    cur = confusion_frame(0, 0, 0, 0, unlabelled=30)
    res = evaluate_business(cur, confusion_frame(5, 5, 5, 5), MODEL, COSTS)
    m = res.to_dict()["money"]
    assert m["labelled"] == 0 and m["per_1000"] is None and m["change"] is None
    assert any("no labelled rows" in f for f in res.to_dict()["findings"])


def test_regression_cost_per_unit_error():
    model = ModelConfig(task="regression", target="y", prediction="pred")
    cur = pd.DataFrame({"y": [10.0, 20.0, np.nan, 5.0], "pred": [12.0, 17.0, 3.0, 5.0]})
    base = pd.DataFrame({"y": [1.0, 2.0], "pred": [1.5, 2.5]})
    res = evaluate_business(cur, base, model, BusinessConfig(cost_per_unit_error=2.0))
    m = res.to_dict()["money"]
    assert m["abs_error_sum"] == 5.0 and m["labelled"] == 3
    assert m["value"] == -10.0  # a cost: 2 per unit of absolute error
    assert m["baseline_per_1000"] == pytest.approx(-2.0 / 2 * 1000)  # 2 x (0.5 + 0.5) over 2 rows
    assert m["expected_at_baseline_rate"] == pytest.approx(-3.0)  # 3 labelled rows at that rate
    assert m["change"] == pytest.approx(-7.0)
    assert m["direction"] == "same"  # three rows: no evidence either way
    # the same errors over many rows are evidence
    cur = pd.DataFrame({"y": np.tile([10.0, 20.0, 5.0], 200), "pred": np.tile([12.0, 17.0, 5.0], 200)})
    base = pd.DataFrame({"y": np.tile([1.0, 2.0], 200), "pred": np.tile([1.5, 2.5], 200)})
    m = evaluate_business(cur, base, model, BusinessConfig(cost_per_unit_error=2.0)).to_dict()["money"]
    assert m["direction"] == "worse" and m["change_high"] < 0


def test_misapplied_money_config_is_a_finding():
    model = ModelConfig(task="regression", target="y", prediction="pred")
    df = pd.DataFrame({"y": [1.0], "pred": [1.0]})
    res = evaluate_business(df, df, model, COSTS)
    assert res.to_dict()["money"] is None
    assert "cost_per_unit_error" in res.to_dict()["findings"][0]


def test_guardrails_breach_bounds_and_missing_column():
    rng = np.random.default_rng(0)
    cur = confusion_frame(5, 5, 5, 5).assign(latency_ms=np.r_[np.full(18, 100.0), 900.0, 1000.0], margin=rng.normal(5, 1, 20))
    base = cur.assign(latency_ms=100.0)
    cfg = BusinessConfig(
        guardrails=[
            Guardrail(column="latency_ms", stat="p95", max=200),
            Guardrail(column="latency_ms", stat="median", max=200, name="median latency"),
            Guardrail(column="margin", stat="mean", min=10),
            Guardrail(column="cost_eur", stat="sum", max=5),
        ]
    )
    res = evaluate_business(cur, base, MODEL, cfg)
    g = {x["name"]: x for x in res.to_dict()["guardrails"]}
    assert g["p95(latency_ms)"]["status"] == "breached"
    assert g["p95(latency_ms)"]["value"] == pytest.approx(np.percentile(cur.latency_ms, 95))
    assert g["p95(latency_ms)"]["baseline"] == 100.0
    assert g["median latency"]["status"] == "ok"
    assert g["mean(margin)"]["status"] == "breached"
    assert g["sum(cost_eur)"]["status"] == "missing" and "'cost_eur' is not in the window" in g["sum(cost_eur)"]["note"]
    alerts = {a.subject: a for a in res.alerts()}
    assert alerts["p95(latency_ms)"].severity == "critical" and alerts["p95(latency_ms)"].kind == "business"
    assert "max 200" in alerts["p95(latency_ms)"].message
    assert "min 10" in alerts["mean(margin)"].message
    assert alerts["sum(cost_eur)"].severity == "warning"
    assert "median latency" not in alerts
    assert res.to_dict()["money"] is None


def test_guardrail_stats_and_config_validation():
    s = pd.Series([1.0, 2.0, 3.0, None, 4.0])
    assert guardrail_stat(s, "sum") == 10.0 and guardrail_stat(s, "p50") == 2.5 and guardrail_stat(s, "max") == 4.0
    assert guardrail_stat(pd.Series([None, None]), "mean") is None
    with pytest.raises(UnknownMethodError, match="p95"):
        guardrail_stat(s, "average")
    base = {
        "name": "m",
        "reference": {"uri": "r.csv"},
        "production": {"uri": "p.csv"},
        "model": {"task": "binary_classification", "target": "y", "prediction": "p"},
        "output": {"uri": "out"},
    }
    ok = parse_config({**base, "business": {"guardrails": [{"column": "lat", "stat": "p99.9", "max": 1}]}})
    assert ok.business.guardrails[0].stat == "p99.9"
    with pytest.raises(ConfigError, match="unknown guardrail stat 'avg'"):
        parse_config({**base, "business": {"guardrails": [{"column": "lat", "stat": "avg", "max": 1}]}})
    with pytest.raises(ConfigError, match="needs a `min` or a `max`"):
        parse_config({**base, "business": {"guardrails": [{"column": "lat"}]}})
