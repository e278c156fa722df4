"""Short answers: the few-shot prompt ends where the answer goes, a phrase passes the check only
when its words stand in a row in the sentence (then it is returned as the sentence writes it),
and the engine shows a checked phrase with its source and supporting sentence, or quotes the
sentence and says why when the phrase fails (a scripted generator drives both branches)."""

from collections.abc import Iterator

import pytest
from conftest import ingested_corpus

from rag.answering.engine import Engine
from rag.answering.generate.short import EXAMPLES, checked_phrase, short_prompt
from rag.config import GenerationSettings

SENTENCE = "Etna erupts frequently; lava flows have reached the town of Catania, in Sicily."


def test_the_prompt_shows_the_examples_then_asks():
    prompt = short_prompt("Which town?\n", "Lava reached\nCatania.")
    assert prompt.endswith("Text: Lava reached Catania.\nQuestion: Which town?\nAnswer:")
    assert all(f"Answer: {a}\n" in prompt for _, _, a in EXAMPLES)


@pytest.mark.parametrize(
    ("phrase", "expected"),
    [
        ("Catania", "Catania"),
        ("the town of catania.", "the town of Catania"),
        ("Catania in Sicily", "Catania, in Sicily"),
        ("lava  flows", "lava flows"),
        ("Palermo", None),  # not in the sentence
        ("Catania reached", None),  # its words, not in a row
        ("the town of Catania and Palermo", None),
        ("", None),
        ("...", None),
    ],
)
def test_a_phrase_passes_only_when_its_words_stand_in_a_row(phrase: str, expected: str | None):
    assert checked_phrase(phrase, SENTENCE) == expected


class Scripted:
    """A generator that answers every prompt with one phrase: drives the engine's check both ways."""

    name = "scripted"
    context_tokens = 4096

    def __init__(self, phrase: str, chat_template: bool = False) -> None:
        self.phrase = phrase
        self.chat_template = chat_template
        self.prompts: list = []

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def stream(self, prompt: str, settings: GenerationSettings) -> Iterator[str]:
        self.prompts.append(prompt)
        assert settings.stop == ["\n"]
        yield from (self.phrase[:3], self.phrase[3:])


@pytest.fixture(scope="module")
def engine(tmp_path_factory, embedder) -> Engine:
    settings = ingested_corpus(tmp_path_factory.mktemp("short"), embedder, {})
    settings = settings.model_copy(update={"generation": settings.generation.model_copy(update={"answer_style": "short"})})
    return Engine.from_settings(settings, load_llm=False, embedder=embedder)


def test_a_checked_phrase_is_the_answer_with_its_sentence(engine: Engine):
    engine.generator = Scripted(" the town of catania\n")
    parts = list(engine.ask_stream("Which town have Etna's lava flows reached?"))
    *shown, answer = parts
    assert shown == ["the town of Catania [2]"] or shown == ["the town of Catania [1]"]
    assert answer.answer == shown[0] and not answer.abstained and answer.generator == "scripted"
    [citation] = answer.citations
    assert citation.path == "volcanoes.md" and citation.sentences == ["Etna erupts frequently; lava flows have reached the town of Catania."]
    assert "Text: Etna erupts frequently; lava flows have reached the town of Catania.\n" in engine.generator.prompts[0]
    assert "first_token" in answer.timings and not answer.notes


def test_a_phrase_not_in_its_sentence_ends_in_the_quote(engine: Engine):
    engine.generator = Scripted("Palermo")
    answer = engine.ask("Which town have Etna's lava flows reached?")
    assert answer.generator == "extractive" and "Palermo" not in answer.answer
    assert answer.answer.startswith("Etna erupts frequently; lava flows have reached the town of Catania.")
    assert answer.notes == ["Quoted from the source: the model's short answer did not match it"]
    assert "first_token" not in answer.timings


def test_a_model_with_a_chat_template_gets_messages(engine: Engine):
    engine.generator = Scripted("Catania", chat_template=True)
    answer = engine.ask("Which town have Etna's lava flows reached?")
    messages = engine.generator.prompts[0]
    assert messages[0]["role"] == "system" and messages[-1]["role"] == "user"
    assert messages[-1]["content"].startswith("Text: Etna erupts frequently; lava flows have reached the town of Catania.\nQuestion: Which town")
    assert answer.answer.startswith("Catania [") and answer.generator == "scripted"


def test_sources_style_still_writes_from_numbered_sources(engine: Engine):
    engine.generator = Scripted("Lava flows have reached the town of Catania [1].")
    answer = engine.ask(
        "Which town have Etna's lava flows reached?", generation=engine.settings.generation.model_copy(update={"answer_style": "sources", "stop": ["\n"]})
    )
    assert '<source n="1"' in engine.generator.prompts[0] and answer.generator == "scripted"
    assert answer.citations and answer.citations[0].path == "volcanoes.md"
