"""Reading span scores out of a reader's start/end logits: the best spans of each window, and the
"no answer" score ([CLS] start + [CLS] end) beside them, as SQuAD 2.0 readers are scored."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rag.answering.reader.windows import Windows


@dataclass(frozen=True)
class Span:
    """A candidate answer: characters [start, end) of passage `passage`, with its score
    (start logit + end logit) and the no-answer score of the window it was read in."""

    passage: int
    start: int
    end: int
    score: float
    null_score: float


def best_spans(windows: Windows, start_logits: np.ndarray, end_logits: np.ndarray, max_answer_tokens: int = 30, per_window: int = 3) -> list[Span]:
    """The `per_window` best spans of each window (passage word pieces of one paragraph only, end
    at or after start, at most `max_answer_tokens` long), best first over all windows."""
    spans: list[Span] = []
    length = start_logits.shape[1]
    band = np.triu(np.ones((length, length), dtype=bool)) & ~np.triu(np.ones((length, length), dtype=bool), k=max_answer_tokens)
    for i in range(len(windows)):
        in_passage = windows.starts[i] >= 0
        if not in_passage.any():
            continue
        pair_scores = start_logits[i][:, None] + end_logits[i][None, :]
        allowed = band & in_passage[:, None] & in_passage[None, :] & (windows.paragraphs[i][:, None] == windows.paragraphs[i][None, :])
        pair_scores = np.where(allowed, pair_scores, -np.inf)
        flat = np.argpartition(pair_scores.ravel(), -per_window)[-per_window:]
        null = float(start_logits[i][0] + end_logits[i][0])
        for f in flat:
            s, e = divmod(int(f), length)
            if np.isfinite(pair_scores[s, e]):
                spans.append(Span(int(windows.pair[i]), int(windows.starts[i, s]), int(windows.ends[i, e]), float(pair_scores[s, e]), null))
    spans.sort(key=lambda sp: -sp.score)
    return spans


def null_scores(windows: Windows, start_logits: np.ndarray, end_logits: np.ndarray, pairs: int) -> np.ndarray:
    """Each pair's no-answer score: the lowest over its windows (the window that best sees the
    passage's answer, when it has one, says "no answer" least), as the SQuAD 2.0 baselines do."""
    out = np.full(pairs, np.inf)
    np.minimum.at(out, windows.pair, start_logits[:, 0] + end_logits[:, 0])
    return out
