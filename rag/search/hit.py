"""A retrieved chunk: the plain data retrieval hands to everything above it (the answer path,
the apps), with where it came from and its score and rank at each stage."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Hit:
    """A retrieved chunk with where it came from and its score and rank at each stage."""

    chunk_id: int
    path: str
    text: str
    start: int
    end: int
    page: int | None
    heading: str | None
    score: float  # the score of the final stage that ranked it
    scores: dict[str, float] = field(default_factory=dict)  # per stage: dense, sparse, fused, rerank
    ranks: dict[str, int] = field(default_factory=dict)  # 1-based, per stage
    ocr: bool = False  # its text came from OCR (a scanned page or an image): may hold misread words
    context: str | None = None  # searched with the text, not part of it: the header row of a table cut into pieces

    @property
    def indexed_text(self) -> str:
        """What was embedded and indexed for BM25: the context, then the text."""
        return f"{self.context}\n{self.text}" if self.context else self.text
