"""The shared part of the task strategies: the prepared (encoded) rows and the `Task` base class."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import pandas as pd

from monitor.config import ModelConfig
from monitor.errors import DataError, UnknownMethodError
from monitor.stages.performance.registry import Metric

__all__ = ["Prepared", "PreparedPair", "Task", "labelled_mask", "numeric_column", "counts_around_positive"]


@dataclass
class Prepared:
    """The labelled rows of one data set, encoded for the sufficient statistics.

    Binary rows with a score are sorted by score once, so every subset is sorted
    too and `sbin` (the index of the row's distinct score, ascending) needs no sort.
    """

    y: np.ndarray  # binary: int8 0/1; multiclass: class codes; regression: float
    pred: np.ndarray  # same encoding as y
    rows: np.ndarray  # positions of these rows in the source frame
    classes: list = field(default_factory=list)
    score: Optional[np.ndarray] = None  # binary: probability of the positive class, ascending
    sbin: Optional[np.ndarray] = None  # binary: distinct-score index per row
    n_bins: int = 0
    # binary: these are all the rows with a finite score and prediction (labelled or not), so
    # the estimate on every scored row (cbpe) can use them as they are, already sorted
    all_scored: bool = False
    scores: Optional[np.ndarray] = None  # multiclass: (n, classes) probability columns (NaN where not configured)
    center: float = 0.0  # regression: subtracted from y for a stable R2

    @property
    def n(self) -> int:
        return int(self.y.shape[0])

    @property
    def has_score(self) -> bool:
        return self.score is not None or self.scores is not None

    def rows_in(self, frame_mask: np.ndarray) -> np.ndarray:
        """A boolean mask over the source frame's rows -> the same selection over these rows."""
        return np.asarray(frame_mask, dtype=bool)[self.rows]


class PreparedPair:
    """The window's and the baseline's encoded rows, handed from the performance stage to the cohort
    stage, which `take`s them: they are then released with that stage instead of being held to the
    end of the run (18 bytes a labelled row)."""

    def __init__(self, cur: Prepared, base: Prepared) -> None:
        self._pair: Optional[tuple[Prepared, Prepared]] = (cur, base)

    def take(self) -> Optional[tuple[Prepared, Prepared]]:
        """The pair, once (None afterwards)."""
        pair, self._pair = self._pair, None
        return pair


def labelled_mask(df: pd.DataFrame, model: ModelConfig) -> np.ndarray:
    if model.target not in df.columns:
        return np.zeros(len(df), dtype=bool)
    return df[model.target].notna().to_numpy()


def numeric_column(df: pd.DataFrame, col: str) -> np.ndarray:
    """The column as float64 (NaN where not numeric); a float64 column as it is, not copied (read only)."""
    col_ = df[col]
    if col_.dtype == np.float64:
        return col_.to_numpy()
    return pd.to_numeric(col_, errors="coerce").to_numpy(dtype=float)


class Task(ABC):
    """The shared part of the strategies; subclasses fill in the task-specific steps (the abstract ones)."""

    name = ""
    classifier = False
    binary = False
    multiclass = False
    metrics: dict[str, Metric] = {}

    def __init__(self, model: ModelConfig) -> None:
        self.model = model

    # -- metrics
    def resolve(self, names: list[str]) -> list[Metric]:
        """Look metric names up; UnknownMethodError lists the known ones."""
        out: list[Metric] = []
        for name in names:
            if name not in self.metrics:
                raise UnknownMethodError(
                    f"unknown metric {name!r} for task {self.name}; known metrics: {', '.join(sorted(self.metrics))}"
                )
            if self.metrics[name] not in out:
                out.append(self.metrics[name])
        return out

    def metric_of(self, output: str) -> Metric:
        """The metric behind an output name (`recall[gold]` -> recall_per_class)."""
        if "[" in output:
            return self.metrics[output.split("[")[0] + "_per_class"]
        return self.metrics[output]

    # -- rows
    def classes(self, frames: list[pd.DataFrame]) -> list:
        return []

    def n_cells(self, classes: list) -> int:
        """Classes of the confusion matrix (0 = none)."""
        return 0

    @abstractmethod
    def prepare(self, df: pd.DataFrame, classes: Optional[list] = None) -> tuple[Prepared, np.ndarray, list[str]]:
        """The labelled rows encoded for the metrics, the mask of the rows used, and notes."""

    def prepare_pair(self, current: pd.DataFrame, baseline: pd.DataFrame) -> tuple[Prepared, Prepared, list[str]]:
        """Window and baseline encoded alike (one class list), with notes."""
        classes = self.classes([current, baseline])
        cur, _, notes = self.prepare(current, classes)
        base, _, base_notes = self.prepare(baseline, classes)
        return cur, base, list(notes) + [f"baseline: {n}" for n in base_notes]

    def spread(self, data: Prepared) -> Optional[float]:
        """The scale of the target, for materiality relative to it (regression)."""
        return None

    def untestable(self, base: Prepared) -> dict[str, str]:
        """Metrics whose mean the baseline shows to be dominated by a few rows: name -> why (no test)."""
        return {}

    # -- other stages
    def confusion_counts(self, df: pd.DataFrame) -> Optional[dict[str, int]]:
        """tp/fp/fn/tn of the labelled rows around model.positive_label; None when the task has none."""
        return None

    def abs_errors(self, df: pd.DataFrame) -> Optional[np.ndarray]:
        """|prediction - target| of the labelled rows; None when the task has no numeric error."""
        return None

    @abstractmethod
    def row_loss(self, df: pd.DataFrame) -> np.ndarray:
        """Per-row loss on labelled rows (NaN where unlabelled or without a prediction)."""

    def uncertainty(self, df: pd.DataFrame) -> Optional[pd.Series]:
        """Per row, higher = the model is less sure (None when the task has no such notion)."""
        return None

    def _require_prediction(self, df: pd.DataFrame) -> None:
        if self.model.prediction not in df.columns:
            raise DataError(f"prediction column {self.model.prediction!r} is not in the data")

    def _with_target(self, df: pd.DataFrame, notes: list[str]) -> pd.DataFrame:
        if self.model.target not in df.columns:
            notes.append(f"target column {self.model.target!r} is not in the data: no labelled rows")
            return df.assign(**{self.model.target: np.nan})
        return df


def counts_around_positive(df: pd.DataFrame, lab: np.ndarray, pred: np.ndarray, m: ModelConfig) -> dict[str, int]:
    """tp/fp/fn/tn of the labelled rows (`lab`) with a prediction (codes 1 / 0 / -1 = none), on the
    columns as they are (no copy of the labelled rows of the frame)."""
    ok = lab & (pred >= 0)
    y = (df[m.target] == m.positive_label).to_numpy(dtype=bool, na_value=False)[ok]
    p = pred[ok].astype(bool)
    return {"tp": int((y & p).sum()), "fp": int((~y & p).sum()), "fn": int((y & ~p).sum()), "tn": int((~y & ~p).sum())}
