"""The content hashes the registry records: per file, and one per model that ignores listing order."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from shared.core.hashing import CHUNK_SIZE, combined_sha256, is_sha256, sha256_chunks, sha256_file


def test_a_file_hash_is_the_sha256_of_its_bytes_across_chunks(tmp_path: Path) -> None:
    content = os.urandom(CHUNK_SIZE + 17)  # spans two reads
    (tmp_path / "model.bin").write_bytes(content)
    assert sha256_file(tmp_path / "model.bin") == (hashlib.sha256(content).hexdigest(), len(content))
    assert sha256_chunks([content[:5], b"", content[5:]]) == sha256_file(tmp_path / "model.bin")
    (tmp_path / "empty").write_bytes(b"")
    assert sha256_file(tmp_path / "empty") == (hashlib.sha256(b"").hexdigest(), 0)


def test_a_folder_hash_ignores_order_but_not_names_or_content() -> None:
    a, b = hashlib.sha256(b"a").hexdigest(), hashlib.sha256(b"b").hexdigest()
    forward = combined_sha256([("x/model.pkl", a), ("vocab.txt", b)])
    assert forward == combined_sha256([("vocab.txt", b), ("x/model.pkl", a)])
    assert forward != combined_sha256([("x/model.pkl", b), ("vocab.txt", a)])  # swapped contents
    assert forward != combined_sha256([("y/model.pkl", a), ("vocab.txt", b)])  # a renamed file
    assert forward != combined_sha256([("x/model.pkl", a)])  # a missing file
    # the separators keep ("ab", h) and ("a", "b" + h)-like pairs from colliding
    assert combined_sha256([("ab", a)]) != combined_sha256([("a", "b" + a)])
    assert is_sha256(forward)


def test_is_sha256_accepts_only_lower_case_hex_digests() -> None:
    digest = hashlib.sha256(b"x").hexdigest()
    assert is_sha256(digest)
    for bad in (digest.upper(), digest[:-1], digest + "0", "g" * 64, None, 64):
        assert not is_sha256(bad)
