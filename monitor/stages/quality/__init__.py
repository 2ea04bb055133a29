"""Data-quality checks: arrival, volume, schema, values, predictions, labels."""

from monitor.stages.quality.checks import (
    CHECK_KIND,
    Finding,
    QualityResult,
    check_quality,
    coerce_types,
)

__all__ = [
    "Finding",
    "QualityResult",
    "check_quality",
    "coerce_types",
    "CHECK_KIND",
]
