"""A date's outputs change together or not at all (issue 13 #7): the manifest, written last, vouches for
each output by sha256; history, the index and the report trust nothing else; leftovers are swept."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import time
from pathlib import Path

import pytest

from monitor.errors import MonitorError
from monitor.io.commit import Output, UncommittedError, add_outputs
from monitor.io.outputs import load_history
from monitor.io.storage import LocalStorage, S3Storage
from monitor.run import Clients, RunOptions, render, run
from tests.support.outputs import assert_consistent, leftovers
from tests.support.s3_faults import S3FaultProxy, on_put
from tests.support.tiny import DAY, frame, out_dir, tiny_config, write_store

NEXT = DAY + dt.timedelta(days=1)
QUIET = RunOptions(send_email=False, as_of=NEXT, deep_dive=False)


def _tamper(path: Path) -> None:
    """What a run that stopped after writing metrics.json under its final name (the old order) leaves."""
    doc = json.loads(path.read_text())
    doc["alerts"] = [{"kind": "drift", "subject": "x", "severity": "critical", "message": "uncommitted", "new": True}]
    path.write_text(json.dumps(doc))


def test_a_run_commits_every_output_with_its_hash(tmp_path):
    cfg = tiny_config(str(write_store(tmp_path / "store")))
    run(cfg, DAY, QUIET)
    manifest = assert_consistent(LocalStorage(), out_dir(cfg), expect=("metrics.json", "report.html", "to_annotate.csv"))
    assert set(manifest["outputs"]) == {"metrics.json", "report.html", "to_annotate.csv"}
    assert leftovers(LocalStorage(), str(tmp_path / "store" / "out") + "/") == []


def test_history_ignores_a_metrics_json_the_manifest_does_not_vouch_for(tmp_path, caplog):
    root = write_store(tmp_path / "store", days=(DAY, NEXT))
    cfg = tiny_config(str(root))
    run(cfg, DAY, QUIET)
    assert [h["date"] for h in load_history(cfg, NEXT)] == [DAY.isoformat()]  # committed: read
    _tamper(Path(out_dir(cfg)) / "metrics.json")
    with caplog.at_level(logging.WARNING, logger="monitor.io.commit"):
        assert load_history(cfg, NEXT) == []
    lines = [r.getMessage() for r in caplog.records if "history: ignoring" in r.getMessage()]
    assert len(lines) == 1 and "metrics.json" in lines[0] and "not committed" in lines[0]
    res = run(cfg, NEXT, QUIET)  # the next day's alerts are "new": the uncommitted day is not their history
    assert all(a["new"] for a in res.metrics["alerts"])


def test_render_refuses_an_uncommitted_metrics_json(tmp_path):
    cfg = tiny_config(str(write_store(tmp_path / "store")))
    run(cfg, DAY, QUIET)
    _tamper(Path(out_dir(cfg)) / "metrics.json")
    with pytest.raises(UncommittedError, match=rf"compute of {DAY} did not finish.*rerun the date.*--date {DAY}"):
        render(cfg, DAY)


def test_a_stop_between_the_commit_and_the_publish_reads_the_staged_copy_and_the_next_run_publishes_it(tmp_path):
    """The manifest names the staged copy: readers use it until the next run (its sweep) publishes it."""
    root = write_store(tmp_path / "store", days=(DAY, NEXT))
    cfg = tiny_config(str(root))
    run(cfg, DAY, QUIET)
    out = Path(out_dir(cfg))
    manifest = json.loads((out / "manifest.json").read_text())
    good = (out / "metrics.json").read_bytes()
    staged = out / ".staging" / manifest["outputs"]["metrics.json"]["staged"]
    staged.parent.mkdir(parents=True)
    staged.write_bytes(good)
    _tamper(out / "metrics.json")  # the final name still holds an older version
    assert [h["alerts"] for h in load_history(cfg, NEXT)] == [json.loads(good)["alerts"]]
    old = time.time() - 2 * cfg.limits.run_seconds
    os.utime(staged, (old, old))
    run(cfg, NEXT, QUIET)  # the next run sweeps: publishes the committed copy, removes the staged one
    assert (out / "metrics.json").read_bytes() == good and not staged.exists()
    assert_consistent(LocalStorage(), str(out) + "/")


def test_leftover_temp_files_are_swept_once_stale_and_never_read(tmp_path, caplog):
    root = write_store(tmp_path / "store", days=(DAY, NEXT))
    cfg = tiny_config(str(root))
    run(cfg, DAY, QUIET)
    out = Path(out_dir(cfg))
    tmp = out / ".staging" / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    stale = tmp / "metrics.json.otherhost-12.abcd.tmp"
    fresh = tmp / "manifest.json.otherhost-13.efgh.tmp"
    staged = out / ".staging" / "20261125T000000Z-otherhost-14-abcdef" / "metrics.json"
    staged.parent.mkdir()
    for p in (stale, fresh, staged):
        p.write_text('{"date": "2026-11-25", "alerts": "garbage"}')
    old = time.time() - cfg.limits.run_seconds - 60
    for p in (stale, staged):
        os.utime(p, (old, old))
    assert [h["date"] for h in load_history(cfg, NEXT)] == [DAY.isoformat()]  # never picked up
    with caplog.at_level(logging.WARNING, logger="monitor.io.commit"):
        run(cfg, NEXT, QUIET)
    assert not stale.exists() and not staged.exists() and not staged.parent.exists()
    assert fresh.exists()  # younger than limits.run_seconds, from another host: may be a run still writing
    swept = [r.getMessage() for r in caplog.records if "leftover" in r.getMessage()]
    assert len(swept) == 1 and swept[0].startswith("removed 2 leftover")


def test_a_stale_output_of_an_earlier_run_is_removed(tmp_path):
    cfg = tiny_config(str(write_store(tmp_path / "store")), report={"evidently": False})
    run(cfg, DAY, QUIET)
    out = Path(out_dir(cfg))
    add_outputs(LocalStorage(), str(out) + "/", [Output("evidently.html", b"<html>an earlier run's deep dive</html>")],
                run_id="20261125T000000Z-h-1-abcdef", basis={})  # as the deep dive commits it
    assert (out / "evidently.html").exists()
    run(tiny_config(str(tmp_path / "store"), performance={"annotate_rows": 0, "bootstrap": 20}), DAY, QUIET)
    assert not (out / "evidently.html").exists() and not (out / "to_annotate.csv").exists()
    assert set(assert_consistent(LocalStorage(), str(out) + "/")["outputs"]) == {"metrics.json", "report.html"}


def test_s3_gone_after_the_metrics_put_keeps_the_previous_commit_and_sends_a_notice(tmp_path, s3_endpoint):
    import boto3
    from botocore.config import Config

    root = write_store(tmp_path / "store")
    with S3FaultProxy(s3_endpoint) as proxy:
        client = boto3.client("s3", endpoint_url=proxy.endpoint, region_name="us-east-1",
                              config=Config(retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=2, read_timeout=5))
        client.create_bucket(Bucket="monitoring")
        st = S3Storage(client)
        cfg = tiny_config(str(root), output="s3://monitoring/")
        out = out_dir(cfg)
        clients = Clients(s3=st)
        run(cfg, DAY, RunOptions(as_of=NEXT, deep_dive=False), clients)
        before = {name: st.read_bytes(out + name) for name in ("manifest.json", "metrics.json", "report.html", "to_annotate.csv")}
        write_store(root, current=frame(200, 99, start_id=5000))  # new data: tonight's rerun differs
        proxy.cut_after(match=on_put("metrics.json"))
        with pytest.raises(MonitorError):
            run(cfg, DAY, RunOptions(as_of=NEXT, deep_dive=False, resend=True), clients)
        assert any(r.method == "PUT" and r.key.endswith("/metrics.json") and r.status == 200 for r in proxy.requests)
        proxy.clear()
        after = {name: st.read_bytes(out + name) for name in before}
        assert after == before
        assert_consistent(st, out, expect=("metrics.json", "report.html", "to_annotate.csv"))
    notices = sorted((root / "outbox").glob("*.failed.eml"))
    assert [p.name for p in notices] == ["2026-11-25_m.failed.eml"]


@pytest.mark.parametrize("kind", ["local", "local", "local", "s3", "s3"])
def test_two_runs_of_one_date_at_once_leave_one_consistent_set(tmp_path, request, kind):
    import threading

    root = write_store(tmp_path / "store")
    if kind == "s3":
        import boto3

        client = boto3.client("s3", endpoint_url=request.getfixturevalue("s3_endpoint"), region_name="us-east-1")
        client.create_bucket(Bucket="monitoring")
        st, cfg = S3Storage(client), tiny_config(str(root), output="s3://monitoring/")
    else:
        st, cfg = LocalStorage(), tiny_config(str(root))
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def go() -> None:
        barrier.wait()
        try:
            run(cfg, DAY, QUIET, Clients(s3=st if isinstance(st, S3Storage) else None))
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=go) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert_consistent(st, out_dir(cfg), expect=("metrics.json", "report.html", "to_annotate.csv"))
    assert leftovers(st, cfg.output.uri.rstrip("/") + "/") == []


@pytest.mark.parametrize("kind", ["local", "s3"])
def test_write_if_is_a_compare_and_swap(tmp_path, request, kind):
    """The manifest changes by compare-and-swap: of two writers holding one version, one wins."""
    if kind == "local":
        st, uri = LocalStorage(), str(tmp_path / "d" / "manifest.json")
    else:
        import boto3

        client = boto3.client("s3", endpoint_url=request.getfixturevalue("s3_endpoint"), region_name="us-east-1")
        client.create_bucket(Bucket="cas")
        st, uri = S3Storage(client), "s3://cas/d/manifest.json"
    assert st.read_versioned(uri) == (None, None)
    assert st.write_if(uri, b"v1", None) and not st.write_if(uri, b"v1-other", None)
    data, token = st.read_versioned(uri)
    assert data == b"v1"
    assert st.write_if(uri, b"v2", token)
    assert not st.write_if(uri, b"v2-other", token)  # the version it read is gone
    assert st.read_bytes(uri) == b"v2"


def test_a_date_written_before_the_protocol_is_read_unless_its_metrics_is_newer_than_its_manifest(tmp_path, caplog):
    """Manifests from before the commit protocol have no `outputs`: the old order wrote the manifest after
    metrics.json, so a metrics.json newer than its manifest is a run that stopped before its manifest."""
    root = write_store(tmp_path / "store", days=(DAY, NEXT))
    cfg = tiny_config(str(root))
    run(cfg, DAY, QUIET)
    out = Path(out_dir(cfg))
    manifest = json.loads((out / "manifest.json").read_text())
    del manifest["outputs"]
    (out / "manifest.json").write_text(json.dumps(manifest))
    t = time.time()
    os.utime(out / "metrics.json", (t - 60, t - 60))
    assert [h["date"] for h in load_history(cfg, NEXT)] == [DAY.isoformat()]
    _tamper(out / "metrics.json")  # written now: newer than the manifest
    with caplog.at_level(logging.WARNING, logger="monitor.io.commit"):
        assert load_history(cfg, NEXT) == []
    assert any("newer than" in r.getMessage() for r in caplog.records)
