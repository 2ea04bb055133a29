"""Render a run's metrics document into the email (HTML + plain text + inline charts).

The input is one run's metrics.json (a dict, validated once into `MetricsDocument`) plus the
previous runs' documents for trends and "since when". Every section is optional: a part the
document does not have leaves its section out. The templates only format; what to show, in which
order and how much of it is decided by the view (`view.py`, `sections.py`, `glance.py`, `trends.py`).

    report = render_report(metrics, history=previous_runs, provenance=manifest_bits)
    report.subject, report.html (cid: images), report.text, report.images
    report.standalone_html()   # images inlined, for report.html in storage
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

from pydantic import ValidationError

from monitor.document import MetricsDocument, read_document
from monitor.report.format import fmt_delta, fmt_money, fmt_num, fmt_p, fmt_pct, metric_name, one_line, wrap_text
from monitor.report.sections import MAX_DRIFT_CHARTS, ChartFn
from monitor.report.subject import SUBJECT_MAX, subject_line
from monitor.report.trends import SparkFn
from monitor.report.view import STATUS_COLORS, build_view
from monitor.textcut import TEXT_CHARS, bound_json, cut

__all__ = ["Report", "render_report", "render_failure", "subject_line", "TEMPLATES_DIR", "MAX_DRIFT_CHARTS"]

_log = logging.getLogger(__name__)
TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"  # shipped inside the package


@dataclass(frozen=True)
class Report:
    """One rendered email: subject, HTML (with `cid:` images), plain text and the images by cid."""

    subject: str
    html: str
    text: str
    images: Mapping[str, bytes] = field(default_factory=dict)
    monitor: str = ""
    date: Optional[str] = None
    status: str = ""

    def standalone_html(self) -> str:
        """The same HTML with every `cid:` image inlined as a data: URI (for report.html in storage)."""
        html = self.html
        for cid, data in self.images.items():
            uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
            html = html.replace(f'src="cid:{cid}"', f'src="{uri}"')
        return html


def _history(history: Iterable[Union[MetricsDocument, Mapping[str, Any]]]) -> list[MetricsDocument]:
    """The previous runs that read as metrics documents; one that does not (an older or damaged file) is left out."""
    out = []
    for h in history:
        if isinstance(h, MetricsDocument):
            out.append(h)
        elif isinstance(h, Mapping):
            try:
                out.append(MetricsDocument.model_validate(bound_json(dict(h))))  # an older run may hold long texts
            except ValidationError as exc:
                _log.warning("history: the run of %s is left out of trends: %s", h.get("date"), str(exc).splitlines()[0])
    return out


def _charts(charts: bool) -> tuple[Optional[ChartFn], Optional[SparkFn]]:
    if not charts:
        return None, None
    from monitor.report.charts import distribution_png, sparkline_png, try_chart

    # a chart that fails is dropped with a note; a trend keeps its text line without its sparkline
    return (lambda histogram: try_chart(distribution_png, histogram)), (lambda values: try_chart(sparkline_png, values)[0])


def _env() -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "htm", "xml", "html.j2"), default=False),
        undefined=jinja2.ChainableUndefined,  # a missing key renders empty, never raises
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        # compiled templates are cached in the temp dir (keyed by source checksum): compiling them
        # was ~0.3 s of every run; a stale or unwritable cache only means compiling again
        bytecode_cache=jinja2.FileSystemBytecodeCache(),
    )
    env.filters.update(num=fmt_num, delta=fmt_delta, pct=fmt_pct, pval=fmt_p, money=fmt_money, metric=metric_name,
                       wrap_text=wrap_text)
    return env



def render_report(metrics: Union[MetricsDocument, Mapping[str, Any]], *,
                  history: Iterable[Union[MetricsDocument, Mapping[str, Any]]] = (),
                  provenance: Optional[Mapping[str, Any]] = None, charts: bool = True, trend_runs: int = 30) -> Report:
    """The email for one run. `history` is the previous runs' metrics documents, oldest first.

    A `metrics` dict that does not fit the metrics.json contract raises DataError naming the key.
    """
    doc = read_document(metrics if isinstance(metrics, MetricsDocument) else bound_json(dict(metrics)), "metrics.json")
    chart, spark = _charts(charts)
    view, images = build_view(doc, _history(history or ()), provenance or {}, chart=chart, spark=spark, trend_runs=trend_runs)
    subject = subject_line(doc)
    env = _env()
    view["subject"] = subject
    html = env.get_template("report.html.j2").render(**view)
    text = env.get_template("report.txt.j2").render(**view)
    return Report(subject=subject, html=html, text=text, images=images, monitor=view["monitor"],
                  date=view["date"] or None, status=view["status"])


def render_failure(*, monitor: str, date: Optional[str], error: str, task: Optional[str] = None,
                   dag_id: Optional[str] = None, details: Optional[str] = None,
                   links: Optional[list[tuple[str, str]]] = None, commands: Optional[list[tuple[str, str]]] = None,
                   config_path: Optional[str] = None) -> Report:
    """The notice for a run that could not complete (always sent, whatever `email.send` says).

    `links` are (label, URL) pairs (the Airflow run and task log); `commands` (label, command) pairs
    that rerun the day; by default the CLI's, with `config_path`."""
    error = cut(error, TEXT_CHARS)  # an error quoting a megabyte value
    first = one_line(str(error).strip().splitlines()[0] if str(error).strip() else "unknown error", 100)
    where = f" in task {one_line(task, 40)}" if task else ""
    subject = one_line(f"[FAILED] {monitor} {date or ''}".strip() + f": run could not complete{where}: {first}", SUBJECT_MAX)
    accent, pale = STATUS_COLORS["failed"]
    view = {
        "subject": subject, "tag": "FAILED", "accent": accent, "pale": pale, "monitor": str(monitor),
        "date": str(date or ""), "error": str(error), "task": task, "dag_id": dag_id, "details": details,
        "links": list(links or []),
        "commands": list(commands or [("Rerun the day", f"drift-monitor run {config_path or 'CONFIG'} --date {date or 'YYYY-MM-DD'}")]),
    }
    env = _env()
    html = env.get_template("failure.html.j2").render(**view)
    text = env.get_template("failure.txt.j2").render(**view)
    return Report(subject=subject, html=html, text=text, images={}, monitor=str(monitor), date=date, status="failed")
