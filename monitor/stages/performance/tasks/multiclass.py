"""Multiclass classification: one class list shared by every data set, probability columns per class."""

from __future__ import annotations

from typing import Any, Optional

import numpy as np
import pandas as pd

from monitor.stages.performance.registry import MULTICLASS
from monitor.stages.performance.tasks.base import Prepared, Task, counts_around_positive, labelled_mask, numeric_column

__all__ = ["MulticlassTask"]


def _sorted_classes(vals: set) -> list:
    try:
        return sorted(vals)
    except TypeError:
        return sorted(vals, key=lambda v: (str(type(v)), str(v)))


class MulticlassTask(Task):
    name = "multiclass_classification"
    classifier = True
    multiclass = True
    metrics = MULTICLASS

    def n_cells(self, classes: list) -> int:
        return len(classes)

    def classes(self, frames: list[pd.DataFrame]) -> list:
        """The class list shared by every data set and cohort (so macro averages agree)."""
        vals: set = set()
        for df in frames:
            for col in (self.model.target, self.model.prediction):
                if col in df.columns:
                    vals.update(df[col].dropna().unique().tolist())
        return _sorted_classes(vals)

    def score_columns(self, classes: list) -> dict[Any, str]:
        """class -> probability column, matched by the class's text (YAML keys are text)."""
        by_text = {str(k): v for k, v in (self.model.scores or {}).items()}
        return {c: by_text[str(c)] for c in classes if str(c) in by_text}

    def prepare(self, df: pd.DataFrame, classes: Optional[list] = None) -> tuple[Prepared, np.ndarray, list[str]]:
        m, notes = self.model, list[str]()
        df = self._with_target(df, notes)
        classes = classes if classes is not None else self.classes([df])
        self._require_prediction(df)
        used = labelled_mask(df, m) & df[m.prediction].notna().to_numpy()
        scores = None
        cols = self.score_columns(classes)
        if m.scores:
            missing = [c for c in cols.values() if c not in df.columns]
            if missing:
                notes.append(f"score column(s) {', '.join(map(repr, missing))} missing: score metrics are undefined")
            else:
                scores = np.full((len(df), len(classes)), np.nan)
                for i, c in enumerate(classes):
                    if c in cols:
                        scores[:, i] = numeric_column(df, cols[c])
                have = np.isfinite(scores[:, [i for i, c in enumerate(classes) if c in cols]]).all(axis=1)
                if (used & ~have).any():
                    notes.append(f"{int((used & ~have).sum())} labelled row(s) without scores were left out")
                used &= have
        rows = np.flatnonzero(used)
        cat = pd.CategoricalDtype(classes)
        y = df[m.target].iloc[rows].astype(cat).cat.codes.to_numpy()
        p = df[m.prediction].iloc[rows].astype(cat).cat.codes.to_numpy()
        return Prepared(y, p, rows, list(classes), scores=None if scores is None else scores[rows]), used, notes

    def confusion_counts(self, df: pd.DataFrame) -> Optional[dict[str, int]]:
        """One-vs-rest around model.positive_label."""
        m = self.model
        lab = labelled_mask(df, m)
        if not lab.any():
            return {"tp": 0, "fp": 0, "fn": 0, "tn": 0}
        if m.prediction not in df.columns:
            return {"tp": 0, "fp": 0, "fn": 0, "tn": 0}
        col = df[m.prediction]
        pred = (col == m.positive_label).to_numpy(dtype=bool, na_value=False).astype(np.int8)
        pred[col.isna().to_numpy()] = -1
        return counts_around_positive(df, lab, pred, m)

    def row_loss(self, df: pd.DataFrame) -> np.ndarray:
        m = self.model
        lab = labelled_mask(df, m)
        loss = np.full(len(df), np.nan)
        if not lab.any():
            return loss
        vals = (df[m.target] != df[m.prediction]).to_numpy(dtype=float)
        vals[df[m.prediction].isna().to_numpy()] = np.nan
        loss[lab] = vals[lab]
        return loss
