"""Cross-site scripting signals, scored on the canonical (decoded, lower-cased) text.

Every pattern is linear: no nested quantifiers over overlapping classes, bounded gaps only.
Weight 5 is critical (blocks alone); smaller weights must add up.
"""

from __future__ import annotations

import re

from bastion.inspect._canonical import Canonical, Rules, rules, weigh

__all__ = ["xss_score"]

_HANDLERS = (
    r"on(?:abort|activate|after\w{0,12}|animation\w{0,9}|auxclick|before\w{0,20}|begin|blur|bounce|"
    r"can\w{0,12}|change|click|close|content\w{0,8}|context\w{0,8}|copy|cue\w{0,6}|cut|dbl\w{0,6}|"
    r"drag\w{0,6}|drop|durationchange|end|ended|emptied|error|finish|focus\w{0,4}|"
    r"formdata|fullscreen\w{0,6}|hashchange|input|invalid|key\w{0,5}|load\w{0,10}|"
    r"message|mouse\w{0,6}|move\w{0,6}|mozfullscreen\w{0,6}|offline|online|open|page\w{0,6}|paste|pause|"
    r"play\w{0,8}|pointer\w{0,12}|popstate|progress|propertychange|ratechange|readystatechange|"
    r"repeat|reset|resize|resume|reverse|scroll\w{0,6}|search|seek\w{0,6}|select\w{0,6}|show|"
    r"start|stalled|storage|submit|suspend|timeupdate|toggle|touch\w{0,6}|transition\w{0,6}|"
    r"unload|volumechange|waiting|webkit\w{0,30}|wheel|zoom)"
)

# Every rule below needs one of these; text without any of them scores 0 without running them.
_GATE = re.compile(r"[<=:(`\[!]|adw-|document|window|constructor|-moz")

_RULES: Rules = rules(
    (r"<\s*/?\s*script\b", 5.0),
    (r"[\s\"'`/;<]" + _HANDLERS + r"\s*=", 5.0),
    (r"(?:java|vb|live)\s*script\s*:(?!\s)|^\s*(?:java|vb)script\s*:", 5.0),
    (r"(?:java|vb|live)\s*script\s*:\s", 3.0),
    (r"data\s*:\s*(?:text/html|image/svg|application/(?:x-)?(?:javascript|xhtml))", 5.0),
    (
        r"<\s*(?:iframe|frame|object|embed|applet|frameset|base|meta|link|isindex|xss|svg|math|form|"
        r"img|image|video|audio|source|body|style|marquee|details|input|button|table|td|div|xml|"
        r"animate|set|template|textarea|keygen|bgsound|layer|ilayer|a|p|span|html|title|x)\b",
        2.0,
    ),
    (r"\b(?:src|href|action|formaction|data|background|dynsrc|lowsrc|xlink:href|code)\s*=", 1.5),
    (r"\b(?:alert|prompt|confirm|eval|settimeout|setinterval|fromcharcode|atob)\s*[(`]", 3.0),
    (r"\bdocument\s*\.\s*(?:cookie|domain|write|location)|\bwindow\s*\.\s*(?:location|name)", 3.0),
    (
        r"\bexpression\s*\(|-moz-binding|\bbehavior\s*:|@import|\burl\s*\(\s*['\"]?\s*javascript",
        3.0,
    ),
    (
        r"\bdocument\s*\.\s*(?:body|createelement|getelement\w*)|\.appendchild\s*\(|\.innerhtml\s*=|\.textcontent\s*=",
        3.0,
    ),
    (
        r"<\s*/?\s*(?:iframe|frame|frameset|object|embed|applet|meta|base|link|v:\w+|:vmlframe|"
        r"\??import|noscript|xss)\b",
        5.0,
    ),
    (
        r"\b(?:alert|prompt|confirm|eval|atob|btoa|setinterval|settimeout)\(|\bnew function\s*\(",
        5.0,
    ),
    (
        r"\bdocument\s*\.\s*(?:cookie|domain)|\bwindow\s*\.\s*location|-moz-binding|formaction\s*=",
        5.0,
    ),
    (r"\[\s*[\"'](?:alert|cookie|document|globaleval|eval|constructor|\$)[\"']\s*\]", 5.0),
    (r"constructor\s*\.\s*constructor|\(!\[\]\s*\[\]\)|!!\[\]|[+%]2?b?adw-", 5.0),
    (r"\burl\s*\(\s*['\"]?\s*(?:java|vb)script", 5.0),
    (r"\bsrcdoc\s*=|\bxmlns\s*=|<!\[cdata\[|<!--|<\?", 1.0),
    (r"[\"'`]\s*>\s*<", 2.0),
)


def xss_score(c: Canonical) -> float:
    """Anomaly score of the XSS signals in ``c``. Never raises."""
    if _GATE.search(c.compact) is None:
        return 0.0
    score = weigh(c.compact, _RULES)
    if score < 5.0 and split_script_url(c.text, c.compact):
        score += 5.0
    return score


def split_script_url(text: str, compact: str) -> bool:
    """A ``javascript:``/``vbscript:`` URL broken up by whitespace or NULs (``java\tscript:``),
    which no rule of the table sees. Needs a ``:`` in the text, so most values skip it."""
    if ":" not in text or "script" in compact:
        return False
    squeezed = "".join(text.split()).replace("\x00", "")  # every whitespace character and NUL out
    return "javascript:" in squeezed or "vbscript:" in squeezed
