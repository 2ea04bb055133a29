"""The dags/ folder: one DAG per monitor config, quick to parse, a broken config isolated.

The DagBag is filled in a subprocess (Airflow reads its config at import time, and other
tests' Airflow processes use their own AIRFLOW_HOME); the date rules are tested in-process.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from pathlib import Path

import pytest

import monitor.airflow as dagutil
from tests.support.airflow import DAGS, PYTHON, ROOT, write_config

BAG = r"""
import json, os, sys, time
t0 = time.perf_counter()
from airflow.dag_processing.dagbag import DagBag
t1 = time.perf_counter()
bag = DagBag(dag_folder=sys.argv[1])
t2 = time.perf_counter()
heavy = [m for m in ("pandas", "scipy", "boto3", "botocore", "evidently", "matplotlib", "sklearn", "numpy", "pyarrow")
         if m in sys.modules]
dags = {}
for dag_id, d in bag.dags.items():
    dags[dag_id] = {
        "timetable": type(d.timetable).__name__,
        "cron": getattr(d.timetable, "expression", None),
        "catchup": d.catchup, "max_active_runs": d.max_active_runs,
        "params": {k: d.params.get_param(k).schema.get("type") for k in d.params},
        "tasks": sorted(t.task_id for t in d.tasks),
        "retries": {t.task_id: t.retries for t in d.tasks},
        "retry_delay": {t.task_id: t.retry_delay.total_seconds() for t in d.tasks},
        "timeout": {t.task_id: t.execution_timeout.total_seconds() if t.execution_timeout else None for t in d.tasks},
        "callback": all(t.on_failure_callback for t in d.tasks),
        "downstream": {t.task_id: sorted(t.downstream_task_ids) for t in d.tasks},
        "display": d.dag_display_name, "tags": sorted(d.tags), "doc": d.doc_md or "",
        "description": d.description or "",
    }
print("RESULT " + json.dumps({"dags": dags, "errors": bag.import_errors, "import_s": t1 - t0,
                              "parse_s": t2 - t1, "heavy": heavy}))
"""


def fill_bag(tmp_path: Path, config_dir: Path | None, **extra_env: str) -> dict:
    env = {
        "PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
        "AIRFLOW_HOME": str(tmp_path / "airflow_home"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS), "PYTHONPATH": str(ROOT),
    }
    if config_dir is not None:
        env["MONITOR_CONFIG_DIR"] = str(config_dir)
    env.update(extra_env)
    proc = subprocess.run([PYTHON, "-c", BAG, str(DAGS)], env=env, capture_output=True, text=True, timeout=120)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return json.loads(lines[-1][len("RESULT "):])


def test_one_dag_per_config_no_import_errors_and_quick_parse(tmp_path):
    folder = tmp_path / "monitors"
    for i in range(20):
        write_config(folder, name=f"model_{i:02d}", bucket=f"bucket-{i}")
    with (folder / "model_01.yaml").open("a") as fh:
        fh.write("limits: {run_seconds: 600}\n")
    res = fill_bag(tmp_path, folder)
    print(f"\nDagBag of dags/ with 20 configs: parse {res['parse_s']:.3f} s (airflow import {res['import_s']:.2f} s)")
    assert res["errors"] == {}
    assert sorted(res["dags"]) == [f"drift_monitor__model_{i:02d}" for i in range(20)]
    assert res["heavy"] == [], f"heavy modules imported at parse time: {res['heavy']}"

    d = res["dags"]["drift_monitor__model_00"]
    assert d["timetable"] == "CronDataIntervalTimetable" and d["cron"] == "0 0 * * *"
    assert d["catchup"] is False and d["max_active_runs"] == 1
    assert d["params"] == {"date": ["null", "string"], "send_email": "boolean", "resend": "boolean"}
    assert d["tasks"] == ["compute", "deep_dive", "notify", "reevaluate_final", "render", "resolve"]
    assert set(d["retries"].values()) == {2} and set(d["retry_delay"].values()) == {300.0}
    # every task has Airflow's timeout: limits.run_seconds (default 3600) + 2 minutes of grace
    assert set(d["timeout"].values()) == {3720.0}
    assert set(res["dags"]["drift_monitor__model_01"]["timeout"].values()) == {720.0}
    assert d["callback"] is True
    # the email path, with the deep dive and the re-evaluation off it
    assert d["downstream"]["resolve"] == ["compute", "reevaluate_final"]
    assert d["downstream"]["compute"] == ["deep_dive", "notify", "render"]
    assert d["downstream"]["render"] == ["notify"]
    assert d["downstream"]["deep_dive"] == [] and d["downstream"]["reevaluate_final"] == []


def test_a_broken_config_is_a_dag_of_its_own_and_never_an_import_error(tmp_path):
    """Airflow 3.3 marks every DAG of a file stale when the file has an import error: a broken config
    must not raise. It becomes a DAG of its own, named after the config, whose task fails with the
    error (tests/e2e/test_airflow_isolation.py runs it through the dag-processor and the scheduler)."""
    folder = tmp_path / "monitors"
    write_config(folder, name="good_one")
    write_config(folder, name="good_two")
    bad = folder / "typo.yaml"
    bad.write_text((folder / "good_one.yaml").read_text().replace("name: good_one", "name: typo").replace("window_days:", "window_dayz:"))
    (folder / "not_yaml.yml").write_text("name: [unclosed\n")
    (folder / "zz_copy.yaml").write_text((folder / "good_two.yaml").read_text())  # a second `name: good_two`
    (folder / "bad_schedule.yaml").write_text(
        (folder / "good_one.yaml").read_text().replace("name: good_one", "name: bad_schedule").replace('schedule: "@daily"', 'schedule: "@fortnightly"'))
    res = fill_bag(tmp_path, folder)
    assert res["errors"] == {}
    assert sorted(res["dags"]) == [
        "drift_monitor__bad_schedule", "drift_monitor__good_one", "drift_monitor__good_two",
        "drift_monitor__not_yaml", "drift_monitor__typo", "drift_monitor__zz_copy",
    ]
    good = res["dags"]["drift_monitor__good_one"]
    assert "config_error" not in good["tags"] and good["tasks"] == ["compute", "deep_dive", "notify", "reevaluate_final", "render", "resolve"]
    for dag_id, path, words in [
        ("drift_monitor__typo", bad, ["window_dayz", "unknown key"]),
        ("drift_monitor__not_yaml", folder / "not_yaml.yml", ["not valid YAML"]),
        ("drift_monitor__zz_copy", folder / "zz_copy.yaml", ["already used"]),
        ("drift_monitor__bad_schedule", folder / "bad_schedule.yaml", ["@fortnightly"]),
    ]:
        d = res["dags"][dag_id]
        assert d["tasks"] == ["config_error"] and d["retries"] == {"config_error": 0} and d["callback"], dag_id
        assert d["timeout"] == {"config_error": 120.0}, dag_id
        assert "config_error" in d["tags"] and d["display"].endswith(": CONFIG ERROR"), d["display"]
        assert str(path) in d["doc"] and all(w in d["doc"] for w in words), (dag_id, d["doc"])
        assert d["description"].startswith("Config error: "), d["description"]
    assert res["dags"]["drift_monitor__typo"]["display"] == "typo: CONFIG ERROR"
    # the broken config keeps its schedule when it can be read: its nightly run fails loudly
    assert res["dags"]["drift_monitor__typo"]["cron"] == "0 0 * * *"
    print("\n" + res["dags"]["drift_monitor__typo"]["doc"])


def test_a_worker_parsing_for_a_broken_config_builds_its_stand_in(tmp_path):
    folder = tmp_path / "monitors"
    write_config(folder, name="alpha")
    (folder / "broken.yaml").write_text("name: broken\n")
    res = fill_bag(tmp_path, folder, _AIRFLOW_PARSING_CONTEXT_DAG_ID="drift_monitor__broken")
    assert list(res["dags"]) == ["drift_monitor__broken"] and res["errors"] == {}
    assert res["dags"]["drift_monitor__broken"]["tasks"] == ["config_error"]


def test_the_runbook_is_the_dag_doc(tmp_path):
    folder = tmp_path / "monitors"
    path = write_config(folder, name="car_loan")
    doc = fill_bag(tmp_path, folder)["dags"]["drift_monitor__car_loan"]["doc"]
    for words in ("monitors **the day before it**", f"drift-monitor run {path} --date", "airflow backfill create --dag-id drift_monitor__car_loan",
                  "airflow dags trigger drift_monitor__car_loan -c", "index.html", "retried 2 times"):
        assert words in doc, (words, doc)


def test_a_worker_parsing_for_one_dag_builds_only_that_one(tmp_path):
    folder = tmp_path / "monitors"
    for name in ("alpha", "beta", "gamma"):
        write_config(folder, name=name)
    (folder / "broken.yaml").write_text("name: broken\n")
    res = fill_bag(tmp_path, folder, _AIRFLOW_PARSING_CONTEXT_DAG_ID="drift_monitor__beta")
    assert list(res["dags"]) == ["drift_monitor__beta"] and res["errors"] == {}


def test_the_repo_monitors_folder_is_the_default(tmp_path):
    res = fill_bag(tmp_path, None)  # no MONITOR_CONFIG_DIR, no Variable: <repo>/monitors
    assert "drift_monitor__car_loan" in res["dags"] and res["errors"] == {}


# --------------------------------------------------------------------------- date and folder rules


UTC = dt.UTC


def test_resolve_date_precedence():
    start = dt.datetime(2026, 3, 25, 0, 0, tzinfo=UTC)
    after = dt.datetime(2026, 3, 26, 0, 5, tzinfo=UTC)
    assert dagutil.resolve_date("2026-01-02", start, after) == dt.date(2026, 1, 2)
    assert dagutil.resolve_date("", start, after) == dt.date(2026, 3, 25)
    assert dagutil.resolve_date(None, start, after) == dt.date(2026, 3, 25)
    assert dagutil.resolve_date("  ", None, after) == dt.date(2026, 3, 25)  # manual run, no logical date
    # data_interval_start is taken in UTC whatever the tz it comes in
    cet = dt.timezone(dt.timedelta(hours=1))
    assert dagutil.resolve_date(None, dt.datetime(2026, 3, 25, 1, 0, tzinfo=cet), None) == dt.date(2026, 3, 25)


@pytest.mark.parametrize("bad", ["2026-13-01", "yesterday", "2026/03/01", "20260301"])
def test_resolve_date_rejects_bad_params_naming_them(bad):
    with pytest.raises(ValueError, match="YYYY-MM-DD") as exc:
        dagutil.resolve_date(bad, None, None)
    assert bad in str(exc.value)


def test_resolve_date_needs_something():
    with pytest.raises(ValueError, match="cannot tell which day"):
        dagutil.resolve_date(None, None, None)


def test_cron_for():
    assert dagutil.cron_for("@daily") == "0 0 * * *"
    assert dagutil.cron_for("30 2 * * *") == "30 2 * * *"
    assert dagutil.cron_for(None) is None and dagutil.cron_for("None") is None
    with pytest.raises(ValueError, match="cron"):
        dagutil.cron_for("@fortnightly")
    with pytest.raises(ValueError, match="cron"):
        dagutil.cron_for("every day")


def test_config_dir_precedence(tmp_path):
    assert dagutil.config_dir({"MONITOR_CONFIG_DIR": str(tmp_path)}, lambda: "/elsewhere") == tmp_path
    assert dagutil.config_dir({}, lambda: str(tmp_path)) == tmp_path
    assert dagutil.config_dir({}, lambda: None) == ROOT / "monitors"

    def no_db():
        raise RuntimeError("no metadata DB")

    assert dagutil.config_dir({}, no_db) == ROOT / "monitors"
    assert dagutil.config_dir({"MONITOR_CONFIG_DIR": "monitors"}) == ROOT / "monitors"  # relative to the repo


def test_config_files_skips_hidden_and_underscored(tmp_path):
    for name in ("b.yaml", "a.yml", ".hidden.yaml", "_template.yaml", "notes.txt"):
        (tmp_path / name).write_text("x")
    assert [p.name for p in dagutil.config_files(tmp_path)] == ["a.yml", "b.yaml"]
    assert dagutil.config_files(tmp_path / "missing") == []


def test_dagutil_is_light():
    code = "import sys, monitor.airflow; print(sorted(m for m in ('airflow','pandas','pydantic','yaml') if m in sys.modules))"
    out = subprocess.run([PYTHON, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
