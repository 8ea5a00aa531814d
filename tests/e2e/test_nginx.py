"""Real nginx (``auth_request``) in front of a small upstream, with a real ``bastion serve`` as
the auth server, running the exact configuration of docs/forward-auth.md: 200, 401, 403 and
429 flow through it (ASVS V4.1.1, V8.2.1, V2.4.1)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import Server, _free_port
from tests.e2e.forward_auth import (
    GatewayContract,
    Upstream,
    assert_throttled,
    doc_blocks,
    running_bastion,
    running_upstream,
    stop_proxy,
    wait_for_proxy,
)

# One worker runs the module: its Bastion and nginx start once, not once per worker.
pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("nginx")]

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    with running_upstream() as httpd:
        yield httpd


@pytest.fixture(scope="module")
def bastion(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_bastion(tmp_path_factory.mktemp("nginx-bastion")) as server:
        yield server


@pytest.fixture(scope="module")
def nginx(
    tmp_path_factory: pytest.TempPathFactory, bastion: Server, upstream: Upstream
) -> Iterator[str]:
    if NGINX is None:
        if os.environ.get("CI") == "true":
            pytest.fail("nginx is required in CI (the project's setup installs Debian's nginx)")
        pytest.skip("nginx is not installed: apt-get install nginx to run this test")
    prefix = tmp_path_factory.mktemp("nginx")
    port = _free_port()
    bastion_port = bastion.url.rsplit(":", 1)[1]
    (block,) = doc_blocks("nginx", "nginx")
    site = (
        block.replace("server bastion:8080;", f"server 127.0.0.1:{bastion_port};")
        .replace("server app:9000;", f"server 127.0.0.1:{upstream.port};")
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
    wait_for_proxy("nginx", url + "/v1/healthz", process, prefix / "stderr.log")
    yield url
    stop_proxy(process)


@pytest.fixture(scope="module")
def gateway(nginx: str) -> str:
    return nginx


class TestNginx(GatewayContract):
    """The flows every gateway carries, through nginx."""


def test_the_rate_limit_is_429_with_retry_after(nginx: str) -> None:
    answers = [httpx.get(nginx + "/api/limited/x") for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[0].headers["ratelimit-policy"] == '"limited";q=3;w=60'
    assert "ratelimit" in answers[0].headers
    assert_throttled(answers[-1])
