"""The bi-encoder shared by ingest (chunks) and retrieval (queries): sentence-transformers,
normalised, batched, on CUDA when present. Bundled model names resolve to their package.

Thread-safe: a Hugging Face fast tokenizer raised "Unable to create tensor ..." when four threads
used it at once, so every use of the model's tokenizer goes through one lock (the ONNX query
encoder has its own tokenizer and lock, so queries never wait behind a batch).

The PyTorch model loads on first use: a process that only asks questions on the CPU embeds them
with the ONNX query encoder kept from an earlier load and never imports PyTorch or
sentence-transformers (10-11 s of a 15 s `rag ask`, measured here)."""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rag.config import EmbeddingSettings
from rag.models import model_path
from rag.storage.tuned import live_tuned, tuned_model

log = logging.getLogger(__name__)


def nvidia_driver_possible() -> bool:
    """False only where it is certain without importing torch (2-3 s): Linux with no NVIDIA driver loaded."""
    return sys.platform != "linux" or Path("/proc/driver/nvidia").exists()


def pick_device(requested: str) -> str:
    """'cuda' when asked for or when auto and CUDA is present, else 'cpu'."""
    if requested == "cpu" or (requested == "auto" and not nvidia_driver_possible()):
        return "cpu"
    import torch

    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("settings ask for embedding.device = 'cuda' but CUDA is not available")
    return requested


def _sentence_transformer(name: str, device: str):
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # the per-load "Loading weights" bar is noise in logs
    return SentenceTransformer(model_path(name), device=device)


@dataclass
class Embedder:
    """Encodes texts to unit vectors; `count_tokens` measures text in the model's word pieces."""

    model_name: str
    dim: int
    max_tokens: int
    device: str
    batch_size: int
    normalize: bool
    _model: object | None  # the sentence-transformers model; None until a batch or the tokenizer needs it
    _query_encoder: object | None = None  # OnnxQueryEncoder when it serves this model
    tuned: str = ""  # digest of the weights when this is a copy tuned on an index (rag/storage/tuned.py)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)  # guards the tokenizer and model

    @classmethod
    def load(cls, settings: EmbeddingSettings, tuned: str = "") -> Embedder:
        """The model `settings` name; `tuned` is its weights' digest when it is an index's tuned copy."""
        device = pick_device(settings.device)
        if device == "cpu":
            log.debug("embedding on the CPU (no CUDA device present)", extra={"event": "fallback", "reason": "no CUDA device"})
        folder = Path(model_path(settings.model))
        use_onnx = device == "cpu" and settings.query_backend != "torch"
        if use_onnx and folder.is_dir():
            from rag.search.query_encoder import OnnxQueryEncoder

            kept = OnnxQueryEncoder.open_cached(folder, settings.normalize, settings.query_threads, settings.onnx_cache)
            if kept is not None:  # PyTorch waits until a batch needs it
                return cls(settings.model, kept.dim, kept.max_tokens, device, settings.batch_size, settings.normalize, None, kept, tuned)
        model = _sentence_transformer(settings.model, device)
        dim = model.get_embedding_dimension() if hasattr(model, "get_embedding_dimension") else model.get_sentence_embedding_dimension()
        query_encoder = None
        if use_onnx:
            from rag.search.query_encoder import OnnxQueryEncoder

            query_encoder, why = OnnxQueryEncoder.load(model, folder, settings.normalize, settings.query_threads, settings.onnx_cache)
            if why:
                (log.warning if settings.query_backend == "onnx" else log.info)(why)
        return cls(settings.model, int(dim), int(model.max_seq_length), device, settings.batch_size, settings.normalize, model, query_encoder, tuned)

    @property
    def model(self):
        """The sentence-transformers model, loaded on first use."""
        with self._lock:
            if self._model is None:
                self._model = _sentence_transformer(self.model_name, self.device)
            return self._model

    @property
    def tokenizer(self):
        return self.model.tokenizer

    def count_tokens_fn(self) -> Callable[[str], list]:
        """A function giving the word pieces of a text, without special tokens (for chunk sizing)."""
        tok, lock = self.model.tokenizer, self._lock

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
        model = self.model
        with self._lock:
            vectors = model.encode(
                list(texts),
                batch_size=self.batch_size,
                normalize_embeddings=self.normalize,
                convert_to_numpy=True,
                show_progress_bar=show_progress,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)


def embedding_settings(root: Path, base: EmbeddingSettings, digest: str) -> EmbeddingSettings:
    """`base` with its model replaced by the index's tuned copy `digest` ("" keeps `base`)."""
    if not digest:
        return base
    return base.model_copy(update={"model": str(tuned_model(root, digest, base.model))})


def index_embedder(root: Path, base: EmbeddingSettings, embedder: Embedder | None = None, digest: str | None = None) -> Embedder:
    """The embedder with the weights `digest` names (default: those the index's live snapshot was
    embedded with, `rag tune`): `embedder` when it carries them already, else the base model or
    the index's tuned copy, loaded."""
    digest = live_tuned(root) if digest is None else digest
    if embedder is not None and embedder.tuned == digest:
        return embedder
    return Embedder.load(embedding_settings(root, base, digest), digest)
