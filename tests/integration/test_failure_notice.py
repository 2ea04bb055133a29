"""The failure notice: links to the Airflow run and task log, the exact rerun commands with the real
config path and date, and no attachment (there is no report for the day)."""

from __future__ import annotations

import datetime as dt
from email import message_from_bytes, policy

from monitor.airflow.runtime import rerun_commands, run_links
from monitor.config import parse_config
from monitor.run import Clients, notify_failure

DAY = dt.date(2026, 3, 25)


class _TI:
    dag_id, task_id, run_id, try_number = "drift_monitor__car_loan", "compute", "scheduled__2026-03-26T00:00:00+00:00", 1


def test_the_notice_links_the_run_and_log_names_the_commands_and_attaches_nothing(tmp_path):
    path = str(tmp_path / "car_loan.yaml")
    cfg = parse_config({
        "name": "car_loan", "reference": {"uri": str(tmp_path / "train.parquet")},
        "production": {"uri": str(tmp_path / "p" / "dt={date}") + "/"},
        "model": {"task": "binary_classification", "target": "y", "prediction": "p"},
        "output": {"uri": str(tmp_path / "out")}, "email": {"to": ["ml-team@example.com"], "outbox": str(tmp_path / "outbox")},
    }, path)
    links = run_links(_TI(), base_url="http://airflow.example:8080")
    record = notify_failure(
        cfg, DAY, f"{tmp_path}/train.parquet: no such file (reference.uri)", task="compute", dag_id=_TI.dag_id,
        clients=Clients(), links=links, commands=rerun_commands(path, DAY, _TI.dag_id),
    )
    assert record is not None and record["method"] == "outbox"
    msg = message_from_bytes((tmp_path / "outbox").joinpath(record["path"]).read_bytes(), policy=policy.default)
    assert msg["Subject"].startswith("[FAILED] car_loan 2026-03-25")
    assert list(msg.iter_attachments()) == [], "a failure notice has no report to attach"
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    run_url = "http://airflow.example:8080/dags/drift_monitor__car_loan/runs/scheduled__2026-03-26T00%3A00%3A00%2B00%3A00"
    for body in (text, html):
        assert run_url in body and run_url + "/tasks/compute" in body
        assert f"drift-monitor run {path} --date 2026-03-25" in body
        assert "CONFIG" not in body and "YYYY-MM-DD" not in body
    assert """airflow dags trigger drift_monitor__car_loan -c '{"date": "2026-03-25"}' --run-id "date_2026-03-25__""" in text
    assert f'href="{run_url}"' in html


def test_without_airflow_the_notice_names_the_cli_command(tmp_path):
    path = str(tmp_path / "m.yaml")
    cfg = parse_config({
        "name": "m", "reference": {"uri": str(tmp_path / "train.parquet")},
        "production": {"uri": str(tmp_path / "p" / "dt={date}") + "/"},
        "model": {"task": "binary_classification", "target": "y", "prediction": "p"},
        "output": {"uri": str(tmp_path / "out")}, "email": {"outbox": str(tmp_path / "outbox")},
    }, path)
    record = notify_failure(cfg, DAY, "boom", clients=Clients())
    assert record is not None
    msg = message_from_bytes((tmp_path / "outbox").joinpath(record["path"]).read_bytes(), policy=policy.default)
    assert f"drift-monitor run {path} --date 2026-03-25" in msg.get_body(("plain",)).get_content()
