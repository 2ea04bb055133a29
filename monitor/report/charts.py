"""Small PNG charts for the email: a distribution per drifted feature and trend sparklines.

matplotlib is imported inside the functions (Agg canvas, no pyplot global state),
so importing this module is cheap and safe in any thread. Charts are sized for an
email column (360x140 px by default) and quantised to a small palette, which keeps
a chart at a few kB and the whole email well under 1 MB.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Sequence
from typing import Any, Optional

from monitor.jsonutil import finite as _num
from monitor.textcut import cut

__all__ = ["distribution_png", "sparkline_png", "try_chart", "REFERENCE_COLOR", "CURRENT_COLOR"]

# Data values (category labels) are drawn as plain text: never mathtext, never TeX.
_PLAIN_TEXT = {"parse_math": False, "usetex": False}

REFERENCE_COLOR = "#9aa5b1"  # training / reference: neutral grey
CURRENT_COLOR = "#2563eb"  # today: blue
_TEXT = "#374151"
_GRID = "#e5e7eb"
_DPI = 80


def _figure(width_px: int, height_px: int):
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_px / _DPI, height_px / _DPI), dpi=_DPI)
    FigureCanvasAgg(fig)
    return fig


def _style(ax) -> None:
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.spines["bottom"].set_color(_GRID)
    ax.tick_params(colors=_TEXT, labelsize=7, length=2)
    ax.yaxis.grid(True, color=_GRID, linewidth=0.6)
    ax.set_axisbelow(True)


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_DPI, facecolor="white")
    raw = buf.getvalue()
    try:  # a 32-colour palette cuts the PNG to about a third; pillow is optional
        from PIL import Image

        img = Image.open(io.BytesIO(raw)).convert("RGB").quantize(colors=32)
        out = io.BytesIO()
        img.save(out, format="PNG", optimize=True)
        return out.getvalue() if out.tell() < len(raw) else raw
    except ImportError:
        return raw


def _shares(values: Optional[Sequence], n: int) -> list[float]:
    out = [(_num(v) or 0.0) for v in list(values or [])[:n]]
    return out + [0.0] * (n - len(out))


def try_chart(draw: Callable[..., Optional[bytes]], *args: Any, **kwargs: Any) -> tuple[Optional[bytes], Optional[str]]:
    """(png, None), or (None, note) when drawing failed: a chart never blocks the report."""
    try:
        return draw(*args, **kwargs), None
    except Exception as exc:  # noqa: BLE001 - matplotlib can fail on anything; the report goes out without the chart
        logging.getLogger(__name__).warning("chart %s not drawn: %s: %s", getattr(draw, "__name__", "?"), type(exc).__name__, str(exc)[:200])
        return None, f"chart not drawn ({type(exc).__name__})"


def _short(label: str, width: int = 14) -> str:
    return cut(label, width, tag=False)


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
        ref, cur = _shares(histogram.get("reference"), k), _shares(histogram.get("current"), k)
        widths = [b - a for a, b in zip(edges_f, edges_f[1:])]
        if any(w <= 0 for w in widths):
            return None
        # edges are often reference quantiles (unequal widths): draw density, not share per bin
        ref = [r / w for r, w in zip(ref, widths)]
        cur = [c / w for c, w in zip(cur, widths)]
        fig = _figure(width, height)
        ax = fig.add_axes((0.04, 0.17, 0.93, 0.68))
        ax.stairs(ref, edges_f, fill=True, color=REFERENCE_COLOR, alpha=0.45, label="training")
        ax.stairs(cur, edges_f, color=CURRENT_COLOR, linewidth=1.6, label="today")
        inner = sorted(widths)[len(widths) // 2]
        if k >= 3:  # a long, thin tail bin would squash the body of the distribution
            ax.set_xlim(max(edges_f[0], edges_f[1] - 2 * inner), min(edges_f[-1], edges_f[-2] + 2 * inner))
        ax.xaxis.set_major_formatter(_compact_formatter())
    elif cats:
        k = len(cats)
        ref, cur = _shares(histogram.get("reference"), k), _shares(histogram.get("current"), k)
        order = sorted(range(k), key=lambda i: -(ref[i] + cur[i]))[:max_categories]
        labels = [_short(cats[i]) for i in order]
        xs = list(range(len(order)))
        fig = _figure(width, height)
        ax = fig.add_axes((0.09, 0.24, 0.89, 0.61))
        ax.bar([x - 0.2 for x in xs], [ref[i] for i in order], width=0.4, color=REFERENCE_COLOR, label="training")
        ax.bar([x + 0.2 for x in xs], [cur[i] for i in order], width=0.4, color=CURRENT_COLOR, label="today")
        ax.set_xticks(xs)
        ax.set_xticklabels(labels, rotation=0 if len(order) <= 5 else 30, ha="center" if len(order) <= 5 else "right", **_PLAIN_TEXT)
    else:
        return None
    _style(ax)
    if cats and not edges:
        ax.yaxis.set_major_formatter(_percent_formatter())
    else:  # density has no unit worth reading: keep the grid, drop the labels
        ax.tick_params(axis="y", left=False, labelleft=False)
    legend = ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False, ncol=2, handlelength=1.2,
                       borderaxespad=0.2)
    for text in [*legend.get_texts(), *ax.get_xticklabels(), *ax.get_yticklabels()]:
        text.set(**_PLAIN_TEXT)
    return _png(fig)


def _compact_formatter():
    from matplotlib.ticker import FuncFormatter

    def fmt(v, _pos):
        a = abs(v)
        if a >= 1e6:
            return f"{v / 1e6:g}M"
        if a >= 1e3:
            return f"{v / 1e3:g}k"
        return f"{v:g}"

    return FuncFormatter(fmt)


def _percent_formatter():
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda v, _pos: f"{v:.0%}")


def sparkline_png(values: Sequence, *, width: int = 200, height: int = 44, highlight_last: bool = True,
                  color: str = CURRENT_COLOR) -> Optional[bytes]:
    """A tiny line of the last runs (None gaps allowed); the latest point is marked. None if < 2 points."""
    ys = [_num(v) for v in values]
    pts = [(i, y) for i, y in enumerate(ys) if y is not None]
    if len(pts) < 2:
        return None
    fig = _figure(width, height)
    ax = fig.add_axes((0.02, 0.1, 0.96, 0.8))
    ax.plot([p[0] for p in pts], [p[1] for p in pts], color=color, linewidth=1.3)
    if highlight_last and ys[-1] is not None:
        ax.plot([len(ys) - 1], [ys[-1]], "o", color=color, markersize=3.5)
    lo, hi = min(p[1] for p in pts), max(p[1] for p in pts)
    pad = (hi - lo) * 0.15 or (abs(hi) * 0.05 or 1.0)
    ax.set_ylim(lo - pad, hi + pad)
    ax.set_xlim(-0.5, len(ys) - 0.5)
    ax.axis("off")
    return _png(fig)
