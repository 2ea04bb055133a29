"""The baseline side of each cohort kept between runs on one baseline (BaselineFigures): the same cohorts
from the kept figures as from the baseline's rows, the baseline not summed up again for the kept
cohorts, and nothing kept for a cohort whose rows depend on the window or whose figures are damaged."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from monitor.config import CohortConfig, ModelConfig, PerformanceConfig
from monitor.stages import cohorts as cohorts_module
from monitor.stages.cohort_figures import BaselineFigures, cache_name
from monitor.stages.cohorts import evaluate_cohorts
from tests.unit.stages.test_cohorts import MODEL, frame

COHORTS = [
    CohortConfig(column="region"),
    CohortConfig(column="value", bins=[0, 20000, 40000, 60000]),
    CohortConfig(name="neg_x", where="x < 0"),
]
METRICS = ["roc_auc", "accuracy", "f1", "pr_auc"]  # pr_auc: a bootstrap, so the seed matters


def _run(cur, base, figures=None, config=None, cohorts=COHORTS, model=MODEL, metrics=METRICS) -> dict:
    cfg = config or PerformanceConfig(bootstrap=40, cohort_values=3)  # 5 regions: the top 3 and "(other 2 values)"
    res = evaluate_cohorts(cur, base, model, metrics, cohorts, cfg, baseline_figures=figures)
    return json.loads(json.dumps(res.to_dict()))


@pytest.fixture
def counted(monkeypatch) -> list[int]:
    """How many cohorts had their baseline estimates worked out."""
    calls: list[int] = []
    real = cohorts_module._Context.baseline_estimates

    def spy(self, *a, **k):
        calls.append(1)
        return real(self, *a, **k)

    monkeypatch.setattr(cohorts_module._Context, "baseline_estimates", spy)
    return calls


def test_kept_baseline_figures_give_the_same_cohorts(counted):
    base, cur = frame(4000, 1), frame(3000, 2, broken="south")
    plain = _run(cur, base)
    first = BaselineFigures()
    assert _run(cur, base, first) == plain
    assert first.changed and len(counted) == 2 * 8  # 8 cohorts: 3 regions + other, 3 bins, 1 filter
    entries = json.loads(first.to_json())["entries"]
    assert len(entries) == 7 and not any("other" in k for k in entries)  # "(other 2 values)" depends on the window
    assert {c["cohort"] for c in plain["cohorts"]} >= {"region=(other 2 values)", "neg_x", "value=[0, 20000)"}

    counted.clear()
    again = BaselineFigures.from_json(first.to_json())
    assert _run(cur, base, again) == plain
    assert not again.changed and len(counted) == 1  # only the "other" cohort's baseline was summed up
    assert any(r.get("regressed") for c in plain["cohorts"] for r in c["metrics"].values())  # the figures were used


def test_another_window_takes_the_kept_figures_of_its_cohorts(counted):
    base = frame(4000, 1)
    figures = BaselineFigures()
    _run(frame(3000, 2), base, figures)
    other_day = frame(2500, 7, broken="east")
    kept = BaselineFigures.from_json(figures.to_json())
    assert _run(other_day, base, kept) == _run(other_day, base)


def test_other_settings_or_classes_are_other_entries_and_damage_is_worked_out_again(counted):
    base, cur = frame(4000, 1), frame(3000, 2, broken="south")
    figures = BaselineFigures()
    _run(cur, base, figures)
    reseeded = PerformanceConfig(bootstrap=40, cohort_values=3, seed=11)
    kept = BaselineFigures.from_json(figures.to_json())
    counted.clear()
    assert _run(cur, base, kept, config=reseeded) == _run(cur, base, config=reseeded)
    assert kept.changed and len(counted) >= 8  # another seed: other entries

    doc = json.loads(figures.to_json())
    key = next(iter(doc["entries"]))
    doc["entries"][key]["base"] = {"roc_auc": ["x", None, None, None, None]}
    doc["entries"][next(k for k in doc["entries"] if k != key)] = {"n": -4, "base": {}, "rest": {}}
    damaged = BaselineFigures.from_json(json.dumps(doc).encode())
    assert _run(cur, base, damaged) == _run(cur, base) and damaged.changed
    with pytest.raises(ValueError):
        BaselineFigures.from_json(json.dumps({**doc, "version": 0}).encode())


def test_multiclass_cohorts_from_kept_figures():
    rng = np.random.default_rng(12)
    n = 3000
    g = rng.choice(["a", "b"], n)
    mc = pd.DataFrame({"g": g, "y": rng.choice(["u", "v", "w"], n)})
    mc["pred"] = np.where(g == "a", mc["y"], "u")
    model = ModelConfig(task="multiclass_classification", target="y", prediction="pred")
    args = dict(cohorts=[CohortConfig(column="g")], model=model, metrics=["f1_macro", "accuracy"],
                config=PerformanceConfig(bootstrap=30))
    figures = BaselineFigures()
    plain = _run(mc, mc.iloc[::-1].reset_index(drop=True), **args)
    assert _run(mc, mc.iloc[::-1].reset_index(drop=True), figures, **args) == plain
    assert all("classes=['u', 'v', 'w']" in k for k in json.loads(figures.to_json())["entries"])
    kept = BaselineFigures.from_json(figures.to_json())
    assert _run(mc, mc.iloc[::-1].reset_index(drop=True), kept, **args) == plain and not kept.changed


def test_estimates_that_would_not_survive_json_are_not_kept():
    from monitor.stages.performance.summary import MetricEstimate

    figures = BaselineFigures()
    figures.put("k1", 10, {"auc": MetricEstimate(float("nan"))}, {})
    figures.put("k2", 10, {"auc": MetricEstimate(np.float64(0.7), 0.6, 0.8, 0.05, None)}, {"auc": MetricEstimate(None, note="n/a")})
    assert figures.get("k1") is None
    n, base, rest = figures.get("k2")
    assert n == 10 and base["auc"] == MetricEstimate(0.7, 0.6, 0.8, 0.05, None) and rest["auc"].note == "n/a"
    assert cache_name("snap-1", "a") != cache_name("snap-2", "a") != cache_name("snap-1", "b")
