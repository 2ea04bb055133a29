"""A streamed frame's column as codes (`ColumnFrame.codes`): the rows' values exactly as `pd.factorize`
of the read column gives them, a text column read dictionary-encoded (not through the column read),
and the cohorts of a streamed baseline equal to those of the same baseline in memory."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from monitor.config import CohortConfig
from monitor.io.columns import ColumnFrame, ParquetColumns
from monitor.stages.cohort_partitions import cohort_partitions
from tests.support.column_reads import spied_columns


def _values(codes: np.ndarray, values) -> list:
    vals = list(values)
    return [None if k < 0 else vals[k] for k in codes]


def _plain(s: pd.Series) -> list:
    return [None if pd.isna(v) else v for v in s]


def _files(tmp_path) -> ColumnFrame:
    """Two files: row groups with their own dictionaries, nulls, a column missing from one file."""
    a = pa.table({"s": pa.array(["b", None, "a", "b", "c"]), "i": pa.array([1, 2, None, 1, 3]), "only_a": pa.array(["x"] * 5)})
    b = pa.table({"s": pa.array(["z", "a", None], pa.large_string()), "i": pa.array([5, 1, 1])})  # as pandas writes text
    pq.write_table(a, tmp_path / "a.parquet", row_group_size=2)
    pq.write_table(b, tmp_path / "b.parquet")
    return ColumnFrame(ParquetColumns([tmp_path / "a.parquet", tmp_path / "b.parquet"]))


@pytest.mark.parametrize("reader", ["dictionary", "plain"])
@pytest.mark.parametrize("col", ["s", "i", "only_a"])
def test_codes_give_each_row_its_value_as_the_read_column_does(tmp_path, col, reader, monkeypatch):
    if reader == "plain":  # a source with one reader only (an open file object): encoded after the read
        monkeypatch.setattr(ParquetColumns, "_dictionary_file", lambda self, i: self._files[i])
    cf = _files(tmp_path)
    codes, values = cf.codes(col)
    assert _values(codes, values) == _plain(cf[col])
    assert len(set(values)) == len(values)  # each distinct value once
    rows = np.array([True, False, True, True, False, True, True, False])
    sub_codes, sub_values = cf[rows].codes(col)
    assert _values(sub_codes, sub_values) == _plain(cf[rows][col])


def test_a_text_column_is_read_as_a_dictionary_and_an_added_column_from_memory(tmp_path):
    path = tmp_path / "t.parquet"
    pd.DataFrame({"s": ["p", "q", None, "p"], "x": [1.0, 2.0, 3.0, 4.0]}).to_parquet(path, index=False)
    src, reads = spied_columns(path)
    cf = ColumnFrame(src)
    codes, values = cf.codes("s")
    assert _values(codes, values) == ["p", "q", None, "p"] and reads == []  # no string per row was made
    cf.codes("x")
    assert reads == ["x"]  # any other type: the column, factorized
    cf["added"] = np.array(["u", "v", "u", None], dtype=object)
    codes, values = cf.codes("added")
    assert _values(codes, values) == ["u", "v", "u", None] and reads == ["x"]
    with pytest.raises(KeyError):
        cf.codes("nope")


def test_columns_index_follows_added_columns(tmp_path):
    cf = _files(tmp_path)
    assert list(cf.columns) == ["s", "i", "only_a"] and cf.columns is cf.columns  # built once
    cf["new"] = np.zeros(8)
    assert "new" in cf.columns and list(cf.columns) == ["s", "i", "only_a", "new"]


def test_cohorts_of_a_streamed_baseline_equal_those_in_memory(tmp_path):
    rng = np.random.default_rng(3)
    n = 5000
    region = rng.choice(["north", "south", "east", "west", "mars"], n).astype(object)
    region[rng.random(n) < 0.02] = None
    base = pd.DataFrame({"region": region, "k": rng.integers(0, 4, n)})
    path = tmp_path / "base.parquet"
    pq.write_table(pa.Table.from_pandas(base, preserve_index=False), path, row_group_size=1000)
    streamed = ColumnFrame(ParquetColumns([path]))
    in_memory = streamed.to_pandas()
    cur = pd.DataFrame({"region": rng.choice(["south", "north", "east", "venus"], 800), "k": rng.integers(0, 5, 800)})
    cohorts = [CohortConfig(column="region"), CohortConfig(column="k")]
    for max_values in (50, 2):  # every value its cohort; the two most frequent and "other"
        want, werr = cohort_partitions(cur, in_memory, cohorts, max_values=max_values)
        got, gerr = cohort_partitions(cur, streamed, cohorts, max_values=max_values)
        assert gerr == werr and [p.names for p in got] == [p.names for p in want]
        for g, w in zip(got, want):
            assert np.array_equal(g.current, w.current) and np.array_equal(g.baseline, w.baseline)
            assert g.baseline.dtype == w.baseline.dtype
    assert (want[0].baseline == -1).sum() == (~base["region"].isin(cur["region"])).sum()  # not in the window (or null): none


def test_text_columns_of_string_and_large_string_files_are_read_as_dictionaries(tmp_path):
    cf = _files(tmp_path)
    reads: list[str] = []
    read = cf._src._read
    cf._src._read = lambda name: reads.append(name) or read(name)
    codes, values = cf.codes("s")
    assert reads == [] and _values(codes, values) == ["b", None, "a", "b", "c", "z", "a", None]
    assert codes.dtype == np.int32 and sorted(values) == ["a", "b", "c", "z"]
