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
