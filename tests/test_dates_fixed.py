"""Dates and timestamps read at fixed positions (the core's word checks, _dates.pxi).

``YYYY-MM-DD`` and ``YYYY-MM-DD HH:MM:SS`` (or ``T``) are checked and read in whole words,
and their day numbers computed without a branch on the month; every other text takes the
byte-by-byte reader.  Python's ``datetime`` is the reference: every valid date gives its
value, every invalid one (Feb 29 of a common year, day 31 of a 30-day month, month 00 or
13, day 00, year 0000, 24:00:00) is an error, with the fast paths on and off.
"""

from __future__ import annotations

import datetime as dt
import random
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastetl
from fastetl import Schema, _core
from fastetl.errors import ParseError

EPOCH = dt.datetime(1970, 1, 1)
DATE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
DATETIME = DATE + r"[ T][0-9]{2}:[0-9]{2}:[0-9]{2}"


@pytest.fixture(params=[True, False], ids=["fast", "portable"])
def fast_paths(request):
    was = _core.set_fast_paths(request.param)
    yield request.param
    _core.set_fast_paths(was)


def read(texts: list[str], typ: str) -> np.ndarray:
    schema = Schema.from_dict({"columns": [{"name": "x", "type": typ}]})
    data = ("x\n" + "\n".join(texts) + "\n").encode()
    return fastetl.read_csv(data, schema, workers=1)["x"]


def python_value(text: str, typ: str):
    """What Python makes of the text: days or seconds since 1970, or None (invalid)."""
    # (the forms the core reads; Python 3.11's fromisoformat also takes YYYYMMDD and more)
    if not re.fullmatch(DATE if typ == "date" else DATETIME, text):
        return None
    try:
        if typ == "date":
            return (dt.date.fromisoformat(text) - EPOCH.date()).days
        return int((dt.datetime.fromisoformat(text) - EPOCH).total_seconds())
    except ValueError:
        return None


def _random_date_texts(rng: random.Random, n: int) -> list[str]:
    """Dates over the whole range, leap years and month ends over-weighted."""
    out = []
    for _ in range(n):
        y = rng.choice([rng.randint(1, 9999), rng.choice([1, 4, 100, 400, 1900, 2000, 2024,
                                                          2100, 9999])])
        m = rng.randint(1, 12)
        d = rng.choice([rng.randint(1, 28), 28, 29, 30, 31])
        out.append(f"{y:04d}-{m:02d}-{d:02d}")
    return out


def test_every_valid_date_of_many_years_is_pythons(fast_paths):
    """Each day of 1899-2101 and of a few far years: the day numbers Python counts."""
    days = []
    for y0, y1 in ((1, 3), (1899, 2102), (2396, 2404), (9998, 10000)):
        first = dt.date(y0, 1, 1).toordinal()
        last = dt.date(y1, 1, 1).toordinal() if y1 <= 9999 else dt.date.max.toordinal()
        days += [dt.date.fromordinal(k) for k in range(first, last + 1)]
    texts = [d.isoformat() for d in days]
    got = read(texts, "date").astype("datetime64[D]").astype(np.int64)
    want = np.array([(d - EPOCH.date()).days for d in days], np.int64)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("typ", ["date", "datetime"])
def test_random_dates_and_invalid_ones_as_python_says(fast_paths, typ):
    rng = random.Random(5 if typ == "date" else 6)
    texts = _random_date_texts(rng, 3000)
    if typ == "datetime":
        texts = [t + rng.choice(" T") + f"{rng.choice([rng.randint(0, 23), 23, 24]):02d}:"
                 f"{rng.choice([rng.randint(0, 59), 59, 60]):02d}:"
                 f"{rng.choice([rng.randint(0, 59), 59, 60]):02d}" for t in texts]
    want = [python_value(t, typ) for t in texts]
    good = [t for t, w in zip(texts, want) if w is not None]
    unit = "datetime64[D]" if typ == "date" else "datetime64[s]"
    got = read(good, typ).astype(unit).astype(np.int64)
    np.testing.assert_array_equal(got, np.array([w for w in want if w is not None], np.int64))
    bad = [t for t, w in zip(texts, want) if w is None]
    assert len(bad) > 50  # (the draw makes many)
    for t in bad[:80]:
        with pytest.raises(ParseError):
            read([t], typ)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789-: T/", min_size=8, max_size=21))
def test_any_short_text_of_date_bytes(text):
    """Any text of digits and separators: the value Python gives, or an error when
    Python has none (the word checks never take a text the byte reader refuses)."""
    for typ in ("date", "datetime"):
        want = python_value(text, typ)
        strict = len(text) == (10 if typ == "date" else 19)
        if want is None:
            if strict:  # (other lengths: the byte reader's other forms, tested elsewhere)
                with pytest.raises(ParseError):
                    read([text], typ)
            continue
        unit = "datetime64[D]" if typ == "date" else "datetime64[s]"
        assert read([text], typ).astype(unit).astype(np.int64)[0] == want
