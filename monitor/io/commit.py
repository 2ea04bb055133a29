"""The outputs of a date change together or not at all: stage, commit with the manifest last, publish.

    <out>/.staging/<run>/<name>   1. a phase writes its new outputs here (hidden; never read as input)
    <out>/manifest.json           2. then the manifest, last: `outputs` lists every output of the date
                                     {name: {sha256, size, staged}}. Writing it is the commit.
    <out>/<name>                  3. then each output is published under its final name (a rename
                                     locally, a PUT on S3), and outputs of an earlier run of the date
                                     that this one does not produce are deleted.

Why stage instead of writing final names first: a run that stops before step 2 (killed, S3 gone)
leaves the previous commit of the date untouched, files and manifest alike, so readers keep the
last good results. A reader trusts `<out>/<name>` only when the manifest lists it with a matching
sha256; when the final name does not match (a run stopped between steps 2 and 3) the staged copy
the manifest names is read instead, and the next run publishes it (`sweep_staging`). A file the
manifest does not list, or whose hash does not match, is not committed and is ignored.

Manifests written before this protocol have no `outputs`: their metrics.json is trusted when it is
not newer than the manifest (the old order wrote the manifest after it).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Optional, TypeVar

from monitor.errors import DataError, MonitorError, NotFoundError, StorageError
from monitor.io.storage import STAGING_DIR, ObjectInfo, Storage, join_uri, writer_gone
from monitor.jsonutil import dumps
from monitor.redact import redact_json

__all__ = [
    "MANIFEST",
    "KNOWN_OUTPUTS",
    "Output",
    "UncommittedError",
    "digest",
    "commit",
    "add_outputs",
    "read_manifest",
    "read_committed",
    "committed_metrics",
    "update_manifest",
    "sweep_staging",
]

log = logging.getLogger(__name__)
_T = TypeVar("_T")

MANIFEST = "manifest.json"
KNOWN_OUTPUTS = ("metrics.json", "to_annotate.csv", "report.html", "evidently.html")
_ROUNDS = 4  # commit-publish-verify rounds when runs of one date commit at the same moment
_SWAPS = 20  # compare-and-swap tries of one manifest change
_CONTENT_TYPES = {"json": "application/json", "csv": "text/csv", "html": "text/html; charset=utf-8"}
_DATED = re.compile(r"/date=(\d{4}-\d{2}-\d{2})/([^/]+)$")


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


def _staged_uri(out: str, rel: str) -> str:
    return f"{out}{STAGING_DIR}/{rel}"


def commit(st: Storage, out: str, outputs: Sequence[Output], manifest: dict, *, run_id: str, replace: bool) -> dict:
    """Stage `outputs`, commit the manifest (last) listing them, publish them; returns the date's manifest.

    replace=True (compute): the date's outputs become exactly `outputs` (`manifest` is the new
    manifest; the email record of the current one is kept); whatever an earlier run of the date left
    under a known output name is deleted. replace=False: see add_outputs."""
    listed = _stage(st, out, outputs, run_id)
    stale: set[str] = set()

    def compose(current: dict) -> dict:
        if replace:  # what the date's current commit lists (a pre-protocol manifest: any known name)
            before = current.get("outputs") if "outputs" in current or not current else dict.fromkeys(KNOWN_OUTPUTS)
            stale.clear()
            stale.update(n for n in (before or {}) if n in KNOWN_OUTPUTS and n not in listed)
        return {**manifest, "email": current.get("email", manifest.get("email")), "outputs": listed}

    done = _commit(st, out, outputs, compose, run_id=run_id, stale=stale)
    assert done is not None
    return done


def add_outputs(st: Storage, out: str, outputs: Sequence[Output], *, run_id: str, basis: dict) -> Optional[dict]:
    """Commit `outputs` next to those the date's manifest lists; returns the date's manifest, or None
    when an output they were made from (`basis`: name -> {sha256, ...}, e.g. the metrics.json a report
    was rendered from) is no longer the committed one (another run of the date committed meanwhile)."""
    listed = _stage(st, out, outputs, run_id)

    def compose(current: dict) -> Optional[dict]:
        entries = current.get("outputs")
        if entries is None:  # a manifest written before the commit protocol: adopt what it vouches for
            entries = {n: digest(read_committed(st, out, n, current)) for n in basis}
        if any((entries.get(n) or {}).get("sha256") != e.get("sha256") for n, e in basis.items()):
            return None
        return {**current, "outputs": {**entries, **listed}}

    done = _commit(st, out, outputs, compose, run_id=run_id, stale=set())
    if done is None or any(((done.get("outputs") or {}).get(n) or {}).get("sha256") != e.get("sha256") for n, e in basis.items()):
        for o in outputs:
            st.delete(_staged_uri(out, f"{run_id}/{o.name}"))
        return None  # another run's new set won meanwhile
    return done


def update_manifest(st: Storage, out: str, change: Callable[[dict], dict]) -> dict:
    """Change the manifest with `change(manifest) -> manifest`, as a compare-and-swap: a commit of
    another run in between is never overwritten (the change is applied to it instead)."""
    done = _swap_manifest(st, out, change)
    assert done is not None
    return done


def _stage(st: Storage, out: str, outputs: Sequence[Output], run_id: str) -> dict:
    listed = {}
    for o in outputs:
        rel = f"{run_id}/{o.name}"
        st.write_bytes(_staged_uri(out, rel), o.data, o.content_type)
        listed[o.name] = {**digest(o.data), "staged": rel}
    return listed


def _swap_manifest(st: Storage, out: str, compose: Callable[[dict], Optional[dict]]) -> Optional[dict]:
    """Write compose(current manifest) if the manifest did not change meanwhile, else compose again."""
    for _ in range(_SWAPS):
        raw, token = st.read_versioned(out + MANIFEST)
        try:
            current = json.loads(raw) if raw is not None else {}
        except ValueError:
            current = {}
        target = compose(current if isinstance(current, dict) else {})
        if target is None:
            return None
        text = redact_json(dumps(target))
        if st.write_if(out + MANIFEST, text.encode("utf-8"), token, "application/json"):
            return json.loads(text)  # as a reader sees it
    raise StorageError(f"{out}{MANIFEST}: other runs of the date kept changing it ({_SWAPS} tries); run the date again")


def _commit(st: Storage, out: str, outputs: Sequence[Output], compose: Callable[[dict], Optional[dict]],
            *, run_id: str, stale: set[str]) -> Optional[dict]:
    """Commit (compare-and-swap of the manifest), then publish. Runs of the date committing at the same
    moment are checked for: each verifies after its own publishing, and a set whose copies another run
    overwrote is committed again, so the date ends with one run's complete set."""
    current: Optional[dict] = None
    for _ in range(_ROUNDS):
        target = _swap_manifest(st, out, compose)  # the commit
        if target is None:
            return None
        for o in outputs:
            st.publish(_staged_uri(out, f"{run_id}/{o.name}"), out + o.name, o.data, o.content_type)
        for name in sorted(stale):  # an earlier run's output that this run does not produce (set by compose)
            st.delete(out + name)
        current = read_manifest(st, out) or {}
        if current == target or _repair(st, out, current):
            break  # still ours, or another run's later set whose copies are all in place
    else:
        log.warning("%s: other runs of the date kept committing; the last complete set is kept", out)
    # Only now: a run stopped between the commit and the publish leaves its staged copies for
    # readers and for the next run, which publishes them (sweep_staging).
    for o in outputs:
        st.delete(_staged_uri(out, f"{run_id}/{o.name}"))
    if st.local_path(out) is None:
        for o in outputs:
            _remember(out + o.name, o.data)
    return current


_WRITTEN: dict[tuple[str, str], bytes] = {}  # (URI, sha256) -> the bytes this process committed there
_WRITTEN_ENTRIES, _WRITTEN_BYTES = 8, 16 * 2**20


def _remember(uri: str, data: bytes) -> None:
    """Keep a committed output of this process (remote storage only), so that reading it back in the
    same run (the report renders the metrics.json compute just committed) needs no GET: a manifest
    that lists this sha256 vouches for exactly these bytes, wherever they are read from."""
    if len(data) > _WRITTEN_BYTES:
        return
    while len(_WRITTEN) >= _WRITTEN_ENTRIES:
        _WRITTEN.pop(next(iter(_WRITTEN)))
    _WRITTEN[(uri, hashlib.sha256(data).hexdigest())] = data


def _repair(st: Storage, out: str, manifest: dict) -> bool:
    """Put back each output `manifest` lists whose final name does not hold it, from its staged copy;
    False when one cannot be (its staged copy is gone): then the caller commits its own set again."""
    for name, entry in (manifest.get("outputs") or {}).items():
        try:
            if digest(st.read_bytes(out + name))["sha256"] == entry.get("sha256"):
                continue
        except NotFoundError:
            pass
        staged = entry.get("staged")
        try:
            data = st.read_bytes(_staged_uri(out, staged)) if isinstance(staged, str) else b""
        except NotFoundError:
            return False
        if digest(data)["sha256"] != entry.get("sha256"):
            return False
        st.write_bytes(out + name, data, _content_type(name))
    return True


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
        candidates += [_staged_uri(out, entry["staged"]), where]  # a publish (rename) may run meanwhile
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
    data_at, manifest_at = _when(infos[0].mtime), _when(infos[1].mtime)
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
                      and (((t := _when(o.mtime)) is not None and t < cutoff) or writer_gone(o.uri))]
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


def _when(iso: Optional[str]) -> Optional[dt.datetime]:
    try:
        t = dt.datetime.fromisoformat(iso) if iso else None
    except ValueError:
        return None
    return t.replace(tzinfo=dt.UTC) if t is not None and t.tzinfo is None else t


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
    st.write_bytes(out + name, data, _content_type(name))
    return 1


def _content_type(name: str) -> str:
    return _CONTENT_TYPES.get(name.rsplit(".", 1)[-1], "application/octet-stream")
