"""End to end over real HTTP: ``bastion serve`` publishes ``/.well-known/bastion-keys`` and signs
its responses; an app under uvicorn behind the sealing middlewares answers sealed requests
(ASVS V11.3.3, V11.6.1, V12.3.3)."""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bastion.crypto import SealedClient, verify_response
from tests.e2e.conftest import Server, start_server, stop_server

ROOT = Path(__file__).resolve().parents[2]
MASTER_KEY = base64.urlsafe_b64encode(b"\x2a" * 32).decode().rstrip("=")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    env = {"BASTION_MASTER_KEY": MASTER_KEY, "BASTION_SEALING__SIGN_SERVICE_RESPONSES": "true"}
    running = start_server(tmp_path_factory.mktemp("e2e-sealed"), "sqlite-memory", env)
    yield running
    stop_server(running)


@pytest.fixture(scope="module")
def sealed_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``tests/e2e/sealed_app.py`` under uvicorn in its own process, with the same master key."""
    folder = tmp_path_factory.mktemp("e2e-sealed-app")
    env = {k: v for k, v in os.environ.items() if not k.startswith("BASTION_")}
    env.update(
        {
            "BASTION_DATA_DIR": str(folder / "data"),
            "BASTION_MASTER_KEY": MASTER_KEY,
            "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
            "PYTHONUNBUFFERED": "1",
        }
    )
    port, log = _free_port(), folder / "uvicorn.log"
    command = [sys.executable, "-m", "uvicorn", "tests.e2e.sealed_app:create", "--factory"]
    process = subprocess.Popen(
        [*command, "--port", str(port), "--log-level", "warning"],
        env=env,
        cwd=ROOT,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url + "/.well-known/bastion-keys", process, log)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the sealed app exited:\n" + log.read_text())
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)  # polling for start-up, not waiting for an expiry
    process.kill()
    raise RuntimeError("the sealed app did not start:\n" + log.read_text())


def test_service_publishes_the_key_document(service: Server, sealed_app: str) -> None:
    r = httpx.get(service.url + "/.well-known/bastion-keys")
    assert r.status_code == 200 and r.headers["cache-control"] == "public, max-age=300"
    document = r.json()
    assert [(k["use"], k["crv"]) for k in document["keys"]] == [
        ("enc", "X25519"),
        ("sig", "Ed25519"),
    ]
    # Keys come from the master key: another process with the same key publishes the same.
    assert httpx.get(sealed_app + "/.well-known/bastion-keys").json() == document


def test_service_responses_are_signed(service: Server) -> None:
    document = httpx.get(service.url + "/.well-known/bastion-keys").json()
    for path in ("/healthz", "/v1/sessions"):
        r = httpx.get(service.url + path, headers={"X-Request-ID": "e2e-sealed-0001"})
        verify_response(
            document,
            status=r.status_code,
            headers=r.headers,
            body=r.content,
            method="GET",
            target=path,
            request_id="e2e-sealed-0001",
            now=time.time(),
        )


@pytest.mark.parametrize("text", [False, True], ids=["binary", "base64url"])
def test_sealed_round_trip_over_http(sealed_app: str, text: bool) -> None:
    document = httpx.get(sealed_app + "/.well-known/bastion-keys").json()
    client = SealedClient(document)
    sealed = client.seal("POST", "/api/orders?src=e2e", b'{"sku": "secret-sku-42"}', text=text)
    r = httpx.post(sealed_app + "/api/orders?src=e2e", content=sealed.body, headers=sealed.headers)
    assert r.status_code == 201 and b"secret-sku-42" not in r.content
    verify_response(
        document,
        status=201,
        headers=r.headers,
        body=r.content,
        method="POST",
        target="/api/orders?src=e2e",
        now=time.time(),
    )
    media, body = sealed.open(r.status_code, r.content, r.headers["content-type"])
    assert media == "application/json"
    assert httpx.Response(200, content=body).json() == {
        "accepted": {"sku": "secret-sku-42"},
        "content_type": "application/json",
    }


def test_tampered_replayed_and_plain_bodies_are_refused(sealed_app: str) -> None:
    client = SealedClient(httpx.get(sealed_app + "/.well-known/bastion-keys").json())
    sealed = client.seal("POST", "/api/orders", b'{"sku": 1}')
    url = sealed_app + "/api/orders"
    forged = bytearray(sealed.body)
    forged[len(forged) // 2] ^= 0x01
    tampered = httpx.post(url, content=bytes(forged), headers=sealed.headers)
    assert tampered.status_code == 400
    assert tampered.headers["content-type"] == "application/problem+json"
    assert httpx.post(url, content=sealed.body, headers=sealed.headers).status_code == 201
    assert httpx.post(url, content=sealed.body, headers=sealed.headers).status_code == 400
    assert httpx.post(url, json={"sku": 1}).status_code == 415
    unknown = bytearray(sealed.body)
    unknown[0] = 9
    r = httpx.post(url, content=bytes(unknown), headers=sealed.headers)
    assert r.status_code == 400 and r.json()["type"].endswith("/sealed-version-unsupported")
