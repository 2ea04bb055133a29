"""Regression: numeric targets and predictions; MAPE is not tested when a few rows dominate it."""

from __future__ import annotations

from typing import Optional

import numpy as np
import pandas as pd

from monitor.stages.performance.registry import REGRESSION
from monitor.stages.performance.tasks.base import Prepared, Task, labelled_mask, numeric_column

__all__ = ["RegressionTask", "DOMINATED_SHARE"]

# A mean whose top 1% of rows hold more than this share of its total is not tested (see untestable)
DOMINATED_SHARE = 0.5


class RegressionTask(Task):
    name = "regression"
    metrics = REGRESSION

    def _pair(self, df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        return numeric_column(df, self.model.target), numeric_column(df, self.model.prediction)

    def prepare(self, df: pd.DataFrame, classes: Optional[list] = None) -> tuple[Prepared, np.ndarray, list[str]]:
        notes: list[str] = []
        df = self._with_target(df, notes)
        self._require_prediction(df)
        y_all, p_all = self._pair(df)
        used = labelled_mask(df, self.model) & np.isfinite(y_all) & np.isfinite(p_all)
        rows = np.flatnonzero(used)
        y = y_all[rows]
        return Prepared(y, p_all[rows], rows, center=float(y.mean()) if y.size else 0.0), used, notes

    def spread(self, data: Prepared) -> Optional[float]:
        return float(data.y.std()) if data.n > 1 else None

    def untestable(self, base: Prepared) -> dict[str, str]:
        """MAPE when targets near zero dominate it: if the top 1% of the baseline's rows hold most of its
        total, a window's mean moves with whether it drew a handful of such rows, and a normal test of
        it would alarm on chance (a field test: 1 of 12 healthy days, MAPE 4.4 vs 2.15)."""
        if base.n < 100:
            return {}
        ape = np.abs(base.pred - base.y) / np.maximum(np.abs(base.y), 1e-12)
        ape = ape[np.isfinite(ape)]
        total = float(ape.sum())
        if not ape.size or total <= 0:
            return {}
        k = max(1, ape.size // 100)
        top = float(np.partition(ape, ape.size - k)[-k:].sum()) / total
        if top <= DOMINATED_SHARE:
            return {}
        return {"mape": f"no test: the top 1% of the baseline's rows hold {top:.0%} of its total (targets near zero); "
                        "use mae or rmse for alerts"}

    def abs_errors(self, df: pd.DataFrame) -> Optional[np.ndarray]:
        if self.model.target not in df.columns or self.model.prediction not in df.columns:
            return np.zeros(0)
        y, p = self._pair(df[labelled_mask(df, self.model)])
        e = np.abs(p - y)
        return e[np.isfinite(e)]

    def row_loss(self, df: pd.DataFrame) -> np.ndarray:
        lab = labelled_mask(df, self.model)
        loss = np.full(len(df), np.nan)
        if lab.any():
            y, p = self._pair(df)
            loss[lab] = np.abs(p - y)[lab]
        return loss
