"""A parquet file read column by column (ParquetColumns) that records which columns it read, in order."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from monitor.io.columns import ParquetColumns


def spied_columns(path: Path) -> tuple[ParquetColumns, list[str]]:
    """The file's ParquetColumns, and the list every column read from it is appended to."""
    src = ParquetColumns([path])
    reads: list[str] = []
    read = src._read

    def spy(name: str) -> pd.Series:
        reads.append(name)
        return read(name)

    src._read = spy  # type: ignore[method-assign]
    return src, reads
