"""The route table: which ``[[routes]]`` entry (:class:`~bastion.config.RouteSettings`) governs
a request. Built once from settings; :meth:`RouteTable.match` is on every request's path.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable

from bastion.config import RouteSettings
from bastion.ratelimit import normal_path

__all__ = ["RouteTable"]


class RouteTable:
    """First match wins, in the order of the configuration."""

    __slots__ = ("_entries",)

    def __init__(self, routes: Iterable[RouteSettings]) -> None:
        self._entries = tuple(
            (re.compile(fnmatch.translate(route.path)), frozenset(route.methods), route)
            for route in routes
        )

    def __bool__(self) -> bool:
        return bool(self._entries)

    def match(self, method: str, path: str) -> RouteSettings | None:
        """The entry governing ``method path``, or None when no entry matches."""
        path, method = normal_path(path), method.upper()
        for pattern, methods, route in self._entries:
            if (not methods or method in methods) and pattern.match(path):
                return route
        return None
