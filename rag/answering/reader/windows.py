"""Question + passage pairs cut into overlapping windows of word pieces, the unit a reader reads:
with span labels for training, with each word piece's character span for reading answers out."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rag.answering.reader.squad import QAExample
from rag.search.tokenizer import pad_id

PARAGRAPH_BREAK_RE = re.compile(r"\n[^\S\n]*\n")  # a blank line: no answer runs across one (a heading and the text under it)


@dataclass
class Windows:
    """Token windows over (question, passage) pairs. Row i belongs to pair `pair[i]`; its passage
    word pieces are those with `offsets[i][j] >= 0`, at characters `offsets[i][j]` of the passage
    (-1 marks the question, [CLS], [SEP] and padding)."""

    input_ids: np.ndarray  # (windows, length) int64
    attention_mask: np.ndarray
    token_type_ids: np.ndarray
    pair: np.ndarray  # (windows,) index of the pair each window came from
    starts: np.ndarray  # (windows, length) character start of each passage word piece, -1 elsewhere
    ends: np.ndarray  # (windows, length) character end
    paragraphs: np.ndarray  # (windows, length) paragraph of the passage each word piece is in (blank lines part them), -1 elsewhere

    def __len__(self) -> int:
        return len(self.pair)

    def inputs(self, rows: slice | np.ndarray) -> dict[str, np.ndarray]:
        return {"input_ids": self.input_ids[rows], "attention_mask": self.attention_mask[rows], "token_type_ids": self.token_type_ids[rows]}


def _encodings(tokenizer, questions: Sequence[str], passages: Sequence[str], max_length: int, stride: int) -> list[tuple[int, object]]:
    """(pair index, `tokenizers.Encoding`) for every window, pair by pair: the question whole, the
    passage cut into windows sharing `stride` word pieces (what transformers' tokenizer does with
    `return_overflowing_tokens`; `tokenizer` is a `tokenizers.Tokenizer` or a fast tokenizer)."""
    backend = getattr(tokenizer, "backend_tokenizer", tokenizer)
    backend.no_padding()
    backend.enable_truncation(max_length, stride=stride, strategy="only_second")
    windows: list[tuple[int, object]] = []
    for i, enc in enumerate(backend.encode_batch(list(zip(questions, passages)))):
        windows += [(i, window) for window in (enc, *enc.overflowing)]
    return windows


def read_windows(tokenizer, questions: Sequence[str], passages: Sequence[str], max_length: int = 384, stride: int = 128) -> Windows:
    """Windows for reading, padded to the longest: every passage covered, consecutive windows
    sharing `stride` word pieces."""
    windows = _encodings(tokenizer, questions, passages, max_length, stride)
    n, length = len(windows), max((len(enc.ids) for _, enc in windows), default=0)
    ids = np.full((n, length), pad_id(getattr(tokenizer, "backend_tokenizer", tokenizer)), dtype=np.int64)
    mask, types = np.zeros((n, length), dtype=np.int64), np.zeros((n, length), dtype=np.int64)
    starts = np.full((n, length), -1, dtype=np.int64)
    ends = np.full((n, length), -1, dtype=np.int64)
    paragraphs = np.full((n, length), -1, dtype=np.int64)
    breaks = [np.asarray([m.start() for m in PARAGRAPH_BREAK_RE.finditer(p)], dtype=np.int64) for p in passages]
    for i, (pair, enc) in enumerate(windows):
        k = len(enc.ids)
        ids[i, :k], mask[i, :k], types[i, :k] = enc.ids, enc.attention_mask, enc.type_ids
        for j, (seq, (a, b)) in enumerate(zip(enc.sequence_ids, enc.offsets)):
            if seq == 1:
                starts[i, j], ends[i, j] = a, b
        in_passage = starts[i] >= 0
        paragraphs[i, in_passage] = np.searchsorted(breaks[pair], starts[i, in_passage], side="right")
    return Windows(ids, mask, types, np.asarray([pair for pair, _ in windows], dtype=np.int64), starts, ends, paragraphs)


def training_features(tokenizer, examples: Sequence[QAExample], max_length: int, stride: int) -> dict[str, list]:
    """Unpadded training windows with `start_positions`/`end_positions`: the first answer's word
    pieces where the window holds it whole, else 0 ([CLS], the "no answer" span), as in SQuAD 2.0."""
    windows = _encodings(tokenizer, [e.question for e in examples], [e.context for e in examples], max_length, stride)
    starts, ends = [], []
    for sample, enc in windows:
        example = examples[sample]
        start_tok = end_tok = 0
        if example.answerable:
            text, char_start = example.answers[0]
            char_end = char_start + len(text)
            offsets = enc.offsets
            passage = [j for j, s in enumerate(enc.sequence_ids) if s == 1]
            if offsets[passage[0]][0] <= char_start and offsets[passage[-1]][1] >= char_end:
                start_tok = next(j for j in passage if offsets[j][1] > char_start)
                end_tok = next(j for j in reversed(passage) if offsets[j][0] < char_end)
        starts.append(start_tok)
        ends.append(end_tok)
    return {
        "input_ids": [enc.ids for _, enc in windows],
        "attention_mask": [enc.attention_mask for _, enc in windows],
        "token_type_ids": [enc.type_ids for _, enc in windows],
        "start_positions": starts,
        "end_positions": ends,
    }
