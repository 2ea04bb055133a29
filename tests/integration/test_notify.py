"""Email building and delivery: structure, header safety, SMTP settings, aiosmtpd delivery, outbox, retries."""

from __future__ import annotations

import json
import re
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from monitor.errors import NotifyError
from monitor.notify.smtp import (
    SmtpSettings,
    already_sent,
    build_message,
    deliver,
    parse_smtp_connection,
    smtp_settings_from_env,
)
from monitor.report.render import Report, render_report
from tests.support.paths import FIXTURES


@pytest.fixture(scope="module")
def report() -> Report:
    metrics = json.loads((FIXTURES / "metrics_alert.json").read_text())
    history = json.loads((FIXTURES / "history.json").read_text())
    return render_report(metrics, history=history)


def _plain(port: int, **kw) -> SmtpSettings:
    return SmtpSettings(host="127.0.0.1", port=port, use_ssl=False, starttls=False, timeout=5, **kw)


# --------------------------------------------------------------------------- structure


def test_message_structure_and_cids_resolve(report):
    msg = build_message(report, sender="Drift Monitor <drift@example.com>", to=["ml@example.com", "ops@example.com"])
    parsed = message_from_bytes(msg.as_bytes(), policy=policy.default)
    assert parsed.get_content_type() == "multipart/mixed"
    alternative = parsed.get_payload()[0]
    assert alternative.get_content_type() == "multipart/alternative"
    text, related = alternative.get_payload()
    assert text.get_content_type() == "text/plain" and "WHAT IS WRONG" in text.get_content()
    assert related.get_content_type() == "multipart/related"
    html = related.get_payload()[0]
    assert html.get_content_type() == "text/html"
    images = {p["Content-ID"].strip("<>"): p.get_content() for p in related.get_payload()[1:]}
    referenced = set(re.findall(r'src="cid:([^"]+)"', html.get_content()))
    assert referenced and referenced == set(images)
    assert all(images[c] == report.images[c] for c in referenced)
    attachment = parsed.get_payload()[1]
    assert attachment.get_filename() == "report.html" and attachment.get_content_disposition() == "attachment"
    assert "data:image/png;base64," in attachment.get_content() and "cid:" not in attachment.get_content()
    assert parsed["Subject"] == report.subject
    assert [a.addr_spec for a in parsed["To"].addresses] == ["ml@example.com", "ops@example.com"]
    assert parsed["From"].addresses[0].display_name == "Drift Monitor"
    assert parsed["Message-ID"] and parsed["Date"] and parsed["X-Monitor-Date"] == "2026-11-25"
    assert len(msg.as_bytes()) < 1_000_000


def test_extra_attachments(report):
    msg = build_message(report, sender="d@example.com", to=["t@example.com"],
                        attachments={"to_annotate.csv": b"id,score\n1,0.9\n", "../evil\r\nname.bin": b"\x00\x01"})
    names = [p.get_filename() for p in msg.iter_attachments()]
    assert names == ["to_annotate.csv", ".._evil_name.bin", "report.html"]
    plain = build_message(report, sender="d@example.com", to=["t@example.com"], attach_report=False)
    assert plain.get_content_type() == "multipart/alternative"
    assert [p.get_filename() for p in plain.walk() if p.get_content_disposition() == "attachment"] == []


# --------------------------------------------------------------------------- header injection


def test_header_injection_in_subject_is_neutralised(report):
    evil = Report(subject="[ALERT] x\r\nBcc: victim@example.com\r\n\r\nbody", html="<p>x</p>", text="x",
                  monitor="car\nloan", date="2026-11-25\r\nX-Evil: 1", status="alert")
    raw = build_message(evil, sender="d@example.com", to=["t@example.com"]).as_bytes()
    parsed = message_from_bytes(raw, policy=policy.default)
    assert parsed["Bcc"] is None and parsed["X-Evil"] is None
    assert parsed["Subject"] == "[ALERT] x Bcc: victim@example.com body"
    assert b"\r\nBcc:" not in raw and b"\nBcc:" not in raw


def test_subject_prefix_is_sanitised_too(report):
    msg = build_message(report, sender="d@example.com", to=["t@example.com"], subject_prefix="[ml-prod]\r\nBcc: x@example.com")
    assert msg["Subject"] == "[ml-prod] Bcc: x@example.com " + report.subject


@pytest.mark.parametrize("bad", ["a@example.com\r\nBcc: victim@example.com", "a@example.com, b@example.com",
                                 "not-an-address", "a@b.com;c@d.com", "", "x@"])
def test_bad_recipients_are_refused(report, bad):
    with pytest.raises(NotifyError, match="address"):
        build_message(report, sender="d@example.com", to=[bad])


def test_bad_sender_and_no_recipients(report):
    with pytest.raises(NotifyError, match="sender"):
        build_message(report, sender="d@example.com\nBcc: x@example.com", to=["t@example.com"])
    with pytest.raises(NotifyError, match="no recipients"):
        build_message(report, sender="d@example.com", to=[])


# --------------------------------------------------------------------------- settings


def test_settings_from_json_form():
    conn = {"conn_type": "smtp", "host": "smtp.example.com", "port": 587, "login": "bot", "password": "s3cr3t",
            "extra": {"disable_ssl": True, "disable_tls": False, "from_email": "bot@example.com", "timeout": 12, "retry_limit": 2}}
    s = smtp_settings_from_env({"AIRFLOW_CONN_SMTP_DEFAULT": json.dumps(conn)})
    assert s == SmtpSettings(host="smtp.example.com", port=587, login="bot", password="s3cr3t", use_ssl=False,
                             starttls=True, timeout=12.0, retries=2, sender="bot@example.com")
    assert "s3cr3t" not in repr(s) and s.where == "smtp.example.com:587"
    # extra given as a JSON string, as the Airflow UI exports it
    conn["extra"] = json.dumps({"disable_ssl": "true", "disable_tls": "true"})
    s = parse_smtp_connection(json.dumps(conn))
    assert (s.use_ssl, s.starttls) == (False, False)


def test_settings_defaults_follow_the_airflow_provider():
    s = parse_smtp_connection('{"host": "mail.example.com"}')
    assert (s.use_ssl, s.starttls, s.timeout, s.retries, s.port) == (True, True, 30.0, 5, None)
    assert s.effective_port == 465  # SSL on by default, as in the provider


def test_settings_from_uri_form():
    s = smtp_settings_from_env({"AIRFLOW_CONN_SMTP_DEFAULT":
                                "smtp://us%40er:p%3Ass%2Fw@mail.example.com:2525?disable_ssl=true&disable_tls=false&timeout=7&from_email=m%40example.com"})
    assert (s.host, s.port, s.login, s.password) == ("mail.example.com", 2525, "us@er", "p:ss/w")
    assert (s.use_ssl, s.starttls, s.timeout, s.sender) == (False, True, 7.0, "m@example.com")
    s = parse_smtp_connection("smtp://mail.example.com?__extra__=%7B%22disable_ssl%22%3A+true%7D")
    assert s.use_ssl is False and s.effective_port == 25


def test_settings_unset_and_invalid():
    assert smtp_settings_from_env({}) is None
    assert smtp_settings_from_env({"AIRFLOW_CONN_SMTP_DEFAULT": "  "}) is None
    for bad, match in [("{not json", "not valid JSON"), ("smtp://:25", "no host"), ("mail.example.com", "expected JSON or a URI"),
                       ('{"host": "h", "extra": {"disable_ssl": "maybe"}}', "disable_ssl"), ('{"host": "h", "port": "x"}', "port")]:
        with pytest.raises(NotifyError, match=match):
            parse_smtp_connection(bad)


# --------------------------------------------------------------------------- delivery


@pytest.mark.integration
def test_deliver_to_a_real_smtp_server(report, smtp_server, tmp_path):
    sink, port = smtp_server
    msg = build_message(report, sender="drift@example.com", to=["ml@example.com", "ops@example.com"])
    record = deliver(msg, smtp=_plain(port, retries=0), outbox_dir=tmp_path)
    received = sink.wait_for(1)
    assert len(received) == 1
    env = sink.envelopes[0]
    assert env.mail_from == "drift@example.com" and env.rcpt_tos == ["ml@example.com", "ops@example.com"]
    got = received[0]
    assert got["Subject"] == report.subject and got["Message-ID"] == msg["Message-ID"]
    related = got.get_payload()[0].get_payload()[1]
    assert {p["Content-ID"].strip("<>") for p in related.get_payload()[1:]} == set(report.images)
    assert record["method"] == "smtp" and record["host"] == f"127.0.0.1:{port}" and record["attempts"] == 1
    assert record["to"] == ["ml@example.com", "ops@example.com"] and record["message_id"] == msg["Message-ID"]
    assert record["sent_at"].endswith("Z") and record["bytes"] == len(msg.as_bytes())
    assert list(tmp_path.iterdir()) == []  # nothing in the outbox when SMTP is used


@pytest.mark.integration
def test_from_email_of_the_connection_is_the_envelope_sender(report, smtp_server, tmp_path):
    sink, port = smtp_server
    msg = build_message(report, sender="drift@example.com", to=["ml@example.com"])
    deliver(msg, smtp=_plain(port, retries=0, sender="relay-bot@example.com"), outbox_dir=tmp_path)
    sink.wait_for(1)
    assert sink.envelopes[0].mail_from == "relay-bot@example.com"


@pytest.mark.integration
def test_starttls_required_but_unsupported_fails_without_retry(report, smtp_server, tmp_path):
    _, port = smtp_server
    sleeps: list[float] = []
    msg = build_message(report, sender="d@example.com", to=["t@example.com"])
    settings = SmtpSettings(host="127.0.0.1", port=port, use_ssl=False, starttls=True, timeout=5, retries=3)
    with pytest.raises(NotifyError, match=f"127.0.0.1:{port} after 1 attempt"):
        deliver(msg, smtp=settings, outbox_dir=tmp_path, sleep=sleeps.append)
    assert sleeps == []


@pytest.mark.integration
def test_transient_failures_are_retried_then_delivered(report, tmp_path):
    from aiosmtpd.controller import Controller

    from tests.support.servers import free_port

    class Flaky:
        def __init__(self):
            self.calls = 0
            self.delivered = []

        async def handle_DATA(self, server, session, envelope):
            self.calls += 1
            if self.calls <= 2:
                return "451 4.3.0 try again later"
            self.delivered.append(envelope)
            return "250 OK"

    handler, port = Flaky(), free_port()
    ctl = Controller(handler, hostname="127.0.0.1", port=port)
    ctl.start()
    try:
        sleeps: list[float] = []
        msg = build_message(report, sender="d@example.com", to=["t@example.com"])
        record = deliver(msg, smtp=_plain(port, retries=3, backoff=0.5), outbox_dir=tmp_path, sleep=sleeps.append)
    finally:
        ctl.stop()
    assert record["attempts"] == 3 and len(handler.delivered) == 1
    assert sleeps == [0.5, 1.0]  # exponential backoff


def test_unreachable_server_raises_notify_error_naming_host_port(report, tmp_path):
    from tests.support.servers import free_port

    port = free_port()  # nothing listens here
    sleeps: list[float] = []
    msg = build_message(report, sender="d@example.com", to=["t@example.com"])
    with pytest.raises(NotifyError, match=rf"SMTP 127\.0\.0\.1:{port} after 3 attempts.*ConnectionRefusedError"):
        deliver(msg, smtp=_plain(port, retries=2, backoff=0.1), outbox_dir=tmp_path, sleep=sleeps.append)
    assert sleeps == [0.1, 0.2]


@pytest.mark.integration
def test_ssl_against_a_plain_server_fails_clearly(report, smtp_server, tmp_path):
    _, port = smtp_server
    msg = build_message(report, sender="d@example.com", to=["t@example.com"])
    settings = SmtpSettings(host="127.0.0.1", port=port, use_ssl=True, timeout=5, retries=0)
    with pytest.raises(NotifyError, match=f"127.0.0.1:{port}"):
        deliver(msg, smtp=settings, outbox_dir=tmp_path)


def test_outbox_eml_written_atomically(report, tmp_path):
    outbox = tmp_path / "outbox"
    msg = build_message(report, sender="d@example.com", to=["t@example.com"])
    record = deliver(msg, smtp=None, outbox_dir=outbox)
    path = Path(record["path"])
    assert path == outbox / "2026-11-25_car_loan.eml"
    assert [p.name for p in outbox.iterdir()] == [path.name]  # no temp file left behind
    parsed = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert parsed["Subject"] == report.subject and parsed["Message-ID"] == msg["Message-ID"]
    assert record["method"] == "outbox" and record["to"] == ["t@example.com"] and record["bytes"] == path.stat().st_size
    # a rerun of the same date replaces the file
    deliver(build_message(report, sender="d@example.com", to=["t@example.com"]), smtp=None, outbox_dir=outbox)
    assert len(list(outbox.iterdir())) == 1


def test_failure_notice_goes_next_to_the_report_in_the_outbox(tmp_path):
    from monitor.report.render import render_failure

    notice = render_failure(monitor="car_loan", date="2026-11-25", error="boom")
    record = deliver(build_message(notice, sender="d@example.com", to=["t@example.com"]), smtp=None, outbox_dir=tmp_path)
    assert Path(record["path"]).name == "2026-11-25_car_loan.failed.eml"


def test_outbox_unwritable_raises_notify_error(report, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    msg = build_message(report, sender="d@example.com", to=["t@example.com"])
    with pytest.raises(NotifyError, match="outbox"):
        deliver(msg, smtp=None, outbox_dir=blocker / "outbox")


def test_already_sent():
    assert not already_sent(None) and not already_sent({}) and not already_sent({"email": None})
    assert not already_sent({"email": {"method": "skipped"}})
    assert already_sent({"email": {"method": "smtp", "sent_at": "2026-11-26T02:00:00Z"}})
    assert already_sent({"email": [{"method": "outbox", "sent_at": "2026-11-26T02:00:00Z"}]})
