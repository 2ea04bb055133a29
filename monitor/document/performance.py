"""The performance and cohort sections of metrics.json: each metric today against the baseline."""

from __future__ import annotations

from typing import Optional

from pydantic import Field

from monitor.document.part import Number, Part

__all__ = ["MetricResult", "Performance", "Cohort"]


class MetricResult(Part):
    """One metric today against the baseline (overall or for one cohort)."""

    value: Number = None
    baseline: Number = None
    delta: Number = None
    ci_low: Number = None
    ci_high: Number = None
    baseline_ci_low: Number = None
    baseline_ci_high: Number = None
    p_value: Number = None
    p_value_adjusted: Number = None
    higher_is_better: Optional[bool] = None
    human_level: Number = None
    gap_to_human: Number = None
    baseline_gap_to_human: Number = None
    regressed: bool = False
    severity: Optional[str] = None  # regressed: critical (adjusted p <= performance.critical_fdr) | warning
    min_delta: Number = None  # the smallest change that counts (materiality)
    delta_se: Number = None  # standard error of delta (window and baseline)
    p_value_material: Number = None  # H0: the change in the bad direction is at most min_delta (the alert's test)
    note: Optional[str] = None
    verdict: Optional[str] = None  # regressed | ok | too few labels | ...
    method: Optional[str] = None  # estimated metrics: how (e.g. cbpe)
    # cohorts: the rest of the rows and the cohort's change minus the rest's change
    rest_value: Number = None
    rest_baseline: Number = None
    rest_delta: Number = None
    contrast: Number = None
    contrast_se: Number = None
    own_drop: Number = None


class Performance(Part):
    label_coverage: Number = None
    labelled: Optional[int] = None
    rows: Optional[int] = None
    final: Optional[bool] = None
    min_labelled: Optional[int] = None
    verdict: Optional[str] = None  # no labels | too few labels | regressed | ok
    overall: dict[str, MetricResult] = Field(default_factory=dict)
    shared_by_all_cohorts: list[str] = Field(default_factory=list)  # regressed metrics no cohort stands out on
    estimated: dict[str, MetricResult] = Field(default_factory=dict)  # without labels (e.g. CBPE)
    estimation_error: dict[str, Number] = Field(default_factory=dict)  # measured - estimated, where both exist
    notes: list[str] = Field(default_factory=list)


class Cohort(Part):
    cohort: str = ""
    rows: Optional[int] = None
    labelled: Optional[int] = None
    label_coverage: Number = None
    too_small: bool = False
    note: Optional[str] = None
    impact: Number = None
    explained_by: Optional[str] = None  # a worse cohort whose overlap explains this one's drop
    metrics: dict[str, MetricResult] = Field(default_factory=dict)
    p_value: Number = None
    p_value_adjusted: Number = None
