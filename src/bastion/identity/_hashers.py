"""Password hashing: Argon2id for new hashes; imported bcrypt and Django PBKDF2 verify-only.

After Django's ``contrib.auth.hashers``: a small class per self-describing stored format (PHC
``$argon2id$``, ``$2b$``, ``pbkdf2_sha256$``), picked by prefix; passwords are NFKC-normalised.
:class:`PasswordHashing` is the bounded, load-shedding, equal-work service (ASVS V11.4.2, V11.2.2).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import re
import secrets
import unicodedata
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol, TypeVar

import argon2
import bcrypt
import structlog
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from bastion.config import PasswordSettings
from bastion.errors import Overloaded

UNUSABLE_PREFIX = "!"
"""Stored instead of a hash for accounts that have no password (they sign in otherwise)."""

__all__ = [
    "UNUSABLE_PREFIX",
    "Argon2idHasher",
    "BcryptHasher",
    "DjangoPbkdf2Hasher",
    "PasswordHasher",
    "PasswordHashing",
    "VerifyResult",
    "normalise_password",
]

_T = TypeVar("_T")
_log = structlog.get_logger("bastion.identity")

# Ceilings on the work a stored hash may demand; above them the hash is treated as corrupt
# (a planted hash must not be able to pin a worker or exhaust memory).
_ARGON2_CEILING = (1024 * 1024, 16, 16)  # memory KiB, time cost, parallelism
_BCRYPT_MAX_COST = 16
_BCRYPT_MAX_BYTES = 72
_PBKDF2_MAX_ITERATIONS = 10_000_000
_BCRYPT_RE = re.compile(r"\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}")
_PBKDF2_RE = re.compile(r"pbkdf2_sha256\$([0-9]{1,9})\$([^$]+)\$([A-Za-z0-9+/=]+)")


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """Outcome of :meth:`PasswordHashing.verify`: ``needs_rehash`` is only ever True when ok."""

    ok: bool
    needs_rehash: bool


class PasswordHasher(Protocol):
    """One stored-hash format. ``verify`` returns False on mismatch and never raises on garbage."""

    algorithm: str

    def identify(self, stored: str) -> bool: ...

    def verify(self, password: str, stored: str) -> bool: ...

    def must_update(self, stored: str) -> bool: ...


def normalise_password(password: str) -> str:
    """Unicode NFKC form of ``password`` (NIST SP 800-63B), applied at set and verify time.

    Raises ``TypeError`` when ``password`` is not a ``str``.
    """
    if not isinstance(password, str):
        raise TypeError("password must be a str")
    return unicodedata.normalize("NFKC", password)


def _utf8(password: str) -> bytes:
    # surrogatepass: a lone surrogate from a JSON body must fail verification, not raise.
    return password.encode("utf-8", "surrogatepass")


class Argon2idHasher:
    """Argon2id (RFC 9106) through argon2-cffi; PHC strings; also verifies argon2i/argon2d."""

    algorithm = "argon2id"
    _PREFIXES = ("$argon2id$", "$argon2i$", "$argon2d$")

    def __init__(self, *, memory_cost: int, time_cost: int, parallelism: int) -> None:
        self._ph = argon2.PasswordHasher(
            time_cost=time_cost,
            memory_cost=memory_cost,
            parallelism=parallelism,
            type=argon2.Type.ID,
        )
        own = (memory_cost, time_cost, parallelism)
        self._ceiling = tuple(max(a, b) for a, b in zip(own, _ARGON2_CEILING, strict=True))

    def hash(self, password: str) -> str:
        """A fresh PHC string with a random 128-bit salt (the caller normalises)."""
        return self._ph.hash(_utf8(password))

    def identify(self, stored: str) -> bool:
        return stored.startswith(self._PREFIXES)

    def check(self, password: str, stored: str) -> bool | None:
        """True on match, False on mismatch, None when ``stored`` is corrupt or too costly."""
        try:
            params = argon2.extract_parameters(stored)
        except InvalidHashError:
            return None
        costs = (params.memory_cost, params.time_cost, params.parallelism)
        if any(c > limit for c, limit in zip(costs, self._ceiling, strict=True)):
            return None
        try:
            return self._ph.verify(stored, _utf8(password))
        except VerifyMismatchError:
            return False
        except (VerificationError, InvalidHashError):
            return None

    def verify(self, password: str, stored: str) -> bool:
        return self.check(password, stored) is True

    def must_update(self, stored: str) -> bool:
        """True for argon2i/argon2d or any parameter (m, t, p, salt or hash length) not current."""
        if not stored.startswith("$argon2id$"):
            return True
        try:
            return self._ph.check_needs_rehash(stored)
        except InvalidHashError:
            return True


class _VerifyOnly:
    """Imported formats: never used for new hashes, so always due for an upgrade."""

    def check(self, password: str, stored: str) -> bool | None:
        raise NotImplementedError

    def verify(self, password: str, stored: str) -> bool:
        return self.check(password, stored) is True

    def must_update(self, stored: str) -> bool:
        return True


class BcryptHasher(_VerifyOnly):
    """Imported ``$2a$``/``$2b$``/``$2y$`` hashes; over 72 UTF-8 bytes never matches."""

    algorithm = "bcrypt"

    def identify(self, stored: str) -> bool:
        return stored.startswith(("$2a$", "$2b$", "$2y$"))

    def check(self, password: str, stored: str) -> bool | None:
        """True on match, False on mismatch or > 72 bytes, None when ``stored`` is corrupt."""
        match = _BCRYPT_RE.fullmatch(stored)
        if match is None or int(match.group(1)) > _BCRYPT_MAX_COST:
            return None
        secret = _utf8(password)
        if len(secret) > _BCRYPT_MAX_BYTES:
            return False
        try:
            return bcrypt.checkpw(secret, stored.encode("ascii"))
        except ValueError:
            return None


class DjangoPbkdf2Hasher(_VerifyOnly):
    """Django's ``pbkdf2_sha256$<iterations>$<salt>$<b64>``; constant time; <= 10^7 iterations."""

    algorithm = "pbkdf2_sha256"

    def identify(self, stored: str) -> bool:
        return stored.startswith("pbkdf2_sha256$")

    def check(self, password: str, stored: str) -> bool | None:
        """True on match, False on mismatch, None when ``stored`` is corrupt or too costly."""
        match = _PBKDF2_RE.fullmatch(stored)
        if match is None:
            return None
        iterations = int(match.group(1))
        if not 1 <= iterations <= _PBKDF2_MAX_ITERATIONS:
            return None
        try:
            expected = base64.b64decode(match.group(3), validate=True)
        except binascii.Error:
            return None
        if len(expected) != hashlib.sha256().digest_size:
            return None
        salt = match.group(2).encode("utf-8", "surrogatepass")
        actual = hashlib.pbkdf2_hmac("sha256", _utf8(password), salt, iterations)
        return hmac.compare_digest(actual, expected)


_Hasher = Argon2idHasher | BcryptHasher | DjangoPbkdf2Hasher


def _check_imported(hasher: _VerifyOnly, password: str, stored: str) -> bool | None:
    """Imported hashes may predate NFKC: try the normalised form, then the raw one."""
    normalised = normalise_password(password)
    verdict = hasher.check(normalised, stored)
    if verdict is False and normalised != password:
        verdict = hasher.check(password, stored)
    return verdict


def _scheme(stored: str) -> str:
    """A coarse, secret-free label of a stored hash for logs."""
    labels = (("$argon2", "argon2"), ("$2", "bcrypt"), ("pbkdf2_", "pbkdf2"), ("!", "unusable"))
    found = (label for prefix, label in labels if stored.startswith(prefix))
    return next(found, "unknown") if stored else "empty"


class PasswordHashing:
    """The hashing service login and registration call.

    Guarantees: hashing never runs on the event loop; at most ``hash_workers`` Argon2
    computations hold memory at once and at most ``hash_workers + hash_queue`` jobs are in
    flight (beyond that :class:`~bastion.errors.Overloaded` is raised at once); a wrong
    password, an unknown user (:meth:`verify_decoy`) and a corrupt stored hash each cost one
    Argon2 verify at the current parameters; a corrupt hash fails closed and is logged as
    ``auth.password.corrupt_hash`` without the hash or the password.
    """

    def __init__(self, settings: PasswordSettings) -> None:
        self._argon2 = Argon2idHasher(
            memory_cost=settings.argon2_memory_kib,
            time_cost=settings.argon2_time_cost,
            parallelism=settings.argon2_parallelism,
        )
        self._hashers: tuple[_Hasher, ...] = (self._argon2, BcryptHasher(), DjangoPbkdf2Hasher())
        self._pool = ThreadPoolExecutor(
            max_workers=settings.workers, thread_name_prefix="bastion-hash"
        )
        self._limit = settings.workers + settings.hash_queue
        self._in_flight = 0
        self.calls = 0  # Argon2 verifies done (real or decoy); tests compare it across paths
        self._decoy = self._argon2.hash(secrets.token_urlsafe(32))

    @property
    def in_flight(self) -> int:
        """Jobs running or waiting in the pool right now (for metrics)."""
        return self._in_flight

    async def _run(self, fn: Callable[..., _T], *args: object) -> _T:
        if self._in_flight >= self._limit:
            raise Overloaded(retry_after=1)
        self._in_flight += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)
        finally:
            self._in_flight -= 1

    async def hash(self, password: str) -> str:
        """Argon2id PHC string of the NFKC form. Raises Overloaded when the pool is full."""
        return await self._run(self._argon2.hash, normalise_password(password))

    async def verify(self, password: str, stored: str) -> VerifyResult:
        """Check ``password`` against ``stored`` (Argon2, then bcrypt, then Django PBKDF2).

        Fails closed: an unknown or corrupt ``stored`` gives ``VerifyResult(False, False)``
        and a warning log, never an exception; an unusable password (``!`` prefix, as Django
        marks accounts without one) gives the same after the same work, without the warning.
        ``needs_rehash`` is True when the password is correct and the hash is legacy or has
        outdated parameters. Raises only Overloaded.
        """
        stored = stored if isinstance(stored, str) else ""  # a NULL column is unusable
        if stored.startswith(UNUSABLE_PREFIX):  # deliberately no password (platform-only user)
            await self.verify_decoy(password)
            return VerifyResult(ok=False, needs_rehash=False)
        hasher = next((h for h in self._hashers if h.identify(stored)), None)
        verdict: bool | None = None
        if hasher is self._argon2:
            verdict = await self._run(self._argon2.check, normalise_password(password), stored)
            if verdict is not None:
                self.calls += 1
        elif isinstance(hasher, _VerifyOnly):
            verdict = await self._run(_check_imported, hasher, password, stored)
        if verdict is None or hasher is None:
            _log.warning("auth.password.corrupt_hash", scheme=_scheme(stored))
            await self.verify_decoy(password)
            return VerifyResult(ok=False, needs_rehash=False)
        return VerifyResult(ok=verdict, needs_rehash=verdict and hasher.must_update(stored))

    async def verify_decoy(self, password: str) -> None:
        """Spend the work of one real verify (for an unknown user). Raises only Overloaded."""
        await self._run(self._argon2.check, normalise_password(password), self._decoy)
        self.calls += 1

    def close(self) -> None:
        """Stop the pool: queued jobs are cancelled, running ones finish."""
        self._pool.shutdown(wait=True, cancel_futures=True)
