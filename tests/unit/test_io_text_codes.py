"""Text columns read dictionary-encoded: the same Series as a plain read, and `isin`, `value_counts` and
`factorize` by code equal to the pandas calls they replace."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from monitor.io import text_codes as T
from monitor.io.storage.tables import _read_parquet

VALUES = np.array(["a", "b", "", "é", "zz", "c0_1", "ü—x", None], dtype=object)


def _write(tmp_path, columns: dict, row_group_size: int):
    path = tmp_path / "day.parquet"
    pq.write_table(pa.table(columns), path, row_group_size=row_group_size)
    return path


def _plain(path, col: str) -> pd.Series:
    return pq.ParquetFile(path).read(columns=[col]).column(0).to_pandas()


@pytest.mark.parametrize("seed", range(12))
def test_by_code_equals_the_pandas_calls(tmp_path, seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 3000))
    pool = VALUES if seed % 3 else VALUES[[0, 7]]  # some columns: one value and nulls
    text = pa.array(pool[rng.integers(0, len(pool), n)], type=pa.string())
    path = _write(tmp_path, {"c": text, "x": pa.array(rng.normal(size=n))}, int(rng.integers(1, n + 1)))
    plain = _plain(path, "c")
    with T.kept():
        df = _read_parquet(path, None)
        s = df["c"]
        assert s.equals(plain) and s.dtype == plain.dtype
        assert s.array.__arrow_array__().type == plain.array.__arrow_array__().type
        assert T.text_codes(s) is not None
        assert T.text_codes(df.assign(y=1.0)["c"]) is not None  # a copy of the frame shares the buffers
        for seen in (pd.Index(["a", "é", "q"]), pd.Index([], dtype=object), pd.Index([""])):
            assert (T.isin(s, seen) == plain.isin(seen).to_numpy(dtype=bool, na_value=False)).all()
        vc = plain.value_counts(dropna=True, sort=False)
        values, counts = T.value_counts(s)
        assert values == vc.index.tolist() and counts.tolist() == vc.to_numpy().tolist()
        codes, uniques = T.factorize(s)
        want_codes, want_uniques = pd.factorize(plain)
        assert codes.dtype == want_codes.dtype and (codes == want_codes).all()
        assert uniques.equals(want_uniques) and uniques.dtype == want_uniques.dtype


def test_codes_are_kept_only_inside_kept_and_for_the_whole_column(tmp_path):
    path = _write(tmp_path, {"c": pa.array(["a", "b", None, "a"] * 50)}, 64)
    outside = _read_parquet(path, None)["c"]
    assert T.text_codes(outside) is None  # nothing remembered outside a run's block
    with T.kept():
        s = _read_parquet(path, None)["c"]
        assert T.text_codes(s) is not None
        assert T.text_codes(s.iloc[1:]) is None and T.text_codes(s[s.notna()]) is None  # other rows: no codes
        assert T.text_codes(s.astype(object)) is None
    assert T.text_codes(s) is None  # forgotten at the block's end
    assert not T._known


def test_a_column_of_too_many_values_and_other_columns_fall_back_to_pandas(tmp_path, monkeypatch):
    monkeypatch.setattr(T, "MAX_VALUES", 3)
    path = _write(tmp_path, {"c": pa.array(["a", "b", "c", "d", None]), "n": pa.array([1, 2, 3, 4, 5])}, 5)
    with T.kept():
        df = _read_parquet(path, None)
        assert T.text_codes(df["c"]) is None and T.text_codes(df["n"]) is None
        assert (T.isin(df["c"], ["a"]) == [True, False, False, False, False]).all()
        assert T.value_counts(df["n"])[0] == [1, 2, 3, 4, 5]
        codes, uniques = T.factorize(df["c"])
        assert codes.tolist() == [0, 1, 2, 3, -1] and uniques.tolist() == ["a", "b", "c", "d"]


def test_block_counts_equal_bincount():
    codes = np.random.default_rng(3).integers(-1, 40, 200_001).astype(np.int8)
    want = np.bincount(codes[codes >= 0].astype(np.intp), minlength=40)
    assert (T._counts(codes, 40, block=1000) == want).all()
