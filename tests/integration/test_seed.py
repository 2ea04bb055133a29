"""docker/seed_s3.py --if-missing (what compose's minio-init runs at every start): the demo data is
written when the day before the start is missing, and left alone when it is there."""

from __future__ import annotations

import datetime as dt
import importlib.util

from tests.support.paths import ROOT
from tests.support.servers import aws_env, moto_s3


def _seed_module():
    spec = importlib.util.spec_from_file_location("seed_s3", ROOT / "docker" / "seed_s3.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_seeded_when_yesterday_is_missing_and_only_then(monkeypatch):
    seed = _seed_module()
    with moto_s3() as endpoint:
        for key, value in aws_env(endpoint).items():
            monkeypatch.setenv(key, value)
        monkeypatch.delenv("AIRFLOW_CONN_AWS_DEFAULT", raising=False)
        first = dt.date(2026, 3, 30)
        assert seed.seed("seed-test", first, if_missing=True, rows_per_day=50) > 0
        assert seed.seed("seed-test", first, if_missing=True, rows_per_day=50) == 0  # restart the same day
        a_week_later = first + dt.timedelta(days=7)
        assert seed.seed("seed-test", a_week_later, if_missing=True, rows_per_day=50) > 0  # restart a week later
        from monitor.io.storage import S3Storage

        client = S3Storage().client
        assert seed.has_day(client, "seed-test", a_week_later) and seed.has_day(client, "seed-test", first)
