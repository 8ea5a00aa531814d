"""Real nginx (``auth_request``) in front of a small upstream, with a real ``bastion serve`` as
the auth server, running the exact configuration of docs/forward-auth.md: 200, 401, 403 and
429 flow through it (ASVS V4.1.1, V8.2.1, V2.4.1)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Server, _free_port, start_server, stop_server

ROOT = Path(__file__).resolve().parents[2]
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
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


def _nginx_block() -> str:
    text = (ROOT / "docs" / "forward-auth.md").read_text(encoding="utf-8")
    (block,) = re.findall(r"```nginx\n(.*?)```", text, re.S)
    return block


class _Upstream(BaseHTTPRequestHandler):
    """Answers with what it was sent: the path and the X-Bastion-* headers."""

    def do_GET(self) -> None:
        seen = {k.lower(): v for k, v in self.headers.items() if k.lower().startswith("x-bastion")}
        body = json.dumps({"path": self.path, "headers": seen}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def upstream() -> Iterator[int]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield int(httpd.server_address[1])
    httpd.shutdown()


@pytest.fixture(scope="module")
def bastion(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("nginx-bastion")
    config = tmp / "bastion.toml"
    config.write_text(CONFIG, encoding="utf-8")
    running = start_server(tmp, "sqlite-memory", {"BASTION_CONFIG": str(config)})
    yield running
    stop_server(running)


@pytest.fixture(scope="module")
def nginx(
    tmp_path_factory: pytest.TempPathFactory, bastion: Server, upstream: int
) -> Iterator[str]:
    if NGINX is None:
        if os.environ.get("CI") == "true":
            pytest.fail("nginx is required in CI (the project's setup installs Debian's nginx)")
        pytest.skip("nginx is not installed: apt-get install nginx to run this test")
    prefix = tmp_path_factory.mktemp("nginx")
    port = _free_port()
    bastion_port = bastion.url.rsplit(":", 1)[1]
    site = (
        _nginx_block()
        .replace("server bastion:8080;", f"server 127.0.0.1:{bastion_port};")
        .replace("server app:9000;", f"server 127.0.0.1:{upstream};")
        .replace("listen 80;", f"listen 127.0.0.1:{port};")
    )
    temp = {name: prefix / name for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
    for path in temp.values():
        path.mkdir()
    conf = prefix / "nginx.conf"
    conf.write_text(
        f"""
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {temp["body"]};
    proxy_temp_path {temp["proxy"]};
    fastcgi_temp_path {temp["fastcgi"]};
    uwsgi_temp_path {temp["uwsgi"]};
    scgi_temp_path {temp["scgi"]};
{site}
}}
""",
        encoding="utf-8",
    )
    process = subprocess.Popen(
        [NGINX, "-p", str(prefix), "-c", str(conf), "-g", "daemon off; master_process off;"],
        stdout=subprocess.DEVNULL,
        stderr=(prefix / "stderr.log").open("wb"),
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            httpx.get(url + "/v1/healthz", timeout=1)
            break
        except httpx.TransportError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(
                    "nginx did not start:\n" + (prefix / "stderr.log").read_text()
                ) from None
            time.sleep(0.1)  # polling for start-up, not waiting for an expiry
    yield url
    process.terminate()
    process.wait(timeout=10)


def _key(bastion: Server, *scopes: str) -> str:
    done = bastion.cli(
        "apikeys", "create", "--name", "shop", "--scopes", ",".join(scopes), "--service", "shop"
    )
    assert done.returncode == 0, done.stderr
    (key,) = re.findall(r"bst_\w+", done.stdout)
    return key


def test_public_route_reaches_the_upstream_without_forged_identity(nginx: str) -> None:
    r = httpx.get(nginx + "/api/public/page?x=1", headers={"X-Bastion-Subject": "admin"})
    assert r.status_code == 200
    assert r.json() == {"path": "/api/public/page?x=1", "headers": {}}


def test_missing_credential_is_401_with_a_problem(nginx: str) -> None:
    r = httpx.get(nginx + "/api/orders/1")
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"].endswith("/invalid-token")
    assert r.headers["www-authenticate"].startswith("Bearer")


def test_a_scoped_key_passes_and_the_upstream_learns_who(nginx: str, bastion: Server) -> None:
    key = _key(bastion, "orders:read")
    r = httpx.get(nginx + "/api/orders/1", headers={"X-API-Key": key})
    assert r.status_code == 200
    seen = r.json()["headers"]
    assert seen["x-bastion-subject"] == "service:shop"
    assert seen["x-bastion-scopes"] == "orders:read"
    assert seen["x-bastion-key"] and "x-bastion-session" not in seen


def test_a_key_without_the_scope_is_403_missing_scope(nginx: str, bastion: Server) -> None:
    key = _key(bastion, "profile:read")
    r = httpx.get(nginx + "/api/orders/1", headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 403
    assert r.json()["type"].endswith("/missing-scope")


def test_an_attack_in_the_query_is_403_request_blocked(nginx: str) -> None:
    r = httpx.get(nginx + "/api/public/search?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E")
    assert r.status_code == 403
    assert r.json()["type"].endswith("/request-blocked")


def test_the_rate_limit_is_429_with_retry_after(nginx: str) -> None:
    answers = [httpx.get(nginx + "/api/limited/x") for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[0].headers["ratelimit-policy"] == '"limited";q=3;w=60'
    assert "ratelimit" in answers[0].headers
    refused = answers[-1]
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"].endswith("/throttled")
