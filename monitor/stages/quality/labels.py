"""Delayed ground truth: the `labels` profile and the checks `label_coverage`, `labels_due`,
`orphan_labels` and `label_values`."""

from __future__ import annotations

from typing import Any, Optional

import numpy as np
import pandas as pd

from monitor.stages.quality.coltypes import _compatible, _describe, _kind
from monitor.stages.quality.common import _count, _examples, _num, _pct, _plain, _repeats, _rows
from monitor.stages.quality.context import Context
from monitor.stages.quality.result import Finding

__all__: list[str] = []  # internal to the quality package


def labels_profile(ctx: Context) -> dict[str, Any]:
    """Whether labels are configured, and the window's label coverage."""
    target, current, labels = ctx.model.target, ctx.current, ctx.labels
    info: dict[str, Any] = {"configured": labels is not None or target in current.columns}
    if info["configured"] and target in current.columns and ctx.n:
        labelled = int(current[target].notna().sum())
        info.update(labelled=labelled, coverage=labelled / ctx.n)
    if labels is not None:
        info["label_rows"] = len(labels)
    return info


def check_label_coverage(ctx: Context) -> tuple[dict, list[Finding]]:
    info = labels_profile(ctx)
    coverage, want = info.get("coverage"), ctx.config.min_label_coverage
    if coverage is None or coverage >= want:
        return {}, []
    msg = (
        f"Only {_pct(coverage)} of predictions ({_num(info['labelled'])} of {_num(ctx.n)}) have a label yet "
        f"(expected at least {_pct(want)})"
    )
    return {}, [Finding("label_coverage", "label_coverage", "warning", msg, coverage, want)]


def _join_keys(ctx: Context, labels: pd.DataFrame) -> list[str]:
    m, current = ctx.model, ctx.current
    if m.id and m.id in labels.columns and m.id in current.columns:
        return [m.id]
    return [c for c in labels.columns if c in current.columns and c != m.target]


def check_orphan_labels(ctx: Context) -> tuple[dict, list[Finding]]:
    """Labels matching no prediction: meaningful only where labels are partitioned like the
    predictions (one labels table for all dates legitimately holds labels for other days)."""
    labels, current, config = ctx.labels, ctx.current, ctx.config
    if labels is None or not len(labels):
        return {}, []
    keys = _join_keys(ctx, labels)
    if not keys:
        msg = (
            f"The labels share no id column with the predictions (label columns: "
            f"{', '.join(map(str, list(labels.columns)[:10]))}); set model.id / labels.join_on"
        )
        return {}, [Finding("orphan_labels", "orphan_labels", "critical", msg, None, None)]
    if not ctx.n:
        return {}, []
    if len(keys) == 1:
        matched = labels[keys[0]].isin(current[keys[0]].dropna())
        key_dups = _repeats(labels[keys[0]].dropna())
    else:
        lab_idx = pd.MultiIndex.from_frame(labels[keys])
        matched = pd.Series(lab_idx.isin(pd.MultiIndex.from_frame(current[keys])), index=labels.index)
        key_dups = int(lab_idx.duplicated().sum())
    orphans = labels.loc[~matched, keys[0]]
    share = len(orphans) / len(labels)
    info = {"join_on": keys, "orphan_labels": len(orphans), "orphan_share": share, "duplicate_label_ids": key_dups,
            "orphan_examples": [_plain(v) for v in orphans.head(config.examples)]}
    if not (ctx.labels_partitioned and len(orphans) and share > config.orphan_label_share):
        return info, []
    msg = (
        f"{_count(len(orphans), 'label')} ({_pct(share)} of {_num(len(labels))}) match no prediction "
        f"`{keys[0]}` in the window, e.g. {_examples(info['orphan_examples'], config.examples)}"
        + _key_type_hint(labels, current, keys)
    )
    return info, [Finding("orphan_labels", "orphan_labels", "warning", msg, share, config.orphan_label_share)]


def check_label_values(ctx: Context) -> tuple[dict, list[Finding]]:
    """A classifier's label values outside the classes seen in training."""
    labels, target, reference, config = ctx.labels, ctx.model.target, ctx.reference, ctx.config
    if not ctx.classifier or not labels_profile(ctx)["configured"]:
        return {}, []
    if labels is not None and len(labels) and target not in labels.columns:
        msg = (
            f"The labels have no `{target}` column (columns: {', '.join(map(str, list(labels.columns)[:10]))}): "
            f"set model.target to the label column"
        )
        return {}, [Finding("label_values", target, "critical", msg, None, None)]
    values = labels[target] if labels is not None and target in labels.columns else (
        ctx.current[target] if target in ctx.current.columns else None
    )
    if values is None or target not in reference.columns or len(reference) == 0:
        return {}, []
    classes = _reference_classes(ctx, target)
    values = values.dropna()
    if len(values) == 0 or len(classes) == 0:
        return {}, []
    unknown = ~values.isin(classes)
    share = float(unknown.mean())
    info = {"classes": [_plain(c) for c in classes[:50]], "unknown_label_share": share,
            "unknown_label_examples": [_plain(v) for v in pd.unique(values[unknown])[: config.examples]]}
    if not (unknown.any() and share > config.unknown_label_share):
        return info, []
    shown = ", ".join(repr(_plain(c)) for c in sorted(classes[:10], key=str))
    msg = (
        f"`{target}`: {_count(int(unknown.sum()), 'label value')} ({_pct(share)}) not among the classes seen in training "
        f"({shown}), e.g. {_examples(info['unknown_label_examples'], config.examples)}"
    )
    return info, [Finding("label_values", target, "critical", msg, share, config.unknown_label_share)]


def _reference_classes(ctx: Context, target: str) -> Any:
    """`pd.unique(reference[target].dropna())`, the classes seen in training: kept with the reference's
    figures when they are integers, booleans or finite numbers (they come back as the same array)."""
    computed = []

    def compute() -> Optional[dict]:
        classes = pd.unique(ctx.reference[target].dropna())
        computed.append(classes)
        if not isinstance(classes, np.ndarray) or str(classes.dtype) not in _CLASS_TYPES:
            return None
        if classes.dtype.kind == "f" and not np.isfinite(classes).all():
            return None
        return {"dtype": str(classes.dtype), "values": classes.tolist()}

    doc = ctx.stats.figure(f"classes|{target}", compute, _classes_valid)
    if computed:
        return computed[0]
    return pd.unique(ctx.reference[target].dropna()) if doc is None else np.array(doc["values"], dtype=doc["dtype"])


_CLASS_TYPES = {"int64": (int,), "bool": (bool,), "float64": (float, int)}  # dtype -> the JSON values it takes


def _classes_valid(doc: Any) -> bool:
    if doc is None:
        return True
    if not isinstance(doc, dict) or doc.get("dtype") not in _CLASS_TYPES or not isinstance(doc.get("values"), list):
        return False
    kinds = _CLASS_TYPES[doc["dtype"]]
    return all(isinstance(v, kinds) and (doc["dtype"] == "bool" or not isinstance(v, bool)) for v in doc["values"])


def _key_type_hint(labels: pd.DataFrame, current: pd.DataFrame, keys: list[str]) -> str:
    for key in keys:
        lk, ck = _kind(labels[key]), _kind(current[key])
        if not _compatible(lk, ck):
            return f" (`{key}` holds {_describe(labels[key], lk)} in the labels but {_describe(current[key], ck)} in the predictions)"
    return ""


def check_labels_due(ctx: Context) -> tuple[dict, list[Finding]]:
    """The day whose labels are due (older than labels.delay_days) with too few of its rows labelled.

    `ctx.labels_due`: {date, uri, rows, labelled, delay_days} as read for the run (None when not applicable).
    """
    due, config = ctx.labels_due, ctx.config
    if not due or not due.get("rows"):
        return ({"due": dict(due)} if due else {}), []
    rows, labelled = int(due["rows"]), int(due.get("labelled") or 0)
    coverage = labelled / rows
    info = {"due": {**due, "coverage": coverage, "expected": config.labels_due_coverage}}
    if coverage >= config.labels_due_coverage:
        return info, []
    where = f" at {due['uri']}" if due.get("uri") else ""
    return info, [
        Finding(
            "labels_due",
            str(due.get("date")),
            "critical" if labelled == 0 else "warning",
            f"Labels for {due.get('date')} are due ({due.get('delay_days')} days' delay) but only {_pct(coverage)} of its "
            f"{_rows(rows)} have one ({_num(labelled)} labelled){where}: is the labels feed broken?",
            coverage,
            config.labels_due_coverage,
        )
    ]
