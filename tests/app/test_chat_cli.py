"""`rag chat`: a real process reading a conversation from stdin answers each line with the
earlier turns as history, so the follow-up "Where is it?" is searched as a question about Etna."""

import subprocess
import sys

from conftest import ingested_corpus


def test_rag_chat_answers_a_follow_up(tmp_path, embedder):
    settings = ingested_corpus(tmp_path, embedder, {})
    cmd = [sys.executable, "-m", "app.cli", "chat", "--index", str(settings.index_dir), "--generator", "extractive"]
    run = subprocess.run(cmd, input="Which town have Etna's lava flows reached?\nWhere is it?\n\n", capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    first, second = run.stdout.split("you> ")[1:3]
    assert "Catania" in first and "searched as" not in first
    assert "(searched as: Where is Etna? (" in second and "volcanoes.md" in second
