"""What every LLM backend provides, and the stop-string handling they share."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Protocol

from rag.config import GenerationSettings


class GeneratorBusyError(RuntimeError):
    """The LLM stayed busy with other questions past `generation.queue_wait_s`."""


class GeneratorUnavailableError(RuntimeError):
    """The LLM could not be reached (a server that is down or timed out): answer without it."""


Messages = list[dict[str, str]]  # chat turns: {"role": "system" | "user" | "assistant", "content": ...}


class Generator(Protocol):
    name: str
    context_tokens: int
    chat_template: bool  # whether chat messages go through the model's (or server's) chat template

    def count_tokens(self, text: str) -> int: ...

    def stream(self, prompt: str | Messages, settings: GenerationSettings) -> Iterator[str]:
        """Text as it is written: a completion of a string prompt, or the reply to chat messages."""
        ...


def cut_at_stops(pieces: Iterable[str], stops: Sequence[str]) -> Iterator[str]:
    """Pass streamed text through until a stop string appears; text that might be the start of
    a stop string is held back until it is known not to be one."""
    stops = [s for s in stops if s]
    held = ""
    for piece in pieces:
        held += piece
        hits = [held.find(s) for s in stops if s in held]
        if hits:
            if min(hits) > 0:
                yield held[: min(hits)]
            return
        keep = max((k for s in stops for k in range(1, len(s)) if held.endswith(s[:k])), default=0)
        if len(held) > keep:
            yield held[: len(held) - keep]
            held = held[len(held) - keep :]
    if held:
        yield held
