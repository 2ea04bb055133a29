"""The embedded demo: a synthetic car-loan model with drift, a cohort failure and a quality incident."""

from monitor.demo.generator import (
    DemoData,
    generate,
    DRIFT_DAY,
    QUALITY_DAY,
    DAYS,
)

__all__ = [
    "DemoData",
    "generate",
    "DRIFT_DAY",
    "QUALITY_DAY",
    "DAYS",
]
