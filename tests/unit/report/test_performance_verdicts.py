"""The report shows the performance stage's verdicts: too few labels, a shared regression, a cohort that stands out."""

from __future__ import annotations

import copy
import json

import numpy as np
import pandas as pd

from monitor.config import CohortConfig, ModelConfig, PerformanceConfig
from monitor.report.render import render_report
from monitor.stages.cohorts import evaluate_cohorts
from monitor.stages.performance import evaluate_performance
from tests.support.paths import FIXTURES

MODEL = ModelConfig(task="binary_classification", target="y", prediction="pred", score="score", id="id")


def frame(n: int, seed: int, broken: str | None = None, noise: float = 0.0, label_share: float = 1.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    region = rng.choice(["north", "south", "east", "west"], n)
    score = 1 / (1 + np.exp(-2 * x))
    truth = 1 / (1 + np.exp(-2 * (x + noise * rng.normal(size=n))))
    truth = np.where(region == broken, 0.5, truth) if broken else truth
    y = (rng.random(n) < truth).astype(float)
    y[rng.random(n) >= label_share] = np.nan
    return pd.DataFrame({"id": np.arange(n), "region": region, "score": score, "pred": (score >= 0.5).astype(int), "y": y})


def metrics_for(cur: pd.DataFrame, base: pd.DataFrame) -> dict:
    doc = copy.deepcopy(json.loads((FIXTURES / "metrics_ok.json").read_text()))
    cfg = PerformanceConfig()
    perf = evaluate_performance(cur, base, MODEL, ["roc_auc", "accuracy"], cfg, final=True)
    coh = evaluate_cohorts(cur, base, MODEL, ["roc_auc", "accuracy"], [CohortConfig(column="region")], cfg)
    perf = perf.with_cohorts(coh.standing_out(), evaluated=True)
    alerts = [a.to_dict() for a in perf.alerts() + coh.alerts()]
    doc.update(
        performance=perf.to_dict(), cohorts=coh.to_dict()["cohorts"], alerts=alerts, status="alert" if alerts else "ok",
        rows={**doc["rows"], "current": len(cur), "labelled": perf.labelled},
    )
    return doc


def test_too_few_labels_is_shown_not_judged():
    cur = frame(400, 1, label_share=0.0)
    cur.loc[:2, "y"] = 1 - cur.loc[:2, "pred"]  # 3 labelled rows, all wrong
    doc = metrics_for(cur, frame(4000, 2))
    assert doc["performance"]["verdict"] == "too few labels" and doc["status"] == "ok"
    report = render_report(doc)
    assert "too few labels" in report.html and "too few labels" in report.text
    assert "REGRESSED" not in report.text and "[OK]" in report.subject


def test_shared_regression_names_no_cohort_and_a_standing_out_one_is_named():
    base = frame(20000, 3)
    shared = render_report(metrics_for(frame(8000, 4, noise=1.5), base))
    assert "shared by all cohorts" in shared.text
    assert "no single cohort stands out" in shared.html and "cohort region=" not in shared.subject
    one = render_report(metrics_for(frame(8000, 5, broken="south"), base))
    assert "region=south" in one.subject and "cohort region=south" in one.html
