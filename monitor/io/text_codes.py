"""Text columns read from parquet with their dictionary codes, so that the whole column is hashed once.

A text column of a parquet file is usually stored dictionary-encoded: a few distinct values and a
small code per row. Read plainly, every row becomes a string again, and then each stage that
compares values hashes every row once more: the unseen-categories check (`isin`), the drift
counts (`value_counts`), the cohorts (`factorize`). On a 1M-row day with five text columns that
was about 0.3 s of CPU, and the plain read itself cost twice the dictionary read.

`read_text` reads such a column dictionary-encoded, hands the stages the very Series a plain read
gives (same dtype, same values), and remembers its codes next to it. `isin`, `value_counts` and
`factorize` then work on the distinct values and gather by code; they return exactly what the
pandas call they replace returns, and fall back to that call for any column without codes (a
column of a CSV day, a converted or concatenated one). Codes are kept only when they fit in
16 bits, one or two bytes a row, and are forgotten with the column.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np
import pandas as pd

__all__ = ["TextCodes", "kept", "read_text", "remember", "text_codes", "isin", "value_counts", "factorize", "MAX_VALUES"]

MAX_VALUES = 2**15 - 1  # distinct values a kept code can name (int16); a column with more is read as before


@dataclass(frozen=True)
class TextCodes:
    codes: np.ndarray  # per row: its value's position in `values`, -1 for a null (int8 or int16)
    values: pd.Index  # the distinct values the codes name (of the column's dtype; some may not occur)


_lock = threading.Lock()
_scopes = 0  # open `kept()` blocks: codes are remembered only inside one
# the column's Arrow buffers (and where in them it starts, its length) -> (its Arrow array, its codes). The
# array is held so that its buffers cannot be freed and their addresses given to another column meanwhile;
# pandas wraps the same buffers in new array objects as the frame is copied (`assign`, `drop`), so the
# buffers, not the objects, say which column it is.
_known: dict[tuple, tuple[Any, TextCodes]] = {}


@contextmanager
def kept() -> Iterator[None]:
    """Codes are remembered inside this block (a run's reading and stages) and forgotten at its end."""
    global _scopes
    with _lock:
        _scopes += 1
    try:
        yield
    finally:
        with _lock:
            _scopes -= 1
            if _scopes == 0:
                _known.clear()


def read_text(chunked: Any, value_type: Any) -> tuple[pd.Series, Optional[TextCodes]]:
    """The column a plain read gives (`chunked`, read dictionary-encoded, cast back to `value_type`) and
    its codes (None: too many distinct values, or not read as a dictionary); `remember` them."""
    import pyarrow as pa

    # large_string: what pandas holds text in, so to_pandas takes the decoded buffers as they are
    s = chunked.cast(pa.large_string() if pa.types.is_string(value_type) else value_type).to_pandas()
    if chunked.num_chunks == 0 or not pa.types.is_dictionary(chunked.type):
        return s, None
    if chunked.num_chunks > 1:
        chunked = chunked.unify_dictionaries()  # one dictionary for every row group
    values = chunked.chunk(0).dictionary
    if _arrow(s) is None or len(values) > MAX_VALUES:
        return s, None
    dtype = np.int8 if len(values) < 2**7 else np.int16
    codes = np.empty(len(s), dtype=dtype)
    at = 0
    for c in chunked.chunks:
        codes[at : at + len(c)] = c.indices.fill_null(-1).to_numpy(zero_copy_only=False)
        at += len(c)
    return s, TextCodes(codes, pd.Index(values.cast(value_type).to_pandas(), dtype=s.dtype))


def remember(s: pd.Series, codes: TextCodes) -> None:
    """Keep `codes` for the column `s` until the end of the `kept()` block (nothing outside one)."""
    array = _arrow(s)
    if array is None or len(codes.codes) != len(s):
        return
    with _lock:
        if _scopes:
            _known[_key(array)] = (array, codes)


def _arrow(s: pd.Series) -> Any:
    """The Arrow array holding an Arrow-backed column's values."""
    return s.array.__arrow_array__() if isinstance(s.array, pd.arrays.ArrowExtensionArray) else None


def _key(array: Any) -> tuple:
    return tuple((c.offset, len(c), *(b.address if b is not None else 0 for b in c.buffers())) for c in array.chunks)


def text_codes(s: pd.Series) -> Optional[TextCodes]:
    """The codes remembered for this column (the same values in the same buffers, all its rows), or None."""
    if not _known:
        return None
    array = _arrow(s)
    if array is None:
        return None
    with _lock:
        entry = _known.get(_key(array))
    return entry[1] if entry is not None and len(entry[1].codes) == len(s) else None


def isin(s: pd.Series, values: Any) -> np.ndarray:
    """`s.isin(values).to_numpy(dtype=bool, na_value=False)`: the rows whose value is among `values`."""
    tc = text_codes(s)
    if tc is None:
        return s.isin(values).to_numpy(dtype=bool, na_value=False)
    hit = np.append(pd.Series(tc.values).isin(values).to_numpy(dtype=bool, na_value=False), False)
    return hit[tc.codes]  # code -1 (a null) reads the appended False


def _first_seen(tc: TextCodes) -> tuple[np.ndarray, np.ndarray]:
    """The codes that occur, in the order of their first row, and how many rows hold each."""
    order = pd.unique(tc.codes)  # in order of appearance (a hash of one or two bytes a row)
    order = order[order >= 0].astype(np.intp)
    return order, _counts(tc.codes, len(tc.values))[order]


def _counts(codes: np.ndarray, n: int, block: int = 1 << 16) -> np.ndarray:
    """How many rows hold each of the codes 0..n-1 (a -1 is no value), a block of rows at a time: bincount
    would widen the whole column to 8-byte integers first (8 MB per million rows, for a 1 MB column)."""
    out = np.zeros(n + 1, dtype=np.int64)
    for lo in range(0, codes.size, block):
        out += np.bincount(codes[lo : lo + block].astype(np.intp) + 1, minlength=n + 1)
    return out[1:]


def value_counts(s: pd.Series) -> tuple[list, np.ndarray]:
    """(values, counts) of `s.value_counts(dropna=True, sort=False)`: its index as a list, its counts."""
    tc = text_codes(s)
    if tc is None:
        vc = s.value_counts(dropna=True, sort=False)
        return vc.index.tolist(), vc.to_numpy()
    order, counts = _first_seen(tc)
    return tc.values.take(order).tolist(), counts.astype(np.int64)


def factorize(s: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """`pd.factorize(s)`: a code per row (-1 for a null) into the distinct values in order of first row."""
    tc = text_codes(s)
    if tc is None:
        return pd.factorize(s)
    order, _ = _first_seen(tc)
    rank = np.full(len(tc.values) + 1, -1, dtype=np.intp)
    rank[order] = np.arange(order.size, dtype=np.intp)
    return rank[tc.codes], tc.values.take(order)


def text_columns(schema: Any, names: Sequence[str]) -> list[str]:
    """The columns of an Arrow schema among `names` that hold text (string or large_string)."""
    import pyarrow as pa

    return [c for c in names if pa.types.is_string(schema.field(c).type) or pa.types.is_large_string(schema.field(c).type)]
