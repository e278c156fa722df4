"""Chunks: sized in the model's word pieces, spans that point at their text, pages and headings."""

import pytest

from ingest.chunking import Chunker, locate
from ingest.extracted import Extracted


@pytest.fixture(scope="module")
def chunker(embedder):
    return Chunker(embedder.count_tokens_fn(), chunk_tokens=60, overlap_tokens=10)


def long_text(n: int) -> str:
    return " ".join(f"Sentence number {i} talks about topic {i % 7} in some detail." for i in range(n))


def test_spans_cover_the_text_in_order_and_fit_the_window(chunker, embedder):
    text = long_text(80)
    chunks = chunker.chunk(Extracted("text", text))
    assert len(chunks) > 5
    count = embedder.count_tokens_fn()
    for c in chunks:
        assert text[c.start : c.end] == c.text
        assert count(c.text) <= 60
    assert chunks[0].start == 0 and chunks[-1].end == len(text)
    for a, b in zip(chunks, chunks[1:]):  # in order; overlapping, or apart by whitespace only
        assert a.start < b.start and text[a.end : b.start].strip() == ""


def test_pages_and_headings_are_kept(chunker):
    page1, page2 = "Intro page. " + long_text(10), long_text(10)
    text = page1 + "\n\n" + page2
    doc = Extracted("pdf", text, page_starts=[0, len(page1) + 2], headings=[(0, "Intro")])
    chunks = chunker.chunk(doc)
    assert {c.page for c in chunks} == {1, 2}
    assert all(c.heading == "Intro" for c in chunks)
    assert all(c.end <= len(page1) for c in chunks if c.page == 1)


def test_locate_tolerates_collapsed_whitespace():
    text = "alpha   beta\n\ngamma delta"
    assert locate(text, "beta gamma", 0) == (8, 19)
    with pytest.raises(ValueError):
        locate(text, "not there", 0)
