"""The email side of a run: whether to send, sending the report, and the failure notice."""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import logging
import os
import re
from collections.abc import Callable
from typing import Any, Optional

from monitor.config import MonitorConfig
from monitor.redact import redact
from monitor.run.context import Clients, RunOptions
from monitor.textcut import cut

__all__ = ["email_decision", "send_report", "fit_message", "notify_failure", "outbox", "index_failure", "MAX_EMAIL_BYTES"]

log = logging.getLogger(__name__)

# Relays refuse large messages (often at 10-25 MB, some at a few MB) and a report is read in a minute:
# the email stays under this whatever the data, leaving out the attachment first, then the charts.
MAX_EMAIL_BYTES = 1_000_000


def outbox(cfg: Optional[MonitorConfig]) -> str:
    """Where .eml files go when no SMTP server is configured."""
    return (cfg.email.outbox if cfg else None) or os.environ.get("MONITOR_OUTBOX") or "outbox"


def email_decision(cfg: MonitorConfig, status: str, options: RunOptions, previous_manifest: Optional[dict]) -> Optional[str]:
    """Why the email is not sent, or None to send it."""
    if not options.send_email:
        return "skipped: --no-email"
    if cfg.email.send == "never":
        return "skipped: email.send is never"
    if cfg.email.send == "on_alert" and status == "ok":
        return "skipped: email.send is on_alert and nothing needs attention"
    from monitor.notify.smtp import already_sent

    if previous_manifest and already_sent(previous_manifest) and not options.resend:
        return f"skipped: already sent at {previous_manifest['email'].get('sent_at')} (use --resend to send again)"
    return None


def send_report(cfg: MonitorConfig, report: Any, attachments: dict[str, bytes], clients: Clients, *,
                report_link: Optional[str] = None) -> dict:
    """Send the rendered report (or write it to the outbox); returns the delivery record.

    The message stays under MAX_EMAIL_BYTES: see fit_message (`report_link`: where the full report is)."""
    from monitor.notify.smtp import build_message, deliver

    to = cfg.email.to or ["ml-team@localhost"]

    def build(r: Any, files: dict[str, bytes]) -> Any:
        return build_message(r, sender=cfg.email.sender, to=to, attachments=files, attach_report=False,
                             subject_prefix=cfg.email.subject_prefix)

    msg, left_out = fit_message(report, attachments, build, report_link)
    record = deliver(msg, smtp=clients.smtp, outbox_dir=outbox(cfg))
    return {"sent": True, **record, **({"left_out": left_out} if left_out else {})}


def fit_message(report: Any, attachments: dict[str, bytes], build: Callable[[Any, dict[str, bytes]], Any],
                report_link: Optional[str] = None, limit: Optional[int] = None) -> tuple[Any, list[str]]:
    """The message `build(report, attachments)` if it is under `limit` bytes; else without the attachments,
    then also without the charts, then the plain text alone, each time with a line at the top saying what
    was left out and where the full report is. Returns (message, what was left out)."""
    limit = limit or MAX_EMAIL_BYTES
    msg = build(report, attachments)
    size = len(msg.as_bytes())
    if size <= limit:
        return msg, []
    where = f" The full report: {report_link}" if report_link else " The full report is stored with the run's results."
    over = f"with them this email would be {size / 1e6:.1f} MB, over the {limit / 1e6:g} MB limit."
    steps: list[tuple[list[str], Any]] = [
        (sorted(attachments), _noted(report, f"Not attached: {', '.join(sorted(attachments))} ({over}){where}")),
        ([*sorted(attachments), "charts"], _noted(_without_charts(report), f"Left out: the attachment and the charts ({over}){where}")),
    ]
    for left_out, smaller in steps:
        msg = build(smaller, {})
        if len(msg.as_bytes()) <= limit:
            return msg, left_out
    note = f"Left out: the attachment, the charts and the formatted report ({over}){where}"
    text = cut(report.text, limit // 4, tag=False)  # utf-8 text: at most 4 bytes a character
    bare = dataclasses.replace(report, html=f"<p>{html.escape(note)}</p><pre>{html.escape(text)}</pre>", text=f"{note}\n\n{text}", images={})
    return build(bare, {}), [*sorted(attachments), "charts", "html"]


def _noted(report: Any, note: str) -> Any:
    """`report` with `note` as the first line of its HTML body and of its text."""
    block = f'<div style="padding:8px 12px;background:#fef3c7;font:13px sans-serif;">{html.escape(note)}</div>'
    body = re.search(r"<body\b[^>]*>", report.html)
    at = body.end() if body else 0
    return dataclasses.replace(report, html=report.html[:at] + block + report.html[at:], text=f"{note}\n\n{report.text}")


def _without_charts(report: Any) -> Any:
    html_ = re.sub(r"<img\b[^>]*\bsrc=\"cid:[^\"]*\"[^>]*>", "", report.html)
    return dataclasses.replace(report, html=html_, images={})


def notify_failure(
    cfg: Optional[MonitorConfig],
    day: Optional[dt.date],
    error: str,
    *,
    clients: Optional[Clients] = None,
    task: Optional[str] = None,
    dag_id: Optional[str] = None,
    monitor_name: Optional[str] = None,
    links: Optional[list[tuple[str, str]]] = None,
    commands: Optional[list[tuple[str, str]]] = None,
    to: Optional[list[str]] = None,
) -> Optional[dict]:
    """Send the failure notice for a run that could not complete. Never raises: it is the last word.

    `links` (the Airflow run and task log) and `commands` (how to rerun the day): see render_failure;
    `to`: the recipients when `cfg` is None (a config that does not load). The day is marked failed
    on the index page."""
    try:
        from monitor.notify.smtp import build_message, deliver
        from monitor.report.render import render_failure

        name = cfg.name if cfg else (monitor_name or "monitor")
        error = redact(error)  # no secret in the notice
        report = render_failure(monitor=name, date=day.isoformat() if day else None, error=error, task=task, dag_id=dag_id,
                                links=links, commands=commands, config_path=cfg.source_path if cfg else None)
        clients = clients or Clients.from_env()
        if cfg is not None and day is not None:
            index_failure(cfg, day, error, clients)
        if cfg is not None and cfg.email.send == "never":
            return None
        to = (cfg.email.to if cfg else to) or ["ml-team@localhost"]
        sender = cfg.email.sender if cfg else "drift-monitor@localhost"
        # no attachment: there is no report for the day (the notice says so)
        msg = build_message(report, sender=sender, to=to, attach_report=False,
                            subject_prefix=cfg.email.subject_prefix if cfg else "")
        return deliver(msg, smtp=clients.smtp, outbox_dir=outbox(cfg))
    except Exception:  # noqa: BLE001 - the failure that brought us here is the one to report
        log.exception("could not send the failure notice")
        return None


def index_failure(cfg: MonitorConfig, day: dt.date, error: str, clients: Clients) -> None:
    """Mark the day failed on <output>/index.html; a failure here is one quiet log line."""
    from monitor.io.storage import storage_for
    from monitor.report.index import failed_day, update_index

    try:
        update_index(storage_for(cfg.output.uri, s3=clients.s3), cfg.output.uri, cfg.name, day, failed_day(cfg.name, day, error))
    except Exception as exc:  # noqa: BLE001 - the index is a convenience, never a failure
        log.info("could not record the failure in the index page: %s", exc)
