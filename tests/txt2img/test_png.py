"""components.txt2img.png against the fake webui's PNGs and damaged copies of them."""

from __future__ import annotations

import struct
import zlib

import pytest

from components.txt2img.png import NotAPng, inspect_png
from tests.fakes.fake_webui import make_png


def test_accepts_a_whole_png() -> None:
    info = inspect_png(make_png(17, 5, seed=3))
    assert (info.width, info.height, info.bit_depth, info.color_type) == (17, 5, 8, 2)


def with_chunk_replaced(data: bytes, kind: bytes, body: bytes) -> bytes:
    start = data.index(kind) - 4
    (length,) = struct.unpack(">I", data[start : start + 4])
    new = struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    return data[:start] + new + data[start + 12 + length :]


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: b"GIF89a" + d[6:], "signature"),
        (lambda d: d[:-12], "IEND"),
        (lambda d: d[:40], "truncated"),
        (lambda d: d[:20] + bytes([d[20] ^ 0xFF]) + d[21:], "CRC"),
        (lambda d: with_chunk_replaced(d, b"IDAT", b"not zlib"), "does not inflate"),
        (lambda d: with_chunk_replaced(d, b"IDAT", zlib.compress(b"\0" * 10)), "needs"),
    ],
)
def test_rejects_damaged_data(damage: object, message: str) -> None:
    assert callable(damage)
    with pytest.raises(NotAPng, match=message):
        inspect_png(damage(make_png(8, 8, seed=1)))
