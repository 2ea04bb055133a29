"""Secrets never reach stderr, an email, manifest.json or metrics.json (issue 13, finding 5)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from monitor.errors import MonitorError

SMTP_PW = "Sm7pS3cretPw"
AWS_SECRET = "AwsS3cretKeyValue0123"
DAY = "2026-11-25"


def _store(root: Path, prod_dir: Path) -> Path:
    n = pd.Series(range(200))
    ref = pd.DataFrame({"id": n, "x": n * 0.5, "c": ["a", "b"] * 100, "y": n % 2, "p": n % 2, "s": (n % 2) * 0.8 + 0.1})
    ref.to_parquet(root / "ref.parquet")
    part = prod_dir / f"dt={DAY}"
    part.mkdir(parents=True)
    ref.drop(columns=["y"]).head(80).to_parquet(part / "part-0.parquet")
    cfg = root / "m.yaml"
    cfg.write_text(
        f"""name: m
reference: {{uri: "{root}/ref.parquet"}}
production: {{uri: "{prod_dir}/dt={{date}}/"}}
model: {{task: binary_classification, target: y, prediction: p, score: s, id: id}}
output: {{uri: "{root}/out/"}}
email: {{outbox: "{root}/outbox", to: [team@example.com]}}
"""
    )
    return cfg


def _cli(*args: str, env: dict) -> subprocess.CompletedProcess:
    e = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_CONN_", "AWS_"))}
    e.update(env)
    return subprocess.run([sys.executable, "-m", "monitor", *args], env=e, capture_output=True, text=True, timeout=300)


def _everything_written(root: Path) -> str:
    return "\n".join(p.read_text(errors="replace") for p in sorted(root.rglob("*")) if p.is_file() and p.suffix in (".json", ".eml", ".html", ".csv"))


@pytest.mark.parametrize(
    "conn",
    [
        f"smtp:/ops:{SMTP_PW}@mail.example.com:587",  # one slash: not a URI
        f"ops:{SMTP_PW}@mail.example.com:587",  # no scheme
        f'{{"host": "mail.example.com", "login": "ops", "password": "{SMTP_PW}", "extra": "{{{SMTP_PW}"}}',  # extra not JSON
    ],
)
def test_malformed_smtp_connection_never_prints_its_password(tmp_path, conn):
    cfg = _store(tmp_path, tmp_path / "prod")
    r = _cli("run", str(cfg), "--date", DAY, env={"AIRFLOW_CONN_SMTP_DEFAULT": conn})
    assert r.returncode == 2, r.stdout + r.stderr
    assert "AIRFLOW_CONN_SMTP_DEFAULT" in r.stderr and r.stderr.count("\n") == 1
    assert SMTP_PW not in r.stderr + r.stdout
    assert SMTP_PW not in _everything_written(tmp_path)


def test_failed_delivery_recorded_without_the_password(tmp_path, monkeypatch):
    """The email record in manifest.json keeps the error, never the password."""
    import datetime as dt

    from monitor.config import load_config
    from monitor.notify.smtp import SmtpSettings
    from monitor.run import Clients, RunOptions, run

    cfg = load_config(_store(tmp_path, tmp_path / "prod"))
    # a connection whose host swallowed the userinfo (JSON form {"host": "ops:pw@..."}), and a relay that is not there
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", f"smtp://ops:{SMTP_PW}@127.0.0.1:1")
    smtp = SmtpSettings(host=f"ops:{SMTP_PW}@127.0.0.1", port=1, login="ops", password=SMTP_PW, retries=0, timeout=2)
    with pytest.raises(MonitorError) as info:
        run(cfg, dt.date.fromisoformat(DAY), RunOptions(), Clients(smtp=smtp))
    out = tmp_path / "out" / "m" / f"date={DAY}"
    manifest = (out / "manifest.json").read_text()
    assert "could not send the email" in manifest and "***" in manifest
    assert SMTP_PW not in manifest + (out / "metrics.json").read_text() + _everything_written(tmp_path)
    from monitor.redact import redact

    assert SMTP_PW not in redact(str(info.value))  # what the CLI and the DAG print


def test_secret_in_a_path_never_reaches_the_outputs(tmp_path):
    # a production location that happens to carry the secret: the day has no data, the run completes
    cfg = _store(tmp_path, tmp_path / "prod")
    cfg.write_text(cfg.read_text().replace(f"{tmp_path}/prod/", f"{tmp_path}/{AWS_SECRET}/prod/"))
    r = _cli("run", str(cfg), "--date", DAY, env={"AWS_SECRET_ACCESS_KEY": AWS_SECRET})
    assert r.returncode == 0, r.stdout + r.stderr
    assert "NO_DATA" in r.stdout and AWS_SECRET not in r.stdout + r.stderr
    out = tmp_path / "out" / "m" / f"date={DAY}"
    for name in ("metrics.json", "manifest.json", "report.html"):
        text = (out / name).read_text()
        assert "***" in text and AWS_SECRET not in text, name
    emails = list((tmp_path / "outbox").glob("*.eml"))
    assert emails and all(AWS_SECRET.encode() not in p.read_bytes() for p in emails)


def test_secret_in_a_failure_never_reaches_the_notice_or_stderr(tmp_path):
    # a path that happens to carry the secret (as a URI with credentials would): the run cannot read it
    cfg = _store(tmp_path, tmp_path / "prod")
    text = cfg.read_text().replace(f"{tmp_path}/ref.parquet", f"{tmp_path}/{AWS_SECRET}/ref.parquet")
    cfg.write_text(text)
    r = _cli("run", str(cfg), "--date", DAY, env={"AWS_SECRET_ACCESS_KEY": AWS_SECRET})
    assert r.returncode == 2, r.stdout + r.stderr
    assert "ref.parquet" in r.stderr and "***" in r.stderr
    assert AWS_SECRET not in r.stderr + r.stdout
    notices = list((tmp_path / "outbox").glob("*.eml"))
    assert notices, "the failure notice must go out"
    assert AWS_SECRET not in _everything_written(tmp_path)


@pytest.mark.parametrize(
    "conn",
    [
        f'{{"login": "AKIAEXAMPLE", "password": "{AWS_SECRET}", "extra": "{{not json {AWS_SECRET}"}}',
        f"aws://AKIAEXAMPLE:{AWS_SECRET}@/?__extra__=%7Bnot%20json%20{AWS_SECRET}",
        f'{{"login": "AKIAEXAMPLE", "password": "{AWS_SECRET}", "extra": ',
    ],
)
def test_malformed_aws_connection_never_prints_its_secret(conn):
    from monitor.io.storage import aws_settings_from_env

    with pytest.raises(MonitorError) as info:
        aws_settings_from_env({"AIRFLOW_CONN_AWS_DEFAULT": conn})
    assert "AIRFLOW_CONN_AWS_DEFAULT" in str(info.value) and AWS_SECRET not in str(info.value)
