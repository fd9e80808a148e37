"""Built-in example data: the seed's denormalised 20-column e-commerce orders.

:func:`generate_orders` writes a realistic Brazilian orders CSV -- Portuguese names with
accents, the 27 UF state codes, pix and boleto, quoted fields with commas and escaped
quotes, a nullable rating -- and :func:`demo_schema` returns the schema that packs it into
fixed binary records with a byte of bit flags (``data/orders_schema.json``).

The generator is built for benchmarks: every column is drawn as a numpy array and formatted
in bulk from lookup tables, a chunk of rows at a time, so two million rows (about 400 MB)
take seconds and memory stays bounded.  Only the customer and product pools (fixed sizes,
independent of ``rows``) are assembled with per-item Python work.

Determinism: the same ``seed`` gives the same bytes on every run and platform.  All draws
are integer arithmetic on the raw PCG64 stream (whose output numpy guarantees), never
``Generator`` methods or floating point, whose results may change between numpy versions.
The first ``k`` rows do not depend on ``rows``: a longer file starts with the shorter one.
"""

from __future__ import annotations

import datetime as _dt
import io
import operator
import os
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from typing import Any, BinaryIO

import numpy as np

from .schema import Schema

COLUMNS: tuple[str, ...] = (
    "pedido_id",
    "data_pedido",
    "cliente_id",
    "cliente_nome",
    "cliente_email",
    "cliente_cidade",
    "cliente_estado",
    "produto_id",
    "produto_nome",
    "categoria",
    "preco",
    "quantidade",
    "desconto",
    "frete",
    "valor_total",
    "metodo_pagamento",
    "status_pedido",
    "is_prime",
    "is_presente",
    "avaliacao",
)
"""The 20 columns of the orders CSV, in file order."""

UFS: tuple[str, ...] = (
    "AC", "AL", "AP", "AM", "BA", "CE", "DF", "ES", "GO", "MA", "MT", "MS", "MG", "PA",
    "PB", "PR", "PE", "PI", "RJ", "RN", "RS", "RO", "RR", "SC", "SP", "SE", "TO",
)  # fmt: skip
"""The 27 federative units (states and the Federal District), in the order of their names."""

PAYMENT_METHODS: tuple[str, ...] = (
    "pix",
    "cartao_credito",
    "cartao_debito",
    "boleto",
    "carteira_digital",
)
ORDER_STATUSES: tuple[str, ...] = (
    "pendente",
    "pago",
    "enviado",
    "entregue",
    "cancelado",
    "devolvido",
)

FIRST_DATE = _dt.date(2020, 1, 1)
"""Orders are dated from this day ...  (2020 and 2024 are leap years)"""
LAST_DATE = _dt.date(2024, 12, 31)
"""... to this one, inclusive."""

CHUNK_ROWS = 50_000
"""Rows generated, formatted and written at a time (about 10 MB of text).

Part of the data's definition: the draws are made a chunk at a time, so another value
would give other (equally valid) data for the same seed.
"""
N_CUSTOMERS = 50_000
"""Size of the customer pool the orders draw from."""
N_PRODUCTS = 4_000
"""Size of the product catalogue the orders draw from."""

RATING_EMPTY_PER_MILLE = 100
"""Share of orders (per 1000) whose ``avaliacao`` field is empty."""

# ----------------------------------------------------------------------------------------------
# Vocabulary.  Weights are relative integers; every value is plain Python data.
# ----------------------------------------------------------------------------------------------

# (city, UF, weight ~ population in ten thousands); every UF has at least one city.
_CITIES: tuple[tuple[str, str, int], ...] = (
    ("Rio Branco", "AC", 42),
    ("Maceió", "AL", 96),
    ("Macapá", "AP", 44),
    ("Manaus", "AM", 206),
    ("Salvador", "BA", 246),
    ("Feira de Santana", "BA", 62),
    ("Vitória da Conquista", "BA", 37),
    ("Fortaleza", "CE", 243),
    ("Juazeiro do Norte", "CE", 29),
    ("Brasília", "DF", 282),
    ("Vitória", "ES", 32),
    ("Vila Velha", "ES", 47),
    ("Goiânia", "GO", 144),
    ("Aparecida de Goiânia", "GO", 50),
    ("Anápolis", "GO", 39),
    ("São Luís", "MA", 104),
    ("Imperatriz", "MA", 27),
    ("Cuiabá", "MT", 65),
    ("Rondonópolis", "MT", 24),
    ("Campo Grande", "MS", 90),
    ("Dourados", "MS", 24),
    ("Belo Horizonte", "MG", 232),
    ("Uberlândia", "MG", 71),
    ("Contagem", "MG", 62),
    ("Juiz de Fora", "MG", 54),
    ("Montes Claros", "MG", 41),
    ("Belém", "PA", 130),
    ("Ananindeua", "PA", 48),
    ("Santarém", "PA", 33),
    ("João Pessoa", "PB", 83),
    ("Campina Grande", "PB", 42),
    ("Curitiba", "PR", 177),
    ("Londrina", "PR", 56),
    ("Maringá", "PR", 41),
    ("Ponta Grossa", "PR", 36),
    ("Cascavel", "PR", 35),
    ("Recife", "PE", 149),
    ("Jaboatão dos Guararapes", "PE", 64),
    ("Olinda", "PE", 35),
    ("Caruaru", "PE", 38),
    ("Petrolina", "PE", 39),
    ("Teresina", "PI", 87),
    ("Parnaíba", "PI", 16),
    ("Rio de Janeiro", "RJ", 621),
    ("São Gonçalo", "RJ", 90),
    ("Duque de Caxias", "RJ", 81),
    ("Nova Iguaçu", "RJ", 79),
    ("Niterói", "RJ", 48),
    ("Petrópolis", "RJ", 28),
    ("Natal", "RN", 75),
    ("Mossoró", "RN", 26),
    ("Porto Alegre", "RS", 133),
    ("Caxias do Sul", "RS", 46),
    ("Canoas", "RS", 35),
    ("Pelotas", "RS", 33),
    ("Santa Maria", "RS", 27),
    ("Porto Velho", "RO", 46),
    ("Ji-Paraná", "RO", 12),
    ("Boa Vista", "RR", 41),
    ("Joinville", "SC", 62),
    ("Florianópolis", "SC", 54),
    ("Blumenau", "SC", 36),
    ("Chapecó", "SC", 25),
    ("Balneário Camboriú", "SC", 14),
    ("São Paulo", "SP", 1145),
    ("Guarulhos", "SP", 129),
    ("Campinas", "SP", 114),
    ("São Bernardo do Campo", "SP", 81),
    ("Santo André", "SP", 75),
    ("Osasco", "SP", 73),
    ("Sorocaba", "SP", 72),
    ("Ribeirão Preto", "SP", 70),
    ("São José dos Campos", "SP", 70),
    ("São José do Rio Preto", "SP", 48),
    ("Jundiaí", "SP", 44),
    ("Santos", "SP", 42),
    ("Piracicaba", "SP", 42),
    ("Bauru", "SP", 38),
    ("Aracaju", "SE", 60),
    ("Nossa Senhora do Socorro", "SE", 19),
    ("Palmas", "TO", 30),
    ("Araguaína", "TO", 17),
)

# Shipping base price in cents by region (Sudeste cheapest, Norte dearest).
_FRETE_BASE_BY_UF: dict[str, int] = {
    **dict.fromkeys(("SP", "RJ", "MG", "ES"), 990),
    **dict.fromkeys(("PR", "SC", "RS"), 1490),
    **dict.fromkeys(("DF", "GO", "MT", "MS"), 1790),
    **dict.fromkeys(("BA", "SE", "AL", "PE", "PB", "RN", "CE", "PI", "MA"), 2190),
    **dict.fromkeys(("AC", "AP", "AM", "PA", "RO", "RR", "TO"), 2690),
}
FREE_SHIPPING_FROM_CENTS = 29_900
"""Orders from R$ 299,00 (before discount) ship free, as do all orders of Prime customers."""

_FIRST_NAMES: tuple[str, ...] = (
    "Ana", "Maria", "Francisca", "Antônia", "Adriana", "Juliana", "Márcia", "Fernanda",
    "Patrícia", "Aline", "Sandra", "Camila", "Amanda", "Bruna", "Jéssica", "Letícia", "Júlia",
    "Luciana", "Vanessa", "Mariana", "Gabriela", "Vitória", "Larissa", "Cláudia", "Beatriz",
    "Luana", "Rita", "Sônia", "Renata", "Eliane", "Helena", "Alice", "Laura", "Valentina",
    "Sophia", "Isabela", "Manuela", "Lívia", "Giovana", "Lúcia", "Raquel", "Débora", "Tânia",
    "Cecília", "Lorena", "Yasmin", "Heloísa", "Lavínia", "Luíza", "Iracema", "Conceição",
    "João", "José", "Antônio", "Francisco", "Carlos", "Paulo", "Pedro", "Lucas", "Luiz",
    "Marcos", "Luís", "Gabriel", "Rafael", "Daniel", "Marcelo", "Bruno", "Eduardo", "Felipe",
    "Raimundo", "Rodrigo", "Manoel", "Mateus", "André", "Fernando", "Fábio", "Leonardo",
    "Gustavo", "Guilherme", "Leandro", "Tiago", "Anderson", "Ricardo", "Márcio", "Jorge",
    "Sebastião", "Alexandre", "Roberto", "Edson", "Diego", "Vítor", "Sérgio", "Cláudio",
    "Geraldo", "Adriano", "Luciano", "Júlio", "Renato", "Vinícius", "Rogério", "Samuel",
    "Mário", "Flávio", "Caio", "Heitor", "Enzo", "Davi", "Arthur", "Bernardo", "Théo",
    "Miguel", "Benício", "Joaquim", "Otávio", "Ícaro", "Iago", "Inácio",
    "Maria Eduarda", "Ana Clara", "Ana Júlia", "Maria Luíza", "Ana Beatriz", "Ana Carolina",
    "Maria Aparecida", "Maria das Graças", "Maria da Conceição", "João Pedro", "João Vítor",
    "Pedro Henrique", "Carlos Eduardo", "Luiz Fernando", "José Carlos", "Antônio Carlos",
    "João Guilherme",
)  # fmt: skip

# Nicknames, written 'Francisco "Chico" Souza' by some sellers.
_NICKNAMES: dict[str, str] = {
    "Francisco": "Chico",
    "José": "Zé",
    "Antônio": "Toninho",
    "Eduardo": "Dudu",
    "Roberto": "Beto",
    "Raimundo": "Mundinho",
    "Sebastião": "Tião",
    "Francisca": "Chica",
    "Conceição": "Ceiça",
    "Luciana": "Lu",
}

_SURNAMES: tuple[str, ...] = (
    "Silva", "Santos", "Oliveira", "Souza", "Rodrigues", "Ferreira", "Alves", "Pereira",
    "Lima", "Gomes", "Costa", "Ribeiro", "Martins", "Carvalho", "Almeida", "Lopes", "Soares",
    "Fernandes", "Vieira", "Barbosa", "Rocha", "Dias", "Nascimento", "Andrade", "Moreira",
    "Nunes", "Marques", "Machado", "Mendes", "Freitas", "Cardoso", "Ramos", "Gonçalves",
    "Santana", "Teixeira", "Araújo", "Azevedo", "Brandão", "Magalhães", "Assunção", "Falcão",
    "Guimarães", "Simões", "Damasceno", "Leão", "Sampaio", "Cavalcanti", "Albuquerque",
    "Figueiredo", "Monteiro", "Peixoto", "Bezerra", "Correia", "Pinto", "Campos", "Cunha",
    "Macedo", "Batista", "Castro", "Medeiros", "Moura", "Reis", "Siqueira", "Xavier", "Prado",
    "Tavares", "Borges", "Aragão", "Brito", "Quintão", "Estêvão", "Lustosa", "Jatobá",
    "da Silva", "dos Santos", "de Oliveira", "de Souza", "da Costa", "do Nascimento",
    "de Jesus", "da Conceição", "dos Anjos", "de Assis",
)  # fmt: skip

_EMAIL_DOMAINS: tuple[tuple[str, int], ...] = (
    ("gmail.com", 45),
    ("hotmail.com", 20),
    ("outlook.com", 8),
    ("yahoo.com.br", 8),
    ("uol.com.br", 4),
    ("bol.com.br", 4),
    ("icloud.com", 4),
    ("live.com", 3),
    ("terra.com.br", 2),
    ("globo.com", 2),
)
_EMAIL_SEPARATORS = (".", "_", "")

# Name spellings (relative weights): "Ana Souza", "Ana Lima Souza", "Souza, Ana Lima"
# (surname first, as legacy systems export it) and 'José "Zé" Souza'.
_NAME_FORM_WEIGHTS = (55, 35, 7, 3)
_PRIME_PER_MILLE = 300  # share of Prime customers

_COLOURS = (
    "Preto", "Branco", "Prata", "Grafite", "Azul", "Vermelho", "Rosa", "Verde", "Dourado",
    "Azul Marinho", "Off-white", "Cinza Chumbo",
)  # fmt: skip
_CLOTHES_SIZES = ("PP", "P", "M", "G", "GG", "XGG")
_SHOE_SIZES = tuple(str(n) for n in range(33, 45))
_BOOK_EDITIONS = ("Capa Comum", "Capa Dura", "Edição de Bolso", "Edição Especial")


@dataclass(frozen=True)
class _Category:
    """One category of the catalogue: its items (name, min, max price in reais) and brands."""

    name: str
    weight: int
    items: tuple[tuple[str, int, int], ...]
    brands: tuple[str, ...] = ("",)  # "": the item name already says it all
    variants: tuple[str, ...] = _COLOURS
    variant_per_mille: int = 250  # share of products with a ", <variant>" suffix


def _combos(a: Sequence[str], b: Sequence[str]) -> tuple[str, ...]:
    return tuple(f"{x}, {y}" for x in a for y in b)


_CATALOG: tuple[_Category, ...] = (
    _Category(
        "Eletrônicos",
        12,
        (
            ('Smart TV 32" HD', 899, 1499),
            ('Smart TV 43" Full HD', 1499, 2299),
            ('Smart TV 50" 4K', 1899, 3199),
            ('Smart TV 55" 4K QLED', 2599, 4999),
            ('Smart TV 65" 4K OLED', 4999, 12999),
            ("Soundbar 2.1 200W", 499, 1899),
            ("Caixa de Som Bluetooth 20W", 149, 699),
            ("Fone de Ouvido Bluetooth", 79, 499),
            ("Fone Over-ear, Cancelamento de Ruído", 399, 2499),
            ("Projetor Full HD 3.500 lúmens", 999, 3999),
            ("Câmera de Segurança Wi-Fi", 129, 399),
        ),
        ("Samsung", "LG", "Philips", "TCL", "JBL", "Sony", "Multilaser", "Intelbras", "Xiaomi"),
    ),
    _Category(
        "Informática",
        10,
        (
            ('Notebook 15,6" Core i5 8GB SSD 256GB', 2799, 4499),
            ('Notebook 14" Ryzen 7 16GB SSD 512GB', 3999, 6999),
            ('Monitor 24" Full HD 75Hz', 599, 1199),
            ('Monitor 27" QHD 144Hz', 1399, 2999),
            ("Teclado Mecânico ABNT2", 149, 699),
            ("Mouse sem Fio 1600 DPI", 39, 299),
            ("SSD NVMe 1TB", 349, 899),
            ("Pen Drive 64GB", 29, 99),
            ("Roteador Wi-Fi 6 AX1800", 299, 899),
            ("Impressora Multifuncional Tanque de Tinta", 899, 1899),
            ("Webcam Full HD 1080p", 149, 599),
        ),
        ("Dell", "Lenovo", "Acer", "Asus", "Positivo", "HP", "Logitech", "Kingston", "TP-Link"),
    ),
    _Category(
        "Celulares",
        12,
        (
            ('Smartphone 128GB Tela 6,5"', 999, 2199),
            ('Smartphone 256GB 5G Tela 6,7"', 1999, 8999),
            ("Capinha de Silicone", 19, 99),
            ("Película de Vidro 3D", 9, 49),
            ("Carregador Turbo USB-C 25W", 49, 199),
            ('Smartwatch Tela 1,4" AMOLED', 299, 2499),
            ("Power Bank 10.000mAh", 79, 249),
        ),
        ("Samsung", "Motorola", "Xiaomi", "Apple", "Realme", "Asus"),
    ),
    _Category(
        "Eletrodomésticos",
        8,
        (
            ("Geladeira Frost Free 375L", 2799, 4999),
            ("Máquina de Lavar 12kg", 1899, 3499),
            ("Micro-ondas 20L", 449, 899),
            ("Fogão 4 Bocas", 699, 1799),
            ("Ar-condicionado Split 12.000 BTUs", 1899, 3699),
            ("Aspirador de Pó Vertical", 199, 899),
            ("Air Fryer 4L", 299, 799),
            ("Liquidificador 1200W", 129, 399),
            ("Cafeteira Expresso 15 bar", 399, 1599),
            ("Ventilador de Coluna 40cm", 149, 399),
        ),
        ("Brastemp", "Consul", "Electrolux", "Mondial", "Philco", "Arno", "Britânia", "Midea"),
        ("Branco", "Inox", "Preto", "Prata"),
    ),
    _Category(
        "Casa e Cozinha",
        8,
        (
            ("Jogo de Panelas Antiaderente 5 peças", 199, 899),
            ("Conjunto de Facas Inox, 6 peças", 79, 399),
            ("Jogo de Cama Queen 4 peças", 99, 499),
            ("Toalha de Banho Algodão", 29, 129),
            ("Garrafa Térmica 1L", 59, 299),
            ("Kit Potes Herméticos 10 un.", 49, 199),
            ("Tapete para Sala 2,00 x 1,40m", 129, 699),
        ),
        ("Tramontina", "Oxford", "Santista", "Buddemeyer", "Stanley", "Electrolux"),
    ),
    _Category(
        "Móveis",
        4,
        (
            ("Sofá Retrátil 3 Lugares", 1299, 3999),
            ("Cadeira de Escritório Ergonômica", 399, 1999),
            ("Mesa de Jantar 6 Lugares", 899, 2999),
            ("Guarda-roupa 6 Portas", 799, 2499),
            ('Rack para TV até 65"', 299, 999),
            ("Escrivaninha 120cm", 249, 899),
            ("Colchão Casal Molas Ensacadas", 999, 3999),
        ),
        ("Madesa", "Politorno", "Ortobom", "Castor", "Kappesberg", "Mobly"),
        ("Branco", "Preto", "Nogueira", "Freijó", "Cinza", "Off-white"),
    ),
    _Category(
        "Moda",
        14,
        (
            ("Camiseta Básica Algodão", 29, 119),
            ("Calça Jeans Skinny", 89, 299),
            ("Vestido Midi Floral", 99, 399),
            ("Jaqueta Corta-vento", 149, 499),
            ("Camisa Polo Piquet", 79, 299),
            ("Bermuda Sarja", 69, 199),
            ("Moletom com Capuz", 99, 349),
            ("Biquíni Cortininha", 59, 229),
        ),
        ("Hering", "Renner", "Reserva", "Colcci", "Malwee", "Farm", "Osklen", "Riachuelo"),
        _combos(_COLOURS, _CLOTHES_SIZES),
        1000,
    ),
    _Category(
        "Calçados",
        8,
        (
            ("Tênis de Corrida", 199, 899),
            ("Tênis Casual Couro", 149, 599),
            ("Sandália Rasteira", 39, 199),
            ("Chinelo de Dedo", 19, 79),
            ("Bota Coturno", 149, 499),
            ("Sapato Social Couro", 199, 599),
        ),
        ("Nike", "Adidas", "Olympikus", "Havaianas", "Melissa", "Mizuno", "Vans", "Azaleia"),
        _combos(("Preto", "Branco", "Azul Marinho", "Caramelo", "Cinza"), _SHOE_SIZES),
        1000,
    ),
    _Category(
        "Beleza",
        7,
        (
            ("Perfume Eau de Parfum 100ml", 149, 899),
            ("Kit Shampoo e Condicionador", 39, 199),
            ("Protetor Solar FPS 50", 39, 129),
            ("Base Líquida Matte 30ml", 49, 249),
            ("Secador de Cabelo 2000W", 129, 699),
            ("Hidratante Corporal 400ml", 29, 99),
            ("Máscara de Cílios à Prova d'Água", 39, 149),
        ),
        ("Natura", "O Boticário", "Eudora", "L'Oréal", "Nivea", "Avon", "Vult", "Taiff"),
        (),
    ),
    _Category(
        "Saúde",
        4,
        (
            ("Termômetro Digital", 19, 99),
            ("Medidor de Pressão de Pulso", 99, 299),
            ("Oxímetro de Dedo", 59, 199),
            ("Whey Protein 900g", 99, 249),
            ("Creatina 300g", 69, 179),
            ("Vitamina C 1g, 60 comprimidos", 19, 69),
        ),
        ("G-Tech", "Omron", "Max Titanium", "Growth", "Integralmédica"),
        (),
    ),
    _Category(
        "Esporte e Lazer",
        5,
        (
            ("Bicicleta Aro 29 21 Marchas", 999, 3499),
            ("Esteira Elétrica 12km/h", 1999, 4999),
            ("Kit Halteres 20kg", 149, 499),
            ("Tapete de Yoga", 49, 199),
            ("Bola de Futebol de Campo", 59, 299),
            ("Barraca de Camping 4 Pessoas", 199, 899),
        ),
        ("Caloi", "Athletic", "Kikos", "Penalty", "Nautika", "Mormaii", "Topper"),
    ),
    _Category(
        "Brinquedos",
        4,
        (
            ("Boneca Articulada", 59, 249),
            ("Carrinho de Controle Remoto", 99, 499),
            ("Blocos de Montar 500 peças", 99, 699),
            ("Quebra-cabeça 1.000 peças", 49, 149),
            ("Jogo de Tabuleiro", 59, 299),
            ("Pelúcia Urso 40cm", 39, 149),
        ),
        ("Estrela", "Grow", "Mattel", "Hasbro", "LEGO", "Candide"),
    ),
    _Category(
        "Livros",
        5,
        (
            ('Livro "Dom Casmurro" - Machado de Assis', 19, 69),
            ('Livro "Memórias Póstumas de Brás Cubas" - Machado de Assis', 19, 69),
            ('Livro "Grande Sertão: Veredas" - João Guimarães Rosa', 59, 149),
            ('Livro "Vidas Secas" - Graciliano Ramos', 29, 79),
            ('Livro "A Hora da Estrela" - Clarice Lispector', 29, 79),
            ('Livro "Capitães da Areia" - Jorge Amado', 29, 89),
            ('Livro "Torto Arado" - Itamar Vieira Junior', 39, 89),
            ('Livro "O Cortiço" - Aluísio Azevedo', 19, 59),
        ),
        ("",),
        _BOOK_EDITIONS,
        700,
    ),
    _Category(
        "Games",
        5,
        (
            ("Console PlayStation 5 Slim 1TB", 3499, 4499),
            ("Console Xbox Series S 512GB", 2299, 2999),
            ("Console Nintendo Switch OLED", 1999, 2699),
            ("Controle sem Fio DualSense", 349, 499),
            ("Jogo EA Sports FC 25 para PS5", 199, 349),
            ("Cadeira Gamer Reclinável", 599, 1999),
            ("Headset Gamer Surround 7.1", 149, 899),
        ),
        ("",),
    ),
    _Category(
        "Ferramentas",
        3,
        (
            ("Furadeira de Impacto 650W", 199, 599),
            ("Parafusadeira a Bateria 12V", 249, 899),
            ("Jogo de Chaves Combinadas, 12 peças", 79, 299),
            ("Serra Tico-tico 500W", 199, 599),
            ("Trena 5m", 19, 79),
            ("Maleta de Ferramentas 110 peças", 149, 599),
        ),
        ("Bosch", "Makita", "Black+Decker", "Tramontina", "Vonder", "Stanley", "DeWalt"),
        (),
    ),
    _Category(
        "Automotivo",
        3,
        (
            ("Pneu Aro 14 175/65R14", 299, 599),
            ("Óleo Sintético 5W30 1L", 39, 79),
            ('Central Multimídia 7"', 399, 1499),
            ("Câmera de Ré", 79, 299),
            ("Aspirador Automotivo 12V", 59, 199),
            ("Jogo de Tapetes, 4 peças", 49, 199),
        ),
        ("Pirelli", "Michelin", "Goodyear", "Bosch", "Mobil", "Castrol", "Pioneer"),
        (),
    ),
    _Category(
        "Pet Shop",
        4,
        (
            ("Ração Cães Adultos 15kg", 149, 399),
            ("Ração Gatos Castrados 10,1kg", 159, 449),
            ("Areia Sanitária 4kg", 19, 59),
            ("Arranhador para Gatos", 79, 399),
            ("Cama Pet Média", 69, 249),
            ("Coleira Antipulgas", 99, 299),
        ),
        ("Golden", "Premier", "Pedigree", "Whiskas", "Royal Canin", "Pipicat", "Seresto"),
        (),
    ),
    _Category(
        "Papelaria",
        3,
        (
            ("Caderno Universitário 10 Matérias", 29, 79),
            ("Caneta Esferográfica, Caixa com 50", 39, 99),
            ("Mochila Escolar", 79, 299),
            ("Kit Marca-texto 6 Cores", 19, 59),
        ),
        ("Tilibra", "Faber-Castell", "BIC", "Stabilo", "Jandaia", "Foroni"),
    ),
    _Category(
        "Alimentos e Bebidas",
        4,
        (
            ("Café em Grãos 1kg", 49, 149),
            ("Cápsulas de Café, 10 un.", 19, 39),
            ("Azeite Extra Virgem 500ml", 29, 89),
            ("Chocolate ao Leite 1kg", 49, 119),
            ("Vinho Tinto Malbec 750ml", 49, 299),
        ),
        ("Três Corações", "Melitta", "Nescafé Dolce Gusto", "Gallo", "Andorinha", "Lacta"),
        (),
    ),
    _Category(
        "Bebês",
        4,
        (
            ("Fralda Descartável G, 80 un.", 69, 159),
            ("Carrinho de Bebê Travel System", 699, 2999),
            ("Cadeirinha para Auto", 399, 1499),
            ("Kit Mamadeiras", 59, 199),
            ("Lenço Umedecido, 4 pacotes", 29, 69),
            ("Berço Portátil", 299, 899),
        ),
        ("Pampers", "Huggies", "MamyPoko", "Burigotto", "Galzerano", "Chicco", "Philips Avent"),
        (),
    ),
)

# Price endings in cents: R$ 99,90 is more common than R$ 99,99 or a round R$ 99,00.
_PRICE_ENDINGS: tuple[tuple[int, int], ...] = ((90, 60), (99, 25), (0, 10), (49, 5))

# Per-order distributions (relative weights).
_QUANTITY_WEIGHTS = (700, 170, 60, 30, 20, 8, 4, 3, 2, 3)  # quantidade 1..10
_PAYMENT_WEIGHTS = (40, 36, 9, 10, 5)  # in the order of PAYMENT_METHODS
# Status by payment: an unpaid boleto is common, a delivered one less so.
_STATUS_WEIGHTS = (15, 45, 80, 760, 60, 40)  # in the order of ORDER_STATUSES
_STATUS_WEIGHTS_BOLETO = (150, 40, 70, 620, 100, 20)
# avaliacao: empty, then 1..5 stars.
_RATING_WEIGHTS = (RATING_EMPTY_PER_MILLE, 45, 45, 90, 225, 495)
_DISCOUNT_KIND_WEIGHTS = (70, 20, 10)  # none, percentage, fixed coupon
_DISCOUNT_PERCENTS = (5, 10, 15, 20)
_COUPONS_CENTS = (1_000, 2_000, 5_000)  # a coupon needs an order of twice its value
_GIFT_PER_MILLE = 60
_GIFT_PER_MILLE_DECEMBER = 250


# ----------------------------------------------------------------------------------------------
# Random draws: integer arithmetic on the raw PCG64 stream, identical on every platform.
# ----------------------------------------------------------------------------------------------
class _Rand:
    """Uniform and weighted integer draws, computed from raw 64-bit PCG64 outputs."""

    def __init__(self, seed: int) -> None:
        self._bits = np.random.PCG64(np.random.SeedSequence(seed))

    @property
    def state(self) -> dict[str, Any]:
        """Where the stream stands (to resume it later with the setter)."""
        return dict(self._bits.state)

    @state.setter
    def state(self, value: dict[str, Any]) -> None:
        self._bits.state = value  # type: ignore[assignment]

    def below(self, n: int, k: int | np.ndarray) -> np.ndarray:
        """``n`` integers in ``[0, k)`` (``k`` < 2**32, a scalar or one bound per draw).

        Multiply-shift on the top 32 bits of each draw: the bias is below k / 2**32.
        """
        top = self._bits.random_raw(n) >> np.uint64(32)
        return ((top * np.asarray(k, dtype=np.uint64)) >> np.uint64(32)).astype(np.int64)

    def chance(self, n: int, per_mille: int | np.ndarray) -> np.ndarray:
        """``n`` booleans, each true with probability ``per_mille / 1000``."""
        return self.below(n, 1000) < per_mille

    def pick(self, n: int, cum_weights: np.ndarray) -> np.ndarray:
        """``n`` indices drawn with the weights whose running sum is ``cum_weights``."""
        return np.searchsorted(cum_weights, self.below(n, int(cum_weights[-1])), side="right")


def _cum(weights: Sequence[int]) -> np.ndarray:
    return np.cumsum(np.asarray(weights, dtype=np.int64))


# ----------------------------------------------------------------------------------------------
# Bulk text formatting from lookup tables.
# ----------------------------------------------------------------------------------------------
def _csv_field(text: str) -> str:
    """``text`` as one CSV field: quoted (with ``""`` for ``"``) when it holds , or "."""
    if "," in text or '"' in text or "\n" in text or "\r" in text:
        return '"' + text.replace('"', '""') + '"'
    return text


def _ascii_lower(text: str) -> str:
    """``"Conceição"`` -> ``"conceicao"``: accents dropped, for e-mail addresses."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


def _objects(items: Sequence[object]) -> np.ndarray:
    """A 1-d object array (numpy would otherwise turn equal-length bytes into ``S``)."""
    out = np.empty(len(items), dtype=object)
    out[:] = list(items)
    return out


@cache
def _int_low() -> np.ndarray:
    """Spellings of ``v % 10000`` for integers: plain (``b"7"``), then padded (``b"0007"``)."""
    return _objects([b"%d" % v for v in range(10_000)] + [b"%04d" % v for v in range(10_000)])


@cache
def _cents_low() -> np.ndarray:
    """Spellings of ``v % 10000`` for cents: plain (``b"3.05"``), then padded (``b"03.05"``)."""
    plain = [b"%d.%02d" % divmod(v, 100) for v in range(10_000)]
    return _objects(plain + [b"%02d.%02d" % divmod(v, 100) for v in range(10_000)])


def _format_split(values: np.ndarray, low: np.ndarray) -> np.ndarray:
    """Spell non-negative ints as bytes: table lookups for ``v // 10000`` and ``v % 10000``.

    ``low`` holds the 10000 spellings of the low part without leading zeros (used when
    there is no high part), then the 10000 zero-padded ones.
    """
    high = values // 10_000
    top = int(high.max()) if len(high) else 0
    high_text = _objects([b""] + [b"%d" % v for v in range(1, top + 1)])
    return high_text[high] + low[values % 10_000 + 10_000 * (high > 0)]


def _format_ints(values: np.ndarray) -> np.ndarray:
    """``[1234567, 5]`` -> ``[b"1234567", b"5"]`` (object array of bytes)."""
    return _format_split(values, _int_low())


def _format_cents(cents: np.ndarray) -> np.ndarray:
    """``[123456, 5]`` -> ``[b"1234.56", b"0.05"]``: money with exactly two decimals."""
    return _format_split(cents, _cents_low())


# ----------------------------------------------------------------------------------------------
# The fixed tables: calendar, customer pool, product catalogue, order tails.
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Calendar:
    text: np.ndarray  # b"2020-01-01" ... per day index
    month: np.ndarray  # 1..12 per day index
    cum_weights: np.ndarray  # how many orders each day gets, relatively


@cache
def _calendar() -> _Calendar:
    """Every day of the order period, weighted by yearly growth and the shopping calendar."""
    ndays = (LAST_DATE - FIRST_DATE).days + 1
    days = [FIRST_DATE + _dt.timedelta(days=i) for i in range(ndays)]
    growth = {2020: 10, 2021: 12, 2022: 13, 2023: 14, 2024: 16}
    weights = []
    for d in days:
        w = growth.get(d.year, 16) * (14 if d.month in (11, 12) else 10)
        if d.month == 11 and d.weekday() == 4 and 22 <= d.day <= 28:
            w *= 5  # Black Friday: the fourth Friday of November
        weights.append(w)
    return _Calendar(
        text=_objects([d.isoformat().encode() for d in days]),
        month=np.array([d.month for d in days], dtype=np.int8),
        cum_weights=_cum(weights),
    )


@dataclass(frozen=True)
class _Customers:
    text: np.ndarray  # b"cliente_id,cliente_nome,cliente_email,cliente_cidade,cliente_estado"
    uf: np.ndarray  # index into UFS
    prime: np.ndarray  # bool: Prime members ship free


def _customers(rand: _Rand, n: int = N_CUSTOMERS) -> _Customers:
    """A pool of ``n`` customers with consistent names, e-mails, cities and states."""
    first = _objects(_FIRST_NAMES)
    nick = _objects([_NICKNAMES.get(f, "") for f in _FIRST_NAMES])
    sur = _objects(_SURNAMES)
    sur_last = _objects([s.split()[-1] for s in _SURNAMES])  # "dos Santos" -> "Santos"
    first_mail = _objects([_ascii_lower(f.split()[0]) for f in _FIRST_NAMES])
    sur_mail = _objects([_ascii_lower(s.split()[-1]) for s in _SURNAMES])

    ids = 10_000 + np.cumsum(1 + rand.below(n, 150))
    f = rand.below(n, len(first))
    s1 = rand.below(n, len(sur))
    s2 = rand.below(n, len(sur))
    form = rand.pick(n, _cum(_NAME_FORM_WEIGHTS))
    form[(form == 3) & (nick[f] == "")] = 1  # no nickname known: use the full name
    city = rand.pick(n, _cum([w for _, _, w in _CITIES]))
    prime = rand.chance(n, _PRIME_PER_MILLE)
    sep = rand.below(n, len(_EMAIL_SEPARATORS))
    # e-mail suffix: none, 1..99 or a birth year 1960..2006
    suffixes = _objects(
        [""] + [str(i) for i in range(1, 100)] + [str(y) for y in range(1960, 2007)]
    )
    suffix = np.where(rand.chance(n, 500), rand.below(n, len(suffixes)), 0)
    domain = rand.pick(n, _cum([w for _, w in _EMAIL_DOMAINS]))

    # Build the four spellings for everyone, then keep each customer's own.
    spellings = np.stack(
        [
            first[f] + " " + sur[s2],
            first[f] + " " + sur[s1] + " " + sur[s2],
            sur_last[s2] + ", " + first[f] + " " + sur[s1],
            first[f] + ' "' + nick[f] + '" ' + sur[s2],
        ]
    )
    names = spellings[form, np.arange(n)]
    emails = (
        first_mail[f]
        + _objects(_EMAIL_SEPARATORS)[sep]
        + sur_mail[s2]
        + suffixes[suffix]
        + "@"
        + _objects([d for d, _ in _EMAIL_DOMAINS])[domain]
    )
    city_text = _objects([f"{_csv_field(c)},{uf}" for c, uf, _ in _CITIES])
    rows = ids.astype(str).astype(object) + "," + _objects(list(map(_csv_field, names)))
    rows = rows + "," + emails + "," + city_text[city]
    uf_of_city = np.array([UFS.index(uf) for _, uf, _ in _CITIES])
    return _Customers(text=_objects([r.encode() for r in rows]), uf=uf_of_city[city], prime=prime)


@dataclass(frozen=True)
class _Products:
    text: np.ndarray  # b"produto_id,produto_nome,categoria"
    price_text: np.ndarray  # b"1234.90"
    price_cents: np.ndarray  # int64


def _products(rand: _Rand, n: int = N_PRODUCTS) -> _Products:
    """A catalogue of ``n`` products: item, brand and variant, with a price in cents."""
    items = [it for c in _CATALOG for it in c.items]
    brands = [b for c in _CATALOG for b in c.brands]
    variants = [""] + [v for c in _CATALOG for v in c.variants]  # 0: no variant

    def starts(sizes: list[int], first: int = 0) -> np.ndarray:
        return first + np.concatenate([[0], np.cumsum(sizes[:-1])]).astype(np.int64)

    item_n = np.array([len(c.items) for c in _CATALOG])
    brand_n = np.array([len(c.brands) for c in _CATALOG])
    variant_n = np.array([len(c.variants) for c in _CATALOG])
    item0, brand0 = starts(list(item_n)), starts(list(brand_n))
    variant0 = starts(list(variant_n), 1)

    ids = 100_000 + np.cumsum(1 + rand.below(n, 40))
    cat = rand.pick(n, _cum([c.weight for c in _CATALOG]))
    item = item0[cat] + rand.below(n, item_n[cat])
    brand = brand0[cat] + rand.below(n, brand_n[cat])
    has_variant = rand.chance(n, np.array([c.variant_per_mille for c in _CATALOG])[cat])
    has_variant &= variant_n[cat] > 0
    variant = np.where(has_variant, variant0[cat] + rand.below(n, np.maximum(variant_n[cat], 1)), 0)

    # Price: reais between the item's bounds, skewed to the cheap end (minimum of two draws).
    low = np.array([lo for _, lo, _ in items])[item]
    span = np.array([hi - lo + 1 for _, lo, hi in items])[item]
    reais = low + np.minimum(rand.below(n, span), rand.below(n, span))
    ending = np.array([e for e, _ in _PRICE_ENDINGS])[
        rand.pick(n, _cum([w for _, w in _PRICE_ENDINGS]))
    ]
    cents = reais * 100 + ending

    # The brand goes before any comma of the item: "Vitamina C 1g Growth, 60 comprimidos".
    heads, commas, tails = zip(*(name.partition(", ") for name, _, _ in items), strict=True)
    head_text = _objects(heads)
    tail_text = _objects([c + t for c, t in zip(commas, tails, strict=True)])
    brand_text = _objects([" " + b if b else "" for b in brands])
    variant_text = _objects([", " + v if v else "" for v in variants])
    names = head_text[item] + brand_text[brand] + tail_text[item] + variant_text[variant]
    cat_text = _objects([_csv_field(c.name) for c in _CATALOG])
    rows = ids.astype(str).astype(object) + "," + _objects(list(map(_csv_field, names)))
    rows = rows + "," + cat_text[cat]
    return _Products(
        text=_objects([r.encode() for r in rows]),
        price_text=_format_cents(cents),
        price_cents=cents,
    )


_N_STATUS = len(ORDER_STATUSES)
_N_RATING = len(_RATING_WEIGHTS)


@cache
def _tails() -> np.ndarray:
    """Every ending of a row, from metodo_pagamento to avaliacao, with its line feed.

    Index: ``(((pay * statuses + status) * 2 + prime) * 2 + gift) * ratings + rating``.
    """
    out = []
    for pay in PAYMENT_METHODS:
        for status in ORDER_STATUSES:
            for prime in ("false", "true"):
                for gift in ("false", "true"):
                    for rating in ["", "1", "2", "3", "4", "5"]:
                        out.append(f"{pay},{status},{prime},{gift},{rating}\n".encode())
    return _objects(out)


# ----------------------------------------------------------------------------------------------
# The orders.
# ----------------------------------------------------------------------------------------------
@lru_cache(maxsize=2)
def _pools(seed: int) -> tuple[_Customers, _Products, dict[str, Any]]:
    """The customers and products of a seed, and the random state right after drawing them.

    Cached (they take a good part of the time for small files); never modified.
    """
    rand = _Rand(seed)
    customers = _customers(rand)
    products = _products(rand)
    return customers, products, rand.state


class _OrderWriter:
    """Generates the orders of one seed, chunk after chunk."""

    def __init__(self, seed: int) -> None:
        self.customers, self.products, state = _pools(seed)
        self.rand = _Rand(seed)
        self.rand.state = state
        self.calendar = _calendar()
        self.next_id = 1_000_000
        self.frete_base = np.array([_FRETE_BASE_BY_UF[uf] for uf in UFS], dtype=np.int64)
        self.cum_quantity = _cum(_QUANTITY_WEIGHTS)
        self.cum_payment = _cum(_PAYMENT_WEIGHTS)
        self.cum_status = _cum(_STATUS_WEIGHTS)
        self.cum_status_boleto = _cum(_STATUS_WEIGHTS_BOLETO)
        self.cum_rating = _cum(_RATING_WEIGHTS)
        self.cum_discount = _cum(_DISCOUNT_KIND_WEIGHTS)
        self.quantity_text = _objects([b"%d" % q for q in range(1, len(_QUANTITY_WEIGHTS) + 1)])

    def chunk(self, n: int) -> bytes:
        """The next ``n`` rows (``n <= CHUNK_ROWS``) as CSV text, each ending in a line feed.

        The draws are always made for a whole chunk and the first ``n`` rows kept, so a
        file is the beginning of every longer file of the same seed.
        """
        r, m = self.rand, CHUNK_ROWS
        # Order ids increase, with the odd gap (orders abandoned before checkout).
        gaps = 1 + np.where(r.chance(m, 50), r.below(m, 5), 0)
        ids = self.next_id + np.cumsum(gaps)
        self.next_id = int(ids[n - 1])
        day = r.pick(m, self.calendar.cum_weights)
        # Popular customers and products come back often: minimum of two uniform draws.
        cust = np.minimum(r.below(m, N_CUSTOMERS), r.below(m, N_CUSTOMERS))
        prod = np.minimum(r.below(m, N_PRODUCTS), r.below(m, N_PRODUCTS))
        qty = r.pick(m, self.cum_quantity)  # quantidade - 1

        # Money, all in integer cents: valor_total = preco * quantidade - desconto + frete.
        subtotal = self.products.price_cents[prod] * (qty + 1)
        kind = r.pick(m, self.cum_discount)
        percent = np.asarray(_DISCOUNT_PERCENTS)[r.below(m, len(_DISCOUNT_PERCENTS))]
        coupon = np.asarray(_COUPONS_CENTS)[r.below(m, len(_COUPONS_CENTS))]
        desconto = np.where(kind == 1, subtotal * percent // 100, 0)
        desconto = np.where((kind == 2) & (subtotal >= 2 * coupon), coupon, desconto)
        prime = self.customers.prime[cust]
        free = prime | (subtotal >= FREE_SHIPPING_FROM_CENTS)
        frete = np.where(free, 0, self.frete_base[self.customers.uf[cust]] + 100 * r.below(m, 26))
        total = subtotal - desconto + frete

        pay = r.pick(m, self.cum_payment)
        u = r.below(m, int(self.cum_status[-1]))
        status = np.where(
            pay == PAYMENT_METHODS.index("boleto"),
            np.searchsorted(self.cum_status_boleto, u, side="right"),
            np.searchsorted(self.cum_status, u, side="right"),
        )
        december = self.calendar.month[day] == 12
        gift = r.chance(m, np.where(december, _GIFT_PER_MILLE_DECEMBER, _GIFT_PER_MILLE))
        rating = r.pick(m, self.cum_rating)  # 0: empty
        tail = (((pay * _N_STATUS + status) * 2 + prime) * 2 + gift) * _N_RATING + rating

        ids, day, cust, prod, qty, desconto, frete, total, tail = (
            a[:n] for a in (ids, day, cust, prod, qty, desconto, frete, total, tail)
        )
        columns = (
            _format_ints(ids),  # pedido_id
            self.calendar.text[day],  # data_pedido
            self.customers.text[cust],  # cliente_id .. cliente_estado
            self.products.text[prod],  # produto_id, produto_nome, categoria
            self.products.price_text[prod],  # preco
            self.quantity_text[qty],  # quantidade
            _format_cents(desconto),
            _format_cents(frete),
            _format_cents(total),  # valor_total
            _tails()[tail],  # metodo_pagamento .. avaliacao + "\n"
        )
        return b"".join(map(b",".join, zip(*(c.tolist() for c in columns), strict=True)))


HEADER: bytes = (",".join(COLUMNS) + "\n").encode()


def _count(value: int, what: str) -> int:
    try:
        n = operator.index(value)
    except TypeError:
        raise TypeError(f"{what} must be an int, got {type(value).__name__}") from None
    if n < 0:
        raise ValueError(f"{what} must be >= 0, got {n}")
    return n


def _write_orders(out: BinaryIO, rows: int, seed: int) -> int:
    if isinstance(out, io.TextIOBase):
        raise TypeError("generate_orders needs a binary file (open it with 'wb')")
    writer = _OrderWriter(seed)
    out.write(HEADER)
    written = len(HEADER)
    for start in range(0, rows, CHUNK_ROWS):
        block = writer.chunk(min(CHUNK_ROWS, rows - start))
        out.write(block)
        written += len(block)
    return written


def generate_orders(
    path_or_file: str | os.PathLike[str] | BinaryIO, rows: int, seed: int = 0
) -> int:
    """Write ``rows`` e-commerce orders as CSV (header, UTF-8, LF, comma); return bytes written.

    ``path_or_file`` is a path (the file is created or replaced) or a binary file object,
    written from its current position and left open.  The same ``seed`` always gives the
    same bytes; about 200 bytes per row.
    """
    rows = _count(rows, "rows")
    seed = _count(seed, "seed")
    if hasattr(path_or_file, "write"):
        return _write_orders(path_or_file, rows, seed)  # type: ignore[arg-type]
    with open(os.fspath(path_or_file), "wb") as out:  # type: ignore[arg-type]
        return _write_orders(out, rows, seed)


def generate_orders_bytes(rows: int, seed: int = 0) -> bytes:
    """The CSV text of :func:`generate_orders` in memory (for small ``rows``)."""
    buf = io.BytesIO()
    generate_orders(buf, rows, seed)
    return buf.getvalue()


def demo_schema() -> Schema:
    """The schema of the orders CSV, from the package data file ``data/orders_schema.json``."""
    data = resources.files("fastetl").joinpath("data").joinpath("orders_schema.json")
    return Schema.from_json(data.read_text(encoding="utf-8"))


def str_width_bounds() -> dict[str, int]:
    """The longest value, in UTF-8 bytes, that each ``str`` column of the data can hold.

    Computed from the vocabulary (the longest part of every slot of every spelling), so it
    bounds the data of every seed; the schema's widths must be at least these.
    """

    def longest(words: Sequence[str]) -> int:
        return max(len(w.encode()) for w in words)

    lf, ls = longest(_FIRST_NAMES), longest(_SURNAMES)
    nick = longest(list(_NICKNAMES.values()))
    name = max(lf + 1 + ls + 1 + ls, ls + 2 + lf + 1 + ls, lf + 2 + nick + 2 + ls)
    email = (
        longest([_ascii_lower(f.split()[0]) for f in _FIRST_NAMES])
        + longest(_EMAIL_SEPARATORS)
        + longest([_ascii_lower(s.split()[-1]) for s in _SURNAMES])
        + 4  # a birth year
        + 1
        + longest([d for d, _ in _EMAIL_DOMAINS])
    )
    product = max(
        longest([name for name, _, _ in c.items])
        + longest([" " + b if b else "" for b in c.brands])
        + longest([", " + v for v in c.variants] or [""])
        for c in _CATALOG
    )
    return {
        "cliente_nome": name,
        "cliente_email": email,
        "cliente_cidade": longest([c for c, _, _ in _CITIES]),
        "produto_nome": product,
    }


__all__ = [
    "COLUMNS",
    "HEADER",
    "ORDER_STATUSES",
    "PAYMENT_METHODS",
    "UFS",
    "demo_schema",
    "generate_orders",
    "generate_orders_bytes",
    "str_width_bounds",
]
