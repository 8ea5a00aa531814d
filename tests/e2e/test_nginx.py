"""Real nginx (``auth_request``) in front of a small upstream, with a real ``bastion serve`` as
the auth server, running the exact configuration of docs/forward-auth.md: 200, 401, 403 and
429 flow through it (ASVS V4.1.1, V8.2.1, V2.4.1)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import _free_port
from tests.e2e.forward_auth import (
    GatewayContract,
    Started,
    Upstream,
    assert_throttled,
    doc_blocks,
    require_binary,
    wait_for_proxy,
)

# One worker runs the module: its Bastion and nginx start once, not once per worker.
pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("nginx")]

_FOUND = shutil.which("nginx") or "/usr/sbin/nginx"
NGINX = Path(_FOUND) if Path(_FOUND).is_file() else None
INSTALL = "apt-get install nginx (scripts/install-system-deps.sh)"


def _nginx(tmp: Path, bastion_port: int, upstream: Upstream) -> Started:
    """nginx on a free port with the docs' configuration, Bastion at ``bastion_port``."""
    binary = require_binary(NGINX, "nginx", INSTALL)
    port = _free_port()
    (block,) = doc_blocks("nginx", "nginx")
    site = (
        block.replace("server bastion:8080;", f"server 127.0.0.1:{bastion_port};")
        .replace("server app:9000;", f"server 127.0.0.1:{upstream.port};")
        .replace("listen 80;", f"listen 127.0.0.1:{port};")
    )
    temp = {name: tmp / name for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
    for path in temp.values():
        path.mkdir()
    conf = tmp / "nginx.conf"
    conf.write_text(
        f"""
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
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
        [str(binary), "-p", str(tmp), "-c", str(conf), "-g", "daemon off; master_process off;"],
        stdout=subprocess.DEVNULL,
        stderr=(tmp / "stderr.log").open("wb"),
    )
    url = f"http://127.0.0.1:{port}"
    wait_for_proxy("nginx", url + "/v1/healthz", process, tmp / "stderr.log")
    return url, process


class TestNginx(GatewayContract):
    """The flows every gateway carries, through nginx."""

    name = "nginx"
    down_status = 503  # the @bastion_refused page of the docs' configuration

    @classmethod
    def start(cls, tmp: Path, bastion_port: int, upstream: Upstream) -> Started:
        return _nginx(tmp, bastion_port, upstream)

    def test_the_rate_limit_is_429_with_retry_after(self, gateway: str) -> None:
        answers = [httpx.get(gateway + "/api/limited/x") for _ in range(4)]
        assert [a.status_code for a in answers] == [200, 200, 200, 429]
        assert answers[0].headers["ratelimit-policy"] == '"limited";q=3;w=60'
        assert "ratelimit" in answers[0].headers
        assert_throttled(answers[-1])
