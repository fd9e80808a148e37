"""The shapes of CSV file that ``compare.py --shape`` measures, and how to generate them.

Each shape is a deterministic generator (``seed`` in, the same bytes out for one numpy
version: the draws use ``numpy.random.default_rng``) sized by a byte target, plus a typed
column list from which ``compare.py`` builds every reader's "with a schema" options.
``orders`` is the demo file (``fastetl.demo``) and keeps its hand-written options in
``compare.py``; its columns are not listed here.

Column kinds (what every reader gets "with a schema"; ``compare.py`` NOTES say it per tool):

    int64 / int16   integers
    float64         binary floats
    money           2 decimals: fastetl decimal(scale 2), pyarrow decimal128(12,2), polars
                    Decimal(12,2), duckdb DECIMAL(12,2); pandas and numpy float64
    datetime        ``YYYY-MM-DD HH:MM:SS``: fastetl datetime, pyarrow timestamp[s], polars
                    Datetime, duckdb TIMESTAMP, pandas parse_dates + date_format
    category        a fixed, known vocabulary: fastetl category(values), pyarrow
                    dictionary<int32,string>, polars Enum, duckdb ENUM, pandas CategoricalDtype
    str             text of at most ``width`` UTF-8 bytes: fastetl str(width), the others
                    their string type
    text            free text of any length: fastetl text (out of line), the others their
                    string type
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Col:
    name: str
    kind: str  # int64 int16 float64 money datetime category str text
    values: tuple[str, ...] = ()  # category
    width: int = 0  # str


@dataclass(frozen=True)
class Shape:
    name: str
    description: str
    columns: tuple[Col, ...]  # empty for orders (its options are written out in compare.py)
    chunk: Callable[[np.random.Generator, int], str] | None  # rows -> CSV text (no header)
    check: tuple[str, ...]  # columns compared with pandas
    numeric: bool = False  # numpy.loadtxt applies
    header: str = field(default="")


SHAPE_ORDER = ("savetxt", "short-floats", "ints", "taxi", "text", "wide", "orders")
GENERATOR_VERSION = 1  # part of the cached file names: bump it when a generator changes
CHUNK_ROWS = 20_000


# ------------------------------------------------------------------------------------------
# Generators: each returns the CSV lines of ``n`` rows, every line ending in "\n".
# ------------------------------------------------------------------------------------------
def _savetxt_rows(rng: np.random.Generator, n: int) -> str:
    values = rng.standard_normal((n, 8)) * 10.0 ** rng.integers(-3, 6, size=(n, 8))
    buf = io.StringIO()
    np.savetxt(buf, values, fmt="%.18e", delimiter=",")
    return buf.getvalue()


def _short_float_rows(rng: np.random.Generator, n: int) -> str:
    values = np.round(rng.uniform(-1000.0, 1000.0, size=(n, 8)), 3)
    buf = io.StringIO()
    np.savetxt(buf, values, fmt="%.3f", delimiter=",")
    return buf.getvalue()


def _int_rows(rng: np.random.Generator, n: int) -> str:
    # column k spans about 10**(k+1): from 2-digit codes to 9-digit ids, some negative
    highs = np.array([10 ** (k + 1) for k in range(8)], dtype=np.int64)
    values = rng.integers(0, highs, size=(n, 8), dtype=np.int64)
    values[:, 3] -= highs[3] // 2
    buf = io.StringIO()
    np.savetxt(buf, values, fmt="%d", delimiter=",")
    return buf.getvalue()


PAYMENT_TYPES = ("credit_card", "cash", "no_charge", "dispute", "unknown")
BOROUGHS = ("Manhattan", "Brooklyn", "Queens", "Bronx", "Staten Island", "EWR", "Unknown")
_T0 = np.datetime64("2024-01-01T00:00:00", "s")


def _cents(c: np.ndarray) -> list[str]:
    return [f"{v // 100}.{v % 100:02d}" for v in c.tolist()]


def _taxi_rows(rng: np.random.Generator, n: int) -> str:
    vendor = rng.integers(1, 3, size=n).tolist()
    start = _T0 + rng.integers(0, 366 * 86400, size=n).astype("timedelta64[s]")
    dur = rng.integers(60, 3600, size=n).astype("timedelta64[s]")
    pick = [s.replace("T", " ") for s in np.datetime_as_string(start, unit="s").tolist()]
    drop = [s.replace("T", " ") for s in np.datetime_as_string(start + dur, unit="s").tolist()]
    pax = rng.integers(0, 7, size=n).tolist()
    dist = _cents(rng.integers(10, 3000, size=n))
    flag = np.array(["N", "Y"])[(rng.integers(0, 100, size=n) < 2).astype(int)].tolist()
    pay = np.array(PAYMENT_TYPES)[rng.integers(0, len(PAYMENT_TYPES), size=n)].tolist()
    zone = np.array(BOROUGHS)[rng.integers(0, len(BOROUGHS), size=n)].tolist()
    fare_c = rng.integers(300, 9000, size=n)
    tip_c = rng.integers(0, 2000, size=n)
    fare, tip, total = _cents(fare_c), _cents(tip_c), _cents(fare_c + tip_c + 150)
    lines = [
        f"{vendor[i]},{pick[i]},{drop[i]},{pax[i]},{dist[i]},{flag[i]},{pay[i]},"
        f"{zone[i]},{fare[i]},{tip[i]},{total[i]}\n"
        for i in range(n)
    ]
    return "".join(lines)


_WORDS = (
    "the quick brown fox jumps over lazy dog data pipeline fast slow record field value "
    "order customer price delivered late early great terrible product would again never "
    "recommend this to anyone café açaí não é muito bom ótimo entrega rápida"
).split()
_QUOTES = ('"great"', '"meh"', 'a "so-called" deal', '"fast", they said')
_AUTHORS_FIRST = ("Ana", "João", "Maria", "Pedro", "Luíza", "Carlos", "Beatriz", "Rafael")
_AUTHORS_LAST = ("Silva", "Souza", "Oliveira", "Pereira", "Lima", "Gonçalves", "Araújo")
TEXT_MAX_WORDS = 40


def _csv_field(text: str) -> str:
    if any(c in text for c in ',"\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def _text_rows(rng: np.random.Generator, n: int, first_id: int) -> str:
    words = np.array(_WORDS, dtype=object)
    counts = rng.integers(3, TEXT_MAX_WORDS + 1, size=n)
    picks = rng.integers(0, len(_WORDS), size=int(counts.sum()))
    comma = rng.integers(0, 100, size=n) < 40  # an embedded comma
    quote = rng.integers(0, 100, size=n) < 15  # a quoted phrase ("" in the file)
    qpick = rng.integers(0, len(_QUOTES), size=n)
    first = rng.integers(0, len(_AUTHORS_FIRST), size=n)
    last = rng.integers(0, len(_AUTHORS_LAST), size=n)
    out = []
    pos = 0
    for i in range(n):
        k = int(counts[i])
        ws = words[picks[pos : pos + k]].tolist()
        pos += k
        if comma[i]:
            ws[k // 2] += ","
        if quote[i]:
            ws[-1] = _QUOTES[qpick[i]]
        text = " ".join(ws)
        author = f"{_AUTHORS_FIRST[first[i]]} {_AUTHORS_LAST[last[i]]}"
        out.append(f"{first_id + i},{author},{_csv_field(text)}\n")
    return "".join(out)


WIDE_COLS = 200


def _wide_rows(rng: np.random.Generator, n: int) -> str:
    # even columns: integers of 1 to 7 digits; odd columns: floats with 2 decimals
    half = WIDE_COLS // 2
    ints = rng.integers(0, 10 ** (1 + np.arange(half) % 7), size=(n, half), dtype=np.int64)
    floats = np.round(rng.uniform(-100.0, 100.0, size=(n, half)), 2)
    values = np.empty((n, WIDE_COLS))  # the ints are below 2**53: exact as float64
    values[:, 0::2] = ints
    values[:, 1::2] = floats
    buf = io.StringIO()
    np.savetxt(buf, values, fmt=["%d", "%.2f"] * half, delimiter=",")
    return buf.getvalue()


def _cols(prefix: str, n: int, kind: str) -> tuple[Col, ...]:
    return tuple(Col(f"{prefix}{k}", kind) for k in range(n))


SHAPES: dict[str, Shape] = {
    "savetxt": Shape(
        "savetxt",
        "`numpy.savetxt` of float64 (`%.18e`), 8 columns `c0..c7`, normal × 10^-3..10^5",
        _cols("c", 8, "float64"),
        _savetxt_rows,
        ("c0", "c3", "c7"),
        numeric=True,
    ),
    "short-floats": Shape(
        "short-floats",
        "8 float columns `f0..f7` with 3 decimals (`-999.123`), uniform ±1000",
        _cols("f", 8, "float64"),
        _short_float_rows,
        ("f0", "f3", "f7"),
        numeric=True,
    ),
    "ints": Shape(
        "ints",
        "8 int64 columns `i0..i7`, column k up to k+1 digits (i3 signed)",
        _cols("i", 8, "int64"),
        _int_rows,
        ("i0", "i3", "i7"),
        numeric=True,
    ),
    "taxi": Shape(
        "taxi",
        "NYC-taxi-like trips: vendor_id, 2 timestamps `YYYY-MM-DD HH:MM:SS`, passenger_count, "
        "trip_distance (2 decimals), 3 low-cardinality categories (Y/N flag, 5 payment types, "
        "7 boroughs), fare/tip/total money with 2 decimals",
        (
            Col("vendor_id", "int16"),
            Col("pickup_datetime", "datetime"),
            Col("dropoff_datetime", "datetime"),
            Col("passenger_count", "int16"),
            Col("trip_distance", "float64"),
            Col("store_and_fwd_flag", "category", values=("N", "Y")),
            Col("payment_type", "category", values=PAYMENT_TYPES),
            Col("pickup_borough", "category", values=BOROUGHS),
            Col("fare_amount", "money"),
            Col("tip_amount", "money"),
            Col("total_amount", "money"),
        ),
        _taxi_rows,
        ("pickup_datetime", "passenger_count", "payment_type", "total_amount"),
    ),
    "text": Shape(
        "text",
        "reviews: id, author (accents), free text of 3-40 words with embedded commas (40 %) "
        "and quoted phrases written with doubled quotes (15 %)",
        (
            Col("id", "int64"),
            Col("author", "str", width=32),
            Col("text", "text"),
        ),
        None,  # needs the running id: see chunk_text below
        ("id", "author", "text"),
    ),
    "wide": Shape(
        "wide",
        f"{WIDE_COLS} columns `c0..c{WIDE_COLS - 1}`: even ones int64 (1-7 digits), odd ones "
        "float64 with 2 decimals",
        tuple(
            Col(f"c{k}", "int64" if k % 2 == 0 else "float64") for k in range(WIDE_COLS)
        ),
        _wide_rows,
        ("c0", "c1", "c101", f"c{WIDE_COLS - 1}"),
        numeric=True,
    ),
    "orders": Shape(
        "orders",
        "the demo e-commerce orders (`fastetl.demo.generate_orders`, 20 columns, demo schema)",
        (),
        None,
        ("pedido_id", "data_pedido", "cliente_nome", "preco", "categoria", "is_prime",
         "avaliacao"),
    ),  # fmt: skip
}
assert tuple(SHAPES) == SHAPE_ORDER


def write_shape(shape: str, path: Path, target_bytes: int, seed: int) -> int:
    """Write the CSV of ``shape`` (not orders) with about ``target_bytes``; return its rows.

    Rows are whole: the file stops at the first row that reaches the target (at least one
    row).  The same (shape, target, seed) gives the same bytes.
    """
    sh = SHAPES[shape]
    rng = np.random.default_rng([seed, SHAPE_ORDER.index(shape)])
    header = ",".join(c.name for c in sh.columns) + "\n"
    rows = 0
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write(header)
        size = len(header.encode())
        while size < target_bytes:
            if shape == "text":
                text = _text_rows(rng, CHUNK_ROWS, rows + 1)
            else:
                text = sh.chunk(rng, CHUNK_ROWS)
            data = text.encode()
            if size + len(data) > target_bytes:  # cut after the row that reaches the target
                cut = data.index(b"\n", target_bytes - size - 1) + 1
                data = data[:cut]
            fh.write(data.decode())
            rows += data.count(b"\n")
            size += len(data)
        fh.flush()
        os.fsync(fh.fileno())
    return rows


def fastetl_schema(shape: str) -> dict:
    """The schema fastetl gets "with a schema" (orders: the demo schema, not here)."""
    cols = []
    for c in SHAPES[shape].columns:
        d: dict = {"name": c.name}
        if c.kind == "money":
            d.update(type="decimal", scale=2)
        elif c.kind == "category":
            d.update(type="category", values=list(c.values))
        elif c.kind == "str":
            d.update(type="str", width=c.width)
        elif c.kind == "text":
            d.update(type="text")
        else:
            d["type"] = c.kind
        cols.append(d)
    return {
        "dialect": {"delimiter": ",", "quote": '"', "header": True, "encoding": "utf-8"},
        "columns": cols,
    }
