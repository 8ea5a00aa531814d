"""Measured detection and false-positive rates on the shared inspection corpus (docs/inspect.md).

Thresholds are the rates measured when the detectors were written, minus a small margin, so a
regression fails here. Detection is a monitoring layer (ASVS V2.2.1 deny-list as an extra layer);
it never counts as the control for V1.2.4 (parameterised queries) or V1.2.1 (output encoding).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from bastion.inspect import _canonical, _sqli, _xss, inspect_value

# file -> minimum detection rate (%) on attack rows, weak rows excluded. Each sits above what
# libinjection 3.x (libinjection-python 1.1.6) detects on the same file: 95.98, 86.25, 20.28,
# 50.72, 7.69 and 3.70 %.
DETECTION = {
    "sqli_attacks_dev": 96.0,
    "xss_attacks_dev": 95.5,
    "sqli_crs_regression": 33.0,
    "xss_crs_regression": 67.0,
    "nosql_attacks": 96.0,
    "blns_other_injection": 44.0,
}
# file -> maximum number of benign rows flagged: the measured count, never above libinjection's
# (12, 21, 5, 0, 0, 0, 2, 2).
FALSE_POSITIVES = {
    "crs_false_positive_tests": 3,
    "false_positives_libinjection": 8,
    "markdown_commonmark_spec": 1,
    "json_documents_jsontestsuite": 0,
    "email_addresses_isemail": 0,
    "naughty_strings_blns": 0,
    "sqli_crs_regression": 0,
    "xss_crs_regression": 0,
}
RICH_TEXT = {"markdown_commonmark_spec"}


def rows(path: Path, label: str) -> Iterator[list[str]]:
    with path.open(encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            if row["label"] == label and not row.get("weak", False):
                yield row.get("values") or [row["input"]]


def flagged(values: list[str], *, rich_text: bool = False) -> bool:
    return any(inspect_value(v, rich_text=rich_text).attack for v in values)


@pytest.mark.parametrize(("name", "minimum"), sorted(DETECTION.items()))
def test_detection_rate(shared_data: Path, name: str, minimum: float) -> None:
    """ASVS V2.2.1 (deny-list layer): detection on each attack file does not regress."""
    results = [flagged(v) for v in rows(shared_data / "inspect" / f"{name}.jsonl", "attack")]
    assert results
    rate = 100.0 * sum(results) / len(results)
    assert rate >= minimum, f"{name}: {rate:.2f}% < {minimum}%"


@pytest.mark.parametrize(("name", "maximum"), sorted(FALSE_POSITIVES.items()))
def test_false_positives(shared_data: Path, name: str, maximum: int) -> None:
    """Benign inputs (names, prose, Markdown, JSON, e-mails) stay under the measured count."""
    path = shared_data / "inspect" / f"{name}.jsonl"
    rich = name in RICH_TEXT
    results = [flagged(v, rich_text=rich) for v in rows(path, "benign")]
    assert results
    assert sum(results) <= maximum, f"{name}: {sum(results)} of {len(results)} flagged"


def test_markdown_in_plain_fields(shared_data: Path) -> None:
    """Markdown in a field not marked rich text: still no more flagged than libinjection (5)."""
    path = shared_data / "inspect" / "markdown_commonmark_spec.jsonl"
    assert sum(flagged(v) for v in rows(path, "benign")) <= 4


def test_gates_never_change_a_score(shared_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The SQLi and XSS pre-filters only skip text no rule can match: same scores without them."""
    texts: list[str] = []
    for path in sorted((shared_data / "inspect").glob("*.jsonl")):
        with path.open(encoding="utf-8") as f:
            for line in f:
                row = json.loads(line)
                texts.extend(row.get("values") or [row["input"]])
    canon = [_canonical.canonicalise(t) for t in texts]
    gated = [(_sqli.sqli_score(c), _xss.xss_score(c)) for c in canon]
    monkeypatch.setattr(_sqli, "_GATE", re.compile(""))
    monkeypatch.setattr(_xss, "_GATE", re.compile(""))
    assert [(_sqli.sqli_score(c), _xss.xss_score(c)) for c in canon] == gated
