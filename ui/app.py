"""The Streamlit app: `rag serve --index DIR` (or `make run`) starts it. Three pages over the
engine API (Ask, Collection, Evaluation) behind a login: once the key store (`rag api-key`) holds
a key, a key is a login held to its collections, as in the API; before that, `ui.password` if set.
With [collections] in the settings, a picker shows those the login may read."""

from __future__ import annotations

import hmac
from pathlib import Path

import streamlit as st

from rag.answering.answer import plain_markdown
from rag.config import Settings
from rag.keys import KeyStore
from ui import resources

PAGES = Path(__file__).parent / "pages"

st.set_page_config(page_title="Ask your documents", page_icon="📚", layout="wide")


def authenticated(password: str) -> bool:
    """True once this browser session has given the password; asks for it until then."""
    if st.session_state.get("authenticated"):
        return True
    entered = st.text_input("Password", type="password")
    if entered and hmac.compare_digest(entered.encode(), password.encode()):
        st.session_state["authenticated"] = True
        st.rerun()
    if entered:
        st.error("Wrong password.")
    return False


def signed_in(keys: KeyStore) -> bool:
    """True once this browser session has given a key of the key store (a key is a login, held
    to its collections as in the API); asks for one until then."""
    login = st.session_state.get("access")
    if login is not None and keys.access_named(login.name) == login:  # a revoked or re-scoped key ends the session
        with st.sidebar:
            st.caption(plain_markdown(f"Signed in as {login.name}"))
            if st.button("Sign out"):
                st.session_state.clear()
                st.rerun()
        return True
    st.session_state.pop("access", None)
    entered = st.text_input("API key", type="password", help="a key from `rag api-key create NAME --read ...`: it opens the collections it may read")
    if entered and (found := keys.access(entered.strip())) is not None:
        st.session_state["access"] = found
        st.rerun()
    if entered:
        st.error("Wrong key.")
    return False


base = Settings.load()
keys = KeyStore.for_settings(base)
if keys.exists():
    if not signed_in(keys):
        st.stop()
elif base.ui.password and not authenticated(base.ui.password.get_secret_value()):
    st.stop()
current = resources.settings()
if current.collections:
    st.sidebar.selectbox("Collection", resources.readable(current), key="collection", help="the collections your login may read")
resources.user()  # every page keeps the user's token in the address, so a reload on any of them finds it
page = st.navigation(
    [
        st.Page(PAGES / "ask.py", title="Ask", icon=":material/chat:", default=True),
        st.Page(PAGES / "collection.py", title="Collection", icon=":material/folder:"),
        st.Page(PAGES / "evaluation.py", title="Evaluation", icon=":material/monitoring:"),
    ]
)
page.run()
