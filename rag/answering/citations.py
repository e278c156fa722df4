"""From answer text to citations: which sources [n] it cites, and the sentences of each source
that the citing answer sentences rest on (by word overlap). Answers that cite nothing get their
citations inferred the same way (rag/answering/generate/checked.py), so every claim points at a passage or is flagged."""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag.answering.answer import Citation
from rag.search.hit import Hit
from rag.sentences import TOKEN_RE, split_sentences

CITE_RE = re.compile(r"\[(\d+)\]")
CITE_RUN_RE = re.compile(r"(?:\s*\[\d+\])+")  # one or more adjacent markers
MIN_OVERLAP = 0.5  # share of an answer sentence's words a source sentence must hold to support it


def _words(text: str) -> set[str]:
    return {w.lower() for w in TOKEN_RE.findall(text) if len(w) > 2}


def _source_sentences(hit: Hit) -> list[str]:
    return [" ".join(hit.text[a:b].split()) for a, b in split_sentences(hit.text)] or [" ".join(hit.text.split())]


def best_support(claim: str, hit: Hit) -> tuple[str, float]:
    """The sentence of `hit` sharing the most words with `claim` (overlap over the claim's words)."""
    words = _words(CITE_RE.sub("", claim))
    if not words:
        return "", 0.0
    scored = [(len(words & _words(s)) / len(words), s) for s in _source_sentences(hit)]
    score, sentence = max(scored)
    return sentence, score


def answer_sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in split_sentences(text)] or ([text] if text.strip() else [])


def sentence_citations(text: str) -> list[tuple[str, list[int]]]:
    """Each answer sentence (markers removed) with the source numbers cited right after it,
    whether the markers stand before or after its full stop: "A. [1] B [2]." gives
    [("A", [1]), ("B", [2])]; a sentence followed by no marker cites nothing."""
    out: list[tuple[str, list[int]]] = []
    pos = 0
    for run in CITE_RUN_RE.finditer(text):
        numbers = [int(n) for n in CITE_RE.findall(run.group())]
        sentences = answer_sentences(text[pos : run.start()].strip(" .,;:!?\n"))
        out.extend((s, []) for s in sentences[:-1])
        if sentences:
            out.append((sentences[-1], numbers))
        elif out:
            out[-1][1].extend(numbers)
        pos = run.end()
    out.extend((s, []) for s in answer_sentences(text[pos:].strip(" .,;:!?\n")))
    return out


def cited_claims(text: str) -> list[tuple[int, str]]:
    """(n, claim) for each [n] in `text`: the claim is the text since the previous marker, so
    "A. [1] B [2]." gives (1, "A.") and (2, "B"); adjacent markers share one claim."""
    claims, last, claim = [], 0, ""
    for m in CITE_RE.finditer(text):
        between = text[last : m.start()].strip(" .,;:!?\n")
        claim = between or claim
        claims.append((int(m.group(1)), claim))
        last = m.end()
    return claims


def citations_for(text: str, sources: Sequence[Hit], quoted: dict[int, list[str]] | None = None) -> list[Citation]:
    """One Citation per valid [n] in `text`, in order of first mention. `quoted` gives the exact
    sentences per source when they are known (extractive answers)."""
    claims: dict[int, list[str]] = {}
    for n, claim in cited_claims(text):
        if 1 <= n <= len(sources):
            claims.setdefault(n, []).append(claim)
    citations = []
    for n, sentences in claims.items():
        hit = sources[n - 1]
        if quoted and n in quoted:
            support = quoted[n]
        else:
            support = sorted({s for s, score in (best_support(c, hit) for c in sentences) if score > 0})
        citations.append(Citation(n, hit.chunk_id, hit.path, hit.page, hit.start, hit.end, hit.text, support, hit.ocr))
    return citations
