"""The package as a user installs it: a wheel in a fresh virtualenv, run from another folder.

The wheel must carry the templates and the demo config, and `drift-monitor demo` must work
without the checkout on sys.path. The fresh venv borrows the project venv's third-party
packages through a .pth line (no download); `monitor` itself comes from the wheel only.
"""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tests.support.paths import ROOT

pytestmark = pytest.mark.slow


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600, **kw)
    assert res.returncode == 0, f"{cmd}: {res.stdout[-2000:]}\n{res.stderr[-2000:]}"
    return res


def test_wheel_installs_and_runs_the_demo_from_another_folder(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist), str(ROOT)])
    wheel = next(dist.glob("airflow_drift_monitor-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "monitor/report/templates/report.html.j2" in names
    assert "monitor/report/templates/partials/macros.html.j2" in names
    assert "monitor/demo/car_loan.yaml" in names
    assert not [n for n in names if n.startswith(("tests/", "dags/", "bench/"))]

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)])
    site = next((venv / "lib").glob("python3*/site-packages"))
    (site / "borrowed_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    py = venv / "bin" / "python"
    _run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)])

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = _run([str(py), "-c", "import monitor; print(monitor.__file__, monitor.__version__)"], cwd=elsewhere).stdout
    assert str(site) in where and "0+unknown" not in where

    demo = tmp_path / "demo"
    _run([str(venv / "bin" / "drift-monitor"), "demo", "--workdir", str(demo), "--days", "2", "--end", "2026-03-30"], cwd=elsewhere)
    day = demo / "monitoring" / "car_loan" / "date=2026-03-30"
    assert "<html" in (day / "report.html").read_text()[:2000].lower()
    assert json.loads((day / "metrics.json").read_text())["monitor"] == "car_loan"
    assert list((demo / "outbox").glob("*.eml"))
