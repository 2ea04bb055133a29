"""Jensen-Shannon distance of the binned shares (scipy's, natural log), in numpy."""

from __future__ import annotations

import math

import numpy as np

from monitor.stages.drift.methods.base import ANY, Method
from monitor.stages.drift.methods.binning import binned_shares
from monitor.stages.drift.pair import Pair

__all__ = ["METHOD"]


def jensenshannon(p: Pair):
    # scipy.spatial.distance.jensenshannon(ref_shares, cur_shares), natural log, in numpy
    r, c = binned_shares(p)
    r = r / r.sum()
    c = c / c.sum()
    m = (r + c) / 2.0
    js = float(np.sum(rel_entr(r, m))) + float(np.sum(rel_entr(c, m)))
    stat = math.sqrt(max(js / 2.0, 0.0))
    return stat, None, stat


def rel_entr(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """scipy.special.rel_entr for x >= 0, y > 0 where x > 0: x*log(x/y), 0 at x == 0."""
    out = np.zeros_like(x)
    pos = x > 0
    out[pos] = x[pos] * np.log(x[pos] / y[pos])
    return out


METHOD = Method("jensenshannon", "Jensen-Shannon", "distance", 0.1, ANY, jensenshannon)
