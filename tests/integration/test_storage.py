import datetime as dt
import gzip
import io

import boto3
import pandas as pd
import pytest

from monitor.errors import DataError, NotFoundError, StorageError
from monitor.io.storage import LocalStorage, S3Storage, aws_settings_from_env, format_uri, read_table, read_tables, storage_for

FRAME = pd.DataFrame({"id": [1, 2, 3], "x": [0.5, 1.5, None], "c": ["a", "b", "a"]})


def test_format_uri():
    d = dt.date(2026, 11, 25)
    assert format_uri("s3://b/p/dt={date}/", d) == "s3://b/p/dt=2026-11-25/"
    assert format_uri("s3://b/p/{date:%Y/%m/%d}/x.csv", d) == "s3://b/p/2026/11/25/x.csv"
    with pytest.raises(DataError, match="only {date}"):
        format_uri("s3://b/{day}/", d)


def test_local_roundtrip_and_atomic_write(tmp_path):
    st = LocalStorage()
    uri = str(tmp_path / "a" / "b.json")
    st.write_text(uri, '{"k": 1}')
    assert st.read_json(uri) == {"k": 1}
    st.write_text(uri, '{"k": 2}')
    assert st.read_json(uri) == {"k": 2}
    files = [p.relative_to(tmp_path / "a").as_posix() for p in (tmp_path / "a").rglob("*") if p.is_file()]
    assert files == ["b.json"]  # no temp files left (they live in the hidden .staging/tmp while written)
    info = st.stat(uri)
    assert info.size == len('{"k": 2}') and info.mtime
    with pytest.raises(NotFoundError, match="no such file"):
        st.read_bytes(str(tmp_path / "missing"))


@pytest.mark.parametrize("name", ["t.parquet", "t.csv", "t.csv.gz", "t.jsonl", "t.jsonl.gz"])
def test_read_formats_and_columns(tmp_path, name):
    p = tmp_path / name
    if name.endswith(".parquet"):
        FRAME.to_parquet(p)
    else:
        buf = io.StringIO()
        FRAME.to_csv(buf, index=False) if ".csv" in name else FRAME.to_json(buf, orient="records", lines=True)
        data = buf.getvalue().encode()
        p.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    df = read_table(LocalStorage(), str(p), columns=["id", "c", "not_there"])
    assert list(df.columns) == ["id", "c"]
    assert df["id"].tolist() == [1, 2, 3]


def test_prefix_reads_all_table_files(tmp_path):
    FRAME.to_parquet(tmp_path / "part-0.parquet")
    FRAME.to_parquet(tmp_path / "part-1.parquet")
    (tmp_path / "_SUCCESS").write_text("")
    df, objs = read_tables(LocalStorage(), str(tmp_path) + "/")
    assert len(df) == 6 and len(objs) == 2


def test_bad_files_give_clear_errors(tmp_path):
    good = io.BytesIO()
    FRAME.to_parquet(good)
    (tmp_path / "trunc.parquet").write_bytes(good.getvalue()[:40])
    with pytest.raises(DataError, match=r"trunc.parquet: cannot parse as parquet"):
        read_table(LocalStorage(), str(tmp_path / "trunc.parquet"))
    (tmp_path / "latin.csv").write_bytes("id,name\n1,Jos\xe9\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"latin.csv: not valid UTF-8.*encoding: latin-1"):
        read_table(LocalStorage(), str(tmp_path / "latin.csv"))
    df = read_table(LocalStorage(), str(tmp_path / "latin.csv"), csv_options={"encoding": "latin-1"})
    assert df["name"].tolist() == ["José"]
    (tmp_path / "x.bin").write_bytes(b"??")
    with pytest.raises(DataError, match="set `format"):
        read_table(LocalStorage(), str(tmp_path / "x.bin"))
    with pytest.raises(NotFoundError, match="no data files"):
        read_tables(LocalStorage(), str(tmp_path / "empty-dir") + "/")


def test_storage_for_schemes():
    assert isinstance(storage_for("/tmp/x"), LocalStorage)
    assert isinstance(storage_for("s3://b/k"), S3Storage)
    with pytest.raises(StorageError, match="unsupported scheme 'gs'"):
        storage_for("gs://b/k")


def test_aws_settings_from_airflow_connection():
    env = {"AIRFLOW_CONN_AWS_DEFAULT": '{"conn_type": "aws", "login": "AK", "password": "SK", "extra": {"endpoint_url": "http://127.0.0.1:9000", "region_name": "eu-west-1"}}'}
    kw = aws_settings_from_env(env)
    assert kw == {"endpoint_url": "http://127.0.0.1:9000", "region_name": "eu-west-1", "aws_access_key_id": "AK", "aws_secret_access_key": "SK"}
    kw = aws_settings_from_env({"AIRFLOW_CONN_AWS_DEFAULT": "aws://AK:S%2FK@/?endpoint_url=http%3A%2F%2F127.0.0.1%3A9000&region_name=eu-west-1"})
    assert kw["aws_secret_access_key"] == "S/K" and kw["endpoint_url"] == "http://127.0.0.1:9000"


def test_s3_storages_with_the_same_settings_share_one_client(monkeypatch):
    """A run builds an S3Storage per URI; each made its own boto3 client (16 a run, 0.4 s)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AK")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "SK")
    env = {"AWS_ENDPOINT_URL": "http://127.0.0.1:9"}
    first = S3Storage(env=env).client
    assert S3Storage(env=dict(env)).client is first
    assert S3Storage(env={"AWS_ENDPOINT_URL": "http://127.0.0.1:10"}).client is not first  # another endpoint
    conn = '{"login": "AK2", "password": "SK2", "extra": {"endpoint_url": "http://127.0.0.1:9"}}'
    assert S3Storage(env={"AIRFLOW_CONN_AWS_DEFAULT": conn}).client is not first  # other credentials
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")  # boto3 reads AWS_* from the process environment itself
    other = S3Storage(env=env).client
    assert other is not first
    assert first.meta.endpoint_url == "http://127.0.0.1:9"


@pytest.mark.integration
def test_s3_against_moto_server(s3_endpoint):
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    client.create_bucket(Bucket="data")
    buf = io.BytesIO()
    FRAME.to_parquet(buf)
    client.put_object(Bucket="data", Key="p/dt=2026-11-25/part-0.parquet", Body=buf.getvalue())
    client.put_object(Bucket="data", Key="p/dt=2026-11-25/part-1.csv", Body=FRAME.to_csv(index=False).encode())
    st = S3Storage()
    df, objs = read_tables(st, "s3://data/p/dt=2026-11-25/", columns=["id", "x"])
    assert len(df) == 6 and [o.etag is not None for o in objs] == [True, True]
    st.write_text("s3://data/out/m.json", '{"a": 1}')
    assert st.read_json("s3://data/out/m.json") == {"a": 1}
    assert st.stat("s3://data/out/m.json").size == 8
    assert st.presigned_url("s3://data/out/m.json").startswith(s3_endpoint)
    with pytest.raises(NotFoundError, match=r"s3://data/nope.parquet: no such object"):
        st.stat("s3://data/nope.parquet")
    with pytest.raises(NotFoundError, match="bucket 'nobucket' does not exist"):
        st.stat("s3://nobucket/x.parquet")
    with pytest.raises(NotFoundError, match="bucket 'nobucket' does not exist"):
        st.list("s3://nobucket/p/")
    with pytest.raises(NotFoundError, match="no data files"):
        read_tables(st, "s3://data/p/dt=2026-11-24/")


def test_local_list_skips_a_file_removed_while_listing(tmp_path):
    """Another run of the date removes its temp file between the folder walk and the stat: the
    listing goes on without it (this raised FileNotFoundError in one of ~80 concurrent runs)."""
    from pathlib import Path

    from monitor.io.storage import LocalStorage, ObjectInfo

    (tmp_path / "keep.json").write_text("{}")
    (tmp_path / "gone.tmp").write_text("x")

    class Racing(LocalStorage):
        def _info(self, p: Path, uri: str) -> ObjectInfo:
            if p.name == "gone.tmp":
                p.unlink()  # removed by the other run just now
            return super()._info(p, uri)

    st = Racing()
    assert [Path(o.uri).name for o in st.list(str(tmp_path))] == ["keep.json"]
    import pytest

    from monitor.errors import NotFoundError

    (tmp_path / "gone.tmp").write_text("x")
    with pytest.raises(NotFoundError):
        st.stat(str(tmp_path / "gone.tmp"))


def test_local_list_skips_a_folder_removed_while_walking(tmp_path):
    """Another run removes its (now empty) staged folder while the sweep walks the date's folder:
    the walk goes on (Path.rglob raised FileNotFoundError out of the walk)."""
    import os

    from monitor.io.storage import LocalStorage

    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "keep.json").write_text("{}")
    for i in range(50):
        (tmp_path / f"run{i:02d}").mkdir()
    real_scandir = os.scandir

    def racing_scandir(path):  # every run folder vanishes just before it is read
        if os.path.basename(os.fspath(path)).startswith("run"):
            os.rmdir(path)
        return real_scandir(path)

    import pytest

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(os, "scandir", racing_scandir)
        got = LocalStorage().list(str(tmp_path))
    assert [os.path.basename(o.uri) for o in got] == ["keep.json"]
