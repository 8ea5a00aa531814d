"""House rule 2: each capability exports a short, explicit public API, and no capability
reaches into another one's private (``_``) modules."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path
from types import ModuleType

import pytest

import bastion

SRC = Path(bastion.__file__).parent
CAPABILITIES = sorted(
    p.name
    for p in SRC.iterdir()
    if p.is_dir() and (p / "__init__.py").exists() and not p.name.startswith("_")
)


@pytest.mark.parametrize("name", CAPABILITIES)
def test_all_lists_exactly_the_public_names(name: str) -> None:
    module = importlib.import_module(f"bastion.{name}")
    exported = set(module.__all__)
    assert all(hasattr(module, n) for n in exported), "a name in __all__ does not exist"
    submodules = {m.name for m in pkgutil.iter_modules(module.__path__)}
    public = {
        n
        for n, v in vars(module).items()
        if not n.startswith("_")
        and n not in submodules
        and n != "annotations"
        and not isinstance(v, ModuleType)
    }
    assert public == exported, f"public names drifted from __all__: {public ^ exported}"
    assert len(exported) <= 25, "past ~15-25 public names a capability is really two"


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found.extend(a.name for a in node.names)
    return found


def _private_foreign(own: str, module: str) -> bool:
    parts = module.split(".")
    if len(parts) < 3 or parts[0] != "bastion":
        return False
    return parts[1] != own and parts[2].startswith("_")


@pytest.mark.parametrize("path", sorted(SRC.rglob("*.py")), ids=lambda p: str(p.relative_to(SRC)))
def test_no_reaching_into_other_capabilities(path: Path) -> None:
    rel = path.relative_to(SRC).parts
    own = rel[0] if len(rel) > 1 else "<root>"
    bad = [m for m in _imports(path) if _private_foreign(own, m)]
    assert bad == [], f"{path.name} imports private modules of other capabilities: {bad}"


def test_only_crypto_imports_hazmat() -> None:
    """House rule 9: primitives are fenced in bastion.crypto."""
    offenders = [
        str(p.relative_to(SRC))
        for p in SRC.rglob("*.py")
        if p.relative_to(SRC).parts[0] != "crypto" and any("hazmat" in m for m in _imports(p))
    ]
    assert offenders == []
