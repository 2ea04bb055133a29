"""Shared set-up for the Airflow tests: a throw-away AIRFLOW_HOME on SQLite, demo data on moto S3.

Airflow reads its configuration once, at import time, so every Airflow process here is a
subprocess with its own environment; the pytest process only talks to the servers.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from tests.support.paths import DAGS, ROOT

PYTHON = sys.executable
BIN = Path(sys.executable).parent
BUCKET = "airflow-dagtest"  # moto state is per process: a name no other test uses


def airflow_env(home: Path, *, s3_endpoint: str, smtp_port: int, config_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of every Airflow process of a test: tmp home, SQLite, this repo's dags/."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "AWS_"))}
    env.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        # a generous SQLite busy timeout: the CLI, scheduler, DAG processor and API server share one file
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db?timeout=60",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        "MONITOR_CONFIG_DIR": str(config_dir),
        "AIRFLOW_CONN_AWS_DEFAULT": json.dumps({
            "conn_type": "aws", "login": "testing", "password": "testing",
            "extra": {"endpoint_url": s3_endpoint, "region_name": "us-east-1"},
        }),
        "AIRFLOW_CONN_SMTP_DEFAULT": json.dumps({
            "conn_type": "smtp", "host": "127.0.0.1", "port": smtp_port,
            "extra": {"disable_ssl": True, "disable_tls": True, "timeout": 10, "retry_limit": 1},
        }),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "PYTHONPATH": os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        "NO_PROXY": "*",
        "no_proxy": "*",
    })
    env.update(extra)
    return env


def migrate(env: dict[str, str]) -> float:
    """`airflow db migrate` into the env's SQLite file; returns the wall time."""
    Path(env["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    proc = subprocess.run([str(BIN / "airflow"), "db", "migrate"], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"airflow db migrate failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    wal(Path(env["AIRFLOW_HOME"]) / "airflow.db")
    return time.perf_counter() - t


def wal(db: Path) -> None:
    """Write-ahead logging (persistent in the file): readers no longer block the scheduler's writes."""
    import sqlite3

    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA journal_mode=WAL")


def upload_demo(endpoint: str, workdir: Path, end: dt.date, bucket: str = BUCKET) -> None:
    """Generate the demo store (30 days ending `end`) and upload it to `bucket` on the S3 endpoint."""
    import boto3

    from monitor.demo.generator import generate

    generate(workdir, end)
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    s3.create_bucket(Bucket=bucket)
    for path in sorted(workdir.rglob("*")):
        if path.is_file():
            s3.upload_file(str(path), bucket, path.relative_to(workdir).as_posix())


def write_config(folder: Path, name: str = "car_loan", bucket: str = BUCKET, **replace: str) -> Path:
    """The demo config with its storage on s3://bucket (and optional text replacements)."""
    text = (ROOT / "monitors" / "demo.yaml").read_text()
    text = text.replace("${DEMO_DIR:-demo}", f"s3://{bucket}").replace("name: car_loan", f"name: {name}")
    for old, new in replace.items():
        assert old in text, old
        text = text.replace(old, new)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(text)
    return path


def s3_client(endpoint: str):
    import boto3

    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def read_json(endpoint: str, key: str, bucket: str = BUCKET) -> dict:
    return json.loads(s3_client(endpoint).get_object(Bucket=bucket, Key=key)["Body"].read())


def keys(endpoint: str, prefix: str, bucket: str = BUCKET) -> list[str]:
    out, token = [], None
    s3 = s3_client(endpoint)
    while True:
        kw = {"Bucket": bucket, "Prefix": prefix, **({"ContinuationToken": token} if token else {})}
        page = s3.list_objects_v2(**kw)
        out += [o["Key"] for o in page.get("Contents", [])]
        if not page.get("IsTruncated"):
            return out
        token = page["NextContinuationToken"]
