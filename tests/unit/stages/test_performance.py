"""Performance metrics: values equal scikit-learn's, intervals cover, regressions and CBPE behave."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from monitor.config import ModelConfig, PerformanceConfig
from monitor.errors import UnknownMethodError
from monitor.stages.performance.metrics import estimate, evaluate_performance, fit_calibrator, prepare, resolve_metrics
from monitor.stages.performance.stats import bh_adjust, bootstrap_means, poisson1_weights, z_test_p_value

BIN = ModelConfig(task="binary_classification", target="y", prediction="pred", score="score", id="id")
ALL_BINARY = ["roc_auc", "pr_auc", "accuracy", "precision", "recall", "f1", "positive_rate", "log_loss", "brier", "calibration_error"]


def binary_frame(n: int, seed: int, shift: float = 0.0, label_share: float = 1.0) -> pd.DataFrame:
    """Calibrated scores: y ~ Bernoulli(score); `shift` makes the score less informative."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    score = 1 / (1 + np.exp(-1.5 * x))
    truth = 1 / (1 + np.exp(-1.5 * (x + shift * rng.normal(size=n))))
    y = (rng.random(n) < truth).astype(float)
    y[rng.random(n) >= label_share] = np.nan
    return pd.DataFrame({"id": np.arange(n), "x": x, "score": score, "pred": (score >= 0.5).astype(int), "y": y})


def values(result) -> dict:
    return {k: v["value"] for k, v in result.to_dict()["overall"].items()}


def test_binary_values_match_sklearn():
    df = binary_frame(3000, 1)
    # ties in the score, so AUC/AP tie handling is exercised too
    df["score"] = df["score"].round(2)
    df["pred"] = (df["score"] >= 0.5).astype(int)
    res = evaluate_performance(df, df, BIN, ALL_BINARY, PerformanceConfig(bootstrap=50), final=True)
    v = values(res)
    y, s, p = df.y.to_numpy(), df.score.to_numpy(), df.pred.to_numpy()
    assert v["roc_auc"] == pytest.approx(skm.roc_auc_score(y, s), abs=1e-12)
    assert v["pr_auc"] == pytest.approx(skm.average_precision_score(y, s), abs=1e-12)
    assert v["accuracy"] == pytest.approx(skm.accuracy_score(y, p), abs=1e-12)
    assert v["precision"] == pytest.approx(skm.precision_score(y, p), abs=1e-12)
    assert v["recall"] == pytest.approx(skm.recall_score(y, p), abs=1e-12)
    assert v["f1"] == pytest.approx(skm.f1_score(y, p), abs=1e-12)
    assert v["log_loss"] == pytest.approx(skm.log_loss(y, s), abs=1e-12)
    assert v["brier"] == pytest.approx(skm.brier_score_loss(y, s), abs=1e-12)
    assert v["positive_rate"] == pytest.approx(p.mean())
    # expected calibration error, 10 equal-width bins, written out the slow way
    bins = np.clip((s * 10).astype(int), 0, 9)
    ece = sum(abs(s[bins == b].mean() - y[bins == b].mean()) * (bins == b).mean() for b in range(10) if (bins == b).any())
    assert v["calibration_error"] == pytest.approx(ece, abs=1e-12)


def test_multiclass_values_match_sklearn():
    rng = np.random.default_rng(2)
    n = 2000
    y = rng.choice(["cat", "dog", "eel", "fox"], n, p=[0.4, 0.3, 0.2, 0.1])
    pred = np.where(rng.random(n) < 0.7, y, rng.choice(["cat", "dog", "eel", "fox"], n))
    pred[:5] = "gnu"  # a class only ever predicted
    df = pd.DataFrame({"y": y, "pred": pred})
    model = ModelConfig(task="multiclass_classification", target="y", prediction="pred")
    res = evaluate_performance(df, df, model, ["accuracy", "f1_macro", "f1_weighted", "recall_per_class"], PerformanceConfig(bootstrap=20), final=True)
    v = values(res)
    assert v["accuracy"] == pytest.approx(skm.accuracy_score(y, pred), abs=1e-12)
    assert v["f1_macro"] == pytest.approx(skm.f1_score(y, pred, average="macro", zero_division=0), abs=1e-12)
    assert v["f1_weighted"] == pytest.approx(skm.f1_score(y, pred, average="weighted", zero_division=0), abs=1e-12)
    labels = ["cat", "dog", "eel", "fox"]
    for lab, r in zip(labels, skm.recall_score(y, pred, labels=labels, average=None)):
        assert v[f"recall[{lab}]"] == pytest.approx(r, abs=1e-12)
    assert v["recall[gnu]"] is None  # never the true class: undefined, not 0


def test_regression_values_match_sklearn():
    rng = np.random.default_rng(3)
    y = 1e5 + rng.normal(scale=50, size=1500)  # a large offset: R2 must stay exact
    pred = y + rng.normal(loc=3, scale=20, size=1500)
    df = pd.DataFrame({"y": y, "pred": pred})
    model = ModelConfig(task="regression", target="y", prediction="pred")
    res = evaluate_performance(df, df, model, ["mae", "rmse", "mape", "r2", "bias"], PerformanceConfig(bootstrap=20), final=True)
    v = values(res)
    assert v["mae"] == pytest.approx(skm.mean_absolute_error(y, pred), rel=1e-10)
    assert v["rmse"] == pytest.approx(skm.root_mean_squared_error(y, pred), rel=1e-10)
    assert v["mape"] == pytest.approx(skm.mean_absolute_percentage_error(y, pred), rel=1e-10)
    assert v["r2"] == pytest.approx(skm.r2_score(y, pred), abs=1e-9)
    assert v["bias"] == pytest.approx(float(np.mean(pred - y)), rel=1e-10)


def test_unknown_metric_lists_known_names():
    with pytest.raises(UnknownMethodError) as exc:
        resolve_metrics("regression", ["mae", "auc"])
    assert "'auc'" in str(exc.value) and "rmse" in str(exc.value)
    with pytest.raises(UnknownMethodError, match="f1_macro"):
        resolve_metrics("multiclass_classification", ["roc_auc"])


def _coverage(make, truth: float, metric: str, reps: int, n: int, groups_path: bool = False) -> float:
    spec = resolve_metrics("binary_classification", [metric])
    hits = 0
    for r in range(reps):
        data, _, _ = prepare(make(n, 1000 + r), BIN)
        est = estimate(data, spec, 200, r, 0.95)[metric]
        hits += est.ci_low <= truth <= est.ci_high
    return hits / reps


def test_interval_coverage_by_simulation():
    """A 95% interval covers the true value in roughly 95% of seeded repetitions."""

    def make(n, seed):
        rng = np.random.default_rng(seed)
        y = (rng.random(n) < 0.4).astype(float)
        # binormal scores: true AUC = Phi(1/sqrt(2)); true accuracy at 0.5 known in closed form
        z = rng.normal(size=n) + y
        score = 1 / (1 + np.exp(-(z - 0.5)))
        return pd.DataFrame({"y": y, "score": score, "pred": (score >= 0.5).astype(int)})

    phi = lambda x: 0.5 * (1 + math.erf(x / math.sqrt(2)))  # noqa: E731
    true_auc = phi(1 / math.sqrt(2))
    true_acc = 0.4 * phi(0.5) + 0.6 * phi(0.5)
    cov_auc = _coverage(make, true_auc, "roc_auc", 200, 300)
    cov_acc = _coverage(make, true_acc, "accuracy", 200, 300)
    assert 0.90 <= cov_auc <= 0.99, cov_auc
    assert 0.90 <= cov_acc <= 0.99, cov_acc


@pytest.mark.slow
def test_interval_coverage_grouped_bootstrap():
    """Above DEFAULT_GROUPS rows the bootstrap reweights random groups of rows: still ~95%."""
    rng = np.random.default_rng(0)
    hits = 0
    reps = 150
    for r in range(reps):
        x = rng.exponential(size=6000)  # skewed, like a loss
        b = bootstrap_means(x, 200, r)[:, 0]
        lo, hi = np.quantile(b, [0.025, 0.975])
        hits += lo <= 1.0 <= hi
    assert 0.89 <= hits / reps <= 0.99


def test_regression_is_flagged_and_alerts():
    base = binary_frame(4000, 10)
    cur = binary_frame(4000, 11, shift=2.0)  # the score explains much less of the label
    res = evaluate_performance(cur, base, BIN, ["roc_auc", "accuracy", "log_loss"], PerformanceConfig(), final=False)
    d = res.to_dict()["overall"]
    assert d["roc_auc"]["regressed"] and d["roc_auc"]["delta"] < -0.05
    assert d["roc_auc"]["p_value"] < 0.001
    assert d["log_loss"]["regressed"] and d["log_loss"]["delta"] > 0  # lower is better: a rise is the regression
    assert d["log_loss"]["higher_is_better"] is False
    alerts = res.alerts()
    assert {a.subject for a in alerts} >= {"roc_auc"}
    assert all(a.kind == "performance" and a.severity == "critical" for a in alerts)
    assert "provisional" in alerts[0].message


def test_stable_data_does_not_regress():
    res = evaluate_performance(binary_frame(4000, 20), binary_frame(4000, 21), BIN, ALL_BINARY, PerformanceConfig(), final=True)
    assert not res.alerts()
    for m in res.to_dict()["overall"].values():
        assert m["ci_low"] <= m["value"] <= m["ci_high"]
        assert m["baseline_ci_low"] <= m["baseline"] <= m["baseline_ci_high"]


def test_min_delta_blocks_tiny_but_significant_changes():
    base = binary_frame(20000, 30)
    cur = binary_frame(20000, 31, shift=0.4)
    strict = evaluate_performance(cur, base, BIN, ["roc_auc"], PerformanceConfig(min_delta=0.5), final=True)
    assert not strict.to_dict()["overall"]["roc_auc"]["regressed"]


def test_label_coverage_final_and_json():
    cur = binary_frame(1000, 40, label_share=0.3)
    res = evaluate_performance(cur, binary_frame(1000, 41), BIN, ["roc_auc", "f1"], PerformanceConfig(bootstrap=30), final=False, human_level={"roc_auc": 0.9})
    d = res.to_dict()
    json.dumps(d, allow_nan=False)
    assert d["rows"] == 1000 and d["labelled"] == int(cur.y.notna().sum())
    assert d["label_coverage"] == pytest.approx(cur.y.notna().mean())
    assert d["final"] is False
    auc = d["overall"]["roc_auc"]
    assert auc["human_level"] == 0.9 and auc["gap_to_human"] == pytest.approx(0.9 - auc["value"])
    assert auc["baseline_gap_to_human"] == pytest.approx(0.9 - auc["baseline"])
    assert auc["higher_is_better"] is True


def test_undefined_metrics_are_none_with_a_note():
    cur = binary_frame(300, 50)
    cur["y"] = 1.0  # one class only
    res = evaluate_performance(cur, binary_frame(300, 51), BIN, ["roc_auc", "pr_auc", "accuracy"], PerformanceConfig(bootstrap=20), final=True)
    d = res.to_dict()
    json.dumps(d, allow_nan=False)
    assert d["overall"]["roc_auc"]["value"] is None and "one class" in d["overall"]["roc_auc"]["note"]
    assert d["overall"]["roc_auc"]["regressed"] is False
    assert d["overall"]["accuracy"]["value"] is not None


def test_no_labels_gives_estimates_only():
    cur = binary_frame(2000, 60, label_share=0.0)
    res = evaluate_performance(cur, binary_frame(2000, 61), BIN, ["roc_auc", "accuracy", "log_loss"], PerformanceConfig(bootstrap=50), final=False)
    d = res.to_dict()
    json.dumps(d, allow_nan=False)
    assert d["labelled"] == 0 and d["label_coverage"] == 0
    assert all(m["value"] is None for m in d["overall"].values())
    assert set(d["estimated"]) == {"roc_auc", "accuracy", "log_loss"}
    assert all(e["method"] == "cbpe" for e in d["estimated"].values())
    acc = d["estimated"]["accuracy"]
    assert acc["baseline"] == d["overall"]["accuracy"]["baseline"] and acc["delta"] == pytest.approx(acc["value"] - acc["baseline"])
    assert d["estimation_error"] == {}
    assert not res.alerts()


def test_cbpe_estimate_tracks_realized_performance():
    """With calibrated scores, the estimate from all rows lands near the realized value."""
    base = binary_frame(5000, 70)
    cur = binary_frame(20000, 71)
    res = evaluate_performance(cur, base, BIN, ["roc_auc", "accuracy", "f1", "brier"], PerformanceConfig(bootstrap=100), final=True)
    d = res.to_dict()
    for name in ("roc_auc", "accuracy", "f1", "brier"):
        e, real = d["estimated"][name], d["overall"][name]["value"]
        assert e["ci_low"] <= real <= e["ci_high"], (name, e, real)
        assert d["estimation_error"][name] == pytest.approx(real - e["value"])


def test_calibrator_matches_sklearn_isotonic():
    from sklearn.isotonic import IsotonicRegression

    rng = np.random.default_rng(5)
    s = rng.random(1500)
    y = (rng.random(1500) < s**2).astype(float)
    ours = fit_calibrator(s, y)(s)
    ref = IsotonicRegression(out_of_bounds="clip", y_min=0, y_max=1).fit(s, y).predict(s)
    assert np.abs(ours - ref).max() < 1e-9


def test_bootstrap_zero_gives_values_without_intervals():
    res = evaluate_performance(binary_frame(500, 80), binary_frame(500, 81, shift=3), BIN, ["accuracy"], PerformanceConfig(bootstrap=0), final=True)
    d = res.to_dict()
    m = d["overall"]["accuracy"]
    assert m["value"] is not None and m["ci_low"] is None and m["p_value"] is None and m["regressed"] is False
    assert any("bootstrap is 0" in n for n in d["notes"])


def test_bh_adjust_matches_hand_and_scipy():
    from scipy.stats import false_discovery_control

    p = np.array([0.01, 0.04, 0.03, 0.5])
    assert bh_adjust(p) == pytest.approx([0.04, 0.04 / 0.75, 0.04 / 0.75, 0.5])
    rng = np.random.default_rng(0)
    q = rng.random(50) ** 3
    assert bh_adjust(q) == pytest.approx(false_discovery_control(q, method="bh"))
    with_nan = bh_adjust([0.01, np.nan, 0.02])
    assert np.isnan(with_nan[1]) and with_nan[0] == pytest.approx(0.02)  # NaN not counted in m


def test_poisson_weights_and_z_test():
    w = poisson1_weights(np.random.default_rng(0), (400, 1000))
    assert w.mean() == pytest.approx(1.0, abs=0.01) and w.var() == pytest.approx(1.0, abs=0.02)
    assert z_test_p_value(0.0, 0.1, 0.1) == pytest.approx(1.0)
    assert z_test_p_value(1.96 * math.sqrt(2) * 0.1, 0.1, 0.1) == pytest.approx(0.05, abs=1e-3)
    assert z_test_p_value(None, 0.1, 0.1) is None


def test_window_without_target_column_or_rows():
    cur = binary_frame(300, 90).drop(columns=["y"])
    res = evaluate_performance(cur, binary_frame(300, 91), BIN, ["accuracy", "roc_auc"], PerformanceConfig(bootstrap=20), final=False)
    d = res.to_dict()
    assert d["labelled"] == 0 and d["overall"]["accuracy"]["value"] is None
    assert any("target column 'y'" in n for n in d["notes"])
    assert "accuracy" in d["estimated"]
    empty = evaluate_performance(cur.iloc[:0], binary_frame(300, 91), BIN, ["accuracy"], PerformanceConfig(bootstrap=20), final=True)
    assert empty.to_dict()["rows"] == 0 and empty.to_dict()["label_coverage"] == 0.0
    json.dumps(empty.to_dict(), allow_nan=False)
