"""The cohort `where` grammar: data, never code (issue 13, finding 1)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from monitor.stages.cohort_filter import MAX_LENGTH, FilterError, parse_filter


@pytest.fixture()
def df() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "age": [17, 25, 40, np.nan, 70],
            "region": ["north", "south", "north", None, "east"],
            "vip": [True, False, True, False, False],
            "score": [0.1, 0.95, 0.5, 0.05, 0.99],
        }
    )


@pytest.mark.parametrize(
    "expr, expected",
    [
        ("age < 18", [1, 0, 0, 0, 0]),
        ("age >= 25 and age <= 40", [0, 1, 1, 0, 0]),
        ("25 <= age < 70", [0, 1, 1, 0, 0]),
        ("18 > age", [1, 0, 0, 0, 0]),
        ("age != 25", [1, 0, 1, 1, 1]),  # missing != 25, as in pandas
        ("region == 'north'", [1, 0, 1, 0, 0]),
        ('region == "south" or score > 0.9', [0, 1, 0, 0, 1]),
        ("region in ['north', 'east']", [1, 0, 1, 0, 1]),
        ("region not in ['north', 'east']", [0, 1, 0, 1, 0]),
        ("region in [null]", [0, 0, 0, 1, 0]),
        ("age == null", [0, 0, 0, 1, 0]),
        ("age != null and not (age > 30)", [1, 1, 0, 0, 0]),
        ("vip", [1, 0, 1, 0, 0]),
        ("not vip", [0, 1, 0, 1, 1]),
        ("vip == true", [1, 0, 1, 0, 0]),
        ("vip == False", [0, 1, 0, 1, 1]),
        ("score > -1e0 and score < .2", [1, 0, 0, 1, 0]),
        ("(age < 18 or age > 60) and (region == 'north' or region == 'east')", [1, 0, 0, 0, 1]),
        ("not not vip", [1, 0, 1, 0, 0]),
        ("region == 'it\\'s'", [0, 0, 0, 0, 0]),
    ],
)
def test_grammar_evaluates_like_pandas(df, expr, expected):
    f = parse_filter(expr)
    got = f.mask(df)
    assert got.dtype == bool and got.tolist() == [bool(x) for x in expected]


def test_columns_listed_in_order(df):
    assert parse_filter("score > 0.5 and (age < 3 or region in ['x']) and score < 1").columns == ["score", "age", "region"]


PAYLOAD = "@pd.io.common.os.system('touch {marker}') == 0"


@pytest.mark.parametrize(
    "expr, where, says",
    [
        (PAYLOAD.format(marker="/tmp/x"), 1, "'@'"),
        ("`age` > 1", 1, "backticks"),
        ("age.__class__ == 1", 4, "attribute access"),
        ("pd.io.common.os.system('x')", 3, "attribute access"),
        ("len(region) > 2", 4, "function calls"),
        ("__import__ == 1", 1, "names starting with __"),
        ("__class__", 1, "names starting with __"),
        ("age + 1 > 2", 5, "arithmetic"),
        ("age * 2 > 2", 5, "arithmetic"),
        ("age = 1", 5, "write =="),
        ("age > 1 & vip", 9, "and / or / not"),
        ("region[0] == 'n'", 7, "subscripts"),
        ("age >>> 2", 6, "unexpected"),
        ("lambda: 1", 7, "character ':'"),
        ("", 1, "empty"),
        ("age > 1 and", 12, "ends too early"),
        ("region in 'north'", 11, "square brackets"),
        ("region in [age]", 12, "literals only"),
        ("region in []", 12, "empty"),
        ("5 in [5]", 3, "column on its left"),
        ("1", 1, "alone is not a condition"),
        ("'x' or vip", 1, "alone is not a condition"),
        ("1 < 2", 3, "two literals"),
        ("(age > 1) == true", 11, "not a condition in parentheses"),
        ("age < null", 5, "null only goes with"),
        ("region == 'open", 11, "not closed"),
        ("age > 1x", 8, "after the number"),
        ("(" * 40 + "vip" + ")" * 40, 33, "nests too deeply"),
    ],
)
def test_refused_with_one_line_naming_expression_position_and_grammar(expr, where, says):
    with pytest.raises(FilterError) as info:
        parse_filter(expr)
    msg = str(info.value)
    assert "\n" not in msg
    assert says in msg
    assert f"at position {where}:" in msg
    assert repr(expr) in msg
    assert "allowed: column names" in msg and "in [...]" in msg


def test_payload_never_runs(tmp_path, df):
    marker = tmp_path / "pwned"
    with pytest.raises(FilterError):
        parse_filter(PAYLOAD.format(marker=marker))
    assert not marker.exists()


def test_size_bounds():
    with pytest.raises(FilterError, match="longer than"):
        parse_filter("vip or " * (MAX_LENGTH // 7 + 1) + "vip")
    with pytest.raises(FilterError, match="too long"):
        parse_filter("region in [" + ",".join(["1"] * 600) + "]")
    long_list = "region in [" + ",".join(["'a'"] * 300) + "]"
    assert parse_filter(long_list).columns == ["region"]


@pytest.mark.parametrize(
    "expr, says",
    [
        ("missing > 1", "'missing' not in the data"),
        ("age > 'x'", "is numeric, compared with the string"),
        ("region > 3", "not numeric, ordered against the number"),
        ("age", "is not true/false"),
    ],
)
def test_evaluation_errors_are_one_line(df, expr, says):
    with pytest.raises(ValueError) as info:
        parse_filter(expr).mask(df)
    assert says in str(info.value) and "\n" not in str(info.value)


def test_mask_is_vectorised_on_a_large_frame():
    n = 200_000
    big = pd.DataFrame({"x": np.arange(n), "g": np.where(np.arange(n) % 2 == 0, "a", "b")})
    m = parse_filter("x < 1000 and g in ['a']").mask(big)
    assert m.sum() == 500
