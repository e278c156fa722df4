"""`rag serve` (the Streamlit app), `rag api` (the HTTP API) and `rag api-key` (the keys both
accept): what starts a server over one index or several named collections."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

from app import EXIT_OK, EXIT_USAGE

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def streamlit_command(app: Path, host: str, port: int, max_upload_mb: float) -> list[str]:
    """The `streamlit run` line for the app: headless, no usage statistics, no file watcher."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app),
        "--server.address",
        host,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--server.fileWatcherType",
        "none",
        "--server.maxUploadSize",
        str(max(1, math.ceil(max_upload_mb))),
        "--browser.gatherUsageStats",
        "false",
        "--global.developmentMode",
        "false",
        "--client.toolbarMode",
        "viewer",
        "--client.showErrorDetails",  # an error shows a plain message: no traceback, no "Ask Google" links off the machine
        "none",
    ]


def cmd_serve(args: argparse.Namespace) -> int:
    """Replace this process with Streamlit (exec), so a signal sent to `rag serve` reaches the
    server itself and nothing is left listening after SIGTERM."""

    try:
        settings = args.settings
    except ValueError as exc:
        print(f"rag serve: {exc}", file=sys.stderr)
        return EXIT_USAGE
    from rag.keys import KeyStore

    try:
        named = {n: d.resolve() for n, d in named_collections(args.collection or []).items()}
        logins = KeyStore.for_settings(settings, Path(args.index) if args.index else None).exists()
    except ValueError as exc:
        print(f"rag serve: {exc}", file=sys.stderr)
        return EXIT_USAGE
    index = Path(args.index) if args.index else settings.index_dir
    host, port = args.host or settings.ui.host, args.port or settings.ui.port
    if host not in LOOPBACK and settings.ui.password is None and not logins:
        if not args.insecure:
            print(
                f"rag serve: refusing to listen on {host} with no ui.password and no API keys (logins): anyone who can reach it could use it. "
                "Set ui.password (or RAG_UI__PASSWORD), create keys with `rag api-key create`, or pass --insecure",
                file=sys.stderr,
            )
            return EXIT_USAGE
        print(f"rag serve: warning: listening on {host} with no ui.password set (--insecure)", file=sys.stderr)
    os.environ["RAG_INDEX_DIR"] = str(index.resolve())
    if named:  # the app reads its settings itself: the collections go to it as RAG_COLLECTIONS
        os.environ["RAG_COLLECTIONS"] = json.dumps({n: str(d) for n, d in named.items()})
    import ui

    app = Path(ui.__file__).resolve().parent / "app.py"
    print(f"Serving {index} at http://{host}:{port} (Ctrl+C stops it)", flush=True)
    command = streamlit_command(app, host, port, settings.ingest.max_file_mb)
    os.execv(command[0], command)


def cmd_api(args: argparse.Namespace) -> int:
    from app.api.server import InsecureBindError, collection_dirs, serve
    from rag.keys import KeyStore
    from rag.storage.index import IndexCorruptError
    from rag.storage.snapshots import IndexNotFoundError
    from rag.storage.store import IndexMismatchError

    try:
        settings = args.settings
        index = Path(args.index) if args.index else None
        dirs = collection_dirs(settings, index, named_collections(args.collection or []))
        serve(settings, dirs, KeyStore.for_settings(settings, index), args.host or settings.api.host, args.port or settings.api.port, args.insecure)
    except (InsecureBindError, IndexNotFoundError, IndexMismatchError, IndexCorruptError, ValueError) as exc:
        print(f"rag api: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


def named_collections(pairs: list[str]) -> dict[str, Path]:
    """`--collection NAME=DIR` arguments as name -> folder; ValueError naming a malformed one."""
    from rag.config import COLLECTION_NAME

    named: dict[str, Path] = {}
    for pair in pairs:
        name, sep, folder = pair.partition("=")
        if not sep or not folder or not COLLECTION_NAME.fullmatch(name):
            raise ValueError(f"--collection {pair!r}: give NAME=DIR, NAME of letters, digits, '.', '_' or '-'")
        if name in named:
            raise ValueError(f"--collection {name!r} is given twice")
        named[name] = Path(folder)
    return named


def names_list(text: str | None) -> list[str] | None:
    return None if text is None else [n.strip() for n in text.split(",") if n.strip()]


def cmd_api_key(args: argparse.Namespace) -> int:
    from rag.keys import KeyNameError, KeyStore

    try:
        keys = KeyStore.for_settings(args.settings, Path(args.index) if args.index else None)
        if args.action == "create":
            key = keys.create(args.name or "", names_list(args.read), names_list(args.write))
            print(key)
            print(f"key {args.name!r} created; it is shown only this once (its SHA-256 hash is in {keys.path})", file=sys.stderr)
        elif args.action == "revoke":
            if not keys.revoke(args.name or ""):
                print(f"rag api-key: no key named {args.name!r}", file=sys.stderr)
                return EXIT_USAGE
            print(f"key {args.name!r} revoked")
        else:
            scopes = keys.scopes()
            print("\n".join(f"{n}\tread {','.join(r) or '-'}\twrite {','.join(w) or '-'}" for n, (r, w) in scopes.items()) or "(no keys: loopback only)")
    except (KeyNameError, ValueError) as exc:
        print(f"rag api-key: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK
