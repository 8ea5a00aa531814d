"""An offline filter of common and breached passwords, shipped as package data.

A Bloom filter over ``NFKC(password).casefold()`` of every entry in the NCSC top-100k
breached list, the SecLists top-10k and the zxcvbn/Xato list (about 116,000 distinct
entries), built by ``scripts/build_breached_filter.py``. Lookups compare the whole password,
case-insensitively after NFKC (ASVS V6.2.4, V6.2.12). A Bloom filter has no false negatives:
every listed password is refused. It has false positives: about 0.1% of unlisted passwords
(the theoretical rate is :attr:`BreachedList.false_positive_rate`; measured on random
strings in the tests) are refused too, which only asks the user to pick another password.

File format (big-endian)::

    magic  9 bytes  b"BSTBLOOM1"
    m      u64      number of bits
    k      u32      bit positions per entry
    count  u32      distinct entries inserted
    bits   ceil(m / 8) bytes; bit i is byte i >> 3, mask 1 << (i & 7)

The k positions of an entry come from one keyed BLAKE2b digest (salt ``bastion/bloom/v1``)
split into two 64-bit halves h1, h2: position i = (h1 + i * h2) mod m (Kirsch-Mitzenmacher).
"""

from __future__ import annotations

import functools
import hashlib
import math
import struct
from collections.abc import Iterable, Iterator
from importlib import resources

from bastion.errors import ConfigError
from bastion.identity._hashers import normalise_password

__all__ = ["MAGIC", "BreachedList"]

MAGIC = b"BSTBLOOM1"
_HEADER = struct.Struct(">9sQII")
_SALT = b"bastion/bloom/v1"
_MAX_K = 32
_CORRUPT = "the bundled breached-password filter is corrupt; reinstall bastion"


def _key(password: str) -> bytes:
    return normalise_password(password).casefold().encode("utf-8", "surrogatepass")


def _positions(key: bytes, m: int, k: int) -> Iterator[int]:
    digest = hashlib.blake2b(key, digest_size=16, salt=_SALT).digest()
    h1 = int.from_bytes(digest[:8], "little")
    h2 = int.from_bytes(digest[8:], "little") | 1
    return ((h1 + i * h2) % m for i in range(k))


class BreachedList:
    """A read-only set of passwords that must not be chosen (whole-password matches only)."""

    __slots__ = ("_bits", "_count", "_k", "_m")

    def __init__(self, bits: bytes, *, m: int, k: int, count: int) -> None:
        if m <= 0 or not 1 <= k <= _MAX_K or len(bits) != (m + 7) // 8 or count < 0:
            raise ConfigError(_CORRUPT)
        self._bits = bits
        self._m = m
        self._k = k
        self._count = count

    @classmethod
    def from_passwords(cls, passwords: Iterable[str], *, fp_rate: float = 0.001) -> BreachedList:
        """Build a filter sized for ``fp_rate`` over the distinct normalised entries."""
        if not 0.0 < fp_rate < 1.0:
            raise ValueError("fp_rate must be between 0 and 1")
        keys = {_key(p) for p in passwords}
        n = max(len(keys), 1)
        m = math.ceil(-n * math.log(fp_rate) / math.log(2) ** 2 / 8) * 8
        k = min(_MAX_K, max(1, round(m / n * math.log(2))))
        bits = bytearray(m // 8)
        for key in keys:
            for pos in _positions(key, m, k):
                bits[pos >> 3] |= 1 << (pos & 7)
        return cls(bytes(bits), m=m, k=k, count=len(keys))

    @classmethod
    def from_bytes(cls, data: bytes) -> BreachedList:
        """Parse the file format above; raises :class:`ConfigError` when it is malformed."""
        if len(data) < _HEADER.size:
            raise ConfigError(_CORRUPT)
        magic, m, k, count = _HEADER.unpack_from(data)
        if magic != MAGIC:
            raise ConfigError(_CORRUPT)
        return cls(data[_HEADER.size :], m=m, k=k, count=count)

    @classmethod
    def bundled(cls) -> BreachedList:
        """The filter shipped in ``bastion/identity/data/breached.bloom`` (loaded once)."""
        return _load_bundled()

    def to_bytes(self) -> bytes:
        return _HEADER.pack(MAGIC, self._m, self._k, self._count) + self._bits

    def __contains__(self, password: object) -> bool:
        """True when ``password`` (NFKC, case-insensitive) is listed, or a false positive."""
        if not isinstance(password, str):
            return False
        bits = self._bits
        return all(
            bits[p >> 3] & (1 << (p & 7)) for p in _positions(_key(password), self._m, self._k)
        )

    @property
    def count(self) -> int:
        """Distinct entries inserted."""
        return self._count

    @property
    def size_bits(self) -> int:
        return self._m

    @property
    def hash_count(self) -> int:
        return self._k

    @property
    def false_positive_rate(self) -> float:
        """Theoretical rate (1 - e^(-k n / m))^k for an unlisted password."""
        return (1.0 - math.exp(-self._k * self._count / self._m)) ** self._k

    def __repr__(self) -> str:
        return f"BreachedList(count={self._count}, m={self._m}, k={self._k})"


@functools.cache
def _load_bundled() -> BreachedList:
    path = resources.files("bastion") / "identity" / "data" / "breached.bloom"
    try:
        data = path.read_bytes()
    except OSError:
        raise ConfigError(_CORRUPT) from None
    return BreachedList.from_bytes(data)
