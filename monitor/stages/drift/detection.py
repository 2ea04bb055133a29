"""Per-column drift of the window and the dataset verdict; the newest day and the domain classifier beside them.

Verdicts. Distance methods (wasserstein, psi, jensenshannon, hellinger): the statistic is
the effect size, and the column drifts when it is >= the threshold (default 0.1, as in
Evidently) AND the sample is improbable under no change at its own size: a distance is
biased upwards at small n (700 values drawn from the reference itself reach a normed
Wasserstein of 0.1 about once in a hundred columns), so above its threshold the column is
also tested by resampling the reference with its own sampling noise counted
(newest_day.sample_p_value), Benjamini-Hochberg over the columns of its role (columns below
the threshold count as p = 1), at `newest_day.alpha` (0.001): the same resampling test as
the newest day's, held at the same per-run level, because the monitor runs every night and
a level of 0.05 over ten columns is a false alarm every few weeks. `drifted_evidently`
keeps the threshold alone. P-value methods (ks, chisquare, z, cramer_von_mises, anderson): p-values of the
features are adjusted together with Benjamini-Hochberg, and a feature drifts only when the
adjusted p is below the threshold (default `config.fdr`) and below `newest_day.alpha` (the same
nightly level as the distance verdicts: at 0.05 per role, a reference of a few hundred rows
drawn from the very distribution of the window warned on 15% of nights) AND its effect size reaches
`config.min_effect` (default 0.05): the KS distance D for numeric tests, the total
variation distance between the value shares for count tests. `drifted_evidently` in each
column's dict is Evidently's own verdict (raw p against the threshold) for comparison.

Minimum evidence: a column with fewer than `config.min_rows` current values gets no
verdict ("too few rows"); it is not counted in the dataset verdict, so a one-row
partition never makes "dataset drift".
"""

from __future__ import annotations

import math
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from typing import Optional

import numpy as np
import pandas as pd

from monitor.config import DriftConfig
from monitor.errors import ConfigError, DataError, MonitorError
from monitor.stages.drift.gil import sharing_the_gil
from monitor.stages.drift.methods import METHODS, Method, Skip, auto_method, validate_method_names
from monitor.stages.drift.multivariate import multivariate_drift, prefetch_classifier, sample_rows
from monitor.stages.drift.newest_day import Day, day_column, day_is_tested, newest_day_drift, sample_p_value
from monitor.stages.drift.pair import Pair, hist_counts, prepare
from monitor.stages.drift.profile import CHART_BINS, ColumnProfile, ReferenceProfile
from monitor.stages.drift.result import ColumnDrift, DayColumn, DriftResult
from monitor.stages.performance.intervals import bh_adjust
from monitor.textcut import cut

__all__ = ["detect_drift", "ROLES"]

ROLES = ("feature", "prediction", "target")


@dataclass
class _Raw:
    """One column's outcome before the multiple-testing correction."""

    column: str
    role: str
    kind: str
    method: Optional[str] = None
    statistic: Optional[float] = None
    p_value: Optional[float] = None
    effect: Optional[float] = None
    threshold: Optional[float] = None
    n_reference: int = 0
    n_current: int = 0
    nulls_reference: int = 0
    nulls_current: int = 0
    notes: list = field(default_factory=list)
    histogram: dict = field(default_factory=dict)
    too_few: bool = False
    p_resampled: Optional[float] = None  # distance methods above the threshold: p of the distance at this size

    @property
    def p_tested(self) -> Optional[float]:
        """The p-value the verdict adjusts: the method's own, else the resampled one."""
        return self.p_value if self.p_value is not None else self.p_resampled


def detect_drift(
    profile: ReferenceProfile,
    current: pd.DataFrame,
    config: DriftConfig,
    roles: Optional[dict[str, str]] = None,
    *,
    newest_day: Optional[Day] = None,
) -> DriftResult:
    """Drift of every column in `roles` (default: every profiled column, as a feature).

    Only "feature" columns count toward the dataset verdict; "prediction" and "target"
    are reported (and alerted) on their own. Columns missing from `current` or from the
    profile, and disabled ones, are listed in `skipped` with the reason. `newest_day`
    (the last day of the window, as its own frame) is also tested on its own.
    """
    validate_method_names(config)
    if roles is None:
        roles = {c: "feature" for c in profile.columns}
    bad = {c: r for c, r in roles.items() if r not in ROLES}
    if bad:
        raise DataError(f"drift: roles must be one of {ROLES}, got {bad}")
    todo, skipped = _columns_to_test(profile, current, config, roles)
    classifier = config.multivariate.enabled and profile.sample is not None
    mv_cols = [c for c, r in todo if r == "feature" or (r == "prediction" and config.multivariate.predictions)]
    mv_job = _classifier_in_background(profile, current, mv_cols, config) if classifier else None
    rows = sample_rows(len(current), config) if classifier and mv_job is None else None
    encoded: dict[str, np.ndarray] = {}  # a streamed day's sample, taken while each column is in memory anyway
    day = newest_day if newest_day is not None and config.newest_day.enabled else None
    day_frame = day.frame if day is not None and day_is_tested(day, config) else None
    day_done: dict[str, DayColumn] = {}  # the newest day's columns, measured in the same threads

    def one(item: tuple[str, str]) -> _Raw:
        col, role = item
        s = current[col]
        if classifier and mv_job is None and col in mv_cols and col in profile.sample_columns:
            encoded[col] = profile.columns[col].encode(s if rows is None else s.iloc[rows])
        raw = _safe_column_drift(profile.columns[col], s, role, config)
        del s
        if day_frame is not None and role != "target" and col in day_frame.columns:
            day_done[col] = day_column(profile, col, day_frame[col], config)
        profile.release(col)  # a cached profile's pages of this column: at most `workers` columns resident
        return raw

    with sharing_the_gil() if mv_job is not None else nullcontext():  # the classifier's thread runs Python
        raws = _map(one, todo, config.workers)
    result = _verdicts(raws, config, skipped)
    day_drift = None if day is None else newest_day_drift(profile, day, [c for c, r in todo if r != "target"], config,
                                                          done=day_done)
    mv = None
    if mv_job is not None:
        mv = mv_job.result()
    elif classifier:
        mv = multivariate_drift(profile, current, mv_cols, config, encoded=encoded)
    return replace(result, newest_day=day_drift, multivariate=mv)


def _classifier_in_background(profile: ReferenceProfile, current: pd.DataFrame, columns: list[str],
                              config: DriftConfig) -> Optional[Future]:
    """The domain classifier of an in-memory frame, started now in its own thread (None for a streamed day).

    scikit-learn's import (about 1 s, begun here unless begun earlier) and the fit then overlap with the
    per-column tests, which spend most of their time in numpy calls that release the GIL. Its sample is a
    few thousand rows of each column, read here; a streamed day (ColumnFrame) would read every column a
    second time for it, so there the column pass takes the sample and the fit comes after it."""
    prefetch_classifier()
    if not isinstance(current, pd.DataFrame):
        return None
    side = ThreadPoolExecutor(max_workers=1, thread_name_prefix="drift-classifier")
    job = side.submit(multivariate_drift, profile, current, columns, config)
    side.shutdown(wait=False)  # the thread ends with the job
    return job


def _columns_to_test(profile: ReferenceProfile, current: pd.DataFrame, config: DriftConfig,
                     roles: dict[str, str]) -> tuple[list[tuple[str, str]], dict[str, str]]:
    skipped: dict[str, str] = {}
    todo: list[tuple[str, str]] = []
    for col, role in roles.items():
        override = config.features.get(col)
        if override is not None and not override.enabled:
            skipped[col] = "disabled in the config (drift.features.<column>.enabled: false)"
        elif col not in profile.columns:
            skipped[col] = "not in the reference profile (refit the profile with this column)"
        elif col not in current.columns:
            skipped[col] = "not in the current data"
        else:
            todo.append((col, role))
    return todo, skipped


def _map(fn, items: list, workers: int) -> list:
    if workers > 1 and len(items) > 1:
        # numpy releases the GIL in sort/searchsorted/cumsum: columns overlap on separate cores;
        # at most `workers` columns are in memory at once.
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(fn, items))
    return [fn(t) for t in items]


def _safe_column_drift(cp: ColumnProfile, s: pd.Series, role: str, config: DriftConfig) -> _Raw:
    try:
        return _column_drift(cp, s, role, config)
    except MonitorError:
        raise  # a config problem: the run must say so, not hide it in a note
    except Exception as exc:  # noqa: BLE001 - data this engine did not foresee: report it on the column, never crash the run
        raw = _Raw(column=cp.name, role=role, kind=cp.kind, n_reference=cp.n_valid, nulls_reference=cp.n_null)
        raw.notes.append(f"drift could not be computed: {type(exc).__name__}: {exc}")
        return raw


def _column_drift(cp: ColumnProfile, s: pd.Series, role: str, config: DriftConfig) -> _Raw:
    raw = _Raw(column=cp.name, role=role, kind=cp.kind, n_reference=cp.n_valid, nulls_reference=cp.n_null)
    pair, raw.nulls_current, raw.notes = prepare(cp, s)
    raw.n_current = pair.n_cur
    if raw.nulls_current:
        raw.notes.append(f"{raw.nulls_current} null current values excluded")
    if pair.n_ref == 0:
        raw.notes.append("the reference has no usable values: drift not computed")
        return raw
    raw.histogram = _histogram(pair)
    if pair.n_cur == 0:
        raw.notes.append("the current window has no usable values: drift not computed")
        return raw
    method = _choose_method(pair, config, raw.notes)
    raw.method = method.name
    override = config.features.get(cp.name)
    thr = override.threshold if override and override.threshold is not None else config.threshold
    if thr is None:
        thr = method.default_threshold if method.default_threshold is not None else config.fdr
    raw.threshold = float(thr)
    raw.notes += _content_notes(pair)
    try:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            raw.statistic, raw.p_value, raw.effect = method.func(pair)
    except Skip as exc:
        raw.notes.append(str(exc))
        return raw
    if raw.effect is not None and not math.isfinite(raw.effect):
        raw.effect = None
    if pair.n_cur < config.min_rows:
        raw.too_few = True
        raw.notes.append(f"too few rows: {pair.n_cur} current values < drift.min_rows {config.min_rows}, no verdict")
    elif method.kind == "distance" and raw.statistic is not None and raw.statistic >= raw.threshold:
        # material: is it also more than a sample of this size shows by chance?
        raw.p_resampled = sample_p_value(cp, pair, config.newest_day.draws)[2]
    return raw


def _choose_method(pair: Pair, config: DriftConfig, notes: list[str]) -> Method:
    name = pair.ref.name
    override = config.features.get(name)
    method = (override.method if override and override.method else None) or config.method
    if method != "auto" and pair.kind not in METHODS[method].column_kinds:
        if override and override.method:
            raise ConfigError(
                f"drift.features.{name}.method: {method!r} works on numerical columns only and "
                f"{name!r} is categorical; use one of "
                f"{', '.join(n for n, m in METHODS.items() if pair.kind in m.column_kinds)}"
            )
        notes.append(f"{method} does not apply to a categorical column: method chosen as with auto")
        method = "auto"
    return METHODS[auto_method(pair) if method == "auto" else method]


def _content_notes(pair: Pair) -> list[str]:
    if pair.kind == "numerical":
        if pair.ref.n_unique == 1 and pair.y[0] == pair.y[-1] and pair.y[0] == pair.x[0]:
            return ["constant column, same value in reference and current"]
        return ["constant in the reference"] if pair.ref.n_unique == 1 else []
    keys, rc, cc = pair.counts()
    unseen = [(k, int(n)) for k, r, n in zip(keys, rc.tolist(), cc.tolist()) if r == 0 and n > 0]
    if not unseen:
        return []
    unseen.sort(key=lambda t: -t[1])
    shown = ", ".join(f"{cut(k)!r} ({n})" for k, n in unseen[:5])
    return [f"{len(unseen)} categor{'y' if len(unseen) == 1 else 'ies'} never seen in training: {shown}"]


def _histogram(p: Pair) -> dict:
    """Small shares for the report's chart: <= CHART_BINS bins or categories."""
    if p.kind == "numerical":
        edges = np.array(p.ref.chart_edges, dtype=np.float64)
        if p.y.size:
            edges[0] = min(edges[0], p.y[0])
            edges[-1] = max(edges[-1], p.y[-1])
        if edges.size == 1:
            edges = np.array([edges[0] - 0.5, edges[0] + 0.5])
        r = hist_counts(p.x, edges) / max(p.x.size, 1)
        c = hist_counts(p.y, edges) / max(p.y.size, 1) if p.y.size else np.zeros(edges.size - 1)
        return {"edges": [float(e) for e in edges], "reference": r.tolist(), "current": c.tolist()}
    keys, rc, cc = p.counts()
    r = rc / max(p.n_ref, 1)
    c = cc / max(p.n_cur, 1)
    top = np.argsort(-np.maximum(r, c), kind="stable")
    if len(keys) <= CHART_BINS:
        return {"categories": [cut(keys[i]) for i in top], "reference": r[top].tolist(), "current": c[top].tolist()}
    idx, rest = top[: CHART_BINS - 1], top[CHART_BINS - 1:]
    return {
        "categories": [cut(keys[i]) for i in idx] + [f"(other {len(rest)})"],
        "reference": r[idx].tolist() + [float(r[rest].sum())],
        "current": c[idx].tolist() + [float(c[rest].sum())],
    }


def _verdicts(raws: list[_Raw], config: DriftConfig, skipped: dict[str, str]) -> DriftResult:
    groups: dict[str, dict[str, ColumnDrift]] = {r: {} for r in ROLES}
    for role in ROLES:
        members = [r for r in raws if r.role == role]
        tested = [r for r in members if r.p_tested is not None and math.isfinite(r.p_tested) and not r.too_few]
        # distance columns below their threshold were not resampled: p = 1 in the family, so it is the
        # number of columns looked at, not only of those that looked suspicious
        quiet = [r for r in members if _below_threshold(r)]
        adj = bh_adjust([r.p_tested for r in tested] + [1.0] * len(quiet)).tolist()
        adjusted = dict(zip((r.column for r in tested), adj))
        for r in members:
            groups[role][r.column] = _decide(r, adjusted.get(r.column), config)
    feats = groups["feature"]
    evaluated = [c for c in feats.values() if c.evaluated]
    n_drifted = sum(c.drifted for c in evaluated)
    share = n_drifted / len(evaluated) if evaluated else 0.0
    return DriftResult(
        dataset_drift=bool(evaluated) and share >= config.share, share_drifted=share, share_threshold=config.share,
        n_features=len(evaluated), n_drifted=n_drifted, features=feats, prediction=groups["prediction"],
        target=groups["target"], skipped=skipped,
    )


def _below_threshold(r: _Raw) -> bool:
    m = METHODS[r.method] if r.method is not None else None
    return (m is not None and m.kind == "distance" and not r.too_few and r.p_resampled is None and r.statistic is not None
            and r.threshold is not None and r.statistic < r.threshold)


def _decide(r: _Raw, p_adj: Optional[float], config: DriftConfig) -> ColumnDrift:
    drifted = False
    evidently = None
    m = METHODS[r.method] if r.method is not None else None
    if m is not None and r.threshold is not None and (r.statistic is not None or r.p_value is not None):
        if m.kind == "distance":
            evidently = r.statistic is not None and r.statistic >= r.threshold
            # material (the threshold) and improbable at this size (unresampled: the threshold alone)
            improbable = p_adj is not None and p_adj < config.newest_day.alpha
            drifted = evidently and improbable if r.p_resampled is not None else evidently
        elif r.p_value is not None:
            # Evidently: ks and cramer_von_mises reject at p <= threshold, the others at p < threshold
            evidently = r.p_value <= r.threshold if r.method in ("ks", "cramer_von_mises") else r.p_value < r.threshold
            # significant at the threshold (Evidently's level) and at the nightly level the distance
            # verdicts use: at 0.05 per role, 15% of healthy nights on a small reference warned
            # (a method whose p-values stop above that level alerts at its smallest p)
            level = min(r.threshold, config.newest_day.alpha)
            significant = p_adj is not None and (p_adj < level or p_adj <= min(m.p_floor, r.threshold))
            drifted = significant and (r.effect or 0.0) >= config.min_effect
    return ColumnDrift(
        column=r.column, role=r.role, method=r.method, kind=r.kind, statistic=r.statistic, p_value=r.p_value,
        p_value_adjusted=p_adj, p_value_resampled=r.p_resampled, threshold=r.threshold, drifted=bool(drifted) and not r.too_few,
        drifted_evidently=None if evidently is None else bool(evidently), effect_size=r.effect,
        n_reference=r.n_reference, n_current=r.n_current, nulls_reference=r.nulls_reference,
        nulls_current=r.nulls_current, note="; ".join(r.notes) or None, histogram=r.histogram,
        display=m.display if m else "", effect_name=m.effect if m else "", too_few=r.too_few,
    )

