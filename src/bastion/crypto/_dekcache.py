"""Unwrapped data keys cached in memory, and the lean synchronous paths that use them.

The cache is bounded in size (oldest entry evicted first) and in time (``ttl`` seconds on the
injected clock), so an unwrapped key never outlives its TTL in memory and a shred on another
replica takes effect here within the TTL even without the pub/sub notice.

Encryption counts: an entry usable for encryption carries a range ``[next, end)`` of message
numbers reserved in the key store (in blocks, one write per block, never one per message);
when the range is spent the slow path reserves another block or rolls over to a new key, so
no key ever encrypts more than the configured cap, across all processes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bastion.crypto._envelope import DOMAIN, FORMAT_V1, HEADER_BYTES, MAX_CONTEXT_BYTES, OVERHEAD
from bastion.crypto._primitives import AESGCM, InvalidTag, pooled_nonce, random_nonce
from bastion.errors import DecryptionFailed, MalformedCiphertext

__all__ = ["CachedDek", "DekCache"]

_NONCE_END = HEADER_BYTES + 12
# The u16 length prefixes of every allowed context length, built once.
_LENGTH = [n.to_bytes(2, "big") for n in range(MAX_CONTEXT_BYTES + 1)]


@dataclass(slots=True, eq=False)
class CachedDek:
    """One unwrapped data key. ``repr`` shows ids only."""

    id: bytes
    subject: str
    subject_part: bytes
    subject_key: str
    purpose: str
    aead: AESGCM
    header: bytes
    created_at: float
    expires: float
    next: int = 0
    end: int = 0
    prefix: bytes = b""

    def __repr__(self) -> str:
        return f"CachedDek(id={self.id.hex()!r}, purpose={self.purpose!r})"

    @property
    def aad_prefix(self) -> bytes:
        return DOMAIN + self.header + self.subject_part


class DekCache:
    """Bounded, expiring map of DEK id -> key, plus the key each (subject, purpose) encrypts
    with. All methods run on the event loop thread (no locks).

    The fast paths build the associated data from a per-key prefix (domain, header, subject)
    and the context's length-prefixed bytes; nothing per context is cached, because contexts
    usually name a record and rarely repeat.
    """

    def __init__(
        self,
        monotonic: Callable[[], float],
        *,
        size: int,
        ttl: float,
        on_failure: Callable[[DecryptionFailed], None] = lambda exc: None,
    ) -> None:
        self._now, self._size, self.ttl, self.on_failure = monotonic, size, ttl, on_failure
        self._by_id: dict[bytes, CachedDek] = {}
        # The same keys by the header of values written under them since the last rotation,
        # so decryption finds the key with the 21 bytes it slices off anyway.
        self._by_head: dict[bytes, CachedDek] = {}
        self._active: dict[tuple[str, str], CachedDek] = {}

    def __len__(self) -> int:
        return len(self._by_id)

    def put(self, dek: CachedDek, *, active: bool) -> None:
        dek.expires = self._now() + self.ttl
        dek.prefix = dek.aad_prefix
        old = self._by_id.get(dek.id)
        if old is not None:
            if not active and old.end > old.next:
                dek.next, dek.end = old.next, old.end  # keep a live reservation
                active = self._active.get((old.subject, old.purpose)) is old
            self._drop(dek.id)
        while len(self._by_id) >= self._size:
            self._drop(next(iter(self._by_id)))
        self._by_id[dek.id] = dek
        self._by_head[dek.header] = dek
        if active:
            self._active[(dek.subject, dek.purpose)] = dek

    def _drop(self, dek_id: bytes) -> None:
        dek = self._by_id.pop(dek_id, None)
        if dek is None:
            return
        if self._by_head.get(dek.header) is dek:
            del self._by_head[dek.header]
        if self._active.get((dek.subject, dek.purpose)) is dek:
            del self._active[(dek.subject, dek.purpose)]

    def get(self, dek_id: bytes) -> CachedDek | None:
        dek = self._by_id.get(dek_id)
        if dek is not None and dek.expires <= self._now():
            self._drop(dek_id)
            return None
        return dek

    def active(self, subject: str, purpose: str) -> CachedDek | None:
        dek = self._active.get((subject, purpose))
        if dek is None or dek.expires <= self._now():
            return None
        return dek

    def evict_subject_key(self, subject_key: str) -> None:
        for dek_id in [k for k, d in self._by_id.items() if d.subject_key == subject_key]:
            self._drop(dek_id)

    def evict_ids(self, ids: set[bytes]) -> None:
        for dek_id in ids:
            self._drop(dek_id)

    def stop_encrypting(self) -> None:
        """Forget which keys encrypt (after re-encryption retired them); decryption stays."""
        self._active.clear()

    def clear(self) -> None:
        self._by_id.clear()
        self._by_head.clear()
        self._active.clear()

    def encrypt(self, plaintext: bytes, subject: str, context: str) -> bytes | None:
        """Encrypt with the cached key of (subject, purpose), or None when the slow path must
        run (no key cached, expired, reservation spent, or a context to validate)."""
        dek = self._active.get((subject, context.partition(":")[0]))
        if dek is None or dek.next >= dek.end or dek.expires <= self._now():
            return None
        ctx = context.encode()
        if len(ctx) > MAX_CONTEXT_BYTES:
            return None
        dek.next += 1
        try:
            nonce = pooled_nonce()
        except IndexError:
            nonce = random_nonce()
        return (
            dek.header
            + nonce
            + dek.aead.encrypt(nonce, plaintext, dek.prefix + _LENGTH[len(ctx)] + ctx)
        )

    def seal(self, dek: CachedDek, plaintext: bytes, context_part: bytes) -> bytes:
        """Encrypt with ``dek`` (slow path: the caller has reserved a message number)."""
        dek.next += 1
        nonce = random_nonce()
        aad = DOMAIN + dek.header + dek.subject_part + context_part
        return dek.header + nonce + dek.aead.encrypt(nonce, plaintext, aad)

    def decrypt(self, blob: bytes, subject: str, context: str) -> bytes | None:
        """Decrypt with a cached key, or None when the slow path must run (key not cached,
        another subject). Raises :class:`MalformedCiphertext` for a short or unknown-version
        value and :class:`DecryptionFailed` when the tag does not verify."""
        if type(blob) is not bytes:
            return None
        if len(blob) < OVERHEAD or blob[0] != FORMAT_V1:
            self.on_failure(MalformedCiphertext())
            raise MalformedCiphertext
        head = blob[:HEADER_BYTES]
        dek = self._by_head.get(head)
        if dek is not None:
            prefix = dek.prefix
        else:  # written before the last rotation: same key, older header
            dek = self._by_id.get(head[5:])
            if dek is None:
                return None
            prefix = DOMAIN + head + dek.subject_part
        if dek.subject != subject or dek.expires <= self._now():
            return None
        ctx = context.encode()
        if len(ctx) > MAX_CONTEXT_BYTES:
            return None
        try:
            return dek.aead.decrypt(
                blob[HEADER_BYTES:_NONCE_END], blob[_NONCE_END:], prefix + _LENGTH[len(ctx)] + ctx
            )
        except InvalidTag:
            self.on_failure(DecryptionFailed())
            raise DecryptionFailed from None
