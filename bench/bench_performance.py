"""Time the performance + cohort stages on 1M labelled rows, 20 cohorts, 6 metrics with intervals.

    .venv/bin/python bench/bench_performance.py [--rows 1000000] [--baseline-rows 200000]

Prints wall and CPU times and the stages' peak allocation above the data (tracemalloc sees
numpy's buffers); no assertions (target here: under 5 s for the whole thing).
"""

from __future__ import annotations

import argparse
import resource
import time
import tracemalloc

import numpy as np
import pandas as pd

from monitor.config import CohortConfig, ModelConfig, PerformanceConfig
from monitor.stages.cohorts import evaluate_cohorts
from monitor.stages.performance import evaluate_performance

METRICS = ["roc_auc", "pr_auc", "accuracy", "f1", "log_loss", "brier"]


def make(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    region = rng.integers(0, 10, n)
    segment = np.array(list("ABCDE"))[rng.integers(0, 5, n)]
    value = rng.uniform(0, 50000, n)
    logit = x + 0.1 * region
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(float)
    score = 1 / (1 + np.exp(-(logit + rng.normal(scale=0.8, size=n))))
    return pd.DataFrame(
        {"id": np.arange(n), "x": x, "region": region, "segment": segment, "value": value, "y": y, "y_pred": (score >= 0.5).astype(int), "score": score}
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--baseline-rows", type=int, default=200_000)
    ap.add_argument("--bootstrap", type=int, default=200)
    args = ap.parse_args()
    cur, base = make(args.rows, 1), make(args.baseline_rows, 2)
    model = ModelConfig(task="binary_classification", target="y", prediction="y_pred", score="score", id="id")
    cfg = PerformanceConfig(bootstrap=args.bootstrap)
    # 10 region values + 5 segments + 4 value bins + 1 where = 20 cohorts
    cohorts = [
        CohortConfig(column="region"),
        CohortConfig(column="segment"),
        CohortConfig(column="value", bins=[0, 10000, 20000, 30000, float("inf")]),
        CohortConfig(name="high_x", where="x > 1"),
    ]
    tracemalloc.start()  # numpy reports its buffers to tracemalloc: the stages' own peak, without the data
    c0, t0 = time.process_time(), time.perf_counter()
    perf = evaluate_performance(cur, base, model, METRICS, cfg, final=True)
    c1, t1 = time.process_time(), time.perf_counter()
    coh = evaluate_cohorts(cur, base, model, METRICS, cohorts, cfg, prepared=perf.prepared)  # as the run does
    c2, t2 = time.process_time(), time.perf_counter()
    n_cohorts = len(coh.cohorts)
    print(f"rows={args.rows:,} baseline={args.baseline_rows:,} metrics={len(METRICS)} cohorts={n_cohorts} bootstrap={args.bootstrap}")
    # CPU time next to wall time: the machine is shared, and wall time includes waiting for a core.
    print(f"overall (incl. CBPE): {t1 - t0:.2f} s wall, {c1 - c0:.2f} s CPU")
    print(f"cohorts:              {t2 - t1:.2f} s wall, {c2 - c1:.2f} s CPU")
    print(f"total:                {t2 - t0:.2f} s wall, {c2 - c0:.2f} s CPU   (target < 5 s)")
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"memory: stages' peak allocation {peak:.0f} MB above the data; process peak RSS {rss:.0f} MB")
    print(f"alerts: {len(perf.alerts())} performance, {len(coh.alerts())} cohort (expected 0: same process)")


if __name__ == "__main__":
    main()
