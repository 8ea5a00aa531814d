"""Login brute-force throttle (bastion.identity._throttle), over memory and real Redis.

Only the ManualClock drives the delay and window maths; no test waits for Redis to expire a key.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bastion.config import LoginSettings
from bastion.errors import Throttled
from bastion.identity._throttle import LoginThrottle, LoginThrottled, client_keys
from bastion.infra import HotState, ManualClock, MemoryHotState

ACCOUNT = "a" * 32
OTHER = "b" * 32
DEVICE = "d" * 32
IP = "203.0.113.7"
DOC = Path(__file__).resolve().parents[2] / "docs" / "brute-force.md"


def make(hot: HotState, clock: ManualClock, **overrides: int) -> LoginThrottle:
    return LoginThrottle(hot, clock, LoginSettings(**overrides))


async def fail(
    throttle: LoginThrottle,
    times: int = 1,
    *,
    account: str = ACCOUNT,
    ip: str | None = None,
    device: str | None = None,
) -> None:
    for _ in range(times):
        await throttle.record_failure(account=account, ip=ip, device=device)


async def throttled(
    throttle: LoginThrottle,
    *,
    account: str = ACCOUNT,
    ip: str | None = None,
    device: str | None = None,
) -> LoginThrottled:
    with pytest.raises(Throttled) as info:
        await throttle.check(account=account, ip=ip, device=device)
    assert isinstance(info.value, LoginThrottled)
    return info.value


# -- per-account progressive delay -----------------------------------------------------------


async def test_five_failures_then_sixth_attempt_waits_one_second(
    any_hot: HotState, clock: ManualClock
) -> None:
    """ASVS V6.3.1: progressive delay from the 5th consecutive failure (the documented default)."""
    throttle = make(any_hot, clock)
    for _ in range(5):
        await throttle.check(account=ACCOUNT, ip=IP, device=None)
        await fail(throttle, ip=IP)
    error = await throttled(throttle, ip=IP)
    assert (error.retry_after, error.scope) == (1, "account")
    assert error.status == 429
    assert error.headers() == {"Retry-After": "1"}


async def test_delay_doubles_and_is_capped(any_hot: HotState, clock: ManualClock) -> None:
    """ASVS V6.3.1: 1, 2, 4, 8 s ... up to delay_max_seconds; waiting it out lets one try in."""
    throttle = make(any_hot, clock, delay_max_seconds=16)
    await fail(throttle, 5)
    seen = []
    for _ in range(7):
        error = await throttled(throttle)
        seen.append(error.retry_after)
        clock.advance(error.retry_after)
        await throttle.check(account=ACCOUNT, ip=None, device=None)
        await fail(throttle)
    assert seen == [1, 2, 4, 8, 16, 16, 16]


async def test_default_cap_is_one_hour(any_hot: HotState, clock: ManualClock) -> None:
    throttle = make(any_hot, clock)
    await fail(throttle, 80)
    assert (await throttled(throttle)).retry_after == 3600


async def test_retry_after_counts_down_from_the_last_failure(
    any_hot: HotState, clock: ManualClock
) -> None:
    throttle = make(any_hot, clock)
    await fail(throttle, 7)  # the 7th failure asks for 4 s
    clock.advance(2.5)
    assert (await throttled(throttle)).retry_after == 2  # 1.5 s left, rounded up
    clock.advance(1.25)
    assert (await throttled(throttle)).retry_after == 1  # 0.25 s left
    clock.advance(0.25)
    await throttle.check(account=ACCOUNT, ip=None, device=None)


async def test_success_resets_the_account(any_hot: HotState, clock: ManualClock) -> None:
    throttle = make(any_hot, clock)
    await fail(throttle, 9)
    await throttled(throttle)
    await throttle.record_success(account=ACCOUNT, device=None)
    await throttle.check(account=ACCOUNT, ip=None, device=None)
    await fail(throttle, 4)
    await throttle.check(account=ACCOUNT, ip=None, device=None)


async def test_accounts_are_independent(any_hot: HotState, clock: ManualClock) -> None:
    throttle = make(any_hot, clock)
    await fail(throttle, 10)
    await throttled(throttle)
    await throttle.check(account=OTHER, ip=None, device=None)


async def test_admin_reset_unlocks_account_and_listed_devices(
    any_hot: HotState, clock: ManualClock
) -> None:
    """ASVS V6.3.1: a throttled account can be recovered by an administrator."""
    throttle = make(any_hot, clock)
    await fail(throttle, 10)
    await fail(throttle, 10, device=DEVICE)
    await throttle.reset(ACCOUNT)
    await throttle.check(account=ACCOUNT, ip=None, device=None)
    await throttled(throttle, device=DEVICE)
    await throttle.reset(ACCOUNT, devices=(DEVICE,))
    await throttle.check(account=ACCOUNT, ip=None, device=DEVICE)


# -- trusted devices -------------------------------------------------------------------------


async def test_trusted_device_is_not_locked_out_by_untrusted_failures(
    any_hot: HotState, clock: ManualClock
) -> None:
    """ASVS V6.1.1: an attacker hammering an account cannot lock its owner out."""
    throttle = make(any_hot, clock)
    await fail(throttle, 40, ip=IP)
    assert (await throttled(throttle, ip=IP)).scope == "account"
    await throttle.check(account=ACCOUNT, ip=IP, device=DEVICE)


async def test_trusted_device_has_its_own_progressive_delay(
    any_hot: HotState, clock: ManualClock
) -> None:
    throttle = make(any_hot, clock)
    await fail(throttle, 5, device=DEVICE)
    error = await throttled(throttle, device=DEVICE)
    assert (error.retry_after, error.scope) == (1, "device")
    await throttle.check(account=ACCOUNT, ip=None, device="e" * 32)  # another trusted device
    await throttle.check(account=ACCOUNT, ip=None, device=None)  # untrusted counter untouched
    await throttle.check(account=OTHER, ip=None, device=DEVICE)  # same key, other account
    clock.advance(1)
    await fail(throttle, device=DEVICE)
    assert (await throttled(throttle, device=DEVICE)).retry_after == 2


async def test_success_on_trusted_device_resets_both_streaks(
    any_hot: HotState, clock: ManualClock
) -> None:
    throttle = make(any_hot, clock)
    await fail(throttle, 6)
    await fail(throttle, 6, device=DEVICE)
    await throttle.record_success(account=ACCOUNT, device=DEVICE)
    await throttle.check(account=ACCOUNT, ip=None, device=None)
    await throttle.check(account=ACCOUNT, ip=None, device=DEVICE)


# -- per-IP and per-subnet budgets -----------------------------------------------------------


async def test_password_spraying_from_one_ip_trips_the_ip_limit(
    any_hot: HotState, clock: ManualClock
) -> None:
    """ASVS V6.1.1/V6.3.1: one failure on each of many accounts from one IP is stopped."""
    throttle = make(any_hot, clock)  # default: 50 failures per 600 s window
    window_end = (int(clock.now() // 600) + 1) * 600
    for n in range(50):
        account = f"{n:032x}"
        await throttle.check(account=account, ip=IP, device=None)
        await fail(throttle, account=account, ip=IP)
    error = await throttled(throttle, account="f" * 32, ip=IP)
    assert error.scope == "ip"
    assert error.retry_after == int(window_end - clock.now() + 0.999)
    await throttle.check(account="f" * 32, ip="198.51.100.1", device=None)  # another network
    await throttle.check(account=ACCOUNT, ip=IP, device=DEVICE)  # trusted device is exempt
    clock.advance(window_end - clock.now())  # next window
    await throttle.check(account="f" * 32, ip=IP, device=None)


async def test_trusted_device_failures_do_not_spend_the_ip_budget(
    any_hot: HotState, clock: ManualClock
) -> None:
    throttle = make(any_hot, clock, ip_failures_per_window=3)
    await fail(throttle, 10, ip=IP, device=DEVICE)
    await throttle.check(account=OTHER, ip=IP, device=None)


async def test_rotating_ips_within_a_slash_24_trip_the_subnet_limit(
    any_hot: HotState, clock: ManualClock
) -> None:
    throttle = make(any_hot, clock, ip_failures_per_window=3, subnet_failures_per_window=10)
    for n in range(10):
        await throttle.check(account=f"{n:032x}", ip=f"192.0.2.{n + 1}", device=None)
        await fail(throttle, account=f"{n:032x}", ip=f"192.0.2.{n + 1}")
    assert (await throttled(throttle, account=OTHER, ip="192.0.2.200")).scope == "subnet"
    await throttle.check(account=OTHER, ip="192.0.3.200", device=None)
    await throttle.check(account=ACCOUNT, ip="192.0.2.200", device=DEVICE)


async def test_ipv6_groups_by_slash_64(any_hot: HotState, clock: ManualClock) -> None:
    throttle = make(any_hot, clock, ip_failures_per_window=3, subnet_failures_per_window=10)
    for n in range(10):
        await fail(throttle, account=f"{n:032x}", ip=f"2001:db8:1:2:{n:x}::1")
    error = await throttled(throttle, account=OTHER, ip="2001:db8:1:2:ffff:ffff:ffff:ffff")
    assert error.scope == "subnet"
    await throttle.check(account=OTHER, ip="2001:db8:1:3::1", device=None)


async def test_ipv6_spelling_and_ipv4_mapped_addresses_share_a_key(
    any_hot: HotState, clock: ManualClock
) -> None:
    throttle = make(any_hot, clock, ip_failures_per_window=3)
    await fail(throttle, account=OTHER, ip="2001:DB8::1")
    await fail(throttle, account=OTHER, ip="2001:db8:0:0::1")
    await fail(throttle, account=OTHER, ip="2001:0db8::0001")
    assert (await throttled(throttle, ip="2001:db8::1")).scope == "ip"
    await fail(throttle, 3, account=OTHER, ip="::ffff:198.51.100.9")
    assert (await throttled(throttle, ip="198.51.100.9")).scope == "ip"


@pytest.mark.parametrize(
    "garbage", ["not-an-ip", "", "999.1.1.1", "1.2.3.4, 5.6.7.8", "\x00" * 500]
)
async def test_garbage_ip_is_its_own_key(
    any_hot: HotState, clock: ManualClock, garbage: str
) -> None:
    throttle = make(any_hot, clock, ip_failures_per_window=3)
    await fail(throttle, 3, account=OTHER, ip=garbage)
    assert (await throttled(throttle, ip=garbage)).scope == "ip"
    await throttle.check(account=ACCOUNT, ip=IP, device=None)


async def test_longest_wait_wins_when_several_limits_apply(
    any_hot: HotState, clock: ManualClock
) -> None:
    throttle = make(any_hot, clock, ip_failures_per_window=5)
    await fail(throttle, 5, ip=IP)  # account wants 1 s, the IP budget waits for the window end
    error = await throttled(throttle, ip=IP)
    assert error.scope == "ip"
    assert error.retry_after > 1


# -- properties of the implementation --------------------------------------------------------


class RecordingHot(MemoryHotState):
    def __init__(self, clock: ManualClock) -> None:
        super().__init__(clock)
        self.calls: list[str] = []

    async def get_int(self, key: str) -> int:
        self.calls.append("get_int")
        return await super().get_int(key)

    async def get(self, key: str) -> bytes | None:
        self.calls.append("get")
        return await super().get(key)

    async def incr(self, key: str, ttl: float) -> int:
        self.calls.append("incr")
        return await super().incr(key, ttl)

    async def put(self, key: str, value: bytes, ttl: float) -> None:
        self.calls.append("put")
        await super().put(key, value, ttl)


async def test_check_only_reads_hot_state(clock: ManualClock) -> None:
    """The check runs before hashing, so it must stay a handful of reads."""
    hot = RecordingHot(clock)
    throttle = make(hot, clock)
    await fail(throttle, 8, ip=IP)
    hot.calls.clear()
    with pytest.raises(Throttled):
        await throttle.check(account=ACCOUNT, ip=IP, device=None)
    assert sorted(hot.calls) == ["get", "get_int", "get_int", "get_int"]


async def test_keys_are_prefixed_and_hold_no_raw_garbage(clock: ManualClock) -> None:
    hot = MemoryHotState(clock)
    throttle = make(hot, clock)
    await fail(throttle, ip=IP)
    await fail(throttle, ip="x" * 1000, device=None)
    await fail(throttle, device=DEVICE)
    assert hot._data
    assert all(key.startswith("login:") and len(key) < 200 for key in hot._data)


async def test_account_streak_lives_24_hours(clock: ManualClock) -> None:
    """The documented TTL: a streak is forgotten 24 h after its first failure (memory clock)."""
    hot = MemoryHotState(clock)
    throttle = make(hot, clock)
    await fail(throttle, 20)
    clock.advance(23 * 3600)
    await fail(throttle)  # still counted: the 21st failure
    assert (await throttled(throttle)).retry_after == 3600
    clock.advance(3600)  # 24 h after the first failure
    await fail(throttle)  # the 1st of a new streak
    await throttle.check(account=ACCOUNT, ip=None, device=None)


async def test_attacker_guess_rate_on_one_account_is_bounded(clock: ManualClock) -> None:
    """ASVS V6.1.1: the documented worst case, at most 40 guesses per account per day."""
    hot = MemoryHotState(clock)
    throttle = make(hot, clock)
    start, per_day = clock.now(), [0, 0, 0]
    while clock.now() < start + 3 * 24 * 3600:
        try:
            await throttle.check(account=ACCOUNT, ip=None, device=None)
        except LoginThrottled as error:
            clock.advance(error.retry_after)
            continue
        per_day[int((clock.now() - start) // (24 * 3600))] += 1
        await fail(throttle)
    assert min(per_day) > 30 and max(per_day) <= 40


def test_exception_carries_no_identifier() -> None:
    error = LoginThrottled(3.2, "ip")
    assert error.retry_after == 4
    assert IP not in str(error) and "scope" not in error.problem()


def test_client_keys() -> None:
    assert client_keys(None) == (None, None)
    assert client_keys("10.1.2.3") == ("10.1.2.3", "10.1.2.0/24")
    assert client_keys("::ffff:10.1.2.3") == ("10.1.2.3", "10.1.2.0/24")
    assert client_keys("2001:db8:a:b:c:d:e:f") == ("2001:db8:a:b:c:d:e:f", "2001:db8:a:b::/64")
    ip_key, subnet_key = client_keys("bogus")
    assert ip_key is not None and "bogus" not in ip_key and subnet_key is None


def test_documented_defaults_match_the_configuration() -> None:
    """ASVS V6.1.1: docs/brute-force.md states the thresholds, windows and back-off in force."""
    rows = re.findall(r"^\| `(\w+)` \| `([^`]+)` \|", DOC.read_text(encoding="utf-8"), re.M)
    documented = dict(rows)
    defaults = LoginSettings()
    assert set(documented) == set(LoginSettings.model_fields)
    for key, value in documented.items():
        assert value == str(getattr(defaults, key)), key
