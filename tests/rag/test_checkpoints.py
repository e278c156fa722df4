"""Which checkpoint a killed training run resumes from."""

from pathlib import Path

from rag.checkpoints import latest_checkpoint


def checkpoint(folder: Path, step: int, state: str | None) -> None:
    path = folder / f"checkpoint-{step}"
    path.mkdir(parents=True)
    if state is not None:
        (path / "trainer_state.json").write_text(state)


def test_the_newest_checkpoint_with_a_readable_state_is_resumed(tmp_path: Path):
    checkpoint(tmp_path, 5, '{"global_step": 5}')
    checkpoint(tmp_path, 10, '{"global_step": 10}')
    checkpoint(tmp_path, 15, None)  # killed before its state was written
    checkpoint(tmp_path, 20, "")  # killed between the state file's open and its write
    checkpoint(tmp_path, 25, '{"global_st')  # killed mid-write
    assert latest_checkpoint(tmp_path) == tmp_path / "checkpoint-10"


def test_no_whole_checkpoint_means_a_fresh_start(tmp_path: Path):
    assert latest_checkpoint(tmp_path / "missing") is None
    checkpoint(tmp_path, 5, "")
    assert latest_checkpoint(tmp_path) is None
