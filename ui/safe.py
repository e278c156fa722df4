"""Document text, file names and answers reach the page as text, never as markup: markdown gets
every special character backslash-escaped, HTML gets every character entity-escaped (only the
highlight tags are ours)."""

from __future__ import annotations

import html
import re

# CommonMark lets any ASCII punctuation be escaped; escaping all of it also defuses HTML tags,
# entities, links, emphasis, Streamlit's :color[...] directives and $math$.
ASCII_PUNCTUATION_RE = re.compile(r"([!-/:-@\[-`{-~])")


def plain_markdown(text: str) -> str:
    """Markdown that renders as exactly `text`, line breaks kept."""
    return ASCII_PUNCTUATION_RE.sub(r"\\\1", text).replace("\n", "  \n")


def sentence_spans(passage: str, sentence: str) -> list[tuple[int, int]]:
    """Where `sentence` (whitespace normalised, as citations store it) occurs in `passage`."""
    words = sentence.split()
    if not words:
        return []
    pattern = r"\s+".join(re.escape(w) for w in words)
    return [m.span() for m in re.finditer(pattern, passage)]


def highlighted_passage_html(passage: str, sentences: list[str]) -> str:
    """The passage as escaped HTML, the cited sentences wrapped in <mark>, whitespace kept."""
    spans = sorted({span for s in sentences for span in sentence_spans(passage, s)})
    parts, at = [], 0
    for start, end in spans:
        if start < at:  # overlapping matches: the first one wins
            continue
        parts.append(html.escape(passage[at:start]))
        parts.append(f"<mark>{html.escape(passage[start:end])}</mark>")
        at = end
    parts.append(html.escape(passage[at:]))
    return f'<div class="rag-passage" style="white-space: pre-wrap; line-height: 1.5">{"".join(parts)}</div>'
