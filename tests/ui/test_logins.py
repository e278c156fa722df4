"""The app's logins: once the key store holds keys, a key is a login held to its collections, as in
the API. With two collections and a key that reads one, the picker offers only that one, a guessed
name falls back to it, a question about the other's documents finds nothing of them, and the
Collection page offers no change to a collection the login may only read."""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ingested_corpus
from streamlit.testing.v1 import AppTest

from rag.keys import KeyStore

pytestmark = pytest.mark.slow
APP = Path(__file__).resolve().parents[2] / "ui" / "app.py"
SECRET = "# Falcon\n\nThe vault code of project Falcon is 7741.\n"
QUESTION = "What is the vault code of project Falcon?"


@pytest.fixture(scope="module")
def two_collections(tmp_path_factory, embedder) -> Iterator[dict[str, str]]:
    with pytest.MonkeyPatch.context() as monkeypatch:
        yield collections_env(tmp_path_factory.mktemp("logins"), embedder, monkeypatch)


def collections_env(tmp_path: Path, embedder, monkeypatch) -> dict[str, str]:
    """Two ingested collections, one and two (two holds the secret), and two logins."""
    one = ingested_corpus(tmp_path / "one", embedder, {})
    two = ingested_corpus(tmp_path / "two", embedder, {"falcon.md": SECRET})
    keys = KeyStore(tmp_path / "keys.json")
    logins = {"reader": keys.create("reader", read=["one"]), "editor": keys.create("editor", read=["one", "two"], write=["two"])}
    for key, value in {
        "COLLECTIONS": json.dumps({"one": str(one.index_dir), "two": str(two.index_dir)}),
        "API__KEYS_FILE": str(keys.path),
        "GENERATION__BACKEND": "extractive",
        "GENERATION__ANSWER_STYLE": "short",
        "UI__RUNS_DIR": str(tmp_path / "runs"),
    }.items():
        monkeypatch.setenv(f"RAG_{key}", value)
    monkeypatch.delenv("RAG_CONFIG", raising=False)
    return logins


def signed_in(key: str, **state) -> AppTest:
    """The app after signing in with `key` (typed into the login box), with `state` set in the session."""
    at = AppTest.from_file(str(APP), default_timeout=180).run()
    assert at.text_input[0].label == "API key" and not at.chat_input
    for name, value in state.items():
        at.session_state[name] = value
    at.text_input[0].set_value(key).run()
    assert not at.exception and at.chat_input
    return at


def answer_text(at: AppTest) -> str:
    return " ".join(m.markdown[0].value for m in at.chat_message if m.markdown)


def test_a_login_reads_only_its_collections(two_collections):
    at = AppTest.from_file(str(APP), default_timeout=180).run()
    at.text_input[0].set_value("rag-not-a-key").run()
    assert any("Wrong key" in e.value for e in at.error) and not at.chat_input
    at = signed_in(two_collections["reader"])
    assert at.sidebar.selectbox(key="collection").options == ["one"] and "Signed in as reader" in at.sidebar.caption[0].value
    at.chat_input[0].set_value(QUESTION).run()
    assert "7741" not in answer_text(at)
    guessed = signed_in(two_collections["reader"], collection="two")  # a name outside its scopes: the app falls back to what it may read
    assert guessed.session_state["collection"] == "one" and guessed.sidebar.selectbox(key="collection").value == "one"
    page = guessed.switch_page("pages/collection.py").run()
    assert "Re-sync the source folder" not in [b.label for b in page.button] and any("not change it" in i.value for i in page.info)


def test_a_login_that_may_change_a_collection_picks_it_and_finds_its_documents(two_collections):
    at = signed_in(two_collections["editor"])
    assert at.sidebar.selectbox(key="collection").options == ["one", "two"]
    at = signed_in(two_collections["editor"], collection="two")
    assert at.sidebar.selectbox(key="collection").value == "two"
    at.chat_input[0].set_value(QUESTION).run()
    assert "7741" in answer_text(at)
    page = signed_in(two_collections["editor"], collection="two").switch_page("pages/collection.py").run()
    assert "Re-sync the source folder" in [b.label for b in page.button]


def test_a_login_for_other_collections_sees_nothing_of_a_single_index(tmp_path: Path, embedder, monkeypatch):
    settings = ingested_corpus(tmp_path, embedder, {})
    keys = KeyStore(settings.index_dir / "api-keys.json")
    elsewhere = keys.create("elsewhere", read=["contracts"])
    monkeypatch.setenv("RAG_INDEX_DIR", str(settings.index_dir))
    monkeypatch.setenv("RAG_GENERATION__BACKEND", "extractive")
    for name in ("RAG_CONFIG", "RAG_COLLECTIONS", "RAG_API__KEYS_FILE"):  # the module's two collections are not this server's
        monkeypatch.delenv(name, raising=False)
    at = AppTest.from_file(str(APP), default_timeout=180).run()
    at.text_input[0].set_value(elsewhere).run()
    assert not at.exception and not at.chat_input and any("may read no collection" in e.value for e in at.error)
    at = AppTest.from_file(str(APP), default_timeout=180).run()
    at.text_input[0].set_value(keys.create("index-reader", read=[settings.index_dir.name])).run()
    assert at.chat_input  # the one index is named after its folder
