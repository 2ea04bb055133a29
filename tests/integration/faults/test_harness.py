"""Self-tests of the fault harness: each fault does what it says, on loopback, in bounded time."""

from __future__ import annotations

import smtplib
import socket
import sys
import threading
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import pytest

from tests.support.s3_faults import S3FaultProxy, on_get, on_put
from tests.support.smtp_faults import ScriptedSmtp, scripted_smtp

pytestmark = pytest.mark.integration

BUCKET = "fault-harness"


@pytest.fixture
def proxy(s3_endpoint: str) -> Iterator[S3FaultProxy]:
    with S3FaultProxy(s3_endpoint) as p:
        yield p


def _client(endpoint: str, attempts: int = 1, read_timeout: float = 5) -> Any:
    import boto3
    from botocore.config import Config

    cfg = Config(retries={"total_max_attempts": attempts, "mode": "standard"}, connect_timeout=2, read_timeout=read_timeout)
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", config=cfg)


@pytest.fixture
def s3(proxy: S3FaultProxy) -> Any:
    c = _client(proxy.endpoint)
    c.create_bucket(Bucket=BUCKET)
    c.put_object(Bucket=BUCKET, Key="a/data.bin", Body=b"0123456789")
    return c


def _raw_get(proxy: S3FaultProxy, s3: Any, key: str, timeout: float) -> socket.socket:
    """A GET on a raw socket (a presigned URL), to watch the bytes arrive."""
    from urllib.parse import urlsplit

    url = urlsplit(s3.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": key}, ExpiresIn=600))
    s = socket.create_connection(("127.0.0.1", int(proxy.endpoint.rsplit(":", 1)[1])), timeout=timeout)
    s.sendall(f"GET {url.path}?{url.query} HTTP/1.1\r\nHost: {url.netloc}\r\n\r\n".encode())
    return s


def test_forwards_and_records(proxy, s3):
    assert s3.get_object(Bucket=BUCKET, Key="a/data.bin")["Body"].read() == b"0123456789"
    gets = [r for r in proxy.requests if on_get("data.bin")(r)]
    assert len(gets) == 1 and gets[0].fault is None and gets[0].status == 200


def test_503_then_recovers_with_retries(proxy, s3):
    from botocore.exceptions import ClientError

    proxy.fail_503(times=1)
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=BUCKET, Key="a/data.bin")
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    assert exc.value.response["Error"]["Code"] == "SlowDown"
    proxy.fail_503(times=2, match=on_get("data.bin"))
    retrying = _client(proxy.endpoint, attempts=3)
    retrying_before = proxy.count(on_get("data.bin"))
    assert retrying.get_object(Bucket=BUCKET, Key="a/data.bin")["Body"].read() == b"0123456789"
    assert proxy.count(on_get("data.bin")) - retrying_before == 3
    assert [r.fault for r in proxy.requests if on_get("data.bin")(r)][-3:] == ["503", "503", None]


def test_drip_sends_one_byte_at_a_time(proxy, s3):
    proxy.drip(0.001, match=on_get("data.bin"))
    s = _raw_get(proxy, s3, "a/data.bin", timeout=5)
    chunks = []
    with s:
        while True:
            b = s.recv(65536)
            if not b:
                break
            chunks.append(b)
    raw = b"".join(chunks)
    assert raw.startswith(b"HTTP/1.1 200") and raw.endswith(b"0123456789")
    drip = [r for r in proxy.requests if r.fault == "drip"]
    assert len(drip) == 1 and drip[0].pieces_sent == len(raw)  # one send per byte


def test_silent_endpoint_never_answers(proxy, s3):
    proxy.silent(match=on_get("data.bin"))
    s = _raw_get(proxy, s3, "a/data.bin", timeout=0.3)
    with s, pytest.raises(socket.timeout):
        s.recv(1)
    assert proxy.requests[-1].fault == "silent" and proxy.requests[-1].status is None


def test_cut_after_k_requests(proxy, s3):
    from botocore.exceptions import ConnectionClosedError, EndpointConnectionError

    proxy.cut_after(2)
    s3.head_object(Bucket=BUCKET, Key="a/data.bin")
    s3.get_object(Bucket=BUCKET, Key="a/data.bin")["Body"].read()
    with pytest.raises((ConnectionClosedError, EndpointConnectionError)):
        s3.get_object(Bucket=BUCKET, Key="a/data.bin")
    assert proxy.requests[-1].fault == "cut"


def test_cut_after_a_chosen_request(proxy, s3):
    from botocore.exceptions import ConnectionClosedError, EndpointConnectionError

    proxy.cut_after(match=on_put("metrics.json"))
    s3.put_object(Bucket=BUCKET, Key="out/metrics.json", Body=b"{}")
    with pytest.raises((ConnectionClosedError, EndpointConnectionError)):
        s3.put_object(Bucket=BUCKET, Key="out/manifest.json", Body=b"{}")
    proxy.clear()
    with pytest.raises(s3.exceptions.NoSuchKey):
        s3.get_object(Bucket=BUCKET, Key="out/manifest.json")
    assert s3.get_object(Bucket=BUCKET, Key="out/metrics.json")["Body"].read() == b"{}"


def test_conditional_put_has_one_winner_even_when_threads_interleave(proxy, s3):
    """moto alone lets two If-None-Match PUTs both win when its threads interleave; the proxy serialises them."""
    from botocore.exceptions import ClientError

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # make the interleaving that exposes moto's check-then-store likely
    try:
        for trial in range(5):
            wins: list[int] = []
            codes: list[str] = []
            barrier = threading.Barrier(4)
            clients = [_client(proxy.endpoint) for _ in range(4)]

            def go(i: int, trial: int = trial, barrier: threading.Barrier = barrier, clients: list[Any] = clients,
                   wins: list[int] = wins, codes: list[str] = codes) -> None:
                barrier.wait()
                try:
                    clients[i].put_object(Bucket=BUCKET, Key=f"claim-{trial}", Body=str(i).encode(), IfNoneMatch="*")
                    wins.append(i)
                except ClientError as exc:
                    codes.append(exc.response["Error"]["Code"])

            threads = [threading.Thread(target=go, args=(i,)) for i in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=20)
            assert len(wins) == 1 and codes == ["PreconditionFailed"] * 3, (trial, wins, codes)
            assert s3.get_object(Bucket=BUCKET, Key=f"claim-{trial}")["Body"].read() == str(wins[0]).encode()
    finally:
        sys.setswitchinterval(old)


# --------------------------------------------------------------------------- SMTP


def _msg(to: list[str]) -> EmailMessage:
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = "bot@example.com", ", ".join(to), "hello"
    m.set_content("body")
    return m


def _smtp(server: ScriptedSmtp, timeout: float = 5) -> smtplib.SMTP:
    return smtplib.SMTP("127.0.0.1", server.port, timeout=timeout)


def test_smtp_421_on_mail_then_accepts():
    with scripted_smtp() as server:
        server.script.reply("MAIL", "421 4.3.2 Service not available", times=1)
        with _smtp(server) as c, pytest.raises(smtplib.SMTPSenderRefused) as exc:
            c.send_message(_msg(["a@example.com"]))
        assert exc.value.smtp_code == 421 and server.accepted == []
        with _smtp(server) as c:
            assert c.send_message(_msg(["a@example.com"])) == {}
        assert len(server.accepted) == 1


def test_smtp_451_on_data():
    with scripted_smtp() as server:
        server.script.reply("DATA", "451 4.3.0 Try again later", times=1)
        with _smtp(server) as c, pytest.raises(smtplib.SMTPDataError) as exc:
            c.send_message(_msg(["a@example.com"]))
        assert exc.value.smtp_code == 451 and server.accepted == [] and server.data_attempts == 1


def test_smtp_550_for_one_recipient_of_two():
    with scripted_smtp() as server:
        server.script.refuse("b@example.com")
        with _smtp(server) as c:
            refused = c.send_message(_msg(["a@example.com", "b@example.com"]))
        assert set(refused) == {"b@example.com"} and refused["b@example.com"][0] == 550
        assert server.recipients() == [["a@example.com"]]


def test_smtp_535_on_auth():
    with scripted_smtp(auth=True) as server:
        server.script.reject_auth = True
        with _smtp(server) as c, pytest.raises(smtplib.SMTPAuthenticationError) as exc:
            c.login("bot", "wrong")
        assert exc.value.smtp_code == 535 and server.auth_attempts >= 1


def test_smtp_late_250_arrives_after_the_client_gave_up():
    with scripted_smtp() as server:
        server.script.late_seconds = 5.0
        with pytest.raises((socket.timeout, smtplib.SMTPServerDisconnected)):
            with _smtp(server, timeout=0.3) as c:
                c.send_message(_msg(["a@example.com"]))
        assert len(server.accepted) == 1  # the relay has the message, though the client saw a timeout
