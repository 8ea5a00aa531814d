"""Input inspection throughput: ``bastion.inspect.inspect_value`` vs libinjection, same run.

Run: ``python bench/bench_inspect.py [--seconds 1.0] [--rounds 3] [--data DIR]``.

Inputs come from the shared inspection corpus (default: ``../shared/data/inspect`` next to the
repository): the benign files (CRS negative tests, libinjection false positives, CommonMark,
JSON documents, e-mail addresses, naughty strings) and the attack files (SQLi and XSS dev sets).
Each set is measured in interleaved ABBA rounds for ours and for libinjection
(``is_sql_injection`` then ``is_xss``, which is what a caller checking both has to run) and the
median kept. Prints inputs/s and MB/s for each and the ratio ours/libinjection, by the wall
clock and by CPU time (the steadier figure when other work shares the machine). libinjection
is optional (``pip install libinjection-python``); without it only ours is printed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from bastion.inspect import inspect_value

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "inspect"
BENIGN = (
    "crs_false_positive_tests",
    "false_positives_libinjection",
    "markdown_commonmark_spec",
    "json_documents_jsontestsuite",
    "email_addresses_isemail",
    "naughty_strings_blns",
)
ATTACK = ("sqli_attacks_dev", "xss_attacks_dev")


def _load(data: Path, names: tuple[str, ...], label: str) -> list[str]:
    out: list[str] = []
    for name in names:
        with (data / f"{name}.jsonl").open(encoding="utf-8") as f:
            for line in f:
                row = json.loads(line)
                if row["label"] == label:
                    out.extend(row.get("values") or [row["input"]])
    return out


def _rate(check: Callable[[str], object], inputs: list[str], seconds: float) -> tuple[float, float]:
    """Inputs per second of ``check`` over about ``seconds`` (whole passes over ``inputs``), by
    the wall clock and by this process's CPU time (steadier on a shared machine)."""
    done, start, cpu = 0, time.perf_counter(), time.process_time()
    while (elapsed := time.perf_counter() - start) < seconds:
        for text in inputs:
            check(text)
        done += len(inputs)
    return done / elapsed, done / (time.process_time() - cpu)


def _libinjection() -> Callable[[str], object] | None:
    try:
        import libinjection  # type: ignore[import-not-found]
    except ImportError:
        return None

    def check(text: str) -> object:
        return libinjection.is_sql_injection(text)["is_sqli"] or libinjection.is_xss(text)["is_xss"]

    return check


def _measure(name: str, inputs: list[str], seconds: float, rounds: int) -> None:
    lib = _libinjection()
    ours_rates, lib_rates = [], []
    for round_ in range(rounds):  # ABBA: ours first in even rounds, libinjection first in odd
        if lib is not None and round_ % 2:
            lib_rates.append(_rate(lib, inputs, seconds))
        ours_rates.append(_rate(inspect_value, inputs, seconds))
        if lib is not None and not round_ % 2:
            lib_rates.append(_rate(lib, inputs, seconds))
    mean_bytes = sum(len(t.encode()) for t in inputs) / len(inputs)
    ours = statistics.median(wall for wall, _ in ours_rates)
    ours_cpu = statistics.median(cpu for _, cpu in ours_rates)
    print(f"{name}: {len(inputs)} inputs, mean {mean_bytes:.0f} bytes")
    print(
        f"  ours          {ours:12,.0f} inputs/s  {ours * mean_bytes / 1e6:7.2f} MB/s"
        f"  (CPU time: {ours_cpu:,.0f} inputs/s, {1e6 / ours_cpu:.2f} us each)"
    )
    if lib_rates:
        raw = statistics.median(wall for wall, _ in lib_rates)
        raw_cpu = statistics.median(cpu for _, cpu in lib_rates)
        print(
            f"  libinjection  {raw:12,.0f} inputs/s  {raw * mean_bytes / 1e6:7.2f} MB/s"
            f"  (CPU time: {raw_cpu:,.0f} inputs/s, {1e6 / raw_cpu:.2f} us each)"
        )
        print(f"  ratio ours/libinjection {ours / raw:.2f} (CPU time: {ours_cpu / raw_cpu:.2f})")
    else:
        print("  libinjection not installed: pip install libinjection-python")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=1.0, help="per measurement")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="inspect corpus folder")
    args = parser.parse_args()
    _measure("benign", _load(args.data, BENIGN, "benign"), args.seconds, args.rounds)
    _measure("attack", _load(args.data, ATTACK, "attack"), args.seconds, args.rounds)


if __name__ == "__main__":
    main()
