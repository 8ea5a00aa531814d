"""Login brute-force defence: progressive delays per account and per trusted device, and
failure budgets per client IP and per subnet. Never a plain lockout.

State lives in the injected :class:`~bastion.infra.HotState` (process memory or Redis), so every
replica sees the same counters. Keys (all prefixed ``login:``):

- ``login:acct:<account>:n`` / ``:t``: consecutive failures from untrusted devices and the time of
  the last one; ``login:dev:<len>:<account>:<device>:n`` / ``:t``: the same for one trusted device.
  They live 24 h (or twice ``delay_max_seconds`` if that is longer): the count from the streak's
  first failure, the time from its last;
- ``login:ip:<window>:<ip>`` and ``login:net:<window>:<subnet>``: failures in one fixed window of
  ``failure_window_seconds`` (subnets are /24 for IPv4, /64 for IPv6); they live one window.

:meth:`LoginThrottle.check` only reads, so it is cheap enough to run before any password hash.
The consecutive-failure ceiling of NIST SP 800-63B (100) is counted durably by the login service,
not here. See docs/brute-force.md.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
from typing import Literal

from bastion.config import LoginSettings
from bastion.errors import Throttled
from bastion.infra import Clock, HotState

__all__ = ["LoginThrottle", "LoginThrottled", "Scope", "client_keys"]

Scope = Literal["account", "device", "ip", "subnet"]
STREAK_TTL_SECONDS = 24 * 3600
_MAX_EXPONENT = 62  # 2**62 seconds is far beyond any cap; keeps the arithmetic small


class LoginThrottled(Throttled):
    """A :class:`~bastion.errors.Throttled` (429 + Retry-After) that says which counter tripped.

    ``scope`` is for the audit event only; it is not part of the public problem body.
    """

    def __init__(self, retry_after: float, scope: Scope) -> None:
        super().__init__(retry_after)
        self.scope: Scope = scope


def client_keys(ip: str | None) -> tuple[str | None, str | None]:
    """The per-IP and per-subnet keys of a client address: ``(ip, subnet)``.

    IPv4 groups by /24, IPv6 by /64; an IPv4-mapped IPv6 address counts as its IPv4 address.
    A string that is not an IP address is its own IP key (hashed, so keys stay short) with no
    subnet; None (address unknown) has neither.
    """
    if ip is None:
        return None, None
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return "x" + hashlib.sha256(ip.encode("utf-8", "replace")).hexdigest()[:32], None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    if isinstance(addr, ipaddress.IPv4Address):
        return str(addr), str(ipaddress.IPv4Network((int(addr) >> 8 << 8, 24)))
    network = ipaddress.IPv6Network((int(addr) >> 64 << 64, 64))
    return str(ipaddress.IPv6Address(int(addr))), str(network)


def _streak_keys(account: str, device: str | None) -> tuple[str, str]:
    """(count key, last-failure key); the length prefix keeps (account, device) unambiguous."""
    if device is None:
        base = f"login:acct:{account}"
    else:
        base = f"login:dev:{len(account)}:{account}:{device}"
    return base + ":n", base + ":t"


class LoginThrottle:
    """Decides whether a login attempt may proceed; the caller audits and hashes.

    Per account, after ``delay_after_failures`` consecutive failures from untrusted devices the
    next attempt waits ``delay_base_seconds * 2**(n - delay_after_failures)`` after the last
    failure, capped at ``delay_max_seconds``. A trusted device has its own counter with the same
    delay and ignores the untrusted one, so an attacker cannot lock the owner out. Untrusted
    attempts also share a failure budget per IP and per subnet in fixed windows (password
    spraying); trusted devices are exempt from those and do not spend them.
    """

    def __init__(self, hot: HotState, clock: Clock, settings: LoginSettings) -> None:
        self._hot = hot
        self._clock = clock
        self._settings = settings
        self._streak_ttl = max(STREAK_TTL_SECONDS, 2 * settings.delay_max_seconds)

    async def check(self, *, account: str, ip: str | None, device: str | None) -> None:
        """Raise :class:`LoginThrottled` (a :class:`Throttled`) when this attempt must wait.

        Reads hot state only (no writes, no hashing). When several limits apply, the longest
        wait wins. ``device`` is the key of a device the caller trusts for this account, or None.
        Raises :class:`~bastion.errors.StorageUnavailable` when Redis is down (fails closed).
        """
        now = self._clock.now()
        count_key, last_key = _streak_keys(account, device)
        windows = self._windows(ip, now) if device is None else []
        streak, counts = await asyncio.gather(
            asyncio.gather(self._hot.get_int(count_key), self._hot.get(last_key)),
            asyncio.gather(*(self._hot.get_int(key) for key, _, _ in windows)),
        )
        waits: list[tuple[float, Scope]] = []
        streak_wait = self._streak_wait(streak[0], streak[1], now)
        if streak_wait > 0:
            waits.append((streak_wait, "account" if device is None else "device"))
        window_end = self._window(now) * self._settings.failure_window_seconds
        window_end += self._settings.failure_window_seconds
        for (_, limit, scope), count in zip(windows, counts, strict=True):
            if count >= limit:
                waits.append((window_end - now, scope))
        if waits:
            retry_after, scope = max(waits)
            raise LoginThrottled(retry_after, scope)

    async def record_failure(self, *, account: str, ip: str | None, device: str | None) -> None:
        """Count one failed verification (never a throttled attempt) in the right counters:
        the untrusted or the trusted-device streak, plus the IP and subnet windows when the
        device is untrusted."""
        now = self._clock.now()
        count_key, last_key = _streak_keys(account, device)
        await self._hot.put(last_key, repr(now).encode("ascii"), self._streak_ttl)
        await self._hot.incr(count_key, self._streak_ttl)
        if device is None:
            ttl = self._settings.failure_window_seconds
            windows = self._windows(ip, now)
            await asyncio.gather(*(self._hot.incr(key, ttl) for key, _, _ in windows))

    async def record_success(self, *, account: str, device: str | None) -> None:
        """Reset the account's untrusted streak and, if given, that device's streak.
        IP and subnet budgets are left alone (a sprayer could otherwise refill them)."""
        keys = list(_streak_keys(account, None))
        if device is not None:
            keys += _streak_keys(account, device)
        await asyncio.gather(*(self._hot.delete(key) for key in keys))

    async def reset(self, account: str, *, devices: tuple[str, ...] = ()) -> None:
        """Admin unlock: clear the untrusted streak and the streaks of ``devices`` (hot state
        cannot list an account's devices; pass the trusted device keys from the database)."""
        keys = list(_streak_keys(account, None))
        for device in devices:
            keys += _streak_keys(account, device)
        await asyncio.gather(*(self._hot.delete(key) for key in keys))

    def _window(self, now: float) -> int:
        return int(now // self._settings.failure_window_seconds)

    def _windows(self, ip: str | None, now: float) -> list[tuple[str, int, Scope]]:
        """(key, limit, scope) of each failure window that applies to ``ip`` now."""
        ip_key, subnet_key = client_keys(ip)
        window = self._window(now)
        settings = self._settings
        windows: list[tuple[str, int, Scope]] = []
        if ip_key is not None:
            windows.append((f"login:ip:{window}:{ip_key}", settings.ip_failures_per_window, "ip"))
        if subnet_key is not None:
            limit = settings.subnet_failures_per_window
            windows.append((f"login:net:{window}:{subnet_key}", limit, "subnet"))
        return windows

    def _streak_wait(self, failures: int, last: bytes | None, now: float) -> float:
        """Seconds still to wait after ``failures`` consecutive failures, the last at ``last``."""
        settings = self._settings
        if failures < settings.delay_after_failures:
            return 0.0
        exponent = min(failures - settings.delay_after_failures, _MAX_EXPONENT)
        delay = float(min(settings.delay_max_seconds, settings.delay_base_seconds * 2**exponent))
        try:
            last_at = float(last) if last is not None else now  # missing or corrupt: fail closed
        except ValueError:
            last_at = now
        return min(delay, last_at + delay - now)
