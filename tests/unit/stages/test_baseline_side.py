"""The performance stage's cached baseline side: numbers back exactly, other shapes refused, rows encoded once
and only when asked for."""

from __future__ import annotations

import json

import numpy as np
import pytest

from monitor.stages.performance.baseline_side import BaselineSide, LazyPrepared
from monitor.stages.performance.estimates import MetricEstimate


def _side(calibration=(np.array([0.1, 0.35, 0.9]), np.array([0.02, 1 / 3, 0.97]))) -> BaselineSide:
    est = {"roc_auc": MetricEstimate(0.8123456789012345, 0.8, 0.82, 0.005, None), "f1": MetricEstimate(None, None, None, None, "undefined")}
    return BaselineSide(1234, ("3 labelled row(s) without a prediction/score were left out",), est, calibration)


@pytest.mark.parametrize("calibration", [(np.array([0.1, 0.35, 0.9]), np.array([0.02, 1 / 3, 0.97])), None])
def test_the_numbers_come_back_exactly(calibration):
    side = _side(calibration)
    back = BaselineSide.from_json(side.to_json())
    assert (back.n, back.notes, back.estimates) == (side.n, side.notes, side.estimates)
    if calibration is None:
        assert back.calibration is None
    else:
        assert all(np.array_equal(a, b) and a.dtype == np.float64 for a, b in zip(back.calibration, calibration))


def test_a_side_that_json_cannot_hold_is_not_cached():
    assert _side((np.array([0.1, np.nan]), np.array([0.2, 0.3]))).to_json() is None


@pytest.mark.parametrize("change", [{"version": 2}, {"format": "monitor.cohorts.baseline"}, {"n": -1}, {"n": True},
                                    {"notes": [1]}, {"calibration": [[0.1], [0.2, 0.3]]}, {"calibration": [[0.1], ["x"]]},
                                    {"estimates": {"roc_auc": [1, 2]}}])
def test_other_shapes_are_refused(change):
    doc = {**json.loads(_side().to_json()), **change}
    with pytest.raises((ValueError, TypeError)):
        BaselineSide.from_json(json.dumps(doc).encode())


def test_the_rows_are_encoded_once_and_only_when_asked_for():
    made: list[int] = []
    lazy = LazyPrepared(lambda: made.append(1) or type("Rows", (), {"n": 7, "rows": np.arange(7)})())
    assert made == []
    assert lazy.n == 7 and lazy.rows.size == 7 and made == [1]
