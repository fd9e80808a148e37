"""Type stubs for the private compiled core (fastetl._core)."""

from typing import Any

from typing_extensions import Buffer

STATUS: dict[str, int]
KINDS: dict[str, int]
FORMAT_MAX: int

ParseResult = tuple[int, int, int, int, int, int, int, bool, int]

class Parser:
    def __init__(
        self,
        fields: list[dict[str, Any] | None],
        flags: list[dict[str, Any]],
        itemsize: int,
        delimiter: int,
        quote: int,
        null_values: list[bytes],
    ) -> None: ...
    def parse(
        self,
        data: Buffer,
        start: int,
        end: int,
        final: bool,
        out: Buffer,
        out_row: int,
        max_rows: int,
    ) -> ParseResult: ...
    def categories(self, field: int) -> list[bytes]: ...

def split_row(
    data: Buffer, start: int, end: int, final: bool, delimiter: int, quote: int
) -> tuple[int, list[bytes], int]: ...
def find_row_end(
    data: Buffer, start: int, end: int, final: bool, delimiter: int, quote: int
) -> tuple[int, int, int]: ...
def count_lines(data: Buffer, start: int, end: int) -> int: ...
