"""Evaluation on the user's own collection: questions from ratings, CSV files and written rows;
sources named by file; answer reports compared with the paired test; `rag eval qa FILE.csv
--index` and `--feedback` end to end over an ingested folder."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ingested_corpus

from eval.compare import compare_answers, compare_reports
from eval.judges import LexicalJudge
from eval.own import questions_from_csv, questions_from_feedback, questions_from_rows, resolve_sources
from eval.qa import QaItem, score_answer
from rag.answering.answer import Answer, Citation
from rag.feedback import FeedbackStore


def rating(id_: int, question: str, up: bool, answer: str = "Catania [1].", paths: tuple[str, ...] = ("volcanoes.md",)) -> dict:
    return {"id": id_, "question": question, "thumbs_up": up, "answer": answer, "sources": [{"path": p} for p in paths]}


def test_ratings_become_questions_with_what_they_approved():
    items = questions_from_feedback(
        [
            rating(1, "Which town?", False),
            rating(2, "Which  town?", True),  # the newest rating of a question wins
            rating(3, "Who won the cup?", True, "Not in your documents.", ()),
            rating(4, "Why?", False),
        ]
    )
    by_question = {i.question: i for i in items}
    assert set(by_question) == {"Which town?", "Who won the cup?", "Why?"}
    assert by_question["Which town?"].answers == ["Catania ."] and by_question["Which town?"].gold_docs == ["volcanoes.md"]
    assert by_question["Who won the cup?"].answers == [] and by_question["Who won the cup?"].graded  # declining was approved
    assert not by_question["Why?"].graded


def test_a_thumbs_down_is_neither_answerable_nor_unanswerable():
    declined = Answer("Why?", "", True, [], [], {"total": 1.0})
    scores = score_answer(QaItem("f4", "Why?", graded=False), declined, {}, LexicalJudge())
    assert "declined_unanswerable" not in scores and scores["abstained"] == 1.0
    assert score_answer(QaItem("q", "Why?"), declined, {}, LexicalJudge())["declined_unanswerable"] == 1.0


def test_csv_rows_and_their_errors():
    data = "Question,Answer,Source\nWhich town?,Catania|Catania city,volcanoes.md\n,,\nWho won the cup?,,\n".encode("utf-8-sig")
    first, declined = questions_from_csv(data, "mine.csv")
    assert (first.id, first.answers, first.gold_docs) == ("mine.csv-1", ["Catania", "Catania city"], ["volcanoes.md"])
    assert declined.question == "Who won the cup?" and declined.answers == declined.gold_docs == []
    with pytest.raises(ValueError, match="mine.csv: the header row needs a 'question' column"):
        questions_from_csv(b"query,answer\nx,y\n", "mine.csv")
    with pytest.raises(ValueError, match="mine.csv: not UTF-8"):
        questions_from_csv("question\ncaf\xe9\n".encode("latin-1"), "mine.csv")
    with pytest.raises(ValueError, match="written, row 2: the question is empty"):
        questions_from_rows([{"question": "a"}, {"question": " ", "answer": "b"}], "written")


def test_sources_resolve_to_the_indexed_paths_by_path_or_unique_name():
    indexed = ["notes/volcanoes.md", "a/readme.md", "b/readme.md"]
    [item], skipped = resolve_sources([QaItem("1", "q", [], ["volcanoes.md", "a/readme.md"])], indexed)
    assert item.gold_docs == ["notes/volcanoes.md", "a/readme.md"] and skipped == []


def test_a_row_naming_a_source_no_longer_there_is_left_out_and_the_rest_run():
    indexed = ["notes/volcanoes.md", "a/readme.md", "b/readme.md"]
    items = [QaItem("1", "q", [], ["volcanoes.md"]), QaItem("2", "q", [], ["readme.md"]), QaItem("3", "q", [], ["glaciers.txt"])]
    kept, skipped = resolve_sources(items, indexed)
    assert [i.id for i in kept] == ["1"]
    assert skipped == [
        "question 2 ('q'): source 'readme.md' matches 2 files: give its path",
        "question 3 ('q'): source 'glaciers.txt' is not in the collection",
    ]
    with pytest.raises(ValueError, match=r"no question left to ask: question 3 \('q'\): source 'glaciers.txt' is not in the collection"):
        resolve_sources([QaItem("3", "q", [], ["glaciers.txt"])], indexed)


def answer_report(scores: dict[str, list[float]]) -> dict:
    ids = [f"q{i}" for i in range(len(next(iter(scores.values()))))]
    rows = [{"id": q, "scores": {m: v[i] for m, v in scores.items()}} for i, q in enumerate(ids)]
    return {"per_question": rows, "metrics": {m: {"mean": sum(v) / len(v), "n": len(v)} for m, v in scores.items()}}


def test_answer_reports_are_compared_question_by_question():
    a = answer_report({"faithfulness": [0.0] * 12, "abstained": [0.0] * 12})
    b = answer_report({"faithfulness": [1.0] * 12, "abstained": [0.0] * 12})
    deltas = {d.metric: d for d in compare_answers(a, b)}
    assert deltas["faithfulness"].delta == 1.0 and deltas["faithfulness"].p_value < 0.01 and deltas["faithfulness"].queries == 12
    assert deltas["abstained"].delta == 0.0 and deltas["abstained"].p_value == 1.0
    with pytest.raises(ValueError, match="cannot compare a answers report with a retrieval report"):
        compare_reports(a, {"per_query": {}, "default_stage": "hybrid"})


@pytest.mark.slow
def test_rag_eval_qa_on_an_ingested_folder_from_csv_and_from_ratings(tmp_path: Path, embedder):
    settings = ingested_corpus(tmp_path, embedder, {})
    questions = tmp_path / "mine.csv"
    questions.write_text("question,answer,source\nWhich town have Etna's lava flows reached?,Catania,volcanoes.md\nWho won the 1930 World Cup?,,\n")
    base = [sys.executable, "-m", "app.cli", "eval", "qa", "--index", str(settings.index_dir), "--generator", "extractive"]
    result = subprocess.run(base[:5] + [str(questions)] + base[5:] + ["--out", str(tmp_path / "csv")], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "csv" / "report.json").read_text())
    metrics = report["metrics"]
    assert metrics["context_recall"] == {"mean": 1.0, "n": 1} and metrics["contains_answer"] == {"mean": 1.0, "n": 1}
    assert metrics["declined_unanswerable"] == {"mean": 1.0, "n": 1} and metrics["faithfulness"]["mean"] == 1.0
    assert {p.name for p in (tmp_path / "csv").iterdir()} >= {"report.json", "report.md", "metrics.png", "latency.png"}

    empty = subprocess.run(base + ["--feedback", "--out", str(tmp_path / "fb")], capture_output=True, text=True, timeout=600)
    assert empty.returncode == 2 and "holds no feedback yet" in empty.stderr
    first = report["per_question"][0]
    store = FeedbackStore(settings.index_dir)
    approved = Answer(first["question"], first["answer"], False, [Citation(1, 0, "volcanoes.md", None, 0, 1, "")], [], {})
    store.add(approved, thumbs_up=True)
    rated = subprocess.run(base + ["--feedback", "--out", str(tmp_path / "fb")], capture_output=True, text=True, timeout=600)
    assert rated.returncode == 0, rated.stderr
    again = json.loads((tmp_path / "fb" / "report.json").read_text())
    assert again["dataset"] == "feedback" and again["metrics"]["exact_match"] == {"mean": 1.0, "n": 1}  # the same answer as approved

    rerun = subprocess.run(base[:5] + [str(questions)] + base[5:] + ["--out", str(tmp_path / "csv2")], capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    cli = [sys.executable, "-m", "app.cli", "eval", "compare", str(tmp_path / "csv" / "report.json")]
    compared = subprocess.run(cli + [str(tmp_path / "csv2" / "report.json")], capture_output=True, text=True, timeout=600)
    assert compared.returncode == 0, compared.stderr
    assert "| faithfulness | 1.0000 | 1.0000 | +0.0000 | 1.0000 | 1 |" in compared.stdout
    apart = subprocess.run(cli + [str(tmp_path / "fb" / "report.json")], capture_output=True, text=True, timeout=600)
    assert apart.returncode == 2 and "share no question" in apart.stderr
