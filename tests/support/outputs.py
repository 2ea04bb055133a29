"""Checks on a date's outputs for fault tests: the manifest vouches for every output, nothing is left over."""

from __future__ import annotations

import hashlib
import json

from monitor.io.storage import Storage

__all__ = ["assert_consistent", "leftovers", "KNOWN"]

KNOWN = ("metrics.json", "to_annotate.csv", "report.html", "evidently.html")


def assert_consistent(st: Storage, out: str, *, expect: tuple[str, ...] = ("metrics.json", "report.html")) -> dict:
    """The manifest lists each output present with its sha256 and size, lists nothing absent, and
    lists at least `expect`. Returns the manifest."""
    manifest = json.loads(st.read_bytes(out + "manifest.json"))
    listed = manifest.get("outputs")
    assert isinstance(listed, dict), f"{out}manifest.json has no outputs list: {sorted(manifest)}"
    for name in expect:
        assert name in listed, f"{name} is not in {out}manifest.json: {sorted(listed)}"
    for name in KNOWN:
        present = st.exists(out + name)
        if name not in listed:
            assert not present, f"{out}{name} is there but the manifest does not list it (a stale or uncommitted output)"
            continue
        assert present, f"{out}manifest.json lists {name}, which is missing"
        data = st.read_bytes(out + name)
        assert hashlib.sha256(data).hexdigest() == listed[name]["sha256"], f"{out}{name} does not match its manifest entry"
        assert len(data) == listed[name]["size"]
    return manifest


def leftovers(st: Storage, prefix: str) -> list[str]:
    """Every object under a hidden .staging folder below `prefix` (temp files, staged outputs)."""
    return [o.uri for o in st.list(prefix) if "/.staging/" in o.uri.replace("\\", "/")]
