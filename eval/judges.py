"""Does a passage support a claim? The judges behind faithfulness and citation precision.

The default judge needs no model: a claim is supported when the passage holds at least
`min_coverage` of the claim's stemmed content words (stopwords dropped) and every number the
claim states. It catches invented entities, numbers and off-topic sentences; it cannot see a
negation flipped with the same words, and it undercounts free paraphrase (it errs towards
"unsupported"). An NLI cross-encoder, when one is configured, judges entailment instead."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Protocol

import numpy as np

from rag.answering.citations import CITE_RE
from rag.config import JudgeSettings
from rag.storage.sparse import Tokenizer

NUMBER_RE = re.compile(r"\d+(?:[.,]\d+)*")


class Judge(Protocol):
    name: str

    def supports(self, claim: str, passage: str) -> bool: ...


def _numbers(text: str) -> set[str]:
    return {n.replace(",", "") for n in NUMBER_RE.findall(text)}


class LexicalJudge:
    """Supported when the passage covers enough of the claim's content words and all its numbers."""

    def __init__(self, min_coverage: float = 0.75) -> None:
        self.min_coverage = min_coverage
        self.name = f"lexical (content-word coverage >= {min_coverage:g}, numbers must match)"
        self._terms = Tokenizer("english", "en")

    def coverage(self, claim: str, passage: str) -> float:
        """Share of the claim's content terms found in the passage (1.0 for a claim with none)."""
        terms = set(self._terms(CITE_RE.sub(" ", claim)))
        if not terms:
            return 1.0
        return len(terms & set(self._terms(passage))) / len(terms)

    def supports(self, claim: str, passage: str) -> bool:
        claim = CITE_RE.sub(" ", claim)
        if not _numbers(claim) <= _numbers(passage):
            return False
        return self.coverage(claim, passage) >= self.min_coverage


class NliJudge:
    """Supported when an NLI cross-encoder gives (passage => claim) an entailment probability at
    or above `threshold`. The entailment label is found in the model's own label names."""

    def __init__(self, model, threshold: float = 0.5, model_name: str = "cross-encoder") -> None:
        labels = {int(i): str(name).lower() for i, name in model.config.id2label.items()}
        entail = [i for i, name in labels.items() if name.startswith("entail")]
        if len(labels) < 2 or not entail:
            raise ValueError(f"not an NLI model: its labels are {sorted(labels.values())}, none of them 'entailment'")
        self._model, self._entail, self.threshold = model, entail[0], threshold
        self.name = f"nli ({model_name}, entailment p >= {threshold:g})"

    @classmethod
    def load(cls, name: str, threshold: float = 0.5, device: str = "cpu") -> NliJudge:
        from sentence_transformers import CrossEncoder

        path = Path(name).expanduser()
        return cls(CrossEncoder(str(path) if path.is_dir() else name, device=device), threshold, name)

    def entailment(self, claim: str, passage: str) -> float:
        logits = np.asarray(self._model.predict([(passage, CITE_RE.sub(" ", claim))], show_progress_bar=False), dtype=np.float64)
        logits = logits.reshape(-1)
        probs = np.exp(logits - logits.max())
        return float(probs[self._entail] / probs.sum())

    def supports(self, claim: str, passage: str) -> bool:
        return self.entailment(claim, passage) >= self.threshold


def load_judge(settings: JudgeSettings, device: str = "cpu") -> Judge:
    """The NLI judge when one is configured, else the lexical one."""
    if settings.nli_model:
        return NliJudge.load(settings.nli_model, settings.nli_threshold, device)
    return LexicalJudge(settings.min_coverage)
