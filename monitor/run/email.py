"""The email side of a run: whether to send, sending the report, and the failure notice."""

from __future__ import annotations

import datetime as dt
import logging
import os
from typing import Any, Optional

from monitor.config import MonitorConfig
from monitor.redact import redact
from monitor.run.context import Clients, RunOptions

__all__ = ["email_decision", "send_report", "notify_failure", "outbox", "index_failure"]

log = logging.getLogger(__name__)


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


def send_report(cfg: MonitorConfig, report: Any, attachments: dict[str, bytes], clients: Clients) -> dict:
    """Send the rendered report (or write it to the outbox); returns the delivery record."""
    from monitor.notify.smtp import build_message, deliver

    to = cfg.email.to or ["ml-team@localhost"]
    msg = build_message(report, sender=cfg.email.sender, to=to, attachments=attachments, subject_prefix=cfg.email.subject_prefix)
    record = deliver(msg, smtp=clients.smtp, outbox_dir=outbox(cfg))
    return {"sent": True, **record}


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
