"""What the quality stage returns: findings (one per problem, each with its check's name) and the
per-section figures that metrics.json carries under `quality`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from monitor.alerts import Alert
from monitor.jsonutil import to_jsonable

__all__ = ["Finding", "QualityResult", "CHECK_KIND"]

# The alert kind each check raises; everything not listed is "quality".
CHECK_KIND = {"arrival": "no_data", "volume": "volume"}


@dataclass(frozen=True)
class Finding:
    check: str  # the check's name (see QualityConfig.check_names())
    subject: str  # the column, or the check's subject when not about one column
    severity: str  # "warning" | "critical"
    message: str  # one line a person understands
    value: Any = None  # the measured figure (a share, a count, a z-score)
    threshold: Any = None  # the configured limit it crossed

    @property
    def kind(self) -> str:
        return CHECK_KIND.get(self.check, "quality")

    def to_dict(self) -> dict:
        return to_jsonable(
            {
                "check": self.check,
                "subject": self.subject,
                "severity": self.severity,
                "message": self.message,
                "value": self.value,
                "threshold": self.threshold,
            }
        )

    def alert(self) -> Alert:
        return Alert(self.kind, self.subject, self.severity, self.message)


@dataclass(frozen=True)
class QualityResult:
    findings: tuple[Finding, ...]
    columns: dict
    schema: dict
    volume: dict
    arrival: dict
    predictions: dict
    labels: dict
    ids: dict = field(default_factory=dict)
    timestamps: dict = field(default_factory=dict)
    usable_features: dict = field(default_factory=dict)  # column -> "numerical" | "categorical"
    coercions: dict = field(default_factory=dict)  # column -> "numeric" | "string" | "datetime"
    # The converted values themselves, so that coerce_types need not parse them again.
    converted: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def usable_columns(self) -> list[str]:
        """Feature columns the rest of the run can use (after `coerce_types` for the retyped ones)."""
        return list(self.usable_features)

    def alerts(self) -> list[Alert]:
        return [f.alert() for f in self.findings]

    def to_dict(self) -> dict:
        return to_jsonable(
            {
                "findings": [f.to_dict() for f in self.findings],
                "columns": self.columns,
                "schema": self.schema,
                "volume": self.volume,
                "arrival": self.arrival,
                "predictions": self.predictions,
                "labels": self.labels,
                "ids": self.ids,
                "timestamps": self.timestamps,
                "usable_columns": self.usable_columns,
                "coercions": self.coercions,
            }
        )
