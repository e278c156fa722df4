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


def test_abbreviations_and_initials_never_end_a_sentence():
    cases = {
        "Dr.": "The Zephyrine Observatory was founded in 1987 by Dr. Mira Okonkwo near Tromso.",
        "Mr.": "Mr. Smith planted the first apple trees there.",
        "St.": "The shop is on St. Mary Street near the harbour.",
        "e.g.": "Some fruit keeps well, e.g. the Boskoop apple does.",
        "i.e.": "It ships once a year, i.e. every autumn after picking.",
        "U.S.": "The variety came from the U.S. in the last century.",
        "No.": "See the table in section No. 5 for the yields.",
        "Fig.": "The slope is drawn in Fig. 3 of the report.",
        "et al.": "Smith et al. measured the frost dates in 2001.",
        "initials": "The orchard was planted by J. R. Kessler in 1952.",
    }
    for name, sentence in cases.items():
        text = f"The first sentence comes here. {sentence} The last sentence ends it."
        assert [text[a:b] for a, b in split_sentences(text)] == ["The first sentence comes here.", sentence, "The last sentence ends it."], name
