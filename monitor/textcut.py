"""Cutting long text: the one place that decides how a data value too long to carry is shortened.

Data can hold megabyte strings (a category value, a column name, an id). Carried whole they
fill metrics.json, the report and the email (a 57 MB metrics.json and a 74 MB email were seen).
Every value is cut where it enters the results, with an ellipsis; a cut value also ends with a
short fingerprint of the whole value, so two long values that share their start stay distinct
(a cohort, a category or a column name is also a key) and the same value always cuts the same way.

    cut("plan_" + "x" * 10**6)          # 'plan_xxxx…#1a2b3c' (VALUE_CHARS characters at most)
    cut(message, TEXT_CHARS)            # prose: a longer limit
    cut(label, 14, tag=False)           # display only (a chart label): no fingerprint
    bound_json(doc)                     # every string and key of a JSON document cut at TEXT_CHARS
"""

from __future__ import annotations

import hashlib
from typing import Any

__all__ = ["VALUE_CHARS", "TEXT_CHARS", "ELLIPSIS", "cut", "cut_items", "bound_json"]

VALUE_CHARS = 200  # a data value: a category, an example, a cohort value, a cell of a worst row
TEXT_CHARS = 2000  # any text of the results: a message, a note, a column name (the document's last guard)
ELLIPSIS = "\u2026"
_TAG = 7  # "#" + 6 hex digits of the value's SHA-1


def cut(value: Any, limit: int = VALUE_CHARS, *, tag: bool = True) -> str:
    """`value` as text of at most `limit` characters; longer text ends with an ellipsis (and the fingerprint)."""
    text = value if isinstance(value, str) else str(value)
    if len(text) <= limit:
        return text
    if not tag or limit < 2 * _TAG:
        return text[: max(limit - 1, 0)].rstrip() + ELLIPSIS
    mark = "#" + hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[: _TAG - 1]
    return text[: limit - 1 - _TAG] + ELLIPSIS + mark


def cut_items(values: Any, limit: int = VALUE_CHARS) -> list:
    """A list of data values with every text among them cut (numbers, None and booleans unchanged)."""
    return [cut(v, limit) if isinstance(v, str) else v for v in values]


def bound_json(obj: Any, limit: int = TEXT_CHARS) -> Any:
    """A plain-JSON value with every string and every object key cut at `limit` characters.

    Cheap when nothing is long (the objects are rebuilt, the strings are not copied). Keys and
    values cut with the same function, so a column name used as a key and quoted in a list
    (`ranking`, `drifted`, an alert subject) still match after the cut."""
    if isinstance(obj, str):
        return cut(obj, limit) if len(obj) > limit else obj
    if isinstance(obj, dict):
        return {(cut(k, limit) if isinstance(k, str) and len(k) > limit else k): bound_json(v, limit) for k, v in obj.items()}
    if isinstance(obj, list):
        return [bound_json(v, limit) for v in obj]
    return obj
