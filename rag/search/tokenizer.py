"""A model folder's word-piece tokenizer read with the `tokenizers` library alone: the query
encoder and the reader need only ids, masks and offsets, and importing it takes 0.1 s against
4.5 s for transformers' AutoTokenizer (measured here), most of a command's start-up."""

from __future__ import annotations

import copy
from pathlib import Path


def load_tokenizer(folder: Path, fallback=None):
    """The `tokenizers.Tokenizer` of `folder/tokenizer.json`, with the padding and truncation the
    file may carry turned off (callers set their own); else a copy of `fallback`'s (a transformers
    fast tokenizer) backend; else FileNotFoundError naming the file."""
    from tokenizers import Tokenizer

    path = Path(folder) / "tokenizer.json"
    if path.is_file():
        tokenizer = Tokenizer.from_file(str(path))
    elif fallback is not None and hasattr(fallback, "backend_tokenizer"):
        tokenizer = copy.deepcopy(fallback.backend_tokenizer)
    else:
        raise FileNotFoundError(f"{path}: no tokenizer file (a fast tokenizer's tokenizer.json is needed)")
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return tokenizer


def pad_id(tokenizer) -> int:
    """The id of the tokenizer's padding token ([PAD] or <pad>), 0 when it has neither."""
    for token in ("[PAD]", "<pad>"):
        found = tokenizer.token_to_id(token)
        if found is not None:
            return int(found)
    return 0


# The characters str.split() splits on that BERT's normalizer deletes as control characters
# (category Cc, but for tab and line ends), joining the words beside them: vertical tab, form
# feed (PDF text has them), the four separators and NEL. A text holding one is counted whole.
_JOINING = frozenset("\x0b\x0c\x1c\x1d\x1e\x1f\x85")
CACHED_WORDS = 200_000  # about 20 MB of counts; the cache starts over when full


class WordPieceCounter:
    """How many word pieces a text is, without special tokens (chunk sizing). Where the tokenizer
    is BERT's (its normalizer and pre-tokenizer never join across whitespace), a text's count is
    the sum of its whitespace-separated words' counts, each computed once: chunking SciFact
    called the tokenizer 52,929 times for 5.9 s of a reading process's 14 s. Other tokenizers
    count the whole text. Not thread-safe: give each thread its own, or hold a lock."""

    def __init__(self, tokenizer) -> None:
        self._tokenizer = tokenizer
        by_word = type(tokenizer.normalizer).__name__ == "BertNormalizer" and type(tokenizer.pre_tokenizer).__name__ == "BertPreTokenizer"
        self._words: dict[str, int] | None = {} if by_word else None

    def __call__(self, text: str) -> int:
        words = self._words
        if words is None or not _JOINING.isdisjoint(text):
            return len(self._tokenizer.encode(text, add_special_tokens=False).ids)
        total = 0
        for word in text.split():
            n = words.get(word)
            if n is None:
                if len(words) >= CACHED_WORDS:
                    words.clear()
                n = words[word] = len(self._tokenizer.encode(word, add_special_tokens=False).ids)
            total += n
        return total
