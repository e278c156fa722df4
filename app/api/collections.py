"""The collections one `rag api` serves: name -> index folder (`--collection NAME=DIR`, or the
settings' `[collections]` table). Each collection's engine loads on first use, one load at a time,
so a server of many collections starts at once and pays only for what is asked; the resident
memory each load added is kept for `GET /v1/collections` and `rag bench`."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from app.api.service import Service
from rag.keys import Access


class Refused(LookupError):
    """A collection this request may not use, or none named: `status` is the HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def resident_mb() -> float:
    """This process's resident set size in MB (Linux /proc; 0 where there is none)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0.0
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


@dataclass
class Collection:
    name: str
    index_dir: Path
    service: Service | None = None  # None until first used
    resident_mb: float | None = None  # what loading it added to the process
    load_seconds: float | None = None

    def as_dict(self) -> dict:
        return {"name": self.name, "loaded": self.service is not None, "resident_mb": self.resident_mb, "load_seconds": self.load_seconds}


class Collections:
    """Named collections, each loaded by `load(name, index_dir)` the first time it is asked for."""

    def __init__(self, dirs: dict[str, Path], load: Callable[[str, Path], Service]) -> None:
        self._by_name = {name: Collection(name, Path(d)) for name, d in dirs.items()}
        self._load, self._lock = load, threading.Lock()

    @classmethod
    def of(cls, name: str, service: Service) -> Collections:
        """One collection, already loaded (the single-index server, and tests)."""
        collections = cls({name: service.index_dir}, lambda *_: service)
        collections.service(name)
        return collections

    def names(self) -> list[str]:
        return list(self._by_name)

    def only(self) -> str | None:
        """The name when there is exactly one collection: today's routes serve it."""
        return next(iter(self._by_name)) if len(self._by_name) == 1 else None

    def loaded(self) -> list[Service]:
        return [c.service for c in self._by_name.values() if c.service is not None]

    def get(self, name: str) -> Collection | None:
        return self._by_name.get(name)

    def service(self, name: str) -> Service | None:
        """The collection's service, loaded now if it is the first use; None for an unknown name.
        Loads run one at a time, so each one's memory is its own."""
        found = self._by_name.get(name)
        if found is None or found.service is not None:
            return found.service if found else None
        with self._lock:
            if found.service is None:
                before, started = resident_mb(), time.perf_counter()
                try:
                    service = self._load(name, found.index_dir)
                except Exception as exc:  # a damaged or mismatched index: said, and tried again on the next request
                    raise Refused(503, f"the collection {name!r} cannot be loaded: {exc}") from exc
                found.load_seconds = round(time.perf_counter() - started, 2)
                found.resident_mb = round(resident_mb() - before, 1)
                found.service = service
        return found.service

    def resolve(self, name: str | None, access: Access | None, write: bool = False) -> Service:
        """The collection `name` (None: the server's only one) when `access` may read it (`write`:
        change it; None: the server has no keys). Refused 403 naming it otherwise, and the same
        403 for a name that does not exist, so a key learns nothing of what is outside its scopes."""
        name = name or self.only()
        if name is None:
            raise Refused(404, "this server serves several collections: name one (GET /v1/collections, or the MCP tool list_collections, lists yours)")
        if access is not None and not access.allows(name, write):
            raise Refused(403, f"this key may not {'change' if write else 'read'} the collection {name!r}")
        service = self.service(name)
        if service is None:
            raise Refused(404, f"no collection named {name!r}")
        return service

    def readable(self, access: Access | None) -> list[str]:
        """The collections `access` may read or change (None: every one)."""
        return [n for n in self._by_name if access is None or access.allows(n) or access.allows(n, write=True)]
