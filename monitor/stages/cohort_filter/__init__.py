"""The cohort filter grammar: `where: "driver_tenure < 1 and region in ['north', 'south']"`.

A `where` expression is data, never code. It is parsed here by a small
recursive-descent parser (no `eval`, no pandas `query`, no Python `ast`) and
evaluated with vectorised pandas/numpy operations on named columns only.

    expr        := or
    or          := and ("or" and)*
    and         := not ("and" not)*
    not         := "not" not | comparison
    comparison  := operand (op operand)*            (chained: 0 <= age < 30)
                 | operand ["not"] "in" "[" literal ("," literal)* [","] "]"
    operand     := column | literal | "(" expr ")"
    op          := == | != | < | <= | > | >=
    literal     := number | 'string' | "string" | true | false | null

A column is a plain name ([A-Za-z_][A-Za-z0-9_]*, not starting with `__`); a
bare column is allowed when it holds true/false values. `x == null` /
`x != null` test for missing values. Everything else (`@`, backticks,
attribute access, calls, arithmetic, subscripts) is refused with one line
naming the expression, the position and what is allowed.

Parsing is stdlib only (the config loads it in the DAG processor); numpy and
pandas are imported when a filter is evaluated.
"""

from __future__ import annotations

from monitor.stages.cohort_filter.evaluate import Filter
from monitor.stages.cohort_filter.grammar import ALLOWED, MAX_LENGTH, FilterError
from monitor.stages.cohort_filter.grammar import Parser as _Parser

__all__ = ["FilterError", "Filter", "parse_filter", "ALLOWED", "MAX_LENGTH"]


def parse_filter(expr: str) -> Filter:
    """Parse a `where` expression, or raise FilterError (one line: expression, position, what is allowed)."""
    if not isinstance(expr, str):
        raise FilterError(str(expr), 0, "a where expression is a string")
    if len(expr) > MAX_LENGTH:
        raise FilterError(expr, MAX_LENGTH, f"the expression is longer than {MAX_LENGTH} characters")
    return Filter(expr, _Parser(expr).parse())
