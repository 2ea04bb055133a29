"""Anderson-Darling k-sample test (scipy's midrank variant) from the merged sorted samples."""

from __future__ import annotations

import math

import numpy as np

from monitor.stages.drift.methods.base import NUMERIC, Method, Skip, tie_runs
from monitor.stages.drift.methods.ks import ks_effect
from monitor.stages.drift.pair import Pair

__all__ = ["METHOD"]


def anderson(p: Pair):
    # scipy.stats.anderson_ksamp([ref, cur]) (midrank variant, interpolated p-value capped to
    # [0.001, 0.25]), computed from the merged sorted samples.
    z, v, n1, n2 = p.merged()
    N = z.size
    starts, lj = tie_runs(z)
    if starts.size < 2:
        raise Skip("Anderson-Darling needs more than one distinct value")
    ends = starts + lj - 1
    cur_le = v[ends]  # current values <= each distinct value
    cur_lt = cur_le - np.diff(np.concatenate(([0], cur_le)))
    ref_le = ends + 1 - cur_le
    ref_lt = starts - cur_lt
    lj = lj.astype(np.float64) if N != starts.size else 1.0
    Bj = starts + lj / 2.0
    a2 = 0.0
    for le, lt, n in ((ref_le, ref_lt, n1), (cur_le, cur_lt, n2)):
        Mij = le.astype(float)
        Mij -= (le - lt) / 2.0
        inner = lj / float(N) * (N * Mij - Bj * n) ** 2 / (Bj * (N - Bj) - N * lj / 4.0)
        a2 += inner.sum() / n
    a2 *= (N - 1.0) / N
    k = 2
    H = 1.0 / n1 + 1.0 / n2
    hs_cs = (1.0 / np.arange(N - 1, 1, -1)).cumsum()
    h = hs_cs[-1] + 1
    g = (hs_cs / np.arange(2, N)).sum()
    a = (4 * g - 6) * (k - 1) + (10 - 6 * g) * H
    b = (2 * g - 4) * k**2 + 8 * h * k + (2 * g - 14 * h - 4) * H - 8 * h + 4 * g - 6
    c = (6 * h + 2 * g - 2) * k**2 + (4 * h - 4 * g + 6) * k + (2 * h - 6) * H + 4 * h
    d = (2 * h + 6) * k**2 - 4 * h * k
    sigmasq = (a * N**3 + b * N**2 + c * N + d) / ((N - 1.0) * (N - 2.0) * (N - 3.0))
    m = k - 1
    A2 = (a2 - m) / math.sqrt(sigmasq)
    b0 = np.array([0.675, 1.281, 1.645, 1.96, 2.326, 2.573, 3.085])
    b1 = np.array([-0.245, 0.25, 0.678, 1.149, 1.822, 2.364, 3.615])
    b2 = np.array([-0.105, -0.305, -0.362, -0.391, -0.396, -0.345, -0.154])
    critical = b0 + b1 / math.sqrt(m) + b2 / m
    sig = np.array([0.25, 0.1, 0.05, 0.025, 0.01, 0.005, 0.001])
    if A2 < critical.min():
        pv = float(sig.max())
    elif A2 > critical.max():
        pv = float(sig.min())
    else:
        pf = np.polyfit(critical, np.log(sig), 2)
        pv = math.exp(np.polyval(pf, A2))
    return float(A2), pv, ks_effect(p)


METHOD = Method("anderson", "Anderson-Darling", "p_value", None, NUMERIC, anderson, effect="D", p_floor=0.001)
