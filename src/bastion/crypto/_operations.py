"""Key operations: rotate the KEK and re-wrap every data key, re-encrypt data under new data
keys, retire an old KEK, and report the state of it all.

Rotation streams the key store in pages of ``batch`` keys (keyset pagination), so its memory
does not grow with the number of keys; each page is re-wrapped in one transaction with a
compare-and-set on the old KEK version, so it is idempotent, resumable and safe next to live
traffic: a reader that fetched a key before its page was re-wrapped still unwraps it with the
old KEK, which stays available until it is retired.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from bastion.crypto._envelope import parse_unverified
from bastion.crypto._keyring import wrap_aad
from bastion.errors import DecryptionFailed, KekInUse, NotFound, ShreddedSubject

if TYPE_CHECKING:
    from bastion.crypto._service import DataProtection

__all__ = [
    "Recrypt",
    "ReencryptReport",
    "ReencryptSource",
    "RotationReport",
    "Status",
    "reencrypt",
    "retire",
    "rotate",
    "status",
]

Progress = Callable[[int, int], None]
MARKER = "reencrypt_started_at"


class Recrypt(Protocol):
    async def __call__(self, blob: bytes, *, subject: str, context: str) -> bytes | None:
        """The value re-encrypted under a new data key, or None to leave it as it is."""
        ...


class ReencryptSource(Protocol):
    """Stored encrypted values that ``reencrypt`` can reach (the vault, encrypted columns).

    ``reencrypt`` walks the values in batches, calls ``recrypt`` for each and stores every
    new value it returns (compare-and-set on the old one), returning how many it rewrote."""

    name: str

    async def reencrypt(self, recrypt: Recrypt) -> int: ...


@dataclass(frozen=True, slots=True)
class RotationReport:
    version: int
    resumed: bool
    rewrapped: int
    failed: int
    remaining: int


@dataclass(slots=True)
class ReencryptReport:
    resumed: bool = False
    retired_deks: int = 0
    rewritten: int = 0
    current: int = 0
    shredded: int = 0
    failed: int = 0
    sources: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Status:
    current_kek: int
    keks: list[dict[str, object]]
    deks: dict[str, int]
    tombstones: int
    reencrypt_in_progress: bool
    sources: list[str]


async def rotate(
    crypto: DataProtection,
    *,
    batch: int = 1000,
    progress: Progress | None = None,
    actor: str | None = None,
) -> RotationReport:
    """Add a KEK version and re-wrap every data key under it; if an earlier rotation was
    interrupted (keys still wrapped by older versions), finish that one instead."""
    keyring, store = crypto.keyring, crypto.store
    await keyring.refresh()
    pending = await store.count_not_under(keyring.current_version)
    resumed = pending > 0
    version = keyring.current_version if resumed else await keyring.add_version()
    if not resumed:
        pending = await store.count_not_under(version)
    new, after, done, failed = keyring.current, "", 0, 0
    while page := await store.deks_page(after, batch, not_kek=version):
        updates = []
        for row in page:
            try:
                old = await keyring.kek(row.kek_version)
                key = old.unwrap(
                    row.wrapped, wrap_aad(row.id, row.kek_version, row.subject_key, row.purpose)
                )
            except DecryptionFailed:
                failed += 1
                continue
            wrapped = new.wrap(key, wrap_aad(row.id, version, row.subject_key, row.purpose))
            updates.append((row.id, row.kek_version, version, wrapped))
        done += await store.rewrap(updates)
        after = page[-1].id
        if progress is not None:
            progress(done + failed, pending)
    remaining = await store.count_not_under(version)
    await crypto.audit.record(
        "crypto.kek.rotate",
        "success" if not failed else "failure",
        actor=actor,
        reason="resumed" if resumed else "new_version",
        details={"version": version, "rewrapped": done, "failed": failed, "remaining": remaining},
    )
    return RotationReport(version, resumed, done, failed, remaining)


class _Recrypter:
    """The ``recrypt`` callable handed to sources, counting what it did."""

    def __init__(self, crypto: DataProtection, started: float, report: ReencryptReport) -> None:
        self._crypto, self._started, self.report = crypto, started, report

    def _is_current(self, blob: bytes) -> bool:
        dek = self._crypto.cache.get(parse_unverified(blob).dek_id)
        return dek is not None and dek.created_at >= self._started

    async def __call__(self, blob: bytes, *, subject: str, context: str) -> bytes | None:
        try:
            if self._is_current(blob):
                self.report.current += 1
                return None
            plain = await self._crypto.decrypt(blob, subject=subject, context=context)
            if self._is_current(blob):
                self.report.current += 1
                return None
            fresh = await self._crypto.encrypt(plain, subject=subject, context=context)
        except ShreddedSubject:
            self.report.shredded += 1
            return None
        except DecryptionFailed:
            self.report.failed += 1
            return None
        self.report.rewritten += 1
        return fresh


async def reencrypt(
    crypto: DataProtection,
    sources: Iterable[ReencryptSource],
    *,
    actor: str | None = None,
    progress: Callable[[str, int], None] | None = None,
) -> ReencryptReport:
    """Re-encrypt every value the sources reach under data keys made after the run began.

    Data keys made before the run stop encrypting at once (they still decrypt: values no
    source reaches stay readable). Resumable: a run that stopped keeps its start time in the
    key store, and values already moved are skipped the next time."""
    store, report = crypto.store, ReencryptReport()
    marker = await store.get_marker(MARKER)
    report.resumed = marker is not None
    started = float(marker) if marker is not None else crypto.clock.now()
    if marker is None:
        await store.set_marker(MARKER, repr(started))
    report.retired_deks = await store.retire_deks_before(started)
    await crypto.stop_encrypting_everywhere()
    recrypt = _Recrypter(crypto, started, report)
    for source in sources:
        report.sources[source.name] = await source.reencrypt(recrypt)
        if progress is not None:
            progress(source.name, report.sources[source.name])
    await store.set_marker(MARKER, None)
    await crypto.audit.record(
        "crypto.data.reencrypt",
        "success" if not report.failed else "failure",
        actor=actor,
        details={
            "sources": sorted(report.sources),
            "rewritten": report.rewritten,
            "failed": report.failed,
            "retired_deks": report.retired_deks,
        },
    )
    return report


async def retire(crypto: DataProtection, version: int, *, actor: str | None = None) -> None:
    """Retire KEK ``version`` once no data key is wrapped by it; raises :class:`KekInUse`
    naming what still uses it (or that it is the current version)."""
    keyring = crypto.keyring
    await keyring.refresh()
    if version not in {row.version for row in keyring.rows}:
        raise NotFound(f"there is no KEK version {version}")
    if version == keyring.current_version:
        raise KekInUse(f"KEK version {version} is the current one; rotate to a new one first")
    using = await crypto.store.retire_kek(version, crypto.clock.now())
    if using:
        await crypto.audit.record(
            "crypto.kek.retire",
            "denied",
            actor=actor,
            reason="in_use",
            details={"version": version, "deks": using},
        )
        raise KekInUse(
            f"{using} data keys are still wrapped by KEK version {version}; run "
            "`bastion crypto rotate` to finish re-wrapping them, then retire again"
        )
    keyring.forget(version)
    await keyring.refresh()
    await crypto.audit.record(
        "crypto.kek.retire", "success", actor=actor, details={"version": version}
    )


async def status(crypto: DataProtection) -> Status:
    """KEK versions (with where each lives and how many data keys it wraps), data keys by
    state, tombstones, and whether a re-encryption is under way."""
    await crypto.keyring.refresh()
    counts = await crypto.store.dek_counts()
    keks = [
        {
            "version": row.version,
            "state": row.state,
            "where": crypto.keyring.source.where(row.version) if row.state == "active" else "-",
            "deks": sum(n for (v, _), n in counts.items() if v == row.version),
        }
        for row in crypto.keyring.rows
    ]
    by_state: dict[str, int] = {}
    for (_, state), n in counts.items():
        by_state[state] = by_state.get(state, 0) + n
    return Status(
        crypto.keyring.current_version,
        keks,
        by_state,
        len(await crypto.store.tombstones()),
        await crypto.store.get_marker(MARKER) is not None,
        [s.name for s in crypto.sources],
    )
