"""The storage interface (Storage), object metadata and URI helpers, shared by the backends."""

from __future__ import annotations

import builtins
import datetime as dt
import json
import os
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from monitor.errors import BucketNotFoundError, DataError, NotFoundError, ObjectNotFoundError, StorageError

if TYPE_CHECKING:  # pragma: no cover
    pass


__all__ = ['STAGING_DIR', 'TABLE_SUFFIXES', 'FILE_MODE_ENV', 'ObjectInfo', 'Storage', 'writer_tag', 'writer_gone', 'file_mode', 'format_uri', 'join_uri', 'is_table']


STAGING_DIR = ".staging"  # hidden folder for temp files and staged outputs, never read as input
TABLE_SUFFIXES = (".parquet", ".pq", ".csv", ".jsonl", ".ndjson", ".json", ".csv.gz", ".jsonl.gz", ".ndjson.gz", ".json.gz")


@dataclass(frozen=True)
class ObjectInfo:
    uri: str
    size: int
    etag: Optional[str] = None
    mtime: Optional[str] = None  # ISO UTC

    def to_dict(self) -> dict:
        return {"uri": self.uri, "size": self.size, "etag": self.etag, "mtime": self.mtime}


def _host_label() -> str:
    import socket

    return re.sub(r"[^A-Za-z0-9-]", "", socket.gethostname().split(".")[0])[:20] or "host"


def writer_tag() -> str:
    """`<host>-<pid>` of this process, put in the names of temp files and staged outputs so that the
    next run can tell a stopped writer's leftovers (see writer_gone)."""
    return f"{_host_label()}-{os.getpid()}"


_TAGGED = (  # a staged run folder <YYYYmmddTHHMMSSZ>-<host>-<pid>-<hex6>/, a temp file <name>.<host>-<pid>.<random>.tmp
    re.compile(r"^\d{8}T\d{6}Z-(?P<host>[A-Za-z0-9-]+)-(?P<pid>\d+)-[0-9a-f]{6}/"),
    re.compile(r"\.(?P<host>[A-Za-z0-9-]+)-(?P<pid>\d+)\.[^./]+\.tmp$"),
)


def writer_gone(uri: str) -> bool:
    """Whether the writer named in a temp file or staged output (see writer_tag) was a process of this
    host that is no longer running: its leftovers can go at once. False when unknown (another host,
    a pid in use, no tag): then only their age tells."""
    rel = uri.replace("\\", "/").rsplit("/" + STAGING_DIR + "/", 1)[-1]
    m = _TAGGED[0].search(rel) or _TAGGED[1].search(rel)
    if m is None or m.group("host") != _host_label():
        return False
    pid = int(m.group("pid"))
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OverflowError, OSError):
        return False
    return False


FILE_MODE_ENV = "MONITOR_FILE_MODE"


def file_mode(env: Optional[Mapping[str, str]] = None) -> int:
    """The mode of the files written to local paths: $MONITOR_FILE_MODE (octal, e.g. 0640), default 0644,
    so the team can read the outputs (a temp file would otherwise keep mkstemp's 0600)."""
    raw = ((os.environ if env is None else env).get(FILE_MODE_ENV) or "").strip()
    try:
        mode = int(raw, 8) if raw else 0o644
    except ValueError:
        raise StorageError(f"{FILE_MODE_ENV}={raw!r} is not an octal file mode; use e.g. 0644 or 0640") from None
    if not 0 <= mode <= 0o777:
        raise StorageError(f"{FILE_MODE_ENV}={raw!r} is not a file mode (000-777)")
    return mode


def format_uri(template: str, date: dt.date) -> str:
    """Fill `{date}` (YYYY-MM-DD) or `{date:%Y/%m/%d}` in a URI template."""
    try:
        return template.format(date=date)
    except (KeyError, IndexError, ValueError) as exc:
        raise DataError(
            f"URI template {template!r}: cannot fill it ({exc}); only {{date}} and {{date:<strftime>}} are allowed"
        ) from None


def join_uri(base: str, *parts: str) -> str:
    out = base.rstrip("/")
    for p in parts:
        out += "/" + p.strip("/")
    return out


class Storage(ABC):
    """The operations the monitor needs; `uri` is always a full URI or path."""

    parallel_reads = 1  # how many small reads a caller may run at once (S3: latency-bound requests)

    @abstractmethod
    def list(self, prefix: str) -> list[ObjectInfo]:
        """Every object under the prefix, sorted by URI ([] when there is none)."""

    @abstractmethod
    def stat(self, uri: str) -> ObjectInfo:
        """Size and ETag/mtime of one object; NotFoundError when it does not exist."""

    @abstractmethod
    def read_bytes(self, uri: str) -> bytes:
        """The object's content; NotFoundError when it does not exist."""

    def read_buffer(self, uri: str) -> Any:
        """The object's content as a read-only buffer (bytes, or a memory map of a local file whose pages are
        read when first touched); NotFoundError when it does not exist."""
        return self.read_bytes(uri)

    @abstractmethod
    def write_bytes(self, uri: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        """Replace the object atomically: readers see the old or the new content, never half."""

    @abstractmethod
    def create_exclusive(self, uri: str, data: bytes, content_type: str = "application/octet-stream") -> bool:
        """Create the object only if none exists, atomically: True if this call created it, False if it was there.

        Two callers racing for the same URI: exactly one gets True (the claim of an email send)."""

    @abstractmethod
    def delete(self, uri: str) -> None:
        """Remove the object; no error when it does not exist."""

    @abstractmethod
    def read_versioned(self, uri: str) -> tuple[Optional[bytes], Optional[str]]:
        """The object's content and a version token for write_if; (None, None) when there is none."""

    @abstractmethod
    def write_if(self, uri: str, data: bytes, token: Optional[str], content_type: str = "application/octet-stream") -> bool:
        """Replace the object only if it is still at version `token` (None: only if it does not exist),
        atomically (compare and swap): True when written, False when another writer changed it first."""

    def publish(self, staged: str, final: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        """Put `data`, already written at `staged`, under its final name, atomically (see monitor.io.commit);
        the caller deletes the staged copy. The default writes the bytes again (on S3 one PUT)."""
        self.write_bytes(final, data, content_type)

    def exists(self, uri: str) -> bool:
        try:
            self.stat(uri)
            return True
        except NotFoundError:
            return False

    def download(self, uri: str, path: Path) -> None:
        """Copy the object to a local file (large inputs are streamed from there)."""
        path.write_bytes(self.read_bytes(uri))

    def read_json(self, uri: str) -> Any:
        raw = self.read_bytes(uri)
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise DataError(f"{uri}: not valid JSON ({exc})") from None

    def write_text(self, uri: str, text: str, content_type: str = "text/plain; charset=utf-8") -> None:
        self.write_bytes(uri, text.encode("utf-8"), content_type)

    def local_path(self, uri: str) -> Optional[Path]:
        """A local filesystem path for the URI, when there is one (lets readers avoid a copy)."""
        return None

    def expand(self, uri: str) -> builtins.list[ObjectInfo]:
        """A URI naming one file gives that file; a prefix gives the table files under it."""
        if not uri.endswith("/"):
            try:
                return [self.stat(uri)]
            except BucketNotFoundError:
                raise  # no prefix under a missing bucket either
            except NotFoundError:
                pass
        prefix = uri.rstrip("/") + "/"
        objs = [o for o in self.list(prefix) if is_table(o.uri, prefix)]
        if not objs:
            raise ObjectNotFoundError(f"{uri}: no such file, and no data files (parquet, csv, jsonl) under it")
        return objs


def is_table(uri: str, prefix: str = "") -> bool:
    rel = uri[len(prefix):] if prefix and uri.startswith(prefix) else uri.rsplit("/", 1)[-1]
    parts = rel.replace("\\", "/").split("/")
    if any(part.startswith((".", "_")) for part in parts):  # _SUCCESS, .crc, temp files, hidden or staging folders
        return False
    return parts[-1].lower().endswith(TABLE_SUFFIXES)
