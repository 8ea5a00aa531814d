"""The state a scan shares between checks: the client, the accounts, the session and
cached probes. Setup registers at most one test account (random name) unless told not to."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from bastion.infra import Clock
from bastion.scanner._client import Probe, ScanClient
from bastion.scanner._options import ScanOptions
from bastion.scanner._safety import Redactor

__all__ = ["Account", "ScanContext", "TokenPair", "random_username"]

MAX_ACCOUNTS = 3


def random_username() -> str:
    return "bscan" + secrets.token_hex(6)


def random_password() -> str:
    return "Bscan-" + secrets.token_urlsafe(18)


@dataclass(frozen=True)
class Account:
    username: str
    password: str
    created_by_scan: bool


@dataclass(frozen=True)
class TokenPair:
    access: str
    refresh: str | None


@dataclass
class ScanContext:
    options: ScanOptions
    client: ScanClient
    clock: Clock
    redact: Redactor = field(default_factory=Redactor)
    primary: Account | None = None
    test_account: Account | None = None
    token: str | None = None
    created_accounts: list[str] = field(default_factory=list)
    signing_key: tuple[str, bytes | str] | None = None
    cache: dict[str, Any] = field(default_factory=dict)

    async def send(self, method: str, path: str, **kwargs: Any) -> Probe:
        """Send through the budgeted client; remembers every ``Set-Cookie`` seen."""
        probe = await self.client.send(method, path, **kwargs)
        if probe.set_cookies:
            seen = self.cache.setdefault("cookies", [])
            seen.extend((probe.path, raw) for raw in probe.set_cookies)
        return probe

    async def cached(self, key: str, make: Callable[[], Awaitable[Any]]) -> Any:
        if key not in self.cache:
            self.cache[key] = await make()
        return self.cache[key]

    # --- accounts and sessions ---------------------------------------------------------

    async def register(self, username: str, password: str) -> Probe | None:
        """One registration attempt; ``None`` when the scan may not create more accounts."""
        if not self.options.register or len(self.created_accounts) >= MAX_ACCOUNTS:
            return None
        self.redact.add(password)
        probe = await self.send(
            "POST", self.options.register_path, json={"username": username, "password": password}
        )
        if 200 <= probe.status < 300:
            self.created_accounts.append(username)
        return probe

    async def login(
        self,
        username: str,
        password: str,
        *,
        retry_throttled: bool = True,
        headers: dict[str, str] | None = None,
    ) -> Probe:
        self.redact.add(password)
        body = {"username": username, "password": password}
        probe = await self.send(
            "POST",
            self.options.login_path,
            json=body,
            headers=headers,
            retry_throttled=retry_throttled,
        )
        pair = tokens_from(probe)
        if pair:
            self.redact.add(pair.access, pair.refresh)
        return probe

    async def new_session(self, account: Account | None = None) -> TokenPair | None:
        account = account or self.primary
        if account is None:
            return None
        return tokens_from(await self.login(account.username, account.password))

    async def protected(self, token: str | None, **headers: str) -> Probe:
        """Call the protected endpoint with ``token`` as a bearer token (or none)."""
        sent = dict(headers)
        if token is not None:
            sent["authorization"] = f"Bearer {token}"
        return await self.send("GET", self.options.protected_path, headers=sent)

    async def setup(self) -> list[str]:
        """Create the test account, log in, and say what was done (for the banner)."""
        notes: list[str] = []
        opts = self.options
        self.redact.add(opts.password, opts.token, opts.signing_key)
        if opts.username and opts.password:
            self.primary = Account(opts.username, opts.password, created_by_scan=False)
        if opts.register:
            account = Account(random_username(), random_password(), created_by_scan=True)
            probe = await self.register(account.username, account.password)
            if probe is not None and 200 <= probe.status < 300:
                self.test_account = account
                notes.append(f"registered test account {account.username}")
            elif probe is not None:
                notes.append(f"registration answered {probe.status}; no test account")
        self.primary = self.primary or self.test_account
        if opts.token:
            self.token = opts.token
        elif self.primary:
            pair = await self.new_session(self.primary)
            self.token = pair.access if pair else None
            notes.append("logged in" if pair else "login failed: token checks will be skipped")
        return notes


def tokens_from(probe: Probe) -> TokenPair | None:
    body = probe.json() if 200 <= probe.status < 300 else None
    if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
        return None
    refresh = body.get("refresh_token")
    return TokenPair(body["access_token"], refresh if isinstance(refresh, str) else None)
