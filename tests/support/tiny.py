"""A tiny monitor (a few hundred rows) on local storage or S3, for fault and hostile-input tests."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Optional

import numpy as np
import pandas as pd

from monitor.config import MonitorConfig, parse_config

DAY = dt.date(2026, 11, 25)
__all__ = ["DAY", "frame", "write_store", "tiny_config", "out_dir"]


def frame(n: int, seed: int, start_id: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    score = rng.uniform(size=n)
    return pd.DataFrame({
        "id": np.arange(start_id, start_id + n),
        "x": rng.normal(size=n),
        "c": rng.choice(["a", "b"], n),
        "s": score,
        "p": (score > 0.5).astype(int),
        "y": (rng.uniform(size=n) < score).astype(int),
    })


def write_store(root: Path, *, current: Optional[pd.DataFrame] = None, reference: Optional[pd.DataFrame] = None,
                days: tuple[dt.date, ...] = (DAY,)) -> Path:
    """ref.parquet and one production partition per day under `root` (local)."""
    root.mkdir(parents=True, exist_ok=True)
    (reference if reference is not None else frame(300, 1)).to_parquet(root / "ref.parquet")
    for d in days:
        part = root / "prod" / f"dt={d}"
        part.mkdir(parents=True, exist_ok=True)
        cur = current if current is not None else frame(200, d.toordinal() % 1000, start_id=d.toordinal() * 1000)
        cur.drop(columns=["y"], errors="ignore").to_parquet(part / "part-0.parquet")
    return root


def tiny_config(base: str, *, output: Optional[str] = None, outbox: Optional[str] = None, **over: Any) -> MonitorConfig:
    """A config reading `<base>/ref.parquet` and `<base>/prod/dt={date}/` (base: a path or s3://bucket/prefix)."""
    base = base.rstrip("/")
    data: dict[str, Any] = {
        "name": "m",
        "window_days": 1,
        "reference": {"uri": f"{base}/ref.parquet"},
        "production": {"uri": f"{base}/prod/dt={{date}}/"},
        "model": {"task": "binary_classification", "target": "y", "prediction": "p", "score": "s", "id": "id"},
        "performance": {"min_cohort_labelled": 20, "bootstrap": 20},
        "output": {"uri": output or f"{base}/out"},
        "email": {"to": ["ml@example.com"], "outbox": outbox or (f"{base}/outbox" if not base.startswith("s3://") else "outbox")},
    }
    data.update(over)
    return parse_config(data, "tiny.yaml")


def out_dir(cfg: MonitorConfig, day: dt.date = DAY) -> str:
    return f"{cfg.output.uri.rstrip('/')}/{cfg.name}/date={day.isoformat()}/"
