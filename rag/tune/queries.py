"""Pseudo-queries (pair kind "question"): the configured LLM writes a question that a sampled
passage answers (the idea of InPars and GPL, with the collection's own LLM). Only an
instruction-tuned model (one with a chat template) is asked: a base model asked the same
continues the passage instead of asking about it, and the bundled Gemma 270M is a base model,
so here this runs only in tests, on a tiny random chat model."""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence

from rag.config import GenerationSettings
from rag.tune.pairs import MIN_WORDS, Pair, Passage, words

log = logging.getLogger(__name__)

INSTRUCTION = "Write one short question that the passage answers. Reply with the question only, in the passage's language."
PASSAGE_CHARS = 1500  # of each passage shown to the LLM: enough to ask about, bounded in time
QUESTION_TOKENS = 40


def question_pairs(passages: Sequence[Passage], generator, settings: GenerationSettings, count: int, rng: random.Random) -> list[Pair]:
    """Up to `count` (question, passage) pairs over a random sample of passages; none when
    `generator` is missing or has no chat template (said once in the log)."""
    if generator is None or not generator.chat_template:
        log.warning('pair kind "question" needs an instruction-tuned LLM (one with a chat template); none is configured, so none are made')
        return []
    greedy = settings.model_copy(update={"temperature": 0.0, "max_new_tokens": QUESTION_TOKENS, "stop": ["\n"]})
    pairs = []
    for p in rng.sample(list(passages), min(count, len(passages))):
        messages = [{"role": "system", "content": INSTRUCTION}, {"role": "user", "content": p.text[:PASSAGE_CHARS]}]
        question = "".join(generator.stream(messages, greedy)).strip()
        if len(words(question)) >= MIN_WORDS and question not in p.text:  # a copied sentence is not a question about it
            pairs.append(Pair("question", question, p.text, p.path, p.chunk_id))
    return pairs
