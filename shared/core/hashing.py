"""Content hashes the registry records and verifies: sha256 per file, and one sha256 for a whole model."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TypeGuard

from shared.core.errors import InvalidInput
from shared.core.validators import validate_relative_path

CHUNK_SIZE = 4 * 1024 * 1024


def sha256_chunks(chunks: Iterable[bytes]) -> tuple[str, int]:
    """The hex sha256 and total size of a stream of chunks."""
    digest = hashlib.sha256()
    size = 0
    for chunk in chunks:
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def sha256_file(path: Path) -> tuple[str, int]:
    """The hex sha256 and size of a local file, read in chunks (models can be large)."""
    with path.open("rb") as handle:
        return sha256_chunks(iter(lambda: handle.read(CHUNK_SIZE), b""))


def combined_sha256(files: Iterable[tuple[str, str]]) -> str:
    """One hash for a set of (relative path, sha256) pairs, independent of their order."""
    digest = hashlib.sha256()
    for path, file_hash in sorted(files):
        digest.update(f"{path}\0{file_hash}\n".encode())
    return digest.hexdigest()


def is_sha256(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)


def folder_matches(folder: Path, files: Iterable[Mapping[str, Any]]) -> bool:
    """Whether each `{path, sha256}` of `files` is a file inside `folder` with that sha256: how a copy placed beside
    the code (a baked model or snapshot) is checked before use. A path leading outside `folder` never matches."""
    for item in files:
        try:
            path = folder / validate_relative_path(item["path"])
        except InvalidInput:
            return False
        if not path.is_file() or sha256_file(path)[0] != item["sha256"]:
            return False
    return True
