"""Drift: the reference profile, the method registry, per-column and dataset verdicts,
the newest day on its own, and the domain classifier (multivariate).

    fit_profile(reference, columns, config) -> ReferenceProfile       once per training snapshot (cached)
    detect_drift(profile, current, config, roles, newest_day=Day(...)) -> DriftResult   every night

Modules: columns (reading values), profile, pair (a column's reference + current), methods/
(one module per method, registered by name), detection (verdicts), newest_day, multivariate,
result (frozen results with to_dict and alerts), gil (the switch interval while threads share the GIL).
"""

from monitor.stages.drift.detection import detect_drift
from monitor.stages.drift.methods import METHODS, Method, ks_sorted, wasserstein_sorted
from monitor.stages.drift.newest_day import Day
from monitor.stages.drift.profile import ColumnProfile, ReferenceProfile, fit_profile, profile_cache_key
from monitor.stages.drift.result import ColumnDrift, DayColumn, DriftResult, MultivariateDrift, NewestDayDrift

__all__ = [
    "METHODS",
    "Method",
    "ColumnProfile",
    "ReferenceProfile",
    "fit_profile",
    "profile_cache_key",
    "detect_drift",
    "Day",
    "DriftResult",
    "ColumnDrift",
    "DayColumn",
    "NewestDayDrift",
    "MultivariateDrift",
    "wasserstein_sorted",
    "ks_sorted",
]
