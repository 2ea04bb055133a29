"""Data-quality checks on tiny inline frames: every check, every data-level bad input."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

from monitor.alerts import Alert
from monitor.config import ModelConfig, QualityConfig, parse_config
from monitor.errors import ConfigError, DataError
from monitor.stages.quality import QualityResult, check_quality, coerce_types

DAY = dt.date(2024, 5, 1)
MODEL = ModelConfig(
    task="binary_classification", target="repaid", prediction="y_pred", score="y_pred_proba", id="id", timestamp="ts"
)
FEATURES = {"income": "numerical", "age": "numerical", "region": "categorical"}


def make_frame(n: int, seed: int = 0, day: dt.date = DAY) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    score = rng.uniform(0, 1, n)
    return pd.DataFrame(
        {
            "id": [f"r{seed}_{i}" for i in range(n)],
            "ts": pd.Timestamp(day) + pd.to_timedelta(rng.integers(0, 86_400, n), unit="s"),
            "income": rng.normal(50_000, 10_000, n).round(2),
            "age": rng.integers(18, 80, n),
            "region": rng.choice(["north", "south", "east", "west"], n),
            "y_pred_proba": score,
            "y_pred": (score >= 0.5).astype(int),
            "repaid": rng.integers(0, 2, n),
        }
    )


REFERENCE = make_frame(400, seed=1).drop(columns=["id", "ts", "y_pred", "y_pred_proba"])


def partitions(found: bool = True, rows: int | None = 200, error: str | None = None, date: str = "2024-05-01") -> list[dict]:
    return [{"date": date, "uri": f"s3://b/preds/dt={date}/", "found": found, "rows": rows, "error": error}]


def run(current: pd.DataFrame, reference: pd.DataFrame = REFERENCE, **kw) -> QualityResult:
    args: dict[str, Any] = dict(
        model=MODEL,
        features=FEATURES,
        config=QualityConfig(),
        window_start=DAY,
        window_end=DAY,
        partitions=partitions(rows=len(current)),
        history=[],
        labels=None,
        reference_daily_rows=None,
    )
    args.update(kw)
    result = check_quality(current, reference, **args)
    # Every result must serialise as strict JSON, whatever went wrong.
    json.dumps(result.to_dict(), allow_nan=False)
    for a in result.alerts():
        assert isinstance(a, Alert) and "\n" not in a.message
    return result


def findings(result: QualityResult, check: str) -> list:
    return [f for f in result.findings if f.check == check]


def one(result: QualityResult, check: str, subject: str | None = None):
    got = [f for f in findings(result, check) if subject is None or f.subject == subject]
    assert len(got) == 1, [f.message for f in result.findings]
    return got[0]


# ----------------------------------------------------------------------------- clean data


def test_clean_window_has_no_findings_and_keeps_every_feature():
    result = run(make_frame(200))
    assert result.findings == ()
    assert result.usable_columns == ["income", "age", "region"]
    d = result.to_dict()
    assert set(d) >= {"findings", "columns", "schema", "volume", "arrival", "predictions", "labels"}
    assert set(d["columns"]["income"]) >= {
        "null_rate", "null_rate_reference", "out_of_range_share", "unseen_share", "unseen_examples", "dtype", "dtype_reference"
    }
    assert d["schema"] == {"missing": [], "added": [], "renamed": [], "type_changed": []}
    assert d["predictions"]["mismatch_share"] == 0.0
    assert d["labels"]["coverage"] == 1.0


# ----------------------------------------------------------------------------- arrival and volume


def test_missing_partition_is_a_critical_no_data_alert_naming_the_date():
    result = run(make_frame(0), partitions=partitions(found=False, rows=None))
    f = one(result, "arrival")
    assert f.severity == "critical" and "2024-05-01" in f.message and "missing" in f.message
    assert "s3://b/preds/dt=2024-05-01/" in f.message
    (alert,) = result.alerts()
    assert alert.kind == "no_data" and alert.severity == "critical"
    assert result.to_dict()["arrival"]["missing"] == ["2024-05-01"]


def test_empty_partition_is_named():
    result = run(make_frame(0), partitions=partitions(rows=0))
    f = one(result, "arrival", "partition_empty")
    assert "2024-05-01" in f.message and "empty" in f.message and f.kind == "no_data"


def test_unparseable_partition_carries_the_read_error():
    parts = partitions(date="2024-04-30", rows=None, error="truncated parquet file: expected 4096 bytes, got 17")
    parts += partitions(date="2024-05-01", rows=200)
    result = run(make_frame(200), partitions=parts, window_start=DAY - dt.timedelta(days=1))
    f = one(result, "arrival", "partition_unreadable")
    assert "2024-04-30" in f.message and "truncated parquet file" in f.message
    assert f.severity == "critical"
    assert result.to_dict()["arrival"]["unreadable"][0]["date"] == "2024-04-30"
    assert result.to_dict()["arrival"]["found"] == 1


def test_empty_current_frame_without_partitions_still_alerts():
    result = run(pd.DataFrame(), partitions=[])
    f = one(result, "arrival", "no_rows")
    assert "No rows" in f.message
    assert findings(result, "missing_columns") == []  # no column-by-column noise on top
    assert result.usable_columns == []


def history(rows: list[int]) -> list[dict]:
    return [{"rows": {"current": r}, "status": "ok"} for r in rows]


def test_volume_drop_against_history_uses_median_and_names_the_figures():
    past = history([1000, 1010, 990, 1005, 995]) + [{"rows": {"current": 0}, "status": "no_data"}]
    result = run(make_frame(400), history=past)
    f = one(result, "volume")
    assert f.kind == "volume" and f.severity == "critical"
    assert "400" in f.message and "60% below" in f.message and "1,000" in f.message and "last 5 runs" in f.message
    assert result.volume["method"] == "history" and result.volume["history_runs"] == 5


def test_volume_within_the_usual_range_is_quiet():
    result = run(make_frame(200), history=history([190, 210, 205, 195, 200]))
    assert findings(result, "volume") == []


def test_volume_before_history_uses_reference_daily_rate():
    result = run(make_frame(200), history=history([5000]), reference_daily_rows=1000)
    f = one(result, "volume")
    assert "80% below" in f.message and "reference" in f.message and f.severity == "warning"
    assert run(make_frame(200), reference_daily_rows=210).findings == ()


# ----------------------------------------------------------------------------- schema


def test_missing_feature_and_added_column():
    cur = make_frame(200).drop(columns=["age"]).assign(extra=1.0, _source="a")
    result = run(cur)
    f = one(result, "missing_columns")
    assert f.subject == "age" and f.severity == "critical" and "`age`" in f.message and "missing" in f.message
    a = one(result, "added_columns")
    assert "`extra`" in a.message and "_source" not in a.message
    assert result.usable_columns == ["income", "region"]
    assert result.schema["missing"] == ["age"] and result.schema["added"] == ["extra"]


def test_renamed_column_by_name_and_values():
    cur = make_frame(200).rename(columns={"income": "annual_income"})
    result = run(cur)
    f = one(result, "renamed_columns")
    assert f.subject == "income" and "`annual_income`" in f.message and "renamed" in f.message
    assert result.schema["renamed"] == [["income", "annual_income"]]
    assert findings(result, "missing_columns") == [] and findings(result, "added_columns") == []
    assert "income" not in result.usable_columns


def test_renamed_column_by_values_alone():
    cur = make_frame(200).rename(columns={"income": "feat_q7"})
    assert run(cur).schema["renamed"] == [["income", "feat_q7"]]


def test_unrelated_added_column_is_not_called_a_rename():
    cur = make_frame(200).drop(columns=["income"]).assign(color=["red"] * 200)
    result = run(cur)
    assert result.schema["renamed"] == [] and result.schema["missing"] == ["income"]


def test_int_column_arriving_as_strings_is_flagged_and_still_checked_as_numbers():
    cur = make_frame(200)
    cur["age"] = cur["age"].astype(str)
    result = run(cur)
    f = one(result, "type_changed")
    assert f.subject == "age" and "strings" in f.message and "integers" in f.message and "100%" in f.message
    assert f.severity == "warning"
    assert "age" in result.usable_columns and result.coercions == {"age": "numeric"}
    fixed = coerce_types(cur, result)
    assert pd.api.types.is_numeric_dtype(fixed["age"]) and fixed["age"].tolist() == make_frame(200)["age"].tolist()


def test_unparseable_strings_leave_the_column_out():
    cur = make_frame(200)
    cur["age"] = np.where(np.arange(200) % 2 == 0, "n/a", cur["age"].astype(str))
    result = run(cur)
    f = one(result, "type_changed")
    assert f.severity == "critical" and "only 50%" in f.message and "left out" in f.message
    assert "age" not in result.usable_columns


def test_int_read_as_float_with_nulls_is_not_a_type_change():
    cur = make_frame(200)
    cur["age"] = cur["age"].astype(float)
    cur.loc[:3, "age"] = np.nan
    assert findings(run(cur), "type_changed") == []


# ----------------------------------------------------------------------------- values


def test_column_of_all_nulls_is_critical_and_dropped():
    cur = make_frame(200)
    cur["income"] = np.nan
    result = run(cur)
    f = one(result, "null_rate")
    assert f.severity == "critical" and f.subject == "income"
    assert "all 200 rows are null" in f.message and "0% in training" in f.message
    assert "income" not in result.usable_columns
    assert findings(result, "type_changed") == []


def test_null_rate_message_reads_like_a_person_wrote_it():
    ref = REFERENCE.copy()
    ref.loc[:1, "income"] = np.nan  # 2 of 400: 0.5%
    cur = make_frame(200)
    cur.loc[: 75, "income"] = np.nan  # 76 of 200: 38%
    f = one(run(cur, ref), "null_rate")
    assert f.message == "`income`: 38% nulls today vs 0.5% in training"
    assert f.severity == "warning"
    cur.loc[:159, "income"] = np.nan  # 80%: critical
    assert one(run(cur, ref), "null_rate").severity == "critical"


def test_small_null_increase_within_tolerance_is_quiet():
    cur = make_frame(200)
    cur.loc[:5, "income"] = np.nan  # 3%
    assert findings(run(cur), "null_rate") == []


def test_values_outside_the_reference_range():
    cur = make_frame(200)
    cur["income"] = cur["income"] * 100  # a unit change
    f = one(run(cur), "out_of_range")
    assert f.severity == "critical" and "outside the training range" in f.message and "max today" in f.message
    cur = make_frame(200)
    cur.loc[:19, "age"] = 150  # 10%
    f = one(run(cur), "out_of_range")
    assert f.subject == "age" and "10%" in f.message and f.severity == "warning" and "max today 150" in f.message


def test_unseen_categories_with_examples():
    cur = make_frame(200)
    cur.loc[:29, "region"] = "mars"
    cur.loc[30:39, "region"] = "venus"
    result = run(cur)
    f = one(result, "unseen_categories")
    assert "20%" in f.message and "'mars'" in f.message and "'venus'" in f.message
    assert result.columns["region"]["unseen_examples"] == ["mars", "venus"]
    assert result.columns["region"]["unseen_share"] == pytest.approx(0.2)


def test_nulls_are_left_out_of_the_range_and_unseen_shares():
    cur = make_frame(200)
    cur.loc[:49, "income"] = np.nan  # 50 nulls, then 15 of the 150 values far out and one below
    cur.loc[50:64, "income"] = 1e9
    cur.loc[65, "income"] = -np.inf
    cur["region"] = cur["region"].astype(object)
    cur.loc[:99, "region"] = None  # 100 nulls, then 25 of the 100 values unseen
    cur.loc[100:124, "region"] = "mars"
    result = run(cur)
    v, r = cur["income"].dropna(), REFERENCE["income"]
    assert result.columns["income"]["out_of_range_share"] == float(((v < r.min()) | (v > r.max())).mean()) >= 16 / 150
    f = one(result, "out_of_range", "income")
    assert "(min today -inf, max today 1,000,000,000)" in f.message
    assert result.columns["region"]["unseen_share"] == 25 / 100
    assert "25%" in one(result, "unseen_categories").message and result.columns["region"]["unseen_examples"] == ["mars"]
    clean = make_frame(200)
    clean.loc[:49, "income"] = np.nan
    v = clean["income"].dropna()
    assert run(clean).columns["income"]["out_of_range_share"] == float(((v < r.min()) | (v > r.max())).mean()) < 0.05
    assert findings(run(clean), "out_of_range") == []


def test_duplicate_ids():
    cur = make_frame(200)
    cur.loc[1, "id"] = cur.loc[0, "id"]
    f = one(run(cur), "duplicate_ids")
    assert "2 rows" in f.message and "share 1 duplicated id," in f.message and "'r0_0'" in f.message


def test_integer_ids_duplicates_counted_by_sorting_equal_pandas():
    from monitor.stages.quality.common import _repeats

    rng = np.random.default_rng(5)
    increasing = np.arange(1000) * 3
    for values in (rng.permutation(1000), rng.integers(0, 300, 1000), np.array([], dtype=np.int64),
                   np.array([7, 7, 7], dtype=np.uint32), increasing, np.append(increasing, 2997),  # sorted, one repeat
                   np.array([5], dtype=np.int64), increasing[::-1], np.array([1, 2, 2, 3], dtype=np.uint8)):
        s = pd.Series(values)
        assert _repeats(s) == int(s.duplicated().sum())
    assert _repeats(pd.Series(["a", "b", "a", None]).dropna()) == 1  # other types: pandas
    cur = make_frame(200).assign(id=np.arange(10_000, 10_200, dtype=np.int64))
    assert run(cur).ids["duplicate_rows"] == 0 and findings(run(cur), "duplicate_ids") == []
    cur.loc[[5, 9, 17], "id"] = 10_000
    info = run(cur).ids
    assert (info["duplicate_rows"], info["duplicate_ids"], info["duplicate_examples"]) == (4, 1, [10_000])
    assert "4 rows" in one(run(cur), "duplicate_ids").message


def test_timestamps_outside_the_window():
    cur = make_frame(200)
    cur.loc[:9, "ts"] = pd.Timestamp("2024-04-28 12:00")
    f = one(run(cur), "timestamp_window")
    assert "5%" in f.message and "2024-05-01" in f.message and "before" in f.message and "2024-04-28" in f.message


def test_timestamps_as_strings_with_timezone_are_understood():
    cur = make_frame(200)
    cur["ts"] = cur["ts"].dt.tz_localize("UTC").dt.tz_convert("Europe/Paris").astype(str)
    assert findings(run(cur), "timestamp_window") == []


# ----------------------------------------------------------------------------- model output


def test_scores_of_1_7_and_nan():
    cur = make_frame(200)
    cur.loc[0, "y_pred_proba"] = 1.7
    cur.loc[1, "y_pred_proba"] = np.nan
    cur.loc[2, "y_pred_proba"] = np.inf
    result = run(cur)
    r = one(result, "score_range")
    assert r.severity == "critical" and "1.7" in r.message and "outside [0, 1]" in r.message
    s = one(result, "score_invalid")
    assert "1 NaN" in s.message and "1 infinite" in s.message and s.severity == "warning"
    assert result.predictions["score_nan"] == 1 and result.predictions["score_max"] == 1.7


def test_constant_score_and_prediction():
    cur = make_frame(200).assign(y_pred_proba=0.73, y_pred=1)
    result = run(cur)
    assert "every score is 0.73" in one(result, "constant_prediction", "y_pred_proba").message
    assert "every prediction is 1" in one(result, "constant_prediction", "y_pred").message


def test_constant_rare_class_prediction_is_plausible_and_not_flagged():
    ref = REFERENCE.assign(y_pred=np.r_[np.ones(4), np.zeros(396)].astype(int))  # 1% positives
    cur = make_frame(50).assign(y_pred=0, y_pred_proba=np.linspace(0, 0.4, 50))
    assert findings(run(cur, ref), "constant_prediction") == []


def test_positive_rate_moved_far_from_reference():
    cur = make_frame(400)
    cur["y_pred_proba"] = np.random.default_rng(3).uniform(0.45, 1, 400)
    cur["y_pred"] = (cur["y_pred_proba"] >= 0.5).astype(int)
    result = run(cur)
    f = one(result, "positive_rate")
    assert "predicted positive today" in f.message and "label rate in training" in f.message
    assert result.predictions["positive_rate_reference_source"] == "label rate in training"


def test_predictions_inconsistent_with_scores_at_threshold():
    cur = make_frame(200)
    cur["y_pred"] = (cur["y_pred_proba"] >= 0.3).astype(int)
    f = one(run(cur), "prediction_score_mismatch")
    assert "disagrees" in f.message and ">= 0.5" in f.message and "threshold" in f.message


def test_multiclass_class_mix_shift():
    model = ModelConfig(task="multiclass_classification", target="label", prediction="pred")
    ref = pd.DataFrame({"x": np.arange(300.0), "label": ["a", "b", "c"] * 100})
    cur = pd.DataFrame({"x": np.arange(300.0), "pred": ["a"] * 250 + ["b"] * 50})
    result = run(cur, ref, model=model, features={"x": "numerical"})
    f = one(result, "positive_rate")
    assert "class mix" in f.message and "'a' 33% -> 83%" in f.message


def test_regression_constant_prediction():
    model = ModelConfig(task="regression", target="y", prediction="yhat")
    ref = pd.DataFrame({"x": np.arange(50.0), "y": np.arange(50.0)})
    cur = pd.DataFrame({"x": np.arange(50.0), "yhat": 3.0})
    assert one(run(cur, ref, model=model, features={"x": "numerical"}), "constant_prediction").severity == "critical"


# ----------------------------------------------------------------------------- labels


def test_label_coverage_orphans_and_unknown_classes():
    cur = make_frame(200)
    cur.loc[100:, "repaid"] = np.nan
    ghosts = [f"ghost{i}" for i in range(10)]
    labels = pd.DataFrame({"id": list(cur["id"][:100]) + ghosts, "repaid": [0, 1] * 50 + [2, "yes"] + [1] * 8})
    result = run(cur, labels=labels, config=QualityConfig(min_label_coverage=0.8))
    c = one(result, "label_coverage")
    assert "50%" in c.message and "100 of 200" in c.message
    o = one(result, "orphan_labels")
    assert "10 labels" in o.message and "9.1% of 110" in o.message and "'ghost1'" in o.message
    u = one(result, "label_values")
    assert u.severity == "critical" and "'yes'" in u.message and "0, 1" in u.message
    d = result.to_dict()["labels"]
    assert d["coverage"] == 0.5 and d["orphan_labels"] == 10 and d["label_rows"] == 110
    assert d["duplicate_label_ids"] == 0


def test_repeated_integer_label_ids_are_counted():
    cur = make_frame(100).assign(id=np.arange(100, dtype=np.int64))
    once = pd.DataFrame({"id": np.arange(100, dtype=np.int64), "repaid": 1})
    assert run(cur, labels=once).to_dict()["labels"]["duplicate_label_ids"] == 0
    twice = pd.concat([once, once.iloc[:7], once.iloc[:2]], ignore_index=True)  # 7 ids twice, 2 of them thrice
    assert run(cur, labels=twice).to_dict()["labels"]["duplicate_label_ids"] == 9


def test_labels_without_target_or_ids_give_clear_findings():
    cur = make_frame(50)
    result = run(cur, labels=pd.DataFrame({"id": cur["id"], "outcome": 1}))
    assert "no `repaid` column" in one(result, "label_values").message
    result = run(cur, labels=pd.DataFrame({"key": [1, 2], "repaid": [0, 1]}))
    assert "share no id column" in one(result, "orphan_labels").message


# ----------------------------------------------------------------------------- empty inputs


def test_empty_reference_does_not_crash_and_says_so():
    result = run(make_frame(200), REFERENCE.iloc[:0])
    f = one(result, "reference")
    assert f.severity == "critical" and "no rows" in f.message
    assert findings(result, "null_rate") == [] and findings(result, "positive_rate") == []
    assert result.columns["income"]["null_rate_reference"] is None
    assert result.usable_columns == ["income", "age", "region"]


def test_reference_with_no_columns_at_all():
    result = run(make_frame(50), pd.DataFrame())
    assert one(result, "reference").severity == "critical"
    assert result.schema["missing"] == [] and result.schema["renamed"] == []


def test_empty_current_with_columns():
    result = run(make_frame(0), partitions=partitions(rows=0))
    assert [f.check for f in result.findings] == ["arrival"]
    assert result.volume["skipped"]
    # the reader's stand-in for "nothing arrived": an empty frame shaped like the reference
    result = run(REFERENCE.iloc[0:0].copy(), partitions=partitions(found=False, rows=None))
    assert [f.check for f in result.findings] == ["arrival"]


def test_missing_partitions_over_several_days_and_sources():
    parts = [
        {"date": d, "uri": f"s3://{src}/dt={d}/", "found": False, "rows": None, "error": None}
        for d in ("2024-04-29", "2024-04-30")
        for src in ("eu", "us")
    ] + partitions(rows=200)
    result = run(make_frame(200), partitions=parts, window_start=DAY - dt.timedelta(days=2), reference_daily_rows=200)
    f = one(result, "arrival")
    assert f.message == "No data arrived for 2024-04-29, 2024-04-30: 4 partitions missing"
    assert result.volume["expected"] == 600  # three days, however many sources each


# ----------------------------------------------------------------------------- switches and config


@pytest.mark.parametrize(
    "check, breaks",
    [
        ("null_rate", lambda f: f.assign(income=np.nan)),
        ("duplicate_ids", lambda f: f.assign(id="same")),
        ("unseen_categories", lambda f: f.assign(region="mars")),
        ("score_range", lambda f: f.assign(y_pred_proba=1.7)),
        ("type_changed", lambda f: f.assign(age=f["age"].astype(str))),
        ("missing_columns", lambda f: f.drop(columns=["age"])),
    ],
)
def test_switching_a_check_off_removes_its_finding(check, breaks):
    cur = breaks(make_frame(200))
    assert findings(run(cur), check)
    assert findings(run(cur, config=QualityConfig(checks={check: False})), check) == []


def test_switching_a_group_off_and_disabling_keeps_arrival():
    cur = make_frame(200).assign(income=np.nan, id="same")
    result = run(cur, config=QualityConfig(checks={"values": False}))
    assert findings(result, "null_rate") == [] and findings(result, "duplicate_ids") == []
    result = run(make_frame(0), partitions=partitions(found=False, rows=None), config=QualityConfig(enabled=False))
    assert [f.check for f in result.findings] == ["arrival"]


def test_renamed_switched_off_reports_missing_and_added_instead():
    cur = make_frame(200).rename(columns={"income": "annual_income"})
    result = run(cur, config=QualityConfig(checks={"renamed_columns": False}))
    assert one(result, "missing_columns").subject == "income"
    assert "`annual_income`" in one(result, "added_columns").message


def test_thresholds_tune_the_checks():
    cur = make_frame(200)
    cur.loc[:29, "region"] = "mars"  # 15%
    assert findings(run(cur), "unseen_categories")
    assert findings(run(cur, config=QualityConfig(unseen_category_share=0.2)), "unseen_categories") == []


def test_unknown_check_name_is_a_config_error_listing_the_names():
    base = {
        "name": "m",
        "reference": {"uri": "r.parquet"},
        "production": {"uri": "p/{date}/"},
        "model": {"task": "binary_classification", "target": "y", "prediction": "p"},
        "output": {"uri": "out/"},
    }
    parse_config({**base, "quality": {"checks": {"duplicate_ids": False}}})
    with pytest.raises(ConfigError, match="unknown quality check 'dupes'.*duplicate_ids"):
        parse_config({**base, "quality": {"checks": {"dupes": False}}})


def test_bad_feature_kind_is_a_data_error():
    with pytest.raises(DataError, match="'numerical' or 'categorical'"):
        run(make_frame(10), features={"income": "number"})


def test_csv_read_with_the_wrong_delimiter_is_named_as_such():
    good = make_frame(20)
    header = ";".join(good.columns)
    squashed = pd.DataFrame({header: good.astype(str).agg(";".join, axis=1)})
    result = run(squashed)
    f = one(result, "missing_columns")
    assert f.subject == "delimiter" and f.severity == "critical"
    assert "wrong delimiter" in f.message and "';'" in f.message and "sep" in f.message
    assert len(result.findings) == 1  # not one finding per missing column
    assert result.usable_columns == []


def test_header_with_a_byte_order_mark_reads_as_an_encoding_problem():
    cur = make_frame(200).rename(columns={"income": "\ufeffIncome "})
    f = one(run(cur), "renamed_columns")
    assert f.subject == "income" and "byte-order mark" in f.message


# ----------------------------------------------------------------------------- robustness

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

GARBAGE = {
    "float": lambda rng, n: rng.normal(0, 1e6, n),
    "float_bad": lambda rng, n: rng.choice([np.nan, np.inf, -np.inf, 1.7, -3.0, 0.5], n),
    "int": lambda rng, n: rng.integers(-5, 5, n),
    "str": lambda rng, n: rng.choice(["a", "b", "", " 1", "x;y", "é", "2024-05-01"], n).astype(object),
    "null": lambda rng, n: np.full(n, None, dtype=object),
    "nan": lambda rng, n: np.full(n, np.nan),
    "mixed": lambda rng, n: np.array([[1, "a", None, 2.5, True][i % 5] for i in range(n)], dtype=object),
    "bool": lambda rng, n: rng.integers(0, 2, n).astype(bool),
    "date": lambda rng, n: pd.to_datetime(rng.integers(1_700_000_000, 1_720_000_000, n), unit="s").to_numpy(),
}
COLUMNS = ["id", "ts", "income", "age", "region", "y_pred_proba", "y_pred", "repaid"]


def garbage_frame(rng: np.random.Generator, n: int, kinds: list) -> pd.DataFrame:
    return pd.DataFrame({c: GARBAGE[k](rng, n) for c, k in zip(COLUMNS, kinds) if k is not None}, index=range(n))


@settings(max_examples=80, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_cur=st.integers(0, 25),
    n_ref=st.integers(0, 25),
    cur_kinds=st.lists(st.sampled_from([None, *GARBAGE]), min_size=len(COLUMNS), max_size=len(COLUMNS)),
    ref_kinds=st.lists(st.sampled_from([None, *GARBAGE]), min_size=len(COLUMNS), max_size=len(COLUMNS)),
    with_labels=st.booleans(),
    task=st.sampled_from(["binary_classification", "multiclass_classification", "regression"]),
)
def test_garbage_in_never_crashes_and_stays_json(seed, n_cur, n_ref, cur_kinds, ref_kinds, with_labels, task):
    rng = np.random.default_rng(seed)
    cur = garbage_frame(rng, n_cur, cur_kinds)
    ref = garbage_frame(rng, n_ref, ref_kinds)
    labels = garbage_frame(rng, n_cur, cur_kinds).iloc[:, :2] if with_labels else None
    model = MODEL.model_copy(update={"task": task})
    result = run(cur, ref, model=model, labels=labels, history=history([10, 12, 11]), reference_daily_rows=10)
    for f in result.findings:
        assert f.severity in ("warning", "critical") and f.message.strip()
        # the section guards are for the unforeseen: none of these data types may need them
        assert "could not run" not in f.message and "could not be checked" not in f.message, f.message
    assert set(result.usable_columns) <= set(FEATURES)


def test_values_alone_do_not_pick_between_lookalike_columns():
    rng = np.random.default_rng(5)
    cats = [f"c{j}" for j in range(12)]
    ref = REFERENCE.assign(seg_a=rng.choice(cats, 400), seg_b=rng.choice(cats, 400))
    cur = make_frame(200).assign(q1=rng.choice(cats, 200), q2=rng.choice(cats, 200))
    feats = {**FEATURES, "seg_a": "categorical", "seg_b": "categorical"}
    result = run(cur, ref, features=feats)
    assert result.schema["renamed"] == []  # ambiguous: reported as missing + added instead
    assert sorted(result.schema["missing"]) == ["seg_a", "seg_b"] and result.schema["added"] == ["q1", "q2"]


def test_renamed_model_column_is_matched_by_name():
    cur = make_frame(200).rename(columns={"y_pred_proba": "y_pred_probability"})
    result = run(cur)
    f = one(result, "renamed_columns")
    assert f.subject == "y_pred_proba" and "`y_pred_probability`" in f.message and "no values to compare" in f.message


def test_positive_rate_ratio_uses_reference_predictions_not_label_prevalence():
    rng = np.random.default_rng(7)
    ref = REFERENCE.assign(repaid=(rng.uniform(size=400) < 0.03).astype(int))  # 3% prevalence
    cur = make_frame(2000).assign(y_pred_proba=rng.uniform(0, 0.502, 2000))
    cur["y_pred"] = (cur["y_pred_proba"] >= 0.5).astype(int)  # ~0.4% predicted positive: normal at a 0.5 threshold
    assert findings(run(cur, ref), "positive_rate") == []
    # the same shift against the model's own reference predictions is news
    ref_pred = ref.assign(y_pred=(rng.uniform(size=400) < 0.03).astype(int))
    f = one(run(cur, ref_pred), "positive_rate")
    assert "predictions in the reference" in f.message


def test_labels_with_ids_of_another_type_say_so():
    cur = make_frame(50).assign(id=np.arange(50).astype(str))
    labels = pd.DataFrame({"id": np.arange(50), "repaid": 1})
    f = one(run(cur, labels=labels), "orphan_labels")
    assert "50 labels (100% of 50)" in f.message and "integers in the labels but strings in the predictions" in f.message


@pytest.mark.parametrize(
    "stamps",
    [
        ["2024-05-01 10:00:00+02:00", "2024-05-01T23:30:00-05:00", "2024-05-01T12:00:00Z"],  # -05:00: next day UTC
        ["2024-05-01 10:00:00", "2024-05-02 00:00:01", "2024-05-01T12:00:00"],  # naive: read as UTC
        ["2024-05-01 10:00", "May 2nd 2024 1am", "2024-05-01T12:00:00"],  # needs pandas' per-value guess
    ],
)
def test_timestamp_strings_in_many_formats(stamps):
    cur = make_frame(3).assign(ts=stamps)
    result = run(cur, config=QualityConfig(timestamp_outside_share=0.0))
    assert result.timestamps["after"] == 1 and result.timestamps["unparseable"] == 0
    assert "1 after" in one(result, "timestamp_window").message


def test_a_class_probability_column_is_expected_like_the_prediction():
    """model.scores names one probability column per class: one that does not arrive (dropped, or misnamed in
    the config) is named, not silently left out of the per-class drift and of ROC AUC."""
    multi = MODEL.model_copy(update={"task": "multiclass_classification", "score": None,
                                     "scores": {"gold": "p_gold", "silver": "p_silver"}})
    cur = make_frame(200).drop(columns=["y_pred_proba"]).assign(p_gold=0.6, p_silver=0.4)
    assert findings(run(cur, model=multi), "missing_columns") == []  # must not: both arrived
    assert findings(run(cur, model=multi), "added_columns") == []  # and they are outputs, not new columns
    f = one(run(cur.drop(columns=["p_silver"]), model=multi), "missing_columns")
    assert f.subject == "p_silver" and "score of class silver" in f.message and f.severity == "critical"


def test_out_of_range_compares_with_what_a_sample_of_the_references_size_leaves_out():
    """80 reference rows: a new value of the same distribution is outside their range with probability
    2/81 (2.5%), so a fixed 5% share warned on most healthy 36-row windows (field test: wine)."""
    rng = np.random.default_rng(8)
    feats = {"income": "numerical", "age": "numerical"}
    warned = 0
    for _ in range(60):  # must not: healthy windows from the reference's own distribution
        ref = pd.DataFrame({"income": rng.lognormal(10, 0.5, 80), "age": rng.normal(40, 10, 80), "repaid": 1})
        cur = make_frame(36).assign(income=rng.lognormal(10, 0.5, 36), age=rng.normal(40, 10, 36))
        warned += bool(findings(run(cur, ref, features=feats), "out_of_range"))
    assert warned == 0
    ref = pd.DataFrame({"income": rng.lognormal(10, 0.5, 80), "age": rng.normal(40, 10, 80), "repaid": 1})
    shifted = make_frame(36).assign(income=rng.lognormal(10, 0.5, 36) * 100, age=rng.normal(40, 10, 36))
    f = one(run(shifted, ref, features=feats), "out_of_range")  # must: a unit change
    assert f.subject == "income" and f.severity == "critical"
    part = make_frame(36).assign(income=np.r_[rng.lognormal(10, 0.5, 24), np.full(12, 1e7)], age=rng.normal(40, 10, 36))
    assert one(run(part, ref, features=feats), "out_of_range").subject == "income"  # a third of the rows


def test_null_rates_counted_on_the_array_equal_pandas():
    from monitor.stages.quality.values import _null_rate

    rng = np.random.default_rng(2)
    x = rng.normal(size=1001)
    x[rng.random(1001) < 0.37] = np.nan
    x[:3] = np.inf  # not a null
    for s in (pd.Series(x), pd.Series(x).astype("Float64"), pd.Series(x, dtype=object), pd.Series(x).astype(np.float32),
              pd.Series(["a", None, "b"]), pd.Series([np.nan] * 4), pd.Series([1.0])):
        assert _null_rate(s) == float(s.isna().mean()), s.dtype
