"""Compare two retrieval reports, or two answer reports: per-metric deltas over the queries both
answered, each with a two-sided paired randomisation test (random sign flips of the per-query
differences)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from eval.retrieval import METRICS


@dataclass
class Delta:
    metric: str
    a: float
    b: float
    delta: float
    p_value: float
    queries: int


def paired_randomisation_p(a: np.ndarray, b: np.ndarray, trials: int = 10_000, seed: int = 0) -> float:
    """P(|mean difference| at least as large as observed | the systems are exchangeable)."""
    diff = np.asarray(b, dtype=np.float64) - np.asarray(a, dtype=np.float64)
    observed = abs(diff.mean()) if len(diff) else 0.0
    if observed == 0.0:
        return 1.0
    signs = np.random.default_rng(seed).choice([-1.0, 1.0], size=(trials, len(diff)))
    extreme = np.count_nonzero(np.abs((signs * diff).mean(axis=1)) >= observed - 1e-12)
    return (extreme + 1) / (trials + 1)


def compare(report_a: dict, report_b: dict, stage_a: str | None = None, stage_b: str | None = None, trials: int = 10_000) -> list[Delta]:
    """B against A for each metric, on each report's default stage unless named."""
    stage_a = stage_a or report_a["default_stage"]
    stage_b = stage_b or report_b["default_stage"]
    for report, stage in ((report_a, stage_a), (report_b, stage_b)):
        if stage not in report.get("per_query", {}):
            raise ValueError(f"report of {report['dataset']} has no per-query scores for stage {stage!r}")
    rows = []
    for metric in METRICS:
        a, b = report_a["per_query"][stage_a][metric], report_b["per_query"][stage_b][metric]
        shared = sorted(a.keys() & b.keys())
        if not shared:
            raise ValueError("the two reports share no query: were they run on the same dataset and split?")
        va, vb = np.array([a[q] for q in shared]), np.array([b[q] for q in shared])
        rows.append(Delta(metric, float(va.mean()), float(vb.mean()), float(vb.mean() - va.mean()), paired_randomisation_p(va, vb, trials), len(shared)))
    return rows


def compare_answers(report_a: dict, report_b: dict, trials: int = 10_000) -> list[Delta]:
    """B against A for each answer metric both reports hold, over the questions (same ids) that
    both scored on it."""
    scores_a = {row["id"]: row["scores"] for row in report_a["per_question"]}
    scores_b = {row["id"]: row["scores"] for row in report_b["per_question"]}
    if not scores_a.keys() & scores_b.keys():
        raise ValueError("the two reports share no question: were they run on the same questions?")
    rows = []
    for metric in sorted(report_a["metrics"].keys() & report_b["metrics"].keys()):
        shared = sorted(q for q in scores_a.keys() & scores_b.keys() if scores_a[q].get(metric) is not None and scores_b[q].get(metric) is not None)
        if shared:
            va, vb = np.array([scores_a[q][metric] for q in shared]), np.array([scores_b[q][metric] for q in shared])
            rows.append(Delta(metric, float(va.mean()), float(vb.mean()), float(vb.mean() - va.mean()), paired_randomisation_p(va, vb, trials), len(shared)))
    return rows


def compare_reports(report_a: dict, report_b: dict, trials: int = 10_000) -> list[Delta]:
    """Two retrieval reports (default stages) or two answer reports; a mix is an error."""
    kinds = ["answers" if "per_question" in r else "retrieval" if "per_query" in r else "unknown" for r in (report_a, report_b)]
    if kinds[0] != kinds[1] or "unknown" in kinds:
        raise ValueError(f"cannot compare a {kinds[0]} report with a {kinds[1]} report")
    return compare_answers(report_a, report_b, trials) if kinds[0] == "answers" else compare(report_a, report_b, trials=trials)


def format_deltas(rows: list[Delta], alpha: float = 0.05) -> str:
    lines = ["| metric | A | B | B - A | p | queries |", "| --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        mark = " *" if r.p_value < alpha else ""
        lines.append(f"| {r.metric} | {r.a:.4f} | {r.b:.4f} | {r.delta:+.4f}{mark} | {r.p_value:.4f} | {r.queries} |")
    lines.append(f"\n* p < {alpha} (two-sided paired randomisation test)")
    return "\n".join(lines)
