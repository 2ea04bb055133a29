"""Which columns a run uses, and how: the features (from config, the rest inferred from the
reference's columns), a column's kind without reading it when its storage type tells, the
streamed day's cache policy, and the reference's time span (for the rows expected per day)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:
    from monitor.config import MonitorConfig

__all__ = ["infer_features", "kind_of", "cache_policy", "reference_days"]


def cache_policy(cfg: MonitorConfig, current: Any, features: dict[str, str]) -> None:
    """A streamed day caches the columns several stages read: ids, model outputs, label, timestamp,
    cohort columns (each feature is read once by quality and once by drift: caching those evicted these)."""
    cache_only = getattr(current, "cache_only", None)
    if cache_only is None:
        return
    if cfg.window_days > 1 and cfg.drift.newest_day.enabled:
        return  # drift reads each feature twice in a row (the window, then its newest day): cache them all, as before
    m = cfg.model
    keep = {m.id, m.target, m.prediction, m.score, m.timestamp, *(m.scores or {}).values(), cfg.production.source_column,
            *(c.column for c in cfg.cohorts if c.column), *(cfg.labels.join_on if cfg.labels else [])}
    for c in cfg.cohorts:
        if c.where:  # the columns a query names, as ColumnFrame.eval reads them
            keep.update(current.columns_in(c.where))
    if cfg.performance.all_categorical_cohorts:
        keep.update(c for c, k in features.items() if k == "categorical")
    cache_only({c for c in keep if c})


def infer_features(cfg: MonitorConfig, reference: Any) -> dict[str, str]:
    """Features from config; a kind the config leaves out (`numerical` or `categorical` absent, not `[]`)
    is every reference column of that kind that is not listed, nor a model/id/time column.

    Listing only `categorical` (say, to mark an integer-coded column) used to drop every numerical
    feature without a word: 64 pixel columns of a digits model went unmonitored."""
    import pandas as pd

    m = cfg.model
    reserved = {m.target, m.prediction, m.score, m.id, m.timestamp, cfg.production.source_column,
                *(m.scores or {}).values()}  # a multiclass model's per-class probabilities are outputs, not features
    if cfg.labels:
        reserved.update(cfg.labels.join_on)
    if cfg.business:
        reserved.update(g.column for g in cfg.business.guardrails)
    num, cat = cfg.features.numerical, cfg.features.categorical
    out: dict[str, str] = {c: "numerical" for c in num or []}
    out.update({c: "categorical" for c in cat or []})
    if num is not None and cat is not None:
        return out
    for col in reference.columns:
        if col in reserved or col in out:
            continue
        s = _kind_dtype(reference, col)  # a lazily read reference: from its schema, no read
        if pd.api.types.is_bool_dtype(s) or not pd.api.types.is_numeric_dtype(s):
            if pd.api.types.is_datetime64_any_dtype(s) or cat is not None:
                continue
            out[col] = "categorical"
        elif num is None:
            out[col] = "numerical"
    return out


def kind_of(frame: Any, col: str) -> str:
    import pandas as pd

    s = _kind_dtype(frame, col)
    return "numerical" if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s) else "categorical"


def _kind_dtype(frame: Any, col: str) -> Any:
    """A dtype that tells the column's kind: a lazily read frame's storage dtype (no read) unless it is
    object (nulls widen int to float, bool to object: the same kinds either way), else the column's."""
    import pandas as pd

    schema_dtype = getattr(frame, "schema_dtype", None)
    d = schema_dtype(col) if schema_dtype is not None else None
    return d if d is not None and not pd.api.types.is_object_dtype(d) else frame[col].dtype


def reference_days(cfg: MonitorConfig, reference: Any) -> Optional[float]:
    import pandas as pd

    ts = cfg.model.timestamp
    if not ts or ts not in reference.columns:
        return None
    t = pd.to_datetime(reference[ts], errors="coerce", utc=True).dropna()
    if t.empty:
        return None
    days = (t.max() - t.min()).total_seconds() / 86400
    return max(days, 1.0)
