"""Answer-evaluation metrics on hand-made answers with known scores, the question loaders, and
`rag eval qa` end to end (questions and claim-checking) on a tiny corpus."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from eval.judges import LexicalJudge
from eval.qa import QaItem, citation_precision, correctness, faithfulness, load_claims, load_questions, normalize, score_answer, standalone_right, token_f1
from rag.answering.answer import Answer, Citation
from rag.search.hit import Hit

ETNA = "Mount Etna is an active volcano on Sicily. Its lava reached Catania in 1669."
DANUBE = "The Danube flows through ten countries. Its delta lies in Romania."


def answer(text: str, cited: dict[int, tuple[str, str]], abstained: bool = False) -> Answer:
    citations = [Citation(n, n, path, None, 0, len(t), t, []) for n, (path, t) in cited.items()]
    hits = [Hit(n, path, t, 0, len(t), None, None, 1.0) for n, (path, t) in cited.items()]
    return Answer("q", text, abstained, citations, hits, {"total": 5.0})


def test_squad_normalisation_exact_match_and_f1():
    assert normalize("The  Danube [2]!") == "danube"
    assert correctness("The Danube.", ["danube", "Rhine"]) == {"exact_match": 1.0, "token_f1": 1.0, "contains_answer": 1.0}
    scores = correctness("It is the Danube river [1]", ["Danube"])
    assert scores["exact_match"] == 0.0 and scores["contains_answer"] == 1.0
    assert scores["token_f1"] == pytest.approx(2 * (1 / 4) * 1 / (1 / 4 + 1))  # 1 of 4 words, all of the gold
    assert token_f1("Rhine", "Danube") == 0.0
    assert correctness("Danubes", ["Danube"])["contains_answer"] == 0.0  # whole words only


def test_faithfulness_counts_sentences_supported_by_what_they_cite():
    judge = LexicalJudge()
    sources = {1: ("etna.txt", ETNA), 2: ("danube.txt", DANUBE)}
    good = answer("Etna is an active volcano on Sicily [1]. The Danube delta lies in Romania [2].", sources)
    assert faithfulness(good, judge) == 1.0 and citation_precision(good, judge) == 1.0
    miscited = answer("Etna is an active volcano on Sicily [2]. The Danube delta lies in Romania [2].", sources)
    assert faithfulness(miscited, judge) == 0.5 and citation_precision(miscited, judge) == 0.5
    uncited = answer("Etna is an active volcano on Sicily. The Danube flows through ten countries [2][1].", sources)
    assert faithfulness(uncited, judge) == 0.5  # the first sentence cites nothing
    assert citation_precision(uncited, judge) == 0.5  # [2] supports, [1] does not
    invented = answer("Etna's lava reached Catania in 1700 [1]. Bogus claim about Rome [9].", sources)
    assert faithfulness(invented, judge) == 0.0 and citation_precision(invented, judge) == 0.0
    declined = answer("I don't know.", {}, abstained=True)
    assert faithfulness(declined, judge) is None and citation_precision(declined, judge) is None


def test_score_answer_context_recall_gold_citations_and_rationales():
    item = QaItem("q1", "Where is Etna?", ["Sicily"], ["etna", "other"], {"etna": ["Mount Etna is an active volcano on Sicily."]})
    a = answer("Etna is an active volcano on Sicily [1]. The Danube flows through ten countries [2].", {1: ("etna.txt", ETNA), 2: ("danube.txt", DANUBE)})
    a.citations[0].sentences = ["Mount Etna is an active volcano on Sicily."]
    scores = score_answer(item, a, {"etna.txt": "etna", "danube.txt": "danube"}, LexicalJudge())
    assert scores["context_recall"] == 0.5  # one of the two gold documents was retrieved
    assert scores["gold_citation_precision"] == 0.5 and scores["rationale_cited"] == 1.0
    assert scores["contains_answer"] == 1.0 and scores["abstained"] == 0.0


def test_a_follow_up_is_right_when_its_search_holds_every_content_word_of_the_expected_question():
    from rag.storage.sparse import Tokenizer

    terms = Tokenizer()
    expected = "When was Debian trixie released?"
    assert standalone_right(expected, "When was Debian trixie released?", terms) == 1.0
    assert standalone_right(expected, "When was trixie's release? (Debian)", terms) == 1.0  # stems agree, carried words count
    assert standalone_right(expected, "When was Debian bookworm released? (2023-06-10)", terms) == 0.0  # the old focus
    assert standalone_right(expected, "And what about trixie?", terms) == 0.0  # not resolved
    assert standalone_right("When does it reach its end of life?", "When does Debian trixie reach the end of life?", terms) == 1.0  # pronouns aside


def test_question_files_are_checked_line_by_line(tmp_path: Path):
    good = tmp_path / "q.jsonl"
    good.write_text('{"_id": 1, "question": "Where?", "answers": ["Here"], "gold_passage_ids": ["d1"]}\n\n{"_id": "2", "question": "Who?"}\n')
    items = load_questions(good)
    assert [(i.id, i.answers, i.gold_docs) for i in items] == [("1", ["Here"], ["d1"]), ("2", [], [])]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"_id": "1", "question": "ok"}\n{"_id": "2", "answers": []}\n')
    with pytest.raises(ValueError, match=r"bad.jsonl:2: missing field 'question'"):
        load_questions(bad)
    bad.write_text("{not json\n")
    with pytest.raises(ValueError, match=r"bad.jsonl:1: not JSON"):
        load_questions(bad)


DOCS = {
    "etna": ("Volcanoes", ["Mount Etna is an active volcano on Sicily.", "Its eruptions are frequent and its lava reached Catania."]),
    "danube": ("Rivers", ["The Danube flows through ten countries.", "It ends in a large delta in Romania."]),
    "tea": ("Tea", ["Green tea is made from unoxidised leaves of Camellia sinensis.", "It is popular in East Asia."]),
}


def write_qa_dataset(folder: Path) -> Path:
    folder.mkdir(parents=True)
    corpus = [{"_id": k, "title": t, "text": " ".join(s), "sentences": s} for k, (t, s) in DOCS.items()]
    (folder / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in corpus))
    questions = [
        {"_id": "q1", "question": "Which volcano is active on Sicily?", "answers": ["Mount Etna"], "gold_passage_ids": ["etna"]},
        {"_id": "q2", "question": "Where does the Danube end in a delta?", "answers": ["Romania"], "gold_passage_ids": ["danube"]},
    ]
    (folder / "questions.jsonl").write_text("".join(json.dumps(q) + "\n" for q in questions))
    evidence = [
        {"_id": "c1", "claim": "Green tea comes from unoxidised Camellia sinensis leaves.", "evidence": {"tea": {"label": "SUPPORT", "sentences": [0]}}}
    ]
    (folder / "evidence.jsonl").write_text("".join(json.dumps(e) + "\n" for e in evidence))
    return folder


def test_claims_carry_their_rationale_sentences(tmp_path: Path):
    items = load_claims(write_qa_dataset(tmp_path / "d"))
    assert items[0].gold_docs == ["tea"] and items[0].rationales == {"tea": [DOCS["tea"][1][0]]}


@pytest.mark.slow
def test_rag_eval_qa_end_to_end(tmp_path: Path):
    dataset = write_qa_dataset(tmp_path / "tiny")
    base = [sys.executable, "-m", "app.cli", "eval", "qa", str(dataset), "--generator", "extractive", "--cache", str(tmp_path / "cache")]
    result = subprocess.run(base + ["--out", str(tmp_path / "qa")], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "qa" / "report.json").read_text())
    metrics = report["metrics"]
    assert report["questions"] == 2 and report["judge"].startswith("lexical")
    assert metrics["context_recall"]["mean"] == 1.0 and metrics["contains_answer"]["mean"] == 1.0
    assert metrics["faithfulness"]["mean"] == 1.0  # extractive answers quote their sources
    assert metrics["abstained"]["mean"] == 0.0 and report["latency_ms"]["total"]["p50"] > 0
    assert "| token F1 |" in result.stdout and (tmp_path / "qa" / "report.md").is_file()

    claims = subprocess.run(base + ["--claims", "--out", str(tmp_path / "claims")], capture_output=True, text=True, timeout=600)
    assert claims.returncode == 0, claims.stderr
    report = json.loads((tmp_path / "claims" / "report.json").read_text())
    assert report["mode"] == "claims" and report["metrics"]["rationale_cited"] == {"mean": 1.0, "n": 1}

    talk = tmp_path / "conversations.jsonl"  # a two-turn conversation over the same corpus (--questions)
    turn = {
        "_id": "t1",
        "history": ["Where does the Danube end in a delta?"],
        "question": "And how many countries does it flow through?",
        "answers": ["ten"],
        "gold_passage_ids": ["danube"],
    }
    talk.write_text(json.dumps(turn) + "\n")
    assert load_questions(talk)[0].history == ["Where does the Danube end in a delta?"]
    follow = subprocess.run(base + ["--questions", str(talk), "--out", str(tmp_path / "talk")], capture_output=True, text=True, timeout=600)
    assert follow.returncode == 0, follow.stderr
    report = json.loads((tmp_path / "talk" / "report.json").read_text())
    assert report["metrics"]["rewritten"] == {"mean": 1.0, "n": 1} and report["metrics"]["context_recall_not_rewritten"]["n"] == 1
    assert "Danube" in report["per_question"][0]["searched"] and report["metrics"]["contains_answer"]["mean"] == 1.0

    missing = subprocess.run(base[:5] + [str(tmp_path / "nowhere")], capture_output=True, text=True, timeout=600)
    assert missing.returncode == 2 and "no questions file" in missing.stderr
