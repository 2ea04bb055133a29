"""The email's charts: valid palette PNGs, deterministic, drawn where the data is, no plotting library."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

from monitor.report import charts
from monitor.report.png import Canvas, encode_png, rgb

ROOT = Path(__file__).parents[3]
NUMERICAL = {"edges": [float(e) for e in range(11)], "reference": [0.1] * 10, "current": [0.0] * 7 + [0.5, 0.5, 0.0]}
CATEGORICAL = {"categories": ["a", "b", "c"], "reference": [0.5, 0.5, 0.0], "current": [0.0, 0.0, 1.0]}


def decode(png: bytes) -> tuple[np.ndarray, list[tuple[int, int, int]]]:
    """Parse a palette PNG the long way (every chunk's CRC, IHDR, PLTE, the inflated rows) into (pixels, palette)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, []
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos:pos + 4])
        tag, data = png[pos + 4:pos + 8], png[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", png[pos + 8 + length:pos + 12 + length])
        assert crc == zlib.crc32(tag + data) & 0xFFFFFFFF, f"bad CRC on {tag!r}"
        chunks.append((tag, data))
        pos += 12 + length
    assert pos == len(png)
    tags = [t for t, _ in chunks]
    assert tags[0] == b"IHDR" and tags[-1] == b"IEND" and b"PLTE" in tags and b"IDAT" in tags
    w, h, depth, colour_type, compression, filtering, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    assert (colour_type, compression, filtering, interlace) == (3, 0, 0, 0) and depth in (1, 2, 4, 8)
    plte = dict(chunks)[b"PLTE"]
    assert len(plte) % 3 == 0 and 1 <= len(plte) // 3 <= 1 << depth
    palette = [tuple(plte[i:i + 3]) for i in range(0, len(plte), 3)]
    raw = zlib.decompress(b"".join(d for t, d in chunks if t == b"IDAT"))
    stride = (w * depth + 7) // 8
    assert len(raw) == h * (stride + 1), "IDAT does not hold height rows of width pixels"
    rows = np.frombuffer(raw, dtype=np.uint8).reshape(h, stride + 1)
    assert (rows[:, 0] == 0).all()  # filter type None on every row
    bits = np.unpackbits(rows[:, 1:], axis=1).reshape(h, -1, depth)
    pixels = (bits * (1 << np.arange(depth - 1, -1, -1))).sum(axis=2)[:, :w]
    assert pixels.max() < len(palette)
    return pixels, palette  # type: ignore[return-value]


def _mask(png: bytes, color: str) -> np.ndarray:
    pixels, palette = decode(png)
    want = rgb(color)
    assert want in palette, f"{color} is not drawn at all"
    return pixels == palette.index(want)


@pytest.mark.parametrize("draw", [
    lambda: charts.distribution_png(NUMERICAL),
    lambda: charts.distribution_png(CATEGORICAL),
    lambda: charts.sparkline_png([1, None, 3, 2, 5]),
    lambda: charts.distribution_png(CATEGORICAL, width=97, height=31),
])
def test_charts_are_valid_palette_pngs_of_the_asked_size(draw):
    png = draw()
    pixels, palette = decode(png)
    assert len(palette) <= 16 and len(png) < 4000
    assert png == draw()  # deterministic: same input, same bytes


def test_chart_sizes_stay_as_they_were():
    assert decode(charts.distribution_png(NUMERICAL))[0].shape == (140, 360)
    assert decode(charts.distribution_png(CATEGORICAL, width=97, height=31))[0].shape == (31, 97)
    assert decode(charts.sparkline_png([1, 2]))[0].shape == (44, 200)


@pytest.mark.parametrize("depth_colours", [1, 2, 3, 5, 17])
def test_encoder_round_trips_every_bit_depth(depth_colours):
    rng = np.random.default_rng(depth_colours)
    pixels = rng.integers(0, depth_colours, size=(7, 13), dtype=np.uint8)
    palette = [(i, 255 - i, i * 3 % 256) for i in range(depth_colours)]
    got, got_palette = decode(encode_png(pixels, palette))
    assert (got == pixels).all() and got_palette == palette


def test_encoder_refuses_an_index_past_the_palette():
    with pytest.raises(ValueError, match="past the palette"):
        encode_png(np.array([[0, 2]], dtype=np.uint8), [(0, 0, 0), (1, 1, 1)])


def test_numerical_today_is_drawn_where_today_is():
    mask = _mask(charts.distribution_png(NUMERICAL), charts.CURRENT_COLOR)
    box = charts._box(360, 140, 0.04, 0.17, 0.93, 0.68)
    col = [round(box.x0 + (i + 0.5) / 10 * (box.x1 - box.x0)) for i in range(10)]
    plot = mask[box.y0:box.y1 + 1]
    empty_bins, full_bins = [col[i] for i in (0, 3, 6, 9)], [col[i] for i in (7, 8)]
    for x in empty_bins:  # no current rows there: only the 2-px outline along the baseline
        assert set(np.flatnonzero(plot[:, x]) + box.y0) == {box.y1 - 1, box.y1}, x
    for x in full_bins:  # the densest bins: the outline at the top of the plot, nothing below it
        rows = np.flatnonzero(plot[:, x]) + box.y0
        assert len(rows) == 2 and rows.max() < box.y0 + 0.1 * (box.y1 - box.y0), (x, rows)


def test_numerical_reference_fill_is_where_the_reference_is():
    box = charts._box(360, 140, 0.04, 0.17, 0.93, 0.68)
    png = charts.distribution_png({**NUMERICAL, "reference": [0.0] * 5 + [0.2] * 5})
    pixels, palette = decode(png)
    fill = pixels == palette.index(tuple(round(c * 0.45 + 255 * 0.55) for c in rgb(charts.REFERENCE_COLOR)))
    low = box.y1 - (box.y1 - box.y0) // 4  # below the 0.2 level (the top is today's 0.5)
    centres = [round(box.x0 + (i + 0.5) / 10 * (box.x1 - box.x0)) for i in range(10)]
    assert [bool(fill[low, x]) for x in centres] == [False] * 5 + [True] * 5
    assert not fill[box.y0:box.y0 + 10].any()  # nothing of it reaches the top of the plot


def test_categorical_today_bar_only_for_the_category_seen_today():
    mask = _mask(charts.distribution_png(CATEGORICAL), charts.CURRENT_COLOR)
    box = charts._box(360, 140, 0.09, 0.24, 0.89, 0.61)
    slot = (box.x1 - box.x0) / 3  # sorted by combined share: c (1.0), a, b
    slots = [mask[box.y0:box.y1, round(box.x0 + j * slot):round(box.x0 + (j + 1) * slot)] for j in range(3)]
    assert slots[0].sum() > 0.3 * slot * (box.y1 - box.y0)
    assert not slots[1].any() and not slots[2].any()


def test_sparkline_rises_when_the_values_rise():
    mask = _mask(charts.sparkline_png(list(range(10))), charts.CURRENT_COLOR)
    rows, cols = np.nonzero(mask)
    left, right = rows[cols < 50].mean(), rows[cols > 150].mean()
    assert left > right + 15  # rows grow downwards: the left end sits low, the right end high
    flat = _mask(charts.sparkline_png([3.0] * 10), charts.CURRENT_COLOR)
    assert np.ptp(np.nonzero(flat)[0]) <= 5  # a constant series is a level line (and the end dot)


HOSTILE = ["x" * 100_000, "naïve ünïcödé ✓ 🚀", "שלום עולם", "مرحبا", r"$\frac{a}{", "$$", "a\x00b", "line\nbreak\r\n",
           "\u202etxet", "\ud800", "<script>", "", " ", "\t", 12345, None]


@pytest.mark.parametrize("label", HOSTILE)
def test_hostile_labels_never_raise(label):
    png = charts.distribution_png({"categories": [label, "ok"], "reference": [0.5, 0.5], "current": [0.2, 0.8]})
    assert decode(png)[0].shape == (140, 360)


def test_many_long_categories_are_cut_and_staggered_not_dropped():
    cats = [f"{i}_" + "long" * 50 for i in range(40)]
    png = charts.distribution_png({"categories": cats, "reference": [1 / 40] * 40, "current": [1 / 40] * 40})
    assert decode(png)[0].shape == (140, 360)


def test_unprintable_characters_are_drawn_as_question_marks():
    def drawn(text: str) -> np.ndarray:
        c = Canvas(60, 12)
        c.text(1, 1, text, c.color("#000000"))
        return c.pixels

    assert (drawn("a\x00\u05e9\U0001f680") == drawn("a???")).all()
    assert not (drawn("abcd") == drawn("a???")).all()


@pytest.mark.parametrize("histogram", [
    None, "edges", {}, {"edges": [1.0]}, {"edges": [0.0, float("nan"), 2.0]}, {"edges": [0.0, 1.0, 1.0]},
    {"edges": [2.0, 1.0]}, {"edges": [-1e308, 1e308]}, {"categories": []}, {"reference": [1.0]},
])
def test_nothing_drawable_gives_none(histogram):
    assert charts.distribution_png(histogram) is None


@pytest.mark.parametrize("values", [[], [1.0], [None, 2.0, None], [float("nan"), 1.0], ["x", True]])
def test_sparkline_of_fewer_than_two_points_is_none(values):
    assert charts.sparkline_png(values) is None


def test_rendering_a_report_imports_no_plotting_library():
    code = (
        "import json, sys\n"
        "from monitor.report.render import render_report\n"
        "from tests.support.paths import FIXTURES\n"
        "doc = json.loads((FIXTURES / 'metrics_alert.json').read_text())\n"
        "history = json.loads((FIXTURES / 'history.json').read_text())\n"
        "r = render_report(doc, history=history)\n"
        "assert any(c.startswith('drift') for c in r.images) and any(c.startswith('trend') for c in r.images), sorted(r.images)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('matplotlib', 'PIL'))))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
