"""``fastetl.pandas.read_csv``: ``pandas.read_csv``'s signature and results, on
fastetl's compiled, threaded parser where it can give exactly what pandas gives.

How a call is answered (docs: README, "Drop-in: pandas"):

1. **Arguments.**  The call is bound to the installed pandas' signature.  Every
   argument is checked against what fastetl's own path covers (:func:`_plan`);
   anything else is :class:`~fastetl.dropin.fallback.Unsupported` and the call goes
   to ``pandas.read_csv`` unchanged, under the fallback policy.
2. **Names and a first guess.**  pandas itself reads the first
   :data:`SAMPLE_ROWS` rows with the same arguments: that gives the column labels
   exactly as pandas spells them (and the ``Index`` type that holds them) and a
   first guess of every column's type.  Nothing else of the sample is used.
3. **Types from all the data.**  pandas' type of a column is a function of all its
   values, so fastetl reads the whole file with the guessed types (int64 and
   float64 nullable, text as a learned dictionary or out-of-line text) and, when its
   converter refuses a value, asks pandas what that one value is (:func:`_verdict`)
   and widens the column (int -> float -> text) only when pandas agrees that the
   value is not of the type; then reads again.  A disagreement falls back.  The
   last read is the result: one pass when the guess holds.
4. **Values.**  Numbers come as they are stored; an int column with nulls becomes
   float64 as in pandas (values up to 2**53, else fallback); text columns become
   pandas 3's ``str`` dtype, built in Arrow from the dictionary and the codes (or
   from the out-of-line text, block by block: :mod:`.pandas_columns`) -- no Python
   object per value.  Where fastetl's
   rules and pandas' could still part (a null marker with blanks around it, a
   ``nan`` spelling pandas does not count as missing, pandas' low_memory chunks
   giving a column mixed types) the raw bytes or the values are checked, and the
   call falls back when the check cannot prove the frames equal.

Short rows are read as pandas reads them (missing trailing fields are NA: the core's
``ragged="fill"``).  pandas' dialect options (comment, escapechar, skipinitialspace,
decimal, thousands, true/false values: :data:`PENDING_DIALECT`, all in
:data:`ENABLED_DIALECT`) go to the core's dialect where its reading is pandas' and fall
back where it could part (see the guards named there).
"""

from __future__ import annotations

import codecs
import csv
import inspect
import io
import mmap
import os
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas
from pandas.io.parsers import readers as _readers

from .. import _core
from ..pipeline import cpu_count, read_into  # (not ..api: its outputs need not load)
from ..errors import ParseError, SchemaError
from ..schema import DECIMAL_MARKS, THOUSANDS_SEPARATORS, Column, Dialect, Schema, unique_names
from . import pandas_floats
from .fallback import Unsupported, fall_back
from .pandas_columns import ColumnWriter, codes_strings, large_strings, utf8_buffers
from .pandas_quick import check_float_columns, head_columns, iso_dates

# The function in its own module: `fastetl run` / install() patch `pandas.read_csv`,
# never this one, so the original stays reachable.
_original = _readers.read_csv
SIGNATURE = inspect.signature(_original)
NAME = "pandas.read_csv"

SAMPLE_ROWS = 1000  # rows pandas reads for the labels and the first guess of the types
HEAD_BYTES = 1 << 20  # bytes read to split the header row
CATEGORY_VALUES = 1 << 16  # distinct values a text column keeps as a dictionary
EXACT_INT_FLOAT = 2**53  # ints up to here become floats exactly
LEGACY_BYTES = 1 << 20  # float_precision="legacy" is checked number by number up to here
SMALL_INPUT = 4 << 20  # bytes read on one thread (see _workers)
SKIP_FUNC_BYTES = 16 << 20  # a skiprows function (no nrows) over more: a fallback
MAX_NROWS = 200_000  # nrows and skiprows are cut by a Python loop over rows: a bounded one
_COMPRESSED = (".gz", ".bz2", ".zip", ".xz", ".zst", ".tar", ".tgz", ".tbz", ".txz")
_BOOLS = ("true", "false")  # pandas' C parser reads these in any case (tRuE too)
_NA_DEFAULT = tuple(sorted(_readers.STR_NA_VALUES))

# Keyword -> the values at which fastetl's own path reads exactly what pandas reads.
# Any other value falls back.  The dialect options being added to fastetl's Dialect
# are in PENDING_DIALECT instead (see there).
_ONLY_DEFAULT = {
    "engine": (None, "c"),
    "converters": (None,),
    "skipfooter": (0,),
    "skip_blank_lines": (True, False),  # (False: where no line is blank, _blank_lines_guard)
    "date_format": (None,),
    "dayfirst": (False,),
    "iterator": (False,),  # (read_csv hands these to pandas_chunks.TextFileReader)
    "chunksize": (None,),
    "lineterminator": (None, "\n", "\r", b"\n", b"\r", bytearray(b"\n"), bytearray(b"\r")),
    "quoting": (csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONE),
    "doublequote": (True, False),  # (False: only with quoting=QUOTE_NONE, see _plan)
    "encoding_errors": ("strict", "replace", "ignore"),  # (decoded here: _decoded)
    "on_bad_lines": ("error",),
    "memory_map": (False, True),
    # (fastetl's floats are round-trip; pandas' own rounding where it differs and is
    # known: _marks_float_guard, pandas_floats; another value is pandas' error: _plan)
    "float_precision": (None, "high", "round_trip", "legacy"),
    "storage_options": (None,),
}
PENDING_DIALECT = {
    # pandas keyword: (its default, the fastetl Dialect field it becomes).  A keyword
    # at another value falls back unless it is in ENABLED_DIALECT; once the core reads
    # the field, adding the keyword there passes it on (_dialect_extra).  Check its
    # effect on type inference first: true_values/false_values also make bools, and
    # decimal/thousands change what pandas reads as a number (_verdict asks pandas
    # with them).  skiprows is answered today by cutting the rows out of the bytes
    # (_without_rows); the dialect's skip_rows would save that copy.
    "comment": (None, "comment"),
    "escapechar": (None, "escape"),
    "decimal": (".", "decimal"),
    "thousands": (None, "thousands"),
    "true_values": (None, "true_values"),
    "false_values": (None, "false_values"),
    "skipinitialspace": (False, "skip_initial_space"),
}
# Read exactly as pandas reads them (the guards: _comment_guard, _bool_words).
# true_values/false_values stay here, not in the core's dialect: the drop-in reads
# bools as text and maps them itself (_text), as pandas decides per column.
ENABLED_DIALECT = frozenset(
    {"comment", "escapechar", "skipinitialspace", "true_values", "false_values", "decimal",
     "thousands"}
)
_NOT_TO_CORE = ("true_values", "false_values")


def _dialect_extra(opts: dict[str, Any]) -> dict[str, Any]:
    """The Dialect fields of the PENDING_DIALECT keywords given, or Unsupported."""
    extra: dict[str, Any] = {}
    for key, (default, name) in PENDING_DIALECT.items():
        value = opts[key]
        if _is_default(value, (default,)):
            continue
        if key not in ENABLED_DIALECT:
            raise Unsupported(f"{key}={value!r}")
        if key in _NOT_TO_CORE:
            continue
        extra[name] = tuple(value) if isinstance(value, (list, tuple)) else value
    return extra


@dataclass
class _Col:
    """One column of the result: where it is in the file and how it is read."""

    label: Any  # the pandas label
    position: int  # field index in each row
    kind: str  # "int", "float", "text"
    want: str | None = None  # a dtype the call asked for: see _WANT
    out_of_line: bool = False  # text read out of line (each value its own length), no dictionary
    categorical: Any = None  # the CategoricalDtype dtype= asked for (want "category")


@dataclass
class _Plan:
    path: str | None
    data: bytes | None  # the content of a file object (path is None)
    size: int
    delimiter: str
    quote: str | None
    header: bool  # the first row holds the names
    nfields: int
    nulls: tuple[str, ...]
    columns: list[_Col]
    labels: Any  # the pandas Index of the column labels
    low_memory: bool
    backend: Any
    guards: dict[str, Any] = field(default_factory=dict)
    dialect_extra: dict[str, Any] = field(default_factory=dict)


# What dtype= may ask for, per column, on fastetl's own path -> (kind to read, output).
_WANT = {
    "float64": ("float", "float64"),
    "int64": ("int", "int64"),
    "str": ("text", "str"),
    "object": ("text", "object"),
    "string": ("text", "string"),
    "category": ("text", "category"),
    "Int64": ("int", "Int64"),
}
# more numeric dtypes: read as int64 / float64, then cast where every value fits (_cast)
_WANT.update({n: ("int", n) for n in ("int8", "int16", "int32", "uint8", "uint16", "uint32",
                                      "uint64", "Int8", "Int16", "Int32", "UInt8", "UInt16",
                                      "UInt32", "UInt64")})
_WANT.update({n: ("float", n) for n in ("float32", "Float32", "Float64")})


def _want_name(dtype: Any) -> str:
    """The key of _WANT for a dtype argument, or Unsupported."""
    if dtype is str:
        return "str"
    if dtype is object:
        return "object"
    if dtype is float:
        return "float64"
    if dtype is int:
        return "int64"
    if isinstance(dtype, str) and dtype in _WANT:
        return dtype
    try:
        d = pandas.api.types.pandas_dtype(dtype)
    except TypeError:
        raise Unsupported(f"dtype {dtype!r} is not one pandas knows") from None
    if d == np.dtype("float64"):
        return "float64"
    if d == np.dtype("int64"):
        return "int64"
    if d == np.dtype(object):
        return "object"
    if isinstance(d, pandas.CategoricalDtype):
        return "category"  # (categories and order: _Col.categorical)
    if isinstance(d, pandas.Int64Dtype):
        return "Int64"
    if isinstance(d, np.dtype) and d.kind in "iuf" and d.name in _WANT:
        return d.name
    if isinstance(d, (pandas.core.arrays.integer.IntegerDtype,
                      pandas.core.arrays.floating.FloatingDtype)) and d.name in _WANT:
        return d.name
    if isinstance(d, pandas.StringDtype):
        if d == pandas.StringDtype(na_value=np.nan):
            return "str"
        if d == pandas.StringDtype():
            return "string"
    raise Unsupported(f"dtype {dtype!r} is not covered")


# -- arguments -----------------------------------------------------------------------


def _is_default(value: Any, allowed: tuple[Any, ...]) -> bool:
    return any(value is a or (type(value) is type(a) and value == a) for a in allowed)


class _PandasSays(Exception):
    """Internal: pandas refuses this call; its own exception is the answer (raised by
    calling it: not a fallback, there is nothing to accelerate)."""

    def __init__(self, error: BaseException | None = None) -> None:
        super().__init__()
        self.error = error


def _take(src: Any, replay: dict[str, Any]) -> bytes:
    """The whole content of a file object, as UTF-8 bytes, and what pandas must get
    instead of ``src`` when the call falls back (``src`` itself, rewound, when it can
    seek; else a new buffer with the same content)."""
    try:
        pos = src.tell() if src.seekable() else None
    except (AttributeError, OSError, ValueError):
        pos = None
    content = src.read()
    if pos is not None:
        again = src
    elif isinstance(content, str):
        again = io.StringIO(content)
    else:
        again = io.BytesIO(content)
    replay["src"], replay["pos"] = again, pos
    replay["text"] = isinstance(content, str)
    if isinstance(content, str):
        try:
            return content.encode("utf-8")
        except UnicodeEncodeError:
            raise Unsupported("text that is not valid Unicode") from None
    if isinstance(content, (bytes, bytearray)):
        return bytes(content)
    raise Unsupported(f"a file object whose read() gives {type(content).__name__}")


_METHODS = {".gz": "gzip", ".bz2": "bz2", ".xz": "xz", ".zip": "zip"}


_TAR = re.compile(r"\.tar(?:\.[a-z0-9]+)?$")  # (compiled here: not in a first call's time)


def _compression(comp: Any, path: str | None) -> str | None:
    """The compression pandas applies: None, gzip, bz2, xz or zip (else Unsupported)."""
    if comp is None:
        return None
    if comp == "infer":
        if path is None:
            return None
        low = path.lower()
        if _TAR.search(low):
            raise Unsupported("a tar archive")  # (pandas reads .tar.gz as tar, not gzip)
        for suffix, method in _METHODS.items():
            if low.endswith(suffix):
                return method
        if low.endswith(_COMPRESSED):
            raise Unsupported("this compressed input")
        return None
    if comp in ("gzip", "bz2", "xz", "zip"):
        return comp
    raise Unsupported(f"compression={comp!r}")


def _decompressed(data: bytes, method: str | None) -> bytes:
    """The input decompressed in memory (what pandas reads through its handle)."""
    import bz2
    import gzip
    import lzma
    import zipfile

    try:
        if method == "gzip":
            return gzip.decompress(data)
        if method == "bz2":
            return bz2.decompress(data)
        if method == "xz":
            return lzma.decompress(data)
        if method == "zip":
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                names = [n for n in z.namelist() if not n.endswith("/")]
                if len(names) != 1:
                    raise Unsupported("a zip archive of more than one file")
                return z.read(names[0])
    except (OSError, EOFError, lzma.LZMAError, zipfile.BadZipFile, ValueError):
        raise Unsupported("input that does not decompress") from None
    return data


def _codec(encoding: Any) -> str | None:
    """None for UTF-8 (read as it is), else the Python codec to decode with."""
    import codecs

    if encoding is None:
        return None
    try:
        name = codecs.lookup(encoding).name
    except (LookupError, TypeError):
        raise Unsupported(f"encoding={encoding!r}") from None
    return None if name == "utf-8" else name


def _bom_wanted(codec: str) -> tuple[bytes, ...]:
    """The byte order marks a text in ``codec`` must begin with where pandas reads it
    (its stream reader of utf-16 and utf-32 refuses a text without one), or ()."""
    try:
        name = codecs.lookup(codec).name
    except LookupError:
        return ()
    if name == "utf-16":
        return (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
    if name == "utf-32":
        return (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)
    return ()


def _decoded(data: bytes, codec: str | None, errors: str = "strict") -> bytes:
    """``data`` in UTF-8, decoded from ``codec`` (None: UTF-8) as pandas decodes it,
    with its ``encoding_errors`` (strict, replace, ignore)."""
    if codec is None and errors == "strict":
        return data
    if errors == "ignore" and codec is None:
        out = data.decode("utf-8", errors).encode("utf-8")
        if out != data:
            # pandas types each field from its bytes before decoding it: "1\xff" is
            # text to it, 1 here; a line of dropped bytes stays a row
            raise Unsupported("encoding_errors='ignore' dropping bytes")
        return out
    if codec is not None and data and _bom_wanted(codec) and not data.startswith(
        _bom_wanted(codec)
    ):
        raise Unsupported(f"{codec} text without a byte order mark")  # (pandas refuses it)
    try:
        return data.decode(codec or "utf-8", errors).encode("utf-8", errors="strict")
    except (UnicodeError, ValueError):
        raise Unsupported(f"text that does not decode as {codec}") from None


def _path_of(src: Any) -> str:
    if isinstance(src, (str, os.PathLike)):
        path = os.fspath(src)
        if isinstance(path, bytes):
            raise Unsupported("a bytes path")
        if "://" in path:
            raise Unsupported("a URL")
        if not os.path.exists(path):
            raise _PandasSays()  # FileNotFoundError, as pandas words it
        if not os.path.isfile(path):
            raise Unsupported("not a regular file")
        return path
    raise Unsupported(f"input of type {type(src).__name__} (only file paths are read directly)")


# sep="\s+": runs of blanks (space, tab: pandas' C tokenizer) become this one byte, and
# blanks at the start and end of a line go, before the core reads the text (_spaced)
_WHITESPACE = "\x1f"


def _spaced(data: bytes) -> bytes:
    """Text split on runs of blanks rewritten with the delimiter _WHITESPACE (or
    Unsupported where that could read otherwise: quotes, the byte itself, comments)."""
    if b'"' in data or _WHITESPACE.encode() in data:
        raise Unsupported("sep='\\s+' with quotes in the text")
    data = re.sub(rb"[ \t]+", b"\x1f", data)
    return re.sub(rb"(?:^|(?<=[\r\n]))\x1f|\x1f(?=\r|\n|$)", b"", data)


def _na_floats(opts: dict[str, Any]) -> np.ndarray:
    """The values a float column reads as NA beside the strings (pandas' na_fvalues)."""
    if not opts["na_filter"] or opts["na_values"] is None:
        return np.zeros(0)
    _, floats = _readers._clean_na_values(
        opts["na_values"], opts["keep_default_na"], floatify=True
    )
    return np.array(sorted(floats), dtype=np.float64)


def _separator(opts: dict[str, Any]) -> str:
    sep, delim = opts["sep"], opts["delimiter"]
    nd = _readers.lib.no_default
    if delim is not nd and delim is not None:
        if sep is not nd:
            raise Unsupported("both sep and delimiter")
        sep = delim
    if sep is nd:
        return ","
    if sep == r"\s+":
        return _WHITESPACE
    if isinstance(sep, str) and sep in ("\n", "\r"):
        # pandas refuses a line break as the separator unless another lineterminator
        # frees it: its own error (or, where it reads the input, a fallback)
        raise _PandasSays()
    if not isinstance(sep, str) or len(sep) != 1 or not sep.isascii() or sep in "\r\n\"":
        raise Unsupported(f"sep={sep!r} (one ASCII character is covered)")
    if sep == " ":
        raise Unsupported("sep=' '")
    return sep


def _na_set(opts: dict[str, Any]) -> tuple[str, ...]:
    """The NA strings of the call (pandas' own spelling of numeric ones: -999 gives
    "-999" and "-999.0"); the numbers pandas also matches by value: _na_floats."""
    if not opts["na_filter"]:
        return ()
    na = opts["na_values"]
    if na is None and opts["keep_default_na"]:
        return _NA_DEFAULT  # (pandas' own: none is long or holds a line break)
    extra: tuple[str, ...] = ()
    if na is not None:
        if isinstance(na, dict):
            raise Unsupported("na_values per column")
        try:
            strings, _ = _readers._clean_na_values(na, False, floatify=True)
        except Exception:  # (pandas says what is wrong with them)
            raise Unsupported("these na_values") from None
        extra = tuple(sorted(v for v in strings if isinstance(v, str)))
    base = _NA_DEFAULT if opts["keep_default_na"] else ()
    nulls = tuple(dict.fromkeys((*base, *extra)))
    for v in nulls:
        if len(v.encode()) > 64 or any(c in v for c in "\r\n"):
            raise Unsupported(f"the NA value {v!r}")
    return nulls


def _first_rows(
    path: str | None, data: bytes | None, count: int, delim: str, quote: str | None,
    blank_rows: bool = False,
) -> bytes:
    """The bytes of the input's first ``count`` rows (``nrows`` plus the header row),
    counted as pandas counts records: an empty line is one where ``blank_rows``
    (skip_blank_lines=False), else it is kept and not counted."""
    q = ord(quote) if quote else -1
    buf = b""
    done = False
    f = open(path, "rb") if path is not None else None
    try:
        if data is not None:
            buf, done = data, True
        pos = 0
        rows = 0
        while rows < count:
            if not done and len(buf) - pos < (1 << 16):
                more = f.read(1 << 20) if f is not None else b""
                done = not more
                buf += more
            if pos >= len(buf):
                break
            status, nxt, _ = _core.find_row_end(buf, pos, len(buf), done, ord(delim), q)
            if status == -1:
                if done:  # pragma: no cover - final data always ends a row
                    break
                more = f.read(1 << 20) if f is not None else b""
                done = not more
                buf += more
                continue
            if status != 0:
                raise Unsupported("a row fastetl cannot split among the first nrows")
            empty = buf[pos:nxt].strip(b"\r\n") == b""
            if empty and (buf[pos:nxt] == b"\r" or nxt - pos > 2):  # (a \r-ended line:
                # pandas' own reading; a line of line ends: more than one)
                raise Unsupported("a blank line among the first nrows")
            pos = nxt
            rows += 1 if blank_rows or not empty else 0
        return bytes(buf[:pos])
    finally:
        if f is not None:
            f.close()


def _skip_set(skiprows: Any) -> set[int] | Callable[[int], Any]:
    """skiprows as the set of row numbers to leave out (header row = 0), or the function
    pandas asks of each row number."""
    if callable(skiprows):
        return skiprows
    if skiprows is None:
        return set()
    if isinstance(skiprows, int) and not isinstance(skiprows, bool):
        if not 0 <= skiprows <= MAX_NROWS:
            raise Unsupported(f"skiprows={skiprows!r}")
        return set(range(skiprows))
    if isinstance(skiprows, (list, tuple, set, frozenset, range)):
        items = set(skiprows)
        if all(type(i) is int and 0 <= i < MAX_NROWS for i in items):
            return items
    raise Unsupported("this skiprows")


def _without_rows(
    data: bytes, skip: set[int] | Callable[[int], Any], delim: str, quote: str | None,
    records: bool = False, blank_rows: bool = True, upto: int | None = None,
) -> bytes:
    """``data`` without the rows numbered in ``skip`` (or for which the function ``skip``
    says so, asked of every row as pandas asks it), numbered as pandas' skiprows numbers
    them: a blank line is a row, a row spanning lines (inside quotes) one row.  With
    ``records`` (the rows above ``header=k``, or header rows) numbered as pandas counts
    records instead: a blank line (spaces and tabs only) is one where ``blank_rows``
    (skip_blank_lines=False), else it is no record and left out with them.  With
    ``upto`` (nrows and the header row) the rows past the first ``upto`` records kept are
    neither asked about nor kept (pandas asks no more): _first_rows cuts there anyway."""
    if _lone_cr(data):
        # (pandas runs a skipped row ended by a lone \r, or one with a \r in quotes, on
        # into the next line: checked before the function is asked)
        raise Unsupported("rows to skip in a text with a lone \\r")
    asks = callable(skip)
    if asks and len(data) > SKIP_FUNC_BYTES and upto is None:
        # (a function is asked of every row, in Python: a bounded loop)
        raise Unsupported(f"a skiprows function over more than {SKIP_FUNC_BYTES:,} bytes")
    q = ord(quote) if quote else -1
    last = max(skip) if not asks else len(data) if upto is None else MAX_NROWS
    # (a function: asked of every row, as pandas does; past the bytes or rows bounded)
    blanks = bytes(c for c in b" \t" if c != ord(delim))
    kept = []  # (slices of runs of kept rows)
    run = 0  # where the run of kept rows now read began
    pos = 0
    row = 0
    taken = 0  # records kept (a function with nrows: pandas asks no row past the cut)
    while pos < len(data) and (row <= last or (upto is not None and not asks)) and (
        upto is None or taken < upto
    ):
        status, nxt, _ = _core.find_row_end(data, pos, len(data), True, ord(delim), q)
        if status != 0:
            raise Unsupported("a row fastetl cannot split among the rows to skip")
        line = data[pos:nxt]
        start, pos = pos, nxt
        empty = line.rstrip(b"\r\n").strip(blanks) == b""
        if records and not blank_rows and empty:
            kept.append(data[run:start])  # (no record: pandas passes over it)
            run = pos
            continue
        if asks:
            try:
                cut = bool(skip(row))
            except Exception:  # (pandas calls it too: its exception is the answer)
                raise _PandasSays() from None
        else:
            cut = row <= last and row in skip
        if cut:
            kept.append(data[run:start])
            run = pos
        elif blank_rows or not empty:
            taken += 1
        row += 1
    if asks and row > last and pos < len(data):
        raise Unsupported(f"a skiprows function over more than {MAX_NROWS:,} rows")
    kept.append(data[run:] if upto is None else data[run:pos])
    return b"".join(kept)


def _lone_cr(data: Any) -> bool:
    """Whether ``data`` holds a \r not followed by \n (two passes in C, no regex)."""
    return data.count(b"\r") != data.count(b"\r\n")


def _line_ends(terminator: Any, path: str | None, data: bytes | None) -> None:
    """lineterminator="\n" (or "\r") reads as the default where the text holds no
    other line end ("\r" or "\n"), which pandas would take as data: else Unsupported."""
    if terminator is None:
        return
    mark = terminator.encode("latin-1") if isinstance(terminator, str) else bytes(terminator)
    other = b"\r" if mark == b"\n" else b"\n"
    if data is not None:
        found = other in data
    else:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size == 0:
                return
            with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
                found = m.find(other) != -1
    if found:
        raise Unsupported(f"lineterminator={terminator!r} with {other!r} in the text")


def _bool_arguments(opts: dict[str, Any]) -> None:
    """pandas' check of its bool arguments (na_filter="False" is an error, not true)."""
    check = getattr(_readers, "_validate_bool_kwargs", None)
    if check is not None:
        try:
            check(opts)
        except ValueError as e:
            raise _PandasSays(e) from None


def _dialect(opts: dict[str, Any]) -> list[Any]:
    """dialect=: its six options put into ``opts`` as pandas merges them (its own
    helpers), and the warnings pandas gives on the way (conflicting values)."""
    if opts["dialect"] is None:
        return []
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        try:
            dialect = _readers._extract_dialect({"dialect": opts["dialect"]})
            kw = {k: opts[k] for k in _readers.MANDATORY_DIALECT_ATTRS if k != "delimiter"}
            kw.update(_readers._refine_defaults_read(
                opts["dialect"], opts["delimiter"], opts["engine"], opts["sep"],
                opts["on_bad_lines"], opts["names"], {"delimiter": ","},
                opts["dtype_backend"], opts["lineterminator"],
            ))
            merged = _readers._merge_with_dialect_properties(dialect, kw)
        except Exception as e:  # pandas refuses the dialect: its error is the answer
            raise _PandasSays(e) from None
    opts["sep"], opts["delimiter"] = merged["delimiter"], _readers.lib.no_default
    for key in _readers.MANDATORY_DIALECT_ATTRS:
        if key != "delimiter":
            opts[key] = merged[key]
    opts["dialect"] = None
    return list(seen)


def _plan(opts: dict[str, Any], replay: dict[str, Any]) -> _Plan:
    """What fastetl reads for this call, or Unsupported."""
    _bool_arguments(opts)
    said = _dialect(opts)
    if not _is_default(opts["float_precision"], _ONLY_DEFAULT["float_precision"]):
        raise _PandasSays()  # (the C engine knows no other: pandas' own error, if it says so)
    for key, allowed in _ONLY_DEFAULT.items():
        if not _is_default(opts[key], allowed):
            raise Unsupported(f"{key}={opts[key]!r}")
    dialect_extra = _dialect_extra(opts)
    src = opts["filepath_or_buffer"]
    is_file = hasattr(src, "read") and not isinstance(src, (str, os.PathLike))
    path = None if is_file else _path_of(src)
    method = _compression(opts["compression"], path)
    codec = _codec(opts["encoding"])
    with warnings.catch_warnings():  # (the option itself is deprecated: quiet)
        warnings.simplefilter("ignore")
        try:
            infer_string = pandas.get_option("future.infer_string")
        except (KeyError, pandas.errors.OptionError):  # pragma: no cover - pandas < 2.1
            infer_string = False
    if not infer_string:
        raise Unsupported("future.infer_string disabled (text as object)")
    backend = opts["dtype_backend"]
    if backend is _readers.lib.no_default:
        backend = None
    elif backend not in ("numpy_nullable", "pyarrow") or not _have_arrow():
        raise Unsupported(f"dtype_backend={backend!r}")
    quote = opts["quotechar"]
    if not isinstance(quote, str) or len(quote) != 1 or not quote.isascii() or quote in "\r\n":
        raise Unsupported(f"quotechar={quote!r}")
    delim = _separator(opts)
    if delim == quote:
        raise Unsupported("sep equal to quotechar")
    if opts["quoting"] == csv.QUOTE_NONE:
        quote = None
    elif opts["doublequote"] is False:
        raise Unsupported("doublequote=False")
    comment = opts["comment"]
    if comment is not None:
        if not isinstance(comment, str) or len(comment) != 1 or not comment.isascii() or (
            comment in "\r\n \t" or comment in (delim, quote)
        ):
            raise Unsupported(f"comment={comment!r}")
        if opts["skiprows"] is not None or opts["nrows"] is not None:
            # (pandas counts comment lines for skiprows, not for nrows: not here)
            raise Unsupported("comment with skiprows or nrows")
    escape = opts["escapechar"]
    if escape is not None:
        if not isinstance(escape, str) or len(escape) != 1 or not escape.isascii() or (
            escape in "\r\n \t" or escape in (delim, quote, comment)
        ):
            raise Unsupported(f"escapechar={escape!r}")
        if opts["skiprows"] is not None or opts["nrows"] is not None:
            raise Unsupported("escapechar with skiprows or nrows")
    words = _bool_words(opts)
    decimal, thousands = opts["decimal"], opts["thousands"]
    if decimal not in DECIMAL_MARKS or (
        thousands is not None and (thousands not in THOUSANDS_SEPARATORS or thousands == decimal)
    ):
        raise Unsupported(f"decimal={decimal!r} with thousands={thousands!r}")
    # (thousands may be the delimiter: then it groups digits inside quotes only, for both)
    if (thousands is not None and thousands in (quote, comment, escape)) or (
        decimal in (quote, comment, escape)
    ):
        raise Unsupported("a number mark that is also a mark of the dialect")
    header, names = opts["header"], opts["names"]
    nd = _readers.lib.no_default
    if isinstance(header, (list, tuple)) and len(header) == 1 and type(header[0]) is int:
        header = header[0]  # (pandas reads header=[k] as header=k)
    mi_header = None  # header rows giving MultiIndex columns (_mi_columns)
    if isinstance(header, bool) or (type(header) is int and header < 0) or (
        isinstance(header, str) and header != "infer"
    ):
        raise _PandasSays()  # (pandas refuses these: its own error)
    if isinstance(header, (list, tuple)) and len(header) > 1:
        if not all(type(h) is int and h >= 0 for h in header) or (
            names not in (nd, None) or opts["usecols"] is not None
        ):
            raise _PandasSays()  # (pandas refuses these with header rows: its own error)
        if list(header) != sorted(set(header)) or header[-1] >= MAX_NROWS:
            raise Unsupported(f"header={header!r}")
        if (opts["skiprows"] is not None or opts["nrows"] is not None or comment is not None
                or escape is not None or opts["dtype"] is not None
                or opts["parse_dates"] not in (None, False)):
            raise Unsupported("header rows with skiprows, nrows, comment, escapechar, dtype "
                              "or parse_dates")
        mi_header, header = list(header), None
    above = 0  # header=k: the k rows above the header row are cut like skiprows
    if type(header) is int and 0 < header <= MAX_NROWS:
        if opts["skiprows"] is not None or comment is not None:
            raise Unsupported(f"header={header!r} with skiprows or comment")
        above, header = header, 0
    if names is not nd and names is not None:
        if header in ("infer", None):
            header_row = False
        elif header == 0:
            header_row = True
        else:
            raise Unsupported(f"header={header!r}")
    elif header in ("infer", 0):
        header_row = True
    elif header is None:
        header_row = False
    else:
        raise Unsupported(f"header={header!r}")
    data = None
    if path is None:
        data = _take(src, replay)
        if replay.get("text"):
            codec = None  # (pandas ignores encoding= for text)
    errors = "strict" if replay.get("text") else opts["encoding_errors"]
    if method is not None or codec is not None or errors != "strict":
        # decoded here, read as UTF-8 bytes
        if data is None:
            with open(path, "rb") as f:
                data = f.read()
        data = _decoded(_decompressed(data, method), codec, errors)
        path = None
    if delim == _WHITESPACE:
        if opts["quotechar"] != '"' or opts["comment"] is not None or opts["escapechar"] is not None:
            raise Unsupported("sep='\\s+' with quotechar, comment or escapechar")
        if data is None:
            with open(path, "rb") as f:
                data = f.read()
        data, path = _spaced(data), None
    _line_ends(opts["lineterminator"], path, data)
    skip = _skip_set(opts["skiprows"])
    if above:  # (no skiprows then)
        skip = set(range(above))
    if skip:
        upto = None
        if not above and isinstance(opts["nrows"], int) and 0 < opts["nrows"] <= MAX_NROWS:
            upto = opts["nrows"] + header_row
        if data is None:
            if callable(skip) and upto is None and os.path.getsize(path) > SKIP_FUNC_BYTES:
                raise Unsupported(f"a skiprows function over more than {SKIP_FUNC_BYTES:,} bytes")
            with open(path, "rb") as f:
                data = f.read()
        data = _without_rows(data, skip, delim, quote, records=above > 0,
                             blank_rows=not opts["skip_blank_lines"], upto=upto)
        path = None
    size = len(data) if data is not None else os.path.getsize(path)
    nrows = opts["nrows"]
    if nrows is not None:
        if not isinstance(nrows, int) or isinstance(nrows, bool) or nrows < 1:
            raise Unsupported(f"nrows={nrows!r}")  # (pandas says what is wrong with it)
        if nrows > MAX_NROWS:
            raise Unsupported(f"nrows over {MAX_NROWS:,}")
        data = _first_rows(path, data, nrows + header_row, delim, quote,
                           blank_rows=not opts["skip_blank_lines"])
        path, size = None, len(data)
    nulls = _na_set(opts)
    if "" in nulls:  # pandas reads a short row's missing fields as empty ones: NA here
        dialect_extra["ragged"] = "fill"
    return _Plan(
        path=path,
        data=data,
        size=size,
        delimiter=delim,
        quote=quote,
        header=header_row,
        nfields=0,
        nulls=nulls,
        columns=[],
        labels=None,
        low_memory=bool(opts["low_memory"]),
        backend=backend,
        dialect_extra=dialect_extra,
        guards={"bool_words": words, "marks": decimal + (thousands or ""), "said": said,
                "na_floats": _na_floats(opts), "skip_blank_lines": opts["skip_blank_lines"],
                "header_cut": above > 0, "chunk": bool(replay.get("chunk")),
                "mi_header": mi_header, "named": names is not nd and names is not None,
                "precision": opts["float_precision"]},
    )


def _bool_words(opts: dict[str, Any]) -> tuple[frozenset[str], frozenset[str]]:
    """true_values and false_values (pandas matches them exactly, as whole values), or
    Unsupported where pandas' reading of them is not the plain one."""
    out = []
    for key in ("true_values", "false_values"):
        vals = opts[key]
        if vals is None:
            out.append(frozenset())
            continue
        if isinstance(vals, (str, bytes)) or not isinstance(vals, (list, tuple, set, frozenset)):
            raise Unsupported(f"{key}={vals!r}")
        for v in vals:
            if not isinstance(v, str) or not v or v.lower() in _BOOLS or _not_text(v):
                raise Unsupported(f"{key} word {v!r}")  # (numbers, bool words: pandas' own)
            if v != v.strip() or any(c in v for c in "\r\n\"'"):
                raise Unsupported(f"{key} word {v!r}")
        out.append(frozenset(vals))
    true, false = out
    if true & false:
        raise Unsupported("a word in both true_values and false_values")
    nulls = set(_na_set(opts))
    if (true | false) & nulls:
        raise Unsupported("a true/false word that is also an NA value")
    return true, false


# -- names, positions and the first guess ----------------------------------------------


def _first_row(plan: _Plan) -> list[bytes]:
    if plan.data is not None:
        head = plan.data[:HEAD_BYTES]
    else:
        with open(plan.path, "rb") as f:
            # (no more than the file and a byte: a read of HEAD_BYTES takes a buffer of
            # that size first, 60 us of a small file's call)
            head = f.read(min(HEAD_BYTES, plan.size + 1))
    final = len(head) == plan.size
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    comment = plan.dialect_extra.get("comment")
    start = 0
    while comment is not None and head.startswith(comment.encode(), start):
        # a comment line before the header (quotes in it are text): pandas skips it
        m = re.compile(rb"\r\n|\r|\n").search(head, start)
        if m is None:
            raise Unsupported("no row after the comment lines")
        start = m.end()
    status, fields, _end = _core.split_row(
        head, start, len(head), final, ord(plan.delimiter), ord(plan.quote) if plan.quote else -1
    )
    if status != 0 or not fields:
        raise Unsupported("the first row is not plain CSV to fastetl")
    escape = plan.dialect_extra.get("escape")
    if escape is not None and escape.encode() in head[start:_end]:
        raise Unsupported("an escape in the first row")
    if comment is not None and any(comment.encode() in f for f in fields):
        raise Unsupported("a comment mark in the first row")
    plan.guards["first_row"] = (head, start, _end, final)
    return fields


def _leading_columns(plan: _Plan, opts: dict[str, Any], sample: pandas.DataFrame) -> int:
    """pandas' implicit index: data rows longer than the header row by k fields make
    their first k fields the (unnamed) index.  k (from the first data row, as pandas
    counts it), or 0; Unsupported where fastetl could find another k than pandas."""
    if opts["index_col"] is not None or not plan.header or len(sample) == 0:
        return 0
    head, start, end, final = plan.guards["first_row"]
    status, fields, _ = _core.split_row(
        head, end, len(head), final, ord(plan.delimiter), ord(plan.quote) if plan.quote else -1
    )
    k = len(fields) - plan.nfields
    if status != 0 or k <= 0 or any(
        plan.dialect_extra.get(m) for m in ("escape", "comment", "skip_initial_space")
    ):
        return 0  # (these may join or end fields, split_row does not know them: the core says)
    nd = _readers.lib.no_default
    if opts["usecols"] is not None or opts["names"] not in (None, nd):
        raise Unsupported("rows longer than the header with usecols or names")
    one_line = head[start:end].rstrip(b"\r\n")
    if start != 0 or b"\n" in one_line or b"\r" in one_line:
        raise Unsupported("rows longer than the header after comments or a header of lines")
    if plan.guards.get("chunk"):  # (pandas counts k on the file's first row, not a chunk's)
        raise Unsupported("rows longer than the header with chunksize or iterator")
    if sample.index.nlevels != k or len(sample.columns) != plan.nfields:
        raise Unsupported("rows longer than the header that pandas reads otherwise")
    return k


def _lead_index(df: pandas.DataFrame, k: int, labels: Any) -> pandas.DataFrame:
    """The frame of an implicit index (:func:`_leading_columns`): its first ``k`` columns
    made the unnamed index, the rest labelled as pandas labels them."""
    for i in range(k):
        d = df.iloc[:, i].dtype
        if len(df) and not (d == np.dtype("int64") or d == np.dtype("float64") or d == "str"):
            raise Unsupported(f"an index column of type {d}")
    out = df.set_index(list(df.columns[:k]))
    out.index.names = [None] * k
    out.columns = labels
    return out


def _mi_columns(plan: _Plan, opts: dict[str, Any], sample: pandas.DataFrame) -> pandas.DataFrame:
    """header=[r0, r1, ...]: cut the header rows (and the row of index names after them,
    where pandas takes it as one) from the input, and give the sample as a frame of one
    column per field position (the index columns first made columns again)."""
    rows = plan.guards["mi_header"]
    head, _start, _end, final = plan.guards["first_row"]
    d, q = ord(plan.delimiter), ord(plan.quote) if plan.quote else -1
    split, pos = [], 0
    while len(split) < rows[-1] + 2 and pos < len(head):
        status, fields, nxt = _core.split_row(head, pos, len(head), final, d, q)
        if status != 0 or not head[pos:nxt].strip(b"\r\n"):
            raise Unsupported("header rows fastetl cannot split, or a blank line among them")
        split.append(fields)
        pos = nxt
    ic = opts["index_col"]
    ic = [] if ic is None or ic is False else list(ic) if isinstance(ic, (list, tuple)) else [ic]
    if not all(type(i) is int and 0 <= i < plan.nfields for i in ic) or len(set(ic)) != len(ic):
        raise Unsupported(f"index_col={opts['index_col']!r} with header rows")
    start = rows[-1] + 1  # pandas' rule: the next row names the index unless it cannot
    if ic and start < len(split):
        lc, unnamed = len(split[start]), sum(1 for f in split[start] if f == b"")
        if not (lc != unnamed and lc - len(ic) > unnamed):
            start += 1
    data = plan.data
    if data is None:
        with open(plan.path, "rb") as f:
            data = f.read()
    plan.data = _without_rows(data, set(range(start)), plan.delimiter, plan.quote,
                              records=True)
    plan.path, plan.size = None, len(plan.data)
    keep = [p for p in range(plan.nfields) if p not in ic]
    if len(sample.columns) != len(keep) or sample.index.nlevels != max(1, len(ic)):
        raise Unsupported("header rows that pandas reads otherwise")
    flat = {p: sample.iloc[:, j].reset_index(drop=True) for j, p in enumerate(keep)}
    for j, p in enumerate(ic):
        flat[p] = pandas.Series(sample.index.get_level_values(j), copy=False).reset_index(drop=True)
    plan.guards["mi_index"] = ic
    return pandas.DataFrame({p: flat[p] for p in range(plan.nfields)})


def _mi_frame(df: pandas.DataFrame, plan: _Plan, sample: pandas.DataFrame) -> pandas.DataFrame:
    """The frame of header rows (:func:`_mi_columns`): pandas' MultiIndex columns and
    index, checked against pandas' reading of the first rows."""
    ic = plan.guards["mi_index"]
    out = df
    if ic:
        for i in ic:
            d = df[i].dtype
            if len(df) and not (d == np.dtype("int64") or d == np.dtype("float64") or d == "str"):
                raise Unsupported(f"an index column of type {d}")
        out = df.set_index(ic)
        out.index.names = list(sample.index.names)
    out.columns = sample.columns
    if not out.iloc[: len(sample)].equals(sample):
        raise Unsupported("header rows that pandas reads otherwise")
    return out


def _mangled(header: list[str]) -> bool:
    """True when pandas would rename a header name (empty, repeated)."""
    return any(h == "" for h in header) or len(set(header)) != len(header)


def _guess(plan: _Plan, opts: dict[str, Any]) -> pandas.DataFrame:
    kw = dict(opts)
    kw["nrows"] = min(SAMPLE_ROWS, opts["nrows"] or SAMPLE_ROWS)
    src = kw.pop("filepath_or_buffer")
    if plan.data is not None:  # (decompressed, in UTF-8)
        src = io.BytesIO(plan.data)
        kw["compression"] = None
        kw["encoding"] = None
        kw["skiprows"] = None  # (already cut out of plan.data)
        if plan.guards["header_cut"]:
            kw["header"] = 0  # (the rows above it too)
        kw["memory_map"] = False  # (a buffer cannot be mapped)
    if not plan.guards["mi_header"]:  # (with header rows it decides where the data start)
        kw["index_col"] = None  # (set at the end, from the columns)
    if plan.delimiter == _WHITESPACE:  # (the blanks are rewritten in plan.data)
        kw["sep"], kw["delimiter"] = _WHITESPACE, _readers.lib.no_default
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        try:
            sample = _original(src, **kw)
        except Exception as e:  # pandas refuses the call: its error is the answer
            failed = e
        else:
            failed = None
    if failed is not None:
        if plan.data is not None:
            # pandas read a buffer made for it here, not the input as given: its error
            # may be about that buffer; pandas is asked again, with the call as given
            raise _PandasSays()
        for w in seen:  # ... with the warnings it gave on the way (at read_csv's caller)
            warnings.warn(w.message, w.category, stacklevel=5)
        raise _PandasSays(failed)
    for w in seen:
        if not issubclass(w.category, (DeprecationWarning, FutureWarning)):
            # about the data (ParserWarning, DtypeWarning ...): pandas will say it itself
            raise Unsupported(f"pandas warns about the first rows ({w.category.__name__})")
    plan.guards["warnings"] = seen  # about the arguments: said again with the answer
    return sample


QUICK_BYTES = 1 << 20  # inputs up to here may skip pandas' sample (see _quick_columns)
QUICK_ROWS = 50  # data rows the quick guess looks at
_INTS_TEXT = re.compile(r"(?:[ \t]*[+\-]?[0-9]+[ \t]*\n)+")
_NUMBERS_TEXT = re.compile(  # (each part unambiguous: no backtracking blow-up)
    r"(?:[ \t]*[+\-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+\-]?[0-9]+)?[ \t]*\n)+"
)
# the keywords a call may give and still try the quick guess (every other one at pandas'
# default: labels straight from the header row, no dtype, no index, nothing
# that changes a field's bytes or its type, no keyword pandas warns about)
_QUICK_KEYWORDS = frozenset(
    {"filepath_or_buffer", "sep", "delimiter", "encoding", "compression", "nrows", "skiprows",
     "low_memory", "memory_map", "engine", "quotechar", "quoting", "parse_dates"}
)
_QUICK_DEFAULTS = {
    k: p.default for k, p in SIGNATURE.parameters.items() if k not in _QUICK_KEYWORDS
}


def _quick_applies(plan: _Plan, opts: dict[str, Any]) -> bool:
    """Whether this call may try :func:`_quick_columns` before pandas' sample: a small
    input (where pandas' own read of the first rows would cost as much as the whole
    answer), a header row, the plain dialect, the default backend."""
    return (
        plan.size <= QUICK_BYTES and plan.header and plan.backend is None
        and not plan.guards["mi_header"] and not plan.guards["chunk"]
        and plan.guards["marks"] == "." and set(plan.dialect_extra) <= {"ragged"}
        and plan.delimiter != _WHITESPACE
        and all(opts[k] is v or _is_default(opts[k], (v,)) for k, v in _QUICK_DEFAULTS.items())
    )


def _quick_kind(values: list[str], nulls: frozenset[str]) -> str:
    """A column's first guess from its first values: int where all but NA are integers,
    float where all are numbers (or NA only: float64 to pandas), else text, where one is
    surely text to pandas or a bool word (bools are read as text and made bools by
    _text).  Only "text" must be pandas' own verdict (such a column is never read as a
    number); a number guess is checked by the read and widened as pandas says (_widen)."""
    vals = [v for v in values if v not in nulls]
    if not vals:
        return "float"
    joined = "\n".join(vals) + "\n"  # (one match per column, not one per value)
    if _INTS_TEXT.fullmatch(joined):
        return "int"
    if _NUMBERS_TEXT.fullmatch(joined):
        return "float"
    if any(not _not_text(v) or v.strip().lower() in _BOOLS for v in vals):
        return "text"
    return "float"


def _quick_columns(plan: _Plan) -> None:
    """The columns of the result for a call :func:`_quick_applies` to, without pandas'
    sample: the labels are the header row's fields (Unsupported where pandas would
    rename one: empty, repeated), the first guess of each column's type is
    :func:`_quick_kind` of its first QUICK_ROWS values.  Unsupported where the rows are
    not plainly split (then pandas' sample decides, as for any other call)."""
    raw = _first_row(plan)
    try:
        fields = [f.decode("utf-8") for f in raw]
    except UnicodeDecodeError:
        raise Unsupported("a header that is not UTF-8") from None
    if _mangled(fields):
        raise Unsupported("a header pandas renames")
    n = len(fields)
    head, _start, pos, final = plan.guards["first_row"]
    # An integer of 19 digits or more anywhere makes pandas type its column its own way
    # (uint64, Python ints, text: see _big_ints), which no guess from the first rows sees:
    # checked after the read (_quick_check).  An input whose head is not all of it is
    # left to pandas' sample.
    if not final:
        raise Unsupported("an input past its head")
    if plan.data is None:
        # the head is the whole file: the checks and the read take these bytes (less a
        # byte order mark, as the core would skip it), not a second read through a map
        plan.data, plan.path, plan.size = head, None, len(head)
    d, q = ord(plan.delimiter), ord(plan.quote) if plan.quote else -1
    columns, nrows = head_columns(head, pos, final, d, q, n, QUICK_ROWS)
    if not nrows:
        raise Unsupported("no data rows in the head")
    nulls = frozenset(plan.nulls)
    plan.nfields = n
    plan.guards["names"] = list(fields)
    plan.guards["positions"] = {f: i for i, f in enumerate(fields)}
    plan.guards["header_fields"] = fields
    plan.guards["warnings"] = []
    plan.columns = []
    dates = _date_labels(plan.guards["parse_dates"], fields, plan)
    for i, (f, values) in enumerate(zip(fields, columns)):
        if f in dates:  # (read as ISO dates, or Unsupported: the read checks every one)
            if not iso_dates([v for v in values if v not in nulls]):
                raise Unsupported(f"column {f!r}: first values that are not all ISO dates")
            plan.columns.append(_Col(label=f, position=i, kind="date"))
            continue
        col = _Col(label=f, position=i, kind=_quick_kind(values, nulls))
        if col.kind == "text" and nrows == QUICK_ROWS and len(set(values)) > nrows // 2:
            col.out_of_line = True  # (mostly distinct: as _columns decides on the sample)
        plan.columns.append(col)
    plan.labels = _str_index(fields)


def _arrow_str() -> Any:
    """pandas' ``str`` dtype when it holds its texts in Arrow (pandas with pyarrow), else
    None.  (read_csv answers only with ``future.infer_string`` on: see _plan.)"""
    dtype = pandas.StringDtype(na_value=np.nan)
    return dtype if dtype.storage == "pyarrow" else None


def _str_index(labels: list[str]) -> pandas.Index:
    """``pandas.Index(labels)`` of texts, built from their bytes where pandas holds them
    in Arrow (pandas_columns.large_strings: no conversion of Python objects by Arrow)."""
    dtype = _arrow_str()
    if dtype is None:  # pragma: no cover - pandas stores str in Arrow where tested
        return pandas.Index(labels)
    from pandas.arrays import ArrowStringArray

    return pandas.Index(ArrowStringArray(large_strings(labels), dtype=dtype))


def _quick_check(plan: _Plan, table: Any, schema: Schema) -> None:
    """After the read of a call _quick_columns guessed: what the guess could not see
    (pandas_quick.check_float_columns)."""
    names = [c.name for c in schema.columns]
    floats = [np.asarray(table.array[names[c.position]]) for c in plan.columns
              if c.kind == "float"]
    check_float_columns(plan.guards["first_row"][0], floats)


def _date_labels(parse_dates: Any, labels: list[Any], plan: _Plan) -> list[Any]:
    """The labels of the columns parse_dates names (ISO dates only: see _schema)."""
    if parse_dates is None or parse_dates is False or (
        isinstance(parse_dates, (list, tuple)) and not parse_dates
    ):
        return []
    if not isinstance(parse_dates, (list, tuple)) or plan.backend is not None:
        raise Unsupported(f"parse_dates={parse_dates!r}")
    out = []
    for item in parse_dates:
        if isinstance(item, str) and labels.count(item) == 1:
            out.append(item)
        elif isinstance(item, int) and not isinstance(item, bool) and 0 <= item < len(labels):
            out.append(labels[item])
        else:
            raise Unsupported(f"parse_dates={parse_dates!r}")
    if _blank_beside(plan, plan.delimiter.encode() + b"\r\n" + (plan.quote or "").encode()):
        raise Unsupported("parse_dates with blanks beside fields")
    return out


def _plain(d: Any) -> Any:
    """The default-backend dtype a dtype_backend dtype stands for (the first guess)."""
    if isinstance(d, pandas.ArrowDtype):
        import pyarrow as pa

        t = d.pyarrow_dtype
        if pa.types.is_int64(t) or pa.types.is_null(t):
            return np.dtype("int64")
        if pa.types.is_float64(t):
            return np.dtype("float64")
        if pa.types.is_boolean(t):
            return np.dtype(bool)
        if pa.types.is_string(t) or pa.types.is_large_string(t):
            return pandas.StringDtype(na_value=np.nan)
        return d
    if isinstance(d, pandas.Int64Dtype):
        return np.dtype("int64")
    if isinstance(d, pandas.Float64Dtype):
        return np.dtype("float64")
    if isinstance(d, pandas.BooleanDtype):
        return np.dtype(bool)
    return d


def _distinct(values: pandas.Series) -> int:
    """How many distinct texts the sample's values of a column hold (NA and bools left
    out): Arrow's hash kernel where pandas keeps the column in Arrow, else a set."""
    if isinstance(values.dtype, pandas.StringDtype) and values.dtype.storage == "pyarrow":
        import pyarrow as pa

        return len(pa.array(values.array).drop_null().unique())
    return len({v for v in values.tolist() if isinstance(v, str)})


def _columns(plan: _Plan, opts: dict[str, Any], sample: pandas.DataFrame) -> None:
    """The columns of the result: labels, positions in the row, first guess of types."""
    raw = _first_row(plan)
    try:
        fields = [f.decode("utf-8") for f in raw]
    except UnicodeDecodeError:
        raise Unsupported("a header that is not UTF-8") from None
    plan.nfields = len(fields)
    names = unique_names(fields) if plan.header else [f"f{i}" for i in range(plan.nfields)]
    plan.guards["names"] = names
    plan.guards["positions"] = {n: i for i, n in enumerate(names)}
    if plan.guards["mi_header"]:  # (the header rows are cut: fields by position)
        sample = _mi_columns(plan, opts, sample)
    labels = list(sample.columns)
    usecols = opts["usecols"]
    lead = _leading_columns(plan, opts, sample)
    if lead:  # (the header row is cut: fields by position, the index first)
        sample = sample.reset_index(drop=False, names=[("\0lead", i) for i in range(lead)])
        labels = list(sample.columns)
        plan.nfields += lead
        names = [f"f{i}" for i in range(plan.nfields)]
        plan.guards["names"] = names
        plan.guards["positions"] = {n: i for i, n in enumerate(names)}
        plan.guards["lead"] = lead
        plan.dialect_extra["skip_rows"] = 1
    if usecols is None:
        if len(labels) != plan.nfields:
            raise Unsupported("rows and header of different lengths (an implied index)")
        positions = list(range(plan.nfields))  # labels as pandas spells them, in order
    else:
        if callable(usecols) or isinstance(usecols, (str, bytes)):
            raise Unsupported("this usecols")
        usecols = list(usecols)
        if plan.header and _mangled(fields):
            raise Unsupported("usecols with empty or repeated header names")
        if not plan.header and not all(isinstance(u, int) for u in usecols):
            raise Unsupported("usecols by name without a header row")
        if all(isinstance(u, str) for u in usecols):
            positions = sorted(fields.index(u) for u in set(usecols) if u in fields)
        elif all(isinstance(u, int) and not isinstance(u, bool) for u in usecols):
            positions = sorted({u for u in usecols if 0 <= u < plan.nfields})
        else:
            raise Unsupported("usecols mixing names and numbers")
        if len(positions) != len(labels) or (
            plan.header
            and opts["names"] in (None, _readers.lib.no_default)
            and [fields[p] for p in positions] != [str(x) for x in labels]
        ):
            raise Unsupported("usecols that pandas resolves otherwise")
    dtype = opts["dtype"]
    dates = _date_labels(opts["parse_dates"], labels, plan)
    cols = []
    for label, pos in zip(labels, positions):
        want = None
        if label in dates:
            if not str(sample[label].dtype) == "datetime64[us]":
                raise Unsupported(f"column {label!r}: dates pandas reads otherwise")
            if dtype is not None and (not isinstance(dtype, dict) or label in dtype):
                raise Unsupported("dtype for a parse_dates column")
            cols.append(_Col(label=label, position=pos, kind="date"))
            continue
        asked = None
        if dtype is not None:
            if isinstance(dtype, dict):  # (pandas: by name, else by place in the file)
                if label in dtype:
                    asked = dtype[label]
                elif pos in dtype:
                    asked = dtype[pos]
                    if _want_name(asked) == "object":
                        # (pandas gives its str dtype to an object asked by place)
                        raise Unsupported("dtype object asked by place in the file")
            else:
                asked = dtype
            if asked is not None:
                want = _want_name(asked)
        if want is not None:
            kind = _WANT[want][0]
            if plan.backend is not None and kind == "int" and want.islower():
                # (pandas makes 0 under int8 a float64 there; a dtype of another kind
                # it reads as without dtype_backend, as the columns do)
                raise Unsupported("a numpy int dtype with dtype_backend")
        else:
            d = _plain(sample[label].dtype)
            if d == np.dtype("int64"):
                kind = "int"
            elif d == np.dtype("float64"):
                kind = "float"
            elif d == np.dtype(bool) or isinstance(d, pandas.StringDtype):
                kind = "text"
            elif d == np.dtype(object) and all(
                isinstance(v, (str, bool)) or (isinstance(v, float) and v != v)
                for v in sample[label].tolist()
            ):
                kind = "text"  # (bools with NA, or texts)
            else:
                raise Unsupported(f"column {label!r} of type {d} in the first rows")
        col = _Col(label=label, position=pos, kind=kind, want=want)
        if want == "category":
            col.categorical = pandas.api.types.pandas_dtype(asked)
        if kind == "text" and want != "category" and len(sample) >= SAMPLE_ROWS:
            if _distinct(sample[label]) > len(sample) // 2:
                # mostly distinct: no dictionary, the values kept out of line (_schema)
                col.out_of_line = True
        cols.append(col)
    if isinstance(dtype, dict):  # (a column not read: pandas checks its dtype, no more)
        if lead and any(type(k) is int for k in dtype):
            raise Unsupported("dtype by place with an implied index")
        known = {c.label for c in cols} | {c.position for c in cols}
        for k, v in dtype.items():
            if k not in known:
                try:
                    pandas.api.types.pandas_dtype(v)
                except Exception:
                    raise Unsupported("dtype for a column not read") from None
    plan.columns = cols
    plan.labels = sample.columns if not lead else pandas.RangeIndex(plan.nfields)
    if plan.guards["mi_header"]:
        plan.labels = pandas.RangeIndex(plan.nfields)
    plan.guards["header_fields"] = fields


# -- reading ---------------------------------------------------------------------------


_SCHEMAS: dict[Any, Schema] = {}  # _schema's answers by what they are made of
_SCHEMAS_KEPT = 64


def _schema(plan: _Plan) -> Schema:
    """The schema the plan reads with; the same plan's parts give the same schema object,
    kept from an earlier call (a schema is frozen: its dtype, binding and parser specs
    are worked out once per object, not once per read of a small file)."""
    key: Any = (
        tuple(plan.guards["names"]),
        tuple((c.position, c.kind, c.out_of_line) for c in plan.columns),
        plan.delimiter, plan.quote, plan.header, bool(plan.guards.get("lead")), plan.nulls,
        tuple(sorted(plan.dialect_extra.items())),
    )
    try:
        got = _SCHEMAS.get(key)
    except TypeError:  # (an unhashable part: made afresh)
        return _make_schema(plan)
    if got is None:
        got = _make_schema(plan)
        if len(_SCHEMAS) >= _SCHEMAS_KEPT:
            _SCHEMAS.clear()
        _SCHEMAS[key] = got
    return got


def _make_schema(plan: _Plan) -> Schema:
    names = plan.guards["names"]
    by_pos = {c.position: c for c in plan.columns}
    out = []
    for i, n in enumerate(names):
        c = by_pos.get(i)
        if c is None:
            out.append(Column(n, "skip"))
        elif c.kind == "int":
            out.append(Column(n, "int64", nullable=True))
        elif c.kind == "float":
            out.append(Column(n, "float64", nullable=True))
        elif c.kind == "date":  # ISO dates only; pandas reads every one of them alike
            out.append(Column(n, "date", nullable=True))
        elif c.out_of_line:  # (each value its own length, no padding)
            out.append(Column(n, "text", nullable=True))
        else:
            out.append(Column(n, "category", nullable=True, max_values=CATEGORY_VALUES))
    dialect = Dialect(
        delimiter=plan.delimiter,
        quote=plan.quote,
        header="rename" if plan.header and not plan.guards.get("lead") else False,
        encoding="utf-8",
        null_values=plan.nulls,
        **plan.dialect_extra,
    )
    return Schema(columns=tuple(out), dialect=dialect)


def _verdict(value: str, plan: _Plan) -> str:
    """pandas' type for a column holding only ``value`` (no NA filtering): int, uint,
    float, bool or text (with the call's decimal and thousands)."""
    text = '"' + value.replace('"', '""') + '"\n'
    marks = {"decimal": plan.dialect_extra.get("decimal", "."),
             "thousands": plan.dialect_extra.get("thousands")}
    got = _original(io.StringIO("x\n" + text), na_filter=False, dtype=None, **marks)["x"].dtype
    if got == np.dtype("int64"):
        return "int"
    if got == np.dtype("uint64"):
        return "uint"
    if got == np.dtype("float64"):
        return "float"
    if got == np.dtype(bool):
        return "bool"
    return "text"


def _widen(plan: _Plan, e: ParseError) -> None:
    """Change the plan after fastetl refused a value, or Unsupported."""
    col = None
    pos = plan.guards["positions"].get(e.column) if e.column is not None else None
    if pos is not None:
        col = next((c for c in plan.columns if c.position == pos), None)
    if col is None:
        raise Unsupported(f"fastetl cannot read this file as pandas does ({e.reason})")
    reason = e.reason
    if col.kind == "text":
        if reason.startswith("would be value number"):  # too many values for a dictionary
            col.out_of_line = True
            return
        raise Unsupported(f"column {col.label!r}: {reason}")
    if col.kind == "date":
        raise Unsupported(f"column {col.label!r}: {e.value!r} is not an ISO date to fastetl")
    if col.want is not None:  # pandas raises for a value of the wrong type: let it say so
        raise Unsupported(f"column {col.label!r} {e.value!r} {reason}")
    value = e.value
    if value is None or len(value) >= 200:
        raise Unsupported(f"column {col.label!r}: a long value fastetl refuses")
    if not (
        reason.startswith("is not a valid")
        or reason.startswith("is out of range")
        or reason.startswith("is empty")
    ):
        raise Unsupported(f"column {col.label!r}: {reason}")
    if plan.guards["marks"] != ".":
        # pandas judges a lone value with these marks otherwise than in its column
        # ('10.00.00,00' is text alone, a float among '0,0'): no widening then
        raise Unsupported(f"column {col.label!r}: {value!r} with decimal or thousands")
    verdict = _verdict(value, plan)
    if col.kind == "int" and verdict == "float":
        col.kind = "float"
    elif verdict in ("bool", "text"):
        col.kind = "text"
    else:
        raise Unsupported(f"column {col.label!r}: {value!r} is {verdict} to pandas")


def _raw(plan: _Plan) -> Any:
    """The file's bytes, memory-mapped (for the checks that search them)."""
    if "raw" not in plan.guards:
        if plan.data is not None:
            plan.guards["raw"] = memoryview(plan.data)
            return plan.guards["raw"]
        with open(plan.path, "rb") as f:
            plan.guards["raw"] = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    return plan.guards["raw"]


RELEASE_BYTES = 32 << 20  # mapped bytes done with before the map lets go of them


def _let_go(plan: _Plan, upto: int | None = None) -> None:
    """Unmap the pages of the file's map before ``upto`` (None: all of them), at least
    RELEASE_BYTES at a time: the bytes stay in the page cache and come back on the next
    touch, but the file no longer counts in this process's resident memory (the whole
    file would, after a scan of it: a peak pandas, reading by blocks, does not have)."""
    raw = plan.guards.get("raw")
    dontneed = getattr(mmap, "MADV_DONTNEED", None)  # (not on Windows)
    if not isinstance(raw, mmap.mmap) or dontneed is None or not hasattr(raw, "madvise"):
        return
    done = plan.guards.get("let_go", 0)
    end = len(raw) if upto is None else upto - upto % mmap.PAGESIZE
    if upto is not None and end - done < RELEASE_BYTES:
        return
    start = 0 if upto is None else done  # (a read's progress: the pages before, let go)
    if end > start:
        raw.madvise(dontneed, start, end - start)
    plan.guards["let_go"] = 0 if upto is None else end


_WINDOW = 8 << 20  # bytes the checks below look at at once (bounded memory)


def _windows(plan: _Plan) -> Any:
    """(base, w, lo, hi): the file's bytes as uint8 in windows ``w = file[base:]``, each
    with 8 bytes of its neighbours on either side; positions lo <= p < hi of ``w`` are
    the window's own."""
    arr = np.frombuffer(_raw(plan), dtype=np.uint8)
    for s in range(0, len(arr), _WINDOW):
        base = max(0, s - 8)
        yield base, arr[base : s + _WINDOW + 8], s - base, s - base + _WINDOW


def _table(chars: bytes) -> np.ndarray:
    t = np.zeros(256, dtype=bool)
    t[list(chars)] = True
    return t


def _blank_beside(plan: _Plan, chars: bytes) -> bool:
    """True when a blank (space, tab) stands at the start or end of the file or beside
    one of ``chars``: the first, cheap stage of the checks below (one compiled pass)."""
    return bool(_core.blank_beside(_raw(plan), chars))


_BLANK_LINE = re.compile(
    rb"(?:^(?:\xef\xbb\xbf)?|(?<=\n)|(?<=\r)(?!\n))[ \t]*(?=\r|\n)|[\r\n][ \t]+$"
)


def _blank_lines_guard(plan: _Plan) -> None:
    """pandas skips a line of blanks; fastetl reads it as a row (a short one, filled with
    nulls): Unsupported when the file may have such a line.  With skip_blank_lines=False
    pandas keeps every blank line as a row of empty fields: _blank_rows writes them."""
    if not plan.guards["skip_blank_lines"]:
        if plan.dialect_extra.get("comment") is not None:
            raise Unsupported("skip_blank_lines=False with comments")
        if _BLANK_LINE.search(_raw(plan)):
            _blank_rows(plan)


_BLANKS_LINE = re.compile(
    rb"(?:^|\n)(?:\xef\xbb\xbf)?[ \t]+\r?(?:\n|$)|^(?:\xef\xbb\xbf)?\r?\n"
)


def _with_rows_at_empty_lines(raw: bytes, row: bytes) -> bytes:
    """``raw`` with ``row`` written at the start of each empty line (\n or \r\n) that
    follows a line end; found by bytes.find (in C), not a regex over the whole text."""
    parts = []
    done = 0
    nn = ncr = -2  # (the next "\n\n" and "\n\r\n" at or after pos; -1: none)
    pos = 0
    while True:
        if nn != -1 and nn < pos:
            nn = raw.find(b"\n\n", pos)
        if ncr != -1 and ncr < pos:
            ncr = raw.find(b"\n\r\n", pos)
        at = min((x for x in (nn, ncr) if x != -1), default=-1)
        if at == -1:
            break
        parts.append(raw[done:at + 1])
        parts.append(row)
        done = at + 1
        pos = at + 1  # (the empty line's own \n may begin the next pair)
    parts.append(raw[done:])
    return b"".join(parts)


def _blank_rows(plan: _Plan) -> None:
    """skip_blank_lines=False: each empty line below the first row written as the row of
    empty fields pandas makes of it (it fills a short row to the width of the one above,
    the header's: ``nfields - 1`` delimiters, or ``""`` for one field), so the core reads
    the nulls pandas gives.  Unsupported where a line break may sit inside quotes, or a
    line is of blanks, ends in a lone \\r, or is the first."""
    raw = bytes(_raw(plan))
    quote = plan.quote.encode() if plan.quote else None
    if (quote is not None and quote in raw) or _lone_cr(raw) or (
        plan.guards.get("lead") or plan.guards["mi_header"] or plan.guards["chunk"]
    ):
        raise Unsupported("skip_blank_lines=False with a blank line fastetl cannot place")
    # (the regex only over the first line, and over the rest where a line may begin with
    # a blank: bytes.find first, in C)
    first = raw[: raw.find(b"\n") + 1] if b"\n" in raw else raw
    if _BLANKS_LINE.search(first) or (
        (b"\n " in raw or b"\n\t" in raw) and _BLANKS_LINE.search(raw)
    ):
        raise Unsupported("skip_blank_lines=False with a line of blanks or a blank first line")
    if plan.nfields == 1 and quote is None:
        raise Unsupported("skip_blank_lines=False with a blank line in one unquoted column")
    row = quote * 2 if plan.nfields == 1 else plan.delimiter.encode() * (plan.nfields - 1)
    plan.data = _with_rows_at_empty_lines(raw, row)
    plan.path, plan.size = None, len(plan.data)
    plan.guards.pop("raw", None)


def _blank_scan(data: Any, lo: int, hi: int) -> bool:
    """The first stage of the blank-line check on the bytes ``data[lo:hi]`` (made on the
    read's workers, on each block's bytes while they are in memory)."""
    return bool(_core.blank_beside(data[lo:hi], b"\r\n"))


def _blank_lines_after(plan: _Plan, scans: list[tuple[int, int, bool]]) -> None:
    """The rest of _blank_lines_guard, after the read: the scans the workers made of the
    blocks' bytes, the bytes they did not see (the header, rows parsed again) scanned
    here; Unsupported when a line of blanks is found."""
    if plan.guards.get("blank_lines_checked"):  # (an earlier pass of _read saw it all)
        return
    raw = _raw(plan)
    n = len(raw)
    hit = False
    at = 0  # bytes before ``at`` are seen
    with memoryview(raw) as view:  # (slices of a view, not copies)
        for first, last, found in sorted(scans):
            hit = hit or found
            if first > at:
                hit = hit or _blank_scan(view, max(0, at - 1), min(n, first + 1))
            at = max(at, last)
            if hit:
                break
        if not hit and at < n:
            hit = _blank_scan(view, max(0, at - 1), n)
    if hit and re.search(rb"(?:^(?:\xef\xbb\xbf)?|[\r\n])[ \t]+(?:[\r\n]|$)", raw):
        # (a byte order mark before a first line of blanks: pandas skips that line too)
        raise Unsupported("a line of blanks, which pandas skips")
    plan.guards["blank_lines_checked"] = True


def _escape_guard(plan: _Plan) -> None:
    """An escape before a delimiter, quote, escape, comment mark or line break is read
    alike; before other bytes (letters of nan, digits ...) the raw-byte checks could
    miss what it hides: Unsupported."""
    escape = plan.dialect_extra.get("escape")
    if escape is not None:
        marks = plan.delimiter + (plan.quote or "") + escape + "\r\n"
        marks += plan.dialect_extra.get("comment") or ""
        pat = re.escape(escape.encode()) + b"(?:[^" + re.escape(marks.encode()) + b"]|$)"
        if re.search(pat, _raw(plan)):
            raise Unsupported("an escape before a byte that needs none")


def _comment_guard(plan: _Plan) -> None:
    """fastetl drops the blanks before a comment mark (and skips a line of blanks and a
    comment); pandas keeps them as text: Unsupported when a blank stands before one."""
    comment = plan.dialect_extra.get("comment")
    if comment is not None:
        raw = _raw(plan)
        mark = comment.encode()
        if re.search(rb"[ \t]" + re.escape(mark), raw):
            raise Unsupported("blanks before a comment mark (pandas keeps them)")
        if plan.quote is not None and re.search(re.escape(plan.quote.encode() + mark), raw):
            # (pandas takes the byte after a closing quote as text, even a mark)
            raise Unsupported("a comment mark just after a quote")


def _read(plan: _Plan, check_text: bool = True) -> Any:
    """The columns of the file under the plan's schema (a column widened and the file
    read again where a value does not fit it), and the schema.  ``check_text``: look
    for integers beyond int64 among the text columns' values (_big_ints), once per
    block and column over the passes."""
    passes = 3 * len(plan.columns) + 8
    for _ in range(passes):
        schema = _schema(plan)
        try:
            # a file is read through the map the checks opened: the page cache's own
            # pages, no copy into read buffers
            data = plan.data if plan.data is not None else _raw(plan) if plan.size else b""
            view = memoryview(data)
            marks = plan.guards["marks"][1:]
            if check_text:
                writer = ColumnWriter(
                    schema, scan=_blank_scan,
                    text_check=lambda chunk: _big_ints(*_buffers(chunk), marks),
                    size=view.nbytes, text_check_when=(19, _LONG_INT_LEAD),
                    checked=plan.guards.setdefault("text_checked", set()),
                    text_flags=plan.guards.get("text_flags"),
                )
            else:
                writer = ColumnWriter(schema, scan=_blank_scan, size=view.nbytes)
            _let_go(plan)
            try:
                meta = read_into(view, schema, writer, workers=_workers(plan.size),
                                 progress=lambda done: _let_go(plan, done))
            finally:
                _let_go(plan)
                try:
                    view.release()
                except BufferError:  # pragma: no cover - an export outlived the read: GC
                    pass
            _blank_lines_after(plan, writer.scans)
            return writer.columns(meta), schema
        except ParseError as e:
            if check_text:  # (what this pass found stays found)
                plan.guards["text_flags"] = set(writer.text_flags)
            # (a line of blanks may be the bad row: pandas skips it, so the blank-line check,
            # which the read had not finished, comes first)
            _blank_lines_after(plan, [])
            _widen(plan, e)
        except SchemaError as e:  # pragma: no cover - the plan makes valid schemas
            raise Unsupported(str(e)) from None
    raise Unsupported("too many passes")  # pragma: no cover


def _workers(size: int) -> int | None:
    """Threads for an input of ``size`` bytes: one below SMALL_INPUT (a thread costs
    more than it saves there), else one per core."""
    return 1 if size < SMALL_INPUT else None


# -- from fastetl's records to pandas ---------------------------------------------------


def _buffer_lines(nfields: int) -> int:
    """Rows in one chunk of pandas' low_memory reading (pandas' own heuristic)."""
    heuristic = (1 << 20) // max(1, nfields)
    lines = 1
    while lines * 2 < heuristic:
        lines *= 2
    return lines


_MAYBE_NOT_TEXT = re.compile(
    r"\s*[+\-]?(?:\d*\.?\d*(?:[eE][+\-]?\d*)?|inf(?:inity)?|nan)\s*", re.IGNORECASE
)


def _not_text(value: str, marks: str = "") -> bool:
    """True unless ``value`` is surely text to pandas (not a number, a bool, a NA);
    ``marks``: decimal and thousands marks a number may hold too."""
    if marks.strip("."):
        value = value.translate({ord(m): None for m in marks})
    return (
        _MAYBE_NOT_TEXT.fullmatch(value) is not None
        or value.strip().lower() in _BOOLS
    )


def _every_chunk_has(plan: _Plan, mask: np.ndarray) -> bool:
    """True when every chunk pandas' low_memory reading may cut holds a True of ``mask``."""
    n = len(mask)
    step = max(1, _buffer_lines(plan.nfields) // 2)
    if not plan.low_memory or n <= step:
        return True
    ends = np.arange(0, n, step)
    return bool(np.logical_or.reduceat(mask, ends).all())


def _null_guard(plan: _Plan) -> None:
    """Unsupported when the file may hold a field that fastetl reads as null in a number
    column and pandas does not: a null marker (or nothing) with blanks around it, or
    a spelling of nan that is not one of the null markers (fastetl's float converter
    reads every nan; pandas' reads none)."""
    d, q = plan.delimiter.encode(), (plan.quote or "").encode()
    if _blank_beside(plan, d + q + b"\r\n"):
        tokens = "|".join(re.escape(t) for t in plan.nulls if t)
        inner = rf"[ \t]+(?:{tokens})?[ \t]*|(?:{tokens})[ \t]+" if tokens else r"[ \t]+"
        dd = re.escape(plan.delimiter)
        qq = re.escape(plan.quote) + "?" if plan.quote else ""
        pat = rf"(?:^|{dd}|\n){qq}(?:{inner}){qq}(?:{dd}|\r|\n|$)"
        if re.search(pat.encode(), _raw(plan)):
            raise Unsupported("a null marker with blanks around it")
    allowed = [
        t.encode() for t in plan.nulls if re.fullmatch(r"[+\-]?nan", t, re.IGNORECASE)
    ]
    keys = np.array([_nan_key(t) for t in allowed], dtype=np.int64)
    edge = _table(d + q + b"\r\n \t")
    sign = _table(b"+-")
    size = len(_raw(plan))
    for base, w, lo, hi in _windows(plan):
        low = w | np.uint8(0x20)
        p = np.flatnonzero((low[:-2] == 110) & (low[1:-1] == 97) & (low[2:] == 110))
        p = p[(p >= lo) & (p < hi)]
        if not len(p):
            continue
        signed = np.zeros(len(p), dtype=bool)
        ok = p > 0
        signed[ok] = sign[w[p[ok] - 1]]
        first = p - signed
        before = np.ones(len(p), dtype=bool)  # a field's first byte, or blank before it
        inner = first > 0
        before[inner] = edge[w[first[inner] - 1]]
        after = np.ones(len(p), dtype=bool)
        inside = p + 3 < len(w)
        after[inside] = edge[w[p[inside] + 3]]
        after[~inside] = base + p[~inside] + 3 >= size
        hit = before & after
        if not hit.any():
            continue
        p, signed = p[hit], signed[hit]
        key = (w[p].astype(np.int64) << 16) | (w[p + 1].astype(np.int64) << 8) | w[p + 2]
        sgn = np.zeros(len(p), dtype=np.int64)
        sgn[signed] = w[p[signed] - 1]
        key |= sgn << 24
        if not np.isin(key, keys).all():
            raise Unsupported("a spelling of nan that pandas does not read as NaN")


def _nan_key(t: bytes) -> int:
    sgn = t[0] if t[:1] in (b"+", b"-") else 0
    word = t[-3:]
    return (sgn << 24) | (word[0] << 16) | (word[1] << 8) | word[2]


_NUMBER_BYTES = _table(b"0123456789+-.eE \t\0")
_SIGN_AFTER = _table(b"eE \t")


def _surely_text(raw: np.ndarray, marks: str = "") -> np.ndarray:
    """For fixed-width UTF-8 values (numpy S, contiguous): True where the value cannot
    be a number, a bool or nan/inf to pandas.  Such a value starts with something else
    than a digit, sign, point or blank and not with inf, nan, true or false (any case),
    or has a byte no number has, or a sign that is not first nor after an exponent or a
    blank (2024-01-31)."""
    grid = raw.view(np.uint8).reshape(len(raw), raw.dtype.itemsize)
    lead = grid[:, 0]
    number_bytes = _NUMBER_BYTES | _table(marks.encode()) if marks else _NUMBER_BYTES
    numeric_lead = number_bytes[lead] & (lead != 0)
    low = grid[:, :5] | np.uint8(0x20)  # ASCII letters in lower case
    word = np.zeros(len(grid), dtype=bool)
    for w in (b"inf", b"nan", b"true", b"false"):
        if grid.shape[1] >= len(w):
            word |= (low[:, : len(w)] == np.frombuffer(w, dtype=np.uint8)).all(axis=1)
    other = ~number_bytes[grid].all(axis=1)
    signs = (grid[:, 1:] == 43) | (grid[:, 1:] == 45)
    misplaced = (signs & ~_SIGN_AFTER[grid[:, :-1]]).any(axis=1)
    return (~numeric_lead & ~word & (lead != 0)) | (numeric_lead & (other | misplaced))


_BIG_INT = re.compile(r"\s*[+\-]?\d{19,}\s*")
_DIGITS = _table(b"0123456789")
_LONG_INT_LEAD = b"0123456789+- "  # how an integer of 19 digits or more may start
_NUMBER_LEAD = _table(_LONG_INT_LEAD)


def _fixed(offsets: np.ndarray, data: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The values ``rows`` of an Arrow string column (its ``offsets`` and ``data``) as a
    contiguous numpy S array, NUL-padded (what the checks below read), no Python object
    per value."""
    starts, lengths = offsets[rows], offsets[rows + 1] - offsets[rows]
    width = max(1, int(lengths.max(initial=0)))
    grid = np.zeros((len(rows), width), np.uint8)
    keep = np.arange(width)[None, :] < lengths[:, None]
    grid[keep] = data[(starts[:, None] + np.arange(width)[None, :])[keep]]
    return grid.view(f"S{width}").reshape(len(rows))


def _big_ints(offsets: np.ndarray, data: np.ndarray, marks: str = "") -> bool:
    """True when a value of an Arrow string column is an integer of 19 digits or more:
    pandas reads a column holding one in ways of its own (uint64, Python ints, '' for NA)."""
    if not len(data) or len(offsets) < 2:
        return False
    # the first byte of every value first (one gather: free text mostly starts with a
    # letter), then the length of the few that start like a number
    first = data[np.minimum(offsets[:-1], len(data) - 1)]
    rows = np.flatnonzero(_NUMBER_LEAD[first])
    rows = rows[offsets[rows + 1] - offsets[rows] >= 19]
    if not len(rows):
        return False
    sub = _fixed(offsets, data, rows)
    grid = sub.view(np.uint8).reshape(len(sub), sub.dtype.itemsize)
    digits = _DIGITS[grid] | (grid == 0) | (grid == 43) | (grid == 45) | (grid == 32)
    if marks:  # (a thousands separator: a big integer spelled in groups)
        digits |= _table(marks.encode())[grid]
    return bool(digits.all(axis=1).any())


def _buffers(strings: Any) -> tuple[np.ndarray, np.ndarray]:
    """(offsets, data) of an Arrow large_string array, as numpy (no copy)."""
    _, off, data = strings.buffers()
    offsets = np.frombuffer(off, np.int64)[strings.offset : strings.offset + len(strings) + 1]
    return offsets, (np.zeros(0, np.uint8) if data is None else np.frombuffer(data, np.uint8))


def _chunks_proven(plan: _Plan, strings: Any, nulls: np.ndarray | None) -> bool:
    """True when every chunk pandas' low_memory reading may cut from this text column
    (an Arrow ChunkedArray) holds a value that is surely text (so pandas types each
    chunk as text too)."""
    n = len(strings)
    step = max(1, _buffer_lines(plan.nfields) // 2)
    if not plan.low_memory or n <= step:
        return True
    true, false = plan.guards["bool_words"]
    words = [w.encode() for w in true | false]

    def fixed(a: int, b: int) -> np.ndarray:
        return _fixed(*_buffers(strings.slice(a, b - a).combine_chunks()), np.arange(b - a))

    def sure(raw: np.ndarray, nul: np.ndarray | None) -> np.ndarray:
        out = _surely_text(raw, plan.guards["marks"])
        if words:
            out &= ~np.isin(raw, np.array(words, dtype=f"S{max(map(len, words))}"))
        if nul is not None:
            out &= ~nul
        return out

    # (this runs on the calling thread after the read) a look at the first 32 rows of
    # every chunk, all chunks in one pass, then at the first 256 of the chunks where none
    # of those was surely text, then at the whole of those still unproven, one chunk at
    # a time: the first that is not proven settles it (no copy of all the rest)
    todo = list(range(0, n, step))
    for rows in (32, 256):
        looks = [(lo, min(n, lo + step, lo + rows)) for lo in todo]
        seen = sure(
            np.concatenate([fixed(a, b) for a, b in looks]),
            None if nulls is None else np.concatenate([nulls[a:b] for a, b in looks]),
        )
        found = np.logical_or.reduceat(seen, np.cumsum([0] + [b - a for a, b in looks[:-1]]))
        todo = [lo for lo, ok in zip(todo, found) if not ok]
        if not todo:
            return True
    for lo in todo:
        hi = min(n, lo + step)
        if not sure(fixed(lo, hi), None if nulls is None else nulls[lo:hi]).any():
            return False
    return True


def _have_arrow() -> bool:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return False
    return True


def _text_array(values: Any, want: str | None, backend: str | None = None) -> Any:
    """pandas' array for a text column from an Arrow string array."""
    if backend == "pyarrow":
        import pyarrow as pa

        return pandas.arrays.ArrowExtensionArray(values.cast(pa.string()))
    if backend == "numpy_nullable":
        want = "string"
    if want in (None, "str"):
        dtype = _arrow_str()
    elif want == "string":
        dtype = pandas.StringDtype()
        dtype = dtype if dtype.storage == "pyarrow" else None
    else:  # object
        out = np.asarray(values.to_numpy(zero_copy_only=False), dtype=object)
        out[np.asarray(values.is_null())] = np.nan
        return out
    if dtype is None:  # pragma: no cover - pandas stores str in Arrow here
        raise Unsupported("pandas stores strings without pyarrow")
    from pandas.arrays import ArrowStringArray

    return ArrowStringArray(values, dtype=dtype)


def _text(plan: _Plan, table: Any, col: _Col, name: str, c: Column) -> Any:
    """A text column: bools where pandas makes them bools, else strings."""
    nulls = table.null_mask(name)
    has_null = table.has_nulls(name)
    if c.type == "category":
        values = table.meta["categories"][name]
        codes = np.asarray(table.array[name])  # (unsigned, as stored; 0 where null)
        true, false = plan.guards["bool_words"]
        if col.want is None and values and all(
            v.lower() in _BOOLS or v in true or v in false for v in values
        ):
            truth = np.array([v.lower() == "true" or v in true for v in values])[codes]
            if not _every_chunk_has(plan, ~nulls):
                raise Unsupported(f"column {col.label!r}: pandas' chunks would mix types")
            if plan.backend is not None:
                return _nullable(plan.backend, truth, nulls)
            if not has_null:
                return truth
            out = truth.astype(object)
            out[nulls] = np.nan
            return out
        marks = plan.guards["marks"]
        cut = {ord(m): None for m in marks[1:]}  # (the thousands separator)
        if any(_BIG_INT.fullmatch(v.translate(cut)) for v in values):
            raise Unsupported(f"column {col.label!r}: integers beyond int64 among texts")
        if col.want is None:
            surely = np.array(
                [not (_not_text(v, marks) or v in true or v in false) for v in values]
                + [False]
            )
            if values and surely[:-1].all():
                # every value is surely text: so is each row but the nulls (no gather
                # of a bool per row by its code)
                proven = not has_null or _every_chunk_has(plan, ~nulls)
            else:
                sure = surely[codes]
                if has_null:
                    sure &= ~nulls
                proven = _every_chunk_has(plan, sure)
            if not proven:
                raise Unsupported(f"column {col.label!r}: pandas' chunks would mix types")
        if col.want == "category":
            return _categorical(plan, col, values, codes.astype(np.int64), nulls)
        if not _have_arrow():  # pragma: no cover - pyarrow is installed where tested
            raise Unsupported("text columns without pyarrow")
        # the values by code, in one compiled pass (no Arrow take of int64 indices), on
        # every core: after the read, nothing else is left to do
        offsets, data = utf8_buffers(values)
        strings = codes_strings(offsets, data, codes, nulls if has_null else None, cpu_count())
        return _text_array(strings, col.want, None if col.want else plan.backend)
    if not _have_arrow():  # pragma: no cover
        raise Unsupported("wide text without pyarrow")
    strings = table.strings(name)
    if table.text_flags is not None:  # (checked chunk by chunk during the read)
        big = name in table.text_flags
    else:
        big = any(_big_ints(*_buffers(c), plan.guards["marks"][1:]) for c in strings.chunks)
    if big:
        raise Unsupported(f"column {col.label!r}: integers beyond int64 among texts")
    if col.want is None and not _chunks_proven(plan, strings, nulls if has_null else None):
        raise Unsupported(f"column {col.label!r}: pandas' chunks could mix types")
    if col.want == "category":
        raise Unsupported("a category of more than 65,536 values")
    return _text_array(strings, col.want, None if col.want else plan.backend)


def _categorical(
    plan: _Plan, col: _Col, values: list[str], codes: np.ndarray, nulls: np.ndarray
) -> Any:
    """dtype="category" (or a CategoricalDtype): pandas' own helpers make the categories
    from the dictionary -- numbers or bools where they all are (pandas 3.1), sorted; or
    the categories asked for -- and fastetl's codes are recoded to them."""
    true, false = plan.guards["bool_words"]
    cats = pandas.Index(values)
    codes_n = codes.copy()
    codes_n[nulls] = -1
    dtype = col.categorical
    if dtype.categories is None:
        converted = pandas.Categorical._maybe_convert_categories(
            cats,
            true_values=sorted(true) or None,
            false_values=sorted(false) or None,
            convert_numeric=plan.guards["marks"] == ".",
            convert_bool=True,
            bool_case_insensitive=True,
        )
        return pandas.Categorical._from_converted_categories(
            cats if converted is None else converted, codes_n, ordered=dtype.ordered
        )
    # (pandas' C parser adds the words given to the default true words)
    words = ["True", "TRUE", "true", *sorted(true)] if true else None
    return pandas.Categorical._from_inferred_categories(cats, codes_n, dtype, true_values=words)


def _nullable(backend: str, values: np.ndarray, nulls: np.ndarray) -> Any:
    """A column of dtype_backend="numpy_nullable" (Int64, Float64, boolean) or
    "pyarrow" (int64, double, bool, and null for a column of nothing but NA)."""
    if backend == "pyarrow":
        import pyarrow as pa

        if len(values) and nulls.all():
            arr = pa.nulls(len(values))
        else:
            arr = pa.array(values, mask=nulls if nulls.any() else None)
        return pandas.arrays.ArrowExtensionArray(arr)
    values = np.ascontiguousarray(values)
    if values.dtype == np.dtype("int64"):
        return pandas.arrays.IntegerArray(values.copy(), nulls.copy())
    if values.dtype == np.dtype("float64"):
        out = values.copy()
        out[nulls] = 0.0
        return pandas.arrays.FloatingArray(out, nulls.copy())
    return pandas.arrays.BooleanArray(values.copy(), nulls.copy())


def _marks_float_guard(plan: _Plan) -> bool:
    """True when fastetl's floats are pandas' for this file; False when the float columns
    need pandas' own rounding (:func:`_pandas_floats`).  How pandas rounds is checked
    once per set of options (pandas_floats.rounding): pandas 3.1 reads numbers without
    a thousands mark correctly rounded, under every float_precision; with one, its parser
    (precise_xstrtod) is exact where one multiplication or division by a power of ten
    is: at most 15 digits and an exponent of one digit, else it rounds its own way,
    which pandas_floats.xstrtod repeats.  An older pandas' "legacy" scales by the
    powers 10, 100, 1e4, 1e8, 1e16 in turn: exact where the number's exponent (after its fraction digits) is 0 or one
    of those, which is checked number by number (in Python: files up to LEGACY_BYTES).
    Unsupported where none of this proves the frames equal."""
    precision = plan.guards["precision"]
    decimal, thousands = plan.guards["marks"][0], plan.guards["marks"][1:] or None
    rounding = pandas_floats.rounding(precision, decimal, thousands)
    if rounding == "nearest":
        return True
    marks = re.escape(plan.guards["marks"].encode())
    raw = _raw(plan)
    # (xstrtod: an exponent of one digit may still scale by 10**23 or more, inexact)
    exponent = rb"[eE][+-]?[0-9]" if rounding == "xstrtod" else rb"[eE][+-]?[0-9]{2}"
    if re.search(rb"(?:[0-9][" + marks + rb"]?){16}", raw) or re.search(exponent, raw):
        if rounding == "xstrtod":
            return False
        raise Unsupported("floats beyond 15 digits (pandas rounds them its own way)")
    if rounding == "xstrtod" or precision != "legacy":
        return True
    if len(raw) > LEGACY_BYTES:
        raise Unsupported("float_precision='legacy' on a file over 1 MiB")
    dec = re.escape(plan.guards["marks"][0].encode())
    number = rb"[0-9]*(?:" + dec + rb"([0-9]*))?(?:[eE]([+-]?[0-9]))?"
    for m in re.finditer(number, bytes(raw)):
        power = abs(int(m.group(2) or 0) - len(m.group(1) or b""))
        if power & (power - 1):
            raise Unsupported("float_precision='legacy' scaling a number twice")
    return True


def _float_texts(plan: _Plan) -> Any:
    """The file read again with only its float columns, as text (for pandas' rounding;
    no text check: these are numbers)."""
    twin = replace(
        plan,
        columns=[replace(c, kind="text", out_of_line=True) for c in plan.columns
                 if c.kind == "float"],
    )
    return _read(twin, check_text=False)[0]


def _pandas_floats(plan: _Plan, texts: Any, name: str, values: np.ndarray) -> np.ndarray:
    """``values`` (a float column, correctly rounded) as pandas rounds them with the
    call's decimal/thousands marks: the numbers of more than 15 characters or with an
    exponent again, by pandas_floats.xstrtod from their text."""
    import pyarrow.compute as pc

    strings = texts.strings(name)  # text columns come out of line, as Arrow strings
    long = pc.or_(pc.greater(pc.utf8_length(strings), 15),
                  pc.match_substring(strings, "e", ignore_case=True))
    todo = ~texts.null_mask(name) & long.to_numpy(zero_copy_only=False).astype(bool)
    if not todo.any():
        return values
    decimal, thousands = plan.guards["marks"][0], plan.guards["marks"][1:] or None
    out = values.copy()
    where = np.flatnonzero(todo)
    for i, text in zip(where, strings.take(where).to_pylist(), strict=True):
        got = pandas_floats.xstrtod(text, decimal, thousands)
        if got is None:
            if not np.isnan(values[i]) and not np.isinf(values[i]):
                raise Unsupported(f"{text!r} is a float to fastetl, not to pandas' parser")
            continue  # (nan, inf: pandas' own words, read alike)
        out[i] = got
    return out


def _cast(col: _Col, raw: np.ndarray, nulls: np.ndarray) -> Any:
    """An int64 column as the integer dtype asked for (numpy's, or pandas' nullable
    Int8 ... UInt64); where pandas refuses (NA in a numpy integer column, a value out
    of range) its own error is the answer (_PandasSays)."""
    target = np.dtype(col.want.lower())
    values = raw[~nulls]
    info = np.iinfo(target)
    if len(values) and (values.min() < info.min or values.max() > info.max):
        raise _PandasSays()
    if col.want[0].isupper():
        out = raw.astype(target)
        out[nulls] = 0
        return pandas.arrays.IntegerArray(out, nulls.copy())
    if nulls.any():
        raise _PandasSays()
    return raw.astype(target)


def _frame(plan: _Plan, table: Any, schema: Schema) -> pandas.DataFrame:
    texts = None  # the float columns as text, where pandas rounds them its own way
    if any(c.kind == "float" for c in plan.columns) and (
        plan.guards["marks"] != "." or plan.guards["precision"] not in (None, "high", "round_trip")
    ) and not _marks_float_guard(plan):
        texts = _float_texts(plan)
    by_pos = {i: c for i, c in enumerate(schema.columns)}
    data = {}
    guarded = False
    for k, col in enumerate(plan.columns):
        c = by_pos[col.position]
        name = c.name
        if col.kind == "text":
            data[k] = _text(plan, table, col, name, c)
            continue
        raw = np.asarray(table.array[name])
        if col.kind == "date":
            data[k] = raw.astype("M8[us]")
            continue
        if col.kind == "float":
            if texts is not None:
                raw = _pandas_floats(plan, texts, name, raw)
            # (floats keep no null bits: a null is a NaN, which _pandas_floats keeps)
            has_nan = table.has_nulls(name)
            floats = plan.guards["na_floats"]
            if len(floats):  # (numbers pandas reads as NA by value: -999.000 for -999)
                hit = np.isin(raw, floats)
                if hit.any():
                    # pandas compares by value only where its int parse failed (a
                    # fraction in the column): a column of whole numbers is unclear
                    whole = raw[~np.isnan(raw)]
                    if (whole == np.floor(whole)).all():
                        raise Unsupported(f"column {col.label!r}: a numeric NA among whole numbers")
                    raw = np.where(hit, np.nan, raw)
                    has_nan = True
            if has_nan and not guarded:
                _null_guard(plan)
                guarded = True
            nan = np.isnan(raw) if has_nan else np.zeros(len(raw), bool)
            if plan.backend is not None and col.want is None:  # (a dtype asked for wins)
                if nan.all():  # pandas: a column of nothing but NA is Int64 / null
                    data[k] = _nullable(plan.backend, np.zeros(len(raw), np.int64), nan)
                else:
                    data[k] = _nullable(plan.backend, raw, nan)
                continue
            if col.want in ("Float32", "Float64"):
                if not plan.nulls:  # (a nan read as a value: pandas' mask may differ)
                    raise Unsupported(f"dtype {col.want} with na_filter=False")
                data[k] = pandas.arrays.FloatingArray(
                    raw.astype(col.want.lower()), nan.copy()
                )
                continue
            data[k] = raw if col.want is None else raw.astype(col.want)
            continue
        nulls = table.null_mask(name)
        has_null = table.has_nulls(name)
        if has_null and not guarded:
            _null_guard(plan)
            guarded = True
        if plan.backend is not None and col.want is None:
            data[k] = _nullable(plan.backend, raw, nulls)
            continue
        if col.want not in (None, "int64", "Int64"):
            data[k] = _cast(col, raw, nulls)
            continue
        if has_null:
            if col.want == "int64":  # pragma: no cover - fastetl refuses first
                raise Unsupported("NA in an int64 column")
            if col.want == "Int64":
                data[k] = pandas.arrays.IntegerArray(raw.copy(), nulls.copy())
                continue
            if np.abs(raw[~nulls]).max(initial=0) > EXACT_INT_FLOAT:
                raise Unsupported("integers beyond 2**53 in a column with NA")
            out = raw.astype(np.float64)
            out[nulls] = np.nan
            data[k] = out
        elif col.want == "Int64":
            data[k] = pandas.arrays.IntegerArray(raw.copy(), np.zeros(len(raw), dtype=bool))
        else:
            data[k] = raw
    for k, v in data.items():  # object arrays stay object (pandas 3 would infer str)
        if isinstance(v, np.ndarray) and v.dtype == object:
            data[k] = pandas.Series(v, dtype=object, copy=False)
    _let_go(plan)  # (after the checks above that scan the file)
    df = pandas.DataFrame(data, copy=False)
    df.columns = plan.labels
    return df


def _answer(opts: dict[str, Any], replay: dict[str, Any]) -> pandas.DataFrame:
    plan = _plan(opts, replay)
    df = None
    if _quick_applies(plan, opts):
        quick = replace(plan, guards=dict(plan.guards, parse_dates=opts["parse_dates"]),
                        dialect_extra=dict(plan.dialect_extra))
        try:
            df = _answer_plan(quick, opts, quick=True)
            plan = quick
        except (Unsupported, _PandasSays):
            pass  # (pandas' sample decides, as for any other call)
    if df is None:
        df = _answer_plan(plan, opts, quick=False)
    for w in plan.guards["said"] + plan.guards.get("warnings", []):  # (at read_csv's caller)
        warnings.warn(w.message, w.category, stacklevel=3)
    return df


def _answer_plan(plan: _Plan, opts: dict[str, Any], quick: bool) -> pandas.DataFrame:
    """The frame of a planned call: the columns from pandas' sample (_guess) or, where
    ``quick``, from the first rows (_quick_columns)."""
    try:
        if quick:
            sample = None
            _quick_columns(plan)
        else:
            sample = _guess(plan, opts)
            _columns(plan, opts, sample)
        if not plan.columns:
            raise Unsupported("no columns")
        index = [] if plan.guards["mi_header"] else _index_labels(plan, opts["index_col"])
        _blank_lines_guard(plan)
        _comment_guard(plan)
        _escape_guard(plan)
        table, schema = _read(plan)
        if quick:
            _quick_check(plan, table, schema)
        if len(table) == 0:
            # no data rows: pandas' reading of the header (the sample) is all there is
            if sample is None or len(sample) != 0:
                raise Unsupported("no data rows to fastetl, some to pandas")
            df = sample
        else:
            df = _frame(plan, table, schema)
            if plan.guards.get("lead"):
                df = _lead_index(df, plan.guards["lead"], sample.columns)
            if plan.guards["mi_header"]:
                df = _mi_frame(df, plan, sample)
    finally:
        raw = plan.guards.pop("raw", None)
        if isinstance(raw, mmap.mmap):
            try:
                raw.close()
            except BufferError:  # pragma: no cover - a view outlived its check: GC closes it
                pass
    if index:
        df = _set_index(df, plan, index)
    return df


def _index_labels(plan: _Plan, index_col: Any) -> list[Any]:
    """The labels of the columns that index_col makes the index (in its order)."""
    if index_col is None or index_col is False:
        return []
    items = list(index_col) if isinstance(index_col, (list, tuple)) else [index_col]
    labels = list(plan.labels)
    out = []
    for item in items:
        if isinstance(item, bool):
            raise Unsupported(f"index_col={index_col!r}")
        if isinstance(item, int):
            if not 0 <= item < len(labels):
                raise Unsupported(f"index_col={index_col!r}")
            out.append(labels[item])
        elif item in labels and labels.count(item) == 1:
            out.append(item)
        else:
            raise Unsupported(f"index_col={index_col!r}")
    if len(set(map(repr, out))) != len(out) or len(out) == len(labels):
        raise Unsupported(f"index_col={index_col!r}")
    return out


def _set_index(df: pandas.DataFrame, plan: _Plan, index: list[Any]) -> pandas.DataFrame:
    """index_col: pandas names an index column without a header name None (one the
    names given name is named so)."""
    fields = plan.guards["header_fields"]
    for label in index:  # pandas makes an index its own way: the plain types only
        d = df[label].dtype
        if not len(df):
            continue  # (an empty index: pandas' own, from the header)
        if not (d == np.dtype("int64") or d == np.dtype("float64") or d == "str"):
            raise Unsupported(f"an index column of type {d}")
    out = df.set_index(index)
    if plan.header and not plan.guards.get("named"):
        names = []
        for label in index:
            pos = next(c.position for c in plan.columns if c.label == label)
            names.append(None if fields[pos] == "" else label)
        if len(index) == 1:
            out.index.name = names[0]
        else:
            out.index.names = names
    return out


def _asked_once(skip: Callable[[int], Any]) -> Callable[[int], Any]:
    """The skiprows function ``skip``, each of whose answers (or exception) for rows
    0, 1, 2, ... is kept and given again: where the own path gives up after asking it,
    pandas asks it no row twice."""
    answers: list[Any] = []
    failed: list[BaseException] = []

    def asked(row: int) -> Any:
        if row < len(answers):
            return answers[row]
        if failed and row == len(answers):
            raise failed[0]
        try:
            answer = skip(row)
        except Exception as e:
            if row == len(answers):
                failed.append(e)
            raise
        if row == len(answers):
            answers.append(answer)
        return answer

    return asked


def read_csv(*args: Any, **kwargs: Any) -> Any:
    """``pandas.read_csv``, answered by fastetl where it gives the same frame (see the
    module's documentation); otherwise pandas answers, under the fallback policy."""
    if _FAST_BIND and len(args) == 1 and _KEYWORDS.issuperset(kwargs):  # (no binding)
        opts = {**_DEFAULTS, **kwargs, "filepath_or_buffer": args[0]}
    else:
        try:
            bound = SIGNATURE.bind(*args, **kwargs)
        except TypeError:
            return _original(*args, **kwargs)  # pandas says what is wrong with the call
        bound.apply_defaults()
        opts = dict(bound.arguments)
    replay: dict[str, Any] = {}
    if callable(opts["skiprows"]):
        opts["skiprows"] = _asked_once(opts["skiprows"])
    try:
        if opts["chunksize"] is not None or opts["iterator"]:
            from .pandas_chunks import TextFileReader

            return TextFileReader(opts, opts["chunksize"], replay)
        return _answer(opts, replay)
    except (_PandasSays, Unsupported) as e:
        if replay:  # a file object was read: pandas gets it back as it was
            if replay["pos"] is not None:
                replay["src"].seek(replay["pos"])
            if args:
                args = (replay["src"], *args[1:])
            else:
                kwargs = {**kwargs, "filepath_or_buffer": replay["src"]}
        if callable(kwargs.get("skiprows")):  # (the answers given: not asked again)
            kwargs = {**kwargs, "skiprows": opts["skiprows"]}
        if isinstance(e, Unsupported):
            return fall_back(NAME, str(e), _original, *args, **kwargs)
        if e.error is not None:
            raise e.error from None
        # pandas refuses the call, it seems: its own exception is the answer; if it
        # answers after all, that answer is a fallback like any other
        result = _original(*args, **kwargs)

        def answered(*_a: Any, **_k: Any) -> Any:
            return result

        answered.__module__, answered.__qualname__ = _original.__module__, _original.__qualname__
        return fall_back(NAME, "pandas read the input as given", answered)


read_csv.__signature__ = SIGNATURE  # type: ignore[attr-defined]
# read_csv(path, **keywords) binds as this, without inspect's binding: where pandas'
# path is its only positional parameter and every other one is keyword-only, with a
# default (else bind() is used for every call)
_DEFAULTS = {k: p.default for k, p in SIGNATURE.parameters.items()}
_KEYWORDS = frozenset(list(_DEFAULTS)[1:])
_FAST_BIND = [p.kind for p in SIGNATURE.parameters.values()] == [
    inspect.Parameter.POSITIONAL_OR_KEYWORD
] + [inspect.Parameter.KEYWORD_ONLY] * len(_KEYWORDS) and all(
    _DEFAULTS[k] is not inspect.Parameter.empty for k in _KEYWORDS
)

__all__ = ["PENDING_DIALECT", "read_csv"]
