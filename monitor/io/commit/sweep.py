"""Clearing up after runs that stopped: their temp files and staged outputs, published first when committed."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import Optional

from monitor.errors import MonitorError, NotFoundError
from monitor.io.commit.manifest import content_type, digest, parse_mtime, read_manifest
from monitor.io.storage import STAGING_DIR, ObjectInfo, Storage, writer_gone

__all__ = ["sweep_staging"]

log = logging.getLogger(__name__)


def sweep_staging(st: Storage, prefixes: Sequence[str], *, older_than: float, limit: int = 200,
                  now: Optional[dt.datetime] = None) -> int:
    """Remove what stopped runs left in hidden .staging folders under `prefixes`: temp files and staged
    outputs older than `older_than` seconds (younger ones may belong to a run still going), or written by
    a process of this host that is gone (see writer_gone). A staged
    output its date's manifest still names, and whose final name does not hold it yet, is published
    first. At most `limit` objects; one log line. Returns how many were removed."""
    cutoff = (now or dt.datetime.now(dt.UTC)) - dt.timedelta(seconds=older_than)
    found: list[ObjectInfo] = []
    for prefix in prefixes:
        try:
            found += [o for o in st.list(prefix) if f"/{STAGING_DIR}/" in o.uri.replace("\\", "/")
                      and (((t := parse_mtime(o.mtime)) is not None and t < cutoff) or writer_gone(o.uri))]
        except MonitorError:
            continue
    removed = published = 0
    for o in found[:limit]:
        try:
            published += _finish_publish(st, o.uri)
            st.delete(o.uri)
            removed += 1
        except MonitorError as exc:
            log.info("could not remove the leftover %s: %s", o.uri, exc)
    if found:
        log.warning("removed %d leftover temp or staged file(s) of runs that stopped (older than %gs or their process gone) under %s%s%s",
                    removed, older_than, ", ".join(prefixes), f"; published {published} committed" if published else "",
                    f"; {len(found) - limit} left for the next run" if len(found) > limit else "")
    return removed


def _finish_publish(st: Storage, uri: str) -> int:
    """Publish a staged output the manifest of its date names when the final name does not hold it."""
    norm = uri.replace("\\", "/")
    head, sep, rel = norm.partition(f"/{STAGING_DIR}/")
    if not sep or rel.startswith("tmp/") or "/" not in rel:
        return 0
    out, name = head + "/", rel.rsplit("/", 1)[1]
    entry = ((read_manifest(st, out) or {}).get("outputs") or {}).get(name)
    if not isinstance(entry, dict) or entry.get("staged") != rel:
        return 0
    try:
        if digest(st.read_bytes(out + name))["sha256"] == entry.get("sha256"):
            return 0
    except NotFoundError:
        pass
    data = st.read_bytes(uri)
    if digest(data)["sha256"] != entry.get("sha256"):
        return 0
    st.write_bytes(out + name, data, content_type(name))
    return 1
