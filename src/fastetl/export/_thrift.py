"""Thrift's compact protocol, just enough to rewrite a Parquet footer.

A Parquet file ends with its ``FileMetaData``, a Thrift struct in the compact protocol
(https://github.com/apache/thrift/blob/master/doc/specs/thrift-compact-protocol.md).
:func:`decode` reads a struct into a list of ``[field id, type, value]`` (nested structs,
lists and maps the same way, every value kept as read) and :func:`encode` writes it back:
``encode(decode(b)) == b`` for what Arrow's writer produces, so the fields a caller does
not touch come out exactly as they went in.
"""

from __future__ import annotations

from typing import Any

STOP, TRUE, FALSE, BYTE, I16, I32, I64, DOUBLE, BINARY, LIST, SET, MAP, STRUCT = range(13)

Struct = list  # of [field id, type, value]


class ThriftError(ValueError):
    """Bytes that are not a compact-protocol struct."""


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = memoryview(data)
        self.pos = 0

    def byte(self) -> int:
        if self.pos >= len(self.data):
            raise ThriftError("the struct ends before its STOP")
        b = self.data[self.pos]
        self.pos += 1
        return int(b)

    def varint(self) -> int:
        out = shift = 0
        while True:
            b = self.byte()
            out |= (b & 0x7F) << shift
            if not b & 0x80:
                return out
            shift += 7
            if shift > 70:
                raise ThriftError("a varint longer than 10 bytes")

    def zigzag(self) -> int:
        v = self.varint()
        return (v >> 1) ^ -(v & 1)

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise ThriftError("a value runs past the end")
        out = bytes(self.data[self.pos : self.pos + n])
        self.pos += n
        return out

    def value(self, typ: int) -> Any:
        if typ in (TRUE, FALSE):  # a bool field carries its value in its type
            return typ == TRUE
        if typ == BYTE:
            return self.byte()
        if typ in (I16, I32, I64):
            return self.zigzag()
        if typ == DOUBLE:
            return self.take(8)
        if typ == BINARY:
            return self.take(self.varint())
        if typ in (LIST, SET):
            head = self.byte()
            size, elem = head >> 4, head & 0x0F
            if size == 15:
                size = self.varint()
            # a bool element is one byte (kept as read)
            return (elem, [self.byte() if elem in (TRUE, FALSE) else self.value(elem)
                           for _ in range(size)])  # fmt: skip
        if typ == MAP:
            size = self.varint()
            if size == 0:
                return (0, 0, [])
            kv = self.byte()
            kt, vt = kv >> 4, kv & 0x0F
            return (kt, vt, [(self.value(kt), self.value(vt)) for _ in range(size)])
        if typ == STRUCT:
            return self.struct()
        raise ThriftError(f"unknown compact type {typ}")

    def struct(self) -> Struct:
        fields: Struct = []
        last = 0
        while True:
            head = self.byte()
            typ = head & 0x0F
            if typ == STOP:
                return fields
            delta = head >> 4
            fid = last + delta if delta else self.zigzag()
            fields.append([fid, typ, self.value(typ)])
            last = fid


def decode(data: bytes) -> Struct:
    """The struct at the start of ``data``."""
    return _Reader(data).struct()


def _varint(out: bytearray, v: int) -> None:
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return


def _zigzag(out: bytearray, v: int) -> None:
    _varint(out, (v << 1) ^ (v >> 63))


def _value(out: bytearray, typ: int, v: Any) -> None:
    if typ in (TRUE, FALSE):
        return
    if typ == BYTE:
        out.append(v)
    elif typ in (I16, I32, I64):
        _zigzag(out, v)
    elif typ == DOUBLE:
        out += v
    elif typ == BINARY:
        _varint(out, len(v))
        out += v
    elif typ in (LIST, SET):
        elem, items = v
        if len(items) < 15:
            out.append(len(items) << 4 | elem)
        else:
            out.append(0xF0 | elem)
            _varint(out, len(items))
        for item in items:
            if elem in (TRUE, FALSE):
                out.append(item)
            else:
                _value(out, elem, item)
    elif typ == MAP:
        kt, vt, items = v
        _varint(out, len(items))
        if items:
            out.append(kt << 4 | vt)
            for k, x in items:
                _value(out, kt, k)
                _value(out, vt, x)
    else:
        _struct(out, v)


def _struct(out: bytearray, fields: Struct) -> None:
    last = 0
    for fid, typ, v in fields:
        if typ in (TRUE, FALSE):
            typ = TRUE if v else FALSE
        if 0 < fid - last <= 15:
            out.append((fid - last) << 4 | typ)
        else:
            out.append(typ)
            _zigzag(out, fid)
        _value(out, typ, v)
        last = fid
    out.append(STOP)


def encode(fields: Struct) -> bytes:
    """The compact-protocol bytes of a struct :func:`decode` returned (or built alike)."""
    out = bytearray()
    _struct(out, fields)
    return bytes(out)


def get(fields: Struct, fid: int) -> Any:
    """The value of field ``fid`` (None when absent)."""
    for f in fields:
        if f[0] == fid:
            return f[2]
    return None


def put(fields: Struct, fid: int, typ: int, value: Any) -> None:
    """Sets field ``fid`` (added in field-id order when absent)."""
    for f in fields:
        if f[0] == fid:
            f[1], f[2] = typ, value
            return
    fields.append([fid, typ, value])
    fields.sort(key=lambda f: f[0])


__all__ = ["ThriftError", "decode", "encode", "get", "put"]
