"""Real servers on 127.0.0.1 for tests: moto's S3 endpoint and an aiosmtpd SMTP server."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes, policy

__all__ = ["free_port", "moto_s3", "smtp_sink", "SmtpSink", "aws_env"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def aws_env(endpoint: str) -> dict[str, str]:
    """Environment for boto3 against a local endpoint (fake credentials; moto accepts any)."""
    return {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": endpoint,
    }


@contextmanager
def moto_s3() -> Iterator[str]:
    """A moto S3 server on a free local port; yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    # moto keeps its state per process, not per server: start every server empty.
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(endpoint + "/moto-api/reset", method="POST"), timeout=10).close()
    try:
        yield endpoint
    finally:
        server.stop()


class SmtpSink:
    """Captures every message an aiosmtpd server receives."""

    def __init__(self) -> None:
        self.messages: list = []
        self.envelopes: list = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd handler hook
        with self._lock:
            self.envelopes.append(envelope)
            self.messages.append(message_from_bytes(envelope.original_content or envelope.content, policy=policy.default))
        return "250 OK"

    def wait_for(self, n: int, timeout: float = 10.0) -> list:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self._lock:
                if len(self.messages) >= n:
                    return list(self.messages)
            time.sleep(0.05)
        return list(self.messages)


@contextmanager
def smtp_sink() -> Iterator[tuple[SmtpSink, int]]:
    """An aiosmtpd server on a free local port; yields (sink, port)."""
    from aiosmtpd.controller import Controller

    sink = SmtpSink()
    port = free_port()
    ctl = Controller(sink, hostname="127.0.0.1", port=port, data_size_limit=50 * 1024 * 1024)
    ctl.start()
    try:
        yield sink, port
    finally:
        ctl.stop()
