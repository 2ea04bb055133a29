"""Hellinger distance: category shares, or Sturges-binned densities for numeric columns (Evidently's)."""

from __future__ import annotations

import math

import numpy as np

from monitor.stages.drift.methods.base import ANY, Method
from monitor.stages.drift.methods.binning import sturges_edges
from monitor.stages.drift.pair import Pair, hist_counts

__all__ = ["METHOD"]


def hellinger(p: Pair):
    if p.kind == "categorical":
        _, rc, cc = p.counts()
        s = float(np.sum(np.sqrt((rc / p.n_ref) * (cc / p.n_cur))))
    else:
        keys, _, _ = p.counts()
        edges = sturges_edges(float(keys[0]), float(keys[-1]), keys.size, p.integer)
        h1 = hist_counts(p.x, edges)
        h2 = hist_counts(p.y, edges)
        db = np.diff(edges)
        h1 = h1 / db / h1.sum()
        h2 = h2 / db / h2.sum()
        width = (edges.max() - edges.min()) / (len(edges) - 1)
        s = float(np.sum(np.sqrt(h1 * h2) * width))
    stat = math.sqrt(1 - float(np.clip(s, 0, 1)))
    return stat, None, stat


METHOD = Method("hellinger", "Hellinger", "distance", 0.1, ANY, hellinger)
