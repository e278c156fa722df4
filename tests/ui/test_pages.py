"""Each page of the Streamlit app under streamlit.testing.v1.AppTest, over a small ingested
folder with the extractive answerer (no LLM needed): asking and opening a source, hostile
document text rendered as text, the collection's list, re-sync and delete, the evaluation
page's run and compare, and the password gate."""

import re
from pathlib import Path

import pytest
from beir_factory import write_beir
from conftest import ingested_corpus
from streamlit.testing.v1 import AppTest

from rag.conversations import ConversationStore
from rag.feedback import FeedbackStore

UI = Path(__file__).resolve().parents[2] / "ui"
HOSTILE = (
    "Zebrafish migrate along the Orinoco river every spring <script>stealCookies</script> "
    "as [the survey](javascript:void) and <img src onerror> **loudly** report.\n"
)
LIGHTHOUSES = "# Bell Rock Lighthouse\n\nThe Bell Rock Lighthouse, off the coast of Angus, was first lit in 1811.\n"
UNESCAPED_MARKUP = re.compile(r"(?<!\\)<|(?<!\\)\]\(")


@pytest.fixture
def app_env(tmp_path: Path, embedder, monkeypatch) -> Path:
    return make_app_env(tmp_path, embedder, monkeypatch, "local")


def make_app_env(tmp_path: Path, embedder, monkeypatch, backend: str) -> Path:
    settings = ingested_corpus(tmp_path, embedder, {"hostile.md": HOSTILE, "lighthouses.md": LIGHTHOUSES}, backend=backend)
    if backend == "milvus":
        for key, value in {"BACKEND": "milvus", "MILVUS__INDEX_TYPE": "FLAT", "MILVUS__INDEX_PARAMS": "{}", "MILVUS__SEARCH_PARAMS": "{}"}.items():
            monkeypatch.setenv(f"RAG_{key}", value)
    monkeypatch.setenv("RAG_INDEX_DIR", str(settings.index_dir))
    monkeypatch.setenv("RAG_GENERATION__BACKEND", "extractive")
    monkeypatch.setenv("RAG_GENERATION__ANSWER_STYLE", "short")  # quotes (no LLM); the reader's own test sets "reader"
    monkeypatch.setenv("RAG_UI__RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.delenv("RAG_CONFIG", raising=False)
    return tmp_path


def page(name: str) -> AppTest:
    return AppTest.from_file(str(UI / "pages" / f"{name}.py"), default_timeout=180)


def history(at: AppTest, root: Path) -> list:
    """The answers of the conversation the page shows, as the store keeps them."""
    conversation = at.query_params.get("c")
    return ConversationStore(root / "index").turns(at.session_state["user"], conversation) if conversation else []


def ask(question: str) -> AppTest:
    at = page("ask").run()
    assert not at.exception
    at.chat_input[0].set_value(question).run()
    assert not at.exception
    return at


def test_the_first_screen_says_what_the_collection_holds_and_what_to_ask(app_env: Path):
    at = page("ask").run()
    assert not at.exception
    assert any(m.value.startswith("**index**: ") and "passages" in m.value and "last ingest" in m.value for m in at.markdown)  # its name in bold
    assert any("not in your documents" in c.value for c in at.caption)
    examples = [b for b in at.button if b.label.startswith("What about")]
    assert "What about Suspension bridges?" not in [b.label for b in examples]  # the collection does not answer it: not offered
    example = next(b for b in examples if b.label == "What about Bell Rock Lighthouse?")  # from a heading
    example.click().run()
    answer = history(at, app_env)[0]
    assert answer.question == example.label and not answer.abstained and answer.citations[0].path == "lighthouses.md"
    assert not any(b.label.startswith("What about") for b in at.main.button)  # the first screen gives way to the conversation


def test_the_first_screen_offers_the_example_questions_the_settings_give_when_answered(app_env: Path, monkeypatch):
    monkeypatch.setenv("RAG_UI__EXAMPLES", '["Which town have the lava flows of Mount Etna reached?", "Who won the 1998 football world cup?"]')
    at = page("ask").run()
    assert not at.exception
    labels = [b.label for b in at.main.button]
    assert "Which town have the lava flows of Mount Etna reached?" in labels  # answered: offered
    assert "Who won the 1998 football world cup?" not in labels and not any(label.startswith("What about") for label in labels)


def test_ask_answers_with_citations_that_open_their_source(app_env: Path):
    at = ask("Which town have Etna's lava flows reached?")
    answer = history(at, app_env)[0]
    assert not answer.abstained and "Catania" in answer.answer
    cite = next(b for b in at.button if b.label.startswith("[") and "volcanoes.md" in b.label)
    cite.click().run()
    panel = at.get("html")[0].proto.body
    assert "<mark>" in panel and "Catania" in panel.split("<mark>", 1)[1]
    labels = [d.proto.label for d in at.get("download_button")]
    assert "Open / download the file" in labels and "Export feedback (JSONL)" in labels
    assert any("total" in c.value for c in at.caption)  # per-answer timings
    assert at.sidebar.slider[0].label == "Passages (top-k)"
    assert any("no reranker" in c.value for c in at.sidebar.caption)  # said once, in the sidebar
    assert not any("no reranker" in i.value for i in at.main.info) and answer.notes == []  # not on the answer


def test_a_cited_pdf_page_is_shown_in_the_source_panel(app_env: Path):
    at = ask("What command must an application run after installing its XML file in the packages directory?")
    cite = next(b for b in at.button if b.label.startswith("[") and "mime-spec.pdf, page" in b.label)
    page_number = int(cite.label.rsplit(" ", 1)[1])
    cite.click().run()
    panel = at.get("html")[0].proto
    assert panel.unsafe_allow_javascript and "scrollTop" in panel.body and "<mark>" in panel.body
    [image] = at.get("image")
    assert image.proto.imgs[0].caption == f"page {page_number} of mime-spec.pdf"


def test_a_follow_up_builds_on_the_conversation_until_a_new_one(app_env: Path):
    at = ask("Which town have Etna's lava flows reached?")
    at.chat_input[0].set_value("Where is it?").run()
    first, follow = history(at, app_env)
    assert first.searched == "" and "Etna" in follow.searched and follow.citations[0].path == "volcanoes.md"
    assert any("searched as" in c.value for c in at.caption)
    next(b for b in at.sidebar.button if b.label == "New conversation").click().run()
    assert history(at, app_env) == []


def test_a_conversation_and_the_sidebar_settings_outlive_a_reload_for_their_user_only(app_env: Path):
    at = ask("Which town have Etna's lava flows reached?")
    user, conversation = at.session_state["user"], at.query_params["c"]
    at.sidebar.slider[0].set_value(3).run()
    reloaded = page("ask")  # a reload: a new session with the same address
    reloaded.query_params.update({"u": user, "c": conversation})
    reloaded.run()
    assert any("Catania" in m.value for m in reloaded.chat_message[1].markdown)
    assert reloaded.sidebar.slider[0].value == 3
    listed = next(b for b in reloaded.sidebar.button if b.key == f"open-{conversation}")
    assert listed.label == "Which town have Etna's lava flows reached?"
    reloaded.text_input(key=f"title-{conversation}").input("Etna lava").run()
    next(b for b in reloaded.sidebar.button if b.label == "Rename").click().run()
    assert ConversationStore(app_env / "index").title(user, conversation) == "Etna lava"
    assert "Export as Markdown" in [d.proto.label for d in reloaded.sidebar.get("download_button")]

    stranger = page("ask")
    stranger.query_params.update({"u": "someone-else-1234", "c": conversation})
    stranger.run()
    assert history(stranger, app_env) == [] and not stranger.chat_message  # another user's conversation is not shown
    assert stranger.sidebar.slider[0].value != 3 and not [b for b in stranger.sidebar.button if b.key == f"open-{conversation}"]

    next(b for b in reloaded.sidebar.button if b.label == "Delete this conversation").click().run()
    assert ConversationStore(app_env / "index").conversations(user) == [] and "c" not in reloaded.query_params


def test_a_declined_question_shows_a_banner(app_env: Path):
    at = ask("What is the airspeed velocity of an unladen swallow?")
    assert history(at, app_env)[0].abstained
    assert any("Declined" in w.value and "Searched for" in w.value for w in at.warning)
    assert any(e.label.startswith("Closest passages") for e in at.expander)


def test_document_text_is_rendered_as_text_never_markup(app_env: Path):
    at = ask("When do zebrafish migrate along the Orinoco river?")
    answer = history(at, app_env)[0]
    assert "<script>" in answer.answer  # the hostile sentence is what got quoted (markup with code in it is never a candidate)
    for md in at.markdown:
        assert not UNESCAPED_MARKUP.search(md.value), md.value
    next(b for b in at.button if "hostile.md" in b.label).click().run()
    panel, ours = at.get("html")[0].proto.body.split("<script>")  # one script: the constant one that scrolls the box
    assert "&lt;script&gt;" in panel and "<script" not in panel and "<img" not in panel
    assert "stealCookies" not in ours and ours.endswith("</script>")


def test_a_reader_answer_shows_its_confidence(app_env: Path, monkeypatch):
    monkeypatch.setenv("RAG_GENERATION__ANSWER_STYLE", "reader")
    at = ask("Which town have Etna's lava flows reached?")
    answer = history(at, app_env)[0]
    assert answer.generator == "reader" and "Catania" in answer.answer
    assert any(c.value.startswith("Confidence ") and "%" in c.value for c in at.caption)
    assert at.sidebar.radio[0].value == "Reader"


def test_a_new_conversation_opens_after_other_processes_publish_and_prune_snapshots(app_env: Path):
    import subprocess
    import sys

    ask("Which town have Etna's lava flows reached?")
    for n in range(2):  # two ingests elsewhere: the snapshot the app opened is pruned (ingest.keep_snapshots 2)
        (app_env / "docs" / f"glacier-{n}.txt").write_text(f"Survey {n} found that the Aletsch Glacier is the longest glacier in the Alps.\n")
        cmd = [sys.executable, "-m", "app.cli", "ingest", str(app_env / "docs"), "--index", str(app_env / "index")]
        subprocess.run(cmd, check=True, capture_output=True, timeout=600)
    fresh = page("ask").run()  # a new conversation in the same server process (the engine is shared)
    assert not fresh.exception and not fresh.error
    assert any("9 files" in m.value and "last ingest" in m.value for m in fresh.markdown)  # the first screen, on the live snapshot
    fresh.chat_input[0].set_value("Which glacier is the longest in the Alps?").run()
    assert not fresh.exception and "glacier-" in history(fresh, app_env)[0].citations[0].path


def test_sidebar_settings_reach_the_engine(app_env: Path):
    at = page("ask").run()
    at.sidebar.slider[0].set_value(2).run()
    at.chat_input[0].set_value("Where does the Danube delta lie?").run()
    assert len(history(at, app_env)[0].hits) == 2


def test_collection_lists_resyncs_and_deletes(app_env: Path):
    at = page("collection").run()
    assert not at.exception
    table = at.dataframe[0].value
    assert "volcanoes.md" in set(table["document"]) and set(table["status"]) == {"indexed"}
    (app_env / "docs" / "glaciers.txt").write_text("The Aletsch Glacier is the largest glacier in the Alps.\n")
    next(b for b in at.button if b.label.startswith("Re-sync")).click().run()
    assert any("Added 1" in s.value for s in at.success)
    assert "glaciers.txt" in set(at.dataframe[0].value["document"])
    latest = at.dataframe[1].value  # the latest ingest, file by file
    assert list(zip(latest["file"], latest["stage"], strict=True)) == [("glaciers.txt", "done")]
    remove = next(b for b in at.button if b.label == "Remove")
    assert remove.disabled  # until a document and a way to remove it are chosen
    at.selectbox[0].set_value("glaciers.txt")
    at.radio[0].set_value("index").run()
    next(b for b in at.button if b.label == "Remove").click().run()
    assert any("removed 1" in s.value for s in at.success)
    assert "glaciers.txt" not in set(at.dataframe[0].value["document"])
    assert (app_env / "docs" / "glaciers.txt").is_file()  # the index only: the file stays, left out by .ragignore
    next(b for b in at.button if b.label.startswith("Re-sync")).click().run()
    assert "glaciers.txt" not in set(at.dataframe[0].value["document"])  # and a re-sync does not bring it back

    at.selectbox[0].set_value("lighthouses.md")
    at.radio[0].set_value("folder").run()
    next(b for b in at.button if b.label == "Remove").click().run()
    assert "lighthouses.md" not in set(at.dataframe[0].value["document"])
    assert not (app_env / "docs" / "lighthouses.md").exists()


def test_an_ingest_while_another_holds_the_index_is_queued_and_runs_when_it_ends(app_env: Path):
    """The page once said "Another ingest is writing this index" and indexed nothing: an upload saved
    during another process's ingest was left out until someone re-synced by hand."""
    import time

    from rag.storage.snapshots import WriteLock

    at = page("collection").run()
    (app_env / "docs" / "glaciers.txt").write_text("The Aletsch Glacier is the largest glacier in the Alps.\n")
    with WriteLock(app_env / "index"):  # another process's ingest, as far as the page can tell
        next(b for b in at.button if b.label.startswith("Re-sync")).click().run()
        assert not at.exception and not at.error
        shown = [i.value.replace("\\", "") for i in at.info]  # plain_markdown escapes punctuation
        assert any("A re-sync is queued for when it ends" in v for v in shown) and any(v.startswith("Queued: a re-sync starts when") for v in shown), shown
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        at.run()
        if "glaciers.txt" in set(at.dataframe[0].value["document"]):
            break
        time.sleep(1)
    assert "glaciers.txt" in set(at.dataframe[0].value["document"])  # indexed once the lock was free, without anyone asking again
    assert not any(i.value.replace("\\", "").startswith("Queued:") for i in at.info)


def test_evaluation_runs_shows_and_compares_reports(app_env: Path, monkeypatch):
    monkeypatch.chdir(app_env)  # the eval cache goes under the working folder
    dataset = write_beir(app_env / "beir")
    at = page("evaluation").run()
    assert any("No reports" in i.value for i in at.info) and "rag eval qa" in at.code[0].value

    def run() -> None:
        next(b for b in at.button if b.label == "Run the evaluation").click().run()

    run()
    assert any("Give the dataset folder" in e.value for e in at.error)  # an empty submit says what is missing
    at.text_input[0].set_value(str(app_env / "nowhere"))
    run()
    assert any("is not a folder" in e.value for e in at.error)
    for _ in range(2):
        at.text_input[0].set_value(str(dataset))
        run()
        assert not at.exception
    table = next(d.value for d in at.dataframe if "stage" in d.value)  # (the first is the table for writing questions)
    assert list(table["stage"]) == ["bm25", "dense", "hybrid"] and table["ndcg@10"].min() == pytest.approx(1.0)
    assert len(at.get("image")) == 2  # metric bars and per-query nDCG
    next(b for b in at.button if b.label == "Compare").click().run()
    deltas = next(d.value for d in at.dataframe if "delta" in d.value)
    assert list(deltas["delta"]) == [0.0] * 5 and set(deltas["p_value"]) == {1.0}


def test_evaluation_on_the_collection_from_its_ratings(app_env: Path):
    at = page("evaluation").run()
    next(b for b in at.button if b.label == "Run on this collection").click().run()
    assert any("no questions to ask" in e.value for e in at.error)  # nothing rated, uploaded or written yet
    asked = ask("Which town have Etna's lava flows reached?")
    FeedbackStore(app_env / "index").add(history(asked, app_env)[0], thumbs_up=True)
    at = page("evaluation").run()
    assert at.checkbox[0].label == "The answers rated on the Ask page (1)" and at.checkbox[0].value
    next(b for b in at.button if b.label == "Run on this collection").click().run()
    assert not at.exception and any("Report written" in s.value for s in at.success)
    metrics = next(d.value for d in at.dataframe if "metric" in d.value).set_index("metric")["mean"]
    assert metrics["exact match"] == 1.0 and metrics["context recall (gold passage in the top k)"] == 1.0
    assert len(at.get("image")) == 2  # metric bars and time per answer


def test_the_password_gate(app_env: Path, monkeypatch):
    monkeypatch.setenv("RAG_UI__PASSWORD", "s3cret")
    at = AppTest.from_file(str(UI / "app.py"), default_timeout=180).run()
    assert at.text_input[0].label == "Password" and not at.chat_input
    at.text_input[0].set_value("wrong").run()
    assert any("Wrong password" in e.value for e in at.error) and not at.chat_input
    at.text_input[0].set_value("s3cret").run()
    assert at.chat_input and at.session_state["authenticated"]


def test_the_app_reads_a_milvus_index(tmp_path: Path, embedder, monkeypatch):
    """The first screen, a cited answer that opens its source, and the collection's list, re-sync
    and delete, with the index in Milvus Lite."""
    root = make_app_env(tmp_path, embedder, monkeypatch, "milvus")
    test_the_first_screen_says_what_the_collection_holds_and_what_to_ask(root)
    test_ask_answers_with_citations_that_open_their_source(root)
    test_collection_lists_resyncs_and_deletes(root)
