"""`rag mcp`: the collection as Model Context Protocol tools, so the assistants people work in
(desktop chat apps, IDE agents) can search it and ask it with no glue. Built with the official
`mcp` SDK; served over stdio, which is what a desktop assistant launches:

    {"mcpServers": {"my-docs": {"command": "/path/to/.venv/bin/rag", "args": ["mcp", "--index", "/path/to/index"]}}}

Every tool reads the live snapshot through the same engine the CLI, the API and the app use.
stdout carries the protocol, so nothing else may print there (logs go to stderr)."""

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel

from app import EXIT_USAGE
from rag.answering.tables import table_text

EngineFor = Callable[[str | None, object], object]  # (collection, HTTP request or None) -> Engine
INSTRUCTIONS = (
    "Search and ask a local document collection. `ask` answers with a short phrase quoted from the documents and the "
    "citations it rests on, or declines when they do not hold the answer; `search` returns passages; "
    "`list_documents` names what the collection holds; `get_passage` gives one passage whole."
)


class Passage(BaseModel):
    chunk_id: int
    file: str
    page: int | None
    start: int
    end: int
    text: str
    scores: dict[str, float] = {}


class Cited(BaseModel):
    n: int
    file: str
    page: int | None
    quote: str  # the sentence or table row the answer rests on


class Answered(BaseModel):
    answer: str
    declined: bool
    citations: list[Cited]
    confidence: float | None
    closest: list[Passage] = []  # when declined: the nearest passages


class Document(BaseModel):
    document: str
    kind: str
    KB: float | None
    chunks: int
    status: str


def one_engine(engine) -> EngineFor:
    """`engine_for` of a server of one collection: `collection` may be left out."""

    def engine_for(collection: str | None, request) -> object:
        if collection is not None:
            raise LookupError(f"this server has one collection; leave `collection` out (got {collection!r})")
        return engine

    return engine_for


def passage(hit) -> Passage:
    """A hit as an agent should read it: table rows as "column: value" pairs (a bare row of dates
    does not say which is which); `start`-`end` locate the chunk in its file."""
    return Passage(chunk_id=hit.chunk_id, file=hit.path, page=hit.page, start=hit.start, end=hit.end, text=table_text(hit.text, hit.context), scores=hit.scores)


def build_server(engine_for: EngineFor, names: Callable[[object], list[str]] = lambda request: []):
    """An MCPServer whose tools answer from the engine `engine_for(collection, request)` gives
    (an rag.answering.engine.Engine; `request` is the HTTP request, None over stdio); it raises
    LookupError, with a message fit for the caller, for a collection this caller may not use.
    `names(request)` lists the collections the caller may read (empty: the server has one)."""
    from mcp.server import MCPServer
    from mcp.server.mcpserver import Context
    from mcp.server.mcpserver.exceptions import ToolError

    from rag.search.retriever import Filters
    from rag.storage.documents import document_rows

    server = MCPServer("rag-local", instructions=INSTRUCTIONS)

    def engine(collection: str | None, ctx: Context):
        try:
            return engine_for(collection, ctx.request_context.request)
        except LookupError as exc:
            raise ToolError(str(exc)) from None

    @server.tool()
    def list_collections(ctx: Context) -> list[str]:
        """The collections you may search and ask, by name (pass one as `collection` to the other
        tools); empty over stdio, where the server has one collection and `collection` is left out."""
        return names(ctx.request_context.request)

    @server.tool()
    def search(
        ctx: Context, question: str, top_k: int = 5, path_glob: str | None = None, kinds: list[str] | None = None, collection: str | None = None
    ) -> list[Passage]:
        """Passages of the collection that match `question`, best first: file, page, character span,
        text and the retrieval scores. Filter by a path glob ("specs/*") or file kinds ("pdf", "docx").
        It never declines: it returns the closest passages even when none holds the answer."""
        filters = Filters(path_glob, tuple(kinds or ())) if path_glob or kinds else None
        return [passage(h) for h in engine(collection, ctx).retrieve(question, top_k=max(1, min(top_k, 50)), filters=filters)]

    @server.tool()
    def ask(ctx: Context, question: str, collection: str | None = None) -> Answered:
        """A short answer to `question` quoted from the documents, with its citations (file, page and
        the sentence or table row it rests on) and a confidence from 0 to 1. When the documents do
        not hold the answer it declines: `declined` is true and `closest` lists the nearest passages."""
        answer = engine(collection, ctx).ask(question)
        citations = [Cited(n=c.n, file=c.path, page=c.page, quote=" ".join(c.sentences) or c.text) for c in answer.citations]
        closest = [passage(h) for h in answer.hits[:3]] if answer.abstained else []
        return Answered(answer=answer.answer, declined=answer.abstained, citations=citations, confidence=answer.confidence, closest=closest)

    @server.tool()
    def list_documents(ctx: Context, collection: str | None = None) -> list[Document]:
        """Every document of the collection: its path, kind, size in KB, number of passages, and
        whether it is indexed or failed to read (with the reason)."""
        with engine(collection, ctx).held() as live:
            return [Document(**row) for row in document_rows(live.index.store)]

    @server.tool()
    def get_passage(ctx: Context, chunk_id: int, collection: str | None = None) -> Passage:
        """One passage whole, by the `chunk_id` that `search` returned: its file, page, span and text.
        An id the live collection does not hold is an error saying so."""
        with engine(collection, ctx).held() as live:
            record = live.index.store.chunks([chunk_id]).get(chunk_id)
        if record is None:
            raise ToolError(f"no passage {chunk_id} in the collection (ids come from `search`; an ingest may have replaced it)")
        text = table_text(record.text, record.context)
        return Passage(chunk_id=record.id, file=record.path, page=record.page, start=record.start, end=record.end, text=text)

    return server


def add_parser(sub) -> None:
    parser = sub.add_parser("mcp", help="serve the index as Model Context Protocol tools over stdio (for desktop assistants and agents)")
    parser.add_argument("--index", help="index folder (default: index_dir from settings)")
    parser.set_defaults(func=cmd_mcp)


def cmd_mcp(args: argparse.Namespace) -> int:
    from rag.answering.engine import Engine, llm_needed
    from rag.storage.index import IndexCorruptError
    from rag.storage.snapshots import IndexNotFoundError
    from rag.storage.store import IndexMismatchError

    settings = args.settings
    try:
        engine = Engine.from_settings(settings, Path(args.index) if args.index else None, load_llm=llm_needed(settings.generation))
    except (IndexNotFoundError, IndexMismatchError, IndexCorruptError, ValueError) as exc:
        print(f"rag mcp: {exc}", file=sys.stderr)
        return EXIT_USAGE
    build_server(one_engine(engine)).run("stdio")
    return 0
