"""A small palette raster canvas and its PNG encoder (numpy + zlib + struct, nothing else).

The charts of the email need rectangles, axis-parallel lines, one anti-aliased polyline
(the sparkline), a dot and a few words of text; that is all this draws. Pixels hold palette
indexes, so the file is a colour-type-3 PNG of a handful of colours (a chart is 1-3 kB) and
the same drawing calls always give the same bytes.

    c = Canvas(360, 140)
    blue = c.color("#2563eb")
    c.fill(10, 10, 50, 20, blue)
    c.text(10, 30, "today", blue)
    png = c.png()
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence

import numpy as np

from monitor.report.glyphs import printable, text_mask, text_width

__all__ = ["Canvas", "encode_png", "rgb"]

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_AA_LEVELS = 4  # coverage steps of an anti-aliased stroke: 4 palette entries per stroked colour


def rgb(hex_color: str) -> tuple[int, int, int]:
    """'#rrggbb' as (r, g, b)."""
    h = hex_color.lstrip("#")
    if len(h) != 6:
        raise ValueError(f"colour {hex_color!r} is not '#rrggbb'; write it as six hex digits")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


class Canvas:
    """`width` x `height` pixels of palette indexes, index 0 the background colour."""

    def __init__(self, width: int, height: int, background: str = "#ffffff") -> None:
        if width < 1 or height < 1:
            raise ValueError(f"canvas of {width}x{height} px: both sides must be at least 1 px")
        self.width, self.height = int(width), int(height)
        self.pixels = np.zeros((self.height, self.width), dtype=np.uint8)
        self._background = rgb(background)
        self.palette: list[tuple[int, int, int]] = [self._background]

    def color(self, hex_color: str, alpha: float = 1.0) -> int:
        """Palette index of `hex_color` laid at `alpha` over the background (added on first use)."""
        c = rgb(hex_color)
        mixed = tuple(int(round(a * alpha + b * (1 - alpha))) for a, b in zip(c, self._background))
        if mixed not in self.palette:
            if len(self.palette) >= 256:
                raise ValueError("a palette PNG holds at most 256 colours; draw with fewer")
            self.palette.append(mixed)  # type: ignore[arg-type]
        return self.palette.index(mixed)  # type: ignore[arg-type]

    def fill(self, x0: float, y0: float, x1: float, y1: float, index: int) -> None:
        """Fill the pixels [x0, x1) x [y0, y1), clipped to the canvas."""
        xa, xb = sorted((int(round(x0)), int(round(x1))))
        ya, yb = sorted((int(round(y0)), int(round(y1))))
        xa, xb = max(xa, 0), min(xb, self.width)
        ya, yb = max(ya, 0), min(yb, self.height)
        if xa < xb and ya < yb:
            self.pixels[ya:yb, xa:xb] = index

    def text(self, x: float, y: float, text: str, index: int, align: str = "left") -> int:
        """Draw `text` with its top at `y`, left/center/right-aligned on `x`; returns its width in px.

        Characters the font lacks are drawn as '?'; nothing in `text` is interpreted."""
        shown = printable(text)
        w = text_width(shown)
        left = int(round(x - {"left": 0, "center": w / 2, "right": w}[align]))
        top = int(round(y))
        mask = text_mask(shown)
        self._ink(left, top, mask, index)
        return w

    def stroke(self, points: Sequence[tuple[float, float]], hex_color: str, width: float) -> None:
        """An anti-aliased polyline through `points` (pixel centres at integer coordinates)."""
        cover = np.zeros(self.pixels.shape, dtype=np.float32)
        half = width / 2
        for (xa, ya), (xb, yb) in zip(points, points[1:]):
            self._cover_segment(cover, xa, ya, xb, yb, half)
        if len(points) == 1:
            self._cover_segment(cover, *points[0], *points[0], half)
        self._apply(cover, hex_color)

    def disc(self, cx: float, cy: float, radius: float, hex_color: str) -> None:
        """An anti-aliased filled circle."""
        cover = np.zeros(self.pixels.shape, dtype=np.float32)
        self._cover_segment(cover, cx, cy, cx, cy, radius)
        self._apply(cover, hex_color)

    def png(self) -> bytes:
        return encode_png(self.pixels, self.palette)

    def _ink(self, left: int, top: int, mask: np.ndarray, index: int) -> None:
        h, w = mask.shape
        xa, ya = max(left, 0), max(top, 0)
        xb, yb = min(left + w, self.width), min(top + h, self.height)
        if xa < xb and ya < yb:
            sub = mask[ya - top:yb - top, xa - left:xb - left]
            self.pixels[ya:yb, xa:xb][sub] = index

    def _cover_segment(self, cover: np.ndarray, xa: float, ya: float, xb: float, yb: float, half: float) -> None:
        pad = half + 1
        x0, x1 = max(int(np.floor(min(xa, xb) - pad)), 0), min(int(np.ceil(max(xa, xb) + pad)) + 1, self.width)
        y0, y1 = max(int(np.floor(min(ya, yb) - pad)), 0), min(int(np.ceil(max(ya, yb) + pad)) + 1, self.height)
        if x0 >= x1 or y0 >= y1:
            return
        px, py = np.meshgrid(np.arange(x0, x1, dtype=np.float64), np.arange(y0, y1, dtype=np.float64))
        dx, dy = xb - xa, yb - ya
        length2 = dx * dx + dy * dy
        t = np.zeros_like(px) if length2 == 0 else np.clip(((px - xa) * dx + (py - ya) * dy) / length2, 0.0, 1.0)
        dist = np.hypot(px - (xa + t * dx), py - (ya + t * dy))
        got = np.clip(half + 0.5 - dist, 0.0, 1.0).astype(np.float32)
        np.maximum(cover[y0:y1, x0:x1], got, out=cover[y0:y1, x0:x1])

    def _apply(self, cover: np.ndarray, hex_color: str) -> None:
        levels = np.rint(cover * _AA_LEVELS).astype(np.intp)
        for level in range(1, _AA_LEVELS + 1):
            hit = levels == level
            if hit.any():
                self.pixels[hit] = self.color(hex_color, level / _AA_LEVELS)


def _chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)


def _pack_rows(pixels: np.ndarray, depth: int) -> np.ndarray:
    """Each row's indexes packed `depth` bits each (PNG order: the leftmost pixel in the high bits)."""
    if depth == 8:
        return pixels
    per = 8 // depth
    h, w = pixels.shape
    padded = np.zeros((h, -(-w // per) * per), dtype=np.uint8)
    padded[:, :w] = pixels
    groups = padded.reshape(h, -1, per)
    shifts = np.arange(per - 1, -1, -1, dtype=np.uint8) * depth
    return np.bitwise_or.reduce(groups << shifts, axis=2).astype(np.uint8)


def encode_png(pixels: np.ndarray, palette: Sequence[tuple[int, int, int]]) -> bytes:
    """A colour-type-3 PNG of `pixels` (h x w palette indexes) with `palette` (1 to 256 RGB colours)."""
    if not 1 <= len(palette) <= 256:
        raise ValueError(f"a palette PNG needs 1 to 256 colours, got {len(palette)}")
    if pixels.ndim != 2 or pixels.size == 0:
        raise ValueError(f"pixels must be a non-empty 2-D array of palette indexes, got shape {pixels.shape}")
    pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
    if int(pixels.max()) >= len(palette):
        raise ValueError(f"pixel index {int(pixels.max())} is past the palette's {len(palette)} colours")
    depth = next(d for d in (1, 2, 4, 8) if len(palette) <= 1 << d)
    rows = _pack_rows(pixels, depth)
    raw = np.zeros((rows.shape[0], rows.shape[1] + 1), dtype=np.uint8)  # filter byte 0 (None) per row
    raw[:, 1:] = rows
    h, w = pixels.shape
    return b"".join([
        _SIGNATURE,
        _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, 3, 0, 0, 0)),
        _chunk(b"PLTE", b"".join(struct.pack("BBB", *c) for c in palette)),
        _chunk(b"IDAT", zlib.compress(raw.tobytes(), 9)),
        _chunk(b"IEND", b""),
    ])
