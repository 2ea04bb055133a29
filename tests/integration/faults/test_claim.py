"""The exclusive create behind the email claim: locally and on S3 (through the fault proxy), one winner."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.io.storage import LocalStorage, S3Storage, Storage
from monitor.notify.claim import claim_send, read_claim, release_claim, settle_claim, why_claimed
from tests.support.s3_faults import S3FaultProxy, on_put


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path: Path) -> Iterator[tuple[Storage, str]]:
    if request.param == "local":
        yield LocalStorage(), str(tmp_path / "out" / "date=2026-11-25") + "/"
        return
    upstream = request.getfixturevalue("s3_endpoint")
    import boto3

    with S3FaultProxy(upstream) as proxy:
        client = boto3.client("s3", endpoint_url=proxy.endpoint, region_name="us-east-1")
        client.create_bucket(Bucket="claims")
        yield S3Storage(client), "s3://claims/out/date=2026-11-25/"


def test_create_exclusive_has_one_winner(store):
    st, prefix = store
    uri = prefix + "email_claim.json"
    wins: list[int] = []
    barrier = threading.Barrier(4)

    def go(i: int) -> None:
        barrier.wait()
        if st.create_exclusive(uri, f'{{"run": {i}}}'.encode()):
            wins.append(i)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(wins) == 1
    assert st.read_bytes(uri) == f'{{"run": {wins[0]}}}'.encode()
    assert not st.create_exclusive(uri, b"late")
    if isinstance(st, LocalStorage):  # no temp file left beside the claim
        assert [p.name for p in Path(prefix).iterdir() if p.is_file()] == ["email_claim.json"]


def test_claim_settle_release(store):
    st, prefix = store
    uri = prefix + "email_claim.json"
    assert claim_send(st, uri, "run-a") == (True, None)
    ours, other = claim_send(st, uri, "run-b")
    assert not ours and other is not None and other["run_id"] == "run-a"
    assert "has not recorded the outcome" in why_claimed(other)
    settle_claim(st, uri, "run-a", "unknown", {"error": "timeout"})
    assert "may have been delivered" in why_claimed(read_claim(st, uri) or {})
    release_claim(st, uri, "run-b")  # not ours: kept
    assert read_claim(st, uri) is not None
    release_claim(st, uri, "run-a")
    assert read_claim(st, uri) is None
    assert claim_send(st, uri, "run-b") == (True, None)
    assert claim_send(st, uri, "run-c", force=True) == (True, None)  # --resend


def test_a_lost_answer_to_our_own_claim_is_still_ours(s3_endpoint):
    """The conditional PUT is stored but its answer is cut; botocore retries and meets our own object (412)."""
    import boto3
    from botocore.config import Config

    with S3FaultProxy(s3_endpoint) as proxy:
        client = boto3.client("s3", endpoint_url=proxy.endpoint, region_name="us-east-1",
                              config=Config(retries={"total_max_attempts": 3, "mode": "standard"}))
        client.create_bucket(Bucket="claims")
        proxy.lose_answer(match=on_put("email_claim.json"), times=1)
        uri = "s3://claims/d/email_claim.json"
        assert claim_send(S3Storage(client), uri, "run-a") == (True, None)
        puts = [r for r in proxy.requests if on_put("email_claim.json")(r)]
        assert [r.fault for r in puts] == ["lose_answer", None] and puts[1].status == 412
        assert claim_send(S3Storage(client), uri, "run-b")[0] is False
