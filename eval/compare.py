"""Compare two retrieval reports: per-metric deltas over the queries both answered, each with a
two-sided paired randomisation test (random sign flips of the per-query differences)."""

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


def format_deltas(rows: list[Delta], alpha: float = 0.05) -> str:
    lines = ["| metric | A | B | B - A | p | queries |", "| --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        mark = " *" if r.p_value < alpha else ""
        lines.append(f"| {r.metric} | {r.a:.4f} | {r.b:.4f} | {r.delta:+.4f}{mark} | {r.p_value:.4f} | {r.queries} |")
    lines.append(f"\n* p < {alpha} (two-sided paired randomisation test)")
    return "\n".join(lines)
