"""What an answer is, as plain data passed to the CLI, the API, the UI and the eval harness:
the answer, its citations, the conversation turn it makes."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

from rag.search.hit import Hit


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


# CommonMark lets any ASCII punctuation be escaped; escaping all of it also defuses HTML tags,
# entities, links, emphasis, Streamlit's :color[...] directives and $math$.
ASCII_PUNCTUATION_RE = re.compile(r"([!-/:-@\[-`{-~])")


def plain_markdown(text: str) -> str:
    """Markdown that renders as exactly `text`, line breaks kept: how any Markdown client (the app, the
    injection check) shows document and answer text, so none of it becomes markup."""
    return ASCII_PUNCTUATION_RE.sub(r"\\\1", text).replace("\n", "  \n")


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
