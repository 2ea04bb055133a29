"""Trends over the previous runs: the headline metric, the drift share and the row count, each a
sparkline (PNG) and a text spark line for the plain-text part."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Optional

from monitor.document import MetricsDocument
from monitor.report.format import fmt_int, fmt_num, fmt_pct, metric_name

__all__ = ["trends_section", "text_spark"]

Getter = Callable[[MetricsDocument], Optional[float]]
SparkFn = Callable[[list[Optional[float]]], Optional[bytes]]


def _headline(doc: MetricsDocument, history: Sequence[MetricsDocument]) -> Optional[str]:
    """Today's first metric; with no labels today, the one the history knows."""
    for d in [doc, *reversed(history)]:
        if d.performance is not None and d.performance.overall:
            return next(iter(d.performance.overall))
    return None


def _metric(name: str) -> Getter:
    def get(d: MetricsDocument) -> Optional[float]:
        info = d.performance.overall.get(name) if d.performance is not None else None
        return None if info is None or info.value is None else float(info.value)
    return get


def _drift_share(d: MetricsDocument) -> Optional[float]:
    return None if d.drift is None or d.drift.share_drifted is None else float(d.drift.share_drifted)


def _rows(d: MetricsDocument) -> Optional[float]:
    return None if d.rows is None or d.rows.current is None else float(d.rows.current)


def text_spark(values: Sequence[Optional[float]]) -> str:
    bars = "\u2581\u2582\u2583\u2584\u2585\u2586\u2587\u2588"
    present = [v for v in values if v is not None]
    lo, hi = min(present), max(present)
    return "".join(" " if v is None else bars[0 if hi == lo else int((v - lo) / (hi - lo) * 7)] for v in values)


def trends_section(doc: MetricsDocument, history: Sequence[MetricsDocument], images: dict[str, bytes],
                   spark: Optional[SparkFn], runs: int) -> Optional[dict[str, Any]]:
    """One item per series with two or more values; `spark` draws a sparkline PNG (None: text only)."""
    history = list(history)[-(max(runs, 2) - 1):]
    if not history:
        return None
    specs: list[tuple[str, str, Getter, Callable[[Any], str]]] = []
    headline = _headline(doc, history)
    if headline:
        specs.append((metric_name(headline), "trend_metric", _metric(headline), fmt_num))
    specs.append(("drift share", "trend_drift", _drift_share, lambda v: fmt_pct(v, 0)))
    specs.append(("rows", "trend_rows", _rows, fmt_int))
    items = []
    for label, cid, get, fmt in specs:
        values = [get(d) for d in [*history, doc]]
        present = [v for v in values if v is not None]
        if len(present) < 2:
            continue
        png = spark(values) if spark is not None else None
        if png:
            images[cid] = png
        items.append({"label": label, "cid": cid if png else None,
                      "last": fmt(values[-1]) if values[-1] is not None else f"\u2013 today (last {fmt(present[-1])})",
                      "min": fmt(min(present)), "max": fmt(max(present)), "n": len(values), "spark": text_spark(values)})
    if not items:
        return None
    return {"items": items, "from": history[0].date, "to": doc.date, "n": len(history) + 1}
