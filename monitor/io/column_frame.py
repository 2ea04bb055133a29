"""`ColumnFrame`: the DataFrame-like, read-only view of a streamed table that the stages read as they
would a DataFrame (one column at a time), with `iloc`/`loc` for a few rows and in-memory columns the
run adds. Where its columns come from, and when a table is streamed: monitor.io.columns."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Optional, Union

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import pandas as pd

    from monitor.io.columns import ParquetColumns

__all__ = ["ColumnFrame"]


class ColumnFrame:
    """A DataFrame-like, read-only view: the columns of a `ParquetColumns` plus in-memory columns.

    Supports what the stages use: `columns`, `len()`, `frame[col]` (a Series), `frame[[cols]]`
    (a pandas DataFrame), `frame[mask]` (a view of those rows), `assign`, `drop(columns=)`,
    `copy`, `reset_index(drop=True)`, `iloc[i]` / `iloc[:0]` / `loc[positions]`, `dtypes`,
    `to_pandas()`. The index is always positional (0..n-1).
    """

    def __init__(self, source: ParquetColumns, *, names: Optional[list[str]] = None,
                 extra: Optional[Mapping[str, Any]] = None, rows: Optional[np.ndarray] = None) -> None:
        self._src = source
        self._extra: dict[str, Any] = dict(extra or {})  # full-length (source rows) arrays/Series
        self._names = list(names) if names is not None else [*source.names, *[c for c in self._extra if c not in source.names]]
        self._rows = rows  # positions into the source's rows, or None for all
        self._index: Optional[pd.Index] = None  # `columns`, kept (names are only ever appended)

    # ------------------------------------------------------------------ shape
    @property
    def columns(self) -> pd.Index:
        import pandas as pd

        if self._index is None:  # built once: the checks ask `col in frame.columns` a lot
            self._index = pd.Index(self._names)
        return self._index

    def __len__(self) -> int:
        return self._src.num_rows if self._rows is None else int(self._rows.size)

    @property
    def shape(self) -> tuple[int, int]:
        return len(self), len(self._names)

    @property
    def empty(self) -> bool:
        return len(self) == 0 or not self._names

    @property
    def index(self) -> pd.RangeIndex:
        import pandas as pd

        return pd.RangeIndex(len(self))

    @property
    def dtypes(self) -> pd.Series:
        import pandas as pd

        empty = self._src.empty_frame()
        return pd.Series({c: (empty[c].dtype if c not in self._extra and c in empty.columns else self._full(c).dtype)
                          for c in self._names}, dtype=object)

    def __contains__(self, name: object) -> bool:
        return name in self._names

    def schema_dtype(self, name: str) -> Optional[Any]:
        """The column's storage dtype without reading it, or None when only a read can tell
        (nulls in an integer or boolean column can widen it: callers use this for the kind of dtype)."""
        if name not in self._names:
            raise KeyError(name)
        if name in self._extra:
            return self._full(name).dtype
        return self._src.dtype(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def cache_only(self, names: Iterable[str]) -> None:
        """Cache only these columns from now on (those several stages read); the others are read when asked."""
        self._src.cache_only = set(names)

    def prefetch(self, names: Iterable[str]) -> None:
        """Fetch these columns' bytes of a remote source now (see ParquetColumns.prefetch)."""
        self._src.prefetch(names)

    def cache_also(self, names: Iterable[str]) -> None:
        """Add these columns to those cached (when `cache_only` restricts them)."""
        if self._src.cache_only is not None:
            self._src.cache_only |= set(names)

    def codes(self, name: str) -> tuple[np.ndarray, Any]:
        """(codes, values) of a column, as `pd.factorize(frame[name])` but the values in no particular
        order; a stored text column is read dictionary-encoded (see ParquetColumns.codes)."""
        import pandas as pd

        if name not in self._names:
            raise KeyError(name)
        if name in self._extra:
            c, values = pd.factorize(self._full(name))
        else:
            c, values = self._src.codes(name)
        return (c if self._rows is None else c[self._rows]), values

    def peek(self, name: str) -> pd.Series:
        """`frame[name]` read without keeping it in the column cache: for a one-off use such as a
        summary of the column (a cached column is served from the cache)."""
        if name not in self._names:
            raise KeyError(name)
        s = self._full(name) if name in self._extra else self._src.column(name, keep=False)
        return s if self._rows is None else s.iloc[self._rows].reset_index(drop=True)

    # ------------------------------------------------------------------ columns
    def _full(self, name: str) -> pd.Series:
        import pandas as pd

        if name in self._extra:
            v = self._extra[name]
            return v if isinstance(v, pd.Series) else pd.Series(v, name=name)
        return self._src.column(name)

    def __getitem__(self, key: Any) -> Any:
        import numpy as np
        import pandas as pd

        if isinstance(key, str):
            if key not in self._names:
                raise KeyError(key)
            s = self._full(key)
            if self._rows is not None:
                s = s.iloc[self._rows].reset_index(drop=True)
            return s
        if isinstance(key, (list, tuple, pd.Index)):
            missing = [k for k in key if k not in self._names]
            if missing:
                raise KeyError(f"{missing} not in columns")
            return pd.DataFrame({k: self[k] for k in key}, columns=list(key))
        mask = np.asarray(key)
        if mask.dtype != bool or mask.shape != (len(self),):
            raise TypeError("a ColumnFrame selects rows with a boolean mask of its length only")
        pos = np.flatnonzero(mask)
        rows = pos if self._rows is None else self._rows[pos]
        return ColumnFrame(self._src, names=self._names, extra=self._extra, rows=rows)

    def __setitem__(self, name: str, value: Any) -> None:
        if self._rows is not None:
            raise TypeError("cannot add a column to a row selection of a ColumnFrame")
        self._extra[name] = _full_length(value, len(self), name)
        if name not in self._names:
            self._names.append(name)
            self._index = None

    def assign(self, **columns: Any) -> ColumnFrame:
        out = self.copy()
        for k, v in columns.items():
            out[k] = v
        return out

    def drop(self, columns: Union[str, Sequence[str]]) -> ColumnFrame:
        gone = {columns} if isinstance(columns, str) else set(columns)
        missing = gone - set(self._names)
        if missing:
            raise KeyError(f"{sorted(missing)} not found in columns")
        return ColumnFrame(self._src, names=[c for c in self._names if c not in gone],
                           extra={k: v for k, v in self._extra.items() if k not in gone}, rows=self._rows)

    def copy(self, deep: bool = False) -> ColumnFrame:
        return ColumnFrame(self._src, names=self._names, extra=self._extra, rows=self._rows)

    def eval(self, expr: str) -> Any:
        """DataFrame.eval on the columns the expression names (read just those)."""
        return self[self.columns_in(expr)].eval(expr)

    def columns_in(self, expr: str) -> list[str]:
        """The columns an expression names (as a name or in backquotes)."""
        import re

        return [c for c in self._names if f"`{c}`" in expr or re.search(rf"(?<![\w.]){re.escape(c)}(?!\w)", expr)]

    def reset_index(self, drop: bool = False) -> ColumnFrame:
        if not drop:
            raise TypeError("a ColumnFrame has a positional index only: use reset_index(drop=True)")
        return self

    # ------------------------------------------------------------------ rows
    def _positions(self, pos: Sequence[int]) -> list[int]:
        base = [int(p) for p in pos]
        n = len(self)
        for p in base:
            if not -n <= p < n:
                raise IndexError(f"position {p} out of bounds for {n} rows")
        base = [p % n if n else p for p in base]
        return base if self._rows is None else [int(self._rows[p]) for p in base]

    def take(self, positions: Sequence[int]) -> pd.DataFrame:
        """The rows at these positions as a pandas DataFrame, index = the positions."""
        import pandas as pd

        src_pos = self._positions(positions)
        stored = [c for c in self._names if c not in self._extra]
        df = self._src.take_rows(src_pos, stored) if stored else pd.DataFrame(index=range(len(src_pos)))
        for c in self._names:
            if c in self._extra:
                df[c] = self._full(c).iloc[src_pos].to_numpy()
        df = df[self._names]
        df.index = pd.Index([int(p) for p in positions])
        return df

    @property
    def iloc(self) -> _ILoc:
        return _ILoc(self)

    @property
    def loc(self) -> _Loc:
        return _Loc(self)

    def to_pandas(self) -> pd.DataFrame:
        """All of it in memory (only for frames known to be small)."""
        import pandas as pd

        return pd.DataFrame({c: self[c] for c in self._names}, columns=self._names)

    def __repr__(self) -> str:
        return f"ColumnFrame({len(self)} rows x {len(self._names)} columns, streamed from parquet)"


def _full_length(value: Any, n: int, name: str) -> Any:
    import numpy as np
    import pandas as pd

    if isinstance(value, pd.Series):
        if len(value) != n:
            raise ValueError(f"column {name!r}: {len(value)} values for {n} rows")
        return value.reset_index(drop=True).rename(name)
    if np.isscalar(value) or value is None:
        return pd.Series([value] * n if not isinstance(value, float) else np.full(n, value), name=name)
    arr = np.asarray(value)
    if arr.shape != (n,):
        raise ValueError(f"column {name!r}: {arr.shape} values for {n} rows")
    return pd.Series(arr, name=name)


class _ILoc:
    def __init__(self, frame: ColumnFrame) -> None:
        self._f = frame

    def __getitem__(self, key: Any) -> Any:
        import numpy as np

        if isinstance(key, (int, np.integer)):
            return self._f.take([int(key)]).iloc[0]
        if isinstance(key, slice):
            pos = range(len(self._f))[key]
            if len(pos) == 0:
                empty = self._f._src.empty_frame()
                for c in self._f._names:
                    if c not in empty.columns:
                        empty[c] = self._f._full(c).iloc[:0]
                return empty[self._f._names]
            return self._f.take(list(pos)).reset_index(drop=True)
        return self._f.take(list(key)).reset_index(drop=True)


class _Loc:
    def __init__(self, frame: ColumnFrame) -> None:
        self._f = frame

    def __getitem__(self, key: Any) -> Any:
        import numpy as np

        if isinstance(key, tuple) and len(key) == 2:  # .loc[rows, column(s)]
            rows, cols = key
            mask = np.asarray(rows)
            if mask.dtype == bool:
                picked = self._f[mask][cols]
                picked.index = np.flatnonzero(mask)  # the labels of the selected rows, as pandas keeps them
                return picked
            return self._f.take(list(mask))[cols]
        if isinstance(key, list) or hasattr(key, "__array__"):
            mask = np.asarray(key)
            if mask.dtype == bool:
                out = self._f[mask].to_pandas()
                out.index = np.flatnonzero(mask)
                return out
            return self._f.take(list(mask))  # positional index: labels are positions
        raise TypeError("ColumnFrame.loc takes row positions, a boolean mask, or (rows, columns)")


# --------------------------------------------------------------------------- opening
