"""The reference's per-column figures the value checks compare with: read once per column, cached
between runs on the same snapshot, and giving exactly the results the checks gave from the columns."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from monitor.io.columns import ColumnFrame
from monitor.stages.quality import refstats
from monitor.stages.quality.refstats import ReferenceStats
from tests.support.column_reads import spied_columns
from tests.unit.stages.test_quality import FEATURES, make_frame, run

KINDS = {**FEATURES, "code": "categorical"}


def _reference(n: int = 400) -> pd.DataFrame:
    ref = make_frame(n, seed=1).drop(columns=["id", "ts", "y_pred", "y_pred_proba"])
    ref.loc[::7, "income"] = np.nan
    ref.loc[::11, "region"] = None
    return ref.assign(code=np.arange(n) % 5)  # an integer-coded category


def _current() -> pd.DataFrame:
    cur = make_frame(300, seed=2)
    cur.loc[:30, "income"] = 1e9  # out of range
    cur.loc[:40, "region"] = "mars"  # unseen
    return cur.assign(code=np.where(np.arange(300) < 60, 9, np.arange(300) % 5))


def _doc(result) -> dict:
    return json.loads(json.dumps(result.to_dict(), default=str))


def _parquet_frame(tmp_path, df: pd.DataFrame) -> tuple[ColumnFrame, list[str]]:
    """A lazily read reference, and the list of the columns read from its file (in order)."""
    path = tmp_path / "reference.parquet"
    df.to_parquet(path, index=False)
    src, reads = spied_columns(path)
    return ColumnFrame(src), reads


def test_cached_figures_give_the_same_result_as_the_columns():
    ref, cur = _reference(), _current()
    first = ReferenceStats(ref, kinds=KINDS)
    plain = run(cur, ref, features=KINDS, reference_stats=first)
    assert first.changed
    cached = ReferenceStats.from_json(ref, first.to_json(), kinds=KINDS)
    again = run(cur, ref, features=KINDS, reference_stats=cached)
    assert not cached.changed  # everything came from the cache
    assert _doc(again) == _doc(plain) == _doc(run(cur, ref, features=KINDS))
    checks = {f.check for f in plain.findings}
    assert {"out_of_range", "unseen_categories"} <= checks  # the figures were used, not skipped
    assert plain.columns["income"]["null_rate_reference"] == float(ref["income"].isna().mean())
    assert plain.columns["income"]["dtype_reference"] == "float64"


def test_a_cached_snapshot_reads_no_feature_column(tmp_path):
    ref, cur = _reference(), _current()
    frame, reads = _parquet_frame(tmp_path, ref)
    stats = ReferenceStats(frame, kinds=KINDS)
    run(cur, frame, features=KINDS, reference_stats=stats)
    assert sorted(set(reads) & set(KINDS)) == sorted(KINDS)
    assert all(reads.count(c) == 1 for c in KINDS)  # each feature read once for all its figures
    assert not set(frame._src._cache) & set(KINDS)  # ... and not kept in the column cache

    reads.clear()
    cached = ReferenceStats.from_json(frame, stats.to_json(), kinds=KINDS)
    run(cur, frame, features=KINDS, reference_stats=cached)
    assert not set(reads) & set(KINDS)


@pytest.mark.parametrize("damage", [
    lambda d: d.update(rows=d["rows"] + 1),
    lambda d: d.update(version=0),
    lambda d: d["columns"]["income"].update(range=["a", 1, 2]),
    lambda d: d["columns"]["income"].update(n_null=10**9),
    lambda d: d["columns"]["region"]["categories"].update(dtype="int64"),  # text values that are not integers
    lambda d: d["columns"]["region"].update(surprise=1),
])
def test_a_damaged_cache_is_not_trusted(damage):
    ref = _reference()
    stats = ReferenceStats(ref, kinds=KINDS)
    run(_current(), ref, features=KINDS, reference_stats=stats)
    doc = json.loads(stats.to_json())
    ReferenceStats.from_json(ref, json.dumps(doc).encode())  # intact: trusted
    damage(doc)
    with pytest.raises((ValueError, TypeError)):
        ReferenceStats.from_json(ref, json.dumps(doc).encode())


def test_categories_that_would_not_survive_json_are_worked_out_again(monkeypatch):
    ref = pd.DataFrame({"mixed": pd.Series([1, "1", 2.5, None] * 10, dtype=object), "many": [f"v{i}" for i in range(40)],
                        "text": ["a", "b"] * 20})
    kinds = {c: "categorical" for c in ref.columns}
    monkeypatch.setattr(refstats, "CACHED_CATEGORIES", 10)
    stats = ReferenceStats(ref, kinds=kinds)
    for c in ref.columns:
        stats.categories(c)
    cols = json.loads(stats.to_json())["columns"]
    assert "categories" in cols["text"]
    assert "categories" not in cols["mixed"] and "categories" not in cols["many"]
    again = ReferenceStats.from_json(ref, stats.to_json(), kinds=kinds)
    assert not again.changed
    seen, singletons, total = again.categories("many")  # not cached: read again
    assert again.changed and (singletons, total) == (40, 40) and len(seen) == 40


def test_a_figure_that_cannot_be_worked_out_fails_its_check_as_before(monkeypatch):
    """Worked out early (with the column's other figures), its error is raised where the check asks."""
    def boom(s: pd.Series):
        raise TypeError(f"unhashable values in {s.name}")

    ref = _reference()
    monkeypatch.setitem(refstats._FIGURES, "categories", boom)
    stats = ReferenceStats(ref, kinds=KINDS)
    result = run(_current(), ref, features=KINDS, reference_stats=stats)
    failed = [f for f in result.findings if f.check == "unseen_categories"]
    assert len(failed) == 1 and "could not run" in failed[0].message and "unhashable values in region" in failed[0].message
    assert result.columns["region"]["null_rate_reference"] == float(ref["region"].isna().mean())  # its other figures
    assert not [f for f in result.findings if f.check == "out_of_range" and "could not" in f.message]
    assert "categories" not in json.loads(stats.to_json())["columns"]["region"]  # nothing cached for it


def test_a_streamed_day_is_read_once_for_the_three_value_checks(tmp_path, monkeypatch):
    """Profile, out_of_range and unseen_categories work on each column in one pass: with no column
    cache at all, each feature of a streamed day is read once (it was three times)."""
    from monitor.io import columns

    monkeypatch.setattr(columns, "_CACHE_BYTES", 0)
    ref, cur = _reference(), _current()
    (tmp_path / "day").mkdir()
    day, reads = _parquet_frame(tmp_path / "day", cur)
    plain = run(cur, ref, features=KINDS)
    streamed = run(day, ref, features=KINDS)
    assert _doc(streamed) == _doc(plain)
    assert {c: reads.count(c) for c in KINDS} == {c: 1 for c in KINDS}
    assert {"out_of_range", "unseen_categories"} <= {f.check for f in streamed.findings}

    reads.clear()  # a check switched off works nothing out for it
    from monitor.config import QualityConfig

    off = run(day, ref, features=KINDS, config=QualityConfig(checks={"out_of_range": False, "unseen_categories": False}))
    assert not {"out_of_range", "unseen_categories"} & {f.check for f in off.findings}
    assert all(off.columns[c]["out_of_range_share"] is None and off.columns[c]["unseen_share"] is None for c in KINDS)


# ----------------------------------------------------------------------------- whole-reference figures


def _full_reference(n: int = 400) -> pd.DataFrame:
    """A reference with the model's columns: repeated ids, invalid scores and disagreeing predictions."""
    ref = make_frame(n, seed=1).assign(code=np.arange(n) % 5)
    ref.loc[: n // 10, "id"] = ref.loc[n // 2 : n // 2 + n // 10, "id"].to_numpy()  # 10% repeat another row's id
    ref["y_pred_proba"] = ref["y_pred_proba"].astype(float)
    ref.loc[::50, "y_pred_proba"] = np.nan
    ref.loc[1::97, "y_pred_proba"] = np.inf
    ref.loc[::13, "y_pred"] = 1 - ref.loc[::13, "y_pred"]  # disagrees with its score
    return ref


def _bad_day() -> pd.DataFrame:
    cur = _current()
    cur.loc[:60, "id"] = cur.loc[100:160, "id"].to_numpy()
    cur.loc[:40, "y_pred_proba"] = np.nan
    cur.loc[:90, "y_pred"] = 1 - cur.loc[:90, "y_pred"]
    cur.loc[:20, "repaid"] = 7  # a class never seen in training
    return cur


def test_whole_reference_figures_are_cached_and_give_the_same_result(tmp_path):
    ref, cur = _full_reference(), _bad_day()
    frame, reads = _parquet_frame(tmp_path, ref)
    first = ReferenceStats(frame, kinds=KINDS)
    plain = run(cur, frame, features=KINDS, reference_stats=first)
    figures = json.loads(first.to_json())["figures"]
    assert {"duplicate_rows|id", "invalid|y_pred_proba", "mismatch|y_pred_proba|y_pred|0.5|1", "classes|repaid",
            "kind|income", "kind|region", "kind|code"} <= set(figures)
    assert figures["classes|repaid"] == {"dtype": "int64", "values": pd.unique(ref["repaid"]).tolist()}
    assert "id" in reads  # the reference's ids were read for their duplicates
    checks = {f.check for f in plain.findings}
    assert {"duplicate_ids", "score_invalid", "prediction_score_mismatch", "label_values"} <= checks
    assert plain.ids["duplicate_share_reference"] > 0 and plain.predictions["mismatch_share_reference"] > 0
    assert plain.predictions["score_invalid_share_reference"] > 0

    reads.clear()
    cached = ReferenceStats.from_json(frame, first.to_json(), kinds=KINDS)
    again = run(cur, frame, features=KINDS, reference_stats=cached)
    assert not cached.changed and "id" not in reads  # nothing worked out again, the ids not read
    assert _doc(again) == _doc(plain) == _doc(run(cur, ref, features=KINDS))


def test_a_figure_of_other_settings_or_damaged_is_worked_out_again(tmp_path):
    """A figure is named by what it depends on: another threshold is another figure; a cached value of
    the wrong shape is not trusted (worked out again, the result as without a cache)."""
    from tests.unit.stages.test_quality import MODEL

    ref, cur = _full_reference(), _bad_day()
    first = ReferenceStats(ref, kinds=KINDS)
    run(cur, ref, features=KINDS, reference_stats=first)
    doc = json.loads(first.to_json())
    other = MODEL.model_copy(update={"threshold": 0.8})
    stats = ReferenceStats.from_json(ref, json.dumps(doc).encode(), kinds=KINDS)
    moved = run(cur, ref, features=KINDS, model=other, reference_stats=stats)
    assert stats.changed and "mismatch|y_pred_proba|y_pred|0.8|1" in json.loads(stats.to_json())["figures"]
    assert _doc(moved) == _doc(run(cur, ref, features=KINDS, model=other))
    assert moved.predictions["mismatch_share_reference"] != run(cur, ref, features=KINDS).predictions["mismatch_share_reference"]

    doc["figures"].update({"duplicate_rows|id": -3, "invalid|y_pred_proba": [10**9, 400], "classes|repaid": {"dtype": "int64",
                           "values": ["a"]}, "mismatch|y_pred_proba|y_pred|0.5|1": "many"})
    damaged = ReferenceStats.from_json(ref, json.dumps(doc).encode(), kinds=KINDS)
    assert _doc(run(cur, ref, features=KINDS, reference_stats=damaged)) == _doc(run(cur, ref, features=KINDS))
    assert damaged.changed
    doc["figures"] = ["not", "a", "mapping"]
    with pytest.raises(ValueError):
        ReferenceStats.from_json(ref, json.dumps(doc).encode(), kinds=KINDS)


@pytest.mark.parametrize("classes", [["no", "yes"], [0.5, np.inf]])
def test_label_classes_that_would_not_survive_json_are_worked_out_each_time(classes):
    def labelled(df: pd.DataFrame) -> pd.DataFrame:
        return df.assign(repaid=pd.Series(classes * (len(df) // 2 + 1)).iloc[: len(df)].to_numpy())

    ref, cur = labelled(_full_reference()), labelled(_bad_day())
    stats = ReferenceStats(ref, kinds=KINDS)
    plain = run(cur, ref, features=KINDS, reference_stats=stats)
    assert json.loads(stats.to_json())["figures"]["classes|repaid"] is None
    cached = ReferenceStats.from_json(ref, stats.to_json(), kinds=KINDS)
    assert _doc(run(cur, ref, features=KINDS, reference_stats=cached)) == _doc(plain)
    assert plain.to_dict()["labels"]["classes"][:1] == classes[:1] and len(plain.to_dict()["labels"]["classes"]) == 2
