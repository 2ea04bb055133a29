"""Committing a date's outputs: stage them, compare-and-swap the manifest that lists them, publish them.

Runs of one date that commit at the same moment are checked for: each verifies after its own
publishing, and a set whose copies another run overwrote is committed again (`_commit`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from typing import Optional

from monitor.errors import NotFoundError, StorageError
from monitor.io.commit.committed import read_committed, remember_written
from monitor.io.commit.manifest import KNOWN_OUTPUTS, MANIFEST, Output, content_type, digest, read_manifest, staged_uri
from monitor.io.storage import Storage
from monitor.jsonutil import dumps
from monitor.redact import redact_json

__all__ = ["commit", "add_outputs", "update_manifest"]

log = logging.getLogger(__name__)

_ROUNDS = 4  # commit-publish-verify rounds when runs of one date commit at the same moment
_SWAPS = 20  # compare-and-swap tries of one manifest change


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
            st.delete(staged_uri(out, f"{run_id}/{o.name}"))
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
        st.write_bytes(staged_uri(out, rel), o.data, o.content_type)
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
            st.publish(staged_uri(out, f"{run_id}/{o.name}"), out + o.name, o.data, o.content_type)
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
        st.delete(staged_uri(out, f"{run_id}/{o.name}"))
    if st.local_path(out) is None:
        for o in outputs:
            remember_written(out + o.name, o.data)
    return current


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
            data = st.read_bytes(staged_uri(out, staged)) if isinstance(staged, str) else b""
        except NotFoundError:
            return False
        if digest(data)["sha256"] != entry.get("sha256"):
            return False
        st.write_bytes(out + name, data, content_type(name))
    return True
