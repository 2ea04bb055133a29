"""Time check_quality on 1M current rows x 25 features vs a 1M-row reference (prints figures; no assertions).

    .venv/bin/python bench/bench_quality.py [rows]
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from typing import Any

import numpy as np
import pandas as pd

from monitor.config import ModelConfig, QualityConfig
from monitor.stages.quality import check_quality

DAY = dt.date(2024, 5, 1)


def frame(n: int, seed: int, n_num: int = 18, n_cat: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cols: dict[str, Any] = {f"num_{i}": rng.normal(i, 1 + i, n) for i in range(n_num)}
    cats = np.array([f"c{j}" for j in range(50)])
    cols.update({f"cat_{i}": cats[rng.integers(0, 50, n)] for i in range(n_cat)})
    score = rng.uniform(0, 1, n)
    cols.update(
        id=np.arange(n) + seed * n,
        ts=pd.Timestamp(DAY) + pd.to_timedelta(rng.integers(0, 86_400, n), unit="s"),
        y_pred_proba=score,
        y_pred=(score >= 0.5).astype(int),
        target=rng.integers(0, 2, n).astype(float),
    )
    return pd.DataFrame(cols)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    model = ModelConfig(task="binary_classification", target="target", prediction="y_pred", score="y_pred_proba", id="id", timestamp="ts")
    ref = frame(n, 1).drop(columns=["id", "ts", "y_pred", "y_pred_proba"])
    cur = frame(n, 2)
    features = {c: ("numerical" if c.startswith("num") else "categorical") for c in ref.columns if c != "target"}
    labels = cur[["id", "target"]].sample(frac=0.5, random_state=0)
    parts = [{"date": DAY.isoformat(), "uri": "x", "found": True, "rows": n, "error": None}]
    history = [{"rows": {"current": n + k}, "status": "ok"} for k in range(14)]

    def go(c: pd.DataFrame) -> float:
        t = time.perf_counter()
        r = check_quality(c, ref, model=model, features=features, config=QualityConfig(), window_start=DAY, window_end=DAY,
                          partitions=parts, history=history, labels=labels)
        el = time.perf_counter() - t
        print(f"  {len(r.findings)} findings: {[f.check for f in r.findings]}")
        return el

    print(f"check_quality, {n:,} rows x {len(features)} features (+ id, ts, score, prediction, labels):")
    print(f"clean window:          {go(cur):.2f} s")
    bad = cur.copy()
    bad["num_3"] = np.nan
    bad["num_4"] = bad["num_4"].astype(str)  # int-as-strings style retype (to_numeric on 1M strings)
    bad = bad.rename(columns={"num_5": "num_5_renamed", "cat_1": "category_one"})
    bad.loc[: n // 10, "cat_2"] = "unseen"
    print(f"window with incidents: {go(bad):.2f} s")
    # Worst case for rename matching: 8 missing x 8 added columns, every pair compared.
    worse = cur.rename(columns={f"num_{i}": f"x_{i}" for i in range(6)} | {"cat_0": "y_0", "cat_1": "y_1"})
    print(f"8 columns renamed:     {go(worse):.2f} s")


if __name__ == "__main__":
    main()
