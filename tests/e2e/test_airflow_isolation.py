"""A broken monitor config never switches off another monitor: proved in the metadata DB.

Airflow 3.3 records an exception raised while parsing a DAG file as an import error of that
file and marks every DAG of the file stale (`dag.is_stale`, `dag.has_import_errors`), so the
nightly run of a good monitor is not created. This test puts one good and one broken config
(a misspelt key) side by side and runs

1. one real `airflow dag-processor -n 1` pass, then reads the `dag` and `import_error` tables:
   the good DAG is active with no import error, the broken one is there by name;
2. the whole scheduler (`scripts/airflow_standalone.sh`, as `make airflow`), DAGs unpaused:
   the good DAG's nightly run (for yesterday, the demo data ends yesterday) is created and
   succeeds, the broken DAG's run fails on its first try with the config error, and its
   failure notice reaches the SMTP server naming the file and the key; a third config whose
   training snapshot is missing fails its compute task on the first try with one readable
   line, and its notice links the Airflow run and task log (both answer 200) and names the
   real rerun commands. The good run's task logs name the inputs, the cache, the email.

Minutes of wall time on 2 cores: marked slow (CI runs it).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import sqlite3
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.support.airflow import BIN, ROOT, airflow_env, migrate, upload_demo, write_config

pytestmark = pytest.mark.slow

BUCKET = "monitoring-isolation"  # moto state is per process: a bucket no other test uses
GOOD, BROKEN, NOREF = "drift_monitor__good", "drift_monitor__typo", "drift_monitor__noref"


def _query(home: Path, sql: str, *args: str) -> list[tuple]:
    db = sqlite3.connect(f"file:{home / 'airflow.db'}?mode=ro", uri=True, timeout=30)
    try:
        return db.execute(sql, args).fetchall()
    finally:
        db.close()


def dag_rows(home: Path) -> dict[str, dict]:
    rows = _query(home, "SELECT dag_id, is_stale, has_import_errors, is_paused, dag_display_name FROM dag")
    return {r[0]: {"is_stale": bool(r[1]), "has_import_errors": bool(r[2]), "is_paused": bool(r[3]), "display": r[4]}
            for r in rows}


def import_errors(home: Path) -> list[tuple[str, str]]:
    return _query(home, "SELECT filename, stacktrace FROM import_error")


def runs(home: Path, dag_id: str) -> list[dict]:
    rows = _query(home, "SELECT run_id, run_type, state, data_interval_start FROM dag_run WHERE dag_id = ?", dag_id)
    return [{"run_id": r[0], "run_type": r[1], "state": r[2], "data_interval_start": r[3]} for r in rows]


def tries(home: Path, dag_id: str) -> list[tuple[str, str, int]]:
    return _query(home, "SELECT task_id, state, try_number FROM task_instance WHERE dag_id = ?", dag_id)


def task_log(home: Path, dag_id: str, task_id: str) -> str:
    """The events of a task's first try, one per line (Airflow 3 writes JSON lines)."""
    lines = []
    for path in sorted((home / "logs" / f"dag_id={dag_id}").glob(f"run_id=*/task_id={task_id}/attempt=1.log")):
        for raw in path.read_text(errors="replace").splitlines():
            try:
                lines.append(str(json.loads(raw).get("event")))
            except ValueError:
                lines.append(raw)
    return "\n".join(lines)


def _tail(path: Path, n: int = 60) -> str:
    return "".join(path.read_text(errors="replace").splitlines(keepends=True)[-n:]) if path.exists() else ""


def test_a_broken_config_leaves_the_good_dag_active_and_its_run_succeeds(tmp_path):
    from tests.support.servers import free_port, moto_s3, smtp_sink

    yesterday = dt.date.today() - dt.timedelta(days=1)
    with moto_s3() as endpoint, smtp_sink() as (sink, smtp_port):
        upload_demo(endpoint, tmp_path / "demo", yesterday, bucket=BUCKET)
        monitors = tmp_path / "monitors"
        good = write_config(monitors, name="good", bucket=BUCKET)
        broken = monitors / "typo.yaml"
        broken.write_text(good.read_text().replace("name: good", "name: typo").replace("window_days:", "window_dayz:"))
        # a good config whose training snapshot is missing: fails on its first try, never retried
        write_config(monitors, name="noref", bucket=BUCKET, **{"data/car_loan/train.parquet": "data/car_loan/missing.parquet"})
        port = free_port()
        home = tmp_path / "home"
        env = airflow_env(
            home, s3_endpoint=endpoint, smtp_port=smtp_port, config_dir=monitors,
            AIRFLOW_PORT=str(port), VENV=str(BIN.parent), SKIP_DEMO="1", UNPAUSE="1", AIRFLOW__LOGGING__LOGGING_LEVEL="INFO",
            AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="5", AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC="2",
            # on 2 busy cores the API server's first answers can take half a minute (SQLite, cold imports)
            AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT="120",
        )
        migrate(env)

        # 1. one dag-processor pass, then the database
        t = time.perf_counter()
        proc = subprocess.run([str(BIN / "airflow"), "dag-processor", "-n", "1"], env=env, cwd=home,
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        print(f"\ndag-processor -n 1: {time.perf_counter() - t:.1f} s")
        dags = dag_rows(home)
        print(dags)
        assert dags[GOOD]["is_stale"] is False and dags[GOOD]["has_import_errors"] is False
        assert BROKEN in dags and dags[BROKEN]["display"] == "typo: CONFIG ERROR"
        assert dags[BROKEN]["is_stale"] is False
        assert import_errors(home) == []

        # 2. the scheduler: the good nightly run is created and succeeds, the broken one fails loudly
        log = tmp_path / "standalone.log"
        with open(log, "w") as out:
            sa = subprocess.Popen(["bash", str(ROOT / "scripts" / "airflow_standalone.sh")], env=env,
                                  stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + 420
            done = None
            while time.monotonic() < deadline:
                if sa.poll() is not None:
                    pytest.fail(f"airflow standalone exited (rc={sa.returncode}):\n{_tail(log)}")
                try:
                    g, b = runs(home, GOOD), runs(home, BROKEN)
                except sqlite3.OperationalError:  # locked for a moment by a writer
                    time.sleep(2)
                    continue
                if any(r["state"] == "failed" for r in g) or any(s == "up_for_retry" for _, s, _ in tries(home, GOOD)):
                    pytest.fail(f"the good DAG's run failed: {g} {tries(home, GOOD)}\n{_tail(log)}")
                subjects = [str(m["Subject"]) for m in sink.messages]
                if any(r["state"] == "success" for r in g) and any(r["state"] == "failed" for r in b) \
                        and any(r["state"] == "failed" for r in runs(home, NOREF)) \
                        and any("typo" in x for x in subjects) and any("noref" in x for x in subjects):
                    done = g, b
                    # the notice's links open the run and the task log in the UI (while the API server is up)
                    notice = next(m for m in sink.messages if "noref" in str(m["Subject"]))
                    html = notice.get_body(("html",)).get_content()
                    links = re.findall(r'href="(http://127\.0\.0\.1:\d+/dags/[^"]+)"', html)
                    statuses = [urllib.request.urlopen(u.replace("&amp;", "&"), timeout=30).status for u in links]
                    break
                time.sleep(3)
            if done is None:
                pytest.fail(f"timed out: good={runs(home, GOOD)} broken={runs(home, BROKEN)} "
                            f"emails={len(sink.messages)}\n{_tail(log)}")
            dags = dag_rows(home)
        finally:
            if sa.poll() is None:
                os.killpg(sa.pid, signal.SIGTERM)
            try:
                sa.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(sa.pid, signal.SIGKILL)
                sa.wait(timeout=30)

        g, b = done
        ok = next(r for r in g if r["state"] == "success")
        assert ok["run_type"] == "scheduled" and ok["data_interval_start"].startswith(yesterday.isoformat())
        assert dags[GOOD]["is_stale"] is False and dags[GOOD]["has_import_errors"] is False
        assert dags[GOOD]["is_paused"] is False and dags[BROKEN]["is_paused"] is False
        # the broken DAG fails on its first try (no retries for what a retry cannot fix)
        assert [(t, s, n) for t, s, n in tries(home, BROKEN)] == [("config_error", "failed", 1)]
        notices = [m for m in sink.messages if "typo" in m["Subject"]]
        assert notices, [m["Subject"] for m in sink.messages]
        body = notices[0].get_body(("plain",)).get_content()
        assert str(broken) in body and "window_dayz" in body, body
        assert "window_dayz" in task_log(home, BROKEN, "config_error")

        # a missing training snapshot: compute fails on its first try with one readable line, and the
        # notice links the run and the task log (both open) and names the real rerun commands
        assert ("compute", "failed", 1) in tries(home, NOREF), tries(home, NOREF)
        log = task_log(home, NOREF, "compute")
        assert re.search(r"compute failed, not retried: s3://monitoring-isolation/data/car_loan/missing\.parquet.*", log), log
        assert [u.split("/")[-2:] for u in links][-1][0] == "tasks" and len(links) == 2, links
        assert statuses == [200, 200], (links, statuses)
        text = notice.get_body(("plain",)).get_content()
        assert f"drift-monitor run {monitors / 'noref.yaml'} --date {yesterday}" in text, text
        assert list(notice.iter_attachments()) == []

        # the good run's task logs say what happened
        compute_log = task_log(home, GOOD, "compute")
        print("\ncompute log:\n" + "\n".join(ln for ln in compute_log.splitlines() if ln.startswith(("input", "drift", "status", "alert", "results"))))
        assert "input reference  s3://monitoring-isolation/data/car_loan/train.parquet" in compute_log
        assert "drift reference profile: cache miss" in compute_log and "results: s3://" in compute_log
        assert "email SENT to" in task_log(home, GOOD, "notify")
        assert "nothing to do" in task_log(home, GOOD, "reevaluate_final")
        assert "report.evidently is off" in task_log(home, GOOD, "deep_dive")
