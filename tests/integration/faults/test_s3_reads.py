"""Reading S3 objects: one GET each, and a connection lost in the middle of a body is resumed, not fatal."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from monitor.errors import StorageError
from monitor.io.storage import S3Storage
from monitor.io.storage import s3 as s3_module
from tests.support.s3_faults import Request, S3FaultProxy, on_get

DATA = os.urandom(300_000)
URI = "s3://reads/data/big.parquet"


@pytest.fixture
def proxied(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[S3FaultProxy, S3Storage, Any]]:
    import boto3

    monkeypatch.setattr(s3_module, "_CHUNK", 64 * 1024)  # a download in a few pieces
    upstream: Any = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    upstream.create_bucket(Bucket="reads")
    upstream.put_object(Bucket="reads", Key="data/big.parquet", Body=DATA)
    with S3FaultProxy(s3_endpoint) as proxy:
        client: Any = boto3.client("s3", endpoint_url=proxy.endpoint, region_name="us-east-1")
        yield proxy, S3Storage(client), upstream


def _gets(proxy: S3FaultProxy) -> list[Request]:
    return [r for r in proxy.requests if r.key == "data/big.parquet"]


def _range(r: Request) -> str:
    return {k.lower(): v for k, v in r.headers.items()}.get("range", "")


def test_a_download_is_one_get(proxied, tmp_path):
    proxy, st, _ = proxied
    st.download(URI, tmp_path / "big.parquet")
    assert (tmp_path / "big.parquet").read_bytes() == DATA
    assert [(r.method, _range(r)) for r in _gets(proxy)] == [("GET", "")]  # no HEAD, no ranged GETs


def test_a_download_cut_midway_resumes_where_it_stopped(proxied, tmp_path):
    proxy, st, _ = proxied
    proxy.truncate(150_000, match=on_get("big.parquet"), times=1)
    st.download(URI, tmp_path / "big.parquet")
    assert (tmp_path / "big.parquet").read_bytes() == DATA
    first, again = _gets(proxy)
    assert first.fault == "truncate" and again.fault is None
    start = int(_range(again).removeprefix("bytes=").rstrip("-"))
    assert 0 < start <= 150_000 and start % (64 * 1024) == 0  # the pieces already on disk are kept
    assert any(k.lower() == "if-match" for k in again.headers)  # ... only if the object is still the same


def test_a_download_stops_when_the_object_is_replaced_midway(proxied, tmp_path):
    proxy, st, upstream = proxied

    def replace_before_resume(r: Request) -> bool:
        if r.key == "data/big.parquet" and _range(r):
            upstream.put_object(Bucket="reads", Key="data/big.parquet", Body=b"another object")
        return False

    proxy.truncate(150_000, match=on_get("big.parquet"), times=1)
    proxy.fail_503(match=replace_before_resume)  # never takes a request; replaces the object first
    with pytest.raises(StorageError, match=r"s3://reads/data/big\.parquet: the object was replaced while it was being read"):
        st.download(URI, tmp_path / "big.parquet")


def test_read_bytes_cut_midway_starts_again(proxied):
    proxy, st, _ = proxied
    proxy.truncate(100_000, match=on_get("big.parquet"), times=1)
    assert st.read_bytes(URI) == DATA
    assert [(r.fault, _range(r)) for r in _gets(proxy)] == [("truncate", ""), (None, "")]


def test_a_connection_lost_every_time_is_an_error_naming_the_object(proxied, tmp_path):
    proxy, st, _ = proxied
    proxy.truncate(100_000, match=on_get("big.parquet"))
    with pytest.raises(StorageError, match=r"s3://reads/data/big\.parquet: cannot read: the connection was lost in the middle"):
        st.download(URI, tmp_path / "big.parquet")
    assert len(_gets(proxy)) == s3_module._STREAM_TRIES


def test_a_missing_object_in_a_bucket_that_answered_costs_one_head(proxied):
    proxy, st, _ = proxied
    assert not st.exists("s3://reads/data/missing.parquet")  # the bucket has not answered yet: HEAD it too
    assert [(r.method, r.path.split("?")[0]) for r in proxy.requests] == [("HEAD", "/reads/data/missing.parquet"), ("HEAD", "/reads")]
    proxy.requests.clear()
    st.read_bytes(URI)
    assert not st.exists("s3://reads/data/missing-too.parquet")
    assert [r.method for r in proxy.requests] == ["GET", "HEAD"]  # no HEAD of the bucket


def test_a_missing_bucket_is_still_named_after_another_bucket_answered(proxied):
    from monitor.errors import BucketNotFoundError

    _, st, _ = proxied
    st.read_bytes(URI)
    with pytest.raises(BucketNotFoundError, match="bucket 'nobucket' does not exist"):
        st.stat("s3://nobucket/x.parquet")


def test_read_buffer_is_a_read_only_map_of_one_get_that_resumes_where_it_stopped(proxied):
    """The cached drift profile's buffer: streamed to a temporary file and mapped (its pages can be given
    back after each column's test), not held as bytes; one GET, resumed (If-Match) when cut."""
    import mmap

    proxy, st, upstream = proxied
    proxy.truncate(150_000, match=on_get("big.parquet"), times=1)
    buf = st.read_buffer(URI)
    assert isinstance(buf, mmap.mmap) and buf[:] == DATA
    first, again = _gets(proxy)
    assert first.fault == "truncate" and _range(again).startswith("bytes=") and any(k.lower() == "if-match" for k in again.headers)
    with pytest.raises(TypeError):
        buf[0] = 0  # read-only
    buf.madvise(mmap.MADV_DONTNEED, 0, mmap.PAGESIZE)  # given back: read again from the file
    assert buf[: mmap.PAGESIZE] == DATA[: mmap.PAGESIZE]
    buf.close()

    upstream.put_object(Bucket="reads", Key="data/empty.bin", Body=b"")
    assert st.read_buffer("s3://reads/data/empty.bin") == b""  # an empty file cannot be mapped
    from monitor.errors import ObjectNotFoundError

    with pytest.raises(ObjectNotFoundError, match=r"s3://reads/data/missing\.bin: no such object"):
        st.read_buffer("s3://reads/data/missing.bin")
