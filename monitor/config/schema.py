"""The typed config tree (pydantic, frozen, unknown keys refused, every number bounded)."""

from __future__ import annotations

import hashlib
import json
import os
import re
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from monitor.stages.cohort_filter import parse_filter

__all__ = [
    "MonitorConfig",
    "SourceConfig",
    "LabelsConfig",
    "ModelConfig",
    "FeaturesConfig",
    "CohortConfig",
    "DriftConfig",
    "DriftOverride",
    "NewestDayConfig",
    "MultivariateConfig",
    "QualityConfig",
    "PerformanceConfig",
    "BusinessConfig",
    "Guardrail",
    "OutputConfig",
    "EmailConfig",
    "ReportConfig",
    "DRIFT_METHODS",
    "QUALITY_CHECK_GROUPS",
    "LimitsConfig",
]


# Upper bound of money amounts, guardrail bounds and human-level figures: far beyond any real value,
# small enough that sums over millions of rows stay finite.
_BIG = 1e15
_Money = Annotated[float, Field(ge=-_BIG, le=_BIG)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceConfig(_Model):
    """One dataset location: a file, a prefix, or (production only) a list of them."""

    uri: Union[str, list[str]]
    format: Literal["auto", "parquet", "csv", "jsonl"] = "auto"
    # With several URIs, rows are tagged with the index-free name of their location here.
    source_column: str = "_source"
    csv_options: dict[str, Any] = Field(default_factory=dict)

    @property
    def uris(self) -> list[str]:
        return [self.uri] if isinstance(self.uri, str) else list(self.uri)


class LabelsConfig(SourceConfig):
    join_on: list[str] = Field(default_factory=lambda: ["id"])
    delay_days: int = Field(7, ge=0, le=3650)


class ModelConfig(_Model):
    task: Literal["binary_classification", "multiclass_classification", "regression"]
    target: str
    prediction: str
    score: Optional[str] = None
    # multiclass: one probability column per class, e.g. {gold: p_gold, silver: p_silver}
    scores: Optional[dict[Union[str, int], str]] = None
    id: Optional[str] = None
    timestamp: Optional[str] = None
    threshold: float = Field(0.5, ge=0, le=1)
    positive_label: Any = 1


class FeaturesConfig(_Model):
    numerical: Optional[list[str]] = None
    categorical: Optional[list[str]] = None


class CohortConfig(_Model):
    """One value per cohort of `column`, numeric `bins` of it, or a named `where` query."""

    column: Optional[str] = None
    bins: Optional[list[float]] = Field(None, max_length=1000)
    name: Optional[str] = Field(None, max_length=200)
    where: Optional[str] = None

    @field_validator("bins", mode="before")
    @classmethod
    def _parse_inf(cls, v: Any) -> Any:
        # YAML's `.inf` already parses to float; accept "inf"/"-inf" strings too.
        if isinstance(v, list):
            return [float(x) if isinstance(x, str) else x for x in v]
        return v

    @field_validator("where")
    @classmethod
    def _safe_where(cls, v: Optional[str]) -> Optional[str]:
        # A where expression is data in a small grammar, never code: refused here, at load time.
        if v is not None:
            parse_filter(v)
        return v

    @model_validator(mode="after")
    def _one_kind(self) -> CohortConfig:
        if (self.column is None) == (self.where is None):
            raise ValueError("a cohort needs exactly one of `column` (optionally with `bins`) or `name` + `where`")
        if self.where is not None and not self.name:
            raise ValueError("a `where` cohort needs a `name`")
        if self.bins is not None:
            if self.column is None:
                raise ValueError("`bins` goes with `column`")
            if len(self.bins) < 2 or any(not (a < b) for a, b in zip(self.bins, self.bins[1:])):
                raise ValueError(f"`bins` must be at least two increasing edges, got {self.bins}")
        return self

    @property
    def label(self) -> str:
        return self.name or self.column or "cohort"


# Drift method names (monitor.stages.drift.engine.METHODS holds their implementations; a test keeps the two equal).
# Listed here so a config with a misspelt method fails at load time, without importing scipy.
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


class OutputConfig(_Model):
    uri: str


class EmailConfig(_Model):
    to: list[str] = Field(default_factory=list)
    send: Literal["always", "on_alert", "never"] = "always"
    sender: str = "drift-monitor@localhost"
    subject_prefix: str = ""
    outbox: Optional[str] = None  # where .eml files go when no SMTP connection is configured

    @field_validator("to")
    @classmethod
    def _addresses(cls, v: list[str]) -> list[str]:
        for a in v:
            if not re.fullmatch(r"[^@\s<>,;\r\n]+@[^@\s<>,;\r\n]+", a):
                raise ValueError(f"{a!r} is not an email address (expected name@domain)")
        return v


class ReportConfig(_Model):
    evidently: bool = False
    evidently_sample_rows: int = Field(20000, ge=100, le=1_000_000)
    trend_runs: int = Field(30, ge=2, le=366)
    charts: bool = True


class LimitsConfig(_Model):
    """Time budgets: a run that exceeds one fails with a line naming what timed out."""

    read_seconds: float = Field(300.0, gt=0, le=86400)  # one storage operation, all its retries included
    run_seconds: float = Field(3600.0, gt=0, le=7 * 86400)  # one phase of a run (compute, render, notify)


def _uri_dir(uri: str) -> str:
    """A comparable prefix for a URI: the part before any {date} placeholder, local paths made absolute."""
    static = uri.split("{", 1)[0]
    if static.startswith("file://"):
        static = static[len("file://"):]
    if "://" in static:
        return static if "{" in uri else static.rstrip("/") + "/"
    keep_open = "{" in uri and not static.endswith("/")
    path = os.path.normpath(os.path.abspath(static or "."))
    return path if keep_open else path.rstrip("/") + "/"


def _overlap(output_uri: str, inputs: dict[str, list[str]]) -> Optional[str]:
    out = _uri_dir(output_uri)
    for key, uris in inputs.items():
        for uri in uris:
            src = _uri_dir(uri)
            if out.startswith(src) or src.startswith(out):
                where = "inside (or equal to)" if out.startswith(src) else "around"
                return (f"output.uri {output_uri!r} is {where} the input {key}.uri {uri!r}: the monitor's own outputs "
                        "(metrics.json, report.html) would be read back as input data; put the outputs somewhere else")
    return None


class MonitorConfig(_Model):
    name: str = Field(pattern=r"^[a-z0-9_]+$", max_length=200)
    schedule: Optional[str] = "@daily"
    window_days: int = Field(1, ge=1, le=366)
    reference: SourceConfig
    baseline: Optional[SourceConfig] = None
    production: SourceConfig
    labels: Optional[LabelsConfig] = None
    model: ModelConfig
    features: FeaturesConfig = Field(default_factory=FeaturesConfig)
    cohorts: list[CohortConfig] = Field(default_factory=list)
    metrics: list[str] = Field(default_factory=list)
    drift: DriftConfig = Field(default_factory=DriftConfig)
    quality: QualityConfig = Field(default_factory=QualityConfig)
    performance: PerformanceConfig = Field(default_factory=PerformanceConfig)
    business: Optional[BusinessConfig] = None
    human_level: dict[str, _Money] = Field(default_factory=dict)
    output: OutputConfig
    email: EmailConfig = Field(default_factory=EmailConfig)
    report: ReportConfig = Field(default_factory=ReportConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)

    # Where the config came from, for messages; not part of the YAML.
    source_path: Optional[str] = Field(default=None, exclude=True)

    @model_validator(mode="after")
    def _defaults(self) -> MonitorConfig:
        if not self.metrics:
            default = {
                "binary_classification": ["roc_auc", "accuracy", "f1"],
                "multiclass_classification": ["accuracy", "f1_macro"],
                "regression": ["mae", "rmse"],
            }[self.model.task]
            object.__setattr__(self, "metrics", default)
        return self

    @model_validator(mode="after")
    def _outputs_apart_from_inputs(self) -> MonitorConfig:
        sources = {"reference": self.reference, "baseline": self.baseline, "production": self.production, "labels": self.labels}
        problem = _overlap(self.output.uri, {k: v.uris for k, v in sources.items() if v is not None})
        if problem:
            raise ValueError(problem)
        return self

    @property
    def config_hash(self) -> str:
        """Stable hash of the effective config (what shaped the results)."""
        blob = json.dumps(self.model_dump(mode="json"), sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def where(self, key: str) -> str:
        return f"{self.source_path or '<config>'}: {key}"
