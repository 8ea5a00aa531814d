"""What a new key may look like: checked before anything is stored."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from typing import Any

from bastion.apikeys._format import ENV_PATTERN
from bastion.errors import InvalidInput

__all__ = ["MAX_OVERLAP_SECONDS", "check_new_key"]

SCOPE = re.compile(r"[A-Za-z0-9:._/*-]{1,64}")
SERVICE = re.compile(r"[A-Za-z0-9:._/-]{1,128}")
# The grammar of ``bastion.ratelimit`` rates ("100/min", "30/5min", "10/s burst 50").
RATE = re.compile(
    r"[1-9][0-9]{0,8}/(?:[1-9][0-9]{0,4})?(?:second|minute|hour|day|sec|min|s|h|d)"
    r"(?: burst [1-9][0-9]{0,8})?"
)
MAX_SCOPES = 64
MAX_NETWORKS = 64
MAX_OVERLAP_SECONDS = 30 * 86400.0


def _problems(
    name: str, scopes: tuple[str, ...], owners: tuple[str | None, str | None], env: str
) -> list[tuple[str, str]]:
    user, service = owners
    found = []
    if not 0 < len(name) <= 128 or not name.isprintable():
        found.append(("name", "must be 1 to 128 printable characters"))
    if not scopes or len(scopes) > MAX_SCOPES or not all(SCOPE.fullmatch(s) for s in scopes):
        found.append(("scopes", f"must list 1 to {MAX_SCOPES} scopes of [A-Za-z0-9:._/*-]"))
    if (user is None) == (service is None):
        found.append(("owner", "give exactly one of owner_user_id and owner_service"))
    elif service is not None and not SERVICE.fullmatch(service):
        found.append(("owner_service", "must be 1 to 128 of [A-Za-z0-9:._/-]"))
    if not ENV_PATTERN.fullmatch(env):
        found.append(("env", "must be 1 to 16 lowercase letters or digits"))
    return found


def _networks(ip_allow: Iterable[str], found: list[tuple[str, str]]) -> str | None:
    nets = []
    for text in ip_allow:
        try:
            nets.append(str(ipaddress.ip_network(text.strip(), strict=False)))
        except ValueError:
            found.append(("ip_allow", "must be IP addresses or CIDR networks"))
            return None
    if len(nets) > MAX_NETWORKS:
        found.append(("ip_allow", f"at most {MAX_NETWORKS} networks"))
    return " ".join(dict.fromkeys(nets)) or None


def check_new_key(
    name: str,
    scopes: Iterable[str],
    *,
    owner_user_id: str | None,
    owner_service: str | None,
    env: str,
    expires_in: float | None,
    rate: str | None,
    ip_allow: Iterable[str],
    description: str,
) -> dict[str, Any]:
    """The normalised column values of a new key; raises :class:`InvalidInput` naming every
    field that is wrong. Scopes are required: there is no implicit "all"."""
    scope_list = tuple(dict.fromkeys(scopes))
    found = _problems(name, scope_list, (owner_user_id, owner_service), env)
    if expires_in is not None and not 0 < expires_in <= 10 * 365 * 86400:
        found.append(("expires_in", "must be a positive number of seconds, at most 10 years"))
    if rate is not None and not RATE.fullmatch(rate):
        found.append(("rate", 'must look like "100/min", "30/5min" or "10/s burst 50"'))
    if len(description) > 1024:
        found.append(("description", "at most 1024 characters"))
    networks = _networks(ip_allow, found)
    if found:
        fields = ", ".join(f"{f} ({m})" for f, m in found)
        errors = [{"field": f, "code": f"invalid_{f}", "message": m} for f, m in found]
        raise InvalidInput(f"Invalid field(s): {fields}.", errors=errors)
    return {
        "env": env,
        "name": name,
        "description": description,
        "scopes": " ".join(scope_list),
        "owner_user_id": owner_user_id,
        "owner_service": owner_service,
        "rate": rate,
        "ip_allow": networks,
    }
