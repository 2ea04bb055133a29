"""Error analysis (worst rows, worst cohorts) and the choice of rows to send for annotation.

`select_for_annotation` spends a labelling budget where a label teaches most,
split evenly over the strata that apply, with any shortfall filled from the
next ones and a random share kept so that the labelled sample also stays usable
for an unbiased estimate:

* uncertain   scores closest to the decision threshold (binary), lowest top-class
              confidence is not available, so multiclass/regression skip it;
* drifted     rows in the over-represented region of a drifted feature: the
              decile (numeric) or value (categorical) whose share among the
              unlabelled rows most exceeds its share among the labelled rows;
* coverage    rows of the cohort values with the lowest label coverage;
* random      a uniform draw from what is left.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

import numpy as np
import pandas as pd

from monitor.config import ModelConfig
from monitor.jsonutil import to_jsonable
from monitor.stages.performance.tasks import labelled_mask, task_for
from monitor.textcut import cut

__all__ = ["row_loss", "worst_rows", "top_cohorts", "select_for_annotation"]

def row_loss(df: pd.DataFrame, model: ModelConfig) -> np.ndarray:
    """Per-row loss on labelled rows (NaN where unlabelled), as the task's strategy defines it.

    Binary with a score: log loss; without: 0/1 error. Multiclass: 0/1 error.
    Regression: absolute error.
    """
    return task_for(model).row_loss(df)


def worst_rows(current: pd.DataFrame, model: ModelConfig, features: list[str], n: int) -> list[dict]:
    """The n labelled rows with the highest loss, with id, label, prediction, score and feature values."""
    if n <= 0 or len(current) == 0:
        return []
    loss = row_loss(current, model)
    ok = np.flatnonzero(np.isfinite(loss))
    if ok.size == 0:
        return []
    if ok.size > n:  # only rows at or above the n-th highest loss can be among the n worst
        vals = loss[ok]
        ok = ok[vals >= np.partition(vals, vals.size - n)[vals.size - n]]
        del vals
    # stable order: highest loss first, ties by position
    order = ok[np.lexsort((ok, -loss[ok]))][:n]
    feats = [f for f in features if f in current.columns]
    out = []
    rows = current.iloc[order]  # at once: a streamed day reads each row group holding them once, not once a row
    for k, i in enumerate(order):
        row = rows.iloc[k]
        item = {
            "id": row[model.id] if model.id and model.id in current.columns else int(i),
            "loss": float(loss[i]),
            "label": row[model.target],
            "prediction": row[model.prediction] if model.prediction in current.columns else None,
            "score": row[model.score] if model.score and model.score in current.columns else None,
            "features": {f: row[f] for f in feats},
        }
        out.append(_cut_values(to_jsonable(item)))
    return out


def _cut_values(item: dict) -> dict:
    """A worst row with every text value cut (a megabyte string is quoted by its start)."""
    def short(v: object) -> object:
        return cut(v) if isinstance(v, str) else v

    return {**{k: short(v) for k, v in item.items()}, "features": {f: short(v) for f, v in item["features"].items()}}


def top_cohorts(cohorts_result, n: int) -> list[dict]:
    """The n cohorts with the largest impact (rows x drop), worst metric named; impact 0 left out."""
    items = cohorts_result.to_dict()["cohorts"] if hasattr(cohorts_result, "to_dict") else list(cohorts_result)
    ranked = sorted((c for c in items if (c.get("impact") or 0) > 0), key=lambda c: -c["impact"])[: max(n, 0)]
    out = []
    for c in ranked:
        worst, worst_drop = None, -1.0
        for name, m in c["metrics"].items():
            if m.get("value") is None or m.get("baseline") is None or m.get("delta") is None:
                continue
            hib = m.get("higher_is_better")
            drop = abs(m["delta"]) if hib is None else (-m["delta"] if hib else m["delta"])
            if drop > worst_drop:
                worst, worst_drop = name, drop
        wm = c["metrics"].get(worst, {}) if worst else {}
        out.append(
            {
                "cohort": c["cohort"],
                "rows": c["rows"],
                "labelled": c["labelled"],
                "impact": c["impact"],
                "too_small": c.get("too_small", False),
                "metric": worst,
                "value": wm.get("value"),
                "baseline": wm.get("baseline"),
                "delta": wm.get("delta"),
                "regressed": bool(wm.get("regressed")),
            }
        )
    return out


def _drift_region(cand: pd.DataFrame, labelled: pd.DataFrame, col: str) -> Optional[pd.Series]:
    """Per candidate row: how over-represented its region of `col` is among unlabelled vs labelled rows."""
    if col not in cand.columns:
        return None
    x = cand[col]
    ref = labelled[col] if col in labelled.columns else x.iloc[:0]
    if pd.api.types.is_numeric_dtype(x) and not pd.api.types.is_bool_dtype(x):
        basis = ref.dropna() if ref.notna().sum() >= 20 else x.dropna()
        if basis.empty:
            return None
        edges = np.unique(np.quantile(basis.to_numpy(dtype=float), np.linspace(0, 1, 11)))
        if edges.size < 2:
            return None
        edges[0], edges[-1] = -np.inf, np.inf
        key = pd.Series(np.searchsorted(edges, x.to_numpy(dtype=float), side="right"), index=x.index)
        key[x.isna()] = -1
        ref_key = pd.Series(np.searchsorted(edges, ref.to_numpy(dtype=float), side="right"))
    else:
        key = x.astype("object").where(x.notna(), "__null__")
        ref_key = ref.astype("object").where(ref.notna(), "__null__")
    cand_share = key.map(key.value_counts(normalize=True))
    ref_share = key.map(ref_key.value_counts(normalize=True)).fillna(0.0)
    return cand_share / (ref_share + 1.0 / (len(ref_key) + 1))


def select_for_annotation(
    current: pd.DataFrame,
    model: ModelConfig,
    n: int,
    seed: int,
    *,
    cohort_columns: Sequence[str] = (),
    drifted_features: Sequence[str] = (),
) -> pd.DataFrame:
    """A reproducible stratified sample of up to n unlabelled rows, with a `reason` column.

    Same input and seed -> same rows in the same order. The returned frame has
    the window's columns (the unlabelled target column included, empty) plus `reason`.
    """
    lab = labelled_mask(current, model)
    # positional index: the window may carry duplicate index labels after a concat
    cand = current[~lab].reset_index(drop=True)
    labelled = current[lab].reset_index(drop=True)
    if n <= 0 or cand.empty:
        return cand.iloc[:0].assign(reason=pd.Series(dtype="object"))
    rng = np.random.default_rng(seed)
    # random tie-break key, fixed per row for this seed
    tiebreak = pd.Series(rng.random(len(cand)), index=cand.index)

    strata = _strata(current, lab, cand, labelled, model, tiebreak, cohort_columns, drifted_features)
    chosen = _draw(strata, tiebreak, min(n, len(cand)))
    out = cand.loc[list(chosen)].copy()
    out["reason"] = list(chosen.values())
    return out


Strata = list[tuple[str, pd.Series]]  # (reason, priority per candidate row: higher first)


def _strata(current: pd.DataFrame, lab: np.ndarray, cand: pd.DataFrame, labelled: pd.DataFrame, model: ModelConfig,
            tiebreak: pd.Series, cohort_columns: Sequence[str], drifted_features: Sequence[str]) -> Strata:
    """The strata that apply to these candidate rows, in the order their shares are filled; random last."""
    strata: Strata = []
    u = task_for(model).uncertainty(cand)
    if u is not None and u.notna().any():
        strata.append((f"uncertain: score near the threshold {model.threshold:g}", u))
    for col in drifted_features:
        r = _drift_region(cand, labelled, col)
        if r is not None and r.notna().any():
            strata.append((f"drifted: over-represented region of {col}", r))
    for col in cohort_columns:
        if col not in current.columns:
            continue
        key = current[col].astype("object").where(current[col].notna(), "__null__").to_numpy()
        coverage = pd.Series(lab).groupby(key).mean()
        cand_key = cand[col].astype("object").where(cand[col].notna(), "__null__")
        strata.append((f"coverage: least-labelled values of {col}", -cand_key.map(coverage).astype(float)))
    strata.append(("random", tiebreak))
    return strata


def _draw(strata: Strata, tiebreak: pd.Series, n: int) -> dict:
    """Up to n rows (index -> reason, in the order drawn): an even share per stratum, highest priority
    first; the random stratum keeps at least one share and fills what the others left."""
    chosen: dict = {}  # index -> reason, insertion-ordered
    share = max(1, n // len(strata))
    for reason, prio in strata:
        budget = share if reason != "random" else n - len(chosen)
        if reason == "random":
            budget = max(budget, 0)
        order = pd.DataFrame({"p": prio, "t": tiebreak}).dropna().sort_values(["p", "t"], ascending=[False, False], kind="mergesort")
        taken = 0
        for idx in order.index:
            if taken >= budget or len(chosen) >= n:
                break
            if idx in chosen:
                continue
            chosen[idx] = reason
            taken += 1
    return chosen
