"""Text shown in the app: markdown that renders literally, and escaped passage HTML with the
cited sentence highlighted."""

import re

from ui.safe import highlighted_passage_html, plain_markdown, sentence_spans


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
