"""The output layout of a monitor and what earlier runs left there.

    <output.uri>/<name>/date=YYYY-MM-DD/{metrics.json, report.html, manifest.json, to_annotate.csv}
    <output.uri>/<name>/_profiles/<key>.npz        the cached reference profile (drift)

History (the metrics.json of earlier dates) is what trends and "new vs ongoing" alerts read.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

from monitor.config import MonitorConfig
from monitor.errors import MonitorError, NotFoundError
from monitor.io.storage import S3Storage, Storage, join_uri, storage_for

__all__ = ["output_prefix", "load_history", "read_manifest", "link", "cached_profile"]

_DATE_DIR = re.compile(r"/date=(\d{4}-\d{2}-\d{2})/metrics\.json$")


def output_prefix(cfg: MonitorConfig, day: dt.date) -> str:
    """Where the outputs of `day` go: <output.uri>/<name>/date=YYYY-MM-DD/."""
    return join_uri(cfg.output.uri, cfg.name, f"date={day.isoformat()}") + "/"


def load_history(cfg: MonitorConfig, day: dt.date, *, s3: Optional[S3Storage] = None, limit: int = 30) -> list[dict]:
    """metrics.json of the runs before `day`, oldest first (at most `limit`)."""
    base = join_uri(cfg.output.uri, cfg.name) + "/"
    st = storage_for(base, s3=s3)
    try:
        objs = st.list(base)
    except NotFoundError:
        return []
    dated = []
    for o in objs:
        m = _DATE_DIR.search(o.uri.replace("\\", "/"))
        if m and m.group(1) < day.isoformat():
            dated.append((m.group(1), o.uri))
    out = []
    for _, uri in sorted(dated)[-limit:]:
        try:
            out.append(st.read_json(uri))
        except MonitorError:
            continue  # one unreadable old run does not stop tonight's
    return out


def read_manifest(st: Storage, out: str) -> Optional[dict]:
    """The manifest.json under the output prefix `out`, or None when there is none (or it is unreadable)."""
    try:
        return st.read_json(out + "manifest.json")
    except MonitorError:
        return None


def link(st: Storage, uri: str) -> str:
    """A link a reader can open: a presigned URL on S3, an absolute path locally."""
    if isinstance(st, S3Storage):
        return st.presigned_url(uri) or uri
    return str(Path(uri).resolve())


def cached_profile(
    cfg: MonitorConfig, key: Optional[str], fit: Callable[[], Any], load: Callable[[bytes], Any], s3: Optional[S3Storage]
) -> tuple[Any, bool]:
    """The drift reference profile: read from the cache under `key`, else fitted and cached.

    Returns (profile, cache_hit). A corrupt cache is refitted, never trusted; a failed cache
    write is ignored (caching is an optimisation).
    """
    if not key:
        return fit(), False
    uri = join_uri(cfg.output.uri, cfg.name, "_profiles", f"{key}.npz")
    st = storage_for(uri, s3=s3)
    try:
        return load(st.read_bytes(uri)), True
    except Exception:  # noqa: BLE001 - missing, unreadable or corrupt: refit
        pass
    profile = fit()
    try:
        st.write_bytes(uri, profile.to_bytes())
    except MonitorError:
        pass
    return profile, False
