"""How drift spends its threads: the domain classifier beside the column tests (in memory) or after them
(a streamed day, read once), scikit-learn imported in the background, W1 in blocks."""

from __future__ import annotations

import sys
import threading

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from monitor.config import DriftConfig
from monitor.io import columns as io_columns
from monitor.io.columns import ColumnFrame, ParquetColumns
from monitor.stages.drift import detect_drift, detection, fit_profile, multivariate, wasserstein_sorted
from monitor.stages.drift.gil import SHARED_SWITCH_INTERVAL, sharing_the_gil

KINDS = {"a": "numerical", "b": "numerical", "k": "categorical"}


def _frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    a = rng.normal(size=n)
    return pd.DataFrame({"a": a, "b": a + rng.normal(scale=0.3, size=n), "k": rng.choice(["x", "y", "z"], n)})


def _spy_classifier(monkeypatch) -> list[str]:
    """The names of the threads the (real) domain classifier ran on."""
    threads: list[str] = []
    real = detection.multivariate_drift

    def spy(*args, **kw):
        threads.append(threading.current_thread().name)
        return real(*args, **kw)

    monkeypatch.setattr(detection, "multivariate_drift", spy)
    return threads


def test_classifier_fits_beside_the_columns_in_memory_and_after_them_on_a_streamed_day(tmp_path, monkeypatch):
    cfg = DriftConfig(workers=2, multivariate={"max_rows": 500, "folds": 3})
    prof = fit_profile(_frame(4000, 0), KINDS, cfg)
    current = _frame(3000, 1)
    threads = _spy_classifier(monkeypatch)
    interval = sys.getswitchinterval()
    in_memory = detect_drift(prof, current, cfg).to_dict()
    multivariate._wait_for_import()
    assert sys.getswitchinterval() == interval  # shortened while the classifier ran beside the columns only
    assert len(threads) == 1 and threads[0].startswith("drift-classifier")
    assert in_memory["multivariate"]["statistic"] is not None

    # a streamed day: every column read once (nothing cached), the sample taken by the column pass
    path = tmp_path / "day.parquet"
    current.to_parquet(path, index=False)
    monkeypatch.setattr(io_columns, "_CACHE_BYTES", 0)
    reads: list[str] = []
    real_read = ParquetColumns._read
    monkeypatch.setattr(ParquetColumns, "_read", lambda self, name: reads.append(name) or real_read(self, name))
    streamed = detect_drift(prof, ColumnFrame(ParquetColumns([path])), cfg).to_dict()
    assert threads[1] == threading.current_thread().name
    assert sorted(reads) == ["a", "b", "k"]
    assert streamed == in_memory  # the same sample, the same fit


def test_import_shortens_the_switch_interval_while_it_runs_and_puts_it_back(tmp_path, monkeypatch):
    (tmp_path / "drift_probe_plain.py").write_text("import sys\nSEEN = sys.getswitchinterval()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(multivariate, "_SKLEARN", ("drift_probe_plain",))
    before = sys.getswitchinterval()
    try:
        multivariate._import_sklearn()
        assert abs(sys.modules["drift_probe_plain"].SEEN - SHARED_SWITCH_INTERVAL) < 2e-6 < before / 10
        assert sys.getswitchinterval() == before
    finally:
        sys.modules.pop("drift_probe_plain", None)


def test_sharing_the_gil_is_counted_and_keeps_a_change_made_meanwhile():
    before = sys.getswitchinterval()
    try:
        with sharing_the_gil():
            with sharing_the_gil():
                short = sys.getswitchinterval()
                assert abs(short - SHARED_SWITCH_INTERVAL) < 2e-6
            assert sys.getswitchinterval() == short  # the outer holder still runs
        assert sys.getswitchinterval() == before
        with sharing_the_gil():
            sys.setswitchinterval(0.0123)  # someone else's setting: kept
        assert sys.getswitchinterval() == 0.0123
    finally:
        sys.setswitchinterval(before)


def test_prefetch_starts_one_import_and_none_once_imported(tmp_path, monkeypatch):
    (tmp_path / "drift_probe_slow.py").write_text("import time\ntime.sleep(0.2)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(multivariate, "_SKLEARN", ("drift_probe_slow",))
    monkeypatch.setattr(multivariate, "_prefetch", None)
    try:
        first = multivariate.prefetch_classifier()
        assert first is not None and first.is_alive()
        assert multivariate.prefetch_classifier() is first  # not a second import
        multivariate._wait_for_import()
        assert "drift_probe_slow" in sys.modules and multivariate.prefetch_classifier() is None
    finally:
        sys.modules.pop("drift_probe_slow", None)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(-5, 5), min_size=1, max_size=60),
    st.lists(st.integers(-5, 8), min_size=1, max_size=60),
    st.integers(1, 70),
)
def test_wasserstein_sorted_any_block_size(a, b, block):
    x = np.sort(np.asarray(a, dtype=float) / 2)
    y = np.sort(np.asarray(b, dtype=float) / 3)
    assert abs(wasserstein_sorted(x, y, block) - stats.wasserstein_distance(x, y)) < 1e-12


def test_wasserstein_sorted_on_shared_grid_points_across_blocks():
    rng = np.random.default_rng(5)
    for n1, n2 in [(1000, 500), (600, 900), (4096, 4096), (3, 70_000)]:  # many common multiples
        x, y = np.sort(rng.normal(size=n1)), np.sort(rng.normal(0.2, size=n2))
        want = stats.wasserstein_distance(x, y)
        assert abs(wasserstein_sorted(x, y, 64) - want) < 1e-12 * max(1.0, want)
        assert abs(wasserstein_sorted(x, y) - want) < 1e-12 * max(1.0, want)


def test_numeric_of_plain_numpy_columns_equals_the_pandas_path_and_owns_its_values():
    from monitor.stages.drift.columns import numeric

    values = [1.5, np.nan, np.inf, -2.0, -np.inf, 3.0]
    cases = [
        (pd.Series(values), (1, 2)),  # float64: the fast path, NaN and inf dropped and counted
        (pd.Series(values, dtype="float32"), (1, 2)),
        (pd.Series([3, 1, 2]), (0, 0)),  # int64: integer, nothing dropped
        (pd.Series([2.0, 1.0]), (0, 0)),  # float64 without nulls: still a copy
        (pd.Series([1.5, None, 3.0], dtype="Float64"), (1, 0)),  # a pandas NA: the general path
        (pd.Series([True, False, True]), (0, 0)),
    ]
    for s, (n_null, n_inf) in cases:
        got = numeric(s)
        want = s.to_numpy(dtype=np.float64, na_value=np.nan)
        want = want[np.isfinite(want)]
        assert (got.n_null, got.n_inf) == (n_null, n_inf), s.dtype
        assert got.values.dtype == np.float64 and got.values.tolist() == want.tolist(), s.dtype
        assert got.integer == (s.dtype.kind == "i")
        got.values.sort()  # the caller sorts in place: never the column's own memory
        assert got.values.flags.writeable and not np.shares_memory(got.values, s.to_numpy())


def test_newest_day_is_measured_in_the_column_threads_with_the_same_result(monkeypatch):
    from monitor.stages.drift import Day
    from monitor.stages.drift import newest_day as nd

    cfg = DriftConfig(workers=2, multivariate={"enabled": False})
    prof = fit_profile(_frame(4000, 0), KINDS, cfg)
    window = _frame(3000, 1)
    day = Day("2026-03-10", window.iloc[2000:].assign(a=window["a"].iloc[2000:] + 1.0))  # a shifted newest day
    threads: list[str] = []
    real = detection.day_column
    monkeypatch.setattr(detection, "day_column",
                        lambda *a, **k: threads.append(threading.current_thread().name) or real(*a, **k))
    fallback: list[str] = []
    real_nd = nd.day_column
    monkeypatch.setattr(nd, "day_column", lambda p, c, *a, **k: fallback.append(c) or real_nd(p, c, *a, **k))
    got = detect_drift(prof, window, cfg, newest_day=day).newest_day
    assert len(threads) == 3
    assert threading.current_thread().name not in threads and fallback == []  # in the pool, none left over
    assert got is not None and got.drifted == ["a"]
    assert got == nd.newest_day_drift(prof, day, list(KINDS), cfg)  # measured alone: the same
    assert fallback == list(KINDS)

    # too few rows on the day: nothing measured, the result says so
    threads.clear()
    small = detect_drift(prof, window, cfg, newest_day=Day("2026-03-10", window.iloc[:5])).newest_day
    assert threads == [] and small is not None and small.features == {} and "too few rows" in (small.note or "")
