"""The CeleryExecutor topology end to end (scripts/e2e_celery.py): Postgres, Redis, moto S3, aiosmtpd,
api-server, scheduler, dag-processor and two Celery workers on 127.0.0.1; a 7-day backfill of three
monitors. Takes 5-8 minutes on two cores. Needs the Debian packages postgresql and redis-server
(.ci/run installs them); skipped, naming them, when they are absent.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest

from tests.support.paths import ROOT as REPO

SCRIPT = REPO / "scripts" / "e2e_celery.py"


def _script():
    spec = importlib.util.spec_from_file_location("e2e_celery", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_config_template_renames_to_distinct_monitors(tmp_path):
    """The e2e's three configs are the compose config under three names, and they load."""
    from monitor.config import load_config

    e2e = _script()
    e2e.write_configs(tmp_path, ["e2e_a", "e2e_b"])
    cfgs = [load_config(p) for p in sorted(tmp_path.glob("*.yaml"))]
    assert [c.name for c in cfgs] == ["e2e_a", "e2e_b"]
    assert all(c.output.uri.startswith("s3://") and c.reference.uris[0].startswith("s3://") for c in cfgs)


@pytest.mark.slow
def test_celery_backfill_three_monitors_seven_days_two_workers(tmp_path):
    e2e = _script()
    missing = e2e.missing_packages()
    if missing:
        pytest.skip(f"needs the Debian package(s) {', '.join(missing)}: apt-get install -y {' '.join(missing)} "
                    "(.ci/run installs them in CI)")
    summary_file = tmp_path / "summary.json"
    # The script prints its progress and, on failure, the tail of every component's log;
    # pytest captures both and shows them when this fails.
    proc = subprocess.Popen([sys.executable, str(SCRIPT), "--summary", str(summary_file)])
    try:
        rc = proc.wait(timeout=2400)
    except subprocess.TimeoutExpired:
        proc.terminate()  # SIGTERM: the script stops every server it started and removes its temp dir
        proc.wait(timeout=120)
        pytest.fail("scripts/e2e_celery.py did not finish in 40 minutes (stopped with SIGTERM)")
    assert rc == 0, "scripts/e2e_celery.py failed; its output above has the reason and each component's log tail"
    summary = json.loads(summary_file.read_text())
    assert summary["expected"] == 21
    assert summary["runs"] == {"total": 21, "success": 21}
    assert summary["outputs"] == 21
    assert summary["emails"] == 21
    workers = {h for h, n in summary["tasks_by_worker"].items() if n > 0}
    assert {"e2e-worker-1", "e2e-worker-2"} <= workers
    assert summary["backfill_seconds"] > 0
