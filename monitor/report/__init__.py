"""Rendering the report email (HTML + text + charts) from metrics.json."""

from monitor.report.render import (
    MAX_DRIFT_CHARTS,
    TEMPLATES_DIR,
    Report,
    render_failure,
    render_report,
    subject_line,
)

__all__ = [
    "Report",
    "render_report",
    "render_failure",
    "subject_line",
    "TEMPLATES_DIR",
    "MAX_DRIFT_CHARTS",
]
