"""The email report: sections, escaping, subject lines, text part, size."""

from __future__ import annotations

import copy
import html as htmllib
import json
import re

import pytest

from monitor.report.render import MAX_DRIFT_CHARTS, Report, render_failure, render_report, subject_line
from tests.support.paths import FIXTURES


def _load(name: str):
    return json.loads((FIXTURES / name).read_text())


@pytest.fixture(scope="module")
def alert() -> dict:
    return _load("metrics_alert.json")


@pytest.fixture(scope="module")
def ok() -> dict:
    return _load("metrics_ok.json")


@pytest.fixture(scope="module")
def history() -> list:
    return _load("history.json")


PROVENANCE = {
    "inputs": [{"uri": "s3://bucket/car_loan/predictions/dt=2026-11-25/", "size": 812345, "etag": '"9f2c1a"', "rows": 9812}],
    "config_hash": "3fa9c2d41b7e0a55", "code_version": "0.1.0+gabc1234", "run_seconds": 14.2,
    "generated_at": "2026-11-26T02:14:09Z",
}


@pytest.fixture(scope="module")
def alert_report(alert, history) -> Report:
    return render_report(alert, history=history, provenance=PROVENANCE)


@pytest.fixture(scope="module")
def ok_report(ok, history) -> Report:
    return render_report(ok, history=history, provenance=PROVENANCE)


def _visible_text(html: str) -> str:
    return htmllib.unescape(re.sub(r"<[^>]+>", " ", html))


SECTIONS = [
    "What is wrong", "For whom", "Since when", "What it costs",  # the first screen
    "What changed since the last run", "Business impact and guardrails", "Model performance vs baseline",
    "Worst cohorts", "Drift: training vs today", "Data quality", "Trends", "Worst individual failures", "Provenance",
]


def test_alert_report_has_every_section_in_order(alert_report):
    text = _visible_text(alert_report.html)
    positions = [text.find(s) for s in SECTIONS]
    assert all(p >= 0 for p in positions), [s for s, p in zip(SECTIONS, positions) if p < 0]
    assert positions == sorted(positions), "sections are out of the order the issue asks for"


def test_first_screen_tells_what_who_since_and_cost(alert_report):
    text = _visible_text(alert_report.html)
    first = text[: text.find("What changed since the last run")]
    assert "ALERT" in first and "2026-11-25" in first
    assert "salary_range=0-20K" in first  # for whom
    assert "since 2026-11-21" in first  # ongoing drift started four runs ago (from history)
    assert "+$16,700" in first  # what it costs
    assert "p95 latency" in first  # breached guardrail


def test_section_facts(alert_report):
    text = _visible_text(alert_report.html)
    for fact in ["0.823", "0.842", "-0.019", "0.811\u20130.834", "human", "0.970", "CBPE", "76% of rows",
                 "K-S", "PSI", "Wasserstein", "0.183", "null rate 3.1%", "L-88213", "3fa9c2d41b7e0a55",
                 "0.1.0+gabc1234", "14.2 s", "row count 4,120 below expected range", "Resolved (1)",
                 "New (5)", "Ongoing (2)", "provisional"]:
        assert fact in text, fact


def test_drift_charts_are_cid_images_that_exist(alert_report):
    cids = re.findall(r'src="cid:([^"]+)"', alert_report.html)
    assert len([c for c in cids if c.startswith("drift")]) == 4  # prediction + 3 drifted features
    assert {"trend_metric", "trend_drift", "trend_rows"} <= set(cids)
    assert set(cids) == set(alert_report.images)
    for data in alert_report.images.values():
        assert data[:8] == b"\x89PNG\r\n\x1a\n"


def test_script_value_is_escaped_as_text(alert_report):
    assert "<script>" not in alert_report.html.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in alert_report.html
    assert "<script>alert(1)</script>" in _visible_text(alert_report.html)
    assert "<script>" not in alert_report.standalone_html().lower()


def test_html_is_mail_safe(alert_report):
    html = alert_report.html.lower()
    assert "<script" not in html and "javascript:" not in html and " onload=" not in html
    assert "<link" not in html and "<style" not in html  # inline CSS only
    assert not re.search(r'src="https?://', html)  # no remote assets
    assert "<table" in html


def test_standalone_inlines_every_image(alert_report):
    page = alert_report.standalone_html()
    assert "cid:" not in page
    assert page.count("data:image/png;base64,") == len(re.findall(r'src="cid:', alert_report.html))


def test_quiet_day_is_short(ok_report, alert_report):
    assert ok_report.subject == "[OK] car_loan 2026-11-25: no issues"
    text = _visible_text(ok_report.html)
    assert "No issues found" in text
    for absent in ("Worst cohorts", "Data quality", "Worst individual failures", "What changed", "Drift: training"):
        assert absent not in text
    assert len(ok_report.text.splitlines()) < 35
    assert len(ok_report.html) < len(alert_report.html) / 3
    assert [c for c in ok_report.images if c.startswith("drift")] == []


def test_subject_lines(alert, ok):
    s = subject_line(alert)
    assert s.startswith("[ALERT] car_loan 2026-11-25: ROC AUC -0.02 (cohort salary_range=0-20K -0.09)")
    assert "3 features + prediction drifted" in s and "cost +$16,700" in s
    assert "\n" not in s and len(s) <= 130
    assert subject_line(ok) == "[OK] car_loan 2026-11-25: no issues"
    # only a cohort regressed: the example form
    only_cohort = copy.deepcopy(alert)
    for info in only_cohort["performance"]["overall"].values():
        info["regressed"] = False
    only_cohort["business"] = None
    only_cohort["drift"]["prediction"] = None
    only_cohort["alerts"] = [a for a in only_cohort["alerts"] if a["kind"] not in ("quality", "volume")]
    assert subject_line(only_cohort) == "[ALERT] car_loan 2026-11-25: ROC AUC -0.09 (cohort salary_range=0-20K), 3 features drifted"
    no_data = {"monitor": "car_loan", "date": "2026-11-25", "status": "no_data", "window": {"start": "2026-11-25", "end": "2026-11-25"},
               "alerts": [{"kind": "no_data", "subject": "production", "severity": "critical", "message": "no partition at s3://b/dt=2026-11-25/", "new": True}]}
    assert subject_line(no_data) == "[NO DATA] car_loan 2026-11-25: no partition at s3://b/dt=2026-11-25/"
    # a cohort value carrying a line break cannot break the header
    evil = copy.deepcopy(only_cohort)
    evil["cohorts"][0]["cohort"] = "x\r\nBcc: victim@example.com"
    assert "\r" not in subject_line(evil) and "\n" not in subject_line(evil)


def test_text_part_carries_the_same_key_facts(alert_report):
    text = alert_report.text
    for fact in ["[ALERT] car_loan 2026-11-25", "WHAT IS WRONG", "FOR WHOM", "SINCE WHEN", "WHAT IT COSTS",
                 "salary_range=0-20K", "since 2026-11-21", "+$16,700", "ROC AUC: 0.823 vs baseline 0.842",
                 "REGRESSED", "K-S = 0.183", "null rate 3.1%", "TRENDS (last 30 runs", "L-88213",
                 "config hash: 3fa9c2d41b7e0a55", "<script>alert(1)</script>"]:
        assert fact in text, fact
    assert "<td" not in text and "&lt;" not in text


def test_missing_sections_never_crash():
    for metrics in ({}, {"status": "warning"}, {"monitor": "m", "date": "2026-01-01", "status": "alert", "drift": None,
                    "performance": None, "cohorts": None, "business": None, "quality": None, "analysis": None,
                    "alerts": None, "resolved": None, "links": None},
                    {"monitor": "m", "status": "alert", "drift": {"features": {"a": {"drifted": True}}, "prediction": None},
                     "performance": {"overall": {"roc_auc": {}}}, "cohorts": [{"metrics": {"f1": {"regressed": True}}}, {}],
                     "business": {"money": {}, "guardrails": [{}, {"status": "breached"}]}, "analysis": {"worst_rows": [{}]},
                     "quality": {"findings": [{}], "schema": {}}}):
        r = render_report(metrics, history=[None, {"date": "x"}, {"alerts": [{"kind": "not a kind"}]}])
        assert r.subject and r.html.startswith("<!DOCTYPE html>") and r.text


def test_a_document_that_breaks_the_contract_is_named_not_rendered():
    """Absent parts are fine (above); a wrong shape is a DataError naming the key, not a half-empty email."""
    from monitor.errors import DataError

    for bad, where in (({"cohorts": [None]}, "cohorts.0"), ({"alerts": [{"kind": "weather"}]}, "alerts.0.kind"),
                       ({"drift": {"features": {"a": {"statistic": "high"}}}}, "drift.features.a.statistic")):
        with pytest.raises(DataError, match=re.escape(where)):
            render_report(bad)


def test_no_data_day(history):
    r = render_report({"schema_version": 1, "monitor": "car_loan", "date": "2026-11-25", "status": "no_data",
                       "window": {"start": "2026-11-25", "end": "2026-11-25"}, "rows": {"current": 0},
                       "alerts": [{"kind": "no_data", "subject": "production", "severity": "critical",
                                   "message": "no rows at s3://b/p/dt=2026-11-25/", "new": True}]}, history=history)
    assert r.subject.startswith("[NO DATA] car_loan 2026-11-25")
    assert "NO DATA" in r.html and "no rows at s3://b/p/dt=2026-11-25/" in r.text


def _many_drifted(alert: dict, n: int = 50) -> dict:
    m = copy.deepcopy(alert)
    template = m["drift"]["features"]["salary"]
    cat = m["drift"]["features"]["salary_range"]
    m["drift"]["features"] = {f"feature_{i:02d}": copy.deepcopy(cat if i % 3 == 0 else template) for i in range(n)}
    m["drift"]["n_features"] = m["drift"]["n_drifted"] = n
    m["drift"]["ranking"] = list(m["drift"]["features"])
    m["alerts"] = [a for a in m["alerts"] if a["kind"] != "drift"] + [
        {"kind": "drift", "subject": name, "severity": "warning", "message": f"{name} drifted (K-S 0.183, p_adj<1e-39)", "new": i % 2 == 0}
        for i, name in enumerate(m["drift"]["features"])]
    return m


def test_fifty_drifted_features_stay_under_one_megabyte(alert, history):
    from monitor.notify.smtp import build_message

    r = render_report(_many_drifted(alert), history=history, provenance=PROVENANCE)
    drift_charts = [c for c in r.images if c.startswith("drift")]
    assert len(drift_charts) == MAX_DRIFT_CHARTS
    assert "feature_49" in r.html and "feature_49" in r.text  # every drifted column is still listed
    assert "25 columns" in _visible_text(r.html)  # 25 new + 25 ongoing drift alerts, one row each group
    size = len(build_message(r, sender="m@example.com", to=["t@example.com"]).as_bytes())
    print(f"email with 50 drifted features: {size / 1e3:.0f} kB, HTML body {len(r.html.encode()) / 1e3:.0f} kB")
    assert size < 1_000_000
    assert len(r.html.encode()) < 102_000  # Gmail clips HTML bodies above ~102 kB


def test_failure_notice():
    r = render_failure(monitor="car_loan", date="2026-11-25", error="StorageError: s3://b/p: <denied>\nline two",
                       task="load_production", dag_id="monitor_car_loan", details="Traceback ...\n<b>raw</b>")
    assert r.subject == "[FAILED] car_loan 2026-11-25: run could not complete in task load_production: StorageError: s3://b/p: <denied>"
    assert r.status == "failed" and r.images == {}
    assert "&lt;b&gt;raw&lt;/b&gt;" in r.html and "<b>raw</b>" not in r.html
    # without a config path (the monitor's config did not load) the command says where it goes
    assert "drift-monitor run CONFIG --date 2026-11-25" in r.html and "drift-monitor run CONFIG --date 2026-11-25" in r.text
    r2 = render_failure(monitor="car_loan", date="2026-11-25", error="x", config_path="/srv/monitors/car_loan.yaml",
                        links=[("Airflow run", "http://af/dags/d/runs/r")])
    assert "drift-monitor run /srv/monitors/car_loan.yaml --date 2026-11-25" in r2.text
    assert 'href="http://af/dags/d/runs/r"' in r2.html and "http://af/dags/d/runs/r" in r2.text
    assert "monitor_car_loan" in r.text
    assert render_failure(monitor="m", date=None, error="").subject.startswith("[FAILED] m: run could not complete")


def test_charts_can_be_turned_off(alert):
    r = render_report(alert, charts=False)
    assert r.images == {} and "cid:" not in r.html


def test_autoescape_is_on_for_html_templates():
    from monitor.report.render import _env

    env = _env()
    assert env.get_template("report.html.j2").render(monitor="<i>x</i>", provenance={}).count("&lt;i&gt;x&lt;/i&gt;") >= 1


def test_shapes_the_stages_actually_write(alert, history):
    """business.money (signed, negative = cost), per-column prediction drift, nested worst-row features,
    guardrail `status`, stage errors: the shapes monitor/business.py, drift.py, analysis.py and pipeline.py write."""
    m = copy.deepcopy(alert)
    m["business"] = {"currency": "$", "money": {"value": -298960.0, "expected_at_baseline_rate": -188800.0, "change": -110160.0,
                                                "per_day": -298960.0, "labelled": 2000, "direction": "worse"},
                     "guardrails": [{"name": "p95(latency_ms)", "column": "latency_ms", "stat": "p95", "min": None, "max": 200.0,
                                     "value": 231.0, "baseline": 141.2, "status": "breached", "note": None}],
                     "findings": ["money counted on 2,000 labelled rows"]}
    assert list(m["drift"]["prediction"]) == ["y_pred_proba"]  # the fixture has the per-column shape
    m["drift"]["target"] = {"repaid": dict(m["drift"]["prediction"]["y_pred_proba"], drifted=False)}
    m["analysis"]["worst_rows"] = [{"id": 27000118, "loss": 3.95, "label": 0, "prediction": 1, "score": 0.98,
                                    "features": {"age": 51, "region": "<b>north</b>"}}]
    m["errors"] = [{"stage": "cohorts", "error": "DataError: column 'x' <missing>"}]
    r = render_report(m, history=history)
    assert "cost +$110,160" in r.subject and "3 features + prediction drifted" in r.subject
    text = _visible_text(r.html)
    assert "$298,960 cost of errors vs $188,800 expected at baseline (+$110,160)" in text
    assert "guardrail p95(latency_ms) = 231 (allowed \u2264 200)" in text and "breached" in text
    assert "prediction y_pred_proba" in text and "target repaid" not in text
    assert "27000118" in text and "27,000,118" not in text and "&lt;b&gt;north&lt;/b&gt;" in r.html
    assert "Incomplete run" in text and "cohorts: DataError: column 'x' <missing>" in text
    assert "INCOMPLETE RUN" in r.text and "money counted on 2,000 labelled rows" in r.text
    # no labels yet: no money figure, no fake "within baseline", no table of empty cohorts
    m["business"]["money"].update(value=0.0, labelled=0, change=None, expected_at_baseline_rate=None)
    for info in m["performance"]["overall"].values():
        info.update(value=None, delta=None, regressed=False)
    for c in m["cohorts"]:
        for info in c["metrics"].values():
            info.update(value=None, delta=None, regressed=False)
    r = render_report(m, history=history)
    text = _visible_text(r.html)
    assert "$0" not in text and "within baseline" not in text and "cost" not in r.subject
    assert "No labelled rows yet" in text and "No cohort has labelled rows yet" in text


def test_cohort_explained_by_another_is_not_counted_as_its_own_regression():
    from monitor.report.render import render_report

    reg = {"value": 0.6, "baseline": 0.75, "delta": -0.15, "ci_low": 0.55, "ci_high": 0.65, "p_value": 0.001, "p_value_adjusted": 0.002, "regressed": True}
    metrics = {
        "schema_version": 1, "monitor": "m", "date": "2026-11-25", "window": {"start": "2026-11-25", "end": "2026-11-25"},
        "status": "alert", "rows": {"current": 100, "reference": 100, "labelled": 80}, "alerts": [],
        "cohorts": [
            {"cohort": "salary=low", "rows": 40, "labelled": 30, "label_coverage": 0.75, "metrics": {"accuracy": reg}},
            {"cohort": "region=west", "rows": 60, "labelled": 50, "label_coverage": 0.8333, "explained_by": "salary=low",
             "metrics": {"accuracy": reg}},
        ],
    }
    r = render_report(metrics, charts=False)
    assert "1 of 2 regressed" in r.text
    assert "30 (75%)" in r.text and "50 (83%)" in r.text
    assert "explained by its overlap with salary=low" in r.text


def test_joint_and_newest_day_drift_are_shown_beside_the_columns(alert, history):
    m = copy.deepcopy(alert)
    m["drift"]["multivariate"] = {"method": "domain_classifier", "statistic": 0.81, "ci_low": 0.79, "ci_high": 0.83,
                                  "threshold": 0.55, "drifted": True,
                                  "top_features": [{"column": "income", "importance": 0.3}, {"column": "salary_range", "importance": 0.2}]}
    m["drift"]["newest_day"] = {"date": "2026-11-25", "rows": 165, "drifted": ["income"], "features": {}}
    r = render_report(m, history=history, provenance=PROVENANCE)
    for body in (_visible_text(r.html), r.text):
        assert "Joint distribution (domain classifier): changed, ROC AUC 0.81" in body and "leans on income, salary_range" in body
        assert "Newest day 2026-11-25 on its own (165 rows): shifted: income" in body
    m["drift"]["multivariate"].update(statistic=0.5, ci_low=0.48, ci_high=0.52, drifted=False, top_features=[])
    m["drift"]["newest_day"].update(drifted=[])
    r = render_report(m, history=history, provenance=PROVENANCE)
    assert "Joint distribution (domain classifier): no change" in r.text and "changed" not in r.text.split("Joint")[1][:40]
    assert "(165 rows): no shift" in r.text
