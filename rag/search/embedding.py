"""The bi-encoder shared by ingest (chunks) and retrieval (queries): sentence-transformers,
normalised, batched, on CUDA when present. Bundled model names resolve to their package.

On the CPU, queries and batches go through ONNX Runtime (rag/search/onnx_encoder.py), in int8 or
fp32 (`embedding.precision`); PyTorch serves CUDA, models ONNX cannot, and `backend = "torch"`.

Thread-safe: a Hugging Face fast tokenizer raised "Unable to create tensor ..." when four threads
used it at once, so every use of the model's tokenizer goes through one lock (the ONNX encoder
has its own tokenizers and lock).

The PyTorch model loads on first use: a process on the CPU whose ONNX graph was exported and
checked earlier never imports PyTorch or sentence-transformers (10-11 s of a 15 s `rag ask`,
measured here)."""

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
    _model: object | None  # the sentence-transformers model; None until PyTorch is needed
    _onnx: object | None = None  # OnnxEncoder when it serves this model
    tuned: str = ""  # digest of the weights when this is a copy tuned on an index (rag/storage/tuned.py)
    precision: str = "fp32"  # of the weights that embed: "int8" only through ONNX
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)  # guards the tokenizer and model

    @classmethod
    def load(cls, settings: EmbeddingSettings, tuned: str = "") -> Embedder:
        """The model `settings` name; `tuned` is its weights' digest when it is an index's tuned copy."""
        device = pick_device(settings.device)
        if device == "cpu":
            log.debug("embedding on the CPU (no CUDA device present)", extra={"event": "fallback", "reason": "no CUDA device"})
        folder = Path(model_path(settings.model))
        use_onnx = device == "cpu" and settings.backend != "torch" and folder.is_dir()
        if use_onnx:
            from rag.search.onnx_encoder import OnnxEncoder

            kept = OnnxEncoder.open_cached(folder, settings.normalize, settings.precision, settings.threads, settings.batch_tokens, settings.onnx_cache)
            if kept is not None:  # PyTorch is not needed at all
                return cls(settings.model, kept.dim, kept.max_tokens, device, settings.batch_size, settings.normalize, None, kept, tuned, kept.precision)
        model = _sentence_transformer(settings.model, device)
        dim = model.get_embedding_dimension() if hasattr(model, "get_embedding_dimension") else model.get_sentence_embedding_dimension()
        onnx, why = None, None
        if use_onnx:
            from rag.search.onnx_encoder import OnnxEncoder

            onnx, why = OnnxEncoder.load(model, folder, settings.normalize, settings.precision, settings.threads, settings.batch_tokens, settings.onnx_cache)
        elif settings.precision == "int8":
            why = f"embedding in fp32: int8 needs ONNX Runtime on the CPU (device {device}, backend {settings.backend})"
        if why:
            (log.warning if settings.backend == "onnx" or (settings.precision == "int8" and use_onnx) else log.info)(why)
        precision = onnx.precision if onnx is not None else "fp32"
        return cls(settings.model, int(dim), int(model.max_seq_length), device, settings.batch_size, settings.normalize, model, onnx, tuned, precision)

    @property
    def model(self):
        """The sentence-transformers model, loaded on first use."""
        with self._lock:
            if self._model is None:
                self._model = _sentence_transformer(self.model_name, self.device)
            return self._model

    def count_tokens_fn(self) -> Callable[[str], int]:
        """A function counting the word pieces of a text, without special tokens (chunk sizing)."""
        if self._onnx is not None:
            return self._onnx.count_word_pieces
        tok, lock = self.model.tokenizer, self._lock
        if hasattr(tok, "backend_tokenizer"):
            from rag.search.tokenizer import WordPieceCounter, load_tokenizer

            counter = WordPieceCounter(load_tokenizer(Path(model_path(self.model_name)), tok))

            def count(text: str) -> int:
                with lock:
                    return counter(text)

            return count

        def count_slow(text: str) -> int:
            with lock:
                return len(tok(text, add_special_tokens=False, truncation=False, verbose=False)["input_ids"])

        return count_slow

    @property
    def backend(self) -> str:
        return "onnx" if self._onnx is not None else "torch"

    def encode_query(self, text: str) -> np.ndarray:
        """One text, shape (1, dim)."""
        return self.encode([text])

    def encode(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        """float32 array (len(texts), dim); rows are unit length when `normalize` is on."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self._onnx is not None:
            return self._onnx.encode(texts)
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


def embedding_settings(root: Path, base: EmbeddingSettings, digest: str, precision: str | None = None) -> EmbeddingSettings:
    """`base` with its model replaced by the index's tuned copy `digest` ("" keeps the model) and
    its precision by `precision` (None keeps it)."""
    update = {"model": str(tuned_model(root, digest, base.model))} if digest else {}
    if precision and precision != base.precision:
        update["precision"] = precision
    return base.model_copy(update=update) if update else base


def index_embedder(root: Path, base: EmbeddingSettings, embedder: Embedder | None = None, digest: str | None = None, precision: str | None = None) -> Embedder:
    """The embedder with the weights `digest` names (default: those the index's live snapshot was
    embedded with, `rag tune`) at `precision` (None: any): `embedder` when it carries them
    already, else the base model or the index's tuned copy, loaded."""
    digest = live_tuned(root) if digest is None else digest
    if embedder is not None and embedder.tuned == digest and precision in (None, embedder.precision):
        return embedder
    return Embedder.load(embedding_settings(root, base, digest, precision), digest)
