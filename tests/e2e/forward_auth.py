"""What the gateway end-to-end tests (nginx, Traefik, Envoy) share: the Bastion configuration
they run under, the configuration blocks of docs/forward-auth.md, an upstream that answers with
the X-Bastion-* headers it was sent, API keys made with the CLI, waiting for a proxy, and
:class:`GatewayContract`, the flows every gateway's configuration must carry."""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest

from tests.e2e.conftest import Server, _free_port, start_server, stop_server

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "forward-auth.md"
CONFIG = """
[server]
trusted_proxies = ["127.0.0.1"]

[[routes]]
path = "/api/public/*"
auth = "none"

[[routes]]
path = "/api/limited/*"
auth = "none"

[[routes]]
path = "/api/orders/*"
scopes = ["orders:read"]

[ratelimit]
enabled = true

[[ratelimit.policies]]
name = "limited"
match = { path = "/api/limited/*" }
limits = ["3/min"]
"""
ATTACK = "/api/public/search?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E"


def doc_blocks(heading: str, language: str) -> list[str]:
    """The fenced ``language`` blocks of the docs/forward-auth.md section whose ``##`` heading
    starts with ``heading``, in order."""
    text = DOC.read_text(encoding="utf-8")
    sections = re.split(r"^## ", text, flags=re.M)
    (section,) = [s for s in sections if s.startswith(heading)]
    return re.findall(rf"^```{language}\n(.*?)^```", section, re.S | re.M)


def require_binary(path: Path | None, name: str, how: str) -> Path:
    """``path`` if it is there; otherwise fail in CI and skip elsewhere, saying how to install
    (``how``: what installs it)."""
    if path is not None and path.is_file():
        return path
    if os.environ.get("CI") == "true":
        pytest.fail(f"{name} is required in CI; {how} installs it")
    pytest.skip(f"{name} is not installed: {how} installs it")


class _EchoHandler(BaseHTTPRequestHandler):
    """Answers with what it was sent: the path, the X-Bastion-* headers and any X-API-Key (which
    must never get this far); notes the path."""

    server: Upstream

    def do_GET(self) -> None:
        self.server.paths.append(self.path)
        seen = {
            k.lower(): v
            for k, v in self.headers.items()
            if k.lower().startswith("x-bastion") or k.lower() == "x-api-key"
        }
        body = json.dumps({"path": self.path, "headers": seen}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


class Upstream(ThreadingHTTPServer):
    """The app behind the proxy, on a free local port; ``paths`` lists what reached it."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _EchoHandler)
        self.paths: list[str] = []

    @property
    def port(self) -> int:
        return int(self.server_address[1])


@contextmanager
def running_upstream() -> Iterator[Upstream]:
    httpd = Upstream()
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()


@contextmanager
def running_bastion(tmp: Path) -> Iterator[Server]:
    """``bastion serve`` (SQLite, in-memory hot state) under :data:`CONFIG`."""
    config = tmp / "bastion.toml"
    config.write_text(CONFIG, encoding="utf-8")
    server = start_server(tmp, "sqlite-memory", {"BASTION_CONFIG": str(config)})
    try:
        yield server
    finally:
        stop_server(server)


def api_key(bastion: Server, *scopes: str) -> str:
    """A new API key of the service ``shop`` with ``scopes``, made with the CLI."""
    done = bastion.cli(
        "apikeys", "create", "--name", "shop", "--scopes", ",".join(scopes), "--service", "shop"
    )
    assert done.returncode == 0, done.stderr
    (key,) = re.findall(r"bst_\w+", done.stdout)
    return key


def wait_for_proxy(
    name: str,
    url: str,
    process: subprocess.Popen[bytes],
    log: Path,
    ready: Callable[[httpx.Response], bool] = lambda _: True,
    timeout: float = 20.0,
) -> None:
    """Poll ``url`` until the proxy ``name`` answers and ``ready(answer)`` holds; raise with its
    log if it exits or takes longer than ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if ready(httpx.get(url, timeout=1)):
                return
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"{name} did not start:\n{log.read_text(errors='replace')}")
        time.sleep(0.1)  # polling for start-up, not waiting for an expiry


def stop_proxy(process: subprocess.Popen[bytes], *, graceful: bool = True) -> None:
    if not graceful:
        process.kill()
        process.wait(timeout=10)
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def assert_throttled(refused: httpx.Response) -> None:
    """``refused`` is Bastion's 429 as the client gets it through the proxy."""
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.headers["ratelimit-policy"] == '"limited";q=3;w=60'
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"].endswith("/throttled")


Started = tuple[str, subprocess.Popen[bytes]]


class GatewayContract:
    """The flows every documented gateway configuration carries (ASVS V4.1.1, V8.2.1, V2.4.1).

    A subclass per proxy says how to start it (:meth:`start`: the docs' configuration with
    Bastion at ``bastion_port``, returning its URL and process) and what a client gets when
    Bastion cannot be reached (``down_status``). Bastion, the upstream and the proxy start once
    per subclass."""

    name: ClassVar[str]
    down_status: ClassVar[int]
    graceful_stop: ClassVar[bool] = True

    @classmethod
    def start(cls, tmp: Path, bastion_port: int, upstream: Upstream) -> Started:
        raise NotImplementedError

    @classmethod
    def stop(cls, process: subprocess.Popen[bytes]) -> None:
        stop_proxy(process, graceful=cls.graceful_stop)

    @pytest.fixture(scope="class")
    @classmethod
    def upstream(cls) -> Iterator[Upstream]:
        with running_upstream() as httpd:
            yield httpd

    @pytest.fixture(scope="class")
    @classmethod
    def bastion(cls, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
        with running_bastion(tmp_path_factory.mktemp(f"{cls.name}-bastion")) as server:
            yield server

    @pytest.fixture(scope="class")
    @classmethod
    def gateway(
        cls, tmp_path_factory: pytest.TempPathFactory, bastion: Server, upstream: Upstream
    ) -> Iterator[str]:
        url, process = cls.start(tmp_path_factory.mktemp(cls.name), bastion.port, upstream)
        yield url
        cls.stop(process)

    def test_public_route_reaches_the_upstream_without_forged_identity(self, gateway: str) -> None:
        forged = {"X-Bastion-Subject": "admin", "X-Bastion-Scopes": "admin", "X-Bastion-Key": "k"}
        r = httpx.get(gateway + "/api/public/page?x=1", headers=forged)
        assert r.status_code == 200
        assert r.json() == {"path": "/api/public/page?x=1", "headers": {}}

    def test_missing_credential_is_401_with_a_problem(self, gateway: str) -> None:
        r = httpx.get(gateway + "/api/orders/1")
        assert r.status_code == 401
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["type"].endswith("/invalid-token")
        assert r.headers["www-authenticate"].startswith("Bearer")

    def test_a_forged_original_uri_cannot_borrow_a_public_policy(self, gateway: str) -> None:
        """The proxy names the original request to Bastion itself (the X-Forwarded-*/X-Original-*
        headers it sets, or Envoy's method and path), so a client cannot name a public one
        (V4.1.1)."""
        forged = {
            "X-Original-URI": "/api/public/x",
            "X-Forwarded-Uri": "/api/public/x",
            "X-Forwarded-Method": "GET",
        }
        r = httpx.delete(gateway + "/api/orders/1", headers=forged)
        assert r.status_code == 401
        assert r.json()["type"].endswith("/invalid-token")

    def test_a_scoped_key_passes_and_the_upstream_learns_who(
        self, gateway: str, bastion: Server
    ) -> None:
        key = api_key(bastion, "orders:read")
        r = httpx.get(
            gateway + "/api/orders/1", headers={"X-API-Key": key, "X-Bastion-Session": "forged"}
        )
        assert r.status_code == 200
        seen = r.json()["headers"]
        assert seen["x-bastion-subject"] == "service:shop"
        assert seen["x-bastion-scopes"] == "orders:read"
        assert seen["x-bastion-key"] and "x-bastion-session" not in seen
        assert "x-api-key" not in seen  # the key's secret stops at the proxy

    def test_a_key_without_the_scope_is_403_missing_scope(
        self, gateway: str, bastion: Server
    ) -> None:
        key = api_key(bastion, "profile:read")
        r = httpx.get(gateway + "/api/orders/1", headers={"Authorization": f"Bearer {key}"})
        assert r.status_code == 403
        assert r.json()["type"].endswith("/missing-scope")

    def test_an_attack_in_the_query_is_403_request_blocked(self, gateway: str) -> None:
        r = httpx.get(gateway + ATTACK)
        assert r.status_code == 403
        assert r.json()["type"].endswith("/request-blocked")

    def test_bastion_unreachable_is_refused(
        self, tmp_path_factory: pytest.TempPathFactory, upstream: Upstream
    ) -> None:
        """Fails closed: with nothing listening at Bastion's address the app is not reached."""
        tmp = tmp_path_factory.mktemp(f"{self.name}-down")
        url, process = self.start(tmp, _free_port(), upstream)
        try:
            r = httpx.get(url + "/api/public/while-down")
        finally:
            self.stop(process)
        assert r.status_code == self.down_status
        assert not any(path.startswith("/api/public/while-down") for path in upstream.paths)
