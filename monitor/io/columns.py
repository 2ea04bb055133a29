"""Column streaming for large days: a read-only, DataFrame-like view over parquet files.

A day of 50M rows x 30 columns is about 12 GB as pandas columns: it cannot be held in
memory on one worker. The stages read it the way they read a DataFrame, one column at a
time (`frame[col]`, `frame.columns`, `len(frame)`), so `ColumnFrame` gives them exactly
that: each `frame[col]` reads one column from the parquet row groups into the same
pandas Series the in-memory path builds (so every statistic is the same), and forgets it
again. A small cache keeps the last few columns, because a stage usually asks for the same
column a few times in a row. Columns added by the run (the joined target, the source
name, types converted back by the quality stage) live in memory, one array each.

Row selections (`frame[mask]`) are views: nothing is read until a column of the
selection is asked for. `iloc`/`loc` with a few positions read only the row groups that
hold them. Anything else a stage needs is not here on purpose: `to_pandas()` materialises
the frame when a caller really needs all of it.

`STREAM_CELLS` (env `MONITOR_STREAM_CELLS`: rows x columns) is the size from which the
reader streams a table instead of loading it into memory.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Optional, Union

from monitor.io.column_frame import ColumnFrame

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import pandas as pd

__all__ = ["ColumnFrame", "ParquetColumns", "open_streamed", "concat", "concat_frames", "stream_cells", "STREAM_CELLS"]

STREAM_CELLS = 150_000_000  # e.g. 5M rows x 30 columns, about 1.2 GB as float64
STREAM_DOWNLOAD_BYTES = 512 * 2**20  # remote parquet larger than this is downloaded, then streamed
_CACHE_BYTES = 1 << 28  # decoded columns kept for reuse (the last few asked for); 1 GiB cost 700 MB of peak at 50M and saved no time


class ParquetColumns:
    """Parquet files of one table read column by column; the same Series `read_table` would build."""

    def __init__(self, paths: Sequence[Union[str, Path, BinaryIO]], *, keep: Iterable[Any] = ()) -> None:
        import pyarrow.parquet as pq

        self._paths = list(paths)
        # One reader per file, shared by the drift threads: Arrow's FileReader is not safe for concurrent
        # reads (pre_buffer's cache is file-wide state; a 50M-row run hung in ReadRangeCache::Read), so
        # pre_buffer is off (local files: no speed lost) and every read of a file holds _read_lock.
        self._files = [pq.ParquetFile(p if hasattr(p, "read") else str(p), pre_buffer=False) for p in paths]
        self._read_lock = threading.Lock()
        self._dict_files: dict[int, Any] = {}  # file index -> a reader giving its text columns as dictionaries (codes())
        self._keep = list(keep)  # e.g. temporary directories that must outlive the files
        names: list[str] = []
        for f in self._files:
            for c in f.schema_arrow.names:
                if c not in names and not c.startswith("__index_level_"):
                    names.append(c)
        self.names = names
        self._has = [frozenset(f.schema_arrow.names) for f in self._files]  # per file: its columns (schema_arrow is rebuilt per call)
        self.rows_per_file = [f.metadata.num_rows for f in self._files]
        self.num_rows = sum(self.rows_per_file)
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, pd.Series] = OrderedDict()
        self._cached_bytes = 0
        self._dtypes: Optional[dict[str, Any]] = None
        # the columns worth caching (None: any). A run sets the ones several stages read (ids, model
        # outputs, label, cohort columns): a stage going through every feature once (quality, drift)
        # then neither fills the cache with columns nobody asks for again nor evicts those.
        self.cache_only: Optional[set[str]] = None
        # row-group boundaries, for reading a few rows
        self._groups: list[tuple[int, int, int]] = []  # (start row, file index, row group)
        start = 0
        for i, f in enumerate(self._files):
            for g in range(f.metadata.num_row_groups):
                self._groups.append((start, i, g))
                start += f.metadata.row_group(g).num_rows

    def prefetch(self, names: Iterable[str]) -> None:
        """Fetch the byte ranges of these columns now, from the files read by ranges (RangedObject);
        files on disk have nothing to fetch."""
        wanted = set(names)
        for f, src in zip(self._files, self._paths):
            if hasattr(src, "prefetch"):
                md = f.metadata
                src.prefetch(chunk_range(md.row_group(g).column(i)) for g in range(md.num_row_groups)
                             for i in range(md.num_columns)
                             if md.row_group(g).column(i).path_in_schema.split(".")[0] in wanted)

    def empty_frame(self) -> pd.DataFrame:
        """No rows, the columns with the dtypes a full read gives."""
        import pandas as pd

        parts = {}
        for c in self.names:
            for f in self._files:
                if c in f.schema_arrow.names:
                    parts[c] = f.schema_arrow.empty_table().column(c).to_pandas()
                    break
        return pd.DataFrame(parts)

    def dtype(self, name: str) -> Optional[Any]:
        """The dtype a read of `name` gives, when the files' schemas alone say it (every file holds
        the column with one Arrow type that is not a null, dictionary or nested type); else None."""
        import pyarrow as pa

        if not all(name in has for has in self._has):
            return None
        types = {f.schema_arrow.field(name).type for f in self._files}
        if len(types) != 1:
            return None
        t = types.pop()
        if pa.types.is_null(t) or pa.types.is_dictionary(t) or pa.types.is_nested(t):
            return None
        if self._dtypes is None:  # once: per call made a wide table's lookups quadratic
            # each column's dtype as empty_frame() gives it (one empty table, not a DataFrame of them)
            empty = self._files[0].schema_arrow.empty_table()
            self._dtypes = {c: empty.column(c).to_pandas().dtype for c in empty.column_names if c in self.names}
        return self._dtypes[name]

    def column(self, name: str, *, keep: bool = True) -> pd.Series:
        """The column as a Series; `keep=False` reads it without adding it to the cache (a one-off use),
        and so does a column outside `cache_only` when that is set."""
        with self._lock:
            hit = self._cache.get(name)
            if hit is not None:
                self._cache.move_to_end(name)
                return hit
        s = self._read(name)
        if not keep or (self.cache_only is not None and name not in self.cache_only):
            return s
        size = int(s.memory_usage(index=False, deep=False))
        with self._lock:
            if name not in self._cache and size <= _CACHE_BYTES:
                self._cache[name] = s
                self._cached_bytes += size
                while self._cached_bytes > _CACHE_BYTES and len(self._cache) > 1:
                    _, old = self._cache.popitem(last=False)
                    self._cached_bytes -= int(old.memory_usage(index=False, deep=False))
        return s

    def _read(self, name: str) -> pd.Series:
        import numpy as np
        import pandas as pd

        parts = []
        for f, n, has in zip(self._files, self.rows_per_file, self._has):
            if name in has:
                with self._read_lock:
                    chunked = f.read(columns=[name]).column(0)
                parts.append(chunked.to_pandas())
            else:  # a file without the column: NaN, as pd.concat of the frames gives
                parts.append(pd.Series(np.full(n, np.nan)))
        if len(parts) == 1:
            s = parts[0]
        else:
            s = pd.concat(parts, ignore_index=True)
        s.name = name
        return s

    def codes(self, name: str) -> tuple[np.ndarray, Any]:
        """(codes, values): row i holds `values[codes[i]]`, -1 a null (what `pd.factorize(column)` says,
        but the values in no particular order). A text column is read dictionary-encoded, a row group
        at a time: no string object per row and no hash table of the rows (~6 ms, not ~70, for a
        1M-row column), and 4 bytes a row held (the strings and 8-byte codes of a read and factorize)."""
        import numpy as np
        import pandas as pd
        import pyarrow as pa

        types = {f.schema_arrow.field(name).type for f, has in zip(self._files, self._has) if name in has}
        if not types or not all(pa.types.is_string(t) or pa.types.is_large_string(t) for t in types):
            return pd.factorize(self.column(name))
        kind = pa.dictionary(pa.int32(), pa.string())  # (a large_string column reads as this too)

        def as_kind(c: Any) -> Any:
            c = c if pa.types.is_dictionary(c.type) else c.dictionary_encode()
            return c if c.type == kind else pa.DictionaryArray.from_arrays(c.indices.cast(pa.int32()), c.dictionary.cast(pa.string()))

        chunks = []
        for i, (n, has) in enumerate(zip(self.rows_per_file, self._has)):
            if name not in has:  # a file without the column: nulls
                chunks.append(pa.nulls(n, kind))
                continue
            f = self._dictionary_file(i)
            for g in range(f.metadata.num_row_groups):
                with self._read_lock:
                    col = f.read_row_group(g, columns=[name]).column(0)
                chunks += [as_kind(c) for c in col.chunks]
        if not chunks:
            return np.empty(0, dtype=np.int32), []
        column = pa.chunked_array(chunks, kind).unify_dictionaries()  # one dictionary
        del chunks
        out = np.empty(self.num_rows, dtype=np.int32)
        at = 0
        for c in column.chunks:
            out[at : at + len(c)] = c.indices.fill_null(-1).to_numpy(zero_copy_only=False)
            at += len(c)
        return out, column.chunk(0).dictionary.to_pylist() if column.num_chunks else []

    def _dictionary_file(self, i: int) -> Any:
        """File i opened to read its text columns as dictionaries (a second reader of a local file; an
        open file object has only the one reader: its columns are dictionary-encoded after the read)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        f, source = self._files[i], self._paths[i]
        if not isinstance(source, (str, Path)):
            return f
        if i not in self._dict_files:
            text = [c for c in f.schema_arrow.names if pa.types.is_string(f.schema_arrow.field(c).type)
                    or pa.types.is_large_string(f.schema_arrow.field(c).type)]
            self._dict_files[i] = pq.ParquetFile(str(source), pre_buffer=False, read_dictionary=text)
        return self._dict_files[i]

    def take_rows(self, positions: Sequence[int], columns: Sequence[str]) -> pd.DataFrame:
        """The rows at these positions (in this order), reading only the row groups holding them."""
        import bisect

        import pandas as pd
        import pyarrow as pa

        starts = [g[0] for g in self._groups]
        by_group: dict[int, list[tuple[int, int]]] = {}
        for k, p in enumerate(positions):
            gi = bisect.bisect_right(starts, int(p)) - 1
            by_group.setdefault(gi, []).append((k, int(p) - starts[gi]))
        pieces: dict[int, dict[str, Any]] = {}
        for gi, items in by_group.items():
            _, fi, g = self._groups[gi]
            f = self._files[fi]
            cols = [c for c in columns if c in f.schema_arrow.names]
            take = [r for _, r in items]
            # one column of the row group at a time: its rows are taken and the rest freed before the next
            # (a whole 1M-row group of 30 columns was ~250 MB at once, the peak of a 10M-row run)
            parts = []
            for c in cols:
                with self._read_lock:
                    parts.append(f.read_row_group(g, columns=[c]).take(take))
            sub = None
            if parts:  # the columns side by side, with the file's (pandas) metadata, as one read of them gives
                schema = pa.schema([p.schema.field(0) for p in parts], metadata=parts[0].schema.metadata)
                sub = pa.Table.from_arrays([p.column(0) for p in parts], schema=schema).to_pandas()
            for j, (k, _) in enumerate(items):
                pieces[k] = {c: sub[c].iloc[j] if sub is not None and c in sub.columns else None for c in columns}
        rows = [pieces[k] for k in range(len(positions))]
        return pd.DataFrame(rows, columns=list(columns)) if rows else self.empty_frame()[list(columns)]


def chunk_range(chunk: Any) -> tuple[int, int]:
    """The bytes [start, end) of one column chunk (pyarrow ColumnChunkMetaData), as Arrow reads them."""
    start = chunk.data_page_offset
    if chunk.has_dictionary_page and 0 < chunk.dictionary_page_offset < start:
        start = chunk.dictionary_page_offset
    return start, start + chunk.total_compressed_size


def stream_cells() -> int:
    """Tables with more cells (rows x columns) than this are streamed (env MONITOR_STREAM_CELLS)."""
    raw = os.environ.get("MONITOR_STREAM_CELLS", "").strip()
    try:
        return int(raw) if raw else STREAM_CELLS
    except ValueError:
        return STREAM_CELLS


def open_streamed(storage: Any, objs: Sequence[Any], fmt: str = "auto", *, lazy: bool = False) -> Optional[ColumnFrame]:
    """A ColumnFrame over these parquet objects when they are too large to load (or `lazy`: always,
    so that only the columns a run asks for are read), else None.

    Local files are opened in place. Remote objects opened `lazy` from a storage with ranged reads
    are read in place too, only the byte ranges of the columns asked for (see RangedObject). Other
    remote objects larger than STREAM_DOWNLOAD_BYTES in total (any size when `lazy`) are first
    downloaded to a temporary directory (removed with the frame), then streamed.
    """
    import pyarrow.parquet as pq

    from monitor.errors import DataError, DeadlineError, StorageError
    from monitor.io.storage.tables import fmt_of

    try:
        if not objs or any(fmt_of(o.uri, fmt) != "parquet" for o in objs):
            return None
    except DataError:
        return None
    limit = stream_cells()
    paths = [storage.local_path(o.uri) for o in objs]
    keep: list[Any] = []
    if any(p is None for p in paths):
        if sum(o.size for o in objs) < STREAM_DOWNLOAD_BYTES and limit > 0 and not lazy:
            return None
        import tempfile

        tmp = tempfile.TemporaryDirectory(prefix="monitor-stream-")
        keep.append(tmp)
        paths = _fetched(storage, objs, Path(tmp.name), ranged=lazy)
    try:
        cells = 0
        for p in paths:
            md = pq.read_metadata(p if hasattr(p, "read") else str(p))
            cells += md.num_rows * md.num_columns
    except (StorageError, DeadlineError):  # a ranged read of the footer failed: not a format question
        raise
    except Exception:  # noqa: BLE001 - not parquet after all: the normal reader reports it
        return None
    if cells <= limit and not keep and not lazy:
        return None
    return ColumnFrame(ParquetColumns(paths, keep=keep))


def _fetched(storage: Any, objs: Sequence[Any], folder: Path, *, ranged: bool) -> list[Any]:
    """The remote objects as local files in `folder`: read in place by byte ranges (`ranged`, when the
    storage can and every object has an ETag to hold the reads to), else downloaded whole."""
    if ranged and hasattr(storage, "read_range") and all(o.etag for o in objs):
        from monitor.io.storage.ranged import HOLE_BYTES, RangedObject

        out = [RangedObject(storage, o, folder / f"{i:05d}.part") for i, o in enumerate(objs)]
        for r in out:  # the footer, with the columns stored last (often the label) for about the cost of the GET
            r.prefetch([(r.size - HOLE_BYTES, r.size)])
        return out
    paths = []
    for i, o in enumerate(objs):
        dest = folder / f"{i:05d}.parquet"
        storage.download(o.uri, dest)
        paths.append(dest)
    return paths


def concat(frames: Sequence[Any]) -> Any:
    """pd.concat(frames, ignore_index=True), also for streamed frames."""
    import pandas as pd

    if any(isinstance(f, ColumnFrame) for f in frames):
        return concat_frames(frames)
    return pd.concat(frames, ignore_index=True)


def concat_frames(frames: Sequence[Any]) -> Any:
    """pd.concat(frames, ignore_index=True) when some of them are ColumnFrames: one ColumnFrame.

    In-memory pieces are written to a temporary parquet file first (they are the small ones).
    """
    import tempfile

    import numpy as np
    import pandas as pd

    paths: list[Union[str, Path, BinaryIO]] = []
    keep: list[Any] = []
    pieces: list[tuple[int, dict[str, pd.Series]]] = []  # (rows, in-memory columns) per frame
    names: list[str] = []
    for f in frames:
        if isinstance(f, ColumnFrame):
            if f._rows is not None:
                raise TypeError("concat_frames takes whole frames, not row selections")
            paths.extend(f._src._paths)
            keep.extend(f._src._keep)
            pieces.append((len(f), {c: f._full(c) for c in f._names if c in f._extra}))
        else:
            tmp = tempfile.TemporaryDirectory(prefix="monitor-stream-")
            keep.append(tmp)
            dest = Path(tmp.name) / "part.parquet"
            f.reset_index(drop=True).to_parquet(dest, index=False)
            paths.append(dest)
            pieces.append((len(f), {}))
        names += [c for c in f.columns if c not in names]
    extra_names = list(dict.fromkeys(c for _, extra in pieces for c in extra))
    full = {
        c: pd.concat([extra.get(c, pd.Series(np.full(n, np.nan))) for n, extra in pieces], ignore_index=True)
        for c in extra_names
    }
    return ColumnFrame(ParquetColumns(paths, keep=keep), names=names, extra=full)
