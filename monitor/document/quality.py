"""The quality section of metrics.json: the findings and the schema diff the report reads."""

from __future__ import annotations

from typing import Optional

from pydantic import ConfigDict, Field, JsonValue

from monitor.document.part import Part, Severity

__all__ = ["Finding", "SchemaDiff", "Quality"]


class Finding(Part):
    check: str = ""
    subject: str = ""
    severity: Severity = "warning"
    message: str = ""
    value: JsonValue = None
    threshold: JsonValue = None


class SchemaDiff(Part):
    missing: list[JsonValue] = Field(default_factory=list)
    added: list[JsonValue] = Field(default_factory=list)
    renamed: list[JsonValue] = Field(default_factory=list)
    type_changed: list[JsonValue] = Field(default_factory=list)


class Quality(Part):
    """`findings` and `schema` are read by the report; the per-check figures (columns, volume,
    arrival, predictions, labels, ids, timestamps, ...) are kept as the quality stage writes them."""

    findings: list[Finding] = Field(default_factory=list)
    schema_: Optional[SchemaDiff] = Field(default=None, alias="schema")

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)
