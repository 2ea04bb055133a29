"""A seeded store for whole-run tests: a reference and two daily partitions with labels, and its config.

NaNs, text categories with nulls, ints, two files per day and partial labels, so the reading,
joining and every stage see the awkward cases. Deterministic for a given (rows, seed).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

__all__ = ["seeded_store"]


def seeded_store(root: Path, rows: int, seed: int = 3) -> Path:
    """Two daily partitions of two files each; NaNs, text categories with nulls, ints, partial labels."""
    rng = np.random.default_rng(seed)
    days = [dt.date(2026, 3, 9), dt.date(2026, 3, 10)]

    def frame(n: int, id0: int, shift: float) -> pd.DataFrame:
        x = rng.normal(shift, 1.0, (6, n))
        x[1][rng.uniform(size=n) < 0.05] = np.nan
        score = 1 / (1 + np.exp(-(x[0] - 0.5 * x[2])))
        region = np.array(["north", "south", "east", "west", None], dtype=object)[rng.choice(5, n, p=[.4, .3, .15, .1, .05])]
        return pd.DataFrame({
            "id": np.arange(id0, id0 + n, dtype=np.int64),
            **{f"x{i}": x[i] for i in range(6)},
            "visits": rng.poisson(3 + shift, n).astype(np.int64),
            "region": pd.array(region, dtype="str"),
            "plan": rng.choice(["basic", "plus", "pro"], n),
            "score": score,
            "pred": (score >= 0.5).astype(np.int64),
            "target": (rng.uniform(size=n) < np.clip(score + (shift * (region == "south")), 0, 1)).astype(np.int64),
        })

    ref = frame(rows, 0, 0.0)
    ref.to_parquet(root / "reference.parquet", index=False)
    for k, d in enumerate(days):
        part = root / "pred" / f"dt={d}"
        lab = root / "labels" / f"dt={d}"
        part.mkdir(parents=True)
        lab.mkdir(parents=True)
        df = frame(rows // 2, 10**7 * (k + 1), 0.2 * k)
        half = len(df) // 2
        df.drop(columns=["target"]).iloc[:half].to_parquet(part / "part-0.parquet", index=False)
        df.drop(columns=["target"]).iloc[half:].to_parquet(part / "part-1.parquet", index=False)
        df[["id", "target"]].sample(frac=0.8, random_state=seed + k).to_parquet(lab / "labels.parquet", index=False)
    cfg = {
        "name": "seeded",
        "window_days": 2,
        "reference": {"uri": str(root / "reference.parquet")},
        "production": {"uri": str(root / "pred") + "/dt={date}/", "format": "parquet"},
        "labels": {"uri": str(root / "labels") + "/dt={date}/", "format": "parquet", "join_on": ["id"], "delay_days": 0},
        "model": {"task": "binary_classification", "target": "target", "prediction": "pred", "score": "score", "id": "id"},
        "features": {"numerical": [*(f"x{i}" for i in range(6)), "visits"], "categorical": ["region", "plan"]},
        "cohorts": [{"column": "region"}, {"column": "x0", "bins": [-10, 0, 10]}],
        "metrics": ["roc_auc", "accuracy", "f1"],
        "output": {"uri": str(root / "out")},
        "email": {"send": "never"},
    }
    path = root / "seeded.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path
