"""Small PNG charts for the email: a distribution per drifted feature and trend sparklines.

Drawn with the tiny palette canvas of `monitor.report.png` (numpy + zlib, a 5x7 bitmap font),
not a plotting library: importing matplotlib alone cost 0.76 s of a 1M-row run. Charts are sized
for an email column (360x140 px by default), hold a handful of colours (a chart is 1-3 kB, the
whole email stays well under 1 MB) and are deterministic: the same input gives the same bytes.
Labels are data values drawn glyph by glyph (anything outside printable ASCII as '?'), so
nothing in a label is ever interpreted.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, Optional

from monitor.jsonutil import finite as _num
from monitor.report.glyphs import ADVANCE, CAP_H, GLYPH_H, printable, text_width
from monitor.report.png import Canvas
from monitor.textcut import cut

__all__ = ["distribution_png", "sparkline_png", "try_chart", "REFERENCE_COLOR", "CURRENT_COLOR"]

REFERENCE_COLOR = "#9aa5b1"  # training / reference: neutral grey
CURRENT_COLOR = "#2563eb"  # today: blue
_TEXT = "#374151"
_GRID = "#e5e7eb"
_REFERENCE_FILL_ALPHA = 0.45  # the numerical reference is a light filled area under today's outline


class _Box(NamedTuple):
    """The plot area in pixels: columns [x0, x1), rows y0 (top) to y1 (the baseline row)."""
    x0: int
    y0: int
    x1: int
    y1: int


def _box(width: int, height: int, left: float, bottom: float, w: float, h: float) -> _Box:
    """Axes given as fractions of the canvas (from the bottom left, as the charts were laid out before)."""
    return _Box(round(left * width), round(height - (bottom + h) * height), round((left + w) * width), round(height - bottom * height))


def _png(canvas: Canvas) -> bytes:
    return canvas.png()


def _shares(values: Optional[Sequence], n: int) -> list[float]:
    out = [(_num(v) or 0.0) for v in list(values or [])[:n]]
    return out + [0.0] * (n - len(out))


def try_chart(draw: Callable[..., Optional[bytes]], *args: Any, **kwargs: Any) -> tuple[Optional[bytes], Optional[str]]:
    """(png, None), or (None, note) when drawing failed: a chart never blocks the report."""
    try:
        return draw(*args, **kwargs), None
    except Exception as exc:  # noqa: BLE001 - a chart is decoration; the report goes out without it
        logging.getLogger(__name__).warning("chart %s not drawn: %s: %s", getattr(draw, "__name__", "?"), type(exc).__name__, str(exc)[:200])
        return None, f"chart not drawn ({type(exc).__name__})"


def _short(label: Any, width: int = 14) -> str:
    return cut(label, width, tag=False)


def _nice_ticks(lo: float, hi: float, max_ticks: int) -> list[float]:
    """Round values (1, 2, 2.5 or 5 times a power of ten apart) in [lo, hi], at most about `max_ticks`."""
    span = hi - lo
    if not (math.isfinite(span) and span > 0):
        return [lo] if math.isfinite(lo) else []
    raw = span / max(max_ticks - 1, 1)
    mag = 10.0 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw * (1 - 1e-9))
    first, last = math.ceil(lo / step - 1e-9), math.floor(hi / step + 1e-9)
    return [float(f"{i * step:.12g}") for i in range(first, last + 1)]


def _compact(v: float) -> str:
    a = abs(v)
    if a >= 1e6:
        return f"{v / 1e6:g}M"
    if a >= 1e3:
        return f"{v / 1e3:g}k"
    return f"{v:g}"


def _x_ticks(lo: float, hi: float, plot_width: int) -> list[tuple[float, str]]:
    """The most ticks (up to 9) whose compact labels don't run into each other."""
    for n in range(9, 1, -1):
        ticks = _nice_ticks(lo, hi, n)
        labels = [_compact(t) for t in ticks]
        room = plot_width * (ticks[1] - ticks[0]) / (hi - lo) if len(ticks) > 1 else plot_width
        if max((text_width(s) for s in labels), default=0) + 2 * ADVANCE <= room:
            return list(zip(ticks, labels))
    return [(t, _compact(t)) for t in _nice_ticks(lo, hi, 2)[:1]]


def _grid(c: Canvas, box: _Box, yhi: float, max_ticks: int) -> list[tuple[float, int]]:
    """Horizontal grid lines at round values of [0, yhi] and the bottom spine; returns (value, row) pairs."""
    grid = c.color(_GRID)
    rows = []
    for t in _nice_ticks(0.0, yhi, max_ticks):
        row = round(box.y1 - t / yhi * (box.y1 - box.y0))
        c.fill(box.x0, row, box.x1, row + 1, grid)
        rows.append((t, row))
    c.fill(box.x0, box.y1, box.x1, box.y1 + 1, grid)
    return rows


def _legend(c: Canvas, box: _Box, items: Sequence[tuple[str, int, bool]]) -> None:
    """Right-aligned above the plot: (label, palette index, drawn as a line rather than a patch)."""
    text, top, gap = c.color(_TEXT), box.y0 - CAP_H - 5, 10
    x = box.x1 - sum(12 + 3 + text_width(label) for label, _, _ in items) - gap * (len(items) - 1)
    for label, index, line in items:
        if line:
            c.fill(x, top + 3, x + 12, top + 5, index)
        else:
            c.fill(x, top, x + 12, top + CAP_H, index)
        x += 15 + c.text(x + 15, top, label, text) + gap


def _stairs(c: Canvas, box: _Box, xs: Sequence[float], ys: Sequence[float], index: int) -> None:
    """A 2-px step outline from the baseline up through each bin's level and back down, clipped to the plot."""
    path: list[tuple[float, float]] = [(xs[0], float(box.y1))]
    for i, y in enumerate(ys):
        path += [(xs[i], y), (xs[i + 1], y)]
    path.append((xs[-1], box.y1))
    for (xa, ya), (xb, yb) in zip(path, path[1:]):
        xa, xb, ya, yb = round(xa), round(xb), round(ya), round(yb)
        x0, x1 = max(min(xa, xb) - 1, box.x0), min(max(xa, xb) + 1, box.x1)
        y0, y1 = max(min(ya, yb) - 1, box.y0 - 1), min(max(ya, yb) + 1, box.y1 + 1)
        c.fill(x0, y0, x1, y1, index)


def _numerical(edges: list[float], ref: list[float], cur: list[float], width: int, height: int) -> Optional[Canvas]:
    k = len(edges) - 1
    widths = [b - a for a, b in zip(edges, edges[1:])]
    if any(not (w > 0 and math.isfinite(w)) for w in widths):
        return None
    # edges are often reference quantiles (unequal widths): draw density, not share per bin
    ref = [r / w for r, w in zip(ref, widths)]
    cur = [v / w for v, w in zip(cur, widths)]
    lo, hi = edges[0], edges[-1]
    inner = sorted(widths)[len(widths) // 2]
    if k >= 3:  # a long, thin tail bin would squash the body of the distribution
        lo, hi = max(lo, edges[1] - 2 * inner), min(hi, edges[-2] + 2 * inner)
    top = max(ref + cur)
    if not (math.isfinite(hi - lo) and math.isfinite(top)):
        return None
    yhi = top * 1.05 if top > 0 else 1.0
    c = Canvas(width, height)
    box = _box(width, height, 0.04, 0.17, 0.93, 0.68)
    _grid(c, box, yhi, 4)  # density has no unit worth reading: the grid without labels

    def x_of(v: float) -> float:
        return box.x0 + (v - lo) / (hi - lo) * (box.x1 - box.x0)

    def y_of(v: float) -> float:
        return box.y1 - v / yhi * (box.y1 - box.y0)

    fill, blue = c.color(REFERENCE_COLOR, _REFERENCE_FILL_ALPHA), c.color(CURRENT_COLOR)
    xs = [min(max(x_of(e), box.x0 - 2.0), box.x1 + 2.0) for e in edges]
    for i, r in enumerate(ref):
        c.fill(max(xs[i], box.x0), y_of(r), min(xs[i + 1], box.x1), box.y1, fill)
    _stairs(c, box, xs, [y_of(v) for v in cur], blue)
    text = c.color(_TEXT)
    for value, label in _x_ticks(lo, hi, box.x1 - box.x0):
        x = round(x_of(value))
        c.fill(x, box.y1 + 1, x + 1, box.y1 + 3, text)
        c.text(x, box.y1 + 5, label, text, align="center")
    _legend(c, box, [("training", fill, False), ("today", blue, True)])
    return c


def _category_labels(c: Canvas, box: _Box, centres: Sequence[float], labels: Sequence[str]) -> None:
    """One row of labels when they fit their slots, else two staggered rows with twice the room each."""
    text, leader = c.color(_TEXT), c.color(_GRID)
    slot = (box.x1 - box.x0) / max(len(labels), 1)
    one_row = all(text_width(printable(s)) <= slot - 4 for s in labels)
    room = slot - 4 if one_row else 2 * slot - 6
    chars = int((room + 1) // ADVANCE)
    for i, (x, label) in enumerate(zip(centres, labels)):
        row = 0 if one_row else i % 2
        c.fill(round(x), box.y1 + 1, round(x) + 1, box.y1 + 3 + row * (GLYPH_H + 2), leader if row else text)
        if chars > 0:
            c.text(x, box.y1 + 4 + row * (GLYPH_H + 2), cut(label, chars, tag=False), text, align="center")


def _categorical(cats: Sequence, ref: list[float], cur: list[float], width: int, height: int, max_categories: int) -> Canvas:
    k = len(cats)
    order = sorted(range(k), key=lambda i: -(ref[i] + cur[i]))[:max_categories]
    top = max([ref[i] for i in order] + [cur[i] for i in order] + [0.0])
    yhi = top * 1.05 if top > 0 else 1.0
    c = Canvas(width, height)
    box = _box(width, height, 0.09, 0.24, 0.89, 0.61)
    text = c.color(_TEXT)
    for value, row in _grid(c, box, yhi, 5):
        c.text(box.x0 - 4, row - CAP_H // 2, f"{value:.0%}", text, align="right")
    grey, blue = c.color(REFERENCE_COLOR), c.color(CURRENT_COLOR)
    slot = (box.x1 - box.x0) / max(len(order), 1)
    centres = [box.x0 + (j + 0.5) * slot for j in range(len(order))]
    for x, i in zip(centres, order):
        c.fill(x - 0.4 * slot, box.y1 - ref[i] / yhi * (box.y1 - box.y0), x, box.y1, grey)
        c.fill(x, box.y1 - cur[i] / yhi * (box.y1 - box.y0), x + 0.4 * slot, box.y1, blue)
    _category_labels(c, box, centres, [_short(cats[i]) for i in order])
    _legend(c, box, [("training", grey, False), ("today", blue, False)])
    return c


def distribution_png(histogram: dict, *, width: int = 360, height: int = 140, max_categories: int = 12) -> Optional[bytes]:
    """Training vs today for one column, from a drift result's `histogram` dict.

    Numerical: {"edges": [k+1], "reference": [k shares], "current": [k shares]} drawn
    as two step outlines of the density (share / bin width, so quantile bins read right). Categorical: {"categories": [k], "reference", "current"}
    drawn as paired bars (the top `max_categories` by combined share). Returns None
    when the dict has nothing drawable, so callers can just skip the chart.
    """
    if not isinstance(histogram, dict):
        return None
    edges = histogram.get("edges")
    cats = histogram.get("categories")
    if edges and len(edges) >= 2:
        parsed = [_num(e) for e in edges]
        edges_f = [e for e in parsed if e is not None]
        if len(edges_f) != len(parsed):
            return None
        k = len(edges_f) - 1
        canvas = _numerical(edges_f, _shares(histogram.get("reference"), k), _shares(histogram.get("current"), k), width, height)
    elif cats:
        k = len(cats)
        canvas = _categorical(cats, _shares(histogram.get("reference"), k), _shares(histogram.get("current"), k), width, height,
                              max_categories)
    else:
        return None
    return None if canvas is None else _png(canvas)


def sparkline_png(values: Sequence, *, width: int = 200, height: int = 44, highlight_last: bool = True,
                  color: str = CURRENT_COLOR) -> Optional[bytes]:
    """A tiny line of the last runs (None gaps allowed); the latest point is marked. None if < 2 points."""
    ys = [_num(v) for v in values]
    pts = [(i, y) for i, y in enumerate(ys) if y is not None]
    if len(pts) < 2:
        return None
    lo, hi = min(p[1] for p in pts), max(p[1] for p in pts)
    pad = (hi - lo) * 0.15 or (abs(hi) * 0.05 or 1.0)
    ylo, yhi = lo - pad, hi + pad
    if not math.isfinite(yhi - ylo):
        return None
    c = Canvas(width, height)
    left, right = 0.02 * width, 0.98 * width
    top, bottom = 0.1 * height, 0.9 * height

    def at(i: int, y: float) -> tuple[float, float]:
        return left + (i + 0.5) / len(ys) * (right - left), bottom - (y - ylo) / (yhi - ylo) * (bottom - top)

    c.stroke([at(i, y) for i, y in pts], color, 1.5)
    last = ys[-1]
    if highlight_last and last is not None:
        c.disc(*at(len(ys) - 1, last), 2.0, color)
    return _png(c)
