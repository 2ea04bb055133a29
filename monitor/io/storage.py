"""One small interface over local paths and s3://bucket/key.

All I/O of the monitor goes through here. S3 settings (endpoint, region,
credentials) come from the environment or from an Airflow `aws_default`
connection given as AIRFLOW_CONN_AWS_DEFAULT (JSON or URI form), never from the
monitor config. Foreign errors are wrapped in StorageError/NotFoundError naming
the URI.
"""

from __future__ import annotations

import builtins
import datetime as dt
import gzip
import hashlib
import io
import json
import os
import re
import tempfile
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional
from urllib.parse import parse_qsl, unquote, urlsplit

from monitor.errors import BucketNotFoundError, DataError, DeadlineError, NotFoundError, ObjectNotFoundError, StorageError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = [
    "ObjectInfo",
    "Storage",
    "LocalStorage",
    "S3Storage",
    "storage_for",
    "join_uri",
    "format_uri",
    "read_table",
    "read_tables",
    "aws_settings_from_env",
    "TABLE_SUFFIXES",
    "file_mode",
    "STAGING_DIR",
    "time_limits",
    "check_deadline",
    "writer_tag",
    "writer_gone",
]

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

    @abstractmethod
    def list(self, prefix: str) -> list[ObjectInfo]:
        """Every object under the prefix, sorted by URI ([] when there is none)."""

    @abstractmethod
    def stat(self, uri: str) -> ObjectInfo:
        """Size and ETag/mtime of one object; NotFoundError when it does not exist."""

    @abstractmethod
    def read_bytes(self, uri: str) -> bytes:
        """The object's content; NotFoundError when it does not exist."""

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
        objs = [o for o in self.list(prefix) if _is_table(o.uri, prefix)]
        if not objs:
            raise ObjectNotFoundError(f"{uri}: no such file, and no data files (parquet, csv, jsonl) under it")
        return objs


def _is_table(uri: str, prefix: str = "") -> bool:
    rel = uri[len(prefix):] if prefix and uri.startswith(prefix) else uri.rsplit("/", 1)[-1]
    parts = rel.replace("\\", "/").split("/")
    if any(part.startswith((".", "_")) for part in parts):  # _SUCCESS, .crc, temp files, hidden or staging folders
        return False
    return parts[-1].lower().endswith(TABLE_SUFFIXES)


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
        if not p.is_file():
            raise ObjectNotFoundError(f"{uri}: no such file")
        return self._info(p, uri)

    def list(self, prefix: str) -> list[ObjectInfo]:
        p = self._path(prefix)
        if not p.is_dir():
            return []
        out = []
        for f in sorted(p.rglob("*")):
            if f.is_file():
                out.append(self._info(f, str(f)))
        return out

    def read_bytes(self, uri: str) -> bytes:
        p = self._path(uri)
        try:
            return p.read_bytes()
        except FileNotFoundError:
            raise ObjectNotFoundError(f"{uri}: no such file") from None
        except OSError as exc:
            raise StorageError(f"{uri}: cannot read: {exc}") from exc

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


def _json_extra(text: str) -> dict:
    # the message never quotes the text: it may hold the secret
    try:
        out = json.loads(text or "{}")
    except ValueError:
        raise StorageError("AIRFLOW_CONN_AWS_DEFAULT: the extra is not valid JSON; use the JSON or URI connection form") from None
    if not isinstance(out, dict):
        raise StorageError("AIRFLOW_CONN_AWS_DEFAULT: the extra must be a JSON object")
    return out


def _conn_from_env(env: Mapping[str, str]) -> dict:
    raw = env.get("AIRFLOW_CONN_AWS_DEFAULT", "").strip()
    if not raw:
        return {}
    if raw.startswith("{"):
        try:
            conn = json.loads(raw)
        except ValueError as exc:
            raise StorageError(f"AIRFLOW_CONN_AWS_DEFAULT: not valid JSON ({exc}); use the JSON or URI connection form") from None
        extra = (conn.get("extra") or {}) if isinstance(conn, dict) else None
        if isinstance(extra, str):
            extra = _json_extra(extra)
        if not isinstance(extra, dict):
            raise StorageError("AIRFLOW_CONN_AWS_DEFAULT: the JSON form must be an object with login, password and an extra object")
        return {"login": conn.get("login"), "password": conn.get("password"), **extra}
    parts = urlsplit(raw)
    extra = dict(parse_qsl(parts.query))
    if "__extra__" in extra:
        extra.update(_json_extra(extra.pop("__extra__")))
    return {
        "login": unquote(parts.username) if parts.username else None,
        "password": unquote(parts.password) if parts.password else None,
        **extra,
    }


def aws_settings_from_env(env: Optional[Mapping[str, str]] = None) -> dict:
    """boto3 client kwargs from AIRFLOW_CONN_AWS_DEFAULT, falling back to boto3's own env handling."""
    env = os.environ if env is None else env
    conn = _conn_from_env(env)
    kw: dict[str, Any] = {}
    endpoint = conn.get("endpoint_url") or env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL")
    if endpoint:
        kw["endpoint_url"] = endpoint
    region = conn.get("region_name") or env.get("AWS_DEFAULT_REGION") or env.get("AWS_REGION")
    if region:
        kw["region_name"] = region
    if conn.get("login"):
        kw["aws_access_key_id"] = conn["login"]
        kw["aws_secret_access_key"] = conn.get("password")
    if conn.get("aws_session_token"):
        kw["aws_session_token"] = conn["aws_session_token"]
    return kw


@dataclass(frozen=True)
class _Limits:
    read_seconds: Optional[float]
    run_seconds: Optional[float]
    deadline: Optional[float]  # time.monotonic() at which the run's budget ends


_LIMITS: ContextVar[Optional[_Limits]] = ContextVar("monitor_storage_limits", default=None)


@contextmanager
def time_limits(read_seconds: Optional[float] = None, run_seconds: Optional[float] = None) -> Iterator[None]:
    """Budgets for the S3 operations made inside the block: each at most `read_seconds` (all its
    retries included) and all of them within `run_seconds` from now. Past a budget: DeadlineError."""
    outer = _LIMITS.get()
    deadline = time.monotonic() + run_seconds if run_seconds else None
    if outer is not None and outer.deadline is not None and (deadline is None or outer.deadline < deadline):
        deadline, run_seconds = outer.deadline, outer.run_seconds  # a nested block never extends the run
    token = _LIMITS.set(_Limits(read_seconds, run_seconds, deadline))
    try:
        yield
    finally:
        _LIMITS.reset(token)


def check_deadline(what: str) -> None:
    """Raise DeadlineError when the run's budget (limits.run_seconds) is spent; `what` says where we were."""
    lim = _LIMITS.get()
    if lim is not None and lim.deadline is not None and time.monotonic() >= lim.deadline:
        raise DeadlineError(f"the run exceeded limits.run_seconds={lim.run_seconds:g} before {what}")


def _bounded(what: str, fn: Callable[[], Any]) -> Any:
    """Run one storage operation within the read and run budgets. The call runs in a worker thread;
    when its budget ends first, DeadlineError is raised and the worker is abandoned (a daemon thread
    that botocore's own socket timeouts end later)."""
    lim = _LIMITS.get()
    if lim is None:
        return fn()
    budgets: list[tuple[float, str]] = []
    if lim.read_seconds:
        budgets.append((lim.read_seconds, f"limits.read_seconds={lim.read_seconds:g}"))
    if lim.deadline is not None:
        budgets.append((lim.deadline - time.monotonic(), f"limits.run_seconds={lim.run_seconds:g} (the run's budget)"))
    if not budgets:
        return fn()
    budget, which = min(budgets)
    if budget <= 0:
        raise DeadlineError(f"the run exceeded {which} before {what}")
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            box["error"] = exc

    worker = threading.Thread(target=work, name=f"storage: {what[:60]}", daemon=True)
    worker.start()
    worker.join(budget)
    if worker.is_alive():
        raise DeadlineError(f"{what}: no complete answer within {budget:.3g} s ({which}); "
                            "the storage endpoint is slow or not answering")
    if "error" in box:
        raise box["error"]
    return box.get("value")


def _error_code(exc: Exception) -> str:
    resp = getattr(exc, "response", None)
    return str(resp.get("Error", {}).get("Code", "")) if isinstance(resp, dict) else ""


def _split_s3(uri: str) -> tuple[str, str]:
    parts = urlsplit(uri)
    if parts.scheme != "s3" or not parts.netloc:
        raise StorageError(f"{uri}: not an s3://bucket/key URI")
    return parts.netloc, parts.path.lstrip("/")


class S3Storage(Storage):
    """S3 (or MinIO / moto) through boto3, with botocore's standard retry mode for transient errors."""

    def __init__(self, client: Any = None, *, env: Optional[Mapping[str, str]] = None) -> None:
        self._client = client
        self._env = env

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3
            from botocore.config import Config

            kw = aws_settings_from_env(self._env)
            kw.setdefault("region_name", "us-east-1")
            cfg = Config(retries={"max_attempts": 6, "mode": "standard"}, connect_timeout=10, read_timeout=60)
            self._client = boto3.client("s3", config=cfg, **kw)
        return self._client

    def _wrap(self, uri: str, exc: Exception, what: str) -> StorageError:
        code = ""
        resp = getattr(exc, "response", None)
        if isinstance(resp, dict):
            code = str(resp.get("Error", {}).get("Code", ""))
        if code in ("NoSuchBucket",):
            bucket = _split_s3(uri)[0]
            return BucketNotFoundError(f"{uri}: bucket {bucket!r} does not exist (create it, or fix the URI in the config)")
        if code in ("NoSuchKey", "404", "NotFound"):
            return ObjectNotFoundError(f"{uri}: no such object")
        if code in ("AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
            return StorageError(f"{uri}: access denied ({code}); check the aws_default connection's credentials")
        return StorageError(f"{uri}: cannot {what}: {exc}")

    # Every operation runs within the time budgets of `time_limits` (when set), retries included.
    def stat(self, uri: str) -> ObjectInfo:
        return _bounded(f"stat {uri}", lambda: self._stat(uri))

    def list(self, prefix: str) -> builtins.list[ObjectInfo]:
        return _bounded(f"listing {prefix}", lambda: self._list(prefix))

    def read_bytes(self, uri: str) -> bytes:
        return _bounded(f"reading {uri}", lambda: self._read_bytes(uri))

    def download(self, uri: str, path: Path) -> None:
        _bounded(f"reading {uri}", lambda: self._download(uri, path))

    def write_bytes(self, uri: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        _bounded(f"writing {uri}", lambda: self._write_bytes(uri, data, content_type))

    def create_exclusive(self, uri: str, data: bytes, content_type: str = "application/octet-stream") -> bool:
        return _bounded(f"creating {uri}", lambda: self._create_exclusive(uri, data, content_type))

    def delete(self, uri: str) -> None:
        _bounded(f"deleting {uri}", lambda: self._delete(uri))

    def read_versioned(self, uri: str) -> tuple[Optional[bytes], Optional[str]]:
        return _bounded(f"reading {uri}", lambda: self._read_versioned(uri))

    def write_if(self, uri: str, data: bytes, token: Optional[str], content_type: str = "application/octet-stream") -> bool:
        return _bounded(f"writing {uri}", lambda: self._write_if(uri, data, token, content_type))

    def _read_versioned(self, uri: str) -> tuple[Optional[bytes], Optional[str]]:
        bucket, key = _split_s3(uri)
        try:
            r = self.client.get_object(Bucket=bucket, Key=key)
            return r["Body"].read(), str(r.get("ETag", "")).strip('"') or None
        except Exception as exc:
            err = self._wrap(uri, exc, "read")
            if isinstance(err, ObjectNotFoundError):
                return None, None
            raise err from exc

    def _write_if(self, uri: str, data: bytes, token: Optional[str], content_type: str) -> bool:
        """A conditional PUT: If-Match the ETag read (If-None-Match: * for a new object)."""
        bucket, key = _split_s3(uri)
        cond = {"IfMatch": f'"{token}"'} if token else {"IfNoneMatch": "*"}
        try:
            self.client.put_object(Bucket=bucket, Key=key, Body=data, ContentType=content_type, **cond)
            return True
        except Exception as exc:
            if _error_code(exc) not in ("PreconditionFailed", "412", "ConditionalRequestConflict", "409"):
                raise self._wrap(uri, exc, "write") from exc
        try:  # a lost answer to our own PUT: the retry met our own object
            return self._read_bytes(uri) == data
        except NotFoundError:
            return False

    def _stat(self, uri: str) -> ObjectInfo:
        bucket, key = _split_s3(uri)
        if not key:
            raise ObjectNotFoundError(f"{uri}: names a bucket, not an object")
        try:
            r = self.client.head_object(Bucket=bucket, Key=key)
        except Exception as exc:  # botocore errors, connection errors
            err = self._wrap(uri, exc, "stat")
            if isinstance(err, NotFoundError) and not isinstance(err, BucketNotFoundError):
                # HEAD gives a bare 404 for a missing bucket too: tell them apart
                self._check_bucket(bucket, uri)
            raise err from exc
        mtime = r.get("LastModified")
        return ObjectInfo(
            uri=uri,
            size=int(r.get("ContentLength", 0)),
            etag=str(r.get("ETag", "")).strip('"') or None,
            mtime=mtime.isoformat() if mtime else None,
        )

    def _check_bucket(self, bucket: str, uri: str) -> None:
        try:
            self.client.head_bucket(Bucket=bucket)
        except Exception as exc:
            code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
            if code in ("404", "NoSuchBucket", "NotFound"):
                raise BucketNotFoundError(f"{uri}: bucket {bucket!r} does not exist (create it, or fix the URI in the config)") from exc
            if not code:
                raise StorageError(f"{uri}: cannot reach S3: {exc}") from exc

    def _list(self, prefix: str) -> builtins.list[ObjectInfo]:
        bucket, key = _split_s3(prefix)
        out: builtins.list[ObjectInfo] = []
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key)
            for page in pages:
                for o in page.get("Contents", []) or []:
                    mtime = o.get("LastModified")
                    out.append(
                        ObjectInfo(
                            uri=f"s3://{bucket}/{o['Key']}",
                            size=int(o.get("Size", 0)),
                            etag=str(o.get("ETag", "")).strip('"') or None,
                            mtime=mtime.isoformat() if mtime else None,
                        )
                    )
        except Exception as exc:
            raise self._wrap(prefix, exc, "list") from exc
        return sorted(out, key=lambda o: o.uri)

    def _read_bytes(self, uri: str) -> bytes:
        bucket, key = _split_s3(uri)
        try:
            return self.client.get_object(Bucket=bucket, Key=key)["Body"].read()
        except Exception as exc:
            raise self._wrap(uri, exc, "read") from exc

    def _download(self, uri: str, path: Path) -> None:
        bucket, key = _split_s3(uri)
        try:  # multipart, straight to disk: the object is never held in memory
            self.client.download_file(bucket, key, str(path))
        except Exception as exc:
            raise self._wrap(uri, exc, "read") from exc

    def _write_bytes(self, uri: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        bucket, key = _split_s3(uri)
        try:  # a PUT replaces the object atomically
            self.client.put_object(Bucket=bucket, Key=key, Body=data, ContentType=content_type)
        except Exception as exc:
            raise self._wrap(uri, exc, "write") from exc

    def _create_exclusive(self, uri: str, data: bytes, content_type: str = "application/octet-stream") -> bool:
        """A conditional PUT (If-None-Match: *): S3 stores it only if the key is absent, atomically."""
        bucket, key = _split_s3(uri)
        try:
            self.client.put_object(Bucket=bucket, Key=key, Body=data, ContentType=content_type, IfNoneMatch="*")
            return True
        except Exception as exc:
            code = _error_code(exc)
            if code not in ("PreconditionFailed", "412", "ConditionalRequestConflict", "409"):
                raise self._wrap(uri, exc, "create") from exc
        # Someone holds the key. If it is our own content, our first PUT succeeded and its answer was
        # lost (the retry then met our own object): the claim is ours.
        try:
            return self._read_bytes(uri) == data
        except NotFoundError:
            return False

    def _delete(self, uri: str) -> None:
        bucket, key = _split_s3(uri)
        try:
            self.client.delete_object(Bucket=bucket, Key=key)
        except Exception as exc:
            raise self._wrap(uri, exc, "delete") from exc

    def presigned_url(self, uri: str, expires: int = 7 * 24 * 3600) -> Optional[str]:
        bucket, key = _split_s3(uri)
        try:
            return self.client.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires)
        except Exception:  # noqa: BLE001 - a link is a convenience; the URI still works
            return None


def storage_for(uri: str, *, s3: Optional[S3Storage] = None) -> Storage:
    """The storage backend for a URI: S3Storage for s3://, LocalStorage for paths and file://."""
    scheme = urlsplit(uri).scheme
    if scheme == "s3":
        return s3 if s3 is not None else S3Storage()
    if scheme in ("", "file") or (len(scheme) == 1 and os.name == "nt"):
        return LocalStorage()
    raise StorageError(f"{uri}: unsupported scheme {scheme!r}; use s3://bucket/key or a local path")


# --------------------------------------------------------------------------- tables


def _fmt_of(uri: str, fmt: str) -> str:
    if fmt != "auto":
        return fmt
    name = uri.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    if name.endswith(".csv"):
        return "csv"
    if name.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    raise DataError(f"{uri}: cannot tell the file format from its name; set `format: parquet|csv|jsonl` in the config")


def read_table(
    storage: Storage,
    uri: str,
    *,
    columns: Optional[Sequence[str]] = None,
    fmt: str = "auto",
    csv_options: Optional[Mapping[str, Any]] = None,
) -> pd.DataFrame:
    """Read one parquet/csv/jsonl file (optionally gzipped) into pandas, only `columns` when given.

    Columns named but absent are left out (the quality stage reports them), never an error here.
    """
    import pandas as pd

    kind = _fmt_of(uri, fmt)
    local = storage.local_path(uri)
    try:
        if kind == "parquet":
            import pyarrow.parquet as pq

            src: Any = str(local) if local is not None else io.BytesIO(storage.read_bytes(uri))
            pf = pq.ParquetFile(src)
            names = pf.schema_arrow.names
            cols = [c for c in columns if c in names] if columns is not None else names
            cols = [c for c in cols if not c.startswith("__index_level_")]  # pandas' stored index
            # One column at a time: each column's Arrow buffers are released before the next is
            # read, so the peak is the DataFrame plus one column, not Arrow table + DataFrame.
            data = {c: pf.read(columns=[c]).column(0).to_pandas() for c in cols}
            if not data:
                return pd.DataFrame(index=pd.RangeIndex(pf.metadata.num_rows))
            return pd.DataFrame(data, copy=False)
        raw = local.read_bytes() if local is not None else storage.read_bytes(uri)
        if uri.lower().endswith(".gz") or raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        if kind == "csv":
            opts = dict(csv_options or {})
            usecols = (lambda c: c in set(columns)) if columns is not None else None
            return pd.read_csv(io.BytesIO(raw), usecols=usecols, **opts)
        df = pd.read_json(io.BytesIO(raw), lines=True)
        return df[[c for c in columns if c in df.columns]] if columns is not None else df
    except FileNotFoundError:
        raise ObjectNotFoundError(f"{uri}: no such file") from None
    except (StorageError, DataError, DeadlineError):
        raise
    except UnicodeDecodeError as exc:
        raise DataError(f"{uri}: not valid UTF-8 text ({exc.reason} at byte {exc.start}); re-export it as UTF-8 or set csv_options: {{encoding: latin-1}}") from None
    except Exception as exc:  # noqa: BLE001 - pyarrow / pandas raise many kinds for a bad file
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"{uri}: cannot parse as {kind}: {msg}") from None


def read_tables(
    storage: Storage,
    uri: str,
    *,
    columns: Optional[Sequence[str]] = None,
    fmt: str = "auto",
    csv_options: Optional[Mapping[str, Any]] = None,
) -> tuple[pd.DataFrame, list[ObjectInfo]]:
    """Read a file or every table file under a prefix, concatenated; returns the frame and what was read."""
    import pandas as pd

    objs = storage.expand(uri)
    if columns is None and fmt in ("auto", "parquet"):
        from monitor.io.columns import open_streamed

        streamed = open_streamed(storage, objs, fmt)  # a large day: read column by column when used
        if streamed is not None:
            return streamed, objs
    frames = [read_table(storage, o.uri, columns=columns, fmt=fmt, csv_options=csv_options) for o in objs]
    frames = [f for f in frames if len(f.columns)]
    if not frames:
        return pd.DataFrame(columns=list(columns or [])), objs
    df = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    return df, objs

