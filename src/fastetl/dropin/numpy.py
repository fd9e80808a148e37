"""``fastetl.loadtxt`` and ``fastetl.genfromtxt``: numpy's readers, answered by the core.

Both take the installed numpy's signature and return what numpy returns: the
same dtype, shape and values (floats bit for bit), the same exception where
numpy refuses.  A call runs on fastetl's own path when its translation into a
full schema (nothing sniffed) and a few cheap, exact byte-level steps gives
exactly numpy's answer; anything else goes to numpy itself through the
fallback policy (:mod:`.fallback`), with the reason from :data:`FALLBACK`.

The common loadtxt call -- a plain file path, a float or signed integer dtype, one
delimiter or runs of spaces, ``comments="#"`` or None, no ``quotechar`` or
``max_rows`` -- skips the byte preparation below: the file is read once, piece by piece
on all threads (``api.read_records``), each piece checked and parsed with the core's own
``comment`` and ``skip_rows`` options straight into the result, and N float64 fields are
viewed as the 2-D result without a copy (:func:`_loadtxt_path`).  A file it cannot
prove it reads as numpy does (non-ASCII bytes, other whitespace, a line of blanks
before a comment), and any row the core refuses there, take the general translation.

The translation, in order:

1. the input (path, ``.gz``/``.bz2``/``.xz`` path, file object, list of lines)
   becomes UTF-8 bytes with ``\\n`` line ends, as numpy's text layer would see it;
2. skipped lines are cut off and comments removed (one regex pass; the core has
   no ``comment``/``skip_rows`` yet -- when it does, :func:`_dialect` passes them);
   numpy's keyword checks run first, on an empty input (:func:`_probe`), so a
   keyword numpy refuses gets numpy's own error;
3. ``delimiter=None`` (runs of whitespace) becomes a single space where the text
   allows it exactly;
4. a schema: one column per field of the first row, the used ones typed from the
   dtype, the others ``skip``; the core reads it (all threads).  Fields the core
   has no type for -- complex, long double, byte-swapped numbers, numbers with
   Unicode spaces, ``S`` fields of non-ASCII text -- and genfromtxt's ``dtype=None``
   inference and missing/filling values are read as text columns and converted
   column by column by numpy's own string casts (:func:`_parse_text`,
   :func:`_infer_column`), which parse as the Python functions numpy calls per value;
5. the records are shaped as numpy shapes them (2-D, structured with nested and
   sub-array fields, ``usecols`` order and repeats, ``unpack``, ``ndmin``, masked).

Where the core refuses a value or a row, numpy is asked for the same input: if
numpy refuses too its exception is the answer (same class, same message);
if numpy accepts, that is a fallback like any other.
"""

from __future__ import annotations

import bz2
import codecs
import contextlib
import gzip
import io
import itertools
import locale
import lzma
import operator
import os
import re
import warnings
from collections.abc import Iterator
from typing import Any, Callable

import numpy as np

from .._core import find_bytes, find_control, split_row
from ..errors import FastETLError
from ..schema import MAX_STR_WIDTH, Column, Dialect, Schema
from .fallback import Unsupported, fall_back

try:
    from numpy.lib._iotools import ConversionWarning
except ImportError:  # pragma: no cover - a numpy that moved it
    ConversionWarning = UserWarning  # type: ignore[assignment,misc]

# The originals, taken when fastetl is imported: fastetl.install() replaces the
# numpy attributes, and a fallback must still reach numpy's own functions.
ORIGINAL_LOADTXT: Callable[..., Any] = np.loadtxt
ORIGINAL_GENFROMTXT: Callable[..., Any] = np.genfromtxt

# What falls back to numpy, and why: the one table the code checks and the README
# prints.  Keys are the option (or situation); values the reason the user sees.
FALLBACK: dict[str, str] = {
    "like": "like= dispatches to another array library",
    "dtype": "a dtype other than numbers, bool, strings and object (datetime, void), "
    "or unsized strings or objects in a structured dtype",
    "bytes": "genfromtxt with an S (bytes) dtype and non-ASCII text (numpy encodes it as "
    "Latin-1)",
    "quotechar": "quotechar= with quotes the core reads otherwise than numpy (a quote "
    "inside a field, quotes with comments or delimiter=None)",
    "url": "a URL as fname",
    "delimiter": "a delimiter that is not one ASCII character",
    "genfromtxt-dtype": "genfromtxt with a dtype other than numbers and strings "
    "(object, nested or sub-array fields, names over a string dtype)",
    "genfromtxt-option": "genfromtxt with converters, or missing_values/filling_values/"
    "usemask with a dtype other than None, float64, float32 and int64 (or as a dict "
    "with usecols, or by name)",
    "max_rows": "max_rows=0 on a file object (loadtxt); max_rows with names=True and "
    "usecols or invalid_raise=False on a file object (genfromtxt); max_rows with a quoted "
    "line break",
    "value": "a value or row the core refuses and numpy accepts",
    # (and "unforeseen ...": an error of the translation itself, after which numpy answers)
}

_COMPRESSED = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open, ".lzma": lzma.open}
_BOM = codecs.BOM_UTF8
_NEGATIVE_ZERO = re.compile(rb"-0+(?![0-9])")
_ASCII = bytes(range(128))
# Bytes numpy's whitespace splitting treats as space besides ' ' and '\t'
# (str.isspace of ASCII), and the UTF-8 of the non-ASCII spaces.
_OTHER_SPACES = (b"\x0b", b"\x0c", b"\x1c", b"\x1d", b"\x1e", b"\x1f")
# The dtypes numpy's loadtxt reads as objects, in chunks, then casts (unit discovery)
_UNSIZED = frozenset(map(np.dtype, ("S0", "U0", "M8", "m8")))
_UNICODE_SPACES = tuple(
    c.encode() for c in map(chr, range(0x80, 0x3001)) if c.isspace()
)
# A run of whitespace as numpy's delimiter=None splits on it (str.isspace, line ends
# aside: the input's lines are already split)
_WHITESPACE = re.compile(
    b"(?:[ \t" + b"".join(_OTHER_SPACES) + b"]|"
    + b"|".join(re.escape(s) for s in _UNICODE_SPACES) + b")+"
)


class _Refused(Exception):
    """The own path met input numpy may refuse: numpy decides (and raises)."""


class _NumpysAnswer(Exception):
    """numpy's own exception, raised by the own path as numpy raises it where asking
    numpy again would not give it (a converter already called may answer otherwise)."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


class _Input:
    """The text of a call, as UTF-8 bytes with ``\\n`` line ends, and what to give numpy
    again if numpy has to answer (a file object or generator is spent once read)."""

    def __init__(self, data: bytes, replay: Any) -> None:
        self.data = data
        self.replay = replay


def _locale_encoding() -> str:
    return locale.getpreferredencoding(False)


def _ascii_compatible(encoding: str) -> bool:
    try:
        return _ASCII.decode(encoding) == _ASCII.decode("ascii")
    except (UnicodeDecodeError, LookupError):
        return False


def _to_utf8(raw: bytes, encoding: str) -> bytes:
    """``raw`` in ``encoding`` as UTF-8 bytes, decoded as numpy's text layer does."""
    name = codecs.lookup(encoding).name
    if name == "utf-8":
        if raw.startswith(_BOM):
            # numpy keeps U+FEFF as a character of the first field: no number parses
            raise _Refused("byte order mark")
        if not raw.isascii():
            raw.decode("utf-8")  # numpy raises UnicodeDecodeError on bad bytes
        return raw
    if raw.isascii() and _ascii_compatible(encoding):
        return raw
    return raw.decode(encoding).encode("utf-8")


def _universal(raw: bytes) -> bytes:
    """Line ends as a file opened in text mode gives them (``\\r\\n``, ``\\r`` -> ``\\n``)."""
    if b"\r" in raw:
        raw = raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    return raw


def _read_input(fname: Any, encoding: str | None) -> _Input:
    if isinstance(fname, os.PathLike):
        fname = os.fspath(fname)
    if isinstance(fname, bytes):
        raise _Refused("bytes fname")
    if isinstance(fname, str):
        if "://" in fname:
            raise Unsupported(FALLBACK["url"])
        if not os.path.isfile(fname):
            raise _Refused("no such file")  # numpy's FileNotFoundError
        # (numpy picks the decompressor by the exact extension: ".GZ" is read as text)
        opener = _COMPRESSED.get(os.path.splitext(fname)[1], open)
        with opener(fname, "rb") as fh:
            raw = fh.read()
        try:
            data = _to_utf8(raw, encoding or _locale_encoding())
        except UnicodeDecodeError:
            raise _Refused("undecodable bytes") from None
        return _Input(_universal(data), fname)
    if hasattr(fname, "read"):
        text = fname.read()
        if isinstance(text, bytes):
            try:
                text = text.decode(encoding or getattr(fname, "encoding", None) or "latin1")
            except UnicodeDecodeError:  # numpy raises it, reading the same bytes
                raise _RefusedWith(io.BytesIO(text), "undecodable bytes") from None
        if not isinstance(text, str):
            raise _Refused("file read() gave neither str nor bytes")
        replay = io.StringIO(text, newline="\n")
        if "\r" in text:
            # "\r\n" ends a line however the file object splits its lines; a lone "\r"
            # ends one or sits inside one, depending on how it was opened
            text = text.replace("\r\n", "\n")
            if "\r" in text:
                raise _RefusedWith(replay, "carriage return in a line")
        return _Input(text.encode("utf-8", "surrogatepass"), replay)
    try:
        lines = list(fname)
    except TypeError:
        raise _Refused("not iterable") from None
    out = []
    for line in lines:
        if isinstance(line, bytes):
            line = line.decode(encoding or "latin1")
        if not isinstance(line, str):
            raise _RefusedWith(lines, "a line that is not a string")
        if line.endswith("\r\n"):
            line = line[:-2]
        elif line.endswith(("\n", "\r")):
            line = line[:-1]
        if "\n" in line or "\r" in line:
            raise _RefusedWith(lines, "a line break inside a line")
        out.append(line)
    text = "".join(line + "\n" for line in out)  # (an empty last line stays a line)
    return _Input(text.encode("utf-8", "surrogatepass"), lines)


class _RefusedWith(_Refused):
    """Refused after the input was spent: numpy gets ``replay`` instead."""

    def __init__(self, replay: Any, why: str) -> None:
        super().__init__(why)
        self.replay = replay


def _take_lines(
    fh: Any, skip: int, rows: int, comments: tuple[str, ...], strip: str | None,
    counts: Callable[[str], bool] | None = None, header: bool = False,
) -> list[Any]:
    """The lines numpy reads from the file object ``fh`` for ``skiprows=skip`` and
    ``max_rows=rows`` (lines are taken one by one, as numpy takes them, so the rest is
    left in ``fh``): the skipped lines, then lines until ``rows`` of them hold data (once
    cut at a comment and stripped of ``strip``, None = any whitespace; and, given
    ``counts``, for which it is true: genfromtxt does not count rows of the wrong length
    with ``invalid_raise=False``).  ``header``: the first line with values after the
    skipped ones is genfromtxt's ``names=True`` header (a comment mark in it is dropped,
    its text kept), taken before the rows."""
    lines: list[Any] = []
    it = iter(fh)
    got = 0
    for line in it:
        lines.append(line)
        if len(lines) <= skip:
            continue
        text = line.decode("latin1") if isinstance(line, bytes) else str(line)
        if header:
            for c in comments:
                if c in text:
                    text = "".join(text.split(c)[1:])
        for c in comments:
            text = text.split(c, 1)[0]
        text = text.rstrip("\r\n")
        if header:
            header = not text.strip(strip)
            continue
        if text.strip(strip) and (counts is None or counts(text)):
            got += 1
            if got == rows:
                break
    return lines


def _read_taken(src: Any, fname: Any, encoding: str | None) -> _Input:
    """:func:`_read_input` of ``src``; when ``src`` is lines taken from the file object
    ``fname``, numpy, if it must answer, gets them and then the rest of ``fname`` (it
    may read further than we did: genfromtxt does not count rows it refuses)."""
    if src is fname:
        return _read_input(src, encoding)
    try:
        inp = _read_input(src, encoding)
    except _Refused as e:
        raise _RefusedWith(itertools.chain(src, fname), str(e)) from None
    inp.replay = itertools.chain(src, fname)
    return inp


def _skip_lines(data: bytes, n: int) -> bytes:
    """``data`` without its first ``n`` lines."""
    at = 0
    for _ in range(n):
        nl = data.find(b"\n", at)
        if nl < 0:
            return b""
        at = nl + 1
    return data[at:]


def _strip_comments(data: bytes, comments: tuple[str, ...]) -> bytes:
    """Each line cut at its first comment string (numpy's ``_preprocess_comments``)."""
    marks = [c.encode("utf-8") for c in comments]
    if not any(m in data for m in marks):
        return data
    pattern = b"(?:" + b"|".join(re.escape(m) for m in marks) + b")[^\n]*"
    if not data.endswith(b"\n"):  # a last line left empty stays a line (numpy warns of it)
        data += b"\n"
    return re.sub(pattern, b"", data)


# numpy's warning (its C reader's words) for an empty line that max_rows does not count
_NOT_COUNTED = (
    "Input line {line} contained no data and will not be counted towards `max_rows={rows}`.  "
    "This differs from the behaviour in NumPy <=1.22 which counted lines rather than rows.  "
    "If desired, the previous behaviour can be achieved by using `itertools.islice`.\n"
    "Please see the 1.23 release notes for an example on how to do this.  If you wish to "
    "ignore this warning, use `warnings.filterwarnings`.  This warning is expected to be "
    "removed in the future and is given only once per `loadtxt` call."
)


def _chunk_rows() -> int:
    from numpy.lib import _npyio_impl

    return int(getattr(_npyio_impl, "_loadtxt_chunksize", 50_000))


def _keep_rows(
    data: bytes, n: int, first_line: int | None, notes: list[str] | None = None,
    open_end: bool = False, blank_end: bool = False,
) -> bytes:
    """``data`` up to the end of its ``n``-th non-empty line (``max_rows``).  loadtxt
    (``first_line``: the number of the first line of ``data`` in the input) warns, once,
    of an empty line met before the ``n``-th row, as numpy does: the warning goes to
    ``notes``, said once the rows are read (if numpy must answer, numpy says it).
    At a last line without a line end numpy's two ways differ (see ``by_lines`` in
    :func:`_loadtxt_bytes`): its reader does not warn of it when it is empty or a
    comment (``open_end``: it had none, one was added); its line-by-line comment
    stripping does, also of one of whitespace alone under ``delimiter=None``
    (``blank_end``: it is there, and the rewrite of its whitespace emptied it)."""
    at = rows = lines = 0
    warned = first_line is None
    while rows < n:
        nl = data.find(b"\n", at)
        end = len(data) if nl < 0 else nl
        if end > at:
            rows += 1
        elif (nl >= 0 or blank_end) and not warned and not (open_end and nl == len(data) - 1):
            warned = True
            if notes is not None:
                notes.append(_NOT_COUNTED.format(line=first_line + lines, rows=n))
        if nl < 0:
            return data
        at = nl + 1
        lines += 1
    return data[:at]


def _single_spaces(data: bytes, strict: bool) -> bytes:
    """Text split on runs of whitespace (``delimiter=None``) rewritten, where needed, so a
    one-space delimiter reads it exactly: every run of whitespace (tabs, form feeds,
    Unicode spaces: what numpy's reader and ``str.split`` take for space) one space,
    none at a line's ends.

    Not ``strict`` (every field read, none nullable): only tabs are rewritten.  A run of
    spaces, or a space at a line's end, then makes an empty field, which the core refuses
    (numpy answers), and a space beside a tab is stripped from a number as numpy strips
    it; so the two-byte searches, slow on big inputs, are not needed."""
    others = any(s in data for s in _OTHER_SPACES) or (
        not data.isascii() and any(s in data for s in _UNICODE_SPACES)
    )
    if others:
        clean = False
    elif not strict:
        clean = b"\t" not in data
    else:
        clean = (
            b"\t" not in data
            and b"  " not in data
            and b"\n " not in data
            and b" \n" not in data
            and not data.startswith(b" ")
            and not data.endswith(b" ")
        )
    if clean:
        return data
    if not data.endswith(b"\n"):  # a last line left empty stays a line (numpy warns of it)
        data += b"\n"
    data = _WHITESPACE.sub(b" ", data)
    return re.sub(rb"^ | $", b"", data, flags=re.M)


def _first_row(data: bytes) -> bytes | None:
    at = 0
    while True:
        nl = data.find(b"\n", at)
        line = data[at:] if nl < 0 else data[at:nl]
        if line:
            return line
        if nl < 0:
            return None
        at = nl + 1


def _core_type(dt: np.dtype, genfromtxt: bool = False) -> str:
    """The core's column type that reads a field numpy reads as ``dt``."""
    if dt.kind == "f" and dt.itemsize in (2, 4, 8):
        # numpy parses every float as a double, then casts: so do we
        return "float64"
    if dt.kind in "iu":
        return f"{'int' if dt.kind == 'i' else 'uint'}{dt.itemsize * 8}"
    raise Unsupported(FALLBACK["genfromtxt-dtype" if genfromtxt else "dtype"])


def _delimiter(delimiter: Any) -> str | None:
    if delimiter is None:
        return None
    if isinstance(delimiter, bytes):
        delimiter = delimiter.decode("latin1")
    if delimiter in ("", "\n", "\r"):
        raise _Refused("a delimiter numpy refuses")  # (numpy raises its own error)
    if not isinstance(delimiter, str) or len(delimiter) != 1 or not delimiter.isascii():
        raise Unsupported(FALLBACK["delimiter"])
    if delimiter in "\r\n\"":
        raise Unsupported(FALLBACK["delimiter"])
    return delimiter


def _dialect(delimiter: str, nullable: bool, quote: str | None = None) -> Dialect:
    """The core's dialect for text already cut, uncommented and unquoted.  When the core
    gains ``comment``/``skip_rows``, the translation passes them here instead of
    rewriting the bytes."""
    return Dialect(
        delimiter=delimiter,
        quote=quote,
        header=False,
        encoding="utf-8",
        null_values=("",) if nullable else (),
    )


def _read_columns(
    data: bytes, delimiter: str, ncols: int, types: dict[int, Any], nullable: bool,
    quote: str | None = None,
) -> np.ndarray:
    """Read the columns ``types`` (file index -> core type, or a dict of Column keys)
    of ``data``: a structured array with fields ``f<index>``."""
    from ..api import read_csv  # the drop-ins sit above api (DESIGN.md)

    def spec(t: Any) -> dict[str, Any]:
        return t if isinstance(t, dict) else {"type": t}

    columns = [
        Column(name=f"f{i}", **{"nullable": nullable, **spec(types[i])})
        if i in types
        else Column(name=f"f{i}", type="skip")
        for i in range(ncols)
    ]
    nulls = any(c.nullable for c in columns)
    schema = Schema(columns=columns, dialect=_dialect(delimiter, nulls, quote))
    try:
        return read_csv(data, schema=schema).array
    except FastETLError as e:
        raise _Refused(str(e)) from None


def _usecols(usecols: Any, ncols: int) -> list[int]:
    """numpy's usecols (an int or a sequence of ints, negatives from the end) as file indices."""
    try:
        cols = list(usecols)
    except TypeError:
        cols = [usecols]
    out = []
    for c in cols:
        try:
            i = operator.index(c)
        except TypeError:
            raise _Refused("usecols not integers") from None
        if i < 0:
            i += ncols
        if not 0 <= i < ncols:
            raise _Refused("usecols out of range")
        out.append(i)
    return out


def _ensure_ndmin(a: np.ndarray, ndmin: int) -> np.ndarray:
    # numpy's _ensure_ndmin_ndarray
    if a.ndim > ndmin:
        a = np.squeeze(a)
    if a.ndim < ndmin:
        if ndmin == 1:
            a = np.atleast_1d(a)
        elif ndmin == 2:
            a = np.atleast_2d(a).T
    return a


def _comment_tuple(comments: Any) -> tuple[str, ...]:
    """loadtxt's ``comments`` as numpy normalises it (str, bytes or a sequence of them)."""
    if comments is None:
        return ()
    if isinstance(comments, (str, bytes)):
        comments = [comments]
    out = tuple(c.decode("latin1") if isinstance(c, bytes) else c for c in comments)
    if "" in out or not all(isinstance(c, str) for c in out):
        raise _Refused("bad comments")
    return out


def _quote(
    quotechar: Any, data: bytes, delim: str | None, comments: tuple[str, ...]
) -> tuple[str | None, bytes | None]:
    """The quote character the core must know (None when the data has none), and, when
    a quoted field holds a line break, the pattern of one record (else None).  The
    core reads quotes as RFC 4180 does; numpy's reader more loosely (a quote anywhere
    opens quoting).  They agree when every field is either free of quotes or quoted
    whole (doubled quotes inside): checked by one regular expression."""
    if quotechar is None:
        return None, None
    if not isinstance(quotechar, str) or len(quotechar) != 1:
        raise _Refused("bad quotechar")
    q = quotechar.encode("utf-8")
    if q not in data:
        return None, None
    commented = any(c.encode() in data for c in comments)
    if delim is None or len(q) != 1 or q in b"\n\r" or commented:
        raise Unsupported(FALLBACK["quotechar"])
    qe, de = re.escape(q), re.escape(delim.encode())
    quoted = qe + b"(?:[^" + qe + b"]|" + qe + qe + b")*" + qe
    field = b"(?:" + quoted + b"|[^" + qe + de + b"\n]*)"
    line = field + b"(?:" + de + field + b")*"
    if re.fullmatch(b"(?:" + line + b"\n)*(?:" + line + b")?", data) is None:
        raise Unsupported(FALLBACK["quotechar"])
    # an opening quote (at a field's start), then a line break before the closing one
    opened = b"(?:^|" + de + b")" + qe + b"(?:[^" + qe + b"\n]|" + qe + qe + b")*\n"
    if re.search(opened, data, flags=re.M) is None:
        return quotechar, None
    return quotechar, line


def _records(data: bytes, line: bytes) -> Iterator[bytes]:
    """The records of ``data`` (``line`` matches one), quoted line breaks kept inside."""
    at = 0
    pattern = re.compile(line)
    while at < len(data):
        m = pattern.match(data, at)
        end = m.end() if m is not None else data.find(b"\n", at)
        end = len(data) if end < 0 else end
        yield data[at:end]
        at = end + 1


def _nonneg(value: Any) -> int:
    try:
        v = operator.index(value)
    except TypeError:
        raise _Refused("not an integer") from None
    if v < 0:
        raise _Refused("negative")
    return v


# --------------------------------------------------------------------- loadtxt
def loadtxt(
    fname: Any,
    dtype: Any = float,
    comments: Any = "#",
    delimiter: Any = None,
    converters: Any = None,
    skiprows: int = 0,
    usecols: Any = None,
    unpack: bool = False,
    ndmin: int = 0,
    encoding: str | None = None,
    max_rows: int | None = None,
    *,
    quotechar: str | None = None,
    like: Any = None,
) -> Any:
    """``numpy.loadtxt``, read by fastetl's core (see :mod:`fastetl.dropin.numpy`)."""
    args = (fname,)
    kwargs = dict(
        dtype=dtype, comments=comments, delimiter=delimiter, converters=converters,
        skiprows=skiprows, usecols=usecols, unpack=unpack, ndmin=ndmin,
        encoding=encoding, max_rows=max_rows, quotechar=quotechar,
    )
    if like is not None:
        kwargs["like"] = like

    def own() -> Any:
        if like is not None:
            raise Unsupported(FALLBACK["like"])
        if converters is not None:
            _check_converters(converters)
        # encoding="bytes" only changes what converters get (Latin-1 bytes, not str)
        enc = None if encoding == "bytes" else encoding
        if ndmin not in (0, 1, 2):
            raise _Refused("ndmin")
        try:
            dt = np.dtype(np.float64 if dtype is None else dtype)
        except (TypeError, ValueError):
            raise _Refused("not a dtype") from None  # numpy's own error
        targets = _target_dtypes(dt)
        delim = _delimiter(delimiter)
        comm = _comment_tuple(comments)
        skip = _nonneg(skiprows)
        rows = None if max_rows is None else _nonneg(max_rows)
        _probe(ORIGINAL_LOADTXT, kwargs)
        if rows is None and quotechar is None and converters is None:
            fast = _loadtxt_path(fname, dt, targets, delim, comm, skip, usecols, unpack, ndmin, enc)
            if fast is not None:
                return fast
        src = fname
        if rows is not None and hasattr(fname, "read"):
            # numpy leaves the lines after max_rows unread, for the next call: so do we
            if not rows:
                raise Unsupported(FALLBACK["max_rows"])
            src = _take_lines(fname, skip, rows, comm, None if delimiter is None else "")
        inp = _read_taken(src, fname, enc)
        with _replaying(inp):
            convert = None if converters is None else (converters, encoding == "bytes")
            return _loadtxt_bytes(inp.data, dt, targets, delim, comm, skip, rows,
                                  usecols, unpack, ndmin, quotechar, fname, convert)

    done, value, reason, args = _attempt(ORIGINAL_LOADTXT, own, args, kwargs)
    return value if done else fall_back("loadtxt", reason, value, *args, **kwargs)


def _check_converters(converters: Any) -> None:
    """loadtxt's checks of ``converters`` (a callable, or a dict of integer keys to
    callables): what numpy refuses is refused, and numpy raises its own error."""
    if callable(converters):
        return
    if not isinstance(converters, dict):
        raise _Refused("converters neither a dict nor a callable")
    for key, fn in converters.items():
        if not isinstance(key, int) or not callable(fn):
            raise _Refused("a converters key not an integer, or a value not callable")


@contextlib.contextmanager
def _replaying(inp: Any) -> Iterator[None]:
    """Refusals of the own path on ``inp`` carry its replay, so that numpy is asked about
    the very input it would have read (a refusal, an unsupported case, anything unforeseen)."""
    try:
        yield
    except _NumpysAnswer:
        raise
    except _Refused as e:
        raise _RefusedWith(inp.replay, str(e)) from None
    except Unsupported as e:
        raise _UnsupportedWith(inp.replay, str(e)) from None
    except Exception as e:  # numpy answers the input it would have read
        raise _RefusedWith(inp.replay, _unforeseen(e)) from e


class _UnsupportedWith(Unsupported):
    def __init__(self, replay: Any, why: str) -> None:
        super().__init__(why)
        self.replay = replay


def _probe(original: Callable[..., Any], kwargs: dict[str, Any]) -> None:
    """numpy's own checks of the keywords (collisions of delimiter, comments and quote,
    control characters, usecols types ...), run on an empty input: a few microseconds.
    Keywords numpy refuses go to numpy with the real input, for its exact exception."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            original([], **kwargs)
        except Exception:
            raise _Refused("keywords numpy refuses") from None


def _attempt(
    original: Callable[..., Any], own: Callable[[], Any], args: tuple, kwargs: dict[str, Any]
) -> tuple[bool, Any, str, tuple]:
    """Run ``own``: ``(True, result, "", args)``, or ``(False, call, reason, args)`` for
    the caller to hand to :func:`fall_back` (so the warning points at the user's line).
    On :class:`_Refused`, numpy answers the same input first: if it refuses too, its
    exception is the answer; if it accepts, that is a fallback and ``call`` gives its result."""
    try:
        return True, own(), "", args
    except _NumpysAnswer as e:
        raise e.error from e.error.__cause__
    except Unsupported as e:
        args = (getattr(e, "replay", args[0]), *args[1:])
        return False, original, str(e), args
    except Exception as e:  # _Refused; or a case the translation did not foresee
        why = f"{FALLBACK['value']}: {e}" if isinstance(e, _Refused) else _unforeseen(e)
        args = (getattr(e, "replay", args[0]), *args[1:])
        try:
            result = original(*args, **kwargs)
        except Exception as numpy_error:
            raise numpy_error from None  # numpy refuses this input too: that is the answer

        def answer(*_a: Any, **_k: Any) -> Any:
            return result

        answer.__module__, answer.__qualname__ = original.__module__, original.__qualname__
        return False, answer, why, args


def _unforeseen(e: BaseException) -> str:
    return f"unforeseen {type(e).__name__} on fastetl's path: {e}"


def _target_dtypes(dt: np.dtype) -> list[np.dtype] | None:
    """The scalar fields of a structured ``dt`` (nested fields and sub-arrays flattened,
    as numpy fills them), or None for a scalar ``dt``; Unsupported for fields numpy reads
    in a way the core does not."""
    if dt.names is None:
        if dt.subdtype is not None:
            raise Unsupported(FALLBACK["dtype"])
        _check_field(dt)
        return None
    out = []
    for f, _ in _leaves(dt):
        if f.itemsize == 0 or f in _UNSIZED:
            raise Unsupported(FALLBACK["dtype"])
        _check_field(f)
        out.append(f)
    return out


def _check_field(dt: np.dtype) -> None:
    """Unsupported unless the own path reads a field numpy reads as ``dt``."""
    if dt.kind not in "biufcUSOMm":
        raise Unsupported(FALLBACK["dtype"])


def _leaves(dt: np.dtype, offset: int = 0) -> list[tuple[np.dtype, int]]:
    """The scalar fields of a structured ``dt`` in the order numpy's loadtxt fills them
    from the columns (nested fields and sub-arrays flattened, C order), with their
    byte offsets in a record."""
    if dt.subdtype is not None:
        base, shape = dt.subdtype
        out = []
        for k in range(int(np.prod(shape))):
            out.extend(_leaves(base, offset + k * base.itemsize))
        return out
    if dt.names is None:
        return [(dt, offset)]
    out = []
    for n in dt.names:
        f, at = dt.fields[n][:2]
        out.extend(_leaves(f, offset + at))
    return out


def _flat_view(dt: np.dtype, leaves: list[tuple[np.dtype, int]]) -> np.dtype:
    """A dtype with one named field per leaf of ``dt``, at the leaf's offset: a view
    of ``dt``'s records through which each column is assigned."""
    return np.dtype({
        "names": [f"l{k}" for k in range(len(leaves))],
        "formats": [d for d, _ in leaves],
        "offsets": [at for _, at in leaves],
        "itemsize": dt.itemsize,
    })


def _as_text(dt: np.dtype, plain: bool) -> bool:
    """Whether a number field numpy reads as ``dt`` is read by the core as text, then
    parsed by numpy's own casts (:func:`_parse_text`): complex and long double (no core
    type), byte-swapped numbers, and any number when the text is not ASCII (numpy strips
    Unicode spaces from a number; the core does not)."""
    if dt.kind == "S":  # non-ASCII text: numpy encodes it as Latin-1 (_parse_text)
        return not plain
    if dt.kind not in "biufc":
        return False
    if dt.kind == "c" or (dt.kind == "f" and dt.itemsize > 8):
        return True
    return not dt.isnative or not plain


# A sign written "+-" or "++" between the parts of a complex number (numpy's reader
# takes a signed imaginary part after the "+"; its cast does not)
_PLUS_SIGN = re.compile(r"(?<=[0-9.nfyNFY])\+([+-])(?=[0-9.a-zA-Z])")


def _parse_text(col: np.ndarray, dt: np.dtype) -> np.ndarray:
    """Fields read as UTF-8 text, parsed as numpy's loadtxt parses a ``dt`` field: numpy's
    own string casts (C loops), after refusing what they take and loadtxt does not
    (``_`` in digits, non-ASCII digits, a bare ``j``, ``J``).  A refusal lets numpy
    answer (its error, or a fallback)."""
    u = np.strings.decode(col, "utf-8")
    if dt.kind == "S":
        try:
            col = np.strings.encode(u, "latin1")
        except UnicodeEncodeError:
            raise _Refused("text Latin-1 cannot encode, for an S dtype") from None
        width = dt.itemsize or int(np.strings.str_len(col).max(initial=0))
        return col.astype(f"S{max(width, 1)}")  # (numpy cuts at the width, in bytes)
    if dt.itemsize > (8 if dt.kind == "f" else 16):
        # long doubles: numpy's loadtxt reads them with the very cast
        return _cast(u, dt)
    u = np.strings.strip(u)
    if dt.kind == "c":
        paren = np.strings.startswith(u, "(") & np.strings.endswith(u, ")")
        if paren.any():  # numpy strips the spaces inside the parentheses too
            inside = np.strings.strip(np.strings.slice(u, 1, -1))
            u = np.where(paren, np.strings.add(np.strings.add("(", inside), ")"), u)
    try:
        np.strings.encode(u, "ascii")
    except UnicodeEncodeError:
        raise _Refused("a number with non-ASCII characters") from None
    if (np.strings.find(u, "_") >= 0).any() or (np.strings.str_len(u) == 0).any():
        raise _Refused("a number numpy's cast reads otherwise")
    if dt.kind == "c":
        inner = np.strings.strip(np.strings.lstrip(np.strings.rstrip(u, ")"), "("))
        if (
            (np.strings.find(u, "J") >= 0).any()
            or np.strings.startswith(inner, "j").any()
            or (np.strings.find(inner, "+j") >= 0).any()
            or (np.strings.find(inner, "-j") >= 0).any()
        ):
            raise _Refused("a complex number numpy's cast reads otherwise")
        signs = (np.strings.find(u, "+-") >= 0) | (np.strings.find(u, "++") >= 0)
        if signs.any():  # (rare: savetxt of old numpy versions)
            u = u.copy()
            u[signs] = [_PLUS_SIGN.sub(r"\1", str(v)) for v in u[signs]]
    if dt.kind == "u" and np.strings.startswith(u, "-").any():
        raise _Refused("'-0' for an unsigned integer")  # the cast takes it, numpy does not
    if dt.kind == "b":  # numpy parses an integer and compares it with 0
        return _cast(u, np.dtype(np.int64)) != 0
    if dt.kind == "f" and dt.itemsize == 2:  # a double, cast as the caller casts it
        return _cast(u, np.dtype(np.float64))
    return _cast(u, dt)


def _cast(u: np.ndarray, dt: np.dtype) -> np.ndarray:
    try:
        with np.errstate(all="ignore"):
            return u.astype(dt)
    except (ValueError, OverflowError, TypeError):
        raise _Refused("a number numpy's cast refuses") from None


def _column_spec(dt: np.dtype, bound: int, text: bool = False) -> dict[str, Any]:
    """The core column that reads a field numpy reads as ``dt``.  Strings: ``S``/``U``
    of n characters are read n bytes / 4n bytes wide (UTF-8), cut at a character; an
    unsized one (``dtype=str``) ``bound`` bytes wide, the longest line."""
    if dt.kind == "U":
        n = dt.itemsize // 4
        return {"type": "str", "width": 4 * n if n else bound, "truncate": True}
    if dt.kind == "S":  # (as text: all of it, numpy cuts the Latin-1 bytes)
        return {"type": "str", "width": bound if text else dt.itemsize or bound,
                "truncate": True}
    if dt.kind == "O" or text:  # numpy gives each field as a str; or text to parse
        return {"type": "str", "width": bound, "truncate": True}
    if dt.kind == "b":  # numpy parses an int64 and compares it with 0
        return {"type": "int64"}
    return {"type": _core_type(dt)}


def _longest_line(data: bytes) -> int:
    longest = at = 0
    while at < len(data):
        nl = data.find(b"\n", at)
        end = len(data) if nl < 0 else nl
        longest = max(longest, end - at)
        at = end + 1
    return max(longest, 1)


def _as_dtype(col: np.ndarray, dt: np.dtype) -> np.ndarray:
    """A column of core records as numpy gives it in ``dt``: strings decoded from UTF-8
    (``U``) or kept (``S``, ASCII text); unsized ones as wide as their longest value."""
    if dt.kind == "U":
        col = np.strings.decode(col, "utf-8")
    elif dt.kind == "O":
        col = np.strings.decode(col, "utf-8").astype(object)
    elif dt.kind == "b":
        col = col != 0
    elif dt.kind == "S" and dt.itemsize == 0:
        width = int(np.strings.str_len(col).max(initial=0))
        col = col.astype(f"S{max(width, 1)}")
    return col


def _fill_dtype(dt: np.dtype, cols: list[np.ndarray]) -> np.dtype:
    """``dt``, or for an unsized string dtype the width its longest value needs."""
    if dt.kind in "US" and dt.itemsize == 0:
        per = 4 if dt.kind == "U" else 1
        width = max((c.dtype.itemsize // per for c in cols), default=1)
        return np.dtype(f"{dt.kind}{max(width, 1)}")
    return dt


def _loadtxt_bytes(
    data: bytes, dt: np.dtype, targets: list[np.dtype] | None, delim: str | None,
    comm: tuple[str, ...], skip: int, rows: int | None, usecols: Any, unpack: bool,
    ndmin: int, quotechar: Any, fname: Any, convert: tuple[Any, bool] | None = None,
    strict_spaces: bool = False, ragged: bool = False, noted: tuple[str, ...] = (),
) -> Any:
    """loadtxt on prepared bytes.  ``convert``: the converters and whether they take
    Latin-1 bytes (``encoding="bytes"``): their columns, and datetime fields, are read
    as text by the core, then converted and stored as numpy stores them
    (:func:`_generic_columns`).  ``strict_spaces``: runs of whitespace are rewritten
    even where the core's refusal would do (see :func:`_single_spaces`); ``ragged``:
    ``data`` holds the used columns only, picked by :func:`_pick_columns`; ``noted``: the
    warnings the read before that pick noted (its empty lines are gone from ``data``)."""
    given = data
    # numpy strips several comment strings, or a longer one, line by line in Python
    # before its reader sees the lines (_preprocess_comments); else its reader strips
    # them.  The two differ at a last line without a line end (see _keep_rows).
    by_lines = len(comm) > 1 or bool(comm and len(comm[0]) > 1)
    if by_lines:
        if quotechar is not None:
            raise _Refused("multiple comments with quotechar")
        if delim is not None and delim in comm:
            raise _Refused("comment is the delimiter")
    if targets is not None and usecols is not None and _count(usecols) != len(targets):
        raise _Refused("structured dtype and usecols disagree")  # numpy's TypeError
    data = _skip_lines(data, skip)
    open_end = not by_lines and not data.endswith(b"\n")
    quote, multiline = _quote(quotechar, data, delim, comm)
    if multiline is not None and rows is not None:
        # (numpy counts rows, the byte steps below count lines)
        raise Unsupported(FALLBACK["max_rows"])
    data = _strip_comments(data, comm)
    tail = data[data.rfind(b"\n") + 1 :]  # (a last line with no line end)
    blank_end = by_lines and delim is None and tail.isspace()
    fields = targets if targets is not None else [dt]
    plain = data.isascii()
    texts = any(_as_text(f, plain) for f in fields)
    # (fields read as text and handed to Python: converters, datetimes)
    generic = convert is not None or any(f.kind in "Mm" for f in fields)
    strings = any(f.kind in "USO" for f in fields) or generic
    if delim is None:
        # every field read (no usecols) and none can be empty (no strings): the core's
        # refusals cover the rest (see there)
        loose = not (strict_spaces or usecols is not None or strings or texts)
        data = _single_spaces(data, strict=not loose)
        delim = " "
    else:
        loose = False
    # numpy reads unsized strings and datetimes in chunks of max_rows=50,000 rows of
    # objects, each cast on its own (its warnings and units say so)
    chunk = _chunk_rows() if targets is None and dt in _UNSIZED else None
    notes: list[str] = list(noted)
    if rows is not None:
        big = chunk is not None and rows > chunk
        data = (_keep_rows(data, rows, None if big else skip + 1, notes, open_end, blank_end)
                if rows else b"")
    if chunk is not None and (rows is None or rows > chunk):
        _keep_rows(data, chunk, skip + 1, notes, open_end, blank_end)  # (the warning only)
    if multiline is None:
        first = _first_row(data)
    else:
        first = next((r for r in _records(data, multiline) if r), None)
    nfields = len(targets) if targets is not None else None
    if first is None:
        if generic or (targets is not None and strings):
            raise _Refused("no data, objects to cast")  # numpy's own shape: it answers
        for text in notes:
            warnings.warn(text, UserWarning, stacklevel=5)
        return _empty_loadtxt(dt, usecols, unpack, ndmin, fname)
    if quote is None:
        ncols = first.count(delim.encode()) + 1
    else:
        ncols = len(split_row(first, 0, len(first), True, ord(delim), ord(quote))[1])
    used = _usecols(usecols, ncols) if usecols is not None else list(range(ncols))
    if not used:  # usecols=[]: as many empty rows as rows with data
        if multiline is not None or dt in _UNSIZED or (nfields or 0) != 0:
            raise _Refused("no column used")
        n = sum(1 for line in data.split(b"\n") if line)
        arr = np.empty((n, 0), dtype=dt) if targets is None else np.zeros(n, dtype=dt)
        return _loadtxt_shaped(arr, notes, ndmin, unpack, fname)
    if nfields is not None and nfields != len(used):
        raise _Refused("structured dtype with another number of fields")
    dtypes = targets if targets is not None else [dt] * len(used)
    convs = {} if convert is None else _converter_columns(convert[0], usecols, len(used))
    generic_cols = {j for j, d in enumerate(dtypes)
                    if j in convs or d.kind in "Mm" or (targets is not None and d.kind == "O")}
    if chunk is not None and generic_cols:  # numpy's object chunks: every column
        generic_cols = set(range(len(used)))
    bound = _longest_line(data) if strings or texts else 1
    if multiline is not None and (strings or texts):
        bound = max(map(len, _records(data, multiline)))
    if bound > MAX_STR_WIDTH:
        raise Unsupported(FALLBACK["dtype"])
    types: dict[int, dict[str, Any]] = {}
    for j, (i, d) in enumerate(zip(used, dtypes)):
        if j in generic_cols:
            spec = {"type": "str", "width": bound, "truncate": True}
        else:
            spec = _column_spec(d, bound, _as_text(d, plain))
        if types.setdefault(i, spec) != spec:  # a column used twice, as two types
            raise Unsupported(FALLBACK["dtype"])
    unsigned = any(t["type"].startswith("uint") for t in types.values())
    if unsigned and _NEGATIVE_ZERO.search(data):
        raise _Refused("'-0' for an unsigned integer")  # the core takes it, numpy does not
    try:
        rec = _read_columns(data, delim, ncols, types, nullable=False, quote=quote)
    except _Refused:
        if loose:
            # (a line of blanks, a space at a line's end: read again, every run rewritten)
            return _loadtxt_bytes(given, dt, targets, None, comm, skip, rows, usecols,
                                  unpack, ndmin, quotechar, fname, convert,
                                  strict_spaces=True)
        if usecols is None or quote is not None or rows is not None or ragged:
            raise
        # rows of other lengths: usecols picked row by row (negatives from each row's
        # end), as numpy picks them, then read again
        picked = _pick_columns(data, delim, usecols)
        if convert is not None and not callable(convert[0]):
            convert = (convs, convert[1])  # (by result column, now that usecols is done)
        return _loadtxt_bytes(picked, dt, targets, delim, (), 0, None, None, unpack, ndmin,
                              None, fname, convert, ragged=True, noted=tuple(notes))
    cols = [
        None if j in generic_cols
        else _parse_text(rec[f"f{i}"], d) if _as_text(d, plain) else _as_dtype(rec[f"f{i}"], d)
        for j, (i, d) in enumerate(zip(used, dtypes))
    ]
    if generic_cols:
        arr = _generic_columns(rec, cols, used, dt, targets, convs,
                               convert is not None and convert[1], chunk, bool(notes))
        return _loadtxt_shaped(arr, notes, ndmin, unpack, fname)
    # numpy's reader casts doubles to float32 silently, and to float16 with a warning
    # on overflow: numpy's casts below do the same under this errstate
    half = any(f.kind == "f" and f.itemsize == 2 for f in fields)
    with np.errstate(over="warn" if half else "ignore"):
        if targets is None:
            arr = np.empty((len(rec), len(used)), dtype=_fill_dtype(dt, cols))
            for k, col in enumerate(cols):
                arr[:, k] = col
        else:
            arr = np.zeros(len(rec), dtype=dt)
            flat = arr.view(_flat_view(dt, _leaves(dt)))
            for name, col in zip(flat.dtype.names, cols):
                flat[name] = col
    return _loadtxt_shaped(arr, notes, ndmin, unpack, fname)


def _pick_columns(data: bytes, delim: str, usecols: Any) -> bytes:
    """The fields ``usecols`` of each line of ``data`` (a negative index counts from the
    line's own end, as numpy's reader counts it); a line too short for them lets numpy
    answer (its ValueError names the row)."""
    d = delim.encode()
    cols = [operator.index(c) for c in _as_list(usecols)]
    out = []
    for line in data.split(b"\n"):
        if not line:
            continue
        parts = line.split(d)
        n = len(parts)
        if any(not -n <= c < n for c in cols):
            raise _Refused("a row too short for usecols")  # numpy's error
        line = d.join([parts[c] for c in cols])
        if not line:  # (one empty field: no line can say it)
            raise _Refused("an empty field alone")
        out.append(line + b"\n")
    return b"".join(out)


def _loadtxt_shaped(arr: np.ndarray, notes: list[str], ndmin: int, unpack: bool,
                    fname: Any) -> Any:
    """loadtxt's last steps: the warnings noted while reading, ``ndmin``, ``unpack``."""
    for text in notes:  # loadtxt -> _attempt -> own -> _loadtxt_bytes -> here
        warnings.warn(text, UserWarning, stacklevel=6)
    arr = _ensure_ndmin(arr, ndmin)
    if arr.shape and arr.shape[0] == 0:
        _no_data_warning(fname)
    return _unpack(arr, unpack)


def _converter_columns(converters: Any, usecols: Any, n: int) -> dict[int, Any]:
    """The converter of each of the ``n`` result columns, as numpy assigns them: a
    callable for all; a dict's key is a column of the file, matched against ``usecols``
    as given (keys not used are ignored) or, without usecols, counted from the end when
    negative (out of range: numpy's ValueError)."""
    if callable(converters):
        return dict.fromkeys(range(n), converters)
    wanted = None if usecols is None else [operator.index(c) for c in _as_list(usecols)]
    out: dict[int, Any] = {}
    for key, fn in converters.items():
        col = operator.index(key)
        if wanted is not None:
            if col not in wanted:
                continue
            col = wanted.index(col)
        elif not -n <= col < n:
            raise _Refused("a converter for a column out of range")  # numpy's error
        out[col % n] = fn
    return out


def _generic_columns(
    rec: np.ndarray, cols: list[np.ndarray | None], used: list[int], dt: np.dtype,
    targets: list[np.dtype] | None, convs: dict[int, Any], byte_conv: bool,
    chunk: int | None, warned: bool = False,
) -> np.ndarray:
    """loadtxt's result when some columns (``cols`` None: read by the core as text) are
    stored as numpy's reader stores a value it has no parser for: each field's text (or
    what its converter returns for it, called row by row as numpy calls it) assigned
    to its element, which is numpy's own assignment (``PyArray_Pack``).  An unsized
    string or datetime dtype is read as numpy reads it: objects, cast in chunks.
    ``warned``: numpy warns while reading (empty lines under max_rows); a converter's
    error then lets numpy answer, warnings and error in its order."""
    n = len(rec)
    if chunk is not None:
        out_dt = np.dtype(object)
        arr = np.empty((n, len(used)), dtype=out_dt)
    elif targets is None:
        out_dt = dt
        arr = np.empty((n, len(used)), dtype=dt)
    else:
        out_dt = dt
        arr = np.zeros(n, dtype=dt)
    flat = None
    if targets is None:
        views = [arr[:, j] for j in range(len(used))]
        kinds = [arr.dtype] * len(used)
    elif not dt.hasobject:
        flat = arr.view(_flat_view(dt, _leaves(dt)))
        views = [flat[name] for name in flat.dtype.names]
        kinds = targets
    elif len(dt.names) == len(targets):  # (no view of objects: the fields themselves)
        views = [arr[name] for name in dt.names]
        kinds = targets
    else:
        raise Unsupported(FALLBACK["dtype"])  # objects among nested or sub-array fields
    texts: dict[int, list[str]] = {}
    for j, (i, view) in enumerate(zip(used, views)):
        if cols[j] is not None:  # a field parsed as always
            view[...] = cols[j]
            continue
        u = np.strings.decode(rec[f"f{i}"], "utf-8")
        if j in convs:
            texts[j] = u.tolist()
            continue
        if chunk is not None and dt.kind == "S":  # numpy's bytes for an S dtype
            try:
                u = np.strings.encode(u, "latin1")
            except UnicodeEncodeError:
                raise _Refused("text Latin-1 cannot encode, for an S dtype") from None
        try:
            view[...] = u.astype(object)
        except (ValueError, TypeError, OverflowError):
            raise _Refused("a value numpy's assignment refuses") from None
    order = sorted(texts)
    for k in range(n):  # row by row, as numpy calls the converters
        for j in order:
            text = texts[j][k]
            try:
                views[j][k] = convs[j](text.encode("latin1") if byte_conv else text)
            except Exception as e:  # numpy's error, the cause chained
                if warned:
                    raise _Refused("a converter refuses a value") from None
                row = k % chunk if chunk is not None else k
                kind = out_dt if targets is None else kinds[j]
                error = ValueError(
                    f"could not convert string {repr(text)[:100]} to {kind} at row {row}, "
                    f"column {used[j] + 1}."
                )
                error.__cause__ = e
                # (the objects stored so far are freed, as numpy frees them: the
                # traceback keeps this frame, not the array)
                arr = views = view = flat = None  # type: ignore[assignment]
                raise _NumpysAnswer(error) from None
    if chunk is None:
        return arr
    try:
        parts = [arr[at : at + chunk].astype(dt) for at in range(0, n, chunk)]
    except (ValueError, TypeError, OverflowError):
        raise _Refused("a value numpy's cast refuses") from None
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _blanks_then_comment(text: bytes) -> bool:
    """Whether a line of ``text`` holds only spaces or tabs before a comment mark "#":
    the core skips it as a comment line, numpy reads the blanks left as a row (and
    refuses it).  (``text`` starts at a line's start.)"""
    k = text.find(b"#")
    while k >= 0:
        start = max(text.rfind(b"\n", 0, k), text.rfind(b"\r", 0, k)) + 1
        if start < k and not text[start:k].strip(b" \t"):
            return True
        k = text.find(b"#", k + 1)
    return False


_SCAN_BYTES = 1 << 22


def _plain_text(fname: str, spaces: bool, comment: bool) -> bool:
    """Whether the core reads the file ``fname`` as numpy reads it, in bounded chunks:
    ASCII (no byte order mark, nothing numpy's decoding could refuse); for
    ``delimiter=None`` (``spaces``) no control byte but line ends -- so no whitespace
    but spaces (runs of spaces split as numpy splits them: the core's delimiter " "
    with skip_initial_space; a space at a line's start or end makes an empty field,
    which the core refuses); with a delimiter and ``comment``, no line of blanks before
    a comment mark.  The chunks are read into one reused buffer and searched by the core
    (:func:`find_bytes`, :func:`find_control`): no Python object per chunk unless it
    holds a comment mark."""
    buf = bytearray(_SCAN_BYTES)
    tail = b""  # the last line of the chunks before, when it is blanks only
    with open(fname, "rb", buffering=0) as fh:
        while True:
            n = fh.readinto(buf)
            if not n:
                return True
            chunk = memoryview(buf)[:n]
            if _unplain(chunk, spaces):
                return False
            if spaces or not comment:
                continue
            if find_bytes(chunk, b"#", False) >= 0 and _blanks_then_comment(tail + chunk):
                return False
            last = max(buf.rfind(b"\n", 0, n), buf.rfind(b"\r", 0, n)) + 1
            rest = tail + chunk if last == 0 else bytes(chunk[last:])
            tail = rest if not rest.strip(b" \t") else b"x"
            if len(tail) > _SCAN_BYTES:
                return False


class _NotPlainText(Exception):
    """A piece of the file the core may read otherwise than numpy (see _plain_text)."""


def _unplain(data: Any, spaces: bool) -> bool:
    """Whether ``data`` holds a byte 0x80 or above or, for ``delimiter=None``
    (``spaces``), a control byte but LF and CR: a tab, another of numpy's whitespace
    (_OTHER_SPACES) or a byte no number holds (the caller's path reads those, or numpy
    refuses them), found by one signed compare per byte: 3x the speed of searching for
    the 7 bytes, in cache."""
    return (find_control(data, True) if spaces else find_bytes(data, b"", True)) >= 0


class _Inspector:
    """:func:`_plain_text`'s checks, made on each piece of the file as the core reads it
    (``api.read_records``: the file is read once): raises :class:`_NotPlainText`."""

    def __init__(self, spaces: bool, comment: bool) -> None:
        self.spaces = spaces
        self.comment = comment and not spaces

    def __call__(self, data: Any, start: int, end: int) -> None:
        piece = data[start:end]  # (whole lines)
        if self.spaces:
            if _unplain(piece, True):
                raise _NotPlainText
            return
        if find_bytes(piece, b"#" if self.comment else b"", True) < 0:
            return
        if not self.comment or _unplain(piece, False):
            raise _NotPlainText
        if _blanks_then_comment(bytes(piece)):
            raise _NotPlainText


def _loadtxt_path(
    fname: Any, dt: np.dtype, targets: list[np.dtype] | None, delim: str | None,
    comm: tuple[str, ...], skip: int, usecols: Any, unpack: bool, ndmin: int,
    enc: str | None,
) -> Any:
    """The common case read without preparing bytes in Python: a plain file path, a
    float or signed integer dtype, a one-character delimiter or None (runs of spaces),
    ``comments="#"`` or None.
    The file is read once by all threads (``api.read_records``), each piece checked as
    :func:`_plain_text` checks a file (:class:`_Inspector`) and parsed with the core's own
    ``comment`` and ``skip_rows`` into one array; the records of N float64 fields are
    viewed as the 2-D result.
    None when the input is not provably read as numpy reads it, or when the core refuses
    a row: the caller's path (byte preparation, then numpy) answers."""
    if isinstance(fname, os.PathLike):
        fname = os.fspath(fname)
    if not isinstance(fname, str) or "://" in fname or not os.path.isfile(fname):
        return None
    if os.path.splitext(fname)[1] in _COMPRESSED or targets is not None:
        return None
    if not (dt.kind == "f" and dt.itemsize in (4, 8) or dt.kind == "i"):
        return None
    if delim in (" ", "\t") or comm not in ((), ("#",)):
        return None
    if not _ascii_compatible(enc or _locale_encoding()):
        return None
    if os.path.getsize(fname) == 0:
        return None
    first = None
    try:
        with open(fname, encoding="ascii", newline=None) as fh:  # numpy's universal newlines
            for line in itertools.islice(fh, skip, None):
                text = line.rstrip("\n")
                if comm:
                    text = text.split("#", 1)[0]
                if text.strip(" ") if delim is None else text:
                    first = text
                    break
    except UnicodeDecodeError:
        return None  # (not ASCII: the caller's path)
    if first is None:
        return None  # no row: the caller's path gives numpy's empty result and warning
    ncols = len(first.split()) if delim is None else first.count(delim) + 1
    used = _usecols(usecols, ncols) if usecols is not None else list(range(ncols))
    if not used:
        return None
    from ..api import read_csv, read_records  # the drop-ins sit above api (DESIGN.md)

    ctype = _core_type(dt)
    wanted = set(used)
    columns = [
        Column(name=f"f{i}", type=ctype if i in wanted else "skip") for i in range(ncols)
    ]
    dialect = Dialect(
        delimiter=delim or " ", quote=None, header=False, encoding="utf-8", null_values=(),
        comment=comm[0] if comm else None, skip_rows=skip, skip_initial_space=delim is None,
    )
    schema = Schema(columns=columns, dialect=dialect)
    try:
        # one read of the file: each piece checked (_Inspector) as it is parsed
        rec = read_records(fname, schema, inspect=_Inspector(delim is None, bool(comm)))
        if rec is None:  # (no room reserved for the result ...): read_csv, checked first
            if not _plain_text(fname, delim is None, bool(comm)):
                return None
            rec = read_csv(fname, schema=schema).array
    except (FastETLError, _NotPlainText):
        # a row the core refuses here may still be read by the byte preparation (a
        # space at a line's end ...), or numpy's own error is the answer: the caller
        # decides; and a file the core may read otherwise than numpy goes there too
        return None
    if len(rec) == 0:
        return None
    order = sorted(wanted)  # the record's fields, in file order
    plain = np.dtype([(f"f{i}", np.dtype(ctype)) for i in order])
    if rec.dtype == plain and rec.flags.c_contiguous:
        # N fields of one type, packed: the same bytes as a (rows, N) array
        arr = rec.view(np.dtype(ctype)).reshape(len(rec), len(order))
        if used != order:
            arr = arr[:, [order.index(i) for i in used]]
    else:
        arr = np.empty((len(rec), len(used)), dtype=np.dtype(ctype))
        for k, i in enumerate(used):
            arr[:, k] = rec[f"f{i}"]
    if arr.dtype != dt:
        with np.errstate(over="ignore"):  # numpy parses doubles and casts them silently
            arr = arr.astype(dt)
    return _unpack(_ensure_ndmin(arr, ndmin), unpack)


def _count(usecols: Any) -> int:
    try:
        return len(list(usecols))
    except TypeError:
        return 1


def _unpack(arr: np.ndarray, unpack: bool) -> Any:
    if not unpack:
        return arr
    if arr.dtype.names is not None:
        return [arr[n] for n in arr.dtype.names]
    return arr.T


def _no_data_warning(fname: Any) -> None:
    # numpy's warning, pointed at the caller's line (loadtxt -> _run -> own -> here)
    warnings.warn(f'loadtxt: input contained no data: "{fname}"', UserWarning, stacklevel=5)


def _empty_loadtxt(dt: np.dtype, usecols: Any, unpack: bool, ndmin: int, fname: Any) -> Any:
    """What numpy returns for input without a row: (0, len(usecols) or 1), or (0,) for
    a structured dtype, then ndmin and unpack as always."""
    if dt.names is not None:
        arr = np.empty(0, dtype=dt)
    else:
        k = 1 if usecols is None else _count(usecols)
        arr = np.empty((0, k), dtype=dt)
    arr = _ensure_ndmin(arr, ndmin)
    if arr.shape and arr.shape[0] == 0:
        _no_data_warning(fname)
    return _unpack(arr, unpack)


# ------------------------------------------------------------------ genfromtxt
# Options that change nothing the own path answers: excludelist shapes names only;
# autostrip strips what number parsing strips anyway (and text, by np.strings.strip);
# loose and invalid_raise decide
# what happens to invalid values and rows, which the core refuses, so numpy answers.
_GENFROMTXT_FREE = frozenset({"excludelist", "autostrip", "loose", "invalid_raise"})
# Options the own path takes with dtype=None (a dict by column index, without usecols)
_GENFROMTXT_INFERRED = frozenset({"missing_values", "filling_values", "usemask"})
_GENFROMTXT_DEFAULTS: dict[str, Any] = {
    "converters": None,
    "missing_values": None,
    "filling_values": None,
    "names": None,
    "excludelist": None,
    "autostrip": False,
    "usemask": False,
    "loose": True,
    "invalid_raise": True,
}


def genfromtxt(
    fname: Any,
    dtype: Any = float,
    comments: Any = "#",
    delimiter: Any = None,
    skip_header: int = 0,
    skip_footer: int = 0,
    converters: Any = None,
    missing_values: Any = None,
    filling_values: Any = None,
    usecols: Any = None,
    names: Any = None,
    excludelist: Any = None,
    deletechars: Any = " !#$%&'()*+,-./:;<=>?@[\\]^{|}~",
    replace_space: str = "_",
    autostrip: bool = False,
    case_sensitive: Any = True,
    defaultfmt: str = "f%i",
    unpack: Any = None,
    usemask: bool = False,
    loose: bool = True,
    invalid_raise: bool = True,
    max_rows: int | None = None,
    encoding: str | None = None,
    *,
    ndmin: int = 0,
    like: Any = None,
) -> Any:
    """``numpy.genfromtxt``, read by fastetl's core (see :mod:`fastetl.dropin.numpy`)."""
    args = (fname,)
    kwargs = dict(
        dtype=dtype, comments=comments, delimiter=delimiter, skip_header=skip_header,
        skip_footer=skip_footer, converters=converters, missing_values=missing_values,
        filling_values=filling_values, usecols=usecols, names=names,
        excludelist=excludelist, deletechars=deletechars, replace_space=replace_space,
        autostrip=autostrip, case_sensitive=case_sensitive, defaultfmt=defaultfmt,
        unpack=unpack, usemask=usemask, loose=loose, invalid_raise=invalid_raise,
        max_rows=max_rows, encoding=encoding, ndmin=ndmin,
    )
    if like is not None:
        kwargs["like"] = like
    given = {
        "converters": converters, "missing_values": missing_values,
        "filling_values": filling_values, "names": names, "excludelist": excludelist,
        "autostrip": autostrip, "usemask": usemask, "loose": loose,
        "invalid_raise": invalid_raise,
    }

    def own() -> Any:
        if like is not None:
            raise Unsupported(FALLBACK["like"])
        for key, default in _GENFROMTXT_DEFAULTS.items():
            if key == "names" and (given[key] is True or _names_given(given[key])):
                continue  # names from the first line, or given: on the own path
            if key in _GENFROMTXT_INFERRED and _text_typed(dtype) and (
                not isinstance(given[key], dict) or usecols is None
            ):
                continue  # (dtype=None, or float64/int64 fields: see _per_column)
            if key in _GENFROMTXT_FREE:
                continue
            if given[key] is not default and given[key] != default:
                raise Unsupported(FALLBACK["genfromtxt-option"])
        # encoding="bytes" only changes what converters get: without them, it is None
        enc = None if encoding == "bytes" else encoding
        if ndmin not in (0, 1, 2):
            raise _Refused("ndmin")
        if dtype is None:
            dt = None  # inferred, by genfromtxt's rules (:func:`_infer_column`)
        else:
            dt = _genfromtxt_dtype(dtype, names, defaultfmt)
        if max_rows is not None and (skip_footer or max_rows < 1):
            raise _Refused("max_rows")
        # (on an empty input, names=True and usecols by name fail in numpy: not probed)
        _probe(ORIGINAL_GENFROMTXT, {**kwargs, "names": None, "usecols": None})
        if not isinstance(comments, str) and comments is not None:
            raise _Refused("comments")
        if comments == "":
            raise _Refused("comments")
        delim = _delimiter(delimiter)
        head = _nonneg(skip_header)
        foot = _nonneg(skip_footer)
        src = fname
        if max_rows is not None and hasattr(fname, "read"):
            if names is True and (not invalid_raise or usecols is not None):
                raise Unsupported(FALLBACK["max_rows"])  # (rows counted against the header)
            # genfromtxt takes lines one by one and leaves the rest: so do we
            marks = () if comments is None else (comments,)
            counts = None if invalid_raise else _right_length(delim, usecols)
            src = _take_lines(fname, head, max_rows, marks, None if delim is None else " ",
                              counts, header=names is True)
        inp = _read_taken(src, fname, enc)
        with _replaying(inp):
            naming = None
            if names is True or _names_given(names):
                naming = dict(names=names, excludelist=excludelist, deletechars=deletechars,
                              case_sensitive=case_sensitive, replace_space=replace_space,
                              defaultfmt=defaultfmt, delimiter=delimiter)
            byte_strings = encoding == "bytes"
            if byte_strings and dt is None and not inp.data.isascii():
                raise Unsupported(FALLBACK["genfromtxt-dtype"])  # (numpy reads Latin-1)
            notes: list[str] = []
            result = _genfromtxt_bytes(inp.data, dt, delim, comments, head, foot, max_rows,
                                       usecols, unpack, ndmin, fname, naming, byte_strings,
                                       defaultfmt, bool(autostrip),
                                       (missing_values, filling_values, bool(usemask)),
                                       (bool(invalid_raise), notes))
        for text in notes:  # (said once numpy's answer is ours: genfromtxt -> _attempt -> own)
            warnings.warn(text, ConversionWarning, stacklevel=4)
        return result

    done, value, reason, args = _attempt(ORIGINAL_GENFROMTXT, own, args, kwargs)
    return value if done else fall_back("genfromtxt", reason, value, *args, **kwargs)


def _text_typed(dtype: Any) -> bool:
    """Whether genfromtxt's ``dtype`` is read as text and typed by :func:`_infer_column`
    (with missing_values, filling_values, usemask): None, or float64, float32 and int64
    fields (numpy's converters float() and np.int64, which numpy's casts mirror)."""
    if dtype is None:
        return True
    try:
        dt = np.dtype(dtype)
    except (TypeError, ValueError):
        return False
    fields = [dt] if dt.names is None else [dt.fields[n][0] for n in dt.names]
    return all(f.names is None and f.subdtype is None and f.isnative
               and f.str[1:] in ("f8", "f4", "i8") for f in fields)


def _names_given(names: Any) -> bool:
    """Whether genfromtxt's ``names`` is a list of names the own path takes: a string of
    comma-separated names or a list/tuple of strings."""
    if isinstance(names, str):
        return bool(names)
    return (
        isinstance(names, (list, tuple)) and len(names) > 0
        and all(isinstance(n, str) for n in names)
    )


def _genfromtxt_dtype(dtype: Any, names: Any, defaultfmt: Any) -> np.dtype:
    """genfromtxt's ``dtype`` when the own path reads it (a sequence of types made a
    structured dtype by numpy's own easy_dtype); Unsupported otherwise."""
    try:
        if isinstance(dtype, (list, tuple)) and all(isinstance(t, type) for t in dtype):
            from numpy.lib._iotools import easy_dtype

            dt = easy_dtype(dtype, defaultfmt=defaultfmt)
        else:
            dt = np.dtype(dtype)
    except (TypeError, ValueError, ImportError):
        raise Unsupported(FALLBACK["genfromtxt-dtype"]) from None
    if dt.subdtype is not None:
        raise Unsupported(FALLBACK["genfromtxt-dtype"])
    for f in [dt] if dt.names is None else [dt.fields[n][0] for n in dt.names]:
        if f.names is not None or f.subdtype is not None:
            raise Unsupported(FALLBACK["genfromtxt-dtype"])
        if f.kind in "US":  # (an unsized string field: numpy's own sizing rules)
            if f.itemsize == 0 and dt.names is not None:
                raise Unsupported(FALLBACK["genfromtxt-dtype"])
            continue
        _core_type(f, genfromtxt=True)
    if dt.names is None and dt.kind in "US" and names is not None:
        raise Unsupported(FALLBACK["genfromtxt-dtype"])  # (numpy's own rules of names)
    if dt.names is not None and (len(dt.descr) != len(dt.names) or names is True):
        # (padding; or names laid over the dtype's: numpy's own rules)
        raise Unsupported(FALLBACK["genfromtxt-dtype"])
    return dt


def _genfromtxt_bytes(
    data: bytes, dt: np.dtype, delim: str | None, comments: str | None, head: int,
    foot: int, max_rows: int | None, usecols: Any, unpack: Any, ndmin: int, fname: Any,
    naming: dict[str, Any] | None = None, byte_strings: bool = False,
    defaultfmt: str = "f%i", autostrip: bool = False, missing: tuple = (None, None, False),
    invalid: tuple[bool, list[str]] = (True, []),
) -> Any:
    data = _skip_lines(data, head)
    named = None
    if naming is not None:
        # (inferring: the names ride on a placeholder dtype)
        placeholder = np.dtype(np.float64) if dt is None else dt
        data, named, usecols = _header(data, comments, usecols, placeholder, naming,
                                       inferring=dt is None)
    if named is None and usecols is not None and (
        isinstance(usecols, str) or any(isinstance(c, str) for c in _as_list(usecols))
    ):
        raise _Refused("usecols by name without names")  # numpy's error
    if comments is not None:
        data = _strip_comments(data, (comments,))
    if delim is None:
        data = _single_spaces(data, strict=True)  # an empty field is a NaN here
        delim = " "
    else:
        # genfromtxt strips spaces from both ends of each line before splitting
        if b" " in data:  # (one-byte search: fast; a savetxt file has no space)
            data = re.sub(rb"^ +| +$", b"", data, flags=re.M)
    if foot or not invalid[0]:  # (rows of the wrong length: dropped, or in the footer)
        data, foot, usecols = _right_rows(data, delim, named if naming is not None and
                                          naming["names"] is True else None, usecols, head,
                                          foot, max_rows, *invalid)
    elif max_rows is not None:
        data = _keep_rows(data, max_rows, first_line=None)
    first = _first_row(data)
    if first is None and dt is None:
        raise _Refused("no rows to infer from")  # numpy answers
    if first is None and (named is not None or dt.names is not None):
        raise _Refused("a header and no rows")  # numpy's own shape of nothing: it answers
    if first is None:
        warnings.warn(f'genfromtxt: Empty input file: "{fname}"', UserWarning, stacklevel=5)
        arr = np.array([], dtype=dt)
        if missing[2]:  # usemask: numpy's empty masked array
            arr = _masked(arr, [], [], [], [])
        arr = _ensure_ndmin(arr, ndmin)
        return arr.T if unpack else arr
    ncols = first.count(delim.encode()) + 1
    if named is not None and usecols is None and ncols != len(named.names):
        raise _Refused("rows and header disagree")  # numpy's error
    if isinstance(usecols, str):
        raise Unsupported(FALLBACK["genfromtxt-option"])
    used = _usecols(usecols, ncols) if usecols is not None else list(range(ncols))
    if usecols is not None and len(set(used)) != len(used):
        raise Unsupported(FALLBACK["genfromtxt-option"])
    if dt is None:
        names = None if named is None else list(named.names)
        if names is not None and len(names) != len(used):
            raise _Refused("names and columns disagree")
        return _genfromtxt_infer(data, delim, ncols, used, names, foot, unpack, ndmin,
                                 byte_strings, defaultfmt, autostrip, *missing)
    if named is None and dt.names is not None:  # a structured dtype, its own names
        named = dt
        if usecols is not None and len(named) > len(used):
            named = np.dtype([named.descr[u] for u in used])
    if named is not None and len(named.names) != len(used):
        raise _Refused("dtype and columns disagree")
    fields = [dt] * len(used) if named is None else [named.fields[n][0] for n in named.names]
    if missing != (None, None, False):  # (float64/int64 fields: see _text_typed)
        return _genfromtxt_infer(data, delim, ncols, used, None, foot, unpack, ndmin,
                                 byte_strings, defaultfmt, autostrip, *missing,
                                 fixed=(fields, named if named is not None else dt))
    # a missing float is NaN (numpy's filling value); a missing int is -1, which the
    # core does not give: it refuses the empty field and numpy answers
    # (named fields with usecols: numpy fails on a missing value; the core refuses it)
    strict = named is not None and usecols is not None
    strings = any(f.kind in "US" for f in fields)
    if strings and any(f.kind == "S" for f in fields) and not data.isascii():
        raise Unsupported(FALLBACK["bytes"])
    bound = _longest_line(data) if strings else 1
    if bound > MAX_STR_WIDTH:
        raise Unsupported(FALLBACK["genfromtxt-dtype"])
    types = {
        i: {"type": "str", "width": bound, "truncate": True} if f.kind in "US"
        else {"type": "float64"} if _int_of_float(f)
        else {"type": _core_type(f, genfromtxt=True), "nullable": f.kind == "f" and not strict}
        for i, f in zip(used, fields)
    }
    rec = _read_columns(data, delim, ncols, types, nullable=False)
    if foot:
        rec = rec[: max(len(rec) - foot, 0)]
    cols = [
        _truncated(rec[f"f{i}"], f) if _int_of_float(f)
        else _genfromtxt_strings(rec[f"f{i}"], f, autostrip)
        for i, f in zip(used, fields)
    ]
    if named is not None:
        if len(rec) == 0:
            raise _Refused("a header and no rows")
        arr = np.empty(len(rec), dtype=named)
        for name, col in zip(named.names, cols):
            arr[name] = col
        arr = _ensure_ndmin(arr, ndmin)
        if not unpack:
            return arr
        return arr[named.names[0]] if len(named.names) == 1 else [arr[n] for n in named.names]
    if len(rec) == 0:  # numpy builds np.array([], dtype): shape (0,)
        if dt.kind in "US":
            raise _Refused("no rows, a string dtype")  # numpy's sizing: it answers
        arr = np.array([], dtype=dt)
    else:
        arr = np.empty((len(rec), len(used)), dtype=_fill_dtype(dt, cols))
        for k, col in enumerate(cols):
            arr[:, k] = col
    arr = _ensure_ndmin(arr, ndmin)
    return arr.T if unpack else arr


def _int_of_float(dt: np.dtype) -> bool:
    """Whether genfromtxt reads a ``dt`` field with ``int(float(text))``: integers
    narrower than 64 bits (numpy's StringConverter keeps int() for 64 bits only)."""
    return dt.kind in "iu" and dt.itemsize < 8


def _truncated(col: np.ndarray, dt: np.dtype) -> np.ndarray:
    """``int(float(text))`` of a float64 column (the core parsed the floats as float()
    does), stored in ``dt``; a value int() or ``dt`` refuses lets numpy answer."""
    if not np.isfinite(col).all():
        raise _Refused("int() of an infinite or NaN value")
    whole = np.trunc(col)
    info = np.iinfo(dt)
    if len(whole) and (whole.min() < info.min or whole.max() > info.max):
        raise _Refused("an integer out of the field's range")  # numpy's OverflowError
    return whole.astype(dt)


def _right_length(delim: str | None, usecols: Any) -> Callable[[str], bool]:
    """Whether a line (cut at its comment) is a row genfromtxt keeps: as many fields as
    the first row, or enough for ``usecols`` (numpy's LineSplitter splits it)."""
    from numpy.lib._iotools import LineSplitter

    split = LineSplitter(delimiter=delim, comments=None, autostrip=False)
    cols = None if usecols is None else [operator.index(c) for c in _as_list(usecols)]
    first: list[int] = []

    def counts(text: str) -> bool:
        n = len(split(text))
        if not first:
            first.append(n)
        if cols is None:
            return n == first[0]
        # (negatives count from the first row's end: numpy makes them indices once)
        return all(0 <= (c + first[0] if c < 0 else c) < n for c in cols)

    return counts


def _right_rows(
    data: bytes, delim: str, header: np.dtype | None, usecols: Any, head: int, foot: int,
    max_rows: int | None, invalid_raise: bool, notes: list[str],
) -> tuple[bytes, int, Any]:
    """genfromtxt's rows of the wrong length (not as many fields as the first row, or
    too few for ``usecols``): left out, with numpy's message (its line numbers, counted
    from the first row or the ``header`` line) as a ConversionWarning in ``notes``; an
    error (numpy answers) under ``invalid_raise`` unless they fall in the footer, which
    shrinks by as many.  ``max_rows`` counts the rows kept.  Returns the rows kept (cut
    after the last used field when their lengths differ), the footer and usecols made
    non-negative from the first row, as numpy makes them."""
    d = delim.encode()
    lines = data.split(b"\n")
    start = 0 if header is not None else next((k for k, x in enumerate(lines) if x), 0)
    if header is not None:
        first = len(header.names) if usecols is None else None
    else:
        first = lines[start].count(d) + 1 if start < len(lines) else 0
    cols = None
    if usecols is not None:
        cols = [operator.index(c) for c in _as_list(usecols)]
        if any(c < 0 for c in cols):
            if first is None:  # (named: _header made them non-negative already)
                raise _Refused("negative usecols")
            cols = [c + first if c < 0 else c for c in cols]
        if any(c < 0 for c in cols):
            raise _Refused("usecols out of range")
    nbcols = len(cols) if cols is not None else first
    kept: list[bytes] = []
    wrong: list[tuple[int, int]] = []
    ragged = False
    for k in range(start, len(lines)):
        line = lines[k]
        if not line:
            continue
        n = line.count(d) + 1
        if (n != nbcols) if cols is None else any(c >= n for c in cols):
            wrong.append((k - start + (header is not None) + head + 1, n))
            continue
        ragged = ragged or (bool(kept) and n != kept_n)
        kept_n = n
        kept.append(line)
        if len(kept) == max_rows:
            break
    if not kept and wrong:
        raise _Refused("no row of the right length")  # (numpy's shape of nothing)
    if wrong:
        nbrows = len(kept) + len(wrong) - foot
        if foot > 0:
            skipped = len([w for w in wrong if w[0] > nbrows + head])
            wrong = wrong[: len(wrong) - skipped]
            foot -= skipped
        if wrong:
            if invalid_raise:
                raise _Refused("rows of the wrong length")  # numpy's ValueError
            notes.append("\n".join(
                ["Some errors were detected !"]
                + [f"    Line #{i} (got {n} columns instead of {nbcols})" for i, n in wrong]
            ))
    if ragged and cols is not None:
        width = max(cols) + 1
        kept = [d.join(line.split(d)[:width]) for line in kept]
        if b"" in kept:  # (one empty used field, cut to a blank line the core skips)
            raise _Refused("an empty first field cut to a blank line")  # numpy answers
    # (numpy's footer may go below zero here: then nothing is cut)
    return b"".join(line + b"\n" for line in kept), max(foot, 0), cols


def _as_list(value: Any) -> list[Any]:
    try:
        return list(value)
    except TypeError:
        return [value]


def _genfromtxt_strings(col: np.ndarray, dt: np.dtype, autostrip: bool) -> np.ndarray:
    """A column of core records as genfromtxt gives a ``dt`` field: text decoded from
    UTF-8 (``U``) or kept (``S``, ASCII), stripped under ``autostrip``."""
    if dt.kind not in "US":
        return col
    if dt.kind == "U":
        col = np.strings.decode(col, "utf-8")
    if autostrip:
        col = np.strings.strip(col)
    if dt.itemsize == 0:  # (unsized: as wide as the longest value, as numpy sizes it)
        width = int(np.strings.str_len(col).max(initial=0))
        col = col.astype(f"{dt.kind}{max(width, 1)}")
    return col


_DEFAULTS: dict[Any, Any] = {np.int_: -1, np.float64: np.nan, np.complex128: np.nan + 0j}


def _infer_column(
    u: np.ndarray, tokens: list[str], fill: Any
) -> tuple[type, np.ndarray, np.ndarray, bool]:
    """genfromtxt's type of a column with ``dtype=None`` (its StringConverter's upgrade
    chain bool -> int -> float -> complex -> str; a field whose stripped text is one of
    ``tokens``, the column's missing values, may fail), the column's values (a missing
    field that does not parse takes ``fill``, or the type's default), its missing
    mask, and whether numpy counts the column's type as "checked" (not for a boolean
    column with a missing value).  numpy's string casts parse as Python's int(),
    float() and complex() do, which genfromtxt calls per value."""
    miss = np.isin(np.strings.strip(u), tokens)
    rest = u[~miss]
    up = np.strings.upper(u)
    true, false = up == "TRUE", up == "FALSE"
    if (true | false | miss).all():
        # (a missing value that reads as a bool is that bool: numpy's converter runs first)
        failing = miss & ~(true | false)
        if not failing.any():
            return np.bool_, true, miss, True
        # a missing field is False (or the filling value, kept as given: numpy's array
        # casts it), and numpy leaves the column out of its "uniform" test
        values = true.astype(object)
        values[failing] = False if fill is None else fill
        return np.bool_, values, miss, False
    for kind in (np.int_, np.float64, np.complex128):
        try:
            with np.errstate(all="ignore"):
                values = rest.astype(kind)
        except (ValueError, OverflowError, TypeError):
            continue
        return kind, _filled(u, miss, values, kind, fill), miss, True
    try:
        rest.astype(np.longdouble)
    except (ValueError, OverflowError, TypeError):
        pass
    else:
        raise _Refused("a long double column")  # numpy answers
    # Past long double, numpy's chain tries the abstract np.integer, from the first
    # value on: a value int() reads before the first non-missing one that int() does
    # not read makes numpy raise TypeError (numpy answers that)
    if miss.all():
        raise _Refused("a text column of missing values")
    first = int(np.argmin(miss))
    for text in [*np.unique(u[:first]).tolist(), str(u[first])]:
        try:
            int(text)
        except ValueError:
            continue
        raise _Refused("a text column with an integer before its first text")
    return np.str_, u, miss, True


def _convert_token(token: str, kind: Any) -> Any:
    """One missing value converted as genfromtxt's converter of ``kind`` converts it
    (str2bool for booleans); ValueError when it does not parse."""
    if kind is np.bool_:
        if token.upper() not in ("TRUE", "FALSE"):
            raise ValueError(token)
        return token.upper() == "TRUE"
    with np.errstate(all="ignore"):
        return np.array([token]).astype(kind)[0]


def _filled(
    u: np.ndarray, miss: np.ndarray, values: np.ndarray, kind: Any, fill: Any
) -> np.ndarray:
    """A column of ``kind``: ``values`` where the text was not missing; a missing field
    its own value if it parses (numpy's converter runs first), else ``fill`` or the
    type's default."""
    out = np.full(len(u), _DEFAULTS[kind] if fill is None else fill, dtype=kind)
    out[~miss] = values
    for token in np.unique(u[miss]):
        try:
            out[u == token] = _convert_token(str(token), kind)
        except (ValueError, OverflowError, TypeError):
            pass
    return out


def _shaped(arr: Any, ndmin: int, unpack: Any) -> Any:
    """genfromtxt's last steps: ``ndmin``, then ``unpack`` (the transpose, or the fields)."""
    arr = _ensure_ndmin(arr, ndmin)
    if not unpack:
        return arr
    names = arr.dtype.names
    if names is None:
        return arr.T
    return arr[names[0]] if len(names) == 1 else [arr[n] for n in names]


def _per_column(
    missing_values: Any, filling_values: Any, n: int
) -> tuple[list[list[str]], list[Any]]:
    """genfromtxt's missing values (strings, ``""`` always among them) and filling values
    of each of ``n`` columns, as numpy spreads them (a string of comma-separated values
    or a scalar for all columns, a sequence column by column, a dict by column index)."""
    miss: list[list[str]] = [[""] for _ in range(n)]
    given = missing_values or ()
    if isinstance(given, bytes):
        given = given.decode("latin1")
    if isinstance(given, dict):
        for key, val in given.items():
            vals = [str(v) for v in val] if isinstance(val, (list, tuple)) else [str(val)]
            if key is None:
                for entry in miss:
                    entry.extend(vals)
            elif isinstance(key, int) and -n <= key < n:
                miss[key].extend(vals)
            else:
                raise Unsupported(FALLBACK["genfromtxt-option"])
    elif isinstance(given, (list, tuple)):
        for value, entry in zip(given, miss):
            if str(value) not in entry:
                entry.append(str(value))
    elif isinstance(given, str):
        for entry in miss:
            entry.extend(given.split(","))
    else:
        for entry in miss:
            entry.append(str(given))
    fills: list[Any] = [None] * n
    if isinstance(filling_values, dict):
        for key, val in filling_values.items():
            if not isinstance(key, int) or not -n <= key < n:
                raise Unsupported(FALLBACK["genfromtxt-option"])
            fills[key] = val
    elif isinstance(filling_values, (list, tuple)):
        fills[: len(filling_values)] = list(filling_values)[:n]
    elif filling_values is not None:
        fills = [filling_values] * n
    return miss, fills


def _masked(arr: np.ndarray, masks: list[np.ndarray], kinds: list[Any],
            tokens: list[list[str]], fills: list[Any]) -> Any:
    """genfromtxt's ``usemask=True`` result: ``arr`` as a masked array, a field masked
    where its text was a missing value and, for named fields, where its value equals
    what a missing value converts to (numpy's own last step)."""
    if arr.dtype.names is None:
        mask = np.stack(masks, axis=1) if masks else np.zeros(arr.shape, bool)
    else:
        mask = np.empty(arr.shape, dtype=[(n, bool) for n in arr.dtype.names])
        for name, m, kind, toks, fill in zip(arr.dtype.names, masks, kinds, tokens, fills):
            mask[name] = m
            for token in toks:
                if token == "":
                    continue
                if kind in (np.str_, np.bytes_):
                    value: Any = token if kind is np.str_ else token.encode("latin1")
                else:
                    try:
                        value = _convert_token(token, kind)
                    except (ValueError, OverflowError, TypeError):
                        if token.strip() != token:
                            raise _Refused("a missing value with spaces") from None
                        value = _DEFAULTS.get(kind, False) if fill is None else fill
                mask[name] |= arr[name] == value
    out = arr.view(np.ma.MaskedArray)
    out._mask = mask
    return out


def _genfromtxt_infer(
    data: bytes, delim: str, ncols: int, used: list[int], names: list[str] | None,
    foot: int, unpack: Any, ndmin: int, byte_strings: bool, defaultfmt: str,
    autostrip: bool, missing_values: Any = None, filling_values: Any = None,
    usemask: bool = False, fixed: tuple[list[np.dtype], np.dtype] | None = None,
) -> Any:
    """genfromtxt with ``dtype=None``: every used column read by the core as text, then
    typed as genfromtxt types it (:func:`_infer_column`) and put together as numpy
    puts it (one type: a 2-D array; else a structured one; masked under ``usemask``)."""
    tokens, fills = _per_column(missing_values, filling_values, len(used))
    bound = _longest_line(data)
    if bound > MAX_STR_WIDTH:
        raise Unsupported(FALLBACK["genfromtxt-dtype"])
    spec = {"type": "str", "width": bound, "truncate": True}
    rec = _read_columns(data, delim, ncols, {i: spec for i in used}, nullable=False)
    # (numpy infers the types from every row, then drops skip_footer rows)
    texts = [np.strings.decode(rec[f"f{i}"], "utf-8") for i in used]
    if fixed is not None:  # a dtype given: each field's own converter
        return _genfromtxt_fixed(texts, tokens, fills, fixed, foot, unpack, ndmin,
                                 autostrip, usemask)
    typed = [
        _infer_column(np.strings.strip(u) if autostrip else u, toks, fill)
        for u, toks, fill in zip(texts, tokens, fills)
    ]
    kinds = [k for k, _, _, _ in typed]
    rows = max(len(rec) - foot, 0)
    cols = [c[:rows] for _, c, _, _ in typed]
    masks = [m[:rows] for _, _, m, _ in typed]
    if rows == 0:
        raise _Refused("no rows left")
    if byte_strings and np.str_ in kinds:
        for k, kind in enumerate(kinds):
            if kind is np.str_:  # (the text is ASCII: checked before)
                kinds[k], cols[k] = np.bytes_, np.strings.encode(cols[k], "latin1")
    base = {k for k, (_, _, _, checked) in zip(kinds, typed) if checked}
    sized = [
        np.dtype((kind, max(int(np.strings.str_len(c).max()), 0)))
        if kind in (np.str_, np.bytes_) else np.dtype(kind)
        for kind, c in zip(kinds, cols)
    ]
    if any(d.kind in "SU" and d.itemsize == 0 for d in sized):
        raise _Refused("an empty string column")  # numpy's unsized string: it answers
    if byte_strings and np.bytes_ in kinds:  # (genfromtxt -> _attempt -> own -> here)
        warnings.warn(
            "Reading unicode strings without specifying the encoding argument is "
            "deprecated. Set the encoding, use None for the system default.",
            np.exceptions.VisibleDeprecationWarning, stacklevel=6,
        )
    if names is None and len(base) == 1:
        uniform = base.pop()
        if uniform in (np.str_, np.bytes_):
            if len(set(kinds)) > 1:
                raise _Refused("text and unchecked columns")  # numpy's str() of them
            out_dt = max(sized, key=lambda d: d.itemsize)  # (one width for all)
        else:
            out_dt = np.dtype(uniform)
        arr = np.empty((rows, len(cols)), dtype=out_dt)
        for k, c in enumerate(cols):
            arr[:, k] = c
    else:
        labels = names if names is not None else [defaultfmt % k for k in range(len(cols))]
        arr = np.empty(rows, dtype=list(zip(labels, sized)))
        for name, c in zip(arr.dtype.names, cols):
            arr[name] = c
    if usemask:
        arr = _masked(arr, masks, kinds, tokens, fills)
    return _shaped(arr, ndmin, unpack)


def _genfromtxt_fixed(
    texts: list[np.ndarray], tokens: list[list[str]], fills: list[Any],
    fixed: tuple[list[np.dtype], np.dtype], foot: int, unpack: Any, ndmin: int,
    autostrip: bool, usemask: bool,
) -> Any:
    """genfromtxt with a float64/float32/int64 dtype and missing_values, filling_values
    or usemask: each column converted by its field's converter (float(), np.int64),
    a missing field by its filling value (or NaN, -1), put together as numpy does."""
    fields, out_dt = fixed
    kinds = [np.float64 if f.kind == "f" else np.int_ for f in fields]
    # numpy gives a structured dtype of one field a single converter that ignores the
    # missing values (float(b'?') raises): numpy answers such a file
    one_field = out_dt.names is not None and len(fields) == 1
    cols, masks = [], []
    for u, toks, fill, kind in zip(texts, tokens, fills, kinds):
        u = np.strings.strip(u) if autostrip else u
        miss = np.isin(np.strings.strip(u), toks)
        if one_field and miss.any():
            raise _Refused("a missing value in the one field of a structured dtype")
        try:
            with np.errstate(all="ignore"):
                values = u[~miss].astype(kind)
        except (ValueError, OverflowError, TypeError):
            raise _Refused("a value the field's converter refuses") from None  # (loose)
        out = _filled(u, miss, values, kind, fill)
        rows = max(len(u) - foot, 0)
        cols.append(out[:rows])
        masks.append(miss[:rows])
    rows = len(cols[0]) if cols else 0
    if rows == 0:
        raise _Refused("no rows")  # (numpy's shape of nothing, unmasked: it answers)
    if out_dt.names is not None:
        arr = np.empty(rows, dtype=out_dt)
        for name, c in zip(out_dt.names, cols):
            arr[name] = c
    else:
        arr = np.empty((rows, len(cols)), dtype=out_dt)
        for k, c in enumerate(cols):
            arr[:, k] = c
    if usemask:  # (that one converter is numpy's asbytes: a missing value's bytes
        # equal no number, so numpy's last step masks nothing more)
        arr = _masked(arr, masks, [np.bytes_] if one_field else kinds, tokens, fills)
    return _shaped(arr, ndmin, unpack)


def _header(
    data: bytes, comments: str | None, usecols: Any, dt: np.dtype, naming: dict[str, Any],
    inferring: bool = False,
) -> tuple[bytes, np.dtype, Any]:
    """genfromtxt's ``names``: for ``names=True`` the first line with values (a comment's
    text counts, the line is used up), else the names given (a comma-separated string
    or a sequence); made valid by numpy's own NameValidator and easy_dtype, ``usecols``
    by name or from the end made indices.  Returns the rest of the data, the structured
    dtype, and the usecols.

    numpy validates the names once, then ``easy_dtype`` validates them again; the two
    spellings differ when a deleted character uncovers whitespace (``'"\xa01"'`` is
    ``'\xa01'`` once, ``'1'`` twice: str.strip() runs before the deletion).  numpy's
    result carries the names validated once when it infers the dtype (``inferring``), or
    when ``usecols`` picks no fewer columns than the dtype has; else the dtype's."""
    given = naming["names"]
    try:
        from numpy.lib._iotools import LineSplitter, NameValidator, easy_dtype
    except ImportError:  # pragma: no cover - a numpy that moved its helpers
        raise Unsupported(FALLBACK["genfromtxt-option"]) from None
    split = LineSplitter(delimiter=naming["delimiter"], comments=comments, autostrip=False)
    at = 0
    values: list[str] = []
    while not values:
        if at >= len(data):
            raise _Refused("no header line")  # numpy warns and returns an empty array
        nl = data.find(b"\n", at)
        end = len(data) if nl < 0 else nl
        line = data[at:end].decode("utf-8")
        at = end + 1
        if given is True and comments is not None and comments in line:
            line = "".join(line.split(comments)[1:])
        values = split(line)
    if given is True and comments is not None and values[0].strip() in comments:
        del values[0]
    if not values:
        raise _Refused("empty header")
    if given is True:
        raw = [str(v.strip()) for v in values]
    else:  # (the line read is data: it stays)
        at = 0
        raw = [c.strip() for c in given.split(",")] if isinstance(given, str) else given
    names = NameValidator(
        excludelist=naming["excludelist"], deletechars=naming["deletechars"],
        case_sensitive=naming["case_sensitive"], replace_space=naming["replace_space"],
    )(raw)
    named = easy_dtype(
        dt, defaultfmt=naming["defaultfmt"], names=names, excludelist=naming["excludelist"],
        deletechars=naming["deletechars"], case_sensitive=naming["case_sensitive"],
        replace_space=naming["replace_space"],
    )
    if usecols is not None:
        if isinstance(usecols, str):
            usecols = [c.strip() for c in usecols.split(",")]
        try:
            usecols = list(usecols)
        except TypeError:
            usecols = [usecols]
        for k, c in enumerate(usecols):
            if isinstance(c, str):
                if c not in names:
                    raise _Refused("usecols name not in the header")
                usecols[k] = names.index(c)
            elif c < 0:
                usecols[k] = c + len(values)
        if len(named) > len(usecols):
            named = np.dtype([named.descr[c] for c in usecols])
            if inferring:  # (numpy picks these from the names validated once)
                named.names = [names[c] for c in usecols]
        elif inferring or usecols:
            named.names = names
    elif inferring:
        named.names = names
    if named.names is None or len(named.names) != len(usecols or values):
        raise Unsupported(FALLBACK["genfromtxt-option"])
    return data[at:], named, usecols


__all__ = ["FALLBACK", "genfromtxt", "loadtxt"]
