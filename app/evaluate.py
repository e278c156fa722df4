"""`rag eval retrieval|qa|compare`: retrieval quality and speed on a BEIR folder (optionally before
and after tuning), answer quality on a question set or one's own index, and the paired comparison
of two reports. (`rag eval reader` lives with the reader's commands, app/reader.py.)"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from app import EXIT_OK, EXIT_USAGE


def cmd_eval_retrieval(args: argparse.Namespace) -> int:
    from eval.datasets import corpus_slice, load_beir
    from eval.report import report_dict, retrieval_config, write_report
    from eval.retrieval import evaluate_retrieval

    try:
        settings = args.settings
        settings = settings.model_copy(update={"backend": args.backend}) if args.backend else settings
        dataset = load_beir(Path(args.dataset), args.split, args.max_queries)
    except (FileNotFoundError, ValueError) as exc:
        print(f"rag eval: {exc}", file=sys.stderr)
        return EXIT_USAGE
    keep = None if args.corpus_sample is None else corpus_slice(dataset, args.corpus_sample)
    results = evaluate_retrieval(dataset, settings, Path(args.cache), keep, progress=sys.stderr.isatty())
    config = retrieval_config(settings, len(dataset.queries), keep is not None)
    report = report_dict(Path(args.dataset).name, args.split, config, results)
    print(write_report(report, Path(args.out)))
    print(f"report: {Path(args.out) / 'report.md'}")
    if args.tune:
        return eval_tuned(args, dataset, settings, keep, report)
    return EXIT_OK


def eval_tuned(args: argparse.Namespace, dataset, settings, keep: set[str] | None, before: dict) -> int:
    """Tune on the corpus alone, evaluate again, and compare every stage with the paired test."""
    from eval.compare import compare, format_deltas
    from eval.report import report_dict, retrieval_config, write_report
    from eval.retrieval import evaluate_retrieval
    from eval.tune import tune_on_corpus

    try:
        tuned, result = tune_on_corpus(dataset, settings, Path(args.cache), keep)
    except ValueError as exc:
        print(f"rag eval: {exc}", file=sys.stderr)
        return EXIT_USAGE
    pairs = ", ".join(f"{n} {kind}" for kind, n in sorted(result.pairs.items()))
    print(f"\ntuned on {pairs} pairs, {result.steps} steps in {result.seconds:.0f} s; held-out MRR {result.base_score:.4f} -> {result.tuned_score:.4f}")
    if tuned is None:
        print("the tuned model does not beat the base one on its held-out pairs: not kept, nothing to compare")
        return EXIT_OK
    results = evaluate_retrieval(dataset, tuned, Path(args.cache), keep, progress=sys.stderr.isatty())
    after = report_dict(Path(args.dataset).name, args.split, retrieval_config(tuned, len(dataset.queries), keep is not None), results)
    after["config"]["tuned"] = {
        "pairs": result.pairs,
        "steps": result.steps,
        "seconds": round(result.seconds),
        "held_out_mrr": [result.base_score, result.tuned_score],
    }
    out = Path(args.out) / "tuned"
    print(write_report(after, out))
    for stage in after["stages"]:
        print(f"\n{stage}: base (A) against tuned (B)\n" + format_deltas(compare(before, after, stage, stage)))
    print(f"report: {out / 'report.md'}")
    return EXIT_OK


def cmd_eval_qa(args: argparse.Namespace) -> int:
    from eval.judges import load_judge
    from eval.own import questions_from_csv, questions_from_feedback, resolve_sources
    from eval.qa import evaluate_qa, load_claims, load_questions
    from eval.qa_report import answer_config, qa_report_dict, write_qa_report
    from eval.retrieval import build_index
    from rag.answering.engine import Engine, llm_needed
    from rag.feedback import FeedbackStore
    from rag.search.embedding import Embedder
    from rag.storage.index import IndexCorruptError
    from rag.storage.snapshots import IndexNotFoundError
    from rag.storage.store import IndexMismatchError

    dataset, extractive = Path(args.dataset), args.generator == "extractive"
    try:
        settings = args.settings
        if args.tradeoff:  # every reader answer keeps its span and confidence; the cuts are applied afterwards
            settings = settings.model_copy(update={"reader": settings.reader.model_copy(update={"threshold": -1e9})})
        if args.claims:
            items = load_claims(dataset, args.max_questions)
        elif args.feedback:
            if not args.index:
                raise ValueError("--feedback asks again what was rated in an index: give it with --index")
            items = questions_from_feedback(FeedbackStore(Path(args.index)).rows())[: args.max_questions]
            if not items:
                raise ValueError(f"{args.index} holds no feedback yet: rate some answers first")
        elif (Path(args.questions) if args.questions else dataset).suffix.lower() == ".csv":
            source = Path(args.questions) if args.questions else dataset
            items = questions_from_csv(source.read_bytes(), source.name)[: args.max_questions]
        else:
            questions = Path(args.questions) if args.questions else dataset if dataset.is_file() else dataset / "questions.jsonl"
            if not questions.is_file():
                raise FileNotFoundError(f"no questions file: {questions}")
            items = load_questions(questions, args.max_questions)
        if args.index is None and not (dataset / "corpus.jsonl").is_file():
            raise FileNotFoundError(f"{dataset} has no corpus.jsonl: give one, or an existing index with --index")
        embedder = Embedder.load(settings.embedding)
        if args.index:  # a user's own index: gold ids are its files, by path or by unambiguous name
            index_dir, doc_of = Path(args.index), {}
        else:
            index_dir, doc_of = build_index(dataset / "corpus.jsonl", settings, embedder, Path(args.cache))
        engine = Engine.from_settings(settings, index_dir, load_llm=not extractive and llm_needed(settings.generation), embedder=embedder)
        if args.index:
            items, skipped = resolve_sources(items, engine.index.store.files())
            for why in skipped:
                print(f"rag eval qa: left out {why}", file=sys.stderr)
        judge = load_judge(settings.judge, embedder.device)
    except (FileNotFoundError, IndexNotFoundError, IndexMismatchError, IndexCorruptError, ValueError) as exc:
        print(f"rag eval qa: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if sys.stderr.isatty():
        from tqdm import tqdm

        items = tqdm(items, unit="question")
    rows = evaluate_qa(items, engine, doc_of, judge, extractive)
    if extractive:
        answered_by = "extractive"
    elif settings.generation.answer_style == "reader":
        answered_by = "reader" if engine.reader else "extractive (no reader)"
    else:
        answered_by = engine.generator.name if engine.generator else "extractive"
    config = answer_config(settings, answered_by, index_dir)
    name = "feedback" if args.feedback else dataset.name or index_dir.resolve().name
    report = qa_report_dict(name, "claims" if args.claims else "qa", judge.name, config, rows)
    print(write_qa_report(report, Path(args.out)))
    print(f"report: {Path(args.out) / 'report.md'}")
    if args.tradeoff and engine.reader is not None:
        write_tradeoff(rows, engine.reader, Path(args.out))
    return EXIT_OK


def write_tradeoff(rows: list[dict], reader, out: Path) -> None:
    """tradeoff.json and tradeoff.png: declines as the reader's confidence cut moves."""
    from eval.tradeoff import plot_tradeoff, tradeoff_rows

    shipped = reader.confidence(reader.manifest.threshold)
    cuts = sorted({round(c, 3) for c in [i / 40 for i in range(41)] + [shipped]})
    table = tradeoff_rows(rows, cuts)
    (out / "tradeoff.json").write_text(json.dumps({"shipped_confidence": shipped, "rows": table}, indent=2) + "\n")
    plot_tradeoff(table, out / "tradeoff.png", shipped)
    for row in table:
        mark = "  <- shipped threshold" if abs(row["confidence"] - round(shipped, 3)) < 1e-9 else ""
        print(
            f"confidence >= {row['confidence']:.3f}: unanswerable declined {row['unanswerable_declined']:.3f}, "
            f"answerable declined {row['answerable_declined']:.3f}, answerable F1 {row['answerable_f1']:.3f}{mark}"
        )
    print(f"trade-off: {out / 'tradeoff.json'}, {out / 'tradeoff.png'}")


def cmd_eval_compare(args: argparse.Namespace) -> int:
    from eval.compare import compare, compare_reports, format_deltas

    try:
        a, b = (json.loads(Path(p).read_text()) for p in (args.report_a, args.report_b))
        staged = args.stage_a or args.stage_b
        rows = compare(a, b, args.stage_a, args.stage_b, args.trials) if staged else compare_reports(a, b, args.trials)
    except (OSError, ValueError, KeyError) as exc:
        print(f"rag eval compare: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if "per_question" in a:
        print(f"A: {args.report_a}\nB: {args.report_b}\n")
    else:
        print(f"A: {args.report_a} ({args.stage_a or a['default_stage']})\nB: {args.report_b} ({args.stage_b or b['default_stage']})\n")
    print(format_deltas(rows))
    return EXIT_OK
