"""Identifiers and random tokens. Ids are random (not sequential) so they leak no counts."""

from __future__ import annotations

import base64
import secrets
import uuid

__all__ = ["new_id", "random_token"]


def new_id() -> str:
    """A random 128-bit identifier (UUIDv4, 122 random bits) as 32 hex characters."""
    return uuid.uuid4().hex


def random_token(nbytes: int = 32) -> str:
    """``nbytes`` from the OS CSPRNG, base64url without padding (256 bits by default)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(nbytes)).rstrip(b"=").decode("ascii")
