"""Cross-encoder reranking with any sentence-transformers CrossEncoder, named by model name or
folder. No cross-encoder weights ship on these machines, so a missing model is not an error:
the pipeline runs without reranking and says so once."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.config import RerankSettings

log = logging.getLogger(__name__)


@dataclass
class Reranker:
    """Scores (query, passage) pairs; higher is more relevant."""

    model_name: str
    batch_size: int
    _model: object

    @classmethod
    def load(cls, settings: RerankSettings, device: str = "cpu") -> tuple[Reranker | None, str | None]:
        """(reranker, None), or (None, the reason it is off) when none is configured or loadable."""
        if not settings.model:
            return None, "no reranker configured (rerank.model is empty): results are fused, not reranked"
        from sentence_transformers import CrossEncoder

        try:
            name = str(Path(settings.model).expanduser()) if Path(settings.model).expanduser().is_dir() else settings.model
            model = CrossEncoder(name, device=device)
        except Exception as exc:  # not installed, not in the local cache, or not a cross-encoder
            return None, f"reranker {settings.model!r} could not be loaded ({type(exc).__name__}: {exc}); running without it"
        return cls(settings.model, settings.batch_size, model), None

    def score(self, query: str, passages: Sequence[str]) -> np.ndarray:
        if not passages:
            return np.zeros(0, dtype=np.float32)
        pairs = [(query, p) for p in passages]
        scores = self._model.predict(pairs, batch_size=self.batch_size, show_progress_bar=False, convert_to_numpy=True)
        return np.asarray(scores, dtype=np.float32).reshape(len(passages), -1)[:, -1]
