"""Who is calling: the client IP, trusting ``X-Forwarded-For`` only from configured proxies."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.types import Scope

__all__ = ["ClientIP"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class ClientIP:
    def __init__(self, trusted_proxies: Iterable[str]) -> None:
        self._trusted: tuple[Network, ...] = tuple(
            ipaddress.ip_network(p, strict=False) for p in trusted_proxies
        )

    def _is_trusted(self, ip: str) -> bool:
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return any(addr in net for net in self._trusted)

    def __call__(self, scope: Scope) -> str | None:
        """The socket peer, or -- when it is a trusted proxy -- the right-most address in
        ``X-Forwarded-For`` that is not itself a trusted proxy."""
        client = scope.get("client")
        peer: str | None = str(client[0]) if client else None
        if not self._trusted or peer is None or not self._is_trusted(peer):
            return peer
        forwarded = [
            v.decode("latin-1") for k, v in scope.get("headers", ()) if k == b"x-forwarded-for"
        ]
        hops = [h.strip() for h in ",".join(forwarded).split(",") if h.strip()]
        for hop in reversed(hops):
            if not self._is_trusted(hop):
                try:
                    return str(ipaddress.ip_address(hop))
                except ValueError:
                    return peer
        return peer
