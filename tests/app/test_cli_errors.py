"""A user's mistake in the settings is one line naming the file and the field, exit 2, before any
model loads, from every subcommand (status, doctor and watch raised a traceback). And --config
reaches the processes a command starts (bench's stages read Settings.load(), which ignored it)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.cli import main

COMMANDS = [
    ["ingest", "DOCS"],
    ["watch", "DOCS"],
    ["status"],
    ["ask", "Where is Etna?"],
    ["chat"],
    ["serve"],
    ["api"],
    ["api-key", "list"],
    ["bench"],
    ["tune"],
    ["train-reader"],
    ["doctor"],
    ["eval", "retrieval", "DATASET"],
    ["eval", "qa", "DATASET"],
    ["eval", "compare", "A", "B"],
    ["eval", "reader", "FILE.json"],
]
BAD = {
    "not TOML": ("index_dir = [unclosed\n", "is not valid TOML"),
    "an unknown key": ("[retrieval]\nnope = 1\n", "retrieval.nope: extra inputs are not permitted"),
    "a wrong type": ('[retrieval]\ntop_k = "many"\n', "retrieval.top_k: input should be a valid integer"),
    "a folder": (None, "is a folder; give a TOML file"),
    "no such file": ("", "settings file not found"),
}


def bad_config(tmp_path: Path, kind: str) -> Path:
    text, _ = BAD[kind]
    path = tmp_path / "settings.toml"
    if text is None:
        path.mkdir()
    elif kind == "no such file":
        path = tmp_path / "missing.toml"
    else:
        path.write_text(text)
    return path


@pytest.mark.parametrize("kind", sorted(BAD))
@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_a_bad_settings_file_is_one_line_and_exit_2(command: list[str], kind: str, tmp_path: Path, capsys, monkeypatch):
    monkeypatch.delenv("RAG_CONFIG", raising=False)
    config = bad_config(tmp_path, kind)
    assert main(["--config", str(config), *command]) == 2
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith(f"rag {command[0]}: ") and str(config) in err and BAD[kind][1] in err, err
    assert "RAG_CONFIG" not in os.environ or os.environ["RAG_CONFIG"] != str(config.resolve())


def test_a_bad_variable_is_named_too(tmp_path: Path, capsys, monkeypatch):
    monkeypatch.delenv("RAG_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)  # no ./rag.toml
    monkeypatch.setenv("RAG_RETRIEVAL__TOP_K", "many")
    assert main(["status"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "environment (RAG_*)" in err and "retrieval.top_k" in err, err


@pytest.mark.parametrize("command", [["status"], ["ask", "Where is Etna?"], ["chat"], ["doctor"], ["tune"], ["api"], ["mcp"]], ids=" ".join)
def test_a_missing_index_is_one_line_and_exit_2(command: list[str], tmp_path: Path, capsys, monkeypatch):
    monkeypatch.delenv("RAG_CONFIG", raising=False)
    monkeypatch.setattr("sys.stdin", open(os.devnull))  # chat reads questions from stdin
    assert main([*command, "--index", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and "nowhere" in err, err
    (tmp_path / "a-file").write_text("not an index")
    assert main([*command, "--index", str(tmp_path / "a-file")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and "a-file" in err, err


def test_config_reaches_the_processes_a_command_starts(tmp_path: Path, monkeypatch, capsys):
    from rag.config import Settings

    monkeypatch.delenv("RAG_CONFIG", raising=False)
    config = tmp_path / "team.toml"
    config.write_text("[retrieval]\ntop_k = 3\n")
    main(["--config", str(config), "status", "--index", str(tmp_path / "nowhere")])
    capsys.readouterr()
    assert os.environ["RAG_CONFIG"] == str(config.resolve()) and Settings.load().retrieval.top_k == 3
