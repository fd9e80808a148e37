"""Personal data (PII) detection: validators, a vectorised pre-filter, masking.

Kinds, and what decides each:

========  ===================================================================
email     RFC 5322 "dot-atom" local part and a domain of labels ending in a
          letters-only top-level domain (no check digit exists)
phone     Brazilian numbers (DDD from the ANATEL list, 8-digit landline
          starting 2-5 or 9-digit mobile starting 9, optional +55) and E.164
          (``+`` then 8-15 digits); no check digit, so a bare run of digits
          counts only in a column whose name says phone (tel, fone, phone,
          celular, whatsapp, mobile): formatted numbers count anywhere
cpf       11 digits (``123.456.789-09`` or bare) with both check digits
cnpj      14 digits (``12.345.678/0001-95`` or bare) with both check digits
card      13-19 digits (spaces or dashes between groups), Luhn checksum, and a
          card-network first digit (2-6)
ipv4      four dotted decimal octets 0-255, no leading zeros
ipv6      what :class:`ipaddress.IPv6Address` accepts
cep       ``12345-678``; the bare 8 digits count only in a column whose name
          says cep / zip / postal (no check digit)
iban      country code, 2 check digits and the country's length, mod-97 == 1
========  ===================================================================

Integer columns are checked too (:func:`classify_int`): a CPF, CNPJ or CEP read as a
number lost its leading zeros, which are put back; bare phone numbers count only in a
column named for them.

A value is first passed through :func:`candidates` (counts of character classes
over the fixed-width bytes); the distinct candidates are then checked by
:func:`classify_codes`, these validators compiled to C (IPv6 and values with
non-ASCII bytes are left to the Python validators here).  :func:`mask` hides all
but a few characters of a value.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

import numpy as np

from .. import _core

KINDS: tuple[str, ...] = ("email", "phone", "cpf", "cnpj", "card", "ipv4", "ipv6", "cep", "iban")

SHARE = 0.8
"""A column holds kind K when at least this share of its non-null values validate as K."""

_EMAIL = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)
_CPF_FMT = re.compile(r"\d{3}\.\d{3}\.\d{3}-\d{2}|\d{11}")
_CNPJ_FMT = re.compile(r"\d{2}\.\d{3}\.\d{3}/\d{4}-\d{2}|\d{14}")
_CARD_FMT = re.compile(r"\d{13,19}|\d{4}(?:[ -]\d{4}){2}[ -]\d{1,7}|\d{4}[ -]\d{6}[ -]\d{5}")
_CEP_FMT = re.compile(r"\d{5}-\d{3}")
_CEP_BARE = re.compile(r"\d{8}")
_IPV4 = re.compile(
    r"(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
)
_E164 = re.compile(r"\+[1-9]\d{7,14}")
_PHONE_CHARS = re.compile(r"[0-9+()\- .]+")
_IBAN = re.compile(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}")

# Brazilian area codes (DDD) in use
_DDD = frozenset(
    "11 12 13 14 15 16 17 18 19 21 22 24 27 28 31 32 33 34 35 37 38 41 42 43 44 45 46 47 48 49 "
    "51 53 54 55 61 62 63 64 65 66 67 68 69 71 73 74 75 77 79 81 82 83 84 85 86 87 88 89 "
    "91 92 93 94 95 96 97 98 99".split()
)
# IBAN lengths of the countries that use it most (others: 15-34)
_IBAN_LEN = {
    "AD": 24, "AT": 20, "BE": 16, "BG": 22, "BR": 29, "CH": 21, "CY": 28, "CZ": 24, "DE": 22,
    "DK": 18, "EE": 20, "ES": 24, "FI": 18, "FR": 27, "GB": 22, "GR": 27, "HR": 21, "HU": 28,
    "IE": 22, "IS": 26, "IT": 27, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MT": 31,
    "NL": 18, "NO": 15, "PL": 28, "PT": 25, "RO": 24, "SE": 24, "SI": 19, "SK": 24, "SM": 27,
}  # fmt: skip

_PHONE_NAME = re.compile(r"tel|fone|phone|celular|whats|mobile|cel\b", re.IGNORECASE)
_CEP_NAME = re.compile(r"cep|zip|postal", re.IGNORECASE)


def _digits(s: str) -> str:
    return "".join(c for c in s if c.isdigit())


def is_email(s: str) -> bool:
    if len(s) > 254 or not _EMAIL.fullmatch(s):
        return False
    return len(s.split("@", 1)[0]) <= 64


def _cpf_check(d: str) -> bool:
    if len(d) != 11 or d == d[0] * 11:
        return False
    nums = [int(c) for c in d]
    for n in (9, 10):
        s = sum(v * w for v, w in zip(nums[:n], range(n + 1, 1, -1), strict=False))
        if (s * 10 % 11) % 10 != nums[n]:
            return False
    return True


def is_cpf(s: str) -> bool:
    return bool(_CPF_FMT.fullmatch(s)) and _cpf_check(_digits(s))


def _cnpj_check(d: str) -> bool:
    if len(d) != 14 or d == d[0] * 14:
        return False
    nums = [int(c) for c in d]
    w1 = [5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2]
    for n, w in ((12, w1), (13, [6, *w1])):
        r = sum(v * x for v, x in zip(nums[:n], w, strict=False)) % 11
        if (0 if r < 2 else 11 - r) != nums[n]:
            return False
    return True


def is_cnpj(s: str) -> bool:
    return bool(_CNPJ_FMT.fullmatch(s)) and _cnpj_check(_digits(s))


def luhn(d: str) -> bool:
    total = 0
    for i, c in enumerate(reversed(d)):
        v = int(c)
        if i % 2:
            v *= 2
            if v > 9:
                v -= 9
        total += v
    return total % 10 == 0


def is_card(s: str) -> bool:
    if not _CARD_FMT.fullmatch(s):
        return False
    d = _digits(s)
    return 13 <= len(d) <= 19 and d[0] in "23456" and luhn(d)


def is_ipv4(s: str) -> bool:
    return bool(_IPV4.fullmatch(s))


def is_ipv6(s: str) -> bool:
    if ":" not in s or "%" in s:
        return False
    try:
        ipaddress.IPv6Address(s)
    except ValueError:
        return False
    return True


def is_cep(s: str, named: bool = False) -> bool:
    if _CEP_FMT.fullmatch(s):
        return s != "00000-000"
    return named and bool(_CEP_BARE.fullmatch(s)) and s != "00000000"


def is_phone(s: str, named: bool = False) -> bool:
    if _E164.fullmatch(s):
        return True
    if not _PHONE_CHARS.fullmatch(s) or "+" in s[1:]:
        return False
    d = _digits(s)
    formatted = d != s
    if s.startswith("+"):
        if not d.startswith("55"):
            return False
        d = d[2:]
    elif len(d) in (12, 13) and d.startswith("55"):
        d = d[2:]
    if len(d) == 11:
        ok = d[2] == "9"
    elif len(d) == 10:
        ok = d[2] in "2345"
    else:
        return False
    return ok and d[:2] in _DDD and (formatted or named)


def is_iban(s: str) -> bool:
    t = s.replace(" ", "")
    if not _IBAN.fullmatch(t):
        return False
    want = _IBAN_LEN.get(t[:2])
    if want is not None and len(t) != want:
        return False
    moved = t[4:] + t[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


def classify(s: str, column: str = "") -> str | None:
    """The PII kind ``s`` validates as (in a column named ``column``), or None."""
    phone_named = bool(_PHONE_NAME.search(column))
    cep_named = bool(_CEP_NAME.search(column))
    if "@" in s:
        return "email" if is_email(s) else None
    if ":" in s:
        return "ipv6" if is_ipv6(s) else None
    if is_cpf(s):
        return "cpf"
    if is_cnpj(s):
        return "cnpj"
    if is_cep(s, cep_named):
        return "cep"
    if is_ipv4(s):
        return "ipv4"
    if is_phone(s, phone_named):
        return "phone"
    if is_card(s):
        return "card"
    if s[:2].isalpha() and is_iban(s):
        return "iban"
    return None


_ZFILL = {"cpf": 11, "cnpj": 14, "cep": 8}

ASK = _core.FOLD_PII_ASK
"""The code :func:`classify_codes` gives a value it leaves to :func:`classify`."""


def name_flags(column: str) -> int:
    """The compiled validators' flags of a column's name: 1 it says phone, 2 it says CEP."""
    return (1 if _PHONE_NAME.search(column) else 0) | (2 if _CEP_NAME.search(column) else 0)


def classify_codes(values: np.ndarray, column: str = "") -> np.ndarray:
    """:func:`classify` of each value of a numpy ``S`` array (or :func:`classify_int` of
    each positive integer of an integer array), in compiled code without the GIL: a
    uint8 code per value, 0 for none, ``1 + KINDS.index(kind)`` for a kind, and
    :data:`ASK` where :func:`classify` must decide (a value with ``:`` -- IPv6 -- or
    a byte past ASCII, whose Unicode digits Python's validators accept)."""
    flags = name_flags(column)
    out = np.empty(len(values), dtype=np.uint8)
    if not len(values):
        return out
    if values.dtype.kind == "S":
        v = np.ascontiguousarray(values)
        _core.fold_pii_codes(v.view(np.uint8).reshape(-1), v.dtype.itemsize, flags, out)
    else:
        v = np.ascontiguousarray(values, dtype=np.uint64)
        _core.fold_pii_codes(v, 0, flags, out)
    return out


def classify_int(v: int, column: str = "") -> str | None:
    """The PII kind of an integer (a number column): a CPF, CNPJ or CEP that lost its
    leading zeros, a card number, or -- in a column named for them -- a phone."""
    s = str(v)
    if len(s) <= 11 and _cpf_check(s.zfill(11)):
        return "cpf"
    if len(s) <= 14 and _cnpj_check(s.zfill(14)):
        return "cnpj"
    if _CEP_NAME.search(column) and len(s) <= 8:
        return "cep" if v else None
    if _PHONE_NAME.search(column) and is_phone(s, True):
        return "phone"
    if is_card(s):
        return "card"
    return None


def int_text(v: int, kind: str) -> str:
    """An integer of PII kind ``kind`` as the text it stands for (zeros put back)."""
    s = str(v)
    return s.zfill(_ZFILL[kind]) if kind in _ZFILL else s


# ---------------------------------------------------------------------------
# the vectorised pre-filter


CLASSES = ("len", "chars", "digit", "alpha", "at", "dot", "dash", "colon", "slash", "plus",
           "space", "paren")  # fmt: skip


def text_classes(values: np.ndarray) -> np.ndarray:
    """Per value of a numpy ``S`` array, the counts :data:`CLASSES` names (one row
    each): its bytes, its UTF-8 characters, its digits, ASCII letters and each
    separator PII formats use -- one pass in compiled code, without the GIL."""
    v = np.ascontiguousarray(values)
    out = np.empty((len(v), len(CLASSES)), dtype=np.int64)
    if len(v):
        _core.fold_text_classes(v.view(np.uint8).reshape(-1), v.dtype.itemsize, out)
    return out


LOOKS = ("integer", "decimal", "date", "datetime")
"""What :func:`looks_like` names, in the order of :func:`text_facts`' flag bits."""
CANDIDATE = 16
"""The flag bit of :func:`text_facts` for a value :func:`candidates` keeps."""


def text_facts(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per value of a numpy ``S`` array, its UTF-8 characters (int64) and flags
    (uint8): bit ``1 << i`` where it looks like ``LOOKS[i]`` (:func:`looks_like`),
    :data:`CANDIDATE` where :func:`candidates` keeps it -- one pass in compiled code,
    without the GIL."""
    v = np.ascontiguousarray(values)
    chars = np.empty(len(v), dtype=np.int64)
    flags = np.empty(len(v), dtype=np.uint8)
    if len(v):
        _core.fold_text_facts(v.view(np.uint8).reshape(-1), v.dtype.itemsize, chars, flags)
    return chars, flags


def char_counts(values: np.ndarray) -> dict[str, np.ndarray]:
    """Per value of a numpy ``S`` array: its length and how many of its bytes are
    digits, letters, and each separator PII formats use."""
    c = text_classes(values)
    return {name: c[:, i] for i, name in enumerate(CLASSES) if name != "chars"}


def candidates(values: np.ndarray, counts: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """True for the values of a numpy ``S`` array that could be of some PII kind:
    the rest cannot validate as any (a necessary condition on their characters)."""
    c = char_counts(values) if counts is None else counts
    n, d, a = c["len"], c["digit"], c["alpha"]
    email = (c["at"] == 1) & (c["space"] == 0) & (n >= 6)
    ipv6 = (c["colon"] >= 2) & (c["space"] == 0)
    date = (d == 8) & ((c["dash"] == 2) | (c["slash"] == 2))  # 2024-06-19, 19/06/2024
    numeric = (d >= 8) & (d <= 19) & (a == 0) & ~date  # cpf cnpj card cep phone
    ipv4 = (c["dot"] == 3) & (d >= 4) & (d <= 12) & (n == d + 3)
    iban = (a >= 2) & (d >= 8) & (n >= 15) & (n <= 42)
    return email | ipv6 | numeric | ipv4 | iban


# ---------------------------------------------------------------------------
# masking


def _stars(s: str, keep_last: int) -> str:
    """Digits and letters become ``*`` except the last ``keep_last`` of them."""
    alnum = sum(ch.isalnum() for ch in s)
    out, seen = [], 0
    for ch in s:
        if ch.isalnum():
            seen += 1
            out.append(ch if seen > alnum - keep_last else "*")
        else:
            out.append(ch)
    return "".join(out)


def mask(s: str, kind: str) -> str:
    """``s`` with enough hidden that it identifies no one (``j***@e***.com``,
    ``***.456.789-**``)."""
    if kind == "email":
        local, _, domain = s.partition("@")
        host, _, tld = domain.rpartition(".")
        return f"{local[:1]}***@{host[:1]}***.{tld}"
    if kind == "cpf":
        d = _digits(s)
        return f"***.{d[3:6]}.{d[6:9]}-**"
    if kind == "cnpj":
        d = _digits(s)
        return f"**.{d[2:5]}.***/{d[8:12]}-**"
    if kind == "card":
        return "**** " + _digits(s)[-4:]
    if kind == "phone":
        return _stars(s, 4)
    if kind == "ipv4":
        return s.split(".", 1)[0] + ".***.***.***"
    if kind == "ipv6":
        return s.split(":", 1)[0] + ":****:…"
    if kind == "cep":
        d = _digits(s)
        return f"{d[:2]}***-***"
    if kind == "iban":
        t = s.replace(" ", "")
        return t[:2] + "**" + "*" * (len(t) - 8) + t[-4:]
    return "***"


def looks_like(counts: dict[str, np.ndarray]) -> dict[str, Any]:
    """Per value of a text column: does it look like an integer, a decimal number, a
    date or a datetime (by its characters alone; for a column read as text)."""
    n, d = counts["len"], counts["digit"]
    other = n - d
    sign = counts["dash"] + counts["plus"]
    integer = (d > 0) & (other <= 1) & (other == sign)
    seps = counts["dot"]
    number = (d > 0) & (seps == 1) & (other - seps <= 1) & ~integer
    date = (d == 8) & (n == 10) & ((counts["dash"] == 2) | (counts["slash"] == 2))
    dtime = (d >= 12) & (counts["colon"] >= 1) & ((counts["dash"] == 2) | (counts["slash"] == 2))
    return {"integer": integer, "decimal": number, "date": date, "datetime": dtime}
