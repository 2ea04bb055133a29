"""Error analysis and annotation selection."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from monitor.config import CohortConfig, ModelConfig, PerformanceConfig
from monitor.stages.analysis import row_loss, select_for_annotation, top_cohorts, worst_rows
from monitor.stages.cohorts import evaluate_cohorts

MODEL = ModelConfig(task="binary_classification", target="y", prediction="pred", score="score", id="id")


def frame(n: int = 2000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    score = 1 / (1 + np.exp(-2 * x))
    y = (rng.random(n) < score).astype(float)
    df = pd.DataFrame(
        {"id": [f"r{i}" for i in range(n)], "x": x, "region": rng.choice(["a", "b", "c"], n), "score": score, "pred": (score >= 0.5).astype(int), "y": y}
    )
    df.loc[rng.random(n) < 0.5, "y"] = np.nan
    df.loc[df.region == "c", "y"] = np.nan  # region c has no labels at all
    df.loc[df.x > 1.2, "y"] = np.nan  # the high-x region is unlabelled (where drift went)
    return df


def test_worst_rows_are_the_highest_loss_labelled_rows():
    df = frame()
    rows = worst_rows(df, MODEL, ["x", "region", "missing_feature"], 5)
    json.dumps(rows, allow_nan=False)
    assert len(rows) == 5
    losses = [r["loss"] for r in rows]
    assert losses == sorted(losses, reverse=True)
    lab = df[df.y.notna()]
    s, y = lab.score.to_numpy(), lab.y.to_numpy()
    expected = -(y * np.log(s) + (1 - y) * np.log(1 - s))
    assert losses[0] == max(expected)
    top = rows[0]
    src = df.set_index("id").loc[top["id"]]
    assert top["label"] == src.y and top["score"] == src.score and top["prediction"] == src.pred
    assert set(top["features"]) == {"x", "region"}
    assert worst_rows(df.assign(y=np.nan), MODEL, ["x"], 5) == []


def test_row_loss_for_regression_and_multiclass():
    reg = ModelConfig(task="regression", target="y", prediction="p")
    assert np.allclose(row_loss(pd.DataFrame({"y": [1.0, np.nan], "p": [3.0, 1.0]}), reg), [2.0, np.nan], equal_nan=True)
    mc = ModelConfig(task="multiclass_classification", target="y", prediction="p")
    assert row_loss(pd.DataFrame({"y": ["a", "b"], "p": ["a", "c"]}), mc).tolist() == [0.0, 1.0]


def test_top_cohorts_ranks_by_impact_with_the_worst_metric():
    base = frame(8000, 1).assign(y=lambda d: (np.random.default_rng(3).random(len(d)) < d.score).astype(float))
    cur = frame(4000, 2)
    cur.loc[cur.region == "a", "y"] = 1 - cur.loc[cur.region == "a", "y"]  # region a breaks
    res = evaluate_cohorts(cur, base, MODEL, ["roc_auc", "accuracy"], [CohortConfig(column="region")], PerformanceConfig(bootstrap=50, min_cohort_labelled=50))
    top = top_cohorts(res, 2)
    assert top[0]["cohort"] == "region=a" and top[0]["regressed"]
    assert top[0]["metric"] in ("roc_auc", "accuracy") and top[0]["delta"] < 0
    assert all(t["impact"] > 0 for t in top) and len(top) <= 2
    assert top_cohorts(res, 0) == []


def test_annotation_sample_is_unlabelled_stratified_and_reproducible():
    df = frame()
    a = select_for_annotation(df, MODEL, 40, seed=7, cohort_columns=["region"], drifted_features=["x"])
    b = select_for_annotation(df, MODEL, 40, seed=7, cohort_columns=["region"], drifted_features=["x"])
    c = select_for_annotation(df, MODEL, 40, seed=8, cohort_columns=["region"], drifted_features=["x"])
    pd.testing.assert_frame_equal(a, b)
    assert not a["id"].equals(c["id"])
    assert len(a) == 40 and a["id"].is_unique
    assert a["y"].isna().all()  # only unlabelled rows
    assert set(df.columns) | {"reason"} == set(a.columns)
    reasons = a["reason"].str.split(":").str[0].value_counts()
    assert set(reasons.index) == {"uncertain", "drifted", "coverage", "random"}
    assert reasons.min() >= 8  # an even share each
    unc = a[a.reason.str.startswith("uncertain")]
    assert (unc.score - 0.5).abs().max() <= (df[df.y.isna()].score - 0.5).abs().quantile(0.05)
    assert (a[a.reason.str.startswith("coverage")].region == "c").all()  # region c has no labels
    # the unlabelled high-x region: the top decile of the labelled rows' x, open-ended
    top_decile = df[df.y.notna()].x.quantile(0.9)
    assert (a[a.reason.str.startswith("drifted")].x >= top_decile).all()


def test_annotation_edge_cases():
    df = frame(200)
    assert len(select_for_annotation(df, MODEL, 0, 0)) == 0
    everything = select_for_annotation(df, MODEL, 10_000, 0)
    assert len(everything) == int(df.y.isna().sum())
    none_left = select_for_annotation(df.assign(y=1.0), MODEL, 10, 0)
    assert len(none_left) == 0 and "reason" in none_left.columns
    # no score (regression): coverage and random strata only; unknown columns ignored
    reg = ModelConfig(task="regression", target="y", prediction="pred")
    r = select_for_annotation(df, reg, 20, 1, cohort_columns=["region", "nope"], drifted_features=["nope"])
    assert len(r) == 20 and set(r.reason.str.split(":").str[0]) <= {"coverage", "random"}
    # duplicate index labels (a concatenated window) do not break the selection
    dup = pd.concat([df, df.assign(id=df.id + "_2")])
    assert select_for_annotation(dup, MODEL, 30, 0)["id"].is_unique


def test_worst_rows_of_a_streamed_day_read_the_rows_at_once_and_equal_in_memory(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from monitor.io.columns import ColumnFrame, ParquetColumns

    class Counting(ParquetColumns):
        takes = 0

        def take_rows(self, positions, columns):
            Counting.takes += 1
            return super().take_rows(positions, columns)

    df = frame(2000)
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), tmp_path / "day.parquet", row_group_size=100)
    streamed = ColumnFrame(Counting([tmp_path / "day.parquet"]))
    feats = [c for c in df.columns if c not in ("id", "y", "pred", "score")]
    expected = worst_rows(df, MODEL, feats, 8)
    assert worst_rows(streamed, MODEL, feats, 8) == expected and len(expected) == 8
    assert Counting.takes == 1  # one read of the row groups holding the 8 rows, not one per row


def test_worst_rows_with_ties_at_the_cut_keep_the_first_rows_and_equal_a_full_sort():
    rng = np.random.default_rng(4)
    n = 5000
    score = np.round(rng.random(n), 1)  # 11 distinct scores: many rows share the n-th highest loss
    y = (rng.random(n) < 0.5).astype(float)
    y[::7] = np.nan
    df = pd.DataFrame({"id": np.arange(n) + 100, "score": score, "pred": (score >= 0.5).astype(int), "y": y, "x": rng.normal(size=n)})
    loss = row_loss(df, MODEL)
    ok = np.flatnonzero(np.isfinite(loss))
    for k in (1, 7, 300, n):
        full = ok[np.lexsort((ok, -loss[ok]))][:k]  # every labelled row sorted: highest loss, then position
        got = worst_rows(df, MODEL, ["x"], k)
        assert [r["id"] for r in got] == (full + 100).tolist()
    assert len(worst_rows(df, MODEL, ["x"], n)) == ok.size  # asking for more rows than there are
