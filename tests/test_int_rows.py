"""Rows of int64 columns only: the parser's short loop (no dispatch per field).

A row whose every looked-at column is a non-nullable int64 is read field after field
without the per-field switch; any field it cannot take (quoted with a doubled quote, a
blank, a bad value, out of range) sends the row through the general loop, which says
what is wrong.  Python's ``int`` and ``csv`` are the reference; the same input with the
fast paths off must give the same records or the same error.
"""

from __future__ import annotations

import csv
import io
import random

import numpy as np
import pytest

import fastetl
from fastetl import Schema, _core
from fastetl.errors import ParseError

NAMES = ["a", "b", "c", "d"]


def schema(types=("int64",) * 4) -> Schema:
    return Schema.from_dict({"columns": [{"name": n, "type": t} for n, t in zip(NAMES, types)]})


def read(text: str, sch: Schema, fast: bool = True):
    was = _core.set_fast_paths(fast)
    try:
        return fastetl.read_csv(text.encode(), sch, workers=1)
    except ParseError as e:
        return str(e)
    finally:
        _core.set_fast_paths(was)


def _field(rng: random.Random) -> str:
    v = rng.choice([rng.randint(-10**18, 10**18), rng.randint(-999, 999), 2**63 - 1, -2**63])
    return rng.choice([str(v), f'"{v}"', f"+{v}" if v >= 0 else str(v)])


def test_int64_rows_are_pythons_and_alike_both_ways():
    rng = random.Random(11)
    lines = [",".join(_field(rng) for _ in NAMES) for _ in range(5000)]
    text = "a,b,c,d\n" + "\n".join(lines) + "\n"
    got = read(text, schema())
    want = [[int(x) for x in row] for row in csv.reader(io.StringIO("\n".join(lines)))]
    for k, n in enumerate(NAMES):
        np.testing.assert_array_equal(got[n], np.array([w[k] for w in want], np.int64))
    slow = read(text, schema(), fast=False)
    for n in NAMES:
        np.testing.assert_array_equal(got[n], slow[n])


@pytest.mark.parametrize("bad", ['"1""2"', "", " 7", "1.5", "x", str(2**63), "--1", '"12"x'])
@pytest.mark.parametrize("where", [0, 3])
def test_a_field_the_short_loop_cannot_take_gives_the_general_loops_answer(bad, where):
    """The same error (line, column, value) or value as with the fast paths off, and an
    error exactly where Python's int() refuses the field's text."""
    row = ["1", "2", "3", "4"]
    row[where] = bad
    text = "a,b,c,d\n5,6,7,8\n" + ",".join(row) + "\n9,10,11,12\n"
    fast, slow = read(text, schema()), read(text, schema(), fast=False)
    if isinstance(slow, str):
        assert fast == slow
        value = next(csv.reader([",".join(row)]))[where]
        with pytest.raises(ValueError):
            if value != value.strip() or not value:
                raise ValueError(value)  # (blanks and the empty text: not an int64 here)
            if not -2**63 <= int(value) < 2**63:
                raise ValueError(value)
    else:
        for n in NAMES:
            np.testing.assert_array_equal(fast[n], slow[n])
        assert fast[NAMES[where]][1] == int(next(csv.reader([",".join(row)]))[where])


def test_nullable_and_mixed_columns_take_the_general_loop():
    """A nullable int64 (a blank is a null) or another type among them: as before."""
    sch = Schema.from_dict({"columns": [{"name": "a", "type": "int64", "nullable": True},
                                        {"name": "b", "type": "int64"},
                                        {"name": "c", "type": "int32"},
                                        {"name": "d", "type": "int64"}]})
    text = "a,b,c,d\n,2,3,4\n5,6,7,8\n"
    fast, slow = read(text, sch), read(text, sch, fast=False)
    assert not isinstance(fast, str)
    for n in NAMES:
        np.testing.assert_array_equal(np.asarray(fast[n], dtype=object),
                                      np.asarray(slow[n], dtype=object))
    assert list(fast["b"]) == [2, 6]
