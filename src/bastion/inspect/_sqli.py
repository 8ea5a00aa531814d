"""SQL injection signals, scored on the canonical (decoded, lower-cased, compacted) text.

Every pattern is linear: no nested quantifiers over overlapping classes, bounded gaps only.
Weight 5 is critical (blocks alone); smaller weights must add up.
"""

from __future__ import annotations

import re

from bastion.inspect._canonical import Canonical, Rules, rules, weigh

__all__ = ["sqli_score"]

_Q = r"[\'\"`]"
_OP = r"(?:or|and|xor|div|like|rlike|regexp|\|\||&&)"

# Every rule below needs one of these; text without any of them scores 0 without running them.
_GATE = re.compile(
    r"[\'\"`();=<>#@]|--|/\*|union|select|order by|group by|having|0x|exec|insert|drop|case|"
    r"limit|waitfor|pg_sleep|dbms_|xp_|sp_|information_schema|sys|pg_catalog|mysql|sqlite|"
    r"_tables|into|utl_http|truncate|shutdown"
)

_RULES: Rules = rules(
    # UNION-based extraction
    (
        r"(?:^|[^a-z])union(?: all| distinct)?[ (]*(?:/\*!\d*)?select[ (]*"
        r"(?:$|[\d'\"@*(`-]|null\b|[\w.]+ ?(?:,|\(|\bfrom\b|--|#|$))",
        5.0,
    ),
    (r"^[-\d]+[ )]* union\b", 5.0),
    (r"/\*!\d*\s?(?:union|select|and|or|from|where|order|concat)", 5.0),
    (r"\bunion\b.{0,40}\bselect\b.{0,200}\bfrom\b", 2.0),
    # quote break-out followed by a boolean or a statement
    (
        _Q
        + r"[ )]*"
        + _OP
        + r"(?![a-z_])[ (]*(?:[\d'\"`(@][^=<>]{0,40}?(?:=|<|>|\blike\b|\bis\b|--|#)"
        r"|true\b|false\b|null\b|not\b|sleep\b|\w+ ?(?:=|<|>|like\b|is\b))",
        5.0,
    ),
    (_Q + r"[ )]*(?:;|--|#|/\*|\|\||\+|\|)", 3.0),
    (_Q + r"[ )]*(?:select|having|group by|order by|waitfor|exec)\b", 5.0),
    # tautologies without quotes: 1 or 1=1, and 2>1
    (r"\b" + _OP + r" [(]*(\d+|\w+) ?(?:=|<=?|>=?|<>|!=) ?[(]*\1\b", 5.0),
    (r"\b" + _OP + r" [(]*\d+ ?(?:=|<|>|<>|!=) ?[(]*\d+", 3.0),
    # stacked queries and dangerous statements
    (
        r";[ (]*(?:drop (?:table|database|user)|delete from|insert into|update \w+ set|"
        r"truncate|shutdown|declare @|exec(?:ute)?\b|create (?:table|user|procedure)|"
        r"alter (?:table|user)|grant |select\b)",
        5.0,
    ),
    (r"\b(?:waitfor (?:delay|time)|pg_sleep|benchmark ?\(|sleep ?\( ?\d|dbms_pipe|dbms_lock)", 5.0),
    (
        r"\b(?:xp_cmdshell|sp_executesql|sp_oacreate|information_schema|sysobjects|"
        r"syscolumns|sysdatabases|pg_catalog|mysql\.user|sqlite_master|all_tables|"
        r"user_tables|load_file ?\(|into (?:out|dump)file|utl_http|extractvalue ?\(|"
        r"updatexml ?\(|@@version|@@datadir|version ?\( ?\))",
        5.0,
    ),
    (r"\bselect\b.{0,200}?\bfrom\b", 2.5),
    (r"^ ?(?:order|group) by \d", 5.0),
    (r"^ ?select\b.{0,200}?\bfrom [\w.]+ ?(?:where\b|;)", 5.0),
    (r"^ ?select [\w.]+ ?\(.{0,60}\) ?;", 5.0),
    (
        _Q + r" ?(?:!=|[|^=/%~]|(?:like|rlike|regexp|div|sounds like)[ ~+!-])[ ~+!-]*[\'\"\d@(~]",
        5.0,
    ),
    (r"(?:^|[\s(])(?:and|or)\b ?[\'\"][\w\']{0,40} ?(?:=|like|in ?\()", 5.0),
    (r"^[-\d ]+(?:#|--).{0,80}?\b(?:union|select|(?:and|or) \d)", 5.0),
    (
        r"(?:^|[\d)\s])(?:and|or|xor|&&|\|\|) ?[( -]*(?:\d|@|\w+ ?\()[\w@.()*-]{0,60} ?"
        r"(?:=|<>|!=|<=?|>=?) ?[(\w@'-]",
        5.0,
    ),
    (r"@@[a-z_]{3,}", 4.0),
    (
        r"[=(] ?@@|\b(?:user|database|version|db_name|system_user|current_user|schema|pi|"
        r"rand|sleep)\(\)",
        3.0,
    ),
    (
        r"\( ?select (?:top|count|@@|\w+ from|\*|\d|user|db_name|system_user|concat|char|"
        r"cast|like|id)",
        5.0,
    ),
    (
        r"(?:ascii|substring|substr|mid|lower|upper|length|ord|hex|lpad)\s?\(\s?(?:\(|"
        r"substring|substr|lower|user|database|version|@@|select|\w+\s?\()",
        5.0,
    ),
    (r"\d[ )'\"]* (?:order|group) by [\w.]+", 5.0),
    (r"\w[\'\"`] ?(?:--|#|/\*)\s?$", 5.0),
    (r"[\'\"`][ )]*(?:collate|notnull|isnull|ilike|between|regexp|rlike)\b", 4.0),
    (
        r"\bselect ?(?:\*|\d|@@|null|char|concat|count|user|database|version|case|if|"
        r"substr|ascii|\()",
        2.5,
    ),
    (
        r"\b(?:char|chr|concat|concat_ws|group_concat|substring|substr|ascii|hex|unhex|"
        r"cast|convert|mid|ord|ifnull|nullif|coalesce)\s?\(",
        1.5,
    ),
    (r"\b(?:order|group) by \d", 2.5),
    (r"\bhaving \d", 2.5),
    (r"(?:--|#)[ \w]{0,40}$", 1.0),
    (r"\b0x[0-9a-f]{6,}", 1.5),
    (r"\bexec(?:ute)? ?(?:master|xp_|sp_|\( ?@)", 5.0),
    (r"\binsert into \w+ ?(?:\(|values|select)", 4.0),
    (r"\bdrop (?:table|database) \w", 4.0),
    (r"\bif ?\( ?\d", 2.0),
    (r"\bcase when\b", 2.5),
    (r"\blimit \d+ ?,? ?\d*", 1.0),
)


def sqli_score(c: Canonical) -> float:
    """Anomaly score of the SQL injection signals in ``c``. Never raises."""
    if _GATE.search(c.compact) is None:
        return 0.0
    return weigh(c.compact, _RULES)
