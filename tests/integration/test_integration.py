"""The pipeline end to end against real servers on 127.0.0.1: moto's S3 and an aiosmtpd SMTP server."""

import datetime as dt
import json
from pathlib import Path

import boto3
import pytest

from monitor.config import parse_config
from monitor.demo.generator import generate
from monitor.run.context import RunOptions
from monitor.run.phases import run

pytestmark = pytest.mark.integration

END = dt.date(2026, 11, 25)


def _upload(client, root: Path, bucket: str, sub: str) -> None:
    for f in sorted((root / sub).rglob("*")):
        if f.is_file():
            client.upload_file(str(f), bucket, str(f.relative_to(root)))


@pytest.fixture
def s3_demo(tmp_path, s3_endpoint, smtp_server, monkeypatch):
    data = generate(tmp_path / "demo", END)
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    for b in ("ml-data", "ml-labels", "monitoring"):
        client.create_bucket(Bucket=b)
    _upload(client, data.workdir, "ml-data", "data")
    _upload(client, data.workdir, "ml-labels", "labels")
    sink, port = smtp_server
    monkeypatch.setenv(
        "AIRFLOW_CONN_SMTP_DEFAULT",
        json.dumps({"conn_type": "smtp", "host": "127.0.0.1", "port": port,
                    "extra": {"disable_ssl": True, "disable_tls": True, "timeout": 5, "retry_limit": 1}}),
    )
    cfg = parse_config(
        {
            "name": "car_loan",
            "reference": {"uri": "s3://ml-data/data/car_loan/train.parquet"},
            "baseline": {"uri": "s3://ml-data/data/car_loan/validation.parquet"},
            "production": {"uri": "s3://ml-data/data/car_loan/predictions/dt={date}/"},
            "labels": {"uri": "s3://ml-labels/labels/car_loan/dt={date}/", "join_on": ["id"], "delay_days": 3},
            "model": {"task": "binary_classification", "target": "repaid", "prediction": "y_pred",
                      "score": "y_pred_proba", "id": "id", "timestamp": "timestamp"},
            "features": {"numerical": ["age", "income", "debt_to_income_ratio", "car_value", "loan_amount", "driver_tenure"],
                         "categorical": ["salary_range", "region", "employment"]},
            "cohorts": [{"column": "salary_range"}, {"column": "region"}],
            "metrics": ["roc_auc", "accuracy"],
            "business": {"cost_matrix": {"tp": 120, "fp": -1000, "fn": -120, "tn": 0},
                         "guardrails": [{"column": "latency_ms", "stat": "p95", "max": 200}]},
            "output": {"uri": "s3://monitoring/"},
            "email": {"to": ["ml-team@example.com"], "sender": "monitor@example.com"},
        },
        "integration.yaml",
    )
    return cfg, data, client, sink


def _keys(client, prefix):
    r = client.list_objects_v2(Bucket="monitoring", Prefix=prefix)
    return sorted(o["Key"].rsplit("/", 1)[-1] for o in r.get("Contents", []))


def test_pipeline_against_s3_and_smtp(s3_demo):
    cfg, data, client, sink = s3_demo
    as_of = END + dt.timedelta(days=1)
    quiet, drifted = data.day(18), data.day(24)

    r1 = run(cfg, quiet, RunOptions(as_of=as_of))
    r2 = run(cfg, drifted, RunOptions(as_of=as_of))
    for day in (quiet, drifted):
        keys = _keys(client, f"car_loan/date={day}/")
        assert {"metrics.json", "report.html", "manifest.json"} <= set(keys)

    m1 = json.loads(client.get_object(Bucket="monitoring", Key=f"car_loan/date={quiet}/metrics.json")["Body"].read())
    m2 = json.loads(client.get_object(Bucket="monitoring", Key=f"car_loan/date={drifted}/metrics.json")["Body"].read())
    assert m1["schema_version"] == 1 and m1["monitor"] == "car_loan" and m1["date"] == quiet.isoformat()
    assert m1["rows"]["current"] == 2000 and m1["rows"]["labelled"] == 2000
    kinds1 = {(a["kind"], a["subject"]) for a in m1["alerts"]}
    assert not {k for k in kinds1 if k[0] in ("drift", "cohort")}, kinds1
    kinds2 = {(a["kind"], a["subject"]) for a in m2["alerts"]}
    assert ("drift", "income") in kinds2 and ("drift", "region") in kinds2
    assert any(k == "cohort" and "low" in s for k, s in kinds2)
    assert not any(k == "cohort" and ("medium" in s or "high" in s) for k, s in kinds2)
    assert m2["status"] == "alert"
    assert m2["drift"]["features"]["income"]["drifted"] is True

    manifest = json.loads(client.get_object(Bucket="monitoring", Key=f"car_loan/date={drifted}/manifest.json")["Body"].read())
    assert manifest["email"]["sent"] is True and manifest["email"]["to"] == ["ml-team@example.com"]
    assert any(i["uri"].startswith("s3://ml-data/data/car_loan/predictions/") and i["etag"] for i in manifest["inputs"])
    assert manifest["config_hash"] == cfg.config_hash

    msgs = sink.wait_for(2)
    assert len(msgs) == 2
    assert msgs[1]["Subject"].startswith("[ALERT] car_loan " + drifted.isoformat())
    assert msgs[0]["To"] == "ml-team@example.com"
    html = msgs[1].get_body(("html",)).get_content()
    assert "income" in html and "salary_range" in html

    # A rerun of the same date replaces the outputs and does not re-send ...
    r3 = run(cfg, drifted, RunOptions(as_of=as_of))
    assert r3.email["sent"] is False and "already sent" in r3.email["reason"]
    assert len(sink.wait_for(3, timeout=1)) == 2
    # ... unless asked to.
    run(cfg, drifted, RunOptions(as_of=as_of, resend=True))
    assert len(sink.wait_for(3)) == 3
    assert r1.status in ("ok", "warning") and r2.status == "alert"


def test_missing_partition_is_no_data_and_still_reports(s3_demo):
    cfg, data, client, sink = s3_demo
    day = END + dt.timedelta(days=1)  # nothing written for this day
    res = run(cfg, day, RunOptions(as_of=day))
    assert res.status == "no_data"
    assert any(a["kind"] == "no_data" and a["severity"] == "critical" for a in res.alerts)
    assert "report.html" in _keys(client, f"car_loan/date={day}/")
    msgs = sink.wait_for(1)
    assert msgs and msgs[0]["Subject"].startswith("[NO DATA]")


def test_day_with_no_labels_yet_is_provisional(s3_demo):
    cfg, data, client, sink = s3_demo
    res = run(cfg, END, RunOptions(as_of=END + dt.timedelta(days=1), send_email=False))  # the demo's last day: no label has arrived
    assert res.metrics["rows"]["labelled"] == 0 and res.metrics["rows"]["current"] == 2000
    assert not res.metrics["errors"], res.metrics["errors"]
    assert res.metrics["final"] is False
    assert not any(a["kind"] in ("performance", "cohort") for a in res.alerts)
