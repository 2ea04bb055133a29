import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

# Tests never reach a real AWS or SMTP host: drop any ambient connection settings.
for var in ("AIRFLOW_CONN_SMTP_DEFAULT", "AIRFLOW_CONN_AWS_DEFAULT", "AWS_ENDPOINT_URL", "AWS_PROFILE"):
    os.environ.pop(var, None)


@pytest.fixture
def s3_endpoint(monkeypatch):
    from _servers import aws_env, moto_s3

    with moto_s3() as endpoint:
        for k, v in aws_env(endpoint).items():
            monkeypatch.setenv(k, v)
        yield endpoint


@pytest.fixture
def smtp_server():
    from _servers import smtp_sink

    with smtp_sink() as (sink, port):
        yield sink, port
