"""Answer evaluation: every question goes through the product's engine (retrieve, generate,
cite), and each answer is scored for context recall, correctness against gold strings,
faithfulness and citation precision (by a judge, see eval/judges.py), abstention and latency.

Questions come from a JSONL file (`_id`, `question`, `answers`, optional `gold_passage_ids`)
or, in claim-checking mode, from SciFact's `evidence.jsonl`: there the measure is whether the
answer cites one of the expert's rationale sentences.

Exact match and token F1 follow the SQuAD definitions (lower-case, drop punctuation and
articles, split on whitespace); they are a dozen lines, written here rather than pulling in a
metrics framework that fetches its scripts from a hub."""

from __future__ import annotations

import json
import re
import string
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from eval.judges import Judge
from eval.latency import percentiles
from rag.answering.answer import Answer
from rag.answering.citations import CITE_RE, sentence_citations
from rag.answering.followup import QUESTION_WORDS, REFERRING, WORD_RE
from rag.search.hit import Hit

ARTICLES_RE = re.compile(r"\b(a|an|the)\b")
PUNCTUATION = str.maketrans("", "", string.punctuation)


@dataclass
class QaItem:
    id: str
    question: str
    answers: list[str] = field(default_factory=list)  # gold strings; none: unanswerable or a claim
    gold_docs: list[str] = field(default_factory=list)  # document ids (corpus ids or index paths)
    rationales: dict[str, list[str]] = field(default_factory=dict)  # doc id -> rationale sentences
    history: list[str] = field(default_factory=list)  # earlier questions of the conversation, oldest first
    standalone: str | None = None  # a follow-up's expected standalone question: what it asks, said in full
    graded: bool = True  # False: no gold is known (a thumbs down), so neither answering nor declining is right


def load_questions(path: Path, limit: int | None = None) -> list[QaItem]:
    """Questions from a JSONL file; a malformed line is an error naming the file, line and field."""
    with open(path, encoding="utf-8") as fh:
        return parse_questions(fh, str(path), limit)


def parse_questions(lines: Iterable[str], origin: str, limit: int | None = None) -> list[QaItem]:
    """Questions from JSONL lines (`_id`, `question`, optional `answers`, `gold_passage_ids`,
    `history`, `standalone`); `origin` names the file in errors."""
    items = []
    for line_no, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if not isinstance(row, dict):
                raise ValueError(f"{origin}:{line_no}: not a JSON object")
            item = QaItem(
                str(row["_id"]),
                str(row["question"]),
                [str(a) for a in row.get("answers", [])],
                [str(d) for d in row.get("gold_passage_ids", [])],
                history=[str(h) for h in row.get("history", [])],
                standalone=str(row["standalone"]) if row.get("standalone") else None,
            )
        except json.JSONDecodeError as exc:
            raise ValueError(f"{origin}:{line_no}: not JSON ({exc.msg})") from None
        except KeyError as exc:
            raise ValueError(f"{origin}:{line_no}: missing field {exc.args[0]!r}") from None
        items.append(item)
    if not items:
        raise ValueError(f"{origin}: no questions")
    return items[:limit]


def load_claims(folder: Path, limit: int | None = None) -> list[QaItem]:
    """SciFact claims with rationales: `evidence.jsonl` plus the `sentences` of corpus.jsonl."""
    evidence_file = folder / "evidence.jsonl"
    if not evidence_file.is_file():
        raise FileNotFoundError(f"{folder} has no evidence.jsonl (claim-checking needs SciFact's rationales)")
    rows = [json.loads(line) for line in evidence_file.read_text(encoding="utf-8").splitlines() if line.strip()][:limit]
    wanted = {doc for row in rows for doc in row["evidence"]}
    sentences: dict[str, list[str]] = {}
    with open(folder / "corpus.jsonl", encoding="utf-8") as fh:
        for line in fh:
            doc = json.loads(line)
            if doc["_id"] in wanted:
                if "sentences" not in doc:
                    raise ValueError(f"{folder / 'corpus.jsonl'}: document {doc['_id']} has no 'sentences' field")
                sentences[doc["_id"]] = doc["sentences"]
    items = []
    for row in rows:
        rationales = {doc: [sentences[doc][i] for i in ev["sentences"]] for doc, ev in row["evidence"].items()}
        items.append(QaItem(str(row["_id"]), row["claim"], [], list(rationales), rationales))
    return items


def normalize(text: str) -> str:
    text = CITE_RE.sub(" ", text).lower().translate(PUNCTUATION)
    return " ".join(ARTICLES_RE.sub(" ", text).split())


def token_f1(prediction: str, gold: str) -> float:
    """SQuAD's token F1; an empty side scores 1 only against an empty other (a decline against "no answer")."""
    pred, ref = normalize(prediction).split(), normalize(gold).split()
    if not pred or not ref:
        return float(pred == ref)
    common = sum((Counter(pred) & Counter(ref)).values())
    if not common:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def correctness(prediction: str, golds: list[str]) -> dict[str, float]:
    """Best over the gold strings: exact match, token F1, and whether a gold string is contained."""
    answer = normalize(prediction)
    return {
        "exact_match": float(any(answer == normalize(g) for g in golds)),
        "token_f1": max(token_f1(prediction, g) for g in golds),
        "contains_answer": float(any(normalize(g) and f" {normalize(g)} " in f" {answer} " for g in golds)),
    }


def _support(answer: Answer, judge: Judge) -> list[list[bool]]:
    """For each answer sentence, whether each source it cites supports it (an invalid [n] never does)."""
    passages = {c.n: c.text for c in answer.citations}
    return [[n in passages and judge.supports(sentence, passages[n]) for n in cited] for sentence, cited in sentence_citations(answer.answer)]


def faithfulness(answer: Answer, judge: Judge) -> float | None:
    """Share of answer sentences that a passage they cite supports (an uncited sentence is
    unsupported); None for an abstention."""
    if answer.abstained:
        return None
    support = _support(answer, judge)
    return sum(any(s) for s in support) / len(support) if support else 0.0


def citation_precision(answer: Answer, judge: Judge) -> float | None:
    """Share of citations (sentence, [n]) whose passage supports the sentence; None without any."""
    pairs = [ok for s in _support(answer, judge) for ok in s] if not answer.abstained else []
    return sum(pairs) / len(pairs) if pairs else None


def same_sentence(a: str, b: str) -> bool:
    """Two sentence strings from different splitters: equal or one holding the other once normalised."""
    a, b = normalize(a), normalize(b)
    return bool(a and b) and (a in b or b in a)


def context_recall(hits: Sequence[Hit], gold_docs: list[str], doc_of: dict[str, str]) -> float:
    """Share of the gold documents among the documents of `hits`."""
    retrieved = {doc_of.get(h.path, h.path) for h in hits}
    return len(retrieved & set(gold_docs)) / len(gold_docs)


def standalone_right(expected: str, searched: str, terms: Callable[[str], list[str]]) -> float:
    """1.0 when the question as searched holds every content word of the expected standalone
    question (BM25's stemmed terms, so "released" and "release" agree; asking words and pronouns
    aside; words carried over in brackets count, extra words are allowed), else 0.0: the
    follow-up was resolved to what it asks."""
    content = " ".join(w for w in WORD_RE.findall(expected) if w.lower() not in QUESTION_WORDS | REFERRING)
    return float(set(terms(content)) <= set(terms(searched)))


def score_answer(item: QaItem, answer: Answer, doc_of: dict[str, str], judge: Judge) -> dict:
    """Every metric for one question; None where it does not apply."""
    cited_docs = [doc_of.get(c.path, c.path) for c in answer.citations]
    scores: dict = {
        "context_recall": context_recall(answer.hits, item.gold_docs, doc_of) if item.gold_docs else None,
        "gold_passage_first": float(doc_of.get(answer.hits[0].path, answer.hits[0].path) in item.gold_docs) if item.gold_docs and answer.hits else None,
        "faithfulness": faithfulness(answer, judge),
        "citation_precision": citation_precision(answer, judge),
        "gold_citation_precision": (sum(d in item.gold_docs for d in cited_docs) / len(cited_docs)) if item.gold_docs and cited_docs else None,
        "abstained": float(answer.abstained),
    }
    if item.answers:
        scores.update(correctness("" if answer.abstained else answer.answer, item.answers))
        scores["declined_answerable"] = float(answer.abstained)
    elif not item.gold_docs and item.graded:  # nothing in the collection answers it: declining is right
        scores["declined_unanswerable"] = float(answer.abstained)
    if item.rationales:
        cited = [(doc_of.get(c.path, c.path), s) for c in answer.citations for s in c.sentences]
        scores["rationale_cited"] = float(any(same_sentence(s, r) for doc, s in cited for r in item.rationales.get(doc, [])))
    return scores


def summarize(per_question: list[dict]) -> dict[str, dict[str, float]]:
    """Mean of each metric over the questions it applies to, with that count."""
    names = sorted({k for row in per_question for k, v in row["scores"].items()})
    summary = {}
    for name in names:
        values = [row["scores"][name] for row in per_question if row["scores"].get(name) is not None]
        if values:
            summary[name] = {"mean": round(float(np.mean(values)), 4), "n": len(values)}
    return summary


def latency(per_question: list[dict]) -> dict[str, dict[str, float]]:
    """p50 and p95 (ms) of each engine timing: retrieval stages, first token, generation, total."""
    stages = sorted({k for row in per_question for k in row["timings"]})
    result = {}
    for stage in stages:
        result[stage] = percentiles(row["timings"][stage] for row in per_question if stage in row["timings"])
    return result


def evaluate_qa(
    items: Iterable[QaItem], engine, doc_of: dict[str, str], judge: Judge, extractive: bool = False, on_done: Callable[[int], None] | None = None
) -> list[dict]:
    """Ask every question through `engine` (an rag.answering.engine.Engine) and score the answers. An item
    with a `history` is a conversation: its earlier questions are asked first, each with the turns
    before it, and its last question is also searched as it stands, for the context recall a
    follow-up gets without being rewritten. `on_done(n)` hears of each scored question."""
    rows = []
    for item in items:
        exchanges = []
        for earlier in item.history:
            exchanges.append(engine.ask(earlier, extractive=extractive, history=exchanges).exchange())
        started = time.perf_counter()
        answer = engine.ask(item.question, extractive=extractive, history=exchanges)
        wall_ms = (time.perf_counter() - started) * 1000.0
        scores = score_answer(item, answer, doc_of, judge)
        if item.history and item.gold_docs:
            scores["context_recall_not_rewritten"] = context_recall(engine.retrieve(item.question), item.gold_docs, doc_of)
            scores["rewritten"] = float(bool(answer.searched))
        if item.standalone:
            scores["standalone_right"] = standalone_right(item.standalone, answer.searched or item.question, engine.index.sparse.tokenizer)
        rows.append(
            {
                "id": item.id,
                "question": item.question,
                "gold": item.answers,
                "answer": answer.answer,
                "generator": answer.generator,
                "confidence": answer.confidence,
                "cited": [{"n": c.n, "doc": doc_of.get(c.path, c.path), "sentences": c.sentences} for c in answer.citations],
                "searched": answer.searched,
                "scores": scores,
                "timings": {**answer.timings, "wall": round(wall_ms, 2)},
            }
        )
        if on_done is not None:
            on_done(len(rows))
    return rows
