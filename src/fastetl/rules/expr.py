"""Row-rule expressions: a tokenizer and a recursive-descent parser into a small typed
tree, evaluated on numpy arrays of records.  No user text is ever run as Python.

The syntax (docs/SEMANTICS.md, "Rules")::

    expr    := or
    or      := and ("or" and)*
    and     := not ("and" not)*
    not     := "not" not | compare
    compare := sum (("=" | "==" | "!=" | "<>" | "<" | "<=" | ">" | ">=") sum)?
    sum     := product (("+" | "-") product)*
    product := unary (("*" | "/") unary)*
    unary   := "-" unary | atom
    atom    := NUMBER | 'text' | date'YYYY-MM-DD' | datetime'YYYY-MM-DDTHH:MM:SS[.f][+HH:MM]'
             | NAME | "column name" | abs(expr) | "(" expr ")" | true | false

Integers and decimals are exact (scaled integers at a common scale; Python integers
where int64 would overflow); ``/`` between them is exact too (a quotient of integers,
compared by cross-multiplying; a zero divisor makes the row break the rule); a float
anywhere makes the arithmetic floating point, in numpy's precision (NEP 50): float32
when the columns it reads are float32 columns and integer columns of 16 bits or less,
literals being "weak" as Python numbers are; float64 otherwise.
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np

from ..errors import SchemaError, shown
from ..schema import FLOAT_TYPES, INT_TYPES, Column

MAX_EXPR_CHARS = 10_000
MAX_PARENS = 40  # levels of parentheses at most
# nesting steps at most: the top level takes 3, each pair of parentheses 4 (no RecursionError)
MAX_DEPTH = 3 + 4 * MAX_PARENS
MAX_SCALE = 18
MAX_TREE = 200  # operators one inside another at most (a chain a + b + c ... counts each)
_I64_MAX = 2**63 - 1
_I64_MIN = -(2**63)

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<num>(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)
    | (?P<typed>(?:date|datetime)'[^']*')
    | (?P<text>'(?:[^']|'')*')
    | (?P<qname>"(?:[^"]|"")*")
    | (?P<name>[A-Za-z_\u00c0-\uffff][\w\u00c0-\uffff]*)
    | (?P<op><=|>=|!=|<>|==|[-+*/()<>=,])
    )""",
    re.X,
)
_ANY = ("num", "ratio", "float", "date", "datetime", "str", "cat", "bool", "text")
_NUMERIC = ("num", "ratio", "float")
_COMPARE = {"=": "==", "==": "==", "!=": "!=", "<>": "!=", "<": "<", "<=": "<=", ">": ">",
            ">=": ">="}  # fmt: skip


class _Fail(Exception):
    def __init__(self, message: str, at: int) -> None:
        super().__init__(message)
        self.message = message
        self.at = at


@dataclass
class Tok:
    kind: str  # num text typed qname name op end
    text: str
    at: int  # 0-based character position


def tokenize(text: str) -> list[Tok]:
    out: list[Tok] = []
    i, n = 0, len(text)
    while True:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            out.append(Tok("end", "", n))
            return out
        m = _TOKEN.match(text, i)
        if m is None or m.lastgroup is None:
            raise _Fail(f"unexpected {shown(text[i : i + 10])}", i)
        kind = m.lastgroup
        out.append(Tok(kind, m.group(kind), m.start(kind)))
        i = m.end()


# -- the typed tree ----------------------------------------------------------------
# Each node is a tuple (op, type, *args).  Types:
#   ("num", scale)  exact integers scaled by 10**scale (ints: scale 0)
#   ("float", bits) float64 or float32 (bits 64 or 32: see _width)
#   ("date",)       days since 1970-01-01 (int64)
#   ("datetime", unit)  int64 in unit
#   ("str",)        bytes (numpy S), compared bytewise (UTF-8)
#   ("cat", name)   a category column: codes, compared with a text literal only
#   ("bool",)


def _kind(t: tuple) -> str:
    return t[0]


def _t_name(t: tuple) -> str:
    k = t[0]
    if k == "num":
        return "integer" if t[1] == 0 else f"decimal({t[1]})"
    if k == "ratio":
        return "number"
    return {"cat": "category", "str": "text", "datetime": "datetime"}.get(k, k)


def column_type(col: Column) -> tuple:
    t = col.type
    if t in INT_TYPES:
        return ("num", 0)
    if t == "decimal":
        return ("num", col.scale)
    if t in FLOAT_TYPES:
        return ("float", 32 if t == "float32" else 64)
    if t == "bool":
        return ("bool",)
    if t == "date":
        return ("date",)
    if t == "datetime":
        return ("datetime", col.datetime_unit)
    if t == "category":
        return ("cat", col.name)
    if t == "str":
        return ("str",)
    return ("other", t)


_UNIT_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}


class _Parser:
    def __init__(self, text: str, columns: dict[str, Column]) -> None:
        self.text = text
        self.toks = tokenize(text)
        self.i = 0
        self.columns = columns
        self.depth = 0
        self.used: list[str] = []
        self.depths: dict[int, int] = {}  # id(node) -> its depth in the tree

    def grow(self, node: tuple, at: int) -> tuple:
        """``node`` (just made): its depth checked, so evaluating it cannot recurse deep."""
        d = 1 + max((self.depths.get(id(c), 0) for c in node[2:] if isinstance(c, tuple)), default=0)
        if d > MAX_TREE:
            raise _Fail(f"the expression has more than {MAX_TREE} operators one inside another", at)
        self.depths[id(node)] = d
        return node

    # helpers
    def peek(self) -> Tok:
        return self.toks[self.i]

    def next(self) -> Tok:
        t = self.toks[self.i]
        self.i += 1
        return t

    def is_op(self, *ops: str) -> bool:
        t = self.peek()
        return t.kind == "op" and t.text in ops

    def is_word(self, word: str) -> bool:
        t = self.peek()
        return t.kind == "name" and t.text.lower() == word

    def deeper(self, at: int) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _Fail(
                f"the expression nests more than {MAX_PARENS} levels of parentheses deep", at
            )

    def inside(self, at: int, sub: Any, kinds: tuple[str, ...], what: str) -> tuple:
        """``sub()`` one level deeper, its type one of ``kinds`` (else: ``what``)."""
        self.deeper(at)
        node = sub()
        self.depth -= 1
        if _kind(node[1]) not in kinds:
            raise _Fail(f"{what}, not a {_t_name(node[1])}", at)
        return node

    # grammar
    def parse(self) -> tuple:
        node = self.or_()
        t = self.peek()
        if t.kind != "end":
            raise _Fail(f"unexpected {shown(t.text)}", t.at)
        if _kind(node[1]) != "bool":
            raise _Fail(f"the rule must be a comparison or a condition, not a {_t_name(node[1])}", 0)
        return node

    def _chain(self, word: str, sub: Any) -> tuple:
        at = self.peek().at
        self.deeper(at)
        node = sub()
        while self.is_word(word):
            t = self.next()
            right = sub()
            for side in (node, right):
                if _kind(side[1]) != "bool":
                    raise _Fail(f"'{word}' joins conditions, not a {_t_name(side[1])}", t.at)
            node = self.grow((word, ("bool",), node, right), t.at)
        self.depth -= 1
        return node

    def or_(self) -> tuple:
        return self._chain("or", self.and_)

    def and_(self) -> tuple:
        return self._chain("and", self.not_)

    def not_(self) -> tuple:
        if self.is_word("not"):
            t = self.next()
            inner = self.inside(t.at, self.not_, ("bool",), "'not' takes a condition")
            return self.grow(("not", ("bool",), inner), t.at)
        return self.compare()

    def compare(self) -> tuple:
        left = self.sum_()
        t = self.peek()
        if t.kind == "op" and t.text in _COMPARE:
            self.next()
            right = self.sum_()
            return self.grow(_compare(_COMPARE[t.text], left, right, t.at), t.at)
        return left

    def sum_(self) -> tuple:
        at = self.peek().at
        self.deeper(at)
        node = self.product()
        while self.is_op("+", "-"):
            t = self.next()
            node = self.grow(_arith(t.text, node, self.product(), t.at), t.at)
        self.depth -= 1
        return node

    def product(self) -> tuple:
        node = self.unary()
        while self.is_op("*", "/"):
            t = self.next()
            node = self.grow(_arith(t.text, node, self.unary(), t.at), t.at)
        return node

    def unary(self) -> tuple:
        if self.is_op("-"):
            t = self.next()
            inner = self.inside(t.at, self.unary, _NUMERIC, "'-' takes a number")
            return self.grow(("neg", inner[1], inner), t.at)
        return self.atom()

    def atom(self) -> tuple:
        t = self.next()
        if t.kind == "num":
            return _number(t)
        if t.kind == "text":
            return ("lit", ("text",), t.text[1:-1].replace("''", "'"))
        if t.kind == "typed":
            return _typed(t)
        if t.kind == "qname":
            return self.column(t.text[1:-1].replace('""', '"'), t.at)
        if t.kind == "name":
            low = t.text.lower()
            if low in ("true", "false") and t.text not in self.columns:
                return ("lit", ("bool",), low == "true")
            if low == "abs" and self.is_op("("):
                self.next()
                inner = self.inside(t.at, self.or_, _NUMERIC, "abs() takes a number")
                self.expect(")", t.at)
                return self.grow(("abs", inner[1], inner), t.at)
            if self.is_op("("):
                raise _Fail(f"unknown function {shown(t.text)} (the only one is abs)", t.at)
            return self.column(t.text, t.at)
        if t.kind == "op" and t.text == "(":
            inner = self.inside(t.at, self.or_, _ANY, "")
            self.expect(")", t.at)
            return inner
        if t.kind == "end":
            raise _Fail("the expression ends too soon", t.at)
        raise _Fail(f"unexpected {shown(t.text)}", t.at)

    def expect(self, op: str, opened: int) -> None:
        t = self.peek()
        if t.kind == "op" and t.text == op:
            self.next()
            return
        raise _Fail(f"'(' at position {opened + 1} is not closed", t.at)

    def column(self, name: str, at: int) -> tuple:
        col = self.columns.get(name)
        if col is None:
            raise _Fail(f"unknown column {shown(name)}", at)
        ct = column_type(col)
        if ct[0] == "other":
            raise _Fail(f"column {shown(name)} of type {col.type} cannot be used in a rule", at)
        if name not in self.used:
            self.used.append(name)
        return ("col", ct, name, _col_width(col))


def _number(t: Tok) -> tuple:
    text = t.text
    if len(text) > 40:
        raise _Fail(f"number {shown(text)} is too long", t.at)
    if "e" in text or "E" in text:
        v = float(text)
        if not np.isfinite(v):
            raise _Fail(f"number {shown(text)} is out of range", t.at)
        return ("lit", ("float", 64), v)
    try:
        d = Decimal(text)
    except InvalidOperation:  # pragma: no cover - the pattern lets only numbers through
        raise _Fail(f"bad number {shown(text)}", t.at) from None
    scale = len(text.split(".", 1)[1]) if "." in text else 0
    if scale > MAX_SCALE:
        raise _Fail(f"number {shown(text)} has more than {MAX_SCALE} decimal places", t.at)
    scaled = int(d.scaleb(scale))
    if scaled > _I64_MAX:
        raise _Fail(f"number {shown(text)} is out of range (at most 2**63-1 units)", t.at)
    return ("lit", ("num", scale), scaled)


def _typed(t: Tok) -> tuple:
    kind, _, rest = t.text.partition("'")
    body = rest[:-1]
    try:
        if kind == "date":
            d = _dt.date.fromisoformat(body)
            if len(body) != 10:
                raise ValueError
            return ("lit", ("date",), (d - _dt.date(1970, 1, 1)).days)
        ns, digits = epoch_nanos(body)
    except ValueError:
        raise _Fail(f"{kind}'{body}' is not a valid {kind} (write {kind}'"
                    f"{'2024-01-31' if kind == 'date' else '2024-01-31T12:00:00'}')", t.at) from None
    if digits <= 6:
        return ("lit", ("datetime", "us"), ns // 1000)
    if not _I64_MIN < ns <= _I64_MAX:
        raise _Fail(f"{kind}'{body}' is out of range for nanoseconds", t.at)
    return ("lit", ("datetime", "ns"), ns)


_FRACTION = re.compile(r"(T|\s)([0-9]{2}:?[0-9]{2}:?[0-9]{2})[.,]([0-9]+)", re.ASCII)


def epoch_nanos(text: str) -> tuple[int, int]:
    """(nanoseconds since 1970-01-01T00:00 of the ISO 8601 datetime ``text``, digits
    of its fraction of a second): up to 9 digits, which ``fromisoformat`` alone cuts to
    6.  ``ValueError`` when it is not a datetime or has more than 9."""
    m = _FRACTION.search(text)
    frac = 0
    digits = 0
    if m is not None:
        digits = len(m.group(3))
        if digits > 9:
            raise ValueError(text)
        frac = int(m.group(3).ljust(9, "0"))
        text = text[: m.end(2)] + text[m.end(3) :]
    us = epoch_micros(_dt.datetime.fromisoformat(text))
    return us * 1000 + frac, digits


def epoch_micros(v: _dt.datetime) -> int:
    """Microseconds since 1970-01-01T00:00 (an aware datetime: of its UTC instant)."""
    if v.tzinfo is not None:
        v = v.astimezone(_dt.timezone.utc).replace(tzinfo=None)
    delta = v - _dt.datetime(1970, 1, 1)
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


# How wide a float a numeric sub-expression needs, as numpy promotes (NEP 50): 0 for
# literals only ("weak", as Python numbers are: they take the other side's precision),
# 16 for integer columns float32 holds exactly (int8, int16, uint8, uint16), 32 for a
# float32 column, 64 for anything else (float64, wider integers, decimals, an exact
# quotient of columns).  Floating arithmetic and comparisons are float32 when the widest
# part is 32, float64 otherwise.
_SMALL_INTS = ("int8", "int16", "uint8", "uint16")


def _col_width(col: Column) -> int:
    if col.type == "float32":
        return 32
    return 16 if col.type in _SMALL_INTS else 64


def _width(node: tuple) -> int:
    op = node[0]
    if op == "lit":
        return 0
    if op == "col":
        return node[3]
    kids = [k for k in node[2:] if isinstance(k, tuple)]
    w = max((_width(k) for k in kids), default=0)
    if node[1][0] == "ratio" and w:  # numpy divides integers in float64
        return 64
    return w


def _float_bits(a: tuple, b: tuple) -> int:
    return 32 if max(_width(a), _width(b)) == 32 else 64


def _scale_of(t: tuple) -> int:
    return t[1] if t[0] == "num" else 0


def _arith(op: str, a: tuple, b: tuple, at: int) -> tuple:
    ka, kb = _kind(a[1]), _kind(b[1])
    if ka in _NUMERIC and kb in _NUMERIC:
        if ka == "float" or kb == "float":
            return ("arith", ("float", _float_bits(a, b)), op, a, b)
        if op == "/" or ka == "ratio" or kb == "ratio":  # exact: a quotient of integers
            return ("arith", ("ratio",), op, a, b)
        if op == "*":
            s = a[1][1] + b[1][1]
            if s > MAX_SCALE:
                raise _Fail(f"the product has more than {MAX_SCALE} decimal places", at)
            return ("arith", ("num", s), op, a, b)
        return ("arith", ("num", max(a[1][1], b[1][1])), op, a, b)
    if ka == "date" and kb == "num" and b[1][1] == 0 and op in "+-":
        return ("shift", a[1], op, a, b)  # date +- days
    if ka == "date" and kb == "date" and op == "-":
        return ("days", ("num", 0), a, b)
    raise _Fail(f"cannot apply {op!r} to a {_t_name(a[1])} and a {_t_name(b[1])}", at)


def _compare(op: str, a: tuple, b: tuple, at: int) -> tuple:
    ka, kb = _kind(a[1]), _kind(b[1])
    ok = (
        (ka in _NUMERIC and kb in _NUMERIC)
        or (ka in ("date", "datetime") and kb in ("date", "datetime"))
        or ({ka, kb} <= {"str", "text"} and "str" in (ka, kb))
        or ({ka, kb} == {"cat", "text"} and op in ("==", "!="))
        or (ka == kb == "bool" and op in ("==", "!="))
    )
    if not ok:
        how = " (a category is compared with = or != only)" if "cat" in (ka, kb) else ""
        raise _Fail(f"cannot compare a {_t_name(a[1])} with a {_t_name(b[1])}{how}", at)
    if ka in _NUMERIC and kb in _NUMERIC and "float" in (ka, kb):
        return ("cmp", ("bool",), op, a, b, _float_bits(a, b))
    return ("cmp", ("bool",), op, a, b)


@dataclass(frozen=True)
class Compiled:
    """A parsed row rule: its tree and the columns it reads."""

    tree: tuple
    columns: tuple[str, ...]


def compile_expr(text: Any, columns: dict[str, Column], where: str) -> Compiled:
    """Parse ``text`` against the schema's ``columns``; SchemaError naming ``where`` and
    the position (1-based character) on any problem."""
    if not isinstance(text, str) or not text.strip():
        raise SchemaError(f"{where}: expr must be a non-empty string, got {shown(text)}")
    if len(text) > MAX_EXPR_CHARS:
        raise SchemaError(f"{where}: expr is longer than {MAX_EXPR_CHARS:,} characters")
    try:
        p = _Parser(text, columns)
        tree = p.parse()
    except _Fail as e:
        raise SchemaError(f"{where}: {e.message} at position {e.at + 1} of {shown(text)}") from None
    return Compiled(tree, tuple(p.used))


# -- evaluation ------------------------------------------------------------------


class Context:
    """What evaluating needs besides the tree: each column's values and nulls."""

    def __init__(self, values: Any, nulls: Any, codes: Any) -> None:
        self.values = values  # name -> numpy array (the record field)
        self.nulls = nulls  # name -> bool array or None
        self.codes = codes  # (name, text) -> code or None: a category's dictionary
        self.undefined: Any = None  # rows where an exact division had a zero divisor


def _add_exact(op: str, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """x op y for int64 arrays, exactly: object (Python int) arrays where int64 overflows."""
    if x.dtype == object or y.dtype == object:
        return _pyop(op, x, y)
    with np.errstate(over="ignore"):
        if op == "+":
            r = x + y
            over = ((x ^ r) & (y ^ r)) < 0
        elif op == "-":
            r = x - y
            over = ((x ^ y) & (x ^ r)) < 0
        else:
            r = x * y
            nz = x != 0
            safe = np.where(nz, x, 1)
            over = nz & ((r // safe != y) | ((x == -1) & (y == _I64_MIN)))
    if np.any(over):
        return _pyop(op, x.astype(object), y.astype(object))
    return r


def _pyop(op: str, x: Any, y: Any) -> np.ndarray:
    x = np.asarray(x).astype(object)
    y = np.asarray(y).astype(object)
    return {"+": np.add, "-": np.subtract, "*": np.multiply}[op](x, y)


def _rescale(v: np.ndarray, by: int) -> np.ndarray:
    if by == 0:
        return v
    return _add_exact("*", v, np.full(v.shape, 10**by, np.int64) if v.dtype != object else
                      np.full(v.shape, 10**by, object))


def _or(a: Any, b: Any) -> Any:
    if a is None:
        return b
    if b is None:
        return a
    return a | b


def _as_int(v: np.ndarray) -> np.ndarray:
    if v.dtype == np.uint64:
        if len(v) and v.max() > _I64_MAX:
            return v.astype(object)
        return v.astype(np.int64)
    if v.dtype == object:
        return v
    return v.astype(np.int64, copy=False)


def evaluate(node: tuple, ctx: Context, n: int) -> tuple[Any, Any]:
    """(values, nulls) of the rule ``node`` over ``n`` records; nulls None when there
    are none.  A row where an exact division has a zero divisor does not hold (False):
    it breaks the rule, unless a column the rule reads is null there."""
    ctx.undefined = None
    v, nulls = _eval(node, ctx, n)
    if ctx.undefined is not None and node[1][0] == "bool":
        v = np.asarray(v, bool) & ~ctx.undefined
    return v, nulls


def _eval(node: tuple, ctx: Context, n: int) -> tuple[Any, Any]:
    """(values, nulls) of ``node`` over ``n`` records; nulls None when there are none.
    An exact quotient ("ratio") is a pair (numerators, denominators > 0)."""
    op = node[0]
    t = node[1]
    if op == "lit":
        if t[0] == "float":
            return np.full(n, node[2], np.float64), None
        if t[0] == "bool":
            return np.full(n, node[2], bool), None
        if t[0] == "text":
            return node[2], None  # compared as a scalar
        return np.full(n, node[2], np.int64), None
    if op == "col":
        name = node[2]
        v = ctx.values[name]
        nulls = ctx.nulls.get(name)
        k = t[0]
        if k == "num":
            return _as_int(np.asarray(v)), nulls
        if k == "float":
            v = np.asarray(v, np.float32 if t[1] == 32 else np.float64)
            nan = np.isnan(v)
            return v, _or(nulls, nan) if nan.any() else nulls
        if k in ("date", "datetime"):
            iv = np.asarray(v).view(np.int64)
            nat = iv == np.iinfo(np.int64).min
            return iv, _or(nulls, nat) if nat.any() else nulls
        if k == "bool":
            return np.asarray(v).astype(bool), nulls
        return np.asarray(v), nulls  # str (S) or category codes
    if op in ("and", "or"):
        a, na = _eval(node[2], ctx, n)
        b, nb = _eval(node[3], ctx, n)
        return (a & b if op == "and" else a | b), _or(na, nb)
    if op == "not":
        a, na = _eval(node[2], ctx, n)
        return ~a, na
    if op == "neg":
        a, na = _eval(node[2], ctx, n)
        if t[0] == "float":
            return -a, na
        if t[0] == "ratio":
            return (_add_exact("-", np.zeros(n, np.int64), a[0]), a[1]), na
        return _add_exact("-", np.zeros(n, np.int64), a), na
    if op == "abs":
        a, na = _eval(node[2], ctx, n)
        if t[0] == "float":
            return np.abs(a), na
        if t[0] == "ratio":
            p = a[0]
            return (np.where(p < 0, _add_exact("-", np.zeros(n, np.int64), p), p), a[1]), na
        neg = a < 0
        return np.where(neg, _add_exact("-", np.zeros(n, np.int64), a), a), na
    if op == "arith":
        sym, x, y = node[2], node[3], node[4]
        a, na = _eval(x, ctx, n)
        b, nb = _eval(y, ctx, n)
        nulls = _or(na, nb)
        if t[0] == "float":
            fa, fb = _to_float(a, x, t[1]), _to_float(b, y, t[1])
            with np.errstate(all="ignore"):
                r = {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide}[sym](fa, fb)
            return r, nulls
        if t[0] == "ratio":
            return _ratio_op(sym, _as_ratio(a, x[1], n), _as_ratio(b, y[1], n), ctx), nulls
        if sym == "*":
            return _add_exact("*", a, b), nulls
        s = t[1]
        a = _rescale(a, s - x[1][1])
        b = _rescale(b, s - y[1][1])
        return _add_exact(sym, a, b), nulls
    if op == "shift":
        a, na = _eval(node[3], ctx, n)
        b, nb = _eval(node[4], ctx, n)
        return _add_exact(node[2], a, b), _or(na, nb)
    if op == "days":
        a, na = _eval(node[2], ctx, n)
        b, nb = _eval(node[3], ctx, n)
        return _add_exact("-", a, b), _or(na, nb)
    if op == "cmp":
        return _cmp(node, ctx, n)
    raise AssertionError(op)  # pragma: no cover


def _as_ratio(v: Any, t: tuple, n: int) -> tuple[Any, Any]:
    """An exact number as (numerators, denominators): a scaled integer over 10**scale."""
    if t[0] == "ratio":
        return v
    return v, np.full(n, 10 ** t[1], np.int64)


def _ratio_op(sym: str, a: tuple[Any, Any], b: tuple[Any, Any], ctx: Context) -> tuple[Any, Any]:
    """a sym b for exact quotients, with Python integers where int64 would overflow.  A
    zero divisor marks the row undefined (``ctx.undefined``); its value is then 0/1."""
    (pa, qa), (pb, qb) = a, b
    if sym in ("+", "-"):
        p = _add_exact(sym, _add_exact("*", pa, qb), _add_exact("*", pb, qa))
        return p, _add_exact("*", qa, qb)
    if sym == "*":
        return _add_exact("*", pa, pb), _add_exact("*", qa, qb)
    p, q = _add_exact("*", pa, qb), _add_exact("*", qa, pb)
    neg = np.asarray(q < 0, bool)
    if neg.any():  # the denominator keeps the sign positive
        p = np.where(neg, _add_exact("-", np.zeros(len(neg), np.int64), p), p)
        q = np.where(neg, _add_exact("-", np.zeros(len(neg), np.int64), q), q)
    zero = np.asarray(q == 0, bool)
    if zero.any():
        ctx.undefined = zero if ctx.undefined is None else ctx.undefined | zero
        p, q = np.where(zero, 0, p), np.where(zero, 1, q)
    return p, q


def _to_float(v: Any, node: tuple, bits: int) -> np.ndarray:
    """The values ``v`` of ``node`` as floats of ``bits`` (64 or 32).  A literal is
    the float its text reads as (Python's ``float``), then rounded to float32 when the
    other side is float32, as numpy rounds a Python float it meets (NEP 50)."""
    t = node[1]
    want = np.float32 if bits == 32 else np.float64
    if node[0] == "lit" and t[0] == "num":
        text = float(Decimal(node[2]).scaleb(-t[1]))  # (correctly rounded, as float(text))
        with np.errstate(over="ignore"):
            return np.full(len(v), text, np.float64).astype(want)
    if t[0] == "float":
        with np.errstate(over="ignore"):
            return np.asarray(v).astype(want, copy=False)
    if t[0] == "ratio":
        with np.errstate(all="ignore"):
            f = np.asarray(v[0]).astype(np.float64) / np.asarray(v[1]).astype(np.float64)
    else:
        f = np.asarray(v).astype(np.float64)
        f = f / 10.0 ** t[1] if t[1] else f
    return f.astype(want, copy=False)


_NP_CMP = {"==": np.equal, "!=": np.not_equal, "<": np.less, "<=": np.less_equal,
           ">": np.greater, ">=": np.greater_equal}  # fmt: skip


def _cmp(node: tuple, ctx: Context, n: int) -> tuple[Any, Any]:
    sym, x, y = node[2], node[3], node[4]
    a, na = _eval(x, ctx, n)
    b, nb = _eval(y, ctx, n)
    nulls = _or(na, nb)
    ka, kb = x[1][0], y[1][0]
    f = _NP_CMP[sym]
    if "cat" in (ka, kb):
        (codes, cat), text = (a, x[1][1]), b
        if ka != "cat":
            (codes, cat), text = (b, y[1][1]), a
        code = ctx.codes(cat, text)
        if code is None:  # not in the dictionary: no value equals it
            return np.full(n, sym == "!=", bool), nulls
        return f(codes, code), nulls
    if "str" in (ka, kb) or "text" in (ka, kb):
        a = a.encode("utf-8") if isinstance(a, str) else a
        b = b.encode("utf-8") if isinstance(b, str) else b
        return f(a, b), nulls
    if ka in _NUMERIC and kb in _NUMERIC:
        if ka == "float" or kb == "float":
            bits = node[5]
            return f(_to_float(a, x, bits), _to_float(b, y, bits)), nulls
        if ka == "ratio" or kb == "ratio":  # p/q OP r/s  <=>  p*s OP r*q  (q, s > 0)
            (pa, qa), (pb, qb) = _as_ratio(a, x[1], n), _as_ratio(b, y[1], n)
            a, b = _add_exact("*", pa, qb), _add_exact("*", pb, qa)
            if a.dtype == object or b.dtype == object:
                return f(a.astype(object), b.astype(object)).astype(bool), nulls
            return f(a, b), nulls
        s = max(x[1][1], y[1][1])
        a, b = _rescale(a, s - x[1][1]), _rescale(b, s - y[1][1])
        if a.dtype == object or b.dtype == object:
            return f(a.astype(object), b.astype(object)).astype(bool), nulls
        return f(a, b), nulls
    if ka in ("date", "datetime"):
        a, b = _same_time(a, x[1]), _same_time(b, y[1])
        ua, ub = a[1], b[1]
        u = ua if _UNIT_PER_SECOND[ua] >= _UNIT_PER_SECOND[ub] else ub
        a = _rescale_time(a[0], ua, u)
        b = _rescale_time(b[0], ub, u)
        return f(a, b), nulls
    return f(a, b), nulls  # bool


def _same_time(v: Any, t: tuple) -> tuple[Any, str]:
    if t[0] == "date":  # days -> seconds
        return _add_exact("*", v, np.full(len(v), 86400, np.int64)), "s"
    return v, t[1]


def _rescale_time(v: Any, have: str, want: str) -> Any:
    k = _UNIT_PER_SECOND[want] // _UNIT_PER_SECOND[have]
    if k == 1:
        return v
    return _add_exact("*", v, np.full(len(v), k, np.int64))
