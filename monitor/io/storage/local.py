"""Local paths (and file://): atomic writes through a temp file in the hidden .staging/tmp."""

from __future__ import annotations

import builtins
import datetime as dt
import hashlib
import mmap
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Optional
from urllib.parse import unquote, urlsplit

from monitor.errors import NotFoundError, ObjectNotFoundError, StorageError

if TYPE_CHECKING:  # pragma: no cover
    pass
from monitor.io.storage.base import STAGING_DIR, ObjectInfo, Storage, file_mode, writer_tag

__all__ = ['LocalStorage']


class LocalStorage(Storage):
    @staticmethod
    def _path(uri: str) -> Path:
        if uri.startswith("file://"):
            uri = unquote(urlsplit(uri).path)
        return Path(uri)

    def local_path(self, uri: str) -> Optional[Path]:
        return self._path(uri)

    def _info(self, p: Path, uri: str) -> ObjectInfo:
        st = p.stat()
        mtime = dt.datetime.fromtimestamp(st.st_mtime, tz=dt.UTC).isoformat()
        return ObjectInfo(uri=uri, size=st.st_size, mtime=mtime)

    def stat(self, uri: str) -> ObjectInfo:
        p = self._path(uri)
        try:
            if p.is_file():
                return self._info(p, uri)
        except FileNotFoundError:
            pass  # removed between the two calls
        raise ObjectNotFoundError(f"{uri}: no such file")

    def list(self, prefix: str) -> list[ObjectInfo]:
        p = self._path(prefix)
        if not p.is_dir():
            return []
        found: builtins.list[Path] = []
        # os.walk, not Path.rglob: a folder removed while it is walked (another run's staged folder) is
        # skipped by os.walk, where rglob raises FileNotFoundError out of the walk
        for root, _dirs, files in os.walk(p, followlinks=True):  # as rglob did
            found += [Path(root) / name for name in files]
        out = []
        for f in sorted(found):
            try:
                if f.is_file():
                    out.append(self._info(f, str(f)))
            except FileNotFoundError:
                continue  # removed since the folder was walked (another run's temp file): not listed
        return out

    def read_bytes(self, uri: str) -> bytes:
        p = self._path(uri)
        try:
            return p.read_bytes()
        except FileNotFoundError:
            raise ObjectNotFoundError(f"{uri}: no such file") from None
        except OSError as exc:
            raise StorageError(f"{uri}: cannot read: {exc}") from exc

    def read_buffer(self, uri: str) -> mmap.mmap:
        """A read-only memory map of the file: nothing is read until a page is touched, and touched pages can
        be given back (madvise MADV_DONTNEED: they are read again from the file if touched again). Files are
        replaced by a rename, never rewritten in place, so the mapped content cannot change under the
        reader. An empty file cannot be mapped: StorageError."""
        p = self._path(uri)
        try:
            with open(p, "rb") as f:
                return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        except FileNotFoundError:
            raise ObjectNotFoundError(f"{uri}: no such file") from None
        except (OSError, ValueError) as exc:
            raise StorageError(f"{uri}: cannot map: {exc}") from exc

    def write_bytes(self, uri: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        p = self._path(uri)
        try:
            tmp = self._temp_file(p, data)
            try:
                os.replace(tmp, p)  # atomic: readers see the old or the new object, never half
            finally:
                tmp.unlink(missing_ok=True)
        except OSError as exc:
            raise StorageError(f"{uri}: cannot write: {exc}") from exc

    def create_exclusive(self, uri: str, data: bytes, content_type: str = "application/octet-stream") -> bool:
        p = self._path(uri)
        try:
            tmp = self._temp_file(p, data)
            try:
                os.link(tmp, p)  # atomic and exclusive: fails if the name exists; the content is complete
                return True
            except FileExistsError:
                return False
            finally:
                tmp.unlink(missing_ok=True)
        except OSError as exc:
            raise StorageError(f"{uri}: cannot create: {exc}") from exc

    def read_versioned(self, uri: str) -> tuple[Optional[bytes], Optional[str]]:
        try:
            data = self.read_bytes(uri)
        except NotFoundError:
            return None, None
        return data, hashlib.sha256(data).hexdigest()

    def write_if(self, uri: str, data: bytes, token: Optional[str], content_type: str = "application/octet-stream") -> bool:
        """Under an exclusive flock of the object's folder (released by the kernel if we die), so every
        write_if of one folder is serialised; the token is the content's sha256."""
        import fcntl

        p = self._path(uri)
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(p.parent, os.O_RDONLY)
        except OSError as exc:
            raise StorageError(f"{uri}: cannot write: {exc}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if self.read_versioned(uri)[1] != token:
                return False
            self.write_bytes(uri, data, content_type)
            return True
        finally:
            os.close(fd)  # releases the lock

    def delete(self, uri: str) -> None:
        p = self._path(uri)
        try:
            p.unlink(missing_ok=True)
        except OSError as exc:
            raise StorageError(f"{uri}: cannot delete: {exc}") from exc
        _prune_staging(p.parent)

    def publish(self, staged: str, final: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        src, dst = self._path(staged), self._path(final)
        try:
            os.replace(src, dst)  # a rename: atomic, no second copy of the bytes
        except FileNotFoundError:
            self.write_bytes(final, data, content_type)
        except OSError as exc:
            raise StorageError(f"{final}: cannot publish {staged}: {exc}") from exc
        _prune_staging(src.parent)

    @staticmethod
    def _temp_file(p: Path, data: bytes) -> Path:
        """`data` in a temp file in the hidden staging dir beside `p` (<dir>/.staging/tmp/; for a file that is
        itself staged, the tmp/ of its .staging folder), named with our pid, so a killed writer's leftovers are
        recognisable; the next run removes them once older than limits.run_seconds, or at once when that process is
gone (monitor.io.commit.sweep_staging)."""
        parts = p.parent.parts
        root = Path(*parts[: parts.index(STAGING_DIR) + 1]) if STAGING_DIR in parts else p.parent / STAGING_DIR
        tmp_dir = root / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f"{p.name}.{writer_tag()}.", suffix=".tmp", dir=tmp_dir)
        try:
            os.fchmod(fd, file_mode())
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return Path(tmp)


def _prune_staging(d: Path) -> None:
    """Remove `d` when it is an empty run folder inside a .staging folder (never .staging or its tmp/,
    where another writer may be creating a file right now)."""
    if d.parent.name != STAGING_DIR or d.name == "tmp":
        return
    try:
        d.rmdir()
    except OSError:
        pass  # not empty, or gone
