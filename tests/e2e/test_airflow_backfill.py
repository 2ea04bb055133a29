"""A backfill through a real scheduler: `airflow standalone` (scripts/airflow_standalone.sh, the script
behind `make airflow`) in a tmp AIRFLOW_HOME on a free port, then
`airflow backfill create --dag-id ... --from-date A --to-date B` over three days.

Asserts one run per day (data_interval_start = the monitored day), three dated outputs on
moto S3 and three emails in aiosmtpd. Minutes of wall time: marked slow (CI runs it).

The scheduler only runs tasks of unpaused DAGs, backfills included, so the script unpauses the
DAG as `make airflow` does; that also starts the nightly run for the real yesterday (for which
this bucket has no data: a no_data report), which the assertions below leave aside.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import time
import urllib.request

import pytest

from tests.support.airflow import BIN, ROOT, airflow_env, keys, migrate, read_json, upload_demo, write_config

pytestmark = pytest.mark.slow

END = dt.date(2026, 3, 30)
DAG_ID = "drift_monitor__car_loan"
DAYS = ["2026-03-23", "2026-03-24", "2026-03-25"]
# moto keeps its state per process, across servers: a bucket of its own, not test_dag_run's outputs
BUCKET = "monitoring-backfill"


class Api:
    """The Airflow 3 REST API with a simple-auth-manager token."""

    def __init__(self, base: str, user: str = "admin", password: str = "admin") -> None:
        self.base, self.user, self.password, self.token = base, user, password, None

    def _call(self, method: str, path: str, body: dict | None = None) -> dict:
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        req = urllib.request.Request(self.base + path, method=method, headers=headers,
                                     data=json.dumps(body).encode() if body is not None else None)
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read() or b"{}")

    def login(self) -> None:
        self.token = self._call("POST", "/auth/token", {"username": self.user, "password": self.password})["access_token"]

    def get(self, path: str) -> dict:
        return self._call("GET", path)


def wait_for(what: str, check, timeout: float, every: float = 2.0, proc=None, log=None):
    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"airflow standalone exited (rc={proc.returncode}) while waiting for {what}:\n{_tail(log)}")
        try:
            value = check()
            if value:
                return value
        except Exception as exc:  # noqa: BLE001 - not up yet
            last = exc
        time.sleep(every)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what} (last error: {last})\n{_tail(log)}")


def _tail(log) -> str:
    if log is None or not os.path.exists(log):
        return ""
    with open(log, errors="replace") as f:
        return "".join(f.readlines()[-80:])


def test_backfill_three_days_with_a_real_scheduler(tmp_path):
    from tests.support.servers import free_port, moto_s3, smtp_sink

    t0 = time.perf_counter()
    with moto_s3() as endpoint, smtp_sink() as (sink, smtp_port):
        upload_demo(endpoint, tmp_path / "demo", END, bucket=BUCKET)
        monitors = tmp_path / "monitors"
        write_config(monitors, bucket=BUCKET)
        port = free_port()
        env = airflow_env(
            tmp_path / "home", s3_endpoint=endpoint, smtp_port=smtp_port, config_dir=monitors,
            AIRFLOW_PORT=str(port), VENV=str(BIN.parent), SKIP_DEMO="1", UNPAUSE="1",
            AIRFLOW__LOGGING__LOGGING_LEVEL="INFO",
            # a quick dag-processor loop, so the DAG is in the DB soon after start
            AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="5", AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC="2",
        )
        print(f"\nairflow db migrate: {migrate(env):.1f} s")
        log = tmp_path / "standalone.log"
        with open(log, "w") as out:
            proc = subprocess.Popen(["bash", str(ROOT / "scripts" / "airflow_standalone.sh")], env=env,
                                    stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            api = Api(f"http://127.0.0.1:{port}")
            t = time.perf_counter()
            wait_for("the API server", lambda: api.login() or True, 240, proc=proc, log=log)
            wait_for(f"{DAG_ID} in the metadata DB, unpaused",
                     lambda: api.get(f"/api/v2/dags/{DAG_ID}")["is_paused"] is False, 300, every=3, proc=proc, log=log)
            print(f"standalone up, DAG parsed and unpaused: {time.perf_counter() - t:.1f} s")

            t = time.perf_counter()
            # SQLite answers "database is locked" at once (no busy wait) when two writers collide;
            # the backfill is created in one transaction, so trying again is safe.
            for attempt in range(10):
                cli = subprocess.run(
                    [str(BIN / "airflow"), "backfill", "create", "--dag-id", DAG_ID,
                     "--from-date", DAYS[0], "--to-date", DAYS[-1], "--max-active-runs", "1"],
                    env=env, capture_output=True, text=True, timeout=180,
                )
                if cli.returncode == 0 or "database is locked" not in cli.stderr + cli.stdout:
                    break
                print(f"backfill create, attempt {attempt + 1}: database is locked; trying again")
                time.sleep(2)
            assert cli.returncode == 0, cli.stdout[-3000:] + cli.stderr[-3000:]

            def finished():
                runs = api.get(f"/api/v2/dags/{DAG_ID}/dagRuns?limit=50")["dag_runs"]
                runs = [r for r in runs if r["run_type"] == "backfill"]
                states = [r["state"] for r in runs]
                if any(s == "failed" for s in states):
                    pytest.fail(f"a backfill run failed: {json.dumps(runs, indent=1)[:3000]}\n{_tail(log)}")
                return runs if len(runs) == 3 and all(s == "success" for s in states) else None

            runs = wait_for("three successful backfill runs", finished, 900, every=5, proc=proc, log=log)
            print(f"backfill of 3 days: {time.perf_counter() - t:.1f} s")
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)

        assert sorted(r["run_type"] for r in runs) == ["backfill"] * 3
        assert sorted(r["data_interval_start"][:10] for r in runs) == DAYS
        for day in DAYS:
            prefix = f"monitoring/car_loan/date={day}/"
            got = set(keys(endpoint, prefix, bucket=BUCKET))
            assert {prefix + f for f in ("metrics.json", "report.html", "manifest.json")} <= got, (day, got)
            assert read_json(endpoint, prefix + "metrics.json", bucket=BUCKET)["date"] == day
            assert read_json(endpoint, prefix + "manifest.json", bucket=BUCKET)["email"]["sent"] is True
        dated = [m["X-Monitor-Date"] for m in sink.messages if m["X-Monitor-Date"] in DAYS]
        assert sorted(dated) == DAYS, [m["Subject"] for m in sink.messages]
        print(f"total wall time: {time.perf_counter() - t0:.1f} s")
