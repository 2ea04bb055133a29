"""Chi-square goodness of fit of the current counts to the reference shares (scipy's)."""

from __future__ import annotations

import numpy as np

from monitor.stages.drift.methods.base import ANY, Method, tvd
from monitor.stages.drift.pair import Pair

__all__ = ["METHOD"]


def chisquare(p: Pair):
    from scipy import stats

    _, rc, cc = p.counts()
    f_exp = rc * (p.n_cur / p.n_ref)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = stats.chisquare(cc.astype(np.float64), f_exp)
    return float(r.statistic), float(r.pvalue), tvd(p)


METHOD = Method("chisquare", "chi-square", "p_value", None, ANY, chisquare, effect="TVD")
