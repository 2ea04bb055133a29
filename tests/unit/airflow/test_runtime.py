"""monitor.airflow.runtime: what is retried and what fails at once, the task-log lines, the notice's
links and rerun commands. Airflow's exception class is the real one; no scheduler is needed."""

from __future__ import annotations

import datetime as dt
import logging

import pytest

from monitor.airflow import runtime
from monitor.errors import ConfigError, DataError, NotFoundError, NotifyError, StorageError, UnknownMethodError


class _Lines(logging.Handler):
    """The log lines of monitor.airflow, whatever Airflow's import did to the root logger."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    @property
    def text(self) -> str:
        return "\n".join(r.getMessage() for r in self.records)


@pytest.fixture
def lines():
    logger = logging.getLogger("monitor.airflow")
    handler, level = _Lines(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


@pytest.mark.parametrize("exc, transient", [
    (NotFoundError("s3://b/car_loan/train.parquet: no such object"), False),  # missing reference: retry cannot fix
    (ConfigError("monitors/x.yaml: window_dayz: unknown key"), False),
    (DataError("train.parquet: no rows"), False),
    (UnknownMethodError("drift method 'kss' unknown"), False),
    (KeyError("a bug"), False),
    (StorageError("s3://b/k: cannot read: SlowDown"), True),
    (NotifyError("could not send the email through SMTP after 3 attempts"), True),
    (ConnectionResetError("reset by peer"), True),
    (TimeoutError("timed out"), True),
])
def test_only_transient_storage_and_smtp_errors_are_retried(exc, transient):
    assert runtime.is_transient(exc) is transient


def test_a_missing_reference_fails_at_once_with_one_readable_line(lines):
    from airflow.sdk.exceptions import AirflowFailException

    with pytest.raises(AirflowFailException) as info:
        with runtime.failing_fast("compute"):
            raise NotFoundError("s3://bucket/car_loan/train.parquet: no such object (reference.uri)")
    assert str(info.value) == "s3://bucket/car_loan/train.parquet: no such object (reference.uri)"
    assert info.value.__cause__ is None and info.value.__suppress_context__
    lines = [r.getMessage() for r in lines.records]
    assert lines == ["compute failed, not retried: s3://bucket/car_loan/train.parquet: no such object (reference.uri)"]


def test_a_transient_error_is_raised_as_is_for_airflow_to_retry(lines):
    err = StorageError("s3://bucket/x: cannot read: 503 SlowDown")
    with pytest.raises(StorageError) as info:
        with runtime.failing_fast("compute"):
            raise err
    assert info.value is err
    assert "transient: Airflow retries this task" in lines.text


def test_a_bug_fails_at_once_and_keeps_its_traceback_in_the_log(lines):
    from airflow.sdk.exceptions import AirflowFailException

    with pytest.raises(AirflowFailException, match=r"^KeyError: 'col'$"):
        with runtime.failing_fast("render"):
            raise KeyError("col")
    assert any(r.exc_info for r in lines.records), "the bug's traceback must be logged"


def test_compute_log_lines(lines):
    runtime.log_compute({
        "date": "2026-03-25", "output_uri": "s3://b/out/car_loan/date=2026-03-25/", "status": "alert", "alerts": 2,
        "inputs": [{"role": "reference", "uri": "s3://b/train.parquet", "rows": 5000},
                   {"role": "production", "uri": "s3://b/p/dt=2026-03-25/part-0.parquet", "rows": 1000}],
        "missing": [{"uri": "s3://b/p/dt=2026-03-24/", "error": None}],
        "profile_cached": True,
        "alert_list": [{"severity": "critical", "kind": "drift", "subject": "income", "new": True},
                       {"severity": "warning", "kind": "quality", "subject": "debt_to_income_ratio", "new": False}],
    })
    text = lines.text
    assert "s3://b/train.parquet  rows=5000" in text and "rows=1000" in text
    assert "s3://b/p/dt=2026-03-24/  MISSING" in text
    assert "cache hit" in text
    assert "critical drift       income (new)" in text and "debt_to_income_ratio" in text
    assert "results: s3://b/out/car_loan/date=2026-03-25/" in text


@pytest.mark.parametrize("email, expected", [
    ({"sent": True, "to": ["ml@example.com"], "method": "smtp", "subject": "[ALERT] car_loan"}, "email SENT to ml@example.com"),
    ({"sent": False, "reason": "skipped: already sent at 2026-03-26T00:10 (use --resend to send again)"}, "email not sent: skipped: already sent"),
    ({"sent": False, "reason": "skipped: email.send is on_alert and nothing needs attention"}, "on_alert"),
])
def test_the_email_decision_and_why(lines, email, expected):
    runtime.log_notify(email)
    assert expected in lines.text


class _TI:
    dag_id, task_id, run_id, try_number = "drift_monitor__car_loan", "compute", "manual__2026-03-26T10:00:00+00:00", 1


def test_links_to_the_run_and_the_task_log():
    links = dict(runtime.run_links(_TI(), base_url="http://airflow.example:8080/"))
    run = "http://airflow.example:8080/dags/drift_monitor__car_loan/runs/manual__2026-03-26T10%3A00%3A00%2B00%3A00"
    assert links["Airflow run"] == run
    assert links["Task log"] == run + "/tasks/compute"
    assert runtime.run_links(None, base_url="http://x") == []


def test_rerun_commands_name_the_real_config_and_date():
    cmds = dict(runtime.rerun_commands("/srv/monitors/car_loan.yaml", dt.date(2026, 3, 25), "drift_monitor__car_loan"))
    assert list(cmds.values()) == [
        """airflow dags trigger drift_monitor__car_loan -c '{"date": "2026-03-25"}' """
        '--run-id "date_2026-03-25__$(date -u +%Y%m%dT%H%M%S)"',
        "drift-monitor run /srv/monitors/car_loan.yaml --date 2026-03-25",
    ]
