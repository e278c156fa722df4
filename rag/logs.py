"""Logging for the command line and the app: levels, to stderr and optionally a file, as text
or as one JSON object a line. Extra fields passed with `extra={...}` (event, path, reason ...)
land in the JSON as keys of their own, so skipped files and fallbacks can be filtered."""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

from rag.config import LoggingSettings

STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
QUIET = ("sentence_transformers", "httpx", "faiss", "transformers", "bm25s", "streamlit")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in STANDARD and not k.startswith("_")})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def setup_logging(settings: LoggingSettings, verbose: bool = False) -> None:
    """Replace the root handlers: stderr always, plus `settings.file` when set."""
    level = logging.DEBUG if verbose else getattr(logging, settings.level)
    formatter = JsonFormatter() if settings.format == "json" else logging.Formatter(TEXT_FORMAT)
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if settings.file:
        Path(settings.file).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(settings.file, encoding="utf-8"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    for handler in handlers:
        handler.setFormatter(formatter)
        handler.setLevel(level)  # bm25s sets its own logger to DEBUG when imported
        root.addHandler(handler)
    root.setLevel(level)
    for noisy in QUIET:
        logging.getLogger(noisy).setLevel(logging.WARNING)
