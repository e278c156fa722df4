"""Follow-up questions: one that refers back is resolved against the previous standalone question
(a new focus put in place of the old, a pronoun replaced by its subject, else the rarest words
carried over; never the previous answer appended); one that stands alone, or the first of a
conversation, is left as it is; and the engine searches with the standalone question and says so on the Answer. An
instruction-tuned model rewrites the follow-up itself, and a rewrite that drops the question's
own words falls back to the carried terms."""

from collections.abc import Iterator

import pytest
from conftest import ingested_corpus
from tiny_models import CHAT_TEMPLATE, tiny_llama

from rag.answering.answer import Exchange
from rag.answering.engine import Engine
from rag.answering.followup import checked_rewrite, key_words, refers_back, rewrite_messages, rewrite_prompt, standalone
from rag.answering.generate.base import Messages
from rag.answering.generate.load import load_generator
from rag.config import BM25Settings, GenerationSettings
from rag.search.retriever import HybridRetriever
from rag.storage.index import HybridIndex
from rag.storage.sparse import SparseIndex

TEXTS = [
    "all-MiniLM-L6-v2 maps sentences and paragraphs to a 384 dimensional dense vector space.",
    "The model was fine-tuned on 1B sentence pairs with a contrastive objective.",
    "Mount Etna is an active stratovolcano on the east coast of Sicily.",
    "The Danube flows through ten countries, more than any other river.",
]


@pytest.fixture(scope="module")
def sparse() -> SparseIndex:
    return SparseIndex.build(enumerate(TEXTS), BM25Settings())


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("And what is its embedding dimension?", True),  # a pronoun, and a lead
        ("How many pairs was it fine-tuned on?", True),
        ("What about Etna?", True),
        ("Why?", True),  # no term of its own
        ("Who normally supervises such a job?", True),  # "such": the job the conversation was about
        ("How many countries does the Danube flow through?", False),
        ("Which volcano stands on the east coast of Sicily?", False),
    ],
)
def test_what_refers_back(question: str, expected: bool, sparse: SparseIndex):
    assert refers_back(question, sparse) is expected


def test_the_rarest_words_are_kept_whole_and_in_order(sparse: SparseIndex):
    assert key_words("What is the vector dimension of all-MiniLM-L6-v2?", sparse, 2) == ["dimension", "all-MiniLM-L6-v2"]


def test_a_follow_up_carries_the_previous_turn(sparse: SparseIndex):
    history = [Exchange("What vector space does all-MiniLM-L6-v2 map sentences to?", "a 384 dimensional dense vector space [1]")]
    rewritten = standalone("And how many pairs was it fine-tuned on?", history, sparse)
    assert rewritten == "How many pairs was all-MiniLM-L6-v2 fine-tuned on? (vector space map)"  # the pronoun resolved, the rarest words it lacks kept
    assert standalone("Which river flows through ten countries?", history, sparse) == "Which river flows through ten countries?"
    assert standalone("And what is its dimension?", [], sparse) == "And what is its dimension?"
    chained = [*history, Exchange("And its dimension?", "384 [1]", searched="What is all-MiniLM-L6-v2's dimension?")]
    assert standalone("What was it fine-tuned on?", chained, sparse).startswith("What was all-MiniLM-L6-v2 fine-tuned on?")  # along a chain
    older = [Exchange("And its dimension?", "", searched="And its dimension? (all-MiniLM-L6-v2 sentences)")]
    assert standalone("Why?", older, sparse) == "Why? (dimension)"  # an earlier rewrite's brackets are not part of the frame
    assert "384" not in standalone("Why?", [Exchange("What dimension do all-MiniLM-L6-v2 vectors have?", "384 [1]")], sparse)


@pytest.mark.parametrize(
    ("before", "answer", "follow_up", "expected"),
    [  # the follow-ups a new user tried on the samples (issue 32), and their kind
        ("When was Debian bookworm released?", "2023-06-10 [1]", "And what about trixie?", "When was Debian trixie released?"),
        ("What is the codename of Ubuntu 22.04?", "Jammy Jellyfish [1]", "and what about 20.04?", "What is the codename of Ubuntu 20.04?"),
        (  # "22.04" is one word and one term, so the frame's third rarest word is carried beside it
            "What is the codename of Ubuntu 22.04?",
            "Jammy Jellyfish [1]",
            "and when was it released?",
            "When was Ubuntu 22.04 released? (codename)",
        ),
        ("Which town have Etna's lava flows reached?", "Catania [1]", "Where is it?", "Where is Etna? (lava flows reached)"),
        ("Who founded the Zephyrine Observatory?", "Dr. Mira Okonkwo [1]", "When did she found it?", "When did Dr. Mira Okonkwo found Zephyrine Observatory?"),
        ("Which uid is reserved for the mysql user?", "64001 [1]", "And for netplan?", "Which uid is reserved for the netplan user?"),  # "and for X?"
        ("When was Debian bookworm released?", "2023-06-10 [1]", "And trixie?", "When was Debian trixie released?"),  # "and X?"
        ("What are static system users in Debian?", "... [1]", "Which IDs are allocated to them?", "Which IDs are allocated to static system users in Debian?"),
        (
            "How does Debian manage /etc/passwd and /etc/group?",
            "... [1]",
            "Which tool keeps them in sync?",
            "Which tool keeps /etc/passwd and /etc/group in sync? (Debian manage)",  # "them": the two joined by "and", not the subject
        ),
    ],
)
def test_a_follow_up_is_resolved_against_the_previous_frame(before: str, answer: str, follow_up: str, expected: str):
    texts = [
        "| version | codename | created | release |\n| 12 | bookworm | 2021-08-14 | 2023-06-10 |\n| 13 | trixie | 2023-06-10 | 2025-08-09 |",
        "| version | codename | release |\n| 22.04 | Jammy Jellyfish | 2022-04-21 |\n| 20.04 | Focal Fossa | 2020-04-23 |",
        "Debian and Ubuntu publish a release every two years or so.",
        "Etna erupts frequently; lava flows have reached the town of Catania.",
        "The Zephyrine Observatory was founded in 1987 by Dr. Mira Okonkwo near Tromso.",
        "| uid | name | description |\n| 64001 | mysql | mysql-server |\n| 63434 | netplan | netplan |",
        "Static system users in Debian get IDs in 60000-64999; update-passwd keeps /etc/passwd and /etc/group in sync.",
        "Each user has a uid; a package asks before it reserves one for its user.",  # "user" is common, "mysql" rare: the focus replaced
    ]
    sparse = SparseIndex.build(enumerate(texts), BM25Settings())
    assert standalone(follow_up, [Exchange(before, answer)], sparse) == expected


@pytest.mark.parametrize(
    ("before", "follow_up", "expected"),
    [  # what a pronoun stands for, by the shape of the question before it (squad-dev-a's kinds of follow-up)
        (  # "they": the subject with the plural noun after it
            "Why did University of Chicago students occupy the office?",
            "In what year did they do that?",
            "In what year did University of Chicago students do that? (occupy office)",
        ),
        (
            "Which sculptures by Rodin does the museum hold?",
            "Why did he donate them?",
            "Why did Rodin donate sculptures? (museum hold)",
        ),  # what "which ...?" asked for
        (  # "those" standing alone: what "how are ...?" is about
            "How are prime numbers used in cryptography?",
            "How many bits long are those used for RSA?",
            "How many bits long are prime numbers used for RSA? (cryptography)",
        ),
        (  # "those files": the list of files
            "Which program creates the globs, magic and aliases files?",
            "Which of those files maps file names?",
            "Which of the globs, magic and aliases files maps file names? (program creates)",
        ),
        # "famous" is no plural noun, so "them" falls back to the subject and the rest is carried
        (
            "Which famous alumni did the University of Chicago produce?",
            "Which of them wrote books?",
            "Which of University of Chicago wrote books? (famous alumni produce)",
        ),
        # the rarest words the rewrite lacks are carried ("Kenya"), not the rarest three of the frame
        (
            "Has Kenya competed in the Cricket World Cup?",
            "When did they reach the semi-finals?",
            "When did Cricket World Cup reach the semi-finals? (Kenya competed)",
        ),
    ],
)
def test_a_pronoun_is_resolved_by_the_shape_of_the_frame(before: str, follow_up: str, expected: str):
    texts = [
        "The largest known prime number has 22,338,618 digits; primes are used in cryptography such as RSA, with keys 512 bits long.",
        "University of Chicago students occupied the office in 1962, and the University admits students every year.",
        "The museum holds sculptures by Rodin, who donated them in 1914 during the war; a museum is a building.",
        "A program creates the globs, magic and aliases files; file names map to types.",
        "The University of Chicago produced famous alumni who wrote books.",
        "Kenya competed in the Cricket World Cup and reached the semi-finals in 2003; the World Cup is held every four years.",
        "The office has books, and the program has a year.",
    ]
    sparse = SparseIndex.build(enumerate(texts), BM25Settings())
    assert standalone(follow_up, [Exchange(before, "... [1]")], sparse) == expected


def test_the_engine_searches_with_the_standalone_question(tmp_path, embedder):
    settings = ingested_corpus(tmp_path, embedder, {})
    engine = Engine.from_settings(settings, load_llm=False, embedder=embedder)
    first = engine.ask("Which town have Etna's lava flows reached?")
    alone = engine.ask("Where is it?")
    follow = engine.ask("Where is it?", history=[first.exchange()])
    assert follow.searched.startswith("Where is Etna? (")
    assert not follow.abstained and follow.citations[0].path == "volcanoes.md"
    assert alone.searched == "" and alone.abstained  # nothing to search for without the conversation


ETNA = [Exchange("Which town have Etna's lava flows reached?", "Catania [1]")]


def test_the_rewrite_prompt_holds_the_conversation():
    prompt = rewrite_prompt("And how tall is it?", ETNA)
    assert prompt.endswith("User: Which town have Etna's lava flows reached?\nAssistant: Catania\nFollow-up: And how tall is it?\nStandalone:")
    messages = rewrite_messages("And how tall is it?", ETNA)
    assert messages[0]["role"] == "system" and messages[-1] == {"role": "user", "content": prompt.rsplit("\n\n", 1)[1].removesuffix("\nStandalone:")}
    assert [m["role"] for m in messages[1:-1]] == ["user", "assistant"] * 3  # the examples as earlier turns


def test_a_rewrite_is_kept_only_when_it_keeps_the_follow_ups_words(sparse: SparseIndex):
    asked = "How many pairs was it fine-tuned on?"
    kept = "How many pairs was all-MiniLM-L6-v2 fine-tuned on?"
    assert checked_rewrite(f'"{kept}"\nFollow-up: more', asked, sparse) == kept  # one line, quotes off
    assert checked_rewrite("Where is Mount Etna?", asked, sparse) is None  # asks something else
    assert checked_rewrite("Where is Mount Etna?", "Where is it?", sparse) == "Where is Mount Etna?"  # nothing of its own to keep
    assert checked_rewrite("", asked, sparse) is None
    assert checked_rewrite("pairs fine-tuned " * 40, asked, sparse) is None  # too long to be one question


class Scripted:
    """A generator that replies from a script and records its prompts: the engine's side of
    the LLM rewrite without a real instruction-tuned model."""

    name, context_tokens, chat_template = "scripted", 4096, True

    def __init__(self, replies: list[str]) -> None:
        self.replies, self.prompts = replies, []

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def stream(self, prompt: str | Messages, settings: GenerationSettings) -> Iterator[str]:
        self.prompts.append(prompt)
        yield self.replies.pop(0) if self.replies else ""


@pytest.fixture(scope="module")
def volcano_index(tmp_path_factory, embedder):
    settings = ingested_corpus(tmp_path_factory.mktemp("followup"), embedder, {})
    return settings, HybridIndex.open(settings.index_dir, settings, dim=embedder.dim)


def engine_with(generator, volcano_index, embedder, rewrite: str = "auto") -> Engine:
    settings, index = volcano_index
    settings = settings.model_copy(update={"generation": settings.generation.model_copy(update={"followup_rewrite": rewrite, "answer_style": "short"})})
    return Engine(settings, index, embedder, HybridRetriever(index, embedder, settings.retrieval), generator)


def test_an_instruction_tuned_model_rewrites_the_follow_up(volcano_index, embedder):
    model = Scripted(["Where is Mount Etna?", "the east coast of Sicily"])
    follow = engine_with(model, volcano_index, embedder).ask("Where is it?", history=ETNA)
    assert follow.searched == "Where is Mount Etna?" and "rewrite" in follow.timings
    assert model.prompts[0][-1]["content"].endswith("Assistant: Catania\nFollow-up: Where is it?")
    assert follow.answer == "the east coast of Sicily [1]" and follow.citations[0].path == "volcanoes.md"


def test_a_rewrite_that_drops_the_question_falls_back_to_the_carried_terms(volcano_index, embedder):
    engine = engine_with(Scripted(["Where is Mount Etna?"]), volcano_index, embedder)
    follow = engine.ask("And which town did it reach?", history=ETNA)
    assert follow.searched == standalone("And which town did it reach?", ETNA, engine.index.sparse)
    assert any("rewrite of the follow-up" in note for note in follow.notes)


def test_terms_mode_and_extractive_answers_never_call_the_model(volcano_index, embedder):
    model = Scripted([])
    engine_with(model, volcano_index, embedder, rewrite="terms").ask("Where is it?", history=ETNA, extractive=True)
    engine_with(model, volcano_index, embedder).ask("Where is it?", history=ETNA, extractive=True)
    assert model.prompts == []


def test_a_real_templated_model_rewrites_through_its_template(tmp_path, volcano_index, embedder):
    settings = GenerationSettings(backend="hf", model=str(tiny_llama(tmp_path, CHAT_TEMPLATE)))
    generator, why = load_generator(settings)
    assert why is None and generator.chat_template
    engine = engine_with(generator, volcano_index, embedder)
    follow = engine.ask("And which town did it reach?", history=ETNA)
    assert "town" in follow.searched and "reach" in follow.searched and "Etna" in follow.searched  # resolved: by the rewrite, or the rules after it
    assert "rewrite" in follow.timings
