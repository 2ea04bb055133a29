"""metrics.json as a whole: its header (window, rows, alerts, stage errors), the sections, and how it is read."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Optional, Union

from pydantic import Field, ValidationError

from monitor.document.analysis import Analysis
from monitor.document.business import Business
from monitor.document.drift import Drift
from monitor.document.part import AlertKind, Part, Severity
from monitor.document.performance import Cohort, Performance
from monitor.document.quality import Quality
from monitor.errors import DataError

__all__ = ["SCHEMA_VERSION", "MetricsDocument", "read_document", "Window", "Rows", "AlertEntry", "StageError"]

SCHEMA_VERSION = 1


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
