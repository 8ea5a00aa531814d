"""Signing keys that are derived, never stored.

A key id names its owner: ``s:<session id>`` for the key issued with a session at login (and
again with every refresh of it), ``k:<api key id>`` for the secret issued with an API key. The
secret is ``HMAC-SHA256(K, key id)`` where ``K`` is the master-key subkey for the purpose label
``bastion/request-signing-key/v1``: nothing is written to a database, and the key stops
verifying when its session or API key ends (the verifier checks the owner is live).
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field

from bastion.crypto import MasterKey
from bastion.signing._mac import MacKey

__all__ = ["KEY_ID", "PURPOSE", "IssuedKey", "KeyDeriver", "decode_secret"]

PURPOSE = "bastion/request-signing-key/v1"
MAX_REMEMBERED = 4096
KEY_ID = re.compile(r"^(?P<kind>[sk]):(?P<owner>[A-Za-z0-9_-]{1,64})$")


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A key id and its 256-bit secret; ``repr`` never shows the secret."""

    key_id: str
    secret: bytes = field(repr=False)

    @property
    def encoded(self) -> str:
        """The secret as base64url without padding, as clients receive it."""
        return base64.urlsafe_b64encode(self.secret).rstrip(b"=").decode("ascii")


def decode_secret(encoded: str) -> bytes:
    """The raw secret from its base64url form (what login and key creation return)."""
    return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))


class KeyDeriver:
    """Derives the secret of any key id from one purpose subkey of the master key.

    The verifier's :meth:`mac_key` is remembered per key id (up to :data:`MAX_REMEMBERED`,
    then all forgotten at once) so that a busy key's requests neither derive its secret nor
    set up its HMAC every time. A remembered key is what deriving it again would give, and
    its owner is still checked live on every request: remembering it keeps nothing alive."""

    __slots__ = ("_base", "_remembered")

    def __init__(self, master: MasterKey) -> None:
        self._base = MacKey(master.derive(PURPOSE))
        self._remembered: dict[str, MacKey] = {}

    def __repr__(self) -> str:
        return "KeyDeriver(...)"

    def secret(self, key_id: str) -> bytes:
        return self._base.mac(key_id.encode("ascii"))

    def mac_key(self, key_id: str) -> MacKey:
        """The secret of ``key_id`` set up for verifying MACs."""
        key = self._remembered.get(key_id)
        if key is None:
            key = MacKey(self.secret(key_id))
            if len(self._remembered) >= MAX_REMEMBERED:
                self._remembered.clear()
            self._remembered[key_id] = key
        return key

    def session(self, session_id: str) -> IssuedKey:
        key_id = f"s:{session_id}"
        return IssuedKey(key_id, self.secret(key_id))

    def api_key(self, api_key_id: str) -> IssuedKey:
        key_id = f"k:{api_key_id}"
        return IssuedKey(key_id, self.secret(key_id))
