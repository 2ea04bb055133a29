"""Sufficient statistics of a set of labelled rows, collected for many row groups in one pass.

`summarize(data, metrics, codes, groups)` returns one `Summary` per group of
rows (a cohort column's values, its bins, or one mask), from one bincount per
statistic over all rows: no per-cohort copies of the data. Summaries of
disjoint groups add up, so "the rest of the data" is `total.minus(cohort)`.
Turning a summary into values and intervals is `estimates.py` (`estimate`,
`MetricEstimate`, re-exported here for the callers that import them from this module).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Optional

import numpy as np

from monitor.stages.performance.estimates import RANK_BINS, MetricEstimate, ap_from_counts, auc_from_counts, estimate
from monitor.stages.performance.registry import ECE_BINS, EPS, Metric
from monitor.stages.performance.tasks import Prepared

__all__ = ["Summary", "MetricEstimate", "summarize", "group_sizes", "estimate", "RANK_BINS", "auc_from_counts", "ap_from_counts"]

REST_BINS = 1 << 16  # score cells for "the rest of the data" (total - cohort): ranking error < 1 / REST_BINS

RankCounts = tuple[np.ndarray, np.ndarray, np.ndarray]  # (distinct-score index, positives, negatives), ascending


@dataclass
class Summary:
    n: int
    classes: int  # cells per side of the confusion matrix
    confusion: Optional[np.ndarray] = None  # flat (classes x classes) counts, true x predicted
    moments: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)  # metric -> (sums, cross sums)
    rank: list[Optional[RankCounts]] = field(default_factory=list)  # per class (binary: one)
    rank_bins: list[int] = field(default_factory=list)
    ece: Optional[np.ndarray] = None  # (3, ECE_BINS): rows, sum and sum of squares of (score - label)

    def minus(self, other: Summary) -> Summary:
        """The statistics of this set's rows that are not in `other` (a subset of them).

        Ranking counts of the difference are kept over at most REST_BINS score cells
        (merged by rank), so that a cohort's rest costs O(REST_BINS), not O(rows).
        """
        rank: list[Optional[RankCounts]] = []
        for c, (mine, theirs, k) in enumerate(zip(self.rank, other.rank, self.rank_bins)):
            if mine is None or theirs is None:
                rank.append(mine)
                continue
            pos, neg = self._coarse(c)
            cells = pos.size
            b = theirs[0].astype(np.int64) * cells // max(k, 1)
            pos = pos - np.bincount(b, weights=theirs[1], minlength=cells)
            neg = neg - np.bincount(b, weights=theirs[2], minlength=cells)
            rank.append((np.arange(cells), pos, neg))
        return replace(
            self,
            n=self.n - other.n,
            confusion=None if self.confusion is None else self.confusion - other.confusion,
            moments={k: (s - other.moments[k][0], c - other.moments[k][1]) for k, (s, c) in self.moments.items()},
            rank=rank,
            ece=None if self.ece is None else self.ece - other.ece,
        )

    def for_rest(self) -> Summary:
        """This summary as `minus` needs it: ranking counts already merged to at most REST_BINS cells.

        For a total that is held while many cohorts are evaluated (O(REST_BINS), not O(rows));
        its own ranking metrics are then no longer exact, so it is only subtracted from.
        """
        rank: list[Optional[RankCounts]] = []
        coarse = {}
        for c, r in enumerate(self.rank):
            if r is None:
                rank.append(None)
                continue
            pos, neg = coarse[f"_coarse{c}"] = self._coarse(c)
            rank.append((np.arange(pos.size), pos, neg))
        out = replace(self, rank=rank)
        out.__dict__.update(coarse)
        return out

    def _coarse(self, c: int) -> tuple[np.ndarray, np.ndarray]:
        """Class c's ranking counts over min(bins, REST_BINS) cells, cached."""
        key = f"_coarse{c}"
        if key not in self.__dict__:
            r, k = self.rank[c], self.rank_bins[c]
            assert r is not None
            cells = min(k, REST_BINS)
            b = r[0].astype(np.int64) * cells // max(k, 1)
            self.__dict__[key] = (np.bincount(b, weights=r[1], minlength=cells), np.bincount(b, weights=r[2], minlength=cells))
        return self.__dict__[key]


def summarize(data: Prepared, metrics: list[Metric], n_cells: int, codes: Optional[np.ndarray] = None, groups: int = 1) -> list[Summary]:
    """One Summary per group 0..groups-1 of data's rows (codes: group per row, -1 = in no group).

    Rows in no group are counted in one more group that is then dropped (no copy of the
    rows without them). Ranking counts are small integers, and views of one array per
    partition (or of the rows themselves when every score is distinct): see _rank.
    """
    G = groups
    dropped = False
    if codes is not None:
        codes = np.asarray(codes)
        if codes.size and codes.min() < 0:
            codes = codes.astype(_code_type(G))  # a copy in a type that holds G too
            codes[codes < 0] = G
            dropped = True
        elif codes.dtype.kind not in "iu":
            codes = codes.astype(_code_type(G))
    elif G != 1:
        codes = np.zeros(data.n, dtype=np.int8)
    E = G + int(dropped)  # groups counted, the dropped rows last
    out = [Summary(0, n_cells) for _ in range(E)]
    counts = _block_counts(data.n, E, lambda rows: codes[rows]) if codes is not None else np.array([data.n])
    for g in range(E):
        out[g].n = int(counts[g])
    families = {m.family for m in metrics}
    if "confusion" in families:
        K = n_cells * n_cells

        def cell(rows: slice) -> np.ndarray:
            key = data.y[rows].astype(np.int64) * n_cells
            key += data.pred[rows]
            if codes is not None:
                key += codes[rows].astype(np.int64) * K
            return key

        cm = _block_counts(data.n, E * K, cell)
        for g in range(E):
            out[g].confusion = cm[g * K : (g + 1) * K].astype(float)
    for m in metrics:
        if m.family == "moments" and not (m.needs_score and data.score is None):
            _moments(data, m, codes, out, dropped)
    if "rank" in families and data.has_score:
        _rank(data, codes, out)
    if "ece" in families and data.score is not None:
        b = np.clip((data.score * ECE_BINS).astype(np.int64), 0, ECE_BINS - 1)
        key = b if codes is None else codes.astype(np.int64) * ECE_BINS + b
        r = data.score - data.y
        parts = [np.bincount(key, weights=w, minlength=E * ECE_BINS) for w in (None, r, r * r)]
        for g in range(E):
            out[g].ece = np.vstack([p[g * ECE_BINS : (g + 1) * ECE_BINS] for p in parts]).astype(float)
    return out[:G]


COUNT_BLOCK = 1 << 20  # rows per bincount of integer keys (bincount copies its keys to 8 bytes a row)
FEW_GROUPS = 16  # up to this many groups, ranking counts are taken group by group (no sort of the rows)


def _code_type(top: int) -> type[np.signedinteger]:
    return np.int8 if top < 2**7 else np.int16 if top < 2**15 else np.int32 if top < 2**31 else np.int64


def _block_counts(n: int, length: int, key: Callable[[slice], np.ndarray]) -> np.ndarray:
    """Counts of the integer keys `key(rows)` of all n rows (0 <= key < length), in blocks of COUNT_BLOCK rows."""
    out = np.zeros(length, dtype=np.int64)
    for a in range(0, n, COUNT_BLOCK):
        out += np.bincount(key(slice(a, a + COUNT_BLOCK)), minlength=length)
    return out


def group_sizes(codes: np.ndarray, groups: int) -> np.ndarray:
    """Rows per group 0..groups-1 (codes: group per row, -1 = in none), without an 8-byte copy of the codes."""
    return _block_counts(codes.size, groups + 1, lambda rows: codes[rows].astype(np.int64) + 1)[1:]


def _moments(data: Prepared, m: Metric, codes: Optional[np.ndarray], out: list[Summary], dropped: bool) -> None:
    G = len(out)
    comps = [component(c, data) for c in m.components]
    k = len(comps)
    sums = np.zeros((G, k))
    cross = np.zeros((G, k, k))
    one = codes is not None and G - dropped == 1 and dropped  # one group and rows in none: sum the group's rows
    keep = codes == 0 if one else None

    def total(w: np.ndarray) -> np.ndarray:
        if codes is None:
            return np.array([w.sum()])
        if keep is not None:
            return np.array([w[keep].sum(), 0.0])  # the dropped rows' sums are not needed
        return np.bincount(codes, weights=w, minlength=G)[:G]

    for i in range(k):
        sums[:, i] = total(comps[i])
        for j in range(i, k):
            cross[:, i, j] = cross[:, j, i] = total(comps[i] * comps[j])
    for g in range(G):
        out[g].moments[m.name] = (sums[g], cross[g])


def _rank(data: Prepared, codes: Optional[np.ndarray], out: list[Summary]) -> None:
    if data.score is not None:
        assert data.sbin is not None
        per_class: list[tuple[Optional[np.ndarray], int, Optional[np.ndarray], bool]] = [(data.sbin, data.n_bins, data.y, True)]
    else:
        assert data.scores is not None
        per_class = []
        for c in range(data.scores.shape[1]):
            s = data.scores[:, c]
            if not np.isfinite(s).all():
                per_class.append((None, 0, None, False))
                continue
            uniq, inv = np.unique(s, return_inverse=True)
            per_class.append((inv, int(uniq.size), (data.y == c).astype(np.int8), False))
    for g_out in out:
        g_out.rank, g_out.rank_bins = [], []
    for sbin, k, y, ordered in per_class:
        if sbin is None or y is None:
            for g_out in out:
                g_out.rank.append(None)
                g_out.rank_bins.append(0)
            continue
        for g_out, counts in zip(out, _rank_counts(sbin, y, codes, len(out), ordered)):
            g_out.rank.append(counts)
            g_out.rank_bins.append(k)


def _small_counts(a: np.ndarray) -> np.ndarray:
    """Counts in the narrowest signed integer type that holds them (they are held while cohorts are evaluated)."""
    top = int(a.max()) if a.size else 0
    return a.astype(np.int8 if top < 2**7 else np.int16 if top < 2**15 else np.int32 if top < 2**31 else np.int64)


def _rank_counts(sbin: np.ndarray, y: np.ndarray, codes: Optional[np.ndarray], groups: int, ordered: bool) -> list[RankCounts]:
    """Per group: (distinct-score index, positives, negatives) of each score value present, ascending.

    Rows in score order are taken group by group (up to FEW_GROUPS groups) or put in (group,
    score) order by a 16-bit radix sort; when every (group, score) pair holds one row, the counts
    are the labels themselves. Several groups' counts are views of one set of arrays.
    """
    if codes is None and ordered:
        return [_runs(sbin, y, None)[:3]]  # one group, already in score order: no sort, no copies
    if ordered and groups <= FEW_GROUPS:
        out = []
        for i in range(groups):
            rows = np.flatnonzero(codes == i)
            out.append(_runs(sbin[rows], y[rows], None)[:3])
            del rows
        return out
    if codes is None:
        order = np.argsort(sbin, kind="stable")
        g = None
    else:
        small = codes if codes.dtype.itemsize <= 2 else codes.astype(np.int16) if groups < 2**15 else codes  # numpy sorts 16-bit keys by radix, O(n)
        order = np.argsort(small, kind="stable") if ordered else np.lexsort((sbin, small))
        g = small[order]  # the same group numbers, in 16 bits where they fit (2 bytes a row, not 4)
        del small
    sb, yy = sbin[order], y[order]
    del order
    idx, pos, neg, run_group = _runs(sb, yy, g)
    if run_group is None:
        return [(idx, pos, neg)]
    bounds = np.searchsorted(run_group, np.arange(groups + 1))
    return [(idx[bounds[i] : bounds[i + 1]], pos[bounds[i] : bounds[i + 1]], neg[bounds[i] : bounds[i + 1]]) for i in range(groups)]


def _runs(sb: np.ndarray, yy: np.ndarray, g: Optional[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray, Optional[np.ndarray]]:
    """Rows in (group, score) order -> per run of equal (group, score): score index, positives, negatives, group."""
    new = sb[1:] != sb[:-1]
    if g is not None:
        new |= g[1:] != g[:-1]
    if new.all():  # one row per (group, score): positives are the labels
        pos = yy.astype(np.int8, copy=False)
        return sb, pos, 1 - pos, g
    starts = np.r_[0, np.flatnonzero(new) + 1]
    del new
    pos_all = np.add.reduceat(yy, starts, dtype=np.int64)
    cnt = np.diff(np.r_[starts, sb.size])
    return sb[starts], _small_counts(pos_all), _small_counts(cnt - pos_all), None if g is None else g[starts]


# per-row components of the moment metrics (registry.Metric.components)
def component(name: str, d: Prepared) -> np.ndarray:
    """One per-row component, computed in place (one array of n floats, no temporaries of that size)."""
    if name in ("log_loss", "brier"):
        assert d.score is not None
        if name == "brier":
            out = np.subtract(d.score, d.y)
            return np.square(out, out=out)
        out = np.clip(d.score, EPS, 1 - EPS)
        neg = d.y == 0
        # -log(s) for positives, -log1p(-s) for negatives: the same operations as sklearn's log_loss
        np.negative(out, out=out, where=neg)
        np.log1p(out, out=out, where=neg)
        np.log(out, out=out, where=~neg)
        return np.negative(out, out=out)
    e = np.subtract(d.pred, d.y)
    if name == "error":
        return e
    if name == "abs_error":
        return np.abs(e, out=e)
    if name == "squared_error":
        return np.square(e, out=e)
    if name == "ape":
        np.abs(e, out=e)
        return np.divide(e, np.maximum(np.abs(d.y), EPS), out=e)
    c = np.subtract(d.y, d.center)
    return c if name == "centred" else np.square(c, out=c)
