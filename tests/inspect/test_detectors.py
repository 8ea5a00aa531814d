"""Detectors, canonicalisation and scoring of ``bastion.inspect`` on hand-picked inputs.

Detection is a monitoring/deny-list layer: none of these tests stands in for parameterised
queries (ASVS V1.2.4), output encoding (V1.2.1) or allow-list validation (V2.2.1).
"""

from __future__ import annotations

from unittest import mock

import pytest

from bastion.inspect import (
    MAX_DEPTH,
    MAX_INSPECTED_CHARS,
    MAX_VALUES,
    _canonical,
    inspect_fields,
    inspect_json,
    inspect_value,
)

ATTACKS = {
    "1' OR '1'='1": "sqli",
    "1 UNION SELECT username, password FROM users--": "sqli",
    "admin'--": "sqli",
    "1; DROP TABLE users": "sqli",
    "<script>alert(1)</script>": "xss",
    '"><img src=x onerror=alert(1)>': "xss",
    "javascript:alert(document.cookie)": "xss",
    "../../../../etc/passwd": "path_traversal",
    "; cat /etc/passwd": "command_injection",
    "$(whoami)": "command_injection",
    '{"$gt": ""}': "nosql_injection",
    "{{7*7}}": "template_injection",
}

BENIGN = [
    "O'Brien",
    "L'Aquila",
    "rue d'Arlon",
    "Please select a colour and drop it onto the union jack",
    "I'd like to select from the menu; drop me a line.",
    "# Title\n\n*emphasis* and [a link](https://example.com) and `code`",
    '{"name": "x", "tags": ["a", "b"]}',
    "first.last+tag@example.co.uk",
    "Tom & Jerry",
    "50% off, today only!",
]


@pytest.mark.parametrize(("text", "kind"), sorted(ATTACKS.items()))
def test_attacks_flagged_with_kind(text: str, kind: str) -> None:
    """ASVS V2.2.1 (deny-list layer): each injection family is detected and named."""
    verdict = inspect_value(text)
    assert verdict.attack
    assert kind in verdict.kinds
    assert verdict.score >= 5.0


@pytest.mark.parametrize("text", BENIGN)
def test_real_users_pass(text: str) -> None:
    verdict = inspect_value(text)
    assert not verdict.attack, verdict


def test_rich_text_allows_code_but_not_script() -> None:
    snippet = "```sql\nSELECT * FROM users WHERE id = 1 OR 1=1;\n```"
    assert inspect_value(snippet).attack
    assert not inspect_value(snippet, rich_text=True).attack
    assert inspect_value("<script>alert(1)</script>", rich_text=True).attack


def test_decoder_runs_exactly_once() -> None:
    """ASVS V1.1.1: decoding happens once, before the detectors."""
    with mock.patch.object(_canonical, "_decode_once", wraps=_canonical._decode_once) as spy:
        inspect_value("%3Cscript%3Ealert(1)%3C/script%3E")
    assert spy.call_count == 1


def test_single_encoding_is_decoded() -> None:
    """ASVS V1.1.1: percent- and entity-encoded payloads are seen decoded."""
    assert "xss" in inspect_value("%3Cscript%3Ealert(1)%3C%2Fscript%3E").kinds
    assert "xss" in inspect_value("&lt;script&gt;alert(1)&lt;/script&gt;").kinds


def test_double_encoding_is_flagged_not_decoded_twice() -> None:
    """ASVS V1.1.1: a value still encoded after one pass is flagged as double encoding."""
    c = _canonical.canonicalise("%253Cscript%253E")
    assert c.text == "%3cscript%3e"
    verdict = inspect_value("%253Cscript%253E")
    assert verdict.attack
    assert "double_encoding" in verdict.kinds
    assert not _canonical.canonicalise("100%25 sure").double_encoded


def test_only_first_8_kib_inspected() -> None:
    padding = "a" * MAX_INSPECTED_CHARS
    assert not inspect_value(padding + "<script>alert(1)</script>").attack
    assert _canonical.canonicalise(padding + "x").truncated


def test_json_recursive_and_operator_keys() -> None:
    assert inspect_json({"user": {"password": {"$ne": None}}}).attack
    assert "nosql_injection" in inspect_json({"q": [{"$where": "1"}]}).kinds
    assert inspect_json({"a": [{"b": "1' OR '1'='1"}]}).attack
    assert not inspect_json({"name": "O'Brien", "n": 3, "ok": True, "x": None}).attack


def test_json_rich_text_fields() -> None:
    doc = {"body": "SELECT * FROM t WHERE a = 1 OR 1=1", "title": "hi"}
    assert inspect_json(doc).attack
    assert not inspect_json(doc, rich_text_fields=("body",)).attack


def test_json_depth_bound() -> None:
    doc: object = "x"
    for _ in range(MAX_DEPTH + 5):
        doc = [doc]
    verdict = inspect_json(doc)
    assert verdict.attack
    assert verdict.kinds == ("oversized",)


def test_verdict_as_dict() -> None:
    d = inspect_value("<script>").as_dict()
    assert set(d) == {"attack", "kinds", "score"}
    assert isinstance(d["kinds"], list)


def test_json_rich_text_inherits_downwards() -> None:
    doc = {"post": {"blocks": ["SELECT * FROM t WHERE a = 1 OR 1=1"]}}
    assert inspect_json(doc).attack
    assert not inspect_json(doc, rich_text_fields=("post",)).attack


def test_json_size_bound() -> None:
    verdict = inspect_json(["ok"] * (MAX_VALUES + 10))
    assert verdict.attack
    assert verdict.kinds == ("oversized",)


def test_fields_names_and_values() -> None:
    """ASVS V2.2.1 (deny-list layer): query/form/header/cookie pairs, names included."""
    assert not inspect_fields([("name", "O'Brien"), ("city", "L'Aquila")]).attack
    by_name = inspect_fields([("password[$ne]", "1")])
    assert by_name.attack
    assert "nosql_injection" in by_name.kinds
    by_value = inspect_fields([("q", "a"), ("q", "1' OR '1'='1")])
    assert by_value.attack
    assert "sqli" in by_value.kinds
    post = [("body", "<p>see `rm -rf /tmp/x; ls -la /`</p>")]
    assert inspect_fields(post).attack
    assert not inspect_fields(post, rich_text_fields=("body",)).attack


def test_normalisation_cannot_expand_past_the_cap() -> None:
    """NFKC expands U+FDFA to 18 characters; the inspected text stays within the cap."""
    c = _canonical.canonicalise("\ufdfa" * MAX_INSPECTED_CHARS)
    assert len(c.text) <= MAX_INSPECTED_CHARS


def test_fullwidth_forms_are_normalised() -> None:
    """ASVS V1.1.1: NFKC folds full-width look-alikes before detection."""
    assert "xss" in inspect_value("\uff1cscript\uff1ealert(1)\uff1c/script\uff1e").kinds
