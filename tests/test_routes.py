"""The route table: first match wins, methods filter, paths are normalised before matching."""

from __future__ import annotations

import pytest

from bastion._routes import RouteTable
from bastion.config import RouteSettings

ORDERS = RouteSettings(path="/api/orders/*", methods=("GET",), scopes=("orders:read",))
ANY = RouteSettings(path="/api/*", auth="none")


def test_first_matching_entry_applies() -> None:
    table = RouteTable([ORDERS, ANY])
    assert table.match("GET", "/api/orders/7") is ORDERS
    assert table.match("get", "/api/orders/7") is ORDERS
    assert table.match("POST", "/api/orders/7") is ANY  # the method filter skips ORDERS
    assert table.match("GET", "/other") is None


@pytest.mark.parametrize(
    "path", ["/api/x/../orders/7", "/api//orders/7", "/api/./orders/7", "//api/orders/7"]
)
def test_paths_are_normalised_so_a_glob_cannot_be_dodged(path: str) -> None:
    assert RouteTable([ORDERS, ANY]).match("GET", path) is ORDERS


def test_an_empty_table_is_falsy() -> None:
    assert not RouteTable([])
    assert RouteTable([ANY])
