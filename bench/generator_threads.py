"""Measure the default generator's thread settings: prompt reading (time to first token for a
prompt of about 1,000 tokens) and decoding speed (64 greedy tokens), per thread count.

    python -m bench.generator_threads [--threads 1 2]
"""

from __future__ import annotations

import argparse
import time

from rag.answering.generate.llamacpp import LlamaCppGenerator
from rag.answering.generate.load import resolve_generator_path
from rag.config import GenerationSettings

PASSAGE = (
    "The Shared MIME-info Database specification describes how applications register the types of "
    "files they handle, how type names are matched against file names with glob patterns, and how "
    "magic rules look at the first bytes of a file when its name says nothing. "
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    path = resolve_generator_path("gemma-3-270m")
    settings = GenerationSettings(max_new_tokens=64, stop=[])
    prompt = "Context: " + PASSAGE * 18 + "\nQuestion: What does the specification describe?\nAnswer:"
    print(f"{'decode threads':>14} {'prompt threads':>14} {'prompt tokens':>13} {'first token ms':>14} {'tokens/s':>9}")
    for decode in args.threads:
        for read in args.threads:
            gen = LlamaCppGenerator(path, 4096, threads=decode, prompt_threads=read)
            n_prompt = gen.count_tokens(prompt)
            started = time.perf_counter()
            first, pieces = None, 0
            for _ in gen.stream(prompt, settings):
                first = first or time.perf_counter()
                pieces += 1
            ended = time.perf_counter()
            rate = (pieces - 1) / (ended - first) if pieces > 1 else float("nan")
            print(f"{decode:>14} {read:>14} {n_prompt:>13} {(first - started) * 1000:>14.0f} {rate:>9.1f}")


if __name__ == "__main__":
    main()
