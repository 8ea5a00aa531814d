"""``guard.signatures``: issue derived signing keys and verify signed requests.

Verification order (cheap and I/O-free first; only a request that carries a valid MAC can
reach the key store or spend a nonce):

1. parse the headers (bounded) and check the covered components;
2. ``created`` within ``[signing] skew_seconds`` of the clock (and not past ``expires``);
3. ``Content-Digest`` against the body, when the body is at hand;
4. the key id's form, then the MAC in constant time;
5. the key's owner is live: the session is not revoked, expired or idle, the API key is not
   revoked, expired, rotated out, or used from outside its allow-list;
6. the nonce is new for this key (atomic set-if-absent in hot state, kept until ``created``
   leaves the window: the same request is accepted once, ever).

Every refusal raises :class:`~bastion.errors.InvalidSignature` naming the reason class, and is
audited as ``signature.rejected`` (sampled per reason and client network) without any value.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol

from bastion.config import SigningSettings
from bastion.crypto import MasterKey
from bastion.errors import InvalidSignature, InvalidToken
from bastion.infra import Clock, HotState
from bastion.monitor import AuditLog
from bastion.signing._canonical import SignedRequest, signature_base
from bastion.signing._digest import verify_content_digest
from bastion.signing._keys import KEY_ID, IssuedKey, KeyDeriver
from bastion.signing._parse import parse_signature

__all__ = ["RequestSignatures", "VerifiedSignature"]

_DEAD_KEY = "The key is unknown, revoked or expired."


class _Sessions(Protocol):
    async def live_session_owner(self, session_id: str) -> str: ...


class _ApiKeyPrincipal(Protocol):
    @property
    def owner_user_id(self) -> str | None: ...
    @property
    def owner_service(self) -> str | None: ...


class _ApiKeys(Protocol):
    async def verify_key_id(self, key_id: str, *, ip: str | None) -> _ApiKeyPrincipal: ...


class VerifiedSignature(NamedTuple):
    """A signature that verified: its key id, and the subject, session or API key behind it.
    (An immutable named tuple: one is made per verified request.)"""

    key_id: str
    subject: str
    session_id: str | None = None
    api_key_id: str | None = None

    def check_bound(self, *, session_id: str | None, api_key_id: str | None) -> None:
        """Refuse (``wrong_key``) a signature made with another credential's key than the
        access token or API key the same request presents; no credential: nothing to bind."""
        if session_id is not None and session_id != self.session_id:
            raise InvalidSignature("wrong_key", "The request is signed with another key.")
        if api_key_id is not None and api_key_id != self.api_key_id:
            raise InvalidSignature("wrong_key", "The request is signed with another key.")


class RequestSignatures:
    """Construct with the master key, hot state, clock, audit log, session and API key
    services and the ``[signing]`` settings."""

    def __init__(
        self,
        master: MasterKey,
        hot: HotState,
        clock: Clock,
        audit: AuditLog,
        sessions: _Sessions,
        apikeys: _ApiKeys,
        settings: SigningSettings,
    ) -> None:
        self._keys = KeyDeriver(master)
        self._hot, self._clock, self._audit = hot, clock, audit
        self._sessions, self._apikeys = sessions, apikeys
        self.settings = settings

    def session_key(self, session_id: str) -> IssuedKey:
        """The signing key of a session (``s:<session id>``); give it to the client once."""
        return self._keys.session(session_id)

    def api_key_key(self, api_key_id: str) -> IssuedKey:
        """The signing secret of an API key (``k:<api key id>``); show it once."""
        return self._keys.api_key(api_key_id)

    async def verify(
        self,
        request: SignedRequest,
        *,
        body: bytes | None,
        ip: str | None = None,
        session_id: str | None = None,
        api_key_id: str | None = None,
    ) -> VerifiedSignature:
        """Verify a signed request (``body=None`` when only a gateway's view is available:
        the ``Content-Digest`` header is then covered but not compared with a body). When the
        request also presented an access token (``session_id``) or an API key
        (``api_key_id``), the signature must be made with that credential's key.

        Fails closed: raises :class:`~bastion.errors.InvalidSignature` (audited, sampled) on
        any failure, :class:`~bastion.errors.StorageUnavailable` when hot state is down."""
        # One coroutine for the whole check (no helpers awaited in between): a signed request
        # is verified on every call of a busy route.
        try:
            sig = parse_signature(request.headers, max_header_bytes=self.settings.max_header_bytes)
            now = int(self._clock.now())
            skew = self.settings.skew_seconds
            if abs(now - sig.created) > skew or (sig.expires is not None and now > sig.expires):
                raise InvalidSignature("stale", "The signature time is outside the allowed window.")
            if body is not None:
                verify_content_digest(request.headers, body)
            found = KEY_ID.match(sig.key_id)
            if found is None:
                raise InvalidSignature("unknown_key", "The key id names no key.")
            base = signature_base(request, sig.components, sig.params)
            self._keys.mac_key(sig.key_id).verify(base, sig.mac)
            kind, owner = found.groups()
            try:  # the key's owner is live
                if kind == "s":
                    subject = await self._sessions.live_session_owner(owner)
                    verified = VerifiedSignature(sig.key_id, subject, owner, None)
                else:
                    principal = await self._apikeys.verify_key_id(owner, ip=ip)
                    subject = principal.owner_user_id or f"service:{principal.owner_service}"
                    verified = VerifiedSignature(sig.key_id, subject, None, owner)
            except InvalidToken:
                raise InvalidSignature("unknown_key", _DEAD_KEY) from None
            if session_id is not None or api_key_id is not None:
                verified.check_bound(session_id=session_id, api_key_id=api_key_id)
            # Spent last, once the MAC and the key's owner are known good; kept until
            # ``created`` leaves the window.
            ttl = max(1, sig.created + skew - now + 1)
            if not await self._hot.add_once(f"sig:nonce:{sig.key_id}:{sig.nonce}", ttl):
                raise InvalidSignature("replayed", "This nonce was already used with this key.")
            return verified
        except InvalidSignature as exc:
            await self._audit.record_denied("signature.rejected", reason=exc.reason, ip=ip)
            raise
