"""The quality stage learns what a streamed column holds from the parquet schema when the type decides it,
without reading the column, and reads it when only the values can tell (object and categorical columns)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from monitor.io.columns import ColumnFrame, ParquetColumns
from monitor.stages.quality.coltypes import _kind, _kind_of


class CountingColumns(ParquetColumns):
    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.reads: list[str] = []

    def _read(self, name):
        self.reads.append(name)
        return super()._read(name)


def _frame(tmp_path, tables: list[pa.Table]) -> tuple[ColumnFrame, CountingColumns]:
    paths = []
    for i, t in enumerate(tables):
        paths.append(tmp_path / f"part-{i}.parquet")
        pq.write_table(t, paths[-1])
    src = CountingColumns(paths)
    return ColumnFrame(src), src


def test_kinds_from_the_schema_equal_kinds_from_the_values_and_read_nothing(tmp_path):
    n = 6
    table = pa.table({
        "f": pa.array([0.5, None, 2.0, 3.0, np.nan, 1.0]),
        "i_nulls": pa.array([1, None, 3, 4, 5, 6], pa.int64()),  # read as float64: still numeric
        "b_nulls": pa.array([True, None, False, True, True, False]),  # read as object: still bool
        "s": pa.array(["a", None, "b", "c", "a", "b"]),
        "t": pa.array(pd.date_range("2026-01-01", periods=n, tz="UTC")),
    })
    cf, src = _frame(tmp_path, [table])
    for col in table.column_names:
        assert _kind_of(cf, col) == _kind(table.column(col).to_pandas()), col
    assert src.reads == []
    # an in-memory DataFrame is looked at as before
    df = table.to_pandas()
    assert [_kind_of(df, c) for c in df.columns] == [_kind(df[c]) for c in df.columns]


@pytest.mark.parametrize("case", ["dictionary", "files_disagree", "missing_in_a_file", "all_null"])
def test_the_values_decide_when_the_schema_cannot(tmp_path, case):
    if case == "dictionary":
        tables = [pa.table({"x": pa.array(["1", "2"]).dictionary_encode()})]
    elif case == "files_disagree":  # int in one file, strings in the other: the concatenated column is mixed
        tables = [pa.table({"x": pa.array([1, 2])}), pa.table({"x": pa.array(["a", "b"])})]
    elif case == "missing_in_a_file":
        tables = [pa.table({"x": pa.array([1.0, 2.0]), "y": pa.array([1, 2])}), pa.table({"y": pa.array([3, 4])})]
    else:
        tables = [pa.table({"x": pa.array([None, None], pa.null())})]
    cf, src = _frame(tmp_path, tables)
    assert cf.schema_dtype("x") is None
    assert _kind_of(cf, "x") == _kind(cf["x"])
    assert src.reads.count("x") >= 1


def test_added_columns_and_unknown_names(tmp_path):
    cf, src = _frame(tmp_path, [pa.table({"x": pa.array([1.0, 2.0])})])
    cf["target"] = np.array([0, 1])
    assert _kind_of(cf, "target") == "numeric" and src.reads == []
    with pytest.raises(KeyError):
        cf.schema_dtype("nope")
