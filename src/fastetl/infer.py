"""Dialect sniffing and type inference: a :class:`~fastetl.schema.Schema` from a CSV file.

The rules are written out in ``docs/INFERENCE.md``; this module implements them.
In short:

1. **Sample** a bounded number of bytes (:data:`SAMPLE_BYTES`, whatever the file
   size) from the beginning, the middle and the end of the input.  Middle and end
   samples start at an arbitrary byte, so they are re-synchronised to a row start
   (a start is accepted only when the next rows split into the expected number of
   fields) and their cut last row is dropped.
2. **Sniff** the encoding (BOM, UTF-8 validity, cp1252/latin-1), the delimiter and
   the quote character (the combination whose rows split most consistently) and
   whether the first row is a header.
3. **Infer** the narrowest exact type of every column from the sampled values,
   then **check** the schema by converting the sample with the real converter
   (:func:`fastetl.read_csv`), widening a column each time the converter refuses
   one of its values -- so inference can never disagree with conversion on the
   sample.
4. With ``infer_rows="all"``, the same check-and-widen loop runs over the whole
   input (bounded number of passes), so the schema is guaranteed to convert it.

Public functions: :func:`infer_schema`, :func:`sniff`, :func:`sniff_dialect`,
:func:`infer_columns`, :func:`hint_for`, :func:`unique_names`.
"""

from __future__ import annotations

import codecs
import datetime as _dt
import math
import os
import re
import stat
import warnings
from collections import Counter
from itertools import combinations
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from . import _core
from .errors import EncodingGuessWarning, ParseError, SchemaError, shown
from .layout import SYN_LENIENT, syntax_bits, syntax_word
from .schema import (
    INT_TYPES,
    MAX_NAME_BYTES,
    MAX_STR_WIDTH,
    Column,
    Dialect,
    STRUCTURE_DEFAULTS,
    Schema,
    _listed,
    _strings,
    parse_type,
    unique_names,
)
from .sources import InputError, compression_of, open_source

# -- tunables (documented in docs/INFERENCE.md) --------------------------------
SAMPLE_BYTES = 4 << 20  # most bytes read from the input for the sample
DEFAULT_INFER_ROWS = 10_000  # rows sampled by default
SNIFF_BYTES = 256 << 10  # bytes of the head used to choose delimiter / quote
SNIFF_ROWS = 500  # rows of the head used to choose delimiter / quote / header
DELIMITERS = (",", "\t", ";", "|")  # candidates, in order of preference on a tie
QUOTES: tuple[str | None, ...] = ('"', "'", None)  # candidates
# On a tie, and when no field starts with a quote: '"' (the standard), then no quoting, then "'".
_QUOTE_RANK = {'"': 2, None: 1, "'": 0}
# Texts that mean "missing" when they stand where a typed value is expected.
NULL_TOKENS = ("NA", "N/A", "n/a", "NULL", "null", "None", "NaN", "nan", "#N/A", "-")
_NULL_SET = frozenset(NULL_TOKENS)
CATEGORY_MAX_DISTINCT = 255  # a text column with more distinct values is str
CATEGORY_MAX_RATIO = 0.05  # ... or with more than 5% distinct values among its non-nulls
STR_MIN_WIDTH = 8
STR_HEADROOM = 1.5
# Free text is ``text`` (each value once, out of line, plus a 12-byte reference) rather
# than str(width) (the widest value x 1.5, padded, in every row) when its longest value is
# over TEXT_MIN_BYTES and the str width would take over TEXT_SAVING times the bytes text
# takes per row (or no str width holds it).
TEXT_MIN_BYTES = 64
TEXT_SAVING = 2
TEXT_REF_BYTES = 12
MAX_PASSES = 64  # full-file passes allowed in guaranteed mode (plus 4 per column)
_RESYNC_TRIES = 64  # line starts tried when re-synchronising a middle/end sample
_RESYNC_ROWS = 3  # consecutive well-formed rows needed to accept a re-synchronised start
_ALL_ROWS = 1 << 62  # no cap on the rows read
FLOAT_EXACT = 2**53  # integers up to this magnitude are exact in float64
_LEFT_OUT_LINES = 20  # lines of left-out sample rows listed in the schema's inferred facts
COMMENT_MARKS = ("#",)  # comment marks detected (any other is an option)
ESCAPES = ("\\",)  # escape characters detected
PREAMBLE_LINES = 50  # most lines taken for a preamble before the header
STRUCTURE = STRUCTURE_DEFAULTS  # the row-structure options and their defaults

_NEED_MORE = -1
_S = _core.STATUS
_CP1252_UNDEFINED = frozenset((0x81, 0x8D, 0x8F, 0x90, 0x9D))
_BOMS = {
    "utf-8": (b"\xef\xbb\xbf",),
    "utf-8-sig": (b"\xef\xbb\xbf",),
    "utf-16": (b"\xff\xfe", b"\xfe\xff"),
    "utf-32": (b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff"),
}

__all__ = [
    "DEFAULT_INFER_ROWS",
    "NULL_TOKENS",
    "SAMPLE_BYTES",
    "Sniffed",
    "hint_for",
    "infer_columns",
    "infer_schema",
    "sniff",
    "sniff_dialect",
    "unique_names",
]


# =============================================================================
# Reading a bounded sample
# =============================================================================
@dataclass
class _Raw:
    """Raw bytes read from the input: the head and, for large inputs, two windows."""

    head: bytes
    head_is_all: bool  # the head holds the whole input
    middle: bytes | None = None
    tail: bytes | None = None  # ends at the end of the input
    size: int | None = None
    # a whole regular file's (path, size, mtime) as read, or a buffer's ("<bytes>", size,
    # None): the source facts of a read that keeps the sample's records (see facts); set
    # after the pieces are read (not a field: the pieces alone say what was sampled)
    origin = None

    def facts(self) -> dict[str, Any] | None:
        """What :meth:`fastetl.sources.Source.facts` says of this input (a whole, plain,
        uncompressed one), from the read that took the sample; None: not known here."""
        if self.origin is None:
            return None
        path, size, mtime = self.origin
        if mtime is None:
            return {"path": path, "size": size}
        return {"path": str(Path(path).resolve()), "size": size, "mtime": mtime}


_HEAD = SAMPLE_BYTES // 2
_WINDOW = SAMPLE_BYTES // 4


def _raw_from_buffer(data: Any) -> _Raw:
    n = len(data)
    if n <= SAMPLE_BYTES:
        return _Raw(head=bytes(data[:n]), head_is_all=True, size=n)
    mid = (n // 2) & ~3  # multiples of 4 keep UTF-16/32 code units aligned
    tail = (n - _WINDOW) & ~3
    return _Raw(
        head=bytes(data[:_HEAD]),
        head_is_all=False,
        middle=bytes(data[mid : mid + _WINDOW]),
        tail=bytes(data[tail:n]),
        size=n,
    )


def _read_up_to(read: Any, n: int) -> tuple[bytes, bool]:
    """Read up to ``n`` bytes from a stream; also say whether it ended."""
    parts: list[bytes] = []
    got = 0
    while got < n:
        chunk = read(n - got)
        if not chunk:
            return b"".join(parts), True
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts), not read(1) if n else False


def _read_raw(src: Any) -> _Raw:
    """Read the sample bytes of ``src`` (path, bytes-like or seekable binary file)."""
    if isinstance(src, (bytes, bytearray, memoryview)):
        data = memoryview(src).cast("B") if isinstance(src, memoryview) else src
        if compression_of(bytes(data[:8])) is None:
            raw = _raw_from_buffer(data)
            if raw.head_is_all:  # (as open_source names and sizes it)
                raw.origin = ("<bytes>", len(data), None)
            return raw
        with open_source(src) as source:
            return _raw_head(source)
    if isinstance(src, (str, os.PathLike)) and src != "-":
        small = _small_file(src)
        if small is not None:
            return small
    if isinstance(src, str) and src == "-":
        raise InputError(
            "cannot infer a schema from standard input directly: it can be read only once. "
            "Read it into bytes or a temporary file first and infer from that"
        )
    if hasattr(src, "read"):
        seekable = getattr(src, "seekable", None)
        if not (callable(seekable) and seekable()):
            raise InputError(
                "cannot infer a schema from a stream that cannot seek: it would be consumed. "
                "Read it into bytes or a temporary file first and infer from that"
            )
        pos = src.tell()
        first = src.read(8)
        src.seek(pos)
        if isinstance(first, str) or compression_of(first) is not None:
            # text, or compressed: the sample is the head of the text, as it is read
            try:
                with open_source(src) as source:
                    return _raw_head(source)
            finally:
                src.seek(pos)
        try:
            end = src.seek(0, os.SEEK_END)
            n = end - pos
            if n <= SAMPLE_BYTES:
                src.seek(pos)
                data, _ = _read_up_to(src.read, n)
                return _Raw(head=data, head_is_all=True, size=n)
            src.seek(pos)
            head, _ = _read_up_to(src.read, _HEAD)
            mid = (n // 2) & ~3
            src.seek(pos + mid)
            middle, _ = _read_up_to(src.read, _WINDOW)
            tail = (n - _WINDOW) & ~3
            src.seek(pos + tail)
            tail_b, _ = _read_up_to(src.read, n - tail)
            return _Raw(head=head, head_is_all=False, middle=middle, tail=tail_b, size=n)
        finally:
            src.seek(pos)
    with open_source(src) as source:
        if source.is_buffer:
            return _raw_from_buffer(source.buffer)
        if source.compression is None:
            raise InputError(
                f"{source.name} is not a regular file (a pipe?): it can be read only once. "
                "Copy it to a file first and infer from that"
            )
        return _raw_head(source)


def _small_file(path: Any) -> _Raw | None:
    """The sample of a regular, uncompressed file, read with plain reads (no map to set
    up and fault in for 4 MiB): the whole file when it has at most SAMPLE_BYTES, else the
    head and the two windows :func:`_raw_from_buffer` takes; None otherwise (and for any
    error, which open_source then reports)."""
    try:
        with open(path, "rb", buffering=0) as f:
            info = os.fstat(f.fileno())
            if not stat.S_ISREG(info.st_mode):
                return None
            n = info.st_size
            if n > SAMPLE_BYTES:
                mid = (n // 2) & ~3  # as _raw_from_buffer cuts them
                tail = (n - _WINDOW) & ~3
                pieces = []
                for at, k in ((0, _HEAD), (mid, _WINDOW), (tail, n - tail)):
                    f.seek(at)
                    pieces.append(_read_up_to(f.read, k)[0])
                if [len(b) for b in pieces] != [_HEAD, _WINDOW, n - tail] or (
                    compression_of(pieces[0][:8]) is not None
                ):
                    return None  # (compressed, or the file changed size while read)
                return _Raw(pieces[0], False, pieces[1], pieces[2], size=n)
            # (a read of SAMPLE_BYTES + 1 takes a buffer of that size first: 0.2 ms of
            # page faults for a 350 KB file; a file that grew meanwhile is read on)
            data = f.read(n + 1)
            if len(data) > n:
                data += f.read(SAMPLE_BYTES + 1 - len(data))
    except (OSError, TypeError, ValueError):
        return None
    if len(data) > SAMPLE_BYTES or compression_of(data[:8]) is not None:
        return None
    if len(data) != n:  # (the file changed size while read: its facts are not these)
        return _Raw(head=data, head_is_all=True, size=len(data))
    raw = _Raw(head=data, head_is_all=True, size=n)
    raw.origin = (os.fspath(path), n, info.st_mtime)
    return raw


def _raw_head(source: Any) -> _Raw:
    """The sample of an input read as a stream (compressed, or text): no seeking, the
    sample is the head of its text."""
    head, ended = _read_up_to(source.read, SAMPLE_BYTES)
    return _Raw(head=head, head_is_all=ended, size=len(head) if ended else None)


# =============================================================================
# Encoding
# =============================================================================
def _utf8_ok(data: bytes, final: bool) -> bool:
    # checked in compiled code, as Python's incremental decoder would, without the text;
    # the sample's pieces are asked about more than once (encoding, check, transcoding):
    # the answers for the last four are kept for the same bytes objects (bytes cannot
    # change), so the head is still known after the middle and the tail were checked
    last = _UTF8_LAST[0]  # (one read of one tuple: threads may infer at the same time)
    for known in last or ():
        if known[0] is data and known[1] == final:
            return known[2]
    ok = _core.utf8_ok(data, final)
    if type(data) is bytes and len(data) >= 65536:
        _UTF8_LAST[0] = ((data, final, ok), *(last or ())[:3])
    return ok


_UTF8_LAST: list[Any] = [None]  # (data, final, answer) of the last large bytes checked


def _decodes(data: bytes, encoding: str, final: bool) -> bool:
    try:
        codecs.getincrementaldecoder(encoding)().decode(data, final)
    except UnicodeDecodeError:
        return False
    return True


def _inner(chunk: bytes, final: bool, view: bool = False) -> Any:
    """A window cut at an arbitrary byte, from its first line break on; with ``view`` a
    memoryview of ``chunk``, not a copy (a 1 MiB window copied to check its UTF-8 took
    256 fresh pages, ~1.5 ms of every inference of a large file on this kind of VM)."""
    i = chunk.find(b"\n")
    if i < 0:
        return chunk if final else b""
    return memoryview(chunk)[i + 1 :] if view else chunk[i + 1 :]


@dataclass(frozen=True)
class EncodingGuess:
    """The encoding sniffing chose, how, and a warning when the bytes do not look like it."""

    name: str  # a Python codec name
    bom: int  # bytes of byte order mark at the start
    how: str  # "bom", "zero bytes", "utf-8", "charset-normalizer", "not utf-8", "given"
    warning: str | None = None


def detect_encoding(raw_head: bytes, *others: bytes, head_is_all: bool = False) -> tuple[str, int]:
    """``(codec name, BOM length)`` for the sample bytes (see docs/INFERENCE.md)."""
    g = guess_encoding(raw_head, *others, head_is_all=head_is_all)
    return g.name, g.bom


def guess_encoding(raw_head: bytes, *others: bytes, head_is_all: bool = False) -> EncodingGuess:
    """The encoding of the sample bytes (see docs/INFERENCE.md): a byte order mark,
    UTF-16 by its zero bytes, UTF-8 when every sample decodes; else charset-normalizer's
    choice when it is installed (the ``encodings`` extra), else the Windows code page
    cp1252 (latin-1 when cp1252 cannot decode the bytes), with a warning when the
    bytes do not look like its text."""
    h = raw_head
    if h.startswith(b"\xef\xbb\xbf"):
        return EncodingGuess("utf-8-sig", 3, "bom")
    if h.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        return EncodingGuess("utf-32", 4, "bom")
    if h.startswith((b"\xff\xfe", b"\xfe\xff")):
        return EncodingGuess("utf-16", 2, "bom")
    probe = h[:65536]
    # BOM-less UTF-16? (a zero byte first: memchr, not a count of 64 KiB)
    if len(probe) >= 4 and b"\0" in probe and probe.count(0) * 4 > len(probe):
        even, odd = probe[0::2].count(0), probe[1::2].count(0)
        guess = None
        if odd * 2 > len(probe) // 2 and even * 10 < odd:
            guess = "utf-16-le"
        elif even * 2 > len(probe) // 2 and odd * 10 < even:
            guess = "utf-16-be"
        if guess and _decodes(h, guess, head_is_all):
            return EncodingGuess(guess, 0, "zero bytes")
    last = len(others) - 1
    views = [(h, head_is_all)] + [
        (_inner(o, i == last, view=True), i == last) for i, o in enumerate(others)
    ]
    if all(_utf8_ok(c, fin) for c, fin in views):
        return EncodingGuess("utf-8", 0, "utf-8")
    chunks = [(c if isinstance(c, bytes) else bytes(c), fin) for c, fin in views]
    c1: set[int] = set()
    for c, _ in chunks:
        c1.update(b for b in set(c) if 0x80 <= b <= 0x9F)
    western = "cp1252" if c1 and not (c1 & _CP1252_UNDEFINED) else "latin-1"
    text = "\n".join(_lines(c, fin).decode(western) for c, fin in chunks)
    looks = _looks_western(text)
    if looks is False:  # not Western: ask (with fewer non-ASCII bytes no detector is sure)
        found = _charset_normalizer(chunks, western)
        if found is not None and found != western:
            return EncodingGuess(found, 0, "charset-normalizer")
    how = "not utf-8"
    warning = None
    if looks is False:
        warning = (
            f"the input is not UTF-8 and its bytes do not look like {western} text (as "
            f"{western} they read {_sample_of_mojibake(text)}); give the encoding "
            "(--encoding, encoding=)"
            + ("" if _has_detector() else ", or install fastetl[encodings] to detect it")
        )
    return EncodingGuess(western, 0, how, warning)


_DETECT_BYTES = 256 << 10  # bytes of each sample charset-normalizer looks at


def _has_detector() -> bool:
    import importlib.util

    return importlib.util.find_spec("charset_normalizer") is not None


def _lines(chunk: bytes, final: bool) -> bytes:
    """A sample chunk up to its last line break (unless it is the input's end): a cut
    multi-byte character at the end would disqualify the right encoding."""
    if final:
        return chunk
    i = chunk.rfind(b"\n")
    return chunk[: i + 1] if i >= 0 else chunk


def _charset_normalizer(chunks: list[tuple[bytes, bool]], western: str) -> str | None:
    """charset-normalizer's encoding for the sample (None: not installed, or no answer
    that decodes every sample); a Latin-script answer gives way to ``western``."""
    try:
        import charset_normalizer
    except ImportError:
        return None
    parts = [_lines(c[:_DETECT_BYTES], fin and len(c) <= _DETECT_BYTES) for c, fin in chunks]
    best = charset_normalizer.from_bytes(b"\n".join(parts)).best()
    if best is None:
        return None
    try:
        name = codecs.lookup(best.encoding).name
    except LookupError:
        return None
    if name.startswith("mac"):  # old Mac code pages: a lookalike of Latin text, not a CSV's
        return None
    if not all(_decodes(c, name, True) for c in parts):
        return None
    if _latin_script(str(best)) and all(_decodes(c, western, True) for c in parts):
        return western  # among Latin-script readings the Windows code page stays
    return name


def _latin_script(text: str) -> bool:
    import unicodedata

    return all(
        "LATIN" in unicodedata.name(c, "") for c in set(text) if ord(c) > 127 and c.isalpha()
    )


def _looks_western(text: str) -> bool | None:
    """Whether text decoded as cp1252/latin-1 looks like a Western European language: its
    non-ASCII letters stand alone inside ASCII words (``café``, ``São``); the bytes of
    Cyrillic, Greek or CJK text read that way come in runs, far from ASCII letters.
    None: too few non-ASCII characters to tell."""
    n = len(text)
    high = [i for i, c in enumerate(text) if ord(c) > 127]
    if len(high) < 8:
        return None  # too little to tell
    in_runs = 0
    j = 0
    while j < n:
        if ord(text[j]) > 127:
            k = j
            while k < n and ord(text[k]) > 127:
                k += 1
            if k - j >= 3:
                in_runs += k - j
            j = k
        else:
            j += 1
    letters = [i for i in high if text[i].isalpha()]

    def ascii_letter(i: int) -> bool:
        return 0 <= i < n and text[i].isascii() and text[i].isalpha()

    in_words = sum(1 for i in letters if ascii_letter(i - 1) or ascii_letter(i + 1))
    return in_runs * 10 <= len(high) * 3 and (not letters or in_words * 10 >= len(letters) * 6)


def _sample_of_mojibake(text: str) -> str:
    """A few words of ``text`` with non-ASCII characters, for the warning."""
    words = [w for w in re.split(r"[\s,;|\t\"']+", text) if any(ord(c) > 127 for c in w)]
    return shown(" ".join(words[:3]), limit=40)


def _is_utf8(encoding: str) -> bool:
    try:
        return codecs.lookup(encoding).name in ("utf-8", "utf-8-sig")
    except LookupError:
        return False


def _norm_codec(encoding: str) -> str:
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise SchemaError(f"unknown encoding {encoding!r}") from None


def _to_utf8(chunk: bytes, encoding: str, *, first: bool, head_bom: bytes) -> bytes:
    """Transcode a sample chunk to UTF-8 (the first chunk loses its BOM)."""
    name = _norm_codec(encoding)
    if name in ("utf-8", "utf-8-sig"):
        if first and chunk.startswith(b"\xef\xbb\xbf"):
            chunk = chunk[3:]
        if _utf8_ok(chunk, True):
            return chunk
        # not UTF-8 although told so: the sample gets U+FFFD, the conversion reports the bytes
        return chunk.decode("utf-8", errors="replace").encode("utf-8")
    if name in ("utf-16", "utf-32") and not first:
        # a window in the middle has no BOM: use the byte order the head's BOM gave
        little = not head_bom.startswith((b"\xfe\xff", b"\x00\x00\xfe\xff"))
        name = f"{name}-{'le' if little else 'be'}"
    text = chunk.decode(name, errors="replace")
    if first and text.startswith("\ufeff"):
        text = text[1:]
    return text.encode("utf-8", errors="replace")


# =============================================================================
# Splitting rows with the core's own tokenizer
# =============================================================================
class _RowError(Exception):
    def __init__(self, status: int, pos: int) -> None:
        super().__init__(status, pos)
        self.status = status
        self.pos = pos


def _spans(buf: bytes, pos: int, final: bool, delim: int, quote: int, lenient: bool = False):
    """Yield ``(row_start, next, nfields, last_empty)`` for the whole rows of ``buf[pos:]``
    (``last_empty``: the last field is empty).

    Stops at the end of the buffer or at a row cut by it (when not ``final``); raises
    :class:`_RowError` on a quoting error, or with ``lenient`` yields the row with
    ``nfields`` -1 and goes on after it, as ``on_error="skip"`` reads it.  Rows are
    split by the core in batches (small first: a reader may stop after a few rows).
    """
    batch = 16
    while True:
        rows, status, nxt = _core.split_spans(buf, pos, final, delim, quote, batch, lenient)
        yield from rows
        if status > 0:
            raise _RowError(status, nxt)
        if len(rows) < batch:
            return
        pos = rows[-1][1]
        batch = min(4 * batch, 4096)


def _q(quote: str | None) -> int:
    return ord(quote) if quote else -1


# =============================================================================
# Value classes (the same syntax the converter accepts, see docs/SEMANTICS.md)
# =============================================================================
_INT_RE = re.compile(r"[+-]?([0-9]+)\Z")
_FLOAT_RE = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\Z")
_FLOAT_WORDS = frozenset(("inf", "infinity", "nan"))
_BOOL_WORDS = frozenset(("true", "false", "t", "f", "yes", "no", "1", "0"))
_YMD_RE = re.compile(r"([0-9]{4})([-/.])([0-9]{1,2})\2([0-9]{1,2})\Z")
_DMY_RE = re.compile(r"([0-9]{1,2})([-/.])([0-9]{1,2})\2([0-9]{4})\Z")
_ISO_DT_RE = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})"
    r"(?:[T ]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]{1,9}))?)?"
    r"(Z|[+-][0-9]{2}(?::?[0-9]{2})?)?)?\Z"
)
_DT_RE = re.compile(
    r"(\S+?|[A-Za-z0-9][A-Za-z0-9 ,.-]*?)([ T])([0-9]{1,2}):([0-9]{2})"
    r"(?::([0-9]{2})(?:\.([0-9]{1,9}))?)?(?:( ?)([AaPp][Mm]))?\Z"
)
_NOT = object()  # "not of this kind"


def _is_float(v: str) -> bool:
    return bool(_FLOAT_RE.match(v)) or (v[1:] if v[:1] in "+-" else v).lower() in _FLOAT_WORDS


_MAX_INT_DIGITS = 20  # more digits than any 64-bit integer has


def _small_int(v: str) -> int | None:
    """``int(v)`` for an integer text of at most 20 digits, else None (also avoids
    Python's limit on converting very long digit strings)."""
    m = _INT_RE.match(v)
    if m is None or len(m.group(1)) > _MAX_INT_DIGITS:
        return None
    return int(v)


def _leading_zero(v: str) -> bool:
    m = _INT_RE.match(v)
    return m is not None and len(m.group(1)) > 1 and m.group(1)[0] == "0"


def _valid_date(y: int, m: int, d: int) -> bool:
    try:
        _dt.date(y, m, d)
    except ValueError:
        return False
    return True


def _match_all(regex: re.Pattern[str], vals: list[str]) -> list[re.Match[str]] | None:
    """The match of every value, or None when one does not match."""
    out = []
    for v in vals:
        m = regex.match(v)
        if m is None:
            return None
        out.append(m)
    return out


_MONTHS = (
    "january", "february", "march", "april", "may", "june", "july", "august", "september",
    "october", "november", "december",
)  # fmt: skip
_TOKEN = re.compile(r"[A-Za-z]+|[0-9]+|[^A-Za-z0-9]+")
_YEAR_TOKEN = re.compile(r"(?<![0-9])[0-9]{4}(?![0-9])")  # a _TOKEN of four digits


def _named_shapes(v: str) -> list[str] | None:
    """The formats a date written with a month name may have (``Dec 8, 2022``,
    ``8 December 2022``, ``08-Dec-2022``): one month name, one 1-2 digit day, one 4-digit
    year, anything else literal; None when ``v`` is not such a date."""
    if v.isascii() and _YEAR_TOKEN.search(v) is None:
        return None  # (no year: most texts, column names among them, stop here; a year in
        # other digits, "٢٠٢٢", is one to the tokens below, as before this shortcut)
    shapes = [""]
    seen = set()
    for tok in _TOKEN.findall(v):
        low = tok.lower()
        if tok.isalpha():
            opts = [d for d, ok in (("%b", low in (m[:3] for m in _MONTHS)),
                                    ("%B", low in _MONTHS)) if ok]  # fmt: skip
            what = "month"
        elif tok.isdigit() and len(tok) == 4:
            opts, what = ["%Y"], "year"
        elif tok.isdigit() and len(tok) <= 2:
            opts, what = ["%d"], "day"
        elif not tok.isalnum() and "%" not in tok and tok.isascii():
            shapes = [s + tok for s in shapes]
            continue
        else:
            return None
        if not opts or what in seen:
            return None
        seen.add(what)
        shapes = [s + o for s in shapes for o in opts]
    return shapes if len(seen) == 3 else None


def _named_format(vals: list[str]) -> Any:
    """The month-name date format every value has (``%b`` before ``%B`` when both fit
    all: ``May``), or ``_NOT``."""
    common: list[str] | None = None
    for v in vals:
        shapes = _named_shapes(v)
        if shapes is None:
            return _NOT
        common = shapes if common is None else [s for s in common if s in shapes]
        if not common:
            return _NOT
    if not common:
        return _NOT
    fmt = common[0]
    for v in vals:
        try:
            _dt.datetime.strptime(v, fmt)  # the day exists in that month
        except ValueError:
            return _NOT
    return fmt


def ambiguous_order(vals: list[str]) -> bool:
    """Does every value read as a date both day-first and month-first (``01/02/2024``)?"""
    dmy = _match_all(_DMY_RE, vals)
    if not dmy:
        return False
    parts = [(int(m.group(1)), int(m.group(3)), int(m.group(4))) for m in dmy]
    return all(_valid_date(y, b, a) and _valid_date(y, a, b) for a, b, y in parts)


def _date_format(vals: list[str], dayfirst: bool | None = None) -> Any:
    """The date format all ``vals`` share: ``None`` (ISO), a format string, or ``_NOT``.
    Where every value fits both day-first and month-first, ``dayfirst`` decides
    (None: day-first)."""
    if type(vals) is _Vals:
        iso = vals.ask("iso_dates")
        if iso:
            return None
        first = _first(vals)
        if iso is not None and not (
            _YMD_RE.match(first) or _DMY_RE.match(first) or _named_shapes(first)
        ):
            return _NOT  # (every reading below fails on the first value)
        vals = list(vals)
    if _core.iso_dates(vals):
        return None
    ymd = _match_all(_YMD_RE, vals)
    if ymd is not None:
        seps = {m.group(2) for m in ymd}
        if len(seps) == 1 and all(
            _valid_date(int(m.group(1)), int(m.group(3)), int(m.group(4))) for m in ymd
        ):
            s = seps.pop()
            return f"%Y{s}%m{s}%d"
        return _NOT
    dmy = _match_all(_DMY_RE, vals)
    if dmy is None:
        return _named_format(vals)
    seps = {m.group(2) for m in dmy}
    if len(seps) != 1:
        return _NOT
    s = seps.pop()
    parts = [(int(m.group(1)), int(m.group(3)), int(m.group(4))) for m in dmy]
    day_first = all(_valid_date(y, b, a) for a, b, y in parts)
    month_first = all(_valid_date(y, a, b) for a, b, y in parts)
    if day_first and month_first:  # every value fits both: dayfirst decides (default: day)
        day_first = dayfirst is not False
    if day_first:
        return f"%d{s}%m{s}%Y"
    if month_first:
        return f"%m{s}%d{s}%Y"
    return _NOT


def _iso_datetime(vals: list[str]) -> Any:
    """``{"type": "datetime", ...}`` when every value is an ISO datetime, else ``_NOT``
    (the syntax of _ISO_DT_RE, read in compiled code: ``_core.iso_datetimes``)."""
    got = vals.ask("iso_datetimes") if type(vals) is _Vals else None
    if got is None:
        got = _core.iso_datetimes(list(vals))
    if got < 0:
        return _NOT
    spec = {"type": "datetime", "unit": "ns"} if got & 1 else {"type": "datetime"}
    if got & 2:  # every value says its offset: UTC instants (Arrow, pandas: tz-aware)
        spec["tz"] = "UTC"
    return spec


def _custom_datetime(vals: list[str], dayfirst: bool | None = None) -> Any:
    """A ``<date format> %H:%M[:%S[.%f]][ %p]`` datetime shared by every value (a 12-hour
    clock with AM/PM), else ``_NOT``."""
    if type(vals) is _Vals and not _DT_RE.match(_first(vals)):
        return _NOT  # (the first value is not one)
    ms = _match_all(_DT_RE, vals)
    if ms is None:
        return _NOT
    shapes = {
        (m.group(2), m.group(5) is not None, m.group(6) is not None, m.group(7)) for m in ms
    }
    if len(shapes) != 1:
        return _NOT
    sep, has_s, has_f, ampm_sep = shapes.pop()
    dfmt = _date_format([m.group(1) for m in ms], dayfirst)
    if dfmt is _NOT:
        return _NOT
    for m in ms:
        hh, mi, ss = m.group(3), m.group(4), m.group(5)
        if ampm_sep is not None and not 1 <= int(hh) <= 12:
            return _NOT
        if int(hh) > 23 or int(mi) > 59 or (ss is not None and int(ss) > 59):
            return _NOT
    hour = "%H" if ampm_sep is None else "%I"
    fmt = (dfmt or "%Y-%m-%d") + sep + hour + ":%M" + (":%S" if has_s else "")
    fmt += ".%f" if has_f else ""
    fmt += "" if ampm_sep is None else ampm_sep + "%p"
    out: dict[str, Any] = {"type": "datetime", "format": fmt}
    if has_f and any(len(f) > 6 and f[6:].strip("0") for m in ms if (f := m.group(6))):
        out["unit"] = "ns"
    return out


def _int_type(lo: int, hi: int) -> str | None:
    for name in ("int8", "int16", "int32", "int64"):
        _, tmin, tmax = INT_TYPES[name]
        if tmin <= lo and hi <= tmax:
            return name
    if lo >= 0 and hi <= INT_TYPES["uint64"][2]:
        return "uint64"
    return None


def _numeric(vals: list[str], spelling: Spelling = (".", None)) -> str | None:
    """``"int"``, ``"float"`` or None (not all numbers, or a separator misplaced) for
    ``vals`` read under ``spelling``: one compiled pass (``_core.numeric_kind``).

    A number with a fraction is a float, as every other reader (numpy, pandas,
    pyarrow, polars, duckdb) infers it: ``numpy.load`` users and
    ``structured_to_unstructured`` must see the values, not scaled integers.
    Exact decimals are for a schema to ask for.
    """
    dec, thou = spelling
    if type(vals) is _Vals:
        kind = vals.ask("numeric", spelling)
        if kind is not None:
            return _KINDS[kind]
    if type(vals) is not list:
        vals = list(vals)
    kind = _core.numeric_kind(vals, ord(dec), ord(thou) if thou else 0)
    return _KINDS[kind]


def _int_range(vals: Any, spelling: Spelling) -> tuple[int, int] | None:
    """``_core.int_range`` of the integer texts ``vals`` as read under ``spelling``."""
    if type(vals) is _Vals:
        got = vals.ask("int_range", spelling)
        if got is not None:
            return got or None
    return _core.int_range(_spelled(list(vals), spelling))


_KINDS = (None, "int", "float")


_NUMBER_TYPES = frozenset((*INT_TYPES, "float32", "float64", "decimal"))
Spelling = tuple[str, "str | None"]  # (decimal mark, thousands separator) of numbers
PLAIN: Spelling = (".", None)
# The spellings sniffing tries, simplest first (a tie between readings that agree goes to
# the first); others (a space, an apostrophe) are read by option only.
_SPELLINGS: tuple[Spelling, ...] = (PLAIN, (",", None), (".", ","), (",", "."))


class _Vals:
    """A column's distinct trimmed non-empty texts in the order first seen (its typed
    view), those in ``exclude`` left out: what ``_Stats.typed_values`` lists, read from
    the compiled sample (``_core.SampleColumns``).  The questions number and date columns
    are asked (:meth:`ask`) are answered over the fields' bytes without making the
    texts; iterating makes them (once), for the decisions that walk them."""

    __slots__ = ("_cols", "_j", "_st", "exclude", "_list")

    def __init__(self, st: _Stats, exclude: frozenset[str] = frozenset()) -> None:
        self._st = st
        self._cols, self._j = st.cols
        self.exclude = exclude
        self._list: list[str] | None = None

    def ask(self, what: str, spelling: Spelling = PLAIN) -> Any:
        """``SampleColumns.ask`` of this column (None: ask the texts instead)."""
        dec, thou = spelling
        return self._cols.ask(self._j, what, self.exclude, ord(dec), ord(thou) if thou else 0)

    def list(self) -> list[str]:
        if self._list is None:
            vals = self._st.typed_values()
            ex = self.exclude
            self._list = [v for v in vals if v not in ex] if not ex.isdisjoint(vals) else vals
        return self._list

    def without(self, tokens: Any) -> _Vals:
        return _Vals(self._st, self.exclude | frozenset(tokens))

    def among(self, tokens: Any) -> list[str]:
        """The texts of ``tokens`` that are values here."""
        words = frozenset(tokens) - self.exclude
        got = self._cols.ask(self._j, "in", words)
        return [t for t in got if t in words] if got is not None else [
            v for v in self.list() if v in words
        ]

    def __iter__(self) -> Any:
        return iter(self.list())

    def __len__(self) -> int:
        return len(self.list())

    def __bool__(self) -> bool:
        got = self.ask("any")
        return bool(self.list()) if got is None else got


def _first(vals: Any) -> str:
    """The first of the (non-empty) values."""
    if type(vals) is _Vals:
        got = vals.ask("first")
        if got is not None:
            return got
        return vals.list()[0]
    return vals[0]


def _without(vals: Any, tokens: frozenset[str]) -> Any:
    """``vals`` without the texts in ``tokens``."""
    if type(vals) is _Vals:
        return vals.without(tokens)
    return vals if tokens.isdisjoint(vals) else [v for v in vals if v not in tokens]


def _among(vals: Any, tokens: frozenset[str]) -> list[str]:
    """The values of ``vals`` that are in ``tokens``."""
    if type(vals) is _Vals:
        return vals.among(tokens)
    return [v for v in vals if v in tokens]



def normalize_number(v: str, spelling: Spelling) -> str | None:
    """``v`` as the converter reads it under ``spelling`` (the core's normalize_number):
    separators out, the decimal mark made a point; None when a separator is misplaced."""
    dec, thou = spelling
    if spelling == PLAIN:
        return v
    out = []
    i = 0
    if v[:1] in ("+", "-"):
        out.append(v[0])
        i = 1
    run = 0
    grouped = False
    while i < len(v):
        ch = v[i]
        if "0" <= ch <= "9":
            out.append(ch)
            run += 1
        elif thou is not None and ch == thou:
            if run == 0 or run > 3 or (grouped and run != 3):
                return None
            grouped = True
            run = 0
        else:
            break
        i += 1
    if grouped and run != 3:
        return None
    for ch in v[i:]:
        if ch == dec:
            out.append(".")
        elif ch == "." or (thou is not None and ch == thou):
            return None
        else:
            out.append(ch)
    return "".join(out)


def _spelled(vals: list[str], spelling: Spelling) -> list[str] | None:
    """``vals`` normalised under ``spelling``, or None when one has a misplaced separator."""
    if spelling == PLAIN:
        return vals
    out = []
    for v in vals:
        n = normalize_number(v, spelling)
        if n is None:
            return None
        out.append(n)
    return out


def _numbers(vals: list[str], spelling: Spelling) -> list[float] | None:
    """The values of ``vals`` read as numbers under ``spelling``, or None."""
    if _numeric(vals, spelling) is None:
        return None
    nv = _spelled(vals, spelling)
    assert nv is not None  # _numeric read them under the same spelling
    try:
        return [float(v) for v in nv]
    except ValueError:  # pragma: no cover - _numeric accepted them
        return None


def sniff_spelling(
    columns: list[list[str]], decimal: str | None = None, thousands: str | None = None
) -> tuple[Spelling, list[int]]:
    """The number spelling of a file from its columns' distinct trimmed non-null values,
    with ``decimal``/``thousands`` where given; and the indexes of the columns whose
    numbers stay unread (text) because the evidence is ambiguous or contradicted.

    A spelling other than the base (the given parts, else plain ``1234.5``) is chosen only
    when some column reads as numbers under it and not under the base, every such column
    reads under it, no column that reads as numbers as written would read differently,
    and every spelling that passes those tests gives the same numbers (``1,234`` alone
    could be 1.234 or 1234: it stays text).  Rules in docs/INFERENCE.md."""
    base: Spelling = (decimal or ("," if thousands == "." else "."), thousands)
    if decimal is not None and thousands is not None:
        return base, []
    cands = [
        c
        for c in _SPELLINGS
        if (decimal is None or c[0] == decimal)
        and (thousands is None or c[1] == thousands)
        and c != base
    ]
    evidence: list[int] = []
    plain: list[list[str]] = []
    feasible = set(cands)
    for j, vals in enumerate(columns):
        if not vals:
            continue
        if _numeric(vals, base) is not None:
            plain.append(vals)
            continue
        fits = {c for c in cands if _numeric(vals, c) is not None}
        if fits:
            evidence.append(j)
            feasible &= fits
    if not evidence:
        return base, []
    feasible = {
        c for c in feasible if all(_numbers(v, c) == _numbers(v, base) for v in plain)
    }
    readings = {c: [_numbers(columns[j], c) for j in evidence] for c in feasible}
    if feasible and len({repr(r) for r in readings.values()}) == 1:
        return next(c for c in cands if c in feasible), []
    return base, evidence


def _classify(
    vals: list[str],
    spelling: Spelling = PLAIN,
    words: frozenset[str] = frozenset(),
    dayfirst: bool | None = None,
) -> dict[str, Any] | None:
    """The narrowest typed column for the distinct trimmed non-null ``vals``; None: text.
    Numbers are read under ``spelling``; ``words`` are the dialect's own boolean words."""
    if not vals:
        return None
    first = _first(vals)
    if (
        (first.lower() in _BOOL_WORDS or first in words)
        and all(v.lower() in _BOOL_WORDS or v in words for v in vals)
        and any(v not in ("0", "1") for v in vals)
    ):
        return {"type": "bool"}
    kind = _numeric(vals, spelling)
    if kind == "int":
        # None: a leading zero (identifiers such as zip codes keep their zeros), or
        # beyond 64 bits (text, exactly as written)
        lohi = _int_range(vals, spelling)
        t = _int_type(*lohi) if lohi is not None else None
        return {"type": t} if t else None  # beyond 64 bits: text, exactly as written
    if kind == "float":
        return {"type": "float64"}
    fmt = _date_format(vals, dayfirst)
    if fmt is not _NOT:
        return {"type": "date", "format": fmt} if fmt else {"type": "date"}
    spec = _iso_datetime(vals)
    if spec is _NOT:
        spec = _custom_datetime(vals, dayfirst)
    return None if spec is _NOT else spec


def _round_width(nbytes: int) -> int:
    w = max(STR_MIN_WIDTH, math.ceil(nbytes * STR_HEADROOM / 8) * 8)
    return min(w, MAX_STR_WIDTH)


# =============================================================================
# Column statistics and inference
# =============================================================================
@dataclass
class _Stats:
    """What the sample says about one column (kept to widen it later)."""

    _counts: Counter | None  # verbatim text -> occurrences (see counts)
    max_bytes: int = 0
    lo: int | None = None  # integer range seen (typed view)
    hi: int | None = None
    nonnull: int = 0  # non-empty verbatim values
    swapped_date: bool = False
    typed: list[str] | None = None  # typed_values(), once computed
    blank: bool = False  # some value is empty or only spaces and tabs (with typed)
    cols: Any = None  # (_core.SampleColumns, index): where counts and typed are made from

    @property
    def counts(self) -> Counter:
        if self._counts is None:
            cols, j = self.cols
            self._counts, _, _, self.typed = cols.summary(j, Counter)
        return self._counts

    @classmethod
    def of_counts(cls, raw: dict[bytes, int]) -> _Stats:
        """From the column's fields as split (bytes) -> occurrences."""
        st = cls(_counts=Counter())
        st.max_bytes, st.blank, st.typed = _core.column_stats(raw, st.counts)
        st.nonnull = sum(st.counts.values()) - st.counts.get("", 0)
        return st

    @classmethod
    def of_columns(cls, cols: Any, j: int) -> _Stats:
        """From column ``j`` of ``_core.sample_columns``: its texts are made only when
        a decision asks for them (``counts``, ``typed_values``; ``values`` answers
        the questions about numbers and dates without them)."""
        rows, empty, max_bytes, blank, _, distinct, nbytes = cols.facts(j)
        st = cls(
            _counts=None,
            max_bytes=max_bytes,
            blank=blank,
            nonnull=rows - empty,
            cols=(cols, j),
        )
        st._sizes = (rows, distinct, nbytes, empty > 0)
        return st

    _sizes: tuple[int, int, int, bool] | None = None  # of_columns: see sizes

    def sizes(self) -> tuple[int, int, int, bool]:
        """``(rows, distinct, bytes, empty)``: the values, the distinct ones, the UTF-8
        bytes of them all, and whether one is empty (verbatim)."""
        if self._sizes is None or self._counts is not None:
            c = self.counts
            nbytes = sum(len(v.encode("utf-8")) * n for v, n in c.items())
            return sum(c.values()), len(c), nbytes, "" in c
        return self._sizes

    def verbatim(self, tokens: Any) -> bool:
        """Is one of ``tokens`` a value as written (not trimmed)?"""
        if self._counts is None and self.cols is not None:
            cols, j = self.cols
            got = cols.verbatim(j, tokens)
            if got is not None:
                return got
        return any(t in self.counts for t in tokens)

    def values(self) -> Any:
        """The typed view (:meth:`typed_values`), as a :class:`_Vals` when the stats
        come from the compiled sample."""
        if self.cols is not None and self.typed is None:
            return _Vals(self)
        return self.typed_values()

    @classmethod
    def of(cls, values: Any) -> _Stats:
        """From the column's fields (bytes as split, or str)."""
        raw = Counter(values)
        if raw and isinstance(next(iter(raw)), bytes):
            return cls.of_counts(raw)
        st = cls(_counts=raw)
        st.max_bytes = max((len(v.encode("utf-8")) for v in raw), default=0)
        st.nonnull = sum(st.counts.values()) - st.counts.get("", 0)
        return st

    def int_range(self) -> None:
        """Fill ``lo``/``hi`` from the integers of the sample (used when widening)."""
        if self.lo is None:
            found = (_small_int(v.strip(" \t")) for v in self.counts)
            ints = [n for n in found if n is not None]
            if ints:
                self.lo, self.hi = min(ints), max(ints)

    def typed_values(self) -> list[str]:
        """Distinct trimmed non-empty texts (the typed view of the column), in the order
        first seen.  The list is kept: do not change it."""
        if self.typed is None and self.cols is not None:
            self.counts  # noqa: B018 (made with the typed view)
        if self.typed is None:
            trimmed = [v.strip(" \t") for v in self.counts]
            self.blank = "" in trimmed
            self.typed = list(dict.fromkeys(t for t in trimmed if t))
        return self.typed

    def has_null(self, nulls: tuple[str, ...]) -> bool:
        """Is some value, trimmed, one of ``nulls``?"""
        if self.blank and "" in nulls:
            return True
        return bool(_among(self.values(), frozenset(nulls)))

    def see(self, text: str) -> None:
        """Account for one value met outside the sample."""
        self.max_bytes = max(self.max_bytes, len(text.encode("utf-8")))
        n = _small_int(text.strip(" \t"))
        if n is not None:
            self.lo = n if self.lo is None else min(self.lo, n)
            self.hi = n if self.hi is None else max(self.hi, n)


def _lengths_vary(st: _Stats, longest: int | None = None) -> bool:
    """The TEXT_MIN_BYTES / TEXT_SAVING rule over the sample (``longest``: a longer value
    met past it)."""
    top = max(st.max_bytes, longest or 0)
    if top * STR_HEADROOM > MAX_STR_WIDTH:
        return True
    if top <= TEXT_MIN_BYTES:
        return False
    rows, _, nbytes, _ = st.sizes()
    mean = nbytes / max(rows, 1)
    return _round_width(top) > TEXT_SAVING * (TEXT_REF_BYTES + mean)


def _text_column(name: str, st: _Stats, null_values: tuple[str, ...]) -> Column:
    """category, text or str, by the documented cardinality and length rules."""
    tokens = set(null_values) - {""}
    _, distinct, _, empty = st.sizes()
    nullable = empty and not st.verbatim(tokens)
    distinct -= empty
    if 0 < distinct <= CATEGORY_MAX_DISTINCT and distinct <= CATEGORY_MAX_RATIO * st.nonnull:
        return Column(
            name=name,
            type="category",
            nullable=nullable,
            max_values=255 if distinct <= 127 else 65535,
        )
    if _lengths_vary(st):
        return Column(name=name, type="text", nullable=nullable)
    return Column(name=name, type="str", nullable=nullable, width=_round_width(st.max_bytes))


def _infer(
    names: list[str],
    stats: list[_Stats],
    null_values: tuple[str, ...] | None,
    spelling: Spelling = PLAIN,
    words: frozenset[str] = frozenset(),
    dayfirst: bool | None = None,
):
    """Columns and the file-wide null tokens from per-column statistics."""
    specs: list[dict[str, Any] | None] = []
    adopted: set[str] = set()
    for st in stats:
        vals = st.values()
        if null_values is not None:
            vals = _without(vals, frozenset(null_values))
        spec = _classify(vals, spelling, words, dayfirst)
        toks = _among(vals, _NULL_SET) if spec is None and null_values is None else None
        if toks:
            rest = _without(vals, _NULL_SET)
            if rest:
                spec = _classify(rest, spelling, words, dayfirst)
                if spec is not None:
                    adopted.update(toks)
        specs.append(spec)
    if null_values is None:
        nulls = ("", *(t for t in NULL_TOKENS if t in adopted))
    else:
        nulls = tuple(null_values)
    cols = []
    for name, st, spec in zip(names, stats, specs, strict=True):
        if spec is None:
            cols.append(_text_column(name, st, nulls))
            continue
        nullable = st.has_null(nulls)
        cols.append(Column(name=name, nullable=nullable, **spec))
    return cols, nulls


def infer_columns(
    rows: list[list[str]],
    names: list[str] | None = None,
    *,
    null_values: list[str] | tuple[str, ...] | None = None,
) -> tuple[list[Column], tuple[str, ...]]:
    """Infer columns from decoded data rows (no header row).

    Returns the columns and the dialect's ``null_values`` to use with them (the
    empty field plus the null tokens that typed columns use, see
    docs/INFERENCE.md).  ``null_values`` given here are used as they are.
    The types come from the values alone: they are not checked by the converter
    (:func:`infer_schema` does that).
    """
    ncols = len(names) if names is not None else max((len(r) for r in rows), default=0)
    if names is None:
        names = [f"column_{i + 1}" for i in range(ncols)]
    cols_values: list[list[str]] = [[] for _ in range(ncols)]
    for r in rows:
        if len(r) != ncols:
            raise SchemaError(f"a row has {len(r)} fields, expected {ncols}")
        for i, v in enumerate(r):
            cols_values[i].append(v)
    stats = [_Stats.of(v) for v in cols_values]
    return _infer(names, stats, None if null_values is None else tuple(null_values))


# =============================================================================
# Widening: what to change when the converter refuses a value
# =============================================================================
def _text_of(
    col: Column, st: _Stats | None, value: str, nulls: tuple[str, ...], whole: int | None = None
) -> Column:
    """A str column for ``value`` (``whole``: its length in bytes when ``value`` is only
    its start, see :attr:`ParseError.value_bytes`)."""
    nbytes = max(st.max_bytes if st else 0, whole or len(value.encode("utf-8")))
    if st is not None:
        tokens = set(nulls) - {""}
        nullable = "" in st.counts and not (tokens & set(st.counts))
    else:
        nullable = col.nullable
    if st is not None and _lengths_vary(st, nbytes) or nbytes * STR_HEADROOM > MAX_STR_WIDTH:
        return Column(name=col.name, type="text", nullable=nullable)
    return Column(name=col.name, type="str", nullable=nullable, width=_round_width(nbytes))


def _with(col: Column, **changes: Any) -> Column:
    d = col.to_dict() | changes
    for k in [k for k, v in d.items() if v is None]:
        del d[k]
    return Column.from_dict(d)


def _widen(
    col: Column,
    value: str | None,
    reason: str,
    st: _Stats | None,
    nulls: tuple[str, ...],
    spelling: Spelling = PLAIN,
    whole: int | None = None,
) -> Column | None:
    """A column that accepts ``value`` where ``col`` refused it (``reason``), or None.
    Numbers are read under ``spelling``, as the converter reads them.  ``whole``: the
    value's length in bytes when ``value`` is only its start (an error message's
    excerpt); sizes are computed from it, never from the excerpt."""
    raw = value if value is not None else ""
    truncated = whole is not None
    v = raw.strip(" \t")
    t = col.type
    if t in INT_TYPES or t in ("decimal", "float32", "float64"):
        v = normalize_number(v, spelling) or "\0"  # a misplaced separator: no number
    if reason.startswith("is empty"):
        return _with(col, nullable=True) if not col.nullable else None
    if "not valid UTF-8" in reason:
        return None  # an encoding problem: no column type helps
    if st is not None and not truncated:
        st.int_range()
        st.see(raw)
    if t == "str":
        if "longer than" in reason:
            need = whole or len(raw.encode("utf-8"))
            if (need > TEXT_MIN_BYTES and _round_width(need) > TEXT_SAVING * (col.width or 0)) or (
                need * STR_HEADROOM > MAX_STR_WIDTH
            ):  # str would more than double its width for it: text (as inference's rule)
                return Column(name=col.name, type="text", nullable=col.nullable)
            w = max(_round_width(need), (col.width or 0) + 8)
            return _with(col, width=min(w, MAX_STR_WIDTH))
        return None
    if t == "category":
        if "max_values" in reason and (col.max_values or 65535) < 65535:
            return _with(col, max_values=65535)
        return _text_of(col, st, raw, nulls, whole)
    if t in INT_TYPES:
        n = _small_int(v)
        if n is not None and not _leading_zero(v):
            if st is not None and st.lo is not None and st.hi is not None:
                lo, hi = min(n, st.lo), max(n, st.hi)  # what was seen (a restart re-checks)
            else:
                lo, hi = min(n, INT_TYPES[t][1]), max(n, INT_TYPES[t][2])
            nt = _int_type(lo, hi)
            if nt is not None and nt != t:
                return _with(col, type=nt)
            return _text_of(col, st, raw, nulls, whole)
        if _INT_RE.match(v):
            return _text_of(col, st, raw, nulls, whole)  # an integer past 64 bits: as written
        if _is_float(v):
            # float64 only while every integer of the column is exact in it: known from
            # the sample's range, or from a type that holds nothing past 2**53
            if st is not None and st.lo is not None and st.hi is not None:
                exact = max(-st.lo, st.hi) <= FLOAT_EXACT
            else:
                exact = t not in ("int64", "uint64")
            return _with(col, type="float64") if exact else _text_of(col, st, raw, nulls, whole)
        return _text_of(col, st, raw, nulls, whole)
    if t == "decimal":
        if _is_float(v):
            return _with(col, type="float64", scale=None, round=None)
        return _text_of(col, st, raw, nulls, whole)
    if t in ("float32", "float64"):
        if t == "float32" and _is_float(v):
            return _with(col, type="float64")
        return _text_of(col, st, raw, nulls, whole)
    if t == "bool":
        return _text_of(col, st, raw, nulls, whole)
    if t == "date":
        fmt = col.format
        m = _DMY_RE.match(v)
        if fmt and fmt[:2] in ("%d", "%m") and m and not (st and st.swapped_date):
            a, sep, b, y = m.groups()
            other = f"%m{sep}%d{sep}%Y" if fmt.startswith("%d") else f"%d{sep}%m{sep}%Y"
            month, day = (a, b) if other.startswith("%m") else (b, a)
            if other[2] == fmt[2] and _valid_date(int(y), int(month), int(day)):
                # the sample was ambiguous and the other reading was the right one
                if st is not None:
                    st.swapped_date = True
                return _with(col, format=other)
        spec = _classify([v])
        if spec and spec["type"] == "datetime":
            dt_fmt = spec.get("format")
            if (fmt is None and dt_fmt is None) or (fmt and dt_fmt and dt_fmt.startswith(fmt)):
                return Column(name=col.name, nullable=col.nullable, **spec)
        return _text_of(col, st, raw, nulls, whole)
    if t == "datetime":
        if "more precise" in reason and col.unit != "ns":
            return _with(col, unit="ns")
        return _text_of(col, st, raw, nulls, whole)
    return None


# =============================================================================
# Sniffing
# =============================================================================
@dataclass(frozen=True)
class Sniffed:
    """What sniffing found.  ``dialect()`` turns it into a :class:`Dialect`."""

    encoding: str  # a Python codec name: utf-8, utf-8-sig, utf-16, cp1252, latin-1 ...
    delimiter: str
    quote: str | None
    header: bool
    line_terminator: str  # "\r\n", "\n", "\r", "mixed" or "" (a single line): informational
    bom: bool = False
    encoding_how: str = "given"  # how the encoding was chosen (see EncodingGuess.how)
    encoding_warning: str | None = None  # the bytes do not look like the chosen encoding
    structure: dict[str, Any] = field(default_factory=lambda: dict(STRUCTURE))
    detected: tuple[str, ...] = ()  # the structure options found in the data (not defaults)

    def dialect(self, null_values: tuple[str, ...] = ("",)) -> Dialect:
        return Dialect(
            delimiter=self.delimiter,
            quote=self.quote,
            header=self.header,
            encoding=self.encoding,
            null_values=null_values,
            **self.structure,
        )

    def word(self) -> int:
        """The core's syntax word for this reading (layout.syntax_word)."""
        return syntax_word(self.dialect())


def _line_terminator(buf: bytes) -> str:
    if b"\r" not in buf:  # (most files: one search instead of three counts)
        return "\n" if b"\n" in buf else ""
    crlf = buf.count(b"\r\n")
    lf = buf.count(b"\n") - crlf
    cr = buf.count(b"\r") - crlf
    kinds = [(crlf, "\r\n"), (lf, "\n"), (cr, "\r")]
    present = [k for n, k in kinds if n]
    if not present:
        return ""
    return present[0] if len(present) == 1 else "mixed"


@dataclass
class _Reading:
    """One candidate (delimiter, quote) read over the head of the sample."""

    delimiter: str
    quote: str | None
    _rows: list[list[bytes]] | None  # the well-formed rows, in order (see rows)
    nrows: int = 0  # rows read, broken ones included
    broken: int = 0  # rows with broken quoting (read over as skip reads them)
    swallowed: bool = False  # a quote ran to the end of the (cut) sample
    fields: int = 0  # the most common number of fields
    consistency: float = 0.0  # share of the rows that have that number
    good: int = 0  # rows with that number of fields and no leftover quote character
    typed: float = 0.0  # share of cells that look typed (rows 2-20)
    evidence: int = 0  # fields the quote opens and closes on one line
    # every data row ends with a delimiter: one empty field more than the first row has
    # (or, the first row ending with a delimiter too, all of them end so)
    trailing: bool = False
    source: tuple | None = None  # (buf, final, syntax word, quote): to split rows on demand

    @property
    def rows(self) -> list[list[bytes]]:
        """The fields of the well-formed rows, in order (split when first asked: most
        readings are only counted)."""
        if self._rows is None:
            self._rows = self.first_rows(self.nrows)
        return self._rows

    def first_rows(self, keep: int) -> list[list[bytes]]:
        """The first ``keep`` of :attr:`rows`."""
        if self._rows is not None:
            return self._rows[:keep]
        assert self.source is not None
        buf, final, word, quote = self.source
        return _core.split_rows(buf, final, word, quote, self.nrows, keep)

    @property
    def share(self) -> float:
        return round(self.good / self.nrows, 3) if self.nrows else 0.0

    @property
    def usable(self) -> bool:
        """No quoting error, or a rare one (at most 2% of the rows, and fewer than the
        fields the quote opens and closes properly): one broken row must not turn a file
        quoted throughout into a split that leaves quotes in its values."""
        if self.swallowed or not self.nrows:
            return False
        return not self.broken or (self.broken * 50 <= self.nrows and self.evidence > self.broken)

    def quote_key(self) -> tuple:
        """How well this quote reads the file, against the other quotes with the same
        delimiter: usable, the share and then the number of rows that have the common
        number of fields and no leftover quote, fields quoted on one line, preference."""
        return (self.usable, self.share, self.good, self.evidence, _QUOTE_RANK.get(self.quote, 0))

    def key(self) -> tuple:
        """Against the other delimiters (each with its best quote): more than one field
        in a consistent reading (the common count in at least half the rows), then
        consistency, typed cells, quoted fields, the quote and delimiter preferences."""
        d = self.delimiter
        return (
            self.fields > 1 and self.consistency >= 0.5,
            self.usable,
            self.consistency,
            self.typed,
            self.evidence,
            _QUOTE_RANK.get(self.quote, 0),
            -DELIMITERS.index(d) if d in DELIMITERS else 0,
        )


def _read_candidate(buf: bytes, final: bool, d: str, q: str | None, extra: int = 0) -> _Reading:
    """How the delimiter ``d`` and quote ``q`` read the head ``buf``: the rows counted and
    weighed in compiled code (``_core.score_reading``, rules in docs/INFERENCE.md), split
    into fields only where they are looked at (:attr:`_Reading.rows`)."""
    word, quote = ord(d) | extra, _q(q)
    r = _Reading(delimiter=d, quote=q, _rows=None, source=(buf, final, word, quote))
    (r.nrows, r.broken, end, longest, k, freq, r.good, typed, total, r.evidence,
     r.trailing) = _core.score_reading(buf, final, word, quote, SNIFF_ROWS)
    if r.nrows < SNIFF_ROWS and not final and len(buf) - end > max(8192, 4 * longest):
        r.swallowed = True  # a quote swallowed the rest of the sample: not this quote
    if freq:
        r.fields = k
        r.consistency = round(freq / r.nrows, 3)
        r.typed = round(typed / total, 2) if total else 0.0
    return r


def _choose_structure(
    buf: bytes, final: bool, delimiter: str | None, quote: Any, extra: int = 0
) -> _Reading:
    """The best reading of the head: for each delimiter the quote that reads it best
    (:meth:`_Reading.quote_key`), then the best delimiter (:meth:`_Reading.key`).
    ``extra``: the syntax word's bits above the delimiter (escape, comment ...)."""
    sbuf = buf[:SNIFF_BYTES]
    sfinal = final and len(buf) <= SNIFF_BYTES
    ds = (delimiter,) if delimiter is not None else DELIMITERS
    qs = (quote,) if quote is not ... else QUOTES
    best: _Reading | None = None
    marks = {((extra >> 8) & 0xFF) - 1, ((extra >> 16) & 0xFF) - 1}  # escape, comment
    # quotes that are not in the head (no quote at all included) read it alike: read it
    # once per delimiter, and give the others that reading under their own name
    unquoted = {q for q in qs if q is None or q.encode() not in sbuf}
    # delimiters that are not in the head read it alike too (one field a row): after
    # the first of them, the others, later in DELIMITERS' order of preference, would tie
    # with it on every count and lose on that order, so they are not read
    absent_read = False
    for d in ds:
        mine: _Reading | None = None
        if ord(d) in marks and delimiter is None:
            continue
        absent = len(ds) > 1 and d.encode() not in sbuf
        if absent and absent_read:
            continue
        once: _Reading | None = None
        for q in qs:
            if q is not None and (q == d or ord(q) in marks):
                continue
            if q is None and extra & SYN_LENIENT:
                continue
            if once is None or q not in unquoted:
                r = _read_candidate(sbuf, sfinal, d, q, extra)
                if q in unquoted:
                    once = r
            else:
                source = (sbuf, sfinal, ord(d) | extra, _q(q))
                r = replace(once, quote=q, _rows=None, source=source)
            if mine is None or r.quote_key() > mine.quote_key():
                mine = r
        absent_read = absent_read or (absent and mine is not None)
        if mine is not None and (best is None or mine.key() > best.key()):
            best = mine
    if best is None:  # only when the quote given is the delimiter: the Dialect says why
        return _Reading(delimiter=ds[0], quote=qs[0], _rows=[])
    return best


_LETTER_BOOLS = frozenset("tfyn")  # single letters that may stand for true/false, yes/no
_BOOLISH = _BOOL_WORDS | _LETTER_BOOLS


def _name_typed(text: str, alone: dict[str, Any] | None) -> bool:
    """Does a first-row text read as a value rather than a name (``alone``: its
    ``_classify``)?  A single letter is a name (``A,B,...,F``, ``a,...,f``) even when it
    could be a boolean."""
    return not (len(text) == 1 and text.isalpha()) and alone is not None


def _bool_vote(head: str, vals: list[str]) -> bool | None:
    """The vote of the first value over a column whose values are all booleans or
    single letters for them (``T/F``, ``Y/N``): None when the column is not such a column,
    True ("header") when the first value is not written like the values below (a letter
    over words, a word over letters, or not a boolean at all), False ("data") when it is."""
    if not vals or not all(v.lower() in _BOOLISH for v in vals):  # (the first non-word stops)
        return None
    low = [v.lower() for v in vals]
    if all(v in ("0", "1") for v in low):
        return None
    h = head.lower()
    if h not in _BOOLISH or h in ("0", "1"):
        return True
    letters = all(len(v) == 1 for v in low if v not in ("0", "1"))
    return (len(h) == 1) != letters


_HEADER_ROWS = 200  # rows of the head that header detection looks at (the first included)


def _with_head_typed(head: str, alone: dict[str, Any] | None, sp: Spelling) -> bool:
    """Whether a typed column's values with ``head`` added may still be typed: only when
    ``head`` is typed alone (``alone``: its ``_classify``), or is a number or a float
    word that is untyped alone (``007``, ``nan``) -- every rule of ``_classify`` that
    types values types each of them alone, except the numbers'.  When not, the values
    with it are text, and classifying them (the column's every value again, the first
    value last) is skipped: a name over 200 numeric columns cost 3-4 ms a file."""
    return alone is not None or _numeric([head, "0"], sp) is not None


def _detect_header(rows: list[list[bytes]]) -> bool:
    """Is the first row a header?  (Rules in docs/INFERENCE.md.)  Numbers are read under
    the spelling the rows below have (``1,5`` over ``2,5`` is data)."""
    first = [f.decode("utf-8", errors="replace") for f in rows[0]]
    firstt = [f.strip(" \t") for f in first]
    body = rows[1:_HEADER_ROWS]
    # each column's distinct trimmed non-empty texts in the order first seen, as _Stats
    # has them: without the null words (for the spelling), and with them
    numbers, every = _core.body_texts(rows[:_HEADER_ROWS], len(firstt), _NULL_SET)
    columns = [named or vals for named, vals in zip(numbers, every, strict=True)]
    sp, _ = sniff_spelling(numbers)
    alone_of = {t: _classify([t], sp) for t in firstt if t}  # each first value alone
    names_like = (
        all(firstt)
        and len(set(first)) == len(first)
        and not any(_name_typed(t, alone_of[t]) for t in firstt)
    )
    if not body:
        return names_like
    votes_header = votes_data = 0
    left = sum(1 for head in firstt if head)  # the columns still to vote
    for head, vals in zip(firstt, columns, strict=True):
        if not head:
            continue
        if abs(votes_header - votes_data) > left:
            break  # (one vote a column: those left cannot change the answer)
        left -= 1
        boolish = _bool_vote(head, vals)
        if boolish is not None:
            if boolish:
                votes_header += 1
            else:
                votes_data += 1
            continue
        spec = _classify(vals, sp)
        alone = alone_of[head]
        if spec is not None:
            if spec["type"] in INT_TYPES and _INT_RE.match(normalize_number(head, sp) or ""):
                votes_data += 1
            elif (_with_head_typed(head, alone, sp) and _classify(vals + [head], sp) == spec) or (
                spec["type"] == "float64" and _is_float(normalize_number(head, sp) or "")
            ):
                votes_data += 1
            else:
                votes_header += 1
        elif alone is not None and alone["type"] != "bool":
            votes_data += 1  # a number or a date over a text column: data
    if votes_header != votes_data:
        return votes_header > votes_data
    return names_like


def _extra(st: dict[str, Any]) -> int:
    return syntax_bits(st["escape"], st["comment"], st["skip_initial_space"], st["lenient_quotes"])


def _consistent(r: _Reading) -> bool:
    """Every row of the reading splits into the same number of fields, none broken."""
    return r.usable and not r.broken and r.consistency == 1.0


def skip_lines(buf: bytes, start: int, count: int) -> int:
    """Just after ``count`` line breaks from ``start`` (the end when fewer)."""
    for _ in range(count):
        m = _LINE_BREAK.search(buf, start)
        if m is None:
            return len(buf)
        start = m.end()
    return start


_SEP_LINE = re.compile(rb"sep=([^\r\n])[ \t]*(?:\r\n|\r|\n)", re.IGNORECASE)


def _preamble(buf: bytes, final: bool, r: _Reading, extra: int) -> int:
    """Where the header starts when lines before it do not split like the rows after it
    (titles, banners): the first row from which every sampled row has the reading's
    common number of fields, when every row above has at most half as many (at least
    one) and none has broken quoting (at most PREAMBLE_LINES lines down); 0 when none."""
    if r.fields < 2:
        return 0
    shapes = _core.row_shapes(buf, 0, final, ord(r.delimiter) | extra, _q(r.quote), SNIFF_ROWS)
    rows = [(start, nfields) for start, _, nfields, _ in shapes]
    i = len(rows)
    while i > 0 and rows[i - 1][1] == r.fields:
        i -= 1
    if i == 0 or len(rows) - i < 2:
        return 0
    if any(n < 0 or n > max(1, r.fields // 2) for _, n in rows[:i]):
        return 0  # a row like the table's, or broken quoting, above: not a preamble
    at = rows[i][0]
    return at if _core.count_lines(buf, 0, at) <= PREAMBLE_LINES else 0


def _clean_cuts(buf: bytes, mark: str) -> bool:
    """A comment mark that follows text (``C#``) is not a comment: a mark detected must
    start its line or follow a blank, a delimiter or a quote, wherever it stands."""
    return re.search(rb"[^\s,;|\t\"']" + re.escape(mark.encode()), buf[:SNIFF_BYTES]) is None


def _initial_spaces(head: bytes) -> bool:
    """The sign of initial spaces: a quote after spaces after a delimiter somewhere in
    ``head`` (what ``re.search(rb"[,;|\\t] +[\\"']", head)`` finds).  Each space just
    before a quote is looked up (a quote byte first: one memchr; a two-byte search
    over a head without it costs 0.1-0.2 ms of CPU per 100 KB) and the spaces before it
    walked back: the regex tried its class at every byte, 1-3 ms of CPU on a 256 KB head
    with quotes (the demo orders).  Past 2,048 such spaces the regex answers (a bound)."""
    looked = 0
    for pair in (b' "', b" '"):
        if pair[1:] not in head:
            continue
        at = head.find(pair)
        while at >= 0:
            looked += 1
            if looked > 2048:
                return re.search(rb"[,;|\t] +[\"']", head) is not None  # (compiled if asked)
            i = at
            while i > 0 and head[i - 1] == 0x20:
                i -= 1
            if i > 0 and head[i - 1] in b",;|\t":
                return True
            at = head.find(pair, at + 1)
    return False


def _sniff_structure(
    u8: bytes,
    final: bool,
    delimiter: str | None,
    quote: Any,
    given: dict[str, Any],
) -> tuple[int, dict[str, Any], list[str], str | None, _Reading]:
    """Preamble, comments, escapes, initial spaces and a trailing delimiter (rules in
    docs/INFERENCE.md).  Returns where the rows start in ``u8``, the structure options,
    the ones found in the data, the delimiter a ``sep=`` line names, and the reading."""
    st = dict(STRUCTURE) | given
    found: list[str] = []
    off = 0
    if "skip_rows" in given:
        off = skip_lines(u8, 0, given["skip_rows"])
    elif m := _SEP_LINE.match(u8):  # Excel's "sep=;" line: it names the delimiter
        if delimiter is None:
            delimiter = m.group(1).decode("utf-8", "replace")
        off = m.end()
        st["skip_rows"] = 1
        found.append("skip_rows")
    body = u8[off:]
    head = body[:SNIFF_BYTES]
    may_skip = not found and "skip_rows" not in given
    may_trail = "trailing_delimiter" not in given

    def evaluate(opts: dict[str, Any], preamble: bool) -> tuple[_Reading, bool, int, bool]:
        """The reading with these options: (reading, consistent, preamble offset, trailing)."""
        r = _choose_structure(body, final, delimiter, quote, _extra(opts))
        if _consistent(r):  # (a header ending with the delimiter too: still consistent)
            return r, True, 0, may_trail and r.trailing
        if may_trail and r.trailing:
            return r, True, 0, True
        at = _preamble(body, final, r, _extra(opts)) if preamble and may_skip else 0
        if at:
            r2 = _choose_structure(body[at:], final, delimiter, quote, _extra(opts))
            if _consistent(r2) and r2.fields > 1:
                return r2, True, at, False
        return r, False, 0, False

    # the options the head shows some sign of (each is tried only then)
    signs: list[tuple[str, Any]] = []
    taken = {delimiter, quote, given.get("escape"), given.get("comment")}
    if "comment" not in given:
        for mark in COMMENT_MARKS:
            if mark in taken:
                continue
            # (the regex alone is slow on a head without the mark: look for the mark first)
            line = mark.encode() in head and re.search(
                rb"(?:\A|[\r\n])[ \t]*" + re.escape(mark.encode()), head
            )
            if line and _clean_cuts(head, mark):
                signs.append(("comment", mark))
                break
    if "escape" not in given:
        for esc in ESCAPES:
            if esc in taken:
                continue
            mark = esc.encode()  # (in the head first: one memchr, not the regex)
            if mark in head and re.search(re.escape(mark) + rb"[\"',;|\t\\]", head):
                signs.append(("escape", esc))
                break
    if "skip_initial_space" not in given and _initial_spaces(head):
        signs.append(("skip_initial_space", True))
    # fewest options first: the plain reading, then each alone, then two, then all three;
    # a preamble (the weakest evidence: it drops lines) only when none reads consistently
    combos = [()] + [c for k in range(1, len(signs) + 1) for c in combinations(signs, k)]
    best = None
    for preamble, combo in [(False, c) for c in combos] + [(True, c) for c in combos]:
        opts = st | dict(combo)
        got = evaluate(opts, preamble)
        if best is None:
            best = (opts, combo, got)
        if got[1]:
            best = (opts, combo, got)
            break
    assert best is not None
    opts, combo, (reading, ok, at, trailing) = best
    if ok:
        st = opts
        found += [k for k, _ in combo]
        if trailing:
            st["trailing_delimiter"] = True
            found.append("trailing_delimiter")
        if at:
            st["skip_rows"] = _core.count_lines(u8, 0, off + at)
            found.append("skip_rows")
            off += at
    return off, st, found, delimiter, reading


def sniff(
    sample: bytes,
    *,
    delimiter: str | None = None,
    quote: Any = ...,
    encoding: str | None = None,
    header: bool | None = None,
    final: bool = True,
    _others: tuple[bytes, ...] = (),
    structure: dict[str, Any] | None = None,
) -> Sniffed:
    """Sniff the encoding, delimiter, quote, header, line ends and row structure
    (preamble, comments, escapes ...: :data:`STRUCTURE`) of ``sample``.

    ``sample`` holds the first bytes of the input (``final``: all of it).  Options
    that are given (``structure``: those of the row structure) are taken as they
    are.  Returns a :class:`Sniffed`, whose ``encoding`` may be any Python codec name.
    """
    if encoding is None:
        guess = guess_encoding(sample, *_others, head_is_all=final)
        encoding, bom = guess.name, guess.bom
    else:
        name = _norm_codec(encoding)
        bom = next((len(b) for b in _BOMS.get(name, ()) if sample.startswith(b)), 0)
        guess = EncodingGuess(encoding, bom, "given")
    head_bom = sample[:4]
    u8 = _to_utf8(sample, encoding, first=True, head_bom=head_bom)
    given = {k: v for k, v in (structure or {}).items() if v is not None}
    _off, st, found, delimiter, reading = _sniff_structure(u8, final, delimiter, quote, given)
    d, q = reading.delimiter, reading.quote
    if header is None:
        rows = reading.first_rows(_HEADER_ROWS)  # rows with broken quoting left out
        if rows and st["trailing_delimiter"]:
            rows = [r[:-1] if len(r) > 1 and r[-1] == b"" else r for r in rows]
        header = _detect_header(rows) if rows else True
    return Sniffed(
        encoding=encoding,
        delimiter=d,
        quote=q,
        header=header,
        line_terminator=_line_terminator(u8[:SNIFF_BYTES]),
        bom=bool(bom),
        encoding_how=guess.how,
        encoding_warning=guess.warning,
        structure=st,
        detected=tuple(found),
    )


def sniff_dialect(sample: bytes, **options: Any) -> Dialect:
    """:func:`sniff`, as a :class:`Dialect` (null values: the empty field only).

    Until the dialect accepts every codec, a sample in a codec it does not take
    yet (cp1252, UTF-16 ...) raises :class:`SchemaError` here; :func:`sniff`
    reports it in every case.
    """
    return sniff(sample, **options).dialect()


# =============================================================================
# Header names
# =============================================================================
# =============================================================================
# The sample: rows from the beginning, the middle and the end
# =============================================================================
class _Fit:
    """The fields of sampled rows as the converter binds them: the empty field after a
    trailing delimiter dropped, and (ragged="fill") a short row's missing fields empty."""

    def __init__(self, structure: dict[str, Any]) -> None:
        self.trailing = structure["trailing_delimiter"]
        self.fill = structure["ragged"] == "fill"
        self.ncols = -1  # the header's (or first row's) fields, once known

    def rows(self, it: Any) -> Any:
        if not (self.trailing or self.fill):
            return it  # nothing to fit: the rows as split
        return self._fitted(it)

    def spans(self, it: Any) -> Any:
        """:meth:`rows` of :func:`_spans`: ``(row_start, next, nfields)``, ``nfields`` as
        the fields of :meth:`rows` would count."""
        trailing, fill = self.trailing, self.fill
        for rs, nxt, nf, last_empty in it:
            if trailing and nf > 1 and last_empty:
                nf -= 1
            if fill and 0 < nf < self.ncols:
                nf = self.ncols
            yield rs, nxt, nf

    def _fitted(self, it: Any) -> Any:
        for rs, nxt, fields in it:
            if fields is not None:
                if self.trailing and len(fields) > 1 and fields[-1] == b"":
                    fields = fields[:-1]
                if self.fill and 0 < len(fields) < self.ncols:
                    fields = fields + [b""] * (self.ncols - len(fields))
            yield rs, nxt, fields


@dataclass
class _Sample:
    header: list[bytes] | None
    # the rows, where they lie: (UTF-8 text, final, row starts, row ends) per piece read
    segments: list[tuple[bytes, bool, list[int], list[int]]]
    complete: bool  # the rows are every row of the input
    sniffed: Sniffed
    ncols: int
    left_out: list[int] = field(default_factory=list)  # lines of malformed rows left out

    @property
    def nrows(self) -> int:
        return sum(len(seg[2]) for seg in self.segments)


def _ragged(line: int | None, ncols: int, found: int) -> ParseError:
    return ParseError(f"expected {ncols} fields, found {found}", line=line)


def _quote_error(status: int, line: int | None) -> ParseError:
    if status == _S["UNTERMINATED"]:
        return ParseError("a quoted field starts here and is never closed", line=line)
    return ParseError(
        "unexpected text after a closing quote (a quote inside a quoted field must be doubled)",
        line=line,
    )


_LINE_BREAK = re.compile(rb"\r\n|\r|\n")


def _window_rows(
    buf: bytes,
    start: int,
    known: bool,
    final: bool,
    d: int,
    q: int,
    fit: _Fit,
    cap: int,
    keep_last: bool,
) -> tuple[list[int], list[int], int]:
    """Up to ``cap`` rows of ``buf`` from ``start`` (the first ones, or the last ones
    with ``keep_last``): their starts, their ends, and where they end.

    When ``start`` is not ``known`` to be a row start, it is re-synchronised: each
    of the next line starts is tried until one gives :data:`_RESYNC_ROWS`
    consecutive rows of ``ncols`` fields without a quoting error (a start inside
    a quoted field soon splits into the wrong number of fields).
    """
    if known:
        starts = [start]
    else:
        breaks = _LINE_BREAK.finditer(buf, start)
        starts = [m.end() for _, m in zip(range(_RESYNC_TRIES), breaks, strict=False)]
    for s in starts:
        got_s, got_e, _, kind, _, _ = _core.fit_spans(
            buf, s, final, d, q, fit.ncols, fit.trailing, fit.fill, False,
            _ALL_ROWS if keep_last else cap, False,
        )
        n_ok = len(got_s)
        end = got_e[-1] if got_e else s
        clean = kind <= 1  # (not stopped by a row of another width or broken quoting)
        if n_ok >= _RESYNC_ROWS or (n_ok and (known or (final and clean))):
            if keep_last:
                del got_s[: max(0, n_ok - cap)], got_e[: max(0, n_ok - cap)]
            return got_s, got_e, end
        if known:
            break
    return [], [], start


def _sample(*args: Any, **kw: Any) -> _Sample:
    """:func:`_sample_of`, forgetting the head's UTF-8 answer after it (_utf8_ok)."""
    try:
        return _sample_of(*args, **kw)
    finally:
        _UTF8_LAST[0] = None


def _sample_of(
    raw: _Raw,
    rows_cap: int,
    delimiter: str | None,
    quote: Any,
    encoding: str | None,
    header: bool | None,
    lenient: bool = False,
    structure: dict[str, Any] | None = None,
) -> _Sample:
    others = tuple(c for c in (raw.middle, raw.tail) if c)
    sn = sniff(
        raw.head,
        delimiter=delimiter,
        quote=quote,
        encoding=encoding,
        header=header,
        final=raw.head_is_all,
        _others=others,
        structure=structure,
    )
    head_bom = raw.head[:4]
    try:
        if not (_is_utf8(sn.encoding) and _utf8_ok(raw.head, raw.head_is_all)):
            codecs.getincrementaldecoder(sn.encoding)().decode(raw.head, raw.head_is_all)
    except UnicodeDecodeError as e:  # a given encoding, or a truncated UTF-16 file
        raise InputError(
            f"byte {e.start} is not valid {sn.encoding} ({e.reason}); check the encoding"
        ) from None
    u8 = _to_utf8(raw.head, sn.encoding, first=True, head_bom=head_bom)
    d, q = sn.word(), _q(sn.quote)
    fit = _Fit(sn.structure)
    final = raw.head_is_all
    skip = skip_lines(u8, 0, sn.structure["skip_rows"])
    it = fit.spans(_spans(u8, skip, final, d, q))
    counted = [0, 0]  # line breaks before counted[1]

    def line_of(p: int) -> int:
        counted[0] += _core.count_lines(u8, counted[1], p)
        counted[1] = p
        return counted[0] + 1

    try:
        first = next(it, None)
    except _RowError as e:
        raise _quote_error(e.status, line_of(min(e.pos, len(u8)))) from None
    if first is None:
        raise SchemaError(
            "the input is empty: there is no header and no data to infer a schema from"
        )
    ncols = fit.ncols = first[2]
    if sn.header:  # the header's fields themselves (the only row split into objects here)
        _, fields, _ = _core.split_row(u8, first[0], len(u8), final, d, q)
        hdr = next(fit.rows(iter([(first[0], first[1], fields)])))[2]
    else:
        hdr = None
    starts: list[int] = [] if sn.header else [first[0]]
    ends: list[int] = [] if sn.header else [first[1]]
    window_cap = rows_cap // 4
    head_cap = rows_cap - 2 * window_cap
    cap = rows_cap if final else head_cap
    # malformed rows are left out and counted (lenient); the conversion deals with them
    more_s, more_e, left, kind, at, value = _core.fit_spans(
        u8, first[1], final, d, q, ncols, fit.trailing, fit.fill, lenient,
        max(0, cap - len(starts)), True,
    )
    if kind == 2:
        raise _ragged(line_of(at), ncols, value)
    if kind == 3:
        raise _quote_error(value, line_of(min(at, len(u8))))
    complete = final and kind != 1
    starts += more_s
    ends += more_e
    left_out = [line_of(p) for p in left]
    segments = [(u8, final, starts, ends)]
    if not complete and window_cap:
        if final:
            # a small input with more rows than asked for: windows in the same text
            del starts[head_cap:], ends[head_cap:]
            end = ends[-1] if ends else first[1]
            mid_start = max(end, len(u8) // 2)
            mid_s, mid_e, mid_end = _window_rows(
                u8, mid_start, mid_start == end, True, d, q, fit, window_cap, keep_last=False
            )
            avg = max(1, (end - first[0]) // max(1, head_cap))
            tail_start = max(mid_end, len(u8) - 2 * avg * window_cap - 1024)
            tail_s, tail_e, _ = _window_rows(
                u8, tail_start, tail_start == mid_end, True, d, q, fit, window_cap, keep_last=True
            )
            segments += [(u8, True, mid_s, mid_e), (u8, True, tail_s, tail_e)]
        else:
            for chunk, fin in ((raw.middle, False), (raw.tail, True)):
                if not chunk:
                    continue
                cu8 = _to_utf8(chunk, sn.encoding, first=False, head_bom=head_bom)
                got_s, got_e, _ = _window_rows(
                    cu8, 0, False, fin, d, q, fit, window_cap, keep_last=fin
                )
                segments.append((cu8, fin, got_s, got_e))
    return _Sample(
        header=hdr,
        segments=segments,
        complete=complete,
        sniffed=sn,
        ncols=ncols,
        left_out=left_out,
    )


# =============================================================================
# Checking with the converter
# =============================================================================
def _quote_field(
    text: str, d: str, q: str | None, escape: str | None = None, comment: str | None = None
) -> str:
    if q is None:
        return text
    marks = (d, q, "\r", "\n", escape or q, comment or q)
    if any(c in text for c in marks) or text != text.strip(" \t") or text == "":
        if escape is not None:
            text = text.replace(escape, escape + escape)
        return q + text.replace(q, q + q) + q
    return text


def _header_text(sample: _Sample, names: list[str]) -> bytes:
    """The check's header line: ``names``, quoted where the dialect needs it."""
    sn = sample.sniffed
    st = sn.structure
    if sample.header is None:
        return b""
    return (
        sn.delimiter.join(
            _quote_field(n, sn.delimiter, sn.quote, st["escape"], st["comment"]) for n in names
        ).encode()
        + b"\n"
    )


def _sample_bytes(sample: _Sample, names: list[str]) -> bytes:
    # each row ending with a line break; rows that follow each other are one slice
    segments = [(buf, starts, ends) for buf, _, starts, ends in sample.segments]
    return _core.rows_text(_header_text(sample, names), segments)


def _column_index(schema: Schema, error: ParseError, aliases: list[str] | None) -> int | None:
    if error.column is None:
        return None
    names = [c.name for c in schema.columns]
    if error.column in names:
        return names.index(error.column)
    if aliases and aliases.count(error.column) == 1:
        return aliases.index(error.column)
    return None


def _fix(
    schema: Schema,
    error: BaseException,
    stats: list[_Stats] | None,
    aliases: list[str] | None = None,
    fixed: frozenset[str] = frozenset(),
    may_group: bool = False,
) -> Schema | None:
    """The schema changed so that it accepts what ``error`` refused, or None.  Columns
    named in ``fixed`` (types given by the caller) are not changed.  ``may_group``: the
    thousands separator was sniffed, and may be taken up when a number needs it."""
    d = schema.dialect
    if isinstance(error, InputError) and d.encoding == "cp1252" and "not valid" in str(error):
        return schema.replace(dialect=Dialect.from_dict(d.to_dict() | {"encoding": "latin-1"}))
    if not isinstance(error, ParseError):
        return None
    if "not valid UTF-8" in error.reason and _is_utf8(d.encoding):
        # bytes that are not UTF-8 outside the sample: the encoding the bytes around them
        # look like (a full pass), else a Windows code page is likely
        enc = error.encoding if isinstance(error, _NotUTF8) else "cp1252"
        return schema.replace(dialect=Dialect.from_dict(d.to_dict() | {"encoding": enc}))
    i = _column_index(schema, error, aliases)
    if i is None:
        return None
    col = schema.columns[i]
    cols = list(schema.columns)
    token = (error.value or "").strip(" \t")
    if (
        token in NULL_TOKENS
        and token not in d.null_values
        and col.type not in ("str", "category")
        and "not a valid" in error.reason
    ):
        # a null token met outside the sample: adopt it (file-wide) and let nulls in
        cols[i] = _with(col, nullable=True)
        nulls = (*d.null_values, token)
        return schema.replace(
            columns=tuple(cols),
            dialect=Dialect.from_dict(d.to_dict() | {"null_values": list(nulls)}),
        )
    if col.name in fixed:
        return None  # a type the caller gave is never changed
    spelling = (d.decimal, d.thousands)
    if may_group and d.thousands is None and col.type in _NUMBER_TYPES:
        # 1.234,5 after a sample of 1,5: a thousands separator changes no value read so far
        # (every one of them was without it), so take it up file-wide
        # (1,234 where the mark is "." may be a decimal comma: only 1,234.5 says it is not)
        grouped = (d.decimal, "." if d.decimal == "," else ",")
        if (
            (d.decimal == "," or "." in token)
            and _numbers([token], grouped) is not None
            and _numbers([token], spelling) is None
        ):
            return schema.replace(
                dialect=Dialect.from_dict(d.to_dict() | {"thousands": grouped[1]})
            )
    new = _widen(
        col,
        error.value,
        error.reason,
        stats[i] if stats else None,
        d.null_values,
        spelling,
        error.value_bytes,
    )
    if new is None or new == col:
        return None
    cols[i] = new
    return schema.replace(columns=tuple(cols))


def _fit(
    schema: Schema,
    check: Any,
    stats: list[_Stats] | None,
    max_steps: int,
    aliases: list[str] | None = None,
    fixed: frozenset[str] = frozenset(),
    may_group: bool = False,
) -> Schema:
    """Run ``check(schema)`` and widen the refused column until it passes."""
    for _ in range(max_steps):
        try:
            check(schema)
            return schema
        except (ParseError, InputError) as e:
            widened = _fix(schema, e, stats, aliases, fixed, may_group)
            if widened is None:
                raise
            schema = widened
    raise SchemaError(
        f"no schema found that converts the input after {max_steps} attempts; "
        "write the schema by hand (start from `fastetl infer`)"
    )


def as_text(schema: Schema, name: str, value: str) -> Schema:
    """``schema`` with the column ``name`` read as text (str wide enough for ``value``)."""
    cols = tuple(
        _text_of(c, None, value, schema.dialect.null_values) if c.name == name else c
        for c in schema.columns
    )
    return schema.replace(columns=cols)


def widen_for(schema: Schema, error: BaseException) -> Schema | None:
    """``schema`` with the column (or the null values, or the encoding) changed so
    that it accepts what ``error`` refused; None when no change of type helps
    (a malformed row, a value no column type takes)."""
    facts = schema.inferred or {}
    return _fix(
        schema,
        error,
        None,
        fixed=frozenset(facts.get("types_given", ())),
        may_group="thousands" in facts.get("sniffed", ()),
    )


# The records window of the sample's check: a 200-column sample's 4,000 rows took a
# window of 4 MB, ~1,000 fresh page faults (~4 ms of its inference on this kind of VM)
_CHECK_WINDOW_BYTES = 256 << 10


def _check_sample(data: bytes, header: bool, rows: int = 1 << 14, keep: list | None = None):
    """A check that converts the sample (UTF-8 bytes, ``rows`` rows) with the real
    converter.  With ``keep`` (the sample is the whole input), the records of the run
    that passes are kept: ``keep`` ends as ``[records, text, RunResult]``, the read's
    result without a second parse."""
    from .pipeline import run  # late: the pipeline is not needed to sniff
    from .store import ArrayWriter

    def check(schema: Schema) -> None:
        d = schema.dialect.to_dict() | {"encoding": "utf-8", "header": header}
        schema = schema.replace(dialect=Dialect.from_dict(d))
        with open_source(data, "utf-8") as source:
            if keep is None:
                # (a window for the sample's rows, of _CHECK_WINDOW_BYTES at most: the
                # parse fills it again and again; fresh pages cost more than the check)
                fit = _CHECK_WINDOW_BYTES // max(1, schema.dtype().itemsize)
                window = min(rows + 1, 1 << 14, fit)
                run(source, schema, _DiscardWriter(schema.dtype(), max(1, window)))
                return
            writer = ArrayWriter(schema.dtype(), capacity=rows + 1)
            result = run(source, schema, writer)
            keep[:] = [writer.result(), writer.text(), result]

    return check


_ONE_PARSE_BYTES = 1 << 20  # a small input with more rows than the sample: see below


def _every_row(sample: _Sample, names: list[str], schema: Schema, cap: int) -> list | None:
    """For a small input whose sample is not all of its rows (more than ``infer_rows``,
    ``cap``, and fewer than twice as many lines: then one parse on one thread takes no
    longer than the sample's check and a read on two threads did): convert every row
    with ``schema`` first.  When they all convert, the check of the
    sample would pass too (each sampled row is a row of the input, split alike: the
    input has no quote or escape byte, so its rows are its lines), ``_fit`` keeps
    ``schema``, and these records are the read's: ``[records, text, RunResult]``, one
    parse instead of two.  Else (a row past the sample that does not fit, a bad row, an
    input this does not apply to) None: the sample is checked and the input read again,
    as before (that read widens, or raises)."""
    u8, final, starts, _ = sample.segments[0]
    st = sample.sniffed.structure
    marks = [c for c in (sample.sniffed.quote, st["escape"]) if c is not None]
    if not final or not starts or len(u8) > _ONE_PARSE_BYTES:
        return None
    if any(c.encode() in u8 for c in marks):
        return None
    if _core.count_lines(u8, starts[0], len(u8)) >= 2 * cap:
        return None
    # the header line and the rows after it; where the input's own bytes before the first
    # row are that line, they are the text parsed (no copy: a fresh 1 MiB costs more in
    # page faults than its parse)
    hdr = _header_text(sample, names)
    at = starts[0] - len(hdr)
    if at >= 0 and u8[at : starts[0]] == hdr:
        every: Any = memoryview(u8)[at:]
    else:
        every = b"".join((hdr, memoryview(u8)[starts[0] :]))
    rows = _core.count_lines(every, 0, len(every)) + 1
    kept: list = []
    try:
        _check_sample(every, sample.header is not None, rows, kept)(schema)
    except (ParseError, InputError):
        return None
    return kept


class _DiscardWriter:
    """A pipeline writer that keeps nothing: one reused window (memory stays bounded)."""

    pipelined = False

    def __init__(self, dtype: Any, window_rows: int = 1 << 14) -> None:
        self.rows = 0
        self.itemsize = max(1, dtype.itemsize)
        self.window_rows = window_rows
        self._buf = bytearray(self.itemsize * window_rows)

    def window(self, nrows: int, exact: bool = True) -> memoryview:
        if nrows > self.window_rows:
            self._buf = bytearray(self.itemsize * nrows)
            self.window_rows = nrows
        return memoryview(self._buf)[: nrows * self.itemsize]

    def advance(self, nrows: int) -> None:
        self.rows += nrows

    def append(self, records: Any) -> None:
        self.rows += len(records)

    def add_text(self, records: Any, text: bytes) -> None:
        pass


class _ValueErrors:
    """The bad-row sink of a full pass for a lenient policy: a row refused for one of its
    values is raised (its column is widened); a malformed row is let go, as the
    conversion under that policy will let it go."""

    def start(self, header: bytes | None) -> None:
        pass

    def add(self, raw: bytes, error: ParseError, offset: int) -> None:
        if error.column is not None:
            raise error


def _check_file(src: Any, lenient: bool = False):
    """A check that converts the whole input the way :func:`fastetl.read_csv` does,
    keeping no records."""
    from .pipeline import run  # late: the pipeline is not needed to sniff

    pos = src.tell() if hasattr(src, "read") else None

    def check(schema: Schema) -> None:
        if pos is not None:
            src.seek(pos)
        try:
            with open_source(src, schema.dialect.encoding) as source:
                writer = _DiscardWriter(schema.dtype())
                if lenient:
                    run(source, schema, writer, on_error="reject", rejects=_ValueErrors())
                else:
                    run(source, schema, writer)
        except ParseError as e:
            if "not valid UTF-8" not in e.reason or e.offset is None:
                raise
            guess = _encoding_near(src, pos, e.offset)
            if guess is None:
                raise
            raise _NotUTF8(e, guess) from None

    return check


class _NotUTF8(ParseError):
    """Bytes that are not UTF-8 met by a full pass, with ``encoding``: what the bytes
    around them look like."""

    def __init__(self, error: ParseError, guess: EncodingGuess) -> None:
        super().__init__(
            error.reason,
            line=error.line,
            column=error.column,
            value=error.value,
            offset=error.offset,
            row=error.row,
            value_bytes=error.value_bytes,
        )
        self.encoding = guess.name
        self.guess = guess


_NEAR_BYTES = 128 << 10  # bytes read on each side of a byte that is not UTF-8


def _encoding_near(src: Any, pos: int | None, offset: int) -> EncodingGuess | None:
    """The encoding the bytes around ``offset`` look like (not UTF-8), when the input can
    be read there again (a file, bytes, a seekable binary file object; not a
    compressed input, whose offsets are in its decompressed text)."""
    lo = max(0, offset - _NEAR_BYTES)
    if hasattr(src, "read"):
        assert pos is not None
        src.seek(pos)
        if compression_of(src.read(8)) is not None:
            return None
        src.seek(pos + lo)
        window = src.read(2 * _NEAR_BYTES)
        src.seek(pos)
        if not isinstance(window, bytes):
            return None
    else:
        with open_source(src) as source:
            if not source.is_buffer:
                return None
            window = bytes(source.buffer[lo : lo + 2 * _NEAR_BYTES])
    end = len(window) < 2 * _NEAR_BYTES
    if lo:
        window = _inner(window, end)
    guess = guess_encoding(_lines(window, end), head_is_all=True)
    return None if _is_utf8(guess.name) or guess.bom else guess


# =============================================================================
# The public entry points
# =============================================================================
def _check_rows(infer_rows: Any) -> tuple[int, bool]:
    if infer_rows == "all":
        return DEFAULT_INFER_ROWS, True
    if isinstance(infer_rows, bool) or not isinstance(infer_rows, int) or infer_rows < 1:
        raise SchemaError(
            f"infer_rows must be a positive number of rows or 'all', got {infer_rows!r}"
        )
    return infer_rows, False


def _order_undecided(cols: list[Column], stats: list[_Stats], nulls: tuple[str, ...]) -> list[str]:
    """The date and datetime columns whose sampled dates all fit day-first and month-first."""
    out = []
    for c, st in zip(cols, stats, strict=True):
        if c.type not in ("date", "datetime") or not (c.format or "").startswith(("%d", "%m")):
            continue
        vals = [v for v in st.typed_values() if v not in nulls]
        if c.type == "datetime":
            vals = [m.group(1) if (m := _DT_RE.match(v)) else v for v in vals]
        if ambiguous_order(vals):
            out.append(c.name)
    return out


def _as_tuple(words: Any) -> Any:
    """A list of words as a tuple; anything else as it is, for the Dialect to refuse."""
    return tuple(words) if isinstance(words, (list, tuple)) else (words or ())


def _number_texts(st: _Stats, null_values: Any) -> list[str]:
    """A column's distinct trimmed values that may be numbers (null words left out)."""
    nulls = _NULL_SET if null_values is None else frozenset(null_values)
    return _without(st.values(), nulls)


def _partial(
    cols: list[Column],
    stats: list[_Stats],
    names: list[str],
    types: dict[str, Any] | None,
    keep: Any,
) -> list[Column]:
    """The inferred columns with the types the caller gave and only the columns it keeps
    (the others ``skip``); a name not in the file is a one-line SchemaError."""
    known = {c.name: i for i, c in enumerate(cols)}
    for what, given in (("types", types or {}), ("columns", keep or ())):
        unknown = [n for n in given if n not in known]
        if unknown:
            raise SchemaError(
                f"{what}: no column named {_listed(unknown)} in the file (columns: "
                f"{_listed(names)})"
            )
    out = list(cols)
    for name, spec in (types or {}).items():
        i = known[name]
        kw = parse_type(spec, f"types[{name!r}]")
        if kw["type"] == "str" and "width" not in kw:
            kw["width"] = _round_width(stats[i].max_bytes)
        kw.setdefault("nullable", cols[i].nullable or "" in stats[i].counts)
        if kw["type"] == "skip":
            kw["nullable"] = False
        out[i] = Column.from_dict({"name": name, **kw})
    if keep is not None:
        wanted = set(keep)
        out = [c if c.name in wanted else Column(name=c.name, type="skip") for c in out]
    return out


_NO_DIALECT = Dialect()  # (frozen: shared) the dialect of no option given


def infer_schema(
    src: Any,
    *,
    delimiter: str | None = None,
    quote: Any = ...,
    encoding: str | None = None,
    header: bool | None = None,
    infer_rows: int | str = DEFAULT_INFER_ROWS,
    null_values: list[str] | tuple[str, ...] | None = None,
    on_error: str = "raise",
    decimal: str | None = None,
    thousands: str | None = None,
    true_values: list[str] | tuple[str, ...] | None = None,
    false_values: list[str] | tuple[str, ...] | None = None,
    types: dict[str, Any] | None = None,
    columns: list[str] | tuple[str, ...] | None = None,
    dayfirst: bool | None = None,
    escape: str | None = None,
    comment: str | None = None,
    skip_rows: int | None = None,
    trailing_delimiter: bool | None = None,
    skip_initial_space: bool | None = None,
    ragged: str | None = None,
    lenient_quotes: bool | None = None,
    _keep: list | None = None,
) -> Schema:
    """Infer the schema of the CSV ``src`` (a path, a bytes-like object or a seekable
    binary file object, whose position is restored).

    ``delimiter``, ``quote`` (``None``: no quoting), ``encoding``, ``header`` and
    ``null_values`` override what sniffing finds; so do the row-structure options
    (``escape``, ``comment``, ``skip_rows``, ``trailing_delimiter``,
    ``skip_initial_space``, ``ragged``, ``lenient_quotes``: see :class:`Dialect`), each
    sniffed where the data shows it (docs/INFERENCE.md) when left at None.
    ``infer_rows`` is the number of rows sampled (from the beginning, the middle and
    the end; at most :data:`SAMPLE_BYTES` bytes are read), or ``"all"``: after inferring from the
    sample, convert the whole input and widen columns until it converts, so the
    schema is guaranteed to convert it.

    Standard input (``"-"``) and streams that cannot seek are refused: they
    could be read only once; buffer them first.  Raises :class:`SchemaError`
    (nothing to infer from, a header that cannot be bound by name) or
    :class:`ParseError` (rows with a different number of fields, broken quotes).

    ``on_error`` is the policy the schema is for (see :func:`fastetl.convert`):
    with ``"skip"`` or ``"reject"`` a malformed row of the sample (a wrong number
    of fields, broken quoting) is left out of it and counted in the schema's
    ``inferred`` facts (``rows_left_out``, ``left_out_lines``) instead of raised;
    the conversion then skips or rejects it as any other bad row.

    How values are spelled: ``decimal`` (``","`` for ``1,5``) and ``thousands`` (``"."``
    for ``1.234,56``) are sniffed when not given (only where the sample is unambiguous,
    see docs/INFERENCE.md); ``true_values``/``false_values`` add boolean words (``sim``,
    ``não``), never sniffed.  A partial schema: ``types`` maps column names to the types
    to use instead of the inferred ones (``{"preco": "decimal(2)", "cep": "str"}``, see
    :func:`fastetl.schema.parse_type`), and ``columns`` names the columns to keep (the
    others become ``skip``).  A given type is checked against the sample, never widened.
    Dates such as ``01/02/2024`` where every sampled date fits both day-first and
    month-first are read day-first unless ``dayfirst=False``; the choice and the columns
    it concerns are recorded in the ``inferred`` facts (``date_order``).

    ``_keep`` (for :func:`fastetl.read_csv`): a list that gets ``[records, text,
    RunResult, source facts or None]`` when the sample was the whole input and its check's records are what
    reading the input with the schema gives (UTF-8, header names kept, no row left out):
    the input is then parsed once; else it stays empty.
    """
    if dayfirst not in (None, True, False):
        raise SchemaError(f"dayfirst must be true, false or None, got {dayfirst!r}")
    rows_cap, guaranteed = _check_rows(infer_rows)
    # a Dialect checks the spelling options given (one-line SchemaError when wrong); a
    # decimal mark that is not given is set apart from a given thousands separator.
    # (None given, the most common call: Dialect()'s, nothing to check: ~25 us a call.)
    if decimal is None and thousands is None and not true_values and not false_values:
        given_spelling = _NO_DIALECT
    else:
        given_spelling = Dialect(
            decimal=decimal if decimal is not None else ("," if thousands == "." else "."),
            thousands=thousands,
            true_values=_as_tuple(true_values),
            false_values=_as_tuple(false_values),
        )
    words = frozenset((*given_spelling.true_values, *given_spelling.false_values))
    if types is not None and not isinstance(types, dict):
        raise SchemaError(f"types must map column names to types, got {types!r}")
    if columns is not None and (
        isinstance(columns, str) or not all(isinstance(c, str) for c in columns)
    ):
        raise SchemaError(f"columns must be a list of column names, got {columns!r}")
    if null_values is not None and not _strings(null_values):
        raise SchemaError(f"null_values must be a list of strings, got {shown(null_values)}")
    if on_error not in ("raise", "skip", "reject"):
        raise ValueError(f"on_error must be one of raise, skip, reject, got {on_error!r}")
    if delimiter is not None and (not isinstance(delimiter, str) or len(delimiter) != 1):
        raise SchemaError(f"delimiter must be one character, got {delimiter!r}")
    structure = {
        "escape": escape,
        "comment": comment,
        "skip_rows": skip_rows,
        "trailing_delimiter": trailing_delimiter,
        "skip_initial_space": skip_initial_space,
        "ragged": ragged,
        "lenient_quotes": lenient_quotes,
    }
    # the options given, checked (with the delimiter and quote given) before reading
    given_structure = {k: v for k, v in structure.items() if v is not None}
    if given_structure or delimiter is not None or quote is not ...:
        Dialect(
            **given_structure,
            **({"delimiter": delimiter} if delimiter is not None else {}),
            **({"quote": quote} if quote is not ... else {}),
        )
    raw = _read_raw(src)
    lenient = on_error != "raise"
    sample = _sample(raw, rows_cap, delimiter, quote, encoding, header, lenient, structure)
    sn = sample.sniffed
    given = {
        "encoding": encoding is not None,
        "delimiter": delimiter is not None,
        "quote": quote is not ...,
        "header": header is not None,
        "null_values": null_values is not None,
    } | {k: v is not None for k, v in structure.items()}
    facts: dict[str, Any] = {
        "sniffed": [k for k, v in given.items() if not v],  # the dialect keys decided here
        "line_terminator": sn.line_terminator,
        "encoding": {"name": sn.encoding, "how": sn.encoding_how},
        "sample_rows": sample.nrows,
        "sample_complete": sample.complete,
    }
    if sn.encoding_warning:
        facts["encoding"]["warning"] = sn.encoding_warning
        warnings.warn(sn.encoding_warning, EncodingGuessWarning, stacklevel=2)
    if sn.detected:
        facts["detected"] = list(sn.detected)  # structure options the data showed
    if lenient:
        facts["on_error"] = on_error
        facts["rows_left_out"] = len(sample.left_out)
        facts["left_out_lines"] = sample.left_out[:_LEFT_OUT_LINES]
    if sample.header is not None:
        original = [f.decode("utf-8", errors="replace") for f in sample.header]
        names = unique_names(original)
        cut = {
            n: o for n, o in zip(names, original, strict=True) if len(o.encode()) > MAX_NAME_BYTES
        }
        if cut:
            facts["names_cut"] = cut
    else:
        original = None
        names = [f"column_{i + 1}" for i in range(sample.ncols)]
    renamed = original is not None and names != original
    columns_of = _core.sample_columns(
        [(buf, fin, starts) for buf, fin, starts, _ in sample.segments],
        sample.ncols,
        sn.word(),
        _q(sn.quote),
        sn.structure["trailing_delimiter"],
    )
    stats = [_Stats.of_columns(columns_of, j) for j in range(sample.ncols)]
    spelling, unread = sniff_spelling(
        [_number_texts(st, null_values) for st in stats], decimal, thousands
    )
    facts["sniffed"] += [k for k, v in (("decimal", decimal), ("thousands", thousands)) if not v]
    if unread:
        facts["numbers_unread"] = [names[j] for j in unread]
    cols, nulls = _infer(
        names,
        stats,
        None if null_values is None else tuple(null_values),
        spelling,
        words,
        dayfirst,
    )
    undecided = _order_undecided(cols, stats, nulls)
    if undecided:
        facts["date_order"] = {
            "order": "month-first" if dayfirst is False else "day-first",
            "given": dayfirst is not None,
            "columns": undecided,
        }
    fixed = frozenset(types or ())
    if fixed:
        facts["types_given"] = sorted(fixed)  # never widened, here or past the sample
    cols = _partial(cols, stats, names, types, columns)
    spelled = {
        "decimal": spelling[0],
        "thousands": spelling[1],
        "true_values": given_spelling.true_values,
        "false_values": given_spelling.false_values,
    }
    check_dialect = Dialect(  # (the sample's bytes start at the header: no rows to skip)
        delimiter=sn.delimiter,
        quote=sn.quote,
        header=sn.header,
        null_values=nulls,
        **spelled,
        **(sn.structure | {"skip_rows": 0}),
    )
    schema = Schema(columns=tuple(cols), dialect=check_dialect)
    # the sample is the input: the passing check's records are the read's (one parse)
    same = not renamed and not sample.left_out and _is_utf8(sn.encoding)
    whole = sample.complete and same
    kept: list | None = [] if _keep is not None and whole else None
    if _keep is not None and not whole and same and not guaranteed:
        kept = _every_row(sample, names, schema, rows_cap)  # (more rows than the sample)
    if kept:  # (the sample's check would pass: no sample text to make)
        check: Any = lambda _schema: None  # noqa: E731
    else:
        data = _sample_bytes(sample, names)
        check = _check_sample(data, sample.header is not None, sample.nrows, kept)
    schema = _fit(schema, check, stats, MAX_PASSES + 16 * len(cols), fixed=fixed)
    header_key: Any = "rename" if renamed else sn.header
    final = schema.replace(
        dialect=Dialect(
            delimiter=sn.delimiter,
            quote=sn.quote,
            header=header_key,
            encoding=sn.encoding,
            null_values=schema.dialect.null_values,
            **spelled,
            **sn.structure,
        ),
        inferred=facts,
    )
    if guaranteed and not sample.complete:
        check = _check_file(src, lenient)
        final = _fit(
            final,
            check,
            stats,
            MAX_PASSES + 4 * len(cols),
            aliases=original,
            fixed=fixed,
            may_group=thousands is None,
        )
        if final.dialect.encoding != sn.encoding:  # bytes past the sample decided it
            facts["encoding"] = {"name": final.dialect.encoding, "how": "full pass"}
    if kept:
        _keep[:] = [*kept, raw.facts()]
    return final


def _without_name(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if k != "name"}


def hint_for(error: BaseException, schema: Schema | None) -> str:
    """One line telling what to change when converting with ``schema`` failed with
    ``error`` (for the CLI to print after the error), or ``""`` with no advice."""
    if isinstance(error, InputError) and "check the encoding" in str(error):
        return (
            'hint: set the dialect\'s "encoding" to the file\'s ("latin-1" reads every byte), '
            "or rerun with --infer-rows all"
        )
    if not isinstance(error, ParseError):
        return ""
    reason = error.reason or ""
    if reason.startswith("expected") and "fields" in reason:
        return (
            "hint: this row has a different number of fields than the header; check the "
            "delimiter and the quote character (--delimiter, --quote), lines before the header "
            "(--skip-rows) or comments (--comment); short rows can be filled with nulls "
            "(--ragged fill); or fix the row"
        )
    if "never closed" in reason or "after a closing quote" in reason:
        return (
            "hint: the quoting is broken here; if the file does not quote fields, set the "
            'dialect\'s "quote" to null (--quote none); for \\" escapes use --escape \'\\\'; '
            "to keep quotes that are not doubled as text, --lenient-quotes"
        )
    if "not valid UTF-8" in reason:
        return (
            'hint: the input is not UTF-8; set the dialect\'s "encoding" (e.g. "cp1252" or '
            '"latin-1"), or rerun with --infer-rows all'
        )
    tail = "or rerun with --infer-rows all to infer the schema from every row"
    if schema is None or error.column is None:
        return ""
    may_group = "thousands" in (schema.inferred or {}).get("sniffed", ())
    fixed = _fix(schema, error, None, may_group=may_group)
    if fixed is None:
        return f"hint: {tail}"
    import json

    changes = []
    before, after = schema.dialect.to_dict(), fixed.dialect.to_dict()
    for key in after:
        if after[key] != before.get(key):
            changes.append(f'set the dialect\'s "{key}" to {json.dumps(after[key])}')
    for old, new in zip(schema.columns, fixed.columns, strict=True):
        if old != new:
            name = shown(old.name, quote='"')
            changes.append(
                f"change column {name} to "
                f"{json.dumps(_without_name(new.to_dict()), ensure_ascii=False)}"
            )
    return f"hint: the schema was inferred from a sample; {' and '.join(changes)}, {tail}"
