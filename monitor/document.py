"""The metrics document: one typed shape that the pipeline writes as metrics.json, the report reads
and the test fixtures are built from (the metrics.json contract of DESIGN.md).

    doc = MetricsDocument.model_validate(json.loads(raw))      # read (clear errors on a bad shape)
    doc.drift.features["age"].drifted, doc.performance.overall["roc_auc"].delta
    doc.to_json()                                                # plain JSON again, same keys

Known keys are typed; every object also keeps keys it does not know (`extra="allow"`), so a
stage can add a figure without a change here and older documents in the history still read.
Values are plain JSON: no NaN or infinity (null instead). A key that is absent reads as its
default, and so does a null where the contract has a list or an object (`alerts: null` -> []).
`SCHEMA_VERSION` changes only when the JSON changes.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from typing import Any, Literal, Optional, Union, get_args, get_origin

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    PrivateAttr,
    SerializerFunctionWrapHandler,
    ValidationError,
    ValidatorFunctionWrapHandler,
    model_serializer,
    model_validator,
)

from monitor.errors import DataError

__all__ = [
    "SCHEMA_VERSION", "MetricsDocument", "read_document", "Part", "Window", "Rows", "AlertEntry",
    "StageError", "Histogram", "ColumnDrift", "MultivariateDrift", "FeatureWeight", "NewestDayDrift",
    "DayColumn", "Drift", "Finding", "SchemaDiff", "Quality", "MetricResult", "Performance", "Cohort",
    "Money", "Guardrail", "Business", "WorstRow", "TopCohort", "Analysis",
]

SCHEMA_VERSION = 1

AlertKind = Literal["no_data", "quality", "volume", "drift", "performance", "cohort", "business"]
Severity = Literal["warning", "critical"]
Number = Optional[Union[int, float]]  # an int stays an int: the JSON text does not change
Scalar = Union[bool, int, float, str, None]


def _nullable(annotation: Any) -> bool:
    origin = get_origin(annotation)
    return (origin is Union or origin is types.UnionType) and type(None) in get_args(annotation)


class Part(BaseModel):
    """Base of every object in the document: unknown keys kept, NaN refused, null lists read as empty."""

    model_config = ConfigDict(extra="allow", allow_inf_nan=False)
    _order: tuple[str, ...] = PrivateAttr(default=())  # the keys as read, so a dump keeps their order

    @model_validator(mode="wrap")
    @classmethod
    def _read(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        if not isinstance(data, dict):
            return handler(data)
        fields = cls.model_fields
        data = {k: v for k, v in data.items() if v is not None or k not in fields or _nullable(fields[k].annotation)}
        obj = handler(data)
        obj._order = tuple(data)
        return obj

    @model_serializer(mode="wrap")
    def _write(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        out: dict[str, Any] = handler(self)
        if not self._order:
            return out
        alias = {name: f.alias for name, f in type(self).model_fields.items() if f.alias}
        keys = dict.fromkeys([*(alias.get(k, k) for k in self._order), *out])
        return {k: out[k] for k in keys if k in out}

    def to_json(self) -> dict[str, Any]:
        """Plain JSON with the keys that were given (defaults of absent keys are not added)."""
        return self.model_dump(mode="json", exclude_unset=True)


# --------------------------------------------------------------------------- header, alerts


class Window(Part):
    start: Optional[str] = None  # YYYY-MM-DD
    end: Optional[str] = None


class Rows(Part):
    current: Optional[int] = None
    reference: Optional[int] = None
    labelled: Optional[int] = None


class AlertEntry(Part):
    kind: AlertKind
    subject: str = ""
    severity: Severity = "warning"
    message: str = ""
    new: bool = True  # False when the previous run raised the same (kind, subject)


class StageError(Part):
    stage: str = ""
    error: str = ""


# --------------------------------------------------------------------------- drift


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


# --------------------------------------------------------------------------- quality


class Finding(Part):
    check: str = ""
    subject: str = ""
    severity: Severity = "warning"
    message: str = ""
    value: JsonValue = None
    threshold: JsonValue = None


class SchemaDiff(Part):
    missing: list[JsonValue] = Field(default_factory=list)
    added: list[JsonValue] = Field(default_factory=list)
    renamed: list[JsonValue] = Field(default_factory=list)
    type_changed: list[JsonValue] = Field(default_factory=list)


class Quality(Part):
    """`findings` and `schema` are read by the report; the per-check figures (columns, volume,
    arrival, predictions, labels, ids, timestamps, ...) are kept as the quality stage writes them."""

    findings: list[Finding] = Field(default_factory=list)
    schema_: Optional[SchemaDiff] = Field(default=None, alias="schema")

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


# --------------------------------------------------------------------------- performance, cohorts


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


# --------------------------------------------------------------------------- business, analysis


class Money(Part):
    """Money on the labelled rows, signed: negative is a cost (see monitor/stages/business.py)."""

    basis: Optional[str] = None
    labelled: Optional[int] = None
    rows: Optional[int] = None
    value: Number = None
    per_day: Number = None
    per_1000: Number = None
    baseline_per_1000: Number = None
    expected_at_baseline_rate: Number = None
    change: Number = None
    change_per_day: Number = None
    change_se: Number = None  # the change's standard error (both samples' per-row spread)
    change_low: Number = None  # its 95% interval
    change_high: Number = None
    projected_window_value: Number = None
    direction: Optional[Literal["worse", "better", "same"]] = None  # "same": the interval holds 0


class Guardrail(Part):
    name: Optional[str] = None
    column: Optional[str] = None
    stat: Optional[str] = None
    min: Number = None
    max: Number = None
    value: Number = None
    baseline: Number = None
    status: str = "ok"  # ok | breached | missing | no_data
    note: Optional[str] = None

    @property
    def breached(self) -> bool:
        return self.status == "breached"


class Business(Part):
    currency: Optional[str] = None
    money: Optional[Money] = None
    guardrails: list[Guardrail] = Field(default_factory=list)
    findings: list[str] = Field(default_factory=list)


class WorstRow(Part):
    id: Scalar = None
    loss: Number = None
    label: Scalar = None
    prediction: Scalar = None
    score: Number = None
    features: dict[str, Scalar] = Field(default_factory=dict)


class TopCohort(Part):
    cohort: str = ""
    rows: Optional[int] = None
    labelled: Optional[int] = None
    impact: Number = None
    too_small: bool = False
    metric: Optional[str] = None
    value: Number = None
    baseline: Number = None
    delta: Number = None
    regressed: bool = False


class Analysis(Part):
    worst_rows: list[WorstRow] = Field(default_factory=list)
    top_cohorts: list[TopCohort] = Field(default_factory=list)
    to_annotate_uri: Optional[str] = None


# --------------------------------------------------------------------------- the document


class MetricsDocument(Part):
    """One run's results: metrics.json."""

    schema_version: int = SCHEMA_VERSION
    monitor: Optional[str] = None
    date: Optional[str] = None  # the monitored day, YYYY-MM-DD
    window: Optional[Window] = None
    status: str = "ok"  # ok | warning | alert | no_data
    rows: Optional[Rows] = None
    alerts: list[AlertEntry] = Field(default_factory=list)
    resolved: list[AlertEntry] = Field(default_factory=list)  # raised by the previous run, not today
    drift: Optional[Drift] = None
    quality: Optional[Quality] = None
    performance: Optional[Performance] = None
    cohorts: list[Cohort] = Field(default_factory=list)
    cohort_errors: list[str] = Field(default_factory=list)
    business: Optional[Business] = None
    analysis: Optional[Analysis] = None
    errors: list[StageError] = Field(default_factory=list)  # stages that raised: the run is partial
    final: Optional[bool] = None  # labels old enough that performance will not change
    as_of: Optional[str] = None
    profile_cached: Optional[bool] = None
    links: dict[str, str] = Field(default_factory=dict)  # report, to_annotate, evidently


def read_document(data: Union[MetricsDocument, Mapping[str, Any]], where: str = "metrics document") -> MetricsDocument:
    """The document from its JSON dict; a shape that does not fit is a DataError naming the key path."""
    if isinstance(data, MetricsDocument):
        return data
    try:
        return MetricsDocument.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        path = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise DataError(
            f"{where} does not match the metrics.json contract at {path}: {first['msg']} "
            f"({exc.error_count()} problem(s)); recompute the date or fix the file"
        ) from exc
