"""One strategy per model task: how rows are prepared, which metrics exist, what a confusion matrix is.

`task_for(model)` is the one place that looks at `model.task`; every other
module asks the strategy (`prepare`, `metrics`, `confusion_counts`,
`abs_errors`, `row_loss`, `uncertainty`, `estimate_unlabelled`, and the
capability flags `classifier` / `binary`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np
import pandas as pd

from monitor.config import ModelConfig
from monitor.errors import DataError, UnknownMethodError
from monitor.stages.performance.registry import BINARY, MULTICLASS, REGRESSION, Metric

# A mean whose top 1% of rows hold more than this share of its total is not tested (see untestable)
DOMINATED_SHARE = 0.5

__all__ = ["Prepared", "PreparedPair", "Task", "sort_scores", "BinaryTask", "MulticlassTask", "RegressionTask", "task_for", "labelled_mask"]


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


def _numeric(df: pd.DataFrame, col: str) -> np.ndarray:
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


# --------------------------------------------------------------------------- binary


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
        return _numeric(df, m.score) if m.score and m.score in df.columns else None

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
        return _counts_around_positive(df, lab, self.prediction_codes(df, self.score_of(df)), self.model)

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


def _counts_around_positive(df: pd.DataFrame, lab: np.ndarray, pred: np.ndarray, m: ModelConfig) -> dict[str, int]:
    """tp/fp/fn/tn of the labelled rows (`lab`) with a prediction (codes 1 / 0 / -1 = none), on the
    columns as they are (no copy of the labelled rows of the frame)."""
    ok = lab & (pred >= 0)
    y = (df[m.target] == m.positive_label).to_numpy(dtype=bool, na_value=False)[ok]
    p = pred[ok].astype(bool)
    return {"tp": int((y & p).sum()), "fp": int((~y & p).sum()), "fn": int((y & ~p).sum()), "tn": int((~y & ~p).sum())}


# --------------------------------------------------------------------------- multiclass


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
                        scores[:, i] = _numeric(df, cols[c])
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
        return _counts_around_positive(df, lab, pred, m)

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


# --------------------------------------------------------------------------- regression


class RegressionTask(Task):
    name = "regression"
    metrics = REGRESSION

    def _pair(self, df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        return _numeric(df, self.model.target), _numeric(df, self.model.prediction)

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


_TASKS: dict[str, type[Task]] = {t.name: t for t in (BinaryTask, MulticlassTask, RegressionTask)}


def task_for(model: ModelConfig) -> Task:
    """The strategy for the model's task."""
    cls = _TASKS.get(model.task)
    if cls is None:
        raise UnknownMethodError(f"unknown model task {model.task!r}; known: {sorted(_TASKS)}")
    return cls(model)
