"""Typed errors. The HTTP edge turns them into RFC 9457 ``application/problem+json``.

::

    BastionError                      500 internal (never carries internals)
    +-- ConfigError                   invalid configuration (start-up only)
    +-- StorageUnavailable            503 database or Redis unreachable
    +-- Overloaded                    503 shed before expensive work (Retry-After)
    +-- BadRequest                    400 malformed body
    +-- InvalidInput                  422 a field failed validation (names the field, not the value)
    |   +-- WeakPassword              422 password policy violations, each with a stable code
    +-- AuthenticationFailed          401 generic "invalid credentials" (no oracle)
    +-- InvalidToken                  401 any access/refresh/MFA token failure (opaque)
    +-- Forbidden                     403
    |   +-- StepUpRequired            403 the account needs a second factor or a known device
    +-- NotFound                      404
    +-- Conflict                      409
    +-- Throttled                     429 with Retry-After
    +-- ScanRefused                   400 `bastion scan` refused by its safety rules

Every class has a stable ``type`` slug, an HTTP ``status`` and a fixed public ``title``.
The ``detail`` is safe, human-oriented text: never a secret, token or personal identifier.
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "AuthenticationFailed",
    "BadRequest",
    "BastionError",
    "ConfigError",
    "Conflict",
    "DecryptionFailed",
    "Forbidden",
    "InvalidInput",
    "InvalidToken",
    "KekInUse",
    "MalformedCiphertext",
    "NotFound",
    "Overloaded",
    "ScanRefused",
    "ShreddedSubject",
    "StepUpRequired",
    "StorageUnavailable",
    "Throttled",
    "WeakPassword",
]

TYPE_BASE = "https://bastion.dev/problems/"


class BastionError(Exception):
    """Root of every error Bastion raises on purpose."""

    type: ClassVar[str] = "internal"
    status: ClassVar[int] = 500
    title: ClassVar[str] = "Internal error"
    default_detail: ClassVar[str] = "The server could not complete the request."

    def __init__(self, detail: str | None = None, **extra: Any) -> None:
        self.detail = detail or self.default_detail
        self.extra = extra
        super().__init__(self.detail)

    @property
    def type_uri(self) -> str:
        return TYPE_BASE + self.type

    def headers(self) -> dict[str, str]:
        return {}

    def problem(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": self.type_uri,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            body["instance"] = instance
        body.update(self.extra)
        return body


class ConfigError(BastionError):
    type = "config"
    title = "Invalid configuration"


class StorageUnavailable(BastionError):
    type = "storage-unavailable"
    status = 503
    title = "Storage unavailable"
    default_detail = "A backing store is unreachable; try again shortly."

    def headers(self) -> dict[str, str]:
        return {"Retry-After": "5"}


class Overloaded(BastionError):
    type = "overloaded"
    status = 503
    title = "Service overloaded"
    default_detail = "Too many requests are being processed; retry after the given delay."

    def __init__(self, retry_after: int = 1, detail: str | None = None) -> None:
        super().__init__(detail)
        self.retry_after = max(1, int(retry_after))

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class BadRequest(BastionError):
    type = "bad-request"
    status = 400
    title = "Malformed request"
    default_detail = "The request body could not be parsed."


class InvalidInput(BastionError):
    type = "invalid-input"
    status = 422
    title = "Invalid input"
    default_detail = "One or more fields are invalid."

    def __init__(
        self, detail: str | None = None, errors: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(detail, errors=errors or [])


class WeakPassword(InvalidInput):
    type = "weak-password"
    title = "Password does not meet the policy"
    default_detail = "Choose a different password; see 'errors' for every reason."


class AuthenticationFailed(BastionError):
    type = "invalid-credentials"
    status = 401
    title = "Invalid credentials"
    default_detail = "The username or password is incorrect."

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer realm="bastion"'}


class InvalidToken(BastionError):
    """Any token failure, answered opaquely; ``reason`` (a short code) is for the audit log
    and is never part of the problem body."""

    type = "invalid-token"
    status = 401
    title = "Invalid token"
    default_detail = "The token is missing, malformed, expired or revoked."

    def __init__(self, detail: str | None = None, *, reason: str | None = None) -> None:
        super().__init__(detail)
        self.reason = reason

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer realm="bastion", error="invalid_token"'}


class Forbidden(BastionError):
    type = "forbidden"
    status = 403
    title = "Forbidden"
    default_detail = "You are not allowed to do this."


class StepUpRequired(Forbidden):
    type = "step-up-required"
    title = "Additional verification required"
    default_detail = (
        "This account needs a second factor or a previously used device to sign in; "
        "use one, or ask an administrator to unlock it."
    )


class NotFound(BastionError):
    type = "not-found"
    status = 404
    title = "Not found"
    default_detail = "No such resource."


class Conflict(BastionError):
    type = "conflict"
    status = 409
    title = "Conflict"
    default_detail = "The request conflicts with the current state."


class Throttled(BastionError):
    type = "throttled"
    status = 429
    title = "Too many requests"
    default_detail = "Too many attempts; retry after the delay in Retry-After."

    def __init__(self, retry_after: float, detail: str | None = None) -> None:
        super().__init__(detail)
        self.retry_after = max(1, int(retry_after + 0.999))

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


# --- scanner (`bastion scan`) ------------------------------------------------------------


class ScanRefused(BastionError):
    """``bastion scan`` will not run: the target is not loopback nor named with
    ``--allow-host``, or an option is unsafe. The CLI exits with code 2."""

    type = "scan-refused"
    status = 400
    title = "Scan refused"
    default_detail = "The scan was refused by the safety rules."


# --- Sealed payloads and signed responses (sealing: docs/sealed.md) ---
#
#   BadRequest
#   +-- SealedPayloadInvalid          400 a sealed envelope that cannot be accepted (opaque
#       |                                 when it fails to open; ``reason`` goes to the audit)
#       +-- SealedVersionUnsupported  400 an envelope version this server does not speak
#       +-- SealedPayloadTooLarge     413 a sealed body over ``[sealing] max_body_bytes``
#   SealedPayloadRequired             415 a sealed route received a body that is not sealed
#   ResponseSignatureInvalid          502 (client side) a response signature does not verify

__all__ += [
    "ResponseSignatureInvalid",
    "SealedPayloadInvalid",
    "SealedPayloadRequired",
    "SealedPayloadTooLarge",
    "SealedVersionUnsupported",
]


class SealedPayloadInvalid(BadRequest):
    """A sealed envelope that is truncated, malformed, expired, replayed, addressed to an
    unknown key or does not open. ``reason`` (a short code) is for the audit log only."""

    type = "sealed-payload-invalid"
    title = "Sealed payload rejected"
    default_detail = "The sealed payload could not be opened."

    def __init__(self, detail: str | None = None, *, reason: str = "open_failed") -> None:
        super().__init__(detail)
        self.reason = reason


class SealedVersionUnsupported(SealedPayloadInvalid):
    type = "sealed-version-unsupported"
    title = "Sealed payload version not supported"
    default_detail = "This server accepts sealed envelopes of version 1 only."

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail, reason="unsupported_version")


class SealedPayloadTooLarge(SealedPayloadInvalid):
    status = 413
    type = "sealed-payload-too-large"
    title = "Sealed payload too large"
    default_detail = "The sealed body is larger than this server accepts."

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail, reason="too_large")


class SealedPayloadRequired(BastionError):
    type = "sealed-payload-required"
    status = 415
    title = "Sealed payload required"
    default_detail = (
        "This route accepts only sealed bodies (application/bastion-sealed); see "
        "/.well-known/bastion-keys."
    )

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail)
        self.reason = "not_sealed"


class ResponseSignatureInvalid(BastionError):
    """Raised on the client side when a response's signature is missing or does not verify."""

    type = "response-signature-invalid"
    status = 502
    title = "Response signature invalid"
    default_detail = "The response signature is missing, malformed, stale or does not verify."


# --- Request integrity: HTTP message signatures and webhooks (signing part) ---------------
#
#   InvalidSignature              401 a request signature is missing or does not verify
#   InvalidWebhookSignature       401 an incoming webhook's signature header does not verify

SIGNATURE_REASONS = frozenset(
    {
        "missing",  # no Signature-Input / Signature header
        "malformed",  # a signature header does not parse, is too long or repeats a member
        "unsupported",  # unknown alg or parameter, or a required component is not covered
        "stale",  # ``created`` outside the allowed clock skew, or past ``expires``
        "digest_mismatch",  # Content-Digest is missing or does not match the body
        "bad_signature",  # the MAC does not verify (changed method, path, query, header)
        "unknown_key",  # the key id names no live key (unknown, revoked or expired)
        "replayed",  # the nonce was already used with this key
        "wrong_key",  # signed with another credential's key than the one presented
    }
)


class InvalidSignature(BastionError):
    """A request signature failed. The problem names the ``reason`` class (one of
    :data:`SIGNATURE_REASONS`) but never an expected value (MAC, digest, server time)."""

    type = "invalid-signature"
    status = 401
    title = "Invalid request signature"
    default_detail = "The request signature is missing or does not verify; see 'reason'."

    def __init__(self, reason: str, detail: str | None = None) -> None:
        if reason not in SIGNATURE_REASONS:
            reason = "malformed"
        super().__init__(detail, reason=reason)
        self.reason = reason


class InvalidWebhookSignature(BastionError):
    """An incoming webhook's ``t=…,v1=…`` header did not verify; ``reason`` is one of
    ``missing``, ``malformed``, ``stale`` or ``bad_signature`` (never an expected value)."""

    type = "invalid-webhook-signature"
    status = 401
    title = "Invalid webhook signature"
    default_detail = "The webhook signature is missing, stale or does not verify; see 'reason'."

    def __init__(self, reason: str, detail: str | None = None) -> None:
        super().__init__(detail, reason=reason)
        self.reason = reason


# --- Data protection (envelope encryption, key rotation, crypto-shredding) -------------------
#
#   BastionError
#   +-- DecryptionFailed              500 a ciphertext did not open (opaque: reason goes to audit)
#   |   +-- MalformedCiphertext       500 not a Bastion ciphertext: truncated or unknown version
#   +-- ShreddedSubject               410 the subject's data keys were destroyed (crypto-shredded)
#   +-- Conflict
#       +-- KekInUse                  409 a KEK version still wraps data keys; cannot retire it


class DecryptionFailed(BastionError):
    """A ciphertext could not be opened: wrong key, wrong subject or context, or a tampered byte.

    Not the client's fault and deliberately opaque: the detail never says which check failed
    (the reason goes to the audit event)."""

    type = "decryption-failed"
    title = "Decryption failed"
    default_detail = "A stored value could not be decrypted."


class MalformedCiphertext(DecryptionFailed):
    """The bytes are not a Bastion ciphertext: too short, or an unknown format version."""

    type = "malformed-ciphertext"
    title = "Malformed ciphertext"
    default_detail = "Not a Bastion ciphertext: it is truncated or has an unknown format version."


class ShreddedSubject(BastionError):
    """The subject was crypto-shredded: its data keys are gone, so its values can never be
    decrypted again (and nothing new is encrypted for it)."""

    type = "subject-shredded"
    status = 410
    title = "Subject shredded"
    default_detail = "The data of this subject was erased and can no longer be read."


class KekInUse(Conflict):
    """``bastion crypto retire`` refused: data keys are still wrapped by that KEK version."""

    type = "kek-in-use"
    title = "Key-encryption key still in use"
    default_detail = "Data keys are still wrapped by this key-encryption key version."


# --- vault: the encrypted personal-data store (bastion.vault) ---------------------------------
#   InvalidInput
#   +-- InvalidVaultValue         422 a vault subject, field or value is invalid
#   +-- FieldNotIndexed           422 lookup on a vault field without a blind index

__all__ += ["FieldNotIndexed", "InvalidVaultValue"]


class InvalidVaultValue(InvalidInput):
    """A vault subject, field or value failed validation (wrong type, too large, not a phone
    number or e-mail address for an indexed field). Names the field, never echoes the value."""

    type = "invalid-vault-value"
    title = "Invalid vault value"
    default_detail = "The vault value is invalid."


class FieldNotIndexed(InvalidInput):
    """A lookup on a field that has no blind index (not in ``vault.lookup_fields``)."""

    type = "vault-field-not-indexed"
    title = "Field cannot be looked up"
    default_detail = (
        "This field has no blind index; only the configured lookup fields can be searched."
    )
