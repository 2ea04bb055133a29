"""The DAG's failure callback: a notice through the real email path, none when the run's
`send_email` param is off (as --no-email on the command line). A real aiosmtpd server receives it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitor.airflow import runtime
from monitor.errors import DataError
from tests.support.tiny import DAY, write_store


@pytest.fixture
def config_path(tmp_path: Path) -> str:
    root = write_store(tmp_path / "store")
    path = tmp_path / "m.yaml"
    path.write_text(json.dumps({
        "name": "m", "reference": {"uri": str(root / "ref.parquet")},
        "production": {"uri": str(root / "prod" / "dt={date}") + "/"},
        "model": {"task": "binary_classification", "target": "y", "prediction": "p", "score": "s", "id": "id"},
        "output": {"uri": str(root / "out")}, "email": {"to": ["ml@example.com"]},
    }))
    return str(path)


def _context(send_email: object) -> dict:
    params = {"date": DAY.isoformat()} if send_email is None else {"date": DAY.isoformat(), "send_email": send_email}
    return {"params": params, "exception": DataError("s3://b/ref.parquet: no rows"), "ti": None}


@pytest.mark.parametrize("send_email, notices", [(False, 0), (True, 1), (None, 1)])
def test_the_failure_callback_respects_the_send_email_param(config_path, smtp_server, monkeypatch, send_email, notices):
    sink, port = smtp_server
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", f"smtp://127.0.0.1:{port}?disable_ssl=true&disable_tls=true&timeout=5")
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps({"conn_type": "aws"}))
    runtime.on_failure(_context(send_email), config_path=config_path)
    got = sink.wait_for(notices, timeout=5 if notices else 0.5)
    assert len(got) == notices
    if notices:
        assert "[FAILED]" in str(got[0]["Subject"]) and "no rows" in str(got[0]["Subject"])
    index = Path(config_path).parent / "store" / "out" / "index.html"
    assert index.exists() and "failed" in index.read_text().lower()  # the day is marked failed either way
