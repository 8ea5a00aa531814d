"""``guard.sealing``: the server side of sealed payloads and signed responses.

It opens sealed requests (bounded, fresh, not replayed, for this route), seals their
responses, signs responses, publishes the public keys and audits every refusal.
"""

from __future__ import annotations

import hashlib
import ipaddress
from typing import Any, Literal, Protocol

from bastion.crypto._master import MasterKey
from bastion.crypto._response_sig import SIGNATURE_HEADER, sign_response
from bastion.crypto._sealed import OpenedRequest, open_request
from bastion.crypto._sealed_format import (
    MEDIA_TYPE,
    decode_transport,
    encode_transport,
    parse_request,
)
from bastion.crypto._sealed_keys import SealingKeys
from bastion.errors import (
    BastionError,
    SealedPayloadInvalid,
    SealedPayloadRequired,
    SealedPayloadTooLarge,
)
from bastion.infra import Clock, HotState

__all__ = ["Sealing"]

REPLAY_PREFIX = "sealed:enc:"


class _Audit(Protocol):
    async def record_sampled(
        self,
        action: str,
        outcome: Literal["success", "failure", "denied", "error"],
        *,
        key: str,
        every_seconds: float = 10.0,
        reason: str | None = None,
        ip: str | None = None,
    ) -> None: ...


def _network(ip: str | None) -> str:
    """The client's /24 (IPv4) or /48 (IPv6), so sampling cannot be dodged by address."""
    try:
        addr = ipaddress.ip_address(ip or "")
    except ValueError:
        return "-"
    return str(ipaddress.ip_network(f"{addr}/{24 if addr.version == 4 else 48}", strict=False))


class Sealing:
    """Sealed payloads and response signatures with keys derived from the master key."""

    MEDIA_TYPE = MEDIA_TYPE
    SIGNATURE_HEADER = SIGNATURE_HEADER

    def __init__(
        self,
        master: MasterKey,
        clock: Clock,
        hot: HotState,
        audit: _Audit,
        *,
        max_body_bytes: int = 1 << 20,
        max_skew_seconds: int = 300,
        key_generation: int = 1,
        keep_previous: bool = True,
    ) -> None:
        self.keys = SealingKeys(master, generation=key_generation, keep_previous=keep_previous)
        self.max_body_bytes = max_body_bytes
        self.max_skew_seconds = max_skew_seconds
        self._clock, self._hot, self._audit = clock, hot, audit
        self._document = self.keys.document()

    def document(self) -> dict[str, Any]:
        """The public key document for ``/.well-known/bastion-keys`` (a fresh copy)."""
        return {"keys": [dict(k) for k in self._document["keys"]]}

    async def open_request(
        self,
        body: bytes,
        *,
        content_type: str | None,
        method: str,
        target: str,
        ip: str | None = None,
    ) -> OpenedRequest:
        """Open a sealed request body received for ``method`` and ``target``.

        Fails closed and audits (``sealed.rejected``, sampled) with
        :class:`~bastion.errors.SealedPayloadRequired` (not sealed), ``SealedPayloadTooLarge``,
        ``SealedVersionUnsupported``, or ``SealedPayloadInvalid`` (malformed, unknown key,
        outside the time window, replayed, or not opening: opaque). Nothing is changed by a
        refused request; an accepted one is remembered so it cannot be replayed."""
        try:
            return await self._open(body, content_type, method, target)
        except (SealedPayloadInvalid, SealedPayloadRequired) as exc:
            await self.record_rejection(exc, ip=ip)
            raise

    async def _open(
        self, body: bytes, content_type: str | None, method: str, target: str
    ) -> OpenedRequest:
        if len(body) > self.max_body_bytes:
            raise SealedPayloadTooLarge
        envelope, text = decode_transport(body, content_type)
        unverified = parse_request(envelope)
        key = self.keys.seal_key(unverified.kid)
        if key is None:
            raise SealedPayloadInvalid(
                "The sealing key id is unknown; fetch /.well-known/bastion-keys again.",
                reason="unknown_key",
            )
        if abs(self._clock.now() - unverified.created) > self.max_skew_seconds:
            raise SealedPayloadInvalid(
                "The sealed payload is outside the accepted time window; check the clock.",
                reason="expired",
            )
        opened = open_request(key, unverified, method=method, target=target, text=text)
        fingerprint = hashlib.sha256(opened.enc).hexdigest()[:32]
        if not await self._hot.add_once(REPLAY_PREFIX + fingerprint, 2 * self.max_skew_seconds):
            raise SealedPayloadInvalid("This sealed payload was already used.", reason="replayed")
        return opened

    def seal_response(
        self, opened: OpenedRequest, *, status: int, content_type: str, body: bytes
    ) -> tuple[bytes, str]:
        """``(body, content_type)`` of the sealed response, in the request's transport form."""
        envelope = opened.response.seal(status, content_type or "application/octet-stream", body)
        return encode_transport(envelope, opened.text)

    def sign_response(
        self,
        *,
        status: int,
        content_type: str,
        body: bytes,
        method: str,
        target: str,
        request_id: str,
    ) -> str:
        """The ``Bastion-Response-Signature`` value for a response, signed now with the
        current Ed25519 key (``docs/sealed.md``)."""
        kid, key = self.keys.signer
        return sign_response(
            kid,
            key,
            created=int(self._clock.now()),
            status=status,
            content_type=content_type,
            request_id=request_id,
            method=method,
            target=target,
            body=body,
        )

    async def record_rejection(self, exc: BastionError, *, ip: str | None = None) -> None:
        """Audit a refused sealed request (sampled per reason and client network)."""
        reason = str(getattr(exc, "reason", exc.type))
        await self._audit.record_sampled(
            "sealed.rejected", "denied", key=f"{reason}:{_network(ip)}", reason=reason, ip=ip
        )

    async def record_response_failure(self, reason: str) -> None:
        """Audit a response that could not be sealed or signed (the client got a 500)."""
        await self._audit.record_sampled(
            "sealed.response_failed", "error", key=reason, reason=reason
        )
