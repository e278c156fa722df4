"""Document text, file names and answers reach the page as text, never as markup: markdown gets
every special character backslash-escaped, HTML gets every character entity-escaped (only the
highlight tags, and the script that scrolls the passage box to them, are ours)."""

from __future__ import annotations

import html
import re

PASSAGE_EM = 18  # the source panel's passage box height: a long passage scrolls inside it


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


SCROLL_SCRIPT = """<script>(() => {{
  const box = document.getElementById("{box}");
  const mark = box && box.querySelector("mark");
  if (mark) box.scrollTop = mark.offsetTop - 24;  // the box is the mark's offset parent
  if (box) box.dataset.scrolled = "yes";
}})();</script>"""


def scrolled_passage_html(passage: str, sentences: list[str], box: str) -> str:
    """The highlighted passage in a box of at most PASSAGE_EM lines' height, scrolled so the first
    cited sentence is in view. The script is ours and constant; `box` is reduced to [A-Za-z0-9-]."""
    box = "rag-" + re.sub(r"[^A-Za-z0-9-]", "-", box)
    inner = highlighted_passage_html(passage, sentences)
    return f'<div id="{box}" style="max-height: {PASSAGE_EM}em; overflow-y: auto; position: relative">{inner}</div>' + SCROLL_SCRIPT.format(box=box)
