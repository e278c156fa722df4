"""Request and response bodies of the REST routes (the OpenAI ones follow OpenAI's shapes)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ingest.readers import KINDS

Kind = Literal[tuple(sorted(set(KINDS.values())))]  # the file kinds the readers know


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt field is an error naming it, never ignored


class FiltersIn(Body):
    path_glob: str | None = Field(None, description="only files whose path matches this glob")
    kinds: list[Kind] = Field(default_factory=list)


class RetrieveIn(Body):
    question: str = Field(..., min_length=1)
    top_k: int | None = Field(None, ge=1, le=100)
    mode: Literal["hybrid", "dense", "sparse"] = "hybrid"
    filters: FiltersIn | None = None


class ExchangeIn(Body):
    question: str = Field(..., min_length=1)
    answer: str = Field("", description="what was answered (empty when it was declined)")


class AskIn(Body):
    question: str = Field(..., min_length=1)
    history: list[ExchangeIn] = Field(default_factory=list, max_length=50, description="earlier turns, oldest first: a follow-up is made standalone")
    top_k: int | None = Field(None, ge=1, le=100)
    filters: FiltersIn | None = None
    extractive: bool = Field(False, description="quote the sources instead of asking the LLM")
    stream: bool = Field(False, description="Server-Sent Events: `text` events, then one `answer` event")


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")  # clients send name, tool fields ...
    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list[dict] | None = None


class ChatIn(BaseModel):
    model_config = ConfigDict(extra="allow")  # OpenAI clients send many optional knobs
    model: str
    messages: list[ChatMessage] = Field(..., min_length=1)
    stream: bool = False
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0.0, le=2.0)
