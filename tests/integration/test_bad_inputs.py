"""Broken production files reach the report as findings; the run still reports and earlier outputs survive."""

import datetime as dt
import io
import json

import numpy as np
import pandas as pd

from monitor.config import parse_config
from monitor.run.context import RunOptions
from monitor.run.phases import run

DAY = dt.date(2026, 11, 25)


def ref_frame(n=400, seed=0):
    rng = np.random.default_rng(seed)
    s = rng.uniform(size=n)
    return pd.DataFrame({"id": np.arange(n), "x": rng.normal(size=n), "c": rng.choice(["a", "b"], n),
                         "s": s, "p": (s > 0.5).astype(int), "y": (rng.uniform(size=n) < s).astype(int)})


def setup(tmp_path, name, payload: bytes):
    ref_frame().to_parquet(tmp_path / "ref.parquet")
    part = tmp_path / "prod" / f"dt={DAY}"
    part.mkdir(parents=True)
    (part / name).write_bytes(payload)
    return parse_config({
        "name": "m",
        "reference": {"uri": str(tmp_path / "ref.parquet")},
        "production": {"uri": str(tmp_path / "prod" / "dt={date}") + "/"},
        "model": {"task": "binary_classification", "target": "y", "prediction": "p", "score": "s", "id": "id"},
        "output": {"uri": str(tmp_path / "out")},
        "email": {"outbox": str(tmp_path / "outbox")},
    }, "m.yaml")


def findings(res):
    return [f["message"] for f in (res.metrics["quality"] or {}).get("findings", [])]


def test_truncated_parquet_partition(tmp_path):
    buf = io.BytesIO()
    ref_frame(50).to_parquet(buf)
    cfg = setup(tmp_path, "part-0.parquet", buf.getvalue()[:100])
    res = run(cfg, DAY)
    assert res.status == "no_data"
    assert any("part-0.parquet" in m and "parquet" in m for m in findings(res)), findings(res)
    assert res.email["sent"]  # the team hears about it
    eml = next((tmp_path / "outbox").glob("*.eml")).read_text(errors="replace")
    assert "part-0.parquet" in eml


def test_empty_file_partition(tmp_path):
    cfg = setup(tmp_path, "part-0.csv", b"")
    res = run(cfg, DAY, RunOptions(send_email=False))
    assert res.status == "no_data"
    assert findings(res)


def test_csv_with_wrong_delimiter(tmp_path):
    cfg = setup(tmp_path, "part-0.csv", ref_frame(60).drop(columns=["y"]).to_csv(index=False, sep=";").encode())
    res = run(cfg, DAY, RunOptions(send_email=False))
    msgs = " ".join(findings(res))
    assert "delimiter" in msgs, msgs
    assert res.status in ("alert", "warning")


def test_csv_in_the_wrong_encoding(tmp_path):
    f = ref_frame(60).drop(columns=["y"]).assign(c="Jos\xe9")
    cfg = setup(tmp_path, "part-0.csv", f.to_csv(index=False).encode("latin-1"))
    res = run(cfg, DAY, RunOptions(send_email=False))
    msgs = " ".join(findings(res))
    assert "UTF-8" in msgs and "encoding" in msgs, msgs


def test_int_column_as_strings_and_bad_scores(tmp_path):
    f = ref_frame(200, seed=1).drop(columns=["y"])
    f["id"] = f["id"].astype(str)
    f.loc[:4, "s"] = 1.7
    f.loc[5:9, "s"] = np.nan
    f.loc[10:12, "id"] = "0"  # duplicate ids
    buf = io.BytesIO()
    f.to_parquet(buf)
    cfg = setup(tmp_path, "part-0.parquet", buf.getvalue())
    res = run(cfg, DAY, RunOptions(send_email=False))
    assert not res.metrics["errors"], res.metrics["errors"]
    msgs = " ".join(findings(res))
    assert "outside [0, 1]" in msgs or "1.7" in msgs, msgs
    assert "NaN" in msgs or "missing" in msgs.lower(), msgs
    assert "duplicate" in msgs.lower(), msgs
    json.dumps(res.metrics)  # still plain JSON


def test_a_missing_prediction_column_is_one_alert_not_a_stage_failure_each(tmp_path):
    """A regression model's prediction column absent (dropped upstream, or misnamed in model.prediction):
    quality names it; performance, cohorts and the error analysis, which need it, do not run (they added
    three critical 'could not be computed' alerts, one a KeyError). A classifier whose scores arrived
    still gets them: its prediction follows from the score."""
    buf = io.BytesIO()
    ref_frame(300, seed=1).to_parquet(buf)
    cfg = setup(tmp_path, "part-0.parquet", buf.getvalue())
    over = {"cohorts": [{"column": "c"}], "performance": {"min_labelled": 50, "min_cohort_labelled": 20}}
    binary = parse_config({**cfg.model_dump(exclude={"source_path"}), **over}, "m.yaml")
    reg = parse_config({**cfg.model_dump(exclude={"source_path"}), **over, "metrics": ["mae"],
                        "model": {"task": "regression", "target": "y", "prediction": "p", "id": "id"}}, "m.yaml")
    res = run(reg, DAY, RunOptions(send_email=False))  # must not: with the column, the stages run
    assert res.metrics["performance"] is not None and res.metrics["analysis"]
    assert not [a for a in res.metrics["alerts"] if a["subject"].startswith("stage:")]
    ref_frame(300, seed=1).drop(columns=["p"]).to_parquet(tmp_path / "prod" / f"dt={DAY}" / "part-0.parquet")
    res = run(reg, DAY, RunOptions(send_email=False))
    assert [a["subject"] for a in res.metrics["alerts"]] == ["p"], res.metrics["alerts"]
    assert "`p` (prediction) is missing" in res.metrics["alerts"][0]["message"]
    assert res.metrics["performance"] is None
    res = run(binary, DAY, RunOptions(send_email=False))  # the score is there: performance from it
    assert res.metrics["performance"] is not None and res.metrics["performance"]["overall"]
    assert [a["subject"] for a in res.metrics["alerts"]] == ["p"]
