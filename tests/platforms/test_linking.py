"""PlatformAccounts: linking and unlinking with a fresh sign-in, and the data a platform hands
over after login (WeChat encryptedData with the stored session_key, getPhoneNumber)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from bastion.errors import Conflict, NotFound
from bastion.http import create_app
from bastion.infra import ManualClock
from bastion.infra.schema import platform_identities
from bastion.platforms import PlatformCredentialInvalid, PlatformDataInvalid
from bastion.platforms._linking import REAUTH_SECONDS, ReauthenticationRequired
from bastion.sessions import DeviceInfo
from tests.platforms.conftest import (
    BOT_ID,
    WECHAT_APP,
    FakePlatforms,
    GuardFactory,
    credential,
    telegram_init_data,
)
from tests.vectors import load_vectors

PASSWORD = "violet tractor hums at dawn"
DEVICE = DeviceInfo(ip="198.51.100.9", user_agent="tests")


async def password_user(guard: Any, name: str = "alice") -> tuple[str, str]:
    """Register and sign in with a password: (user id, session id)."""
    registered = await guard.identity.register(name, PASSWORD)
    pair = await guard.identity.login(name, PASSWORD, DEVICE)
    return registered.user_id, pair.session_id


async def platform_user(
    guard: Any, fake: FakePlatforms, platform: str, subject: str
) -> tuple[str, str]:
    """Sign in through a platform: (user id, session id)."""
    cred = credential(fake, platform, subject, guard.clock.now())
    pair = await guard.platforms.login(platform, cred, DEVICE)
    return (await guard.sessions.verify_access(pair.access_token)).subject, pair.session_id


async def linked(guard: Any, user_id: str) -> list[tuple[str, str]]:
    return sorted(
        (i.platform, i.subject) for i in await guard.platform_accounts.identities(user_id)
    )


# -- link ----------------------------------------------------------------------------------


@pytest.mark.parametrize("platform", ["wechat", "telegram", "alipay"])
async def test_link_within_ten_minutes_attaches_the_identity(
    any_platform_guard: Any, fake: FakePlatforms, clock: ManualClock, platform: str
) -> None:
    """ASVS V7.5.1: linking a new way in needs a sign-in at most 10 minutes old; then the
    platform login reaches the same account."""
    guard = any_platform_guard
    user_id, session_id = await password_user(guard)
    clock.advance(REAUTH_SECONDS - 1)
    subject = "5551234" if platform == "telegram" else f"{platform}-alice"
    cred = credential(fake, platform, subject, clock.now())
    identity = await guard.platform_accounts.link(user_id, session_id, platform, cred)
    assert (identity.user_id, identity.platform, identity.subject) == (user_id, platform, subject)
    assert await linked(guard, user_id) == [(platform, subject)]
    assert (await platform_user(guard, fake, platform, subject))[0] == user_id
    [event] = await guard.audit.tail(5, action="platform.link")
    assert (event.outcome, event.subject, event.details) == (
        "success",
        user_id,
        {"platform": platform},
    )


async def test_link_after_ten_minutes_needs_a_new_sign_in(
    any_platform_guard: Any, fake: FakePlatforms, clock: ManualClock
) -> None:
    """ASVS V7.5.1: a stolen access token alone (an old session) cannot attach an account."""
    guard = any_platform_guard
    user_id, session_id = await password_user(guard)
    clock.advance(REAUTH_SECONDS + 1)
    with pytest.raises(ReauthenticationRequired) as caught:
        await guard.platform_accounts.link(
            user_id, session_id, "wechat", {"code": fake.wechat_code("o-late")}
        )
    assert caught.value.status == 403
    assert await linked(guard, user_id) == []
    assert fake.count("wechat.login") == 0  # checked before the code is spent at WeChat
    [event] = await guard.audit.tail(5, action="platform.link")
    assert (event.outcome, event.reason) == ("denied", "reauthentication_required")
    fresh_session = (await guard.identity.login("alice", PASSWORD, DEVICE)).session_id
    await guard.platform_accounts.link(
        user_id, fresh_session, "wechat", {"code": fake.wechat_code("o-late")}
    )
    assert await linked(guard, user_id) == [("wechat", "o-late")]


async def test_linking_another_users_identity_is_a_conflict(
    any_platform_guard: Any, fake: FakePlatforms
) -> None:
    """ASVS V8.2.2: a platform account belongs to one user; taking it over is refused (409),
    audited, and changes nothing."""
    guard = any_platform_guard
    bob, _ = await platform_user(guard, fake, "wechat", "o-bob")
    alice, session_id = await password_user(guard)
    with pytest.raises(Conflict) as caught:
        await guard.platform_accounts.link(
            alice, session_id, "wechat", {"code": fake.wechat_code("o-bob")}
        )
    assert caught.value.status == 409
    assert await linked(guard, alice) == []
    assert await linked(guard, bob) == [("wechat", "o-bob")]
    assert (await platform_user(guard, fake, "wechat", "o-bob"))[0] == bob
    [event] = await guard.audit.tail(5, action="platform.link")
    assert (event.outcome, event.reason, event.subject) == ("denied", "linked_elsewhere", alice)


async def test_a_refused_link_credential_attaches_nothing(
    platform_guard: Any, fake: FakePlatforms
) -> None:
    """ASVS V16.3.1: a failed link is audited with the platform's reason."""
    user_id, session_id = await password_user(platform_guard)
    fake.fail_next = 40029
    with pytest.raises(PlatformCredentialInvalid):
        await platform_guard.platform_accounts.link(
            user_id, session_id, "wechat", {"code": fake.wechat_code("o-refused")}
        )
    assert await linked(platform_guard, user_id) == []
    [event] = await platform_guard.audit.tail(5, action="platform.link")
    assert (event.outcome, event.reason) == ("denied", "wechat:40029")


# -- unlink --------------------------------------------------------------------------------


async def test_unlink_removes_the_identity(any_platform_guard: Any, fake: FakePlatforms) -> None:
    guard = any_platform_guard
    user_id, session_id = await password_user(guard)
    await guard.platform_accounts.link(
        user_id, session_id, "wechat", {"code": fake.wechat_code("o-alice")}
    )
    await guard.platform_accounts.unlink(user_id, session_id, "wechat")
    assert await linked(guard, user_id) == []
    assert (await platform_user(guard, fake, "wechat", "o-alice"))[0] != user_id
    [event] = await guard.audit.tail(5, action="platform.unlink")
    assert (event.outcome, event.subject) == ("success", user_id)
    with pytest.raises(NotFound):
        await guard.platform_accounts.unlink(user_id, session_id, "telegram")


async def test_the_last_way_in_cannot_be_unlinked(
    any_platform_guard: Any, fake: FakePlatforms
) -> None:
    """A platform-only user keeps at least one way to sign in (409), until another exists."""
    guard = any_platform_guard
    user_id, session_id = await platform_user(guard, fake, "telegram", "4242")
    with pytest.raises(Conflict) as caught:
        await guard.platform_accounts.unlink(user_id, session_id, "telegram")
    assert caught.value.status == 409
    assert await linked(guard, user_id) == [("telegram", "4242")]
    await guard.platform_accounts.link(
        user_id, session_id, "wechat", {"code": fake.wechat_code("o-tg-user")}
    )
    await guard.platform_accounts.unlink(user_id, session_id, "telegram")
    assert await linked(guard, user_id) == [("wechat", "o-tg-user")]
    with pytest.raises(Conflict):
        await guard.platform_accounts.unlink(user_id, session_id, "wechat")


async def test_unlink_needs_a_fresh_sign_in(
    platform_guard: Any, fake: FakePlatforms, clock: ManualClock
) -> None:
    """ASVS V7.5.1: detaching the owner's way in needs a recent sign-in too."""
    user_id, session_id = await password_user(platform_guard)
    await platform_guard.platform_accounts.link(
        user_id, session_id, "wechat", {"code": fake.wechat_code("o-kept")}
    )
    clock.advance(REAUTH_SECONDS + 1)
    with pytest.raises(ReauthenticationRequired):
        await platform_guard.platform_accounts.unlink(user_id, session_id, "wechat")
    assert await linked(platform_guard, user_id) == [("wechat", "o-kept")]


async def test_identities_lists_every_platform(
    platform_guard: Any, fake: FakePlatforms, clock: ManualClock
) -> None:
    user_id, session_id = await password_user(platform_guard)
    for platform, subject in [("wechat", "o-1"), ("douyin", "o-2"), ("telegram", "99")]:
        cred = credential(fake, platform, subject, clock.now())
        await platform_guard.platform_accounts.link(user_id, session_id, platform, cred)
    found = await platform_guard.platform_accounts.identities(user_id)
    assert sorted((i.platform, i.app_id, i.subject) for i in found) == [
        ("douyin", "tt00000000test0001", "o-2"),
        ("telegram", BOT_ID, "99"),
        ("wechat", WECHAT_APP, "o-1"),
    ]
    assert "o-1" not in repr(found)  # identifiers stay out of reprs
    assert await platform_guard.platform_accounts.identities("no-such-user") == []


# -- wechat_decrypt with the published W1/W2 vectors ---------------------------------------

_WECHAT = load_vectors("platforms/wechat.json")["vectors"]
_DECRYPT = [v for v in _WECHAT if v["verified"] and "encrypted_data" in v["inputs"]]
_W1 = next(v for v in _WECHAT if v["id"] == "W1")["inputs"]
_W1_PLAINTEXT = next(v for v in _WECHAT if v["id"] == "W1")["expected"]["plaintext"]
_W1_OPENID = json.loads(_W1_PLAINTEXT)["openId"]


@pytest.mark.parametrize("vector", _DECRYPT, ids=[v["id"] for v in _DECRYPT])
async def test_wechat_decrypt_published_vectors(
    open_platform_guard: GuardFactory, fake: FakePlatforms, vector: dict[str, Any]
) -> None:
    """ASVS V9.2.1, V9.2.3, V8.2.2: data decrypts with the session_key stored at login only
    when its watermark names our app id, is fresh, and its openId is the signed-in user's;
    the result drops the watermark. Failures raise the exact reason and are audited."""
    inputs, expected = vector["inputs"], vector["expected"]
    clock = ManualClock(inputs.get("now", _W1["now"]))
    guard = await open_platform_guard(
        clock=clock,
        wechat={"app_id": inputs["appid"], "watermark_max_age_seconds": _W1["watermark_max_age_s"]},
    )
    code = fake.wechat_code(_W1_OPENID, session_key=inputs["session_key"])
    pair = await guard.platforms.login("wechat", {"code": code}, DEVICE)
    user_id = (await guard.sessions.verify_access(pair.access_token)).subject
    decrypt = guard.platform_accounts.wechat_decrypt(
        user_id, inputs["encrypted_data"], inputs["iv"]
    )
    if not expected["valid"]:
        with pytest.raises(PlatformDataInvalid) as caught:
            await decrypt
        assert caught.value.reason == expected["error"]
        [event] = await guard.audit.tail(5, action="platform.decrypt")
        assert (event.outcome, event.reason, event.subject) == (
            "failure",
            expected["error"],
            user_id,
        )
        return
    data = await decrypt
    assert "watermark" not in data
    if "countryCode" in expected:  # W2: the phone number is published masked, as a hash
        assert data["countryCode"] == expected["countryCode"]
        assert data["phoneNumber"].startswith(expected["plaintext_prefix"][-3:])
    else:  # W1 and the variants that still decrypt: the W1 plaintext
        plaintext = expected.get("plaintext", _W1_PLAINTEXT)
        assert data == {k: v for k, v in json.loads(plaintext).items() if k != "watermark"}
    async with guard.db.connect() as conn:
        [row] = (await conn.execute(select(platform_identities))).all()
    assert row.profile_sealed is not None and b"countryCode" not in row.profile_sealed
    [event] = await guard.audit.tail(5, action="platform.decrypt")
    assert event.outcome == "success"


async def test_wechat_decrypt_uses_the_identity_of_this_app(
    open_platform_guard: GuardFactory, fake: FakePlatforms
) -> None:
    """A user joined across two mini programs by unionid holds two WeChat identities, each
    with its own session_key; decryption must use the one of the configured app."""
    guard = await open_platform_guard(
        clock=ManualClock(_W1["now"]), wechat={"app_id": _W1["appid"]}
    )
    registered = await guard.identity.register("dora", PASSWORD)
    async with guard.db.begin() as conn:  # first, an identity at another of the developer's apps
        await guard.platforms.store.attach(
            conn, registered.user_id, "wechat", "wx-sibling-app", "o-sibling", "u-dora"
        )
    code = fake.wechat_code(_W1_OPENID, session_key=_W1["session_key"], unionid="u-dora")
    await guard.platforms.login("wechat", {"code": code}, DEVICE)
    data = await guard.platform_accounts.wechat_decrypt(
        registered.user_id, _W1["encrypted_data"], _W1["iv"]
    )
    assert data["openId"] == _W1_OPENID


async def test_wechat_decrypt_without_a_session_key_or_identity(
    platform_guard: Any, fake: FakePlatforms
) -> None:
    user_id, _ = await password_user(platform_guard)
    with pytest.raises(NotFound):
        await platform_guard.platform_accounts.wechat_decrypt(user_id, "AAAA", "AAAA")
    async with platform_guard.db.begin() as conn:
        await platform_guard.platforms.store.attach(
            conn, user_id, "wechat", WECHAT_APP, "o-x", None
        )
    with pytest.raises(PlatformDataInvalid) as caught:
        await platform_guard.platform_accounts.wechat_decrypt(user_id, "AAAA", "AAAA")
    assert caught.value.reason == "session_key_missing"


_B1 = {v["id"]: v for v in load_vectors("platforms/baidu.json")["vectors"] if v["verified"]}


@pytest.mark.parametrize("vector", list(_B1.values()), ids=list(_B1))
async def test_baidu_decrypt_published_vectors(
    open_platform_guard: GuardFactory, fake: FakePlatforms, vector: dict[str, Any]
) -> None:
    """ASVS V9.2.3: Baidu data decrypts with the stored session_key only when its trailing
    App Key is ours."""
    inputs, expected = vector["inputs"], vector["expected"]
    guard = await open_platform_guard(baidu={"app_key": inputs["app_key"]})
    fake.baidu_app_key = inputs["app_key"]
    openid = json.loads(_B1["B1"]["expected"]["plaintext"])["openid"]
    code = fake.baidu_code(openid, session_key=inputs["session_key"])
    pair = await guard.platforms.login("baidu", {"code": code}, DEVICE)
    user_id = (await guard.sessions.verify_access(pair.access_token)).subject
    decrypt = guard.platform_accounts.decrypt(user_id, "baidu", inputs["ciphertext"], inputs["iv"])
    if expected["valid"]:
        assert await decrypt == json.loads(expected["plaintext"])
        return
    with pytest.raises(PlatformDataInvalid) as caught:
        await decrypt
    assert caught.value.reason == expected["error"]


async def test_http_decrypt_with_w1(open_platform_guard: GuardFactory, fake: FakePlatforms) -> None:
    """The route decrypts for the signed-in user; a refusal is a generic 422 (no reason, no
    padding or watermark oracle) (ASVS V16.5.1)."""
    guard = await open_platform_guard(
        clock=ManualClock(_W1["now"]), wechat={"app_id": _W1["appid"]}
    )
    code = fake.wechat_code(_W1_OPENID, session_key=_W1["session_key"])
    pair = await guard.platforms.login("wechat", {"code": code}, DEVICE)
    auth = {"Authorization": f"Bearer {pair.access_token}"}
    transport = httpx.ASGITransport(app=create_app(guard=guard), client=("203.0.113.7", 1))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        body = {"encrypted_data": _W1["encrypted_data"], "iv": _W1["iv"]}
        response = await http.post("/v1/platforms/wechat/decrypt", json=body, headers=auth)
        assert response.status_code == 200, response.text
        assert response.json()["nickName"] == "Band" and "watermark" not in response.json()
        tampered = {"encrypted_data": _W1["encrypted_data"], "iv": "r7BXXKkLb8qrSNnzwEQUpQ=="}
        response = await http.post("/v1/platforms/wechat/decrypt", json=tampered, headers=auth)
        assert response.status_code == 422
        assert "openid" not in response.text.lower() and "hackd0" not in response.text
        response = await http.post("/v1/platforms/alipay/decrypt", json=body, headers=auth)
        assert response.status_code == 422


# -- wechat_phone --------------------------------------------------------------------------

PHONE = {"phoneNumber": "+86 13800000000", "purePhoneNumber": "13800000000", "countryCode": "86"}


async def test_wechat_phone_through_the_fake(platform_guard: Any, fake: FakePlatforms) -> None:
    """The number comes from getuserphonenumber with an access_token fetched once and cached;
    it is returned to its owner without the watermark and stored sealed."""
    user_id, _ = await platform_user(platform_guard, fake, "wechat", "o-phone")
    for code in ("phone-code-1", "phone-code-2"):
        fake.phone_codes[code] = dict(PHONE)
        assert await platform_guard.platform_accounts.wechat_phone(user_id, code) == PHONE
    assert (fake.count("wechat.token"), fake.count("wechat.phone")) == (1, 2)
    async with platform_guard.db.connect() as conn:
        [row] = (await conn.execute(select(platform_identities))).all()
    assert row.phone_sealed is not None and b"13800000000" not in row.phone_sealed
    events = await platform_guard.audit.tail(5, action="platform.phone")
    assert [e.outcome for e in events] == ["success", "success"]


async def test_wechat_phone_is_bound_to_the_signed_in_openid(
    platform_guard: Any, fake: FakePlatforms
) -> None:
    """ASVS V8.2.2 (platforms.md 1.6): the exchange sends the user's openid so WeChat checks
    the phone code belongs to that user; another user's code is refused."""
    user_id, _ = await platform_user(platform_guard, fake, "wechat", "o-caller")
    fake.phone_codes["someone-elses-code"] = PHONE | {"openid": "o-victim"}
    with pytest.raises(PlatformCredentialInvalid):
        await platform_guard.platform_accounts.wechat_phone(user_id, "someone-elses-code")
    assert [sent.get("openid") for sent in fake.sent("wechat.phone")] == ["o-caller"]


async def test_wechat_phone_needs_a_wechat_identity(
    platform_guard: Any, fake: FakePlatforms
) -> None:
    user_id, _ = await password_user(platform_guard)
    fake.phone_codes["phone-code"] = dict(PHONE)
    with pytest.raises(NotFound):
        await platform_guard.platform_accounts.wechat_phone(user_id, "phone-code")
    assert fake.calls == []


# -- HTTP ----------------------------------------------------------------------------------


@pytest.fixture
async def client(platform_guard: Any) -> Any:
    transport = httpx.ASGITransport(app=create_app(guard=platform_guard), client=("203.0.113.7", 1))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


async def test_http_link_accounts_unlink(
    client: httpx.AsyncClient, platform_guard: Any, clock: ManualClock
) -> None:
    await platform_guard.identity.register("erin", PASSWORD)
    pair = await platform_guard.identity.login("erin", PASSWORD, DEVICE)
    auth = {"Authorization": f"Bearer {pair.access_token}"}
    init_data = telegram_init_data(user_id=8080, auth_date=int(clock.now()) - 5)
    response = await client.post(
        "/v1/platforms/telegram/link", json={"init_data": init_data}, headers=auth
    )
    assert (response.status_code, response.json()) == (
        201,
        {"platform": "telegram", "linked": "true"},
    )
    listed = await client.get("/v1/platforms/accounts", headers=auth)
    assert listed.json() == {"accounts": [{"platform": "telegram", "app_id": BOT_ID}]}
    assert "8080" not in listed.text  # no platform identifiers are returned
    assert (await client.delete("/v1/platforms/telegram/link", headers=auth)).status_code == 204
    assert (await client.get("/v1/platforms/accounts", headers=auth)).json() == {"accounts": []}
    assert (await client.get("/v1/platforms/accounts")).status_code == 401


async def test_http_link_attempts_are_limited_per_client_ip(
    platform_guard: Any, clock: ManualClock
) -> None:
    """ASVS V2.4.1, V6.3.1: one client spending the per-IP quota on link attempts throttles
    that client only, not every other user's linking."""
    app = create_app(guard=platform_guard)
    clock.set((int(clock.now()) // 60 + 1) * 60)

    async def signed_in(name: str, ip: str) -> tuple[httpx.AsyncClient, dict[str, str]]:
        await platform_guard.identity.register(name, PASSWORD)
        pair = await platform_guard.identity.login(name, PASSWORD, DEVICE)
        transport = httpx.ASGITransport(app=app, client=(ip, 1))
        http = httpx.AsyncClient(transport=transport, base_url="http://test")
        return http, {"Authorization": f"Bearer {pair.access_token}"}

    noisy, noisy_auth = await signed_in("mallory", "203.0.113.66")
    quiet, quiet_auth = await signed_in("grace", "198.51.100.77")
    async with noisy, quiet:
        forged = {"init_data": "auth_date=1&hash=" + "0" * 64}
        for _ in range(120):
            response = await noisy.post(
                "/v1/platforms/telegram/link", json=forged, headers=noisy_auth
            )
            assert response.status_code == 401
        response = await noisy.post("/v1/platforms/telegram/link", json=forged, headers=noisy_auth)
        assert response.status_code == 429
        init_data = telegram_init_data(user_id=6060, auth_date=int(clock.now()) - 5)
        response = await quiet.post(
            "/v1/platforms/telegram/link", json={"init_data": init_data}, headers=quiet_auth
        )
        assert response.status_code == 201, response.text


async def test_http_link_with_an_old_session_is_403(
    client: httpx.AsyncClient, platform_guard: Any, fake: FakePlatforms, clock: ManualClock
) -> None:
    await platform_guard.identity.register("frank", PASSWORD)
    pair = await platform_guard.identity.login("frank", PASSWORD, DEVICE)
    clock.advance(REAUTH_SECONDS + 1)
    response = await client.post(
        "/v1/platforms/wechat/link",
        json={"code": fake.wechat_code("o-frank")},
        headers={"Authorization": f"Bearer {pair.access_token}"},
    )
    assert response.status_code == 403
    assert response.json()["type"].endswith("/reauthentication-required")


# -- Alipay phone numbers --------------------------------------------------------------------


async def _alipay_phone_guard(open_platform_guard: Any) -> tuple[Any, str, dict[str, Any]]:
    """A guard trusting the A5 vector's public and AES keys, and a user holding an Alipay
    identity (attached directly: the login exchange is covered elsewhere)."""
    a5 = next(v for v in load_vectors("platforms/alipay.json")["vectors"] if v["id"] == "A5")
    inputs = a5["inputs"]
    pem = "-----BEGIN PUBLIC KEY-----\n" + inputs["public_key"] + "\n-----END PUBLIC KEY-----\n"
    guard = await open_platform_guard(
        alipay={"alipay_public_key": pem, "aes_key": inputs["aes_key"]}
    )
    user_id = (await guard.identity.register("payer", "violet tractor hums at dawn")).user_id
    async with guard.db.begin() as conn:
        app_id = guard.platforms.adapters.app_id("alipay")
        await guard.platforms.store.attach(
            conn, user_id, "alipay", app_id, "2088000000000001", None
        )
    return guard, user_id, inputs


async def test_alipay_phone_is_verified_then_decrypted(open_platform_guard: Any) -> None:
    """ASVS V11.3.x / platforms.md 3.5: the signature is checked before decryption; the
    number is stored sealed and audited."""
    guard, user_id, inputs = await _alipay_phone_guard(open_platform_guard)
    response = json.dumps({"response": inputs["response"], "sign": inputs["sign"]})
    assert await guard.platform_accounts.alipay_phone(user_id, response) == {
        "mobile": "13800000000"
    }
    async with guard.db.connect() as conn:
        sealed = (await conn.execute(select(platform_identities.c.phone_sealed))).scalar_one()
    assert b"13800000000" not in sealed


async def test_alipay_phone_with_a_bad_signature_is_refused(open_platform_guard: Any) -> None:
    guard, user_id, inputs = await _alipay_phone_guard(open_platform_guard)
    forged = inputs["sign"][:-4] + ("AAAA" if not inputs["sign"].endswith("AAAA") else "BBBB")
    response = json.dumps({"response": inputs["response"], "sign": forged})
    with pytest.raises(PlatformDataInvalid) as caught:
        await guard.platform_accounts.alipay_phone(user_id, response)
    assert caught.value.reason == "signature_invalid"
    (event,) = [e for e in await guard.audit.tail(20) if e.action == "platform.phone"]
    assert event.outcome == "denied" and event.reason == "signature_invalid"
