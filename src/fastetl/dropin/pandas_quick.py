"""Helpers of ``fastetl.pandas.read_csv``'s quick guess on small inputs (``_quick_columns``
in :mod:`.pandas`): what it looks at in the input's bytes, at a cost that is small beside
pandas' own read of a 100 KB file (about a millisecond): one pass in C over the bytes,
then Python only where a candidate was found."""

from __future__ import annotations

import re

# digit -> '1'; the point and exponent marks kept ('.', 'e'); any other byte -> '0'
_DIGIT_CLASSES = bytes(
    49 if 48 <= i <= 57 else i if i in b".e" else 101 if i == 69 else 48 for i in range(256)
)
_RUN = b"1" * 19
_NOT_DIGIT = re.compile(rb"[^1]")
_POINT_OR_EXPONENT = (46, 101)  # '.', 'e' after the translation


def integer_run(data: bytes) -> bool:
    """Whether ``data`` holds a run of 19 digits or more that is not the fraction or the
    exponent of a number, nor followed by a point or an exponent: what may be an integer
    pandas types its own way (a false alarm costs only the quick guess).

    One translation and ``bytes.find`` in C; each run of 19 digits found (a float's long
    fraction, most often) is looked at on its two edges only."""
    cls = data.translate(_DIGIT_CLASSES)
    n = len(cls)
    at = cls.find(_RUN)
    while at >= 0:
        # ``at`` starts a run of digits: the search starts at 0 or just after a byte that
        # is not a digit, and finds the first 19 digits in a row past it
        end = _NOT_DIGIT.search(cls, at + 19)
        stop = end.start() if end is not None else n
        if (at == 0 or cls[at - 1] not in _POINT_OR_EXPONENT) and (
            stop == n or cls[stop] not in _POINT_OR_EXPONENT
        ):
            return True
        at = cls.find(_RUN, stop)
    return False
