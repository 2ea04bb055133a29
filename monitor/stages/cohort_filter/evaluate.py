"""Evaluating a parsed `where` expression on a DataFrame: vectorised masks over named columns only."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from monitor.stages.cohort_filter.grammar import Node, _BoolOp, _Column, _Compare, _In, _Literal, _Not

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import pandas as pd

__all__ = ["Filter"]


class Filter:
    """A parsed `where` expression: its columns, and a row mask for a DataFrame."""

    def __init__(self, expr: str, tree: Node):
        self.expr = expr
        self._tree = tree

    def __repr__(self) -> str:
        return f"Filter({self.expr!r})"

    @property
    def columns(self) -> list[str]:
        """Every column the expression names, in order of first use."""
        out: list[str] = []

        def walk(n: Any) -> None:
            if isinstance(n, _Column):
                if n.name not in out:
                    out.append(n.name)
            elif isinstance(n, _Compare):
                walk(n.left)
                walk(n.right)
            elif isinstance(n, _In):
                walk(n.operand)
            elif isinstance(n, _Not):
                walk(n.arg)
            elif isinstance(n, _BoolOp):
                for a in n.args:
                    walk(a)

        walk(self._tree)
        return out

    def mask(self, df: pd.DataFrame) -> np.ndarray:
        """One bool per row of `df`; ValueError (one line) when a column is missing or a type does not fit."""
        import numpy as np

        missing = [c for c in self.columns if c not in df.columns]
        if missing:
            raise ValueError(f"column(s) {', '.join(map(repr, missing))} not in the data")
        out = _bool(self, self._tree, df)
        return np.asarray(out, dtype=bool)

    def _fail(self, pos: int, problem: str) -> ValueError:
        return ValueError(f"where expression {self.expr!r} at position {pos + 1}: {problem}")


def _bool(f: Filter, node: Any, df: pd.DataFrame) -> np.ndarray:
    import numpy as np
    import pandas as pd

    if isinstance(node, _BoolOp):
        parts = [_bool(f, a, df) for a in node.args]
        res = parts[0]
        for p in parts[1:]:
            res = (res & p) if node.op == "and" else (res | p)
        return res
    if isinstance(node, _Not):
        return ~_bool(f, node.arg, df)
    if isinstance(node, _Compare):
        return _compare(f, node, df)
    if isinstance(node, _In):
        s = _series(f, node.operand, df)
        if not isinstance(s, pd.Series):
            raise f._fail(node.pos, "`in` needs a column on its left")
        vals = [v for v in node.values if v is not None]
        res = s.isin(vals).to_numpy(dtype=bool)
        if len(vals) < len(node.values):
            res = res | s.isna().to_numpy()
        return ~res if node.negate else res
    if isinstance(node, _Column):
        s = df[node.name]
        if not pd.api.types.is_bool_dtype(s.dtype):
            raise f._fail(node.pos, f"the column {node.name!r} is not true/false; compare it with something (e.g. {node.name} > 0)")
        return s.fillna(False).to_numpy(dtype=bool)
    if isinstance(node, _Literal):
        if isinstance(node.value, bool):
            return np.full(len(df), node.value, dtype=bool)
        raise f._fail(node.pos, "a literal alone is not a condition")
    raise f._fail(0, "unsupported expression")  # pragma: no cover - the parser builds only the nodes above


def _series(f: Filter, node: Any, df: pd.DataFrame) -> Any:
    if isinstance(node, _Column):
        return df[node.name]
    if isinstance(node, _Literal):
        return node.value
    raise f._fail(_pos(node), "only a column or a literal can be compared (a condition in parentheses cannot)")


def _pos(node: Any) -> int:
    if isinstance(node, (_Column, _Literal, _Compare, _In)):
        return node.pos
    if isinstance(node, _Not):
        return _pos(node.arg)
    if isinstance(node, _BoolOp):
        return _pos(node.args[0])
    return 0


def _compare(f: Filter, node: _Compare, df: pd.DataFrame) -> np.ndarray:
    import numpy as np
    import pandas as pd

    left, right = _series(f, node.left, df), _series(f, node.right, df)
    lser, rser = isinstance(left, pd.Series), isinstance(right, pd.Series)
    if not lser and not rser:
        raise f._fail(node.pos, "compare a column with something (two literals are not a condition)")
    if left is None or right is None:
        if node.op not in ("==", "!="):
            raise f._fail(node.pos, "null only goes with == or !=")
        s = left if lser else right
        isna = s.isna().to_numpy()
        return isna if node.op == "==" else ~isna
    for side, other in ((left, right), (right, left)):
        if isinstance(side, pd.Series) and not isinstance(other, pd.Series):
            _check_types(f, node, side, other)
    ops = {
        "==": lambda a, b: a == b,
        "!=": lambda a, b: a != b,
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
    }
    try:
        res = ops[node.op](left, right)
    except TypeError as exc:
        raise f._fail(node.pos, f"cannot compare these values ({str(exc).splitlines()[0][:200]})") from None
    arr = np.asarray(res.fillna(False) if isinstance(res, pd.Series) else res)
    if arr.dtype != bool:
        arr = arr.astype(bool)
    return arr


def _check_types(f: Filter, node: _Compare, s: pd.Series, lit: Any) -> None:
    import pandas as pd

    numeric = pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype)
    if numeric and isinstance(lit, str):
        raise f._fail(node.pos, f"the column {s.name!r} is numeric, compared with the string {lit!r}")
    if isinstance(lit, (int, float)) and not isinstance(lit, bool) and not numeric and node.op not in ("==", "!="):
        raise f._fail(node.pos, f"the column {s.name!r} is not numeric, ordered against the number {lit!r}")
