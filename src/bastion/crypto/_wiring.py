"""Build ``guard.crypto`` from the settings: the KEK source and the key store's database."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from bastion.crypto._keks import EnvKekSource, FileKekSource, Kek, KekSource
from bastion.crypto._keystore import KeyStore
from bastion.crypto._master import MasterKey
from bastion.crypto._operations import ReencryptSource
from bastion.crypto._service import DataProtection
from bastion.errors import ConfigError
from bastion.infra import Clock, Database, HotState

if TYPE_CHECKING:
    from bastion.config import Settings
    from bastion.monitor import AuditLog

__all__ = ["build_data_protection", "kek_source", "keystore_for", "load_reencrypt_sources"]


def kek_source(settings: Settings) -> KekSource:
    """The configured KEK provider (``file``, ``env`` or ``pkcs11``)."""
    cfg = settings.crypto
    if cfg.kek_provider == "env":
        return EnvKekSource()
    if cfg.kek_provider == "pkcs11":
        from bastion.crypto._pkcs11 import Pkcs11KekSource

        pin = cfg.pkcs11_pin.get_secret_value() if cfg.pkcs11_pin else None
        return Pkcs11KekSource(cfg.pkcs11_module, cfg.pkcs11_token, pin, cfg.pkcs11_key_label)
    return FileKekSource(settings.data_dir)


def keystore_for(settings: Settings) -> KeyStore:
    """``crypto.keystore_url`` if set; else ``keystore.db`` beside a SQLite main database,
    or the ``crypto.keystore_schema`` schema of a PostgreSQL main database."""
    cfg = settings.crypto
    if cfg.keystore_url is not None and cfg.keystore_url.get_secret_value():
        url = cfg.keystore_url.get_secret_value()
    elif settings.database_url.startswith("sqlite"):
        url = f"sqlite+aiosqlite:///{settings.data_dir / 'keystore.db'}"
    else:
        url = settings.database_url
    db = Database(url, pool_size=min(settings.database.pool_size, 5))
    return KeyStore(db, schema=None if db.is_sqlite else cfg.keystore_schema)


def build_data_protection(
    settings: Settings,
    *,
    master: MasterKey,
    clock: Clock,
    audit: AuditLog,
    main_db: Database,
    hot: HotState | None,
) -> DataProtection:
    """Construct (not start) the service; ``await service.start()`` before use."""
    return DataProtection(
        settings.crypto,
        store=keystore_for(settings),
        source=_LazySource(settings),
        master=master,
        clock=clock,
        audit=audit,
        main_db=main_db,
        hot=hot,
        data_dir=settings.data_dir,
    )


class _LazySource:
    """Opens the real KEK source on first use, so constructing Bastion never touches a token."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._source: KekSource | None = None
        self.name: str = settings.crypto.kek_provider

    def _get(self) -> KekSource:
        if self._source is None:
            self._source = kek_source(self._settings)
        return self._source

    def where(self, version: int) -> str:
        return self._get().where(version)

    def load(self, version: int) -> Kek:
        return self._get().load(version)

    def create(self, version: int) -> Kek:
        return self._get().create(version)

    def close(self) -> None:
        if self._source is not None:
            self._source.close()


def load_reencrypt_sources(guard: Any) -> list[ReencryptSource]:
    """The sources named in ``crypto.reencrypt_sources`` (``"module:callable"``; each
    callable takes the guard and returns an iterable of sources). Operator configuration, like
    an ASGI app path: a name that does not import is a :class:`ConfigError`."""
    found: list[ReencryptSource] = []
    for name in guard.settings.crypto.reencrypt_sources:
        module_name, _, attr = name.partition(":")
        try:
            factory = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError, ValueError):
            raise ConfigError(
                f"crypto.reencrypt_sources: cannot import {name!r} (use 'module:callable')"
            ) from None
        found.extend(factory(guard))
    return found
