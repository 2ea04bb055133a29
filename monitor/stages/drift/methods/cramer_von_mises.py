"""Cramer-von Mises two-sample test from the merged sorted samples (scipy's statistic and p-value)."""

from __future__ import annotations

import math

import numpy as np

from monitor.stages.drift.methods.base import NUMERIC, Method, Skip, tie_runs
from monitor.stages.drift.methods.ks import ks_effect
from monitor.stages.drift.pair import Pair

__all__ = ["METHOD"]

CVM_EXACT_UP_TO = 20  # scipy/Evidently cramer-von mises: exact p-value up to this many rows per sample


def cdf_cvm_inf(x: float) -> float:
    """CDF of the limiting Cramer-von Mises distribution (scipy.stats._hypotests._cdf_cvm_inf)."""
    from scipy.special import gammaln, kv

    tot, k = 0.0, 0
    while True:
        u = math.exp(gammaln(k + 0.5) - gammaln(k + 1)) / (math.pi**1.5 * math.sqrt(x))
        y = 4 * k + 1
        q = y**2 / (16 * x)
        term = u * math.sqrt(y) * math.exp(-q) * float(kv(0.25, q))
        tot += term
        if abs(term) < 1e-7:
            return tot
        k += 1


def cramer_von_mises(p: Pair):
    from scipy import stats

    nx, ny = p.x.size, p.y.size
    if nx < 2 or ny < 2:
        raise Skip("Cramer-von Mises needs at least two values on each side")
    if max(nx, ny) <= CVM_EXACT_UP_TO:
        r = stats.cramervonmises_2samp(p.x, p.y, method="exact")
        return float(r.statistic), float(r.pvalue), ks_effect(p)
    z, v, _, _ = p.merged()
    starts, lengths = tie_runs(z)
    N = z.size
    avg = starts + (lengths + 1) / 2.0  # midrank of each run (1-based)
    rank = np.repeat(avg, lengths)
    # current values sit after the reference values of their tie run; ranks are per run, so any order works
    is_cur = np.diff(np.concatenate(([0], v))).astype(bool)
    rx, ry = rank[~is_cur], rank[is_cur]
    u = nx * np.sum((rx - np.arange(1, nx + 1, dtype=np.float64)) ** 2)
    u += ny * np.sum((ry - np.arange(1, ny + 1, dtype=np.float64)) ** 2)
    k = nx * ny
    t = u / (k * N) - (4 * k - 1) / (6 * N)
    et = (1 + 1 / N) / 6
    vt = (N + 1) * (4 * k * N - 3 * (nx**2 + ny**2) - 2 * k) / (45 * N**2 * 4 * k)
    tn = 1 / 6 + (t - et) / math.sqrt(45 * vt)
    pv = 1.0 if tn < 0.003 else max(0.0, 1.0 - cdf_cvm_inf(tn))
    return float(t), float(pv), ks_effect(p)


METHOD = Method("cramer_von_mises", "Cramer-von Mises", "p_value", None, NUMERIC, cramer_von_mises, effect="D")
