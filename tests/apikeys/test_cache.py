"""The verified-key cache: bounded lifetime and size, and no stale entry after an eviction."""

from __future__ import annotations

from bastion.apikeys import ApiKeyInfo
from bastion.apikeys._cache import MISSING, CachedKey, KeyCache
from bastion.apikeys._store import StoredKey
from bastion.infra import ManualClock


def _entry(**changes: object) -> CachedKey:
    fields: dict[str, object] = {
        "id": "a" * 32,
        "env": "live",
        "name": "ci",
        "description": "",
        "scopes": ("read",),
        "owner_user_id": None,
        "owner_service": "ci",
        "rate": None,
        "ip_allow": (),
        "created_at": 0.0,
        "expires_at": None,
        "revoked_at": None,
        "rotated_from": None,
        "overlap_until": None,
        "last_used_at": None,
    }
    fields.update(changes)
    return CachedKey.of(StoredKey(ApiKeyInfo(**fields), "00" * 32))  # type: ignore[arg-type]


def test_entries_expire_after_the_ttl(clock: ManualClock) -> None:
    cache = KeyCache(clock, ttl=30)
    cache.put("k", MISSING, generation=cache.generation)
    clock.advance(29)
    assert cache.get("k") == MISSING
    clock.advance(2)
    assert cache.get("k") is None and len(cache) == 0


def test_a_read_that_raced_an_eviction_is_not_stored(clock: ManualClock) -> None:
    """A revocation that lands while a row is being read must not be undone by that read."""
    cache = KeyCache(clock, ttl=30)
    generation = cache.generation
    cache.evict("k")  # the revocation message arrives mid-read
    cache.put("k", _entry(), generation=generation)
    assert cache.get("k") is None


def test_size_is_bounded_and_ttl_zero_disables(clock: ManualClock) -> None:
    cache = KeyCache(clock, ttl=30, max_entries=3)
    for i in range(7):
        cache.put(str(i), MISSING, generation=cache.generation)
        assert len(cache) <= 3
    off = KeyCache(clock, ttl=0)
    off.put("k", MISSING, generation=off.generation)
    assert off.get("k") is None


def test_not_after_is_the_earlier_of_expiry_and_overlap() -> None:
    rotated = _entry(expires_at=100.0, overlap_until=50.0)
    assert (rotated.not_after, rotated.rotated) == (50.0, True)
    expiring = _entry(expires_at=40.0, overlap_until=50.0)
    assert (expiring.not_after, expiring.rotated) == (40.0, False)
    assert (_entry().not_after, _entry(revoked_at=1.0).revoked) == (None, True)


def test_allow_list_fails_closed() -> None:
    entry = _entry(ip_allow=("10.0.0.0/8", "2001:db8::/32"))
    assert entry.allows("10.9.8.7") and entry.allows("2001:db8::5")
    for ip in (None, "", "not an ip", "11.0.0.1", "::ffff:10.0.0.1", "2001:db9::1"):
        assert not entry.allows(ip)
    assert _entry().allows(None)
