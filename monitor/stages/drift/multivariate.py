"""Multivariate drift: a domain classifier telling reference rows from current rows.

A gradient-boosted classifier (scikit-learn's HistGradientBoostingClassifier) is
trained, with stratified k-fold cross-validation, to tell a sample of reference rows
(label 0) from a sample of current rows (label 1), over the features and the model's
outputs. Its out-of-fold ROC AUC is the statistic: 0.5 when the two samples cannot
be told apart, towards 1 when they can. Unlike per-column tests it sees changes in
the joint distribution: a column whose values are intact but joined from the wrong
key (its relation to the other columns gone) is found here and nowhere else.

Design after NannyML's DomainClassifierCalculator (stratified k-fold, out-of-fold
predictions pooled, ROC AUC), with three changes:
- an interval: DeLong's variance of the pooled AUC, so that a small window does not
  alert on noise; the verdict is `ci_low > threshold` (default 0.55: a 5-point margin
  over chance that a stable window does not reach);
- bounded cost: at most `max_rows` rows per side (default 2500, 3 folds) (the reference sample is drawn once
  and cached with the profile; the current one is drawn with a fixed seed);
- the columns it leans on, by permutation importance on the held-out folds (the drop
  in AUC when one column is shuffled).
"""

from __future__ import annotations

import math
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np
import pandas as pd

from monitor.config import DriftConfig
from monitor.stages.drift.gil import sharing_the_gil
from monitor.stages.drift.profile import ReferenceProfile
from monitor.stages.drift.result import TOO_FEW, MultivariateDrift
from monitor.stages.drift.scipy_docs import plain_scipy_docstrings

__all__ = ["multivariate_drift", "sample_rows", "domain_classifier", "auc_delong", "prefetch_classifier"]

METHOD = "domain_classifier"
ITERATIONS = 50  # boosting rounds per fold (learning rate 0.2): enough to find a broken relation
IMPORTANCE_ROWS = 1000  # held-out rows the permutation importance is measured on
_SKLEARN = ("sklearn.ensemble", "sklearn.model_selection", "sklearn.metrics", "threadpoolctl")
_prefetch_lock = threading.Lock()
_prefetch: Optional[threading.Thread] = None


def prefetch_classifier() -> Optional[threading.Thread]:
    """Start importing scikit-learn in a background thread, once per process (about 1 s of CPU, most of
    it holding the GIL); returns the thread, or None when there is nothing left to import.

    Call it as early as possible, before work that releases the GIL (reading parquet, sorting columns):
    the import then costs no wall time. The switch interval is shortened while it runs (gil.py).
    `domain_classifier` waits for it."""
    global _prefetch
    with _prefetch_lock:
        if _prefetch is None and not all(m in sys.modules for m in _SKLEARN):
            _prefetch = threading.Thread(target=_import_sklearn, name="drift-import-sklearn", daemon=True)
            _prefetch.start()
        return _prefetch if _prefetch is not None and _prefetch.is_alive() else None


def _import_sklearn() -> None:
    import importlib

    with sharing_the_gil():
        plain_scipy_docstrings()
        for name in _SKLEARN:
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001 - the classifier imports it again and reports the error there
                return


def _wait_for_import() -> None:
    thread = _prefetch
    if thread is not None:
        thread.join()


def sample_rows(n: int, config: DriftConfig) -> Optional[np.ndarray]:
    """Positions of the current rows the classifier reads (sorted, seeded), or None for all `n`."""
    mv = config.multivariate
    if n <= mv.max_rows:
        return None
    return np.sort(np.random.default_rng(mv.seed).choice(n, mv.max_rows, replace=False))


def multivariate_drift(profile: ReferenceProfile, current: pd.DataFrame, columns: Sequence[str],
                       config: DriftConfig, *, encoded: Optional[Mapping[str, np.ndarray]] = None) -> MultivariateDrift:
    """The domain classifier over `columns`, on the profile's reference sample and a sample of `current`.

    `encoded`: columns of the current sample (`sample_rows`) already encoded by the caller, which
    had each column in memory anyway (a streamed day is then not read a second time); the others
    are taken from `current` here.
    """
    mv = config.multivariate
    cols = [c for c in columns if c in profile.sample_columns and c in current.columns]
    if profile.sample is None or not cols:
        return MultivariateDrift(METHOD, None, None, None, mv.threshold, False, note="no columns to compare")
    at = [profile.sample_columns.index(c) for c in cols]
    rows = sample_rows(len(current), config)
    encoded = encoded or {}

    def column(c: str) -> np.ndarray:
        if c in encoded:
            return encoded[c]
        s = current[c]
        return profile.columns[c].encode(s if rows is None else s.iloc[rows])

    cur = np.column_stack([column(c) for c in cols])
    return domain_classifier(
        np.asarray(profile.sample)[:, at], cur, cols, [profile.columns[c].kind == "categorical" for c in cols],
        threshold=mv.threshold, max_rows=mv.max_rows, folds=mv.folds, top=mv.top, seed=mv.seed, min_rows=config.min_rows,
    )


def auc_delong(y: np.ndarray, score: np.ndarray) -> tuple[float, float]:
    """ROC AUC and DeLong's standard error (midranks for ties)."""
    from scipy.stats import rankdata

    pos = y == 1
    n1, n0 = int(pos.sum()), int((~pos).sum())
    if n1 == 0 or n0 == 0:
        return float("nan"), float("nan")
    r_all = rankdata(score)
    r_pos = rankdata(score[pos])
    r_neg = rankdata(score[~pos])
    auc = (r_all[pos].sum() - n1 * (n1 + 1) / 2.0) / (n1 * n0)
    v10 = (r_all[pos] - r_pos) / n0  # for each positive: share of negatives scored below it
    v01 = 1.0 - (r_all[~pos] - r_neg) / n1  # for each negative: share of positives scored above it
    var = (np.var(v10, ddof=1) if n1 > 1 else 0.0) / n1 + (np.var(v01, ddof=1) if n0 > 1 else 0.0) / n0
    return float(auc), float(math.sqrt(max(var, 0.0)))


@dataclass
class _Fold:
    model: Any
    test: np.ndarray


def domain_classifier(
    reference: np.ndarray,
    current: np.ndarray,
    columns: Sequence[str],
    categorical: Sequence[bool],
    *,
    threshold: float = 0.55,
    max_rows: int = 2500,
    folds: int = 3,
    top: int = 5,
    seed: int = 0,
    min_rows: int = 30,
) -> MultivariateDrift:
    """Cross-validated ROC AUC of telling `reference` rows (0) from `current` rows (1).

    Both are float matrices (rows x columns) over the same `columns`; categorical
    columns hold integer codes (NaN = missing), numeric ones their values (NaN = missing).
    """
    rng = np.random.default_rng(seed)
    ref = _sample(reference, max_rows, rng)
    cur = _sample(current, max_rows, rng)
    base: dict[str, Any] = dict(method=METHOD, threshold=float(threshold), n_reference=len(ref), n_current=len(cur))
    if len(cur) < max(min_rows, 2 * folds) or len(ref) < 2 * folds:
        return MultivariateDrift(statistic=None, ci_low=None, ci_high=None, drifted=False,
                                 note=f"{TOO_FEW}: {len(cur)} current, {len(ref)} reference", **base)
    X = np.vstack([ref, cur])
    y = np.concatenate([np.zeros(len(ref), dtype=np.int8), np.ones(len(cur), dtype=np.int8)])
    _wait_for_import()
    plain_scipy_docstrings()  # when the import was not begun ahead (a no-op once scipy.stats is in)
    import sklearn.ensemble  # noqa: F401 - loads the OpenMP runtime, so that the limit below applies to it
    from threadpoolctl import threadpool_limits

    # one thread: on a busy 2-core worker OpenMP's spinning threads make a fit 20-100x slower
    with threadpool_limits(1):
        oof, fitted = _cross_validate(X, y, list(categorical), folds, seed)
        auc, se = auc_delong(y, oof)
        lo, hi = max(0.0, auc - 1.96 * se), min(1.0, auc + 1.96 * se)
        drifted = bool(lo > threshold)
        ranked = _importance(X, y, fitted, list(columns), rng) if drifted else []
    return MultivariateDrift(statistic=auc, ci_low=lo, ci_high=hi, drifted=drifted,
                             top_features=tuple(ranked[:top]), **base)


def _sample(a: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    if len(a) <= n:
        return a
    return a[np.sort(rng.choice(len(a), n, replace=False))]


def _cross_validate(X: np.ndarray, y: np.ndarray, categorical: list[bool], folds: int, seed: int):
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import StratifiedKFold

    oof = np.zeros(len(y))
    fitted: list[_Fold] = []
    cats = np.asarray(categorical, dtype=bool) if any(categorical) else None
    for train, test in StratifiedKFold(folds, shuffle=True, random_state=seed).split(X, y):
        clf = HistGradientBoostingClassifier(
            max_iter=ITERATIONS, learning_rate=0.2, max_leaf_nodes=15, min_samples_leaf=20,
            categorical_features=cats, early_stopping=False, random_state=seed,
        )
        clf.fit(X[train], y[train])
        oof[test] = clf.predict_proba(X[test])[:, 1]
        fitted.append(_Fold(clf, test))
    return oof, fitted


def _importance(X: np.ndarray, y: np.ndarray, fitted: list[_Fold], columns: list[str],
                rng: np.random.Generator) -> list[tuple[str, float]]:
    """Permutation importance on held-out rows of the first fold (at most IMPORTANCE_ROWS): the drop in
    AUC when one column is shuffled. One predict call scores every shuffled copy at once."""
    from sklearn.metrics import roc_auc_score

    f = fitted[0]
    test = f.test if f.test.size <= IMPORTANCE_ROWS else np.sort(rng.choice(f.test, IMPORTANCE_ROWS, replace=False))
    Xt, yt = X[test], y[test]
    copies = [Xt]
    for j in range(len(columns)):
        Xp = Xt.copy()
        Xp[:, j] = Xp[rng.permutation(len(Xp)), j]
        copies.append(Xp)
    scores = f.model.predict_proba(np.vstack(copies))[:, 1].reshape(len(copies), len(Xt))
    base = roc_auc_score(yt, scores[0])
    drops = np.array([base - roc_auc_score(yt, scores[j + 1]) for j in range(len(columns))])
    order = np.argsort(-drops, kind="stable")
    return [(columns[j], float(drops[j])) for j in order if drops[j] > 0]
