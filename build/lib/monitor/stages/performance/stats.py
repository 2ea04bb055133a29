"""Shared statistics for the performance stages: bootstrap, intervals, tests, FDR control.

The bootstrap is vectorised two ways, both exact resampling schemes rather than
approximations of one:

* `bootstrap_means`: Poisson(1) weights (the "Poisson bootstrap"). Rows are first
  dealt at random into at most `groups` groups and the groups are reweighted; for
  any statistic built from ratios of row sums (every confusion-matrix metric, log
  loss, Brier, MAE, RMSE, R2 ...) this has the same variance as reweighting rows,
  and costs B x groups instead of B x rows.
* `bootstrap_cells`: when a statistic only depends on counts per cell (score bin x
  label, for ROC AUC / PR AUC), Poisson-reweighting rows makes each cell count an
  independent Poisson(count) draw, so B replicates cost B x cells.
"""

from __future__ import annotations

import math
from functools import lru_cache
from statistics import NormalDist
from typing import Optional

import numpy as np

__all__ = [
    "bh_adjust",
    "bootstrap_means",
    "bootstrap_cells",
    "percentile_interval",
    "z_test_p_value",
    "normal_quantile",
]

DEFAULT_GROUPS = 2000


def bh_adjust(p_values) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values); NaN entries stay NaN and are not counted."""
    p = np.asarray(p_values, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    m = int(ok.sum())
    if m == 0:
        return out
    pv = p[ok]
    order = np.argsort(pv, kind="mergesort")
    ranked = pv[order] * m / np.arange(1, m + 1)
    q = np.minimum.accumulate(ranked[::-1])[::-1]
    adj = np.empty(m)
    adj[order] = np.minimum(q, 1.0)
    out[ok] = adj
    return out


def bootstrap_means(
    X: np.ndarray, n_boot: int, seed: int, *, groups: int = DEFAULT_GROUPS, group_ids: Optional[np.ndarray] = None
) -> np.ndarray:
    """B bootstrap replicates of the column means of X (n x k) -> (B x k).

    Poisson(1) weights over rows, or over `groups` random groups of rows when n is larger.
    `group_ids` (ints in [0, groups), drawn at random once per data set) saves drawing
    them again for every subset. A replicate whose total weight is 0 (tiny n) gets NaN.
    """
    X = np.asarray(X, dtype=float)
    if X.ndim == 1:
        X = X[:, None]
    n, k = X.shape
    rng = np.random.default_rng(seed)
    if n == 0 or n_boot <= 0:
        return np.full((max(n_boot, 0), k), np.nan)
    if n <= groups:
        sums, counts = X, np.ones(n)
    else:
        g = group_ids if group_ids is not None else rng.integers(0, groups, n)
        sums = np.empty((groups, k))
        for j in range(k):
            sums[:, j] = np.bincount(g, weights=X[:, j], minlength=groups)
        counts = np.bincount(g, minlength=groups).astype(float)
    W = poisson1_weights(rng, (n_boot, sums.shape[0]))
    tot = W @ counts
    with np.errstate(invalid="ignore", divide="ignore"):
        means = (W @ sums) / tot[:, None]
    means[tot == 0] = np.nan
    return means


def poisson1_weights(rng: np.random.Generator, shape: tuple) -> np.ndarray:
    """Poisson(1) draws by table lookup on 16 random bits (5x faster than rng.poisson).

    The table holds the Poisson(1) quantile of each of the 65536 equal-probability
    slices, so probabilities are exact to 1/65536.
    """
    return _poisson1_table()[rng.integers(0, 65536, size=shape, dtype=np.uint16)]


@lru_cache(maxsize=1)
def _poisson1_table() -> np.ndarray:
    cdf = np.cumsum([math.exp(-1) / math.factorial(k) for k in range(20)])
    return np.searchsorted(cdf, (np.arange(65536) + 0.5) / 65536).astype(float)


def bootstrap_cells(counts: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """B Poisson-bootstrap replicates of a table of cell counts: shape (B, *counts.shape).

    Cells with 30+ rows use the normal approximation of Poisson(count) (rounded):
    numpy's Poisson sampler is slow per call with an array of rates.
    """
    counts = np.asarray(counts, dtype=float)
    rng = np.random.default_rng(seed)
    shape = (n_boot, *counts.shape)
    big = counts >= 30
    out = np.empty(shape)
    if big.any():
        c = counts[big]
        out[:, big] = np.maximum(0.0, np.round(c + np.sqrt(c) * rng.standard_normal((n_boot, c.size))))
    if (~big).any():
        out[:, ~big] = rng.poisson(counts[~big], (n_boot, int((~big).sum())))
    return out


def normal_quantile(confidence: float) -> float:
    # statistics.NormalDist, not scipy.stats: importing scipy.stats costs ~1 s per process.
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def percentile_interval(
    replicates: np.ndarray, confidence: float, *, shift: float = 0.0
) -> tuple[Optional[float], Optional[float], Optional[float]]:
    """(low, high, standard error) of finite bootstrap replicates; Nones when fewer than 10 are finite.

    `shift` moves the interval when the replicates were computed on a coarsened
    version of the data (binned scores) whose point estimate differs from the exact one.
    """
    r = np.asarray(replicates, dtype=float)
    r = r[np.isfinite(r)]
    if r.size < 10:
        return None, None, None
    alpha = 1 - confidence
    lo, hi = np.quantile(r, [alpha / 2, 1 - alpha / 2])
    return float(lo + shift), float(hi + shift), float(r.std(ddof=1))


def z_test_p_value(delta: Optional[float], se_a: Optional[float], se_b: Optional[float]) -> Optional[float]:
    """Two-sided p-value of a difference of two independent estimates with standard errors."""
    if delta is None or se_a is None or se_b is None or not math.isfinite(delta):
        return None
    se = math.sqrt(se_a**2 + se_b**2)
    if se == 0:
        return 1.0 if delta == 0 else 0.0
    return float(math.erfc(abs(delta) / se / math.sqrt(2)))
