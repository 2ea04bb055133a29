"""Performance metrics: values equal scikit-learn's, intervals cover, regressions, minimum evidence, materiality, CBPE."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from monitor.config import ModelConfig, PerformanceConfig
from monitor.errors import UnknownMethodError
from monitor.stages.performance.cbpe import fit_calibrator
from monitor.stages.performance.stage import evaluate_performance
from monitor.stages.performance.summary import estimate, summarize
from monitor.stages.performance.tasks import task_for

BIN = ModelConfig(task="binary_classification", target="y", prediction="pred", score="score", id="id")
ALL_BINARY = ["roc_auc", "pr_auc", "accuracy", "precision", "recall", "f1", "positive_rate", "log_loss", "brier", "calibration_error"]
CLASSES = ["cat", "dog", "eel", "fox"]
MULTI = ModelConfig(
    task="multiclass_classification", target="y", prediction="pred", scores={c: f"p_{c}" for c in CLASSES}
)


def binary_frame(n: int, seed: int, shift: float = 0.0, label_share: float = 1.0) -> pd.DataFrame:
    """Calibrated scores: y ~ Bernoulli(score); `shift` makes the score less informative."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    score = 1 / (1 + np.exp(-1.5 * x))
    truth = 1 / (1 + np.exp(-1.5 * (x + shift * rng.normal(size=n))))
    y = (rng.random(n) < truth).astype(float)
    y[rng.random(n) >= label_share] = np.nan
    return pd.DataFrame({"id": np.arange(n), "x": x, "score": score, "pred": (score >= 0.5).astype(int), "y": y})


def multiclass_frame(n: int, seed: int, noise: float = 1.0, label_share: float = 1.0) -> pd.DataFrame:
    """Softmax scores over 4 classes; the label is drawn from them (calibrated); `noise` blurs the scores."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=1.5, size=(n, 4))
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = np.array([rng.choice(4, p=row) for row in p])
    shown = np.exp(logits + rng.normal(scale=noise - 1.0, size=(n, 4))) if noise > 1 else np.exp(logits)
    shown = shown / shown.sum(axis=1, keepdims=True)
    df = pd.DataFrame({f"p_{c}": shown[:, i] for i, c in enumerate(CLASSES)})
    df["pred"] = np.array(CLASSES)[shown.argmax(axis=1)]
    df["y"] = np.array(CLASSES, dtype=object)[y]
    df.loc[rng.random(n) >= label_share, "y"] = None
    return df


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
    bins = np.clip((s * 10).astype(int), 0, 9)
    ece = sum(abs(s[bins == b].mean() - y[bins == b].mean()) * (bins == b).mean() for b in range(10) if (bins == b).any())
    assert v["calibration_error"] == pytest.approx(ece, abs=1e-12)


def test_multiclass_values_match_sklearn():
    rng = np.random.default_rng(2)
    n = 2000
    y = rng.choice(CLASSES, n, p=[0.4, 0.3, 0.2, 0.1])
    pred = np.where(rng.random(n) < 0.7, y, rng.choice(CLASSES, n))
    pred[:5] = "gnu"  # a class only ever predicted
    df = pd.DataFrame({"y": y, "pred": pred})
    model = ModelConfig(task="multiclass_classification", target="y", prediction="pred")
    res = evaluate_performance(df, df, model, ["accuracy", "f1_macro", "f1_weighted", "recall_per_class"], PerformanceConfig(bootstrap=20), final=True)
    v = values(res)
    assert v["accuracy"] == pytest.approx(skm.accuracy_score(y, pred), abs=1e-12)
    assert v["f1_macro"] == pytest.approx(skm.f1_score(y, pred, average="macro", zero_division=0), abs=1e-12)
    assert v["f1_weighted"] == pytest.approx(skm.f1_score(y, pred, average="weighted", zero_division=0), abs=1e-12)
    for lab, r in zip(CLASSES, skm.recall_score(y, pred, labels=CLASSES, average=None)):
        assert v[f"recall[{lab}]"] == pytest.approx(r, abs=1e-12)
    assert v["recall[gnu]"] is None  # never the true class: undefined, not 0


def test_multiclass_macro_roc_auc_from_per_class_scores_matches_sklearn():
    df = multiclass_frame(3000, 3)
    res = evaluate_performance(df, df, MULTI, ["roc_auc", "accuracy"], PerformanceConfig(), final=True)
    auc = res.to_dict()["overall"]["roc_auc"]
    P = df[[f"p_{c}" for c in CLASSES]].to_numpy()
    ref = skm.roc_auc_score(df["y"], P, multi_class="ovr", average="macro", labels=CLASSES)
    assert auc["value"] == pytest.approx(ref, abs=1e-12)
    assert auc["ci_low"] < auc["value"] < auc["ci_high"] and auc["ci_high"] - auc["ci_low"] < 0.05
    # the same scores, blurred: macro AUC regresses and alerts; the unblurred window does not
    worse = evaluate_performance(multiclass_frame(3000, 4, noise=2.5), df, MULTI, ["roc_auc"], PerformanceConfig(), final=True)
    assert [a.subject for a in worse.alerts()] == ["roc_auc"]
    same = evaluate_performance(multiclass_frame(3000, 5), df, MULTI, ["roc_auc"], PerformanceConfig(), final=True)
    assert not same.alerts()


def test_multiclass_cbpe_tracks_realized_performance():
    base = multiclass_frame(4000, 6)
    cur = multiclass_frame(6000, 7, label_share=0.0)
    res = evaluate_performance(cur, base, MULTI, ["accuracy", "f1_macro", "roc_auc"], PerformanceConfig(bootstrap=100), final=False)
    est = res.to_dict()["estimated"]
    truth = evaluate_performance(multiclass_frame(6000, 7), base, MULTI, ["accuracy", "f1_macro", "roc_auc"], PerformanceConfig(), final=True)
    real = values(truth)
    for name in ("accuracy", "f1_macro", "roc_auc"):
        e = est[name]
        assert e["method"] == "cbpe" and e["ci_low"] <= real[name] <= e["ci_high"], (name, e, real[name])


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
    for m in res.to_dict()["overall"].values():
        assert m["ci_low"] < m["value"] < m["ci_high"]


def test_unknown_metric_lists_known_names():
    with pytest.raises(UnknownMethodError) as exc:
        task_for(ModelConfig(task="regression", target="y", prediction="p")).resolve(["mae", "auc"])
    assert "'auc'" in str(exc.value) and "rmse" in str(exc.value)
    with pytest.raises(UnknownMethodError, match="f1_macro"):
        task_for(ModelConfig(task="multiclass_classification", target="y", prediction="p")).resolve(["pr_auc"])


def _coverage(make, truth: float, metric: str, reps: int, n: int) -> float:
    task = task_for(BIN)
    spec = task.resolve([metric])
    hits = 0
    for r in range(reps):
        data, _, _ = task.prepare(make(n, 1000 + r))
        est = estimate(summarize(data, spec, 2)[0], spec, data.classes, 0.95, 200, r)[metric]
        assert est.ci_low is not None and est.ci_high is not None
        hits += est.ci_low <= truth <= est.ci_high
    return hits / reps


def test_interval_coverage_by_simulation():
    """A 95% interval covers the true value in roughly 95% of seeded repetitions."""

    def make(n, seed):
        rng = np.random.default_rng(seed)
        y = (rng.random(n) < 0.4).astype(float)
        z = rng.normal(size=n) + y  # binormal: true AUC = Phi(1/sqrt(2))
        score = 1 / (1 + np.exp(-(z - 0.5)))
        return pd.DataFrame({"y": y, "score": score, "pred": (score >= 0.5).astype(int)})

    phi = lambda x: 0.5 * (1 + math.erf(x / math.sqrt(2)))  # noqa: E731
    assert 0.90 <= _coverage(make, phi(1 / math.sqrt(2)), "roc_auc", 200, 300) <= 0.99
    assert 0.90 <= _coverage(make, 0.4 * phi(0.5) + 0.6 * phi(0.5), "accuracy", 200, 300) <= 0.99
    assert 0.90 <= _coverage(make, 0.4 * phi(0.5) / (0.4 * phi(0.5) + 0.6 * (1 - phi(0.5))), "precision", 200, 300) <= 0.99


def test_regression_is_flagged_and_alerts():
    base = binary_frame(4000, 10)
    cur = binary_frame(4000, 11, shift=2.0)  # the score explains much less of the label
    res = evaluate_performance(cur, base, BIN, ["roc_auc", "accuracy", "log_loss"], PerformanceConfig(), final=False)
    d = res.to_dict()["overall"]
    assert d["roc_auc"]["regressed"] and d["roc_auc"]["delta"] < -0.05 and d["roc_auc"]["verdict"] == "regressed"
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
    d = res.to_dict()
    assert d["verdict"] == "ok"
    for m in d["overall"].values():
        assert m["ci_low"] <= m["value"] <= m["ci_high"]
        assert m["baseline_ci_low"] <= m["baseline"] <= m["baseline_ci_high"]
        assert m["verdict"] == "ok"


def test_too_few_labels_gives_no_verdict_and_says_so():
    """3 labelled rows, all wrong: accuracy 0 vs ~0.8, yet no alert: three rows are not evidence."""
    base = binary_frame(4000, 22)
    cur = binary_frame(500, 23, label_share=0.0)
    cur.loc[:2, "y"] = 1 - cur.loc[:2, "pred"]
    res = evaluate_performance(cur, base, BIN, ["accuracy", "roc_auc"], PerformanceConfig(), final=True)
    d = res.to_dict()
    json.dumps(d, allow_nan=False)
    acc = d["overall"]["accuracy"]
    assert acc["value"] == 0.0 and acc["verdict"] == "too few labels" and not acc["regressed"]
    assert acc["ci_high"] > 0.5  # Wilson: 0 of 3 is compatible with a good model
    assert d["verdict"] == "too few labels" and d["min_labelled"] == 100
    assert any("too few labels: 3 labelled rows" in n for n in d["notes"])
    assert not res.alerts()
    # the same drop on enough rows alerts
    many = binary_frame(500, 23)
    many["y"] = 1 - many["pred"]
    assert [a.subject for a in evaluate_performance(many, base, BIN, ["accuracy"], PerformanceConfig(), final=True).alerts()] == ["accuracy"]
    # and the minimum is configurable
    low = evaluate_performance(cur, base, BIN, ["accuracy"], PerformanceConfig(min_labelled=3), final=True)
    assert low.to_dict()["overall"]["accuracy"]["verdict"] != "too few labels"


def test_materiality_per_metric_and_relative():
    base = binary_frame(40000, 30)
    cur = binary_frame(40000, 31, shift=0.5)  # a small but very significant AUC drop (~0.015)
    d = evaluate_performance(cur, base, BIN, ["roc_auc"], PerformanceConfig(), final=True).to_dict()["overall"]["roc_auc"]
    assert d["p_value"] < 1e-4 and 0 < -d["delta"] < 0.02
    assert d["min_delta"] == 0.02 and not d["regressed"]  # default: 0.02 of AUC is the smallest material change
    strict = evaluate_performance(cur, base, BIN, ["roc_auc"], PerformanceConfig(min_delta={"roc_auc": 0.005}), final=True)
    assert strict.to_dict()["overall"]["roc_auc"]["regressed"]
    # regression errors: relative to the baseline (5% by default), in the target's own units
    rng = np.random.default_rng(5)
    y = rng.normal(1e6, 1e5, 20000)
    reg = ModelConfig(task="regression", target="y", prediction="pred")
    b = pd.DataFrame({"y": y, "pred": y + rng.normal(0, 1000, y.size)})
    c3 = pd.DataFrame({"y": y, "pred": y + rng.normal(0, 1030, y.size)})  # MAE +3%: significant, not material
    c10 = pd.DataFrame({"y": y, "pred": y + rng.normal(0, 1100, y.size)})  # MAE +10%
    r3 = evaluate_performance(c3, b, reg, ["mae"], PerformanceConfig(), final=True).to_dict()["overall"]["mae"]
    assert r3["min_delta"] == pytest.approx(0.05 * r3["baseline"]) and not r3["regressed"]
    assert evaluate_performance(c10, b, reg, ["mae"], PerformanceConfig(), final=True).to_dict()["overall"]["mae"]["regressed"]
    pct = evaluate_performance(c3, b, reg, ["mae"], PerformanceConfig(min_delta={"mae": "1%"}), final=True).to_dict()["overall"]["mae"]
    assert pct["min_delta"] == pytest.approx(0.01 * pct["baseline"]) and pct["regressed"]
    # the old form, one absolute number for every metric, still works
    assert evaluate_performance(c3, b, reg, ["mae"], PerformanceConfig(min_delta=0.5), final=True).to_dict()["overall"]["mae"]["min_delta"] == 0.5


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
    assert d["overall"]["roc_auc"]["regressed"] is False and d["overall"]["roc_auc"]["verdict"] == "undefined"
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


def test_bootstrap_zero_keeps_analytic_intervals():
    res = evaluate_performance(binary_frame(500, 80), binary_frame(500, 81), BIN, ["accuracy", "pr_auc"], PerformanceConfig(bootstrap=0), final=True)
    d = res.to_dict()["overall"]
    assert d["accuracy"]["ci_low"] is not None and d["accuracy"]["p_value"] is not None  # Wilson needs no resampling
    assert d["pr_auc"]["ci_low"] is None and "bootstrap is 0" in d["pr_auc"]["note"]


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


def _accuracy_frame(n: int, accuracy: float, seed: int) -> pd.DataFrame:
    """n labelled rows whose predictions are right on exactly round(accuracy * n) of them."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.7).astype(float)
    right = np.zeros(n, dtype=bool)
    right[rng.permutation(n)[: round(accuracy * n)]] = True
    pred = np.where(right, y, 1 - y).astype(int)
    return pd.DataFrame({"id": np.arange(n), "score": pred * 0.8 + 0.1, "pred": pred, "y": y})


def test_alert_needs_evidence_of_a_material_drop_and_critical_needs_strong_evidence():
    """Accuracy against a 6,000-row baseline at 0.80 on 2,000 labelled rows (min_delta 0.01, SE of the change ~0.0106)."""
    base = _accuracy_frame(6000, 0.80, 1)

    def run(acc: float) -> dict:
        res = evaluate_performance(_accuracy_frame(2000, acc, 2), base, BIN, ["accuracy"], PerformanceConfig(), final=True)
        return {"row": res.to_dict()["overall"]["accuracy"], "alerts": res.alerts()}

    # must not alert: -0.025 is significant against "no change" (p ~0.02) and >= min_delta, but only
    # 1.4 SE beyond min_delta: a chance dip of this size happens on a healthy day every few weeks
    chance = run(0.775)
    r = chance["row"]
    assert r["p_value"] < 0.05 and -r["delta"] >= r["min_delta"] == 0.01
    assert r["p_value_material"] > 0.05 and not r["regressed"] and r["severity"] is None and not chance["alerts"]
    # a warning: beyond min_delta at p < 0.05, short of strong evidence (critical_fdr 0.005)
    weak = run(0.765)
    assert 0.005 < weak["row"]["p_value_adjusted"] <= 0.05 and weak["row"]["regressed"]
    assert [(a.subject, a.severity) for a in weak["alerts"]] == [("accuracy", "warning")]
    # must alert, critical: 0.08 down, far beyond min_delta
    strong = run(0.72)
    assert strong["row"]["p_value_adjusted"] < 1e-6 and strong["row"]["severity"] == "critical"
    assert [(a.subject, a.severity) for a in strong["alerts"]] == [("accuracy", "critical")]
    assert "beyond the material change 0.01" in strong["alerts"][0].message
    # critical_fdr is configurable: at 0.05 the weak case is critical too
    cfg = PerformanceConfig(critical_fdr=0.05)
    res = evaluate_performance(_accuracy_frame(2000, 0.765, 2), base, BIN, ["accuracy"], cfg, final=True)
    assert [a.severity for a in res.alerts()] == ["critical"]


def test_healthy_days_against_one_baseline_rarely_alert():
    """Must not alert: forty healthy days of 2,000 labelled rows against one 6,000-row baseline, four
    metrics, as in bench_alerts. Must alert: days of the same size whose scores lost information.
    (The rates themselves are simulated in test_intervals.)"""
    base = binary_frame(6000, 500)
    metrics = ["roc_auc", "accuracy", "f1", "brier"]
    alerted = [evaluate_performance(binary_frame(2000, 600 + k), base, BIN, metrics, PerformanceConfig(), final=True).alerts()
               for k in range(40)]
    assert sum(bool(a) for a in alerted) == 0
    # and a regression of the score's quality on days of the same size is caught every time
    broken = [evaluate_performance(binary_frame(2000, 700 + k, shift=1.5), base, BIN, metrics, PerformanceConfig(), final=True)
              for k in range(5)]
    assert all(r.verdict == "regressed" for r in broken)


def _price_like(n: int, seed: int, near_zero: bool, worse: float = 1.0) -> pd.DataFrame:
    """A regression whose targets cross zero (profit-like) or stay far from it (price-like)."""
    rng = np.random.default_rng(seed)
    y = rng.normal(0.0 if near_zero else 100.0, 20.0, n)
    return pd.DataFrame({"y": y, "pred": y + rng.normal(0, 5.0 * worse, n)})


def test_mape_dominated_by_targets_near_zero_gets_no_test_but_mae_still_alerts():
    """MAPE whose mean a few near-zero targets dominate is reported with a note, never alerted on;
    the other metrics still test (and a real regression is still caught by them)."""
    from monitor.config import PerformanceConfig

    model = ModelConfig(task="regression", target="y", prediction="pred")
    base = _price_like(6000, 1, near_zero=True)
    for seed in range(8):  # healthy days: MAPE swings with the near-zero rows drawn, never an alert
        res = evaluate_performance(_price_like(2000, 100 + seed, near_zero=True), base, model, ["mae", "mape"],
                                   PerformanceConfig(), final=True)
        assert res.overall["mape"]["verdict"] == "no test" and not res.overall["mape"]["regressed"]
        assert "targets near zero" in res.overall["mape"]["note"]
    broken = evaluate_performance(_price_like(2000, 7, near_zero=True, worse=2.0), base, model, ["mae", "mape"],
                                  PerformanceConfig(), final=True)
    assert broken.overall["mae"]["regressed"] and not broken.overall["mape"]["regressed"]


def test_mape_far_from_zero_is_tested_and_alerts_on_a_real_regression():
    from monitor.config import PerformanceConfig

    model = ModelConfig(task="regression", target="y", prediction="pred")
    base = _price_like(6000, 1, near_zero=False)
    ok = evaluate_performance(_price_like(2000, 2, near_zero=False), base, model, ["mape"], PerformanceConfig(), final=True)
    assert ok.overall["mape"]["verdict"] == "ok" and "untestable" not in ok.overall["mape"]
    bad = evaluate_performance(_price_like(2000, 3, near_zero=False, worse=2.0), base, model, ["mape"], PerformanceConfig(), final=True)
    assert bad.overall["mape"]["regressed"] and bad.overall["mape"]["verdict"] == "regressed"


def test_cbpe_reuses_the_sorted_labelled_rows_only_when_they_are_every_scored_row():
    """Fully labelled window: the prepared rows are the estimate's rows (no second read or sort), with
    the values of the general path; partly labelled: not reused."""
    from monitor.stages.performance.cbpe import cbpe

    task = task_for(BIN)
    base, _, _ = task.prepare(binary_frame(4000, 2))
    for share, reused in ((1.0, True), (0.7, False)):
        df = binary_frame(6000, 3, label_share=share)
        df.loc[5, "score"] = np.nan  # a row without a score is in neither
        cur, _, _ = task.prepare(df)
        assert cur.all_scored is reused
        general = cbpe(task, df, base, ALL_BINARY, 200, 5, 0.95)
        given = cbpe(task, df, base, ALL_BINARY, 200, 5, 0.95, cur)
        assert general[0] and json.dumps(given, sort_keys=True) != "" and given[1] == general[1]
        for name, row in general[0].items():
            for key, v in row.items():
                assert given[0][name][key] == (pytest.approx(v, rel=1e-12, abs=1e-12) if isinstance(v, float) else v), (name, key)


def test_scores_with_ties_keep_the_row_order_and_summaries_are_views_of_distinct_scores():
    from monitor.stages.performance.tasks import sort_scores

    s = np.array([0.3, 0.1, 0.3, 0.2, 0.1, 0.3])
    srt, order, sbin, k = sort_scores(s, stable=True)
    assert order.tolist() == [1, 4, 3, 0, 2, 5] and sbin.tolist() == [0, 0, 1, 2, 2, 2] and k == 3
    assert sort_scores(np.array([0.5, 0.2, 0.9]), stable=True)[1].tolist() == [1, 0, 2]
    task = task_for(BIN)
    distinct, _, _ = task.prepare(binary_frame(500, 4))
    (whole,) = summarize(distinct, task.resolve(["roc_auc"]), 2)
    idx, pos, neg = whole.rank[0]
    assert np.shares_memory(pos, distinct.y) and pos.dtype == np.int8 and (pos + neg == 1).all()
    tied = binary_frame(500, 4).assign(score=lambda d: d["score"].round(1))
    prepared, _, _ = task.prepare(tied)
    (s2,) = summarize(prepared, task.resolve(["roc_auc"]), 2)
    assert s2.rank[0][1].dtype == np.int8 and len(s2.rank[0][0]) == prepared.n_bins < 20


def test_a_total_kept_for_the_rest_subtracts_as_the_full_one():
    task = task_for(BIN)
    data, _, _ = task.prepare(binary_frame(3000, 6))
    specs = task.resolve(["roc_auc", "accuracy", "log_loss"])
    codes = (np.arange(data.n) % 3).astype(np.int8) - 1  # groups 0 and 1, and rows in none (-1)
    (total,) = summarize(data, specs, 2)
    parts = summarize(data, specs, 2, codes, 2)
    assert [p.n for p in parts] == [1000, 1000]
    kept = total.for_rest()
    for p in parts:
        a, b = total.minus(p), kept.minus(p)
        assert a.n == b.n and np.array_equal(a.confusion, b.confusion)
        assert all(np.array_equal(x, y) for x, y in zip(a.rank[0], b.rank[0]))
    assert kept.rank[0][1].size == len(np.unique(data.score))  # fewer than REST_BINS scores: the same cells


def test_rows_in_no_group_are_left_out_exactly():
    from dataclasses import replace

    task = task_for(BIN)
    data, _, _ = task.prepare(binary_frame(3000, 7))
    specs = task.resolve(["roc_auc", "accuracy", "log_loss", "brier", "calibration_error"])
    inside = np.arange(data.n) % 4 != 0
    (one,) = summarize(data, specs, 2, np.where(inside, 0, -1), 1)
    sub = replace(data, y=data.y[inside], pred=data.pred[inside], rows=data.rows[inside], score=data.score[inside])
    sub = replace(sub, sbin=np.r_[0, np.cumsum(sub.score[1:] != sub.score[:-1])], n_bins=len(np.unique(sub.score)))
    (ref,) = summarize(sub, specs, 2)
    assert one.n == ref.n == inside.sum() and np.array_equal(one.confusion, ref.confusion)
    assert all(np.array_equal(one.moments[k][i], ref.moments[k][i]) for k in ref.moments for i in (0, 1))  # bit for bit
    assert np.array_equal(one.ece, ref.ece) and np.array_equal(one.rank[0][1], ref.rank[0][1])
    assert estimate(one, specs, [0, 1], 0.95, 0, 1) == estimate(ref, specs, [0, 1], 0.95, 0, 1)


def test_prediction_codes_are_one_byte_with_minus_one_for_no_prediction():
    task = task_for(BIN)
    df = pd.DataFrame({"pred": pd.array([1, 0, None, 1], dtype="Int64"), "score": [0.9, 0.2, 0.6, 0.4], "y": [1.0, 0, 1, np.nan]})
    codes = task.prediction_codes(df, task.score_of(df))
    assert codes.dtype == np.int8 and codes.tolist() == [1, 0, -1, 1]
    assert np.array_equal(task.predictions(df, None), [1.0, 0.0, np.nan, 1.0], equal_nan=True)
    by_score = task.prediction_codes(df.drop(columns="pred"), task.score_of(df))  # no prediction column: the threshold
    assert by_score.tolist() == [1, 0, 1, 0]
    prepared, used, notes = task.prepare(df)
    assert prepared.n == 2 and used.tolist() == [True, True, False, False]
    assert not prepared.all_scored  # row 3 is scored but not labelled
    assert task.prepare(df.assign(score=[0.9, 0.2, 0.6, np.nan]))[0].all_scored
    assert notes == ["1 labelled row(s) without a prediction/score were left out"]


def test_ranking_counts_by_group_are_the_same_taken_group_by_group_or_sorted(monkeypatch):
    from monitor.stages.performance import summary
    from monitor.stages.performance.summary import group_sizes

    task = task_for(BIN)
    tied = binary_frame(4000, 8).assign(score=lambda d: d["score"].round(2))  # runs of several rows per score too
    specs = task.resolve(["roc_auc", "pr_auc", "accuracy", "brier"])
    codes = np.random.default_rng(9).integers(-1, 5, 4000).astype(np.int8)
    for df in (binary_frame(4000, 8), tied):
        data, _, _ = task.prepare(df)
        by_group = summarize(data, specs, 2, codes[data.rows], 5)
        monkeypatch.setattr(summary, "FEW_GROUPS", 0)  # the sort of the rows by group
        by_sort = summarize(data, specs, 2, codes[data.rows], 5)
        monkeypatch.undo()
        for a, b in zip(by_group, by_sort):
            assert a.n == b.n and np.array_equal(a.confusion, b.confusion)
            assert all(np.array_equal(x, y) for x, y in zip(a.rank[0], b.rank[0]))
            assert estimate(a, specs, [0, 1], 0.95, 100, 1) == estimate(b, specs, [0, 1], 0.95, 100, 1)
    assert group_sizes(codes, 5).tolist() == np.bincount(codes[codes >= 0], minlength=5).tolist()
    assert group_sizes(np.zeros(0, np.int8), 2).tolist() == [0, 0]
