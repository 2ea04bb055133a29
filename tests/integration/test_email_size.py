"""The email stays under 1 MB whatever the data: the attachment goes first, then the charts, then the
formatted report; the body says what was left out and where the full report is. Delivered to a real
aiosmtpd server."""

from __future__ import annotations

import dataclasses
import json
import os
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from monitor.config import parse_config
from monitor.notify.smtp import SmtpSettings
from monitor.report.render import Report, render_report
from monitor.run import RunOptions, run
from monitor.run.context import Clients
from monitor.run.email import MAX_EMAIL_BYTES, send_report
from tests.support.paths import FIXTURES
from tests.support.tiny import DAY, out_dir, tiny_config, write_store

LINK = "https://s3.example.com/monitoring/m/date=2026-11-25/report.html?X-Amz-Signature=abc"


@pytest.fixture(scope="module")
def report() -> Report:
    return render_report(json.loads((FIXTURES / "metrics_alert.json").read_text()))


def _cfg(tmp_path: Path):
    return parse_config({
        "name": "m", "reference": {"uri": str(tmp_path / "ref.parquet")}, "production": {"uri": str(tmp_path / "p/")},
        "model": {"task": "binary_classification", "target": "y", "prediction": "p"},
        "output": {"uri": str(tmp_path / "out")}, "email": {"to": ["ml@example.com"]},
    }, "m.yaml")


def _send(tmp_path, port, report, attachments):
    smtp = SmtpSettings(host="127.0.0.1", port=port, use_ssl=False, starttls=False, timeout=10, retries=0)
    return send_report(_cfg(tmp_path), report, attachments, Clients(smtp=smtp), report_link=LINK)


def _attached(msg) -> list[str]:
    return [p.get_filename() for p in msg.iter_attachments()]


def test_a_small_email_goes_whole(report, smtp_server, tmp_path):
    sink, port = smtp_server
    record = _send(tmp_path, port, report, {"report.html": report.standalone_html().encode()})
    (got,) = sink.wait_for(1)
    assert _attached(got) == ["report.html"] and "left_out" not in record
    assert "Not attached" not in got.get_body(("plain",)).get_content()


def test_a_large_attachment_is_left_out_with_a_line_saying_where_the_report_is(report, smtp_server, tmp_path):
    sink, port = smtp_server
    record = _send(tmp_path, port, report, {"report.html": b"<p>" + b"x" * 3_000_000})
    (got,) = sink.wait_for(1)
    raw = sink.envelopes[0].original_content
    assert len(raw) < MAX_EMAIL_BYTES and record["bytes"] < MAX_EMAIL_BYTES
    assert _attached(got) == [] and record["left_out"] == ["report.html"]
    text, html = got.get_body(("plain",)).get_content(), got.get_body(("html",)).get_content()
    for body in (text, html.replace("&amp;", "&")):
        assert "Not attached: report.html" in body and LINK in body
    assert len(list(got.get_body(("related",)).iter_parts())) == 1 + len(report.images)  # the charts stay


def test_large_charts_go_next(report, smtp_server, tmp_path):
    sink, port = smtp_server
    big = dataclasses.replace(report, images={"huge": os.urandom(1_200_000)}, html=report.html + '<img src="cid:huge">')
    record = _send(tmp_path, port, big, {"report.html": big.standalone_html().encode()})
    (got,) = sink.wait_for(1)
    assert len(sink.envelopes[0].original_content) < MAX_EMAIL_BYTES
    assert record["left_out"] == ["report.html", "charts"]
    html = got.get_body(("html",)).get_content()
    assert "cid:" not in html and "Left out: the attachment and the charts" in html


def test_an_enormous_body_falls_back_to_the_text_alone(report, smtp_server, tmp_path):
    sink, port = smtp_server
    huge = dataclasses.replace(report, html="<body>" + "<p>row</p>" * 300_000, text="line\n" * 300_000)
    record = _send(tmp_path, port, huge, {})
    (got,) = sink.wait_for(1)
    assert len(sink.envelopes[0].original_content) < MAX_EMAIL_BYTES
    assert record["left_out"][-1] == "html" and LINK in got.get_body(("plain",)).get_content()


def test_the_run_records_what_it_left_out(tmp_path, monkeypatch):
    import monitor.run.email as email_mod

    cfg = tiny_config(str(write_store(tmp_path / "store")))
    whole = run(cfg, DAY).email["bytes"]  # the email with report.html attached
    assert "left_out" not in json.loads((Path(out_dir(cfg)) / "manifest.json").read_text())["email"]
    monkeypatch.setattr(email_mod, "MAX_EMAIL_BYTES", whole - 3000)  # a rerun differs by a few bytes (timings)
    res = run(cfg, DAY, RunOptions(resend=True))
    assert res.email["left_out"] == ["report.html"] and res.email["bytes"] < whole
    manifest = json.loads((Path(out_dir(cfg)) / "manifest.json").read_text())
    assert manifest["email"]["left_out"] == ["report.html"]
    msg = message_from_bytes((tmp_path / "store" / "outbox" / "2026-11-25_m.eml").read_bytes(), policy=policy.default)
    text = msg.get_body(("plain",)).get_content()
    assert _attached(msg) == [] and "Not attached: report.html" in text and str(Path(out_dir(cfg)) / "report.html") in text
