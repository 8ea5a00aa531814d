"""Request integrity: HTTP message signatures (RFC 9421 headers, HMAC-SHA256 over a canonical
request with ``Content-Digest``, a clock-skew window and a nonce replay cache), per-session and
per-API-key signing keys derived from the master key, and signed webhooks.
See ``docs/signing.md``."""

from bastion.signing._canonical import SignedRequest as SignedRequest
from bastion.signing._canonical import canonical_query as canonical_query
from bastion.signing._canonical import combine_headers as combine_headers
from bastion.signing._canonical import signature_base as signature_base
from bastion.signing._digest import content_digest as content_digest
from bastion.signing._digest import verify_content_digest as verify_content_digest
from bastion.signing._keys import IssuedKey as IssuedKey
from bastion.signing._keys import decode_secret as decode_secret
from bastion.signing._parse import UnverifiedSignature as UnverifiedSignature
from bastion.signing._parse import parse_signature as parse_signature
from bastion.signing._service import RequestSignatures as RequestSignatures
from bastion.signing._service import VerifiedSignature as VerifiedSignature
from bastion.signing._signer import new_nonce as new_nonce
from bastion.signing._signer import sign_request as sign_request
from bastion.signing._webhooks import WEBHOOK_HEADER as WEBHOOK_HEADER
from bastion.signing._webhooks import sign_webhook as sign_webhook
from bastion.signing._webhooks import verify_webhook as verify_webhook

__all__ = [
    "WEBHOOK_HEADER",
    "IssuedKey",
    "RequestSignatures",
    "SignedRequest",
    "UnverifiedSignature",
    "VerifiedSignature",
    "canonical_query",
    "combine_headers",
    "content_digest",
    "decode_secret",
    "new_nonce",
    "parse_signature",
    "sign_request",
    "sign_webhook",
    "signature_base",
    "verify_content_digest",
    "verify_webhook",
]
