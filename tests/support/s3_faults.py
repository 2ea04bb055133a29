"""A fault-injecting HTTP proxy for an S3 endpoint (moto's ThreadedMotoServer), loopback only.

    with moto_s3() as upstream, S3FaultProxy(upstream) as proxy:
        boto3.client("s3", endpoint_url=proxy.endpoint)      # talks to moto through the proxy
        proxy.fail_503(times=2)                               # next two requests: 503 SlowDown
        proxy.drip(seconds_per_byte=5, match=on_get("x"))     # a GET of key x: one byte every 5 s
        proxy.silent(match=on_method("GET"))                  # GETs: read the request, never answer
        proxy.cut_after(3)                                    # 3 more requests pass, then every connection is cut
        proxy.cut_after(match=on_put("metrics.json"))         # ... or cut everything after a chosen request
        proxy.lose_answer(match=on_put("claim"), times=1)     # forward the PUT, then cut instead of answering
        proxy.truncate(1000, match=on_get("x"), times=1)      # answer, but cut after 1000 bytes of the body

Faults are rules checked in order: the first that matches a request (and has uses left)
decides what happens to it; a request no rule takes is forwarded unchanged. Every request
is recorded in `proxy.requests` (number, method, path, headers, what was done to it).

moto checks `If-None-Match: *` and then stores the object in two steps that another request
thread can interleave (measured: with a 1 us GIL switch interval, 1 of 100 races of 8
conditional PUTs had two winners). S3 itself makes the conditional write atomic; the proxy
restores that by forwarding conditional writes one at a time (`atomic_conditional_writes`).

Waits (drip, silent) end when the client hangs up or the proxy stops, so a test never hangs
on its own harness.
"""

from __future__ import annotations

import http.client
import select
import socket
import socketserver
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Optional
from urllib.parse import urlsplit

__all__ = [
    "S3FaultProxy",
    "Request",
    "Fault",
    "on_method",
    "on_key",
    "on_get",
    "on_put",
]


@dataclass
class Request:
    """One request the proxy received."""

    n: int  # 1-based, in arrival order
    method: str
    path: str
    headers: dict[str, str]
    fault: Optional[str] = None  # what the proxy did instead of forwarding (None: forwarded)
    status: Optional[int] = None  # the status sent back (None: no answer)
    seconds_per_byte: float = 0.0  # for a drip
    body_bytes: int = 0  # for a truncate: how much of the body was sent before the reset
    pieces_sent: int = 0  # how many sends the answer took (a drip: one per byte)

    @property
    def key(self) -> str:
        """The object key (path-style: /bucket/key -> key), without the query string."""
        path = self.path.split("?", 1)[0].lstrip("/")
        return path.split("/", 1)[1] if "/" in path else ""

    @property
    def conditional(self) -> bool:
        return any(h.lower() in ("if-none-match", "if-match") for h in self.headers)


Match = Callable[[Request], bool]


def on_method(method: str) -> Match:
    return lambda r: r.method == method.upper()


def on_key(suffix: str) -> Match:
    """Requests whose object key ends with `suffix` (any method)."""
    return lambda r: r.key.endswith(suffix)


def on_get(suffix: str = "") -> Match:
    return lambda r: r.method == "GET" and r.key.endswith(suffix) and bool(r.key)


def on_put(suffix: str = "") -> Match:
    return lambda r: r.method == "PUT" and r.key.endswith(suffix) and bool(r.key)


@dataclass
class Fault:
    kind: str  # "503" | "drip" | "silent" | "cut" | "lose_answer" | "truncate"
    match: Optional[Match] = None
    times: Optional[int] = None  # None: every matching request
    seconds_per_byte: float = 0.0
    body_bytes: int = 0  # for a truncate
    used: int = 0

    def takes(self, req: Request) -> bool:
        if self.times is not None and self.used >= self.times:
            return False
        return self.match is None or bool(self.match(req))


_SLOW_DOWN = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
    b"<Message>Please reduce your request rate.</Message><RequestId>fault-proxy</RequestId></Error>"
)


@dataclass
class _Trigger:
    """Cut every connection once `remaining` more requests have passed, or after a matching one."""

    remaining: Optional[int] = None
    match: Optional[Match] = None
    fired: bool = False


@dataclass
class _State:
    faults: list[Fault] = field(default_factory=list)
    trigger: Optional[_Trigger] = None


class S3FaultProxy:
    """A threaded HTTP/1.1 proxy on 127.0.0.1 in front of `upstream` (http://127.0.0.1:PORT)."""

    def __init__(self, upstream: str, *, atomic_conditional_writes: bool = True) -> None:
        parts = urlsplit(upstream)
        if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError(f"the fault proxy only fronts a loopback endpoint, not {upstream!r}")
        self.upstream_host = parts.hostname or "127.0.0.1"
        self.upstream_port = parts.port or 80
        self.atomic_conditional_writes = atomic_conditional_writes
        self.requests: list[Request] = []
        self._state = _State()
        self._lock = threading.Lock()
        self._conditional = threading.Lock()
        self._stop = threading.Event()
        self._clients: set[socket.socket] = set()
        self._server: Optional[socketserver.ThreadingTCPServer] = None
        self._thread: Optional[threading.Thread] = None

    # ------------------------------------------------------------------ scripting

    @property
    def endpoint(self) -> str:
        assert self._server is not None, "start the proxy first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def fail_503(self, times: Optional[int] = 1, match: Optional[Match] = None) -> Fault:
        return self._add(Fault("503", match, times))

    def drip(self, seconds_per_byte: float, match: Optional[Match] = None, times: Optional[int] = None) -> Fault:
        """Forward the request, then send the answer one byte every `seconds_per_byte`."""
        return self._add(Fault("drip", match, times, seconds_per_byte=seconds_per_byte))

    def silent(self, match: Optional[Match] = None, times: Optional[int] = None) -> Fault:
        """Read the request and never answer (the connection stays open until the client gives up)."""
        return self._add(Fault("silent", match, times))

    def cut(self, match: Optional[Match] = None, times: Optional[int] = None) -> Fault:
        """Reset the connection of matching requests without forwarding them."""
        return self._add(Fault("cut", match, times))

    def lose_answer(self, match: Optional[Match] = None, times: Optional[int] = None) -> Fault:
        """Forward the request (it takes effect upstream), then reset the connection instead of answering."""
        return self._add(Fault("lose_answer", match, times))

    def truncate(self, body_bytes: int, match: Optional[Match] = None, times: Optional[int] = None) -> Fault:
        """Forward the request, send the answer's status, headers and first `body_bytes` bytes of its
        body, then reset the connection (a connection lost in the middle of a download)."""
        return self._add(Fault("truncate", match, times, body_bytes=body_bytes))

    def cut_after(self, k: Optional[int] = None, *, match: Optional[Match] = None) -> None:
        """Let `k` more requests through (or every request up to and including one that matches),
        then cut every later connection: the endpoint is gone."""
        if (k is None) == (match is None):
            raise ValueError("give k or match")
        with self._lock:
            self._state.trigger = _Trigger(remaining=k, match=match)

    def clear(self) -> None:
        """Remove every fault: requests are forwarded again."""
        with self._lock:
            self._state = _State()

    def _add(self, fault: Fault) -> Fault:
        with self._lock:
            self._state.faults.append(fault)
        return fault

    def count(self, match: Optional[Match] = None) -> int:
        with self._lock:
            return sum(1 for r in self.requests if match is None or match(r))

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> S3FaultProxy:
        proxy = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                proxy._serve(self.request)

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self._server = Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            clients = list(self._clients)
        for s in clients:
            _reset(s)
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> S3FaultProxy:
        return self.start()

    def __exit__(self, exc_type: Optional[type[BaseException]], exc: Optional[BaseException], tb: Optional[TracebackType]) -> None:
        self.stop()

    # ------------------------------------------------------------------ serving

    def _serve(self, sock: socket.socket) -> None:
        with self._lock:
            self._clients.add(sock)
        reader = sock.makefile("rb")
        try:
            while not self._stop.is_set():
                parsed = _read_request(reader, sock)
                if parsed is None:
                    return  # the client closed the connection
                method, path, headers, body = parsed
                req, fault = self._decide(method, path, headers)
                if fault == "cut":
                    _reset(sock)
                    return
                if fault == "503":
                    req.status = 503
                    sock.sendall(_response(503, "Slow Down", {"Content-Type": "application/xml"}, _SLOW_DOWN))
                    continue
                if fault == "silent":
                    self._wait_for_hangup(sock, forever=True)
                    return
                raw, status = self._forward(method, path, headers, body, req)
                req.status = status
                self._after(req)  # before answering: the client's next request sees the trigger fired
                if fault == "lose_answer":
                    req.status = None
                    _reset(sock)
                    return
                if fault == "drip":
                    self._drip(sock, raw, req)
                    return
                if fault == "truncate":
                    sock.sendall(raw[: raw.index(b"\r\n\r\n") + 4 + req.body_bytes])
                    req.pieces_sent = 1
                    _reset(sock)
                    return
                sock.sendall(raw)
                req.pieces_sent = 1
        except OSError:
            return
        finally:
            with self._lock:
                self._clients.discard(sock)
            try:
                reader.close()
                sock.close()
            except OSError:
                pass

    def _decide(self, method: str, path: str, headers: dict[str, str]) -> tuple[Request, Optional[str]]:
        with self._lock:
            req = Request(len(self.requests) + 1, method, path, headers)
            self.requests.append(req)
            trigger = self._state.trigger
            if trigger is not None and trigger.fired:
                req.fault = "cut"
                return req, "cut"
            for f in self._state.faults:
                if f.takes(req):
                    f.used += 1
                    req.fault = f.kind
                    req.seconds_per_byte = f.seconds_per_byte
                    req.body_bytes = f.body_bytes
                    return req, f.kind
        return req, None

    def _after(self, req: Request) -> None:
        """Count a forwarded request against a cut_after trigger."""
        with self._lock:
            t = self._state.trigger
            if t is None or t.fired:
                return
            if t.remaining is not None:
                t.remaining -= 1
                t.fired = t.remaining <= 0
            elif t.match is not None and t.match(req):
                t.fired = True

    def _forward(self, method: str, path: str, headers: dict[str, str], body: bytes, req: Request) -> tuple[bytes, int]:
        conn = http.client.HTTPConnection(self.upstream_host, self.upstream_port, timeout=30)
        out_headers = {k: v for k, v in headers.items() if k.lower() not in ("transfer-encoding", "connection")}
        out_headers["Content-Length"] = str(len(body))
        lock = self._conditional if (self.atomic_conditional_writes and req.conditional and method in ("PUT", "POST")) else None
        try:
            if lock is not None:
                lock.acquire()
            try:
                conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
                for k, v in out_headers.items():
                    conn.putheader(k, v)
                conn.endheaders(body if body else None)
                resp = conn.getresponse()
                data = resp.read()
            finally:
                if lock is not None:
                    lock.release()
            resp_headers = [(k, v) for k, v in resp.getheaders() if k.lower() not in ("transfer-encoding", "connection", "content-length")]
            if method == "HEAD":
                length = resp.getheader("Content-Length") or "0"
                raw = _response(resp.status, resp.reason, dict(resp_headers), b"", content_length=length)
            else:
                raw = _response(resp.status, resp.reason, dict(resp_headers), data)
            return raw, resp.status
        finally:
            conn.close()

    def _drip(self, sock: socket.socket, raw: bytes, req: Request) -> None:
        for i in range(len(raw)):
            sock.sendall(raw[i : i + 1])
            req.pieces_sent += 1
            if self._wait_for_hangup(sock, timeout=req.seconds_per_byte):
                return

    def _wait_for_hangup(self, sock: socket.socket, *, timeout: Optional[float] = None, forever: bool = False) -> bool:
        """Wait `timeout` seconds (or until stopped, with `forever`); True when the client hung up or we stop."""
        end = None if forever else time.monotonic() + (timeout or 0.0)
        while not self._stop.is_set():
            left = 0.05 if end is None else min(0.05, end - time.monotonic())
            if left <= 0:
                return False
            try:
                ready, _, _ = select.select([sock], [], [], left)
            except (OSError, ValueError):
                return True
            if ready:
                try:
                    if not sock.recv(4096, socket.MSG_PEEK):
                        return True
                    sock.recv(65536)  # a pipelined request: discard it (we are not answering)
                except OSError:
                    return True
        return True


def _read_request(reader, sock: Optional[socket.socket] = None) -> Optional[tuple[str, str, dict[str, str], bytes]]:
    line = reader.readline(65537)
    while line in (b"\r\n", b"\n"):
        line = reader.readline(65537)
    if not line:
        return None
    method, path, _ = line.decode("latin-1").split(" ", 2)
    headers: dict[str, str] = {}
    while True:
        h = reader.readline(65537)
        if h in (b"\r\n", b"\n", b""):
            break
        k, v = h.decode("latin-1").split(":", 1)
        headers[k.strip()] = v.strip()
    lower = {k.lower(): v for k, v in headers.items()}
    if sock is not None and lower.get("expect", "").lower() == "100-continue":
        sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")  # else botocore waits 1 s before sending each PUT body
        headers = {k: v for k, v in headers.items() if k.lower() != "expect"}
    body = b""
    if lower.get("transfer-encoding", "").lower() == "chunked":
        chunks = []
        while True:
            size = int(reader.readline().split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while reader.readline() not in (b"\r\n", b"\n", b""):
                    pass
                break
            chunks.append(reader.read(size))
            reader.readline()
        body = b"".join(chunks)
    elif "content-length" in lower:
        body = reader.read(int(lower["content-length"]))
    return method.upper(), path, headers, body


def _response(status: int, reason: str, headers: dict[str, str], body: bytes, content_length: Optional[str] = None) -> bytes:
    lines = [f"HTTP/1.1 {status} {reason}"]
    for k, v in headers.items():
        lines.append(f"{k}: {v}")
    lines.append(f"Content-Length: {content_length if content_length is not None else len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def _reset(sock: socket.socket) -> None:
    """Close with RST (SO_LINGER 0): the client sees a connection reset, not a clean end."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    except OSError:
        pass
