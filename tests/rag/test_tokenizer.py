"""The word-piece counter that sizes chunks: word by word with a cache for BERT's tokenizer, and
always the count the tokenizer itself gives for the whole text."""

import sys
from pathlib import Path

import pytest
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

from rag.config import EmbeddingSettings
from rag.models import model_path
from rag.search.tokenizer import WordPieceCounter, load_tokenizer

TEXTS = [
    "ADAR1 binds to Dicer to cleave pre-miRNA, and the complex speeds up processing in the cytoplasm.",
    "Ünïcode CAFÉ émigrés über-naïve",
    "東京は日本の首都です。 Mixed 中文 text",
    "tab\tseparated\nnew line\r\nand\u00a0no-break\u2003em space",
    "Dr. Okonkwo, e.g. U.S.A., i.e. No. 5 (Fig. 3) et al.",
    "zero\u200bwidth and soft\u00adhyphen",
    "record\x1eseparator joins\x1fwords in BERT's normaliser",
    "\x00nul and \ufffd replacement",
    "| 12 | Bookworm | 2021-08-14 | 2023-06-10 |",
    "emoji 😀 and symbols ±≤≥ £€",
    "a" * 150 + " " + "supercalifragilisticexpialidocious" * 4,
    "",
    "   ",
]


@pytest.fixture(scope="module")
def minilm() -> Tokenizer:
    return load_tokenizer(Path(model_path(EmbeddingSettings().model)))


def test_counts_equal_the_tokenizers_own(minilm):
    counter = WordPieceCounter(minilm)
    assert counter._words is not None  # MiniLM's tokenizer is BERT's: counted word by word
    for text in TEXTS + TEXTS:  # the second pass is served from the cache
        assert counter(text) == len(minilm.encode(text, add_special_tokens=False).ids), text


def test_words_are_cut_where_the_tokenizer_cuts_them(minilm):
    """Every character str.split() takes for whitespace, between two words: BERT's normalizer
    turns most into a space and deletes the control characters among them (form feed, NEL)."""
    counter = WordPieceCounter(minilm)
    for space in (chr(i) for i in range(sys.maxunicode + 1) if chr(i).isspace()):
        text = f"abc{space}def{space} ghi"
        assert counter(text) == len(minilm.encode(text, add_special_tokens=False).ids), hex(ord(space))


def test_other_tokenizers_are_counted_whole():
    vocab = {"[UNK]": 0, "ab": 1, "c": 2, "▁": 3}
    tokenizer = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    counter = WordPieceCounter(tokenizer)
    assert counter._words is None
    for text in ("ab c", "AB  c ab", ""):
        assert counter(text) == len(tokenizer.encode(text, add_special_tokens=False).ids)


def test_the_cache_starts_over_when_full(minilm, monkeypatch):
    monkeypatch.setattr("rag.search.tokenizer.CACHED_WORDS", 3)
    counter = WordPieceCounter(minilm)
    text = "one two three four five six seven"
    assert counter(text) == len(minilm.encode(text, add_special_tokens=False).ids)
    assert len(counter._words) <= 3
