"""Sentence ranking for short answers and quotes: the sentence holding the question's rare terms
comes first, headings and title-only sentences never count, a sentence found in two passages
counts once under the better-ranked one, and the quotes keep only on-topic sentences."""

from rag.answering.generate.extractive import compose_quotes, pick_quotes
from rag.answering.sentence_rank import Sentence, candidates, rank_sentences
from rag.config import BM25Settings
from rag.search.hit import Hit
from rag.storage.sparse import SparseIndex

PASSAGES = [
    "# Volcanoes\n\nMount Etna is an active stratovolcano on the east coast of Sicily. It is one of the tallest active volcanoes in Europe.",
    "Etna erupts frequently; lava flows have reached the town of Catania. Mount Etna is an active stratovolcano on the east coast of Sicily.",
    "The Danube flows through ten countries, more than any other river.",
]


def hits() -> list[Hit]:
    return [Hit(i, f"doc{i}.md", t, 0, len(t), None, None, 1.0 - i / 10) for i, t in enumerate(PASSAGES)]


def test_the_sentence_with_the_questions_rare_terms_comes_first(embedder):
    sparse = SparseIndex.build(enumerate(PASSAGES), BM25Settings())
    ranked = rank_sentences("Which town have Etna's lava flows reached?", hits(), sparse, embedder)
    assert ranked[0] == Sentence(2, "Etna erupts frequently; lava flows have reached the town of Catania.", ranked[0].lexical, ranked[0].cosine)
    assert ranked[0].lexical > ranked[1].lexical and ranked[0].cosine > 0.3
    assert [s.score for s in ranked] == sorted((s.score for s in ranked), reverse=True)
    repeated = [s for s in ranked if s.text.startswith("Mount Etna is an active")]
    assert len(repeated) == 1 and repeated[0].n == 1  # in passages 1 and 2: counted once, under 1


def test_headings_and_sentences_that_only_repeat_the_question_are_no_candidates():
    found = [s for _, s in candidates("Is Mount Etna an active stratovolcano on the east coast of Sicily?", hits(), max_sources=1)]
    assert found == ["It is one of the tallest active volcanoes in Europe."]


def test_quotes_keep_on_topic_sentences_and_defuse_brackets():
    ranked = [Sentence(2, "Lava reached Catania [9].", 0.9, 0.6), Sentence(1, "Tea is green.", 0.5, 0.1)]
    assert pick_quotes(ranked, count=2) == ranked[:1]  # the second is under the 0.3 cosine floor
    assert compose_quotes(ranked[:1]) == "Lava reached Catania (9). [2]"
    assert pick_quotes([], count=1) == []


def test_code_lines_are_no_candidates():
    text = "The model maps sentences to 384 dimensions. model = SentenceTransformer('all-MiniLM-L6-v2') embeddings = model.encode(sentences).\n\nimport numpy as np and more words here."
    found = [s for _, s in candidates("What does the model map sentences to?", [Hit(0, "card.md", text, 0, len(text), None, None, 1.0)], max_sources=1)]
    assert found == ["The model maps sentences to 384 dimensions."]


def test_quotes_read_as_plain_text():
    quote = Sentence(1, "This is a [sentence-transformers](https://www.SBERT.net) model with **bold** and `code` ![logo](a.png).", 1.0, 0.5)
    assert compose_quotes([quote]) == "This is a sentence-transformers model with bold and code logo. [1]"
