"""API keys: shown once, stored only as a SHA-256 hash, verified, revoked."""

from pathlib import Path

import pytest

from app.api.keys import KeyNameError, KeyStore


def test_a_key_is_stored_as_its_hash_and_verifies(tmp_path: Path):
    keys = KeyStore.for_index(tmp_path)
    assert not keys.exists()
    key = keys.create("alice")
    assert key.startswith("rag-") and len(key) > 40
    assert key not in keys.path.read_text() and keys.path.stat().st_mode & 0o077 == 0
    assert keys.verify(key) == "alice" and keys.verify(key + "x") is None and keys.verify("") is None
    other = keys.create("bob")
    assert keys.verify(other) == "bob" and keys.names() == ["alice", "bob"]
    with pytest.raises(KeyNameError, match="exists"):
        keys.create("alice")
    with pytest.raises(KeyNameError, match="needs a name"):
        keys.create("  ")
    assert keys.revoke("alice") and not keys.revoke("alice")
    assert keys.verify(key) is None and keys.verify(other) == "bob"


def test_a_broken_key_file_is_an_error_naming_it(tmp_path: Path):
    keys = KeyStore.for_index(tmp_path)
    keys.path.write_text("{not json")
    with pytest.raises(ValueError, match="api-keys.json"):
        keys.exists()


def test_cli_creates_a_key_once(tmp_path: Path, capsys):
    from app.cli import main

    assert main(["api-key", "create", "ci", "--index", str(tmp_path)]) == 0
    key = capsys.readouterr().out.strip()
    assert KeyStore.for_index(tmp_path).verify(key) == "ci"
    assert main(["api-key", "list", "--index", str(tmp_path)]) == 0 and capsys.readouterr().out.strip() == "ci"
    assert main(["api-key", "create", "ci", "--index", str(tmp_path)]) == 2
