"""The fuzz target's oracles, run without atheris: over the seed corpus, over
random inputs and over random mutations of the seeds (as libFuzzer would make).

This keeps the target and its corpus working between fuzzing sessions, and lets
scripts/sanitize.sh run the oracles against the AddressSanitizer build.
Run: ``python -m pytest fuzz`` (set FASTETL_FUZZ=10 for ten times the inputs).
"""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

import fuzz_core  # noqa: E402

CORPUS = sorted((HERE / "corpus").iterdir())
SCALE = float(os.environ.get("FASTETL_FUZZ", "1"))


@pytest.mark.parametrize("path", CORPUS, ids=[p.name for p in CORPUS])
def test_seed_corpus_passes_every_oracle(path: Path) -> None:
    fuzz_core.check(path.read_bytes())


def test_random_inputs_pass_every_oracle() -> None:
    rng = random.Random(20240611)
    for _ in range(max(1, int(150 * SCALE))):
        data = rng.randbytes(rng.randrange(1, 500))
        fuzz_core.check(data)


def _mutate(rng: random.Random, data: bytes) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        what = rng.randrange(3)
        at = rng.randrange(len(b) + 1)
        if what == 0 and b:
            b[min(at, len(b) - 1)] = rng.randrange(256)
        elif what == 1:
            b[at:at] = rng.randbytes(rng.randint(1, 8))
        elif b:
            del b[at : at + rng.randint(1, 8)]
    return bytes(b)


def test_mutated_seeds_pass_every_oracle() -> None:
    rng = random.Random(7)
    seeds = [p.read_bytes() for p in CORPUS]
    for _ in range(max(1, int(150 * SCALE))):
        fuzz_core.check(_mutate(rng, rng.choice(seeds)))


def test_inputs_reach_every_column_type_and_dialect_feature() -> None:
    """The decoder is not degenerate: plain random bytes reach every type and option."""
    rng = random.Random(1)
    types, delims, quotes, headers, flags = set(), set(), set(), set(), 0
    for _ in range(3000):
        r = fuzz_core.Reader(rng.randbytes(64))
        try:
            schema, _, _ = fuzz_core._schema(r)
        except fuzz_core.FastETLError:
            continue
        types |= {c.type for c in schema.columns}
        delims.add(schema.dialect.delimiter)
        quotes.add(schema.dialect.quote)
        headers.add(schema.dialect.header)
        flags += bool(schema.flags)
    assert types == set(fuzz_core.TYPES)
    assert delims == {",", ";", "\t", "|", " ", "a"}
    assert quotes == {'"', "'", None}
    assert headers == {True, False}
    assert flags > 100
