"""What the pages share, loaded once per process with Streamlit's resource cache (not on every
rerun): the engine (index, embedder, reranker, generator) and the feedback store. Settings are
read on each run, so the cache key follows them."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from ingest.jobs import IngestJobs
from rag.answering.answer import plain_markdown
from rag.answering.engine import Engine
from rag.config import Settings
from rag.conversations import ConversationStore, new_token, valid_token
from rag.feedback import FeedbackStore
from rag.keys import Access
from rag.search.embedding import Embedder
from rag.storage.backend import live_version
from rag.storage.index import IndexCorruptError
from rag.storage.snapshots import IndexNotFoundError
from rag.storage.store import IndexMismatchError

INDEX_ERRORS = (IndexNotFoundError, IndexMismatchError, IndexCorruptError)


def settings() -> Settings:
    """The settings file and RAG_* variables (`rag serve` passes the index as RAG_INDEX_DIR);
    with several collections, index_dir is the one this session picked among those its login
    may read (each collection keeps its own conversations, feedback and source folder)."""
    base = Settings.load()
    names = readable(base)
    if not names:
        st.error("This login may read no collection here: sign in with another key.")
        st.stop()
    if not base.collections:
        return base
    if st.session_state.get("collection") not in names:  # none picked yet, or one outside the login's scopes
        st.session_state["collection"] = names[0]
    return base.model_copy(update={"index_dir": base.collections[st.session_state["collection"]], "ui": base.ui.model_copy(update={"source_dir": None})})


def access() -> Access | None:
    """This session's login: the key it signed in with (app.py), None while the key store is empty."""
    return st.session_state.get("access")


def readable(base: Settings) -> list[str]:
    """The collections this session's login may read (a server of one index: that one, named
    after its folder)."""
    login = access()
    return [n for n in base.collection_dirs() if login is None or login.allows(n)]


def may_change(current: Settings) -> bool:
    """Whether this session's login may upload to, delete from and re-sync the collection shown."""
    login = access()
    name = st.session_state.get("collection") or next(iter(current.collection_dirs()))
    return login is None or login.allows(name, write=True)


@st.cache_resource(show_spinner="Loading the index and the models ...")
def _engine(settings_json: str) -> Engine:
    return Engine.from_settings(Settings.model_validate_json(settings_json))


def engine(current: Settings) -> Engine | None:
    """The shared engine, or None after showing why the index cannot be opened."""
    try:
        eng = _engine(current.model_dump_json(exclude={"ui"}))
        eng.refresh()  # other processes (ingest, watch, API uploads, merges) publish snapshots and prune old ones
        return eng
    except INDEX_ERRORS as exc:
        st.error(plain_markdown(f"The index cannot be opened: {exc}"))
        st.info("Add documents on the Collection page, or run `rag ingest FOLDER --index DIR` and start again.")
        return None


def live_index(current: Settings) -> bool:
    """Whether there is an index to open yet (a published snapshot, or a Milvus collection)."""
    return live_version(current.index_dir, current) is not None


@st.cache_resource
def feedback_store(index_dir: str) -> FeedbackStore:
    return FeedbackStore(Path(index_dir))


@st.cache_resource
def conversation_store(index_dir: str) -> ConversationStore:
    return ConversationStore(Path(index_dir))


def user() -> str:
    """This browser user's token: kept in the page address (`?u=`), so a reload or a bookmark
    finds the same conversations and settings; a new one on a first visit."""
    token = st.session_state.get("user") or st.query_params.get("u")
    if not valid_token(token):
        token = new_token()
    st.session_state["user"] = token
    if st.query_params.get("u") != token:
        st.query_params["u"] = token
    return token


def source_folder(current: Settings, eng: Engine | None) -> Path | None:
    """Where uploads go and re-sync reads: the setting, else the folder the index was built from."""
    if current.ui.source_dir:
        return current.ui.source_dir
    if eng is None:
        return None
    with eng.held() as live:
        recorded = live.index.store.get_meta("source")
    return Path(recorded) if recorded else None


@st.cache_resource
def _ingest_jobs(settings_json: str) -> IngestJobs:
    current = Settings.model_validate_json(settings_json)
    loaded: list[Embedder] = []

    def load_embedder() -> Embedder:  # once, when a queued job first runs
        if not loaded:
            loaded.append(Embedder.load(current.embedding))
        return loaded[0]

    return IngestJobs(current, current.index_dir, load_embedder, on_done=lambda: None)  # pages refresh their engine on each run


def ingest_jobs(current: Settings) -> IngestJobs:
    """This process's ingest jobs for the index: where an ingest that finds the writer's place
    taken (another process's ingest, another browser's) queues its re-sync, so no upload is
    left behind."""
    return _ingest_jobs(current.model_dump_json(exclude={"ui"}))


def forget_engine() -> None:
    """Drop the cached engine (after the first ingest of a new index, say); the next run reloads it."""
    _engine.clear()
