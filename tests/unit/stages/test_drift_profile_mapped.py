"""The cached drift profile on local storage is memory-mapped, not read: a column's pages are resident
only while its test reads them. A damaged cache is still refitted, never trusted."""

from __future__ import annotations

import functools
import mmap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from monitor.config import DriftConfig
from monitor.errors import ObjectNotFoundError, StorageError
from monitor.io.outputs import cached_profile
from monitor.io.storage import LocalStorage
from monitor.stages.drift import ReferenceProfile, detect_drift, fit_profile
from tests.support.tiny import tiny_config

KINDS = {"a": "numerical", "b": "numerical", "k": "categorical"}
ROWS = 800_000  # 6.4 MB of sorted values per numeric column


def _reference(n: int = ROWS) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    return pd.DataFrame({"a": rng.normal(size=n), "b": rng.exponential(size=n), "k": rng.choice(list("xyz"), n)})


@functools.lru_cache(maxsize=2)
def _fitted(rows: int) -> ReferenceProfile:
    return fit_profile(_reference(rows), KINDS, DriftConfig())


def _cache(tmp_path: Path, cfg, rows: int = ROWS) -> tuple[Path, ReferenceProfile]:
    fitted = _fitted(rows)
    path = tmp_path / "out" / cfg.name / "_profiles" / "k.npz"
    path.parent.mkdir(parents=True)
    path.write_bytes(fitted.to_bytes())
    return path, fitted


def _resident_kb(address: int) -> int:
    """Rss (kB) of this process's mapping that holds `address`, from /proc/self/smaps."""
    inside = False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        head = line.split()[0]
        if "-" in head and not head.endswith(":"):
            lo, hi = (int(x, 16) for x in head.split("-"))
            inside = lo <= address < hi
        elif inside and head == "Rss:":
            return int(line.split()[1])
    raise AssertionError("no mapping holds the address")


def _address(arr: np.ndarray) -> int:
    return int(arr.__array_interface__["data"][0])


def test_local_cache_is_mapped_and_a_columns_pages_go_after_use(tmp_path):
    cfg = tiny_config(str(tmp_path))
    _, fitted = _cache(tmp_path, cfg)
    given: list[object] = []

    def load(buffer):
        given.append(buffer)
        return ReferenceProfile.from_bytes(buffer)

    profile, hit = cached_profile(cfg, "k", lambda: pytest.fail("the cache was valid: nothing to fit"), load, None)
    assert hit and profile.mapped and isinstance(given[0], mmap.mmap)
    values = profile.columns["a"].values
    assert values is not None and not values.flags.writeable
    column_kb = values.nbytes // 1024
    start = _resident_kb(_address(values))
    assert start < column_kb / 2  # loading read the header (and what the kernel maps around it), not the arrays
    assert float(values.sum()) == float(fitted.columns["a"].values.sum())
    assert _resident_kb(_address(values)) >= column_kb  # the column's pages, read by its use
    profile.release("a")
    assert _resident_kb(_address(values)) < column_kb / 4
    np.testing.assert_array_equal(values, fitted.columns["a"].values)  # still valid: paged in again


def test_results_from_the_mapped_profile_are_those_of_the_fitted_one(tmp_path):
    cfg, config = tiny_config(str(tmp_path)), DriftConfig()
    _, fitted = _cache(tmp_path, cfg, 20_000)
    profile, hit = cached_profile(cfg, "k", lambda: fitted, ReferenceProfile.from_bytes, None)
    assert hit and profile.mapped
    rng = np.random.default_rng(2)
    cur = pd.DataFrame({"a": rng.normal(0.2, size=5000), "b": rng.exponential(size=5000), "k": rng.choice(list("xyz"), 5000)})
    assert detect_drift(profile, cur, config).to_dict() == detect_drift(fitted, cur, config).to_dict()


def test_an_in_memory_profile_is_not_mapped_and_release_keeps_it(tmp_path):
    fitted = _fitted(20_000)
    back = ReferenceProfile.from_bytes(fitted.to_bytes())
    for p in (fitted, back):
        assert not p.mapped
        p.release("a")
        p.release("not a column")
        np.testing.assert_array_equal(p.columns["a"].values, fitted.columns["a"].values)


@pytest.mark.parametrize("damage", ["empty", "truncated", "garbage", "wrong magic"])
def test_a_damaged_local_cache_is_refitted_and_replaced(tmp_path, damage):
    cfg = tiny_config(str(tmp_path))
    path, fitted = _cache(tmp_path, cfg, 20_000)
    blob = path.read_bytes()
    path.write_bytes({"empty": b"", "truncated": blob[: len(blob) // 2], "garbage": b"\x00" * 5000,
                      "wrong magic": b"MDPROF\x00\x02" + blob[8:]}[damage])
    fits: list[int] = []
    profile, hit = cached_profile(cfg, "k", lambda: (fits.append(1), fitted)[1], ReferenceProfile.from_bytes, None)
    assert not hit and fits == [1] and profile is fitted
    assert path.read_bytes() == blob  # rewritten whole
    again, hit = cached_profile(cfg, "k", lambda: pytest.fail("the rewritten cache is valid"), ReferenceProfile.from_bytes, None)
    assert hit and again.mapped


def test_read_buffer_maps_local_files_read_only(tmp_path):
    st = LocalStorage()
    (tmp_path / "f").write_bytes(b"abc" * 5000)
    buf = st.read_buffer(str(tmp_path / "f"))
    assert isinstance(buf, mmap.mmap) and buf[:6] == b"abcabc" and len(buf) == 15000
    with pytest.raises(TypeError):
        buf[0:1] = b"x"  # read-only: a view of it can never change the cache
    with pytest.raises(ObjectNotFoundError, match="no such file"):
        st.read_buffer(str(tmp_path / "missing"))
    (tmp_path / "empty").write_bytes(b"")
    with pytest.raises(StorageError, match="cannot map"):
        st.read_buffer(str(tmp_path / "empty"))
