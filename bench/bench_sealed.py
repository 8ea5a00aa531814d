"""Sealed payloads and signed responses in process, against the bare primitives they use.

Run: ``python bench/bench_sealed.py [--count 3000] [--rounds 3]``.

In one process (in-memory hot state, 1 KiB request and response bodies):

* ``server``: ``await guard.sealing.open_request(...)`` (parse, time check, HPKE open, replay
  guard) and ``seal_response(...)`` (HKDF, AES-256-GCM) of pre-sealed, distinct requests;
* ``round``: the whole exchange: ``SealedClient.seal(...)``, the server's open and seal, and
  ``SealedRequest.open(...)`` (so the client's share is ``round`` minus ``server``);
* ``aesgcm``: the baseline, bare AES-256-GCM decrypt of a 1 KiB request and encrypt of a 1 KiB
  response (``cryptography``);
* ``hpke``: for context, the bare primitives of the server's share: ``cryptography``'s HPKE
  open of a 1 KiB request plus AES-256-GCM encrypt of a 1 KiB response;
* ``signed``: ``sign_response`` + ``verify_response`` of a 1 KiB response;
* ``ed25519``: the baseline, bare Ed25519 sign + verify of the same 1 KiB body.

Each is timed over ``--count`` operations per round, interleaved, for ``--rounds`` rounds; the
median rate is kept. Prints ops/s and the ratios; no absolute target.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from collections.abc import Callable

from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bastion.crypto import MasterKey, SealedClient, Sealing, verify_response
from bastion.infra import MemoryHotState, SystemClock

BODY = os.urandom(1024)
TARGET = "/api/orders"


class _NoAudit:
    async def record_sampled(self, *args: object, **kwargs: object) -> None:
        return None


def _rate(call: Callable[[], object], count: int) -> float:
    start = time.perf_counter()
    for _ in range(count):
        call()
    return count / (time.perf_counter() - start)


async def _round_rate(sealing: Sealing, client: SealedClient, count: int) -> float:
    start = time.perf_counter()
    for _ in range(count):
        request = client.seal("POST", TARGET, BODY)
        opened = await sealing.open_request(
            request.body, content_type=request.content_type, method="POST", target=TARGET
        )
        payload, media = sealing.seal_response(
            opened, status=200, content_type="application/json", body=BODY
        )
        request.open(200, payload, media)
    return count / (time.perf_counter() - start)


async def _server_rate(sealing: Sealing, client: SealedClient, count: int) -> float:
    requests = [client.seal("POST", TARGET, BODY) for _ in range(count)]
    start = time.perf_counter()
    for request in requests:
        opened = await sealing.open_request(
            request.body, content_type=request.content_type, method="POST", target=TARGET
        )
        sealing.seal_response(opened, status=200, content_type="application/json", body=BODY)
    return count / (time.perf_counter() - start)


def _baselines() -> dict[str, Callable[[], object]]:
    aead, nonce = AESGCM(os.urandom(32)), os.urandom(12)
    sealed_request = aead.encrypt(nonce, BODY, b"aad")
    key = Ed25519PrivateKey.generate()
    public = key.public_key()

    def aesgcm() -> object:
        aead.decrypt(nonce, sealed_request, b"aad")
        return aead.encrypt(nonce, BODY, b"aad")

    def ed25519() -> object:
        public.verify(key.sign(BODY), BODY)
        return None

    suite = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
    receiver = X25519PrivateKey.generate()
    hpke_request = suite.encrypt(BODY, receiver.public_key(), info=b"info")

    def bare_hpke() -> object:
        suite.decrypt(hpke_request, receiver, info=b"info")
        return aead.encrypt(nonce, BODY, b"aad")

    return {"aesgcm": aesgcm, "hpke": bare_hpke, "ed25519": ed25519}


async def _measure(rounds: int, count: int) -> dict[str, float]:
    clock = SystemClock()
    sealing = Sealing(MasterKey(os.urandom(32)), clock, MemoryHotState(clock), _NoAudit())
    keys = sealing.document()
    client = SealedClient(keys, clock=clock)

    def signed() -> object:
        value = sealing.sign_response(
            status=200,
            content_type="application/json",
            body=BODY,
            method="GET",
            target=TARGET,
            request_id="bench-0001",
        )
        headers = {"content-type": "application/json", "bastion-response-signature": value}
        return verify_response(
            keys,
            status=200,
            headers=headers,
            body=BODY,
            method="GET",
            target=TARGET,
            request_id="bench-0001",
        )

    calls = {**_baselines(), "signed": signed}
    rates: dict[str, list[float]] = {name: [] for name in ("server", "round", *calls)}
    for _ in range(rounds):
        rates["server"].append(await _server_rate(sealing, client, count))
        rates["round"].append(await _round_rate(sealing, client, count))
        for name, call in calls.items():
            rates[name].append(_rate(call, count))
    return {name: statistics.median(values) for name, values in rates.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--count", type=int, default=3000, help="operations per measurement")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rates = asyncio.run(_measure(args.rounds, args.count))
    for name, rate in rates.items():
        print(f"{name:>8}: {rate:12,.0f} ops/s  ({1e6 / rate:8.1f} us/op)")
    print(f"server open+seal / bare AES-GCM: {rates['aesgcm'] / rates['server']:.1f}x the time")
    print(f"server open+seal / bare HPKE open + AES-GCM: {rates['hpke'] / rates['server']:.2f}x")
    client_us = 1e6 / rates["round"] - 1e6 / rates["server"]
    print(f"client seal+open: {client_us:.1f} us, {client_us * rates['aesgcm'] / 1e6:.1f}x AES-GCM")
    print(
        f"sign+verify response / bare Ed25519: {rates['ed25519'] / rates['signed']:.2f}x the time"
    )


if __name__ == "__main__":
    main()
