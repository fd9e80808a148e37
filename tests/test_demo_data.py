"""The built-in example data: the orders CSV generator and the schema that reads it."""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from datetime import date
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from fastetl.demo import (
    COLUMNS,
    FIRST_DATE,
    HEADER,
    LAST_DATE,
    ORDER_STATUSES,
    PAYMENT_METHODS,
    UFS,
    demo_schema,
    generate_orders,
    generate_orders_bytes,
    str_width_bounds,
)
from fastetl.schema import Schema

ROWS = 5_000
MONEY = re.compile(r"(0|[1-9][0-9]*)\.[0-9]{2}")


@pytest.fixture(scope="module")
def csv_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("demo") / "orders.csv"
    written = generate_orders(path, ROWS, seed=0)
    assert written == path.stat().st_size
    return path


@pytest.fixture(scope="module")
def raw(csv_file: Path) -> bytes:
    return csv_file.read_bytes()


@pytest.fixture(scope="module")
def rows(raw: bytes) -> list[dict[str, str]]:
    text = raw.decode("utf-8")  # strict: the file must be valid UTF-8
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header = next(reader)
    assert tuple(header) == COLUMNS
    out = []
    for fields in reader:
        assert len(fields) == 20, fields
        out.append(dict(zip(header, fields, strict=True)))
    return out


@pytest.fixture(scope="module")
def schema() -> Schema:
    return demo_schema()


# -- determinism -------------------------------------------------------------------------------
def test_same_seed_same_bytes(tmp_path: Path, raw: bytes) -> None:
    again = tmp_path / "again.csv"
    assert generate_orders(again, ROWS, seed=0) == len(raw)
    assert again.read_bytes() == raw
    assert generate_orders_bytes(ROWS, seed=0) == raw


def test_other_seed_other_bytes(raw: bytes) -> None:
    other = generate_orders_bytes(ROWS, seed=1)
    assert other != raw
    assert other.startswith(HEADER)


def test_shorter_file_is_a_prefix(raw: bytes) -> None:
    short = generate_orders_bytes(1_000, seed=0)
    assert raw.startswith(short)
    assert short.count(b"\n") == 1_001


def test_writes_to_binary_file_objects(tmp_path: Path) -> None:
    buf = io.BytesIO(b"keep:")
    buf.seek(0, io.SEEK_END)
    n = generate_orders(buf, 10, seed=3)
    assert buf.getvalue() == b"keep:" + generate_orders_bytes(10, seed=3)
    assert n == len(buf.getvalue()) - len(b"keep:")
    with open(tmp_path / "f.csv", "wb") as f:
        generate_orders(f, 10, seed=3)
        assert not f.closed
    assert (tmp_path / "f.csv").read_bytes() == generate_orders_bytes(10, seed=3)


def test_bad_arguments(tmp_path: Path) -> None:
    assert generate_orders_bytes(0) == HEADER
    with pytest.raises(ValueError):
        generate_orders_bytes(-1)
    with pytest.raises(ValueError):
        generate_orders_bytes(1, seed=-1)
    with pytest.raises(TypeError):
        generate_orders_bytes(1.5)  # type: ignore[arg-type]
    with open(tmp_path / "t.csv", "w", encoding="utf-8") as text_file:
        with pytest.raises(TypeError):
            generate_orders(text_file, 1)  # type: ignore[arg-type]


# -- CSV structure -----------------------------------------------------------------------------
def test_structure(raw: bytes, rows: list[dict[str, str]]) -> None:
    assert raw.startswith(HEADER)
    assert HEADER == (",".join(COLUMNS) + "\n").encode()
    assert len(COLUMNS) == 20
    assert b"\r" not in raw
    assert raw.endswith(b"\n")
    assert len(rows) == ROWS
    assert not raw.startswith(b"\xef\xbb\xbf")
    # Portuguese text: multi-byte UTF-8 in names and cities.
    assert any(len(r["cliente_nome"].encode()) > len(r["cliente_nome"]) for r in rows)
    assert any(r["cliente_cidade"] == "São Paulo" for r in rows)


def test_quoting_is_minimal_rfc4180(raw: bytes, rows: list[dict[str, str]]) -> None:
    # Writing the parsed rows back with the csv module gives the very same bytes:
    # fields are quoted exactly when they hold a comma or a quote, and "" escapes a quote.
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows([r[c] for c in COLUMNS] for r in rows)
    assert out.getvalue().encode("utf-8") == raw


def test_quoted_fields_are_present(raw: bytes, rows: list[dict[str, str]]) -> None:
    comma_names = [r["cliente_nome"] for r in rows if "," in r["cliente_nome"]]
    assert len(comma_names) > ROWS // 100  # "Silva, Ana Souza"
    assert all(re.fullmatch(r"[^,]+, [^,]+", n) for n in comma_names)
    assert any("," in r["produto_nome"] for r in rows)
    assert any('"' in r["produto_nome"] for r in rows)  # TV 50" 4K
    assert any('"' in r["cliente_nome"] for r in rows)  # José "Zé" Souza
    assert b'""' in raw
    assert re.search(rb',"[^",]+, [^"]+",', raw)


# -- values ------------------------------------------------------------------------------------
def test_identifiers(rows: list[dict[str, str]]) -> None:
    ids = [int(r["pedido_id"]) for r in rows]
    assert ids == sorted(set(ids))
    assert ids[0] > 0 and ids[-1] < 2**63
    for name in ("cliente_id", "produto_id"):
        values = {int(r[name]) for r in rows}
        assert min(values) > 0 and max(values) < 2**32
        assert all(r[name] == str(int(r[name])) for r in rows)
    # Denormalised but consistent: one name, e-mail and city per customer.
    seen: dict[str, tuple[str, ...]] = {}
    for r in rows:
        facts = tuple(r[c] for c in COLUMNS[3:7])
        assert seen.setdefault(r["cliente_id"], facts) == facts


def test_dates(rows: list[dict[str, str]]) -> None:
    days = [r["data_pedido"] for r in rows]
    assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", d) for d in days)
    parsed = [date.fromisoformat(d) for d in days]
    assert all(FIRST_DATE <= d <= LAST_DATE for d in parsed)
    assert {d.year for d in parsed} == set(range(FIRST_DATE.year, LAST_DATE.year + 1))
    assert any(d.endswith("-02-29") for d in days)


def test_str_columns_fit_their_widths(rows: list[dict[str, str]], schema: Schema) -> None:
    bounds = str_width_bounds()
    widths = {c.name: c.width for c in schema.columns if c.type == "str"}
    assert set(widths) == set(bounds)
    for name, width in widths.items():
        assert width is not None and bounds[name] <= width, name
        longest = max(len(r[name].encode("utf-8")) for r in rows)
        assert 0 < longest <= bounds[name], name
    for seed in (1, 2):  # other seeds stay within the bounds too
        other = list(csv.reader(io.StringIO(generate_orders_bytes(500, seed).decode())))[1:]
        for name, width in widths.items():
            i = COLUMNS.index(name)
            assert max(len(f[i].encode()) for f in other) <= width


def test_emails(rows: list[dict[str, str]]) -> None:
    assert all(
        re.fullmatch(r"[a-z]+[._]?[a-z]+[0-9]*@[a-z]+(\.[a-z]+)+", r["cliente_email"]) for r in rows
    )


def test_categories(rows: list[dict[str, str]], schema: Schema) -> None:
    cols = {c.name: c for c in schema.columns}
    assert cols["cliente_estado"].values == UFS and len(UFS) == 27 == len(set(UFS))
    assert cols["metodo_pagamento"].values == PAYMENT_METHODS
    assert cols["status_pedido"].values == ORDER_STATUSES
    for name in ("cliente_estado", "metodo_pagamento", "status_pedido"):
        values = cols[name].values
        assert values is not None
        assert {r[name] for r in rows} <= set(values), name
    assert len({r["cliente_estado"] for r in rows}) >= 20
    assert {r["metodo_pagamento"] for r in rows} == set(PAYMENT_METHODS)
    assert {r["status_pedido"] for r in rows} == set(ORDER_STATUSES)
    categories = {r["categoria"] for r in rows}
    assert 10 <= len(categories) <= (cols["categoria"].max_values or 0)
    assert "Eletrônicos" in categories


def test_money(rows: list[dict[str, str]]) -> None:
    for r in rows:
        for name in ("preco", "desconto", "frete", "valor_total"):
            assert MONEY.fullmatch(r[name]), (name, r[name])
        preco, qty = Decimal(r["preco"]), int(r["quantidade"])
        desconto, frete = Decimal(r["desconto"]), Decimal(r["frete"])
        assert Decimal(r["valor_total"]) == preco * qty - desconto + frete
        assert preco > 0 and 0 <= desconto <= preco * qty
    assert any(Decimal(r["desconto"]) > 0 for r in rows)
    assert any(Decimal(r["frete"]) > 0 for r in rows)
    assert any(Decimal(r["frete"]) == 0 for r in rows)


def test_quantity_flags_and_rating(rows: list[dict[str, str]]) -> None:
    qty = Counter(int(r["quantidade"]) for r in rows)
    assert set(qty) <= set(range(1, 11)) and qty[1] > ROWS // 2
    for name in ("is_prime", "is_presente"):
        assert {r[name] for r in rows} == {"true", "false"}
    ratings = Counter(r["avaliacao"] for r in rows)
    assert set(ratings) == {"", "1", "2", "3", "4", "5"}
    assert 0.07 < ratings[""] / ROWS < 0.13


# -- the schema --------------------------------------------------------------------------------
def test_demo_schema(schema: Schema) -> None:
    assert schema.dialect.delimiter == "," and schema.dialect.quote == '"'
    assert schema.dialect.header and schema.dialect.encoding == "utf-8"
    dt = schema.dtype()
    expected = {
        "pedido_id": "<i8",
        "data_pedido": "<M8[D]",
        "cliente_id": "<u4",
        "cliente_estado": "|u1",
        "produto_id": "<u4",
        "categoria": "|u1",
        "preco": "<i8",
        "quantidade": "<i2",
        "desconto": "<i8",
        "frete": "<i8",
        "valor_total": "<i8",
        "metodo_pagamento": "|u1",
        "status_pedido": "|u1",
        "avaliacao": "|i1",
        "flags": "|u1",
        "_nulls": "|u1",
    }
    for name, fmt in expected.items():
        assert dt[name] == np.dtype(fmt), name
    for name in ("cliente_nome", "cliente_email", "cliente_cidade", "produto_nome"):
        assert dt[name].kind == "S"
    # is_prime and is_presente are read for the flags only.
    assert "is_prime" not in dt.names and "is_presente" not in dt.names
    assert set(dt.names) == (set(COLUMNS) - {"is_prime", "is_presente"}) | {"flags", "_nulls"}
    cols = {c.name: c for c in schema.columns}
    assert all(cols[n].scale == 2 for n in ("preco", "desconto", "frete", "valor_total"))
    assert cols["avaliacao"].nullable and [c.name for c in schema.masked_columns] == ["avaliacao"]
    (flags,) = schema.flags
    assert flags.name == "flags" and flags.type == "uint8"
    bits = {b.name: b for b in flags.bits}
    assert list(bits)[:4] == ["is_prime", "is_presente", "pago_pix", "entregue"]
    for b in flags.bits:  # an "equals" bit tests a value its column can hold
        if b.equals is not None:
            assert b.equals in (cols[b.column].values or ()), b


def test_schema_binds_the_header(schema: Schema) -> None:
    binding = schema.bind(list(COLUMNS))
    assert binding.nfields == 20
    by_name = {f.source_name: f for f in binding.fields if f is not None}
    assert set(by_name) == set(COLUMNS)
    for name in ("is_prime", "is_presente"):
        assert by_name[name].column is None and by_name[name].flag_bits
    assert Schema.from_json(schema.to_json()) == schema
