"""API keys, which are also the app's logins: `rag api-key create NAME` prints a key once; only
its SHA-256 hash is stored, in `api.keys_file` (default INDEX/api-keys.json). A key is 32 random bytes (URL-safe), so one unsalted
hash is enough: there is no dictionary to try against it.

A key carries scopes per collection: `read` (retrieve, ask, list) and `write` (upload, delete,
ingest), each a list of collection names or ["*"] for every one. `--read A,B --write A` scopes it;
a key made without either (and every key made before scopes existed) reads and writes every
collection."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

KEYS_FILE = "api-keys.json"
PREFIX = "rag-"
EVERY = "*"


@dataclass(frozen=True)
class Access:
    """What one key may do: the collections it may read and those it may write."""

    name: str
    read: frozenset[str]
    write: frozenset[str]

    def allows(self, collection: str, write: bool = False) -> bool:
        names = self.write if write else self.read
        return EVERY in names or collection in names


class KeyNameError(ValueError):
    """A key name that cannot be used (empty, or taken)."""


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass
class KeyStore:
    """The hashed keys of one index folder."""

    path: Path

    @classmethod
    def for_index(cls, index_dir: Path) -> KeyStore:
        return cls(Path(index_dir) / KEYS_FILE)

    @classmethod
    def for_settings(cls, settings, index_dir: Path | None = None) -> KeyStore:
        """`api.keys_file`, else api-keys.json in the index folder (`index_dir`, else the setting's):
        what `rag api`, `rag serve` and `rag api-key` share."""
        return cls(settings.api.keys_file) if settings.api.keys_file else cls.for_index(index_dir or settings.index_dir)

    def _read(self) -> dict[str, dict]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except ValueError as exc:
            raise ValueError(f"{self.path} is not valid JSON ({exc}); fix or remove it") from None
        if not isinstance(data, dict):
            raise ValueError(f"{self.path} must hold an object of name -> key record")
        return data

    def names(self) -> list[str]:
        return sorted(self._read())

    def exists(self) -> bool:
        return bool(self._read())

    def create(self, name: str, read: Sequence[str] | None = None, write: Sequence[str] | None = None) -> str:
        """A new key for `name`, reading the collections `read` and writing `write` (both None:
        every collection); the caller shows it once, it is never stored."""
        name = name.strip()
        if not name:
            raise KeyNameError("a key needs a name")
        keys = self._read()
        if name in keys:
            raise KeyNameError(f"a key named {name!r} exists; revoke it first or pick another name")
        if read is None and write is None:
            read = write = [EVERY]
        key = PREFIX + secrets.token_urlsafe(32)
        created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        keys[name] = {"sha256": _digest(key), "created": created, "read": sorted(set(read or ())), "write": sorted(set(write or ()))}
        self._write(keys)
        return key

    def revoke(self, name: str) -> bool:
        keys = self._read()
        if keys.pop(name, None) is None:
            return False
        self._write(keys)
        return True

    def verify(self, key: str) -> str | None:
        """The name of the key, or None; compares every stored hash in constant time."""
        access = self.access(key)
        return access.name if access else None

    def access(self, key: str) -> Access | None:
        """What the key may read and write, or None when it is no key of this store."""
        digest = _digest(key)
        found = None
        for name, record in self._read().items():
            if hmac.compare_digest(digest, str(record.get("sha256", ""))):
                found = name
        return None if found is None else self.access_named(found)

    def access_named(self, name: str) -> Access | None:
        """The scopes of the key named `name` now (None once it is revoked)."""
        record = self._read().get(name)
        return None if record is None else Access(name, frozenset(record.get("read", [EVERY])), frozenset(record.get("write", [EVERY])))

    def scopes(self) -> dict[str, tuple[list[str], list[str]]]:
        """Each key's name -> (collections it reads, collections it writes), for `rag api-key list`."""
        return {name: (list(r.get("read", [EVERY])), list(r.get("write", [EVERY]))) for name, r in sorted(self._read().items())}

    def _write(self, keys: dict[str, dict]) -> None:
        """Write, fsync, rename: a crash never leaves half a key file."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(keys, fh, indent=2)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
