"""The top floor: from ranked passages to an answer. `engine` runs the answer path (follow-up
made standalone, retrieve, the `answerable` gate, then compose: the trained `reader`, an LLM
through `generate/`, or quotes), `citations` checks what each sentence cites, `answer` is the
plain data it returns; `tables` reads table rows as "column: value" pairs.

Imports `rag.search`, `rag.storage` and the shared top modules. Start at `engine.py`."""
