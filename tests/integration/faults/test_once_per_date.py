"""At most one email per date: concurrent runs of one date, a late 250, a retry after a lost outcome."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from monitor.errors import NotifyError
from monitor.notify.smtp import SmtpSettings
from monitor.run import Clients, RunOptions, run
from tests.support.smtp_faults import ScriptedSmtp, scripted_smtp
from tests.support.tiny import DAY, out_dir, tiny_config, write_store


def _smtp(server: ScriptedSmtp, **kw: Any) -> SmtpSettings:
    base: dict[str, Any] = {"host": "127.0.0.1", "port": server.port, "use_ssl": False, "starttls": False,
                            "timeout": 5.0, "retries": 1, "backoff": 0.01}
    base.update(kw)
    return SmtpSettings(**base)


def _two_at_once(cfg: Any, clients: Clients) -> list[BaseException]:
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def go() -> None:
        barrier.wait()
        try:
            run(cfg, DAY, RunOptions(as_of=DAY, deep_dive=False), clients)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=go) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return errors


@pytest.mark.parametrize("trial", range(5))
def test_two_concurrent_runs_of_one_date_send_one_email(tmp_path: Path, trial: int):
    cfg = tiny_config(str(write_store(tmp_path / "store")))
    with scripted_smtp() as server:
        errors = _two_at_once(cfg, Clients(smtp=_smtp(server)))
        assert errors == []
        assert len(server.accepted) == 1
    claim = json.loads((Path(out_dir(cfg)) / "email_claim.json").read_text())
    assert claim["state"] == "sent"


def test_two_concurrent_runs_on_s3_send_one_email(tmp_path: Path, s3_endpoint: str):
    import boto3

    from monitor.io.storage import S3Storage
    from tests.support.s3_faults import S3FaultProxy

    root = write_store(tmp_path / "store")
    with S3FaultProxy(s3_endpoint) as proxy, scripted_smtp() as server:
        client = boto3.client("s3", endpoint_url=proxy.endpoint, region_name="us-east-1")
        client.create_bucket(Bucket="monitoring")
        cfg = tiny_config(str(root), output="s3://monitoring/")
        for _ in range(3):
            server.accepted.clear()
            for name in ("email_claim.json", "manifest.json"):  # a fresh date each round
                client.delete_object(Bucket="monitoring", Key=f"m/date=2026-11-25/{name}")
            assert _two_at_once(cfg, Clients(s3=S3Storage(client), smtp=_smtp(server))) == []
            assert len(server.accepted) == 1
        conditional = [r for r in proxy.requests if r.key.endswith("email_claim.json") and r.conditional]
        statuses = [r.status or 0 for r in conditional]
        # one claim won per round; the other run lost the race for it (412), or, finishing later, found the
        # email recorded as sent and made no claim at all (timing decides which: both send nothing)
        assert statuses.count(200) == 3 and set(statuses) <= {200, 412} and len(statuses) <= 6


def test_a_late_250_is_not_sent_again_on_retry(tmp_path: Path):
    cfg = tiny_config(str(write_store(tmp_path / "store")))
    with scripted_smtp() as server:
        server.script.late_seconds = 5.0
        server.script.late_times = 1
        slow = Clients(smtp=_smtp(server, timeout=0.5))
        with pytest.raises(NotifyError, match="may have been delivered"):
            run(cfg, DAY, RunOptions(as_of=DAY, deep_dive=False, failure_notice=False), slow)
        assert len(server.accepted) == 1
        again = run(cfg, DAY, RunOptions(as_of=DAY, deep_dive=False), slow)  # the Airflow retry / a rerun
        assert not again.email["sent"] and "may have been delivered" in again.email["reason"]
        assert len(server.accepted) == 1
        resent = run(cfg, DAY, RunOptions(as_of=DAY, deep_dive=False, resend=True), Clients(smtp=_smtp(server)))
        assert resent.email["sent"] and len(server.accepted) == 2


def test_a_run_that_stopped_after_the_claim_does_not_resend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A kill between SMTP accepting and the outcome being recorded: the claim stays 'claimed'."""
    import monitor.run.phases as phases

    cfg = tiny_config(str(write_store(tmp_path / "store")))
    with scripted_smtp() as server:
        def die(*a: Any, **k: Any) -> None:
            raise KeyboardInterrupt("killed after SMTP accepted")

        monkeypatch.setattr(phases, "settle_claim", die)
        with pytest.raises(KeyboardInterrupt):
            run(cfg, DAY, RunOptions(as_of=DAY, deep_dive=False), Clients(smtp=_smtp(server)))
        monkeypatch.undo()
        assert len(server.accepted) == 1
        again = run(cfg, DAY, RunOptions(as_of=DAY, deep_dive=False), Clients(smtp=_smtp(server)))
        assert "has not recorded the outcome" in again.email["reason"] and len(server.accepted) == 1
