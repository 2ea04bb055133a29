"""The typed config tree (pydantic, frozen, unknown keys refused, every number bounded)."""

from __future__ import annotations

import hashlib
import json
import os
import re
from typing import Any, Literal, Optional, Union

from pydantic import Field, ValidationInfo, field_validator, model_validator

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

from monitor.config.base import ConfigModel as _Model
from monitor.config.base import Money as _Money
from monitor.config.stages import (
    DRIFT_METHODS,
    QUALITY_CHECK_GROUPS,
    TASK_METRICS,
    BusinessConfig,
    DriftConfig,
    DriftOverride,
    Guardrail,
    MultivariateConfig,
    NewestDayConfig,
    PerformanceConfig,
    QualityConfig,
)


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

    @field_validator("metrics")
    @classmethod
    def _metrics_of_the_task(cls, v: list[str], info: ValidationInfo) -> list[str]:
        model = info.data.get("model")
        if model is None:
            return v  # the model's own error is reported
        known = TASK_METRICS[model.task]
        wrong = [m for m in v if m not in known]
        if wrong:
            raise ValueError(
                f"{', '.join(map(repr, wrong))} {'is not a metric' if len(wrong) == 1 else 'are not metrics'} "
                f"of a {model.task} model (model.task); use {', '.join(known)}"
            )
        return v

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
