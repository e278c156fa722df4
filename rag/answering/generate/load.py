"""Pick and load the LLM backend named in settings; say why when none can be had."""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

from rag.answering.generate.base import Generator
from rag.config import GenerationSettings
from rag.models import model_path

log = logging.getLogger(__name__)


def resolve_generator_path(name: str) -> Path:
    """A GGUF file or model folder for `name` (rag/models.py); FileNotFoundError naming the setting otherwise."""
    path = Path(model_path(name))
    if not path.exists():
        raise FileNotFoundError(f"generation.model {name!r} is neither a bundled model nor an existing file or folder")
    return path


def choose_backend(path: Path, requested: str) -> str:
    if requested != "auto":
        return requested
    if path.suffix == ".gguf":
        return "llamacpp" if importlib.util.find_spec("llama_cpp") else "hf"
    return "hf"


def load_generator(settings: GenerationSettings) -> tuple[Generator | None, str | None]:
    """(generator, None), or (None, why) when the extractive answerer must stand in."""
    if settings.backend == "extractive":
        return None, None
    if settings.backend == "openai":
        try:
            from rag.answering.generate.openai_server import OpenAIServerGenerator

            return OpenAIServerGenerator(settings), None
        except Exception as exc:  # no base_url, openai client missing
            return None, f"LLM server backend could not start ({type(exc).__name__}: {exc}); answering extractively"
    try:
        path = resolve_generator_path(settings.model)
        backend = choose_backend(path, settings.backend)
        if backend == "llamacpp":
            from rag.answering.generate.llamacpp import LlamaCppGenerator

            return LlamaCppGenerator(path, settings.context_tokens, settings.threads, settings.prompt_threads), None
        from rag.answering.generate.hf import HFGenerator

        return HFGenerator(path, settings.context_tokens, settings.threads), None
    except Exception as exc:  # missing package, missing file, unreadable weights
        return None, f"generator {settings.model!r} could not load ({type(exc).__name__}: {exc}); answering extractively"
