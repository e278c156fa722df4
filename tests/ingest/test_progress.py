"""Progress lines when no terminal shows a bar: they name what is progressing."""

import logging

from ingest.progress import Progress


def test_plain_progress_lines_go_to_the_log_of_their_area(caplog):
    caplog.set_level(logging.INFO)
    steps = Progress(2, unit="step", interactive=False, area="train-reader")
    steps.advance(files=2)
    files = Progress(1, interactive=False)
    files.advance(files=1, chunks=5)
    assert [(r.name, r.getMessage()) for r in caplog.records] == [
        ("train-reader", "progress: 2/2 steps"),
        ("ingest", "progress: 1/1 files, 5 chunks embedded"),
    ]
