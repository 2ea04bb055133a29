"""Pipeline wiring on local storage with tiny frames: sources, labels, reruns, re-evaluation."""

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest

from monitor.config import parse_config
from monitor.run.context import Clients, RunOptions
from monitor.run.phases import compute, load_history, notify, reevaluate_final, render, run, window_dates

DAY = dt.date(2026, 11, 25)


def frame(n, seed, start_id=0):
    rng = np.random.default_rng(seed)
    score = rng.uniform(size=n)
    return pd.DataFrame({
        "id": np.arange(start_id, start_id + n),
        "x": rng.normal(size=n),
        "c": rng.choice(["a", "b"], n),
        "s": score,
        "p": (score > 0.5).astype(int),
        "y": (rng.uniform(size=n) < score).astype(int),
    })


@pytest.fixture
def store(tmp_path):
    frame(600, 1).to_parquet(tmp_path / "ref.parquet")
    for d in window_dates(DAY, 3):
        for region in ("eu", "us"):
            part = tmp_path / region / f"dt={d}"
            part.mkdir(parents=True)
            f = frame(100, hash((str(d), region)) % 1000, start_id=10_000 * d.day + (0 if region == "eu" else 5000))
            f.drop(columns=["y"]).to_parquet(part / "part-0.parquet")
            lab = tmp_path / "labels" / f"dt={d}"
            lab.mkdir(parents=True, exist_ok=True)
            # the label system writes ids as strings: the join must still match them
            f[["id", "y"]].astype({"id": str}).to_csv(lab / f"{region}.csv", index=False)
    return tmp_path


def config(tmp_path, **over):
    data = {
        "name": "m",
        "window_days": 1,
        "reference": {"uri": str(tmp_path / "ref.parquet")},
        "production": {"uri": [str(tmp_path / "eu" / "dt={date}") + "/", str(tmp_path / "us" / "dt={date}") + "/"], "source_column": "region"},
        "labels": {"uri": str(tmp_path / "labels" / "dt={date}") + "/", "join_on": ["id"], "delay_days": 2},
        "model": {"task": "binary_classification", "target": "y", "prediction": "p", "score": "s", "id": "id"},
        "performance": {"min_cohort_labelled": 20, "bootstrap": 50},
        "cohorts": [{"column": "c"}],
        "output": {"uri": str(tmp_path / "out")},
        "email": {"outbox": str(tmp_path / "outbox")},
    }
    data.update(over)
    return parse_config(data, "t.yaml")


def test_production_from_several_locations_and_labels_joined(store):
    cfg = config(store)
    res = run(cfg, DAY, RunOptions(as_of=DAY + dt.timedelta(days=1)))
    m = res.metrics
    assert m["rows"] == {"current": 200, "reference": 600, "labelled": 200}
    assert m["window"] == {"start": "2026-11-25", "end": "2026-11-25"}
    assert m["performance"]["final"] is False and m["final"] is False
    assert m["performance"]["label_coverage"] == 1.0
    manifest = json.loads((store / "out" / "m" / "date=2026-11-25" / "manifest.json").read_text())
    assert {i["role"] for i in manifest["inputs"]} == {"reference", "production", "labels"}
    assert manifest["email"]["sent"] and manifest["email"]["method"] == "outbox"
    assert "region" not in m["drift"]["features"]  # the source column is not a feature


def test_window_of_several_days(store):
    cfg = config(store, window_days=3)
    res = run(cfg, DAY, RunOptions(send_email=False))
    assert res.metrics["rows"]["current"] == 600
    assert res.metrics["window"] == {"start": "2026-11-23", "end": "2026-11-25"}
    assert res.email == {"sent": False, "reason": "skipped: --no-email"}


def test_phases_are_separate_and_idempotent(store):
    cfg = config(store)
    out = compute(cfg, DAY, RunOptions(as_of=DAY))
    assert set(out) == {"date", "output_uri", "status", "alerts", "inputs", "missing", "profile_cached", "alert_list"}
    assert {i["role"] for i in out["inputs"]} == {"reference", "production", "labels"}
    assert len(out["alert_list"]) == out["alerts"]
    json.dumps(out)  # XCom-safe
    uri = render(cfg, DAY)
    assert uri.endswith("date=2026-11-25/report.html")
    first = notify(cfg, DAY)
    again = notify(cfg, DAY)
    assert first["sent"] and not again["sent"] and "already sent" in again["reason"]
    # recomputing keeps the delivery record, so the rerun does not re-send
    compute(cfg, DAY, RunOptions(as_of=DAY))
    assert not notify(cfg, DAY)["sent"]
    assert notify(cfg, DAY, RunOptions(resend=True))["sent"]
    manifest = json.loads((store / "out" / "m" / "date=2026-11-25" / "manifest.json").read_text())
    assert manifest["email"]["sent"] and manifest["email"]["to"] == ["ml-team@localhost"]


def test_on_alert_sends_only_when_something_needs_attention(store):
    cfg = config(store, email={"outbox": str(store / "outbox"), "send": "on_alert"})
    res = run(cfg, DAY)
    if res.status == "ok":
        assert res.email["sent"] is False and "on_alert" in res.email["reason"]
    missing = run(cfg, DAY + dt.timedelta(days=1))
    assert missing.status == "no_data" and missing.email["sent"]


def test_reevaluate_final_recomputes_without_resending(store):
    cfg = config(store)
    early = DAY - dt.timedelta(days=2)
    run(cfg, early, RunOptions(as_of=early + dt.timedelta(days=1)))
    m0 = json.loads((store / "out" / "m" / f"date={early}" / "metrics.json").read_text())
    assert m0["final"] is False
    again = reevaluate_final(cfg, DAY)
    assert again is not None and again.date == early.isoformat()
    assert again.metrics["final"] is True and again.email["sent"] is False
    assert len(list((store / "outbox").glob(f"{early}*.eml"))) == 1
    # a day that was never monitored is not invented
    assert reevaluate_final(cfg, DAY - dt.timedelta(days=10)) is None


def test_history_is_read_in_date_order(store):
    cfg = config(store)
    for d in window_dates(DAY, 3):
        run(cfg, d, RunOptions(send_email=False))
    hist = load_history(cfg, DAY + dt.timedelta(days=1))
    assert [h["date"] for h in hist] == ["2026-11-23", "2026-11-24", "2026-11-25"]


def test_failed_run_writes_nothing_and_sends_a_failure_notice(store):
    cfg = config(store)
    run(cfg, DAY, RunOptions(send_email=False))
    before = (store / "out" / "m" / "date=2026-11-25" / "metrics.json").read_bytes()
    (store / "ref.parquet").write_bytes(b"PAR1 truncated")
    with pytest.raises(Exception, match="ref.parquet: cannot parse as parquet"):
        run(cfg, DAY)
    assert (store / "out" / "m" / "date=2026-11-25" / "metrics.json").read_bytes() == before
    notices = list((store / "outbox").glob("*failed*.eml"))
    assert notices and "ref.parquet" in notices[0].read_text(errors="replace")


def test_evidently_deep_dive_is_written_and_linked(store):
    cfg = config(store, report={"evidently": True, "evidently_sample_rows": 100})
    res = run(cfg, DAY)
    out = store / "out" / "m" / "date=2026-11-25"
    assert (out / "evidently.html").stat().st_size > 10_000
    assert res.metrics["links"]["evidently"] == str((out / "evidently.html").resolve())
    assert res.email["sent"]


def test_a_failing_deep_dive_never_blocks_the_email(store, monkeypatch):
    import monitor.report.evidently as er

    def boom(*a, **k):
        raise RuntimeError("evidently exploded")

    monkeypatch.setattr(er, "build_evidently_html", boom)
    cfg = config(store, report={"evidently": True})
    res = run(cfg, DAY)
    assert res.email["sent"] and res.status != "failed"
    assert not (store / "out" / "m" / "date=2026-11-25" / "evidently.html").exists()


def test_smtp_down_keeps_the_results_and_fails_loudly(store):
    from monitor.errors import NotifyError
    from monitor.notify.smtp import SmtpSettings
    from tests.support.servers import free_port

    cfg = config(store)
    dead = SmtpSettings(host="127.0.0.1", port=free_port(), use_ssl=False, starttls=False, timeout=2, retries=1, backoff=0.01)
    with pytest.raises(NotifyError, match=r"results written to .*date=2026-11-25/, but the email was not delivered: .*127\.0\.0\.1"):
        run(cfg, DAY, clients=Clients(smtp=dead))
    out = store / "out" / "m" / "date=2026-11-25"
    assert (out / "metrics.json").exists() and (out / "report.html").exists()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["email"]["sent"] is False and "127.0.0.1" in manifest["email"]["error"]
    # the next attempt (an Airflow retry) sends, since nothing was recorded as sent
    assert notify(cfg, DAY)["sent"]


def test_the_labels_table_is_released_after_the_quality_checks(store, monkeypatch):
    import monitor.stages.quality as quality
    from monitor.io.inputs import read_inputs
    from monitor.run.computation import compute_metrics, make_context

    cfg = config(store)
    inputs = read_inputs(cfg, DAY, None)
    assert inputs.labels is not None and len(inputs.labels) == 200
    seen = {}
    real = quality.check_quality

    def spy(*a, **k):
        seen["labels"] = k["labels"]
        return real(*a, **k)

    monkeypatch.setattr(quality, "check_quality", spy)
    metrics = compute_metrics(make_context(cfg, DAY, inputs, [], DAY + dt.timedelta(days=1))).metrics
    assert seen["labels"] is not None and len(seen["labels"]) == 200  # the checks had it
    assert inputs.labels is None  # and then it was let go
    assert metrics["quality"]["labels"]["label_rows"] == 200 and metrics["rows"]["labelled"] == 200
