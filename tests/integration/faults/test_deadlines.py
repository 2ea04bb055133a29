"""Time budgets: a silent or dripping S3 endpoint fails the read in seconds, with a line naming what timed out."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from monitor.errors import DeadlineError
from monitor.io.storage import S3Storage, check_deadline, time_limits
from tests.support.s3_faults import S3FaultProxy, on_get

DATA = b"x" * 2048


@pytest.fixture
def proxied(s3_endpoint: str) -> Iterator[tuple[S3FaultProxy, S3Storage]]:
    import boto3

    with S3FaultProxy(s3_endpoint) as proxy:
        client: Any = boto3.client("s3", endpoint_url=proxy.endpoint, region_name="us-east-1")
        client.create_bucket(Bucket="slow")
        client.put_object(Bucket="slow", Key="data/part.parquet", Body=DATA)
        yield proxy, S3Storage(client)


def test_silent_endpoint_fails_within_read_seconds(proxied):
    proxy, st = proxied
    proxy.silent(match=on_get("part.parquet"))
    with time_limits(read_seconds=1), pytest.raises(DeadlineError) as exc:
        st.read_bytes("s3://slow/data/part.parquet")
    assert str(exc.value).startswith("reading s3://slow/data/part.parquet: no complete answer within 1 s (limits.read_seconds=1)")


def test_dripping_endpoint_fails_within_read_seconds(proxied):
    """One byte every 0.2 s never trips botocore's per-read timeout; the total budget does."""
    proxy, st = proxied
    proxy.drip(0.2, match=on_get("part.parquet"))
    with time_limits(read_seconds=1.5), pytest.raises(DeadlineError, match=r"limits\.read_seconds=1\.5"):
        st.read_bytes("s3://slow/data/part.parquet")
    assert [r.fault for r in proxy.requests if on_get("part.parquet")(r)] == ["drip"]


def test_the_run_budget_bounds_every_read(proxied):
    proxy, st = proxied
    assert st.read_bytes("s3://slow/data/part.parquet") == DATA  # no limits: as before
    proxy.silent(match=on_get("part.parquet"))
    with time_limits(read_seconds=600, run_seconds=1), pytest.raises(DeadlineError, match=r"limits\.run_seconds=1 \(the run's budget\)"):
        st.read_bytes("s3://slow/data/part.parquet")
    with time_limits(run_seconds=0.000001), pytest.raises(DeadlineError, match="exceeded limits.run_seconds=1e-06 before rendering"):
        import time

        time.sleep(0.001)
        check_deadline("rendering")


def test_errors_inside_the_budget_pass_through(proxied):
    from monitor.errors import NotFoundError

    _, st = proxied
    with time_limits(read_seconds=5), pytest.raises(NotFoundError):
        st.read_bytes("s3://slow/data/missing.parquet")


@pytest.mark.parametrize("fault", ["silent", "drip"])
def test_a_run_against_a_hanging_endpoint_fails_in_seconds_with_a_notice(tmp_path, s3_endpoint, fault):
    """Before the budgets a silent endpoint took 449 s and a drip more than 900 s; now limits.read_seconds."""
    import boto3

    from monitor.run import Clients, RunOptions, run
    from tests.support.tiny import DAY, tiny_config, write_store

    root = write_store(tmp_path / "store")
    with S3FaultProxy(s3_endpoint) as proxy:
        client: Any = boto3.client("s3", endpoint_url=proxy.endpoint, region_name="us-east-1")
        for bucket in ("data", "monitoring"):
            client.create_bucket(Bucket=bucket)
        client.upload_file(str(root / "ref.parquet"), "data", "ref.parquet")
        client.upload_file(str(root / "prod" / f"dt={DAY}" / "part-0.parquet"), "data", f"prod/dt={DAY}/part-0.parquet")
        cfg = tiny_config("s3://data", output="s3://monitoring/", outbox=str(tmp_path / "outbox"),
                          limits={"read_seconds": 1.5, "run_seconds": 60})
        if fault == "silent":
            proxy.silent(match=on_get("ref.parquet"))
        else:
            proxy.drip(0.2, match=on_get("ref.parquet"))
        with pytest.raises(DeadlineError, match=r"s3://data/ref\.parquet: no complete answer within 1\.5 s \(limits\.read_seconds=1\.5\)"):
            run(cfg, DAY, RunOptions(as_of=DAY), Clients(s3=S3Storage(client)))
        notices = list((tmp_path / "outbox").glob("*.failed.eml"))
        assert len(notices) == 1 and "limits.read_seconds" in notices[0].read_text()
