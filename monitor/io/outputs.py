"""The output layout of a monitor and what earlier runs left there.

    <output.uri>/<name>/date=YYYY-MM-DD/{metrics.json, report.html, manifest.json, to_annotate.csv}
    <output.uri>/<name>/_profiles/<key>.npz        the cached reference profile (drift)
    <output.uri>/<name>/_profiles/<key>.json       the cached reference summary (quality), the cohorts' baseline figures

History (the committed metrics.json of earlier dates) is what trends and "new vs ongoing" alerts read;
how a date's outputs are committed together is monitor.io.commit.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

from monitor.config import MonitorConfig
from monitor.errors import MonitorError
from monitor.io.commit import committed_metrics, read_manifest, sweep_staging
from monitor.io.storage import STAGING_DIR, LocalStorage, S3Storage, Storage, join_uri, storage_for

__all__ = ["output_prefix", "load_history", "read_manifest", "sweep_leftovers", "link", "cached_profile", "read_cached", "write_cached"]

log = logging.getLogger(__name__)


def output_prefix(cfg: MonitorConfig, day: dt.date) -> str:
    """Where the outputs of `day` go: <output.uri>/<name>/date=YYYY-MM-DD/."""
    return join_uri(cfg.output.uri, cfg.name, f"date={day.isoformat()}") + "/"


def load_history(cfg: MonitorConfig, day: dt.date, *, s3: Optional[S3Storage] = None, limit: int = 30) -> list[dict]:
    """The committed metrics.json of the runs before `day`, oldest first (at most `limit`).

    Only what a manifest lists with a matching sha256 is read (monitor.io.commit): a metrics.json
    left by a run that stopped before its commit is ignored, with one log line."""
    base = join_uri(cfg.output.uri, cfg.name) + "/"
    return [doc for _, doc in committed_metrics(storage_for(base, s3=s3), base, before=day.isoformat(), limit=limit)]


def sweep_leftovers(cfg: MonitorConfig, *, s3: Optional[S3Storage] = None) -> int:
    """Remove the temp files and staged outputs that stopped runs left, once older than limits.run_seconds
    (no run of this monitor is still writing them): under <output.uri>/<name>/ and, locally, the
    output root's and the index's .staging folders. Never fails the run; returns how many were removed."""
    base = join_uri(cfg.output.uri, cfg.name) + "/"
    st = storage_for(base, s3=s3)
    prefixes = [base]
    if isinstance(st, LocalStorage):  # S3 writes no temp files: only staged outputs, under base
        prefixes += [join_uri(cfg.output.uri, STAGING_DIR) + "/", join_uri(cfg.output.uri, "_index", STAGING_DIR) + "/"]
    try:
        return sweep_staging(st, prefixes, older_than=cfg.limits.run_seconds)
    except MonitorError as exc:
        log.info("could not clean leftover temp files under %s: %s", base, exc)
        return 0


def link(st: Storage, uri: str) -> str:
    """A link a reader can open: a presigned URL on S3, an absolute path locally."""
    if isinstance(st, S3Storage):
        return st.presigned_url(uri) or uri
    return str(Path(uri).resolve())


def cached_profile(
    cfg: MonitorConfig, key: Optional[str], fit: Callable[[], Any], load: Callable[[Any], Any], s3: Optional[S3Storage]
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
        # a memory map (a column's pages are read when its test reads them, and given back after it): of the
        # file locally, of a temporary file the one GET was streamed to from S3 (as one bytes object the
        # 152 MB profile of the 1M bench stayed resident through the drift stage, at the run's peak)
        return load(st.read_buffer(uri)), True
    except Exception:  # noqa: BLE001 - missing, unreadable or corrupt: refit
        pass
    profile = fit()
    try:
        st.write_bytes(uri, profile.to_bytes())
    except MonitorError:
        pass
    return profile, False


def _cache_uri(cfg: MonitorConfig, name: str) -> str:
    return join_uri(cfg.output.uri, cfg.name, "_profiles", name)


def read_cached(cfg: MonitorConfig, name: str, s3: Optional[S3Storage]) -> Optional[bytes]:
    """A file of the reference cache (`_profiles/<name>`), or None when it is not there or unreadable."""
    uri = _cache_uri(cfg, name)
    try:
        return storage_for(uri, s3=s3).read_bytes(uri)
    except Exception:  # noqa: BLE001 - missing or unreadable: the caller works it out again
        return None


def write_cached(cfg: MonitorConfig, name: str, data: bytes, s3: Optional[S3Storage]) -> None:
    """Write a file of the reference cache; a failed write is ignored (caching is an optimisation)."""
    uri = _cache_uri(cfg, name)
    try:
        storage_for(uri, s3=s3).write_bytes(uri, data)
    except MonitorError as exc:
        log.info("could not cache %s: %s", uri, exc)
