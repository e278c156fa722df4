"""Answers from the reader through the whole engine: the shipped int8 reader over a real
ingested folder (a span cited with its sentence, a calibrated confidence, a decline when the
passages do not hold the answer), and quoting with a note when the reader cannot be loaded."""

import shutil
from pathlib import Path

import pytest
from conftest import ingested_corpus

from rag.answering.engine import Engine
from rag.answering.reader.compose import holding_sentence, listed_after_count
from rag.models import READER as BUNDLED_READER

RELEASES = "version,codename,created,release,eol\n10,Buster,2017-06-17,2019-07-06,2022-09-10\n11,Bullseye,2019-07-06,2021-08-14,2024-08-14\n12,Bookworm,2021-08-14,2023-06-10,2026-07-11\n"
ORCHARD = (
    "The Kessler orchard lies on the south slope above the village. "
    "The Kessler orchard grows three apple varieties: Boskoop, Elstar and Topaz. "
    "Picking starts in the second week of September and ends before the first frost."
)


@pytest.fixture(scope="module")
def settings(tmp_path_factory, embedder):
    return ingested_corpus(tmp_path_factory.mktemp("reader"), embedder, {"orchard.txt": ORCHARD, "releases.csv": RELEASES})


def with_reader(settings, **update):
    return settings.model_copy(update={"reader": settings.reader.model_copy(update=update)})


def test_the_sentence_that_holds_a_span():
    text = "First one here. The Kessler orchard grows Topaz. Last one here."
    at = text.index("Topaz")
    assert holding_sentence(text, at, at + 5) == "The Kessler orchard grows Topaz."
    table = "| 12 | bookworm |\n| 13 | trixie |"
    at = table.index("trixie")
    assert holding_sentence(table, at, at + 6) == "| 13 | trixie |"


@pytest.mark.slow
def test_the_shipped_reader_answers_with_a_span_and_the_sentence_that_holds_it(settings, embedder):
    engine = Engine.from_settings(settings, load_llm=False, embedder=embedder)
    assert engine.reader is not None and not [n for n in engine.notes if "reader" in n]
    answer = engine.ask("Which town have Etna's lava flows reached?")
    assert answer.generator == "reader" and not answer.abstained and "Catania" in answer.answer, answer.answer
    [citation] = answer.citations
    assert citation.path == "volcanoes.md" and citation.sentences == ["Etna erupts frequently; lava flows have reached the town of Catania."]
    assert 0.0 < answer.confidence <= 1.0 and "read" in answer.timings


@pytest.mark.slow
def test_a_table_question_gets_the_cell_of_the_row_and_column_it_names(settings, embedder):
    """The cell, cited with its row as "column: value" pairs; past the gate's word count, which
    finds "end of life" nowhere in a table that says "eol" (it declined these before)."""
    engine = Engine.from_settings(settings, load_llm=False, embedder=embedder)
    released = engine.ask("When was Debian bookworm released?")
    assert released.answer.startswith("2023-06-10 [") and released.citations[0].path == "releases.csv"
    assert released.citations[0].sentences == ["version: 12; codename: Bookworm; release: 2023-06-10"]
    assert 0.0 < released.confidence <= 1.0
    eol = engine.ask("When did Debian 10 reach its end of life?")
    assert eol.answer.startswith("2022-09-10 [") and not eol.abstained


def test_a_count_before_a_list_asked_which_is_the_list():
    at = ORCHARD.index("three")
    assert listed_after_count("Which apple varieties does the Kessler orchard grow?", ORCHARD, at, at + 5) == "Boskoop, Elstar and Topaz"
    assert listed_after_count("And what varieties does it grow?", ORCHARD, at, at + 5) == "Boskoop, Elstar and Topaz"
    assert listed_after_count("How many apple varieties does the Kessler orchard grow?", ORCHARD, at, at + 5) is None  # the count is asked
    founded = "Founded in 1987: the year of the storm, and of the fire."
    at = founded.index("1987")
    assert listed_after_count("What year was it founded?", founded, at, at + 4) is None  # a year is no count
    section = "Section 12: rules, fees and terms."
    assert listed_after_count("Which section covers fees?", section, 8, 10) is None  # nothing counted between number and colon
    picking = "Picking takes three weeks. Pickers, cooks and drivers help."
    at = picking.index("three")
    assert listed_after_count("What does picking take?", picking, at, at + 5) is None  # a list in the next sentence is another matter


@pytest.mark.slow
def test_a_list_comes_whole(settings, embedder):
    engine = Engine.from_settings(settings, load_llm=False, embedder=embedder)
    answer = engine.ask("Which apple varieties does the Kessler orchard grow?")
    assert all(v in answer.answer for v in ("Boskoop", "Elstar", "Topaz")), answer.answer  # the whole list, not its count nor its first item
    assert answer.citations[0].sentences == ["The Kessler orchard grows three apple varieties: Boskoop, Elstar and Topaz."]  # cited with its sentence


@pytest.mark.slow
def test_a_span_under_the_threshold_is_a_decline(settings, embedder):
    engine = Engine.from_settings(with_reader(settings, threshold=50.0), load_llm=False, embedder=embedder)
    answer = engine.ask("Which apple varieties does the Kessler orchard grow?")
    assert answer.abstained and answer.generator == "reader" and not answer.citations
    assert answer.confidence is not None and "read" in answer.timings  # how sure it was of the span it declined


def test_a_missing_or_corrupt_reader_quotes_with_a_note(settings, embedder, tmp_path: Path):
    engine = Engine.from_settings(with_reader(settings, model=str(tmp_path / "nowhere")), load_llm=False, embedder=embedder)
    assert engine.reader is None and any("reader folder not found" in n and "quote the best sentences" in n for n in engine.notes)
    answer = engine.ask("Which town have Etna's lava flows reached?")
    assert answer.generator == "extractive" and "Catania" in answer.answer and answer.confidence is None
    assert answer.notes == ["Quoted from the sources: the reader is not available (see the notes in the sidebar or the log)"]

    corrupt = tmp_path / "corrupt"
    shutil.copytree(BUNDLED_READER, corrupt)
    with open(corrupt / "model.onnx", "r+b") as f:
        f.seek(1000)
        f.write(b"\x00\x01\x02\x03")
    engine = Engine.from_settings(with_reader(settings, model=str(corrupt)), load_llm=False, embedder=embedder)
    assert engine.reader is None and any("model.onnx: sha256 does not match" in n for n in engine.notes)
