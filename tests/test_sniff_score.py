"""The dialect candidates are scored in compiled code (``_core.score_reading``): every fact
``_read_candidate`` weighs must be what the Python rule it replaced computed, row by row
with ``split_row``, regexes and ``bytes.find`` (kept here as the reference)."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict

from hypothesis import given, settings
from hypothesis import strategies as st

import pytest

from fastetl import _core, infer
from fastetl.layout import syntax_bits

# -- the Python rule, as infer.py had it before the scorer ---------------------------------
# (the value regexes are infer.py's own: its type rules still use them)
_COMMA_DECIMAL = re.compile(r"[+-]?[0-9]+,[0-9]+\Z")


def ref_looks_typed(v: bytes) -> bool:
    t = v.strip(b" \t")
    if not t:
        return True
    try:
        s = t.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return (
        infer._is_float(s)
        or bool(_COMMA_DECIMAL.match(s))
        or bool(infer._YMD_RE.match(s) or infer._DMY_RE.match(s) or infer._ISO_DT_RE.match(s))
    )


def ref_stray(cell: bytes, q: str | None) -> bool:
    t = cell.strip(b" \t")
    if not t:
        return False
    if q != '"' and (t[:1] == b'"' or t[-1:] == b'"'):
        return True
    return q != "'" and len(t) >= 2 and t[:1] == b"'" and t[-1:] == b"'"


def ref_trailing(rows: list[list[bytes]]) -> bool:
    if len(rows) < 2:
        return False
    k = len(rows[1])
    if k < 2 or any(len(r) != k or r[-1] != b"" for r in rows[1:]):
        return False
    first = rows[0]
    return len(first) == k - 1 or (len(first) == k and first[-1] == b"" and first[-2] != b"")


def ref_read_candidate(buf: bytes, final: bool, d: str, q: str | None, extra: int) -> dict:
    """The facts of one reading, by the Python rule (rows split one by one)."""
    word, quote = ord(d) | extra, ord(q) if q else -1
    out = dict(nrows=0, broken=0, swallowed=False, fields=0, consistency=0.0, good=0,
               typed=0.0, evidence=0)
    counts: list[int] = []
    stray: list[bool] = []
    typed = total = end = longest = 0
    opening = None
    if q is not None:
        qb, db = re.escape(q.encode()), re.escape(d.encode())
        opening = re.compile(rb"(?:^|" + db + rb")[ \t]*" + qb)
    n = len(buf)
    shapes = _core.row_shapes(buf, 0, final, word, quote, infer.SNIFF_ROWS)
    rows = []
    if shapes:
        out["nrows"] = len(shapes)
        end = shapes[-1][1]
        longest = max(nxt - start for start, nxt, _, _ in shapes)
        out["broken"] = sum(1 for sh in shapes if sh[2] < 0)
    for start, nxt, nfields, _ in shapes:
        if nfields < 0:
            continue
        fields = _core.split_row(buf, start, n, final, word, quote)[1]
        rows.append(fields)
        counts.append(nfields)
        stray.append(any(ref_stray(f, q) for f in fields))
        if 1 < len(counts) <= 20:
            total += len(fields)
            typed += sum(1 for f in fields if ref_looks_typed(f))
        quoted = buf.find(b'"', start, nxt) >= 0 or buf.find(b"'", start, nxt) >= 0
        if opening is not None and quoted:
            raw = buf[start:nxt].rstrip(b"\r\n")
            if b"\n" not in raw and b"\r" not in raw:
                out["evidence"] += len(opening.findall(raw))
    if out["nrows"] < infer.SNIFF_ROWS and not final and n - end > max(8192, 4 * longest):
        out["swallowed"] = True
    out["trailing"] = ref_trailing(rows)
    if not counts:
        return out
    k, freq = max(Counter(counts).items(), key=lambda kv: (kv[1], kv[0]))
    out["fields"] = k
    out["consistency"] = round(freq / out["nrows"], 3)
    out["good"] = sum(1 for c, s in zip(counts, stray, strict=True) if c == k and not s)
    out["typed"] = round(typed / total, 2) if total else 0.0
    return out


# -- inputs: pieces sniffing meets (quotes, delimiters, typed cells, escapes, comments) ----
PIECES = [
    b'"', b"'", b'""', b",", b";", b"\t", b"|", b" ", b"\n", b"\r\n", b"\r", b"x", b"ab",
    b"1", b"-2.5", b"1e3", b"1,5", b"+0,25", b"nan", b"Inf", b"2024-01-02", b"3/4/2021",
    b"2024-01-02T10:20", b"2024-01-02 10:20:30.5+01:00", b"\\", b"#", "é".encode(), b"\xff",
    b"12.", b".5", b"--",
]
heads = st.lists(st.sampled_from(PIECES), max_size=60).map(b"".join)
EXTRAS = {
    "plain": 0,
    "escape": syntax_bits("\\", None, False, False),
    "comment": syntax_bits(None, "#", False, False),
    "spaces": syntax_bits(None, None, True, False),
    "lenient": syntax_bits(None, None, False, True),
}


@pytest.mark.parametrize("extra", list(EXTRAS), ids=list(EXTRAS))
@settings(max_examples=300, deadline=None)
@given(buf=heads, final=st.booleans(), d=st.sampled_from(infer.DELIMITERS),
       q=st.sampled_from(infer.QUOTES))
def test_the_compiled_score_is_the_python_rule(extra, buf, final, d, q):
    bits = EXTRAS[extra]
    got = asdict(infer._read_candidate(buf, final, d, q, bits))
    want = ref_read_candidate(buf, final, d, q, bits)
    assert {k: got[k] for k in want} == want


@settings(max_examples=100, deadline=None)
@given(rows=st.lists(st.lists(st.sampled_from(["", "1", "a", " ", "2.5"]), min_size=1,
                              max_size=5), min_size=1, max_size=30),
       d=st.sampled_from(infer.DELIMITERS))
def test_trailing_delimiters_are_seen_as_the_python_rule_sees_them(rows, d):
    buf = "".join(d.join(r) + "\n" for r in rows).encode()
    got = infer._read_candidate(buf, True, d, '"')
    assert got.trailing == ref_trailing(got.rows)


@settings(max_examples=1000, deadline=None)
@given(st.one_of(
    st.lists(st.sampled_from(list("0123456789+-.,eE:/T Z\tnaifNAIF")), max_size=30)
    .map("".join),
    st.text(max_size=12),
).map(lambda s: s.encode("utf-8")))
def test_a_typed_cell_is_what_the_regexes_say(text):
    assert _core.looks_typed(text) == ref_looks_typed(text)


@pytest.mark.parametrize("text", [
    b"2024-01-02", b"2024-1-2", b"1/2/2024", b"01.02.2024", b"2024-01-02T03:04",
    b"2024-01-02 03:04:05.123456789Z", b"2024-01-02 03:04:05.1234567890",
    b"2024-01-02T03:04+0530", b"2024-01-02T03:04-05:30", b"2024-01-02T03:04+05:",
    b" -1,5\t", b"1,", b",5", b"+inf", b"-Infinity", b"NaN", b"1.5e", b"12/2024",
    b"2024/01-02", "２０２４".encode(), b"",
])
def test_typed_cells_at_the_edges(text):
    assert _core.looks_typed(text) == ref_looks_typed(text)


@pytest.mark.parametrize("q", infer.QUOTES)
@pytest.mark.parametrize("head", [
    b'a,b\n"x,1\n' + b"y,2\n" * 4000,          # a quote that runs past the head
    b"a,b\n" + b'"x",1\n' * 3000 + b'"cut',      # rows, then one cut by the head's end
    b"a;b\r\n" + b"'1';2\r\n" * 600,           # more rows than sniffing reads
])
def test_long_heads_score_as_the_python_rule(head, q):
    for final in (False, True):
        got = asdict(infer._read_candidate(head, final, ",", q))
        want = ref_read_candidate(head, final, ",", q, 0)
        assert {k: got[k] for k in want} == want


def ref_rows_text(buf: bytes, starts: list[int], ends: list[int]) -> bytes:
    """infer._sample_bytes's rows before rows_text: runs of adjacent rows sliced once."""
    parts, i, n = [], 0, len(starts)
    while i < n:
        j = i
        while j + 1 < n and starts[j + 1] == ends[j]:
            j += 1
        raw = buf[starts[i] : ends[j]]
        parts.append(raw if raw.endswith((b"\n", b"\r")) else raw + b"\n")
        i = j + 1
    return b"".join(parts)


@settings(max_examples=300, deadline=None)
@given(buf=st.lists(st.sampled_from([b"a", b",", b"\n", b"\r", b"\r\n", b"1"]), max_size=40)
       .map(b"".join), cuts=st.lists(st.integers(0, 40), max_size=12))
def test_the_sample_text_is_its_rows_joined(buf, cuts):
    cuts = sorted(min(c, len(buf)) for c in cuts)
    starts, ends = cuts[0::2], cuts[1::2]
    starts = starts[: len(ends)]
    got = _core.rows_text(b"h\n", [(buf, starts, ends)])
    assert got == b"h\n" + ref_rows_text(buf, starts, ends)
    # rows that follow each other, as the sample's head has them, and several pieces
    rows = _core.row_shapes(buf, 0, True, ord(","), ord('"'), 1000)
    starts, ends = [s for s, _, _, _ in rows], [e for _, e, _, _ in rows]
    pieces = [(buf, starts, ends), (bytearray(buf), starts[1:], ends[1:])]
    want = b"".join(ref_rows_text(*p) for p in pieces)
    assert _core.rows_text(b"", pieces) == want


@pytest.mark.parametrize("size", [infer.SAMPLE_BYTES, infer.SAMPLE_BYTES + 1, 9_000_003])
def test_a_file_is_sampled_as_its_bytes_are(tmp_path, size):
    # a regular file is read with plain reads, a buffer through a view: the same pieces
    data = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    path = tmp_path / "f.csv"
    path.write_bytes(data)
    assert asdict(infer._read_raw(path)) == asdict(infer._raw_from_buffer(data))


def ref_choose_structure(buf: bytes, final: bool, delimiter, quote, extra: int = 0):
    """infer._choose_structure as it was before a delimiter or a quote absent from the
    head was read once: every candidate read (only a head without any quote character
    shared one reading per delimiter)."""
    sbuf = buf[: infer.SNIFF_BYTES]
    sfinal = final and len(buf) <= infer.SNIFF_BYTES
    ds = (delimiter,) if delimiter is not None else infer.DELIMITERS
    qs = (quote,) if quote is not ... else infer.QUOTES
    best = None
    marks = {((extra >> 8) & 0xFF) - 1, ((extra >> 16) & 0xFF) - 1}
    for d in ds:
        mine = None
        if ord(d) in marks and delimiter is None:
            continue
        for q in qs:
            if q is not None and (q == d or ord(q) in marks):
                continue
            if q is None and extra & infer.SYN_LENIENT:
                continue
            r = infer._read_candidate(sbuf, sfinal, d, q, extra)
            if mine is None or r.quote_key() > mine.quote_key():
                mine = r
        if mine is not None and (best is None or mine.key() > best.key()):
            best = mine
    return best


def _facts(r) -> dict:
    got = {k: v for k, v in asdict(r).items() if k not in ("_rows", "source")}
    return got | {"rows": r.first_rows(infer._HEADER_ROWS)}


@pytest.mark.parametrize("extra", list(EXTRAS), ids=list(EXTRAS))
@settings(max_examples=300, deadline=None)
@given(buf=heads, final=st.booleans(),
       d=st.sampled_from((None, *infer.DELIMITERS)), q=st.sampled_from((..., *infer.QUOTES)))
def test_the_chosen_reading_is_every_candidate_s_best(extra, buf, final, d, q):
    # delimiters and quotes absent from the head are read once: the reading chosen (its
    # delimiter, quote, every count and its rows) is the one reading every candidate gives
    bits = EXTRAS[extra]
    want = ref_choose_structure(buf, final, d, q, bits)
    got = infer._choose_structure(buf, final, d, q, bits)
    if want is None:
        assert got.delimiter == (d or infer.DELIMITERS[0]) and got._rows == []
        return
    assert _facts(got) == _facts(want)


@pytest.mark.parametrize("head", [
    b"a;b\r\n" + b"'1';'x;y'\r\n" * 50,          # single quotes, no double quote
    b'a,b\n' + b'"1","x,y"\n' * 50,              # double quotes, no single quote
    b"a\tb\n" + b"'it''s'\t2\n" * 30 + b'"q"\t3\n',  # tabs; both quotes, one reads it
    b"a|b\n" + b"1|x\n" * 40,                    # only the last delimiter, no quote
    b"one column\n" + b"'v'\n" * 20,             # no delimiter at all
])
@pytest.mark.parametrize("extra", list(EXTRAS), ids=list(EXTRAS))
def test_chosen_reading_on_files_one_quote_or_delimiter_reads(head, extra):
    for final in (True, False):
        want = ref_choose_structure(head, final, None, ..., EXTRAS[extra])
        assert _facts(infer._choose_structure(head, final, None, ..., EXTRAS[extra])) == _facts(
            want
        )


# -- header detection: the first row's texts typed once, the values with a name skipped ----
def ref_detect_header(rows: list[list[bytes]]) -> bool:
    """infer._detect_header as it was before: each first value classified where it is
    asked, and every typed column's values classified again with the first value added."""
    first = [f.decode("utf-8", errors="replace") for f in rows[0]]
    firstt = [f.strip(" \t") for f in first]
    body = rows[1 : infer._HEADER_ROWS]
    columns = []
    for j in range(len(firstt)):
        vals = _core.column_stats(dict.fromkeys((r[j] for r in body if j < len(r)), 1), {})[2]
        columns.append([v for v in vals if v not in infer._NULL_SET] or vals)
    sp, _ = infer.sniff_spelling([[v for v in c if v not in infer._NULL_SET] for c in columns])

    def name_typed(t):
        return not (len(t) == 1 and t.isalpha()) and infer._classify([t], sp) is not None

    names_like = all(firstt) and len(set(first)) == len(first) and not any(map(name_typed, firstt))
    if not body:
        return names_like
    header = data = 0
    for head, vals in zip(firstt, columns, strict=True):
        if not head:
            continue
        boolish = infer._bool_vote(head, vals)
        if boolish is not None:
            header, data = header + boolish, data + (not boolish)
            continue
        spec = infer._classify(vals, sp)
        if spec is not None:
            norm = infer.normalize_number(head, sp) or ""
            if spec["type"] in infer.INT_TYPES and infer._INT_RE.match(norm):
                data += 1
            elif infer._classify(vals + [head], sp) == spec or (
                spec["type"] == "float64" and infer._is_float(norm)
            ):
                data += 1
            else:
                header += 1
        elif (alone := infer._classify([head], sp)) is not None and alone["type"] != "bool":
            data += 1
    return header > data if header != data else names_like


HEADS = ["id", "c0", "x", "T", "n", "007", "nan", "inf", "-inf", "1e5", "12", "-3", "2.5",
         "1,5", "1.234,5", "true", "no", "1", "0", "2024-01-02", "02/01/2024", "May 5 2024",
         "2024-01-02 10:20:30", "1/2/2024 3:04 PM", "", " a ", "NA", "é", "99999999999999999999"]
KINDS = [
    ["1", "-7", "300", "007"], ["1", "22", "-3"], ["2.5", "-1e3", "nan", "inf"], ["0.25", "1.5"],
    ["1,5", "2,25"], ["1.234,5", "2.000,25"], ["true", "false"], ["t", "f"], ["y", "n"],
    ["0", "1"], ["2024-01-02", "2023-12-31"], ["02/01/2024", "13/01/2024"],
    ["May 5 2024", "June 7 2023"], ["2024-01-02 10:20:30", "2023-02-03T04:05"],
    ["1/2/2024 3:04 PM", "2/3/2024 11:59 AM"], ["abc", "de f"], ["", "NA"], ["x", "1"],
]


@settings(max_examples=400, deadline=None)
@given(heads=st.lists(st.sampled_from(HEADS), min_size=1, max_size=6),
       kinds=st.lists(st.sampled_from(range(len(KINDS))), min_size=6, max_size=6),
       picks=st.lists(st.integers(0, 3), min_size=0, max_size=40))
def test_header_detection_is_the_rule_it_was(heads, kinds, picks):
    width = len(heads)
    body = [[KINDS[kinds[j]][(p + j) % len(KINDS[kinds[j]])] for j in range(width)]
            for p in picks]
    rows = [[h.encode() for h in heads]] + [[v.encode() for v in r] for r in body]
    assert infer._detect_header(rows) == ref_detect_header(rows)


@settings(max_examples=150, deadline=None)
@given(heads=st.lists(st.sampled_from(HEADS), min_size=7, max_size=40),
       kinds=st.lists(st.sampled_from(range(len(KINDS))), min_size=40, max_size=40),
       picks=st.lists(st.integers(0, 3), min_size=1, max_size=30),
       cut=st.lists(st.integers(0, 45), max_size=30))
def test_header_detection_of_wide_and_ragged_heads_is_the_rule_it_was(heads, kinds, picks, cut):
    # many columns (the vote stops once the columns left cannot change it), rows cut
    # short or longer than the first (their missing columns are passed over)
    width = len(heads)
    body = [[KINDS[kinds[j % 40]][(p + j) % len(KINDS[kinds[j % 40]])] for j in range(width + 3)]
            for p in picks]
    body = [r[: cut[i]] if i < len(cut) and cut[i] else r[:width] for i, r in enumerate(body)]
    rows = [[h.encode() for h in heads]] + [[v.encode() for v in r] for r in body if r]
    assert infer._detect_header(rows) == ref_detect_header(rows)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from([b",", b";", b"|", b"\t", b" ", b"  ", b'"', b"'", b"a", b"\n"]),
                max_size=60),
       st.integers(0, 3000))
def test_initial_space_sign_is_the_regex(parts, spaces_before):
    # the sign skip_initial_space is sniffed on: a quote after spaces after a delimiter,
    # as Python's re finds it; also past the bound of looked-up spaces (the regex answers)
    head = b"".join(parts)
    want = re.search(rb"[,;|\t] +[\"']", head) is not None
    assert infer._initial_spaces(head) is want
    long = b'x "' * spaces_before + head
    assert infer._initial_spaces(long) is (re.search(rb"[,;|\t] +[\"']", long) is not None)
