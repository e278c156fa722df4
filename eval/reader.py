"""`rag eval reader FILE.json`: the reader alone on each question's own (gold) paragraph, scored
with the official SQuAD 2.0 metric (exact, f1, HasAns_*, NoAns_*: an unanswerable question is
right only when the reader declines), so its figure sits beside published ones.

The metric follows the official evaluation script's definitions (normalise: lower case, drop
punctuation and articles, collapse spaces; F1 of an empty answer is 1 only against an empty
gold); written here, as it is a dozen lines and the script is not a package."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from eval.latency import percentiles
from eval.qa import normalize, token_f1
from rag.answering.reader.model import Reader
from rag.answering.reader.squad import QAExample


@dataclass
class ReaderPrediction:
    id: str
    golds: list[str]  # gold answer texts; empty: the question has no answer
    text: str  # the reader's best span (before the no-answer decision)
    margin: float  # best span score minus the no-answer score
    seconds: float


def scores_of(prediction: str, golds: Sequence[str]) -> tuple[float, float]:
    """(exact, f1) of one answer ("" is a decline) against its golds ([""] when there are none)."""
    golds = [g for g in golds if normalize(g)] or [""]
    return max(float(normalize(prediction) == normalize(g)) for g in golds), max(token_f1(prediction, g) for g in golds)


def predict(reader: Reader, examples: Sequence[QAExample], on_step: Callable[[int, int], None] | None = None) -> list[ReaderPrediction]:
    """The reader's best span and margin for each question over its own paragraph."""
    out = []
    for n, ex in enumerate(examples, start=1):
        started = time.perf_counter()
        reading = reader.read(ex.question, [ex.context])
        seconds = time.perf_counter() - started
        text = ex.context[reading.best.start : reading.best.end] if reading.best else ""
        out.append(ReaderPrediction(ex.id, [t for t, _ in ex.answers], text, reading.margin, seconds))
        if on_step:
            on_step(n, len(examples))
    return out


def squad2_report(predictions: Sequence[ReaderPrediction], threshold: float) -> dict[str, float]:
    """The official script's keys, in percent: a question is declined when its margin is below `threshold`."""
    rows = [scores_of(p.text if p.margin >= threshold else "", p.golds) for p in predictions]
    has = [p.golds != [] for p in predictions]
    report: dict[str, float] = {"exact": 0.0, "f1": 0.0, "total": len(rows)}
    if rows:
        report["exact"] = 100 * float(np.mean([r[0] for r in rows]))
        report["f1"] = 100 * float(np.mean([r[1] for r in rows]))
    for name, keep in (("HasAns", True), ("NoAns", False)):
        part = [r for r, h in zip(rows, has) if h == keep]
        report[f"{name}_total"] = len(part)
        if part:
            report[f"{name}_exact"] = 100 * float(np.mean([r[0] for r in part]))
            report[f"{name}_f1"] = 100 * float(np.mean([r[1] for r in part]))
    return report


def best_threshold(predictions: Sequence[ReaderPrediction]) -> float:
    """The margin threshold with the highest overall F1 (the script's `best_f1_thresh`), scanned
    over the margins themselves."""
    candidates = sorted({p.margin for p in predictions if math.isfinite(p.margin)})
    if not candidates:
        return 0.0
    answer_f1 = np.array([scores_of(p.text, p.golds)[1] for p in predictions])
    decline_f1 = np.array([float(not p.golds) for p in predictions])
    margins = np.array([p.margin for p in predictions])
    best, best_f1 = candidates[0], -1.0
    for t in candidates:
        f1 = float(np.where(margins >= t, answer_f1, decline_f1).mean())
        if f1 > best_f1:
            best, best_f1 = t, f1
    return float(best)


def answerable_threshold(predictions: Sequence[ReaderPrediction], declined: float) -> float:
    """The margin under which only `declined` of the answerable questions fall: the highest
    threshold that keeps answerable declines to that share. Chosen over the best-F1 threshold
    because this reader's margin barely tells SQuAD 2.0's unanswerable questions from answerable
    ones (the best F1 came from declining 80% of both), and a user judges wrong declines first."""
    margins = [p.margin for p in predictions if p.golds and math.isfinite(p.margin)]
    return float(np.quantile(margins, declined)) if margins else 0.0


def fit_confidence(predictions: Sequence[ReaderPrediction]) -> tuple[float, float]:
    """(a, b) so that sigmoid(a * margin + b) is the probability that the best span is a right
    answer (token F1 >= 0.5 against a gold; never, for a question without one): Platt scaling."""
    from sklearn.linear_model import LogisticRegression

    keep = [p for p in predictions if math.isfinite(p.margin)]
    x = np.array([[p.margin] for p in keep])
    y = np.array([int(bool(p.golds) and scores_of(p.text, p.golds)[1] >= 0.5) for p in keep])
    if len(set(y)) < 2:
        return 1.0, 0.0
    model = LogisticRegression(C=1e4).fit(x, y)
    return float(model.coef_[0][0]), float(model.intercept_[0])


def tradeoff(predictions: Sequence[ReaderPrediction], thresholds: Sequence[float]) -> list[dict[str, float]]:
    """At each threshold: share of unanswerable questions declined, of answerable ones declined, and F1."""
    has = np.array([bool(p.golds) for p in predictions])
    margins = np.array([p.margin for p in predictions])
    rows = []
    for t in thresholds:
        declined = margins < t
        rows.append(
            {
                "threshold": float(t),
                "unanswerable_declined": float(declined[~has].mean()) if (~has).any() else 0.0,
                "answerable_declined": float(declined[has].mean()) if has.any() else 0.0,
                "f1": squad2_report(predictions, t)["f1"],
            }
        )
    return rows


def latency(predictions: Sequence[ReaderPrediction]) -> dict[str, float]:
    ms = [p.seconds * 1000 for p in predictions] or [0.0]
    return {**percentiles(ms, suffix="_ms"), "mean_ms": round(float(np.mean(ms)), 2)}
