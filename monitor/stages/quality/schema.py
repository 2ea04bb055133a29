"""The schema against the training snapshot: the analysis the run depends on (which columns are
missing, added, renamed or retyped, and the retyped ones converted back), and the checks
`missing_columns`, `added_columns`, `renamed_columns` and `type_changed` that report it."""

from __future__ import annotations

import difflib
import math
import re
from typing import Any, Optional

import numpy as np
import pandas as pd

from monitor.config import ModelConfig, QualityConfig
from monitor.stages.quality.coltypes import _coercion, _compatible, _convert, _describe, _kind, _kind_of
from monitor.stages.quality.common import _count, _pct
from monitor.stages.quality.context import Context, SchemaAnalysis
from monitor.stages.quality.refstats import ReferenceStats
from monitor.stages.quality.result import Finding

__all__: list[str] = []  # internal to the quality package

_RENAME_SAMPLE = 20_000  # values per side compared when deciding a column looks renamed
Rename = tuple[str, str, float, Optional[float]]  # (old, new, name similarity, value similarity)


def analyse_schema(
    current: pd.DataFrame, reference: pd.DataFrame, model: ModelConfig, features: dict[str, str], config: QualityConfig,
    stats: Optional[ReferenceStats] = None,
) -> SchemaAnalysis:
    """Columns against the reference; rename matching only when `renamed_columns` is on. `stats`: the
    reference's figures, where what each reference feature holds is kept once worked out."""
    section: dict[str, Any] = {"missing": [], "added": [], "renamed": [], "type_changed": []}
    if len(current) == 0:
        # Nothing arrived (the reader may hand over an empty frame of any shape): the
        # arrival finding says so, and column-by-column findings would only be noise.
        section["skipped"] = "no rows in the window (see arrival)"
        return SchemaAnalysis(section=section)
    # a multiclass model's per-class probabilities (model.scores) are expected like its prediction
    model_cols = [c for c in (model.prediction, model.score, *(model.scores or {}).values(), model.id, model.timestamp) if c]
    ignore = set(model_cols) | {model.target}
    expected = list(features) + [c for c in model_cols if c not in features]
    missing = [c for c in expected if c not in current.columns]
    added = [
        c for c in current.columns if c not in reference.columns and c not in ignore and not str(c).startswith("_")
    ] if len(reference.columns) else []  # no reference columns: the `reference` finding says it all

    squashed = _wrong_delimiter(list(current.columns), set(expected) | set(reference.columns))
    if squashed is not None:
        section.update(missing=missing, added=[str(c) for c in current.columns], delimiter=squashed[1])
        return SchemaAnalysis(section=section, delimiter=squashed)

    renamed = _match_renames(current, reference, missing, added, config) if config.is_on("renamed_columns") else []
    taken = {c for old, new, _, _ in renamed for c in (old, new)}
    kinds, coercions, changed = _type_changes(current, reference, features, config, stats)
    section.update(
        missing=[c for c in missing if c not in taken],
        added=[c for c in added if c not in taken],
        renamed=[[old, new] for old, new, _, _ in renamed],
        type_changed=changed,
    )
    return SchemaAnalysis(section=section, kinds=kinds, coercions=coercions, renamed=renamed)


def _match_renames(
    current: pd.DataFrame, reference: pd.DataFrame, missing: list[str], added: list[str], config: QualityConfig
) -> list[Rename]:
    """A missing reference column and an added one of compatible type whose name is close, or
    whose values match closely enough to be the same column."""
    if not missing or not added:  # nothing to pair (and no reference column read for it)
        return []
    pairs: list[tuple[float, str, str, float, Optional[float]]] = []
    value_only: list[tuple[float, str, str, float, Optional[float]]] = []
    cur_kinds = {new: _kind_of(current, new) for new in added}
    cur_summaries: dict[tuple[str, str], tuple[Any, float]] = {}
    for old in missing:
        if old not in reference.columns:
            # A model column the training snapshot lacks (prediction, id...): names only.
            pairs += [(s, old, new, s, None) for new in added if (s := _name_similarity(old, new)) >= config.rename_similarity]
            continue
        rk = _kind(reference[old])
        ref_summary = _summary(reference[old], rk)
        for new in (c for c in added if _compatible(rk, cur_kinds[c])):
            name_sim = _name_similarity(old, new)
            if (new, rk) not in cur_summaries:
                cur_summaries[(new, rk)] = _summary(current[new], rk)
            val_sim, noise = _value_similarity(ref_summary, cur_summaries[(new, rk)])
            pair = (name_sim + (val_sim or 0.0), old, new, name_sim, val_sim)
            if name_sim >= config.rename_similarity and (val_sim is None or val_sim >= 0.5):
                pairs.append(pair)
            elif val_sim is not None and val_sim >= 1 - noise and _distinctive(reference[old]):
                value_only.append(pair)
    # Values alone are evidence only when they single out one pair: two columns over the
    # same categories match each other's renamed copies equally well.
    pairs += [p for p in value_only if sum(1 for q in value_only if q[1] == p[1] or q[2] == p[2]) == 1]
    renamed: list[Rename] = []
    taken: set[str] = set()
    for _, old, new, name_sim, val_sim in sorted(pairs, reverse=True):
        if old not in taken and new not in taken:
            renamed.append((old, new, name_sim, val_sim))
            taken |= {old, new}
    return renamed


def _type_changes(
    current: pd.DataFrame, reference: pd.DataFrame, features: dict[str, str], config: QualityConfig,
    stats: Optional[ReferenceStats] = None,
) -> tuple[dict[str, tuple[str, str]], dict[str, tuple[str, pd.Series]], list[dict]]:
    """Type changes, judged on what the values are (an int column with nulls read as floats is
    fine; an int column arriving as strings is not), and the parseable ones converted back."""
    kinds: dict[str, tuple[str, str]] = {}
    coercions: dict[str, tuple[str, pd.Series]] = {}
    changed: list[dict] = []
    for col in features:
        if col not in current.columns or col not in reference.columns:
            continue
        rk = _reference_kind(reference, col, stats)
        ck = _kind_of(current, col)
        kinds[col] = (rk, ck)
        if _compatible(rk, ck):
            continue
        to = _coercion(rk, ck)
        parsed_share, converted = None, None
        if to is not None:
            nonnull = int(current[col].notna().sum())
            try:
                converted = _convert(current[col], to)
                parsed_share = int(converted.notna().sum()) / nonnull if nonnull else None
            except (TypeError, ValueError, OverflowError):
                parsed_share = None  # not convertible after all: the column is left out
        changed.append({"column": col, "reference": _describe(reference[col], rk), "current": _describe(current[col], ck),
                        "dtype_reference": str(reference[col].dtype), "dtype": str(current[col].dtype),
                        "parsed_share": parsed_share})
        if to is not None and converted is not None and parsed_share is not None and parsed_share >= config.coerce_min_share:
            coercions[col] = (to, converted)
    return kinds, coercions, changed


def _reference_kind(reference: pd.DataFrame, col: str, stats: Optional[ReferenceStats]) -> str:
    """`_kind_of(reference, col)`, kept with the reference's figures (an object column is read to tell)."""
    if stats is None:
        return _kind_of(reference, col)
    return str(stats.figure(f"kind|{col}", lambda: _kind_of(reference, col), lambda v: isinstance(v, str)))


# --------------------------------------------------------------------------- the checks


def check_missing_columns(ctx: Context) -> tuple[dict, list[Finding]]:
    s = ctx.schema
    if s.delimiter is not None:
        header, sep = s.delimiter
        shown = header if len(header) <= 60 else header[:57] + "..."
        msg = (
            f"The data arrived with a column named `{shown}`: looks like a CSV read with the wrong "
            f"delimiter ({sep!r} separates the fields); set csv_options: {{sep: {sep!r}}} on the source"
        )
        return {}, [Finding("missing_columns", "delimiter", "critical", msg, len(s.section.get("missing", [])), None)]
    out = []
    for col in s.section.get("missing", []):
        role = "feature" if col in ctx.features else _role(col, ctx.model)
        severity = "warning" if col == ctx.model.timestamp else "critical"
        msg = f"`{col}` ({role}) is missing from today's data: checks that need it were skipped"
        out.append(Finding("missing_columns", col, severity, msg, None, None))
    return {}, out


def check_added_columns(ctx: Context) -> tuple[dict, list[Finding]]:
    lone = [] if ctx.schema.delimiter is not None else ctx.schema.section.get("added", [])
    if not lone:
        return {}, []
    shown = ", ".join(f"`{c}`" for c in lone[:8]) + (f" and {len(lone) - 8} more" if len(lone) > 8 else "")
    msg = f"{_count(len(lone), 'column')} not in the training snapshot: {shown}"
    return {}, [Finding("added_columns", "added_columns", "warning", msg, len(lone), None)]


def check_renamed_columns(ctx: Context) -> tuple[dict, list[Finding]]:
    out = []
    for old, new, _, val_sim in ctx.schema.renamed:
        match = f"same type, values match {_pct(val_sim)}" if val_sim is not None else "similar name; no values to compare"
        how = (
            f"`{old}` arrives as `{new!s}` (the same name up to case, spacing or an encoding mark such as a "
            f"byte-order mark; {match})"
            if _norm(old) == _norm(new)
            else f"`{old}` is missing and `{new}` is new: looks renamed ({match})"
        )
        msg = f"{how}; `{old}` is left out of this run until the data or the config is fixed"
        out.append(Finding("renamed_columns", old, "critical", msg, val_sim, None))
    return {}, out


def check_type_changed(ctx: Context) -> tuple[dict, list[Finding]]:
    out = []
    for e in ctx.schema.section.get("type_changed", []):
        col, was, now, parsed = e["column"], e["reference"], e["current"], e["parsed_share"]
        if col in ctx.schema.coercions:
            tail = f"{_pct(parsed)} parse as {was}, so it is checked as {was}"
            if parsed < 1:
                tail += f" (the other {_pct(1 - parsed)} count as nulls)"
            severity = "warning"
        else:
            how = f"only {_pct(parsed)} parse as {was}" if parsed is not None else "it cannot be read as " + was
            tail = f"{how}, so it is left out of this run"
            severity = "critical"
        msg = f"`{col}` arrives as {now} (was {was} in training): {tail}"
        out.append(Finding("type_changed", col, severity, msg, parsed, ctx.config.coerce_min_share))
    return {}, out


# --------------------------------------------------------------------------- rename matching


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def _name_similarity(a: str, b: str) -> float:
    x, y = _norm(a), _norm(b)
    if not x or not y:
        return 0.0
    ratio = difflib.SequenceMatcher(None, x, y).ratio()
    short, long_ = sorted((x, y), key=len)
    if len(short) >= 4 and short in long_:
        ratio = max(ratio, 0.85)  # income -> annual_income
    return ratio


def _sample(s: pd.Series, k: int) -> pd.Series:
    s = s.dropna()
    if len(s) > k:
        idx = np.random.default_rng(0).choice(len(s), size=k, replace=False)
        s = s.iloc[np.sort(idx)]
    return s


def _summary(s: pd.Series, kind: str) -> tuple[Any, float]:
    """What rename matching compares: a sorted sample of numbers (or the set of values) and the null rate."""
    sample = _sample(s, _RENAME_SAMPLE)
    null_rate = float(s.isna().mean()) if len(s) else 0.0
    if kind in ("numeric", "bool"):
        return np.sort(sample.to_numpy(dtype=float)), null_rate
    return set(pd.unique(sample.astype(str))), null_rate


def _value_similarity(ref: tuple[Any, float], cur: tuple[Any, float]) -> tuple[Optional[float], float]:
    """(similarity, noise) of two `_summary`s: 1 - KS distance for numbers, Jaccard of value sets
    otherwise, less the null-rate gap (None if unknowable); `noise` is how far from 1 two samples
    of one column may land."""
    (a, ref_null), (b, cur_null) = ref, cur
    if len(a) == 0 or len(b) == 0 or isinstance(a, set) != isinstance(b, set):
        return None, 0.0
    null_gap = abs(ref_null - cur_null)
    if isinstance(a, np.ndarray):
        grid = np.concatenate([a, b])
        ks = np.max(np.abs(np.searchsorted(a, grid, "right") / len(a) - np.searchsorted(b, grid, "right") / len(b)))
        sim = 1.0 - float(ks)
        # The two-sample KS critical value at alpha = 0.01, floored at 0.05 for large samples.
        noise = min(0.2, max(0.05, 1.63 * math.sqrt((len(a) + len(b)) / (len(a) * len(b)))))
    else:
        sim = len(a & b) / len(a | b)
        noise = 0.05
    return max(0.0, sim - null_gap), noise


def _distinctive(s: pd.Series) -> bool:
    """Enough distinct values that matching distributions are evidence of the same column."""
    return s.dropna().nunique() >= 10


def _wrong_delimiter(columns: list, expected: set) -> Optional[tuple[str, str]]:
    """(header, separator) when a column name is really several expected names glued by a separator."""
    if len(columns) > 3:
        return None
    for name in columns:
        for sep in (";", "|", "\t", ",", ":"):
            pieces = {p.strip().strip('"').strip("'") for p in str(name).split(sep)}
            if len(pieces) >= 2 and len(pieces & expected) >= 2:
                return str(name), sep
    return None


def _role(col: str, model: ModelConfig) -> str:
    roles: dict[Optional[str], str] = {c: f"score of class {k}" for k, c in (model.scores or {}).items()}
    roles.update({model.prediction: "prediction", model.score: "score", model.id: "id", model.timestamp: "timestamp"})
    return roles.get(col, "column")
