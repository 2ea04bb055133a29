"""Shared fixtures; markers by folder: tests/integration -> integration, tests/e2e -> e2e."""

import os
from pathlib import Path

import pytest

# Tests never reach a real AWS or SMTP host: drop any ambient connection settings.
for var in ("AIRFLOW_CONN_SMTP_DEFAULT", "AIRFLOW_CONN_AWS_DEFAULT", "AWS_ENDPOINT_URL", "AWS_PROFILE"):
    os.environ.pop(var, None)

_FOLDER_MARKERS = {"integration": "integration", "e2e": "e2e"}


def pytest_collection_modifyitems(config, items):
    tests = Path(__file__).parent
    for item in items:
        try:
            folder = Path(str(item.fspath)).relative_to(tests).parts[0]
        except ValueError:
            continue
        marker = _FOLDER_MARKERS.get(folder)
        if marker:
            item.add_marker(getattr(pytest.mark, marker))


@pytest.fixture
def s3_endpoint(monkeypatch):
    from tests.support.servers import aws_env, moto_s3

    with moto_s3() as endpoint:
        for k, v in aws_env(endpoint).items():
            monkeypatch.setenv(k, v)
        yield endpoint


@pytest.fixture
def smtp_server():
    from tests.support.servers import smtp_sink

    with smtp_sink() as (sink, port):
        yield sink, port
