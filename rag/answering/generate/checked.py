"""A model's streamed answer released sentence by sentence, each only once it is complete and
rests on an offered source, so the reader never sees text that is later withdrawn (issue 12:
drafts such as "1000000000..." were shown, then replaced by quotes)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from rag.answering.citations import MIN_OVERLAP, best_support, sentence_citations
from rag.search.hit import Hit

# A cited source must hold this share of the sentence's words (a paraphrase keeps some; "1000000000
# people live on the moon [2]" keeps one); an uncited sentence is given the source holding MIN_OVERLAP.
MIN_CITED_OVERLAP = 0.3
DECLINE_MARKERS = ("i don't know", "i do not know", "do not contain the answer", "sources do not say")


@dataclass(frozen=True)
class Said:
    """One complete sentence of the model's answer and what it rests on."""

    sentence: str  # without its markers
    cites: list[int]  # the offered sources it cites, or the one that supports it; empty: none does
    stray: list[int] = field(default_factory=list)  # markers to sources that were not offered
    declined: bool = False  # the model said the sources do not answer

    @property
    def text(self) -> str:
        return f"{self.sentence.rstrip(' .,;:')} {''.join(f'[{n}]' for n in self.cites)}."


def judge(sentence: str, numbers: Sequence[int], sources: Sequence[Hit]) -> Said:
    """The sentence with the offered sources it cites that hold at least MIN_CITED_OVERLAP of its
    words; one left with none gets the source that holds most of them (at least MIN_OVERLAP), or
    none."""
    if any(m in sentence.lower() for m in DECLINE_MARKERS):
        return Said(sentence, [], declined=True)
    offered = [n for n in dict.fromkeys(numbers) if 1 <= n <= len(sources)]
    stray = [n for n in numbers if not 1 <= n <= len(sources)]
    cites = [n for n in offered if best_support(sentence, sources[n - 1])[1] >= MIN_CITED_OVERLAP]
    if not cites and sources:
        score, n = max((best_support(sentence, hit)[1], n) for n, hit in enumerate(sources, start=1))
        cites = [n] if score >= MIN_OVERLAP else []
    return Said(sentence, cites, stray)


def said_sentences(pieces: Iterable[str], sources: Sequence[Hit]) -> Iterator[Said]:
    """The sentences of a streamed answer as each is complete: a sentence is complete once the
    text after it (and after its markers) has begun the next one, or the stream has ended."""
    text, done = "", 0
    for piece in pieces:
        text += piece
        complete = sentence_citations(text)[:-1]  # the last may still grow or get its markers
        for sentence, numbers in complete[done:]:
            yield judge(sentence, numbers, sources)
        done = max(done, len(complete))
    for sentence, numbers in sentence_citations(text)[done:]:
        yield judge(sentence, numbers, sources)
