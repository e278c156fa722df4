"""API keys: shown once, stored only as a SHA-256 hash, verified, revoked; their scopes per
collection, and the collections' resolution (refused alike whether a collection exists or not)."""

from pathlib import Path

import pytest

from rag.keys import KeyNameError, KeyStore


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
    assert main(["api-key", "list", "--index", str(tmp_path)]) == 0 and capsys.readouterr().out.strip() == "ci\tread *\twrite *"
    assert main(["api-key", "create", "ci", "--index", str(tmp_path)]) == 2


def test_a_key_carries_its_collections(tmp_path: Path, capsys):
    import json

    from app.cli import main

    assert main(["api-key", "create", "team", "--index", str(tmp_path), "--read", "contracts, research", "--write", "contracts"]) == 0
    keys = KeyStore.for_index(tmp_path)
    team = keys.access(capsys.readouterr().out.strip())
    assert team.allows("contracts") and team.allows("research") and not team.allows("tickets")
    assert team.allows("contracts", write=True) and not team.allows("research", write=True)
    records = json.loads(keys.path.read_text())
    del records["team"]["read"], records["team"]["write"]  # a key made before scopes existed
    keys.path.write_text(json.dumps(records))
    assert keys.scopes() == {"team": (["*"], ["*"])}
    writer = keys.access(keys.create("ingester", write=["tickets"]))
    assert writer.allows("tickets", write=True) and not writer.allows("tickets")


def test_collection_arguments_are_checked(tmp_path: Path, capsys):
    from app.cli import main
    from app.serve import named_collections

    assert named_collections(["a=x", "b.2=y/z"]) == {"a": Path("x"), "b.2": Path("y/z")}
    for bad in (["a"], ["=x"], ["a/b=x"], ["a=x", "a=y"]):
        with pytest.raises(ValueError, match="--collection"):
            named_collections(bad)
    assert main(["api", "--collection", "no-folder"]) == 2 and "NAME=DIR" in capsys.readouterr().err
    assert main(["serve", "--collection", "no-folder"]) == 2 and "NAME=DIR" in capsys.readouterr().err
    assert main(["api", "--collection", f"gone={tmp_path / 'gone'}"]) == 2 and "collection 'gone'" in capsys.readouterr().err


def test_a_collection_that_fails_to_load_is_refused_saying_why_and_retried():
    from app.api.collections import Collections, Refused
    from rag.keys import Access

    attempts = []

    def load(name, folder):
        attempts.append(name)
        if len(attempts) == 1:
            raise RuntimeError(f"{folder} holds no snapshot")
        return "service"

    collections = Collections({"a": Path("ia"), "b": Path("ib")}, load)
    reader = Access("r", frozenset({"a"}), frozenset())
    with pytest.raises(Refused, match="'a' cannot be loaded: ia holds no snapshot") as failed:
        collections.resolve("a", reader)
    assert failed.value.status == 503 and collections.resolve("a", reader) == "service" and attempts == ["a", "a"]
    for name in ("b", "ghost"):  # no load, and the same refusal whether it exists or not
        with pytest.raises(Refused, match=f"may not read the collection '{name}'"):
            collections.resolve(name, reader)
    assert attempts == ["a", "a"] and collections.readable(reader) == ["a"] and collections.get("b").as_dict()["loaded"] is False
