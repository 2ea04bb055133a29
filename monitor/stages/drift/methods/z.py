"""Two-proportion Z-test: the first sorted value against the rest (Evidently's)."""

from __future__ import annotations

import numpy as np

from monitor.stages.drift.methods.base import ANY, Method, tvd
from monitor.stages.drift.pair import Pair

__all__ = ["METHOD"]


def z_test(p: Pair):
    from scipy import stats

    keys, rc, cc = p.counts()
    if len(keys) == 1:
        return 0.0, 1.0, 0.0
    # Evidently: the first of the sorted keys against the rest
    first = int(np.argmin(keys)) if p.kind == "numerical" else keys.index(sorted(keys)[0])
    n1, n2 = p.n_ref, p.n_cur
    p1 = float(n1 - rc[first]) / n1
    p2 = float(n2 - cc[first]) / n2
    pooled = float(p1 * n1 + p2 * n2) / (n1 + n2)
    zs = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1.0 / n1 + 1.0 / n2))
    pv = float(2 * stats.norm.sf(abs(zs)))
    return float(zs), pv, tvd(p)


METHOD = Method("z", "Z-test", "p_value", None, ANY, z_test, effect="TVD")
