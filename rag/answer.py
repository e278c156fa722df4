"""Plain data passed between retrieval, generation, the CLI, the UI and the eval harness."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


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


@dataclass
class Citation:
    """Source [n] of an answer: the chunk it points at and the sentence(s) the answer rests on."""

    n: int
    chunk_id: int
    path: str
    page: int | None
    start: int
    end: int
    text: str
    sentences: list[str] = field(default_factory=list)
    ocr: bool = False  # the passage's text came from OCR


PAGE_NAMES = {".pptx": "slide", ".xlsx": "sheet"}  # what a page is called in these files; "page" elsewhere


def place(path: str, page: int | None, ocr: bool = False) -> str:
    """Where a passage sits, as a reader would say it: "deck.pptx, slide 2", "scan.pdf, page 3 (OCR)"."""
    suffix = path[path.rfind(".") :].lower() if "." in path else ""
    where = path + (f", {PAGE_NAMES.get(suffix, 'page')} {page}" if page else "")
    return where + (" (OCR)" if ocr else "")


@dataclass(frozen=True)
class Exchange:
    """One earlier turn of a conversation: what was asked and what was answered."""

    question: str
    answer: str = ""  # empty when the turn was declined
    searched: str = ""  # the standalone question retrieval used, when the question was rewritten


@dataclass
class Answer:
    question: str
    answer: str
    abstained: bool
    citations: list[Citation]
    hits: list[Hit]
    timings: dict[str, float]  # milliseconds per stage
    generator: str = ""
    notes: list[str] = field(default_factory=list)  # this answer's own fallbacks; configuration notes are Engine.notes
    snapshot: str = ""  # the index snapshot every hit came from
    searched: str = ""  # the standalone question retrieval used, when a follow-up was rewritten
    confidence: float | None = None  # the reader's calibrated probability that the answer is right (reader answers)

    def exchange(self) -> Exchange:
        """This answer as a turn of the conversation the next question follows."""
        return Exchange(self.question, "" if self.abstained else self.answer, self.searched)

    def as_dict(self) -> dict:
        return asdict(self)
