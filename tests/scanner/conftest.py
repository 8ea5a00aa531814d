"""Fixtures: the vulnerable app served over real HTTP (uvicorn in a thread, loopback)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from tests.scanner.serving import serve
from tests.scanner.vulnerable_app import VulnerableApp


@pytest.fixture
def vulnerable() -> Callable[..., object]:
    """``with vulnerable({"flaw", ...}) as (url, app):`` serves a fresh app."""

    @contextmanager
    def start(
        flaws: set[str] | frozenset[str] = frozenset(),
    ) -> Iterator[tuple[str, VulnerableApp]]:
        app = VulnerableApp(flaws)
        with serve(app.app) as url:
            yield url, app

    return start
