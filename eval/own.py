"""Questions about the user's own collection, for `rag eval qa --index`: from the feedback (a thumbs
up makes its answer the gold one and its cited files the gold sources, or, citing nothing, makes
declining right; a thumbs down is asked again and scored for faithfulness, citations, abstention
and latency only), from a CSV file, or from rows the user writes (question, answer, source).
Sources name files of the collection, by their path in the index or, when that is unambiguous,
by file name."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import replace
from pathlib import PurePosixPath

from eval.judges import Judge
from eval.qa import QaItem, evaluate_qa
from eval.qa_report import answer_config, qa_report_dict
from rag.answering.citations import CITE_RE
from rag.config import Settings

SEPARATOR = "|"  # between several answers or sources in one CSV cell
COLUMNS = ("question", "answer", "source")


def questions_from_feedback(rows: Iterable[dict]) -> list[QaItem]:
    """One question per rated answer (the newest rating of a question wins)."""
    latest: dict[str, dict] = {}
    for row in rows:
        latest[" ".join(row["question"].split())] = row
    items = []
    for question, row in latest.items():
        sources = sorted({s["path"] for s in row["sources"]})
        if not row["thumbs_up"]:
            items.append(QaItem(f"feedback-{row['id']}", question, graded=False))
        elif sources:
            answer = " ".join(CITE_RE.sub(" ", row["answer"]).split())
            items.append(QaItem(f"feedback-{row['id']}", question, [answer], sources))
        else:  # an approved answer that cites nothing is an approved "not in your documents"
            items.append(QaItem(f"feedback-{row['id']}", question))
    return items


def _cell(value) -> list[str]:
    return [part.strip() for part in str(value or "").split(SEPARATOR) if part.strip()]


def questions_from_rows(rows: Iterable[dict], origin: str) -> list[QaItem]:
    """Items from dicts with a `question` and optional `answer` and `source` (several joined by
    "|"). A row with neither answer nor source is a question the collection should decline."""
    items = []
    for number, row in enumerate(rows, start=1):
        question = " ".join(str(row.get("question") or "").split())
        if not question:
            if any(_cell(row.get(c)) for c in COLUMNS):
                raise ValueError(f"{origin}, row {number}: the question is empty")
            continue  # a blank row
        items.append(QaItem(f"{origin}-{number}", question, _cell(row.get("answer")), _cell(row.get("source"))))
    return items


def questions_from_csv(data: bytes, name: str) -> list[QaItem]:
    """Items from a CSV file with a header row naming `question` and optionally `answer`, `source`."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{name}: not UTF-8 text (byte {exc.start})") from None
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip().lower() for h in reader.fieldnames or []]
    if "question" not in header:
        raise ValueError(f"{name}: the header row needs a 'question' column (found: {', '.join(header) or 'none'})")
    reader.fieldnames = header
    return questions_from_rows(reader, name)


def resolve_sources(items: list[QaItem], indexed: Iterable[str]) -> tuple[list[QaItem], list[str]]:
    """(the questions with their gold sources as the index names them: a path it holds, or a file
    name only one of its files has; why each other question was left out). A source that is
    unknown (deleted since) or ambiguous leaves out its own question, never the rest; none left
    is an error."""
    paths = set(indexed)
    by_name: dict[str, list[str]] = {}
    for path in paths:
        by_name.setdefault(PurePosixPath(path).name, []).append(path)
    resolved, skipped = [], []
    for item in items:
        gold, why = [], None
        for source in item.gold_docs:
            if source in paths:
                gold.append(source)
                continue
            matches = by_name.get(PurePosixPath(source).name, [])
            if len(matches) != 1:
                why = f"question {item.id} ({item.question[:60]!r}): source {source!r} " + (
                    "is not in the collection" if not matches else f"matches {len(matches)} files: give its path"
                )
                break
            gold.append(matches[0])
        if why:
            skipped.append(why)
        else:
            resolved.append(replace(item, gold_docs=gold))
    if items and not resolved:
        raise ValueError("no question left to ask: " + "; ".join(skipped[:3]) + (f" (and {len(skipped) - 3} more)" if len(skipped) > 3 else ""))
    return resolved, skipped


def evaluate_collection(engine, settings: Settings, items: list[QaItem], judge: Judge, extractive: bool, on_done=None) -> dict:
    """Ask `items` through `engine` (an rag.answering.engine.Engine over the user's index) and return the
    answer report; sources are resolved against the index's files first."""
    items, skipped = resolve_sources(items, engine.index.store.files())
    rows = evaluate_qa(items, engine, {}, judge, extractive, on_done)
    generator = "extractive" if extractive or engine.generator is None else engine.generator.name
    root = engine.index.root  # the index folder holding the live snapshot
    report = qa_report_dict(root.name, "own collection", judge.name, answer_config(settings, generator, root), rows)
    report["skipped"] = skipped
    return report
