"""The `streamlit run` line `rag serve` starts: nothing leaves the machine, and an error in the
app shows a plain message, never a traceback with links to search engines and chat bots."""

from pathlib import Path

from app.serve import streamlit_command


def test_the_app_shows_no_tracebacks_or_outside_links():
    cmd = streamlit_command(Path("ui/app.py"), "127.0.0.1", 8501, 50)
    flags = dict(zip(cmd[5::2], cmd[6::2], strict=True))
    assert flags["--client.showErrorDetails"] == "none"  # "full" (the default) shows the traceback and "Ask Google / Ask ChatGPT"
    assert flags["--browser.gatherUsageStats"] == "false" and flags["--client.toolbarMode"] == "viewer"
    assert flags["--server.address"] == "127.0.0.1"
