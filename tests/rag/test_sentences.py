from rag.sentences import split_sentences


def test_sentences_paragraphs_headings_and_lists():
    text = "# Title of it\nFirst sentence is here. Second one\nwraps a line!\n\n- a list item here\n| a | table | row |\nLast words of text"
    assert [text[a:b] for a, b in split_sentences(text)] == [
        "# Title of it",
        "First sentence is here.",
        "Second one\nwraps a line!",
        "- a list item here",
        "| a | table | row |",
        "Last words of text",
    ]


def test_spans_point_into_the_text_and_short_pieces_are_dropped():
    text = "  Ok.  This sentence has words. Yes."
    assert [text[a:b] for a, b in split_sentences(text)] == ["This sentence has words."]
