"""`dag.test()` of the drift monitor DAG on a migrated SQLite metadata DB, against moto S3 and aiosmtpd.

Each run is a subprocess (Airflow reads its config at import time); the test process owns
the S3 and SMTP servers and checks what landed in them.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import time

import pytest

pytestmark = pytest.mark.slow  # a migrated metadata DB and four dag.test() runs: minutes, not seconds

from tests.support.airflow import PYTHON, airflow_env, keys, migrate, read_json, upload_demo, write_config  # noqa: E402

END = dt.date(2026, 3, 30)  # the demo's last day; 30 days of data end here
DAG_ID = "drift_monitor__car_loan"

RUNNER = r"""
import datetime as dt, json, os, sys, time
from airflow.dag_processing.dagbag import DagBag
from airflow.models.taskinstance import TaskInstance
from airflow.models.dagrun import DagRun
from airflow import settings

args = json.loads(sys.argv[1])
bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
dag = bag.dags[args["dag_id"]]
ld = dt.datetime.fromisoformat(args["logical_date"]) if args.get("logical_date") else None
t = time.perf_counter()
dr = dag.test(logical_date=ld, run_conf=args.get("conf"))
seconds = time.perf_counter() - t
session = settings.Session()
run = session.query(DagRun).filter(DagRun.dag_id == dag.dag_id, DagRun.run_id == dr.run_id).one()
tis = session.query(TaskInstance).filter(TaskInstance.dag_id == dag.dag_id, TaskInstance.run_id == dr.run_id).all()
print("RESULT " + json.dumps({
    "state": str(run.state),
    "tasks": {ti.task_id: str(ti.state) for ti in tis},
    "logical_date": run.logical_date.isoformat() if run.logical_date else None,
    "data_interval_start": run.data_interval_start.isoformat() if run.data_interval_start else None,
    "seconds": round(seconds, 2),
}))
"""


def dag_test(env: dict, *, logical_date: str | None, conf: dict | None = None, dag_id: str = DAG_ID) -> dict:
    args = {"dag_id": dag_id, "logical_date": logical_date, "conf": conf}
    t = time.perf_counter()
    proc = subprocess.run([PYTHON, "-c", RUNNER, json.dumps(args)], env=env, capture_output=True, text=True, timeout=600)
    wall = time.perf_counter() - t
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, f"dag.test failed (rc={proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}"
    out = json.loads(lines[-1][len("RESULT "):])
    out["wall"] = round(wall, 2)
    print(f"dag.test({logical_date=}, {conf=}): {out['state']} in {out['seconds']} s (subprocess wall {out['wall']} s)")
    return out


@pytest.fixture(scope="module")
def airflow(tmp_path_factory):
    """moto S3 with the demo data, aiosmtpd, a migrated AIRFLOW_HOME and two monitor configs."""
    from tests.support.servers import moto_s3, smtp_sink

    tmp = tmp_path_factory.mktemp("airflow")
    with moto_s3() as endpoint, smtp_sink() as (sink, port):
        t = time.perf_counter()
        upload_demo(endpoint, tmp / "demo", END)
        print(f"demo data generated and uploaded in {time.perf_counter() - t:.1f} s")
        monitors = tmp / "monitors"
        write_config(monitors)
        # A monitor whose config names a column the data does not have: it parses, then fails at run time.
        write_config(monitors, name="broken_columns", **{"categorical: [salary_range, region, employment]":
                                                         "categorical: [salary_range, region, no_such_column]"})
        env = airflow_env(tmp / "home", s3_endpoint=endpoint, smtp_port=port, config_dir=monitors)
        print(f"airflow db migrate: {migrate(env):.1f} s")
        yield {"env": env, "endpoint": endpoint, "sink": sink}


def _prefix(day: str, name: str = "car_loan") -> str:
    return f"monitoring/{name}/date={day}/"


def test_scheduled_manual_and_rerun(airflow):
    env, endpoint, sink = airflow["env"], airflow["endpoint"], airflow["sink"]

    # 1. Scheduled-style: a run with a data interval. dag.test infers the interval that ends at the
    #    logical date, so logical date 03-26T00:00 monitors 2026-03-25 (data_interval_start).
    run = dag_test(env, logical_date="2026-03-26T00:00:00+00:00")
    assert run["state"] == "success", run
    assert run["data_interval_start"].startswith("2026-03-25"), run
    assert {k: v for k, v in run["tasks"].items()} == {
        "resolve": "success", "compute": "success", "render": "success", "notify": "success",
        "deep_dive": "success", "reevaluate_final": "success",
    }
    day1 = "2026-03-25"
    got = set(keys(endpoint, _prefix(day1)))
    assert {_prefix(day1) + f for f in ("metrics.json", "report.html", "manifest.json")} <= got
    metrics = read_json(endpoint, _prefix(day1) + "metrics.json")
    assert metrics["date"] == day1 and metrics["monitor"] == "car_loan"
    manifest1 = read_json(endpoint, _prefix(day1) + "manifest.json")
    assert manifest1["email"]["sent"] is True
    msgs = sink.wait_for(1)
    assert len(msgs) == 1 and msgs[0]["X-Monitor-Date"] == day1

    # 2. Manual: no logical date at all (Airflow 3's default for UI triggers) and a `date` param.
    day2 = "2026-03-20"
    run = dag_test(env, logical_date=None, conf={"date": day2})
    assert run["state"] == "success", run
    assert run["logical_date"] is None and run["data_interval_start"] is None
    assert read_json(endpoint, _prefix(day2) + "metrics.json")["date"] == day2
    msgs = sink.wait_for(2)
    assert len(msgs) == 2 and msgs[1]["X-Monitor-Date"] == day2

    # 3. Rerun of the first date: outputs replaced, the email not sent again.
    time.sleep(1.1)  # computed_at has one-second resolution
    run = dag_test(env, logical_date="2026-03-26T00:00:00+00:00")
    assert run["state"] == "success", run
    manifest2 = read_json(endpoint, _prefix(day1) + "manifest.json")
    assert manifest2["computed_at"] > manifest1["computed_at"], "the rerun did not replace the outputs"
    assert manifest2["email"]["sent"] is True and manifest2["email"].get("sent_at") == manifest1["email"].get("sent_at")
    time.sleep(1.0)
    assert len(sink.messages) == 2, [m["Subject"] for m in sink.messages]


def test_failure_sends_a_notice_naming_dag_date_task_and_error(airflow):
    env, sink = airflow["env"], airflow["sink"]
    before = len(sink.messages)
    proc_out = dag_test(env, logical_date=None, conf={"date": "2026-03-21"}, dag_id="drift_monitor__broken_columns")
    assert proc_out["state"] == "failed", proc_out
    assert proc_out["tasks"]["compute"] == "failed"  # a ConfigError fails at once: no retries
    assert proc_out["tasks"]["notify"] == "upstream_failed"
    msgs = sink.wait_for(before + 1)
    assert len(msgs) == before + 1
    notice = msgs[-1]
    body = notice.get_body(("plain",)).get_content()
    text = f"{notice['Subject']}\n{body}"
    for needle in ("drift_monitor__broken_columns", "2026-03-21", "compute", "no_such_column"):
        assert needle in text, f"{needle!r} missing from the failure notice:\n{text[:2000]}"
