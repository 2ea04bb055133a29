"""What every config model shares: frozen, unknown keys refused, and the bound of money amounts."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ConfigModel", "BIG", "Money"]

# Upper bound of money amounts, guardrail bounds and human-level figures: far beyond any real value,
# small enough that sums over millions of rows stay finite.
BIG = 1e15
Money = Annotated[float, Field(ge=-BIG, le=BIG)]


class ConfigModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
