"""Checks that bytes are a whole PNG: signature, IHDR, CRCs, and IDAT data that inflates to the right size."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Samples per pixel for each PNG colour type.
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


class NotAPng(ValueError):
    """The bytes are not a decodable PNG."""


@dataclass(frozen=True)
class PngInfo:
    width: int
    height: int
    bit_depth: int
    color_type: int


def inspect_png(data: bytes) -> PngInfo:
    """Parse and verify `data`; raise NotAPng saying what is wrong.

    Verifies every chunk's CRC and inflates the joined IDAT data, whose length must equal what the
    header announces (non-interlaced images; interlaced ones are only checked to inflate).
    """
    if not data.startswith(SIGNATURE):
        raise NotAPng(f"no PNG signature (starts with {data[:8]!r})")
    chunks = _chunks(data)
    if not chunks or chunks[0][0] != b"IHDR" or len(chunks[0][1]) != 13:
        raise NotAPng("the first chunk is not a 13-byte IHDR")
    width, height, depth, color, _compression, _filter, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    if width == 0 or height == 0 or color not in _CHANNELS:
        raise NotAPng(f"invalid header: {width}x{height}, colour type {color}")
    if chunks[-1][0] != b"IEND":
        raise NotAPng("no IEND chunk: the image is truncated")
    compressed = b"".join(body for kind, body in chunks if kind == b"IDAT")
    if not compressed:
        raise NotAPng("no IDAT chunk")
    try:
        raw = zlib.decompress(compressed)
    except zlib.error as error:
        raise NotAPng(f"IDAT data does not inflate: {error}") from error
    expected = height * (1 + (width * _CHANNELS[color] * depth + 7) // 8)
    if interlace == 0 and len(raw) != expected:
        raise NotAPng(f"IDAT inflates to {len(raw)} bytes, {width}x{height} needs {expected}")
    return PngInfo(width, height, depth, color)


def _chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    found = []
    offset = len(SIGNATURE)
    while offset < len(data):
        if offset + 8 > len(data):
            raise NotAPng("truncated chunk header")
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        body = data[offset + 8 : offset + 8 + length]
        crc_bytes = data[offset + 8 + length : offset + 12 + length]
        if len(body) != length or len(crc_bytes) != 4:
            raise NotAPng(f"truncated {kind.decode('latin-1')} chunk")
        if struct.unpack(">I", crc_bytes)[0] != zlib.crc32(kind + body) & 0xFFFFFFFF:
            raise NotAPng(f"bad CRC in {kind.decode('latin-1')} chunk")
        found.append((kind, body))
        offset += 12 + length
        if kind == b"IEND":
            break
    return found
