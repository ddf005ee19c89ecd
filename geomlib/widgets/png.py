"""A minimal lossless PNG encoder for the explorer's frames."""

from __future__ import annotations

import struct
import zlib

import numpy as np

__all__ = ["encode_png"]


def encode_png(rgba: np.ndarray, level: int = 1) -> bytes:
    """Lossless RGB PNG of an ``(h, w, 4)`` uint8 buffer (alpha dropped): rows unfiltered,
    zlib at the fastest level. About twice as fast as PIL's encoder for the same size on
    these figures (flat colour, lines, text)."""
    h, w, _ = rgba.shape
    raw = np.empty((h, 3 * w + 1), np.uint8)
    raw[:, 0] = 0  # filter type None
    raw[:, 1:] = rgba[..., :3].reshape(h, 3 * w)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw.data, level)) + chunk(b"IEND", b""))
