"""ULID text: a 128-bit value in Crockford's base32, 26 characters, most significant first.

Written out here because the `ulid` package's import costs more than sim's own
(it reads package metadata), and this is all sim needs of it.
"""
from __future__ import annotations

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def text(value: int) -> str:
    if not 0 <= value < 1 << 128:
        raise ValueError(f"a ULID is 128 bits, got {value}")
    return "".join(ALPHABET[(value >> shift) & 31] for shift in range(125, -1, -5))


_VALUE = {c: i for i, c in enumerate(ALPHABET)}


def value(s: str) -> int:
    """The 128-bit value of a ULID's text (upper or lower case)."""
    if len(s) != 26:
        raise ValueError(f"a ULID is 26 characters, got {s!r}")
    v = 0
    for c in s.upper():
        d = _VALUE.get(c)
        if d is None:
            raise ValueError(f"not a ULID: {s!r}")
        v = (v << 5) | d
    if v >> 128:
        raise ValueError(f"not a ULID (more than 128 bits): {s!r}")
    return v
