"""checksums: three checksums of a byte string.

* :func:`digest` — SHA-256 from :mod:`hashlib`, computed in C; hashlib releases the GIL while
  it hashes more than 2 KiB;
* :func:`crc32` — CRC-32 from :mod:`zlib`, computed in C; zlib releases the GIL while it
  checksums more than 5 KiB;
* :func:`fletcher16` — Fletcher-16 in pure Python: it holds the GIL all along.
"""

from __future__ import annotations

import hashlib
import zlib

__all__ = ["crc32", "digest", "fletcher16"]


def digest(data: bytes) -> str:
    """SHA-256 of ``data`` as hex (C code, releases the GIL)."""
    return hashlib.sha256(data).hexdigest()


def crc32(data: bytes) -> int:
    """CRC-32 of ``data`` (C code, releases the GIL)."""
    return zlib.crc32(data)


def fletcher16(data: bytes) -> int:
    """Fletcher-16 of ``data``, in pure Python (holds the GIL)."""
    a = b = 0
    for byte in data:
        a = (a + byte) % 255
        b = (b + a) % 255
    return (b << 8) | a
