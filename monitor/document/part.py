"""The base of every object in the metrics document, and the value types its fields share.

`Part` keeps keys it does not know (`extra="allow"`), refuses NaN and infinity, reads a null
where the contract has a list or an object as that field's default, and writes the keys back
in the order they were read.
"""

from __future__ import annotations

import types
from typing import Any, Literal, Optional, Union, get_args, get_origin

from pydantic import (
    BaseModel,
    ConfigDict,
    PrivateAttr,
    SerializerFunctionWrapHandler,
    ValidatorFunctionWrapHandler,
    model_serializer,
    model_validator,
)

__all__ = ["Part", "AlertKind", "Severity", "Number", "Scalar"]

AlertKind = Literal["no_data", "quality", "volume", "drift", "performance", "cohort", "business"]
Severity = Literal["warning", "critical"]
Number = Optional[Union[int, float]]  # an int stays an int: the JSON text does not change
Scalar = Union[bool, int, float, str, None]


def _nullable(annotation: Any) -> bool:
    origin = get_origin(annotation)
    return (origin is Union or origin is types.UnionType) and type(None) in get_args(annotation)


class Part(BaseModel):
    """Base of every object in the document: unknown keys kept, NaN refused, null lists read as empty."""

    model_config = ConfigDict(extra="allow", allow_inf_nan=False)
    _order: tuple[str, ...] = PrivateAttr(default=())  # the keys as read, so a dump keeps their order

    @model_validator(mode="wrap")
    @classmethod
    def _read(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        if not isinstance(data, dict):
            return handler(data)
        fields = cls.model_fields
        data = {k: v for k, v in data.items() if v is not None or k not in fields or _nullable(fields[k].annotation)}
        obj = handler(data)
        obj._order = tuple(data)
        return obj

    @model_serializer(mode="wrap")
    def _write(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        out: dict[str, Any] = handler(self)
        if not self._order:
            return out
        alias = {name: f.alias for name, f in type(self).model_fields.items() if f.alias}
        keys = dict.fromkeys([*(alias.get(k, k) for k in self._order), *out])
        return {k: out[k] for k in keys if k in out}

    def to_json(self) -> dict[str, Any]:
        """Plain JSON with the keys that were given (defaults of absent keys are not added)."""
        return self.model_dump(mode="json", exclude_unset=True)
