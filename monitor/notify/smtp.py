"""Build the email with the standard library and deliver it: SMTP, or an .eml file in an outbox.

    settings = smtp_settings_from_env()            # None when AIRFLOW_CONN_SMTP_DEFAULT is unset
    msg = build_message(report, sender=cfg.email.sender, to=cfg.email.to)
    record = deliver(msg, smtp=settings, outbox_dir=workdir / "outbox")   # -> the manifest's "email" entry

The SMTP connection follows the Airflow SMTP provider (`smtp_default`, read from the
environment without the metadata DB), with the provider's extra names and defaults:
SSL on unless `disable_ssl`, STARTTLS on unless `disable_tls` (STARTTLS only applies
to a plain connection), `timeout` 30 s, `retry_limit` 5, `from_email` as the sender.

Message layout (what mail clients expect for HTML with inline images and a file):

    multipart/mixed
    ├── multipart/alternative
    │   ├── text/plain                 the same facts, for text-only clients
    │   └── multipart/related
    │       ├── text/html              <img src="cid:...">
    │       └── image/png ...          Content-ID: <...>
    └── text/html (attachment)         report.html, images inlined
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import smtplib
import socket
import ssl
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path
from typing import Any, Optional, Union
from urllib.parse import parse_qsl, unquote, urlsplit

from monitor.errors import NotifyError

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

ENV_VAR = "AIRFLOW_CONN_SMTP_DEFAULT"
_ADDR_RE = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")
_TRUE = {"1", "true", "yes", "on", "y", "t"}
_FALSE = {"0", "false", "no", "off", "n", "f", ""}


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to send. Defaults are the Airflow SMTP provider's."""

    host: str
    port: Optional[int] = None  # None: 465 with SSL, else 25 (smtplib's defaults)
    login: Optional[str] = None
    password: Optional[str] = None
    use_ssl: bool = True
    starttls: bool = True
    timeout: float = 30.0
    retries: int = 5  # extra attempts after the first, on transient errors
    sender: Optional[str] = None  # the connection's from_email
    backoff: float = 1.0  # seconds before the first retry, doubled each time (capped at 30 s)

    @property
    def effective_port(self) -> int:
        return self.port or (465 if self.use_ssl else 25)

    @property
    def where(self) -> str:
        return f"{self.host}:{self.effective_port}"

    def __repr__(self) -> str:  # never print the password into logs
        return (f"SmtpSettings(host={self.host!r}, port={self.port!r}, login={self.login!r}, password={'***' if self.password else None}, "
                f"use_ssl={self.use_ssl}, starttls={self.starttls}, timeout={self.timeout}, retries={self.retries}, sender={self.sender!r})")


# --------------------------------------------------------------------------- connection parsing


def _bool(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise NotifyError(f"{ENV_VAR}: extra {name}={value!r} is not a boolean (use true or false)")


def _number(value: Any, name: str, kind=float):
    try:
        out = kind(value)
    except (TypeError, ValueError):
        raise NotifyError(f"{ENV_VAR}: {name}={value!r} is not a number") from None
    if out < 0:
        raise NotifyError(f"{ENV_VAR}: {name}={value!r} must not be negative")
    return out


def _from_fields(host: Any, port: Any, login: Any, password: Any, extra: Mapping[str, Any]) -> SmtpSettings:
    if not host:
        raise NotifyError(f"{ENV_VAR}: the connection has no host (e.g. smtp://user:pass@smtp.example.com:587)")
    return SmtpSettings(
        host=str(host),
        port=_number(port, "port", int) if port not in (None, "") else None,
        login=str(login) if login else None,
        password=str(password) if password else None,
        use_ssl=not _bool(extra.get("disable_ssl", False), "disable_ssl"),
        starttls=not _bool(extra.get("disable_tls", False), "disable_tls"),
        timeout=_number(extra.get("timeout", 30), "timeout"),
        retries=_number(extra.get("retry_limit", 5), "retry_limit", int),
        sender=str(extra["from_email"]) if extra.get("from_email") else None,
    )


def parse_smtp_connection(value: str) -> SmtpSettings:
    """An Airflow connection in JSON form or URI form (query parameters are the extras)."""
    value = value.strip()
    if value.startswith("{"):
        try:
            data = json.loads(value)
        except json.JSONDecodeError as exc:
            raise NotifyError(f"{ENV_VAR}: not valid JSON ({exc.msg} at position {exc.pos})") from None
        if not isinstance(data, dict):
            raise NotifyError(f"{ENV_VAR}: the JSON form must be an object with host, port, login, password, extra")
        extra = data.get("extra") or {}
        if isinstance(extra, str):
            try:
                extra = json.loads(extra) if extra.strip() else {}
            except json.JSONDecodeError:
                raise NotifyError(f"{ENV_VAR}: extra is a string but not JSON") from None  # its text may hold a secret
        if not isinstance(extra, dict):
            raise NotifyError(f"{ENV_VAR}: extra must be an object, got {type(extra).__name__}")
        return _from_fields(data.get("host"), data.get("port"), data.get("login"), data.get("password"), extra)
    parts = urlsplit(value)
    if not parts.scheme or "://" not in value:
        # never quote the value: it holds the password
        raise NotifyError(f"{ENV_VAR}: expected JSON or a URI like smtp://user:pass@host:587?disable_ssl=true, "
                          f"got a value of {len(value)} characters that is neither")
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    if "__extra__" in query:  # Airflow's form for nested extras in a URI
        try:
            query = json.loads(query["__extra__"])
        except json.JSONDecodeError:
            raise NotifyError(f"{ENV_VAR}: __extra__ is not JSON") from None
    try:
        port = parts.port
    except ValueError:
        raise NotifyError(f"{ENV_VAR}: the port in {parts.netloc.rsplit('@', 1)[-1]!r} is not a number") from None
    return _from_fields(unquote(parts.hostname or ""), port, unquote(parts.username or ""),
                        unquote(parts.password or ""), query)


def smtp_settings_from_env(env: Mapping[str, str] = os.environ) -> Optional[SmtpSettings]:
    """The `smtp_default` connection from AIRFLOW_CONN_SMTP_DEFAULT, or None when it is unset or empty."""
    value = env.get(ENV_VAR)
    if value is None or not value.strip():
        return None
    return parse_smtp_connection(value)


# --------------------------------------------------------------------------- message


def sanitize_header(value: Any, limit: int = 998) -> str:
    """One header-safe line: CR, LF and other control characters become spaces (no header injection)."""
    text = re.sub(r"[\x00-\x1f\x7f\u2028\u2029\x85]+", " ", str(value if value is not None else ""))
    return re.sub(r" {2,}", " ", text).strip()[:limit]


def _address(value: str, role: str) -> Address:
    if not isinstance(value, str) or re.search(r"[\r\n\x00]", value):
        raise NotifyError(f"{role} address {value!r} contains a line break or is not text; give one plain address like name@example.com")
    name, addr = parseaddr(value)
    if not addr or not _ADDR_RE.fullmatch(addr) or "," in value or ";" in value:
        raise NotifyError(f"{role} address {value!r} is not a valid email address (expected name@domain, one per entry)")
    username, domain = addr.rsplit("@", 1)
    return Address(display_name=sanitize_header(name, 78), username=username, domain=domain)


def build_message(report, *, sender: str, to: list[str], attachments: Optional[dict[str, bytes]] = None,
                  attach_report: bool = True, date: Optional[dt.datetime] = None, subject_prefix: str = "") -> EmailMessage:
    """The email for a rendered `Report`: text + HTML alternatives, cid images, report.html attached.

    `attachments` adds files by name (a "report.html" entry replaces the default one);
    `subject_prefix` (email.subject_prefix in the config) goes in front of the subject.
    Addresses are validated and every header value is reduced to one line.
    """
    if isinstance(to, str):
        to = [to]
    if not to:
        raise NotifyError("no recipients: set email.to in the monitor config (e.g. to: [ml-team@example.com])")
    from_addr = _address(sender, "sender")
    to_addrs = [_address(a, "recipient") for a in to]
    msg = EmailMessage()
    prefix = sanitize_header(subject_prefix, 60)
    msg["Subject"] = sanitize_header(f"{prefix} {report.subject}" if prefix else report.subject, 250) or "drift monitor report"
    msg["From"] = from_addr
    msg["To"] = to_addrs
    msg["Date"] = format_datetime(date or dt.datetime.now(dt.UTC))
    msg["Message-ID"] = make_msgid(domain=from_addr.domain)  # short enough never to be folded
    for name, value in (("X-Monitor", report.monitor), ("X-Monitor-Date", report.date), ("X-Monitor-Status", report.status)):
        if value:
            msg[name] = sanitize_header(value, 100)
    msg.set_content(report.text, subtype="plain", charset="utf-8")
    msg.add_alternative(report.html, subtype="html", charset="utf-8")
    html_part = list(msg.iter_parts())[1]
    for cid, data in report.images.items():
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", cid):
            raise NotifyError(f"image id {cid!r} is not a safe Content-ID (letters, digits, _ . - only)")
        html_part.add_related(data, maintype="image", subtype="png", cid=f"<{cid}>", filename=f"{cid}.png",
                              disposition="inline")
    files = dict(attachments or {})
    if attach_report and "report.html" not in files:
        files["report.html"] = report.standalone_html().encode("utf-8")
    for name, data in files.items():
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", sanitize_header(name, 120)) or "attachment"
        maintype, subtype = _mime(safe)
        if maintype == "text":
            msg.add_attachment(data.decode("utf-8", errors="replace") if isinstance(data, bytes) else str(data),
                               subtype=subtype, charset="utf-8", filename=safe)
        else:
            msg.add_attachment(bytes(data), maintype=maintype, subtype=subtype, filename=safe)
    return msg


def _mime(name: str) -> tuple[str, str]:
    import mimetypes

    kind, _ = mimetypes.guess_type(name)
    if not kind:
        return "application", "octet-stream"
    maintype, subtype = kind.split("/", 1)
    return maintype, subtype


# --------------------------------------------------------------------------- delivery


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
        _address(smtp.sender, "sender (from_email)")
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
