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
