"""The bundled breached-password Bloom filter: no false negatives, few false positives."""

from __future__ import annotations

import random
import string
import subprocess
import sys
from pathlib import Path

import pytest

from bastion.errors import ConfigError
from bastion.identity._breached import MAGIC, BreachedList


def _fullwidth(text: str) -> str:
    """U+FF01..U+FF5E forms of ASCII text (NFKC maps them back)."""
    return "".join(chr(ord(c) + 0xFEE0) for c in text)


def _lines(path: Path) -> list[str]:
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line]


def test_bundled_filter_is_small_and_sized_for_a_low_false_positive_rate() -> None:
    """The shipped file stays well under 300 KB at a designed rate of about 0.1%."""
    bloom = BreachedList.bundled()
    assert bloom is BreachedList.bundled()
    assert bloom.count > 100_000
    assert len(bloom.to_bytes()) < 300 * 1024
    assert bloom.false_positive_rate < 0.0015
    assert bloom.to_bytes().startswith(MAGIC)


def test_every_listed_password_is_found(shared_data: Path) -> None:
    """ASVS V6.2.12: 2,000 sampled NCSC breached passwords are all in the filter."""
    ncsc = _lines(shared_data / "passwords" / "ncsc_pwned_passwords_top100k.txt")
    sample = random.Random(6212).sample(ncsc, 2000)
    bloom = BreachedList.bundled()
    missing = [p for p in sample if p not in bloom]
    assert missing == []


def test_every_common_password_is_found(shared_data: Path) -> None:
    """ASVS V6.2.4: the top 10,000 and the zxcvbn list (first column) are all in the filter."""
    passwords = shared_data / "passwords"
    top = _lines(passwords / "seclists_10k_most_common.txt")
    xato = [line.split()[0] for line in _lines(passwords / "zxcvbn_xato_passwords_with_counts.txt")]
    bloom = BreachedList.bundled()
    assert [p for p in top + xato[:5000] if p not in bloom] == []


def test_measured_false_positive_rate_is_low() -> None:
    """20,000 random 12-character strings: under 0.5% are (wrongly) reported as listed."""
    rng = random.Random(42)
    alphabet = string.ascii_letters + string.digits
    bloom = BreachedList.bundled()
    hits = sum("".join(rng.choices(alphabet, k=12)) in bloom for _ in range(20_000))
    assert hits / 20_000 < 0.005


def test_matching_is_whole_password_case_insensitive_after_nfkc() -> None:
    """ASVS V6.2.4: 'PASSWORD' and its full-width form match; substrings do not."""
    bloom = BreachedList.from_passwords(["Password", "letmein"])
    assert "password" in bloom
    assert "PASSWORD" in bloom
    assert _fullwidth("password") in bloom
    assert "password-but-much-longer" not in bloom
    assert "letme" not in bloom
    assert 12345 not in bloom


def test_round_trip_through_bytes() -> None:
    """to_bytes/from_bytes keep every entry and the header fields."""
    words = [f"word{i}" for i in range(500)]
    bloom = BreachedList.from_passwords(words, fp_rate=0.01)
    again = BreachedList.from_bytes(bloom.to_bytes())
    assert (again.count, again.size_bits, again.hash_count) == (
        500,
        bloom.size_bits,
        bloom.hash_count,
    )
    assert all(w in again for w in words)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda b: b[:5],
        lambda b: b"XXXXXXXXX" + b[9:],
        lambda b: b[:-1],
        lambda b: b + b"\0",
        lambda b: b[:9] + b"\0" * 8 + b[17:],
    ],
    ids=["truncated-header", "bad-magic", "short-bits", "long-bits", "zero-m"],
)
def test_malformed_filter_is_a_config_error(mutate: object) -> None:
    """A damaged data file stops start-up with ConfigError instead of accepting everything."""
    data = BreachedList.from_passwords(["a", "b"]).to_bytes()
    with pytest.raises(ConfigError):
        BreachedList.from_bytes(mutate(data))  # type: ignore[operator]


def test_bundled_file_is_what_the_build_script_makes(shared_data: Path, tmp_path: Path) -> None:
    """The data file is reproducible from the shared lists (it is not stale or hand-edited)."""
    script = Path(__file__).resolve().parents[2] / "scripts" / "build_breached_filter.py"
    out = tmp_path / "breached.bloom"
    subprocess.run(
        [
            sys.executable,
            str(script),
            "--shared",
            str(shared_data / "passwords"),
            "--out",
            str(out),
        ],
        check=True,
        capture_output=True,
    )
    assert out.read_bytes() == BreachedList.bundled().to_bytes()
