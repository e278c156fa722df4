"""transformers backend: any causal LM in a Hugging Face folder, or a GGUF file (de-quantised
to fp32 on load, which needs `accelerate` and takes ~40 s for Gemma 3 270M). Tokens stream
from a generation thread."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from threading import Thread

from rag.answering.generate.base import Messages, cut_at_stops
from rag.config import GenerationSettings


class HFGenerator:
    def __init__(self, model_path: Path, context_tokens: int, threads: int) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        path = Path(model_path)
        folder, gguf = (str(path.parent), path.name) if path.suffix == ".gguf" else (str(path), None)
        self.name = f"transformers:{path.name}"
        self.tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=gguf)
        self.model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=gguf, dtype=torch.float32)
        self.model.eval()
        self.threads = threads
        window = getattr(self.model.config, "max_position_embeddings", None) or context_tokens
        self.context_tokens = min(context_tokens, int(window))
        self.chat_template = self.tokenizer.chat_template is not None

    def render(self, messages: Messages) -> str:
        """Chat messages as the tokenizer's chat template writes them, ready for the reply."""
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def stream(self, prompt: str | Messages, settings: GenerationSettings) -> Iterator[str]:
        import torch
        from transformers import TextIteratorStreamer

        if isinstance(prompt, str):
            inputs = self.tokenizer(prompt, return_tensors="pt")
        else:  # the template writes its own special tokens
            inputs = self.tokenizer(self.render(prompt), return_tensors="pt", add_special_tokens=False)
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
        sampling = {} if settings.greedy else {"temperature": settings.temperature, "top_k": settings.top_k, "top_p": settings.top_p}
        kwargs = dict(
            **inputs,
            streamer=streamer,
            max_new_tokens=settings.max_new_tokens,
            do_sample=not settings.greedy,
            repetition_penalty=settings.repetition_penalty,
            stop_strings=[s for s in settings.stop if s] or None,
            tokenizer=self.tokenizer,
            pad_token_id=self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.tokenizer.eos_token_id,
            **sampling,
        )

        failure: list[BaseException] = []

        def generate() -> None:
            try:
                torch.set_num_threads(self.threads)  # 1 held its speed on 2 busy cores; 2 collapsed
                with torch.inference_mode():
                    self.model.generate(**kwargs)
            except BaseException as exc:  # surfaced in the caller's thread below
                failure.append(exc)
                streamer.end()

        worker = Thread(target=generate, daemon=True)
        worker.start()
        yield from cut_at_stops(streamer, settings.stop)
        worker.join()
        if failure:
            raise RuntimeError(f"{self.name} failed while generating: {failure[0]}") from failure[0]
