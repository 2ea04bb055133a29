"""Normed Wasserstein (Evidently's): W1 of the sorted samples over the reference's standard deviation."""

from __future__ import annotations

import numpy as np

from monitor.stages.drift.methods.base import NUMERIC, Method
from monitor.stages.drift.pair import Pair

__all__ = ["METHOD", "wasserstein_sorted"]


def wasserstein_sorted(x: np.ndarray, y: np.ndarray, block: int = 1 << 13) -> float:
    """First Wasserstein distance between two sorted samples, in linear time, no search.

    W1 = integral over t in [0, 1] of |Qx(t) - Qy(t)|: the empirical quantile functions are
    step functions on the grids k/n1 and k/n2, so the merged grid (in units of 1/(n1*n2)) and
    the quantile index on each of its segments follow from integer arithmetic. Equal to
    scipy.stats.wasserstein_distance (which integrates |F - G| over the merged data) up to
    the order of the floating-point sum. Worked in cache-sized blocks: memory traffic is
    one read of each sample.
    """
    n1, n2 = int(x.size), int(y.size)
    total = 0.0
    # segments of the merged grid that end at k*n2 (k = 1..n1): x index k-1, y index (k*n2-1)//n1
    for lo in range(0, n1, block):
        hi = min(lo + block, n1)
        a = np.arange(lo * n2 + n2 - 1, hi * n2, n2, dtype=np.int64)  # k*n2 - 1
        iy, a = np.divmod(a, n1)
        a += 1
        np.minimum(a, n2, out=a)  # length back to the previous grid point (a multiple of n1 or of n2)
        d = y[iy]
        np.subtract(x[lo:hi], d, out=d)
        np.abs(d, out=d)
        total += float(d @ a.astype(np.float64))
    # segments that end at k*n1 (k = 1..n2) and not also at a multiple of n2 (counted above)
    for lo in range(0, n2, block):
        hi = min(lo + block, n2)
        b = np.arange(lo * n1 + n1 - 1, hi * n1, n1, dtype=np.int64)  # k*n1 - 1
        ix, b = np.divmod(b, n2)
        common = b == n2 - 1
        b += 1
        np.minimum(b, n1, out=b)
        length = b.astype(np.float64)
        length[common] = 0.0
        d = x[ix]
        np.subtract(d, y[lo:hi], out=d)
        np.abs(d, out=d)
        total += float(d @ length)
    return total / (float(n1) * float(n2))


def wasserstein(p: Pair):
    # Evidently: wasserstein_distance(ref, cur) / max(std(ref), 0.001)
    w = wasserstein_sorted(p.x, p.y)
    stat = w / max(float(p.ref.std or 0.0), 0.001)
    return stat, None, stat


METHOD = Method("wasserstein", "normed Wasserstein", "distance", 0.1, NUMERIC, wasserstein)
