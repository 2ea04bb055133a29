"""Outputs written to local paths are readable by the team: 0644, or $MONITOR_FILE_MODE."""

from __future__ import annotations

import os
import stat

import pytest

from monitor.errors import StorageError
from monitor.io.storage import LocalStorage, file_mode


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_outputs_are_0644_by_default(tmp_path, monkeypatch):
    monkeypatch.delenv("MONITOR_FILE_MODE", raising=False)
    LocalStorage().write_text(str(tmp_path / "out" / "metrics.json"), "{}")
    assert _mode(tmp_path / "out" / "metrics.json") == 0o644


def test_the_mode_is_configurable(tmp_path, monkeypatch):
    monkeypatch.setenv("MONITOR_FILE_MODE", "0640")
    LocalStorage().write_text(str(tmp_path / "report.html"), "<html></html>")
    assert _mode(tmp_path / "report.html") == 0o640


def test_the_outbox_email_is_readable_too(tmp_path, monkeypatch):
    from monitor.notify.smtp import deliver

    monkeypatch.delenv("MONITOR_FILE_MODE", raising=False)
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["Subject"], msg["From"], msg["To"], msg["X-Monitor"], msg["X-Monitor-Date"] = "s", "a@b.c", "d@e.f", "m", "2026-03-25"
    msg.set_content("hello")
    record = deliver(msg, smtp=None, outbox_dir=str(tmp_path))
    assert _mode(tmp_path / record["path"]) == 0o644


@pytest.mark.parametrize("bad", ["rw-r--r--", "999", "1777"])
def test_a_bad_mode_is_one_clear_error(bad):
    with pytest.raises(StorageError, match="MONITOR_FILE_MODE"):
        file_mode({"MONITOR_FILE_MODE": bad})
