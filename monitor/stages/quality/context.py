"""The one frozen input every quality check reads: what the run was given, plus the analyses that
several checks (and the rest of the run) share: the schema against the reference, each feature's
profile, and the model output's profile."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Optional

import numpy as np
import pandas as pd

from monitor.config import ModelConfig, QualityConfig
from monitor.stages.performance.tasks import task_for
from monitor.stages.quality.refstats import ReferenceStats

__all__: list[str] = []  # internal to the quality package


@dataclass(frozen=True)
class SchemaAnalysis:
    """The schema against the reference: the `schema` section, each feature's (reference kind,
    current kind), and the retyped-but-parseable columns as column -> (target type, converted values)."""

    section: dict = field(default_factory=dict)
    kinds: dict[str, tuple[str, str]] = field(default_factory=dict)
    coercions: dict[str, tuple[str, pd.Series]] = field(default_factory=dict)
    renamed: list[tuple[str, str, float, Optional[float]]] = field(default_factory=list)
    delimiter: Optional[tuple[str, str]] = None  # (header, separator) of a CSV read with the wrong one


@dataclass(frozen=True)
class Context:
    current: pd.DataFrame
    reference: pd.DataFrame
    model: ModelConfig
    features: dict[str, str]
    config: QualityConfig
    window_start: dt.date
    window_end: dt.date
    partitions: list[dict]
    history: list[dict]
    labels: Optional[pd.DataFrame] = None
    reference_daily_rows: Optional[float] = None
    labels_partitioned: bool = True
    labels_due: Optional[dict] = None
    schema: SchemaAnalysis = field(default_factory=SchemaAnalysis)
    columns: dict[str, dict] = field(default_factory=dict)  # per-feature profile (see values.profile_columns)
    usable: dict[str, str] = field(default_factory=dict)  # feature -> kind, still fit for drift and performance
    reference_stats: Optional[ReferenceStats] = None  # the reference's per-column figures (cached ones, or read here)

    @property
    def n(self) -> int:
        return len(self.current)

    @property
    def classifier(self) -> bool:
        return task_for(self.model).classifier

    @property
    def binary(self) -> bool:
        return task_for(self.model).binary

    def col(self, name: str) -> pd.Series:
        """A column as the checks see it: converted back to its training type when it was retyped."""
        done = self.schema.coercions.get(name)
        return done[1] if done is not None else self.current[name]

    @cached_property
    def stats(self) -> ReferenceStats:
        """The reference's per-column figures the value checks compare with."""
        return self.reference_stats if self.reference_stats is not None else ReferenceStats(self.reference, kinds=self.features)

    @cached_property
    def score(self) -> Optional[pd.Series]:
        """The score column as numbers (unparseable values as NaN), or None without one."""
        m = self.model
        if not m.score or m.score not in self.current.columns:
            return None
        raw = self.current[m.score]
        return raw if pd.api.types.is_numeric_dtype(raw.dtype) else pd.to_numeric(raw, errors="coerce")

    @cached_property
    def finite_scores(self) -> np.ndarray:
        if self.score is None:
            return np.array([], dtype=float)
        x = self.score.to_numpy(dtype=float, na_value=np.nan)
        return x[np.isfinite(x)]

    @cached_property
    def predictions(self) -> Optional[pd.Series]:
        """The non-null predictions, or None without a prediction column."""
        if self.model.prediction not in self.current.columns:
            return None
        return self.current[self.model.prediction].dropna()

    @cached_property
    def prediction_unique(self) -> int:
        """How many distinct predictions (non-null), 0 without a prediction column."""
        return int(self.predictions.nunique()) if self.predictions is not None else 0

    def prediction_profile(self) -> dict[str, Any]:
        """The `predictions` figures every check shares: score and prediction basics."""
        info: dict[str, Any] = {}
        if self.n == 0:
            return info
        if self.score is not None:
            x = self.score.to_numpy(dtype=float, na_value=np.nan)
            nan, inf = int(np.isnan(x).sum()), int(np.isinf(x).sum())
            fin = self.finite_scores
            info.update(
                score_column=self.model.score,
                score_nan=nan,
                score_inf=inf,
                score_invalid_share=(nan + inf) / self.n,
                score_min=float(fin.min()) if len(fin) else None,
                score_max=float(fin.max()) if len(fin) else None,
                score_mean=float(fin.mean()) if len(fin) else None,
                score_constant=bool(len(fin)) and bool(fin.min() == fin.max()),
            )
        if self.predictions is not None:
            info.update(
                prediction_column=self.model.prediction,
                prediction_missing_share=1 - len(self.predictions) / self.n,
                prediction_unique=self.prediction_unique,
            )
        return info
