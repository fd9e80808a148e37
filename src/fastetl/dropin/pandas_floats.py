"""pandas' own float rounding, for ``fastetl.pandas.read_csv``.

pandas' C parser (pandas 3) reads a number without a thousands separator correctly
rounded, as fastetl does.  With a ``thousands`` mark it uses its own converter, ``precise_xstrtod``: the first 17 significant digits as an integer, made a
double once, then multiplied or divided by the double nearest a power of ten -- two
roundings, so not always the nearest double (``8.094464919385088e+44`` with
``thousands=","`` is ``...087e+44``).  :func:`xstrtod` is that converter, value for
value; :func:`rounding` checks once per set of options, on numbers where the roundings
part, which of the two the installed pandas applies (neither: the drop-in falls back
for such numbers).
"""

from __future__ import annotations

import functools
import io
import re
import warnings

_TEN = [float(f"1e{k}") for k in range(309)]  # the doubles nearest 10**k (C's literals)
_SPACE = " \t\n\v\f\r"  # C's isspace in the "C" locale

# numbers on which correct rounding, precise_xstrtod and a per-digit scaling part
_PROBES = (
    "2013018463911958.032506e-115",
    "+30593.e273",
    "+56548861.9631e-306",
    "8.094464919385088e+44",
    "0.12345678901234567890",
    "90071992547409931.0",
    "0.0000000000000000000000005",
    "1.234",
)


@functools.lru_cache(maxsize=None)
def _pattern(decimal: str, thousands: str | None) -> re.Pattern[str]:
    t = re.escape(thousands) + "?" if thousands else ""
    return re.compile(
        rf"[{_SPACE}]*([+-]?)((?:[0-9]{t})*)(?:{re.escape(decimal)}([0-9]*))?"
        rf"(?:[eE]([+-]?[0-9]+))?[{_SPACE}]*"
    )


def xstrtod(text: str, decimal: str = ".", thousands: str | None = None) -> float | None:
    """pandas' ``precise_xstrtod`` of ``text`` (a whole field), or None where it is not
    a number to that converter."""
    m = _pattern(decimal, thousands).fullmatch(text)
    if m is None:
        return None
    sign, whole, frac, exp_text = m.groups()
    if thousands:
        whole = whole.replace(thousands, "")
    frac = frac or ""
    if not whole and not frac:
        return None
    digits = 0
    mantissa = 0
    exponent = 0
    for ch in whole.lstrip("0"):  # (leading zeros are not significant digits)
        if digits < 17:
            mantissa = mantissa * 10 + ord(ch) - 48
            digits += 1
        else:
            exponent += 1
    if digits == 0:
        zeros = len(frac) - len(frac.lstrip("0"))
        frac = frac[zeros:]
        exponent -= zeros
    taken = frac[: 17 - digits]
    if taken:
        mantissa = mantissa * 10 ** len(taken) + int(taken)
    exponent -= len(taken)
    number = float(mantissa)
    if sign == "-":
        number = -number
    if exp_text:
        exponent += int(exp_text)
    if exponent > 308:
        return number * 0.0 if number == 0 else (float("inf") if number > 0 else -float("inf"))
    if exponent > 0:
        return number * _TEN[exponent]
    if exponent < -308:
        if exponent < -616:
            return number * 0.0
        return number / _TEN[-308 - exponent] / _TEN[308]
    return number / _TEN[-exponent]


def _pandas_reads(precision: str | None, decimal: str, thousands: str | None) -> list[float]:
    import pandas

    from . import pandas as dropin  # (the original pandas.read_csv, never a patched one)

    text = "x\n" + "".join(f'"{p.replace(".", decimal)}"\n' for p in _PROBES)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (float_precision is deprecated in pandas 3)
        col = dropin._original(
            io.StringIO(text), float_precision=precision, decimal=decimal, thousands=thousands
        )["x"]
    return col.tolist() if col.dtype == "float64" else []


@functools.lru_cache(maxsize=None)
def rounding(precision: str | None, decimal: str = ".", thousands: str | None = None) -> str:
    """How the installed pandas rounds numbers with these marks under
    ``float_precision=precision``: ``"nearest"`` (as float() and fastetl), ``"xstrtod"``
    (as :func:`xstrtod`) or ``"other"``.  pandas 3.1 ignores float_precision: nearest
    without a thousands mark, xstrtod with one."""
    got = _pandas_reads(precision, decimal, thousands)
    if got == [float(p) for p in _PROBES]:
        return "nearest"
    if got == [xstrtod(p) for p in _PROBES]:
        return "xstrtod"
    return "other"
