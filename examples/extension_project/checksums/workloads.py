"""Sized jobs for the concurrency tests.

Each job builds its payload once per process and then checksums it, so a process worker is
sent a size, not megabytes of data per task.  Module-level functions, so that process and
sub-interpreter workers can import them.
"""

from __future__ import annotations

from . import crc32, digest, fletcher16

DIGEST_BYTES = 32 * 1024 * 1024
"""About 50 ms of SHA-256 on a current x86 core."""
FLETCHER_BYTES = 512 * 1024
"""About 50 ms of pure-Python Fletcher-16."""

_payloads: dict[int, bytes] = {}


def payload(nbytes: int) -> bytes:
    """``nbytes`` of data, built once per process."""
    data = _payloads.get(nbytes)
    if data is None:
        data = _payloads[nbytes] = (bytes(range(256)) * (nbytes // 256 + 1))[:nbytes]
    return data


def digest_job(nbytes: int = DIGEST_BYTES) -> str:
    return digest(payload(nbytes))


def crc32_job(nbytes: int = DIGEST_BYTES) -> int:
    return crc32(payload(nbytes))


def fletcher16_job(nbytes: int = FLETCHER_BYTES) -> int:
    return fletcher16(payload(nbytes))
