from pathlib import Path

import pytest

from rag.config import Settings


def test_defaults_fit_the_bundled_model():
    s = Settings()
    assert s.embedding.model == "all-MiniLM-L6-v2"
    assert s.chunking.chunk_tokens + 2 <= 256


def test_toml_file_sets_nested_values(tmp_path: Path):
    cfg = tmp_path / "rag.toml"
    cfg.write_text('index_dir = "elsewhere"\n[chunking]\nchunk_tokens = 120\noverlap_tokens = 10\n')
    s = Settings.load(cfg)
    assert s.index_dir == Path("elsewhere")
    assert (s.chunking.chunk_tokens, s.chunking.overlap_tokens) == (120, 10)


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch):
    cfg = tmp_path / "rag.toml"
    cfg.write_text("[embedding]\nbatch_size = 8\n")
    monkeypatch.setenv("RAG_EMBEDDING__BATCH_SIZE", "16")
    assert Settings.load(cfg).embedding.batch_size == 16


def test_config_env_names_the_file(tmp_path: Path, monkeypatch):
    cfg = tmp_path / "other.toml"
    cfg.write_text("[ingest]\nmax_file_mb = 2.5\n")
    monkeypatch.setenv("RAG_CONFIG", str(cfg))
    assert Settings.load().ingest.max_file_mb == 2.5


def test_bad_files_and_fields_are_named(tmp_path: Path):
    with pytest.raises(ValueError, match="not found"):
        Settings.load(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[chunking\n")
    with pytest.raises(ValueError, match="not valid TOML"):
        Settings.load(bad)
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("[chunking]\nchunk_size = 3\n")
    with pytest.raises(ValueError, match="chunk_size"):
        Settings.load(unknown)


def test_the_settings_shown_in_the_manual_are_valid_settings():
    import re
    import tomllib
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "docs" / "settings.md").read_text(encoding="utf-8")
    section = readme.split("\n## Settings\n", 1)[1]
    block = re.search(r"```toml\n(.*?)```", section, re.S).group(1)
    settings = Settings(**tomllib.loads(block))  # an unknown or mistyped key fails here, naming it
    assert settings.generation.answer_style == "reader" and settings.reader.model == "bundled"
