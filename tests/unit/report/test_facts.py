"""What the report derives from the document (money framing, worst cohort, direction) and how figures read."""

from __future__ import annotations

from monitor.document import MetricResult, MetricsDocument
from monitor.report.facts import badness, higher_is_better, money_facts, regressed_overall, worst_cohort
from monitor.report.format import fmt_money, fmt_num, fmt_p, fmt_size, one_line


def _doc(**parts: object) -> MetricsDocument:
    return MetricsDocument.model_validate(parts)


def test_a_net_cost_reads_as_a_positive_cost_and_a_gain_as_value():
    cost = money_facts(_doc(business={"money": {"value": -48200.0, "expected_at_baseline_rate": -31500.0, "labelled": 10}}))
    assert cost is not None and (cost.framing, cost.actual, cost.expected, cost.delta, cost.worse) == ("cost", 48200.0, 31500.0, 16700.0, True)
    value = money_facts(_doc(business={"currency": "EUR", "money": {"value": 900.0, "change": 100.0, "direction": "better", "labelled": 5}}))
    assert value is not None and (value.framing, value.worse, value.currency) == ("value", False, "EUR")
    assert money_facts(_doc(business={"money": {"value": 0.0, "labelled": 0}})) is None  # no labels: no figure
    assert money_facts(_doc(business={"guardrails": []})) is None


def test_direction_comes_from_the_result_then_the_metric_name():
    assert higher_is_better("roc_auc", MetricResult()) and not higher_is_better("brier", MetricResult())
    assert not higher_is_better("custom", MetricResult(higher_is_better=False))
    overall = {"brier": MetricResult(delta=0.02)}
    assert badness("brier", MetricResult(delta=0.02), overall) == 0.02  # brier up is worse
    assert badness("roc_auc", MetricResult(delta=-0.05), {}) == 0.05


def test_worst_cohort_and_regressed_metrics_are_ordered_by_harm():
    reg = lambda d: {"delta": d, "regressed": True}  # noqa: E731
    doc = _doc(performance={"overall": {"f1": reg(-0.01), "roc_auc": reg(-0.04), "accuracy": {"delta": -0.2}}},
               cohorts=[{"cohort": "a", "metrics": {"roc_auc": reg(-0.02)}}, {"cohort": "b", "metrics": {"f1": reg(-0.09)}}])
    assert [m for m, _ in regressed_overall(doc)] == ["roc_auc", "f1"]
    worst = worst_cohort(doc)
    assert worst is not None and worst[0].cohort == "b" and worst[1] == "f1"
    same = worst_cohort(doc, "roc_auc")
    assert same is not None and same[0].cohort == "a"


def test_figures_read_as_a_person_expects():
    assert fmt_num(27000118) == "27,000,118" and fmt_num(0.8234) == "0.823" and fmt_num(231.0) == "231"
    assert fmt_num(None) == "\u2013" and fmt_num(float("nan")) == "\u2013" and fmt_num(True) == "true"
    assert fmt_money(-16700, signed=True) == "-$16,700" and fmt_money(12.5, "EUR") == "12.50 EUR"
    assert fmt_p(4.8e-40) == "5e-40" and fmt_p(0.004) == "0.004" and fmt_p(0.0) == "<1e-300"
    assert fmt_size(812345) == "812.3 kB" and fmt_size(3e15) == "3000.0 TB"
    assert one_line("a\r\nBcc: x\u2028y", 8) == "a Bcc:\u2026" and one_line("a\r\nb\u2028c") == "a b c"


def test_a_money_change_within_its_noise_is_not_worse_and_stays_out_of_the_subject():
    from monitor.report.subject import subject_line

    money = {"value": -136490.0, "expected_at_baseline_rate": -132121.0, "change": -4369.0, "labelled": 30056}
    quiet = _doc(monitor="churn", date="2026-11-13", status="ok", alerts=[],
                 business={"money": {**money, "direction": "same", "change_low": -31000.0, "change_high": 22000.0}})
    facts = money_facts(quiet)
    assert facts is not None and not facts.worse
    assert subject_line(quiet) == "[OK] churn 2026-11-13: no issues"
    # must name it: a change beyond its noise
    worse = _doc(monitor="churn", date="2026-11-13", status="ok", alerts=[],
                 business={"money": {**money, "change": -40000.0, "direction": "worse", "change_high": -9000.0}})
    assert "cost +$40,000" in subject_line(worse)


def test_the_subject_names_a_shift_only_the_newest_day_or_the_joint_test_saw():
    from monitor.report.subject import subject_line

    quality = [{"kind": "quality", "subject": "x", "severity": "warning", "message": "m", "new": True}]
    day = {"date": "2026-11-13", "rows": 929, "drifted": ["plan"]}
    doc = _doc(monitor="churn", date="2026-11-13", status="warning", alerts=quality,
               drift={"n_drifted": 0, "newest_day": day})
    assert subject_line(doc) == "[WARNING] churn 2026-11-13: 2026-11-13 shifted (plan), 1 data-quality issue"
    joint = _doc(monitor="churn", date="2026-11-13", status="warning", alerts=quality,
                 drift={"n_drifted": 0, "multivariate": {"drifted": True, "top_features": [{"column": "region"}]}})
    assert subject_line(joint) == "[WARNING] churn 2026-11-13: joint drift (region), 1 data-quality issue"
    # must not: a quiet newest day and joint test add nothing
    quiet = _doc(monitor="churn", date="2026-11-13", status="ok", alerts=[],
                 drift={"n_drifted": 0, "newest_day": {**day, "drifted": []}, "multivariate": {"drifted": False}})
    assert subject_line(quiet) == "[OK] churn 2026-11-13: no issues"
