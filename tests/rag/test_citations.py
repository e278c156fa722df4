from rag.answering.citations import citations_for, sentence_citations
from rag.search.hit import Hit


def hit(i: int, text: str) -> Hit:
    return Hit(i, f"f{i}.md", text, 100, 100 + len(text), None, None, 1.0)


SOURCES = [
    hit(10, "Mount Etna is on Sicily. It erupts often and its lava reached Catania."),
    hit(20, "The Danube flows through ten countries. Its delta lies in Romania."),
]


def test_cited_numbers_map_to_sources_with_their_supporting_sentence():
    cites = citations_for("The Danube crosses ten countries [2]. Etna erupts often [1]. Bogus [7].", SOURCES)
    assert [(c.n, c.chunk_id, c.path) for c in cites] == [(2, 20, "f20.md"), (1, 10, "f10.md")]
    assert cites[0].sentences == ["The Danube flows through ten countries."]
    assert cites[1].sentences == ["It erupts often and its lava reached Catania."]
    assert (cites[0].start, cites[0].end) == (100, 100 + len(SOURCES[1].text))


def test_markers_after_the_full_stop_cite_the_sentence_before_them():
    text = "Etna erupts often. [1] The Danube flows through ten countries. [2]"
    cites = citations_for(text, SOURCES)
    assert [(c.n, c.sentences) for c in cites] == [
        (1, ["It erupts often and its lava reached Catania."]),
        (2, ["The Danube flows through ten countries."]),
    ]


def test_each_answer_sentence_gets_the_markers_that_follow_it():
    text = "Etna erupts often. [1] The Danube crosses ten countries [2]. Bananas are yellow fruit. Its delta is in Romania [2][1]"
    assert sentence_citations(text) == [
        ("Etna erupts often", [1]),
        ("The Danube crosses ten countries", [2]),
        ("Bananas are yellow fruit.", []),
        ("Its delta is in Romania", [2, 1]),
    ]
    assert sentence_citations("No marker anywhere in this one.") == [("No marker anywhere in this one", [])]
    assert sentence_citations("") == []
