"""The metric registry: each metric is a formula over one family of sufficient statistics.

Families (see `summary.py` for how they are collected, `estimates.py` for how they are turned into intervals):

* confusion  the C x C confusion matrix (rows: true class, columns: predicted);
             accuracy, precision, recall, F1, positive rate, macro/weighted F1,
             recall per class. Intervals: Wilson for proportions, otherwise the
             delta method under the multinomial.
* moments    sums and cross sums of a few per-row components; log loss, Brier,
             MAE, RMSE, MAPE, R2, bias. Intervals: the delta method.
* rank       positives/negatives per distinct score (per class for multiclass);
             ROC AUC (DeLong) and PR AUC (Poisson bootstrap over score cells).
* ece        per calibration bin: rows, sum and sum of squares of (score - label);
             calibration error (Poisson bootstrap from the bin statistics).

The formulas are checked against scikit-learn in the unit tests. Each metric
also carries its default materiality: the smallest change worth an alert, either
absolute (AUC points) or relative to the baseline value (errors in the target's units).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Optional

import numpy as np

__all__ = ["Metric", "div", "BINARY", "MULTICLASS", "REGRESSION", "EPS", "ECE_BINS"]

EPS = float(np.finfo(np.float64).eps)
ECE_BINS = 10

Formula = Callable[[np.ndarray, int], np.ndarray]  # (statistics, number of classes) -> values
Proportion = Callable[[np.ndarray, int], tuple[np.ndarray, np.ndarray]]  # counts -> (successes, trials) per output


@dataclass(frozen=True)
class Metric:
    name: str
    direction: int  # +1 higher is better, -1 lower is better, 0 a change either way is bad
    family: str  # confusion | moments | rank | ece
    formula: Optional[Formula] = None  # confusion: flat counts; moments: component means
    proportion: Optional[Proportion] = None  # confusion metrics that are a share of rows: Wilson intervals
    components: tuple[str, ...] = ()  # moments: names of per-row components (see summary.component)
    needs_score: bool = False
    per_class: bool = False  # one output per class: name[class]
    bounds: tuple[float, float] = (0.0, 1.0)  # intervals are clipped to these
    materiality: tuple[float, str] = (0.01, "absolute")  # (threshold, basis: absolute | baseline | spread)

    def names(self, classes: list) -> list[str]:
        if self.per_class:
            return [f"{self.name.removesuffix('_per_class')}[{c}]" for c in classes]
        return [self.name]


def div(a: np.ndarray | float, b: np.ndarray | float) -> np.ndarray:
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(b != 0, a / np.where(b != 0, b, 1), np.nan)


# --------------------------------------------------------------------------- confusion formulas


def _cm(c: np.ndarray, k: int) -> np.ndarray:
    return np.asarray(c, dtype=float).reshape(k, k)


def _binary_cells(c: np.ndarray) -> tuple[float, float, float, float]:
    m = _cm(c, 2)
    return m[1, 1], m[0, 1], m[1, 0], m[0, 0]  # tp, fp, fn, tn


def _accuracy(c: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    m = _cm(c, k)
    return np.atleast_1d(np.trace(m)), np.atleast_1d(m.sum())


def _precision(c: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    tp, fp, _, _ = _binary_cells(c)
    return np.atleast_1d(tp), np.atleast_1d(tp + fp)


def _recall(c: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    tp, _, fn, _ = _binary_cells(c)
    return np.atleast_1d(tp), np.atleast_1d(tp + fn)


def _positive_rate(c: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    tp, fp, fn, tn = _binary_cells(c)
    return np.atleast_1d(tp + fp), np.atleast_1d(tp + fp + fn + tn)


def _ratio(prop: Proportion) -> Formula:
    def f(c: np.ndarray, k: int) -> np.ndarray:
        num, den = prop(c, k)
        return div(num, den)

    return f


def _f1(c: np.ndarray, k: int) -> np.ndarray:
    tp, fp, fn, _ = _binary_cells(c)
    return np.atleast_1d(div(2 * tp, 2 * tp + fp + fn))


def _f1_per_class(c: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    m = _cm(c, k)
    tp, pos, pp = np.diag(m), m.sum(axis=1), m.sum(axis=0)
    return div(2 * tp, pp + pos), pos


def _f1_macro(c: np.ndarray, k: int) -> np.ndarray:
    f1, _ = _f1_per_class(c, k)
    present = np.isfinite(f1)
    return np.atleast_1d(div(np.where(present, f1, 0).sum(), present.sum()))


def _f1_weighted(c: np.ndarray, k: int) -> np.ndarray:
    f1, pos = _f1_per_class(c, k)
    return np.atleast_1d(div((np.nan_to_num(f1) * pos).sum(), pos.sum()))


def _recall_per_class(c: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    m = _cm(c, k)
    return np.diag(m), m.sum(axis=1)


# --------------------------------------------------------------------------- moment formulas


def _mean(m: np.ndarray, k: int) -> np.ndarray:
    return np.atleast_1d(m[..., 0])


def _root_mean(m: np.ndarray, k: int) -> np.ndarray:
    return np.atleast_1d(np.sqrt(np.maximum(m[..., 0], 0.0)))


def _r2(m: np.ndarray, k: int) -> np.ndarray:
    # components: squared error, y - c, (y - c)^2 with c the data set's mean target (a stable R2)
    return np.atleast_1d(1 - div(m[..., 0], m[..., 2] - m[..., 1] ** 2))


_ACCURACY = Metric("accuracy", +1, "confusion", _ratio(_accuracy), _accuracy, materiality=(0.01, "absolute"))
_PCT = (0.05, "baseline")  # 5% of the baseline value

BINARY = {
    "roc_auc": Metric("roc_auc", +1, "rank", needs_score=True, materiality=(0.02, "absolute")),
    "pr_auc": Metric("pr_auc", +1, "rank", needs_score=True, materiality=(0.02, "absolute")),
    "accuracy": _ACCURACY,
    "precision": Metric("precision", +1, "confusion", _ratio(_precision), _precision, materiality=(0.02, "absolute")),
    "recall": Metric("recall", +1, "confusion", _ratio(_recall), _recall, materiality=(0.02, "absolute")),
    "f1": Metric("f1", +1, "confusion", _f1, materiality=(0.02, "absolute")),
    "positive_rate": Metric("positive_rate", 0, "confusion", _ratio(_positive_rate), _positive_rate, materiality=(0.1, "baseline")),
    "log_loss": Metric(
        "log_loss", -1, "moments", _mean, components=("log_loss",), needs_score=True, bounds=(0.0, math.inf), materiality=_PCT
    ),
    "brier": Metric("brier", -1, "moments", _mean, components=("brier",), needs_score=True, materiality=_PCT),
    "calibration_error": Metric("calibration_error", -1, "ece", needs_score=True, materiality=(0.02, "absolute")),
}

MULTICLASS = {
    "accuracy": _ACCURACY,
    "roc_auc": Metric("roc_auc", +1, "rank", needs_score=True, materiality=(0.02, "absolute")),
    "f1_macro": Metric("f1_macro", +1, "confusion", _f1_macro, materiality=(0.02, "absolute")),
    "f1_weighted": Metric("f1_weighted", +1, "confusion", _f1_weighted, materiality=(0.02, "absolute")),
    "recall_per_class": Metric(
        "recall_per_class", +1, "confusion", _ratio(_recall_per_class), _recall_per_class, per_class=True, materiality=(0.03, "absolute")
    ),
}

_UNBOUNDED = (0.0, math.inf)

REGRESSION = {
    "mae": Metric("mae", -1, "moments", _mean, components=("abs_error",), bounds=_UNBOUNDED, materiality=_PCT),
    "rmse": Metric("rmse", -1, "moments", _root_mean, components=("squared_error",), bounds=_UNBOUNDED, materiality=_PCT),
    "mape": Metric("mape", -1, "moments", _mean, components=("ape",), bounds=_UNBOUNDED, materiality=_PCT),
    "r2": Metric(
        "r2", +1, "moments", _r2, components=("squared_error", "centred", "centred_sq"), bounds=(-math.inf, 1.0), materiality=(0.02, "absolute")
    ),
    # a bias is material at 5% of the baseline's target spread (its own baseline is usually ~0)
    "bias": Metric("bias", 0, "moments", _mean, components=("error",), bounds=(-math.inf, math.inf), materiality=(0.05, "spread")),
}
