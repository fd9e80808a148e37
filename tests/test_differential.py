"""Differential tests: random schemas and adversarial CSV text, parsed by the core
(at every block size) and by the pure-Python reference (tests/reference.py).

They must agree exactly: same records (floats bit for bit, any NaN equal to any
NaN), or the same first error (line, column, row, byte offset).

Hypothesis prints the falsifying example and a ``@reproduce_failure`` blob; the
seeded long-file test also prints its seed.  One generator serves both drivers
(:class:`Draw` for hypothesis, :class:`Rand` for a seeded ``random.Random``).
"""

from __future__ import annotations

import math
import os
import random
import struct
from dataclasses import dataclass

import numpy as np
from hypothesis import HealthCheck, assume, given, note, settings
from hypothesis import strategies as st
from reference import _FLOAT_RE, INT_RANGES, compare_with_reference, csv_cell, reference_outcome

from fastetl import Schema

FUZZ = float(os.environ.get("FASTETL_FUZZ", "1"))


def N(n: int) -> int:
    """Example count, scaled by FASTETL_FUZZ (default 1: the whole file in well under a minute)."""
    return max(1, int(n * FUZZ))


SETTINGS = dict(
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
    print_blob=True,
)

# -- choosers -----------------------------------------------------------------------------------


class Chooser:
    def int(self, lo: int, hi: int) -> int:
        raise NotImplementedError

    def float(self) -> float:
        raise NotImplementedError

    def pick(self, seq):
        seq = list(seq)
        return seq[self.int(0, len(seq) - 1)]

    def chance(self, percent: int) -> bool:
        return self.int(0, 99) < percent

    def text(self, alphabet, max_size: int, min_size: int = 0) -> str:
        return "".join(self.pick(alphabet) for _ in range(self.int(min_size, max_size)))


class Draw(Chooser):
    def __init__(self, draw):
        self.draw = draw

    def int(self, lo, hi):
        return self.draw(st.integers(lo, hi))

    def float(self):
        return self.draw(st.floats())

    def pick(self, seq):
        return self.draw(st.sampled_from(list(seq)))


class Rand(Chooser):
    def __init__(self, seed: int):
        self.rng = random.Random(seed)

    def int(self, lo, hi):
        return self.rng.randint(lo, hi)

    def float(self):
        if self.rng.random() < 0.5:
            return struct.unpack("<d", self.rng.getrandbits(64).to_bytes(8, "little"))[0]
        return self.rng.uniform(-1e6, 1e6)


# -- cell texts ----------------------------------------------------------------------------

SPACES = ["", "", "", " ", "\t", "  ", " \t "]
INT_JUNK = [
    "",
    " ",
    "+",
    "-",
    "--1",
    "+-1",
    "1.0",
    "1.",
    "1e3",
    "1_0",
    "0x1f",
    "١٢",
    "１",
    "abc",
    "1 2",
    "nan",
]
FLOAT_EDGE = [
    "1e308", "1.7976931348623157e308", "1.7976931348623158e308", "1.7976931348623159e308", "1e309",
    "4.9e-324", "5e-324", "2.4703282292062328e-324", "2.4703282292062327e-324", "1e-400",
    "2.2250738585072011e-308", "2.2250738585072012e-308", "2.2250738585072014e-308", "0.1", "0.3",
    "9007199254740993", "9007199254740993.0000000000000000001", "3.4028235e38", "3.4028236e38",
    "3.4028235677973366e38", "1.4e-45", "7e-46", "7.1e-46", "1.0000000596046448",
    "123456789012345678901234567890.123456789", "0.30000000000000004", "-0", "-0.0", "1.", ".5",
    "-.5e-3", "0e0", "00000.5", "1E+10", "6.02214076e23", "16777217", "33554431",
]  # fmt: skip
FLOAT_SPECIAL = ["inf", "infinity", "nan"]
FLOAT_JUNK = ["", ".", "-.", "e5", "1e", "1e+", "1.2.3", "inf5", "infinit", "0x1p3", "1_0", "１",
              "nan(1)",
              "1d5", "- 1", "+-1", "1,5", "--1", "abc"]  # fmt: skip
DECIMAL_JUNK = [
    "",
    ".",
    "-",
    "+",
    "1e3",
    "1E-2",
    "1.2.3",
    "abc",
    "inf",
    "nan",
    "1_0",
    "１",
    "- 1",
    "0x10",
    "1,5",
]
BOOL_WORDS = ["true", "false", "t", "f", "yes", "no", "1", "0"]
BOOL_JUNK = ["", "2", "-1", "00", "01", "1.0", "y", "n", "tru", "on", "off", "yes!", "ｔｒｕｅ"]
DATE_JUNK = [
    "",
    "20240101",
    "2024/01/01",
    "2024-1-01",
    "24-01-01",
    "2024-W01-1",
    "abc",
    "+2024-01-01",
    "0000-01-01",
]
STR_ALPHABET = [
    "a",
    "b",
    "Z",
    "0",
    " ",
    "\t",
    '"',
    "'",
    ",",
    ";",
    "|",
    "\r",
    "\n",
    "\r\n",
    "é",
    "€",
    "😀",
    "ç",
]
BAD_UTF8 = ["\udcff", "\udc80", "\udce2\udc82", "\udcc3", "\udced\udca0\udc80", "\udcc0\udcaf"]
EQUALS_POOL = ["", "a", " a", "1", "0", "true", "pix", "NA", "é", "x,y"]
CAT_POOL = [
    "a",
    "b",
    "A",
    " a",
    "a ",
    "é",
    'q"x',
    "x,y",
    "l\nm",
    "pix",
    "boleto",
    "cartão",
    "",
    "\t",
]


def pad(ch: Chooser, s: str) -> str:
    if ch.chance(20):
        return ch.pick(SPACES) + s + ch.pick(SPACES)
    return s


def g_int(ch: Chooser, typ: str, valid: bool) -> str:
    lo, hi = INT_RANGES[typ]
    k = ch.int(0, 6 if valid else 9)
    if k <= 2:
        v = ch.int(lo, hi)
    elif k == 3:
        v = ch.pick([lo, hi, 0, 1, max(lo, -1)])
    elif k <= 6:
        v = ch.int(max(lo, -1000), min(hi, 1000))
    elif k == 7:
        v = ch.pick([lo - 1, hi + 1, hi * 10 + 7, -(2**64) - 1, 2**64, 2**63])
    elif k == 8:
        return ch.pick(INT_JUNK)
    else:
        v = ch.int(-(2**70), 2**70)
    digits = str(abs(v))
    if ch.chance(15):
        digits = "0" * ch.int(1, 25) + digits
    sign = "-" if v < 0 else ch.pick(["", "", "", "+"])
    if v == 0 and ch.chance(25):
        sign = "-"
    return pad(ch, sign + digits)


def _digits(ch: Chooser, lo: int, hi: int) -> str:
    return "".join(str(ch.int(0, 9)) for _ in range(ch.int(lo, hi)))


def g_float(ch: Chooser, typ: str, valid: bool) -> str:
    text = _g_float(ch, typ, valid)
    if typ == "float32" and _FLOAT_RE.fullmatch(text.strip(" \t")):
        # SEMANTICS leaves open whether a float32 number text that float() itself turns
        # into inf (1e400) is an error or inf: keep such texts out of the comparison
        body = text.strip(" \t").lstrip("+-").lower()
        if math.isinf(float(text)) and body not in ("inf", "infinity"):
            return "1e39"  # finite as a double, too big for float32: an error either way
    return text


def _g_float(ch: Chooser, typ: str, valid: bool) -> str:
    f32 = typ == "float32"
    max_exp = 300 if f32 else 400  # float32: never a number text that float() makes inf
    k = ch.int(0, 9 if valid else 11)
    if k <= 2:
        x = ch.float()
        if f32 and ch.chance(50):
            with np.errstate(over="ignore"):
                x = float(np.float32(x))
            return pad(ch, str(np.float32(x)) if np.isfinite(x) else repr(x))
        return pad(ch, repr(x))
    if k == 3:
        # float32: leave out number texts that float() turns into inf (SEMANTICS leaves them open)
        return pad(
            ch, ch.pick([t for t in FLOAT_EDGE if not (f32 and abs(float(t)) == float("inf"))])
        )
    if k <= 6:
        mant = _digits(ch, 0, 35)
        if ch.chance(60):
            mant += "." + _digits(ch, 0, 35)
        if not mant.strip(".") or mant == ".":
            mant = "0" + mant
        if ch.chance(50):
            mant += ch.pick("eE") + ch.pick(["", "+", "-"]) + str(ch.int(0, max_exp))
        return pad(ch, ch.pick(["", "", "-", "+"]) + mant)
    if k <= 9:
        word = "".join(c.upper() if ch.chance(50) else c for c in ch.pick(FLOAT_SPECIAL))
        return pad(ch, ch.pick(["", "", "-", "+"]) + word)
    return ch.pick(FLOAT_JUNK)


def fmt_scaled(v: int, scale: int) -> str:
    sign = "-" if v < 0 else ""
    digits = str(abs(v)).rjust(scale + 1, "0")
    if not scale:
        return sign + digits
    return f"{sign}{digits[:-scale]}.{digits[-scale:]}"


def g_decimal(ch: Chooser, scale: int, rnd: bool, valid: bool) -> str:
    lo, hi = -(2**63), 2**63 - 1
    k = ch.int(0, 7 if valid else 10)
    if k <= 2:
        v = ch.int(lo, hi) if ch.chance(50) else ch.int(-100000, 100000)
        t = fmt_scaled(v, scale)
        if "." in t and ch.chance(40):
            t = t.rstrip("0")  # "1.50" -> "1.5", "2.00" -> "2."
            if t.endswith(".") and ch.chance(50):
                t = t[:-1]
        if ch.chance(20):
            t += ("" if "." in t else ".") + "0" * ch.int(1, 20)
        if t.startswith(("0.", "-0.")) and ch.chance(30):
            t = t.replace("0.", ".", 1)
        return pad(ch, t)
    if k <= 4:
        v = ch.pick([lo, hi, lo + 1, hi - 1, 0])
        return pad(ch, fmt_scaled(v, scale))
    if k <= 6:
        v = ch.int(-(10**6), 10**6)
        t = fmt_scaled(v, scale)
        if rnd or not valid:
            t += ("" if "." in t else ".") + ch.pick(
                ["5", "50", "500001", "4999", _digits(ch, 1, 25)]
            )
        return pad(ch, t)
    if k == 7:
        return pad(ch, ch.pick(["", "-", "+"]) + _digits(ch, 1, 22) + "." + _digits(ch, 0, 22))
    if k == 8:
        v = ch.pick([lo - 1, hi + 1, 10**25])
        return fmt_scaled(v, scale)
    return ch.pick(DECIMAL_JUNK)


def g_bool(ch: Chooser, valid: bool) -> str:
    if valid or ch.chance(70):
        w = ch.pick(BOOL_WORDS)
        return pad(ch, "".join(c.upper() if ch.chance(40) else c for c in w))
    return ch.pick(BOOL_JUNK)


def _ymd(ch: Chooser, valid: bool, ylo: int = 1, yhi: int = 9999) -> tuple[int, int, int]:
    y = ch.pick(
        [
            ch.int(ylo, yhi),
            ch.int(max(ylo, 1890), min(yhi, 2110)),
            ch.pick([max(ylo, 2000), 2024, 2023]),
        ]
    )
    m = ch.int(1, 12)
    d = ch.int(1, 28) if valid and ch.chance(70) else ch.int(1, 31)
    if not valid and ch.chance(20):
        m, d = ch.pick([(2, 29), (2, 30), (0, 1), (13, 1), (1, 0), (1, 32), (4, 31)])
    if ch.chance(10):
        m, d = 2, 29
    return y, m, d


def g_date(ch: Chooser, fmt: str | None, valid: bool) -> str:
    if not valid and ch.chance(20):
        return ch.pick(DATE_JUNK)
    y, m, d = _ymd(ch, valid)
    if fmt is None:
        return pad(ch, f"{y:04d}-{m:02d}-{d:02d}")
    ds = str(d) if ch.chance(50) else f"{d:02d}"
    ms = str(m) if ch.chance(50) else f"{m:02d}"
    return pad(ch, f"{ds}/{ms}/{y:04d}")


def g_datetime(ch: Chooser, unit: str, valid: bool) -> str:
    if not valid and ch.chance(10):
        return ch.pick(
            DATE_JUNK
            + ["2024-01-02T", "2024-01-02  03:04", "2024-01-02T3:04", "2024-01-02T03:04:05."]
        )
    ylo, yhi = (1678, 2261) if unit == "ns" else (1000, 9998)
    y, m, d = _ymd(ch, valid, ylo, yhi)
    t = f"{y:04d}-{m:02d}-{d:02d}"
    if ch.chance(85):
        hh = ch.int(0, 23) if valid or ch.chance(80) else ch.int(25, 29)
        mm = ch.int(0, 59) if valid or ch.chance(80) else ch.int(60, 99)
        t += ch.pick("T ") + f"{hh:02d}:{mm:02d}"
        if ch.chance(70):
            ss = ch.int(0, 59) if valid or ch.chance(80) else ch.int(61, 99)
            t += f":{ss:02d}"
            if ch.chance(60):
                n = ch.int(1, 9)
                per_digits = {"s": 0, "ms": 3, "us": 6, "ns": 9}[unit]
                frac = _digits(ch, n, n)
                if valid and n > per_digits:
                    frac = frac[:per_digits] + "0" * (n - per_digits)
                t += "." + frac
        if ch.chance(50):
            oh, om = ch.int(0, 14), ch.pick([0, 30, 45])
            sign = ch.pick("+-")
            t += ch.pick(
                ["Z", f"{sign}{oh:02d}:{om:02d}", f"{sign}{oh:02d}{om:02d}", f"{sign}{oh:02d}"]
            )
    return pad(ch, t)


def g_str(ch: Chooser, width: int, truncate: bool, valid: bool) -> str:
    alphabet = STR_ALPHABET + ([] if valid else BAD_UTF8)
    max_size = width + (3 if (truncate or not valid) else 0)
    t = ch.text(alphabet, max_size)
    if valid and not truncate:
        while len(t.encode("utf-8")) > width:
            t = t[:-1]
    return t


@dataclass
class Ctx:
    delim: str
    quote: str | None
    null_values: tuple[str, ...]


def g_cell(ch: Chooser, col: dict, ctx: Ctx, valid: bool) -> str:
    text = _g_text(ch, col, ctx, valid)
    if ctx.quote is None:  # no way to write these without quoting
        for c in (ctx.delim, "\r", "\n"):
            text = text.replace(c, "")
    return text


def _g_text(ch: Chooser, col: dict, ctx: Ctx, valid: bool) -> str:
    if col.get("flag_bool"):  # read only to feed a flag bit: parsed as a bool
        if valid or ch.chance(70):
            return g_bool(ch, True)
        return ch.pick(BOOL_JUNK + list(ctx.null_values))
    t = col["type"]
    verbatim = t in ("str", "category")
    fixed_cat = t == "category" and "values" in col
    if ch.chance(10) and not (fixed_cat and not col.get("nullable")):
        if col.get("nullable") or verbatim or not valid:
            tok = ch.pick(ctx.null_values)
            return tok if verbatim else pad(ch, tok)
    if t in INT_RANGES:
        text = g_int(ch, t, valid)
    elif t in ("float32", "float64"):
        text = g_float(ch, t, valid)
    elif t == "decimal":
        text = g_decimal(ch, col["scale"], col.get("round", False), valid)
    elif t == "bool":
        text = g_bool(ch, valid)
    elif t == "date":
        text = g_date(ch, col.get("format"), valid)
    elif t == "datetime":
        text = g_datetime(ch, col.get("unit", "us"), valid)
    elif t == "str":
        text = g_str(ch, col["width"], col.get("truncate", False), valid)
    elif t == "category":
        pool = col["values"] if fixed_cat and (valid or ch.chance(70)) else CAT_POOL
        if fixed_cat and not col.get("nullable"):
            pool = [v for v in pool if v not in ctx.null_values] or ["a"]
        text = ch.pick(pool)
    else:  # skip: anything but invalid UTF-8
        text = ch.text(STR_ALPHABET, 6)
    return text


# -- schemas and files ---------------------------------------------------------------------

TYPES = [
    *INT_RANGES,
    "float32",
    "float64",
    "decimal",
    "bool",
    "date",
    "datetime",
    "str",
    "category",
    "skip",
]
NAMES = ["id", "preço", "valor", "a", "b_2", "data", "nome", "cat", "x", "Ω"]
NULL_SETS = [("",), ("",), ("", "NA"), ("NULL",), ("", "null", "N/A")]


def g_column(ch: Chooser, name: str, types=TYPES) -> dict:
    t = ch.pick(types)
    col: dict = {"name": name, "type": t}
    if t != "skip" and ch.chance(30):
        col["nullable"] = True
    if t == "decimal":
        col["scale"] = ch.pick([0, 1, 2, 2, 4, 9, 18])
        if ch.chance(30):
            col["round"] = True
    elif t == "date" and ch.chance(30):
        col["format"] = "%d/%m/%Y"
    elif t == "datetime":
        u = ch.pick(["us", "us", "s", "ms", "ns"])
        if u != "us":
            col["unit"] = u
    elif t == "str":
        col["width"] = ch.int(1, 12)
        if ch.chance(30):
            col["truncate"] = True
    elif t == "category":
        if ch.chance(30):
            vals = [v for v in CAT_POOL if ch.chance(40)] or ["a"]
            col["values"] = vals
        elif ch.chance(30):
            col["max_values"] = ch.int(1, 4)
    return col


@dataclass
class Raw:
    """A field written as is (to break the structure on purpose)."""

    text: str


def serialize(ch: Chooser, header: list[str] | None, rows: list[list], ctx: Ctx) -> bytes:
    style = ch.pick(["\n", "\r\n", "\r", "mixed"])

    def eol() -> str:
        return ch.pick(["\n", "\r\n", "\r"]) if style == "mixed" else style

    def cell(t) -> str:
        if isinstance(t, Raw):
            return t.text
        return csv_cell(t, ctx.delim, ctx.quote, force=ctx.quote is not None and ch.chance(15))

    out = [eol()] if ch.chance(10) else []
    if header is not None:
        out.append(ctx.delim.join(cell(n) for n in header) + eol())
    final = ch.chance(80)
    for r, row in enumerate(rows):
        if ch.chance(8):
            out.append(eol() * ch.int(1, 2))  # blank line(s)
        out.append(ctx.delim.join(cell(t) for t in row))
        if r < len(rows) - 1 or final:
            out.append(eol())
    text = "".join(out)
    data = text.encode("utf-8", "surrogateescape")
    return (b"\xef\xbb\xbf" + data) if ch.chance(15) else data


@dataclass
class Case:
    cols: list[dict]  # column specs in schema order (with the generator's own marks)
    schema: Schema
    header: list[str] | None  # names in file order, or None
    order: list[int]  # file position -> schema column index
    rows: list[list]  # in file order
    ctx: Ctx


def g_case(
    ch: Chooser, max_cols=5, max_rows=8, min_rows=0, types=TYPES, valid=None, with_flags=True
) -> Case:
    delim = ch.pick([",", ",", ";", "\t", "|"])
    quote = ch.pick(['"', '"', '"', "'", None])
    has_header = ch.chance(80)
    nulls = ch.pick(NULL_SETS)
    ncols = ch.int(1, max_cols)
    names: list[str] = []
    while len(names) < ncols:
        n = ch.pick(NAMES)
        names.append(n if n not in names else f"{n}{len(names)}")
    cols = [g_column(ch, n, types) for n in names]
    if all(c["type"] == "skip" for c in cols):
        cols[0] = {"name": names[0], "type": "int32"}
    flags = []
    if with_flags and ch.chance(30):
        bits = []
        for b in range(ch.int(1, 10)):
            if ch.chance(50):  # equals: compares the field's text, never fails
                src = ch.pick(names)
                bits.append({"name": f"eq{b}", "column": src, "equals": ch.pick(EQUALS_POOL)})
            else:  # a column read only for this bit, parsed as a bool
                name = f"flag{b}"
                cols.append({"name": name, "type": "skip", "flag_bool": True})
                names.append(name)
                bits.append({"name": f"is{b}", "column": name})
        fl: dict = {"name": "flags", "bits": bits}
        if ch.chance(40):
            fl["type"] = ch.pick(
                [t for t, w in (("uint8", 8), ("uint16", 16), ("uint32", 32)) if w >= len(bits)]
            )
        flags.append(fl)
    ncols = len(cols)
    schema = Schema.from_dict(
        {
            "dialect": {
                "delimiter": delim,
                "quote": quote,
                "header": has_header,
                "null_values": list(nulls),
            },
            "columns": [{k: v for k, v in c.items() if k != "flag_bool"} for c in cols],
            "flags": flags,
        }  # fmt: skip
    )
    order = list(range(ncols))
    if has_header and ch.chance(30):  # the header binds by name: any order
        order = sorted(order, key=lambda _: ch.int(0, 1000))
    ctx = Ctx(delim, quote, nulls)
    all_valid = ch.chance(50) if valid is None else valid
    rows = []
    for _ in range(ch.int(min_rows, max_rows)):
        rows.append([g_cell(ch, cols[i], ctx, all_valid) for i in order])
    header = [names[i] for i in order] if has_header else None
    return Case(cols, schema, header, order, rows, ctx)


def _describe(case: Case, data: bytes) -> None:
    note(f"schema = {case.schema.to_json(indent=None)}")
    note(f"data = {data!r}")


# -- the properties ------------------------------------------------------------------------


@st.composite
def files(draw, **kw):
    ch = Draw(draw)
    case = g_case(ch, **kw)
    return case, serialize(ch, case.header, case.rows, case.ctx)


@settings(max_examples=N(300), **SETTINGS)
@given(files())
def test_random_files_match_reference(cf):
    case, data = cf
    _describe(case, data)
    compare_with_reference(data, case.schema)


@settings(max_examples=N(120), **SETTINGS)
@given(files(valid=True, min_rows=1, max_rows=6))
def test_valid_files_match_reference(cf):
    case, data = cf
    _describe(case, data)
    out = compare_with_reference(data, case.schema)
    note(out.describe())


FAMILIES = {
    "ints": list(INT_RANGES),
    "floats": ["float32", "float64"],
    "decimals": ["decimal"],
    "dates": ["date", "datetime"],
    "text": ["str", "category", "bool"],
}


def _family_test(family: str, n: int):
    @settings(max_examples=N(n), **SETTINGS)
    @given(files(types=FAMILIES[family], max_cols=3, max_rows=12))
    def test(cf):
        case, data = cf
        _describe(case, data)
        compare_with_reference(data, case.schema)

    test.__name__ = f"test_{family}_match_reference"
    return test


test_ints_match_reference = _family_test("ints", 150)
test_floats_match_reference = _family_test("floats", 200)
test_decimals_match_reference = _family_test("decimals", 150)
test_dates_match_reference = _family_test("dates", 150)
test_text_match_reference = _family_test("text", 150)


@st.composite
def broken_files(draw):
    """A file whose row k is broken on purpose (its cells are otherwise valid)."""
    ch = Draw(draw)
    case = g_case(ch, max_rows=6, min_rows=1, valid=True)
    rows = case.rows
    k = ch.int(0, len(rows) - 1)
    # rows before k may carry value errors: the first error in the file wins
    for r in range(k):
        if ch.chance(20):
            rows[r] = [g_cell(ch, case.cols[i], case.ctx, False) for i in case.order]
    earlier_ok = reference_outcome(
        serialize(Rand(0), case.header, rows[:k], case.ctx), case.schema
    ).ok
    upto_ok = reference_outcome(
        serialize(Rand(0), case.header, rows[: k + 1], case.ctx), case.schema
    ).ok
    assume(upto_ok or not earlier_ok)  # row k itself holds no value error: no ambiguity
    q = case.ctx.quote or '"'
    how = ch.pick(["missing", "extra", "after_quote", "unterminated", "spaces_line"])
    row = list(rows[k])
    if how == "missing":
        row.pop(ch.int(0, len(row) - 1))
    elif how == "extra":
        row.insert(ch.int(0, len(row)), ch.pick(["", "1", "x"]))
    elif how == "after_quote":
        i = ch.int(0, len(row) - 1)
        junk = ch.pick(["x", " ", "é", "0"])
        row[i] = Raw(q + str(row[i]).replace(q, q + q) + q + junk)
    elif how == "unterminated":
        rows = rows[: k + 1]
        row[-1] = Raw(q + str(row[-1]).replace(q, q + q))
    else:
        row = [" "]
    rows[k] = row
    return case, serialize(ch, case.header, rows, case.ctx)


@settings(max_examples=N(200), **SETTINGS)
@given(broken_files())
def test_broken_files_match_reference(cf):
    case, data = cf
    _describe(case, data)
    compare_with_reference(data, case.schema)


@settings(max_examples=N(10), **SETTINGS)
@given(seed=st.integers(0, 2**32 - 1), valid=st.sampled_from([True, True, True, False]))
def test_long_files_match_reference(seed, valid):
    """Hundreds of rows, so that rows and quoted line breaks straddle every block size."""
    print(f"seed={seed} valid={valid}")
    ch = Rand(seed)
    case = g_case(ch, max_cols=6, min_rows=300, max_rows=600, valid=valid)
    data = serialize(ch, case.header, case.rows, case.ctx)
    _describe(case, data[:2000])
    compare_with_reference(data, case.schema, block_sizes=(None, 1, 5, 64, 1000, 4096))
