"""A remote parquet reference is read in place by byte ranges (RangedObject): only the footer and the
column chunks asked for are fetched, each GET held to the object's ETag, each byte fetched once."""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml

from monitor.config import load_config
from monitor.errors import StorageError
from monitor.io.columns import ColumnFrame, ParquetColumns, chunk_range
from monitor.io.inputs import read_inputs
from monitor.io.storage import S3Storage
from monitor.io.storage import s3 as s3_module
from monitor.io.storage.ranged import RangedObject
from monitor.run import RunOptions, compute
from tests.support.golden import differences
from tests.support.s3_faults import Request, S3FaultProxy, on_get
from tests.support.seeded import seeded_store

URI = "s3://ranged/ref.parquet"
DAY = dt.date(2026, 3, 10)


def _frame(n: int = 30_000) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    return pd.DataFrame({
        "id": np.arange(n, dtype=np.int64),
        "x": rng.normal(size=n),
        "y": np.where(rng.uniform(size=n) < 0.1, np.nan, rng.normal(size=n)),
        "c": pd.array(np.array(["a", "b", None], dtype=object)[rng.integers(0, 3, n)], dtype="str"),
        "k": rng.integers(0, 5, n),
    })


@pytest.fixture
def proxied(s3_endpoint: str, tmp_path: Path) -> Iterator[tuple[S3FaultProxy, S3Storage, Any, Path]]:
    import boto3

    upstream: Any = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    upstream.create_bucket(Bucket="ranged")
    local = tmp_path / "ref.parquet"
    _frame().to_parquet(local, index=False, row_group_size=10_000)  # 3 row groups
    upstream.upload_file(str(local), "ranged", "ref.parquet")
    with S3FaultProxy(s3_endpoint) as proxy:
        client: Any = boto3.client("s3", endpoint_url=proxy.endpoint, region_name="us-east-1")
        yield proxy, S3Storage(client), upstream, local


@pytest.fixture
def ranges_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every read fetches just its own ranges (the rest of an object is never fetched with them)."""
    from monitor.io.storage import ranged

    monkeypatch.setattr(ranged, "READ_ALL_FRACTION", 1.0)


def _ref_gets(proxy: S3FaultProxy) -> list[Request]:
    return [r for r in proxy.requests if on_get("ref.parquet")(r)]


def _header(r: Request, name: str) -> str:
    return {k.lower(): v for k, v in r.headers.items()}.get(name, "")


def test_the_columns_read_by_ranges_equal_a_whole_read(proxied, tmp_path, ranges_only):
    proxy, st, _, local = proxied
    obj = RangedObject(st, st.stat(URI), tmp_path / "ref.part")
    cols = ParquetColumns([obj])
    assert [r.method for r in _ref_gets(proxy)] == ["GET"]  # the footer only
    held_from = int(_header(_ref_gets(proxy)[0], "range")[6:].split("-")[0])  # the footer's read: the file's tail
    meta = pq.ParquetFile(local).metadata
    whole = pd.read_parquet(local)
    for name in ["x", "c", "id"]:
        i = meta.schema.to_arrow_schema().get_field_index(name)
        # one GET per row group, none for a chunk the footer's read held already
        expected = sum(chunk_range(meta.row_group(g).column(i))[0] < held_from for g in range(meta.num_row_groups))
        before = len(_ref_gets(proxy))
        pd.testing.assert_series_equal(cols.column(name, keep=False), whole[name])
        assert len(_ref_gets(proxy)) - before == expected >= 1
    gets = _ref_gets(proxy)
    assert all(_header(r, "range").startswith("bytes=") and _header(r, "if-match") for r in gets)
    fetched = sum(int(b) - int(a) + 1 for a, b in (_header(r, "range")[6:].split("-") for r in gets))
    assert fetched < 0.75 * local.stat().st_size  # "y" and "k" were never fetched

    proxy.requests.clear()  # read again: every byte is already here
    pd.testing.assert_series_equal(cols.column("x", keep=False), whole["x"])
    assert ColumnFrame(cols).take([5, 25_000])["k"].tolist() == whole["k"].iloc[[5, 25_000]].tolist()
    assert len(_ref_gets(proxy)) == 3  # only the row groups of "k" that hold the two rows


def test_an_object_replaced_between_the_footer_and_a_column_is_an_error(proxied, tmp_path):
    proxy, st, upstream, local = proxied
    cols = ParquetColumns([RangedObject(st, st.stat(URI), tmp_path / "ref.part")])
    upstream.put_object(Bucket="ranged", Key="ref.parquet", Body=local.read_bytes() + b"\0")  # another version
    with pytest.raises(StorageError, match=r"s3://ranged/ref\.parquet: the object was replaced while it was being read; run again"):
        cols.column("x")
    assert _ref_gets(proxy)[-1].status == 412


def test_a_ranged_body_cut_midway_is_asked_for_again(proxied, tmp_path, ranges_only):
    proxy, st, _, local = proxied
    cols = ParquetColumns([RangedObject(st, st.stat(URI), tmp_path / "ref.part")])
    proxy.truncate(1000, match=on_get("ref.parquet"), times=1)
    pd.testing.assert_series_equal(cols.column("y", keep=False), pd.read_parquet(local)["y"])
    cut, again = _ref_gets(proxy)[1:3]
    assert cut.fault == "truncate" and again.fault is None and _header(cut, "range") == _header(again, "range")

    proxy.truncate(1000, match=on_get("ref.parquet"))  # every time: an error naming the object
    with pytest.raises(StorageError, match=r"s3://ranged/ref\.parquet: cannot read: the connection was lost"):
        cols.column("k")
    assert proxy.count(lambda r: r.fault == "truncate") == 1 + s3_module._STREAM_TRIES


def test_reads_overlapping_fetched_bytes_fetch_only_the_gaps(proxied, tmp_path, ranges_only):
    proxy, st, _, local = proxied
    data = local.read_bytes()
    obj = RangedObject(st, st.stat(URI), tmp_path / "ref.part")
    assert obj.pread(100, 200) == data[100:200] and obj.pread(300, 400) == data[300:400]
    proxy.requests.clear()
    obj.seek(50)
    assert obj.read(400) == data[50:450] and obj.tell() == 450
    assert [_header(r, "range") for r in _ref_gets(proxy)] == ["bytes=50-99", "bytes=200-299", "bytes=400-449"]
    obj.seek(-10, os.SEEK_END)
    assert obj.read() == data[-10:] and obj.read(5) == b""


def test_once_a_tenth_of_the_object_is_asked_for_the_rest_comes_with_it(proxied, tmp_path):
    """A run reading most columns (the first on a new snapshot) makes a few GETs, not one per column."""
    from monitor.io.storage import ranged

    proxy, st, _, local = proxied
    size = local.stat().st_size
    obj = RangedObject(st, st.stat(URI), tmp_path / "ref.part")
    data = local.read_bytes()
    assert obj.pread(size - 100, size) == data[-100:] and obj.pread(0, 100) == data[:100]  # 200 bytes: a range each
    assert obj.pread(size // 2, size // 2 + 1000) == data[size // 2: size // 2 + 1000]
    assert len(_ref_gets(proxy)) == 3
    proxy.requests.clear()
    cut = int(ranged.READ_ALL_FRACTION * size)
    assert obj.pread(1000, 1000 + cut) == data[1000: 1000 + cut]  # past the share: everything missing, in one GET
    assert [_header(r, "range") for r in _ref_gets(proxy)] == [f"bytes=100-{size - 101}"]
    cols = ParquetColumns([obj])
    pd.testing.assert_frame_equal(pd.DataFrame({c: cols.column(c) for c in cols.names}), pd.read_parquet(local))
    assert len(_ref_gets(proxy)) == 1


def _s3_config(tmp_path: Path, client: Any) -> Path:
    local = seeded_store(tmp_path, 4000)
    client.create_bucket(Bucket="data")
    client.upload_file(str(tmp_path / "reference.parquet"), "data", "reference.parquet")
    raw = yaml.safe_load(local.read_text())
    raw["reference"]["uri"] = "s3://data/reference.parquet"
    remote = tmp_path / "remote.yaml"
    remote.write_text(yaml.safe_dump(raw))
    return remote


@pytest.mark.parametrize("hole", [0, None])
def test_a_run_with_a_cached_profile_fetches_a_few_columns_of_an_s3_reference(tmp_path, s3_endpoint, monkeypatch, hole):
    """Requests per S3 run: the reference costs its footer and the columns every run reads, in as few
    GETs as their layout allows (hole 0: one per run of adjacent columns; by default the first GET, of the
    file's last HOLE_BYTES, holds the whole of a small file)."""
    import boto3

    from monitor.io.storage import ranged

    monkeypatch.delenv("MONITOR_STREAM_CELLS", raising=False)
    if hole is not None:
        monkeypatch.setattr(ranged, "HOLE_BYTES", hole)
        monkeypatch.setattr(ranged, "READ_ALL_FRACTION", 1.0)
    upstream: Any = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    cfg = load_config(_s3_config(tmp_path, upstream))
    opts = RunOptions(as_of=DAY, failure_notice=False)
    with S3FaultProxy(s3_endpoint) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.endpoint)
        first = compute(cfg, DAY, opts)
        proxy.requests.clear()
        second = compute(cfg, DAY, opts)
        gets = [r for r in proxy.requests if on_get("reference.parquet")(r)]
    size = (tmp_path / "reference.parquet").stat().st_size
    fetched = sum(int(b) - int(a) + 1 for a, b in (_header(r, "range")[6:].split("-") for r in gets))
    if hole == 0:  # the footer's read (64 KiB: it holds region, score, pred, target), then x0
        assert len(gets) == 2 and fetched < size / 2, [_header(r, "range") for r in gets]
    else:  # the last HOLE_BYTES with the footer: the whole of a file smaller than that, in one GET
        assert len(gets) == 1 and fetched == size
    metrics = [json.loads(Path(r["output_uri"], "metrics.json").read_text()) for r in (first, second)]
    assert differences({**metrics[0], "profile_cached": None}, {**metrics[1], "profile_cached": None}) == []


def test_a_reference_without_an_etag_is_downloaded_whole(tmp_path, s3_endpoint, monkeypatch):
    import boto3

    monkeypatch.delenv("MONITOR_STREAM_CELLS", raising=False)
    cfg = load_config(_s3_config(tmp_path, boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")))
    st = S3Storage()
    stat = st.stat

    def no_etag(uri: str) -> Any:
        from dataclasses import replace

        return replace(stat(uri), etag=None)

    monkeypatch.setattr(st, "stat", no_etag)
    inputs = read_inputs(cfg, DAY, st)
    assert isinstance(inputs.reference, ColumnFrame)
    assert not [p for p in inputs.reference._src._paths if isinstance(p, RangedObject)]
    pd.testing.assert_series_equal(inputs.reference["region"], pd.read_parquet(tmp_path / "reference.parquet")["region"])

