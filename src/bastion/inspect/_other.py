"""Path traversal, command injection, NoSQL operator and template injection signals.

Every pattern is linear: no nested quantifiers over overlapping classes, bounded gaps only.
Weight 5 is critical (blocks alone); smaller weights must add up.
"""

from __future__ import annotations

from bastion.inspect._canonical import Canonical, Rules, rules, weigh

__all__ = ["cmdi_score", "nosqli_score", "path_score", "template_score"]

_CMDS = (
    r"(?:cat|ls|id|whoami|uname|wget|curl|nc|ncat|netcat|bash|sh|zsh|ping|rm|echo|touch|chmod|"
    r"powershell|cmd|python\d?|perl|ruby|php|nslookup|sleep|ifconfig|ipconfig|net|dir|type|"
    r"kill|reboot|shutdown|telnet|ftp|tftp|xterm|env|printenv|head|tail|more|less)"
)

_PATH: Rules = rules(
    (r"(?:\.\.[/\\]){2}", 5.0),
    (r"(?:^|[/\\=])\.\.[/\\]", 3.0),
    (r"\.\.(?:%2f|%5c|0x2f|0x5c|%c0%af|%u2215)", 5.0),
    (
        r"/etc/(?:passwd|shadow|hosts|group|issue)|/proc/self/|boot\.ini|win\.ini|web-inf/web\.xml",
        5.0,
    ),
    (r"c:\\+windows|[/\\]windows[/\\]system32", 3.0),
    (r"^(?:file|php|phar|expect|zip|data|glob|gopher)://", 3.0),
)

_CMDI: Rules = rules(
    (r"\$\(\s{0,16}" + _CMDS + r"\b", 5.0),
    (r"`\s{0,16}" + _CMDS + r"\b[^`]{0,200}`", 5.0),
    (r"(?:;|&&|\|\||\||\n)\s{0,16}" + _CMDS + r"\s{1,16}(?:-\w|/|\$|\w+\.\w+|\d+\.\d+)", 5.0),
    (r"(?:;|&&|\|\||\|)\s{0,16}" + _CMDS + r"\s{0,16}(?:$|;|&|\|)", 4.0),
    (
        r"\b(?:system|exec|passthru|shell_exec|popen|proc_open|spawn|kernel\.exec|os\.system)\s{0,16}\(",
        4.0,
    ),
    (r"@\{\[\s{0,16}system\b|%x\(", 5.0),
    (r"\$\{?ifs\}?|/bin/(?:ba)?sh\b|cmd(?:\.exe)?\s{1,16}/c\b", 5.0),
    (r"\beval\s{0,16}\(", 1.0),
)

_NOSQL: Rules = rules(
    (
        r"\$(?:where|ne|gt|gte|lt|lte|regex|nin|in|exists|or|and|nor|not|expr|elemmatch|comment)\b\s{0,16}[\"']?\s{0,16}:",
        5.0,
    ),
    (r"\[\s{0,16}\$(?:ne|gt|gte|lt|lte|regex|nin|in|exists|where|or)\s{0,16}\]", 5.0),
    (r"\bdb\.\w+\.(?:insert|find|update|remove|drop|mapreduce)\s{0,16}\(", 5.0),
    (r"\bthis\.\w+\.match\s{0,16}\(|\bthis\.\w+\s{0,16}==", 5.0),
    (r"['\"]\s{0,16};\s{0,16}(?:return|sleep|it\s{0,16}=|var\s)", 5.0),
    (
        r"^\s{0,16}(?:\|\||&&)\s{0,16}\d+\s{0,16}==\s{0,16}\d+|;\s{0,16}return\s{1,16}(?:true|1)\b",
        5.0,
    ),
    (r"while\s{0,16}\(\s{0,16}\w+\s{0,16}-\s{0,16}\w+\s{0,16}<\s{0,16}\d+", 5.0),
)

_TEMPLATE: Rules = rules(
    (
        r"\{\{[^{}]{0,200}(?:__class__|__globals__|__builtins__|config|self|request|lipsum|cycler|"
        r"\d+\s{0,16}[*+]\s{0,16}\d+)[^{}]{0,200}\}\}",
        5.0,
    ),
    (r"\$\{[^{}]{0,200}(?:\d+\s{0,16}[*+]\s{0,16}\d+|runtime|getclass|jndi:)[^{}]{0,200}\}", 5.0),
    (r"<%=?[^%]{0,200}%>|#\{[^{}]{0,200}\}|\{%[^%]{0,200}%\}", 2.0),
)


def path_score(c: Canonical) -> float:
    """Anomaly score of path traversal signals in ``c``. Never raises."""
    return weigh(c.text, _PATH)


def cmdi_score(c: Canonical) -> float:
    """Anomaly score of OS command injection signals in ``c``. Never raises."""
    return weigh(c.text, _CMDI)


def nosqli_score(c: Canonical) -> float:
    """Anomaly score of NoSQL (MongoDB) operator injection signals in ``c``. Never raises."""
    return weigh(c.text, _NOSQL)


def template_score(c: Canonical) -> float:
    """Anomaly score of server-side template injection signals in ``c``. Never raises."""
    return weigh(c.text, _TEMPLATE)
