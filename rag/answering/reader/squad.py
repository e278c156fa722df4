"""SQuAD-format question files (v1.1 and v2.0 JSON) as plain examples, and the training mix a
reader learns from: answerable questions, real unanswerable ones, and negatives made from the
answerable ones (SQuAD v1 has none, and a reader that never saw a passage without the answer
never learns to decline)."""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from pathlib import Path

from rag.sentences import split_sentences


@dataclass(frozen=True)
class QAExample:
    """One question over one passage; `answers` are (text, character start) pairs, empty when
    the passage does not answer it."""

    id: str
    question: str
    context: str
    answers: tuple[tuple[str, int], ...]
    title: str = ""

    @property
    def answerable(self) -> bool:
        return bool(self.answers)


def load_squad(path: Path) -> list[QAExample]:
    """Every question of a SQuAD JSON file (v1.1 or v2.0 layout). Answers whose start is -1 or
    whose text is not at that start are dropped; a question left with none is dropped too unless
    it is marked `is_impossible` (a question meant to have no answer)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))["data"]
    except (OSError, ValueError, KeyError) as exc:
        raise ValueError(f"{path}: not a SQuAD JSON file ({exc})") from exc
    examples: list[QAExample] = []
    for a, article in enumerate(data):
        for p, paragraph in enumerate(article["paragraphs"]):
            context = paragraph["context"]
            for q, qa in enumerate(paragraph["qas"]):
                answers = tuple(
                    (x["text"], x["answer_start"])
                    for x in qa.get("answers", [])
                    if x["answer_start"] >= 0 and context[x["answer_start"] : x["answer_start"] + len(x["text"])] == x["text"]
                )
                if not answers and not qa.get("is_impossible", False):
                    continue
                examples.append(QAExample(qa.get("id", f"{a}-{p}-{q}"), qa["question"], context, answers, article.get("title", "")))
    return examples


def without_answer_sentence(example: QAExample) -> QAExample | None:
    """The example's passage with every sentence that holds an answer cut out, as an unanswerable
    example (the passage still reads as on topic, as SQuAD 2.0's unanswerable ones do); None when
    too little is left or the answer text still appears."""
    spans = split_sentences(example.context)
    keep = [(a, b) for a, b in spans if not any(a < start + len(text) and start < b for text, start in example.answers)]
    if len(keep) < 2 or len(keep) == len(spans):
        return None
    context = " ".join(example.context[a:b] for a, b in keep)
    if any(text.lower() in context.lower() for text, _ in example.answers):
        return None
    return QAExample(example.id + "-cut", example.question, context, (), example.title)


def from_other_paragraph(example: QAExample, others: list[str], rng: random.Random) -> QAExample | None:
    """The question over another paragraph of the same article that does not hold its answer."""
    candidates = [c for c in others if c != example.context and not any(t.lower() in c.lower() for t, _ in example.answers)]
    if not candidates:
        return None
    return QAExample(example.id + "-other", example.question, rng.choice(candidates), (), example.title)


# A name in a question (capitalised words after its first) or a year: what SQuAD 2.0's writers most
# often swapped to make a question its passage does not answer.
_NAME = re.compile(r"(?<=\S )(?:[A-Z][\w'-]+)(?: (?:of |de |the )?[A-Z][\w'-]+)*|\b(?:1[0-9]{3}|20[0-9]{2})\b")


def names_in(question: str) -> list[str]:
    """The names and years of a question, in order (the first word is never taken for a name)."""
    return [m.group(0) for m in _NAME.finditer(question)]


def with_swapped_name(example: QAExample, pool: list[str], rng: random.Random) -> QAExample | None:
    """The question with one of its names (or years) that the passage holds replaced by another of
    the same kind from `pool` (names from questions on the same article: on topic) that the
    passage does not mention: it reads as answerable but asks about something the passage never
    says (SQuAD 2.0's commonest unanswerable kind). None when the question names nothing the
    passage holds or the pool has nothing to put in its place."""
    context = example.context.lower()
    present = [n for n in names_in(example.question) if n.lower() in context]
    if not present:
        return None
    old = rng.choice(present)
    year = old.isdigit()
    for _ in range(20):
        new = rng.choice(pool)
        if new.isdigit() == year and new.lower() not in context and new.lower() not in example.question.lower():
            question = example.question.replace(old, new, 1)
            return QAExample(example.id + "-swap", question, example.context, (), example.title)
    return None


def training_mix(answerable: list[QAExample], unanswerable: list[QAExample], negative_share: float, seed: int) -> list[QAExample]:
    """Answerable examples plus negatives, so that about `negative_share` of the whole has no
    answer (SQuAD 2.0's training set has a third): the real unanswerable ones, then, a third
    each, answer-sentence-cut passages, other paragraphs of the same article and questions with a
    swapped name. Shuffled."""
    rng = random.Random(seed)
    by_title: dict[str, list[str]] = {}
    names: dict[str, list[str]] = {}
    for ex in answerable:
        paragraphs = by_title.setdefault(ex.title, [])
        if not paragraphs or paragraphs[-1] != ex.context:
            paragraphs.append(ex.context)
        names.setdefault(ex.title, []).extend(names_in(ex.question))
    wanted = int(len(answerable) * negative_share / (1 - negative_share)) - len(unanswerable)
    made: list[QAExample] = []
    order = rng.sample(range(len(answerable)), len(answerable))
    for n, i in enumerate(order):
        if len(made) >= max(0, wanted):
            break
        ex = answerable[i]
        kind = n % 3
        if kind == 0:
            negative = without_answer_sentence(ex)
        elif kind == 1:
            negative = from_other_paragraph(ex, by_title[ex.title], rng)
        else:
            negative = with_swapped_name(ex, names[ex.title], rng)
        if negative is not None:
            made.append(negative)
    mix = answerable + unanswerable + made
    rng.shuffle(mix)
    return mix
