"""BEIR-format datasets: `corpus.jsonl` (_id, title, text), `queries.jsonl` (_id, text) and
`qrels/SPLIT.tsv` (query-id, corpus-id, score), written out as one text file per document so
the evaluation goes through the same ingest code as a user's folder."""

from __future__ import annotations

import csv
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

SAFE_NAME_RE = re.compile(r"[^A-Za-z0-9_.-]")


@dataclass
class BeirDataset:
    folder: Path
    split: str
    queries: dict[str, str]  # only the queries with judgements in `split`
    qrels: dict[str, dict[str, int]]  # query id -> {doc id: relevance}

    @property
    def corpus_file(self) -> Path:
        return self.folder / "corpus.jsonl"


def load_beir(folder: Path, split: str, max_queries: int | None = None) -> BeirDataset:
    """The queries and judgements of `split`; a clear error names any missing file."""
    for required in ("corpus.jsonl", "queries.jsonl", f"qrels/{split}.tsv"):
        if not (folder / required).is_file():
            raise FileNotFoundError(f"{folder} is not a BEIR dataset for split {split!r}: {required} is missing")
    qrels: dict[str, dict[str, int]] = {}
    with open(folder / "qrels" / f"{split}.tsv", encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            if int(row["score"]) > 0:
                qrels.setdefault(row["query-id"], {})[row["corpus-id"]] = int(row["score"])
    queries = {}
    with open(folder / "queries.jsonl", encoding="utf-8") as fh:
        for line in fh:
            q = json.loads(line)
            if q["_id"] in qrels:
                queries[q["_id"]] = q["text"]
    chosen = sorted(queries, key=lambda q: (len(q), q))[:max_queries] if max_queries else sorted(queries)
    return BeirDataset(folder, split, {q: queries[q] for q in chosen}, {q: qrels[q] for q in chosen})


def corpus_slice(dataset: BeirDataset, others: int) -> set[str]:
    """The judged documents plus the first `others` of the corpus: a small, still meaningful corpus."""
    keep = set().union(*dataset.qrels.values())
    with open(dataset.corpus_file, encoding="utf-8") as fh:
        ids = (json.loads(line)["_id"] for line in fh)
        keep |= {doc for _, doc in zip(range(others), ids)}
    return keep


def doc_file_name(doc_id: str) -> str:
    """A safe, unique file name for a corpus id (the id itself when it is already safe)."""
    safe = SAFE_NAME_RE.sub("_", doc_id)
    if safe != doc_id:
        safe += "-" + hashlib.sha1(doc_id.encode()).hexdigest()[:8]
    return f"{safe}.txt"


def write_corpus(corpus_jsonl: Path, folder: Path, limit: int | None = None, keep: set[str] | None = None) -> dict[str, str]:
    """Write each document as `title`, blank line, `text`; returns {file name: doc id}.
    `keep` restricts to those ids, `limit` to the first N written."""
    folder.mkdir(parents=True, exist_ok=True)
    names: dict[str, str] = {}
    with open(corpus_jsonl, encoding="utf-8") as fh:
        for line in fh:
            if limit is not None and len(names) >= limit:
                break
            doc = json.loads(line)
            if keep is not None and doc["_id"] not in keep:
                continue
            name = doc_file_name(doc["_id"])
            (folder / name).write_text(f"{doc.get('title', '')}\n\n{doc['text']}\n", encoding="utf-8")
            names[name] = doc["_id"]
    return names
