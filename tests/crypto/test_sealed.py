"""Sealed payloads: round trips, tampering, truncation, binding, time window, replay, keys
(ASVS V11.3.2, V11.3.3, V11.5.1, V11.1.1)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from bastion.crypto import MasterKey, SealedClient, SealedRequest, Sealing
from bastion.errors import (
    SealedPayloadInvalid,
    SealedPayloadRequired,
    SealedPayloadTooLarge,
    SealedVersionUnsupported,
)
from bastion.infra import ManualClock, MemoryHotState

TARGET = "/api/orders?page=2"
BODY = b'{"sku": "A-1", "qty": 3}'


@dataclass
class RecordingAudit:
    """Notes every sampled audit call."""

    calls: list[dict[str, Any]] = field(default_factory=list)

    async def record_sampled(self, action: str, outcome: str, **kwargs: Any) -> None:
        self.calls.append({"action": action, "outcome": outcome, **kwargs})

    @property
    def reasons(self) -> list[str]:
        return [c["reason"] for c in self.calls]


def make_sealing(
    clock: ManualClock, master: MasterKey | None = None, **options: Any
) -> tuple[Sealing, RecordingAudit]:
    audit = RecordingAudit()
    master = master or MasterKey(b"\x07" * 32)
    return Sealing(master, clock, MemoryHotState(clock), audit, **options), audit


@pytest.fixture
def sealing(clock: ManualClock) -> Sealing:
    return make_sealing(clock)[0]


@pytest.fixture
def client(sealing: Sealing, clock: ManualClock) -> SealedClient:
    return SealedClient(sealing.document(), clock=clock)


async def _open(
    sealing: Sealing, request: SealedRequest, method: str = "POST", target: str = TARGET
):
    return await sealing.open_request(
        request.body, content_type=request.content_type, method=method, target=target
    )


@pytest.mark.parametrize("text", [False, True], ids=["binary", "base64url"])
async def test_round_trip(sealing: Sealing, client: SealedClient, text: bool) -> None:
    request = client.seal("POST", TARGET, BODY, content_type="application/json", text=text)
    assert BODY not in request.body
    opened = await _open(sealing, request)
    assert (opened.media_type, opened.body) == ("application/json", BODY)
    payload, media = sealing.seal_response(
        opened, status=201, content_type="application/json", body=b'{"id": 7}'
    )
    assert b'{"id": 7}' not in payload and media == request.content_type
    assert request.open(201, payload, media) == ("application/json", b'{"id": 7}')


async def test_empty_body_round_trip(sealing: Sealing, client: SealedClient) -> None:
    request = client.seal("POST", "/x", b"", content_type="text/plain")
    opened = await _open(sealing, request, target="/x")
    assert opened.body == b""
    payload, media = sealing.seal_response(opened, status=204, content_type="", body=b"")
    assert request.open(204, payload, media) == ("application/octet-stream", b"")


async def test_every_tampered_request_byte_is_refused(
    sealing: Sealing, client: SealedClient
) -> None:
    """ASVS V11.3.3: flipping any bit of header, kid, time, encapsulated key, ciphertext or tag
    gives a documented 400-class error; the genuine envelope still opens afterwards (a refused
    request changes nothing, not even the replay cache)."""
    request = client.seal("POST", TARGET, BODY)
    for position in range(len(request.body)):
        for flip in (0x01, 0x80):
            forged = bytearray(request.body)
            forged[position] ^= flip
            with pytest.raises(SealedPayloadInvalid) as caught:
                await sealing.open_request(
                    bytes(forged), content_type=request.content_type, method="POST", target=TARGET
                )
            assert caught.value.status == 400
    assert (await _open(sealing, request)).body == BODY


async def test_tampered_request_reasons(sealing: Sealing, client: SealedClient) -> None:
    request = client.seal("POST", TARGET, BODY)
    kid_len = request.body[2]

    async def reason(position: int) -> str:
        forged = bytearray(request.body)
        forged[position] ^= 0x01
        with pytest.raises(SealedPayloadInvalid) as caught:
            await sealing.open_request(
                bytes(forged), content_type=request.content_type, method="POST", target=TARGET
            )
        return caught.value.reason

    assert await reason(0) == "unsupported_version"
    assert await reason(1) == "malformed"
    assert await reason(3) == "unknown_key"
    assert await reason(3 + kid_len + 7) == "open_failed"  # created, last byte: 1 s away
    assert await reason(3 + kid_len + 8) == "open_failed"  # enc
    assert await reason(len(request.body) - 1) == "open_failed"  # tag


async def test_every_truncation_is_refused(sealing: Sealing, client: SealedClient) -> None:
    request = client.seal("POST", TARGET, BODY)
    for length in range(len(request.body)):
        with pytest.raises(SealedPayloadInvalid):
            await sealing.open_request(
                request.body[:length],
                content_type=request.content_type,
                method="POST",
                target=TARGET,
            )
    with pytest.raises(SealedPayloadInvalid):
        await sealing.open_request(
            request.body + b"\0", content_type=request.content_type, method="POST", target=TARGET
        )


async def test_unknown_version_is_a_clear_error(sealing: Sealing, client: SealedClient) -> None:
    body = b"\x02" + client.seal("POST", TARGET, BODY).body[1:]
    with pytest.raises(SealedVersionUnsupported) as caught:
        await sealing.open_request(
            body, content_type="application/bastion-sealed", method="POST", target=TARGET
        )
    assert caught.value.type == "sealed-version-unsupported" and "version 1" in caught.value.detail


async def test_every_tampered_response_byte_is_refused(
    sealing: Sealing, client: SealedClient
) -> None:
    request = client.seal("POST", TARGET, BODY)
    opened = await _open(sealing, request)
    payload, media = sealing.seal_response(
        opened, status=200, content_type="text/plain", body=b"ok"
    )
    for position in range(len(payload)):
        forged = bytearray(payload)
        forged[position] ^= 0x04
        with pytest.raises(SealedPayloadInvalid):
            request.open(200, bytes(forged), media)
    for length in range(len(payload)):
        with pytest.raises(SealedPayloadInvalid):
            request.open(200, payload[:length], media)


@pytest.mark.parametrize(
    ("method", "target"),
    [
        ("PUT", TARGET),
        ("POST", "/api/orders?page=3"),
        ("POST", "/api/orders"),
        ("POST", "/api/other"),
    ],
)
async def test_bound_to_method_and_target(
    sealing: Sealing, client: SealedClient, method: str, target: str
) -> None:
    """A sealed body cannot be replayed to another route, method or query."""
    request = client.seal("POST", TARGET, BODY)
    with pytest.raises(SealedPayloadInvalid) as caught:
        await _open(sealing, request, method=method, target=target)
    assert caught.value.reason == "open_failed"


async def test_response_is_bound_to_its_request_and_status(
    sealing: Sealing, client: SealedClient
) -> None:
    first, second = client.seal("POST", TARGET, BODY), client.seal("POST", TARGET, BODY)
    opened = await _open(sealing, first)
    payload, media = sealing.seal_response(opened, status=200, content_type="text/plain", body=b"a")
    with pytest.raises(SealedPayloadInvalid):
        second.open(200, payload, media)  # another request's response
    with pytest.raises(SealedPayloadInvalid):
        first.open(500, payload, media)  # a changed status
    assert first.open(200, payload, media) == ("text/plain", b"a")


async def test_a_response_cannot_be_sent_as_a_request(
    sealing: Sealing, client: SealedClient
) -> None:
    opened = await _open(sealing, client.seal("POST", TARGET, BODY))
    payload, media = sealing.seal_response(opened, status=200, content_type="text/plain", body=b"a")
    with pytest.raises(SealedPayloadInvalid) as caught:
        await sealing.open_request(payload, content_type=media, method="POST", target=TARGET)
    assert caught.value.reason == "malformed"


async def test_replay_is_refused(sealing: Sealing, client: SealedClient) -> None:
    request = client.seal("POST", TARGET, BODY)
    await _open(sealing, request)
    with pytest.raises(SealedPayloadInvalid) as caught:
        await _open(sealing, request)
    assert caught.value.reason == "replayed"


async def test_replay_is_refused_on_every_hot_state(
    any_hot: Any, clock: ManualClock, master_key: MasterKey
) -> None:
    sealing = Sealing(master_key, clock, any_hot, RecordingAudit())
    request = SealedClient(sealing.document(), clock=clock).seal("POST", TARGET, BODY)
    await _open(sealing, request)
    with pytest.raises(SealedPayloadInvalid, match="already used"):
        await _open(sealing, request)


@pytest.mark.parametrize("client_ahead", [False, True], ids=["too-old", "from-the-future"])
async def test_outside_the_time_window(clock: ManualClock, client_ahead: bool) -> None:
    sealing, audit = make_sealing(clock)
    client_clock = ManualClock(clock.now() + 301) if client_ahead else clock
    request = SealedClient(sealing.document(), clock=client_clock).seal("POST", TARGET, BODY)
    if not client_ahead:
        clock.advance(301)
    with pytest.raises(SealedPayloadInvalid) as caught:
        await _open(sealing, request)
    assert caught.value.reason == "expired" and audit.reasons == ["expired"]


async def test_within_the_time_window(clock: ManualClock, sealing: Sealing) -> None:
    request = SealedClient(sealing.document(), clock=clock).seal("POST", TARGET, BODY)
    clock.advance(300)
    assert (await _open(sealing, request)).body == BODY


async def test_refusals_are_audited_without_secrets(clock: ManualClock) -> None:
    sealing, audit = make_sealing(clock)
    request = SealedClient(sealing.document(), clock=clock).seal("POST", TARGET, BODY)
    forged = request.body[:-1] + bytes([request.body[-1] ^ 1])
    with pytest.raises(SealedPayloadInvalid):
        await sealing.open_request(
            forged,
            content_type=request.content_type,
            method="POST",
            target=TARGET,
            ip="198.51.100.7",
        )
    [call] = audit.calls
    assert call["action"] == "sealed.rejected" and call["outcome"] == "denied"
    assert call["key"] == "open_failed:198.51.100.0/24" and call["ip"] == "198.51.100.7"
    assert BODY.decode() not in repr(call)


async def test_not_sealed_and_too_large(clock: ManualClock) -> None:
    sealing, audit = make_sealing(clock, max_body_bytes=2048)
    with pytest.raises(SealedPayloadRequired):
        await sealing.open_request(BODY, content_type="application/json", method="POST", target="/")
    with pytest.raises(SealedPayloadRequired):
        await sealing.open_request(BODY, content_type=None, method="POST", target="/")
    request = SealedClient(sealing.document(), clock=clock).seal("POST", "/", b"x" * 4096)
    with pytest.raises(SealedPayloadTooLarge) as caught:
        await _open(sealing, request, target="/")
    assert caught.value.status == 413
    assert audit.reasons == ["not_sealed", "not_sealed", "too_large"]


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/bastion-sealed; encoding=base64", b"AAAA"),
        ("application/bastion-sealed; encoding=base64url", b"AA+A"),
        ("application/bastion-sealed; encoding=base64url", b"AAAAA"),
        ("application/bastion-sealed; encoding=base64url", b"AR"),  # non-canonical last char
    ],
)
async def test_bad_text_transport(sealing: Sealing, content_type: str, body: bytes) -> None:
    with pytest.raises(SealedPayloadInvalid) as caught:
        await sealing.open_request(body, content_type=content_type, method="POST", target="/")
    assert caught.value.reason == "malformed"


# -- keys --------------------------------------------------------------------------------------


def test_key_document_shape(sealing: Sealing) -> None:
    """ASVS V11.1.2: the published inventory names algorithm, curve and use of each key."""
    document = sealing.document()
    assert [(k["use"], k["crv"], k["status"]) for k in document["keys"]] == [
        ("enc", "X25519", "current"),
        ("sig", "Ed25519", "current"),
    ]
    for key in document["keys"]:
        assert set(key) == {"kid", "use", "kty", "crv", "alg", "x", "status"}
        assert key["kty"] == "OKP" and len(key["x"]) == 43 and "=" not in key["x"]
    assert document["keys"][0]["alg"] == "HPKE-Base-X25519-SHA256-AES256GCM"


def test_keys_are_derived_from_the_master_key(clock: ManualClock) -> None:
    """Replicas sharing a master key publish the same keys; another master key or another
    generation gives unrelated ones."""
    one, _ = make_sealing(clock)
    two, _ = make_sealing(clock)
    other, _ = make_sealing(clock, MasterKey(b"\x08" * 32))
    rolled, _ = make_sealing(clock, key_generation=2, keep_previous=False)
    xs = lambda s: {k["x"] for k in s.document()["keys"]}  # noqa: E731
    assert one.document() == two.document()
    assert not xs(one) & xs(other) and not xs(one) & xs(rolled)
    assert (
        "_key" not in repr(one.keys) and repr(one.keys.generations[0].seal) == "SealPrivateKey(...)"
    )


async def test_rollover_keeps_the_previous_generation(clock: ManualClock) -> None:
    old, _ = make_sealing(clock)
    stale_client = SealedClient(old.document(), clock=clock)
    rolled, _ = make_sealing(clock, key_generation=2)
    assert [k["status"] for k in rolled.document()["keys"]] == [
        "current",
        "previous",
        "current",
        "previous",
    ]
    assert SealedClient(rolled.document()).kid.startswith("seal2-")
    request = stale_client.seal("POST", TARGET, BODY)
    assert (await _open(rolled, request)).kid.startswith("seal1-")
    strict, _ = make_sealing(clock, key_generation=2, keep_previous=False)
    with pytest.raises(SealedPayloadInvalid) as caught:
        await _open(strict, stale_client.seal("POST", TARGET, BODY))
    assert caught.value.reason == "unknown_key"


def test_client_needs_a_usable_document() -> None:
    for bad in ({}, {"keys": []}, {"keys": [{"use": "enc", "crv": "X25519", "kty": "OKP"}]}):
        with pytest.raises(ValueError, match="no usable X25519 key"):
            SealedClient(bad)


async def test_secrets_stay_out_of_reprs(sealing: Sealing, client: SealedClient) -> None:
    request = client.seal("POST", TARGET, BODY)
    opened = await _open(sealing, request)
    assert "ResponseKey" not in repr(opened) and "_key" not in repr(request)
