"""The history on S3: read a few dates at a time, within the time budgets, and not twice in one run."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from monitor.io.commit import Output, commit, committed_metrics, read_committed, read_manifest
from monitor.io.commit import committed as commit_module  # where the process-wide read caches live
from monitor.io.storage import S3Storage, time_limits
from tests.support.s3_faults import S3FaultProxy, on_get

BASE = "s3://hist/out/m/"
DAYS = [f"2026-11-{d:02d}" for d in range(1, 7)]


def _commit(st: S3Storage, day: str, value: int) -> None:
    out = f"{BASE}date={day}/"
    metrics = Output("metrics.json", json.dumps({"date": day, "value": value}).encode(), "application/json")
    commit(st, out, [metrics], {"date": day}, run_id=f"run-{day}-{value}", replace=True)


@pytest.fixture
def proxied(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[S3FaultProxy, S3Storage]]:
    import boto3

    monkeypatch.setattr(commit_module, "_HISTORY", {})
    monkeypatch.setattr(commit_module, "_WRITTEN", {})
    with S3FaultProxy(s3_endpoint) as proxy:
        client: Any = boto3.client("s3", endpoint_url=proxy.endpoint, region_name="us-east-1")
        client.create_bucket(Bucket="hist")
        st = S3Storage(client)
        for day in DAYS:
            _commit(st, day, 1)
        commit_module._WRITTEN.clear()  # the past dates were committed by earlier runs (other processes)
        proxy.requests.clear()
        yield proxy, st


def test_a_second_read_of_the_history_is_the_listing_alone(proxied):
    proxy, st = proxied
    first = committed_metrics(st, BASE, before="2026-11-30")
    assert [d for d, _ in first] == DAYS and all(doc["value"] == 1 for _, doc in first)
    assert proxy.count() == 1 + 2 * len(DAYS)  # the listing, then a manifest and a metrics.json a date
    proxy.requests.clear()
    assert committed_metrics(st, BASE, before="2026-11-30") == first
    assert [r.method for r in proxy.requests] == ["GET"] and "list-type" in proxy.requests[0].path


def test_a_date_committed_again_is_read_again(proxied):
    proxy, st = proxied
    committed_metrics(st, BASE, before="2026-11-30")
    _commit(st, DAYS[2], 2)  # another run of that date: a new manifest (ETag)
    commit_module._WRITTEN.clear()  # ... in another process
    proxy.requests.clear()
    again = dict(committed_metrics(st, BASE, before="2026-11-30"))
    assert again[DAYS[2]]["value"] == 2 and again[DAYS[1]]["value"] == 1
    assert proxy.count() == 1 + 2  # the listing, and the one date that changed


def test_the_dates_are_read_within_the_time_budget(proxied):
    """The dates are read a few at a time in worker threads: the budgets hold there too."""
    proxy, st = proxied
    proxy.silent(match=on_get("manifest.json"))
    t = time.monotonic()
    with time_limits(read_seconds=1):
        assert committed_metrics(st, BASE, before="2026-11-30") == []  # unreadable old runs are skipped
    assert time.monotonic() - t < 8  # botocore alone would wait read_timeout=60 s, with retries
    assert proxy.count(on_get("manifest.json")) == len(DAYS)


def test_an_output_this_process_committed_is_read_back_without_a_get(proxied):
    proxy, st = proxied
    out = f"{BASE}date={DAYS[-1]}/"
    _commit(st, DAYS[-1], 2)
    manifest = read_manifest(st, out)
    proxy.requests.clear()
    assert json.loads(read_committed(st, out, "metrics.json", manifest)) == {"date": DAYS[-1], "value": 2}
    assert proxy.count() == 0


def test_an_output_another_process_committed_is_read(proxied):
    proxy, st = proxied
    out = f"{BASE}date={DAYS[-1]}/"
    _commit(st, DAYS[-1], 3)
    commit_module._WRITTEN.clear()  # committed by another process: nothing remembered here
    manifest = read_manifest(st, out)
    proxy.requests.clear()
    assert json.loads(read_committed(st, out, "metrics.json", manifest))["value"] == 3
    assert [r.key for r in proxy.requests] == ["out/m/date%3D2026-11-06/metrics.json"]
