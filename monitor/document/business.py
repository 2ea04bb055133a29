"""The business section of metrics.json: money on the labelled rows and the guardrails."""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field

from monitor.document.part import Number, Part

__all__ = ["Money", "Guardrail", "Business"]


class Money(Part):
    """Money on the labelled rows, signed: negative is a cost (see monitor/stages/business.py)."""

    basis: Optional[str] = None
    labelled: Optional[int] = None
    rows: Optional[int] = None
    value: Number = None
    per_day: Number = None
    per_1000: Number = None
    baseline_per_1000: Number = None
    expected_at_baseline_rate: Number = None
    change: Number = None
    change_per_day: Number = None
    change_se: Number = None  # the change's standard error (both samples' per-row spread)
    change_low: Number = None  # its 95% interval
    change_high: Number = None
    projected_window_value: Number = None
    direction: Optional[Literal["worse", "better", "same"]] = None  # "same": the interval holds 0


class Guardrail(Part):
    name: Optional[str] = None
    column: Optional[str] = None
    stat: Optional[str] = None
    min: Number = None
    max: Number = None
    value: Number = None
    baseline: Number = None
    status: str = "ok"  # ok | breached | missing | no_data
    note: Optional[str] = None

    @property
    def breached(self) -> bool:
        return self.status == "breached"


class Business(Part):
    currency: Optional[str] = None
    money: Optional[Money] = None
    guardrails: list[Guardrail] = Field(default_factory=list)
    findings: list[str] = Field(default_factory=list)
