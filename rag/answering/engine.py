"""The engine the CLI, the API, the UI and the eval harness share: retrieve, ask, ask_stream.

A question goes down one line: a follow-up made standalone (rag/answering/followup.py) -> retrieve ->
gate (rag/answering/answerable.py: decline when the evidence is under `generation.abstain_below`) ->
compose: the trained reader's span of the top passages, or its decline (rag/answering/reader/, the default
style); or the passages' sentences ranked (rag/answering/sentence_rank.py) and the LLM's short phrase
checked against its sentence, the LLM writing from numbered sources sentence by sentence, or
quotes -> Answer. An answer comes only from the sources: a phrase that is not in its sentence,
a model that writes nothing a source supports, a server that is down or a reader that cannot
load ends in quotes of the best sentences, and the answer says why."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rag.answering.answer import Answer, Citation, Exchange
from rag.answering.answerable import weigh
from rag.answering.citations import citations_for
from rag.answering.followup import CARRIED_RE, checked_rewrite, rewrite_messages, rewrite_prompt, rewrite_settings, standalone
from rag.answering.generate.base import Generator, GeneratorBusyError, GeneratorUnavailableError
from rag.answering.generate.checked import Said, said_sentences
from rag.answering.generate.extractive import compose_quotes, pick_quotes
from rag.answering.generate.prompt import DECLINE, build_prompt
from rag.answering.generate.short import MAX_TOKENS, REPETITION_PENALTY, STOP, checked_phrase, short_messages, short_prompt
from rag.answering.reader.compose import SpanAnswer, read_texts, span_answer
from rag.answering.reader.model import Reader, load_reader
from rag.answering.sentence_rank import Sentence, rank_sentences
from rag.answering.tables import cell_answer, labelled, table_header
from rag.config import GenerationSettings, RetrievalSettings, Settings
from rag.search.embedding import Embedder, index_embedder
from rag.search.hit import Hit
from rag.search.rerank import Reranker
from rag.search.retriever import Filters, HybridRetriever
from rag.storage.backend import open_index
from rag.storage.index import HybridIndex, Index
from rag.storage.sparse import SparseIndex

if TYPE_CHECKING:
    from rag.storage.milvus.views import MilvusSparse

log = logging.getLogger("rag")


class QuestionTooLongError(ValueError):
    """A question over `retrieval.max_question_chars`; the message says by how much."""


def length_problem(question: str, limit: int) -> str | None:
    """What is wrong with a question's length, said the same way by the engine, the CLI and the
    API; None when it fits `retrieval.max_question_chars`."""
    if len(question) > limit:
        return f"the question is {len(question):,} characters; the limit is {limit:,} (retrieval.max_question_chars): ask it shorter"
    return None


def check_length(question: str, limit: int) -> None:
    if why := length_problem(question, limit):
        raise QuestionTooLongError(why)


@dataclass
class Turn:
    """One question on its way through the engine: what every step reads and adds to."""

    question: str
    searched: str  # the question as retrieval and the LLM see it: a follow-up made standalone
    hits: list[Hit]
    sparse: SparseIndex | MilvusSparse  # the searched index's BM25 statistics (term weights for sentence ranking)
    generation: GenerationSettings
    started: float
    timings: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # this answer's own fallbacks; configuration notes stay in Engine.notes

    def answer(self, text: str, citations: list[Citation], generator: str, abstained: bool = False) -> Answer:
        self.timings["total"] = (time.perf_counter() - self.started) * 1000.0
        timings = {k: round(v, 2) for k, v in self.timings.items()}
        searched = self.searched if self.searched != self.question else ""
        return Answer(self.question, text, abstained, citations, self.hits, timings, generator, self.notes, searched=searched)

    def decline(self, generator: str) -> Iterator[str | Answer]:
        yield DECLINE
        yield self.answer(DECLINE, [], generator, abstained=True)

    @property
    def read_question(self) -> str:
        """The standalone question without the words carried over for the search (they are not part of what is asked)."""
        return CARRIED_RE.sub("", self.searched).strip() or self.searched


def names_a_cell(turn: Turn) -> bool:
    """Whether a table among the hits has the cell the question names (its row and its column):
    evidence the gate's count of question words misses ("When did Debian 10 reach its end of
    life?" over a row of dates under "eol")."""
    return any(cell_answer(turn.read_question, hit.text, hit.context) for hit in turn.hits)


def llm_needed(generation: GenerationSettings) -> bool:
    """Whether answering needs an LLM loaded: the reader answers without one, and needs one only
    to rewrite follow-ups when `followup_rewrite` asks for the LLM."""
    return generation.answer_style != "reader" or generation.followup_rewrite == "llm"


def chat(generator: Generator, settings: GenerationSettings) -> bool:
    """Whether to send chat messages (through the model's chat template) or a completion prompt."""
    if settings.prompt_format == "auto":
        return generator.chat_template
    return settings.prompt_format == "chat"


class Engine:
    def __init__(
        self,
        settings: Settings,
        index: Index,
        embedder: Embedder,
        retriever: HybridRetriever,
        generator: Generator | None,
        notes: list[str] | None = None,
        reader: Reader | None = None,
    ) -> None:
        self.settings = settings
        self.reader = reader
        self.index = index
        self.embedder = embedder
        self.retriever = retriever
        self.generator = generator
        self.notes = notes or []
        self._refresh_lock = threading.Lock()
        self._compute = threading.BoundedSemaphore(settings.retrieval.parallel or os.cpu_count() or 1)
        self._retired: list[Index] = []  # snapshots a switch replaced, closed once no search holds them
        self._holders: Counter[int] = Counter()  # searches holding each open snapshot, by id
        # One question at a time on a local LLM (a server backend takes `parallel`); the rest wait, bounded.
        self._llm_turn = threading.BoundedSemaphore(getattr(generator, "parallel", 1))
        for note in self.notes:
            log.warning(note, extra={"event": "fallback", "reason": note})

    @classmethod
    def from_settings(
        cls,
        settings: Settings | None = None,
        index_dir: Path | None = None,
        load_llm: bool = True,
        embedder: Embedder | None = None,
        like: Engine | None = None,
    ) -> Engine:
        """Load the index, the embedder (unless given), the reranker and the generator that
        `settings` name; with `like` (an engine built from the same settings over another
        index), share its models instead: a server's collections hold one copy of each."""
        settings = settings or Settings.load()
        root = index_dir or settings.index_dir
        embedder = index_embedder(root, settings.embedding, embedder or (like.embedder if like else None))  # the index's tuned copy when `rag tune` made one
        index = open_index(root, settings, dim=embedder.dim, tuned=embedder.tuned)
        if like is not None:
            reranker, generator, reader, notes = like.retriever.reranker, like.generator, like.reader, list(like.notes)
        else:
            reranker, generator, reader, notes = cls._models(settings, embedder, load_llm)
        retriever = HybridRetriever(index, embedder, settings.retrieval, reranker, settings.rerank.top_n)
        engine = cls(settings, index, embedder, retriever, generator, notes, reader)
        if like is not None:  # one LLM answers one question at a time, whichever collection asks
            engine._llm_turn = like._llm_turn
        return engine

    @staticmethod
    def _models(settings: Settings, embedder: Embedder, load_llm: bool) -> tuple[Reranker | None, Generator | None, Reader | None, list[str]]:
        """The reranker, the generator (when `load_llm`) and the reader `settings` name, and why any is missing."""
        from rag.answering.generate.load import load_generator

        notes = []
        reranker, why = Reranker.load(settings.rerank, embedder.device)
        if why:
            notes.append(why)
        generator = None
        if load_llm:
            generator, why = load_generator(settings.generation)
            if why:
                notes.append(why)
        reader = None
        if settings.generation.answer_style == "reader":
            reader, why = load_reader(settings.reader)
            if why:
                notes.append(why)
        return reranker, generator, reader, notes

    def refresh(self) -> bool:
        """Switch to the index's live snapshot when an ingest has published a newer one, so a
        long-running process serves new documents without a restart. True when it switched."""
        if self.index.is_live():  # a Milvus index always is
            return False
        root = self.index.root
        with self._refresh_lock:
            if not self.index.is_live():
                embedder = index_embedder(root, self.settings.embedding, self.embedder)  # another after `rag tune` or `--undo`
                old = self.index if isinstance(self.index, HybridIndex) else None
                index = HybridIndex.open(root, self.settings, dim=embedder.dim, tuned=embedder.tuned, reuse=old)
                retriever = HybridRetriever(index, embedder, self.settings.retrieval, self.retriever.reranker, self.retriever.rerank_top_n)
                # Searches in flight keep the old snapshot; it is closed when the last of them ends
                # (closing it at the next switch failed a search that waited its turn through an
                # ingest's two publishes, its own and a merge: "Cannot operate on a closed database").
                self._retired.append(self.index)
                self.index, self.retriever, self.embedder = index, retriever, embedder
                self._close_unheld()
                log.info("switched to snapshot %s", index.version)
        return True

    @contextmanager
    def held(self) -> Iterator[HybridRetriever]:
        """The live snapshot's retriever (its `index` too), kept open until the block ends even
        if an ingest publishes meanwhile: for whatever reads the index's store."""
        self.refresh()
        with self._refresh_lock:
            retriever = self.retriever
            self._holders[id(retriever.index)] += 1
        try:
            yield retriever
        finally:
            with self._refresh_lock:
                self._holders[id(retriever.index)] -= 1
                self._close_unheld()

    def _close_unheld(self) -> None:
        """Close the retired snapshots no search holds (called under the refresh lock)."""
        for index in [i for i in self._retired if self._holders[id(i)] <= 0]:
            self._retired.remove(index)
            self._holders.pop(id(index), None)
            index.close()

    def retrieve(self, question: str, top_k: int | None = None, filters: Filters | None = None, **kw) -> list[Hit]:
        return self.search(question, top_k, filters, **kw)[1]

    def search(self, question: str, top_k: int | None = None, filters: Filters | None = None, **kw) -> tuple[str, list[Hit]]:
        """(the snapshot searched, its hits), on the live snapshot. At most `retrieval.parallel`
        searches run at once: on 2 cores, 40 threads searching together served 17 queries/s and 2
        served 89 (rag bench's load stage), as ONNX, FAISS and BLAS threads stopped fighting."""
        check_length(question, self.settings.retrieval.max_question_chars)
        index, hits = self._search(question, top_k, filters, **kw)
        return index.version, hits

    def _search(self, question: str, top_k: int | None, filters: Filters | None, **kw) -> tuple[Index, list[Hit]]:
        with self.held() as retriever, self._compute:  # one snapshot for the whole search, even if an ingest publishes meanwhile
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
        history: Sequence[Exchange] = (),
    ) -> Iterator[str | Answer]:
        """Yields the answer text as it is shown, then the finished Answer. `retrieval` and
        `generation` override the settings for this question only (the UI's sidebar); `history`
        holds the conversation's earlier turns, so a follow-up is made standalone first."""
        check_length(question, self.settings.retrieval.max_question_chars)
        started = time.perf_counter()
        timings: dict[str, float] = {}
        notes: list[str] = []
        generation = generation or self.settings.generation
        searched = self._standalone(question, history, generation, extractive, timings, notes)
        index, hits = self._search(searched, top_k, filters, timings=timings, settings=retrieval, rerank=rerank)
        turn = Turn(question, searched, hits, index.sparse, generation, started, timings, notes=notes)
        reads = not extractive and turn.generation.answer_style == "reader" and self.reader is not None
        if not hits or (weigh(searched, hits, index.sparse).score < turn.generation.abstain_below and not (reads and names_a_cell(turn))):
            parts = turn.decline("retrieval")
        elif extractive:
            parts = self._quote(turn, self._rank(turn))
        elif turn.generation.answer_style == "reader":
            parts = self._read(turn)
        elif self.generator is None:
            parts = self._quote(turn, self._rank(turn))
        elif turn.generation.answer_style == "short":
            parts = self._short(turn)
        else:
            parts = self._from_sources(turn)
        for part in parts:
            if isinstance(part, Answer):
                part.snapshot = index.version
            yield part

    def _standalone(self, question: str, history: Sequence[Exchange], generation: GenerationSettings, extractive: bool, timings: dict, notes: list[str]) -> str:
        """The question as retrieval sees it: a follow-up rewritten by the LLM when
        `generation.followup_rewrite` says so (auto: a model with a chat template), else with the
        previous turn's key words carried over (rag/answering/followup.py), which is also the fallback."""
        llm, mode = self.generator, generation.followup_rewrite
        by_llm = llm is not None and not extractive and (mode == "llm" or (mode == "auto" and chat(llm, generation)))
        if not history or not by_llm:
            return standalone(question, history, self.index.sparse)
        settings = rewrite_settings(generation)
        prompt = rewrite_messages(question, history) if chat(llm, generation) else rewrite_prompt(question, history)
        reply, why = "", "the model's rewrite of the follow-up dropped its own words"
        with self._llm_slot(generation, timings):
            t0 = time.perf_counter()
            try:
                reply = "".join(llm.stream(prompt, settings))
            except GeneratorUnavailableError as exc:
                why = str(exc)
        timings["rewrite"] = (time.perf_counter() - t0) * 1000.0
        rewritten = checked_rewrite(reply, question, self.index.sparse)
        if rewritten is None:
            notes.append(f"{why}; searched with the previous turn's key words instead")
            return standalone(question, history, self.index.sparse)
        return rewritten

    def _rank(self, turn: Turn) -> list[Sentence]:
        t0 = time.perf_counter()
        ranked = rank_sentences(turn.searched, turn.hits, turn.sparse, self.embedder, turn.generation.max_sources)
        turn.timings["sentences"] = (time.perf_counter() - t0) * 1000.0
        return ranked

    @contextmanager
    def _llm_slot(self, generation: GenerationSettings, timings: dict[str, float]):
        """This question's turn on the LLM, waited for at most `generation.queue_wait_s`."""
        waited = time.perf_counter()
        if not self._llm_turn.acquire(timeout=generation.queue_wait_s):
            raise GeneratorBusyError(f"the LLM stayed busy with other questions for {generation.queue_wait_s:g} s (generation.queue_wait_s); ask again")
        timings["llm_queue"] = timings.get("llm_queue", 0.0) + (time.perf_counter() - waited) * 1000.0
        try:
            yield
        finally:  # also when the reader stops early (a closed connection closes the generator)
            self._llm_turn.release()

    def _short(self, turn: Turn) -> Iterator[str | Answer]:
        """The LLM's shortest phrase of the best sentence that answers, shown only once it is
        found in that sentence; otherwise the sentence itself, quoted."""
        ranked = self._rank(turn)
        if not ranked:
            yield from turn.decline("extractive")
            return
        best, llm = ranked[0], self.generator
        settings = turn.generation.model_copy(update={"stop": STOP, "max_new_tokens": MAX_TOKENS, "repetition_penalty": REPETITION_PENALTY})
        hit = turn.hits[best.n - 1]
        given = labelled(best.text, table_header(hit.text, hit.context))  # a table row with its column names
        prompt = short_messages(turn.searched, given) if chat(llm, settings) else short_prompt(turn.searched, given)
        phrase, unavailable = "", None
        with self._llm_slot(turn.generation, turn.timings):  # held for the generation only, never while the reader reads
            t0 = time.perf_counter()
            try:
                phrase = "".join(llm.stream(prompt, settings)).strip()
            except GeneratorUnavailableError as exc:  # a server that is down: answer without it
                unavailable = str(exc)
        turn.timings["generate"] = (time.perf_counter() - t0) * 1000.0
        checked = None if unavailable else checked_phrase(phrase, best.text)
        if checked is None:
            why = f"{unavailable}; quoting the sources instead" if unavailable else "Quoted from the source: the model's short answer did not match it"
            turn.notes.append(why)
            yield from self._quote(turn, ranked)
            return
        turn.timings["first_token"] = turn.timings["generate"]  # shown whole, once checked
        text = f"{checked} [{best.n}]"
        yield text
        yield turn.answer(text, citations_for(text, turn.hits, {best.n: [best.text]}), llm.name)

    def _from_sources(self, turn: Turn) -> Iterator[str | Answer]:
        """The LLM writes from numbered sources (answer_style "sources"). Its answer is shown a
        sentence at a time, each once it is complete and rests on an offered source; the first
        that rests on none ends the answer (nothing shown is ever withdrawn), and an answer with
        no such sentence is quotes instead."""
        llm, s = self.generator, turn.generation
        shown: list[Said] = []
        with self._llm_slot(turn.generation, turn.timings):
            prompt = build_prompt(turn.searched, turn.hits[: s.max_sources], llm.count_tokens, llm.context_tokens, s.max_new_tokens)
            if prompt.left_out:
                turn.notes.append(f"{len(prompt.left_out)} retrieved passage(s) left out: the context window is full")
            t0, unavailable, declined = time.perf_counter(), None, False
            try:
                for said in said_sentences(llm.stream(prompt.messages() if chat(llm, s) else prompt.text, s), prompt.sources):
                    if said.stray:
                        turn.notes.append(f"removed citation(s) to sources that were not offered: {', '.join(f'[{n}]' for n in said.stray)}")
                    if said.declined or not said.cites:
                        declined = said.declined and not shown
                        if shown and not said.declined:
                            turn.notes.append("the model went on past what its sources support; its answer ends there")
                        break
                    if not shown:
                        turn.timings["first_token"] = (time.perf_counter() - t0) * 1000.0
                    yield (" " if shown else "") + said.text
                    shown.append(said)
            except GeneratorUnavailableError as exc:
                unavailable = str(exc)
        turn.timings["generate"] = (time.perf_counter() - t0) * 1000.0
        if shown:
            text = " ".join(said.text for said in shown)
            yield turn.answer(text, citations_for(text, prompt.sources), llm.name)
        elif declined:
            yield from turn.decline(llm.name)
        else:
            turn.notes.append(f"{unavailable}; quoting the sources instead" if unavailable else "Quoted from the sources: the model wrote nothing they support")
            yield from self._quote(turn, self._rank(turn))

    def _read(self, turn: Turn) -> Iterator[str | Answer]:
        """The reader's span of the top passages, cited with the sentence that holds it; a
        decline when its margin over "no answer" is under the threshold. A table's cell that
        the question names outright (its row and its column) is the answer without a span
        search; the reader's reading of that row gives its confidence."""
        if self.reader is None:
            turn.notes.append("Quoted from the sources: the reader is not available (see the notes in the sidebar or the log)")
            yield from self._quote(turn, self._rank(turn))
            return
        t0 = time.perf_counter()
        question = turn.read_question
        numbers, texts = read_texts(question, turn.hits, self.settings.reader.passages)
        cell = next(((n, c) for n in numbers if (c := cell_answer(question, turn.hits[n - 1].text, turn.hits[n - 1].context))), None)
        if cell is not None:
            n, found_cell = cell
            reading = self.reader.read(question, [found_cell.row])
            found = SpanAnswer(found_cell.value, n, found_cell.row)
        else:
            stop_at = self.reader.threshold if self.settings.reader.read_until_answer else None
            reading = self.reader.read(question, texts, stop_at)
            found = span_answer(reading, texts, numbers, question) if reading.answers(self.reader.threshold) else None
        turn.timings["read"] = (time.perf_counter() - t0) * 1000.0
        if found is None:
            yield DECLINE
            answer = turn.answer(DECLINE, [], "reader", abstained=True)
        else:
            text = f"{found.phrase} [{found.n}]"
            turn.timings["first_token"] = (time.perf_counter() - turn.started) * 1000.0
            yield text
            answer = turn.answer(text, citations_for(text, turn.hits, {found.n: [found.sentence]}), "reader")
        answer.confidence = round(reading.confidence, 4)
        yield answer

    def _quote(self, turn: Turn, ranked: list[Sentence]) -> Iterator[str | Answer]:
        quotes = pick_quotes(ranked, turn.generation.sentences_per_answer)
        if not quotes:
            yield from turn.decline("extractive")
            return
        text = compose_quotes(quotes)
        yield text
        quoted: dict[int, list[str]] = {}
        for q in quotes:
            quoted.setdefault(q.n, []).append(q.text)
        yield turn.answer(text, citations_for(text, turn.hits, quoted), "extractive")
