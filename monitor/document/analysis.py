"""The analysis section of metrics.json: the worst rows and the cohorts that cost the most."""

from __future__ import annotations

from typing import Optional

from pydantic import Field

from monitor.document.part import Number, Part, Scalar

__all__ = ["WorstRow", "TopCohort", "Analysis"]


class WorstRow(Part):
    id: Scalar = None
    loss: Number = None
    label: Scalar = None
    prediction: Scalar = None
    score: Number = None
    features: dict[str, Scalar] = Field(default_factory=dict)


class TopCohort(Part):
    cohort: str = ""
    rows: Optional[int] = None
    labelled: Optional[int] = None
    impact: Number = None
    too_small: bool = False
    metric: Optional[str] = None
    value: Number = None
    baseline: Number = None
    delta: Number = None
    regressed: bool = False


class Analysis(Part):
    worst_rows: list[WorstRow] = Field(default_factory=list)
    top_cohorts: list[TopCohort] = Field(default_factory=list)
    to_annotate_uri: Optional[str] = None
