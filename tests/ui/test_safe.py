"""Text shown in the app: markdown that renders literally, and escaped passage HTML with the
cited sentence highlighted."""

import os
import re
from pathlib import Path

import pytest

from rag.answering.answer import plain_markdown
from ui.safe import highlighted_passage_html, scrolled_passage_html, sentence_spans

CHROMIUM = Path(os.environ.get("RAG_TEST_CHROMIUM", "/usr/bin/chromium"))


def test_plain_markdown_escapes_every_markup_character():
    text = "<script>x</script> [a](javascript:1) **b** :red[c] $d$ &amp; # e"
    escaped = plain_markdown(text)
    assert not re.search(r"(?<!\\)[<>\[\]()*:$&#]", escaped)
    assert re.sub(r"\\(.)", r"\1", escaped) == text  # unescaping gives the text back
    assert plain_markdown("line one\nline two") == "line one  \nline two"


def test_cited_sentences_are_found_across_line_breaks():
    passage = "First sentence.\nThe cited\n  sentence here. Last one."
    start = passage.index("The cited")
    assert sentence_spans(passage, "The cited sentence here.") == [(start, passage.index(" Last"))]
    assert sentence_spans(passage, "") == []


def test_passage_html_escapes_everything_but_the_highlight():
    passage = "Intro <b>bold</b>. Zebrafish <script>alert(1)</script> migrate. Outro."
    out = highlighted_passage_html(passage, ["Zebrafish <script>alert(1)</script> migrate."])
    assert "<mark>Zebrafish &lt;script&gt;alert(1)&lt;/script&gt; migrate.</mark>" in out
    assert "&lt;b&gt;bold&lt;/b&gt;" in out and "<script" not in out and "<b>" not in out
    assert "<mark>" not in highlighted_passage_html(passage, ["not in the passage"])


def test_the_passage_box_id_is_reduced_to_safe_characters():
    html = scrolled_passage_html("a <b> c", ["c"], 'x"><script>1')
    assert 'id="rag-x---script-1"' in html and 'getElementById("rag-x---script-1")' in html
    assert html.count("<script>") == 1 and "&lt;b&gt;" in html


@pytest.mark.slow
def test_a_long_passage_opens_scrolled_to_its_cited_sentence_in_chromium():
    from playwright.sync_api import sync_playwright

    filler = " ".join(f"Filler sentence number {i} says nothing at all." for i in range(80))
    html = scrolled_passage_html(f"{filler} The cited sentence is here. {filler}", ["The cited sentence is here."], "t")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 800, "height": 900})
        page.set_content(html)
        box, mark = page.locator("#rag-t"), page.locator("#rag-t mark")
        top = box.evaluate("b => b.scrollTop")
        inner = box.bounding_box()
        cited = mark.bounding_box()
        browser.close()
    assert top > 0  # it scrolled
    assert inner["y"] <= cited["y"] and cited["y"] + cited["height"] <= inner["y"] + inner["height"]  # the mark is in view
