"""monitor.textcut: one way to cut long text, bounded, distinct, stable; the JSON guard."""

from __future__ import annotations

import json

from monitor.textcut import ELLIPSIS, TEXT_CHARS, VALUE_CHARS, bound_json, cut, cut_items


def test_short_text_is_unchanged_and_long_text_is_cut_with_an_ellipsis_and_a_fingerprint():
    assert cut("plan_a") == "plan_a" and cut("x" * VALUE_CHARS) == "x" * VALUE_CHARS
    long_a, long_b = "A" * 1_000_000 + "1", "A" * 1_000_000 + "2"
    a, b = cut(long_a), cut(long_b)
    assert len(a) == len(b) == VALUE_CHARS and ELLIPSIS in a
    assert a != b  # share their start, stay distinct (a cohort or category is also a key)
    assert cut(long_a) == a  # the same value always cuts the same way
    assert cut(12345) == "12345"


def test_display_cuts_have_no_fingerprint():
    assert cut("abcdefghijklmnop", 8, tag=False) == "abcdefg" + ELLIPSIS
    assert cut("abc   defghijkl", 7, tag=False) == "abc" + ELLIPSIS  # no trailing blanks before the ellipsis


def test_cut_items_leaves_numbers_alone():
    assert cut_items(["z" * 500, 3, None, True]) == [cut("z" * 500), 3, None, True]


def test_bound_json_cuts_values_and_keys_alike():
    name = "col_" + "n" * 5000
    doc = {"features": {name: {"note": "v" * 10_000, "n": 3}}, "ranking": [name], "ok": "short"}
    out = bound_json(doc)
    (key,) = out["features"]
    assert len(key) == TEXT_CHARS and out["ranking"] == [key]  # a key and its mentions still match
    assert len(out["features"][key]["note"]) == TEXT_CHARS and out["features"][key]["n"] == 3
    assert out["ok"] == "short"
    assert len(json.dumps(out)) < 3 * TEXT_CHARS + 200
    assert bound_json({"a": [1, "b"]}) == {"a": [1, "b"]}  # nothing long: the same content
