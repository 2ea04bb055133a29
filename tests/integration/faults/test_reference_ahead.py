"""A remote reference is fetched while the production window is read; its error still comes first."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from monitor.errors import DeadlineError
from monitor.io.inputs import read_inputs
from monitor.io.storage import S3Storage, time_limits
from tests.support.s3_faults import S3FaultProxy, on_get
from tests.support.tiny import DAY, tiny_config, write_store


def _upload(client: Any, root: Path) -> None:
    client.create_bucket(Bucket="data")
    client.upload_file(str(root / "ref.parquet"), "data", "ref.parquet")
    client.upload_file(str(root / "prod" / f"dt={DAY}" / "part-0.parquet"), "data", f"prod/dt={DAY}/part-0.parquet")


def test_the_production_window_is_read_while_the_reference_is_fetched(tmp_path, s3_endpoint):
    import boto3

    root = write_store(tmp_path / "store")
    with S3FaultProxy(s3_endpoint) as proxy:
        client: Any = boto3.client("s3", endpoint_url=proxy.endpoint, region_name="us-east-1")
        _upload(client, root)
        proxy.silent(match=on_get("ref.parquet"))  # the reference never comes
        with time_limits(read_seconds=2), pytest.raises(DeadlineError, match=r"s3://data/ref\.parquet: no complete answer"):
            read_inputs(tiny_config("s3://data"), DAY, S3Storage(client))
        # read meanwhile (before: nothing after the reference was asked for)
        assert proxy.count(on_get("part-0.parquet")) == 1


def test_inputs_are_recorded_in_reading_order(tmp_path, s3_endpoint):
    import boto3

    root = write_store(tmp_path / "store")
    client: Any = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    _upload(client, root)
    remote = read_inputs(tiny_config("s3://data"), DAY, S3Storage(client))
    local = read_inputs(tiny_config(str(root)), DAY, None)
    assert [o["role"] for o in remote.objects] == [o["role"] for o in local.objects] == ["reference", "production"]
    assert remote.reference_identity.startswith("s3://data/ref.parquet:") and len(remote.current) == len(local.current)
