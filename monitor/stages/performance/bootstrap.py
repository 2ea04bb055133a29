"""The Poisson bootstrap over cells, for the statistics with no analytic interval (PR AUC, CBPE).

When a statistic only depends on counts per cell (score bin x label),
Poisson-reweighting rows makes each cell count an independent Poisson(count)
draw, so B replicates cost B x cells, whatever the number of rows.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

__all__ = ["bootstrap_cells", "score_bins", "coarsen", "coarsen_counts", "replicate_se"]


def bootstrap_cells(counts: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """B Poisson-bootstrap replicates of a table of cell counts: shape (B, *counts.shape).

    Cells with 30+ rows use the normal approximation of Poisson(count) (rounded):
    numpy's Poisson sampler is slow per call with an array of rates.
    """
    counts = np.asarray(counts, dtype=float)
    rng = np.random.default_rng(seed)
    shape = (n_boot, *counts.shape)
    big = counts >= 30
    if big.all():
        out = rng.standard_normal(shape)
        out *= np.sqrt(counts)
        out += counts
        np.round(out, out=out)
        return np.maximum(out, 0.0, out=out)
    out = np.empty(shape)
    if big.any():
        c = counts[big]
        out[:, big] = np.maximum(0.0, np.round(c + np.sqrt(c) * rng.standard_normal((n_boot, c.size))))
    if (~big).any():
        out[:, ~big] = rng.poisson(counts[~big], (n_boot, int((~big).sum())))
    return out


def score_bins(score: np.ndarray, max_bins: Optional[int]) -> tuple[np.ndarray, int]:
    """Bin index per row, ascending in score: the unique values, merged by rank down to max_bins."""
    _, inv = np.unique(score, return_inverse=True)
    k = int(inv.max()) + 1 if inv.size else 0
    return coarsen(inv, k, max_bins)


def coarsen(inv: np.ndarray, k: int, max_bins: Optional[int]) -> tuple[np.ndarray, int]:
    if max_bins is None or k <= max_bins:
        return inv, k
    return (inv * max_bins) // k, max_bins


def coarsen_counts(pos: np.ndarray, neg: np.ndarray, max_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Counts per distinct score merged by rank into at most max_bins cells."""
    b, k = coarsen(np.arange(pos.size), pos.size, max_bins)
    return np.bincount(b, weights=pos, minlength=k), np.bincount(b, weights=neg, minlength=k)


def replicate_se(replicates: np.ndarray) -> Optional[float]:
    """Standard deviation of the finite replicates; None when fewer than 10 are finite."""
    r = np.asarray(replicates, dtype=float)
    r = r[np.isfinite(r)]
    return float(r.std(ddof=1)) if r.size >= 10 else None
