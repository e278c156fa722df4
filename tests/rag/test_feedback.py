"""Feedback is stored beside the index with what it rates and exported as JSONL."""

import json
from pathlib import Path

from rag.answering.answer import Answer, Citation
from rag.feedback import FEEDBACK_FILE, FeedbackStore


def test_feedback_round_trips_through_sqlite_and_jsonl(tmp_path: Path):
    answer = Answer(
        "Where is Etna?",
        "On Sicily [1].",
        False,
        [Citation(1, 7, "volcanoes.md", None, 0, 40, "Etna is on Sicily.", ["Etna is on Sicily."])],
        [],
        {},
        "extractive",
    )
    store = FeedbackStore(tmp_path)
    store.add(answer, thumbs_up=True, comment="  spot on ")
    store.add(answer, thumbs_up=False)
    store.close()
    rows = [json.loads(line) for line in FeedbackStore(tmp_path).export_jsonl().splitlines()]
    assert (tmp_path / FEEDBACK_FILE).is_file() and len(rows) == 2
    assert rows[0]["thumbs_up"] is True and rows[0]["comment"] == "spot on" and rows[1]["thumbs_up"] is False
    assert rows[0]["question"] == "Where is Etna?" and rows[0]["answer"] == "On Sicily [1]."
    assert rows[0]["sources"] == [{"n": 1, "path": "volcanoes.md", "page": None, "start": 0, "end": 40, "sentences": ["Etna is on Sicily."]}]
