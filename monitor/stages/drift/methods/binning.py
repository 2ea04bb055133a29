"""Shares by bin or by value, as Evidently's get_binned_data makes them."""

from __future__ import annotations

import numpy as np

from monitor.stages.drift.pair import Pair, hist_counts

__all__ = ["fill_zeroes", "sturges_edges", "binned_shares", "HIST_BY_COUNTS"]

HIST_BY_COUNTS = 20  # Evidently's get_binned_data: <= this many reference values -> counts, else Sturges bins


def fill_zeroes(a: np.ndarray) -> np.ndarray:
    nz = a[a != 0]
    lo = nz.min()
    a = a.copy()
    np.place(a, a == 0, lo / 10**6 if lo <= 0.0001 else 0.0001)
    return a


def sturges_edges(lo: float, hi: float, n: int, integer: bool) -> np.ndarray:
    """np.histogram_bin_edges(a, "sturges") from a's min, max and size."""
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    width = (hi - lo) / (np.log2(n) + 1.0)
    if width:
        if integer and width < 1:
            width = 1
        nbins = int(np.ceil((hi - lo) / width))
    else:
        nbins = 1
    return np.linspace(lo, hi, nbins + 1, endpoint=True)


def binned_shares(p: Pair):
    """Evidently's get_binned_data: shares by value when the reference has <= 20 values, else Sturges bins."""
    if p.kind == "numerical" and p.ref.n_unique > HIST_BY_COUNTS:
        lo = min(p.x[0], p.y[0])
        hi = max(p.x[-1], p.y[-1])
        edges = sturges_edges(float(lo), float(hi), p.x.size + p.y.size, p.integer)
        return hist_counts(p.x, edges) / p.x.size, hist_counts(p.y, edges) / p.y.size
    _, rc, cc = p.counts()
    return rc / p.n_ref, cc / p.n_cur
