"""The settings of the stages: drift, quality, performance, business (part of the config tree)."""

from __future__ import annotations

import re
from typing import Any, Literal, Optional, Union

from pydantic import Field, field_validator, model_validator

from monitor.config.base import BIG as _BIG
from monitor.config.base import ConfigModel as _Model
from monitor.config.base import Money as _Money

__all__ = [
    "DRIFT_METHODS",
    "DriftOverride",
    "NewestDayConfig",
    "MultivariateConfig",
    "DriftConfig",
    "QUALITY_CHECK_GROUPS",
    "QualityConfig",
    "PerformanceConfig",
    "Guardrail",
    "BusinessConfig",
]


DRIFT_METHODS: tuple[str, ...] = (
    "auto",
    "ks",
    "wasserstein",
    "psi",
    "psi_quantile",
    "jensenshannon",
    "chisquare",
    "z",
    "hellinger",
    "cramer_von_mises",
    "anderson",
)


def _check_drift_method(v: Optional[str]) -> Optional[str]:
    if v is not None and v not in DRIFT_METHODS:
        raise ValueError(f"unknown drift method {v!r}; known methods: {', '.join(DRIFT_METHODS)}")
    return v


# Metric names per model task (monitor.stages.performance.registry holds them; a test keeps the two equal),
# so that `metrics: [f1_macro]` on a binary model fails at load time, without importing numpy.
TASK_METRICS: dict[str, tuple[str, ...]] = {
    "binary_classification": ("accuracy", "brier", "calibration_error", "f1", "log_loss", "positive_rate", "pr_auc",
                              "precision", "recall", "roc_auc"),
    "multiclass_classification": ("accuracy", "f1_macro", "f1_weighted", "recall_per_class", "roc_auc"),
    "regression": ("bias", "mae", "mape", "r2", "rmse"),
}


class DriftOverride(_Model):
    method: Optional[str] = None
    threshold: Optional[float] = Field(None, ge=0, le=1e6)
    enabled: bool = True

    _method = field_validator("method")(_check_drift_method)


class NewestDayConfig(_Model):
    """The newest day of the window on its own, against the reference at its own sample size."""

    enabled: bool = True
    # Benjamini-Hochberg level over the columns (per-run false alarms) of the resampling test; it also
    # backs the window's distance-method verdicts (a distance above its threshold must be improbable at its n)
    alpha: float = Field(0.001, gt=0, lt=1)
    min_effect: float = Field(0.1, ge=0, le=1e6)  # and the distance must reach this (normed Wasserstein / Jensen-Shannon)
    draws: int = Field(400, ge=50, le=100_000)  # resamples of the reference per tested column


class MultivariateConfig(_Model):
    """Domain classifier: cross-validated ROC AUC of telling reference rows from current rows."""

    enabled: bool = True
    threshold: float = Field(0.55, gt=0.5, lt=1)  # drifted when the AUC's lower 95% bound is above this
    max_rows: int = Field(2500, ge=100, le=1_000_000)  # rows sampled per side (bounds the cost)
    folds: int = Field(3, ge=2, le=20)
    top: int = Field(5, ge=1, le=100)  # columns listed as the ones the classifier leans on
    predictions: bool = True  # include the model's outputs (score, prediction) next to the features
    seed: int = Field(0, ge=0, le=2**32 - 1)


class DriftConfig(_Model):
    method: str = "auto"
    threshold: Optional[float] = Field(None, ge=0, le=1e6)  # None: the method's own default (p-value methods: `fdr`)
    share: float = Field(0.5, gt=0, le=1)  # dataset drift when this share of features drifts
    fdr: float = Field(0.05, gt=0, lt=1)  # Benjamini-Hochberg level for p-value methods
    # A p-value method flags drift only when the BH-adjusted p < threshold AND the effect size
    # (KS distance D for numeric tests, total variation distance for count tests) is at least this:
    # at large n a p-value alone flags differences too small to matter.
    min_effect: float = Field(0.05, ge=0, le=1)
    features: dict[str, DriftOverride] = Field(default_factory=dict)
    psi_bins: int = Field(10, ge=2, le=1000)  # reference-quantile bins of method "psi_quantile" (fixed in the profile)
    cache_profile: bool = True
    workers: int = Field(2, ge=1, le=64)  # columns processed at once (memory grows with this, not with columns)
    min_rows: int = Field(50, ge=1, le=1_000_000_000)  # fewer current values in a column: "too few rows", no verdict
    newest_day: NewestDayConfig = Field(default_factory=NewestDayConfig)
    multivariate: MultivariateConfig = Field(default_factory=MultivariateConfig)

    _method = field_validator("method")(_check_drift_method)


# Every quality check by name, grouped; `checks: {name: false}` switches off a check or a whole group.
QUALITY_CHECK_GROUPS: dict[str, tuple[str, ...]] = {
    "arrival": ("arrival",),
    "volume": ("volume",),
    "reference": ("reference",),
    "schema": ("missing_columns", "added_columns", "renamed_columns", "type_changed"),
    "values": ("null_rate", "out_of_range", "unseen_categories", "duplicate_ids", "timestamp_window"),
    "predictions": ("score_invalid", "score_range", "constant_prediction", "positive_rate", "prediction_score_mismatch"),
    "labels": ("label_coverage", "labels_due", "orphan_labels", "label_values"),
}


class QualityConfig(_Model):
    """Thresholds of the data-quality checks (shares are fractions of rows, 0..1).

    `enabled: false` switches off every check except `arrival`: a missing partition
    is never silent. Switch that one off explicitly with `checks: {arrival: false}`.
    """

    enabled: bool = True
    null_rate_tolerance: float = Field(0.05, ge=0, le=1)  # absolute increase over the reference
    null_rate_critical: float = Field(0.5, ge=0, le=1)  # increase at which it is critical (all-null always is)
    out_of_range_share: float = Field(0.05, ge=0, le=1)
    out_of_range_critical: float = Field(0.5, ge=0, le=1)
    unseen_category_share: float = Field(0.05, ge=0, le=1)
    unseen_category_critical: float = Field(0.5, ge=0, le=1)
    examples: int = Field(5, ge=0, le=100)  # example values quoted per finding
    duplicate_id_share: float = Field(0.0, ge=0, le=1)
    timestamp_outside_share: float = Field(0.01, ge=0, le=1)  # rows stamped outside the window
    volume_history_runs: int = Field(14, ge=2, le=1000)
    volume_min_history: int = Field(3, ge=1, le=1000)  # fewer usable past runs: compare with the reference's daily rate
    volume_tolerance: float = Field(0.5, ge=0, le=1000)  # relative change allowed before history exists; critical beyond it with history
    volume_z: float = Field(4.0, gt=0, le=1000)  # robust z (median/MAD) of the row count against history
    score_invalid_share: float = Field(0.0, ge=0, le=1)  # NaN/inf scores or missing predictions
    score_invalid_critical: float = Field(0.05, ge=0, le=1)
    score_out_of_range_share: float = Field(0.0, ge=0, le=1)  # classifier scores outside [0, 1]
    constant_min_rows: int = Field(10, ge=2, le=1_000_000_000)  # fewer rows: a constant output is not evidence
    positive_rate_tolerance: float = Field(0.15, ge=0, le=1)  # absolute change (class-mix distance for multiclass)
    positive_rate_ratio: float = Field(3.0, ge=1, le=1_000_000)  # or relative change by this factor either way
    positive_rate_z: float = Field(4.0, ge=0, le=1000)  # and the change must be this many standard errors
    prediction_mismatch_share: float = Field(0.01, ge=0, le=1)  # prediction vs score >= model.threshold
    min_label_coverage: float = Field(0.0, ge=0, le=1)
    labels_due_coverage: float = Field(0.5, ge=0, le=1)  # a day past labels.delay_days with fewer labelled rows alerts
    significance_z: float = Field(4.0, ge=0, le=10)  # a rate must exceed the reference's (or history's) by this many standard errors
    orphan_label_share: float = Field(0.05, ge=0, le=1)  # labels matching no prediction id
    unknown_label_share: float = Field(0.0, ge=0, le=1)  # label values outside the training classes
    rename_similarity: float = Field(0.8, gt=0, le=1)  # name similarity for a missing+added pair to look renamed
    coerce_min_share: float = Field(0.95, gt=0, le=1)  # parseable share for a retyped column to stay usable
    checks: dict[str, bool] = Field(default_factory=dict)  # switch a named check off: {duplicate_ids: false}

    @field_validator("checks")
    @classmethod
    def _known_checks(cls, v: dict[str, bool]) -> dict[str, bool]:
        known = cls.check_names()
        for name in v:
            if name not in known:
                raise ValueError(f"unknown quality check {name!r}; known checks: {', '.join(known)}")
        return v

    @classmethod
    def check_names(cls) -> list[str]:
        """Group names first, then every check, in report order."""
        names = list(QUALITY_CHECK_GROUPS)
        for group in QUALITY_CHECK_GROUPS.values():
            names += [c for c in group if c not in names]
        return names

    def is_on(self, check: str) -> bool:
        """Whether a check runs: its own switch and its group's, and `enabled` (arrival excepted)."""
        group = next((g for g, members in QUALITY_CHECK_GROUPS.items() if check in members), check)
        if not self.enabled and check != "arrival":
            return False
        return self.checks.get(check, True) and self.checks.get(group, True)


class PerformanceConfig(_Model):
    confidence: float = Field(0.95, gt=0, lt=1)
    bootstrap: int = Field(200, ge=0, le=20_000)  # replicates: memory and time grow with this
    min_labelled: int = Field(100, ge=1, le=1_000_000_000)  # below this many labelled rows: no verdict ("too few labels")
    min_cohort_labelled: int = Field(100, ge=1, le=1_000_000_000)
    fdr: float = Field(0.05, gt=0, lt=1)
    # A regression is critical (not a warning) only with strong evidence: adjusted p at or below
    # this (0.005, "significant" in Benjamin et al. 2018, where 0.05 is "suggestive").
    critical_fdr: float = Field(0.005, gt=0, lt=1)
    # The smallest change worth an alert: one number for every metric (absolute), or per metric
    # a number (absolute) or "N%" (relative to the baseline value). Unset metrics keep their
    # defaults (e.g. 0.02 for ROC AUC, 5% of the baseline for MAE/RMSE/log loss).
    min_delta: Optional[Union[float, dict[str, Union[float, str]]]] = None
    all_categorical_cohorts: bool = False
    # cohorts from one column's values: its most frequent values, the rest as one "(other N values)" cohort
    cohort_values: int = Field(50, ge=1, le=10_000)
    seed: int = Field(0, ge=0, le=2**32 - 1)
    worst_rows: int = Field(10, ge=0, le=1000)
    annotate_rows: int = Field(100, ge=0, le=100_000)

    @field_validator("min_delta")
    @classmethod
    def _delta_format(cls, v: Any) -> Any:
        values = v.values() if isinstance(v, dict) else [] if v is None else [v]
        for x in values:
            if isinstance(x, str):
                if not re.fullmatch(r"\d+(\.\d+)?%", x.strip()):
                    raise ValueError(f"min_delta {x!r}: use a number (absolute) or a percentage such as '5%' (of the baseline)")
            elif x < 0:
                raise ValueError(f"min_delta must not be negative, got {x}")
            elif x > _BIG:
                raise ValueError(f"min_delta {x!r} is out of range: allowed 0 to {_BIG:g}")
        return v


class Guardrail(_Model):
    column: str
    stat: str = "mean"  # mean | median | min | max | sum | pNN (p50, p90, p95, p99, p99.9 ...)
    max: Optional[float] = Field(None, ge=-_BIG, le=_BIG)
    min: Optional[float] = Field(None, ge=-_BIG, le=_BIG)
    name: Optional[str] = None

    @field_validator("stat")
    @classmethod
    def _known_stat(cls, v: str) -> str:
        if v not in ("mean", "median", "min", "max", "sum") and not re.fullmatch(r"p\d{1,2}(\.\d+)?", v):
            raise ValueError(f"unknown guardrail stat {v!r}: use mean, median, min, max, sum or a percentile such as p95")
        return v

    @model_validator(mode="after")
    def _bounded(self) -> Guardrail:
        if self.min is None and self.max is None:
            raise ValueError(f"guardrail on {self.column!r} needs a `min` or a `max` bound")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"guardrail on {self.column!r}: min {self.min} is above max {self.max}")
        return self


class BusinessConfig(_Model):
    cost_matrix: Optional[dict[Literal["tp", "fp", "fn", "tn"], _Money]] = None
    cost_per_unit_error: Optional[float] = Field(None, ge=-_BIG, le=_BIG)
    currency: str = "$"
    guardrails: list[Guardrail] = Field(default_factory=list)
