"""Results unchanged: the demo's and a seeded day's metrics.json equal the committed golden files.

Every number to 1e-12 (relative), everything else (alerts, verdicts, names, counts) exactly.
A change that alters a statistic on purpose regenerates them in the same commit:
`python -m tests.support.golden --update` (see tests/support/golden.py).
"""

from __future__ import annotations

import json

import pytest

from tests.support.golden import CASES, differences, path

HOW = "if the change is meant to alter results: python -m tests.support.golden --update, and say so in the commit"


@pytest.mark.parametrize("case", sorted(CASES))
def test_metrics_equal_the_golden_file(case, tmp_path):
    golden = json.loads(path(case).read_text())
    got = CASES[case](tmp_path)
    assert sorted(got) == sorted(golden)
    diff = differences(golden, got)
    assert diff == [], f"{case}: {len(diff)} differences ({HOW}):\n" + "\n".join(diff[:40])


def test_the_golden_files_hold_alerts_of_every_kind():
    """A golden file of quiet days would let a change that loses an alert pass."""
    demo = json.loads(path("demo").read_text())
    kinds = {a["kind"] for m in demo.values() for a in m["alerts"]}
    assert {"drift", "cohort", "quality"} <= kinds, kinds
    seeded = next(iter(json.loads(path("seeded").read_text()).values()))
    assert seeded["alerts"] and seeded["rows"]["current"] == 200_000 and not seeded["errors"]


def test_differences_sees_a_change_beyond_the_tolerance_only():
    a = {"x": 0.5, "alerts": [{"kind": "drift"}], "n": 3}
    assert differences(a, json.loads(json.dumps(a))) == []
    assert differences(a, {**a, "x": 0.5 * (1 + 1e-14)}) == []
    assert differences(a, {**a, "x": 0.5 + 1e-9}) == ["/x: 0.5 vs 0.500000001"]
    assert differences(a, {**a, "alerts": []}) == ["/alerts: 1 items vs 0"]
    assert differences(a, {**a, "n": 4}) and differences({"p": None}, {"p": 0.0}) and differences({"a": 1}, {"b": 1})
