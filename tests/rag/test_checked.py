"""The model's answer released a sentence at a time: a sentence comes out only once it is
complete (its markers read), with the offered sources it rests on; uncited sentences get the
source that holds their words, unsupported ones none; stray markers and declines are flagged;
and the engine's "sources" style never shows what it then withdraws."""

from collections.abc import Iterator

import pytest
from conftest import ingested_corpus

from rag.answering.engine import Engine
from rag.answering.generate.base import Messages
from rag.answering.generate.checked import judge, said_sentences
from rag.config import GenerationSettings
from rag.search.hit import Hit
from rag.search.retriever import HybridRetriever
from rag.storage.index import HybridIndex


def hit(i: int, text: str) -> Hit:
    return Hit(i, f"f{i}.md", text, 0, len(text), None, None, 1.0)


SOURCES = [
    hit(10, "Mount Etna is on Sicily. It erupts often and its lava reached Catania."),
    hit(20, "The Danube flows through ten countries. Its delta lies in Romania."),
]


def test_uncited_sentences_get_the_source_that_holds_their_words():
    assert judge("The Danube delta lies in Romania.", [], SOURCES).cites == [2]
    assert judge("Bananas are yellow fruit.", [], SOURCES).cites == []
    assert judge("Etna erupts often", [1, 7], SOURCES).cites == [1] and judge("Etna erupts often", [1, 7], SOURCES).stray == [7]
    assert judge("Etna erupts often", [1], SOURCES).text == "Etna erupts often [1]."
    assert judge("1000000000 people live on the moon", [2], SOURCES).cites == []  # its source does not hold it
    assert judge("The sources do not say.", [], SOURCES).declined


def test_a_sentence_comes_out_once_it_is_complete():
    pieces = ["Etna erupts ", "often.", " [1]", " The Danube", " crosses ten countries [2]"]
    out, seen = [], []
    for said in said_sentences(iter_recording(pieces, seen), SOURCES):
        out.append((said.sentence, said.cites, len(seen)))
    # the first sentence only after the next one began (its marker came after the full stop)
    assert out == [("Etna erupts often", [1], 4), ("The Danube crosses ten countries", [2], 5)]


def iter_recording(pieces: list[str], seen: list[str]) -> Iterator[str]:
    for piece in pieces:
        seen.append(piece)
        yield piece


class Scripted:
    """A model that writes a fixed answer in small pieces and records what it was asked."""

    name, context_tokens, chat_template = "scripted", 4096, False

    def __init__(self, answer: str) -> None:
        self.answer = answer

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def stream(self, prompt: str | Messages, settings: GenerationSettings) -> Iterator[str]:
        for i in range(0, len(self.answer), 7):
            yield self.answer[i : i + 7]


@pytest.fixture(scope="module")
def volcano_index(tmp_path_factory, embedder):
    settings = ingested_corpus(tmp_path_factory.mktemp("checked"), embedder, {})
    settings = settings.model_copy(update={"generation": settings.generation.model_copy(update={"answer_style": "sources"})})
    return settings, HybridIndex.open(settings.index_dir, settings, dim=embedder.dim)


def ask(volcano_index, embedder, answer: str):
    settings, index = volcano_index
    engine = Engine(settings, index, embedder, HybridRetriever(index, embedder, settings.retrieval), Scripted(answer))
    parts = list(engine.ask_stream("Which town have Etna's lava flows reached?"))
    return "".join(p for p in parts[:-1]), parts[-1]


def test_what_is_shown_is_the_answer_and_nothing_is_withdrawn(volcano_index, embedder):
    shown, answer = ask(volcano_index, embedder, "Lava flows from Etna have reached the town of Catania. [1] 1000000000 people live on the moon [2]. More.")
    assert shown == answer.answer == "Lava flows from Etna have reached the town of Catania [1]."
    assert any("past what its sources support" in note for note in answer.notes)


def test_an_answer_with_nothing_supported_is_quoted_without_a_draft(volcano_index, embedder):
    shown, answer = ask(volcano_index, embedder, "<script>alert(1)</script> is used to alert the user.")
    assert answer.generator == "extractive" and shown == answer.answer and "script" not in shown
    assert any("the model wrote nothing they support" in note for note in answer.notes)


def test_a_model_that_declines_declines(volcano_index, embedder):
    shown, answer = ask(volcano_index, embedder, "The sources do not say.")
    assert answer.abstained
