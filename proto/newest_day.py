"""The newest day on its own: is today's sample unusual for a day of this size?

A distance such as the normed Wasserstein is biased upwards at small n: for 165
rows drawn from the reference itself it is already about 0.06-0.1, so a fixed
threshold either misses an abrupt shift or alarms on every small day. Here the
statistic of the newest day is compared with its distribution under no change at
the same n, drawn by resampling the reference (Monte Carlo), and a column is
flagged only when both hold:

- it is improbable under no change: p (Benjamini-Hochberg over the columns) below
  `alpha` (default 0.001, so a healthy day alarms about once in three years), and
- it is material: the statistic reaches `min_effect` (default 0.1, the distance
  methods' threshold), so a large day does not alarm on a negligible change.

The reference is the profile's: numeric columns are resampled from `QUANTILES`
reference quantiles (the observed day is measured against the same quantiles, so
both sides share one yardstick); categorical and few-valued columns from the
reference shares. The resampling runs only for columns that reach `min_effect`:
on a quiet day it costs nothing. The p-value is the Monte Carlo one, with the
far tail from a gamma fitted to the draws (moments), where too few draws exceed
the observed value to resolve p.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["wasserstein_test", "js_distance", "js_null", "tail_p_value"]

ATOMS = 500  # at least this many reference quantiles measure a numeric day
MAX_N = 2000  # larger days: draws at this size, scaled
DRAWS = 400  # resamples of the reference per tested column
MIN_EXCEED = 10  # fewer draws above the observed value than this: p from the fitted gamma tail


def _quantiles(sorted_ref: np.ndarray, q: int) -> np.ndarray:
    """q equal-weight atoms of a sorted sample: its values at ranks (i + 0.5) * n / q."""
    n = sorted_ref.size
    return sorted_ref[np.minimum(((np.arange(q) + 0.5) * (n / q)).astype(np.int64), n - 1)].astype(np.float64)


def _block_wasserstein(atoms: np.ndarray, y_sorted: np.ndarray) -> np.ndarray:
    """W1 between q = n*r equal-weight atoms and sorted samples of n (rows of y_sorted), exactly.

    The quantile function of n values is constant on blocks of r atoms, so W1 is the mean of
    |y_k - atom| over the atoms of block k.
    """
    n = y_sorted.shape[-1]
    a = atoms.reshape(n, atoms.size // n)
    return np.abs(y_sorted[..., :, None] - a).mean(axis=(-1, -2))


def wasserstein_test(sorted_ref: np.ndarray, y_sorted: np.ndarray, draws: int, rng: np.random.Generator,
                     max_n: int = MAX_N) -> tuple[float, float]:
    """(W1, p): W1 of the day's sorted values against the reference, and P(W1 >= it) for a day of the
    same size drawn from the reference. Both sides are measured against the same n*r reference quantiles.
    Above `max_n` rows the draws are made at max_n and scaled by sqrt(max_n / n) (W1 ~ 1/sqrt(n)).
    """
    n = int(y_sorted.size)
    r = max(1, -(-ATOMS // n))
    observed = float(_block_wasserstein(_quantiles(sorted_ref, n * r), y_sorted))
    m = min(n, max_n)
    rm = max(1, -(-ATOMS // m))
    atoms = _quantiles(sorted_ref, m * rm)
    ys = np.sort(sorted_ref[rng.integers(0, sorted_ref.size, size=(draws, m))], axis=1)
    null = _block_wasserstein(atoms, ys) * math.sqrt(m / n)
    return observed, tail_p_value(observed, null)


def js_distance(p: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Jensen-Shannon distance (natural log) between shares p (k,) and rows of shares c (..., k)."""
    m = (p + c) / 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(p > 0, p * np.log(p / m), 0.0)
        b = np.where(c > 0, c * np.log(c / m), 0.0)
    js = (a.sum(axis=-1) + b.sum(axis=-1)) / 2.0
    return np.sqrt(np.maximum(js, 0.0))


def js_null(shares: np.ndarray, n: int, draws: int, rng: np.random.Generator) -> np.ndarray:
    """JS distance of `draws` samples of n values drawn with the reference shares, against those shares."""
    return js_distance(shares, _counts(shares.size, n, draws, rng, shares) / float(n))


def tail_p_value(observed: float, null: np.ndarray) -> float:
    """P(statistic >= observed) under no change, from Monte Carlo draws; gamma tail beyond them."""
    exceed = int(np.count_nonzero(null >= observed))
    if exceed >= MIN_EXCEED:
        return (exceed + 1.0) / (null.size + 1.0)
    mean, var = float(null.mean()), float(null.var())
    if var <= 0 or mean <= 0:
        return 1.0 if observed <= mean else 0.0
    from scipy.stats import gamma

    return float(min((exceed + 1.0) / (null.size + 1.0), gamma.sf(observed, mean * mean / var, scale=var / mean)))
