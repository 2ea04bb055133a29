"""A scriptable SMTP server (aiosmtpd on 127.0.0.1) for fault tests.

    with scripted_smtp() as smtp:
        smtp.script.reply("MAIL", "421 4.3.2 Service not available", times=1)   # next MAIL FROM: 421
        smtp.script.reply("DATA", "451 4.3.0 Try again later", times=2)         # next two DATA: 451
        smtp.script.refuse("b@example.com", "550 5.1.1 No such user")           # RCPT TO that address: 550
        smtp.script.reject_auth = True                                            # AUTH: 535 5.7.8
        smtp.script.late_seconds = 3.0                                            # DATA: 250, but only after 3 s
        ... smtp.port ...
        smtp.accepted          # messages the server accepted (a late 250 counts: the relay has it)
        smtp.data_attempts     # how many DATA commands arrived (accepted or not)

A late 250 models a relay that queued the message but whose answer reached the client after
the client's timeout: the message is recorded as accepted when its data arrives, before the
delay. Delays are bounded and end when the server stops.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any, Optional

__all__ = ["SmtpScript", "ScriptedSmtp", "scripted_smtp"]


@dataclass
class SmtpScript:
    """What the server answers. Replies for a command are used up in order, then the default (250)."""

    replies: dict[str, list[str]] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)  # recipient -> reply for its RCPT TO
    reject_auth: bool = False
    late_seconds: float = 0.0  # delay before the final 250 of DATA
    late_times: Optional[int] = None  # only the first N DATA are late (None: all)

    def reply(self, command: str, text: str, times: int = 1) -> None:
        self.replies.setdefault(command.upper(), []).extend([text] * times)

    def refuse(self, address: str, text: str = "550 5.1.1 No such user here") -> None:
        self.refused[address.lower()] = text

    def next_reply(self, command: str) -> Optional[str]:
        queue = self.replies.get(command.upper())
        return queue.pop(0) if queue else None


class ScriptedSmtp:
    """The aiosmtpd handler and what it saw."""

    def __init__(self) -> None:
        self.script = SmtpScript()
        self.accepted: list[EmailMessage] = []
        self.envelopes: list[Any] = []
        self.data_attempts = 0
        self.auth_attempts = 0
        self.port = 0
        self._lock = threading.Lock()
        self._stopping: Optional[asyncio.Event] = None
        self._late_used = 0

    # aiosmtpd hooks ---------------------------------------------------------

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str, mail_options: list[str]) -> str:
        reply = self.script.next_reply("MAIL")
        if reply:
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]) -> str:
        refused = self.script.refused.get(address.lower())
        if refused:
            return refused
        reply = self.script.next_reply("RCPT")
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._lock:
            self.data_attempts += 1
        reply = self.script.next_reply("DATA")
        if reply:
            return reply
        with self._lock:
            self.envelopes.append(envelope)
            self.accepted.append(message_from_bytes(envelope.original_content or envelope.content, policy=policy.default))
            late = self.script.late_seconds > 0 and (self.script.late_times is None or self._late_used < self.script.late_times)
            if late:
                self._late_used += 1
        if late:
            if self._stopping is None:
                self._stopping = asyncio.Event()
            try:
                await asyncio.wait_for(self._stopping.wait(), timeout=self.script.late_seconds)
            except TimeoutError:
                pass
        return "250 OK: queued"

    # aiosmtpd authenticator
    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> Any:
        from aiosmtpd.smtp import AuthResult

        with self._lock:
            self.auth_attempts += 1
        return AuthResult(success=not self.script.reject_auth, handled=False)

    # helpers ----------------------------------------------------------------

    def recipients(self) -> list[list[str]]:
        with self._lock:
            return [list(e.rcpt_tos) for e in self.envelopes]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def scripted_smtp(*, auth: bool = False) -> Iterator[ScriptedSmtp]:
    """A scripted aiosmtpd server on a free 127.0.0.1 port (AUTH offered without TLS when `auth`)."""
    from aiosmtpd.controller import Controller

    handler = ScriptedSmtp()
    handler.port = _free_port()
    kw: dict[str, Any] = {}
    if auth:
        kw.update(authenticator=handler, auth_require_tls=False)
    ctl = Controller(handler, hostname="127.0.0.1", port=handler.port, data_size_limit=50 * 1024 * 1024, **kw)
    ctl.start()
    try:
        yield handler
    finally:
        stopping = handler._stopping
        if stopping is not None:
            ctl.loop.call_soon_threadsafe(stopping.set)
        ctl.stop()
