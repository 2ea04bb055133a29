"""Confidence-based performance estimation (CBPE, as in NannyML) while labels are pending.

Scores are calibrated on the labelled baseline (isotonic, one-vs-rest per class
for multiclass, then normalised per row); the expected confusion matrix and the
ranking metrics follow from the calibrated probabilities on every scored row of
the window. Intervals come from simulating the confusion cells (normal
approximation of their Poisson-binomial counts), centred on the estimate: the
spread of the realized metric if the calibration holds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Optional, Union

import numpy as np
import pandas as pd

from monitor.stages.performance import intervals as iv
from monitor.stages.performance.bootstrap import coarsen, replicate_se, score_bins
from monitor.stages.performance.estimates import ap_from_counts, auc_from_counts
from monitor.stages.performance.registry import EPS, div
from monitor.stages.performance.tasks import BinaryTask, MulticlassTask, Prepared, Task, sort_scores

__all__ = ["cbpe", "fit_calibrator", "calibration_points", "baseline_calibration", "BASELINE_CANNOT_CALIBRATE"]

BASELINE_CANNOT_CALIBRATE = "no performance estimate: the baseline needs labelled rows of both classes with scores to calibrate on"
Calibration = tuple[np.ndarray, np.ndarray]

CBPE_BINS = 5000  # score bins for the estimated AUCs (ties within a bin bias AUC by < 1/CBPE_BINS)
SIM_BINS = 400  # score bins for the simulated intervals
CELL_BLOCK = 1 << 20  # rows per block of the per-row sums (their float temporaries stay O(block))
CELL_SUMS = ("n", "mu", "var", "ll_pos", "ll_neg", "br_pos", "br_neg")
BINARY_METRICS = ("roc_auc", "pr_auc", "accuracy", "precision", "recall", "f1", "positive_rate", "log_loss", "brier")
MULTICLASS_METRICS = ("accuracy", "f1_macro", "f1_weighted", "roc_auc")


def _pav(y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted pool-adjacent-violators: the increasing fit to y (a few thousand points at most)."""
    vals: list[float] = []
    wts: list[float] = []
    sizes: list[int] = []
    for yi, wi in zip(y.tolist(), w.tolist()):
        vals.append(yi)
        wts.append(wi)
        sizes.append(1)
        while len(vals) > 1 and vals[-2] >= vals[-1]:
            wsum = wts[-2] + wts[-1]
            v = (vals[-2] * wts[-2] + vals[-1] * wts[-1]) / wsum if wsum > 0 else vals[-1]
            size = sizes[-2] + sizes[-1]
            del vals[-1], wts[-1], sizes[-1]
            vals[-1], wts[-1], sizes[-1] = v, wsum, size
    return np.repeat(vals, sizes)


def fit_calibrator(
    score: np.ndarray, y: np.ndarray, max_bins: int = 2000, distinct: Optional[tuple[np.ndarray, int]] = None
) -> Callable[[np.ndarray], np.ndarray]:
    """Isotonic calibration of scores on labelled data: score -> P(y = 1).

    Scores are pooled into at most `max_bins` rank bins first, then fitted with
    pool-adjacent-violators and interpolated linearly between bin centres (clipped
    at the ends), like sklearn's IsotonicRegression(out_of_bounds="clip").
    `distinct`: the distinct-score index of each row and their number, when known (no sort).
    """
    return _calibrator(calibration_points(score, y, max_bins, distinct))


def calibration_points(
    score: np.ndarray, y: np.ndarray, max_bins: int = 2000, distinct: Optional[tuple[np.ndarray, int]] = None
) -> Calibration:
    """`fit_calibrator`'s fit: (bin centres, P(y = 1) at each), at most `max_bins` points."""
    b, k = score_bins(score, max_bins) if distinct is None else coarsen(distinct[0].astype(np.int64), distinct[1], max_bins)
    w = np.bincount(b, minlength=k).astype(float)
    keep = w > 0
    x = np.bincount(b, weights=score, minlength=k)[keep] / w[keep]
    fitted = _pav(np.bincount(b, weights=y, minlength=k)[keep] / w[keep], w[keep])
    return x, fitted


def _calibrator(points: Calibration) -> Callable[[np.ndarray], np.ndarray]:
    x, fitted = points
    return lambda s: np.clip(np.interp(s, x, fitted), 0.0, 1.0)


def baseline_calibration(base: Prepared) -> Optional[Calibration]:
    """The binary calibration on the baseline's labelled rows; None when they cannot calibrate scores."""
    if base.score is None or base.n == 0 or base.y.min() == base.y.max():
        return None
    distinct = (base.sbin, base.n_bins) if base.sbin is not None else None
    return calibration_points(base.score, base.y.astype(float), distinct=distinct)


def cbpe(
    task: Task, current: pd.DataFrame, base: Prepared, names: list[str], n_boot: int, seed: int, confidence: float,
    cur: Optional[Prepared] = None, calibration: Union[Calibration, None, str] = "fit",
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Estimated metrics on every scored row of the window ({} when the task or data allow none).

    `cur`: the window's labelled rows as prepared; when they are every scored row (binary,
    `Prepared.all_scored`), they are used as they are (already sorted: no second read or sort).
    `calibration` (binary): the baseline's, worked out before (None: it cannot calibrate); by default
    ("fit") fitted here on `base`.
    """
    if isinstance(task, BinaryTask):
        cal = baseline_calibration(base) if isinstance(calibration, str) else calibration
        return _binary(task, current, cal, names, n_boot, seed, confidence, cur)
    if isinstance(task, MulticlassTask):
        return _multiclass(task, current, base, names, n_boot, seed, confidence)
    return {}, []


def _rows(point: dict[str, Any], sims: Optional[dict[str, Any]], wanted: list[str], confidence: float) -> dict[str, dict[str, Any]]:
    z = iv.normal_quantile(confidence)
    out: dict[str, dict[str, Any]] = {}
    for name in wanted:
        v = iv.finite(point[name])
        row: dict[str, Any] = {"value": v, "ci_low": None, "ci_high": None, "method": "cbpe"}
        se = None
        if v is not None and sims is not None:
            got = sims.get(name)
            se = got if (got is None or isinstance(got, float)) else replicate_se(got)
        if v is not None and se is not None:
            row["ci_low"], row["ci_high"] = v - z * se, v + z * se
        out[name] = row
    return out


# --------------------------------------------------------------------------- binary


def _binary(
    task: BinaryTask, current: pd.DataFrame, calibration: Optional[Calibration], names: list[str], n_boot: int, seed: int,
    confidence: float, cur: Optional[Prepared] = None,
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    wanted = [n for n in names if n in BINARY_METRICS]
    if not wanted or not task.model.score:
        return {}, []
    if calibration is None:
        return {}, [BASELINE_CANNOT_CALIBRATE]
    if cur is not None and cur.all_scored and cur.score is not None and cur.sbin is not None:
        s, pred, sbin, k = cur.score, cur.pred, cur.sbin, cur.n_bins
    else:
        s_all = task.score_of(current)
        if s_all is None:
            return {}, [f"no performance estimate: score column {task.model.score!r} is not in the window"]
        pred_all = task.prediction_codes(current, s_all)
        ok = np.isfinite(s_all) & (pred_all >= 0)
        s, pred = s_all[ok], pred_all[ok]
        del s_all, pred_all, ok
        s, order, sbin, k = sort_scores(s, stable=False)  # score order: the calibration's lookups run in order
        pred = pred[order]
        del order
    if s.size == 0:
        return {}, ["no performance estimate: no scored rows in the window"]
    fine = _binary_cells(s, pred, sbin, k, _calibrator(calibration))
    point = _binary_metrics(fine, fine["mu"])
    sims = None
    if n_boot > 0:
        coarse = _merge_cells(fine, SIM_BINS)
        z = np.random.default_rng(seed + 104729).standard_normal((n_boot, coarse["n"].size))
        sims = _binary_metrics(coarse, np.clip(coarse["mu"] + np.sqrt(coarse["var"]) * z, 0, coarse["n"]))
    return _rows(point, sims, wanted, confidence), []


def _binary_cells(
    s: np.ndarray, pred: np.ndarray, sbin: np.ndarray, k: int, calibrate: Callable[[np.ndarray], np.ndarray]
) -> dict[str, Any]:
    """Per (score bin, prediction) cell: rows and the sums the estimates need, in one pass over the rows.

    `sbin`: the distinct-score index of each row (k distinct scores), merged by rank into at most
    CBPE_BINS bins. Rows are taken in blocks of CELL_BLOCK; each per-row quantity is built in
    place in one scratch array of the block.
    """
    cells = min(k, CBPE_BINS)
    out: dict[str, Any] = {"k": cells}
    for key in CELL_SUMS:
        out[key] = np.zeros(2 * cells)
    for a in range(0, s.size, CELL_BLOCK):
        _add_cells(out, s[a : a + CELL_BLOCK], pred[a : a + CELL_BLOCK], sbin[a : a + CELL_BLOCK], k, calibrate)
    return out


def _add_cells(
    out: dict[str, Any], s: np.ndarray, pred: np.ndarray, sbin: np.ndarray, k: int, calibrate: Callable[[np.ndarray], np.ndarray]
) -> None:
    cells = out["k"]
    idx = sbin.astype(np.int64)
    if k > cells:
        idx *= cells
        idx //= k
    idx *= 2
    idx += pred
    p = calibrate(s)
    q = np.subtract(1.0, p)
    sc = np.clip(s, EPS, 1 - EPS)
    t = np.empty_like(s)

    def agg(key: str, w: Optional[np.ndarray]) -> None:
        out[key] += np.bincount(idx, weights=w, minlength=2 * cells)

    agg("n", None)
    agg("mu", p)
    agg("var", np.multiply(p, q, out=t))
    agg("ll_pos", np.multiply(p, np.negative(np.log(sc, out=t), out=t), out=t))  # p * -log(s)
    agg("ll_neg", np.multiply(q, np.negative(np.log1p(np.negative(sc, out=t), out=t), out=t), out=t))  # (1-p) * -log1p(-s)
    agg("br_pos", np.multiply(p, np.square(np.subtract(1, s, out=t), out=t), out=t))  # p * (1 - s)^2
    agg("br_neg", np.multiply(q, np.square(s, out=t), out=t))  # (1 - p) * s^2


def _merge_cells(c: dict[str, Any], bins: int) -> dict[str, Any]:
    """The same cells merged by score rank into at most `bins` score bins (for the simulated intervals)."""
    k = c["k"]
    if k <= bins:
        return c
    cell = np.arange(2 * k)
    to = (cell // 2) * bins // k * 2 + cell % 2
    out: dict[str, Any] = {"k": bins}
    for key, v in c.items():
        if key != "k":
            out[key] = np.bincount(to, weights=v, minlength=2 * bins)
    return out


def _binary_metrics(c: dict[str, Any], pos: np.ndarray) -> dict[str, Any]:
    """Metrics from expected/simulated positives per (score bin, prediction) cell (last axis)."""
    n = c["n"]
    neg = n - pos
    N = n.sum()
    tp, fp = pos[..., 1::2].sum(-1), neg[..., 1::2].sum(-1)
    fn, tn = pos[..., 0::2].sum(-1), neg[..., 0::2].sum(-1)
    shape = pos.shape[:-1] + (c["k"], 2)
    pos_bin, neg_bin = pos.reshape(shape).sum(-1), neg.reshape(shape).sum(-1)
    ratio_pos, ratio_neg = div(pos, c["mu"]), div(neg, n - c["mu"])
    ll = (np.nan_to_num(ratio_pos * c["ll_pos"]) + np.nan_to_num(ratio_neg * c["ll_neg"])).sum(-1) / N
    br = (np.nan_to_num(ratio_pos * c["br_pos"]) + np.nan_to_num(ratio_neg * c["br_neg"])).sum(-1) / N
    return {
        "accuracy": (tp + tn) / N, "precision": div(tp, tp + fp), "recall": div(tp, tp + fn), "f1": div(2 * tp, 2 * tp + fp + fn),
        "positive_rate": (tp + fp) / N, "roc_auc": auc_from_counts(pos_bin, neg_bin), "pr_auc": ap_from_counts(pos_bin, neg_bin),
        "log_loss": ll, "brier": br,
    }


# --------------------------------------------------------------------------- multiclass


def _multiclass(
    task: MulticlassTask, current: pd.DataFrame, base: Prepared, names: list[str], n_boot: int, seed: int, confidence: float
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    wanted = [n for n in names if n in MULTICLASS_METRICS]
    classes = base.classes
    if not wanted or not task.model.scores:
        return {}, []
    cols = task.score_columns(classes)
    if base.scores is None or base.n == 0 or len(cols) < len(classes):
        return {}, ["no performance estimate: the baseline needs labelled rows with a score column for every class"]
    if any(c not in current.columns for c in cols.values()) or task.model.prediction not in current.columns:
        return {}, ["no performance estimate: a score or the prediction column is not in the window"]
    S = np.column_stack([pd.to_numeric(current[cols[c]], errors="coerce").to_numpy(dtype=float) for c in classes])
    pred = current[task.model.prediction].astype(pd.CategoricalDtype(classes)).cat.codes.to_numpy()
    ok = np.isfinite(S).all(axis=1) & (pred >= 0)
    S, pred = S[ok], pred[ok]
    if pred.size == 0:
        return {}, ["no performance estimate: no scored rows in the window"]
    C = len(classes)
    P = np.column_stack([fit_calibrator(base.scores[:, c], (base.y == c).astype(float))(S[:, c]) for c in range(C)])
    P = P / np.maximum(P.sum(axis=1, keepdims=True), EPS)
    # expected confusion matrix (true class x predicted class) and its cell variances
    mu = np.stack([np.bincount(pred, weights=P[:, t], minlength=C) for t in range(C)])
    var = np.stack([np.bincount(pred, weights=P[:, t] * (1 - P[:, t]), minlength=C) for t in range(C)])
    point = _multiclass_metrics(mu[None], [(n, m[None]) for m, _, n in (_class_cells(S[:, c], P[:, c], CBPE_BINS) for c in range(C))])
    sims: Optional[dict[str, Any]] = None
    if n_boot > 0:
        rng = np.random.default_rng(seed + 104729)
        cm = np.clip(mu + np.sqrt(var) * rng.standard_normal((n_boot, C, C)), 0, None)
        rank = [_class_cells(S[:, c], P[:, c], SIM_BINS) for c in range(C)]
        sim_rank = [(n, np.clip(m + np.sqrt(v) * rng.standard_normal((n_boot, m.size)), 0, n)) for m, v, n in rank]
        sim: dict[str, Any] = dict(_multiclass_metrics(cm, sim_rank))
        # macro AUC: the mean of the per-class standard errors (the classes' AUCs share rows)
        per_class = [replicate_se(a) for a in sim.pop("roc_auc_per_class")]
        sims = sim
        sim["roc_auc"] = float(np.mean([x for x in per_class if x is not None])) if any(x is not None for x in per_class) else None
    return _rows({k: v[0] for k, v in point.items()}, sims, wanted, confidence), []


def _class_cells(s: np.ndarray, p: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Expected positives, their variance and rows per score bin of one class's score (ascending)."""
    b, k = score_bins(s, bins)
    return np.bincount(b, weights=p, minlength=k), np.bincount(b, weights=p * (1 - p), minlength=k), np.bincount(b, minlength=k).astype(float)


def _multiclass_metrics(cm: np.ndarray, rank: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, np.ndarray]:
    """Metrics of (B, C, C) confusion matrices and, per class, (rows per bin, (B, bins) positives)."""
    N = cm.sum(axis=(1, 2))
    tp = np.diagonal(cm, axis1=1, axis2=2)
    pos, pp = cm.sum(axis=2), cm.sum(axis=1)
    f1 = div(2 * tp, pos + pp)
    present = np.isfinite(f1)
    aucs = np.stack([auc_from_counts(m, n - m) for n, m in rank])
    with np.errstate(invalid="ignore"):
        macro = np.nanmean(np.where(np.isfinite(aucs), aucs, np.nan), axis=0) if np.isfinite(aucs).any() else np.full(N.shape, np.nan)
    return {
        "accuracy": tp.sum(axis=1) / N,
        "f1_macro": div(np.where(present, f1, 0).sum(axis=1), present.sum(axis=1)),
        "f1_weighted": div((np.nan_to_num(f1) * pos).sum(axis=1), pos.sum(axis=1)),
        "roc_auc": macro,
        "roc_auc_per_class": aucs,
    }
