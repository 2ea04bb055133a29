"""The quality stage's entry points: run the registry's checks on one window; convert retyped columns."""

from __future__ import annotations

import datetime as dt
from typing import Optional

import pandas as pd

from monitor.config import ModelConfig, QualityConfig
from monitor.errors import DataError
from monitor.stages.quality.coltypes import _convert
from monitor.stages.quality.common import _why
from monitor.stages.quality.context import Context, SchemaAnalysis
from monitor.stages.quality.labels import labels_profile
from monitor.stages.quality.refstats import ReferenceStats
from monitor.stages.quality.registry import run_checks
from monitor.stages.quality.result import Finding, QualityResult
from monitor.stages.quality.schema import analyse_schema
from monitor.stages.quality.values import profile_columns

__all__ = ["check_quality", "coerce_types"]


def check_quality(
    current: pd.DataFrame,
    reference: pd.DataFrame,
    *,
    model: ModelConfig,
    features: dict[str, str],
    config: QualityConfig,
    window_start: dt.date,
    window_end: dt.date,
    partitions: list[dict],
    history: list[dict],
    labels: Optional[pd.DataFrame] = None,
    reference_daily_rows: Optional[float] = None,
    labels_partitioned: bool = True,
    labels_due: Optional[dict] = None,
    reference_stats: Optional[ReferenceStats] = None,
) -> QualityResult:
    """Run every enabled quality check on the window; never raises on bad data, only on bad arguments.

    `reference_stats`: the reference's per-column figures (e.g. cached by an earlier run on the same
    snapshot); by default each feature's reference column is read once and summed up here."""
    for col, kind in features.items():
        if kind not in ("numerical", "categorical"):
            raise DataError(f"feature {col!r} has kind {kind!r}; use 'numerical' or 'categorical'")
    early: list[Finding] = []
    stats = reference_stats if reference_stats is not None else ReferenceStats(reference, kinds=features)
    try:
        schema = analyse_schema(current, reference, model, features, config, stats)
    except Exception as exc:  # noqa: BLE001 - the run goes on with the columns as they are
        schema = SchemaAnalysis()
        early.append(Finding("schema", "schema", "warning", f"The schema checks could not run on this data ({_why(exc)})"))
    columns, usable, found = profile_columns(current, reference, features, schema, stats, config)
    ctx = Context(
        current, reference, model, features, config, window_start, window_end, partitions, history or [],
        labels, reference_daily_rows, labels_partitioned, labels_due, schema, columns, usable, stats,
    )
    sections: dict[str, dict] = {
        "arrival": {}, "volume": {}, "schema": schema.section, "columns": columns, "ids": {}, "timestamps": {},
        "predictions": ctx.prediction_profile(), "labels": labels_profile(ctx),
    }
    findings = run_checks(ctx, sections) + [f for f in early + found if config.is_on(f.check)]
    for info in columns.values():
        info.pop("_checkable", None)
        info.pop("_early", None)
    return QualityResult(
        findings=tuple(findings),
        columns=columns,
        schema=sections["schema"],
        volume=sections["volume"],
        arrival=sections["arrival"],
        predictions=sections["predictions"],
        labels=sections["labels"],
        ids=sections["ids"],
        timestamps=sections["timestamps"],
        usable_features=usable,
        coercions={c: to for c, (to, _) in schema.coercions.items() if c in usable},
        converted={c: v for c, (_, v) in schema.coercions.items() if c in usable},
    )


def coerce_types(current: pd.DataFrame, result: QualityResult) -> pd.DataFrame:
    """`current` with the retyped-but-parseable columns converted back to their reference type.

    Apply before handing `current[result.usable_columns]` to the drift and performance stages.
    """
    if not result.coercions:
        return current
    out = current.copy(deep=False)
    for col, to in result.coercions.items():
        if col in out.columns:
            done = result.converted.get(col)
            out[col] = done if done is not None and done.index.equals(out.index) else _convert(out[col], to)
    return out
