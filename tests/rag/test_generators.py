"""Both LLM backends behind the one Generator interface, and the backend choice."""

import importlib.util
from pathlib import Path

import pytest
import torch
from tiny_models import tiny_llama

from rag.answering.generate.load import choose_backend, load_generator, resolve_generator_path
from rag.config import GenerationSettings

HAS_LLAMA_CPP = importlib.util.find_spec("llama_cpp") is not None


@pytest.fixture(scope="module")
def llama_folder(tmp_path_factory) -> Path:
    return tiny_llama(tmp_path_factory.mktemp("tiny-llama"))


def test_transformers_backend_streams_greedy_text(llama_folder: Path):
    settings = GenerationSettings(backend="hf", model=str(llama_folder), max_new_tokens=12, stop=[], context_tokens=4096)
    generator, why = load_generator(settings)
    assert why is None and generator.name.startswith("transformers:")
    assert generator.context_tokens == 1024  # capped by the model's position embeddings
    pieces = list(generator.stream("Question: what is it? Answer:", settings))
    text = "".join(pieces)
    assert len(pieces) >= 1 and text
    assert len(pieces) <= 12  # at most one piece per new token
    assert generator.count_tokens("Question: what") > 0
    assert "".join(generator.stream("Question: what is it? Answer:", settings)) == text  # greedy is deterministic


def test_transformers_backend_samples_when_not_greedy(llama_folder: Path):
    settings = GenerationSettings(backend="hf", model=str(llama_folder), greedy=False, temperature=1.5, top_k=50, top_p=0.9, max_new_tokens=8, stop=[])
    generator, _ = load_generator(settings)
    greedy = "".join(generator.stream("The quick", settings.model_copy(update={"greedy": True})))

    def sample(seed: int) -> str:
        torch.manual_seed(seed)
        pieces = list(generator.stream("The quick", settings))
        assert len(pieces) <= 8  # at most one piece per new token: max_new_tokens holds
        return "".join(pieces)

    samples = [sample(seed) for seed in range(4)]
    assert sample(0) == samples[0]  # the same seed draws the same text
    assert len(set(samples) | {greedy}) > 1  # sampling draws, greedy does not decide alone


def test_a_missing_model_falls_back_with_a_reason(tmp_path: Path):
    generator, why = load_generator(GenerationSettings(model=str(tmp_path / "nope.gguf")))
    assert generator is None and "nope.gguf" in why and "extractively" in why
    assert load_generator(GenerationSettings(backend="extractive")) == (None, None)


def test_backend_choice(tmp_path: Path):
    assert choose_backend(tmp_path / "m.gguf", "auto") == ("llamacpp" if HAS_LLAMA_CPP else "hf")
    assert choose_backend(tmp_path, "auto") == "hf"
    assert choose_backend(tmp_path / "m.gguf", "hf") == "hf"


@pytest.mark.slow
@pytest.mark.skipif(not HAS_LLAMA_CPP, reason="llama-cpp-python is not installed")
def test_llama_cpp_backend_with_the_bundled_gemma():
    settings = GenerationSettings(max_new_tokens=16)
    generator, why = load_generator(settings)
    assert why is None and generator.name.startswith("llama.cpp:")
    assert resolve_generator_path("gemma-3-270m").suffix == ".gguf"
    prompt = "Context: Paris is the capital of France.\nQuestion: What is the capital of France?\nAnswer:"
    text = "".join(generator.stream(prompt, settings))
    assert "Paris" in text
    assert "\n\n" not in text  # stop strings hold
    assert generator.chat_template is False  # a base model: its GGUF file has no chat template, so it gets completion prompts
