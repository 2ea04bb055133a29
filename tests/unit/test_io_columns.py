"""Streamed column reads (monitor/io/columns.py): numeric columns are read row group by row group
into one array, and must give the Series a whole-column `to_pandas()` gives."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from monitor.io.columns import ParquetColumns, _read_numeric


@pytest.fixture()
def files(tmp_path):
    rng = np.random.default_rng(0)
    paths = []
    for i, n in enumerate((2_503, 1_200)):
        f = rng.normal(size=n)
        f[rng.random(n) < 0.1] = np.nan
        table = pa.table({
            "f": pa.array(f, from_pandas=True),  # NaN become nulls in parquet
            "f32": pa.array(rng.normal(size=n).astype(np.float32)),
            "i": pa.array(rng.integers(-5, 9, n)),
            "i8": pa.array(rng.integers(0, 9, n).astype(np.int8)),
            "u": pa.array(rng.integers(0, 9, n).astype(np.uint32)),
            "b": pa.array(rng.random(n) < 0.5),
            "inull": pa.array([None] + list(range(n - 1)), pa.int64()),
            "bnull": pa.array([None] + [True] * (n - 1), pa.bool_()),
            "s": pa.array([f"v{x}" for x in range(n)]),
        })
        paths.append(tmp_path / f"part-{i}.parquet")
        pq.write_table(table, paths[-1], row_group_size=500)
    return paths


def _whole(paths, name):
    import pandas as pd

    parts = [pq.ParquetFile(p).read(columns=[name]).column(0).to_pandas() for p in paths]
    return pd.concat(parts, ignore_index=True)


@pytest.mark.parametrize("name", ["f", "f32", "i", "i8", "u", "b", "inull", "bnull", "s"])
def test_column_equals_the_whole_column_read(files, name):
    got = ParquetColumns(files).column(name)
    expected = _whole(files, name)
    assert got.dtype == expected.dtype
    assert got.index.equals(expected.index) and got.name == name
    assert got.equals(expected.rename(name))


def test_row_group_read_is_taken_for_numeric_columns_only(files):
    f = pq.ParquetFile(files[0])
    n = f.metadata.num_rows
    for name in ("f", "f32", "i", "i8", "u", "b"):  # must read row group by row group
        assert _read_numeric(f, name, n) is not None, name
    for name in ("inull", "bnull", "s"):  # must not: nulls in ints/bools change the dtype; text is objects
        assert _read_numeric(f, name, n) is None, name


def test_nulls_in_an_integer_column_without_statistics_fall_back(tmp_path):
    path = tmp_path / "nostats.parquet"
    pq.write_table(pa.table({"i": pa.array(list(range(900)) + [None], pa.int64())}), path, row_group_size=300, write_statistics=False)
    assert _read_numeric(pq.ParquetFile(path), "i", 901) is None
    got = ParquetColumns([path]).column("i")
    assert got.dtype == np.float64 and got.isna().sum() == 1 and got.iloc[899] == 899.0
