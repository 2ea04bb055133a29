"""A remote object read by byte ranges, as a file: parquet opened in place, only the parts read fetched.

A run needs a few columns of the reference (its outputs, label, ids, cohort columns; the features
are summed up in the cached profile). Downloading the whole snapshot (170 MB at 1M rows x 27
columns) cost a second of a 5 s run; Arrow reads the footer and then one byte range per column
chunk, so each `read` here is one ranged GET of just those bytes (or `prefetch` gets the ranges a
run will read in a few GETs).

Every GET is held to the ETag the object had when it was listed (If-Match): an object replaced in
the middle of a run is an error, never a mix of two files. Bytes fetched are kept in a sparse
temporary file, so a column read again (a first run reads each feature for its summary and for
the drift profile) costs no second request, and nothing is held in memory.
"""

from __future__ import annotations

import bisect
import io
import os
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Optional

__all__ = ["RangedObject", "HOLE_BYTES", "READ_ALL_FRACTION"]

HOLE_BYTES = 4 * 2**20  # prefetched ranges closer than this are fetched in one GET (a request costs about that much transfer)
READ_ALL_FRACTION = 0.1  # once reads have asked for this share of an object, the rest is fetched with them


def _spans(ranges: Iterable[tuple[int, int]], hole: int) -> list[tuple[int, int]]:
    """The ranges sorted and merged, those at most `hole` bytes apart too (with the bytes between)."""
    spans: list[list[int]] = []
    for a, b in sorted(ranges):
        if a >= b:
            continue
        if spans and a - spans[-1][1] <= hole:
            spans[-1][1] = max(spans[-1][1], b)
        else:
            spans.append([a, b])
    return [(a, b) for a, b in spans]


class RangedObject(io.RawIOBase):
    """A read-only, seekable file over `info` (an ObjectInfo with an ETag) of `storage` (which has
    `read_range`); fetched bytes are kept in the sparse file `path`. Safe to share between threads."""

    def __init__(self, storage: Any, info: Any, path: Path) -> None:
        super().__init__()
        if not info.etag:
            raise ValueError(f"{info.uri}: no ETag to hold ranged reads to")
        self.uri, self.size, self._etag = info.uri, int(info.size), str(info.etag)
        self._storage = storage
        self._path = Path(path)
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        os.ftruncate(self._fd, self.size)  # sparse: takes no space until written
        self._have: list[tuple[int, int]] = []  # fetched [start, end), sorted, disjoint, not touching
        self._pos = 0
        self._lock = threading.Lock()  # one read's GETs at a time
        self._io = threading.Lock()  # the file's writes and its closing
        self.requests = 0  # ranged GETs made

    def __str__(self) -> str:  # the URI: names the object in messages (and for tests' spies)
        return self.uri

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.size}[whence]
        if base + offset < 0:
            raise ValueError(f"{self.uri}: seek to a negative position")
        self._pos = base + offset
        return self._pos

    def read(self, size: Optional[int] = -1) -> bytes:
        start = min(self._pos, self.size)
        end = self.size if size is None or size < 0 else min(self.size, start + size)
        data = self.pread(start, end)
        self._pos = end
        return data

    def readall(self) -> bytes:
        return self.read(-1)

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(memoryview(buffer)))
        memoryview(buffer).cast("B")[: len(data)] = data
        return len(data)

    def pread(self, start: int, end: int) -> bytes:
        """Bytes [start, end): the parts not fetched yet are fetched first (a ranged GET each). Once
        the bytes asked for pass READ_ALL_FRACTION of the object, the rest of it comes with them, in
        as few GETs as the layout allows: a run reading most columns (the first on a new snapshot,
        which sums up every feature) makes a few requests, not one per column."""
        with self._lock:
            missing = self._missing(start, end)
            if missing and self._fetched() + sum(b - a for a, b in missing) > READ_ALL_FRACTION * self.size:
                missing = _spans(self._missing(0, self.size), HOLE_BYTES)
            self._fetch(missing)
            return os.pread(self._fd, end - start, start) if end > start else b""

    def prefetch(self, ranges: Iterable[tuple[int, int]], hole: Optional[int] = None) -> None:
        """Fetch these byte ranges now, in as few GETs as the layout allows: ranges at most `hole`
        (HOLE_BYTES) bytes apart are fetched as one (the bytes between them too: a request costs more)."""
        spans = _spans([(max(0, a), min(self.size, b)) for a, b in ranges], HOLE_BYTES if hole is None else hole)
        with self._lock:
            self._fetch([m for a, b in spans for m in self._missing(a, b)])

    def _fetched(self) -> int:
        return sum(b - a for a, b in self._have)

    def _fetch(self, missing: list[tuple[int, int]]) -> None:
        self._check_open()
        for a, b in missing:
            self._storage.read_range(self.uri, a, b, self._etag, self._write)
            self.requests += 1
            self._add(a, b)

    def _write(self, offset: int, piece: bytes) -> None:
        with self._io:  # a read abandoned past its time budget stops here once the file is closed
            self._check_open()  # (its descriptor may belong to another file by then)
            os.pwrite(self._fd, piece, offset)

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError(f"{self.uri}: read of a closed RangedObject")

    def _missing(self, start: int, end: int) -> list[tuple[int, int]]:
        out, at = [], start
        i = max(0, bisect.bisect_right(self._have, (start, start)) - 1)
        for a, b in self._have[i:]:
            if a >= end:
                break
            if b <= at:
                continue
            if a > at:
                out.append((at, a))
            at = max(at, b)
        if at < end:
            out.append((at, end))
        return out

    def _add(self, start: int, end: int) -> None:
        keep = [(a, b) for a, b in self._have if b < start or a > end]
        merged = [(a, b) for a, b in self._have if not (b < start or a > end)]
        lo = min([start, *(a for a, _ in merged)])
        hi = max([end, *(b for _, b in merged)])
        bisect.insort(keep, (lo, hi))
        self._have = keep

    def close(self) -> None:
        with self._io:
            if not self.closed:
                os.close(self._fd)
            super().close()
