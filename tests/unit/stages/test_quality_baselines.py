"""Quality checks compare with what is normal for this model (the reference, the monitor's own
history): each check has a case that must alert and one that must not."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

from monitor.config import ModelConfig, QualityConfig
from monitor.stages.quality import check_quality, reference_weekday_factors

SAT = dt.date(2026, 3, 7)  # a Saturday
MODEL = ModelConfig(
    task="binary_classification", target="repaid", prediction="y_pred", score="y_pred_proba", id="id", timestamp="ts"
)
FEATURES = {"income": "numerical", "region": "categorical"}


def frame(n: int, seed: int = 0, day: dt.date = SAT, overrides: float = 0.0, ids: str = "r") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    score = rng.uniform(0, 1, n)
    pred = (score >= 0.5).astype(int)
    flip = rng.uniform(size=n) < overrides
    pred[flip] = 1 - pred[flip]
    return pd.DataFrame(
        {
            "id": [f"{ids}{seed}_{i}" for i in range(n)],
            "ts": pd.Timestamp(day) + pd.to_timedelta(rng.integers(0, 86_400, n), unit="s"),
            "income": rng.normal(50_000, 10_000, n).round(2),
            "region": rng.choice(["north", "south", "east", "west"], n),
            "y_pred_proba": score,
            "y_pred": pred,
            "repaid": rng.integers(0, 2, n),
        }
    )


def check(current: pd.DataFrame, reference: pd.DataFrame, day: dt.date = SAT, **kw):
    args: dict[str, Any] = dict(
        model=MODEL, features=FEATURES, config=QualityConfig(), window_start=day, window_end=day,
        partitions=[{"date": day.isoformat(), "uri": "x", "found": True, "rows": len(current), "error": None}],
        history=[], labels=None, reference_daily_rows=None,
    )
    args.update(kw)
    return check_quality(current, reference, **args)


def names(result) -> set[str]:
    return {f.check for f in result.findings}


# ----------------------------------------------------------------------------- prediction vs score


def test_mismatch_at_the_references_own_rate_is_quiet():
    ref = frame(20_000, seed=1, overrides=0.018)  # manual overrides: normal for this model
    result = check(frame(2000, seed=2, overrides=0.017), ref)
    assert "prediction_score_mismatch" not in names(result)
    assert abs(result.predictions["mismatch_share_reference"] - 0.018) < 0.004


def test_mismatch_well_above_the_references_rate_alerts():
    ref = frame(20_000, seed=1, overrides=0.018)
    cur = frame(2000, seed=2, overrides=0.017)
    cur["y_pred"] = (cur["y_pred_proba"] >= 0.6).astype(int)  # the threshold moved
    f = [f for f in check(cur, ref).findings if f.check == "prediction_score_mismatch"]
    assert len(f) == 1 and "in the reference" in f[0].message and "1.9%" in f[0].message


def test_mismatch_without_reference_scores_keeps_the_fixed_share():
    ref = frame(2000, seed=1).drop(columns=["y_pred", "y_pred_proba"])
    cur = frame(2000, seed=2, overrides=0.03)
    assert "prediction_score_mismatch" in names(check(cur, ref))
    assert "prediction_score_mismatch" not in names(check(frame(2000, seed=2, overrides=0.003), ref))


# ----------------------------------------------------------------------------- invalid scores


def test_nan_scores_at_the_references_rate_are_quiet_above_it_alert():
    ref = frame(10_000, seed=1)
    ref.loc[ref.sample(frac=0.03, random_state=0).index, "y_pred_proba"] = np.nan  # the model abstains sometimes
    cur = frame(2000, seed=2)
    cur.loc[cur.sample(frac=0.03, random_state=1).index, "y_pred_proba"] = np.nan
    assert "score_invalid" not in names(check(cur, ref))
    cur.loc[cur.sample(frac=0.15, random_state=2).index, "y_pred_proba"] = np.nan
    f = [f for f in check(cur, ref).findings if f.check == "score_invalid"]
    assert len(f) == 1 and "in the reference" in f[0].message


def test_a_single_nan_score_alerts_when_the_reference_never_has_one():
    cur = frame(2000, seed=2)
    cur.loc[7, "y_pred_proba"] = np.nan
    assert "score_invalid" in names(check(cur, frame(5000, seed=1)))
    assert "score_invalid" not in names(check(frame(2000, seed=2), frame(5000, seed=1)))


# ----------------------------------------------------------------------------- null rates


def test_null_rate_needs_more_than_sampling_noise_at_small_n():
    ref = frame(4000, seed=1)
    ref.loc[ref.sample(frac=0.10, random_state=0).index, "income"] = np.nan
    small = frame(30, seed=2)
    small.loc[small.index[:6], "income"] = np.nan  # 20% of 30 rows: within noise of 10%
    assert "null_rate" not in names(check(small, ref))
    big = frame(3000, seed=2)
    big.loc[big.sample(frac=0.20, random_state=1).index, "income"] = np.nan
    f = [f for f in check(big, ref).findings if f.check == "null_rate"]
    assert len(f) == 1 and "10% in training" in f[0].message


# ----------------------------------------------------------------------------- categories


def test_unseen_categories_of_a_high_cardinality_column_are_normal():
    rng = np.random.default_rng(0)
    ref = frame(4000, seed=1).assign(region=[f"zip{v}" for v in rng.integers(0, 20_000, 4000)])
    cur = frame(1000, seed=2).assign(region=[f"zip{v}" for v in rng.integers(0, 20_000, 1000)])
    result = check(cur, ref)
    assert result.columns["region"]["unseen_share"] > 0.5  # most zip codes today were never seen...
    assert "unseen_categories" not in names(result)  # ...as the reference's singletons predict
    few = frame(1000, seed=2)
    few.loc[few.index[:150], "region"] = "central"
    assert "unseen_categories" in names(check(few, frame(4000, seed=1)))


# ----------------------------------------------------------------------------- duplicate ids


def test_duplicate_ids_against_a_reference_whose_ids_repeat():
    ref = frame(4000, seed=1)
    ref.loc[ref.index[1::10], "id"] = ref["id"].iloc[0::10].to_numpy()[: len(ref.index[1::10])]  # ~20% rows share an id
    cur = frame(2000, seed=2)
    cur.loc[cur.index[1::10], "id"] = cur["id"].iloc[0::10].to_numpy()[: len(cur.index[1::10])]
    assert "duplicate_ids" not in names(check(cur, ref))
    doubled = pd.concat([cur, cur], ignore_index=True)  # the batch written twice
    assert "duplicate_ids" in names(check(doubled, ref))


def test_any_duplicate_id_alerts_when_ids_are_unique_in_the_reference():
    cur = frame(2000, seed=2)
    cur.loc[1, "id"] = cur.loc[0, "id"]
    assert "duplicate_ids" in names(check(cur, frame(4000, seed=1)))
    assert "duplicate_ids" not in names(check(frame(2000, seed=2), frame(4000, seed=1)))


# ----------------------------------------------------------------------------- timestamps


def _late(n: int, share: float, seed: int = 2) -> pd.DataFrame:
    cur = frame(n, seed=seed)
    k = int(n * share)
    cur.loc[cur.index[:k], "ts"] = pd.Timestamp(SAT) - pd.Timedelta(minutes=5)  # late events from before midnight
    return cur


def test_timestamps_outside_the_window_compare_with_the_usual_share():
    past = [{"date": "x", "status": "ok", "rows": {"current": 2000}, "quality": {"timestamps": {"outside_share": 0.04}}}] * 5
    ref = frame(2000, seed=1)
    assert "timestamp_window" not in names(check(_late(2000, 0.045), ref, history=past))
    assert "timestamp_window" in names(check(_late(2000, 0.045), ref))  # no history: the fixed 1%
    f = [f for f in check(_late(2000, 0.20), ref, history=past).findings if f.check == "timestamp_window"]
    assert len(f) == 1 and "usually 4%" in f[0].message


# ----------------------------------------------------------------------------- volume


WEEK = [1.0, 1.0, 1.0, 1.0, 1.05, 0.55, 0.5]


def _history(days: int, end: dt.date, rows: int = 2000) -> list[dict]:
    out = []
    for k in range(days, 0, -1):
        d = end - dt.timedelta(days=k)
        out.append({"date": d.isoformat(), "status": "ok", "rows": {"current": int(rows * WEEK[d.weekday()]) + k % 7}})
    return out


def test_volume_follows_the_weekly_cycle_of_the_history():
    past = _history(21, SAT)
    ref = frame(200, seed=1)
    sat = check(frame(1100, seed=2), ref, history=past)
    assert "volume" not in names(sat) and sat.volume["basis"] == "same weekday in the history"
    assert "volume" in names(check(frame(400, seed=2), ref, history=past))  # a Saturday at a fifth of the usual
    monday = SAT + dt.timedelta(days=2)
    assert "volume" in names(check(frame(1100, seed=2, day=monday), ref, day=monday, history=_history(21, monday)))


def test_volume_uses_the_references_weekly_cycle_before_the_history_has_one():
    # Training traffic over two weeks, with quiet weekends; the history so far is Mon-Fri only.
    start = dt.date(2026, 1, 5)  # a Monday
    stamps = []
    for k in range(14):
        d = start + dt.timedelta(days=k)
        stamps += [pd.Timestamp(d) + pd.Timedelta(hours=12)] * int(300 * WEEK[d.weekday()])
    ref = frame(len(stamps), seed=1).assign(ts=stamps)
    factors = reference_weekday_factors(ref, "ts")
    assert factors is not None and factors[5] < 0.7 < factors[0]
    past = _history(5, SAT)  # Mon..Fri
    assert "volume" not in names(check(frame(1100, seed=2), ref, history=past))
    flat = ref.assign(ts=pd.Timestamp(start))  # a reference without a cycle: a Saturday at 55% is news
    assert "volume" in names(check(frame(1100, seed=2), flat, history=past))


# ----------------------------------------------------------------------------- labels


def test_orphan_labels_only_when_labels_are_partitioned_like_the_predictions():
    cur = frame(200, seed=2)
    other_days = pd.DataFrame({"id": [f"old{i}" for i in range(300)], "repaid": 1})
    labels = pd.concat([cur[["id", "repaid"]].iloc[:100], other_days], ignore_index=True)
    assert "orphan_labels" not in names(check(cur, frame(400, seed=1), labels=labels, labels_partitioned=False))
    assert "orphan_labels" in names(check(cur, frame(400, seed=1), labels=labels, labels_partitioned=True))


def test_labels_due_alerts_naming_the_day_and_the_location():
    due = {"date": "2026-03-04", "uri": "s3://labels/dt=2026-03-04/", "delay_days": 3, "rows": 1800, "labelled": 0}
    result = check(frame(200, seed=2), frame(400, seed=1), labels_due=due)
    f = [f for f in result.findings if f.check == "labels_due"]
    assert len(f) == 1 and f[0].subject == "2026-03-04" and f[0].severity == "critical"
    assert "2026-03-04" in f[0].message and "s3://labels/dt=2026-03-04/" in f[0].message and "0%" in f[0].message
    assert result.to_dict()["labels"]["due"]["coverage"] == 0


def test_labels_due_quiet_when_most_rows_are_labelled_or_switched_off():
    due = {"date": "2026-03-04", "uri": "x", "delay_days": 3, "rows": 1800, "labelled": 1500}
    assert "labels_due" not in names(check(frame(200, seed=2), frame(400, seed=1), labels_due=due))
    broken = {**due, "labelled": 100}
    off = QualityConfig(checks={"labels_due": False})
    assert "labels_due" not in names(check(frame(200, seed=2), frame(400, seed=1), labels_due=broken, config=off))
    assert "labels_due" in names(check(frame(200, seed=2), frame(400, seed=1), labels_due=broken))


# ----------------------------------------------------------------------------- the registry


def test_registry_matches_the_config_switches():
    from monitor.config import QUALITY_CHECK_GROUPS
    from monitor.stages.quality.registry import CHECKS

    assert {c.name for c in CHECKS} == {n for members in QUALITY_CHECK_GROUPS.values() for n in members}
    for c in CHECKS:
        assert c.name in QUALITY_CHECK_GROUPS[c.group], c
        for field in c.thresholds:
            assert field in QualityConfig.model_fields, (c.name, field)


def test_a_switched_off_check_never_runs():
    from monitor.stages.quality.context import Context
    from monitor.stages.quality.registry import Check, run_checks

    calls: list[str] = []

    def probe(name):
        def run(ctx):
            calls.append(name)
            return {"seen": name}, []
        return run

    checks = (Check("null_rate", "values", "x", (), probe("null_rate")), Check("positive_rate", "predictions", "x", (), probe("positive_rate")))
    cfg = QualityConfig(checks={"values": False})
    ctx = Context(frame(10), frame(10), MODEL, FEATURES, cfg, SAT, SAT, [], [])
    sections: dict = {}
    assert run_checks(ctx, sections, checks) == [] and calls == ["positive_rate"] and sections == {"x": {"seen": "positive_rate"}}


def test_a_check_that_fails_becomes_a_finding_and_the_others_run():
    from monitor.stages.quality.context import Context
    from monitor.stages.quality.registry import Check, run_checks

    def boom(ctx):
        raise ValueError("odd data")

    checks = (Check("out_of_range", "values", "columns", (), boom), Check("arrival", "arrival", "arrival", (), lambda ctx: ({"ok": 1}, [])))
    ctx = Context(frame(10), frame(10), MODEL, FEATURES, QualityConfig(), SAT, SAT, [], [])
    sections: dict = {}
    found = run_checks(ctx, sections, checks)
    assert [f.check for f in found] == ["out_of_range"] and "odd data" in found[0].message and sections == {"arrival": {"ok": 1}}


def test_a_noisy_one_week_reference_cycle_still_explains_the_first_weekend():
    # One week of training traffic: each weekday's factor is off by a few percent, while the
    # first Mon-Fri of history agree to within 0.5%: the cycle must still be used.
    start = dt.date(2026, 1, 5)
    stamps = []
    for k, noise in enumerate([1.03, 0.97, 1.02, 0.98, 1.04, 1.0, 1.0]):
        d = start + dt.timedelta(days=k)
        stamps += [pd.Timestamp(d) + pd.Timedelta(hours=12)] * int(2000 * WEEK[d.weekday()] * noise)
    ref = frame(len(stamps), seed=1).assign(ts=stamps)
    past = _history(5, SAT)
    result = check(frame(1100, seed=2), ref, history=past)
    assert "volume" not in names(result) and result.volume["basis"] == "weekday cycle of the reference"
    assert "volume" in names(check(frame(300, seed=2), ref, history=past))


def test_mismatch_counted_in_blocks_equals_one_pass(monkeypatch):
    """Blocks of rows (a few MB of temporaries at 50M rows) give the counts of one whole-column pass,
    across block edges, with missing scores and predictions and ties at the threshold."""
    from monitor.stages.quality import predictions

    rng = np.random.default_rng(7)
    n = 10_007
    score = pd.Series(np.where(rng.uniform(size=n) < 0.05, np.nan, rng.uniform(0, 1, n)))
    score[::97] = 0.5  # ties at the threshold are not counted
    pred = pd.Series((rng.uniform(size=n) < 0.5).astype(float))
    pred[::89] = np.nan
    s = score.to_numpy()
    ok = np.isfinite(s) & pred.notna().to_numpy()
    expected_bad = int((ok & ((s >= 0.5) != (pred == 1).to_numpy()) & (np.abs(s - 0.5) > 1e-9)).sum())
    model = MODEL.model_copy(update={"positive_label": 1})
    monkeypatch.setattr(predictions, "MISMATCH_BLOCK", 1000)
    assert predictions._mismatches(score, pred, model) == (expected_bad, int(ok.sum()))
    assert expected_bad > 1000  # many blocks each hold some: a block dropped or counted twice changes the figure
