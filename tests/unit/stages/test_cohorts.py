"""Cohorts: definitions, degenerate cohorts, cohort-vs-rest tests with BH control, shared regressions, no false alerts."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from monitor.config import CohortConfig, ModelConfig, PerformanceConfig
from monitor.stages.cohorts import evaluate_cohorts
from monitor.stages.performance.stage import evaluate_performance

MODEL = ModelConfig(task="binary_classification", target="y", prediction="pred", score="score", id="id")
REGIONS = ["north", "south", "east", "west", "centre"]


def frame(n: int, seed: int, broken: str | None = None, label_share: float = 1.0, noise: float = 0.0) -> pd.DataFrame:
    """Calibrated scores; in region `broken` the labels are coin flips; `noise` blurs the score for everyone."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    region = rng.choice(REGIONS, n)
    score = 1 / (1 + np.exp(-2 * x))
    truth = 1 / (1 + np.exp(-2 * (x + noise * rng.normal(size=n))))
    truth = np.where(region == broken, 0.5, truth) if broken else truth
    y = (rng.random(n) < truth).astype(float)
    y[rng.random(n) >= label_share] = np.nan
    return pd.DataFrame(
        {"id": np.arange(n), "x": x, "value": rng.uniform(0, 60000, n), "region": region, "score": score, "pred": (score >= 0.5).astype(int), "y": y}
    )


def by_name(res) -> dict:
    return {c["cohort"]: c for c in res.to_dict()["cohorts"]}


COHORTS = [CohortConfig(column="region"), CohortConfig(column="value", bins=[0, 20000, 40000, 60000])]


def test_cohort_kinds_labels_and_values_equal_the_subset():
    df = frame(3000, 1)
    cohorts = [
        CohortConfig(column="region"),
        CohortConfig(column="value", bins=[0, 20000, 40000, float("inf")]),
        CohortConfig(name="confident", where="score > 0.9 or score < 0.1"),
    ]
    res = evaluate_cohorts(df, df, MODEL, ["roc_auc", "accuracy", "log_loss"], cohorts, PerformanceConfig(bootstrap=50))
    names = by_name(res)
    assert {"region=north", "region=centre", "value=[0, 20000)", "value=[40000, inf)", "confident"} <= set(names)
    assert names["value=[0, 20000)"]["rows"] == int(((df.value >= 0) & (df.value < 20000)).sum())
    north = names["region=north"]
    assert north["labelled"] == north["rows"] == int((df.region == "north").sum())
    assert north["label_coverage"] == 1.0
    m = north["metrics"]["accuracy"]
    assert m["value"] == m["baseline"] and m["delta"] == 0 and m["regressed"] is False
    assert m["ci_low"] <= m["value"] <= m["ci_high"]
    # one pass over all cohorts gives the same values as evaluating each cohort's rows on their own
    for name, sub in [("region=north", df[df.region == "north"]), ("confident", df[(df.score > 0.9) | (df.score < 0.1)])]:
        alone = evaluate_performance(sub, df, MODEL, ["roc_auc", "accuracy", "log_loss"], PerformanceConfig(), final=True).to_dict()["overall"]
        for k in ("roc_auc", "accuracy", "log_loss"):
            assert names[name]["metrics"][k]["value"] == pytest.approx(alone[k]["value"], abs=1e-12)
        rest = df[~df.index.isin(sub.index)]
        rest_alone = evaluate_performance(rest, df, MODEL, ["roc_auc"], PerformanceConfig(), final=True).to_dict()["overall"]
        assert names[name]["metrics"]["roc_auc"]["rest_value"] == pytest.approx(rest_alone["roc_auc"]["value"], abs=1e-12)
    assert res.to_dict()["errors"] == []


def test_degenerate_cohorts_give_clear_results_not_crashes():
    df = frame(2000, 2)
    df["empty"] = np.nan
    df.loc[df.region == "west", "y"] = np.nan  # no labels yet
    df.loc[df.region == "east", "y"] = 1.0  # a single class
    cohorts = [
        CohortConfig(column="region"),
        CohortConfig(column="empty"),
        CohortConfig(column="empty", bins=[0, 1]),
        CohortConfig(column="not_there"),
        CohortConfig(name="unknown_col", where="nope > 2"),  # outside the grammar (x >>> 2, x + 1) is refused at load
    ]
    res = evaluate_cohorts(df, frame(2000, 3), MODEL, ["roc_auc", "accuracy"], cohorts, PerformanceConfig(bootstrap=30))
    d = res.to_dict()
    json.dumps(d, allow_nan=False)
    names = by_name(res)
    west = names["region=west"]
    assert west["labelled"] == 0 and west["too_small"] and "no labelled rows" in west["note"]
    assert west["metrics"]["accuracy"]["value"] is None and west["metrics"]["accuracy"]["regressed"] is False
    east = names["region=east"]
    assert east["metrics"]["roc_auc"]["value"] is None and "one class" in east["metrics"]["roc_auc"]["note"]
    assert east["metrics"]["accuracy"]["value"] is not None
    errors = " | ".join(d["errors"])
    assert "'empty' is all null" in errors
    assert "'not_there' is not in the window" in errors
    assert "cohort 'unknown_col': invalid where expression" in errors and "'nope' not in the data" in errors
    assert {a.subject for a in res.alerts()} <= {"region=east"}


def test_one_cohort_regressing_more_is_alerted_and_the_bins_are_not():
    base = frame(20000, 4)
    cur = frame(10000, 5, broken="south", label_share=0.8)
    res = evaluate_cohorts(cur, base, MODEL, ["roc_auc", "accuracy", "log_loss"], COHORTS, PerformanceConfig())
    alerts = res.alerts()
    assert [a.subject for a in alerts] == ["region=south"]
    assert alerts[0].kind == "cohort" and alerts[0].severity == "critical" and "more than the rest" in alerts[0].message
    ranked = res.to_dict()["cohorts"]
    assert ranked[0]["cohort"] == "region=south"  # ranked first by impact
    assert all(ranked[i]["impact"] >= ranked[i + 1]["impact"] for i in range(len(ranked) - 1))
    m = ranked[0]["metrics"]["roc_auc"]
    assert m["regressed"] and m["p_value_adjusted"] >= m["p_value"]
    assert m["contrast"] == pytest.approx(m["delta"] - m["rest_delta"]) and m["contrast"] < -0.1
    # each value bin holds a fifth of the southern rows, and so does its rest: no bin stands out
    assert not any(x["regressed"] for c in ranked if c["cohort"].startswith("value=") for x in c["metrics"].values())
    assert res.standing_out() == {"roc_auc": ["region=south"], "accuracy": ["region=south"], "log_loss": ["region=south"]}


def test_a_regression_shared_by_all_cohorts_is_one_performance_alert():
    base = frame(20000, 40)
    cur = frame(10000, 41, noise=1.5)  # the whole model got worse, everywhere alike
    res = evaluate_cohorts(cur, base, MODEL, ["roc_auc", "accuracy"], COHORTS, PerformanceConfig())
    assert res.alerts() == []
    assert all(c["metrics"]["roc_auc"]["delta"] < -0.05 for c in res.to_dict()["cohorts"])  # every cohort dipped
    perf = evaluate_performance(cur, base, MODEL, ["roc_auc", "accuracy"], PerformanceConfig(), final=True)
    perf = perf.with_cohorts(res.standing_out(), evaluated=True)
    alerts = perf.alerts()
    assert "roc_auc" in {a.subject for a in alerts}
    assert all("shared by all cohorts" in a.message for a in alerts)
    assert perf.to_dict()["shared_by_all_cohorts"] == [a.subject for a in alerts]
    # with one cohort worse still, the overall alert no longer says "shared" for that metric
    worse = frame(10000, 41, noise=1.5, broken="south")
    res2 = evaluate_cohorts(worse, base, MODEL, ["roc_auc", "accuracy"], COHORTS, PerformanceConfig())
    assert {a.subject for a in res2.alerts()} == {"region=south"}
    p2 = evaluate_performance(worse, base, MODEL, ["roc_auc", "accuracy"], PerformanceConfig(), final=True).with_cohorts(res2.standing_out(), evaluated=True)
    assert "roc_auc" not in p2.to_dict()["shared_by_all_cohorts"]


def test_an_independent_second_drop_is_not_explained_away_but_an_overlap_is():
    base = frame(20000, 13)
    cur = frame(10000, 14, broken="south")
    rng = np.random.default_rng(0)
    hi = (cur.value >= 40000).to_numpy()
    flip = hi & (rng.random(len(cur)) < 0.35)
    cur.loc[flip, "y"] = 1 - cur.loc[flip, "y"]  # the top value bin breaks on its own
    cohorts = COHORTS + [CohortConfig(name="mostly_south", where="region == 'south' or (region == 'north' and x > 1.5)")]
    res = evaluate_cohorts(cur, base, MODEL, ["roc_auc", "accuracy"], cohorts, PerformanceConfig())
    subjects = {a.subject for a in res.alerts()}
    assert {"region=south", "value=[40000, 60000)"} <= subjects
    ms = by_name(res)["mostly_south"]
    assert "mostly_south" not in subjects and ms["explained_by"] == "region=south" and "overlap with region=south" in ms["note"]


def test_no_false_cohort_alerts_on_stable_data():
    """20 stable days x 8 cohorts x 3 metrics: BH at 5% allows an alert on at most a day or so."""
    base = frame(20000, 6)
    days_with_alerts = 0
    for day in range(20):
        cur = frame(5000, 100 + day, label_share=0.7)
        res = evaluate_cohorts(cur, base, MODEL, ["roc_auc", "accuracy", "log_loss"], COHORTS, PerformanceConfig(bootstrap=100, seed=day))
        days_with_alerts += bool(res.alerts())
    assert days_with_alerts <= 2


def test_too_small_cohorts_are_reported_not_alerted():
    base = frame(5000, 7)
    cur = frame(400, 8, broken="north")
    res = evaluate_cohorts(cur, base, MODEL, ["accuracy"], [CohortConfig(column="region")], PerformanceConfig(min_cohort_labelled=500))
    names = by_name(res)
    assert all(c["too_small"] for c in names.values())
    assert "too small" in names["region=north"]["note"]
    assert names["region=north"]["metrics"]["accuracy"]["p_value_adjusted"] is None
    assert not res.alerts()


def test_bh_adjusts_across_cohorts_and_metrics():
    base = frame(20000, 9)
    cur = frame(10000, 10, broken="east")
    res = evaluate_cohorts(cur, base, MODEL, ["roc_auc", "accuracy"], [CohortConfig(column="region")], PerformanceConfig())
    rows = [m for c in res.to_dict()["cohorts"] for m in c["metrics"].values()]
    ps = np.array([m["p_value_material"] for m in rows])  # the alert's test: a material contrast
    qs = np.array([m["p_value_adjusted"] for m in rows])
    assert np.all(qs >= ps - 1e-15)
    order = np.argsort(ps)
    assert np.all(np.diff(qs[order]) >= -1e-15)
    m = len(ps)
    assert qs.min() == pytest.approx(min(1.0, min(np.sort(ps) * m / np.arange(1, m + 1))))
    for c in res.to_dict()["cohorts"]:
        cps = [x["p_value_material"] for x in c["metrics"].values()]
        assert c["p_value"] == pytest.approx(min(1.0, len(cps) * min(cps)))
        assert c["p_value_adjusted"] >= c["p_value"] - 1e-15
        if any(x["regressed"] for x in c["metrics"].values()):
            assert c["p_value_adjusted"] <= 0.05
    assert {a.subject for a in res.alerts()} == {"region=east"}


def test_all_categorical_cohorts_and_where_on_baseline():
    df = frame(1500, 11)
    cfg = PerformanceConfig(all_categorical_cohorts=True, bootstrap=20)
    res = evaluate_cohorts(df, df.drop(columns=["x"]), MODEL, ["accuracy"], [CohortConfig(name="neg_x", where="x < 0")], cfg, categorical_features=["region"])
    names = by_name(res)
    assert "region=south" in names and "neg_x" in names
    assert names["neg_x"]["metrics"]["accuracy"]["baseline"] is None
    assert "no baseline" in names["neg_x"]["note"]
    assert any("fails on the baseline" in e for e in res.to_dict()["errors"])


def test_multiclass_and_regression_cohorts():
    rng = np.random.default_rng(12)
    n = 3000
    g = rng.choice(["a", "b"], n)
    y = rng.normal(size=n)
    df = pd.DataFrame({"g": g, "y": y, "pred": y + rng.normal(scale=np.where(g == "a", 0.1, 1.0))})
    model = ModelConfig(task="regression", target="y", prediction="pred")
    res = evaluate_cohorts(df, df, model, ["mae", "r2"], [CohortConfig(column="g")], PerformanceConfig(bootstrap=30))
    names = by_name(res)
    assert names["g=a"]["metrics"]["mae"]["value"] < names["g=b"]["metrics"]["mae"]["value"]
    mc = pd.DataFrame({"g": g, "y": rng.choice(["u", "v", "w"], n)})
    mc["pred"] = np.where(g == "a", mc["y"], "u")
    model = ModelConfig(task="multiclass_classification", target="y", prediction="pred")
    res = evaluate_cohorts(mc, mc, model, ["f1_macro"], [CohortConfig(column="g")], PerformanceConfig(bootstrap=30))
    assert by_name(res)["g=a"]["metrics"]["f1_macro"]["value"] == 1.0


@pytest.mark.slow
def test_demo_data_flags_the_injected_cohort_only(tmp_path):
    """The done-criterion on the demo store: salary_range=low from the incident day on, nothing before."""
    import datetime as dt

    from monitor.demo import DAYS, DRIFT_DAY, generate

    demo = generate(tmp_path, dt.date(2026, 1, 30))
    root = tmp_path / "data" / "car_loan"
    base = pd.read_parquet(root / "validation.parquet")
    model = ModelConfig(task="binary_classification", target="repaid", prediction="y_pred", score="y_pred_proba", id="id")
    cohorts = [
        CohortConfig(column="salary_range"),
        CohortConfig(column="region"),
        CohortConfig(column="car_value", bins=[0, 20000, 40000, float("inf")]),
        CohortConfig(name="new_drivers", where="driver_tenure < 1"),
    ]
    flagged = {}
    for n in range(1, DAYS):
        day = demo.day(n).isoformat()
        cur = pd.read_parquet(root / "predictions" / f"dt={day}" / "part-0.parquet")
        labels = tmp_path / "labels" / "car_loan" / f"dt={day}" / "labels.csv"
        cur = cur.merge(pd.read_csv(labels), on="id", how="left")
        res = evaluate_cohorts(cur, base, model, ["roc_auc", "accuracy", "f1", "brier"], cohorts, PerformanceConfig(bootstrap=100))
        flagged[n] = {a.subject for a in res.alerts()}
    assert all(not flagged[n] for n in range(1, DRIFT_DAY)), flagged
    assert all(flagged[n] == {"salary_range=low"} for n in range(DRIFT_DAY, DAYS)), flagged


def test_a_column_of_many_values_makes_the_top_values_and_one_other_cohort():
    df = frame(6000, 7)
    df["shop"] = np.where(df.index < 3000, "big_shop", [f"s{i}" for i in range(len(df))])  # 3001 distinct values, then 3002
    df.loc[:4, "shop"] = "Z" * 1_000_000  # a megabyte value, 5 rows
    res = evaluate_cohorts(df, df, MODEL, ["accuracy"], [CohortConfig(column="shop")],
                           PerformanceConfig(bootstrap=0, min_cohort_labelled=1, cohort_values=2))
    names = by_name(res)
    assert len(names) == 3  # 2 most frequent values + the rest, not 3002 cohorts
    assert names["shop=big_shop"]["rows"] == 2995
    (big,) = [n for n in names if n.startswith("shop=ZZZ")]
    assert len(big) <= 5 + 200 and "\u2026" in big and names[big]["rows"] == 5
    assert names["shop=(other 3,000 values)"]["rows"] == 3000
    assert sum(c["rows"] for c in names.values()) == len(df)


def test_a_column_of_few_values_keeps_one_cohort_per_value():
    df = frame(3000, 8)
    names = by_name(evaluate_cohorts(df, df, MODEL, ["accuracy"], [CohortConfig(column="region")],
                                     PerformanceConfig(bootstrap=0, cohort_values=5)))
    assert set(names) == {f"region={r}" for r in REGIONS}


def _two_cohorts(accuracy: dict[str, float], n: int, seed: int) -> pd.DataFrame:
    """Regions a and b, n rows each, right on exactly round(accuracy[region] * n) rows."""
    rng = np.random.default_rng(seed)
    parts = []
    for region, acc in accuracy.items():
        y = (rng.random(n) < 0.7).astype(float)
        right = np.zeros(n, dtype=bool)
        right[rng.permutation(n)[: round(acc * n)]] = True
        pred = np.where(right, y, 1 - y).astype(int)
        parts.append(pd.DataFrame({"region": region, "score": pred * 0.8 + 0.1, "pred": pred, "y": y}))
    df = pd.concat(parts, ignore_index=True)
    return df.assign(id=np.arange(len(df)))


def test_cohort_alert_needs_a_material_contrast():
    """Baseline: both regions at 0.80 (4,000 rows each); now 2,000 rows each (contrast SE ~0.0145)."""
    base = _two_cohorts({"a": 0.80, "b": 0.80}, 4000, 1)
    cfg = [CohortConfig(column="region")]

    def run(acc_a: float):
        res = evaluate_cohorts(_two_cohorts({"a": acc_a, "b": 0.80}, 2000, 2), base, MODEL, ["accuracy"], cfg, PerformanceConfig())
        return by_name(res)["region=a"]["metrics"]["accuracy"], res.alerts()

    # must not alert: a contrast of -0.035 is significant against "no difference" (p ~0.03) and
    # >= min_delta, but not clearly beyond min_delta (material p ~0.06)
    row, alerts = run(0.765)
    assert row["p_value"] < 0.05 and -row["contrast"] >= row["min_delta"]
    assert row["p_value_material"] > 0.05 and not row["regressed"] and not alerts
    # must alert, critical: region a fell 0.10 more than region b
    row, alerts = run(0.70)
    assert row["regressed"] and row["severity"] == "critical"
    assert [(a.subject, a.severity) for a in alerts] == [("region=a", "critical")]


def test_a_cohort_mape_dominated_by_near_zero_targets_is_never_alerted():
    rng = np.random.default_rng(5)

    def day(n: int, seed: int) -> pd.DataFrame:
        r = np.random.default_rng(seed)
        y = r.normal(0.0, 20.0, n)
        return pd.DataFrame({"region": r.choice(REGIONS, n), "y": y, "pred": y + r.normal(0, 5.0, n)})

    model = ModelConfig(task="regression", target="y", prediction="pred")
    base = day(6000, int(rng.integers(1000)))
    for seed in range(5):
        res = evaluate_cohorts(day(3000, 50 + seed), base, model, ["mape", "mae"], [CohortConfig(column="region")],
                               PerformanceConfig())
        for c in res.cohorts:
            assert c["metrics"]["mape"].get("untestable") and c["metrics"]["mape"]["p_value_material"] is None
        assert not res.alerts()


def test_baseline_rows_of_a_categorical_cohort_column_are_matched_by_value():
    """The baseline's rows get the cohort of their value, also when the column is categorical with its
    categories in another order than its values first appear (they were matched by category position)."""
    from monitor.stages.cohort_partitions import cohort_partitions

    df = frame(3000, 9)
    df.loc[:9, "region"] = None
    categorical = df.assign(region=pd.Categorical(df["region"], categories=sorted(REGIONS, reverse=True)))
    for cur in (df, categorical):
        base = cur.iloc[::-1].reset_index(drop=True)  # the same rows in another order
        (part,), errors = cohort_partitions(cur, base, [CohortConfig(column="region")])
        assert not errors and set(part.names) == {f"region={r}" for r in REGIONS}
        for code, name in enumerate(part.names):
            assert set(base["region"][part.baseline == code].astype(str)) == {name.removeprefix("region=")}
        assert (part.baseline == -1).sum() == 10 and base["region"][part.baseline == -1].isna().all()
        assert np.array_equal(part.baseline, part.current[::-1])


def test_the_cohort_stage_takes_the_prepared_rows_and_releases_them():
    base, cur = frame(4000, 11), frame(3000, 12, broken="south")
    cfg = PerformanceConfig(bootstrap=50)
    perf = evaluate_performance(cur, base, MODEL, ["roc_auc", "accuracy"], cfg, final=True)
    handed = perf.prepared
    assert handed is not None
    with_rows = evaluate_cohorts(cur, base, MODEL, ["roc_auc", "accuracy"], COHORTS, cfg, prepared=handed)
    assert handed.take() is None  # taken by the cohort stage: nothing holds the rows after it
    without = evaluate_cohorts(cur, base, MODEL, ["roc_auc", "accuracy"], COHORTS, cfg)
    assert json.dumps(with_rows.to_dict(), sort_keys=True) == json.dumps(without.to_dict(), sort_keys=True)
    untouched = evaluate_performance(cur, base, MODEL, ["roc_auc"], cfg, final=True).prepared
    assert untouched is not None and untouched.take() is not None  # not taken until a cohort stage runs
