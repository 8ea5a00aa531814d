"""The KEK keyring: the ordered list of KEK versions recorded in the key store, the newest
active one wraps new data keys, every non-retired one unwraps.

Each version is recorded with a check value (a constant wrapped by that KEK), so a wrong key
file, variable or token key is refused at load with a :class:`ConfigError` instead of showing
up later as undecryptable data.
"""

from __future__ import annotations

from bastion.crypto._keks import Kek, KekSource
from bastion.crypto._keystore import KekRow, KeyStore
from bastion.errors import ConfigError, DecryptionFailed
from bastion.infra import Clock

__all__ = ["Keyring", "wrap_aad"]

_CHECK = b"bastion key-encryption key check"


def _check_aad(version: int) -> bytes:
    return b"bastion/kek-check/v1\x00" + version.to_bytes(4, "big")


def wrap_aad(dek_id: str, kek_version: int, subject_key: str, purpose: str) -> bytes:
    """Associated data of a wrapped DEK: binds it to its id, KEK version, subject and purpose,
    so a wrapped key copied onto another row of the key store does not unwrap."""
    return b"\x00".join(
        (
            b"bastion/dek-wrap/v1",
            dek_id.encode(),
            kek_version.to_bytes(4, "big"),
            subject_key.encode(),
            purpose.encode(),
        )
    )


class Keyring:
    """KEK versions, loaded from their source on first use and checked against the store."""

    def __init__(self, store: KeyStore, source: KekSource, clock: Clock) -> None:
        self._store, self.source, self._clock = store, source, clock
        self._loaded: dict[int, Kek] = {}
        self._rows: dict[int, KekRow] = {}
        self.current_version = 0

    async def start(self) -> None:
        """Load the recorded versions; create KEK version 1 on the very first start."""
        await self.refresh()
        if not self._rows:
            await self.add_version()
        self.current  # noqa: B018 -- load (and check) the current KEK now, failing at start

    async def refresh(self) -> None:
        """Re-read the versions (another process may have rotated)."""
        self._rows = {row.version: row for row in await self._store.keks()}
        active = [v for v, row in self._rows.items() if row.state == "active"]
        self.current_version = max(active, default=0)

    @property
    def rows(self) -> list[KekRow]:
        return [self._rows[v] for v in sorted(self._rows)]

    @property
    def current(self) -> Kek:
        """The KEK that wraps new data keys."""
        if not self.current_version:
            raise ConfigError("the key store lists no active key-encryption key")
        return self._get(self.current_version)

    async def kek(self, version: int) -> Kek:
        """KEK ``version`` for unwrapping; re-reads the store once for a version it does not
        know yet (rotated by another process)."""
        if version not in self._loaded and version not in self._rows:
            await self.refresh()
        return self._get(version)

    def _get(self, version: int) -> Kek:
        kek = self._loaded.get(version)
        if kek is not None:
            return kek
        row = self._rows.get(version)
        if row is None:
            raise DecryptionFailed  # a header naming a KEK the store never had
        if row.state == "retired":
            raise ConfigError(f"KEK version {version} is retired and can no longer be used")
        kek = self.source.load(version)
        self._verify(kek, row)
        self._loaded[version] = kek
        return kek

    def _verify(self, kek: Kek, row: KekRow) -> None:
        try:
            kek.unwrap(row.check_value, _check_aad(row.version))
        except DecryptionFailed:
            raise ConfigError(
                f"KEK version {row.version} from {self.source.where(row.version)} does not match "
                "the key store (a different key?); restore the right key"
            ) from None

    async def add_version(self) -> int:
        """Create the next KEK version, record it and make it current. Returns its number."""
        await self.refresh()
        version = max(self._rows, default=0) + 1
        kek = self.source.create(version)
        check = kek.wrap(_CHECK, _check_aad(version))
        if await self._store.add_kek(version, self.source.name, check, self._clock.now()):
            self._loaded[version] = kek
        await self.refresh()
        return version

    def forget(self, version: int) -> None:
        self._loaded.pop(version, None)
