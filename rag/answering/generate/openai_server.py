"""A generator backed by any OpenAI-compatible server (Ollama, vLLM, llama.cpp's server, LM Studio,
TGI) through the official `openai` client: streamed, with a time limit per request. A server that
cannot be reached raises GeneratorUnavailableError, and the engine answers extractively, saying why.

Tokens are not counted by the server (the API has no tokenizer route), so prompt budgeting uses a
conservative estimate of one token per three characters (English runs near four)."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator

from rag.answering.generate.base import GeneratorUnavailableError, Messages, cut_at_stops
from rag.config import GenerationSettings

CHARS_PER_TOKEN = 3


class OpenAIServerGenerator:
    def __init__(self, settings: GenerationSettings) -> None:
        import openai

        if not settings.base_url:
            raise ValueError("generation.backend = 'openai' needs generation.base_url (the server's /v1 URL)")
        self._errors = (openai.APIConnectionError, openai.APITimeoutError, openai.InternalServerError)
        self._client = openai.OpenAI(
            base_url=settings.base_url, api_key=os.environ.get(settings.api_key_env) or "none", timeout=settings.timeout_s, max_retries=0
        )
        self.model, self.endpoint, self.base_url = settings.model, settings.endpoint, settings.base_url
        self.name = f"openai:{settings.model}@{settings.base_url}"
        self.context_tokens = settings.context_tokens
        self.parallel = settings.server_parallel
        self.chat_template = settings.endpoint == "chat"  # the server renders chat with the model's template

    def count_tokens(self, text: str) -> int:
        return math.ceil(len(text) / CHARS_PER_TOKEN)

    def _pieces(self, prompt: str | Messages, s: GenerationSettings) -> Iterator[str]:
        knobs = {
            "max_tokens": s.max_new_tokens,
            "temperature": 0.0 if s.greedy else s.temperature,
            "top_p": 1.0 if s.greedy else s.top_p,
            "stop": s.stop or None,
        }
        if self.endpoint == "chat" or not isinstance(prompt, str):
            messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else prompt
            stream = self._client.chat.completions.create(model=self.model, messages=messages, stream=True, **knobs)
            for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    yield chunk.choices[0].delta.content
        else:
            for chunk in self._client.completions.create(model=self.model, prompt=prompt, stream=True, **knobs):
                if chunk.choices and chunk.choices[0].text:
                    yield chunk.choices[0].text

    def stream(self, prompt: str | Messages, settings: GenerationSettings) -> Iterator[str]:
        try:
            yield from cut_at_stops(self._pieces(prompt, settings), settings.stop)
        except self._errors as exc:
            raise GeneratorUnavailableError(f"the LLM server at {self.base_url} failed ({type(exc).__name__}: {exc})") from exc
