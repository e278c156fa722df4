"""The settings reference (docs/settings-reference.md), written from the Settings model itself so
it names every key there is: `python -m app.settings_doc > docs/settings-reference.md`
(tests/test_docs.py checks the file is current)."""

from __future__ import annotations

import json

from pydantic import BaseModel

from rag.config import Settings


def _value(value) -> str:
    if isinstance(value, BaseModel):
        return ""
    try:
        return f"`{json.dumps(value, default=str)}`"
    except TypeError:
        return f"`{value}`"


def reference() -> str:
    """Markdown: a table per section (`[table]` in rag.toml, RAG_TABLE__KEY in the environment)."""
    lines = [
        "# Settings reference",
        "",
        "Every key of `rag.toml` (or the file `--config` names), with its default. Each is also an",
        "environment variable: `RAG_` + the table + `__` + the key, upper case (`RAG_RETRIEVAL__TOP_K=5`).",
        "Written from `rag/config.py` by `python -m app.settings_doc`; do not edit by hand.",
        "",
        "## Top level",
        "",
        "| key | default | what it is |",
        "| --- | --- | --- |",
    ]
    sections = []
    for name, field in Settings.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            sections.append((name, annotation))
        else:
            default = field.default_factory() if field.default_factory is not None else field.default
            lines.append(f"| `{name}` | {_value(default)} | {field.description or ''} |")
    for name, section in sections:
        lines += ["", f"## [{name}]", "", " ".join((section.__doc__ or "").split()), "", "| key | default | what it is |", "| --- | --- | --- |"]
        for key, field in section.model_fields.items():
            default = field.default_factory() if field.default_factory is not None else field.default
            lines.append(f"| `{key}` | {_value(default)} | {(field.description or '').replace('|', '/')} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(reference(), end="")
