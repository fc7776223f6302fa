"""ULID text: a 128-bit value in Crockford's base32, 26 characters, most significant first.

Written out here because the `ulid` package's import costs more than sim's own
(it reads package metadata), and this is all sim needs of it.
"""
from __future__ import annotations

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


# two characters per 10 bits: 26 characters are 130 bits (two leading zeros), 13 lookups. A ULID
# is minted on models' hot paths (every event id): this is 2.4x the one-character loop.
_PAIRS = [a + b for a in ALPHABET for b in ALPHABET]
_SHIFTS = tuple(range(120, -1, -10))


def text(value: int) -> str:
    if not 0 <= value < 1 << 128:
        raise ValueError(f"a ULID is 128 bits, got {value}")
    pairs = _PAIRS
    return "".join([pairs[(value >> shift) & 1023] for shift in _SHIFTS])


# Crockford's symbols (either case) to int()'s base-32 digits; anything else is dropped, and the
# length check below refuses it
_DIGITS = "0123456789abcdefghijklmnopqrstuv"
_TO_DIGITS = str.maketrans(ALPHABET + ALPHABET.lower(), _DIGITS * 2,
                           "".join(chr(c) for c in range(128) if chr(c) not in ALPHABET + ALPHABET.lower()))


def value(s: str) -> int:
    """The 128-bit value of a ULID's text (upper or lower case)."""
    if len(s) != 26:
        raise ValueError(f"a ULID is 26 characters, got {s!r}")
    digits = s.translate(_TO_DIGITS)
    if len(digits) != 26 or not digits.isascii():
        raise ValueError(f"not a ULID: {s!r}")
    v = int(digits, 32)
    if v >> 128:
        raise ValueError(f"not a ULID (more than 128 bits): {s!r}")
    return v
