"""Analytic intervals and tests for the performance stage: exact where they exist, honest at small n.

* `wilson_interval` / `proportion_se`: a proportion (accuracy, precision,
  recall, positive rate). Wilson's score interval never has zero width, also
  at 0 or n successes out of n; the matching standard error for tests is the
  Agresti-Coull one (the variance at the shrunk proportion).
* `delong`: ROC AUC and its variance from counts of positives and negatives per
  distinct score (DeLong, DeLong & Clarke-Pearson 1988), O(distinct scores).
  A zero variance (perfect separation, or one row of a class) is replaced by a
  floor from the Laplace-smoothed AUC, so a perfect score on 5 rows is not
  "certain".
* `multinomial_delta_se`: the delta method for any function of a confusion
  matrix (F1, macro F1, ...), with the multinomial covariance evaluated at
  pseudo-count-smoothed cell shares (z^2 spread over the cells, as Agresti-Coull
  does for two cells), so empty cells do not give zero width.
* `moment_delta_se`: the delta method for a smooth function of the means of
  per-row components (log loss, Brier, MAE, RMSE, R2 ...), from the sums and
  cross sums of the components: the sufficient statistics a cohort needs.
* `difference_p_value` / `contrast_p_value`: two-sided z tests of a difference of
  independent estimates, and of a cohort's change against the rest's change.
* `material_p_value`: the test an alert rests on, of "the change in the bad
  direction is at most min_delta" (an interval null, not "no change at all"):
  small only when the data show a *material* regression, so chance dips of about
  min_delta are not alerted, whatever the sample size.
* `bh_adjust`: Benjamini-Hochberg adjusted p-values (the one implementation).

None of these costs more than O(cells) once the counts or sums are known: the
interval cost no longer grows with the number of rows.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from statistics import NormalDist
from typing import Optional

import numpy as np

from monitor.jsonutil import finite  # re-exported: the one number-cleaning helper

__all__ = [
    "normal_quantile",
    "wilson_interval",
    "proportion_se",
    "delong",
    "multinomial_delta_se",
    "moment_delta_se",
    "numeric_gradient",
    "difference_p_value",
    "contrast_p_value",
    "material_p_value",
    "combined_se",
    "bh_adjust",
    "finite",
]


def normal_quantile(confidence: float) -> float:
    # statistics.NormalDist, not scipy.stats: importing scipy.stats costs ~1 s per process.
    return NormalDist().inv_cdf(0.5 + confidence / 2)


# --------------------------------------------------------------------------- proportions


def wilson_interval(k: float, n: float, confidence: float) -> tuple[Optional[float], Optional[float]]:
    """Wilson score interval of k successes in n trials; (None, None) for n = 0."""
    if n <= 0:
        return None, None
    z = normal_quantile(confidence)
    p = k / n
    z2n = z * z / n
    centre = (p + z2n / 2) / (1 + z2n)
    half = z / (1 + z2n) * math.sqrt(max(p * (1 - p) / n + z2n / (4 * n), 0.0))
    return max(0.0, centre - half), min(1.0, centre + half)


def proportion_se(k: float, n: float, confidence: float) -> Optional[float]:
    """Agresti-Coull standard error: the binomial one at the shrunk share (k + z^2/2) / (n + z^2); never 0."""
    if n <= 0:
        return None
    z2 = normal_quantile(confidence) ** 2
    pt = (k + z2 / 2) / (n + z2)
    return math.sqrt(pt * (1 - pt) / (n + z2))


# --------------------------------------------------------------------------- ROC AUC


DELONG_BLOCK = 1 << 18  # score values per block: the float temporaries of delong stay O(block), not O(values)
DELONG_KEEP = 1 << 20  # up to this many score values, the blocks of the first pass are kept for the second (<= 32 MB)


def delong(pos: np.ndarray, neg: np.ndarray) -> tuple[Optional[float], Optional[float]]:
    """(AUC, variance) from positives/negatives per distinct score, ascending; ties count 1/2 as in sklearn.

    The variance is DeLong's S10/P + S01/N from the structural components
    (placement values), computed per score value instead of per row. Its floor is
    A~(1 - A~) / (2 (P + N)) with A~ the Laplace-smoothed AUC, which only binds near
    AUC 0 or 1 on few rows. (None, None) when a class is absent. Counts may be any
    integer or float type; they are taken in blocks of DELONG_BLOCK values (one block:
    the operations of the whole-array formula; the cumulative counts are exact across blocks),
    worked out once when there are at most DELONG_KEEP values, else once per pass.
    """
    pos = np.asarray(pos)
    neg = np.asarray(neg)
    P, N = float(pos.sum()), float(neg.sum())
    if P <= 0 or N <= 0:
        return None, None
    num = 0.0
    # the blocks kept for the second pass (the same blocks, so the same values), unless that is O(rows) memory
    kept = list(_delong_blocks(pos, neg, P)) if pos.size <= max(DELONG_KEEP, DELONG_BLOCK) else None
    for p, _n, below, _ in kept or _delong_blocks(pos, neg, P):
        num += float((p * below).sum())
    auc = num / (P * N)  # same operations as the point formula: bit-equal values
    t10 = t01 = 0.0
    for p, n, below, pos_above in kept or _delong_blocks(pos, neg, P):
        v10 = np.divide(below, N, out=below)  # per positive at this score: share of negatives ranked below
        v10 -= auc
        t10 += float((p * np.square(v10, out=v10)).sum())
        v01 = np.add(pos_above, 0.5 * p, out=pos_above)  # per negative: share of positives ranked above
        v01 /= P
        v01 -= auc
        t01 += float((n * np.square(v01, out=v01)).sum())
    s10 = t10 / (P - 1) if P > 1 else 0.0
    s01 = t01 / (N - 1) if N > 1 else 0.0
    var = s10 / P + s01 / N
    n_eff = P + N
    smoothed = (auc * n_eff + 1) / (n_eff + 2)
    return auc, max(var, smoothed * (1 - smoothed) / (2 * n_eff))


def _delong_blocks(pos: np.ndarray, neg: np.ndarray, P: float) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Per block of score values: positives, negatives, negatives below (ties 1/2), positives above."""
    seen_pos = seen_neg = 0.0
    for a in range(0, pos.size, DELONG_BLOCK):
        p = pos[a : a + DELONG_BLOCK].astype(float)
        n = neg[a : a + DELONG_BLOCK].astype(float)
        cum_neg, cum_pos = np.cumsum(n), np.cumsum(p)
        if a:
            cum_neg += seen_neg
            cum_pos += seen_pos
        seen_neg, seen_pos = float(cum_neg[-1]), float(cum_pos[-1])
        below = np.subtract(cum_neg, n, out=cum_neg)
        below += 0.5 * n
        yield p, n, below, np.subtract(P, cum_pos, out=cum_pos)


# --------------------------------------------------------------------------- delta method


def numeric_gradient(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Central-difference Jacobian of f (vector -> m values) at x: shape (m, len(x)). NaN where f is undefined."""
    x = np.asarray(x, dtype=float)
    f0 = np.atleast_1d(np.asarray(f(x), dtype=float))
    jac = np.empty((f0.size, x.size))
    for j in range(x.size):
        h = 1e-6 * max(float(scale[j]), 1e-12)
        up, dn = x.copy(), x.copy()
        up[j] += h
        dn[j] -= h
        jac[:, j] = (np.atleast_1d(f(up)) - np.atleast_1d(f(dn))) / (2 * h)
    return jac


def multinomial_delta_se(
    counts: np.ndarray, g: Callable[[np.ndarray], np.ndarray], confidence: float
) -> np.ndarray:
    """Delta-method standard errors of g(cell counts) (m outputs) under a multinomial on the cells.

    g must be scale-free (a function of the shares, e.g. F1 = 2tp / (2tp + fp + fn)).
    The gradient and covariance are taken at counts + z^2 / K per cell (K cells):
    for two cells that is the Agresti-Coull shrinkage, and no cell is ever empty.
    """
    c = np.asarray(counts, dtype=float).ravel()
    n = float(c.sum())
    if n <= 0:
        return np.full(np.atleast_1d(g(c)).size, np.nan)
    z2 = normal_quantile(confidence) ** 2
    ct = c + z2 / c.size
    nt = float(ct.sum())
    p = ct / nt
    jac = numeric_gradient(lambda x: g(x * nt), p, np.maximum(p, 1.0 / nt))
    # Var(g) = J (diag(p) - p p') J' / n, row-wise
    jp = jac @ p
    var = ((jac**2) @ p - jp**2) / nt
    return np.sqrt(np.maximum(var, 0.0))


def moment_delta_se(sums: np.ndarray, cross: np.ndarray, n: float, g: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Delta-method standard errors of g(means of k per-row components) from their sufficient statistics.

    sums: (k,) column sums; cross: (k, k) sums of products; n rows. The sample
    covariance comes from these (ddof 1). NaN with fewer than 2 rows.
    """
    sums = np.asarray(sums, dtype=float)
    m = g(sums / n) if n > 0 else np.nan
    out_size = np.atleast_1d(m).size
    if n < 2:
        return np.full(out_size, np.nan)
    mean = sums / n
    cov = (np.asarray(cross, dtype=float) - n * np.outer(mean, mean)) / (n - 1)
    scale = np.maximum(np.abs(mean), np.sqrt(np.maximum(np.diag(cov), 0.0)))
    jac = numeric_gradient(g, mean, scale)
    var = np.einsum("ij,jk,ik->i", jac, cov, jac) / n
    return np.sqrt(np.maximum(var, 0.0))


# --------------------------------------------------------------------------- tests


def difference_p_value(delta: Optional[float], ses: Sequence[Optional[float]]) -> Optional[float]:
    """Two-sided p-value of a difference of independent estimates, given each one's standard error."""
    if delta is None or not math.isfinite(delta) or any(s is None or not math.isfinite(s) for s in ses):
        return None
    se = math.sqrt(sum(float(s) ** 2 for s in ses if s is not None))
    if se == 0:
        return 1.0 if delta == 0 else 0.0
    return float(math.erfc(abs(delta) / se / math.sqrt(2)))


def combined_se(ses: Sequence[Optional[float]]) -> Optional[float]:
    """Standard error of a sum or difference of independent estimates (None when one is unknown)."""
    if any(s is None or not math.isfinite(s) for s in ses):
        return None
    return math.sqrt(sum(float(s) ** 2 for s in ses if s is not None))


def material_p_value(change: Optional[float], direction: int, min_delta: Optional[float], se: Optional[float]) -> Optional[float]:
    """p-value of H0 "the change is not a material regression" (a minimum-effect test).

    direction +1 (higher is better): H0 is change >= -min_delta, one-sided;
    direction -1: H0 is change <= +min_delta; direction 0 (either way is bad):
    H0 is |change| <= min_delta, the two-sided interval null (p at its boundary).
    With min_delta = 0 this is the usual one-sided (or two-sided) z test. A
    change of exactly min_delta gives p = 1/2: an alert needs the data to put the
    regression beyond min_delta, not just near it. None when an input is unknown.
    """
    if change is None or min_delta is None or se is None or not math.isfinite(change) or not math.isfinite(se):
        return None
    md = max(float(min_delta), 0.0)
    if se <= 0:
        bad = abs(change) if direction == 0 else -direction * change
        return 0.0 if bad > md else 1.0

    def upper_tail(z: float) -> float:
        return 0.5 * math.erfc(z / math.sqrt(2))

    if direction == 0:
        a = abs(change)
        return float(min(1.0, upper_tail((a - md) / se) + upper_tail((a + md) / se)))
    return float(upper_tail((-direction * change - md) / se))


def contrast_p_value(
    cohort_delta: Optional[float],
    rest_delta: Optional[float],
    ses: Sequence[Optional[float]],
) -> tuple[Optional[float], Optional[float]]:
    """(cohort delta - rest delta, two-sided p) with the four disjoint estimates' standard errors.

    The cohort and the rest of the data are disjoint row sets, in the window and in
    the baseline, so the four estimates are independent and their variances add.
    """
    if cohort_delta is None or rest_delta is None:
        return None, None
    diff = cohort_delta - rest_delta
    return diff, difference_p_value(diff, ses)


def bh_adjust(p_values: Iterable[Optional[float]]) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values); None/NaN entries stay NaN and are not counted."""
    p = np.array([np.nan if v is None else v for v in p_values], dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    m = int(ok.sum())
    if m == 0:
        return out
    pv = p[ok]
    order = np.argsort(pv, kind="mergesort")
    ranked = pv[order] * m / np.arange(1, m + 1)
    q = np.minimum.accumulate(ranked[::-1])[::-1]
    adj = np.empty(m)
    adj[order] = np.minimum(q, 1.0)
    out[ok] = adj
    return out
