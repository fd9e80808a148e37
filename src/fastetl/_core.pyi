"""Type stubs for the private compiled core (fastetl._core)."""

from collections.abc import Callable
from typing import Any

import numpy as np
from typing_extensions import Buffer

STATUS: dict[str, int]
KINDS: dict[str, int]
FORMAT_MAX: int
SYNTAX: dict[str, int]
BAD_ROW_WIDTH: int
MAX_CATEGORY_VALUE: int
BAD_FIELDS: tuple[str, ...]

_Buf = Buffer | np.ndarray
ParseResult = tuple[int, int, int, int, int, int, int, bool, int, int]

class Parser:
    def __init__(
        self,
        fields: list[dict[str, Any] | None],
        flags: list[dict[str, Any]],
        itemsize: int,
        delimiter: int,  # a syntax word: the delimiter byte and the options above it
        quote: int,
        null_values: list[bytes],
        true_values: list[bytes] | None = None,
        false_values: list[bytes] | None = None,
        ragged_fill: bool = ...,
        trailing: bool = ...,
    ) -> None: ...
    def parse(
        self,
        data: _Buf,
        start: int,
        end: int,
        final: bool,
        out: _Buf,
        out_row: int,
        max_rows: int,
        bad: _Buf | None = ...,
    ) -> ParseResult: ...
    def take_text(self) -> bytes: ...
    def categories(self, field: int, first: int = 0) -> list[bytes]: ...
    def category_count(self, field: int) -> int: ...

def split_row(
    data: _Buf, start: int, end: int, final: bool, delimiter: int, quote: int
) -> tuple[int, list[bytes], int]: ...
def find_row_end(
    data: _Buf, start: int, end: int, final: bool, delimiter: int, quote: int
) -> tuple[int, int, int]: ...
def next_row_start(
    data: _Buf,
    start: int,
    target: int,
    end: int,
    final: bool,
    delimiter: int,
    quote: int,
    lenient: bool = ...,
) -> tuple[int, int]: ...
def row_spans(
    data: _Buf, start: int, end: int, final: bool, delimiter: int, quote: int,
    lenient: bool, bad: _Buf, count: int, out: _Buf,
) -> int: ...
def line_start_after(data: _Buf, pos: int) -> int: ...
def count_lines(data: _Buf, start: int, end: int) -> int: ...
def set_fast_paths(on: bool) -> bool: ...
def find_bytes(data: _Buf, chars: bytes, non_ascii: bool) -> int: ...
def utf8_arrow(raw: _Buf, offsets: _Buf) -> tuple[bytearray, int]: ...
def utf8_objects(raw: _Buf, out: _Buf) -> int: ...
def arrow_decode(
    records: _Buf, itemsize: int, plan: _Buf, outs: list[tuple[Any, Any, Any]], result: _Buf
) -> tuple[int, int]: ...
def parquet_row_groups(
    footer: _Buf, shift: int, first_ordinal: int
) -> tuple[bytes, int, int, tuple[int, int, int, int]]: ...
def xxh64_chunks(data: _Buf, chunk: int, seed: int = 0) -> bytes: ...

# profile folding kernels (_fold.pxi)
def fold_hash_records(data: _Buf, size: int, out: _Buf, stride: int = 0) -> None: ...
def fold_count_keys(keys: _Buf, out_keys: _Buf, out_first: _Buf, out_counts: _Buf) -> int: ...
def fold_count_int64(values: _Buf, limit: int, out_keys: _Buf, out_counts: _Buf) -> int: ...
def fold_text_classes(data: _Buf, size: int, out: _Buf) -> None: ...
def fold_text_facts(data: _Buf, size: int, out_chars: _Buf, out_flags: _Buf) -> None: ...
FOLD_PII_ASK: int
def fold_pii_codes(data: _Buf, size: int, flags: int, out: _Buf) -> None: ...
def fold_mix_words(values: _Buf, out: _Buf) -> None: ...
def fold_hll_add(hashes: _Buf, p: int, registers: _Buf) -> None: ...
def fold_text_gather(text: _Buf, offsets: _Buf, lengths: _Buf, width: int, out: _Buf) -> int: ...
def fold_corr(
    x: _Buf, k: int, shift: _Buf, out_n: _Buf, out_sx: _Buf, out_sxx: _Buf, out_sxy: _Buf
) -> None: ...

CSV_KINDS: dict[str, int]
CSV_BAD_UTF8: int
CSV_BAD_CODE: int
CSV_BAD_CELL: int

def csv_rows(
    records: Any, start: int, stop: int, specs: list[dict[str, Any]], null: bytes,
    out: _Buf, row_max: int, dialect: tuple[bytes, bytes, bytes, bytes, bytes, bool] | None = ...,
    json: bool = ...,
) -> tuple[int, int, int, int]: ...


def text_arrow(text: _Buf, offsets: _Buf, lengths: _Buf, out: _Buf) -> tuple[bytearray, int]: ...
def text_objects(text: _Buf, offsets: _Buf, lengths: _Buf, out: _Buf) -> int: ...

# the pandas drop-in's helpers (_pdframe.pxi)
def blank_beside(buf: _Buf, side: bytes) -> bool: ...
def codes_arrow(
    dict_offsets: _Buf, dict_data: _Buf, codes: _Buf, nulls: _Buf | None, out: _Buf
) -> bytearray: ...

# the sample classifier (_infer.pxi)
def numeric_kind(vals: list[str], decimal: int = ..., thousands: int = ...) -> int: ...
def int_range(vals: list[str]) -> tuple[int, int] | None: ...
def iso_dates(vals: list[str]) -> bool: ...
def column_stats(raw: dict[bytes, int], counts: dict[str, int]) -> tuple[int, bool, list[str]]: ...
def iso_datetimes(vals: list[str]) -> int: ...
def row_shapes(
    data: _Buf, start: int, final: bool, delimiter: int, quote: int, max_rows: int
) -> list[tuple[int, int, int, int]]: ...
def split_spans(
    data: _Buf, start: int, final: bool, delimiter: int, quote: int, max_rows: int,
    lenient: bool = ...,
) -> tuple[list[tuple[int, int, int, int]], int, int]: ...
def utf8_ok(data: _Buf, final: bool) -> bool: ...
def span_summaries(
    segments: list[tuple[_Buf, bool, list[int]]],
    ncols: int,
    delimiter: int,
    quote: int,
    trailing: bool = ...,
    make: Callable[[], dict[str, int]] = ...,
) -> list[tuple[dict[str, int], int, bool, list[str]]]: ...
