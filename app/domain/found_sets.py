"""A found set's keys as it is kept: packed, within a size bound.

Integer keys (plan ids, in answer order: ascending) are kept as the differences between
neighbours, in the narrowest fixed width that holds them all, compressed: a run of consecutive
ids packs to a few bytes whatever its length. Text keys (student-term ids) are joined and
compressed. Both ways are C code (`array`, `zlib`), linear in the keys, and hold the event loop
for milliseconds at the most keys a set reads."""

from __future__ import annotations

import zlib
from array import array
from collections.abc import Sequence
from itertools import accumulate

Key = int | str
_INT, _TEXT = ord("i"), ord("t")
_SEPARATOR = "\x00"  # never in a key: keys are digits or hex
_WIDTHS = "bhiq"  # signed 1, 2, 4 and 8 bytes: the narrowest that holds every difference


def pack(keys: Sequence[Key]) -> bytes:
    """`keys` in their order, packed (an empty list too)."""
    if keys and isinstance(keys[0], int):
        ints = [int(k) for k in keys]
        steps = [b - a for a, b in zip([0, *ints], ints, strict=False)]
        width = next(w for w in _WIDTHS if _fits(w, steps))
        body = array(width, steps).tobytes()
        return bytes([_INT, ord(width)]) + zlib.compress(body)
    text = _SEPARATOR.join(str(k) for k in keys)
    return bytes([_TEXT]) + zlib.compress(text.encode())


def _fits(width: str, steps: list[int]) -> bool:
    bits = array(width).itemsize * 8
    low, high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    return not steps or (low <= min(steps) and max(steps) <= high)


def unpack(packed: bytes) -> list[Key]:
    if packed[0] == _INT:
        steps = array(chr(packed[1]))
        steps.frombytes(zlib.decompress(packed[2:]))
        return list(accumulate(steps))
    text = zlib.decompress(packed[1:]).decode()
    return list(text.split(_SEPARATOR)) if text else []


def pack_within(keys: Sequence[Key], max_bytes: int) -> tuple[bytes, int]:
    """The longest first part of `keys` that packs within `max_bytes` (near enough: each try is
    sized in proportion from the last, which a few tries bring within the bound), packed, and
    how many keys it holds."""
    packed, kept = pack(keys), len(keys)
    while len(packed) > max_bytes and kept > 0:
        kept = min(kept - 1, kept * max_bytes // len(packed))
        packed = pack(keys[:kept])
    return packed, kept
