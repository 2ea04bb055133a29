"""kill -9 of a real `python -m monitor run` at chosen points, then a rerun: the outputs are consistent
(the manifest's hashes match the files), at most one email for the date, no temp or staged file left,
and history never reads the uncommitted day (issue 13 #7, #13).

The stop points are exact without any hook in the code: the S3 fault proxy holds the request that
follows a chosen one (the run blocks there), or the SMTP server holds its final 250; the test then
kills the process."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from monitor.io.outputs import load_history
from monitor.io.storage import LocalStorage, S3Storage, Storage
from tests.support.outputs import assert_consistent, leftovers
from tests.support.s3_faults import Request, S3FaultProxy, on_put
from tests.support.servers import aws_env
from tests.support.smtp_faults import ScriptedSmtp, scripted_smtp
from tests.support.tiny import DAY, out_dir, tiny_config, write_store

REPO = Path(__file__).resolve().parents[3]
NEXT = DAY + dt.timedelta(days=1)
ALL = ("metrics.json", "report.html", "to_annotate.csv")


def _after(first: Callable[[Request], bool]) -> Callable[[Request], bool]:
    """Matches every request after the first one `first` matches (that one passes)."""
    seen: dict[str, int] = {}

    def match(r: Request) -> bool:
        if "n" in seen:
            return r.n > seen["n"]
        if first(r):
            seen["n"] = r.n
        return False

    return match


def _config(tmp_path: Path, root: Path, output: str) -> Path:
    cfg = {
        "name": "m", "window_days": 1,
        "reference": {"uri": str(root / "ref.parquet")}, "production": {"uri": str(root / "prod") + "/dt={date}/"},
        "model": {"task": "binary_classification", "target": "y", "prediction": "p", "score": "s", "id": "id"},
        "performance": {"min_cohort_labelled": 20, "bootstrap": 20},
        "output": {"uri": output}, "email": {"to": ["ml@example.com"], "outbox": str(root / "outbox")},
    }
    path = tmp_path / "m.yaml"
    path.write_text(json.dumps(cfg))
    return path


def _env(smtp: ScriptedSmtp, s3: str = "") -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO),
           "AIRFLOW_CONN_SMTP_DEFAULT": f"smtp://127.0.0.1:{smtp.port}?disable_ssl=true&disable_tls=true&timeout=60"}
    if s3:
        env.update(aws_env(s3))
    return env


def _monitor(cfg: Path, env: dict[str, str], log: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "monitor", "run", str(cfg), "--date", DAY.isoformat(), "--no-reevaluate"]
    with log.open("ab") as fh:
        return subprocess.Popen(cmd, cwd=cfg.parent, env=env, stdout=fh, stderr=subprocess.STDOUT)


def _kill_when(proc: subprocess.Popen, reached: Callable[[], bool], log: Path, timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if reached():
            os.kill(proc.pid, signal.SIGKILL)
            assert proc.wait(10) == -signal.SIGKILL
            return
        if proc.poll() is not None:
            raise AssertionError(f"the run ended (rc={proc.returncode}) before the stop point:\n{log.read_text()[-2000:]}")
        time.sleep(0.02)
    proc.kill()
    raise AssertionError(f"the stop point was not reached in {timeout} s:\n{log.read_text()[-2000:]}")


def _rerun(cfg: Path, env: dict[str, str], log: Path) -> None:
    proc = _monitor(cfg, env, log)
    assert proc.wait(60) == 0, log.read_text()[-3000:]


def _held(proxy: S3FaultProxy) -> Callable[[], bool]:
    return lambda: proxy.count(lambda r: r.fault == "silent") > 0


def _s3(endpoint: str) -> Storage:
    import boto3

    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    client.create_bucket(Bucket="monitoring")
    return S3Storage(client)


def _history(root: Path, output: str, st: Any) -> list[str]:
    return [h["date"] for h in load_history(tiny_config(str(root), output=output), NEXT, s3=st if isinstance(st, S3Storage) else None)]


def test_kill_after_metrics_json_is_written_then_rerun(tmp_path, s3_endpoint):
    root = write_store(tmp_path / "store")
    st, output, log = _s3(s3_endpoint), "s3://monitoring/", tmp_path / "run.log"
    out = out_dir(tiny_config(str(root), output=output))
    with S3FaultProxy(s3_endpoint) as proxy, scripted_smtp() as smtp:
        cfg, env = _config(tmp_path, root, output), _env(smtp, proxy.endpoint)
        proxy.silent(match=_after(on_put("metrics.json")))
        _kill_when(_monitor(cfg, env, log), _held(proxy), log)
        assert not st.exists(out + "metrics.json") and not st.exists(out + "manifest.json")  # nothing committed
        assert _history(root, output, st) == []  # the next day's history does not read the stopped run
        proxy.clear()
        _rerun(cfg, env, log)
        assert len(smtp.accepted) == 1
    assert_consistent(st, out, expect=ALL)
    assert leftovers(st, output) == []  # the killed run's staged copy is gone (its process is)
    assert _history(root, output, st) == [DAY.isoformat()]


def test_kill_after_report_html_is_written_then_rerun(tmp_path, s3_endpoint):
    root = write_store(tmp_path / "store")
    st, output, log = _s3(s3_endpoint), "s3://monitoring/", tmp_path / "run.log"
    out = out_dir(tiny_config(str(root), output=output))
    with S3FaultProxy(s3_endpoint) as proxy, scripted_smtp() as smtp:
        cfg, env = _config(tmp_path, root, output), _env(smtp, proxy.endpoint)
        proxy.silent(match=_after(lambda r: r.method == "PUT" and r.key.endswith("/report.html") and ".staging" not in r.key))
        _kill_when(_monitor(cfg, env, log), _held(proxy), log)
        assert_consistent(st, out, expect=ALL)  # the report was committed before it was published
        assert not st.exists(out + "email_claim.json") and smtp.accepted == []
        proxy.clear()
        _rerun(cfg, env, log)
        assert len(smtp.accepted) == 1
    manifest = assert_consistent(st, out, expect=ALL)
    assert manifest["email"]["sent"] is True
    assert leftovers(st, output) == []


def test_kill_between_smtp_accept_and_the_manifest_write_then_rerun(tmp_path):
    root = write_store(tmp_path / "store")
    output, log = str(root / "out"), tmp_path / "run.log"
    out = out_dir(tiny_config(str(root), output=output))
    with scripted_smtp() as smtp:
        smtp.script.late_seconds, smtp.script.late_times = 30.0, 1  # the 250 is held; the message is accepted
        cfg, env = _config(tmp_path, root, output), _env(smtp)
        _kill_when(_monitor(cfg, env, log), lambda: len(smtp.accepted) == 1, log)
        _rerun(cfg, env, log)
        assert len(smtp.accepted) == 1  # the claim: never a second email for the date
    manifest = assert_consistent(LocalStorage(), out, expect=ALL)
    assert manifest["email"]["sent"] is False and "has not recorded the outcome" in manifest["email"]["reason"]
    assert json.loads(Path(out, "email_claim.json").read_text())["state"] == "claimed"
    assert leftovers(LocalStorage(), output + "/") == []
    assert _history(root, output, None) == [DAY.isoformat()]
