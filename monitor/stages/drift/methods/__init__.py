"""Drift methods: one module per method, each declaring its `Method`, all registered by name in `METHODS`.

`METHODS[name]` of an unknown name raises UnknownMethodError listing the registered names.
"""

from monitor.stages.drift.methods.base import Method, Skip
from monitor.stages.drift.methods.ks import ks_sorted
from monitor.stages.drift.methods.registry import METHODS, auto_method, validate_method_names
from monitor.stages.drift.methods.wasserstein import wasserstein_sorted

__all__ = ["METHODS", "Method", "Skip", "auto_method", "validate_method_names", "ks_sorted", "wasserstein_sorted"]
