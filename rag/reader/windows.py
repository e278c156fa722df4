"""Question + passage pairs cut into overlapping windows of word pieces, the unit a reader reads:
with span labels for training, with each word piece's character span for reading answers out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rag.reader.squad import QAExample


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

    def __len__(self) -> int:
        return len(self.pair)

    def inputs(self, rows: slice | np.ndarray) -> dict[str, np.ndarray]:
        return {"input_ids": self.input_ids[rows], "attention_mask": self.attention_mask[rows], "token_type_ids": self.token_type_ids[rows]}


def _encode(tokenizer, questions: Sequence[str], passages: Sequence[str], max_length: int, stride: int, pad: bool):
    return tokenizer(
        list(questions),
        list(passages),
        truncation="only_second",
        max_length=max_length,
        stride=stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        padding="longest" if pad else False,
    )


def read_windows(tokenizer, questions: Sequence[str], passages: Sequence[str], max_length: int = 384, stride: int = 128) -> Windows:
    """Windows for reading: every passage covered, consecutive windows sharing `stride` word pieces."""
    enc = _encode(tokenizer, questions, passages, max_length, stride, pad=True)
    n, length = len(enc["input_ids"]), len(enc["input_ids"][0]) if enc["input_ids"] else 0
    starts = np.full((n, length), -1, dtype=np.int64)
    ends = np.full((n, length), -1, dtype=np.int64)
    for i in range(n):
        for j, (seq, (a, b)) in enumerate(zip(enc.sequence_ids(i), enc["offset_mapping"][i])):
            if seq == 1:
                starts[i, j], ends[i, j] = a, b
    types = enc.get("token_type_ids") or [[0] * length for _ in range(n)]
    return Windows(
        np.asarray(enc["input_ids"], dtype=np.int64).reshape(n, length),
        np.asarray(enc["attention_mask"], dtype=np.int64).reshape(n, length),
        np.asarray(types, dtype=np.int64).reshape(n, length),
        np.asarray(enc["overflow_to_sample_mapping"], dtype=np.int64),
        starts,
        ends,
    )


def training_features(tokenizer, examples: Sequence[QAExample], max_length: int, stride: int) -> dict[str, list]:
    """Unpadded training windows with `start_positions`/`end_positions`: the first answer's word
    pieces where the window holds it whole, else 0 ([CLS], the "no answer" span), as in SQuAD 2.0."""
    enc = _encode(tokenizer, [e.question for e in examples], [e.context for e in examples], max_length, stride, pad=False)
    starts, ends = [], []
    for i, sample in enumerate(enc["overflow_to_sample_mapping"]):
        example = examples[sample]
        start_tok = end_tok = 0
        if example.answerable:
            text, char_start = example.answers[0]
            char_end = char_start + len(text)
            seq = enc.sequence_ids(i)
            offsets = enc["offset_mapping"][i]
            passage = [j for j, s in enumerate(seq) if s == 1]
            if offsets[passage[0]][0] <= char_start and offsets[passage[-1]][1] >= char_end:
                start_tok = next(j for j in passage if offsets[j][1] > char_start)
                end_tok = next(j for j in reversed(passage) if offsets[j][0] < char_end)
        starts.append(start_tok)
        ends.append(end_tok)
    features = {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"], "start_positions": starts, "end_positions": ends}
    if "token_type_ids" in enc:
        features["token_type_ids"] = enc["token_type_ids"]
    return features
