"""The demo as a newcomer runs it: injected incidents are found on the right days, and only there."""

import datetime as dt
import json
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.demo.generator import DRIFT_DAY, QUALITY_DAY

END = dt.date(2026, 11, 25)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    work = tmp_path_factory.mktemp("demo")
    assert main(["demo", "--workdir", str(work), "--end", END.isoformat(), "--days", "14"]) == 0
    return work


def day(n: int) -> dt.date:
    return END - dt.timedelta(days=30 - n)


def metrics(work: Path, d: dt.date) -> dict:
    return json.loads((work / "monitoring" / "car_loan" / f"date={d}" / "metrics.json").read_text())


def test_every_day_has_outputs_and_an_email(demo):
    for n in range(17, 31):
        out = demo / "monitoring" / "car_loan" / f"date={day(n)}"
        assert {"metrics.json", "report.html", "manifest.json"} <= {p.name for p in out.iterdir()}
    assert len(list((demo / "outbox").glob("*.eml"))) == 14


def test_quiet_days_before_the_incident_raise_no_drift_or_cohort_alert(demo):
    for n in range(17, DRIFT_DAY):
        m = metrics(demo, day(n))
        bad = [a for a in m["alerts"] if a["kind"] in ("drift", "cohort", "performance")]
        assert not bad, (day(n), bad)
        assert not m["errors"], m["errors"]


def test_drift_and_cohort_drop_after_day_20(demo):
    m = metrics(demo, day(DRIFT_DAY + 3))
    subjects = {(a["kind"], a["subject"]) for a in m["alerts"]}
    assert ("drift", "income") in subjects and ("drift", "region") in subjects
    cohort_alerts = [s for k, s in subjects if k == "cohort"]
    assert cohort_alerts == ["salary_range=low"], cohort_alerts  # the injected cohort, and only it
    assert m["status"] == "alert"
    first = metrics(demo, day(DRIFT_DAY))
    assert all(a["new"] for a in first["alerts"] if a["kind"] == "drift")
    later = metrics(demo, day(DRIFT_DAY + 1))
    assert not any(a["new"] for a in later["alerts"] if a["subject"] == "income")


def test_quality_incident_day(demo):
    m = metrics(demo, day(QUALITY_DAY))
    nulls = [a for a in m["alerts"] if a["kind"] == "quality" and a["subject"] == "debt_to_income_ratio"]
    assert nulls and "null" in nulls[0]["message"]
    assert not any(a["subject"] == "debt_to_income_ratio" and a["kind"] == "quality" for a in metrics(demo, day(QUALITY_DAY - 1))["alerts"])


def test_cohort_alert_only_for_the_broken_cohort_on_every_labelled_day(demo):
    for n in range(DRIFT_DAY, 30):  # day 30 has no labels yet
        m = metrics(demo, day(n))
        cohorts = sorted(a["subject"] for a in m["alerts"] if a["kind"] == "cohort")
        assert cohorts == ["salary_range=low"], (day(n), cohorts)


def test_business_cost_moves_the_right_way(demo):
    before = metrics(demo, day(DRIFT_DAY - 1))["business"]["money"]
    after = metrics(demo, day(DRIFT_DAY + 2))["business"]["money"]
    assert after["per_1000"] < before["per_1000"]  # values are signed: more negative is more money lost
    assert after["direction"] == "worse" and after["change"] < 0


def test_quality_incident_reaches_the_email(demo):
    from email import policy
    from email.parser import BytesParser

    eml = demo / "outbox" / f"{day(QUALITY_DAY)}_car_loan.eml"
    msg = BytesParser(policy=policy.default).parsebytes(eml.read_bytes())
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    for body in (text, html):
        assert "debt_to_income_ratio" in body and "40% nulls" in body
    assert msg["Subject"].startswith(f"[ALERT] car_loan {day(QUALITY_DAY)}")
