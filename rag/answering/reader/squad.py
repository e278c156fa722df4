"""SQuAD-format question files (v1.1 and v2.0 JSON) as plain examples (the training mix made from
them: rag/answering/reader/mix.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


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


def _read_squad(path: Path) -> dict:
    """The file's JSON, with its `data` (the articles) checked to be there."""
    try:
        whole = json.loads(Path(path).read_text(encoding="utf-8"))
        whole["data"]
    except (OSError, ValueError, KeyError) as exc:
        raise ValueError(f"{path}: not a SQuAD JSON file ({exc})") from exc
    return whole


def load_squad(path: Path) -> list[QAExample]:
    """Every question of a SQuAD JSON file (v1.1 or v2.0 layout). Answers whose start is -1 or
    whose text is not at that start are dropped; a question left with none is dropped too unless
    it is marked `is_impossible` (a question meant to have no answer)."""
    data = _read_squad(path)["data"]
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


def split_by_article(path: Path, out_dir: Path, parts: int = 2) -> list[Path]:
    """The file's articles dealt in turn into `parts` SQuAD files in `out_dir` (article i into part
    i mod parts), each named `<stem>.part-<k>of<parts>.json`: a reader can learn from one part and
    be measured on another, which shares no article (nor paragraph) with it."""
    if parts < 2:
        raise ValueError(f"parts: {parts}; at least 2")
    whole = _read_squad(path)
    articles = whole["data"]
    if len(articles) < parts:
        raise ValueError(f"{path}: {len(articles)} articles, fewer than {parts} parts")
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    written = []
    for k in range(parts):
        target = Path(out_dir) / f"{Path(path).stem}.part-{k + 1}of{parts}.json"
        target.write_text(json.dumps({**whole, "data": articles[k::parts]}), encoding="utf-8")
        written.append(target)
    return written
