"""The email of a rendered report, built with the standard library; addresses checked, headers one line each.

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
import re
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from typing import Any, Optional

from monitor.errors import NotifyError

__all__ = ["build_message", "sanitize_header", "checked_address"]

_ADDR_RE = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")


def sanitize_header(value: Any, limit: int = 998) -> str:
    """One header-safe line: CR, LF and other control characters become spaces (no header injection)."""
    text = re.sub(r"[\x00-\x1f\x7f\u2028\u2029\x85]+", " ", str(value if value is not None else ""))
    return re.sub(r" {2,}", " ", text).strip()[:limit]


def checked_address(value: str, role: str) -> Address:
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
    from_addr = checked_address(sender, "sender")
    to_addrs = [checked_address(a, "recipient") for a in to]
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
