"""Values, intervals and standard errors of the metrics, from a `Summary` of labelled rows.

`estimate(summary, ...)` turns one summary into a `MetricEstimate` per metric output:
Wilson, DeLong and the delta method cost O(cells); the bootstrap is kept only for PR AUC
and the calibration error, over score cells (independent of the number of rows).
`auc_from_counts` and `ap_from_counts` rank from counts per score value (CBPE uses them too).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

import numpy as np

from monitor.stages.performance import intervals as iv
from monitor.stages.performance.bootstrap import bootstrap_cells, coarsen_counts, replicate_se
from monitor.stages.performance.registry import Metric, div

if TYPE_CHECKING:
    from monitor.stages.performance.summary import Summary

__all__ = ["MetricEstimate", "estimate", "RANK_BINS", "auc_from_counts", "ap_from_counts"]

RANK_BINS = 400  # score cells for the PR AUC bootstrap (exact when scores take fewer values)


@dataclass(frozen=True)
class MetricEstimate:
    value: Optional[float]
    ci_low: Optional[float] = None
    ci_high: Optional[float] = None
    se: Optional[float] = None
    note: Optional[str] = None


def auc_from_counts(pos: np.ndarray, neg: np.ndarray) -> np.ndarray:
    """ROC AUC from counts per score value (ascending), ties counted 1/2, as sklearn does."""
    below = np.cumsum(neg, axis=-1) - neg
    num = (pos * (below + 0.5 * neg)).sum(axis=-1)
    return div(num, pos.sum(axis=-1) * neg.sum(axis=-1))


def ap_from_counts(pos: np.ndarray, neg: np.ndarray) -> np.ndarray:
    """Average precision (sklearn's step-wise PR AUC) from counts per score value (ascending)."""
    p = pos[..., ::-1]
    tp = np.cumsum(p, axis=-1)
    fp = np.cumsum(neg[..., ::-1], axis=-1)
    prec = np.nan_to_num(div(tp, tp + fp))
    return div((p * prec).sum(axis=-1), p.sum(axis=-1))


@dataclass(frozen=True)
class Settings:
    confidence: float
    n_boot: int
    seed: int


def estimate(s: Summary, metrics: list[Metric], classes: list, confidence: float, n_boot: int, seed: int) -> dict[str, MetricEstimate]:
    """Point value, interval and standard error of every metric output (output name -> estimate)."""
    cfg = Settings(confidence, n_boot, seed)
    out: dict[str, MetricEstimate] = {}
    for m in metrics:
        names = m.names(classes)
        if s.n == 0:
            out.update({n: MetricEstimate(None, note="undefined: no labelled rows") for n in names})
        elif m.needs_score and not s.rank and s.ece is None and m.name not in s.moments:
            out.update({n: MetricEstimate(None, note="undefined: no score column") for n in names})
        elif m.family == "confusion":
            out.update(_confusion(s, m, names, cfg))
        elif m.family == "moments":
            out[m.name] = _moment(s, m, cfg)
        elif m.family == "rank":
            out[m.name] = _rank_metric(s, m, cfg)
        else:
            out[m.name] = _ece(s, m, cfg)
    return out


def _clipped(m: Metric, value: float, se: Optional[float], z: float) -> MetricEstimate:
    if se is None or not math.isfinite(se):
        return MetricEstimate(value, note="too few rows for an interval")
    lo, hi = m.bounds
    return MetricEstimate(value, max(lo, value - z * se), min(hi, value + z * se), se)


def _confusion(s: Summary, m: Metric, names: list[str], cfg: Settings) -> dict[str, MetricEstimate]:
    assert s.confusion is not None and m.formula is not None
    c, k = s.confusion, s.classes
    values = np.atleast_1d(m.formula(c, k))
    z = iv.normal_quantile(cfg.confidence)
    out = {}
    if m.proportion is not None:
        num, den = m.proportion(c, k)
        for i, name in enumerate(names):
            v = iv.finite(values[i])
            if v is None:
                out[name] = MetricEstimate(None, note=_undefined(m, s))
                continue
            lo, hi = iv.wilson_interval(float(num[i]), float(den[i]), cfg.confidence)
            out[name] = MetricEstimate(v, lo, hi, iv.proportion_se(float(num[i]), float(den[i]), cfg.confidence))
        return out
    se = iv.multinomial_delta_se(c, lambda x: m.formula(x, k), cfg.confidence)  # type: ignore[misc]
    for i, name in enumerate(names):
        v = iv.finite(values[i])
        out[name] = MetricEstimate(None, note=_undefined(m, s)) if v is None else _clipped(m, v, iv.finite(se[i]), z)
    return out


def _moment(s: Summary, m: Metric, cfg: Settings) -> MetricEstimate:
    assert m.formula is not None
    sums, cross = s.moments[m.name]
    v = iv.finite(m.formula(sums / s.n, 0)[0])
    if v is None:
        return MetricEstimate(None, note=_undefined(m, s))
    se = iv.moment_delta_se(sums, cross, s.n, lambda x: m.formula(x, 0))  # type: ignore[misc]
    return _clipped(m, v, iv.finite(se[0]), iv.normal_quantile(cfg.confidence))


def _rank_metric(s: Summary, m: Metric, cfg: Settings) -> MetricEstimate:
    z = iv.normal_quantile(cfg.confidence)
    if m.name == "roc_auc":
        aucs, ses = [], []
        for r in s.rank:
            if r is None:
                continue
            auc, var = iv.delong(r[1], r[2])
            if auc is not None and var is not None:
                aucs.append(auc)
                ses.append(math.sqrt(var))
        if not aucs:
            return MetricEstimate(None, note=_undefined(m, s))
        # macro average over classes (multiclass, one-vs-rest); its standard error is bounded
        # by the mean of the per-class ones (they are positively correlated at worst)
        return _clipped(m, float(np.mean(aucs)), float(np.mean(ses)), z)
    r = s.rank[0]
    if r is None:
        return MetricEstimate(None, note=_undefined(m, s))
    pos, neg = r[1], r[2]
    v = iv.finite(ap_from_counts(pos, neg))
    if v is None:
        return MetricEstimate(None, note=_undefined(m, s))
    if cfg.n_boot <= 0:
        return MetricEstimate(v, note="performance.bootstrap is 0: no interval")
    bpos, bneg = coarsen_counts(pos, neg, RANK_BINS)
    reps = bootstrap_cells(np.vstack([bpos, bneg]), cfg.n_boot, cfg.seed + 7919)
    return _clipped(m, v, replicate_se(ap_from_counts(reps[:, 0], reps[:, 1])), z)


def _ece(s: Summary, m: Metric, cfg: Settings) -> MetricEstimate:
    assert s.ece is not None
    cnt, tot, sq = s.ece
    v = float(np.abs(tot).sum() / cnt.sum())
    if cfg.n_boot <= 0:
        return MetricEstimate(v, note="performance.bootstrap is 0: no interval")
    # Poisson-bootstrap of each bin's (rows, sum) pair, normal approximation from the bin's moments
    rng = np.random.default_rng(cfg.seed + 31)
    z1, z2 = rng.standard_normal((2, cfg.n_boot, cnt.size))
    root = np.sqrt(cnt)
    b = div(tot, root)
    resid = np.sqrt(np.maximum(sq - np.nan_to_num(b) ** 2, 0.0))
    n_rep = np.maximum(cnt + root * z1, 0.0)
    t_rep = tot + np.nan_to_num(b) * z1 + resid * z2
    reps = np.abs(t_rep).sum(axis=1) / n_rep.sum(axis=1)
    return _clipped(m, v, replicate_se(reps), iv.normal_quantile(cfg.confidence))


def _undefined(m: Metric, s: Summary) -> str:
    if s.n == 0:
        return "undefined: no labelled rows"
    if m.family == "rank":
        return f"undefined: only one class among the {s.n} labelled rows"
    notes = {
        "precision": "undefined: no positive predictions",
        "recall": "undefined: no positive labels",
        "f1": "undefined: no positive labels or predictions",
        "r2": "undefined: the target is constant",
        "recall_per_class": "undefined: no labelled rows of this class",
    }
    return notes.get(m.name, "undefined on these rows")
