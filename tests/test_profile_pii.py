"""PII validators on valid, invalid and look-alike values; the vectorised pre-filter
never drops a value a validator accepts; masking hides the value.

References: published test numbers (card networks' test cards, the IBAN examples of
the ECBS / SWIFT registry), check digits recomputed here with the textbook
formulas, Python's ``ipaddress`` for IP addresses.
"""

from __future__ import annotations

import ipaddress
import random

import numpy as np
import pytest

from fastetl.profiling import pii


def _cpf_digits(base9: str) -> str:
    """The textbook CPF check digits (mod 11 with weights 10..2 then 11..2)."""
    d = [int(c) for c in base9]
    for n in (9, 10):
        s = sum(v * w for v, w in zip(d, range(n + 1, 1, -1), strict=False))
        r = s % 11
        d.append(0 if r < 2 else 11 - r)
    return "".join(map(str, d))


def _cnpj_digits(base12: str) -> str:
    d = [int(c) for c in base12]
    for weights in ([5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2], [6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2]):
        r = sum(v * w for v, w in zip(d, weights, strict=False)) % 11
        d.append(0 if r < 2 else 11 - r)
    return "".join(map(str, d))


def _fmt_cpf(d: str) -> str:
    return f"{d[:3]}.{d[3:6]}.{d[6:9]}-{d[9:]}"


def test_cpf_valid_published_and_generated():
    for v in ("529.982.247-25", "52998224725", "111.444.777-35"):
        assert pii.is_cpf(v) and pii.classify(v) == "cpf"
    rnd = random.Random(1)
    for _ in range(300):
        d = _cpf_digits("".join(rnd.choice("0123456789") for _ in range(9)))
        if d == d[0] * 11:
            continue
        assert pii.is_cpf(d) and pii.is_cpf(_fmt_cpf(d))


def test_cpf_invalid_and_look_alikes():
    rnd = random.Random(2)
    for _ in range(300):
        d = _cpf_digits("".join(rnd.choice("0123456789") for _ in range(9)))
        wrong = d[:10] + str((int(d[10]) + rnd.randint(1, 9)) % 10)
        assert not pii.is_cpf(wrong)
    for v in ("111.111.111-11", "000.000.000-00", "529.982.247-24", "529982247", "529.982.247/25",
              "5299822472", "529.982.24725"):  # fmt: skip
        assert not pii.is_cpf(v), v


def test_cnpj_valid_and_invalid():
    for v in ("11.222.333/0001-81", "11222333000181"):
        assert pii.is_cnpj(v) and pii.classify(v) == "cnpj"
    rnd = random.Random(3)
    for _ in range(300):
        d = _cnpj_digits("".join(rnd.choice("0123456789") for _ in range(12)))
        if d == d[0] * 14:
            continue
        assert pii.is_cnpj(d)
        assert not pii.is_cnpj(d[:13] + str((int(d[13]) + 1) % 10))
    assert not pii.is_cnpj("11.222.333/0001-80")
    assert not pii.is_cnpj("00000000000000")


@pytest.mark.parametrize(
    "card",
    ["4111111111111111", "4111 1111 1111 1111", "5555555555554444", "5555-5555-5555-4444",
     "378282246310005", "6011111111111117", "3530111333300000", "2223003122003222"],
)  # fmt: skip
def test_cards_published_test_numbers(card):
    assert pii.is_card(card) and pii.classify(card) == "card"


def test_cards_luhn_look_alikes_rejected():
    assert not pii.is_card("4111111111111112")  # Luhn fails
    assert not pii.is_card("9111111111111119")  # passes Luhn, no card network starts with 9
    assert not pii.is_card("411111111111")  # too short
    assert not pii.is_card("4111x1111x1111x1111")
    rnd = random.Random(4)
    for _ in range(200):  # one changed digit always breaks Luhn
        d = list("4111111111111111")
        i = rnd.randrange(16)
        d[i] = str((int(d[i]) + rnd.randint(1, 9)) % 10)
        assert not pii.luhn("".join(d))


def test_emails():
    for v in ("joao.silva@example.com", "a+b@sub.example.com.br", "x_y-z@e.co"):
        assert pii.is_email(v) and pii.classify(v) == "email"
    for v in ("joao@", "@example.com", "joao@example", "jo ao@example.com", "joao@@example.com",
              "joao@example.c0m", ".joao@example.com", "joao.@example.com",
              "a" * 65 + "@e.com"):  # fmt: skip
        assert not pii.is_email(v), v


def test_ip_addresses_against_ipaddress_module():
    rnd = random.Random(5)
    for _ in range(500):
        parts = [rnd.choice([rnd.randint(0, 255), rnd.randint(0, 300)]) for _ in range(4)]
        text = ".".join(map(str, parts))
        if rnd.random() < 0.1:
            text = text.replace(".", ".0", 1)  # leading zero
        try:
            ipaddress.IPv4Address(text)
            ok = True
        except ValueError:
            ok = False
        assert pii.is_ipv4(text) == ok, text
    for v in ("2001:db8::1", "::1", "fe80::1:2:3:4", "2001:0db8:85a3:0000:0000:8a2e:0370:7334"):
        assert pii.is_ipv6(v) and pii.classify(v) == "ipv6"
    for v in ("2001:db8::g", "1:2:3:4:5:6:7:8:9", "12:30", "::::"):
        assert not pii.is_ipv6(v), v


def test_ceps_need_the_dash_or_a_column_name():
    assert pii.is_cep("01310-100") and pii.classify("01310-100") == "cep"
    assert not pii.is_cep("01310100")  # bare 8 digits could be anything
    assert pii.classify("01310100", "cep_cliente") == "cep"
    assert pii.classify("01310100", "zip") == "cep"
    assert not pii.is_cep("0131-0100") and not pii.is_cep("00000-000")


def test_phones_brazilian_and_e164():
    for v in ("(11) 98765-4321", "+55 11 98765-4321", "11 3456-7890", "+5511987654321",
              "+14155550123", "+442071838750"):  # fmt: skip
        assert pii.is_phone(v), v
        assert pii.classify(v) == "phone", v
    assert not pii.is_phone("11987654321")  # bare digits: only in a phone column
    assert pii.classify("11987654321", "telefone") == "phone"
    assert pii.classify("11987654321", "celular_cliente") == "phone"
    for v in ("(10) 98765-4321", "(11) 88765-4321", "(11) 1234-5678", "+0123456789", "12-34"):
        assert not pii.is_phone(v), v  # area code 10 does not exist; mobiles start with 9


def test_iban_mod97():
    for v in ("GB82 WEST 1234 5698 7654 32", "DE89370400440532013000",
              "FR1420041010050500013M02606",
              "BR1800360305000010009795493C1"):  # fmt: skip
        assert pii.is_iban(v) and pii.classify(v) == "iban", v
    assert not pii.is_iban("GB82 WEST 1234 5698 7654 33")  # check fails
    assert not pii.is_iban("DE8937040044053201300")  # wrong length for DE
    assert not pii.is_iban("gb82west12345698765432")


def test_non_pii_classifies_as_none():
    for v in ("São Paulo", "12345", "2024-06-19", "3.14159", "pix", "Camiseta, Vermelho, M", ""):
        assert pii.classify(v) is None, v


def test_prefilter_keeps_every_valid_value():
    """candidates() is a necessary condition: nothing a validator accepts is dropped."""
    rnd = random.Random(6)
    values = []
    for _ in range(200):
        d = _cpf_digits("".join(rnd.choice("0123456789") for _ in range(9)))
        values += [d, _fmt_cpf(d)]
        values.append(_cnpj_digits("".join(rnd.choice("0123456789") for _ in range(12))))
        values.append(".".join(str(rnd.randint(0, 255)) for _ in range(4)))
        values.append(f"user{rnd.randint(0, 999)}@mail{rnd.randint(0, 9)}.com")
        values.append(
            f"({rnd.randint(11, 99)}) 9{rnd.randint(1000, 9999)}-{rnd.randint(1000, 9999)}"
        )
    values += ["4111 1111 1111 1111", "GB82 WEST 1234 5698 7654 32", "2001:db8::1", "01310-100",
               "+14155550123", "a@b.co"]  # fmt: skip
    valid = [v for v in values if pii.classify(v, "telefone cep") is not None]
    assert len(valid) > 1000
    arr = np.array([v.encode() for v in valid], dtype=f"S{max(len(v) for v in valid)}")
    assert pii.candidates(arr).all()
    # and it does drop plain words and short numbers
    plain = np.array([b"Sao Paulo", b"12345", b"2024-06-19", b"pix", b"3.14"], dtype="S12")
    assert not pii.candidates(plain).any()


@pytest.mark.parametrize(
    "value, kind, masked",
    [
        ("joao.silva@example.com", "email", "j***@e***.com"),
        ("123.456.789-09", "cpf", "***.456.789-**"),
        ("12345678909", "cpf", "***.456.789-**"),
        ("11.222.333/0001-81", "cnpj", "**.222.***/0001-**"),
        ("4111 1111 1111 1111", "card", "**** 1111"),
        ("(11) 98765-4321", "phone", "(**) *****-4321"),
        ("192.168.10.20", "ipv4", "192.***.***.***"),
        ("01310-100", "cep", "01***-***"),
        ("GB82 WEST 1234 5698 7654 32", "iban", "GB****************5432"),
    ],
)
def test_mask(value, kind, masked):
    assert pii.mask(value, kind) == masked
    assert value not in pii.mask(value, kind)


def test_integers_that_lost_their_leading_zeros():
    rnd = random.Random(8)
    for _ in range(200):
        d = _cpf_digits("0" + "".join(rnd.choice("0123456789") for _ in range(8)))
        if d == d[0] * 11:
            continue
        assert pii.classify_int(int(d)) == "cpf"
        assert pii.int_text(int(d), "cpf") == d
    assert pii.classify_int(int("11222333000181")) == "cnpj"
    assert pii.classify_int(4111111111111111) == "card"
    assert pii.classify_int(11987654321) is None  # bare digits: a phone only by name
    assert pii.classify_int(11987654321, "telefone") == "phone"
    assert pii.classify_int(1310100, "cep") == "cep"
    assert pii.int_text(1310100, "cep") == "01310100"
    assert pii.classify_int(12345678901) is None  # 11 digits, wrong check digits
