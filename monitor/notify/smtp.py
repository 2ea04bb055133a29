"""Deliver the email: SMTP (retries on transient errors, at most once), or an .eml file in an outbox.

    settings = smtp_settings_from_env()            # None when AIRFLOW_CONN_SMTP_DEFAULT is unset
    msg = build_message(report, sender=cfg.email.sender, to=cfg.email.to)
    record = deliver(msg, smtp=settings, outbox_dir=workdir / "outbox")   # -> the manifest's "email" entry

The connection is read in connection.py, the message built in message.py (their names are
re-exported here, where callers import them from).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import smtplib
import socket
import ssl
import tempfile
import time
from collections.abc import Callable, Mapping
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Optional, Union

from monitor.errors import NotifyError
from monitor.notify.connection import ENV_VAR, SmtpSettings, parse_smtp_connection, smtp_settings_from_env
from monitor.notify.message import build_message, checked_address, sanitize_header

__all__ = [
    "SmtpSettings",
    "smtp_settings_from_env",
    "parse_smtp_connection",
    "build_message",
    "deliver",
    "already_sent",
    "sanitize_header",
    "ENV_VAR",
    "DeliveryUnknownError",
]


def _recipients(msg: EmailMessage) -> list[str]:
    out = []
    for field in ("To", "Cc", "Bcc"):
        header = msg.get(field)
        if header is not None:
            out += [a.addr_spec for a in header.addresses]
    return out


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return False
    if isinstance(exc, (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, socket.timeout, ConnectionError)):
        return True
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(400 <= code < 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return 400 <= exc.smtp_code < 500
    if isinstance(exc, (ssl.SSLError, smtplib.SMTPException)):  # e.g. STARTTLS not offered: a config problem
        return False
    return isinstance(exc, OSError)


class DeliveryUnknownError(NotifyError):
    """The message went to the server but its final answer never came (a timeout or a cut after DATA):
    it may have been delivered. Never retried: delivery is at most once."""


class _Handover:
    """Marks the moment the message is handed to the server (the DATA command): after it, a lost
    answer means the outcome is unknown, and a retry could deliver the message twice."""

    def __init__(self) -> None:
        self.started = False

    def watch(self, client: smtplib.SMTP) -> None:
        data = client.data

        def watched(msg: Any) -> tuple[int, bytes]:
            self.started = True
            return data(msg)

        client.data = watched  # type: ignore[method-assign]


def _send_once(msg: EmailMessage, smtp: SmtpSettings, sender: str, rcpt: list[str], handover: Optional[_Handover] = None) -> dict:
    context = ssl.create_default_context()
    cls = smtplib.SMTP_SSL if smtp.use_ssl else smtplib.SMTP
    kwargs: dict[str, Any] = {"timeout": smtp.timeout}
    if smtp.use_ssl:
        kwargs["context"] = context
    with cls(smtp.host, smtp.effective_port, **kwargs) as client:
        if not smtp.use_ssl and smtp.starttls:
            client.ehlo()
            client.starttls(context=context)
            client.ehlo()
        if smtp.login:
            client.login(smtp.login, smtp.password or "")
        if handover is not None:
            handover.watch(client)
        refused = client.send_message(msg, from_addr=sender, to_addrs=rcpt)
    return refused or {}


def deliver(msg: EmailMessage, *, smtp: Optional[SmtpSettings], outbox_dir: Union[str, Path],
            sleep: Callable[[float], None] = time.sleep) -> dict:
    """Send `msg` through SMTP, or write it to `<outbox_dir>/<date>_<monitor>.eml` when `smtp` is None.

    Returns the delivery record for the manifest. Raises NotifyError naming host:port when
    SMTP fails after the configured retries (transient errors only are retried, with backoff).
    """
    data = msg.as_bytes()
    rcpt = _recipients(msg)
    sent_at = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    record: dict[str, Any] = {"to": rcpt, "sent_at": sent_at, "message_id": str(msg.get("Message-ID", "")),
                              "subject": str(msg.get("Subject", "")), "bytes": len(data)}
    if smtp is None:
        path = _write_outbox(msg, data, Path(outbox_dir))
        return {"method": "outbox", **record, "path": str(path)}
    if not rcpt:
        raise NotifyError("the message has no recipients (To is empty)")
    sender = smtp.sender or (msg["From"].addresses[0].addr_spec if msg.get("From") else "")
    if smtp.sender:
        checked_address(smtp.sender, "sender (from_email)")
    attempts = max(0, int(smtp.retries)) + 1
    last: Optional[BaseException] = None
    for attempt in range(attempts):
        handover = _Handover()
        try:
            refused = _send_once(msg, smtp, sender, rcpt, handover)
        except Exception as exc:  # noqa: BLE001 - classified below, re-raised as NotifyError
            last = exc
            if handover.started and not isinstance(exc, smtplib.SMTPResponseException):
                # The server has the message and its answer was lost: a retry could deliver it twice.
                raise DeliveryUnknownError(
                    f"SMTP {smtp.where} took the message but its final answer never came ({type(exc).__name__}: {exc}); "
                    "it may have been delivered, so it is not sent again (at most once; --resend sends it again)"
                ) from exc
            if not _transient(exc) or attempt == attempts - 1:
                break
            sleep(min(smtp.backoff * (2 ** attempt), 30.0))
            continue
        out = {"method": "smtp", **record, "host": smtp.where,
               "sent_at": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
               "attempts": attempt + 1}
        if refused:  # some recipients accepted, these refused: a partial delivery, said as such
            out["partial"] = True
            out["refused"] = {addr: _reply_text(code, text) for addr, (code, text) in sorted(refused.items())}
            out["to"] = [a for a in rcpt if a not in refused]
        return out
    tried = f"after {attempt + 1} attempt{'s' if attempt else ''}"
    raise NotifyError(f"could not send the email through SMTP {smtp.where} {tried}: {type(last).__name__}: {last} "
                      f"(check the smtp_default connection: host, port, disable_ssl/disable_tls, login)") from last


def _reply_text(code: int, text: bytes | str) -> str:
    raw = text.decode("utf-8", errors="replace") if isinstance(text, bytes) else str(text)
    return sanitize_header(f"{code} {raw}", 200)


def _write_outbox(msg: EmailMessage, data: bytes, outbox: Path) -> Path:
    date = re.sub(r"[^0-9A-Za-z-]", "", str(msg.get("X-Monitor-Date", "")))
    if not date:
        date = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    monitor = re.sub(r"[^A-Za-z0-9_.-]", "_", str(msg.get("X-Monitor", "") or "monitor"))[:80]
    suffix = ".failed" if str(msg.get("X-Monitor-Status", "")) == "failed" else ""
    try:
        outbox.mkdir(parents=True, exist_ok=True)
        path = outbox / f"{date}_{monitor}{suffix}.eml"
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=outbox)
        try:
            from monitor.io.storage import file_mode

            os.fchmod(fd, file_mode())
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)  # atomic: a reader never sees half a message
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise NotifyError(f"could not write the email to the outbox {outbox}: {exc}") from exc
    return path


def already_sent(manifest: Optional[Mapping]) -> bool:
    """True when the day's manifest records a delivered email (the pipeline then skips unless --resend)."""
    if not isinstance(manifest, Mapping):
        return False
    email = manifest.get("email")
    records = email if isinstance(email, list) else [email]
    return any(isinstance(r, Mapping) and r.get("sent_at") and r.get("method") in ("smtp", "outbox") for r in records)
