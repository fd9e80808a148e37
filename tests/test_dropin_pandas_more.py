"""fastetl.pandas.read_csv against the installed pandas.read_csv: the options moved
onto fastetl's own path for pandas' own parser tests (float_precision with number
marks, chunksize/iterator, ...).  Same rules as tests/test_dropin_pandas.py: every
frame is compared with assert_frame_equal(check_exact=True), or the same exception
class where pandas refuses."""

from __future__ import annotations

import warnings

import pandas
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastetl
import fastetl.pandas as fpd
from fastetl.dropin.fallback import FallbackError

from test_dropin_pandas import _policy, own, same, write  # noqa: F401 - _policy: autouse

_PRECISIONS = [None, "high", "round_trip", "legacy"]


@st.composite
def _marked_numbers(draw):
    """A column of short numbers spelled with decimal="," (and maybe thousands="_")."""
    thousands = draw(st.sampled_from([None, "_"]))
    values = []
    for _ in range(draw(st.integers(1, 12))):
        whole = draw(st.integers(0, 10**6))
        text = f"{whole:_}" if thousands and draw(st.booleans()) else str(whole)
        if draw(st.booleans()):
            text += "," + draw(st.text("0123456789", min_size=0, max_size=6))
        if draw(st.booleans()):
            text += "e" + draw(st.sampled_from(["", "-", "+"])) + draw(st.sampled_from("0124"))
        values.append(draw(st.sampled_from(["", "-"])) + text)
    return thousands, values


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(case=_marked_numbers(), precision=st.sampled_from(_PRECISIONS))
def test_short_floats_with_marks_differential(tmp_path_factory, case, precision):
    """Short numbers with decimal/thousands marks, every float_precision: pandas' frame
    and warnings (its float_precision deprecation); on fastetl's own path where the
    check proves pandas' rounding exact, else after a fallback."""
    thousands, values = case
    p = write(tmp_path_factory.mktemp("m"), "a|b\n" + "".join(f"{v}|1\n" for v in values))
    fastetl.set_fallback("silent")
    same(p, sep="|", decimal=",", thousands=thousands, float_precision=precision)


@pytest.mark.parametrize("precision", _PRECISIONS)
def test_short_floats_with_marks_on_own_path(tmp_path, precision):
    p = write(tmp_path, "a|b\n1_234,5|2\n-0,25|3\n7,|4\n,5e1|5\n12,25e-0|6\n")
    df = own(p, sep="|", decimal=",", thousands="_", float_precision=precision)
    assert df["a"].dtype == "float64"


def test_legacy_scaling_twice_falls_back(tmp_path):
    """legacy divides 1,234 by 10 and then by 100 (two roundings): pandas answers."""
    p = write(tmp_path, "a\n1.234\n0.3\n")
    fastetl.set_fallback("error")
    with pytest.raises(FallbackError, match="legacy"):
        fpd.read_csv(p, float_precision="legacy")
    fastetl.set_fallback("silent")
    same(p, float_precision="legacy")
