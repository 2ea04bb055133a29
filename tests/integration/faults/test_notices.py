"""Every failure path ends in one failure notice, unless the user asked for no email; partial delivery is said."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitor.errors import MonitorError
from monitor.run import RunOptions, run
from tests.support.smtp_faults import scripted_smtp
from tests.support.tiny import DAY, out_dir, tiny_config, write_store


def _outbox(tmp_path: Path) -> list[Path]:
    box = tmp_path / "store" / "outbox"
    return sorted(box.glob("*.eml")) if box.exists() else []


def test_no_email_also_suppresses_the_failure_notice(tmp_path):
    root = write_store(tmp_path / "store")
    (root / "ref.parquet").unlink()  # the run cannot proceed
    cfg = tiny_config(str(root))
    with pytest.raises(MonitorError):
        run(cfg, DAY, RunOptions(send_email=False))
    assert _outbox(tmp_path) == []
    with pytest.raises(MonitorError):
        run(cfg, DAY)  # with email on, the failure is announced
    assert [p.name for p in _outbox(tmp_path)] == ["2026-11-25_m.failed.eml"]


def test_a_render_failure_sends_a_failure_notice(tmp_path, monkeypatch):
    import monitor.report.render as render_mod

    def boom(*a, **k):
        raise RuntimeError("template exploded")

    monkeypatch.setattr(render_mod, "render_report", boom)
    cfg = tiny_config(str(write_store(tmp_path / "store")))
    with pytest.raises(RuntimeError):
        run(cfg, DAY)
    notices = _outbox(tmp_path)
    assert [p.name for p in notices] == ["2026-11-25_m.failed.eml"]
    assert "template exploded" in notices[0].read_text()


def test_partial_recipient_refusal_is_reported_as_partial(tmp_path, capsys, monkeypatch):
    from monitor.cli import main

    root = write_store(tmp_path / "store")
    cfg_path = tmp_path / "m.yaml"
    cfg_path.write_text(json.dumps({
        "name": "m", "reference": {"uri": str(root / "ref.parquet")},
        "production": {"uri": str(root / "prod" / "dt={date}") + "/"},
        "model": {"task": "binary_classification", "target": "y", "prediction": "p", "score": "s", "id": "id"},
        "performance": {"bootstrap": 20}, "output": {"uri": str(root / "out")},
        "email": {"to": ["a@example.com", "b@example.com"]},
    }))
    with scripted_smtp() as smtp:
        smtp.script.refuse("b@example.com", "550 5.1.1 No such user")
        monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", f"smtp://127.0.0.1:{smtp.port}?disable_ssl=true&disable_tls=true&timeout=5")
        assert main(["run", str(cfg_path), "--date", DAY.isoformat(), "--no-reevaluate"]) == 0
        assert smtp.recipients() == [["a@example.com"]]
    out = capsys.readouterr().out
    email_line = next(line for line in out.splitlines() if line.startswith("email:"))
    assert email_line.startswith("email: PARTIAL") and "b@example.com" in email_line and "550" in email_line
    manifest = json.loads((Path(out_dir(tiny_config(str(root)))) / "manifest.json").read_text())
    assert manifest["email"]["partial"] is True and list(manifest["email"]["refused"]) == ["b@example.com"]



def test_a_rerun_with_nothing_to_annotate_removes_the_old_list(tmp_path):
    root = write_store(tmp_path / "store")
    out = Path(out_dir(tiny_config(str(root))))
    run(tiny_config(str(root)), DAY, RunOptions(send_email=False))
    assert (out / "to_annotate.csv").exists()
    res = run(tiny_config(str(root), performance={"annotate_rows": 0, "bootstrap": 20}), DAY, RunOptions(send_email=False))
    assert not (out / "to_annotate.csv").exists() and "to_annotate" not in res.metrics["links"]
