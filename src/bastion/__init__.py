"""Bastion: the security layer for mini program backends.

Three ways to run it from the same code: this library (:class:`Bastion`), the ASGI app and
middleware (``bastion.http``), and the service (``bastion serve``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["Bastion", "BastionError", "Settings", "load_settings"]
__version__ = "0.1.0"

if TYPE_CHECKING:
    from bastion._facade import Bastion
    from bastion.config import Settings, load_settings
    from bastion.errors import BastionError


def __getattr__(name: str) -> Any:
    # Lazy, so importing one capability does not import (and wire) all of them.
    if name == "Bastion":
        from bastion._facade import Bastion

        return Bastion
    if name in ("Settings", "load_settings"):
        from bastion import config

        return getattr(config, name)
    if name == "BastionError":
        from bastion.errors import BastionError

        return BastionError
    raise AttributeError(name)
