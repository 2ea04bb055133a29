"""Data values are drawn as plain glyphs (never interpreted as markup), and a chart that fails is dropped with a note."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitor.report import charts
from monitor.report.render import render_report

FIXTURES = Path(__file__).parents[2] / "fixtures"
TEX = ["$5_$10", "plan_$9_$19", r"$\frac{a}{", "^_^{", "$$", r"\$x$"]


@pytest.mark.parametrize("label", TEX)
def test_tex_like_categories_draw_as_text(label):
    png = charts.distribution_png({"categories": [label, "ok"], "reference": [0.5, 0.5], "current": [0.2, 0.8]})
    assert png is not None and png.startswith(b"\x89PNG")


def _metrics_with_drifted(categories: list[str]) -> dict:
    metrics = json.loads((FIXTURES / "metrics_alert.json").read_text())
    feats = metrics["drift"]["features"]
    name = next(iter(feats))
    n = len(categories)
    feats[name] = {**feats[name], "drifted": True,
                   "histogram": {"categories": categories, "reference": [1 / n] * n, "current": [1.0] + [0.0] * (n - 1)}}
    return metrics


def test_report_renders_with_tex_like_categories():
    report = render_report(_metrics_with_drifted(["$5_$10", "plan_$9_$19"]), history=[])
    assert any(cid.startswith("drift") for cid in report.images)
    assert "chart not drawn" not in report.html


def test_a_failing_chart_is_dropped_with_a_note(monkeypatch):
    def boom(*a, **k):
        raise RuntimeError("renderer exploded")

    monkeypatch.setattr(charts, "_png", boom)
    report = render_report(_metrics_with_drifted(["a", "b"]), history=[])
    assert not any(cid.startswith("drift") for cid in report.images)
    assert "chart not drawn (RuntimeError)" in report.html
