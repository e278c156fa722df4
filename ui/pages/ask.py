"""Ask: a chat over the collection, kept per user. The answer streams in; each citation [n] opens a
source panel with the passage scrolled to its highlighted cited sentence, the cited page of a PDF,
and the file to open; feedback is stored."""

from __future__ import annotations

import io
import time
from pathlib import Path

import streamlit as st

from ingest.ocr import pdf_page_image
from ingest.uploads import UploadError, resolve_inside
from rag.answering.answer import Answer, Citation, place, plain_markdown
from rag.answering.engine import Engine
from rag.answering.generate.extractive import plain
from rag.answering.tables import table_text
from rag.config import Settings
from rag.conversations import ConversationStore, conversation_markdown, valid_token
from rag.storage.documents import collection_summary, example_questions
from ui import resources
from ui.safe import scrolled_passage_html

PAGE_DPI, PAGE_WIDTH = 100, 640  # a cited PDF page is shown under its passage, legible at this size
MAX_LISTED = 30  # conversations listed in the sidebar, most recent first
MIME = {".pdf": "application/pdf", ".html": "text/html", ".htm": "text/html", ".md": "text/markdown", ".txt": "text/plain"}


STICKY = ("top_k", "fusion", "dense_weight", "rerank", "answer_with", "greedy", "temperature", "top_p", "sample_top_k", "max_new_tokens")


def conversations_sidebar(store: ConversationStore, user: str, conversation: str | None, answers: list[Answer]) -> None:
    """New, open, rename, export and delete this user's conversations."""
    with st.sidebar:
        if st.button("New conversation", help="follow-up questions build on the earlier ones until you start anew"):
            st.query_params.pop("c", None)
            st.session_state["conversation"] = None
            st.rerun()
        for past in store.conversations(user)[:MAX_LISTED]:
            kind = "primary" if past.id == conversation else "secondary"
            if st.button(past.title, key=f"open-{past.id}", type=kind, width="stretch", help=f"{past.turns} question(s)"):
                st.query_params["c"] = past.id
                st.rerun()
        if conversation is not None:
            title = store.title(user, conversation) or ""
            with st.expander("This conversation"):
                renamed = st.text_input("Title", title, key=f"title-{conversation}")
                if renamed != title and st.button("Rename", key=f"rename-{conversation}"):
                    store.rename(user, conversation, renamed)
                    st.rerun()
                markdown = conversation_markdown(title, answers)
                st.download_button("Export as Markdown", markdown, f"{title[:40].strip() or 'conversation'}.md", "text/markdown")
                if st.button("Delete this conversation", key=f"delete-{conversation}"):
                    store.delete(user, conversation)
                    st.query_params.pop("c", None)
                    st.session_state["conversation"] = None
                    st.rerun()


def sticky(key: str, default, prefs: dict, allowed: list | None = None) -> str:
    """The session-state key of a sidebar widget, set from the user's saved choice (else
    `default`) whenever Streamlit has dropped it: on a first visit, a reload or a page switch."""
    state_key = f"pref-{key}"
    if state_key not in st.session_state:
        value = prefs.get(key, default)
        st.session_state[state_key] = value if allowed is None or value in allowed else default
    return state_key


def sidebar(current: Settings, eng: Engine, store: ConversationStore, user: str) -> dict:
    """The per-question knobs, defaulting to the settings file and then to what this user chose
    last (saved on change); returns ask_stream's overrides."""
    r, g = current.retrieval, current.generation
    prefs = store.preferences(user)
    has_reranker = eng.retriever.reranker is not None
    if not has_reranker:
        st.session_state["pref-rerank"] = False
    choices = (["Reader"] if eng.reader is not None else []) + (["LLM"] if eng.generator is not None else []) + ["Extractive"]
    with st.sidebar:
        st.header("Settings")
        help_with = "Reader: the trained reader's short answer, or a decline; LLM: the language model's; Extractive: the best sentences quoted"
        generator = st.radio("Answer with", choices, help=help_with, key=sticky("answer_with", choices[0], prefs, choices))
        advanced = st.expander("Advanced", expanded=False)  # search and decoding knobs: the defaults are measured ones
        top_k = advanced.slider("Passages (top-k)", 1, 30, key=sticky("top_k", r.top_k, prefs))
        fusion = advanced.selectbox("Fusion", ["weighted", "rrf"], key=sticky("fusion", r.fusion, prefs, ["weighted", "rrf"]))
        weight = advanced.slider("Dense weight", 0.0, 1.0, step=0.05, disabled=fusion != "weighted", key=sticky("dense_weight", r.dense_weight, prefs))
        help_rerank = None if has_reranker else "no reranker is configured"
        rerank = advanced.toggle("Rerank", disabled=not has_reranker, help=help_rerank, key=sticky("rerank", has_reranker, prefs))
        with advanced:
            greedy = st.toggle("Greedy", key=sticky("greedy", g.greedy, prefs))
            temperature = st.slider("Temperature", 0.0, 2.0, step=0.05, disabled=greedy, key=sticky("temperature", g.temperature, prefs))
            top_p = st.slider("Top-p", 0.05, 1.0, step=0.05, disabled=greedy, key=sticky("top_p", g.top_p, prefs))
            sample_top_k = st.number_input("Top-k (sampling)", 0, 200, disabled=greedy, key=sticky("sample_top_k", g.top_k, prefs))
            max_new = st.number_input("Max new tokens", 16, 2048, key=sticky("max_new_tokens", g.max_new_tokens, prefs))
        chosen = {key: st.session_state[f"pref-{key}"] for key in STICKY}
        if chosen != prefs:
            store.save_preferences(user, chosen)
        for note in eng.notes:  # configuration (no reranker, no LLM): said once here, not on every answer
            st.caption(plain_markdown(note))
        feedback_store = resources.feedback_store(str(current.index_dir))
        st.download_button("Export feedback (JSONL)", feedback_store.export_jsonl(), "feedback.jsonl", "application/jsonl")
    return {
        "top_k": top_k,
        "extractive": generator == "Extractive",
        "rerank": rerank,
        "retrieval": r.model_copy(update={"top_k": top_k, "fusion": fusion, "dense_weight": weight}),
        "generation": g.model_copy(
            update={
                "answer_style": "reader" if generator == "Reader" else ("short" if g.answer_style == "reader" else g.answer_style),
                "greedy": greedy,
                "temperature": temperature,
                "top_p": top_p,
                "top_k": int(sample_top_k),
                "max_new_tokens": int(max_new),
            }
        ),
    }


def where(c: Citation) -> str:
    return place(Path(c.path).name, c.page, c.ocr)


@st.cache_data(max_entries=32, show_spinner=False)
def cited_page(path: str, mtime_ns: int, page: int) -> bytes:
    """Page `page` (1-based) of a PDF as PNG, cached per file version."""
    out = io.BytesIO()
    pdf_page_image(Path(path), page - 1, PAGE_DPI).save(out, "PNG")
    return out.getvalue()


def source_panel(c: Citation, source: Path | None, key: str) -> None:
    with st.container(border=True):
        st.markdown(f"**[{c.n}] {plain_markdown(where(c))}**")
        st.caption(plain_markdown(f"{c.path}, characters {c.start}-{c.end}"))
        st.html(scrolled_passage_html(c.text, c.sentences, key), unsafe_allow_javascript=True)  # all document text is escaped
        path = None
        if source is not None:
            try:
                path = resolve_inside(source, c.path)
            except UploadError:
                path = None
        if path is not None and path.is_file() and path.suffix.lower() == ".pdf" and c.page:
            try:
                st.image(cited_page(str(path), path.stat().st_mtime_ns, c.page), caption=f"page {c.page} of {path.name}", width=PAGE_WIDTH)
            except Exception as exc:  # a damaged or changed PDF: the passage above still stands
                st.caption(plain_markdown(f"page {c.page} cannot be shown: {exc}"))
        if path is not None and path.is_file():
            mime = MIME.get(path.suffix.lower(), "application/octet-stream")
            st.download_button("Open / download the file", path.read_bytes(), path.name, mime, key=f"dl-{key}")
        else:
            st.caption("The source file is not in the source folder any more.")


def feedback(i: str, answer: Answer, current: Settings) -> None:
    sent = st.session_state.setdefault("feedback_sent", set())
    if i in sent:
        st.caption("Thanks for the feedback.")
        return
    rating = st.feedback("thumbs", key=f"rating-{i}")
    if rating is not None:
        comment = st.text_input("Comment (optional)", key=f"comment-{i}")
        if st.button("Send feedback", key=f"send-{i}"):
            resources.feedback_store(str(current.index_dir)).add(answer, thumbs_up=rating == 1, comment=comment)
            sent.add(i)
            st.rerun()


def show_answer(i: str, answer: Answer, source: Path | None, current: Settings) -> None:
    with st.chat_message("user"):
        st.markdown(plain_markdown(answer.question))
    with st.chat_message("assistant"):
        if answer.abstained:
            st.warning(plain_markdown(f"Declined: not in your documents. Searched for: {answer.searched or answer.question}. The closest passages are below."))
        for note in answer.notes:
            st.info(plain_markdown(note))
        st.markdown(plain_markdown(answer.answer))
        if answer.confidence is not None and not answer.abstained:
            st.caption(f"Confidence {answer.confidence:.0%} (the reader's, calibrated on SQuAD 2.0)")
        if answer.searched:  # a follow-up, made standalone before the search
            st.caption(plain_markdown(f"searched as: {answer.searched}"))
        for c in answer.citations:  # the sentence a short answer rests on, under it
            for sentence in c.sentences:
                if plain(sentence) not in answer.answer:  # not already quoted as the answer
                    st.markdown("> " + plain_markdown(f"{plain(sentence)} [{c.n}]"))
        if answer.citations:
            per_row = 4
            for row in range(0, len(answer.citations), per_row):
                for col, c in zip(st.columns(per_row), answer.citations[row : row + per_row]):
                    if col.button(f"[{c.n}] {where(c)}", key=f"cite-{i}-{c.n}", help=f"show the passage: {place(c.path, c.page, c.ocr)}"):
                        st.session_state.setdefault("open_source", {})[i] = c.n
        chosen = st.session_state.get("open_source", {}).get(i)
        for c in answer.citations:
            if c.n == chosen:
                source_panel(c, source, f"{i}-{c.n}")
        cited = {c.chunk_id for c in answer.citations}
        others = [h for h in answer.hits if h.chunk_id not in cited]
        if others:
            with st.expander(f"Closest passages ({len(others)})" if answer.abstained else f"Also retrieved ({len(others)})", expanded=answer.abstained):
                for h in others:
                    st.markdown(f"**{plain_markdown(place(Path(h.path).name, h.page, h.ocr))}**, score {h.score:.3f}")
                    text = table_text(h.text, h.context)
                    st.text(text[:400] + (" ..." if len(text) > 400 else ""))
        with st.expander("Details", expanded=False):
            st.caption(plain_markdown(f"answered by {answer.generator}; " + ", ".join(f"{k} {v:.0f} ms" for k, v in answer.timings.items())))
        feedback(i, answer, current)


def answered_examples(eng: Engine, current: Settings, count: int = 4) -> list[str]:
    """Example questions from the collection's headings that it really answers (asked once per
    snapshot and session, with quotes: about 0.1 s each): an example that is declined helps no one."""
    cache = st.session_state.setdefault("examples", {})
    with eng.held() as live:
        snapshot = live.index.version
        candidates = (
            None if snapshot in cache else current.ui.examples or example_questions(live.index.store, 2 * count)
        )  # real questions when the settings give them
    if snapshot not in cache:
        cache[snapshot] = [q for q in candidates if not eng.ask(q, extractive=True).abstained][:count]
    return cache[snapshot]


def first_screen(eng: Engine, current: Settings) -> str | None:
    """What the collection holds, what to ask it and what to expect; returns an example question
    when one is clicked."""
    with eng.held() as live:
        summary, updated = collection_summary(live.index.store), live.index.updated
    kinds = ", ".join(f"{n} {kind}" for kind, n in summary["kinds"].items())
    updated = time.strftime("%Y-%m-%d %H:%M", time.localtime(updated))
    name = current.index_dir.name
    size = f"{summary['files']} files ({kinds}), {summary['chunks']} passages; last ingest {updated}."
    st.markdown(f"**{plain_markdown(name)}**: {plain_markdown(size)}")
    st.caption(
        "Answers come only from these documents, each with numbered citations you can open. A question they do not "
        'answer gets "not in your documents" and the closest passages. Short answers come from a reader trained to pick '
        "the phrase of a passage that answers, or to say none does; nothing leaves this machine. Follow-up questions are understood."
    )
    examples = answered_examples(eng, current)
    clicked = None
    for col, example in zip(st.columns(len(examples)) if examples else [], examples):
        if col.button(example, key=f"example-{example}", width="stretch"):
            clicked = example
    return clicked


def ask(question: str, eng: Engine, options: dict) -> Answer:
    """Stream the answer into the page; return the finished Answer."""
    with st.chat_message("user"):
        st.markdown(plain_markdown(question))
    with st.chat_message("assistant"):
        shown, text, answer = st.empty(), "", None
        with st.spinner("Retrieving and writing ..."):
            for part in eng.ask_stream(question, **options):
                if isinstance(part, Answer):
                    answer = part
                else:
                    text += part
                    shown.markdown(plain_markdown(text) + " \u258c")
    return answer


current = resources.settings()
st.title("Ask your documents")
eng = resources.engine(current)
if eng is not None:
    user = resources.user()
    store = resources.conversation_store(str(current.index_dir))
    conversation = st.query_params.get("c") or st.session_state.get("conversation")  # the address drops it on a page switch
    if not valid_token(conversation) or store.title(user, conversation) is None:
        conversation = None  # a new conversation starts with its first question
    st.session_state["conversation"] = conversation
    if conversation and st.query_params.get("c") != conversation:
        st.query_params["c"] = conversation
    history = store.turns(user, conversation) if conversation else []
    conversations_sidebar(store, user, conversation, history)
    options = sidebar(current, eng, store, user)
    source = resources.source_folder(current, eng)
    example = first_screen(eng, current) if not history else None
    for i, past in enumerate(history):
        show_answer(f"{conversation}-{i}", past, source, current)
    limit = current.retrieval.max_question_chars
    typed = st.chat_input(f"Ask a question about the collection (up to {limit:,} characters)", max_chars=limit)
    if question := typed or example:
        answer = ask(question, eng, {**options, "history": [a.exchange() for a in history]})
        if conversation is None:
            conversation = store.start(user, question)
            st.query_params["c"] = conversation
        store.add_turn(user, conversation, answer)
        st.rerun()
