"""Drift: reference profile, methods registry, per-column and dataset verdicts."""

from monitor.stages.drift.engine import (
    METHODS,
    ColumnProfile,
    DriftResult,
    Method,
    ReferenceProfile,
    benjamini_hochberg,
    detect_drift,
    fit_profile,
    get_method,
    ks_sorted,
    profile_cache_key,
    wasserstein_sorted,
)

__all__ = [
    "METHODS",
    "Method",
    "ColumnProfile",
    "ReferenceProfile",
    "DriftResult",
    "fit_profile",
    "detect_drift",
    "profile_cache_key",
    "get_method",
    "benjamini_hochberg",
    "wasserstein_sorted",
    "ks_sorted",
]
