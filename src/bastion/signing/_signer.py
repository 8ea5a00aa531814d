"""The Python signer: the three headers that make a request verifiable.

>>> headers = sign_request(key_id="k:0123", secret=b"k" * 32, method="POST",
...     path="/v1/orders", query="b=2&a=1", headers={"Content-Type": "application/json"},
...     body=b'{"qty":1}', created=1700000000, nonce="AAAAAAAAAAAAAAAAAAAAAA")
>>> sorted(headers)
['Content-Digest', 'Signature', 'Signature-Input']
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterable, Mapping

from bastion.signing._canonical import REQUIRED, SignedRequest, combine_headers, signature_base
from bastion.signing._digest import content_digest
from bastion.signing._mac import hmac_sha256
from bastion.signing._parse import ALG
from bastion.signing._sfv import (
    BareItem,
    InnerList,
    Item,
    serialize_dictionary,
    serialize_inner_list,
)

__all__ = ["new_nonce", "sign_request"]


def new_nonce() -> str:
    """128 bits from the OS CSPRNG as 22 base64url characters."""
    return base64.urlsafe_b64encode(secrets.token_bytes(16)).rstrip(b"=").decode("ascii")


def sign_request(
    *,
    key_id: str,
    secret: bytes,
    method: str,
    path: str,
    query: str = "",
    headers: Mapping[str, str] | None = None,
    body: bytes = b"",
    created: int,
    nonce: str | None = None,
    label: str = "sig1",
    extra: Iterable[str] = (),
) -> dict[str, str]:
    """``Content-Digest``, ``Signature-Input`` and ``Signature`` for a request.

    ``path`` and ``query`` are the raw (percent-encoded) forms the client will send; send the
    query exactly as given (any parameter order verifies, see ``docs/signing.md``).
    ``content-type`` is covered whenever ``headers`` has one; ``extra`` names more header
    fields to cover (e.g. ``authorization``). ``created`` is the Unix time in seconds (from
    your clock); ``nonce`` defaults to :func:`new_nonce`. Raises ``InvalidSignature`` when a
    covered value cannot be signed (absent field, control character).
    """
    fields = combine_headers((headers or {}).items())
    fields["content-digest"] = content_digest(body)
    covered = [*REQUIRED, *(["content-type"] if "content-type" in fields else []), *extra]
    params: dict[str, BareItem] = {"created": created, "nonce": nonce or new_nonce()}
    params.update(keyid=key_id, alg=ALG)
    inner = serialize_inner_list(InnerList(tuple(Item(c) for c in covered), params))
    request = SignedRequest(method, path, query, fields)
    mac = hmac_sha256(secret, signature_base(request, covered, inner))
    return {
        "Content-Digest": fields["content-digest"],
        "Signature-Input": f"{label}={inner}",
        "Signature": serialize_dictionary({label: Item(mac)}),
    }
