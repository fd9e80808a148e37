"""The pandas drop-in's compiled helpers (_pdframe.pxi) against numpy formulations of
the same questions, on random bytes (hypothesis): the scans must find exactly what
the whole-file numpy passes they replace found."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from fastetl import _core

# bytes that matter to the scans, and filler
_BYTES = st.sampled_from(list(b'ab,;"\r\n \tx0'))
_SIDES = st.lists(st.sampled_from(list(b',;"\r\n\t x')), min_size=1, max_size=8, unique=True)


def _blank_beside_numpy(raw: bytes, side: bytes) -> bool:
    table = np.zeros(256, bool)
    table[list(side)] = True
    w = np.frombuffer(raw, np.uint8)
    pos = np.flatnonzero((w == 32) | (w == 9))
    if not len(pos):
        return False
    if pos[0] == 0 or pos[-1] == len(w) - 1:
        return True
    return bool(table[w[pos - 1]].any() or table[w[pos + 1]].any())


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.tuples(_BYTES, st.integers(0, 70)), max_size=12),
    _SIDES,
)
def test_blank_beside_is_numpys_answer(pieces, side):
    # runs of filler between the bytes that matter: windows of 64 bytes are crossed
    raw = b"".join(b"a" * gap + bytes([c]) for c, gap in pieces)
    side = bytes(side)
    assert _core.blank_beside(raw, side) == _blank_beside_numpy(raw, side)


def test_blank_beside_across_window_edges():
    for at in (62, 63, 64, 65, 127, 128):
        for left, right in ((b" ", b","), (b",", b" ")):
            raw = b"a" * at + left + right + b"a" * 70
            assert _core.blank_beside(raw, b",") is True
            assert _blank_beside_numpy(raw, b",") is True
        raw = b"a" * at + b" a," + b"a" * 70
        assert _core.blank_beside(raw, b",") is False
    assert _core.blank_beside(b"", b",") is False
    assert _core.blank_beside(memoryview(b"x \t"), b"\r\n") is True  # a blank at the end


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.text(max_size=6), max_size=8),
    st.lists(st.tuples(st.integers(0, 7), st.booleans()), max_size=60),
    st.sampled_from([np.uint8, np.uint16, np.uint32, np.uint64]),
)
def test_codes_arrow_is_arrows_take(values, rows, code_type):
    import pyarrow as pa

    if not values:
        rows = [(0, True) for _ in rows]  # (only nulls point past an empty dictionary)
    codes = np.array([c % max(1, len(values)) for c, _ in rows], dtype=code_type)
    nulls = np.array([null for _, null in rows], dtype=bool)
    dictionary = pa.array(values, type=pa.large_string())
    _, off, data = dictionary.buffers()
    offsets = np.frombuffer(off, np.int64)[: len(values) + 1]
    data = np.zeros(0, np.uint8) if data is None else np.frombuffer(data, np.uint8)
    out = np.empty(len(codes) + 1, np.int64)
    got = _core.codes_arrow(offsets, data, codes, nulls, out)
    strings = pa.LargeStringArray.from_buffers(
        len(codes), pa.py_buffer(out), pa.py_buffer(got),
        pa.py_buffer(np.packbits(~nulls, bitorder="little")), int(nulls.sum()),
    )
    want = dictionary.take(pa.array(codes.astype(np.int64), mask=nulls))
    assert strings.to_pylist() == want.to_pylist()


def test_codes_arrow_refuses_a_code_past_the_dictionary():
    import pytest

    offsets = np.array([0, 1], np.int64)
    with pytest.raises(ValueError, match="past the dictionary"):
        _core.codes_arrow(offsets, np.frombuffer(b"a", np.uint8), np.array([0, 1], np.uint8),
                          None, np.empty(3, np.int64))


def test_codes_arrow_refuses_strided_nulls_and_a_dictionary_that_does_not_hold():
    import pytest

    one = (np.array([0, 1], np.int64), np.frombuffer(b"a", np.uint8))
    codes = np.zeros(4, np.uint8)
    for nulls in (np.array([[True, False]] * 4)[:, 1], np.zeros(4, bool)[::-1]):
        with pytest.raises(ValueError, match="contiguous"):  # was read as nul[i]: wrong / OOB
            _core.codes_arrow(*one, codes, nulls, np.empty(5, np.int64))
    data = np.frombuffer(b"abc", np.uint8)
    for offsets, match in (
        (np.empty(0, np.int64), "dict_offsets is empty"),  # ndict -1: every code "in range"
        (np.array([0, 2, 1], np.int64), "decreases"),
        (np.array([-1, 1], np.int64), "negative"),
        (np.array([0, 1, 4], np.int64), "past dict_data"),
    ):
        with pytest.raises(ValueError, match=match):
            _core.codes_arrow(offsets, data, np.array([5, 200, 0], np.uint8), None,
                              np.empty(4, np.int64))


def test_a_big_file_read_by_blocks_on_two_threads_is_pandas_frame(tmp_path, monkeypatch):
    """Above SMALL_INPUT the drop-in reads on every core, block by block, into column
    chunks (ColumnWriter), letting go of the file's pages as it goes: the frame is still
    pandas' own, nulls, free text, a word column and floats included."""
    import pandas

    import fastetl
    import fastetl.pandas as fpd
    from fastetl.dropin import pandas as dropin

    monkeypatch.setattr(dropin, "RELEASE_BYTES", 1 << 20)  # (let go many times here)
    rng = np.random.default_rng(7)
    n = 90_000
    words = np.array(["north", "south", "east", "west"])
    lines = ["id,qty,price,region,note"]
    for i in range(n):
        # (qty's first NA after pandas' sample rows: fastetl reads int64 with null bits)
        qty = "" if i > 1000 and i % 97 == 0 else str(int(rng.integers(-500, 5000)))
        note = "" if i % 89 == 0 else f'"item {i}, lot ""{i % 977}"" é"'
        region = "" if i % 101 == 0 else words[i % 4]
        lines.append(f"{i},{qty},{rng.random() * 1000:.2f},{region},{note}")
    path = tmp_path / "big.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert path.stat().st_size >= dropin.SMALL_INPUT
    fastetl.set_fallback("error")
    try:
        got = fpd.read_csv(path)
    finally:
        fastetl.set_fallback(None)
    pandas.testing.assert_frame_equal(got, pandas.read_csv(path), check_exact=True)


# (null markers are at most 64 bytes: a 64-byte one takes the parser's long-marker path)
_MARKS = ["", "NA", "N/A", "nan", "1.#IND", "-1.#QNAN", "n/a", "1", "NaN7", "x" * 63, "x" * 64,
          "NULL", "null", "na", "#N/A N/A"]
_WORDS = st.sampled_from(_MARKS + ["y" * 70, "x" * 65, "NaN", "1.5"])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(_MARKS), min_size=1, max_size=6, unique=True),
       st.lists(_WORDS, min_size=1, max_size=30))
def test_null_markers_are_exactly_the_listed_values(markers, values):
    """The parser's quick rejects (length, first and last byte) never miss a listed null
    marker nor take another value for one: the null mask is Python's ``in``."""
    import fastetl
    from fastetl.schema import Column, Dialect, Schema

    text = "v\n" + "".join(f'"{v}"\n' for v in values)
    schema = Schema(
        columns=(Column("v", "text", nullable=True),),
        dialect=Dialect(delimiter=",", quote='"', header=True, null_values=tuple(markers)),
    )
    t = fastetl.read_csv(text.encode(), schema)
    assert t.null_mask("v").tolist() == [v in markers for v in values]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.text(st.sampled_from("0123456789+- aé\u20ac"), max_size=24), max_size=30),
    st.integers(0, 25),
    st.sampled_from([b"", b"0123456789+- ", b"a"]),
    st.booleans(),
)
def test_text_arrow_is_the_values_and_the_count_python_finds(values, long_len, lead, strided):
    # each value's bytes placed in a text buffer in shuffled order, referenced by
    # (offset, length) records like the parser's (strided: fields of wider records)
    import random

    from fastetl.schema import TEXT_REF

    encoded = [v.encode() for v in values]
    order = list(range(len(encoded)))
    random.Random(len(values)).shuffle(order)
    text, where = b"", {}
    for k in order:
        where[k] = len(text)
        text += b"#" + encoded[k]
        where[k] += 1
    if strided:
        recs = np.zeros(len(values), [("x", "u1"), ("ref", TEXT_REF)])
        refs = recs["ref"]
    else:
        refs = np.zeros(len(values), TEXT_REF)
    refs["offset"] = [where[k] for k in range(len(values))]
    refs["length"] = [len(e) for e in encoded]
    out = np.empty(len(values) + 1, np.int64)
    data, bad, past, longs = _core.text_arrow(
        np.frombuffer(text, np.uint8), refs["offset"], refs["length"], out, long_len, lead
    )
    assert (bad, past) == (-1, -1)
    assert bytes(data) == b"".join(encoded)
    assert out.tolist() == np.cumsum([0] + [len(e) for e in encoded]).tolist()
    assert longs == sum(1 for e in encoded if e and len(e) >= long_len and e[0] in lead)
    # without the UTF-8 check (text the parser checked): the same values and count
    out2 = np.empty(len(values) + 1, np.int64)
    got = _core.text_arrow(
        np.frombuffer(text, np.uint8), refs["offset"], refs["length"], out2, long_len, lead, False
    )
    assert (bytes(got[0]), got[1:]) == (bytes(data), (-1, -1, longs))
    assert out2.tolist() == out.tolist()
    if values and len(text):  # one reference past the end of the text: found, nothing copied
        refs["length"][-1] = len(text) - refs["offset"][-1] + 1
        got = _core.text_arrow(
            np.frombuffer(text, np.uint8), refs["offset"], refs["length"], out, long_len, lead
        )
        assert got[0] is None and got[2] == len(values) - 1


def test_text_arrow_utf8_check_finds_the_first_bad_value_and_can_be_left_out():
    # Python's decoder is the reference for which values are UTF-8
    values = [b"ok", "\u00e9t\u00e9".encode(), b"\xe9t\xe9", b"\xed\xa0\x80", b"fine"]
    # (a value is UTF-8 when Python's decoder gives it back unchanged, nothing replaced)
    want_bad = next(i for i, v in enumerate(values) if v.decode("utf-8", "replace").encode() != v)
    text = b"".join(values)
    at = np.cumsum([0] + [len(v) for v in values])
    from fastetl.schema import TEXT_REF

    refs = np.zeros(len(values), TEXT_REF)
    refs["offset"], refs["length"] = at[:-1], [len(v) for v in values]
    for check, bad in ((True, want_bad), (False, -1)):
        out = np.empty(len(values) + 1, np.int64)
        data, got_bad, past, _ = _core.text_arrow(
            np.frombuffer(text, np.uint8), refs["offset"], refs["length"], out, 0, b"", check
        )
        assert (bytes(data), got_bad, past) == (text, bad, -1)
