"""Chat templates: a model whose tokenizer has one gets chat messages rendered through it (the
instructions as the system message), a model without one keeps the completion prompt, the
choice is automatic and `generation.prompt_format` overrides it; tiny random Llamas with and
without a template drive the real transformers code."""

import pytest
from tiny_models import CHAT_TEMPLATE, tiny_llama

from rag.answering.engine import chat
from rag.answering.generate.load import load_generator
from rag.answering.generate.prompt import HEADER, build_prompt
from rag.answering.generate.short import EXAMPLES, short_messages
from rag.config import GenerationSettings
from rag.search.hit import Hit


@pytest.fixture(scope="module")
def generators(tmp_path_factory) -> dict:
    out = {}
    for name, template in (("instruct", CHAT_TEMPLATE), ("base", None)):
        settings = GenerationSettings(backend="hf", model=str(tiny_llama(tmp_path_factory.mktemp(name), template)), max_new_tokens=6, stop=[])
        generator, why = load_generator(settings)
        assert why is None
        out[name] = (generator, settings)
    return out


def test_the_template_is_found_and_chosen_automatically(generators: dict):
    instruct, base = generators["instruct"][0], generators["base"][0]
    assert instruct.chat_template and not base.chat_template
    auto = GenerationSettings()
    assert chat(instruct, auto) and not chat(base, auto)
    assert not chat(instruct, auto.model_copy(update={"prompt_format": "completion"}))
    assert chat(base, auto.model_copy(update={"prompt_format": "chat"}))


def test_messages_are_rendered_through_the_template_and_answered(generators: dict):
    generator, settings = generators["instruct"]
    messages = short_messages("Which town?", "Lava reached Catania.")
    rendered = generator.render(messages)
    assert rendered.startswith("<|system|>Answer each question with the shortest phrase")
    assert rendered.endswith("<|user|>Text: Lava reached Catania.\nQuestion: Which town?\n<|assistant|>")
    assert f"<|assistant|>{EXAMPLES[0][2]}\n" in rendered  # the examples are earlier turns
    reply = "".join(generator.stream(messages, settings))
    assert reply and reply == "".join(generator.stream(messages, settings))  # greedy: the same reply twice


def test_the_sources_prompt_as_messages():
    hits = [Hit(1, "volcanoes.md", "Lava reached Catania.", 0, 21, None, None, 1.0)]
    prompt = build_prompt("Which town?", hits, lambda t: len(t.split()), 4096, 64)
    system, user = prompt.messages()
    assert system == {"role": "system", "content": HEADER.strip()}
    assert user["role"] == "user" and user["content"].startswith('<source n="1" file="volcanoes.md">')
    assert user["content"].endswith("Question: Which town?") and "Answer:" not in user["content"]


def test_a_base_model_with_chat_forced_on_has_no_template_to_render(generators: dict):
    generator, settings = generators["base"]
    with pytest.raises(ValueError, match="chat_template"):
        list(generator.stream([{"role": "user", "content": "hi"}], settings))
