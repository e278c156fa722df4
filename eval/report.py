"""Evaluation reports a person can read: report.json (the numbers), report.md (a table) and two
PNG plots (each metric per stage; per-query nDCG@10 of hybrid against BM25)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from eval.retrieval import METRICS, StageResult
from rag.config import Settings


def retrieval_config(settings: Settings, queries: int, sliced: bool) -> dict:
    """The settings that shaped a retrieval report, recorded in it."""
    return {
        "embedding": settings.embedding.model,
        "backend": settings.backend if settings.backend == "local" else f"milvus ({settings.milvus.uri or 'Milvus Lite'}, {settings.milvus.index_type})",
        "chunk_tokens": settings.chunking.chunk_tokens,
        "overlap_tokens": settings.chunking.overlap_tokens,
        "fusion": settings.retrieval.fusion,
        "dense_weight": settings.retrieval.dense_weight,
        "candidates": f"{settings.retrieval.candidates} chunks from each of dense and BM25, as served (retrieval.candidates)",
        "bm25": settings.bm25.model_dump(),
        "reranker": settings.rerank.model or None,
        "queries": queries,
        "corpus": "slice" if sliced else "full",
        "doc_score": "max over the document's chunks (MaxP)",
    }


def report_dict(dataset: str, split: str, config: dict, results: dict[str, StageResult]) -> dict:
    """The report's JSON; the default stage is the one the product answers with."""
    return {
        "dataset": dataset,
        "split": split,
        "default_stage": "hybrid+rerank" if "hybrid+rerank" in results else "hybrid",
        "config": config,
        "stages": {
            stage: {**{m: round(r.metrics[m], 4) for m in METRICS}, "latency_ms": {k: round(v, 2) for k, v in r.latency_ms.items()}}
            for stage, r in results.items()
        },
        "per_query": {stage: r.per_query for stage, r in results.items()},
    }


def markdown_table(report: dict) -> str:
    head = "| stage | " + " | ".join(METRICS) + " | p50 ms | p95 ms |"
    rule = "|" + " --- |" * (len(METRICS) + 3)
    rows = []
    for stage, s in report["stages"].items():
        mark = " (default)" if stage == report["default_stage"] else ""
        cells = " | ".join(f"{s[m]:.4f}" for m in METRICS)
        rows.append(f"| {stage}{mark} | {cells} | {s['latency_ms']['p50']:.1f} | {s['latency_ms']['p95']:.1f} |")
    return "\n".join([head, rule, *rows])


def save_figure(fig, path: Path) -> Path:
    """Lay out, write as PNG and release a matplotlib figure; returns `path`."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write_plots(report: dict, out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stages = list(report["stages"])
    fig, ax = plt.subplots(figsize=(8, 4))
    width = 0.8 / len(stages)
    for i, stage in enumerate(stages):
        ax.bar([m + i * width for m in range(len(METRICS))], [report["stages"][stage][m] for m in METRICS], width, label=stage)
    ax.set_xticks([m + 0.4 - width / 2 for m in range(len(METRICS))], METRICS)
    ax.set_ylim(0, 1)
    ax.set_title(f"{report['dataset']} ({report['split']})")
    ax.legend()
    paths = [save_figure(fig, out / "metrics.png")]
    per_query = {stage: metrics["ndcg@10"] for stage, metrics in report["per_query"].items()}
    if "bm25" in per_query and "hybrid" in per_query:
        qids = sorted(per_query["hybrid"])
        fig, ax = plt.subplots(figsize=(5, 5))
        ax.scatter([per_query["bm25"].get(q, 0) for q in qids], [per_query["hybrid"].get(q, 0) for q in qids], s=8, alpha=0.5)
        ax.plot([0, 1], [0, 1], color="grey", linewidth=1)
        ax.set_xlabel("BM25 nDCG@10")
        ax.set_ylabel("hybrid nDCG@10")
        ax.set_title("per query")
        paths.append(save_figure(fig, out / "per_query_ndcg.png"))
    return paths


def write_report_files(out: Path, report: dict, title: str, body: str, plots: Callable[[dict, Path], list[Path]] | None = None) -> None:
    """What every evaluation leaves in `out`: report.json (the numbers), its plots, and report.md
    (the title, `body`, the plots and the settings it ran with)."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    images = "\n".join(f"![{p.stem}]({p.name})" for p in (plots(report, out) if plots else []))
    config = "\n".join(f"- `{k}`: {v}" for k, v in report.get("config", {}).items())
    (out / "report.md").write_text("\n\n".join(part for part in (f"# {title}", body, images, config) if part) + "\n")


def write_report(report: dict, out: Path) -> str:
    """The retrieval evaluation's files (write_report_files); returns the markdown table."""
    table = markdown_table(report)
    write_report_files(out, report, f"Retrieval evaluation: {report['dataset']} ({report['split']})", table, write_plots)
    return table
