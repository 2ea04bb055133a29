"""Delivery against a scripted SMTP server: what is retried, what is not, and a late 250 is never sent twice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitor.errors import NotifyError
from monitor.notify.smtp import DeliveryUnknownError, SmtpSettings, build_message, deliver
from monitor.report.render import render_report
from tests.support.paths import FIXTURES
from tests.support.smtp_faults import ScriptedSmtp, scripted_smtp


@pytest.fixture(scope="module")
def message():
    report = render_report(json.loads((FIXTURES / "metrics_ok.json").read_text()), history=[])
    return build_message(report, sender="bot@example.com", to=["a@example.com", "b@example.com"])


def _settings(server: ScriptedSmtp, **kw) -> SmtpSettings:
    base = {"host": "127.0.0.1", "port": server.port, "use_ssl": False, "starttls": False, "timeout": 5.0, "retries": 2, "backoff": 0.01}
    base.update(kw)
    return SmtpSettings(**base)  # type: ignore[arg-type]


def test_late_250_after_the_timeout_is_not_sent_again(message, tmp_path: Path):
    with scripted_smtp() as server:
        server.script.late_seconds = 5.0
        with pytest.raises(DeliveryUnknownError, match="may have been delivered"):
            deliver(message, smtp=_settings(server, timeout=0.5), outbox_dir=tmp_path)
        assert server.data_attempts == 1 and len(server.accepted) == 1


@pytest.mark.parametrize("command,reply", [("MAIL", "421 4.3.2 Service not available"), ("DATA", "451 4.3.0 Try again later")])
def test_transient_refusals_are_retried_and_delivered_once(message, tmp_path: Path, command: str, reply: str):
    with scripted_smtp() as server:
        server.script.reply(command, reply, times=1)
        record = deliver(message, smtp=_settings(server), outbox_dir=tmp_path)
        assert record["attempts"] == 2 and len(server.accepted) == 1


def test_bad_credentials_fail_at_once(message, tmp_path: Path):
    with scripted_smtp(auth=True) as server:
        server.script.reject_auth = True
        with pytest.raises(NotifyError, match="535") as exc:
            deliver(message, smtp=_settings(server, login="bot", password="wrong"), outbox_dir=tmp_path)
        assert not isinstance(exc.value, DeliveryUnknownError)
        assert "after 1 attempt:" in str(exc.value) and server.accepted == []
        assert "wrong" not in str(exc.value)


def test_every_recipient_refused_fails_without_retry(message, tmp_path: Path):
    with scripted_smtp() as server:
        server.script.refuse("a@example.com")
        server.script.refuse("b@example.com")
        with pytest.raises(NotifyError, match="550"):
            deliver(message, smtp=_settings(server), outbox_dir=tmp_path)
        assert server.accepted == []


def test_one_recipient_refused_is_a_partial_delivery(message, tmp_path: Path):
    with scripted_smtp() as server:
        server.script.refuse("b@example.com", "550 5.1.1 No such user")
        record = deliver(message, smtp=_settings(server), outbox_dir=tmp_path)
        assert record["partial"] is True and record["to"] == ["a@example.com"]
        assert record["refused"] == {"b@example.com": "550 5.1.1 No such user"}
