"""Rate-limit policies: which requests (route glob and methods), keyed by what, under which
limits, at what cost, and what to do when the shared store is unreachable.

A policy is validated when built (pydantic; a bad rate names its text) and compiled once by
the :class:`~bastion.ratelimit.Limiter` into a matcher and a key function.
"""

from __future__ import annotations

import fnmatch
import hashlib
import ipaddress
import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bastion.errors import ConfigError
from bastion.ratelimit._rate import Rate, parse_rate

__all__ = ["CompiledPolicy", "Match", "Policy", "RequestFacts", "compile_policy", "normal_path"]

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_HEADER_NAME = re.compile(r"header:[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}")
_DENY_BY_DEFAULT = "/v1/auth/"
BackendErrorMode = Literal["deny", "local"]


@dataclass(frozen=True, slots=True)
class RequestFacts:
    """What the limiter needs to know about one request. ``path`` is the decoded ASGI path;
    ``apikey`` is the key's public id (never the secret); ``headers`` names are lower-case."""

    method: str
    path: str
    ip: str
    user: str | None = None
    session: str | None = None
    apikey: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


class Match(BaseModel):
    """A route glob (``*`` spans path segments) and methods (empty: any method)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str = Field(default="/*", min_length=1, max_length=256)
    methods: tuple[str, ...] = Field(default=(), max_length=len(_METHODS))

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError(f"route pattern {value!r} must start with '/'")
        return value

    @field_validator("methods")
    @classmethod
    def _methods(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        upper = tuple(m.upper() for m in value)
        unknown = sorted(set(upper) - _METHODS)
        if unknown:
            raise ValueError(f"unknown HTTP methods {unknown}")
        return upper


class Policy(BaseModel):
    """One rate-limit policy. ``on_backend_error`` defaults to ``"deny"`` for patterns under
    ``/v1/auth/`` (fail closed where passwords are guessed) and ``"local"`` elsewhere."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,62}$")
    match: Match = Match()
    key: str = "ip"
    limits: tuple[str, ...] = Field(min_length=1, max_length=8)
    cost: int = Field(default=1, ge=1, le=1_000_000)
    on_backend_error: BackendErrorMode = "local"

    @model_validator(mode="before")
    @classmethod
    def _default_mode(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("on_backend_error") is None:
            match = data.get("match")
            path = match.path if isinstance(match, Match) else None
            if isinstance(match, dict):
                path = match.get("path")
            deny = isinstance(path, str) and path.startswith(_DENY_BY_DEFAULT)
            data = {**data, "on_backend_error": "deny" if deny else "local"}
        return data

    @field_validator("key")
    @classmethod
    def _key(cls, value: str) -> str:
        if value in {"ip", "subnet", "user", "session", "apikey"} or _HEADER_NAME.fullmatch(value):
            return value
        raise ValueError(
            f"key {value!r} must be ip, subnet, user, session, apikey or header:<Name>"
        )

    @field_validator("limits")
    @classmethod
    def _limits(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for text in value:
            try:
                parse_rate(text)
            except ConfigError as exc:
                raise ValueError(exc.detail) from None
        return value

    @model_validator(mode="after")
    def _cost_fits(self) -> Policy:
        for text in self.limits:
            if parse_rate(text).burst < self.cost:
                raise ValueError(f"cost {self.cost} exceeds the burst of {text!r}: never admitted")
        return self


def normal_path(path: str) -> str:
    """Collapse ``//`` and resolve ``.``/``..`` so ``/v1//auth/../auth/x`` cannot dodge a glob."""
    if path.startswith("/") and "//" not in path and "/." not in path:
        return path  # already normal: the common case costs two substring scans
    squeezed = re.sub(r"/+", "/", "/" + path)
    normal = posixpath.normpath(squeezed)
    return normal + "/" if squeezed.endswith("/") and normal != "/" else normal


_DIGESTS: dict[tuple[str, str], str] = {}
_DIGESTS_MAX = 8192
_DIGEST_VALUE_MAX = 256


def _digest(kind: str, value: str) -> str:
    """Keys hold a hash, never a raw IP, user id or header value. Recent short values are
    remembered (bounded): a client sends many requests."""
    found = _DIGESTS.get((kind, value))
    if found is None:
        found = hashlib.blake2b(f"{kind}\0{value}".encode(), digest_size=16).hexdigest()
        if len(value) <= _DIGEST_VALUE_MAX:
            if len(_DIGESTS) >= _DIGESTS_MAX:
                _DIGESTS.clear()
            _DIGESTS[kind, value] = found
    return found


def _subnet(ip: str) -> str:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    prefix = 24 if address.version == 4 else 64
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


@dataclass(frozen=True, slots=True)
class CompiledPolicy:
    """A policy prepared for the hot path: compiled glob, parsed rates, fixed header value."""

    policy: Policy
    pattern: re.Pattern[str]
    rates: tuple[Rate, ...]
    item_names: tuple[str, ...]
    policy_header: str

    def matches(self, method: str, path: str) -> bool:
        methods = self.policy.match.methods
        return (not methods or method.upper() in methods) and bool(self.pattern.match(path))

    def key_for(self, facts: RequestFacts) -> str:
        """The storage key: policy name, key kind and a hash of the value. A missing user,
        session, API key or header falls back to the client IP, so it cannot be dodged."""
        kind = self.policy.key
        value: str | None
        if kind == "ip":
            value = facts.ip
        elif kind == "subnet":
            value = _subnet(facts.ip)
        elif kind.startswith("header:"):
            value = facts.headers.get(kind[7:].lower())
        else:
            value = {"user": facts.user, "session": facts.session, "apikey": facts.apikey}[kind]
        if not value:
            kind, value = "ip", facts.ip
        return f"{self.policy.name}:{kind}:{_digest(kind, value)}"


def compile_policy(policy: Policy) -> CompiledPolicy:
    """Prepare ``policy`` for :class:`Limiter` (parse rates, compile the glob, build headers)."""
    rates = tuple(parse_rate(text) for text in policy.limits)
    if len(rates) == 1:
        names: tuple[str, ...] = (policy.name,)
    else:
        names = tuple(f"{policy.name}.{i}" for i in range(1, len(rates) + 1))
    header = ", ".join(
        f'"{name}";q={rate.limit};w={rate.window_seconds}'
        for name, rate in zip(names, rates, strict=True)
    )
    pattern = re.compile(fnmatch.translate(policy.match.path))
    return CompiledPolicy(policy, pattern, rates, names, header)
