"""The alert report as a person sees it: rendered by headless Chromium, checked non-blank, kept as an artifact."""

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


def _screenshot(browser: str, page: Path, png: Path, height: int) -> None:
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        cmd = [
            browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
            f"--user-data-dir={profile}", f"--screenshot={png}", f"--window-size=900,{height}", page.as_uri(),
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
