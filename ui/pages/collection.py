"""Collection: upload documents, ingest them with a progress bar, see every document with its
status (and why a file failed), delete one, or re-sync the whole source folder."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from ingest.pipeline import Ingestor, UsageError
from ingest.scan import IGNORE_FILE, leave_out
from ingest.status import describe, read_status
from ingest.uploads import UploadError, resolve_inside, save_upload
from rag.answering.answer import plain_markdown
from rag.answering.engine import Engine
from rag.config import Settings
from rag.search.embedding import Embedder
from rag.storage.documents import document_rows
from rag.storage.snapshots import IndexBusyError
from rag.storage.store import IndexMismatchError
from ui import resources

REMOVALS = {
    "index": f"from the index only: the file stays in the folder, listed in {IGNORE_FILE} so a re-sync leaves it out",
    "folder": "from the index and the folder: the file is deleted from the disk",
}


def status_rows(status: dict) -> list[dict]:
    """One row per file of an ingest status: its stage and why it stalled or failed."""
    return [
        {"file": path, "stage": entry["stage"], "note": entry.get("stalled") or entry.get("reason") or ""}
        for path, entry in sorted(status["files"].items(), key=lambda kv: kv[0])
    ]


def run_ingest(current: Settings, eng: Engine | None, source: Path, files: list[str] | None = None) -> None:
    """Ingest `source` into the index with a live progress bar, then rerun the page with a summary.
    When another ingest holds the index, one re-sync is queued instead (indexing `files`, the
    uploads just saved) and starts when that ingest ends."""
    bar, table = st.progress(0.0, text="Scanning ..."), st.empty()

    def on_progress(done: int, total: int, chunks: int) -> None:
        bar.progress(done / max(total, 1), text=f"{done} of {total} files, {chunks} chunks embedded")
        status = read_status(current.index_dir, current.ingest.file_timeout_s)
        if status is not None:  # each file's stage, as the ingest records it
            table.dataframe(status_rows(status), hide_index=True, width="stretch")

    load = (lambda: eng.embedder) if eng else (lambda: Embedder.load(current.embedding))
    try:
        report = Ingestor(current, load, interactive=False, on_progress=on_progress).run(source, current.index_dir)
    except IndexBusyError as exc:
        job = resources.ingest_jobs(current).start(source, queue=True, files=files)
        waiting = f": {', '.join(job.waiting)} will be indexed then" if job.waiting else ""
        st.session_state["collection_queued"] = f"Another ingest is writing this index ({exc}). A re-sync is queued for when it ends{waiting}."
        st.rerun()
    except (UsageError, IndexMismatchError, ValueError) as exc:
        st.error(plain_markdown(str(exc)))
        return
    summary = (
        f"Added {report.added}, updated {report.updated}, removed {report.removed}, unchanged {report.unchanged}; "
        f"{report.chunks_embedded} chunks embedded in {report.seconds:.1f} s."
    )
    if report.failed:
        summary += f" {len(report.failed)} file(s) could not be read: see their status below."
    st.session_state["collection_flash"] = summary
    st.session_state["upload_round"] = st.session_state.get("upload_round", 0) + 1
    if eng is None:
        resources.forget_engine()  # the first snapshot exists now
    else:
        eng.refresh()
    st.rerun()


current = resources.settings()
st.title("Collection")
eng = resources.engine(current) if resources.live_index(current) else None
if eng is not None:
    eng.refresh()  # show what the latest ingest published, wherever it ran
source = resources.source_folder(current, eng)
if source is None:
    st.warning("No source folder is known for this index: set `ui.source_dir` in the settings file.")
    st.stop()
st.caption(plain_markdown(f"Source folder: {source}\nIndex: {current.index_dir}"))
if saved := st.session_state.pop("collection_saved", []):
    st.info(plain_markdown("Saved as " + ", ".join(saved)))
for refused in st.session_state.pop("collection_refused", []):
    st.error(plain_markdown(refused))
if flash := st.session_state.pop("collection_flash", None):
    st.success(flash)
if queued := st.session_state.pop("collection_queued", None):
    st.info(plain_markdown(queued))
waiting = resources.ingest_jobs(current).queued()
if waiting is not None:
    st.info(
        plain_markdown(
            "Queued: a re-sync starts when the ingest running now ends" + (f"; it will index {', '.join(waiting.waiting)}" if waiting.waiting else "")
        )
    )

writable = resources.may_change(current)
if not writable:
    st.info("Your login may read this collection, not change it: uploads, re-sync and removal are for logins that may.")
allowed = [e.lstrip(".") for e in current.ingest.extensions]
if writable:
    uploads = st.file_uploader(
        f"Add documents (up to {current.ingest.max_file_mb:g} MB each)",
        type=allowed,
        accept_multiple_files=True,
        key=f"uploads-{st.session_state.get('upload_round', 0)}",  # a new key after each ingest empties it
    )
    if uploads and st.button("Upload and ingest", type="primary"):
        source.mkdir(parents=True, exist_ok=True)
        indexed = {}
        if eng is not None:
            with eng.held() as live:
                indexed = {record.sha256: path for path, record in live.index.store.files().items()}
        saved, refused = [], []
        for upload in uploads:
            try:
                saved.append(save_upload(upload.name, upload.getvalue(), source, current.ingest, indexed).name)
            except (UploadError, OSError) as exc:
                refused.append(str(exc))
        st.session_state["collection_refused"] = refused  # shown after the rerun that follows
        st.session_state["collection_saved"] = saved
        if saved:
            run_ingest(current, eng, source, saved)
        st.session_state["upload_round"] = st.session_state.get("upload_round", 0) + 1
        st.rerun()

    if st.button("Re-sync the source folder", help="ingest what changed; drop documents deleted from the folder"):
        run_ingest(current, eng, source)

if eng is not None:
    with eng.held() as live:
        rows = document_rows(live.index.store)
    st.subheader(f"Documents ({len(rows)})")
    st.dataframe(rows, hide_index=True, width="stretch")
    if writable:
        with st.expander("Remove a document"):  # an expander, not a popover: picking from its list must not close it
            doomed = st.selectbox("Document", [r["document"] for r in rows if r["chunks"]], index=None, placeholder="choose a document")
            how = st.radio("Remove it", list(REMOVALS), format_func=REMOVALS.get, index=None)
            if st.button("Remove", disabled=not (doomed and how), help="choose a document and how to remove it"):
                try:
                    target = resolve_inside(source, doomed)
                except UploadError as exc:
                    st.error(plain_markdown(str(exc)))
                else:
                    if how == "index":
                        leave_out(source, doomed)
                    else:
                        target.unlink(missing_ok=True)
                    run_ingest(current, eng, source)


def show_status(status: dict) -> None:
    head, counts, *_ = describe(status)
    st.subheader("Latest ingest")
    st.caption(plain_markdown(f"{head}. {counts}"))
    rows = status_rows(status)
    if rows:
        st.dataframe(rows, hide_index=True, width="stretch")


@st.fragment(run_every=2)
def follow_running_ingest() -> None:
    """Redrawn every 2 s while an ingest started elsewhere (rag ingest, rag watch, the API) runs.
    Only then: a timed fragment left on an idle page has raced page switches in Streamlit."""
    status = read_status(current.index_dir, current.ingest.file_timeout_s)
    if status is not None:
        show_status(status)


latest = read_status(current.index_dir, current.ingest.file_timeout_s)
if latest is not None and latest["running"]:
    follow_running_ingest()
elif latest is not None:
    show_status(latest)
