"""Reading tables (parquet, csv, jsonl, gzipped too) from a file or a prefix, local or S3."""

from __future__ import annotations

import gzip
import io
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Optional
from urllib.parse import urlsplit

from monitor.errors import DataError, DeadlineError, ObjectNotFoundError, StorageError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
from monitor.io.storage.base import ObjectInfo, Storage
from monitor.io.storage.local import LocalStorage
from monitor.io.storage.s3 import S3Storage

__all__ = ['storage_for', 'read_table', 'read_tables', 'fmt_of']


def storage_for(uri: str, *, s3: Optional[S3Storage] = None) -> Storage:
    """The storage backend for a URI: S3Storage for s3://, LocalStorage for paths and file://."""
    scheme = urlsplit(uri).scheme
    if scheme == "s3":
        return s3 if s3 is not None else S3Storage()
    if scheme in ("", "file") or (len(scheme) == 1 and os.name == "nt"):
        return LocalStorage()
    raise StorageError(f"{uri}: unsupported scheme {scheme!r}; use s3://bucket/key or a local path")


# --------------------------------------------------------------------------- tables


def fmt_of(uri: str, fmt: str) -> str:
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

    kind = fmt_of(uri, fmt)
    local = storage.local_path(uri)
    try:
        if kind == "parquet":
            if local is None:  # downloaded to disk first (multipart): the object's bytes are never held (twice,
                # while the HTTP body is joined) next to the frame being decoded from them
                import tempfile
                from pathlib import Path

                with tempfile.TemporaryDirectory(prefix="monitor-read-") as tmp:
                    path = Path(tmp) / "table.parquet"
                    storage.download(uri, path)
                    return _read_parquet(path, columns)
            return _read_parquet(local, columns)
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


def _read_parquet(path: Any, columns: Optional[Sequence[str]]) -> pd.DataFrame:
    import pandas as pd
    import pyarrow.parquet as pq

    from monitor.io.text_codes import read_text, remember, text_columns

    pf = pq.ParquetFile(str(path))
    schema = pf.schema_arrow
    cols = [c for c in columns if c in schema.names] if columns is not None else schema.names
    cols = [c for c in cols if not c.startswith("__index_level_")]  # pandas' stored index
    # text columns dictionary-encoded, as most files store them: the same Series, with its codes (text_codes)
    text = text_columns(schema, cols)
    by_code = pq.ParquetFile(str(path), read_dictionary=text) if text else pf
    # One column at a time: each column's Arrow buffers are released before the next is
    # read, so the peak is the DataFrame plus one column, not Arrow table + DataFrame.
    data, codes = {}, {}
    for c in cols:
        if c in text:
            data[c], codes[c] = read_text(by_code.read(columns=[c]).column(0), schema.field(c).type)
        else:
            data[c] = pf.read(columns=[c]).column(0).to_pandas()
    if not data:
        return pd.DataFrame(index=pd.RangeIndex(pf.metadata.num_rows))
    df = pd.DataFrame(data, copy=False)
    for c, tc in codes.items():
        if tc is not None:
            remember(df[c], tc)
    return df


def read_tables(
    storage: Storage,
    uri: str,
    *,
    columns: Optional[Sequence[str]] = None,
    fmt: str = "auto",
    csv_options: Optional[Mapping[str, Any]] = None,
    lazy: bool = False,
) -> tuple[pd.DataFrame, list[ObjectInfo]]:
    """Read a file or every table file under a prefix, concatenated; returns the frame and what was read.

    Parquet is read column by column when used (a ColumnFrame) when it is large, or always with
    `lazy` (the reference: a run uses a few of its columns, and summaries of the others)."""
    import pandas as pd

    objs = storage.expand(uri)
    if columns is None and fmt in ("auto", "parquet"):
        from monitor.io.columns import open_streamed

        streamed = open_streamed(storage, objs, fmt, lazy=lazy)  # a large day: read column by column when used
        if streamed is not None:
            return streamed, objs
    frames = [read_table(storage, o.uri, columns=columns, fmt=fmt, csv_options=csv_options) for o in objs]
    frames = [f for f in frames if len(f.columns)]
    if not frames:
        return pd.DataFrame(columns=list(columns or [])), objs
    df = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    return df, objs
