"""A file's pieces read by the workers themselves (pipeline._piece_blocks): the cut of
each piece is a guess (the first line start after its first byte), checked when the
pieces meet; whatever the guesses, the rows, their order and every byte written are
what one thread makes of the same bytes in memory."""

from __future__ import annotations

import gzip
import io
import json
import os
import random
import sys

import numpy as np
import pytest

import fastetl
from fastetl import pipeline, sources

SCHEMA = {
    "columns": [
        {"name": "id", "type": "int32"},
        {"name": "note", "type": "text", "nullable": True},
        {"name": "name", "type": "str", "width": 40, "nullable": True},
        {"name": "price", "type": "decimal", "scale": 2},
    ],
}


def make_csv(rows: int, seed: int, *, quoted_breaks: float = 0.0, crlf: bool = False,
             quote_first: bool = False) -> bytes:
    """Rows with quoted fields full of delimiters and doubled quotes, some quoted line
    breaks (a share ``quoted_breaks`` of the rows), every row starting with a quote
    (``quote_first``)."""
    rng = random.Random(seed)
    nl = "\r\n" if crlf else "\n"
    out = ["id,note,name,price"]
    for i in range(rows):
        words = " ".join(rng.choice(["a,b", 'say ""hi""', "x" * rng.randint(1, 60), "é€", ""])
                         for _ in range(rng.randint(0, 6)))
        note = f'"{words}"' if words or rng.random() < 0.5 else ""
        if rng.random() < quoted_breaks:
            note = f'"line one{nl}line two, ""quoted""{nl}"'
        name = rng.choice(['"Ana, Maria"', "Bo", '""', "", '"x""y"'])
        row = f"{i},{note},{name},{rng.randint(-99999, 99999) / 100:.2f}"
        out.append(f'"{i}"' + row[len(str(i)):] if quote_first else row)
    return (nl.join(out) + nl).encode("utf-8")


def reference(data: bytes, **kw):
    """One thread, one block, the bytes in memory: no piece, no guess."""
    return fastetl.read_csv(data, SCHEMA, workers=1, block_size=1 << 30, **kw)


def same(got, ref) -> None:
    assert len(got) == len(ref)
    assert got.array.tobytes() == ref.array.tobytes()
    assert got.to_arrow().equals(ref.to_arrow())


@pytest.fixture
def pieces(monkeypatch):
    """The pieces read, as (their first byte's input offset, the bytes around it)."""
    seen: list[tuple[int, bytes]] = []
    read = pipeline._Piece.read

    def recording(self):
        lo = self.base
        read(self)
        if self.base >= 0:
            at = lo - self.base
            seen.append((lo, bytes(self.data[at - 1 : at + 1])))

    monkeypatch.setattr(pipeline._Piece, "read", recording)
    return seen


@pytest.fixture
def exact_cuts(monkeypatch):
    """How often the rest of a file was read again with exact cuts (a guess found wrong)."""
    calls = []
    stream = pipeline._stream_blocks

    def counting(*args, **kw):
        calls.append(args[3])
        return stream(*args, **kw)

    monkeypatch.setattr(pipeline, "_stream_blocks", counting)
    return calls


@pytest.mark.parametrize("crlf", [False, True], ids=["lf", "crlf"])
def test_quotes_spanning_pieces_give_the_same_bytes(tmp_path, pieces, exact_cuts, crlf):
    data = make_csv(6000, seed=1, crlf=crlf)
    path = tmp_path / "in.csv"
    path.write_bytes(data)
    ref = reference(data)
    for w in (2, 3):
        for bs in (4000, 9999, 65536):
            same(fastetl.read_csv(path, SCHEMA, workers=w, block_size=bs), ref)
    assert len(pieces) > 50  # (the file was read in pieces, not by the calling thread)
    assert not exact_cuts  # (no line break is quoted: every guess was right)


@pytest.mark.parametrize(
    ("kind", "boundary"), [("quote-first", b'\n"'), ("crlf", b"\r\n")], ids=["quote", "crlf"]
)
def test_a_piece_starting_at_a_quote_or_inside_a_crlf(tmp_path, pieces, exact_cuts, kind,
                                                      boundary):
    """Block sizes one byte apart: some piece starts at a row's opening quote, or at the
    LF of a CRLF (the piece before it ends on the CR)."""
    data = make_csv(4000, seed=2, quote_first=kind == "quote-first", crlf=kind == "crlf")
    path = tmp_path / "in.csv"
    path.write_bytes(data)
    ref = reference(data)
    for bs in range(5000, 5040):
        same(fastetl.read_csv(path, SCHEMA, workers=2, block_size=bs), ref)
    assert any(around == boundary for _, around in pieces)  # (the case did come)
    assert not exact_cuts


@pytest.mark.parametrize("share", [0.001, 0.3])
def test_quoted_line_breaks_at_cuts_give_the_same_bytes(tmp_path, exact_cuts, share):
    """A cut inside a quoted field: the guess is found wrong where the pieces meet, and the
    rest is read again with exact cuts.  Rare quoted line breaks (0.001): the block sizes
    swept until some cut falls inside one (and others do not)."""
    data = make_csv(8000, seed=4, quoted_breaks=share)
    path = tmp_path / "in.csv"
    path.write_bytes(data)
    ref = reference(data)
    sizes = [(w, bs) for w in (2, 3) for bs in (3000, 20000)]
    if share < 0.01:
        sizes += [(2, bs) for bs in range(3001, 3121)]
    fell_back = []
    for w, bs in sizes:
        del exact_cuts[:]
        same(fastetl.read_csv(path, SCHEMA, workers=w, block_size=bs), ref)
        fell_back.append(bool(exact_cuts))
        if bs in (3000, 20000):
            out = tmp_path / f"o{w}{bs}.npy"
            fastetl.convert(path, out, SCHEMA, workers=w, block_size=bs, hash=False)
            assert fastetl.open(out).to_arrow().equals(ref.to_arrow())
    if share < 0.01:
        assert any(fell_back) and not all(fell_back)
    else:
        assert all(fell_back)


def test_a_long_row_past_a_piece_and_its_slack(tmp_path, pieces, exact_cuts):
    """A row longer than several pieces: the piece it starts in reads on to its end, the
    pieces within it hold no row (nothing to commit), and no guess is found wrong."""
    data = make_csv(3000, seed=5)
    lines = data.split(b"\n")
    lines[1500] = b'1500,"' + b"y," * (200 << 10) + b'",z,1.00'  # 400 KB: past any slack
    data = b"\n".join(lines)
    path = tmp_path / "in.csv"
    path.write_bytes(data)
    ref = reference(data)
    for bs in (4096, 70000):
        del pieces[:]
        same(fastetl.read_csv(path, SCHEMA, workers=2, block_size=bs), ref)
        assert len(pieces) > len(data) // bs // 2  # (read in pieces, the long row's too)
    assert not exact_cuts


@pytest.mark.parametrize("change", ["grow", "shrink"])
@pytest.mark.parametrize("last", [b"", b"12345,abc,Bo,1.00"], ids=["ended", "unended"])
def test_a_file_changing_while_its_pieces_are_read(tmp_path, monkeypatch, change, last):
    """The file grows or shrinks between two pieces' reads: as on the path that reads in
    order, a file that shrank is a one-line InputError, and one that grew keeps the rows
    it had when opened but a last line with no line break (it was being written)."""
    data = make_csv(20000, seed=3)
    path = tmp_path / "in.csv"
    reads = []
    read = pipeline._Piece.read

    def changing(self):
        reads.append(self.hi)
        if len(reads) == 5:
            if change == "shrink":
                with open(path, "r+b") as f:
                    f.truncate(len(data) // 2)
            else:
                with open(path, "ab") as f:
                    f.write(b"99999,torn")
        return read(self)

    monkeypatch.setattr(pipeline._Piece, "read", changing)
    for how in ("read_csv", "convert"):
        path.write_bytes(data + last)
        del reads[:]
        out = tmp_path / "out.npy"

        def run():
            if how == "read_csv":
                return fastetl.read_csv(path, SCHEMA, workers=2, block_size=20000)
            fastetl.convert(path, out, SCHEMA, workers=2, block_size=20000, hash=False)
            return fastetl.open(out)

        if change == "shrink":
            with pytest.raises(fastetl.InputError) as e:
                run()
            assert str(e.value).startswith(f"{path} shrank while it was read")
            assert "\n" not in str(e.value)
        else:
            got = run()
            ref = reference(data)  # (a last line with no line break is left out: it grew)
            assert got.to_arrow().equals(ref.to_arrow())
        assert len(reads) >= 5  # (it changed while the pieces were read)


def test_without_positional_reads(tmp_path, monkeypatch, pieces):
    """Where the OS has no pread (Windows): the pieces are read one at a time."""
    monkeypatch.setattr(sources, "_PREADV", None)
    data = make_csv(5000, seed=6)
    path = tmp_path / "in.csv"
    path.write_bytes(data)
    ref = reference(data)
    for w in (2, 3):
        same(fastetl.read_csv(path, SCHEMA, workers=w, block_size=7000), ref)
    assert pieces


@pytest.mark.skipif(sources._PREADV is None, reason="no positional reads on this OS")
def test_positional_reads_in_capped_calls(tmp_path, monkeypatch, pieces):
    """A read by position asks the OS for at most ``_PREAD_MAX`` bytes a call (macOS
    refuses more than INT_MAX): capped at a few bytes, the pieces (quoted path) and the
    plain path read the same rows as one thread from memory."""
    monkeypatch.setattr(sources, "_PREAD_MAX", 7)
    calls = []
    preadv = os.preadv

    def counting(fd, bufs, offset):
        calls.append(sum(len(b) for b in bufs))
        return preadv(fd, bufs, offset)

    monkeypatch.setattr(os, "preadv", counting)
    data = make_csv(3000, seed=8)
    plain = b"id,note,name,price\n" + b"".join(  # (no quote: the plain path)
        b"%d,note %d,Bo,%d.%02d\n" % (i, i * 7, i, i % 100) for i in range(3000))
    for body in (data, plain):
        path = tmp_path / "in.csv"
        path.write_bytes(body)
        del calls[:]
        same(fastetl.read_csv(path, SCHEMA, workers=2, block_size=9000), reference(body))
        assert calls and max(calls) <= 7
    assert pieces


@pytest.mark.parametrize("crlf", [False, True], ids=["lf", "crlf"])
@pytest.mark.parametrize("where", ["end", "middle", "last-row-no-newline"])
def test_errors_are_the_same_parse_error(tmp_path, where, crlf):
    data = make_csv(5000, seed=7)
    if where == "end":  # an unterminated quote at the end of the file
        data += b'5000,"never closed,Bo,1.00\n'
    elif where == "middle":
        lines = data.split(b"\n")
        lines[3500] = b'3499,"ab"c,Bo,1.00'
        data = b"\n".join(lines)
    else:
        data = data.rstrip(b"\n") + b"\n5000,abc,Bo,x"
    if crlf:
        data = data.replace(b"\n", b"\r\n")
    path = tmp_path / "bad.csv"
    path.write_bytes(data)
    with pytest.raises(fastetl.ParseError) as ref:
        reference(data)
    r = ref.value
    for w in (2, 3):
        for bs in (3000, 20000):
            with pytest.raises(fastetl.ParseError) as got:
                fastetl.read_csv(path, SCHEMA, workers=w, block_size=bs)
            e = got.value
            assert (str(e), e.line, e.column, e.offset, e.row) == (
                str(r), r.line, r.column, r.offset, r.row,
            ), (w, bs)


@pytest.mark.parametrize("crlf", [False, True], ids=["lf", "crlf"])
def test_bad_rows_rejected_are_the_same(tmp_path, crlf):
    """Under reject the workers count each piece's lines: the same rows, and the same
    rejected rows with the same line numbers."""
    data = make_csv(6000, seed=8, quoted_breaks=0.0005, crlf=crlf)
    nl = b"\r\n" if crlf else b"\n"
    lines = data.split(nl)
    for i in range(100, 6000, 397):
        lines[i] = lines[i] + b",extra"
    data = nl.join(lines)
    path = tmp_path / "in.csv"
    path.write_bytes(data)
    ref_out, ref_rej = tmp_path / "ref.npy", tmp_path / "ref.rej.csv"
    fastetl.convert(io.BytesIO(data), ref_out, SCHEMA, workers=1, block_size=1 << 30,
                    on_error="reject", rejects=ref_rej)
    for bs in (3000, 20000):
        out, rej = tmp_path / f"o{bs}.npy", tmp_path / f"o{bs}.rej.csv"
        fastetl.convert(path, out, SCHEMA, workers=2, block_size=bs, on_error="reject",
                        rejects=rej, hash=False)
        # (the .npy files end with a trailer of their own run: the records are compared)
        assert np.load(out).tobytes() == np.load(ref_out).tobytes()
        assert fastetl.open(out).to_arrow().equals(fastetl.open(ref_out).to_arrow())
        assert rej.read_bytes() == ref_rej.read_bytes()
        described = [_rejects(rej), _rejects(ref_rej)]
        assert described[0] == described[1] and len(described[0]) == 15


def _rejects(path):
    """The rejected rows as described beside them (line numbers, offsets, reasons)."""
    return json.loads(path.with_name(path.name + ".json").read_text())["rejects"]


def test_small_files_and_inputs_not_read_by_position(tmp_path, monkeypatch, pieces):
    """A file smaller than two pieces, compressed input and file objects: no pieces."""
    small = make_csv(50, seed=9)
    path = tmp_path / "small.csv"
    path.write_bytes(small)
    same(fastetl.read_csv(path, SCHEMA, workers=2, block_size=1000), reference(small))
    data = make_csv(4000, seed=10)
    ref = reference(data)
    gz = tmp_path / "in.csv.gz"
    gz.write_bytes(gzip.compress(data))
    same(fastetl.read_csv(gz, SCHEMA, workers=2, block_size=5000), ref)
    same(fastetl.read_csv(io.BytesIO(data), SCHEMA, workers=2, block_size=5000), ref)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    same(fastetl.read_csv("-", SCHEMA, workers=2, block_size=5000), ref)
    assert not pieces
