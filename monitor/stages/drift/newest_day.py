"""The newest day on its own: is today's sample unusual for a day of this size?

A window of 30 days moves slowly: an abrupt shift on its last day is a thirtieth of it.
The newest day alone is small, and a distance is biased upwards at small n: 165 rows
drawn from the reference itself are already at a normed Wasserstein of about 0.06-0.1,
so a fixed threshold would either miss the shift or alarm on every small day. Here the
day's distance is compared with its distribution under no change at the same n, drawn
by resampling the reference (Monte Carlo), and a column is flagged only when both hold:

- improbable under no change: p, adjusted over the columns (Benjamini-Hochberg), below
  `newest_day.alpha` (default 0.001: a healthy day alarms about once in three years);
- material: the distance reaches `newest_day.min_effect` (default 0.1, the distance
  methods' threshold), so a large day does not alarm on a negligible change.

The reference is a sample too: two samples of n and m values from one distribution are
further apart than n values from the reference are from the reference itself, by
sqrt(1 + n / m) for these distances (the asymptotic null of the two-sample distance is
the one-sample one at n m / (n + m) values), so the draws are scaled by it. `sample_p_value`
is the same test for any sample against its reference; the window's distance methods use
it too (detection.py), so that a distance above its threshold alerts only when it is also
improbable at the window's size.

Numeric columns with more than a few values use the normed Wasserstein distance (W1 over
the reference standard deviation); categorical and few-valued ones the Jensen-Shannon
distance of the shares. The resampling runs only for columns that reach `min_effect`, so
a quiet day costs nothing beyond one pass over its values. The p-value is the Monte Carlo
one; where too few draws exceed the observed distance to resolve it, the tail comes from
a gamma distribution fitted to the draws (by moments).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np
import pandas as pd

from monitor.config import DriftConfig
from monitor.stages.drift.pair import FEW_VALUES, Pair, prepare
from monitor.stages.drift.profile import ColumnProfile, ReferenceProfile
from monitor.stages.drift.result import TOO_FEW, DayColumn, NewestDayDrift
from monitor.stages.performance.intervals import bh_adjust

__all__ = ["Day", "newest_day_drift", "day_column", "day_is_tested", "sample_p_value", "tail_p_value", "wasserstein_day", "wasserstein_null", "js_distance", "js_null"]

ATOMS = 500  # at least this many reference quantiles measure a numeric day
MAX_DRAW_ROWS = 2000  # larger days: the draws are made at this size and scaled by sqrt(size / n)
DAY_BLOCK = 1 << 20  # wasserstein_day works through a day's values in blocks of this many (bounded memory)
MIN_EXCEED = 10  # fewer draws above the observed distance than this: p from the fitted gamma tail


@dataclass(frozen=True)
class Day:
    """The newest day of the window: its date (YYYY-MM-DD) and its rows."""

    date: str
    frame: pd.DataFrame


def newest_day_drift(profile: ReferenceProfile, day: Day, columns: Sequence[str], config: DriftConfig, *,
                     done: Optional[Mapping[str, DayColumn]] = None) -> NewestDayDrift:
    """Each column of the newest day against the reference, at the day's own sample size.

    `done`: columns already measured by the caller with `day_column` (detect_drift does it in its
    column threads, right after the window's column, while a streamed day still has it cached)."""
    cfg = config.newest_day
    base: dict[str, Any] = dict(date=day.date, rows=int(len(day.frame)), alpha=cfg.alpha, min_effect=cfg.min_effect)
    if not day_is_tested(day, config):
        return NewestDayDrift(features={}, note=f"{TOO_FEW}: {len(day.frame)} < drift.min_rows {config.min_rows}", **base)
    done = done or {}
    raw = [done[c] if c in done else day_column(profile, c, day.frame[c], config) for c in columns if c in day.frame.columns]
    tested = [r for r in raw if r.p_value is not None]
    # untested columns (below min_effect) count as p = 1: the correction stays honest about how many were looked at
    adjusted = bh_adjust([r.p_value for r in tested] + [1.0] * (len(raw) - len(tested)))
    adj = {r.column: float(a) for r, a in zip(tested, adjusted)}
    out = {}
    for r in raw:
        p_adj = adj.get(r.column)
        drifted = p_adj is not None and p_adj < cfg.alpha and (r.statistic or 0.0) >= cfg.min_effect
        out[r.column] = DayColumn(r.column, r.method, r.statistic, r.p_value, p_adj, bool(drifted), r.n, r.note)
    return NewestDayDrift(features=out, **base)


def day_is_tested(day: Day, config: DriftConfig) -> bool:
    """The day has rows enough for its columns to be measured (else the result only says so)."""
    return len(day.frame) >= config.min_rows


def day_column(profile: ReferenceProfile, column: str, s: pd.Series, config: DriftConfig) -> DayColumn:
    """One column of the newest day: its distance and p before the correction over the columns."""
    cp = profile.columns[column]
    pair, _, _ = prepare(cp, s)
    n = pair.n_cur
    numeric = cp.kind == "numerical" and cp.n_unique > FEW_VALUES and cp.std is not None
    method = "wasserstein" if numeric else "jensenshannon"
    if pair.n_ref == 0 or n < config.min_rows:
        return DayColumn(column, method, None, None, None, False, n, f"{TOO_FEW}: {n} values" if n < config.min_rows else None)
    _, stat, p = sample_p_value(cp, pair, config.newest_day.draws, config.newest_day.min_effect)
    return DayColumn(column, method, stat, p, None, False, n)


def sample_p_value(cp: ColumnProfile, pair: Pair, draws: int, min_effect: float = 0.0) -> tuple[str, float, Optional[float]]:
    """(method, distance, p) of the current values in `pair` against the reference, at their own size.

    The distance is the normed Wasserstein (numeric columns with more than a few values) or
    the Jensen-Shannon distance of the shares; p is P(distance >= observed) for a sample of
    this size from the reference's distribution, with the reference's own sampling noise
    (draws scaled by sqrt(1 + n / m)). p is None (not resampled) when the distance is below
    `min_effect`, or when there are no values.
    """
    n, m = pair.n_cur, pair.n_ref
    numeric = cp.kind == "numerical" and cp.n_unique > FEW_VALUES and cp.std is not None
    method = "wasserstein" if numeric else "jensenshannon"
    if n == 0 or m == 0:
        return method, math.nan, None
    rng = np.random.default_rng(zlib.crc32(cp.name.encode("utf-8")))
    two_sample = math.sqrt(1.0 + n / m)
    if numeric:
        scale = max(float(cp.std or 0.0), 0.001)
        ref = cp.sorted_values()
        stat = wasserstein_day(ref, pair.y) / scale
        if stat < min_effect:
            return method, stat, None
        return method, stat, tail_p_value(stat, wasserstein_null(ref, n, draws, rng) * (two_sample / scale))
    shares, cur = _shares(pair)
    stat = float(js_distance(shares, cur))
    if stat < min_effect:
        return method, stat, None
    return method, stat, tail_p_value(stat, js_null(shares, n, draws, rng) * two_sample)


def _shares(pair: Pair) -> tuple[np.ndarray, np.ndarray]:
    _, rc, cc = pair.counts()
    return rc / float(rc.sum()), cc / float(cc.sum())


def _quantiles(sorted_ref: np.ndarray, q: int) -> np.ndarray:
    """q equal-weight atoms of a sorted sample: its values at ranks (i + 0.5) * n / q."""
    n = sorted_ref.size
    return sorted_ref[np.minimum(((np.arange(q) + 0.5) * (n / q)).astype(np.int64), n - 1)].astype(np.float64, copy=False)


def _block_wasserstein(atoms: np.ndarray, y_sorted: np.ndarray) -> np.ndarray:
    """W1 between q = n*r equal-weight atoms and sorted samples of n values (the last axis), exactly:
    the quantile function of n values is constant on blocks of r atoms."""
    n = y_sorted.shape[-1]
    a = atoms.reshape(n, atoms.size // n)
    d = y_sorted[..., :, None] - a
    return np.abs(d, out=d).mean(axis=(-1, -2))


def wasserstein_day(sorted_ref: np.ndarray, y_sorted: np.ndarray) -> float:
    """W1 of a day's sorted values against n*r (>= ATOMS) reference quantiles, the yardstick of the draws.

    Computed in blocks of DAY_BLOCK values: a window of 50M rows would otherwise hold three
    temporaries of its size (ranks, atoms, differences; 1.2 GB per column)."""
    n = int(y_sorted.size)
    q = n * max(1, -(-ATOMS // n))
    if q <= DAY_BLOCK:
        return float(_block_wasserstein(_quantiles(sorted_ref, q), y_sorted))
    size, r = sorted_ref.size, q // n  # q > DAY_BLOCK >= ATOMS, so r == 1 here; kept general
    total = 0.0
    for start in range(0, n, DAY_BLOCK):
        stop = min(n, start + DAY_BLOCK)
        # the same ranks _quantiles takes, a slice of them at a time
        ranks = np.minimum(((np.arange(start * r, stop * r) + 0.5) * (size / q)).astype(np.int64), size - 1)
        atoms = sorted_ref[ranks].astype(np.float64).reshape(stop - start, r)
        total += float(np.abs(y_sorted[start:stop, None] - atoms).sum())
    return total / q


def wasserstein_null(sorted_ref: np.ndarray, n: int, draws: int, rng: np.random.Generator) -> np.ndarray:
    """W1 (as `wasserstein_day` measures it) of `draws` days of n values drawn from the reference.

    Above MAX_DRAW_ROWS the days are drawn at that size and scaled by sqrt(size / n) (W1 ~ 1/sqrt(n))."""
    m = min(n, MAX_DRAW_ROWS)
    atoms = _quantiles(sorted_ref, m * max(1, -(-ATOMS // m)))
    days = np.sort(sorted_ref[rng.integers(0, sorted_ref.size, size=(draws, m))], axis=1)
    return _block_wasserstein(atoms, days) * math.sqrt(m / n)


def js_distance(p: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Jensen-Shannon distance (natural log) between shares p (k,) and shares c (..., k)."""
    m = (p + c) / 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(p > 0, p * np.log(p / m), 0.0)
        b = np.where(c > 0, c * np.log(c / m), 0.0)
    return np.sqrt(np.maximum((a.sum(axis=-1) + b.sum(axis=-1)) / 2.0, 0.0))


def js_null(shares: np.ndarray, n: int, draws: int, rng: np.random.Generator) -> np.ndarray:
    """JS distance of `draws` days of n values drawn with the reference shares, against those shares."""
    return js_distance(shares, rng.multinomial(n, shares, size=draws) / float(n))


def tail_p_value(observed: float, null: np.ndarray) -> float:
    """P(distance >= observed) under no change, from Monte Carlo draws; a gamma tail beyond them."""
    exceed = int(np.count_nonzero(null >= observed))
    p_mc = (exceed + 1.0) / (null.size + 1.0)
    if exceed >= MIN_EXCEED:
        return p_mc
    mean, var = float(null.mean()), float(null.var())
    if var <= 0 or mean <= 0:
        return p_mc if observed <= mean else 0.0
    # the gamma survival function, sf(x; k, theta) = Q(k, x / theta): scipy.special, not scipy.stats
    # (importing scipy.stats costs ~1.5 s per process, and a drifted window column now comes here)
    from scipy.special import gammaincc

    return float(min(p_mc, gammaincc(mean * mean / var, observed / (var / mean))))
