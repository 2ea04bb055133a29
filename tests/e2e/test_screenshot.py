"""What a person sees, rendered by headless Chromium, checked non-blank, kept as artifacts: the alert
report, the index page (<output>/index.html) and the failure notice."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.support.paths import FIXTURES
from tests.support.paths import ROOT as ROOT

ARTIFACTS = ROOT / "artifacts"


def _chromium() -> str | None:
    for name in ("/usr/bin/chromium", "chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _screenshot(browser: str, page: Path, png: Path, height: int, width: int = 900) -> None:
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        cmd = [
            browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
            f"--user-data-dir={profile}", f"--screenshot={png}", f"--window-size={width},{height}", page.as_uri(),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert png.exists() and png.stat().st_size > 0, f"chromium wrote no screenshot (exit {proc.returncode}): {proc.stderr[-800:]}"


def _pixels(png: Path):
    import numpy as np
    from PIL import Image

    return np.asarray(Image.open(png).convert("RGB"), dtype=float)


@pytest.mark.slow
@pytest.mark.parametrize("fixture, height", [("metrics_alert.json", 1400), ("metrics_ok.json", 900)])
def test_report_screenshot_is_not_blank(fixture, height):
    browser = _chromium()
    if browser is None:
        pytest.skip("needs Debian package 'chromium' (apt-get install chromium)")
    from monitor.report.render import render_report

    metrics = json.loads((FIXTURES / fixture).read_text())
    history = json.loads((FIXTURES / "history.json").read_text())
    report = render_report(metrics, history=history, provenance={"config_hash": "3fa9c2d41b7e0a55", "code_version": "test"})
    ARTIFACTS.mkdir(exist_ok=True)
    stem = Path(fixture).stem.replace("metrics_", "report_")
    page = ARTIFACTS / f"{stem}.html"
    page.write_text(report.standalone_html(), encoding="utf-8")
    png = ARTIFACTS / f"{stem}.png"
    png.unlink(missing_ok=True)
    _screenshot(browser, page, png, height)
    print(f"\nscreenshot: {png}")

    px = _pixels(png)
    assert px.shape[0] == height and px.shape[1] == 900
    assert px.std() > 20, "the screenshot is (nearly) a single colour"
    # the status banner is painted in the status colour near the top of the page
    banner = px[30:60, 200:700].reshape(-1, 3).mean(axis=0)
    expected = {"metrics_alert.json": (185, 28, 28), "metrics_ok.json": (21, 128, 61)}[fixture]
    assert abs(banner - expected).max() < 40, f"banner colour {banner} is not {expected}"
    # the page has content rows all the way down the first screen, not just a banner
    dark_rows = (px.min(axis=2) < 100).any(axis=1)
    assert dark_rows[: height // 2].sum() > 100


def _near(px, rgb: tuple[int, int, int], tol: float = 12) -> int:
    """How many pixels are within `tol` of the colour `rgb`."""
    import numpy as np

    return int((np.abs(px - np.array(rgb, dtype=float)).max(axis=2) < tol).sum())


def _index_summaries() -> list[dict]:
    """Three monitors over 30 days: a drift incident on one, a failed night and a missing day on another."""
    import datetime as dt

    end = dt.date(2026, 3, 30)
    out = []
    for name, incident in (("car_loan", range(20, 30)), ("churn", range(26, 28)), ("fraud_eu", range(0))):
        days = {}
        for i in range(30):
            day = end - dt.timedelta(days=29 - i)
            if name == "churn" and i == 12:
                continue  # no run that day
            status = "alert" if i in incident else ("warning" if i % 9 == 4 else "ok")
            top = [{"severity": "critical", "kind": "drift", "subject": "income", "new": i == 20,
                    "message": "income drifted: Wasserstein 0.31 > 0.10 (p < 0.001)"},
                   {"severity": "critical", "kind": "cohort", "subject": "salary_range=low", "new": i == 21,
                    "message": "roc_auc 0.61 vs 0.78 baseline (-0.17, CI -0.22..-0.12)"}] if status == "alert" else []
            days[day.isoformat()] = {"status": status, "alerts": len(top), "critical": len(top), "new": 0, "top": top,
                                     "report": f"{name}/date={day}/report.html"}
        if name == "fraud_eu":
            days[end.isoformat()] = {"status": "failed", "alerts": 0, "critical": 0, "new": 0, "top": [],
                                     "error": "s3://monitoring/fraud_eu/train.parquet: no such object (reference.uri)",
                                     "report": f"{name}/date={end}/report.html"}
        out.append({"monitor": name, "days": days})
    return out


@pytest.mark.slow
def test_index_page_screenshot_shows_the_grid_and_the_latest_alerts():
    browser = _chromium()
    if browser is None:
        pytest.skip("needs Debian package 'chromium' (apt-get install chromium)")
    import datetime as dt

    from monitor.report.index import STATUS_STYLE, render_index

    ARTIFACTS.mkdir(exist_ok=True)
    page, png = ARTIFACTS / "index.html", ARTIFACTS / "index.png"
    page.write_text(render_index(_index_summaries(), now=dt.datetime(2026, 3, 31, 0, 20, tzinfo=dt.UTC)), encoding="utf-8")
    png.unlink(missing_ok=True)
    _screenshot(browser, page, png, 620, width=1200)
    print(f"\nscreenshot: {png}")
    px = _pixels(png)
    assert px.std() > 20, "the screenshot is (nearly) a single colour"

    def rgb(hex_colour: str) -> tuple[int, int, int]:
        return tuple(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]

    # every status in the fixture is painted: 22x22 cells, so hundreds of pixels each
    for status in ("ok", "warning", "alert", "failed"):
        assert _near(px, rgb(STATUS_STYLE[status][0])) > 300, f"no {status} cells on the page"
    # the grid has 3 rows of 30 cells: green (ok) is the bulk of them
    assert _near(px, rgb(STATUS_STYLE["ok"][0])) > 40 * 22 * 22 // 2


@pytest.mark.slow
def test_failure_notice_screenshot_shows_the_error_links_and_commands():
    browser = _chromium()
    if browser is None:
        pytest.skip("needs Debian package 'chromium' (apt-get install chromium)")
    from monitor.airflow.runtime import rerun_commands
    from monitor.report.render import render_failure

    class TI:
        dag_id, task_id, run_id, try_number = "drift_monitor__car_loan", "compute", "scheduled__2026-03-26T00:00:00+00:00", 1

    from monitor.airflow.runtime import run_links

    report = render_failure(
        monitor="car_loan", date="2026-03-25", task="compute", dag_id=TI.dag_id,
        error="s3://monitoring/car_loan/train.parquet: no such object (reference.uri: the training snapshot)",
        links=run_links(TI(), base_url="http://localhost:8080"),
        commands=rerun_commands("/opt/airflow/project/docker/monitors/car_loan.yaml", __import__("datetime").date(2026, 3, 25), TI.dag_id),
    )
    ARTIFACTS.mkdir(exist_ok=True)
    page, png = ARTIFACTS / "failure_notice.html", ARTIFACTS / "failure_notice.png"
    page.write_text(report.standalone_html(), encoding="utf-8")
    png.unlink(missing_ok=True)
    _screenshot(browser, page, png, 760)
    print(f"\nscreenshot: {png}")
    px = _pixels(png)
    assert px.std() > 20
    banner = px[30:60, 200:700].reshape(-1, 3).mean(axis=0)
    assert abs(banner - (127, 29, 29)).max() < 40, f"banner colour {banner} is not the failed colour"
    # the two link buttons (run, task log) are painted in the same colour below the banner
    assert _near(px[100:, :], (127, 29, 29), 20) > 1500
