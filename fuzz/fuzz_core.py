"""Atheris fuzz target for fastetl's compiled core and the pipeline around it.

Each fuzz input is read as a little program: its first bytes choose a schema
(every column type, nullable or not, null tokens, flags), a dialect, two block
sizes and a worker count; the rest becomes CSV text, either built row by row
from a vocabulary of valid, edge and invalid values (quoted or not, short and
long rows, every line ending) or taken raw from the input.

Oracles, checked on every input:

* only fastetl's own errors (``fastetl.errors.FastETLError`` subclasses) may
  escape ``fastetl.read_csv``; anything else is a finding;
* the outcome is the same for every way of reading the same bytes: one
  thread and several, two block sizes, in-memory buffer and stream --
  identical record bytes, or the same error type and message;
* the records never outnumber the input's lines;
* ``_core.Parser.parse`` run directly over the data rows, a few rows per call,
  gives the same records as ``read_csv`` (or stops at the same row when
  ``read_csv`` reports a bad row), never reports more rows than fit, and always
  moves forward.

Run it with ``scripts/fuzz.sh [SECONDS]`` (see docs/RELIABILITY-TESTING.md), or
directly: ``python fuzz/fuzz_core.py fuzz/corpus -max_total_time=60``.  A file
argument replays one input.  ``check(data)`` is plain Python and is also run
over the seed corpus by the test suite (tests/test_fuzz_target.py).
"""

from __future__ import annotations

import io
import sys
from typing import Any

try:  # atheris only when fuzzing; check() runs without it
    import atheris
except ImportError:  # pragma: no cover - depends on the environment
    atheris = None

if atheris is not None and __name__ == "__main__" and "--describe" not in sys.argv:
    # Python-level coverage of fastetl's own modules (pipeline, schema, layout,
    # sources, store); the compiled core gets native coverage only when it was
    # built with clang -fsanitize=fuzzer-no-link (scripts/fuzz.sh does that when
    # it finds clang).
    with atheris.instrument_imports(include=["fastetl"]):
        import fastetl
        from fastetl import _core
        from fastetl.errors import FastETLError, ParseError
        from fastetl.layout import make_parser
        from fastetl.schema import Column, Dialect, FlagBit, Flags, Schema
        from fastetl.sources import check_encoding_prefix
else:
    import fastetl
    from fastetl import _core
    from fastetl.errors import FastETLError, ParseError
    from fastetl.layout import make_parser
    from fastetl.schema import Column, Dialect, FlagBit, Flags, Schema
    from fastetl.sources import check_encoding_prefix

MAX_INPUT = 4096  # larger inputs are cut: small inputs keep executions fast


class Finding(AssertionError):
    """An oracle failed: a real bug (or a wrong oracle) to look at."""


class Reader:
    """Deterministic choices from the fuzz bytes; zeros once they run out."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def byte(self) -> int:
        if self.pos >= len(self.data):
            return 0
        b = self.data[self.pos]
        self.pos += 1
        return b

    def int(self, lo: int, hi: int) -> int:
        span = hi - lo + 1
        v = self.byte()
        if span > 256:
            v = v << 8 | self.byte()
        return lo + v % span

    def bool(self) -> bool:
        return self.byte() & 1 == 1

    def pick(self, seq: Any) -> Any:
        return seq[self.int(0, len(seq) - 1)]

    def take(self, n: int) -> bytes:
        out = self.data[self.pos : self.pos + n]
        self.pos += len(out)
        return out

    def rest(self) -> bytes:
        out = self.data[self.pos :]
        self.pos = len(self.data)
        return out


INTS = (
    "0", "-0", "+5", "7", " 42 ", "\t-3", "127", "128", "-128", "-129", "255", "256", "-1",
    "32767", "32768", "65535", "65536", "2147483647", "2147483648", "-2147483649",
    "4294967295", "4294967296", "9223372036854775807", "9223372036854775808",
    "-9223372036854775808", "-9223372036854775809", "18446744073709551615",
    "18446744073709551616", "000000000000000000000000012", "1e3", "0x10", "1_000", "1.0",
    "--1", "+", "-", "abc", "",
)  # fmt: skip
FLOATS = (
    "0", "-0.0", "1.5", ".5", "5.", "1e308", "1e309", "-1e309", "4.9e-324", "1e-400",
    "3.4028234663852886e38", "3.5e38", "nan", "NaN", "-nan", "inf", "-Infinity", "infinity",
    "0x1p3", "1_0", "1e", "e5", ".", "+.5e-3", " 2.5 ", "0." + "1" * 40, "9" * 400,
    "2.2250738585072011e-308", "1e+", "", "x",
)  # fmt: skip
DECIMALS = (
    "0", "1.23", "-0.005", ".5", "5.", "+1.10", "1.125", "1.135", "-2.5", "0.000000000000000001",
    "92233720368547758.07", "92233720368547758.08", "9223372036854775807",
    "-9223372036854775808", "99999999999999999999", "1e2", ".", "-", "1.2.3", " 3.14 ", "",
)  # fmt: skip
DATES = (
    "2023-02-28", "2023-02-29", "2024-02-29", "1900-02-29", "2000-02-29", "2023-02-30",
    "2023-04-31", "0001-01-01", "0000-01-01", "9999-12-31", "10000-01-01", "2023-1-5",
    "2023-13-01", "2023-00-10", " 2023-02-28 ", "28/02/2023", "5/1/2023", "20230228",
    "02-28-2023", "2023/02/28", "", "x",
)  # fmt: skip
DATETIMES = (
    "2023-02-28T12:34:56", "2023-02-28 12:34", "2023-02-28", "2023-02-28T12:34:56.5",
    "2023-02-28T12:34:56.123456", "2023-02-28T12:34:56.123456789", "2023-02-28T12:34:56.1000",
    "2023-02-28T24:00:00", "2023-02-28T23:59:60", "2023-02-28T12:34:56Z",
    "2023-02-28T12:34:56+01:00", "2023-02-28T12:34:56-0330", "2023-02-28T00:30:00+14",
    "0001-01-01T00:00:00-01:00", "9999-12-31T23:59:59.999999999", "1677-09-21T00:12:43.145224192",
    "1677-09-21T00:12:43.145224191", "2262-04-11T23:47:16.854775807", "2262-04-12T00:00:00",
    "28/02/2023 12:34:56.5", "28/02/2023 12:34:56", "2023-02-28 12:34:56",
    "20230228T123456+0100", "20230228T123456Z", "2023-02-28T", "", "x",
)  # fmt: skip
BOOLS = ("true", "false", "True", "FALSE", "1", "0", "t", "f", "yes", "no", "2", " true ", "", "x")
TEXTS = (
    "", "a", "red", "green", "blue", "pix", "héllo", "日本語", "x" * 40, "a,b", 'say "hi"',
    "it's", "line\nbreak", "cr\rhere", " pad ", "NA", "NULL", "-", "\\N", "é" * 9,
)  # fmt: skip
RAW = (b"\xff", b"\xc3", b"\xe6\x97", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\x00", b"\xc0\xaf")
INT_NAMES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")
TYPES = (*INT_NAMES, "float32", "float64", "decimal", "date", "datetime", "str", "category",
         "bool", "skip")  # fmt: skip
DATE_FORMATS = (None, "iso", "%d/%m/%Y", "%Y%m%d", "%m-%d-%Y")
DATETIME_FORMATS = (None, "iso", "%d/%m/%Y %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S", "%Y%m%dT%H%M%S%z",
                    "%d/%m/%Y %H:%M:%S")  # fmt: skip
NULL_SETS = (("",), ("", "NA"), ("NULL", "-", "\\N"), (), ("NA",))


def _vocab(col: Column | None) -> tuple[str, ...]:
    if col is None:
        return BOOLS
    t = col.type
    if t in INT_NAMES:
        return INTS
    if t in ("float32", "float64"):
        return FLOATS
    if t == "decimal":
        return DECIMALS
    if t == "date":
        return DATES
    if t == "datetime":
        return DATETIMES
    if t == "bool":
        return BOOLS
    return TEXTS


def _column(r: Reader, name: str) -> Column:
    t = r.pick(TYPES)
    nullable = t != "skip" and r.bool()
    kw: dict[str, Any] = {}
    if t == "decimal":
        kw["scale"] = r.int(0, 18)
        kw["round"] = r.bool()
    elif t == "date":
        kw["format"] = r.pick(DATE_FORMATS)
    elif t == "datetime":
        kw["format"] = r.pick(DATETIME_FORMATS)
        kw["unit"] = r.pick((None, "s", "ms", "us", "ns"))
    elif t == "str":
        kw["width"] = r.int(1, 12)
        kw["truncate"] = r.bool()
    elif t == "category":
        how = r.int(0, 2)
        if how == 0:  # fixed dictionary
            kw["values"] = tuple(dict.fromkeys(r.pick(TEXTS) for _ in range(r.int(1, 4))))
        elif how == 1:  # learned, with a small limit that a few rows can exceed
            kw["max_values"] = r.int(1, 4)
    return Column(name=name, type=t, nullable=nullable, **kw)


def _schema(r: Reader) -> tuple[Schema, list[str], list[Column | None]]:
    """The schema, the header names in file order, and each field's column (None: flag-only)."""
    ncols = r.int(1, 5)
    cols = [_column(r, f"c{i}") for i in range(ncols)]
    header = r.bool()
    names = [c.name for c in cols]
    fields: list[Column | None] = list(cols)
    flags: tuple[Flags, ...] = ()
    if r.int(0, 2) == 0:
        bits = []
        for k in range(r.int(1, 3)):
            if header and r.int(0, 3) == 0 and "src" not in names:
                names.insert(r.int(0, len(names)), "src")  # read for the flag only
                fields.insert(names.index("src"), None)
                bits.append(FlagBit(name=f"b{k}", column="src"))
            else:
                src = r.pick(cols)
                equals = r.pick(TEXTS + BOOLS) if src.type != "bool" or r.bool() else None
                bits.append(FlagBit(name=f"b{k}", column=src.name, equals=equals))
        flags = (Flags(name="flags", type=r.pick(("uint8", "uint16", "uint64")), bits=tuple(bits)),)
    delimiter = r.pick((",", ";", "\t", "|", " ", "a"))
    quote = r.pick(('"', "'", None, '"'))
    dialect = Dialect(
        delimiter=delimiter,
        quote=quote if quote != delimiter else None,
        header=header,
        null_values=r.pick(NULL_SETS),
    )
    return Schema(columns=tuple(cols), flags=flags, dialect=dialect), names, fields


def _field_bytes(r: Reader, col: Column | None, d: Dialect) -> bytes:
    how = r.int(0, 15)
    if how == 0:
        raw = r.take(r.int(0, 6))
    elif how == 1:
        raw = r.pick(RAW) + r.pick(TEXTS).encode()
    else:
        raw = r.pick(_vocab(col)).encode()
    q = d.quote.encode() if d.quote else b""
    if q and (r.int(0, 3) == 0 or any(c in raw for c in (d.delimiter.encode(), b"\n", b"\r", q))):
        if r.int(0, 15) != 0:  # now and then leave a quote undoubled or unclosed
            raw = raw.replace(q, q + q)
            return q + raw + q
        return q + raw + (q if r.bool() else b"")
    return raw


def _body(r: Reader, schema: Schema, names: list[str], fields: list[Column | None]) -> bytes:
    d = schema.dialect
    delim = d.delimiter.encode()
    nl = r.pick((b"\n", b"\r\n", b"\r", b"\n"))
    out = bytearray()
    if r.int(0, 7) == 0:
        out += r.pick((b"\xef\xbb\xbf", b"\xff\xfe", b"", b""))
    if d.header:
        out += delim.join(n.encode() for n in names) + nl
    if r.int(0, 3) == 0:  # raw bytes after a valid header
        return bytes(out + r.rest())
    for _ in range(r.int(0, 12)):
        n = len(fields)
        shape = r.int(0, 15)
        if shape == 0:
            n = max(0, n - 1)
        elif shape == 1:
            n += 1
        elif shape == 2:
            out += r.pick((b"\n", b"\r\n", b"\r", b" \n"))  # blank or nearly blank line
        row = [_field_bytes(r, fields[i] if i < len(fields) else None, d) for i in range(n)]
        out += delim.join(row)
        out += nl if r.int(0, 7) else r.pick((b"\n", b"\r\n", b"\r"))
    if r.bool() and out.endswith((b"\n", b"\r")):
        out = out.rstrip(b"\r\n")
    return bytes(out)


class _Stream(io.BytesIO):
    """The same bytes, read as a stream (not one buffer); named as a buffer is in messages."""

    name = "<bytes>"


def _outcome(fn: Any) -> tuple:
    try:
        a = fn().array  # read_csv's Table: the records as stored are compared
    except FastETLError as e:
        return ("error", type(e).__name__, str(e), getattr(e, "row", None))
    return ("ok", a.dtype.descr, a.tobytes(), len(a))


def _raw_parse(data: bytes, schema: Schema, step: int) -> tuple[int, int, bytes] | None:
    """Drive _core.Parser.parse over the data rows directly, ``step`` rows per call.

    Returns (status, rows, record bytes), or None when the header or prefix
    stops the input before any row (read_csv reports that on its own).
    """
    d = schema.dialect
    delim, quote = ord(d.delimiter), ord(d.quote) if d.quote else -1
    n = len(data)
    try:
        start = check_encoding_prefix(data[:4], "<fuzz>")
    except FastETLError:
        return None
    header = None
    if d.header:
        status, hfields, nxt = _core.split_row(data, start, n, True, delim, quote)
        if status != 0 or not hfields:
            return None
        try:
            header = [f.decode("utf-8") for f in hfields]
            binding = schema.bind(header)
        except (UnicodeDecodeError, FastETLError):
            return None
        start = nxt
    else:
        binding = schema.bind(None)
    parser = make_parser(binding)
    itemsize = schema.dtype().itemsize
    limit = _core.count_lines(data, 0, n) + 1
    out = bytearray(limit * itemsize)
    rows = 0
    while True:
        res = parser.parse(data, start, n, True, out, rows, min(step, limit - rows))
        status, got, consumed = res[0], res[1], res[2]
        if not (0 <= got <= min(step, limit - rows)):
            raise Finding(f"Parser.parse reported {got} rows for room of {step}")
        if not (start <= consumed <= n):
            raise Finding(f"Parser.parse consumed up to {consumed}, outside [{start}, {n}]")
        rows += got
        if status != 0 or consumed == n:
            return status, rows, bytes(out[: rows * itemsize])
        if got == 0:
            if rows >= limit:
                raise Finding(f"{rows} rows from {limit - 1} line breaks, and more left")
            raise Finding(f"Parser.parse made no progress at byte {start} of {n}")
        start = consumed


def check(data: bytes) -> None:
    """Run every oracle on one fuzz input; raises Finding (or the escaping error)."""
    data = data[:MAX_INPUT]
    r = Reader(data)
    try:
        schema, names, fields = _schema(r)
    except FastETLError:
        return  # an invalid schema is refused up front: nothing to parse
    block_a = r.pick((1, 2, 3, 5, 8, 13, 64, 1 << 20))
    block_b = r.int(1, 300)
    workers = r.int(2, 3)
    step = r.int(1, 5)
    csv = _body(r, schema, names, fields)

    runs = {
        f"buffer, 1 thread, block {block_a}": lambda: fastetl.read_csv(
            csv, schema, block_size=block_a, workers=1
        ),
        f"buffer, {workers} threads, block {block_a}": lambda: fastetl.read_csv(
            csv, schema, block_size=block_a, workers=workers
        ),
        f"buffer, {workers} threads, block {block_b}": lambda: fastetl.read_csv(
            csv, schema, block_size=block_b, workers=workers
        ),
        f"stream, 1 thread, block {block_b}": lambda: fastetl.read_csv(
            _Stream(csv), schema, block_size=block_b, workers=1
        ),
        f"stream, {workers} threads, block {block_a}": lambda: fastetl.read_csv(
            _Stream(csv), schema, block_size=block_a, workers=workers
        ),
    }
    outcomes = {name: _outcome(fn) for name, fn in runs.items()}
    (first_name, first), *others = outcomes.items()
    for name, got in others:
        if got != first:
            raise Finding(
                f"outcomes differ:\n  {first_name}: {_show(first)}\n  {name}: {_show(got)}"
            )
    lines = _core.count_lines(csv, 0, len(csv))
    if first[0] == "ok" and first[3] > lines + 1 - (1 if schema.dialect.header else 0):
        raise Finding(f"{first[3]} rows from {len(csv)} bytes with {lines} line breaks")

    raw = _raw_parse(csv, schema, step)
    if raw is None:
        return
    status, rows, records = raw
    if first[0] == "ok":
        if status != 0 or records != first[2]:
            raise Finding(
                f"Parser.parse ({step} rows a call) disagrees with read_csv: status {status}, "
                f"{rows} rows vs {first[3]}"
            )
    elif first[1] == ParseError.__name__ and first[3] is not None:
        if status == 0 or rows != first[3]:
            raise Finding(
                f"read_csv reports a bad row {first[3]} ({first[2]}) but Parser.parse "
                f"({step} rows a call) stops with status {status} after {rows} rows"
            )


def _show(outcome: tuple) -> str:
    if outcome[0] == "ok":
        return f"{outcome[3]} rows, {len(outcome[2])} bytes, sha {hash(outcome[2]) & 0xFFFFFFFF:x}"
    return f"{outcome[1]}: {outcome[2]}"


def describe(data: bytes) -> str:
    """The schema and CSV an input stands for (for reading a finding)."""
    r = Reader(data[:MAX_INPUT])
    try:
        schema, names, fields = _schema(r)
    except FastETLError as e:
        return f"schema refused: {e}"
    blocks = (r.pick((1, 2, 3, 5, 8, 13, 64, 1 << 20)), r.int(1, 300))
    workers, step = r.int(2, 3), r.int(1, 5)
    csv = _body(r, schema, names, fields)
    return (
        f"schema: {schema.to_json(indent=None)}\nblocks {blocks}, workers {workers}, "
        f"raw step {step}\ncsv ({len(csv)} bytes): {csv!r}"
    )


def main() -> None:
    if atheris is None:
        sys.exit("fuzz_core.py: atheris is not installed (pip install 'fastetl[fuzz]')")
    if "--describe" in sys.argv:
        for path in sys.argv[sys.argv.index("--describe") + 1 :]:
            with open(path, "rb") as fh:
                print(f"== {path}\n{describe(fh.read())}")
        return

    # Coverage of the input decoder too, so the fuzzer learns which bytes pick
    # which column types, dialects and row shapes (instrumented in place).
    for fn in (check, _schema, _column, _body, _field_bytes, _raw_parse):
        atheris.instrument_func(fn)

    def test_one_input(data: bytes) -> None:
        try:
            check(data)
        except Finding:
            print(describe(data), file=sys.stderr)
            raise

    # Switch threads far more often than the default 5 ms, so the parallel
    # path meets many more interleavings per input.
    sys.setswitchinterval(1e-5)
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
