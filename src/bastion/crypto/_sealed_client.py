"""The client side of sealed payloads, for Python clients, tests and the docs' example.

>>> client = SealedClient(keys_document)                                # doctest: +SKIP
>>> sealed = client.seal("POST", "/api/orders", b'{"sku": 1}')          # doctest: +SKIP
>>> r = httpx.post(url, content=sealed.body, headers=sealed.headers)    # doctest: +SKIP
>>> media_type, body = sealed.open(r.status_code, r.content, r.headers["content-type"])
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bastion.crypto._sealed import ResponseKey, seal_request
from bastion.crypto._sealed_format import decode_transport, encode_transport
from bastion.crypto._sealed_keys import public_keys
from bastion.errors import SealedPayloadInvalid, SealedPayloadRequired
from bastion.infra import Clock, SystemClock

__all__ = ["SealedClient", "SealedRequest"]


@dataclass(frozen=True, slots=True)
class SealedRequest:
    """A sealed request body ready to send, and the means to open its response."""

    body: bytes
    content_type: str
    _key: ResponseKey = field(repr=False)

    @property
    def headers(self) -> dict[str, str]:
        return {"content-type": self.content_type}

    def open(self, status: int, body: bytes, content_type: str | None) -> tuple[str, bytes]:
        """``(media_type, body)`` of the sealed response. A response that is not sealed (a
        problem from the sealing layer or a proxy) or does not open raises
        :class:`~bastion.errors.SealedPayloadInvalid`: trust nothing in it but its status."""
        try:
            envelope, _ = decode_transport(body, content_type)
        except SealedPayloadRequired:
            raise SealedPayloadInvalid("The response is not sealed.", reason="not_sealed") from None
        return self._key.open(status, envelope)


class SealedClient:
    """Seals request bodies to the current sealing key of a pinned key document (the JSON of
    ``/.well-known/bastion-keys``). ``ValueError`` if the document has no X25519 key."""

    __slots__ = ("_clock", "_kid", "_public")

    def __init__(self, keys: Mapping[str, Any], *, clock: Clock | None = None) -> None:
        self._kid, self._public = public_keys(keys, "enc")[0]
        self._clock = clock or SystemClock()

    @property
    def kid(self) -> str:
        return self._kid

    def seal(
        self,
        method: str,
        target: str,
        body: bytes,
        *,
        content_type: str = "application/json",
        text: bool = False,
    ) -> SealedRequest:
        """Seal ``body`` for exactly ``method`` and ``target`` (path and query as sent).
        ``text`` gives the base64url form for transports that only carry strings."""
        envelope, key = seal_request(
            self._public,
            self._kid,
            method=method,
            target=target,
            media_type=content_type,
            body=body,
            created=int(self._clock.now()),
        )
        payload, media = encode_transport(envelope, text)
        return SealedRequest(payload, media, key)
