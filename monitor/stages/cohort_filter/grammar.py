"""The cohort filter grammar's tokens, syntax tree and recursive-descent parser (stdlib only)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional, Union

if TYPE_CHECKING:  # pragma: no cover
    pass

__all__ = ["ALLOWED", "MAX_DEPTH", "MAX_LENGTH", "MAX_NODES", "FilterError", "Node", "Parser"]

ALLOWED = (
    "allowed: column names, numbers, 'quoted strings', true/false/null, "
    "comparisons == != < <= > >=, `in [...]` / `not in [...]`, and/or/not, parentheses"
)
MAX_LENGTH = 2000  # characters of one expression
MAX_DEPTH = 32  # nested parentheses / nots
MAX_NODES = 500  # comparisons, literals and columns in one expression

_KEYWORDS = {"and", "or", "not", "in", "true", "false", "True", "False", "null", "None"}
_COMPARE = ("==", "!=", "<=", ">=", "<", ">")
_NUMBER = re.compile(r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_WS = re.compile(r"\s+")


class FilterError(ValueError):
    """A `where` expression outside the grammar; the message is one line."""

    def __init__(self, expr: str, pos: int, problem: str):
        self.expr, self.pos, self.problem = expr, pos, problem
        shown = expr if len(expr) <= 120 else expr[:117] + "..."
        super().__init__(f"cannot use where expression {shown!r}: at position {pos + 1}: {problem}; {ALLOWED}")


# --------------------------------------------------------------------------- tokens


@dataclass(frozen=True)
class _Tok:
    kind: str  # name | num | str | op | punct | kw | end
    text: str
    pos: int
    value: Any = None


def _tokens(expr: str) -> list[_Tok]:
    out: list[_Tok] = []
    i, n = 0, len(expr)
    while i < n:
        ch = expr[i]
        m = _WS.match(expr, i)
        if m:
            i = m.end()
            continue
        if expr.startswith(tuple(_COMPARE), i):
            op = next(o for o in _COMPARE if expr.startswith(o, i))
            out.append(_Tok("op", op, i))
            i += len(op)
            continue
        if ch in "()[],":
            out.append(_Tok("punct", ch, i))
            i += 1
            continue
        if ch in "'\"":
            j, buf = i + 1, []
            while j < n and expr[j] != ch:
                if expr[j] == "\\" and j + 1 < n:
                    j += 1
                buf.append(expr[j])
                j += 1
            if j >= n:
                raise FilterError(expr, i, "the string is not closed")
            out.append(_Tok("str", expr[i : j + 1], i, "".join(buf)))
            i = j + 1
            continue
        sign = ""
        if ch == "-" and _sign_allowed(out) and _NUMBER.match(expr, i + 1):
            sign, i = "-", i + 1  # a minus sign before a number (x > -1)
        m = _NUMBER.match(expr, i)
        if m:
            text = sign + m.group()
            end = m.end()
            if end < n and (expr[end].isalpha() or expr[end] == "_"):
                raise FilterError(expr, end, f"unexpected {expr[end]!r} after the number {text}")
            value: Union[int, float] = int(text) if text.lstrip("-").isdigit() else float(text)
            out.append(_Tok("num", text, i - len(sign), value))
            i = end
            continue
        m = _NAME.match(expr, i)
        if m:
            name = m.group()
            if name in _KEYWORDS:
                out.append(_Tok("kw", name, i))
            else:
                if name.startswith("__"):
                    raise FilterError(expr, i, f"the name {name!r} is not allowed (names starting with __ are refused)")
                out.append(_Tok("name", name, i))
            i = m.end()
            continue
        raise FilterError(expr, i, _why_not(ch))
    out.append(_Tok("end", "", n))
    return out


def _sign_allowed(before: list[_Tok]) -> bool:
    """A '-' is a sign (not subtraction) at the start or after an operator, '(', '[', ',' or a keyword."""
    if not before:
        return True
    t = before[-1]
    return t.kind in ("op", "kw") or (t.kind == "punct" and t.text in "([,")


def _why_not(ch: str) -> str:
    if ch == "@":
        return "'@' (a reference to a variable) is not allowed"
    if ch == "`":
        return "backticks are not allowed (use a plain column name)"
    if ch == ".":
        return "'.' (attribute access) is not allowed"
    if ch in "+-*/%":
        return f"arithmetic {ch!r} is not allowed (except a minus sign before a number)"
    if ch in "&|~":
        return f"{ch!r} is not allowed (write and / or / not)"
    if ch == "=":
        return "'=' is not a comparison (write ==)"
    return f"the character {ch!r} is not allowed"


# --------------------------------------------------------------------------- tree


@dataclass(frozen=True)
class _Column:
    name: str
    pos: int


@dataclass(frozen=True)
class _Literal:
    value: Any  # int | float | str | bool | None
    pos: int


@dataclass(frozen=True)
class _Compare:
    op: str
    left: _Operand
    right: _Operand
    pos: int


@dataclass(frozen=True)
class _In:
    operand: _Operand
    values: tuple
    negate: bool
    pos: int


@dataclass(frozen=True)
class _Not:
    arg: _Node


@dataclass(frozen=True)
class _BoolOp:
    op: str  # and | or
    args: tuple


_Operand = Union[_Column, _Literal, "_Node"]
_Node = Union[_Column, _Literal, _Compare, _In, _Not, _BoolOp]


class _Parser:
    def __init__(self, expr: str):
        self.expr = expr
        self.toks = _tokens(expr)
        self.i = 0
        self.depth = 0
        self.nodes = 0

    @property
    def tok(self) -> _Tok:
        return self.toks[self.i]

    def fail(self, problem: str, tok: Optional[_Tok] = None) -> FilterError:
        return FilterError(self.expr, (tok or self.tok).pos, problem)

    def take(self) -> _Tok:
        t = self.tok
        self.i += 1
        return t

    def at(self, kind: str, text: Optional[str] = None) -> bool:
        t = self.tok
        return t.kind == kind and (text is None or t.text == text)

    def count(self) -> None:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise self.fail(f"the expression is too long (more than {MAX_NODES} terms)")

    def parse(self) -> _Node:
        if self.at("end"):
            raise self.fail("the expression is empty")
        node = self.or_()
        if not self.at("end"):
            t = self.tok
            raise self.fail(f"unexpected {t.text!r}" + (" (function calls are not allowed)" if t.text == "(" else ""), t)
        return node

    def or_(self) -> _Node:
        args = [self.condition(self.and_())]
        while self.at("kw", "or"):
            self.take()
            args.append(self.condition(self.and_()))
        return args[0] if len(args) == 1 else _BoolOp("or", tuple(args))

    def and_(self) -> _Node:
        args = [self.condition(self.not_())]
        while self.at("kw", "and"):
            self.take()
            args.append(self.condition(self.not_()))
        return args[0] if len(args) == 1 else _BoolOp("and", tuple(args))

    def not_(self) -> _Node:
        if self.at("kw", "not"):
            self.enter()
            self.take()
            arg = self.condition(self.not_())
            self.depth -= 1
            return _Not(arg)
        return self.comparison()

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail(f"the expression nests too deeply (more than {MAX_DEPTH} levels)")

    def comparison(self) -> _Node:
        left = self.operand()
        if self.at("kw", "in") or (self.at("kw", "not") and self.toks[self.i + 1].text == "in"):
            start = self.tok
            negate = self.take().text == "not"
            if negate:
                self.take()
            if not isinstance(left, _Column):
                raise self.fail("`in` needs a column on its left", start)
            return _In(left, self.in_list(), negate, start.pos)
        parts: list[_Node] = []
        while self.at("op"):
            op = self.take()
            right = self.operand()
            parts.append(self.checked(_Compare(op.text, left, right, op.pos)))
            left = right
        if not parts:
            return left
        return parts[0] if len(parts) == 1 else _BoolOp("and", tuple(parts))

    def checked(self, c: _Compare) -> _Compare:
        for side in (c.left, c.right):
            if not isinstance(side, (_Column, _Literal)):
                raise FilterError(self.expr, c.pos, "only a column or a literal can be compared (not a condition in parentheses)")
        if isinstance(c.left, _Literal) and isinstance(c.right, _Literal):
            raise FilterError(self.expr, c.pos, "compare a column with something (two literals are not a condition)")
        lit = c.left if isinstance(c.left, _Literal) else c.right
        if isinstance(lit, _Literal) and lit.value is None and c.op not in ("==", "!="):
            raise FilterError(self.expr, c.pos, "null only goes with == or !=")
        return c

    def condition(self, node: _Node) -> _Node:
        if isinstance(node, _Literal) and not isinstance(node.value, bool):
            raise FilterError(self.expr, node.pos, f"the literal {node.value!r} alone is not a condition")
        return node

    def in_list(self) -> tuple:
        if not self.at("punct", "["):
            raise self.fail("`in` takes a list in square brackets, e.g. region in ['north', 'south']")
        self.take()
        values = []
        while not self.at("punct", "]"):
            first = self.tok
            lit = self.operand()
            if not isinstance(lit, _Literal):
                raise self.fail("an `in` list holds literals only (numbers, strings, true/false/null)", first)
            values.append(lit.value)
            if self.at("punct", ","):
                self.take()
            elif not self.at("punct", "]"):
                raise self.fail("expected ',' or ']' in the `in` list")
        if not values:
            raise self.fail("the `in` list is empty")
        self.take()
        return tuple(values)

    def operand(self) -> Any:
        t = self.tok
        self.count()
        if t.kind == "punct" and t.text == "(":
            self.enter()
            self.take()
            node = self.or_()
            self.depth -= 1
            if not self.at("punct", ")"):
                raise self.fail("expected ')'")
            self.take()
            return node
        if t.kind == "name":
            self.take()
            if self.at("punct", "(") or self.at("punct", "["):
                what = "function calls" if self.tok.text == "(" else "subscripts"
                raise self.fail(f"{what} are not allowed ({t.text}{self.tok.text}...{')' if what == 'function calls' else ']'})")
            return _Column(t.text, t.pos)
        if t.kind in ("num", "str"):
            self.take()
            return _Literal(t.value, t.pos)
        if t.kind == "kw" and t.text in ("true", "True", "false", "False", "null", "None"):
            self.take()
            return _Literal({"true": True, "True": True, "false": False, "False": False}.get(t.text), t.pos)
        if t.kind == "end":
            raise self.fail("the expression ends too early")
        raise self.fail(f"unexpected {t.text!r}")


# --------------------------------------------------------------------------- evaluation


Node = _Node
Parser = _Parser
