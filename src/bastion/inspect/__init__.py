"""Input inspection: anomaly-scored detection of injection attempts in request values.

Detects SQL injection, XSS, path traversal, OS command injection, NoSQL (MongoDB) operator
injection and server-side template injection. Each value is canonicalised exactly once
(ASVS V1.1.1) and scored CRS-style. This is a monitoring and deny-list layer that feeds the
audit log; the controls are parameterised queries, contextual output encoding and allow-list
validation (see docs/inspect.md). For those: :class:`HtmlSanitizer` cleans rich text by
allow-list (nh3), and :func:`escape_html`, :func:`js_string`, :func:`json_for_html` and
:func:`url_component` encode a value for where it is placed.
"""

from __future__ import annotations

from bastion.inspect._canonical import MAX_INSPECTED_CHARS
from bastion.inspect._encode import escape_html, js_string, json_for_html, url_component
from bastion.inspect._sanitize import (
    DEFAULT_ATTRIBUTES,
    DEFAULT_TAGS,
    DEFAULT_URL_SCHEMES,
    HtmlSanitizer,
)
from bastion.inspect._score import (
    BLOCK_THRESHOLD,
    MAX_DEPTH,
    MAX_VALUES,
    Verdict,
    inspect_fields,
    inspect_json,
    inspect_value,
    warm_up,
)

__all__ = [
    "BLOCK_THRESHOLD",
    "DEFAULT_ATTRIBUTES",
    "DEFAULT_TAGS",
    "DEFAULT_URL_SCHEMES",
    "MAX_DEPTH",
    "MAX_INSPECTED_CHARS",
    "MAX_VALUES",
    "HtmlSanitizer",
    "Verdict",
    "escape_html",
    "inspect_fields",
    "inspect_json",
    "inspect_value",
    "js_string",
    "json_for_html",
    "url_component",
    "warm_up",
]
