"""The command line as a user meets it: one clear line for what went wrong, never a traceback."""

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

from tests.support.paths import ROOT as ROOT


def cli(*args, env=None, cwd=None):
    e = {**os.environ, **(env or {})}
    e.pop("AIRFLOW_CONN_SMTP_DEFAULT", None)
    return subprocess.run([sys.executable, "-m", "monitor", *args], cwd=cwd or ROOT, env=e, capture_output=True, text=True, timeout=300)


def write_config(path: Path, **over) -> Path:
    base = {
        "name": "m",
        "reference": f"{path.parent}/ref.parquet",
        "production": f"{path.parent}/prod/dt={{date}}/",
        "output": f"{path.parent}/out/",
    }
    base.update(over)
    path.write_text(
        f"""name: {base['name']}
reference: {{uri: "{base['reference']}"}}
production: {{uri: "{base['production']}"}}
model: {{task: binary_classification, target: y, prediction: p, score: s, id: id}}
output: {{uri: "{base['output']}"}}
email: {{outbox: "{path.parent}/outbox"}}
"""
    )
    return path


def test_config_error_is_one_line(tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("name: m\nwindow_days: lots\n")
    r = cli("run", str(cfg), "--date", "2026-11-25")
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert r.stderr.startswith(f"error: {cfg}: ")


def test_bad_date_argument(tmp_path):
    r = cli("run", "monitors/demo.yaml", "--date", "25/11/2026")
    assert r.returncode == 2 and "is not a date; use YYYY-MM-DD" in r.stderr


def test_missing_bucket_is_one_line(tmp_path, s3_endpoint):
    cfg = write_config(tmp_path / "m.yaml", reference="s3://no-such-bucket/ref.parquet", output="s3://no-such-bucket/out/")
    env = {k: os.environ[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL")}
    r = cli("run", str(cfg), "--date", "2026-11-25", env=env)
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip() == "error: s3://no-such-bucket/ref.parquet: bucket 'no-such-bucket' does not exist (create it, or fix the URI in the config)"


def _data(tmp_path: Path, day: str, rows: int):
    rng = pd.Series(range(200))
    ref = pd.DataFrame({"id": rng, "x": rng * 0.5, "c": ["a", "b"] * 100, "y": rng % 2, "p": rng % 2, "s": (rng % 2) * 0.8 + 0.1})
    ref.to_parquet(tmp_path / "ref.parquet")
    part = tmp_path / "prod" / f"dt={day}"
    part.mkdir(parents=True)
    ref.drop(columns=["y"]).head(rows).to_parquet(part / "part-0.parquet")


def test_empty_partition_reports_no_data(tmp_path):
    _data(tmp_path, "2026-11-25", rows=0)
    cfg = write_config(tmp_path / "m.yaml")
    r = cli("run", str(cfg), "--date", "2026-11-25")
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    assert "NO_DATA" in r.stdout and "2026-11-25" in r.stdout
    assert (tmp_path / "out" / "m" / "date=2026-11-25" / "metrics.json").exists()
    assert list((tmp_path / "outbox").glob("*.eml")), "the no-data alert must reach the team"


def test_backfill_runs_every_day_and_reports_failures(tmp_path):
    _data(tmp_path, "2026-11-24", rows=50)
    cfg = write_config(tmp_path / "m.yaml")
    r = cli("backfill", str(cfg), "--from", "2026-11-23", "--to", "2026-11-24", "--no-email")
    assert r.returncode == 0, r.stderr + r.stdout
    lines = r.stdout.strip().splitlines()
    assert lines[0].split()[:3] == ["date", "status", "alerts"]
    assert "2026-11-23  no_data" in r.stdout and "2026-11-24" in r.stdout
    assert "2 day(s)" in lines[-1] and "0 failed" in lines[-1]
    # a day that cannot run does not stop the others, and the exit code says so
    (tmp_path / "ref.parquet").unlink()
    r = cli("backfill", str(cfg), "--from", "2026-11-23", "--to", "2026-11-24", "--no-email")
    assert r.returncode == 1 and "2 failed" in r.stdout and "ref.parquet: no such file" in r.stdout
