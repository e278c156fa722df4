"""The engine the CLI, the UI and the eval harness share: retrieve, ask, ask_stream.

Grounding: an answer comes only from the numbered sources. The engine declines when retrieval
finds too little evidence (rag/answerable.py: cosine and term coverage, under `generation.abstain_below`), when the
model says the sources do not hold the answer, or when nothing the model wrote is supported by
a source (it then quotes the sources extractively instead, and says so)."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from rag.answer import Answer, Hit
from rag.answerable import weigh
from rag.citations import CITE_RE, add_missing_citations, citations_for, drop_stray_citations
from rag.config import GenerationSettings, RetrievalSettings, Settings
from rag.embedding import Embedder
from rag.generate.base import Generator, GeneratorBusyError, GeneratorUnavailableError
from rag.generate.extractive import ExtractiveAnswerer
from rag.generate.prompt import DECLINE, build_prompt
from rag.index import HybridIndex
from rag.rerank import Reranker
from rag.retriever import Filters, HybridRetriever
from rag.snapshots import live_snapshot

log = logging.getLogger("rag")
DECLINE_MARKERS = ("i don't know", "i do not know", "do not contain the answer", "sources do not say")


class Engine:
    def __init__(
        self,
        settings: Settings,
        index: HybridIndex,
        embedder: Embedder,
        retriever: HybridRetriever,
        generator: Generator | None,
        notes: list[str] | None = None,
    ) -> None:
        self.settings = settings
        self.index = index
        self.embedder = embedder
        self.retriever = retriever
        self.generator = generator
        self.extractive = ExtractiveAnswerer(embedder, settings.generation.sentences_per_answer)
        self.notes = notes or []
        self._refresh_lock = threading.Lock()
        self._compute = threading.BoundedSemaphore(settings.retrieval.parallel or os.cpu_count() or 1)
        self._retired: HybridIndex | None = None  # the snapshot before the live one, closed at the next switch
        # One question at a time on a local LLM (a server backend takes `parallel`); the rest wait, bounded.
        self._llm_turn = threading.BoundedSemaphore(getattr(generator, "parallel", 1))
        for note in self.notes:
            log.warning(note, extra={"event": "fallback", "reason": note})

    @classmethod
    def from_settings(cls, settings: Settings | None = None, index_dir: Path | None = None, load_llm: bool = True, embedder: Embedder | None = None) -> Engine:
        """Load the index, the embedder (unless given), the reranker and the generator that
        `settings` name."""
        from rag.generate.load import load_generator

        settings = settings or Settings.load()
        embedder = embedder or Embedder.load(settings.embedding)
        index = HybridIndex.open(index_dir or settings.index_dir, settings, dim=embedder.dim)
        notes = []
        reranker, why = Reranker.load(settings.rerank, embedder.device)
        if why:
            notes.append(why)
        generator = None
        if load_llm:
            generator, why = load_generator(settings.generation)
            if why:
                notes.append(why)
        retriever = HybridRetriever(index, embedder, settings.retrieval, reranker, settings.rerank.top_n)
        return cls(settings, index, embedder, retriever, generator, notes)

    def refresh(self) -> bool:
        """Switch to the index's live snapshot when an ingest has published a newer one, so a
        long-running process serves new documents without a restart. True when it switched."""
        root = self.index.snapshot.parent
        live = live_snapshot(root)
        if live is None or live == self.index.snapshot:
            return False
        with self._refresh_lock:
            if live_snapshot(root) != self.index.snapshot:
                index = HybridIndex.open(root, self.settings, dim=self.embedder.dim)
                retriever = HybridRetriever(index, self.embedder, self.settings.retrieval, self.retriever.reranker, self.retriever.rerank_top_n)
                # Queries in flight keep the old snapshot's objects; the one before it is closed now
                # (a query needs its store only while retrieving, milliseconds; an ingest takes seconds).
                if self._retired is not None:
                    self._retired.close()
                self._retired, self.index, self.retriever = self.index, index, retriever
                log.info("switched to snapshot %s", index.snapshot.name)
        return True

    def retrieve(self, question: str, top_k: int | None = None, filters: Filters | None = None, **kw) -> list[Hit]:
        return self.search(question, top_k, filters, **kw)[1]

    def search(self, question: str, top_k: int | None = None, filters: Filters | None = None, **kw) -> tuple[str, list[Hit]]:
        """(the snapshot searched, its hits), on the live snapshot. At most `retrieval.parallel`
        searches run at once: on 2 cores, 40 threads searching together served 17 queries/s and 2
        served 89 (rag bench's load stage), as ONNX, FAISS and BLAS threads stopped fighting."""
        index, hits = self._search(question, top_k, filters, **kw)
        return index.snapshot.name, hits

    def _search(self, question: str, top_k: int | None, filters: Filters | None, **kw) -> tuple[HybridIndex, list[Hit]]:
        self.refresh()
        retriever = self.retriever  # one snapshot for the whole search, even if an ingest publishes meanwhile
        with self._compute:
            return retriever.index, retriever.retrieve(question, top_k, filters, **kw)

    def ask(self, question: str, **kw) -> Answer:
        *_, answer = self.ask_stream(question, **kw)
        return answer

    def ask_stream(
        self,
        question: str,
        top_k: int | None = None,
        filters: Filters | None = None,
        extractive: bool = False,
        retrieval: RetrievalSettings | None = None,
        generation: GenerationSettings | None = None,
        rerank: bool = True,
    ) -> Iterator[str | Answer]:
        """Yields the answer text as it is written, then the finished Answer. `retrieval` and
        `generation` override the settings for this question only (the UI's sidebar)."""
        started = time.perf_counter()
        timings: dict[str, float] = {}
        index, hits = self._search(question, top_k, filters, timings=timings, settings=retrieval, rerank=rerank)
        notes: list[str] = []  # this answer's own fallbacks; configuration notes stay in self.notes
        generation = generation or self.settings.generation
        if not hits or weigh(question, hits, index.sparse).score < generation.abstain_below:
            parts = iter([DECLINE, self._finish(question, DECLINE, True, [], hits, timings, started, "retrieval", notes)])
        elif self.generator is not None and not extractive:
            parts = self._generate(question, hits, generation, timings, started, notes)
        else:
            parts = self._extract(question, hits, timings, started, notes)
        for part in parts:
            if isinstance(part, Answer):
                part.snapshot = index.snapshot.name
            yield part

    def _generate(self, question: str, hits: list[Hit], s: GenerationSettings, timings: dict, started: float, notes: list[str]) -> Iterator[str | Answer]:
        gen = self.generator
        waited = time.perf_counter()
        if not self._llm_turn.acquire(timeout=s.queue_wait_s):
            raise GeneratorBusyError(f"the LLM stayed busy with other questions for {s.queue_wait_s:g} s (generation.queue_wait_s); ask again")
        timings["llm_queue"] = (time.perf_counter() - waited) * 1000.0
        try:
            prompt = build_prompt(question, hits[: s.max_sources], gen.count_tokens, gen.context_tokens, s.max_new_tokens)
            if prompt.left_out:
                notes.append(f"{len(prompt.left_out)} retrieved passage(s) left out: the context window is full")
            t0 = time.perf_counter()
            pieces, unavailable = [], None
            try:
                for piece in gen.stream(prompt.text, s):
                    if not pieces:
                        timings["first_token"] = (time.perf_counter() - t0) * 1000.0
                    pieces.append(piece)
                    yield piece
            except GeneratorUnavailableError as exc:  # a server that is down: answer without it
                unavailable = str(exc)
        finally:  # also when the reader stops early (a closed connection closes this generator)
            self._llm_turn.release()
        timings["generate"] = (time.perf_counter() - t0) * 1000.0
        if unavailable:
            notes.append(f"{unavailable}; quoting the sources instead")
            yield "\n\n"
            yield from self._extract(question, hits, timings, started, notes)
            return
        text = "".join(pieces).strip()
        if any(m in text.lower() for m in DECLINE_MARKERS):
            yield self._finish(question, text, True, [], hits, timings, started, gen.name, notes)
            return
        text = add_missing_citations(text, prompt.sources)
        text, stray = drop_stray_citations(text, len(prompt.sources))
        if stray:
            notes.append(f"removed citation(s) to sources that were not offered: {', '.join(stray)}")
        if not CITE_RE.search(text):
            why = "wrote nothing" if not text else "wrote an answer no source supports"
            notes.append(f"the model {why}; quoting the sources instead")
            yield "\n\n"
            yield from self._extract(question, hits, timings, started, notes)
            return
        citations = citations_for(text, prompt.sources)
        yield self._finish(question, text, False, citations, hits, timings, started, gen.name, notes)

    def _extract(self, question: str, hits: list[Hit], timings: dict, started: float, notes: list[str]) -> Iterator[str | Answer]:
        t0 = time.perf_counter()
        quotes = self.extractive.quotes(question, hits)
        timings["extract"] = (time.perf_counter() - t0) * 1000.0
        if not quotes:
            yield DECLINE
            yield self._finish(question, DECLINE, True, [], hits, timings, started, "extractive", notes)
            return
        text = self.extractive.compose(quotes)
        yield text
        quoted: dict[int, list[str]] = {}
        for q in quotes:
            quoted.setdefault(q.n, []).append(q.sentence)
        yield self._finish(question, text, False, citations_for(text, hits, quoted), hits, timings, started, "extractive", notes)

    @staticmethod
    def _finish(question, text, abstained, citations, hits, timings, started, generator, notes) -> Answer:
        timings["total"] = (time.perf_counter() - started) * 1000.0
        return Answer(question, text, abstained, citations, hits, {k: round(v, 2) for k, v in timings.items()}, generator, notes)
