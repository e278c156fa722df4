"""A tiny BEIR-format dataset with known answers, for the eval, UI and bench tests."""

import json
from pathlib import Path


def write_beir(folder: Path) -> Path:
    docs = {
        "d1": ("Volcanoes", "Mount Etna is an active volcano on Sicily with frequent eruptions."),
        "d2": ("Rivers", "The Danube flows through ten countries and ends in a delta in Romania."),
        "d3": ("Tea", "Green tea is made from unoxidised leaves of Camellia sinensis."),
        "d4": ("Bridges", "The Golden Gate Bridge spans the strait at San Francisco Bay."),
        "d5": ("Deserts", "The Sahara is the largest hot desert in the world."),
    }
    queries = {"q1": "Which volcano erupts on Sicily?", "q2": "river through ten countries", "q3": "oxidised tea leaves", "q9": "unjudged"}
    folder.mkdir(parents=True)
    (folder / "corpus.jsonl").write_text("".join(json.dumps({"_id": k, "title": t, "text": x}) + "\n" for k, (t, x) in docs.items()))
    (folder / "queries.jsonl").write_text("".join(json.dumps({"_id": k, "text": v}) + "\n" for k, v in queries.items()))
    (folder / "qrels").mkdir()
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\nq3\td3\t1\n")
    return folder
