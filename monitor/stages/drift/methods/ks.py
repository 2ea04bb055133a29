"""Kolmogorov-Smirnov: two sorted samples, D bit-equal to scipy's, scipy's p-value."""

from __future__ import annotations

import numpy as np

from monitor.stages.drift.methods.base import NUMERIC, Method
from monitor.stages.drift.pair import Pair

__all__ = ["METHOD", "ks_sorted", "ks_effect"]

KS_EXACT_UP_TO = 10000  # scipy ks_2samp(method="auto"): exact p-value when both samples are this small


def ks_sorted(x: np.ndarray, y: np.ndarray, block: int = 1 << 13) -> float:
    """Two-sided KS statistic D of two sorted samples, bit-equal to scipy's (asymptotic-mode) value.

    F - G peaks just before a current value (x counts `left`) and G - F at a current value
    (x counts `right`), so two searches of the current values in the reference suffice; they
    run in cache-sized blocks of current values against the matching slice of the reference.
    Each candidate is a/n1 - b/n2 with scipy's integer counts, so D is the same float.
    """
    n1, n2 = x.size, y.size
    d_plus, d_minus = 0.0, -1.0  # max(F - G) over the data (>= 0: both reach 1), max(G - F)
    for lo in range(0, n2, block):
        hi = min(lo + block, n2)
        yb = y[lo:hi]
        a = int(np.searchsorted(x, yb[0], "left"))
        xs = x[a:int(np.searchsorted(x, yb[-1], "right"))]
        f = np.searchsorted(xs, yb, "left")
        f += a
        v = f / n1
        v -= np.arange(lo, hi, dtype=np.float64) / n2
        d_plus = max(d_plus, float(v.max()))
        f = np.searchsorted(xs, yb, "right")
        f += a
        v = np.arange(lo + 1, hi + 1, dtype=np.float64) / n2
        v -= f / n1
        d_minus = max(d_minus, float(v.max()))
    d_minus = min(max(d_minus, 0.0), 1.0)
    return d_minus if d_minus > d_plus else d_plus


def ks(p: Pair):
    from scipy import stats

    n1, n2 = p.x.size, p.y.size
    if max(n1, n2) <= KS_EXACT_UP_TO:
        # exact distribution (and scipy's lattice-rounded D): scipy's own code on the small samples
        r = stats.ks_2samp(p.x, p.y)
        return float(r.statistic), float(r.pvalue), float(r.statistic)
    stat = ks_sorted(p.x, p.y)
    m, n = sorted([float(n1), float(n2)], reverse=True)
    en = m * n / (m + n)
    pv = float(np.clip(stats.kstwo.sf(stat, np.round(en)), 0, 1))
    return stat, pv, stat


def ks_effect(p: Pair) -> float:
    return ks_sorted(p.x, p.y)


METHOD = Method("ks", "K-S", "p_value", None, NUMERIC, ks, effect="D")
