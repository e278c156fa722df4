"""Request and response bodies of the REST routes (the OpenAI ones follow OpenAI's shapes)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ingest.readers import KINDS

Kind = Literal[tuple(sorted(set(KINDS.values())))]  # the file kinds the readers know


def lone_surrogate_at(value: Any, path: str = "") -> str | None:
    """The path of the first string (or key) in `value` that is not valid Unicode (a lone
    surrogate such as \\ud800, which JSON can carry but UTF-8 cannot), else None."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path or "body"
    elif isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            found = lone_surrogate_at(key, path or "body") or lone_surrogate_at(item, where)
            if found:
                return found
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found = lone_surrogate_at(item, f"{path}[{i}]")
            if found:
                return found
    return None


class Checked(BaseModel):
    """Refuses text that is not valid Unicode, naming where it is: it would fail later, in the
    tokenizer or in the JSON answer, as a 500."""

    @model_validator(mode="before")
    @classmethod
    def valid_unicode(cls, data: Any) -> Any:
        where = lone_surrogate_at(data)
        if where:
            raise ValueError(f"{where.encode('ascii', 'backslashreplace').decode()} holds a lone surrogate: text that is not valid Unicode")
        return data


class Body(Checked):
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
    searched: str = Field(
        "", max_length=4000, description="the `searched` the answer returned: the turn's standalone question, so a later follow-up builds on it"
    )


class AskIn(Body):
    question: str = Field(..., min_length=1)
    history: list[ExchangeIn] = Field(default_factory=list, max_length=50, description="earlier turns, oldest first: a follow-up is made standalone")
    top_k: int | None = Field(None, ge=1, le=100)
    filters: FiltersIn | None = None
    extractive: bool = Field(False, description="quote the sources instead of asking the LLM")
    stream: bool = Field(False, description="Server-Sent Events: `text` events, then one `answer` event")


class ChatMessage(Checked):
    model_config = ConfigDict(extra="allow")  # clients send name, tool fields ...
    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list[dict] | None = None


class ChatIn(Checked):
    model_config = ConfigDict(extra="allow")  # OpenAI clients send many optional knobs
    model: str
    messages: list[ChatMessage] = Field(..., min_length=1)
    stream: bool = False
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0.0, le=2.0)
