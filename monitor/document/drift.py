"""The drift section of metrics.json: per-column tests, the newest day on its own, the domain classifier."""

from __future__ import annotations

from typing import Optional

from pydantic import Field, JsonValue

from monitor.document.part import Number, Part

__all__ = ["Histogram", "ColumnDrift", "FeatureWeight", "MultivariateDrift", "DayColumn", "NewestDayDrift", "Drift"]


class Histogram(Part):
    """Shares per bin (numerical: `edges`) or per category (categorical: `categories`)."""

    edges: Optional[list[float]] = None
    categories: Optional[list[str]] = None
    reference: list[float] = Field(default_factory=list)
    current: list[float] = Field(default_factory=list)


class ColumnDrift(Part):
    method: Optional[str] = None
    kind: Optional[str] = None  # numerical | categorical
    statistic: Number = None
    p_value: Number = None
    p_value_adjusted: Number = None
    p_value_resampled: Number = None  # distance methods at their threshold: p of the distance at this size
    threshold: Number = None
    drifted: bool = False
    drifted_evidently: Optional[bool] = None
    effect_size: Number = None
    n_reference: Optional[int] = None
    n_current: Optional[int] = None
    nulls_reference: Optional[int] = None
    nulls_current: Optional[int] = None
    note: Optional[str] = None
    histogram: Optional[Histogram] = None


class FeatureWeight(Part):
    column: str = ""
    importance: Number = None


class MultivariateDrift(Part):
    """The domain classifier: `statistic` is its cross-validated ROC AUC telling current rows from reference rows."""

    method: Optional[str] = None
    statistic: Number = None
    ci_low: Number = None
    ci_high: Number = None
    threshold: Number = None
    drifted: bool = False
    verdict: Optional[str] = None  # drifted | no drift | too few rows | not computed
    top_features: list[FeatureWeight] = Field(default_factory=list)  # the columns it leans on most
    n_reference: Optional[int] = None
    n_current: Optional[int] = None
    note: Optional[str] = None


class DayColumn(Part):
    """One column of the newest day on its own, against days of its size drawn from the reference."""

    method: Optional[str] = None
    statistic: Number = None
    p_value: Number = None
    p_value_adjusted: Number = None
    drifted: bool = False
    n: Optional[int] = None
    note: Optional[str] = None


class NewestDayDrift(Part):
    date: Optional[str] = None
    rows: Optional[int] = None
    alpha: Number = None
    min_effect: Number = None
    drifted: list[str] = Field(default_factory=list)  # the columns that shifted on the newest day
    features: dict[str, DayColumn] = Field(default_factory=dict)
    note: Optional[str] = None


class Drift(Part):
    dataset_drift: Optional[bool] = None
    verdict: Optional[str] = None  # drift | no drift | too few rows | not computed
    share_drifted: Number = None
    share_threshold: Number = None
    n_features: Optional[int] = None
    n_drifted: Optional[int] = None
    method_summary: dict[str, dict[str, JsonValue]] = Field(default_factory=dict)
    features: dict[str, ColumnDrift] = Field(default_factory=dict)
    prediction: dict[str, ColumnDrift] = Field(default_factory=dict)  # per prediction/score column
    target: dict[str, ColumnDrift] = Field(default_factory=dict)
    ranking: list[str] = Field(default_factory=list)  # most shifted first
    skipped: dict[str, Optional[str]] = Field(default_factory=dict)  # column -> why
    newest_day: Optional[NewestDayDrift] = None
    multivariate: Optional[MultivariateDrift] = None
