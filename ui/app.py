"""The Streamlit app: `rag serve --index DIR` (or `make run`) starts it. Three pages over the
engine API (Ask, Collection, Evaluation) behind an optional password."""

from __future__ import annotations

import hmac
from pathlib import Path

import streamlit as st

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


current = resources.settings()
secret = current.ui.password.get_secret_value() if current.ui.password else ""
if secret and not authenticated(secret):
    st.stop()
resources.user()  # every page keeps the user's token in the address, so a reload on any of them finds it
page = st.navigation(
    [
        st.Page(PAGES / "ask.py", title="Ask", icon=":material/chat:", default=True),
        st.Page(PAGES / "collection.py", title="Collection", icon=":material/folder:"),
        st.Page(PAGES / "evaluation.py", title="Evaluation", icon=":material/monitoring:"),
    ]
)
page.run()
