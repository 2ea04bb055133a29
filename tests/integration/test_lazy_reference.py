"""The reference is read lazily: a parquet snapshot is opened, not loaded; a run reads the columns it
uses, and on a snapshot an earlier run summed up (the cache under `_profiles/`), none of its features."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import boto3
import pandas as pd
import pytest
import yaml

from monitor.config import load_config
from monitor.io.columns import ColumnFrame, ParquetColumns
from monitor.io.inputs import read_inputs
from monitor.io.storage import S3Storage
from monitor.io.storage.ranged import RangedObject
from monitor.run import RunOptions, compute
from tests.support.golden import differences
from tests.support.seeded import seeded_store

DAY = dt.date(2026, 3, 10)
FEATURES = [*(f"x{i}" for i in range(6)), "visits", "region", "plan"]


@pytest.fixture
def reads(monkeypatch) -> list[tuple[str, str]]:
    """(file name, column) of every column read from parquet through a ColumnFrame."""
    seen: list[tuple[str, str]] = []
    read = ParquetColumns._read

    def spy(self: ParquetColumns, name: str) -> pd.Series:
        seen.append((Path(str(self._paths[0])).name, name))
        return read(self, name)

    monkeypatch.setattr(ParquetColumns, "_read", spy)
    return seen


def _metrics(out: str) -> dict:
    return json.loads(Path(out, "metrics.json").read_text())


def test_a_parquet_reference_is_opened_not_loaded(tmp_path, reads, monkeypatch):
    monkeypatch.delenv("MONITOR_STREAM_CELLS", raising=False)
    cfg = load_config(seeded_store(tmp_path, 2000))
    inputs = read_inputs(cfg, DAY, None)
    assert isinstance(inputs.reference, ColumnFrame) and len(inputs.reference) == 2000
    assert not [c for f, c in reads if f == "reference.parquet"]
    assert isinstance(inputs.current, pd.DataFrame)  # a small day is still read into memory
    pd.testing.assert_series_equal(inputs.reference["x1"], pd.read_parquet(tmp_path / "reference.parquet")["x1"])


def test_a_csv_reference_is_read_as_before(tmp_path, monkeypatch):
    monkeypatch.delenv("MONITOR_STREAM_CELLS", raising=False)
    path = seeded_store(tmp_path, 600)
    pd.read_parquet(tmp_path / "reference.parquet").to_csv(tmp_path / "reference.csv", index=False)
    raw = yaml.safe_load(path.read_text())
    raw["reference"]["uri"] = str(tmp_path / "reference.csv")
    path.write_text(yaml.safe_dump(raw))
    inputs = read_inputs(load_config(path), DAY, None)
    assert isinstance(inputs.reference, pd.DataFrame) and len(inputs.reference) == 600


def test_a_cached_snapshot_reads_no_reference_feature(tmp_path, reads, monkeypatch):
    monkeypatch.delenv("MONITOR_STREAM_CELLS", raising=False)
    cfg = load_config(seeded_store(tmp_path, 3000))
    opts = RunOptions(as_of=DAY, failure_notice=False)
    first = _metrics(compute(cfg, DAY, opts)["output_uri"])
    ref_reads = [c for f, c in reads if f == "reference.parquet"]
    assert set(FEATURES) <= set(ref_reads)  # summed up (and fitted into the drift profile) once
    cached = [p for p in (tmp_path / "out" / "seeded" / "_profiles").glob("*.json")
              if json.loads(p.read_text())["format"] == "monitor.quality.reference_stats"]  # (the cohorts' is another)
    assert len(cached) == 1

    reads.clear()
    second = _metrics(compute(cfg, DAY, opts)["output_uri"])
    ref_reads = [c for f, c in reads if f == "reference.parquet"]
    cohorts = {"region", "x0"}  # the cohorts' baseline rows are the reference's
    assert not (set(FEATURES) - cohorts) & set(ref_reads), ref_reads
    assert set(ref_reads) <= {"score", "pred", "target", *cohorts}  # outputs and label: quality, performance (ids: cached)
    assert second["profile_cached"] and not first["profile_cached"]
    assert differences({**first, "profile_cached": None}, {**second, "profile_cached": None}) == []

    # a damaged summary is worked out again (same results) and rewritten
    cached[0].write_text('{"format": "monitor.quality.reference_stats", "version": 1, "rows": 3000, "columns": {"x0": 5}}')
    third = _metrics(compute(cfg, DAY, opts)["output_uri"])
    assert differences({**first, "profile_cached": None}, {**third, "profile_cached": None}) == []
    assert "x0" in json.loads(cached[0].read_text())["columns"]


def test_the_days_a_cached_snapshot_spans_are_not_read_again(tmp_path, reads, monkeypatch):
    """The reference's timestamps (for its daily volume) are read and parsed once per snapshot."""
    monkeypatch.delenv("MONITOR_STREAM_CELLS", raising=False)
    path = seeded_store(tmp_path, 3000)
    ref = pd.read_parquet(tmp_path / "reference.parquet")
    ref.assign(ts=pd.Timestamp("2026-01-01") + pd.to_timedelta(ref.index * 1200, unit="s")).to_parquet(
        tmp_path / "reference.parquet", index=False)
    raw = yaml.safe_load(path.read_text())
    raw["model"]["timestamp"] = "ts"
    path.write_text(yaml.safe_dump(raw))
    cfg, opts = load_config(path), RunOptions(as_of=DAY, failure_notice=False)
    first = _metrics(compute(cfg, DAY, opts)["output_uri"])
    assert ("reference.parquet", "ts") in reads
    docs = [json.loads(p.read_text()) for p in (tmp_path / "out" / "seeded" / "_profiles").glob("*.json")]
    days = [v for d in docs if d["format"] == "monitor.quality.reference_stats" for k, v in d["figures"].items() if k == "days|ts"]
    assert days == [3000 * 1200 / 86400 - 1200 / 86400]  # first to last timestamp
    reads.clear()
    second = _metrics(compute(cfg, DAY, opts)["output_uri"])
    assert ("reference.parquet", "ts") not in reads
    assert differences({**first, "profile_cached": None}, {**second, "profile_cached": None}) == []


def test_no_cache_when_profile_caching_is_off(tmp_path, monkeypatch):
    path = seeded_store(tmp_path, 600)
    raw = yaml.safe_load(path.read_text())
    raw["drift"] = {"cache_profile": False}
    path.write_text(yaml.safe_dump(raw))
    compute(load_config(path), DAY, RunOptions(as_of=DAY, failure_notice=False))
    assert not list((tmp_path / "out" / "seeded").glob("_profiles/*"))


def test_an_s3_reference_is_read_in_place_by_ranges(tmp_path, s3_endpoint, reads, monkeypatch):
    monkeypatch.delenv("MONITOR_STREAM_CELLS", raising=False)
    (tmp_path / "local").mkdir()
    local = seeded_store(tmp_path / "local", 1000)
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    client.create_bucket(Bucket="data")
    client.upload_file(str(tmp_path / "local" / "reference.parquet"), "data", "ref/reference.parquet")
    raw = yaml.safe_load(local.read_text())
    raw["reference"]["uri"] = "s3://data/ref/reference.parquet"
    remote = tmp_path / "remote.yaml"
    remote.write_text(yaml.safe_dump(raw))
    inputs = read_inputs(load_config(remote), DAY, S3Storage())
    assert isinstance(inputs.reference, ColumnFrame)
    source = inputs.reference._src._paths[0]
    assert isinstance(source, RangedObject) and str(source) == "s3://data/ref/reference.parquet"
    folder = Path(source._path).parent  # the bytes fetched so far, in a sparse file
    assert folder.exists() and folder.name.startswith("monitor-stream-")
    pd.testing.assert_series_equal(inputs.reference["region"], pd.read_parquet(tmp_path / "local" / "reference.parquet")["region"])
    del inputs
    import gc

    gc.collect()
    assert not folder.exists()  # the fetched bytes go with the frame


def test_remote_tables_are_downloaded_not_held_in_memory(tmp_path, s3_endpoint, monkeypatch):
    """A remote parquet day goes through a temporary file (Arrow reads its columns from disk, not from
    the object's bytes held next to the frame); a CSV is read as bytes, in one GET; the cached drift
    profile is read as a map of a temporary file (S3Storage.read_buffer), in one GET."""
    from monitor.io.outputs import cached_profile
    from monitor.io.storage import read_table

    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    client.create_bucket(Bucket="data")
    frame = pd.DataFrame({"id": range(5), "x": [0.5, None, 2.0, 3.0, 4.0], "c": list("abcab")})
    buf = tmp_path / "t.parquet"
    frame.to_parquet(buf, index=False)
    client.upload_file(str(buf), "data", "t.parquet")
    client.put_object(Bucket="data", Key="t.csv", Body=frame.to_csv(index=False).encode())
    st = S3Storage()
    calls: list[str] = []
    for name in ("read_bytes", "download", "read_buffer"):
        real = getattr(st, name)
        monkeypatch.setattr(st, name, lambda uri, *a, _r=real, _n=name: (calls.append(f"{_n} {uri}"), _r(uri, *a))[1])
    pd.testing.assert_frame_equal(read_table(st, "s3://data/t.parquet"), pd.read_parquet(buf))
    assert calls == ["download s3://data/t.parquet"]
    calls.clear()
    assert len(read_table(st, "s3://data/t.csv")) == 5 and calls == ["read_bytes s3://data/t.csv"]

    calls.clear()
    raw = yaml.safe_load(seeded_store(tmp_path, 100).read_text())
    raw["output"]["uri"] = "s3://data/out"
    cfg = _config_of(raw, tmp_path)
    client.put_object(Bucket="data", Key="out/seeded/_profiles/k.npz", Body=b"profile bytes")
    got, hit = cached_profile(cfg, "k", lambda: b"fitted", lambda b: (type(b).__name__, bytes(b)), st)
    assert (got, hit) == (("mmap", b"profile bytes"), True)
    assert calls == ["read_buffer s3://data/out/seeded/_profiles/k.npz"]


def _config_of(raw: dict, folder: Path):
    path = folder / "cfg.yaml"
    path.write_text(yaml.safe_dump(raw))
    return load_config(path)
