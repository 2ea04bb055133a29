"""A 5x7 bitmap font for chart labels: printable ASCII and the ellipsis, everything else drawn as '?'.

Each glyph is 7 rows of 5 bits (0x10 is the leftmost pixel) above the baseline, plus two rows
below it for the descenders of g, j, p, q and y; glyphs are drawn on a 6-pixel advance.
Labels are data values: they are only ever looked up here glyph by glyph, so no character
of a label has a meaning beyond its shape (no markup, no control codes, no direction).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

__all__ = ["GLYPH_W", "GLYPH_H", "CAP_H", "ADVANCE", "printable", "text_width", "text_mask"]

GLYPH_W, GLYPH_H, CAP_H, ADVANCE = 5, 9, 7, 6  # a line of text is GLYPH_H rows, capitals CAP_H of them
_ELLIPSIS = "\u2026"

_ROWS = {
    " ": "00 00 00 00 00 00 00", "!": "04 04 04 04 04 00 04", '"': "0a 0a 0a 00 00 00 00",
    "#": "0a 0a 1f 0a 1f 0a 0a", "$": "04 0f 14 0e 05 1e 04", "%": "18 19 02 04 08 13 03",
    "&": "0c 12 14 08 15 12 0d", "'": "04 04 08 00 00 00 00", "(": "02 04 08 08 08 04 02",
    ")": "08 04 02 02 02 04 08", "*": "00 04 15 0e 15 04 00", "+": "00 04 04 1f 04 04 00",
    ",": "00 00 00 00 0c 04 08", "-": "00 00 00 1f 00 00 00", ".": "00 00 00 00 00 0c 0c",
    "/": "00 01 02 04 08 10 00", "0": "0e 11 13 15 19 11 0e", "1": "04 0c 04 04 04 04 0e",
    "2": "0e 11 01 02 04 08 1f", "3": "1f 02 04 02 01 11 0e", "4": "02 06 0a 12 1f 02 02",
    "5": "1f 10 1e 01 01 11 0e", "6": "06 08 10 1e 11 11 0e", "7": "1f 01 02 04 08 08 08",
    "8": "0e 11 11 0e 11 11 0e", "9": "0e 11 11 0f 01 02 0c", ":": "00 0c 0c 00 0c 0c 00",
    ";": "00 0c 0c 00 0c 04 08", "<": "02 04 08 10 08 04 02", "=": "00 00 1f 00 1f 00 00",
    ">": "08 04 02 01 02 04 08", "?": "0e 11 01 02 04 00 04", "@": "0e 11 01 0d 15 15 0e",
    "A": "0e 11 11 11 1f 11 11", "B": "1e 11 11 1e 11 11 1e", "C": "0e 11 10 10 10 11 0e",
    "D": "1c 12 11 11 11 12 1c", "E": "1f 10 10 1e 10 10 1f", "F": "1f 10 10 1e 10 10 10",
    "G": "0e 11 10 17 11 11 0f", "H": "11 11 11 1f 11 11 11", "I": "0e 04 04 04 04 04 0e",
    "J": "07 02 02 02 02 12 0c", "K": "11 12 14 18 14 12 11", "L": "10 10 10 10 10 10 1f",
    "M": "11 1b 15 15 11 11 11", "N": "11 11 19 15 13 11 11", "O": "0e 11 11 11 11 11 0e",
    "P": "1e 11 11 1e 10 10 10", "Q": "0e 11 11 11 15 12 0d", "R": "1e 11 11 1e 14 12 11",
    "S": "0f 10 10 0e 01 01 1e", "T": "1f 04 04 04 04 04 04", "U": "11 11 11 11 11 11 0e",
    "V": "11 11 11 11 11 0a 04", "W": "11 11 11 15 15 15 0a", "X": "11 11 0a 04 0a 11 11",
    "Y": "11 11 11 0a 04 04 04", "Z": "1f 01 02 04 08 10 1f", "[": "0e 08 08 08 08 08 0e",
    "\\": "00 10 08 04 02 01 00", "]": "0e 02 02 02 02 02 0e", "^": "04 0a 11 00 00 00 00",
    "_": "00 00 00 00 00 00 1f", "`": "08 04 02 00 00 00 00", "a": "00 00 0e 01 0f 11 0f",
    "b": "10 10 16 19 11 11 1e", "c": "00 00 0e 10 10 11 0e", "d": "01 01 0d 13 11 11 0f",
    "e": "00 00 0e 11 1f 10 0e", "f": "06 09 08 1c 08 08 08", "g": "00 00 0f 11 11 11 0f 01 0e",
    "h": "10 10 16 19 11 11 11", "i": "04 00 0c 04 04 04 0e", "j": "02 00 06 02 02 02 02 12 0c",
    "k": "10 10 12 14 18 14 12", "l": "0c 04 04 04 04 04 0e", "m": "00 00 1a 15 15 11 11",
    "n": "00 00 16 19 11 11 11", "o": "00 00 0e 11 11 11 0e", "p": "00 00 1e 11 11 11 1e 10 10",
    "q": "00 00 0f 11 11 11 0f 01 01", "r": "00 00 16 19 10 10 10", "s": "00 00 0e 10 0e 01 1e",
    "t": "08 08 1c 08 08 09 06", "u": "00 00 11 11 11 13 0d", "v": "00 00 11 11 11 0a 04",
    "w": "00 00 11 11 15 15 0a", "x": "00 00 11 0a 04 0a 11", "y": "00 00 11 11 11 11 0f 01 0e",
    "z": "00 00 1f 02 04 08 1f", "{": "03 04 04 18 04 04 03", "|": "04 04 04 04 04 04 04",
    "}": "18 04 04 03 04 04 18", "~": "00 00 08 15 02 00 00", _ELLIPSIS: "00 00 00 00 00 00 15",
}
_INDEX = {ch: i for i, ch in enumerate(_ROWS)}
_UNKNOWN = _INDEX["?"]


@lru_cache(maxsize=1)
def _bitmaps() -> np.ndarray:
    """(n glyphs, GLYPH_H, ADVANCE) booleans: each glyph with its one column of spacing on the right."""
    rows = np.zeros((len(_ROWS), GLYPH_H), dtype=np.uint8)
    for i, spec in enumerate(_ROWS.values()):
        values = [int(h, 16) for h in spec.split()]
        rows[i, : len(values)] = values
    bits = (rows[:, :, None] >> np.arange(GLYPH_W - 1, -1, -1, dtype=np.uint8)) & 1
    out = np.zeros((len(_ROWS), GLYPH_H, ADVANCE), dtype=bool)
    out[:, :, :GLYPH_W] = bits.astype(bool)
    return out


def printable(text: str) -> str:
    """`text` with every character the font has no glyph for (non-ASCII, control) replaced by '?'."""
    return "".join(ch if ch in _INDEX else "?" for ch in text)


def text_width(text: str) -> int:
    """Pixels `text` takes (the last glyph's spacing column not counted)."""
    return max(len(text) * ADVANCE - 1, 0)


def text_mask(text: str) -> np.ndarray:
    """(GLYPH_H, text_width) booleans: the pixels to ink for `text`."""
    if not text:
        return np.zeros((GLYPH_H, 0), dtype=bool)
    idx = np.fromiter((_INDEX.get(ch, _UNKNOWN) for ch in text), dtype=np.intp, count=len(text))
    strip = _bitmaps()[idx]  # (n, GLYPH_H, ADVANCE)
    return strip.transpose(1, 0, 2).reshape(GLYPH_H, -1)[:, : text_width(text)]
