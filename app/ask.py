"""`rag ask` (one question) and `rag chat` (a conversation in the terminal): both stream the
answer, then its sources with the sentences it rests on, the notes and the timings."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from app import EXIT_OK, EXIT_USAGE
from rag.answering.answer import place
from rag.answering.tables import table_text

CLOSEST = 3  # passages shown under a decline


def _print_answer_sources(answer, notes: list[str]) -> None:
    print()
    if answer.abstained:
        print(f"(declined: not in your documents; searched for: {answer.searched or answer.question})")
        for hit in answer.hits[:CLOSEST]:
            where = place(hit.path, hit.page, hit.ocr)
            print(f"    closest: {where}: {' '.join(table_text(hit.text, hit.context).split())[:120]} ...")
    for c in answer.citations:
        where = place(c.path, c.page, c.ocr) + f", chars {c.start}-{c.end}"
        print(f"[{c.n}] {where}")
        for sentence in c.sentences:
            print(f"    \u201c{sentence}\u201d")
    for note in notes:
        print(f"note: {note}")
    print("timings (ms): " + ", ".join(f"{k} {v:.0f}" for k, v in answer.timings.items()))


def usage_error(args: argparse.Namespace, settings) -> str | None:
    """What is wrong with the command line itself, found before any model loads (about 15 s of
    imports and loading saved when the index folder is mistyped): None when nothing is."""
    from rag.storage.snapshots import IndexNotFoundError, require_live_snapshot

    question = getattr(args, "question", None)
    if question is not None and not question.strip():
        return 'the question is empty: ask something, e.g. rag ask "What does libffi do?"'
    from rag.answering.engine import length_problem

    if question is not None and (why := length_problem(question, settings.retrieval.max_question_chars)):
        return why
    if settings.backend != "local":
        return None
    root = Path(args.index) if args.index else settings.index_dir
    if root.is_file():
        return f"{root} is a file; --index takes the index folder that `rag ingest SOURCE --index FOLDER` wrote"
    try:
        require_live_snapshot(root)
    except IndexNotFoundError as exc:
        return str(exc)
    return None


def _ask_engine(args: argparse.Namespace, command: str):
    """The engine `rag ask` and `rag chat` answer with, or None after saying why on stderr."""
    settings = args.settings
    if args.top_k:  # this command's override, on a copy: the loaded settings stay as they were read
        settings = settings.model_copy(update={"retrieval": settings.retrieval.model_copy(update={"top_k": args.top_k})})
    wrong = usage_error(args, settings)
    if wrong:
        print(f"rag {command}: {wrong}", file=sys.stderr)
        return None
    from rag.answering.engine import Engine, llm_needed
    from rag.storage.index import IndexCorruptError
    from rag.storage.snapshots import IndexNotFoundError
    from rag.storage.store import IndexMismatchError

    try:
        return Engine.from_settings(
            settings, Path(args.index) if args.index else None, load_llm=args.generator != "extractive" and llm_needed(settings.generation)
        )
    except (IndexNotFoundError, IndexMismatchError, IndexCorruptError, ValueError) as exc:
        print(f"rag {command}: {exc}", file=sys.stderr)
        return None


def _answer_one(engine, question: str, args: argparse.Namespace, history=()) -> object:
    """Stream one answer to stdout (or print it as JSON), then its sources; returns the Answer."""
    from rag.answering.answer import Answer
    from rag.search.retriever import Filters

    filters = Filters(args.path, tuple(args.kind or ()))
    answer, streamed = None, []
    for part in engine.ask_stream(question, filters=filters, extractive=args.generator == "extractive", history=history):
        if isinstance(part, Answer):
            answer = part
        elif not args.json:
            streamed.append(part)
            print(part, end="", flush=True)
    if args.json:
        print(json.dumps(answer.as_dict(), ensure_ascii=False), flush=True)
        return answer
    print()
    if answer.answer.strip() != "".join(streamed).strip():  # citations were added, or a fallback answered
        print(f"\nanswer: {answer.answer}")
    if answer.searched:
        print(f"(searched as: {answer.searched})")
    _print_answer_sources(answer, [*engine.notes, *answer.notes] if not history else answer.notes)
    return answer


def cmd_ask(args: argparse.Namespace) -> int:
    engine = _ask_engine(args, "ask")
    if engine is None:
        return EXIT_USAGE
    from rag.answering.engine import QuestionTooLongError

    try:
        _answer_one(engine, args.question, args)
    except QuestionTooLongError as exc:
        print(f"rag ask: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


def cmd_chat(args: argparse.Namespace) -> int:
    """A conversation in the terminal: one engine, questions read line by line, each answered
    with the earlier turns as history, so follow-ups work. An empty line or end of input ends it."""
    engine = _ask_engine(args, "chat")
    if engine is None:
        return EXIT_USAGE
    from rag.answering.engine import QuestionTooLongError

    for note in engine.notes:
        print(f"note: {note}")
    history = []
    while True:
        try:
            question = input("you> " if sys.stdin.isatty() else "").strip()
        except EOFError:
            break
        if not question or question in {"exit", "quit"}:
            break
        if not sys.stdin.isatty() and not args.json:
            print(f"you> {question}")
        try:
            history.append(_answer_one(engine, question, args, history=[a.exchange() for a in history]))
        except QuestionTooLongError as exc:
            print(f"rag chat: {exc}", file=sys.stderr)
        print(flush=True)
    return EXIT_OK
