"""Population stability index: Evidently's bins (`psi`) or reference-quantile bins (`psi_quantile`)."""

from __future__ import annotations

import numpy as np

from monitor.stages.drift.methods.base import ANY, Method
from monitor.stages.drift.methods.binning import binned_shares, fill_zeroes
from monitor.stages.drift.pair import Pair, hist_counts

__all__ = ["METHODS"]


def psi(p: Pair):
    r, c = binned_shares(p)
    r, c = fill_zeroes(r), fill_zeroes(c)
    stat = float(np.sum((r - c) * np.log(r / c)))
    return stat, None, stat


def psi_quantile(p: Pair):
    # Classic PSI: config.psi_bins bins at reference quantiles (fixed in the profile), open-ended
    # outer bins; categorical columns fall back to shares by category. Zero shares filled as in `psi`.
    if p.kind == "numerical":
        edges = np.array(p.ref.psi_edges, dtype=np.float64)
        if edges.size < 2:
            edges = np.array([edges[0], edges[0]])
        edges[0], edges[-1] = -np.inf, np.inf
        r = hist_counts(p.x, edges) / p.x.size
        c = hist_counts(p.y, edges) / p.y.size
    else:
        _, rc, cc = p.counts()
        r, c = rc / p.n_ref, cc / p.n_cur
    r, c = fill_zeroes(r), fill_zeroes(c)
    stat = float(np.sum((r - c) * np.log(r / c)))
    return stat, None, stat


METHODS = (
    Method("psi", "PSI", "distance", 0.1, ANY, psi),
    Method("psi_quantile", "PSI (reference-quantile bins)", "distance", 0.1, ANY, psi_quantile),
)
