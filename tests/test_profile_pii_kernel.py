"""The compiled PII validators (``pii.classify_codes``, src/fastetl/_fold.pxi) against
the Python validators they stand for (``pii.classify``, ``pii.classify_int``; those are
checked against the textbook formulas in test_profile_pii.py): on valid values of
every kind, formatted and bare, on look-alikes made by changing, adding or dropping a
character, and on random strings of the characters PII formats use -- the same kind
for every value, in columns named for phones, CEPs or neither.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastetl.profiling import pii

NAMES = ("documento", "telefone", "cep_entrega", "celular_cep")
ALPHABET = "0123456789" * 3 + "@.-:/+() abcxyzABCXYZ_%" + "é٣"
OCTETS = (0, 1, 9, 10, 99, 100, 199, 200, 255, 256, 300)  # IPv4 parts, valid and not


def _check(d: list[int], weights: list[int], mod: int = 11) -> int:
    r = sum(v * w for v, w in zip(d, weights, strict=False)) % mod
    return 0 if r < 2 else 11 - r


def _cpf(rnd: random.Random) -> str:
    d = [rnd.randrange(10) for _ in range(9)]
    for n in (9, 10):
        d.append(_check(d, list(range(n + 1, 1, -1))))
    s = "".join(map(str, d))
    return rnd.choice([s, f"{s[:3]}.{s[3:6]}.{s[6:9]}-{s[9:]}"])


def _cnpj(rnd: random.Random) -> str:
    d = [rnd.randrange(10) for _ in range(12)]
    w = [5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2]
    d.append(_check(d, w))
    d.append(_check(d, [6, *w]))
    s = "".join(map(str, d))
    return rnd.choice([s, f"{s[:2]}.{s[2:5]}.{s[5:8]}/{s[8:12]}-{s[12:]}"])


def _card(rnd: random.Random) -> str:
    n = rnd.randint(13, 19)
    d = [rnd.randint(2, 6)] + [rnd.randrange(10) for _ in range(n - 2)]
    total = 0
    for i, v in enumerate(reversed(d)):  # the check digit goes last: these double
        v = v * 2 if i % 2 == 0 else v
        total += v - 9 if v > 9 else v
    d.append((10 - total % 10) % 10)
    s = "".join(map(str, d))
    if n == 16 and rnd.random() < 0.5:
        sep = rnd.choice(" -")
        s = sep.join(s[i : i + 4] for i in range(0, 16, 4))
    return s


def _phone(rnd: random.Random) -> str:
    ddd = rnd.choice(["11", "21", "31", "61", "99", "20", "10"])
    mobile = rnd.random() < 0.5
    num = ("9" if mobile else str(rnd.randint(2, 5))) + "".join(
        str(rnd.randrange(10)) for _ in range(8 if mobile else 7)
    )
    return rnd.choice(
        [
            f"({ddd}) {num[:-4]}-{num[-4:]}",
            f"+55 {ddd} {num}",
            f"55{ddd}{num}",
            f"{ddd}{num}",
            "+" + str(rnd.randint(1, 9)) + "".join(str(rnd.randrange(10)) for _ in range(9)),
        ]
    )


def _iban(rnd: random.Random) -> str:
    country, length = rnd.choice([("DE", 22), ("GB", 22), ("BR", 29), ("NO", 15), ("XK", 20)])
    body = "".join(rnd.choice("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(length - 4))
    moved = body + country + "00"
    check = 98 - int("".join(str(int(c, 36)) for c in moved)) % 97
    s = f"{country}{check:02d}{body}"
    return s if rnd.random() < 0.7 else " ".join(s[i : i + 4] for i in range(0, len(s), 4))


def _other(rnd: random.Random) -> str:
    return rnd.choice(
        [
            f"{rnd.choice(['ana', 'j.silva', 'x_y+z'])}@{rnd.choice(['exemplo', 'a-b', '-x'])}."
            f"{rnd.choice(['com', 'com.br', 'c0m', 'b'])}",
            ".".join(str(rnd.choice(OCTETS)) for _ in range(4)),
            f"{rnd.randrange(100000):05d}-{rnd.randrange(1000):03d}",
            f"{rnd.randrange(10**8):08d}",
            "00000-000",
            "00000000",
        ]
    )


MAKERS = (_cpf, _cnpj, _card, _phone, _iban, _other)


def _mutate(rnd: random.Random, s: str) -> str:
    i = rnd.randrange(len(s) + 1)
    how = rnd.randrange(3)
    c = rnd.choice(ALPHABET)
    if how == 0 and i < len(s):
        return s[:i] + c + s[i + 1 :]
    if how == 1:
        return s[:i] + c + s[i:]
    return s[:i] + s[i + 1 :]


def _values(seed: int, n: int) -> list[str]:
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        s = rnd.choice(MAKERS)(rnd)
        for _ in range(rnd.choice([0, 0, 1, 2])):
            s = _mutate(rnd, s)
        out.append(s)
    return out


def _same_as_python(texts: list[str], column: str) -> int:
    """Asserts every compiled code names classify's kind; returns how many kinds found."""
    enc = [t.encode("utf-8") for t in texts]
    arr = np.array(enc, dtype=f"S{max(1, max(len(e) for e in enc))}")
    codes = pii.classify_codes(arr, column)
    found = 0
    for b, code in zip(arr.tolist(), codes.tolist(), strict=True):
        s = b.decode("utf-8", "replace")
        want = pii.classify(s, column)
        if code == pii.ASK:  # left to Python: only IPv6-like and non-ASCII values
            assert ":" in s or not s.isascii(), s
            continue
        got = pii.KINDS[code - 1] if code else None
        assert got == want, (s, column, got, want)
        found += got is not None
    return found


@pytest.mark.parametrize("column", NAMES)
@pytest.mark.parametrize("seed", range(4))
def test_compiled_text_validators_match_python(seed: int, column: str) -> None:
    texts = _values(seed, 5000)
    assert _same_as_python(texts, column) > 1000  # the valid values were recognised


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(ALPHABET, max_size=40), min_size=1, max_size=30), st.sampled_from(NAMES))
def test_compiled_validators_on_random_strings(texts: list[str], column: str) -> None:
    _same_as_python(texts, column)


@pytest.mark.parametrize("column", NAMES)
def test_compiled_int_validators_match_python(column: str) -> None:
    rnd = random.Random(7)
    vals = set()
    for _ in range(4000):
        s = rnd.choice([_cpf, _cnpj, _card, _phone])(rnd)
        digits = "".join(c for c in s if c.isdigit())
        vals.add(int(digits[: rnd.choice([len(digits)] * 3 + [len(digits) - 1])] or "0"))
        vals.add(rnd.randrange(10**7, 10**19))
    vals.update([10**7, 10**19 - 1, 2**63 - 1, 12345678901])
    ints = np.array(sorted(v for v in vals if 10**7 <= v < 10**19), dtype=np.uint64)
    codes = pii.classify_codes(ints, column)
    kinds = [pii.KINDS[c - 1] if c else None for c in codes.tolist()]
    assert kinds == [pii.classify_int(v, column) for v in ints.tolist()]
    assert sum(k is not None for k in kinds) > 500
    signed = ints[ints < 2**63].astype(np.int64)
    assert (pii.classify_codes(signed, column) == codes[: len(signed)]).all()
