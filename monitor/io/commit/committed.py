"""Reading what is committed: one output of a date, and the metrics.json of past dates (the history).

Two caches spare GETs within one process: the outputs this process committed itself (the report
reads back the metrics.json compute just committed), and past dates' metrics.json by the ETag of
the manifest that vouches for them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable, Sequence
from typing import Optional, TypeVar

from monitor.errors import MonitorError, NotFoundError
from monitor.io.commit.manifest import MANIFEST, UncommittedError, parse_mtime, staged_uri
from monitor.io.storage import ObjectInfo, Storage, join_uri

__all__ = ["read_committed", "committed_metrics", "remember_written"]

log = logging.getLogger(__name__)
_T = TypeVar("_T")

_DATED = re.compile(r"/date=(\d{4}-\d{2}-\d{2})/([^/]+)$")

_WRITTEN: dict[tuple[str, str], bytes] = {}  # (URI, sha256) -> the bytes this process committed there
_WRITTEN_ENTRIES, _WRITTEN_BYTES = 8, 16 * 2**20


def remember_written(uri: str, data: bytes) -> None:
    """Keep a committed output of this process (remote storage only), so that reading it back in the
    same run (the report renders the metrics.json compute just committed) needs no GET: a manifest
    that lists this sha256 vouches for exactly these bytes, wherever they are read from."""
    if len(data) > _WRITTEN_BYTES:
        return
    while len(_WRITTEN) >= _WRITTEN_ENTRIES:
        _WRITTEN.pop(next(iter(_WRITTEN)))
    _WRITTEN[(uri, hashlib.sha256(data).hexdigest())] = data


def read_committed(st: Storage, out: str, name: str, manifest: Optional[dict],
                   listed: Optional[dict[str, ObjectInfo]] = None) -> bytes:
    """The committed content of `<out><name>`: UncommittedError when the manifest does not list it with
    this hash (a run that stopped before its commit), NotFoundError when there is no such output."""
    where = f"{out}{name}"
    if manifest is None:
        if not st.exists(where):
            raise NotFoundError(f"{where}: no such object")
        raise UncommittedError(f"{where}: not committed (there is no {out}{MANIFEST})")
    entries = manifest.get("outputs")
    if entries is None:  # a manifest written before the commit protocol
        return _read_legacy(st, out, name, listed or {})
    entry = entries.get(name) if isinstance(entries, dict) else None
    if not isinstance(entry, dict):
        if not st.exists(where):
            raise NotFoundError(f"{where}: no such object")
        raise UncommittedError(f"{where}: not committed ({out}{MANIFEST} does not list it)")
    known = _WRITTEN.get((where, str(entry.get("sha256"))))
    if known is not None:
        return known
    candidates = [where]
    if isinstance(entry.get("staged"), str) and ".." not in entry["staged"]:
        candidates += [staged_uri(out, entry["staged"]), where]  # a publish (rename) may run meanwhile
    for uri in candidates:
        try:
            data = st.read_bytes(uri)
        except NotFoundError:
            continue
        if hashlib.sha256(data).hexdigest() == entry.get("sha256"):
            return data
    raise UncommittedError(f"{where}: not committed (its sha256 does not match {out}{MANIFEST})")


def _read_legacy(st: Storage, out: str, name: str, listed: dict[str, ObjectInfo]) -> bytes:
    """`listed`: what a listing already says of these objects (uri -> info), to spare a HEAD each."""
    infos = [listed.get(u) or st.stat(u) for u in (out + name, out + MANIFEST)]
    data_at, manifest_at = parse_mtime(infos[0].mtime), parse_mtime(infos[1].mtime)
    if data_at is not None and manifest_at is not None and data_at > manifest_at:
        raise UncommittedError(f"{out}{name}: not committed (newer than {out}{MANIFEST}, which has no output list)")
    return st.read_bytes(out + name)


def committed_metrics(st: Storage, base: str, *, before: Optional[str] = None, limit: int = 30,
                      listing: Optional[list[ObjectInfo]] = None) -> list[tuple[str, dict]]:
    """(date, metrics) of the dates under a monitor's prefix `base` whose metrics.json is committed,
    oldest first: the newest `limit` dates (before `before`, YYYY-MM-DD) that have one. A metrics.json
    that is not committed is skipped with one log line."""
    try:
        objs = listing if listing is not None else st.list(base)
    except NotFoundError:
        return []
    names: dict[str, set[str]] = {}
    infos = {o.uri: o for o in objs}
    for o in objs:
        m = _DATED.search(o.uri.replace("\\", "/"))
        if m and (before is None or m.group(1) < before):
            names.setdefault(m.group(1), set()).add(m.group(2))
    days = [d for d in sorted(names) if "metrics.json" in names[d]][-limit:]

    def one(day: str) -> Optional[dict]:
        prefix = join_uri(base, f"date={day}") + "/"
        try:
            raw = _committed_history(st, prefix, MANIFEST in names[day], infos)
            doc = json.loads(raw)
        except UncommittedError as exc:
            log.warning("history: ignoring %s", exc)
            return None
        except (MonitorError, ValueError):
            return None  # one unreadable old run does not stop tonight's
        return doc if isinstance(doc, dict) else None

    docs = _map_reads(st, one, days)
    return [(day, doc) for day, doc in zip(days, docs) if doc is not None]


_HISTORY: dict[tuple[str, str], bytes] = {}  # (date prefix, its manifest's ETag) -> the committed metrics.json
_HISTORY_ENTRIES = 256


def _committed_history(st: Storage, prefix: str, has_manifest: bool, infos: dict[str, ObjectInfo]) -> bytes:
    """The committed metrics.json of a past date. Remembered by the ETag of the manifest it was read
    under: that manifest vouches for exactly these bytes (its sha256), so while the listing shows the
    same ETag the second read of the history in a run (compute, then the report) costs the listing
    alone, not two GETs a date. Only S3 listings give ETags; a manifest of before the protocol is not
    remembered (there the bytes are whatever metrics.json holds)."""
    listed = infos.get(prefix + MANIFEST)
    if listed is not None and listed.etag and (prefix, listed.etag) in _HISTORY:
        return _HISTORY[(prefix, listed.etag)]
    manifest, tag = None, None
    if has_manifest:
        raw, tag = st.read_versioned(prefix + MANIFEST)
        try:
            manifest = json.loads(raw) if raw is not None else None
        except ValueError:
            manifest = None
        manifest = manifest if isinstance(manifest, dict) else None
    data = read_committed(st, prefix, "metrics.json", manifest, infos)
    if tag and listed is not None and listed.etag and manifest is not None and "outputs" in manifest:
        while len(_HISTORY) >= _HISTORY_ENTRIES:
            _HISTORY.pop(next(iter(_HISTORY)))
        _HISTORY[(prefix, tag)] = data
    return data


def _map_reads(st: Storage, fn: Callable[[str], _T], items: Sequence[str]) -> list[_T]:
    """fn over items, `st.parallel_reads` at a time (each in a copy of this context: the time budgets apply)."""
    workers = min(st.parallel_reads, len(items))
    if workers <= 1:
        return [fn(i) for i in items]
    import contextvars
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(workers, thread_name_prefix="history") as pool:
        futures = [pool.submit(contextvars.copy_context().run, fn, i) for i in items]
        return [f.result() for f in futures]
