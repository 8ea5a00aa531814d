"""``guard.vault`` over the real crypto service, on SQLite (and PostgreSQL + Redis where the
test takes ``vault_guard``): encryption at rest bound to its place, audited reads, blind-index
lookups that decrypt nothing, crypto-shredding, scopes."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, update

from bastion._principal import Principal
from bastion.errors import (
    DecryptionFailed,
    FieldNotIndexed,
    Forbidden,
    InvalidVaultValue,
    NotFound,
    ShreddedSubject,
)
from bastion.infra.schema import vault_entries

PHONE = "+86 138 0013 8000"


def user(subject: str, *scopes: str) -> Principal:
    return Principal(subject, tuple(scopes), session_id="s-" + subject)


def key(subject: str, *scopes: str) -> Principal:
    return Principal(subject, tuple(scopes), key_id="k-" + subject)


async def events(guard: Any, prefix: str) -> list[Any]:
    return [e for e in await guard.audit.tail(200) if e.action.startswith(prefix)]


async def raw_rows(guard: Any) -> list[Any]:
    async with guard.db.connect() as conn:
        return list((await conn.execute(select(vault_entries))).all())


async def test_put_get_round_trip_is_audited_without_values(vault_guard: Any) -> None:
    """ASVS V16.3.2 (L3 part) and V16.2.5: every read of the personal data is an audit event,
    and no event holds the value."""
    vault = vault_guard.vault
    entry = await vault.put("u1", "phone", PHONE)
    assert (entry.subject, entry.field, entry.version, entry.indexed) == ("u1", "phone", 1, True)
    assert (await vault.put("u1", "phone", PHONE)).version == 2
    assert await vault.get("u1", "phone") == PHONE
    writes, reads = (
        await events(vault_guard, "vault.write"),
        await events(vault_guard, "vault.read"),
    )
    assert [(e.outcome, e.subject, e.details) for e in writes] == [
        ("success", "u1", {"field": "phone", "version": 1}),
        ("success", "u1", {"field": "phone", "version": 2}),
    ]
    assert [(e.outcome, e.subject, e.actor) for e in reads] == [("success", "u1", "operator")]
    for event in await vault_guard.audit.tail(200):
        assert "0013 8000" not in repr(event) and "13800138000" not in repr(event)


async def test_values_are_ciphertext_at_rest(guard: Any) -> None:
    """ASVS V14.2.4: a raw look at the table shows ciphertext, not the value."""
    await guard.vault.put("u1", "address", "1 Wangfujing Street, Beijing")
    (row,) = await raw_rows(guard)
    assert b"Wangfujing" not in bytes(row.ciphertext) and row.blind_index is None
    assert len(row.ciphertext) > len("1 Wangfujing Street, Beijing")


@pytest.mark.parametrize("move", ["subject", "field"])
async def test_a_ciphertext_moved_elsewhere_does_not_decrypt(guard: Any, move: str) -> None:
    """ASVS V11.3.3: the ciphertext is bound to ``vault:<field>:<subject>``; copied to another
    subject's row (or another field of the same subject) it fails, and nothing leaks."""
    await guard.vault.put("victim", "phone", PHONE)
    await guard.vault.put("thief", "phone", "+86 139 0000 0000")
    await guard.vault.put("victim", "backup_phone", "+86 139 0000 0000")
    (victim,) = [r for r in await raw_rows(guard) if (r.subject, r.field) == ("victim", "phone")]
    target = ("thief", "phone") if move == "subject" else ("victim", "backup_phone")
    async with guard.db.begin() as conn:
        await conn.execute(
            update(vault_entries)
            .where(vault_entries.c.subject == target[0], vault_entries.c.field == target[1])
            .values(ciphertext=victim.ciphertext)
        )
    with pytest.raises(DecryptionFailed) as caught:
        await guard.vault.get(*target)
    assert "0013 8000" not in str(caught.value) and caught.value.status == 500
    assert (await events(guard, "vault.read"))[-1].reason == "undecryptable"


async def test_a_tampered_ciphertext_does_not_decrypt(guard: Any) -> None:
    await guard.vault.put("u1", "phone", PHONE)
    (row,) = await raw_rows(guard)
    flipped = bytearray(row.ciphertext)
    flipped[-1] ^= 1
    async with guard.db.begin() as conn:
        await conn.execute(update(vault_entries).values(ciphertext=bytes(flipped)))
    with pytest.raises(DecryptionFailed):
        await guard.vault.get("u1", "phone")


async def test_a_shredded_subject_answers_410_with_no_data(vault_guard: Any) -> None:
    await vault_guard.vault.put("u1", "phone", PHONE)
    await vault_guard.vault.put("u2", "phone", "+86 139 0000 0000")
    await vault_guard.crypto.shred("u1")
    with pytest.raises(ShreddedSubject) as caught:
        await vault_guard.vault.get("u1", "phone")
    assert caught.value.status == 410 and "0013 8000" not in str(caught.value.problem())
    with pytest.raises(ShreddedSubject):
        await vault_guard.vault.put("u1", "phone", PHONE)
    assert await vault_guard.vault.get("u2", "phone") == "+86 139 0000 0000"
    assert await vault_guard.vault.lookup("phone", PHONE) == []  # its index is no answer
    reasons = [e.reason for e in await events(vault_guard, "vault.") if e.subject == "u1"]
    assert reasons[-2:] == ["shredded", "shredded"]


async def test_delete_subject_shreds_and_removes_every_trace(vault_guard: Any) -> None:
    vault = vault_guard.vault
    await vault.put("u1", "phone", PHONE)
    await vault.put("u1", "email", "li.wei@example.com")
    await vault.put("u2", "phone", PHONE)
    assert await vault.lookup("phone", "13800138000") == ["u1", "u2"]
    ciphertext = next(r.ciphertext for r in await raw_rows(vault_guard) if r.subject == "u1")
    assert await vault.delete_subject("u1") == 2
    assert {r.subject for r in await raw_rows(vault_guard)} == {"u2"}
    assert await vault.lookup("phone", "13800138000") == ["u2"]
    assert await vault.entries("u1") == []
    with pytest.raises(ShreddedSubject):  # a restored backup copy is unreadable too
        await vault_guard.crypto.decrypt(ciphertext, subject="u1", context="vault:phone:u1")
    with pytest.raises(ShreddedSubject):  # erased: 410, not an ordinary 404
        await vault.get("u1", "phone")
    assert await vault.delete_subject("u1") == 0
    (erased, again) = await events(vault_guard, "vault.subject.erased")
    assert (erased.subject, erased.details, again.details) == ("u1", {"rows": 2}, {"rows": 0})


async def test_lookups_decrypt_nothing(guard: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A lookup compares blind indexes only: not one ciphertext is decrypted, matching or not."""
    for n in range(5):
        await guard.vault.put(f"u{n}", "phone", f"+86 138 0013 800{n}")
    await guard.vault.put("u9", "email", "x@example.com")
    calls: list[str] = []
    real = guard.crypto.decrypt

    async def recording(blob: bytes, *, subject: str, context: str) -> bytes:
        calls.append(subject)
        plain: bytes = await real(blob, subject=subject, context=context)
        return plain

    monkeypatch.setattr(guard.crypto, "decrypt", recording)
    assert await guard.vault.lookup("phone", "138-0013-8003") == ["u3"]
    assert await guard.vault.lookup("phone", "+8613800138099") == []
    assert await guard.vault.lookup("email", " X@EXAMPLE.com ") == ["u9"]
    assert calls == []
    hits = await events(guard, "vault.lookup")
    assert [(e.outcome, e.subject, e.reason) for e in hits] == [
        ("success", "u3", None),
        ("failure", None, "no_match"),
        ("success", "u9", None),
    ]


async def test_lookup_only_on_indexed_fields_and_readable_values(guard: Any) -> None:
    await guard.vault.put("u1", "address", "somewhere")
    with pytest.raises(FieldNotIndexed) as caught:
        await guard.vault.lookup("address", "somewhere")
    assert caught.value.status == 422
    with pytest.raises(InvalidVaultValue):
        await guard.vault.lookup("phone", "not a number")


@pytest.mark.parametrize(
    ("subject", "field", "value", "part"),
    [
        ("u1", "phone", 13800138000, "value"),
        ("u1", "phone", None, "value"),
        ("u1", "phone", ["+8613800138000"], "value"),
        ("u1", "address", "x" * 4097, "value"),
        ("u1", "address", "\u00e9" * 2049, "value"),
        ("u1", "address", "", "value"),
        ("u1", "address", "\ud800", "value"),
        ("u1", "phone", "call me maybe", "value"),
        ("u1", "email", "not-an-address", "value"),
        ("", "phone", PHONE, "subject"),
        ("a/b", "phone", PHONE, "subject"),
        ("x" * 65, "phone", PHONE, "subject"),
        ("u1", "Phone", PHONE, "field"),
        ("u1", "1phone", PHONE, "field"),
        ("u1", "p" * 65, PHONE, "field"),
    ],
)
async def test_bad_input_is_422_and_stores_nothing(
    guard: Any, subject: Any, field: Any, value: Any, part: str
) -> None:
    """Wrong-type or oversize values, bad names, unreadable phone numbers: 422, nothing kept."""
    with pytest.raises(InvalidVaultValue) as caught:
        await guard.vault.put(subject, field, value)
    assert caught.value.status == 422
    assert [e["field"] for e in caught.value.extra["errors"]] == [part]
    assert await raw_rows(guard) == [] and await events(guard, "vault.write") == []


async def test_the_size_limit_is_configurable(tmp_path: Any, clock: Any) -> None:
    from bastion import Bastion
    from tests.conftest import make_settings

    settings = make_settings(tmp_path, vault={"max_value_bytes": 64})
    guard = await Bastion.open(settings, clock=clock)  # type: ignore[arg-type]
    try:
        await guard.vault.put("u1", "note", "x" * 64)
        with pytest.raises(InvalidVaultValue):
            await guard.vault.put("u1", "note", "x" * 65)
    finally:
        await guard.close()


async def test_scopes_decide_and_denials_are_audited(guard: Any) -> None:
    """ASVS V16.3.2: a refused call is an ``authz.denied`` event naming the missing scope."""
    vault = guard.vault
    await vault.put("u1", "phone", PHONE, caller=key("service:crm", "vault:write"))
    for call in (
        vault.get("u1", "phone", caller=key("service:crm", "vault:write")),
        vault.lookup("phone", PHONE, caller=key("service:crm", "vault:read")),
        vault.put("u1", "phone", PHONE, caller=key("service:crm", "vault:read")),
        vault.delete("u1", "phone", caller=user("u1", "user")),
        vault.delete_subject("u1", caller=key("service:crm", "vault:write")),
    ):
        with pytest.raises(Forbidden) as caught:
            await call
        assert caught.value.type == "missing-scope"
    denied = await events(guard, "authz.denied")
    assert [e.details["missing"] for e in denied] == [
        "vault:read", "vault:lookup", "vault:write", "vault:write", "vault:erase",
    ]  # fmt: skip
    assert await vault.get("u1", "phone", caller=key("service:crm", "vault:read")) == PHONE
    assert await vault.lookup("phone", PHONE, caller=key("s", "vault:lookup")) == ["u1"]
    assert await vault.delete_subject("u1", caller=key("service:privacy", "vault:erase")) == 1


async def test_users_read_their_own_subject_through_a_session_only(guard: Any) -> None:
    """Self read: a session of the subject reads without ``vault:read``; another user, or the
    subject's own API key without the scope, does not."""
    await guard.vault.put("u1", "phone", PHONE)
    assert await guard.vault.get("u1", "phone", caller=user("u1", "user")) == PHONE
    with pytest.raises(Forbidden):
        await guard.vault.get("u1", "phone", caller=user("u2", "user"))
    with pytest.raises(Forbidden):
        await guard.vault.get("u1", "phone", caller=key("u1", "user"))
    with pytest.raises(Forbidden):
        await guard.vault.lookup("phone", PHONE, caller=user("u1", "user"))


async def test_self_read_can_be_switched_off(tmp_path: Any, clock: Any) -> None:
    from bastion import Bastion
    from tests.conftest import make_settings

    settings = make_settings(tmp_path, vault={"self_read": False})
    guard = await Bastion.open(settings, clock=clock)  # type: ignore[arg-type]
    try:
        await guard.vault.put("u1", "phone", PHONE)
        with pytest.raises(Forbidden):
            await guard.vault.get("u1", "phone", caller=user("u1", "user"))
    finally:
        await guard.close()


async def test_missing_entries_are_404_and_audited(guard: Any) -> None:
    with pytest.raises(NotFound):
        await guard.vault.get("u1", "phone")
    with pytest.raises(NotFound):
        await guard.vault.delete("u1", "phone")
    await guard.vault.put("u1", "phone", PHONE)
    await guard.vault.delete("u1", "phone")
    assert await raw_rows(guard) == []
    outcomes = [(e.action, e.outcome, e.reason) for e in await events(guard, "vault.")]
    assert ("vault.read", "failure", "not_found") in outcomes
    assert ("vault.delete", "failure", "not_found") in outcomes
    assert ("vault.delete", "success", None) in outcomes


async def test_reencryption_rewrites_every_value_under_new_keys(
    vault_guard: Any, clock: Any
) -> None:
    """ASVS V11.2.2: the vault is a registered source of ``crypto.reencrypt``; values stay
    readable, their ciphertexts change, indexes and versions do not."""
    vault = vault_guard.vault
    for n in range(3):
        await vault.put(f"u{n}", "phone", f"+86 138 0013 800{n}")
    await vault_guard.crypto.shred("u2")
    before = {r.subject: r for r in await raw_rows(vault_guard)}
    clock.advance(60)
    report = await vault_guard.crypto.reencrypt()
    assert report.sources["vault"] == 2 and report.shredded == 1
    after = {r.subject: r for r in await raw_rows(vault_guard)}
    for subject in ("u0", "u1"):
        assert after[subject].ciphertext != before[subject].ciphertext
        assert after[subject].blind_index == before[subject].blind_index
        assert after[subject].version == before[subject].version
    assert await vault.get("u1", "phone") == "+86 138 0013 8001"
    assert await vault.lookup("phone", "13800138000") == ["u0"]


async def test_reindex_after_adding_a_lookup_field(tmp_path: Any, clock: Any) -> None:
    from bastion import Bastion
    from tests.conftest import make_settings

    guard = await Bastion.open(make_settings(tmp_path), clock=clock)  # type: ignore[arg-type]
    try:
        await guard.vault.put("u1", "id_number", "11010519491231002X")
        await guard.vault.put("u2", "phone", PHONE)
    finally:
        await guard.close()
    fields = {"phone": "phone", "id_number": "text"}
    settings = make_settings(tmp_path, vault={"lookup_fields": fields})
    guard = await Bastion.open(settings, clock=clock)  # type: ignore[arg-type]
    try:
        assert await guard.vault.lookup("id_number", "11010519491231002x") == []
        assert await guard.vault.reindex() == 1
        assert await guard.vault.lookup("id_number", "11010519491231002x") == ["u1"]
        assert await guard.vault.lookup("phone", PHONE) == ["u2"]
        assert await guard.vault.reindex() == 0
        assert (await events(guard, "vault.reindex"))[-1].details == {"changed": 0}
    finally:
        await guard.close()
