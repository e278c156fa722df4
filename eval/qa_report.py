"""The answer-evaluation report: report.json (means, latency, every question with its answer and
scores), report.md (the tables and a sample of answers a person can check by eye) and two plots."""

from __future__ import annotations

from pathlib import Path

from eval.qa import latency, summarize
from eval.report import save_figure, write_report_files
from rag.config import Settings

METRIC_NAMES = {
    "context_recall": "context recall (gold passage in the top k)",
    "gold_passage_first": "gold passage ranked first by retrieval",
    "exact_match": "exact match",
    "token_f1": "token F1",
    "contains_answer": "gold answer contained",
    "faithfulness": "faithfulness (sentences supported by what they cite)",
    "citation_precision": "citation precision (citations that support their claim)",
    "gold_citation_precision": "cited passages from a gold document",
    "rationale_cited": "a rationale sentence is cited (claims)",
    "abstained": "abstention rate",
    "declined_unanswerable": "declined, of questions the collection cannot answer",
    "declined_answerable": "declined, of questions with a gold answer",
    "context_recall_not_rewritten": "context recall of a follow-up searched as asked (not rewritten)",
    "rewritten": "follow-ups made standalone before the search",
    "standalone_right": "follow-ups resolved to their expected standalone question",
}
EXAMPLES = 8


def answer_config(settings: Settings, generator: str, index_dir: Path) -> dict:
    """The settings that shaped an answer report, recorded in it."""
    return {
        "generator": generator,
        "top_k": settings.retrieval.top_k,
        "max_sources": settings.generation.max_sources,
        "fusion": f"{settings.retrieval.fusion} (dense weight {settings.retrieval.dense_weight})",
        "reranker": settings.rerank.model or None,
        "abstain_below": settings.generation.abstain_below,
        "reader": f"{settings.reader.model} (threshold {'from its manifest' if settings.reader.threshold is None else settings.reader.threshold})"
        if generator == "reader"
        else None,
        "index": str(index_dir),
    }


def qa_report_dict(dataset: str, mode: str, judge: str, config: dict, rows: list[dict]) -> dict:
    return {
        "dataset": dataset,
        "mode": mode,
        "judge": judge,
        "config": config,
        "questions": len(rows),
        "metrics": summarize(rows),
        "latency_ms": latency(rows),
        "per_question": rows,
    }


def qa_markdown(report: dict) -> str:
    lines = ["| metric | mean | questions |", "| --- | --- | --- |"]
    for name, value in report["metrics"].items():
        lines.append(f"| {METRIC_NAMES.get(name, name)} | {value['mean']:.4f} | {value['n']} |")
    lines += ["", "| timing | p50 ms | p95 ms | questions |", "| --- | --- | --- | --- |"]
    for stage, value in report["latency_ms"].items():
        lines.append(f"| {stage} | {value['p50']:.1f} | {value['p95']:.1f} | {value['n']} |")
    return "\n".join(lines)


def write_qa_plots(report: dict, out: Path) -> list[Path]:
    """metrics.png (each metric's mean, with its question count) and latency.png (the spread of
    each question's total time)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = report["metrics"]
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(metrics) + 1.2))
    names = list(metrics)[::-1]
    ax.barh([f"{n} ({metrics[n]['n']})" for n in names], [metrics[n]["mean"] for n in names], color="#4c72b0")
    ax.set_xlim(0, 1)
    ax.set_title(f"{report['dataset']}: {report['questions']} questions")
    paths = [save_figure(fig, out / "metrics.png")]
    totals = [row["timings"].get("total", row["timings"].get("wall")) for row in report["per_question"]]
    totals = [t for t in totals if t is not None]
    if totals:
        fig, ax = plt.subplots(figsize=(6, 3))
        ax.hist(totals, bins=min(30, max(5, len(totals) // 2)), color="#55a868")
        ax.set_xlabel("time per answer (ms)")
        ax.set_ylabel("questions")
        paths.append(save_figure(fig, out / "latency.png"))
    return paths


def write_qa_report(report: dict, out: Path) -> str:
    """The answer evaluation's files (write_report_files), with a sample of answers to check by
    eye; returns the markdown tables."""
    tables = qa_markdown(report)
    examples = []
    for row in report["per_question"][:EXAMPLES]:
        gold = f"\n  - gold: {'; '.join(row['gold'])}" if row["gold"] else ""
        examples.append(f"- **{row['question']}**\n  - answer ({row['generator']}): {row['answer']}{gold}\n  - scores: {row['scores']}")
    body = f"{tables}\n\nJudge: {report['judge']}\n\n## First {len(examples)} answers\n\n" + "\n".join(examples)
    write_report_files(out, report, f"Answer evaluation: {report['dataset']} ({report['mode']})", body, write_qa_plots)
    return tables
