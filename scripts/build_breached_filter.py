"""Build the bundled breached-password Bloom filter from the shared password lists.

Usage::

    python scripts/build_breached_filter.py --shared ../shared/data/passwords \
        --out src/bastion/identity/data/breached.bloom

Reads every entry of ``ncsc_pwned_passwords_top100k.txt`` and ``seclists_10k_most_common.txt``
(one password per line) and the first column of ``zxcvbn_xato_passwords_with_counts.txt``
(``password<spaces>count``). The output is deterministic: the same lists give the same bytes.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path

from bastion.identity._breached import BreachedList

PLAIN_LISTS = ("ncsc_pwned_passwords_top100k.txt", "seclists_10k_most_common.txt")
COUNTED_LIST = "zxcvbn_xato_passwords_with_counts.txt"


def _lines(path: Path) -> Iterator[str]:
    with path.open(encoding="utf-8", newline="") as fh:
        for line in fh:
            line = line.rstrip("\r\n")
            if line:
                yield line


def read_passwords(shared: Path) -> Iterator[str]:
    """Every password of the three lists (duplicates included)."""
    for name in PLAIN_LISTS:
        yield from _lines(shared / name)
    for line in _lines(shared / COUNTED_LIST):
        password, _, count = line.rstrip().rpartition(" ")
        if not count.isdigit() or not password.strip():
            raise SystemExit(f"{COUNTED_LIST}: unexpected line format (want 'password count')")
        yield password.rstrip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, required=True, help="folder with the lists")
    parser.add_argument("--out", type=Path, required=True, help="where to write the filter")
    parser.add_argument("--fp-rate", type=float, default=0.001, help="target false positives")
    args = parser.parse_args(argv)
    bloom = BreachedList.from_passwords(read_passwords(args.shared), fp_rate=args.fp_rate)
    data = bloom.to_bytes()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(data)
    print(
        f"{args.out}: {bloom.count} distinct entries, m={bloom.size_bits} bits, "
        f"k={bloom.hash_count}, {len(data) / 1024:.1f} KiB, "
        f"theoretical FP rate {bloom.false_positive_rate:.4%}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
