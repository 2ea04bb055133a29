"""The model's output: checks `score_invalid`, `score_range`, `constant_prediction`,
`positive_rate` and `prediction_score_mismatch`, each against what the reference shows as normal."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Optional

import numpy as np
import pandas as pd

from monitor.config import ModelConfig, QualityConfig
from monitor.stages.performance.tasks import task_for
from monitor.stages.quality.common import _count, _excess, _num, _pct, _plain, _rows
from monitor.stages.quality.context import Context
from monitor.stages.quality.refstats import counts_up_to
from monitor.stages.quality.result import Finding

__all__: list[str] = []  # internal to the quality package

_LABEL_SOURCE = "label rate in training"
_CONSTANT_P = 1e-6  # a constant predicted class is flagged when the reference makes it this unlikely


def check_score_invalid(ctx: Context) -> tuple[dict, list[Finding]]:
    """NaN/inf scores and missing predictions: a broken invariant, unless the reference has them too."""
    info: dict[str, Any] = {}
    out: list[Finding] = []
    m, config, n = ctx.model, ctx.config, ctx.n
    if n == 0:
        return info, out
    if ctx.score is not None:
        bad = n - len(ctx.finite_scores)
        nan = int(ctx.score.isna().sum())
        ref_bad, ref_n = ctx.stats.figure(
            f"invalid|{m.score}", lambda: list(_reference_invalid(ctx.reference, m.score or "")), counts_up_to(len(ctx.reference), 2)
        )
        info["score_invalid_share_reference"] = ref_bad / ref_n if ref_n else None
        alert, _ = _excess(bad, n, ref_bad, ref_n if ref_bad else 0, config.score_invalid_share, config.significance_z)
        if bad and alert:
            parts = ([f"{_num(nan)} NaN/missing"] if nan else []) + ([f"{_num(bad - nan)} infinite"] if bad - nan else [])
            against = f" vs {_pct(ref_bad / ref_n)} in the reference" if ref_n else ""
            severity = "critical" if bad / n >= config.score_invalid_critical else "warning"
            msg = f"`{m.score}`: {_pct(bad / n)} of scores are not numbers ({', '.join(parts)}){against}"
            out.append(Finding("score_invalid", m.score or "", severity, msg, bad / n, config.score_invalid_share))
    if ctx.predictions is None:
        return info, out
    missing = n - len(ctx.predictions)
    ref_missing, ref_n = (
        (int(ctx.reference[m.prediction].isna().sum()), len(ctx.reference)) if m.prediction in ctx.reference.columns else (0, 0)
    )
    alert, _ = _excess(missing, n, ref_missing, ref_n if ref_missing else 0, config.score_invalid_share, config.significance_z)
    if alert:
        severity = "critical" if missing / n >= config.score_invalid_critical else "warning"
        msg = f"`{m.prediction}`: {_pct(missing / n)} of predictions are missing ({_rows(missing)})"
        out.append(Finding("score_invalid", m.prediction, severity, msg, missing / n, config.score_invalid_share))
    return info, out


def check_score_range(ctx: Context) -> tuple[dict, list[Finding]]:
    """A classifier's scores outside [0, 1]: a hard invariant."""
    finite, m = ctx.finite_scores, ctx.model
    if ctx.n == 0 or ctx.score is None or not ctx.classifier or not len(finite):
        return {}, []
    outside = (finite < 0) | (finite > 1)
    share = float(outside.sum()) / ctx.n
    info = {"score_out_of_range_share": share}
    if not outside.any() or share <= ctx.config.score_out_of_range_share:
        return info, []
    msg = (
        f"`{m.score}`: {_count(int(outside.sum()), 'score')} ({_pct(share)}) outside [0, 1] for a "
        f"classifier (min {_num(float(finite.min()))}, max {_num(float(finite.max()))})"
    )
    return info, [Finding("score_range", m.score or "", "critical", msg, share, ctx.config.score_out_of_range_share)]


def check_constant(ctx: Context) -> tuple[dict, list[Finding]]:
    """A constant score, or a constant predicted class the reference makes implausible (a fraud
    model legitimately predicts no fraud on a quiet day)."""
    out: list[Finding] = []
    m, config, finite = ctx.model, ctx.config, ctx.finite_scores
    if ctx.n == 0:
        return {}, out
    if len(finite) >= config.constant_min_rows and finite.min() == finite.max():
        msg = f"`{m.score}`: every score is {_num(float(finite[0]))} ({_rows(len(finite))}): the model output is constant"
        out.append(Finding("constant_prediction", m.score or "", "critical", msg, 1, config.constant_min_rows))
    present = ctx.predictions
    if present is None or len(present) < config.constant_min_rows or ctx.prediction_unique != 1:
        return {}, out
    only = present.iloc[0]
    plausible = False
    if ctx.classifier:
        ref_values, _ = _reference_rate(ctx.reference, m)
        if ref_values is not None:
            mix = ref_values.value_counts(normalize=True)
            q = float(mix.get(only, 0.0)) if only in mix.index else 0.0
            plausible = q >= 1.0 or (q > 0 and len(present) * math.log(q) > math.log(_CONSTANT_P))
    if not plausible:
        msg = f"`{m.prediction}`: every prediction is {_plain(only)!r} ({_rows(len(present))}): the model output is constant"
        out.append(Finding("constant_prediction", m.prediction, "critical", msg, 1, config.constant_min_rows))
    return {}, out


def check_positive_rate(ctx: Context) -> tuple[dict, list[Finding]]:
    """The predicted positive rate (binary) or class mix (multiclass) against the reference's."""
    present = ctx.predictions
    if ctx.n == 0 or present is None or not len(present) or not ctx.classifier:
        return {}, []
    ref_values, source = _reference_rate(ctx.reference, ctx.model)
    if ctx.binary:
        return _positive_rate(ctx, present, ref_values, source)
    if ref_values is None:
        return {}, []
    return _class_mix(ctx, present, ref_values, source)


def _positive_rate(
    ctx: Context, present: pd.Series, ref_values: Optional[pd.Series], source: Optional[str]
) -> tuple[dict, list[Finding]]:
    m, config = ctx.model, ctx.config
    rate = float((present == m.positive_label).mean())
    info: dict[str, Any] = {"positive_rate": rate}
    if ref_values is None:
        return info, []
    r0 = float((ref_values == m.positive_label).mean())
    d = rate - r0
    z = abs(d) / math.sqrt(max(r0 * (1 - r0), 1e-12) / len(present))
    ratio = max(rate, 1e-12) / max(r0, 1e-12)
    info.update(positive_rate_reference=r0, positive_rate_reference_source=source, positive_rate_z=z)
    # Against training labels only the absolute change counts: a classifier at its
    # threshold legitimately predicts a different share than the label prevalence.
    by_ratio = max(ratio, 1 / ratio) >= config.positive_rate_ratio and source != _LABEL_SOURCE
    if not (z >= config.positive_rate_z and (abs(d) > config.positive_rate_tolerance or by_ratio)):
        return info, []
    severity = "critical" if abs(d) > 2 * config.positive_rate_tolerance else "warning"
    msg = f"`{m.prediction}`: {_pct(rate)} predicted positive today vs {_pct(r0)} ({source})"
    return info, [Finding("positive_rate", m.prediction, severity, msg, rate, config.positive_rate_tolerance)]


def _class_mix(ctx: Context, present: pd.Series, ref_values: pd.Series, source: Optional[str]) -> tuple[dict, list[Finding]]:
    config = ctx.config
    cur_mix, ref_mix = present.value_counts(normalize=True), ref_values.value_counts(normalize=True)
    classes = pd.Index(list(dict.fromkeys([*cur_mix.index, *ref_mix.index])), dtype=object)
    a = cur_mix.reindex(classes, fill_value=0.0)
    b = ref_mix.reindex(classes, fill_value=0.0)
    tv = float(0.5 * np.abs(a - b).sum())
    info = {"class_mix_distance": tv, "class_mix_reference_source": source}
    if tv <= config.positive_rate_tolerance or len(present) < config.constant_min_rows:
        return info, []
    mover = (a - b).abs().idxmax()
    msg = (
        f"`{ctx.model.prediction}`: predicted class mix moved {_pct(tv)} from the reference ({source}); "
        f"{_plain(mover)!r} {_pct(float(b[mover]))} -> {_pct(float(a[mover]))}"
    )
    return info, [Finding("positive_rate", ctx.model.prediction, "warning", msg, tv, config.positive_rate_tolerance)]


def check_mismatch(ctx: Context) -> tuple[dict, list[Finding]]:
    """Prediction vs score at the threshold (binary), against the reference's own disagreement rate."""
    if ctx.n == 0 or not ctx.binary or ctx.score is None or ctx.predictions is None:
        return {}, []
    if not len(ctx.predictions):
        return {}, []
    info: dict[str, Any] = {}
    m, ref = ctx.model, ctx.reference

    def reference() -> tuple[int, int]:  # the reference's own disagreement: once per snapshot
        if not (m.score in ref.columns and m.prediction in ref.columns and len(ref)):
            return 0, 0
        bad, valid = ctx.stats.figure(f"mismatch|{m.score}|{m.prediction}|{m.threshold!r}|{m.positive_label!r}",
                                      lambda: list(_mismatches(ref[m.score], ref[m.prediction], m)), counts_up_to(len(ref), 2))
        return bad, valid

    return info, _check_mismatch(ctx.score, ctx.current[m.prediction], reference, m, ctx.config, info)


def _reference_rate(reference: pd.DataFrame, model: ModelConfig) -> tuple[Optional[pd.Series], Optional[str]]:
    """The reference's class mix, from its predictions, else its scores at the threshold, else its labels."""
    if len(reference) == 0:
        return None, None
    if model.prediction in reference.columns and reference[model.prediction].notna().any():
        return reference[model.prediction].dropna(), "predictions in the reference"
    if (
        task_for(model).binary
        and model.score
        and model.score in reference.columns
        and pd.api.types.is_numeric_dtype(reference[model.score].dtype)
        and reference[model.score].notna().any()
    ):
        s = reference[model.score].dropna()
        return (s >= model.threshold).map({True: model.positive_label, False: "__negative__"}), "reference scores at the threshold"
    if model.target in reference.columns and reference[model.target].notna().any():
        return reference[model.target].dropna(), _LABEL_SOURCE
    return None, None


def _reference_invalid(reference: pd.DataFrame, column: str) -> tuple[int, int]:
    """(NaN/inf count, rows) of a column in the reference; (0, 0) when the reference lacks it."""
    if column not in reference.columns or len(reference) == 0:
        return 0, 0
    raw = reference[column]
    x = (raw if pd.api.types.is_numeric_dtype(raw.dtype) else pd.to_numeric(raw, errors="coerce")).to_numpy(
        dtype=float, na_value=np.nan
    )
    return int((~np.isfinite(x)).sum()), len(x)


MISMATCH_BLOCK = 1 << 20  # rows per block: the temporaries stay a few MB at 50M rows (were 24 bytes a row)


def _mismatches(score: pd.Series, pred: pd.Series, model: ModelConfig) -> tuple[int, int]:
    """(rows whose prediction disagrees with score >= threshold, rows with both) for a binary classifier."""
    s = pd.to_numeric(score, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    bad = valid = 0
    for a in range(0, len(s), MISMATCH_BLOCK):
        sb, pb = s[a : a + MISMATCH_BLOCK], pred.iloc[a : a + MISMATCH_BLOCK]
        p_pos = (pb == model.positive_label).to_numpy(dtype=bool, na_value=False)
        ok = np.isfinite(sb) & pb.notna().to_numpy()
        tie = np.abs(sb - model.threshold) <= 1e-9  # > vs >= at the threshold itself is a convention
        bad += int(np.count_nonzero(ok & ((sb >= model.threshold) != p_pos) & ~tie))
        valid += int(np.count_nonzero(ok))
    return bad, valid


def _check_mismatch(
    score: pd.Series, pred: pd.Series, reference: Callable[[], tuple[int, int]], model: ModelConfig, config: QualityConfig,
    info: dict,
) -> list[Finding]:
    """Prediction vs score at the threshold, against the reference's own disagreement rate (manual
    overrides, rounding): a model whose training snapshot disagrees on 1.8% of rows is fine at 1.7%.
    `reference()`: its (disagreeing rows, rows with both), (0, 0) without them."""
    bad, valid = _mismatches(score, pred, model)
    share = bad / max(valid, 1)
    info["mismatch_share"] = share
    ref_bad, ref_valid = reference()
    ref_share = ref_bad / ref_valid if ref_valid else None
    info["mismatch_share_reference"] = ref_share
    alert, z = _excess(bad, valid, ref_bad, ref_valid, config.prediction_mismatch_share, config.significance_z)
    info["mismatch_z"] = z if math.isfinite(z) else None
    if not (bad and alert):
        return []
    against = f" vs {_pct(ref_share)} in the reference" if ref_share is not None else ""
    return [
        Finding(
            "prediction_score_mismatch",
            model.prediction,
            "warning",
            f"`{model.prediction}` disagrees with `{model.score}` >= {model.threshold:g} on {_pct(share)} "
            f"of rows ({_num(bad)}){against}: check model.threshold and model.positive_label",
            share,
            (ref_share or 0.0) + config.prediction_mismatch_share,
        )
    ]
