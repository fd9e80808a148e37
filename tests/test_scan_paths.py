"""The structural scan's levels (portable C, SSE2, AVX2, NEON), forced one by one.

The core finds delimiters, line breaks and quotes 64 bytes at a time on the vector unit
the CPU has, chosen once at run time (``_core.scan_paths()``, ``_core.set_scan_path``,
``FASTETL_SIMD``).  Every level must split every input exactly as the portable one does
and as Python's ``csv`` module (through tests/reference.py, which also knows fastetl's
errors) does: the same records, or the same first error.  The inputs put delimiters,
quotes, doubled quotes, CR and LF at every offset of the 16-, 32- and 64-byte windows,
and block ends (the scanner's short windows) inside quoted fields.
"""

from __future__ import annotations

import csv
import io
import os
import platform
import random
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference import compare_with_reference

import fastetl
from fastetl import Schema, _core

PATHS = _core.scan_paths()
# a FASTETL_PORTABLE=1 build (setup.py) has the portable path only; CI sets it for the tests too
PORTABLE_BUILD = os.environ.get("FASTETL_PORTABLE", "").strip().lower() in {"1", "true", "yes",
                                                                          "on"}


@pytest.fixture(params=PATHS)
def scan_path(request):
    was = _core.set_scan_path(request.param)
    yield request.param
    _core.set_scan_path(was)


def _cpu_flags() -> set[str]:
    """The CPU's feature flags as Linux reports them (empty elsewhere)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith(("flags", "Features")):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


# -- the choice ------------------------------------------------------------------------------


def test_the_paths_are_the_ones_this_cpu_has():
    assert PATHS[0] == "portable"
    assert len(set(PATHS)) == len(PATHS)
    machine = platform.machine().lower()
    flags = _cpu_flags()
    if PORTABLE_BUILD:
        assert PATHS == ("portable",)
    elif machine in ("x86_64", "amd64"):
        assert "sse2" in PATHS
        if flags:
            assert ("avx2" in PATHS) == ("avx2" in flags)
    elif machine in ("aarch64", "arm64"):
        assert "neon" in PATHS
    if not os.environ.get("FASTETL_SIMD"):
        assert _core.scan_path() == PATHS[-1]  # the best one by default


def test_set_scan_path_returns_the_previous_one_and_refuses_others():
    was = _core.set_scan_path("portable")
    try:
        assert _core.scan_path() == "portable"
        assert _core.set_scan_path(PATHS[-1]) == "portable"
        assert _core.scan_path() == PATHS[-1]
        for bad in ("avx512", "", "PORTABLE", "neon" if "neon" not in PATHS else "avx2"):
            if bad in PATHS:
                continue
            with pytest.raises(ValueError, match="not one this build and CPU offer"):
                _core.set_scan_path(bad)
            assert _core.scan_path() == PATHS[-1]  # unchanged
    finally:
        _core.set_scan_path(was)


@pytest.mark.parametrize("name", [*PATHS, "no-such-path"])
def test_fastetl_simd_chooses_the_path_at_import(name):
    env = dict(os.environ, FASTETL_SIMD=name)
    code = "import fastetl, fastetl._core as c; print(c.scan_path())"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr
    if name in PATHS:
        assert out.stdout.strip() == name
        assert "FASTETL_SIMD" not in out.stderr
    else:
        assert out.stdout.strip() == PATHS[-1]
        lines = [ln for ln in out.stderr.splitlines() if "FASTETL_SIMD" in ln]
        assert len(lines) == 1 and "'no-such-path'" in lines[0], out.stderr


# -- every path splits like the reference -----------------------------------------------------


def _read_all(data: bytes, schema: Schema, block_size):
    try:
        return fastetl.read_csv(data, schema, workers=1, block_size=block_size).array, None
    except fastetl.ParseError as e:
        return None, str(e)


@pytest.mark.parametrize("delimiter", [",", "\t", ";"])
def test_fields_of_every_length_split_like_python_csv(scan_path, delimiter):
    """Fields of 0-70 bytes (and a few of 100-200) so that every special byte falls at
    every offset of a 16-, 32- and 64-byte window; quoted fields with the delimiter,
    doubled quotes, CR and LF inside; LF and CRLF rows; tiny blocks end inside quotes."""
    rng = random.Random(f"{scan_path}{delimiter}")
    plain = ["a", "Z", "0", " ", "é", "+", chr(ord(delimiter) + 1), "\x01", "\x7f"]
    special = [*plain, '"', delimiter, "\n", "\r"]
    rows = []
    for _ in range(600):
        row = []
        for _ in range(4):
            n = rng.randint(0, 70) if rng.random() < 0.95 else rng.randint(100, 200)
            chars = plain if rng.random() < 0.6 else special
            row.append("".join(rng.choice(chars) for _ in range(n)))
        rows.append(row)
    def cell(v: str) -> str:  # (csv.writer leaves a lone CR unquoted)
        if any(c in v for c in (delimiter, '"', "\r", "\n")):
            return '"' + v.replace('"', '""') + '"'
        return v

    lines = [delimiter.join(f"c{i}" for i in range(4))]
    lines += [delimiter.join(cell(v) for v in row) for row in rows]
    lf = "\n".join(lines) + "\n"
    schema = Schema.from_dict(
        {
            "dialect": {"delimiter": delimiter},
            "columns": [{"name": f"c{i}", "type": "str", "width": 400} for i in range(4)],
        }
    )
    for text in (lf, lf.replace("\n", "\r\n")):
        want = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))[1:]
        for bs in (None, 61, 64):
            got = fastetl.read_csv(text.encode(), schema, workers=1, block_size=bs)
            cols = [got[f"c{i}"] for i in range(4)]
            assert len(got) == len(want)
            for i, row in enumerate(want):
                assert [c[i] for c in cols] == row, (scan_path, bs, i, row)


_ALPHABET = st.sampled_from(['"', '""', ",", "\n", "\r", "\r\n", "a", "bc", " ", "é", "x" * 15,
                             "y" * 31, "z" * 63])  # fmt: skip
_SCHEMA3 = Schema.from_dict(
    {"columns": [{"name": n, "type": "str", "width": 300} for n in ("a", "b", "c")]}
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow],
          print_blob=True)  # fmt: skip
@given(body=st.lists(_ALPHABET, max_size=60).map("".join),
       cut=st.integers(0, 300))  # fmt: skip
def test_random_bytes_every_path_agrees_with_the_reference_and_the_portable_path(body, cut):
    """Random bytes of quotes, doubled quotes, delimiters, CR/LF and runs that end at 16,
    32 and 64 bytes: on every path the same records or the same first error as the
    reference (tests/reference.py, Python's csv plus fastetl's strictness) at several
    block sizes; and the same row ends as the portable path, also with the data cut
    anywhere (a block end inside a quote: more is needed, never a guess)."""
    data = ("a,b,c\n" + body).encode()
    was = _core.scan_path()
    try:
        seen = {}
        for name in PATHS:
            _core.set_scan_path(name)
            compare_with_reference(data, _SCHEMA3, block_sizes=(1, 16, 64, None))
            end = min(cut, len(data))
            seen[name] = (
                _read_all(data, _SCHEMA3, 32),
                [_core.find_row_end(data, start, end, final, ord(","), ord('"'))
                 for start in (0, 6) for final in (False, True) if start <= end],
                _core.next_row_start(data, 0, end // 2, end, False, ord(","), ord('"')),
            )  # fmt: skip
        portable = seen["portable"]
        for name, got in seen.items():
            assert repr(got) == repr(portable), name
    finally:
        _core.set_scan_path(was)


def test_comment_and_space_dialects_split_alike_on_every_path(scan_path):
    """The other dialects' one-pass splitter (comment marks, spaces before a field) reads
    its bits through the same scan: the same records on every path as on the portable."""
    rng = random.Random(7)
    lines = ["a;b;c"]
    for _ in range(400):
        cells = ["".join(rng.choice("xy z") for _ in range(rng.randint(0, 70)))
                 for _ in range(3)]  # fmt: skip
        line = ";".join(" " * rng.randint(0, 2) + c.strip() for c in cells)
        if rng.random() < 0.2:
            line += " #" + "c" * rng.randint(0, 70)
        lines.append(line)
    data = ("\n".join(lines) + "\n").encode()
    schema = Schema.from_dict(
        {
            "dialect": {"delimiter": ";", "comment": "#", "skip_initial_space": True},
            "columns": [{"name": n, "type": "str", "width": 100} for n in "abc"],
        }
    )
    got = fastetl.read_csv(data, schema, workers=1, block_size=64).array.tobytes()
    was = _core.set_scan_path("portable")
    try:
        want = fastetl.read_csv(data, schema, workers=1, block_size=64).array.tobytes()
    finally:
        _core.set_scan_path(was)
    assert got == want


# -- counting line breaks and finding a byte (the plain-file read's checks of each piece) --


def _python_breaks(data: bytes) -> int:
    """Line breaks as Python's str.splitlines counts the ASCII ones: CRLF once, then CR, LF."""
    return len(data.decode("latin-1").replace("\r\n", "\n").replace("\r", "\n").split("\n")) - 1


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300).map(lambda b: bytes(b"\r\n,a\""[x % 5] for x in b)),
       st.integers(0, 40), st.integers(0, 40))
def test_line_breaks_are_counted_alike_every_way(data, cut_a, cut_b):
    """Byte by byte (the reference), a word at a time, a vector at a time: the same count
    as Python's, over the whole buffer and any part of it (a CR at a part's end is a
    break there even when an LF follows outside the part)."""
    want = _python_breaks(data)
    for how in (0, 1, 2, 3):
        assert _core._count_line_breaks_as(data, how) == want, how
    a = min(cut_a, len(data))
    b = max(a, len(data) - cut_b)
    assert _core.count_lines(data, a, b) == _python_breaks(data[a:b])


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300).map(lambda b: bytes(b"\r\n,a\""[x % 5] for x in b)),
       st.integers(0, 40), st.integers(0, 40), st.sampled_from(list(_core.scan_paths())))
def test_line_breaks_unless_a_quote_are_counted_alike_every_way(data, cut_a, cut_b, path):
    """The count and the quote check in one pass (AVX2) or two (memchr, then the count):
    -1 when a quote byte is in the part, else Python's count, on every scan path and every
    way of counting, over the whole buffer and any part of it."""
    want = -1 if b'"' in data else _python_breaks(data)
    a = min(cut_a, len(data))
    b = max(a, len(data) - cut_b)
    part = data[a:b]
    was = _core.set_scan_path(path)
    try:
        for how in (0, 1, 2, 3):
            assert _core._count_line_breaks_unless_as(data, ord('"'), how) == want, how
        assert _core.count_lines(data, a, b, ord('"')) == (
            -1 if b'"' in part else _python_breaks(part))
    finally:
        _core.set_scan_path(was)


@pytest.mark.parametrize("quote", [-2, -255, -(1 << 31), 256])
def test_count_lines_refuses_a_quote_that_is_no_byte_nor_minus_one(quote):
    """-1 is "no quote", 0-255 a quote byte; anything else is refused, naming the
    argument and its value (a negative one was counted as "no quote")."""
    with pytest.raises(ValueError, match=rf"quote={quote}\b"):
        _core.count_lines(b"a\nb\n", 0, 4, quote)
    assert _core.count_lines(b"a\nb\n", 0, 4, -1) == _python_breaks(b"a\nb\n")
    assert _core.count_lines(b"a\nb\n", 0, 4, 0) == _python_breaks(b"a\nb\n")


@pytest.mark.parametrize("path", list(_core.scan_paths()))
def test_line_breaks_unless_a_quote_past_the_per_byte_counters(path):
    """More than 255 breaks per byte lane, each kind, CRLF across every 32-byte boundary;
    then one quote byte anywhere: at the start, in a 32-byte block, in the tail."""
    data = b"\n" * 70_001 + b"\r\n" * 40_003 + b"\r" * 50_007 + b"x\r\n" * 30_011
    was = _core.set_scan_path(path)
    try:
        assert _core._count_line_breaks_unless_as(data, ord('"'), 3) == _python_breaks(data)
        for at in (0, 31, 32, 33, 8191, 8192 * 32 + 5, len(data) - 33, len(data) - 1):
            quoted = data[:at] + b'"' + data[at + 1 :]
            assert _core._count_line_breaks_unless_as(quoted, ord('"'), 3) == -1, at
    finally:
        _core.set_scan_path(was)


@pytest.mark.parametrize("how", [0, 1, 2, 3])
def test_line_breaks_past_the_per_byte_counters(how):
    """More than 255 breaks per byte lane (the counters' limit before they are summed),
    each kind, with CRLF pairs across every 16-byte boundary."""
    data = b"\n" * 70_001 + b"\r\n" * 40_003 + b"\r" * 50_007 + b"x\r\n" * 30_011
    assert _core._count_line_breaks_as(data, how) == _python_breaks(data)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200).map(lambda b: bytes(b"ab,\"\n"[x % 5] for x in b)))
def test_find_one_byte_is_bytes_find(data):
    """find_bytes of one byte (C's memchr) and of two (the 16-byte loop) and with the
    fast paths off: the first offset, as bytes.find says."""
    assert _core.find_bytes(data, b'"', False) == data.find(b'"')
    firsts = [i for i in (data.find(b'"'), data.find(b"\n")) if i >= 0]
    assert _core.find_bytes(data, b'"\n', False) == (min(firsts) if firsts else -1)
    was = _core.set_fast_paths(False)
    try:
        assert _core.find_bytes(data, b'"', False) == data.find(b'"')
    finally:
        _core.set_fast_paths(was)


_CONTROLS = bytes(b for b in range(0x20) if b not in b"\n\r")


@st.composite
def _controls_among_clean(draw):
    """(data, non_ascii): up to 100 bytes a control byte may not be (printable ASCII, LF,
    CR; 0x80 and above too without non_ascii), 0-2 of them made control bytes at drawn
    places -- most past the first 16 bytes, where the vector loop finds them -- seen from
    an unaligned start."""
    non_ascii = draw(st.booleans())
    clean = bytes(range(0x20, 0x80)) + b"\n\r" + (b"" if non_ascii else bytes(range(0x80, 0x100)))
    hits = _CONTROLS + (bytes(range(0x80, 0x100)) if non_ascii else b"")
    data = bytearray(draw(st.lists(st.sampled_from(clean), max_size=100)))
    for _ in range(draw(st.integers(0, 2)) if data else 0):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.sampled_from(hits))
    start = draw(st.integers(0, min(15, len(data))))
    return memoryview(bytes(data))[start:], non_ascii


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.tuples(st.binary(max_size=200), st.booleans()), _controls_among_clean()))
def test_find_control_is_the_first_control_byte(case):
    """find_control (16 bytes a compare, and with the fast paths off): the first byte
    below 0x20 but LF and CR, or (non_ascii) 0x80 and above, as a byte loop says."""
    data, non_ascii = case
    want = next((i for i, b in enumerate(bytes(data))
                 if (b < 0x20 and b not in b"\n\r") or (non_ascii and b >= 0x80)), -1)
    assert _core.find_control(data, non_ascii) == want
    was = _core.set_fast_paths(False)
    try:
        assert _core.find_control(data, non_ascii) == want
    finally:
        _core.set_fast_paths(was)


@pytest.mark.parametrize("path", list(_core.scan_paths()))
def test_line_breaks_unless_a_quote_at_every_length(path):
    """Every length 0-100 (the AVX2 pass takes 32 bytes a step from 33 bytes on, then its
    tail), from unaligned starts, with a quote in its middle or none, CR and LF
    everywhere (a CR at a step's end, its LF in the next): -1 or Python's count."""
    import random

    rnd = random.Random(16)
    was = _core.set_scan_path(path)
    try:
        for n in range(101):
            for start in range(4):
                part = bytes(rnd.choice(b"\r\n,a") for _ in range(n))
                for quoted in (False, True):
                    data = part[: n // 2] + b'"' + part[n // 2 + 1 :] if quoted and n else part
                    buf = b"\n" * start + data
                    want = -1 if b'"' in data else _python_breaks(data)
                    assert _core.count_lines(buf, start, start + len(data), ord('"')) == want
    finally:
        _core.set_scan_path(was)


def test_the_scan_path_is_not_changed_under_a_running_parse():
    """set_scan_path and set_fast_paths are process-wide and not thread-safe: while a
    Parser.parse runs in another thread they raise (the parse keeps the path it started
    with), and its records are those of a parse on one path alone; after it, they work."""
    import threading

    import numpy as np

    from fastetl import layout

    rng = np.random.default_rng(3)
    body = "\n".join(",".join(f"{v:.6f}" for v in row) for row in rng.normal(size=(300_000, 4)))
    data = ("a,b,c,d\n" + body + "\n").encode()
    schema = Schema.from_dict({"columns": [{"name": n, "type": "float64"} for n in "abcd"]})
    binding = schema.bind(["a", "b", "c", "d"])
    nl = data.index(b"\n") + 1
    out = np.zeros(300_001, schema.dtype())
    done: list = []

    def parse_often() -> None:  # (a window of a few hundred ms, however loaded the machine)
        for _ in range(10):
            done.append(layout.make_parser(binding).parse(data, nl, len(data), True, out, 0,
                                                          len(out)))

    t = threading.Thread(target=parse_often)
    refused = 0
    other = PATHS[0] if _core.scan_path() != PATHS[0] else PATHS[-1]
    was = _core.scan_path()
    t.start()
    while t.is_alive():
        try:
            _core.set_scan_path(_core.scan_path())  # (the same path: allowed when idle)
        except RuntimeError as e:
            assert "not thread-safe" in str(e)
            refused += 1
            with pytest.raises(RuntimeError):
                _core.set_fast_paths(True)
            break
    t.join()
    assert refused == 1  # a parse (the GIL let go while it runs) was seen running
    assert all(r[0] == 0 and r[1] == 300_000 for r in done) and len(done) == 10
    want = np.loadtxt(io.StringIO(body), delimiter=",")
    np.testing.assert_array_equal(out[:300_000]["a"], want[:, 0])
    np.testing.assert_array_equal(out[:300_000]["d"], want[:, 3])
    assert _core.set_scan_path(other) == was  # idle again: allowed
    _core.set_scan_path(was)


# -- UTF-8 validation (32 bytes at a time on the AVX2 level) ---------------------------------

# Every kind of lead, continuation and error the strict check knows, to place anywhere.
_UTF8_PIECES = (
    b"a", b"\x00", b"\x7f", b"\x80", b"\xbf", b"\xc0", b"\xc1", b"\xc2", b"\xdf", b"\xe0",
    b"\xed", b"\xef", b"\xf0", b"\xf4", b"\xf5", b"\xff", b"\xc2\x80", b"\xc1\xbf",
    b"\xe0\xa0\x80", b"\xe0\x9f\xbf", b"\xed\x9f\xbf", b"\xed\xa0\x80", b"\xe2\x82",
    b"\xf0\x90\x80\x80", b"\xf0\x8f\xbf\xbf", b"\xf4\x8f\xbf\xbf", b"\xf4\x90\x80\x80",
    b"\xf0\x9f\x98", "é€😀".encode(),
)  # fmt: skip


def _decodes(b: bytes) -> bool:
    """Whether Python's strict decoder takes ``b`` (what it drops, were it not strict)."""
    return b.decode("utf-8", "ignore").encode("utf-8") == b


def test_utf8_check_is_bytes_decode_with_every_piece_at_every_offset(scan_path):
    """The core's strict UTF-8 check (str, text and category values) says what Python's
    decoder says, on every path: each piece at every offset of values of 1 to 100 bytes
    (the vector level's chunk ends, its overlapping last chunk, the value's end)."""
    wrong = []
    for n in range(1, 101):
        for piece in _UTF8_PIECES:
            for at in range(0, n - len(piece) + 1):
                rest = n - at - len(piece)
                for b in (b"x" * at + piece + b"y" * rest,
                          "é".encode() * (at // 2) + b"z" * (at % 2) + piece + b"w" * rest):
                    if _core._utf8_valid(b) != _decodes(b):
                        wrong.append(b)
    assert wrong == []


@settings(max_examples=400, deadline=None, print_blob=True)
@given(st.lists(st.sampled_from(_UTF8_PIECES + (b"abcdefgh", b"\xc3\xa9" * 5)), max_size=80)
       .map(b"".join))  # fmt: skip
def test_utf8_check_of_random_pieces_is_bytes_decode_on_every_path(data):
    was = _core.scan_path()
    try:
        for name in PATHS:
            _core.set_scan_path(name)
            assert _core._utf8_valid(data) == _decodes(data), name
            assert _core._utf8_valid(data, True) == _decodes(data)
    finally:
        _core.set_scan_path(was)


def test_a_bad_byte_in_a_long_text_value_is_the_same_error_on_every_path(scan_path, tmp_path):
    """A long value with one byte that is not UTF-8 (past the first 32 bytes, where the
    vector level checks it): read_csv stops on it, naming its line and column, on every
    path; the values around it read back as Python decodes them."""
    good = ("café, " * 20).strip()
    lines = ["id,t"] + [f'{i},"{good} {i}"' for i in range(50)]
    raw = ("\n".join(lines) + "\n").encode()
    schema = Schema.from_dict({"columns": [{"name": "id", "type": "int64"},
                                           {"name": "t", "type": "text"}]})  # fmt: skip
    path = tmp_path / "ok.csv"
    path.write_bytes(raw)
    table = fastetl.read_csv(path, schema)
    assert [table.rows(i, i + 1)[0]["t"] for i in (0, 49)] == [f"{good} 0", f"{good} 49"]
    bad = raw.replace(f"{good} 31".encode(), f"{good[:70]}\xff{good[71:]} 31".encode("latin-1"))
    path.write_bytes(bad)
    with pytest.raises(fastetl.ParseError) as err:
        fastetl.read_csv(path, schema)
    assert "line 33" in str(err.value) and '"t"' in str(err.value)
