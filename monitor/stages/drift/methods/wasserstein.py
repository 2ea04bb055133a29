"""Normed Wasserstein (Evidently's): W1 of the sorted samples over the reference's standard deviation."""

from __future__ import annotations

import numpy as np

from monitor.stages.drift.methods.base import NUMERIC, Method
from monitor.stages.drift.pair import Pair

__all__ = ["METHOD", "wasserstein_sorted"]


def wasserstein_sorted(x: np.ndarray, y: np.ndarray, block: int = 1 << 16) -> float:
    """First Wasserstein distance between two sorted samples, in linear time, no search.

    W1 = integral over t in [0, 1] of |Qx(t) - Qy(t)|: the empirical quantile functions are
    step functions on the grids k/n1 and k/n2, so the merged grid (in units of 1/(n1*n2)) and
    the quantile index on each of its segments follow from integer arithmetic. Equal to
    scipy.stats.wasserstein_distance (which integrates |F - G| over the merged data) up to
    the order of the floating-point sum. Worked in blocks of `block` grid points: a few dozen
    numpy calls per million values, each long enough to be worth releasing the GIL for (a
    thread waits for the GIL after every call while another thread runs Python), and no BLAS
    (a threaded dot would make the last bits depend on the number of threads).
    """
    n1, n2 = int(x.size), int(y.size)
    total = 0.0
    # segments of the merged grid that end at k*n2 (k = 1..n1): x index k-1, y index (k*n2-1)//n1
    for lo in range(0, n1, block):
        total += _segments(x[lo:lo + block], y, lo, n1, n2, common=True)
    # segments that end at k*n1 (k = 1..n2) and not also at a multiple of n2 (counted above)
    for lo in range(0, n2, block):
        total += _segments(y[lo:lo + block], x, lo, n2, n1, common=False)
    return total / (float(n1) * float(n2))


def _segments(a: np.ndarray, b: np.ndarray, lo: int, na: int, nb: int, *, common: bool) -> float:
    """Sum of |a[k-1] - b[i]| * length over the grid points k*nb, k = lo+1 .. lo+a.size.

    b's index on the segment that ends at k*nb is i = (k*nb - 1) // na, and its length back to the
    previous grid point is (k*nb - 1) % na + 1, at most nb. A point that is also a multiple of na
    (remainder + 1 == na) ends a segment of both sides: counted once, where `common`."""
    t = np.arange((lo + 1) * nb, (lo + a.size + 1) * nb, nb, dtype=np.int64)  # k*nb
    i = t - 1
    i //= na  # floor division by a scalar: numpy's libdivide path (np.divmod is about 4x slower)
    t -= i * na  # the remainder + 1
    if not common:
        t[t == na] = 0
    np.minimum(t, nb, out=t)
    d = b[i]
    d -= a
    np.abs(d, out=d)
    d *= t
    return float(d.sum())


def wasserstein(p: Pair):
    # Evidently: wasserstein_distance(ref, cur) / max(std(ref), 0.001)
    w = wasserstein_sorted(p.x, p.y)
    stat = w / max(float(p.ref.std or 0.0), 0.001)
    return stat, None, stat


METHOD = Method("wasserstein", "normed Wasserstein", "distance", 0.1, NUMERIC, wasserstein)
