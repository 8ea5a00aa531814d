"""The one loader for shared test vectors (Wycheproof, JOSE, platform vectors, attack lists).

Vectors are read from the shared data folder next to the repository, never copied into it:
``.json`` files give the parsed document, ``.jsonl`` files a list with one object per line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["DATA_DIR", "load_vectors", "vector_files", "vector_path"]

DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def vector_path(relative_path: str) -> Path:
    """The absolute path of a file under the shared data folder; refuses to leave it."""
    path = (DATA_DIR / relative_path).resolve()
    if not path.is_relative_to(DATA_DIR.resolve()):
        raise ValueError(f"{relative_path!r} is outside the shared data folder")
    if not path.is_file():
        raise FileNotFoundError(f"shared vector file {relative_path!r} not found under {DATA_DIR}")
    return path


def vector_files(relative_dir: str, pattern: str = "*.json") -> list[str]:
    """Relative paths (for :func:`load_vectors`) of the files in a shared data folder, sorted."""
    folder = (DATA_DIR / relative_dir).resolve()
    if not folder.is_relative_to(DATA_DIR.resolve()) or not folder.is_dir():
        raise FileNotFoundError(f"shared vector folder {relative_dir!r} not found under {DATA_DIR}")
    return sorted(
        str(p.relative_to(DATA_DIR.resolve())) for p in folder.glob(pattern) if p.is_file()
    )


def load_vectors(relative_path: str) -> Any:
    """Parse a ``.json`` file (any JSON value) or a ``.jsonl`` file (list of rows)."""
    path = vector_path(relative_path)
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    if path.suffix == ".json":
        return json.loads(text)
    raise ValueError(f"{relative_path!r}: only .json and .jsonl vector files are supported")
