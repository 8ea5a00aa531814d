"""The documentation stays true to the code.

1. Every relative link in ``docs/*.md``, ``README.md`` and ``CHANGELOG.md`` points to a file
   that exists (and, for a ``#fragment`` into a Markdown page, to a heading of that page).
2. Every fenced ``python`` block in ``docs/*.md`` without the comment ``# doc: no-run`` runs in a
   fresh interpreter (``BASTION_DATA_DIR`` and the working directory in a temporary folder, no
   other ``BASTION_*`` variable) and exits 0 within 60 s. Mark blocks that need a running server
   or external services with ``# doc: no-run``.
3. The tables of ``docs/configuration.md`` list every field of :class:`bastion.config.Settings`
   (top level and each section) with its environment variable and its real default, and nothing
   else.
4. ``docs/errors.md`` names every problem ``type`` slug the code can send.
5. ``docs/audit.md`` lists every audit action the code records, and no other.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, TypeAdapter

from bastion.config import Settings

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))
LINKING_PAGES = [*PAGES, ROOT / "README.md", ROOT / "CHANGELOG.md"]
NO_RUN = "# doc: no-run"
RUN_TIMEOUT_SECONDS = 60

FENCE = re.compile(
    r"^(?P<fence>`{3,}|~{3,})(?P<info>[^\n]*)\n(?P<body>.*?)^(?P=fence)[ \t]*$", re.M | re.S
)
INLINE_CODE = re.compile(r"`+[^`\n]*`+")
INLINE_LINK = re.compile(r"\[[^\]\n]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_LINK = re.compile(r"^\s{0,3}\[[^\]\n]+\]:\s*<?(\S+?)>?(?:\s|$)", re.M)
HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t#]*$", re.M)
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")

# Python blocks in pages this module does not own that are known not to run. Each entry is
# (page, a text the block contains, why); the block is then a strict xfail. Remove the entry
# once the page is fixed (for a fragment: add "# doc: no-run" to it):
# test_known_broken_entries_are_current fails on an entry that no longer matches a block.
KNOWN_BROKEN: list[tuple[str, str, str]] = []


def _prose(text: str) -> str:
    """The page without fenced blocks and inline code, where a link-like text is no link."""
    return INLINE_CODE.sub("", FENCE.sub("", text))


def _slug(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    text = INLINE_CODE.sub(lambda m: m.group(0).strip("`"), heading).strip().lower()
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    seen: dict[str, int] = {}
    anchors: set[str] = set()
    for match in HEADING.finditer(FENCE.sub("", page.read_text(encoding="utf-8"))):
        slug = _slug(match.group(1))
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def _broken_links(page: Path) -> list[str]:
    prose = _prose(page.read_text(encoding="utf-8"))
    targets = INLINE_LINK.findall(prose) + REFERENCE_LINK.findall(prose)
    problems = []
    for target in targets:
        if SCHEME.match(target) or target.startswith("//"):
            continue
        path_part, _, fragment = target.partition("#")
        path_part = path_part.split("?", 1)[0]
        if not path_part:
            resolved = page
        elif path_part.startswith("/"):
            resolved = ROOT / path_part.lstrip("/")
        else:
            resolved = (page.parent / path_part).resolve()
        if not resolved.exists():
            problems.append(f"{target}: no such file")
        elif fragment and resolved.suffix == ".md" and fragment not in _anchors(resolved):
            problems.append(f"{target}: no heading '#{fragment}' in {resolved.name}")
    return problems


@pytest.mark.parametrize("page", LINKING_PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_relative_links_resolve(page: Path) -> None:
    assert page.exists(), f"{page.name} is missing"
    assert _broken_links(page) == []


@dataclass(frozen=True)
class Block:
    page: str
    ordinal: int
    code: str

    @property
    def id(self) -> str:
        return f"{self.page}-python{self.ordinal}"


def _python_blocks() -> list[Block]:
    blocks = []
    for page in PAGES:
        found = [
            m.group("body")
            for m in FENCE.finditer(page.read_text(encoding="utf-8"))
            if m.group("info").strip().split(" ")[0].lower() in ("python", "py")
        ]
        blocks += [Block(page.name, n, code) for n, code in enumerate(found, 1)]
    return blocks


BLOCKS = [b for b in _python_blocks() if NO_RUN not in b.code]


def _known_broken(block: Block) -> str | None:
    for page, needle, why in KNOWN_BROKEN:
        if block.page == page and needle in block.code:
            return why
    return None


def _block_params() -> list[Any]:
    return [
        pytest.param(block, id=block.id, marks=[pytest.mark.xfail(strict=True, reason=why)])
        if (why := _known_broken(block))
        else pytest.param(block, id=block.id)
        for block in BLOCKS
    ]


def _clean_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BASTION_")}
    env["BASTION_DATA_DIR"] = str(tmp_path / "bastion-data")
    return env


@pytest.mark.parametrize("block", _block_params())
def test_python_example_runs(block: Block, tmp_path: Path) -> None:
    try:
        done = subprocess.run(
            [sys.executable, "-c", block.code],
            cwd=tmp_path,
            env=_clean_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"{block.id} ran longer than {RUN_TIMEOUT_SECONDS} s")
    assert done.returncode == 0, f"{block.id} exited {done.returncode}:\n{done.stderr[-3000:]}"


def test_known_broken_entries_are_current() -> None:
    """An entry that matches no runnable block is stale: the page was fixed, drop the entry."""
    stale = [
        (page, needle)
        for page, needle, _ in KNOWN_BROKEN
        if not any(b.page == page and needle in b.code for b in BLOCKS)
    ]
    assert stale == []


def test_some_examples_are_collected() -> None:
    pages = {b.page for b in BLOCKS}
    assert {"quickstart.md", "identity.md", "sessions.md", "configuration.md"} <= pages


CONFIG_ROW = re.compile(
    r"^\|\s*`(?P<key>[a-z0-9_]+)`\s*\|\s*(?P<default>[^|]*?)\s*\|\s*`(?P<env>BASTION_[A-Z0-9_]+)`\s*\|",
    re.M,
)


def _expected_settings() -> dict[str, tuple[str, Any, Any]]:
    """env variable -> (key, annotation, default) for every leaf field of Settings (nested
    sections such as ``[platforms.wechat]`` included)."""
    expected: dict[str, tuple[str, Any, Any]] = {}

    def walk(model: type[BaseModel], prefix: str) -> None:
        for name, field in model.model_fields.items():
            kind, env = field.annotation, f"{prefix}{name.upper()}"
            if isinstance(kind, type) and issubclass(kind, BaseModel):
                walk(kind, env + "__")
            else:
                expected[env] = (name, kind, field.default)

    walk(Settings, "BASTION_")
    return expected


def _documented_settings() -> dict[str, tuple[str, str]]:
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    rows: dict[str, tuple[str, str]] = {}
    for m in CONFIG_ROW.finditer(text):
        assert m.group("env") not in rows, f"{m.group('env')} is documented twice"
        rows[m.group("env")] = (m.group("key"), m.group("default"))
    return rows


def test_configuration_reference_lists_every_setting() -> None:
    expected, documented = _expected_settings(), _documented_settings()
    assert sorted(set(expected) - set(documented)) == [], "settings missing from the tables"
    assert sorted(set(documented) - set(expected)) == [], "documented settings that do not exist"
    for env, (key, _) in documented.items():
        assert key == expected[env][0], f"{env} is documented under the key '{key}'"


@pytest.mark.parametrize("env", sorted(_expected_settings()))
def test_configuration_reference_default_is_the_real_one(env: str) -> None:
    documented = _documented_settings()
    if env not in documented:
        pytest.fail(f"{env} is missing from docs/configuration.md")
    _, annotation, default = _expected_settings()[env]
    cell = documented[env][1].strip()
    if cell == "(unset)":
        assert default is None, f"{env}: documented as unset, but the default is {default!r}"
        return
    parsed = tomllib.loads(f"value = {cell.strip('`')}")["value"]
    assert TypeAdapter(annotation).validate_python(parsed) == default, (
        f"{env}: documented default {cell} differs from {default!r}"
    )


def _problem_slugs() -> set[str]:
    import bastion._facade  # noqa: F401 -- imports every capability, so every error class exists
    from bastion.errors import BastionError
    from bastion.http._problems import _SLUGS

    slugs, pending = set(_SLUGS.values()), [BastionError]
    while pending:
        cls = pending.pop()
        slugs.add(cls.type)
        pending.extend(cls.__subclasses__())
    return slugs


def test_errors_page_names_every_problem_type() -> None:
    text = (DOCS / "errors.md").read_text(encoding="utf-8")
    missing = sorted(slug for slug in _problem_slugs() if f"`{slug}`" not in text)
    assert missing == []


AUDIT_ACTION = re.compile(r"^[a-z]+(?:\.[a-z_]+)+$")
AUDIT_ROW = re.compile(r"^\|\s*(`[a-z_.]+`(?:\s*,\s*`[a-z_.]+`)*)\s*\|", re.M)


def _recorded_actions() -> set[str]:
    """Audit actions in the source: string arguments of ``record``, ``record_sampled``, ``_add_key``
    calls, and ``action=`` keywords."""
    actions: set[str] = set()
    for path in (ROOT / "src" / "bastion").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            values = [k.value for k in node.keywords if k.arg == "action"]
            if name in ("record", "record_sampled", "record_denied", "_add_key"):
                values += node.args
            actions |= {
                v.value
                for v in values
                if isinstance(v, ast.Constant)
                and isinstance(v.value, str)
                and AUDIT_ACTION.match(v.value)
            }
    return actions


def test_audit_page_lists_every_recorded_action() -> None:
    text = (DOCS / "audit.md").read_text(encoding="utf-8")
    section = text.split("## What is recorded", 1)[1].split("\n## ", 1)[0]
    documented = {
        name.strip().strip("`") for cell in AUDIT_ROW.findall(section) for name in cell.split(",")
    }
    recorded = _recorded_actions()
    assert len(recorded) > 10, "the source scan found too few actions to be right"
    assert sorted(recorded - documented) == [], "recorded actions missing from docs/audit.md"
    assert sorted(documented - recorded) == [], "documented actions the code never records"
