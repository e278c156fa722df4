"""The conversation store: answers round-trip whole, each user sees only their own rows, and the
Markdown export carries the citations."""

import sqlite3
from pathlib import Path

import pytest

from rag.answering.answer import Answer, Citation
from rag.conversations import ConversationStore, conversation_markdown, title_of, valid_token
from rag.search.hit import Hit


def answer(question: str, text: str = "Catania [1].") -> Answer:
    hit = Hit(7, "volcanoes.pdf", "Lava reached Catania in 1669.", 0, 29, 3, "Etna", 0.8, {"dense": 0.7}, {"dense": 1})
    cite = Citation(1, 7, "volcanoes.pdf", 3, 0, 29, hit.text, ["Lava reached Catania in 1669."])
    return Answer(question, text, False, [cite], [hit], {"total": 12.5}, "extractive", searched="")


def test_turns_round_trip_in_order_for_their_user_only(tmp_path: Path):
    store = ConversationStore(tmp_path)
    conversation = store.start("alice-000001", "Which town did the lava reach?")
    first, second = answer("Which town did the lava reach?"), answer("When?", "In 1669 [1].")
    store.add_turn("alice-000001", conversation, first)
    store.add_turn("alice-000001", conversation, second)
    assert store.turns("alice-000001", conversation) == [first, second]
    assert store.turns("bob-00000001", conversation) == []
    with pytest.raises(KeyError):
        store.add_turn("bob-00000001", conversation, first)
    store.delete("bob-00000001", conversation)  # not bob's: nothing happens
    [listed] = ConversationStore(tmp_path).conversations("alice-000001")  # a second store (another process) sees it
    assert (listed.id, listed.title, listed.turns) == (conversation, "Which town did the lava reach?", 2)


def test_rename_delete_and_preferences(tmp_path: Path):
    store = ConversationStore(tmp_path)
    conversation = store.start("alice-000001", "q")
    store.add_turn("alice-000001", conversation, answer("q"))
    store.rename("alice-000001", conversation, "  Lava   flows ")
    assert store.title("alice-000001", conversation) == "Lava flows"
    with pytest.raises(ValueError, match="title"):
        store.rename("alice-000001", conversation, "   ")
    store.delete("alice-000001", conversation)
    assert store.conversations("alice-000001") == [] and store.title("alice-000001", conversation) is None
    assert sqlite3.connect(store.path).execute("SELECT COUNT(*) FROM turns").fetchone() == (0,)  # its turns went with it
    assert store.preferences("alice-000001") == {}
    store.save_preferences("alice-000001", {"top_k": 3, "answer_with": "Extractive"})
    assert store.preferences("alice-000001") == {"top_k": 3, "answer_with": "Extractive"}
    assert store.preferences("bob-00000001") == {}


def test_markdown_export_names_each_source_and_the_sentence_it_rests_on():
    text = conversation_markdown("Etna", [answer("Which town?"), Answer("Who won?", "", True, [], [], {})])
    assert text.startswith("# Etna\n")
    assert "## Which town?" in text and "Catania [1]." in text
    assert "- [1] volcanoes.pdf, page 3: “Lava reached Catania in 1669.”" in text
    assert "## Who won?\n\nNot in your documents." in text


def test_titles_and_tokens():
    assert title_of("  a  b ") == "a b"
    long = title_of("word " * 40)
    assert long.endswith(" ...") and len(long) <= 84
    assert valid_token("abcDEF12_-") and not valid_token("short") and not valid_token("../../etc") and not valid_token(None)
