"""Model performance on the labelled rows against the baseline, with intervals."""

from monitor.stages.performance.metrics import (
    MetricEstimate,
    PerformanceResult,
    Prepared,
    compare,
    estimate,
    evaluate_performance,
    known_metrics,
    prepare,
    resolve_metrics,
)

__all__ = [
    "PerformanceResult",
    "evaluate_performance",
    "known_metrics",
    "resolve_metrics",
    "prepare",
    "estimate",
    "compare",
    "MetricEstimate",
    "Prepared",
]
