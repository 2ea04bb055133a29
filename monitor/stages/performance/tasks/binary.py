"""Binary classification: labels and predictions around model.positive_label, rows sorted by score."""

from __future__ import annotations

from typing import Optional

import numpy as np
import pandas as pd

from monitor.errors import DataError
from monitor.stages.performance.registry import BINARY
from monitor.stages.performance.tasks.base import Prepared, Task, counts_around_positive, labelled_mask, numeric_column

__all__ = ["BinaryTask", "sort_scores"]


class BinaryTask(Task):
    name = "binary_classification"
    classifier = True
    binary = True
    metrics = BINARY

    def n_cells(self, classes: list) -> int:
        return 2

    def predictions(self, df: pd.DataFrame, score: Optional[np.ndarray]) -> np.ndarray:
        """1.0 / 0.0 / NaN per row: the prediction column, else the score at the threshold."""
        codes = self.prediction_codes(df, score)
        return np.where(codes < 0, np.nan, codes.astype(float))

    def prediction_codes(self, df: pd.DataFrame, score: Optional[np.ndarray]) -> np.ndarray:
        """1 / 0 / -1 (none) per row as int8: `predictions` in one byte a row."""
        m = self.model
        if m.prediction in df.columns and m.prediction != m.score:
            col = df[m.prediction]
            codes = (col == m.positive_label).to_numpy(dtype=bool, na_value=False).astype(np.int8)
            codes[col.isna().to_numpy()] = -1
            return codes
        if score is not None:
            codes = (score >= m.threshold).astype(np.int8)
            codes[np.isnan(score)] = -1
            return codes
        raise DataError(
            f"prediction column {m.prediction!r} is not in the data and no score column is configured "
            f"(set model.prediction to the column holding the model's predictions)"
        )

    def score_of(self, df: pd.DataFrame) -> Optional[np.ndarray]:
        m = self.model
        return numeric_column(df, m.score) if m.score and m.score in df.columns else None

    def prepare(self, df: pd.DataFrame, classes: Optional[list] = None) -> tuple[Prepared, np.ndarray, list[str]]:
        """Labelled rows with a prediction (and a score, when configured), sorted by score.

        Kept per row: label and prediction as int8, the score, its distinct-value index
        and the row position (int32 below 2^31 rows): 18 bytes a row, no temporaries kept.
        """
        m, notes = self.model, list[str]()
        df = self._with_target(df, notes)
        used = labelled_mask(df, m)
        score = self.score_of(df)
        if m.score and score is None:
            notes.append(f"score column {m.score!r} is missing: score metrics are undefined")
        pred = self.prediction_codes(df, score)
        ok = used & (pred >= 0)
        if score is not None:
            ok &= ~np.isnan(score)
        if ok.sum() < used.sum():
            notes.append(f"{int(used.sum() - ok.sum())} labelled row(s) without a prediction/score were left out")
        all_scored = score is not None and bool(np.array_equal(ok, np.isfinite(score) & (pred >= 0)))
        index = np.int32 if len(df) < 2**31 else np.int64
        every = bool(ok.all())  # then no copies of the columns: the rows are all of them
        rows = None if every else np.flatnonzero(ok).astype(index)
        p = pred if rows is None else pred[rows]
        del pred
        target = df[m.target].to_numpy()
        y = ((target if rows is None else target[rows]) == m.positive_label).astype(np.int8)
        del target
        if score is None:
            return Prepared(y, p, np.arange(len(df), dtype=index) if rows is None else rows, [0, 1]), ok, notes
        s, order, sbin, n_bins = sort_scores(score if rows is None else score[rows], stable=True)
        del score
        y, p, rows = y[order], p[order], order.astype(index) if rows is None else rows[order]
        del order
        return Prepared(y, p, rows, [0, 1], s, sbin, n_bins, all_scored), ok, notes

    def confusion_counts(self, df: pd.DataFrame) -> Optional[dict[str, int]]:
        lab = labelled_mask(df, self.model)
        if not lab.any():
            return {"tp": 0, "fp": 0, "fn": 0, "tn": 0}
        return counts_around_positive(df, lab, self.prediction_codes(df, self.score_of(df)), self.model)

    def row_loss(self, df: pd.DataFrame) -> np.ndarray:
        m = self.model
        lab = labelled_mask(df, m)
        loss = np.full(len(df), np.nan)
        if not lab.any():
            return loss
        y = (df[m.target] == m.positive_label).to_numpy(dtype=bool, na_value=False)
        score = self.score_of(df)
        if score is not None:
            # -log(s) for positives, -log1p(-s) for negatives, in one array: the values of
            # -(y log(s) + (1 - y) log1p(-s)) (the other term is -0.0), without its temporaries
            vals = np.clip(score, 1e-15, 1 - 1e-15)
            neg = ~y
            np.negative(vals, out=vals, where=neg)
            np.log1p(vals, out=vals, where=neg)
            np.log(vals, out=vals, where=y)
            np.negative(vals, out=vals)
        else:
            vals = np.abs(self.predictions(df, None) - y)
        np.copyto(loss, vals, where=lab)
        return loss

    def uncertainty(self, df: pd.DataFrame) -> Optional[pd.Series]:
        m = self.model
        if not m.score or m.score not in df.columns:
            return None
        s = pd.to_numeric(df[m.score], errors="coerce")
        return -(s - m.threshold).abs()  # higher = more uncertain


def sort_scores(score: np.ndarray, *, stable: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """(sorted scores, the order, distinct-score index per sorted row, distinct scores) of NaN-free scores.

    Numpy's quicksort (vectorised) orders distinct scores as a stable sort does; with `stable`,
    scores with ties are sorted again stably so that tied rows keep their order.
    """
    order = np.argsort(score)
    s = score[order]
    new = s[1:] != s[:-1]
    if stable and not new.all():
        order = np.argsort(score, kind="stable")
        s = score[order]
        new = s[1:] != s[:-1]
    sbin = np.zeros(s.size, dtype=np.int32 if s.size < 2**31 else np.int64)
    if s.size:
        np.cumsum(new, out=sbin[1:])
    return s, order, sbin, int(sbin[-1]) + 1 if s.size else 0
