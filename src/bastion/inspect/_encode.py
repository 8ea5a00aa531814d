"""Output encoding for the context a value is placed in (ASVS V1.2.1). Inspection is a
deny-list layer; encoding at output is the control that makes injection inert.

>>> escape_html('<b>"O\\'Brien" & co</b>')
'&lt;b&gt;&quot;O&#x27;Brien&quot; &amp; co&lt;/b&gt;'
>>> js_string('</script><script>alert(1)</script>')
'"\\\\u003c/script\\\\u003e\\\\u003cscript\\\\u003ealert(1)\\\\u003c/script\\\\u003e"'
>>> url_component("a b/c?d=é")
'a%20b%2Fc%3Fd%3D%C3%A9'
"""

from __future__ import annotations

import html
import json
from typing import Any
from urllib.parse import quote

__all__ = ["escape_html", "js_string", "json_for_html", "url_component"]

_SCRIPT_SAFE = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


def escape_html(value: str) -> str:
    """For HTML text and quoted attribute values: ``& < > " '`` become entities."""
    return html.escape(value, quote=True)


def js_string(value: str) -> str:
    """A JavaScript string literal (with its quotes) safe inside ``<script>`` and in JS code:
    no ``</script>``, no HTML-significant characters, no line separators."""
    return json.dumps(value, ensure_ascii=False).translate(_SCRIPT_SAFE)


def json_for_html(value: Any) -> str:
    """JSON to embed in ``<script type="application/json">`` or an inline script."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).translate(_SCRIPT_SAFE)


def url_component(value: str) -> str:
    """One path segment or query value: every reserved character is percent-encoded."""
    return quote(value, safe="")
