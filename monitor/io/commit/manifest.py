"""The manifest of a date and its entries: what a committed output is, and the names shared by the commit modules."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Optional

from monitor.errors import DataError, MonitorError
from monitor.io.storage import STAGING_DIR, Storage

__all__ = ["MANIFEST", "KNOWN_OUTPUTS", "Output", "UncommittedError", "digest", "read_manifest", "staged_uri", "content_type", "parse_mtime"]

MANIFEST = "manifest.json"
KNOWN_OUTPUTS = ("metrics.json", "to_annotate.csv", "report.html", "evidently.html")
_CONTENT_TYPES = {"json": "application/json", "csv": "text/csv", "html": "text/html; charset=utf-8"}


class UncommittedError(DataError):
    """An output is not part of its date's commit (not in the manifest, or its hash does not match)."""


@dataclass(frozen=True)
class Output:
    name: str
    data: bytes
    content_type: str = "application/octet-stream"


def digest(data: bytes) -> dict:
    return {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}


def read_manifest(st: Storage, out: str) -> Optional[dict]:
    """The manifest.json under the output prefix `out`, or None when there is none (or it is unreadable)."""
    try:
        data = st.read_json(out + MANIFEST)
    except MonitorError:
        return None
    return data if isinstance(data, dict) else None


def staged_uri(out: str, rel: str) -> str:
    return f"{out}{STAGING_DIR}/{rel}"


def content_type(name: str) -> str:
    return _CONTENT_TYPES.get(name.rsplit(".", 1)[-1], "application/octet-stream")


def parse_mtime(iso: Optional[str]) -> Optional[dt.datetime]:
    try:
        t = dt.datetime.fromisoformat(iso) if iso else None
    except ValueError:
        return None
    return t.replace(tzinfo=dt.UTC) if t is not None and t.tzinfo is None else t
