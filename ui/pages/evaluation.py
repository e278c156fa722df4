"""Evaluation: run the retrieval evaluation on a BEIR-format folder and read its report (table
and plots), or compare two reports with a paired significance test."""

from __future__ import annotations

import json
import time
from pathlib import Path

import streamlit as st

from eval.compare import compare
from eval.datasets import corpus_slice, load_beir
from eval.report import report_dict, retrieval_config, write_report
from eval.retrieval import METRICS, evaluate_retrieval
from rag.config import Settings
from ui import resources
from ui.safe import plain_markdown

CACHE = Path(".cache/eval")


def saved_reports(runs: Path) -> dict[str, Path]:
    """Retrieval reports under `runs`, newest first, by folder name."""
    found = []
    for path in runs.glob("*/report.json"):
        try:
            if "stages" in json.loads(path.read_text()):
                found.append(path)
        except (OSError, ValueError):
            continue
    return {p.parent.name: p for p in sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)}


def run_eval(current: Settings, folder: Path, split: str, max_queries: int, sample: int | None) -> Path | None:
    try:
        dataset = load_beir(folder, split, max_queries or None)
    except (FileNotFoundError, ValueError) as exc:
        st.error(plain_markdown(str(exc)))
        return None
    keep = corpus_slice(dataset, sample) if sample is not None else None
    bar = st.progress(0.0, text="Indexing the corpus (reused when it was indexed before) ...")
    results = evaluate_retrieval(dataset, current, CACHE, keep, on_query=lambda done, total: bar.progress(done / total, text=f"query {done} of {total}"))
    report = report_dict(folder.name, split, retrieval_config(current, len(dataset.queries), keep is not None), results)
    out = current.ui.runs_dir / f"{folder.name}-{split}-{time.strftime('%Y%m%d-%H%M%S')}"
    write_report(report, out)
    return out / "report.json"


def show_report(path: Path) -> None:
    report = json.loads(path.read_text())
    st.subheader(plain_markdown(f"{report['dataset']} ({report['split']}), default stage {report['default_stage']}"))
    rows = [
        {"stage": stage, **{m: s[m] for m in METRICS}, "p50 ms": s["latency_ms"]["p50"], "p95 ms": s["latency_ms"]["p95"]}
        for stage, s in report["stages"].items()
    ]
    st.dataframe(rows, hide_index=True, width="stretch")
    images = [path.parent / name for name in ("metrics.png", "per_query_ndcg.png") if (path.parent / name).is_file()]
    for col, image in zip(st.columns(max(len(images), 1)), images):
        col.image(str(image))
    with st.expander("Settings of this run"):
        st.json(report["config"])


current = resources.settings()
st.title("Evaluation")
reports = saved_reports(current.ui.runs_dir)
with st.form("run"):
    st.markdown("Retrieval quality (nDCG@10, recall, MRR, MAP) and latency per stage on a BEIR-format folder.")
    folder = st.text_input("Dataset folder", placeholder="path/to/scifact (corpus.jsonl, queries.jsonl, qrels/)")
    split = st.text_input("Split", "test")
    max_queries = st.number_input("Queries (0: all)", 0, 100_000, 0)
    sample = st.number_input("Corpus: judged documents plus this many others (0: whole corpus)", 0, 10_000_000, 0)
    if st.form_submit_button("Run the evaluation", type="primary") and folder:
        new = run_eval(current, Path(folder).expanduser(), split, int(max_queries), int(sample) or None)
        if new is not None:
            st.session_state["report"] = new.parent.name
            reports = saved_reports(current.ui.runs_dir)

if reports:
    names = list(reports)
    chosen = st.selectbox("Report", names, index=names.index(st.session_state["report"]) if st.session_state.get("report") in names else 0)
    show_report(reports[chosen])
    st.subheader("Compare two reports")
    left, right = st.columns(2)
    a = left.selectbox("A (baseline)", names, index=min(1, len(names) - 1), key="cmp-a")
    b = right.selectbox("B", names, key="cmp-b")
    if st.button("Compare"):
        try:
            deltas = compare(json.loads(reports[a].read_text()), json.loads(reports[b].read_text()))
        except (ValueError, KeyError) as exc:
            st.error(plain_markdown(str(exc)))
        else:
            st.dataframe([{**d.__dict__, "significant (p < 0.05)": d.p_value < 0.05} for d in deltas], hide_index=True, width="stretch")
else:
    st.info(plain_markdown(f"No reports in {current.ui.runs_dir} yet: run one above, or `rag eval retrieval DATASET --out {current.ui.runs_dir}/NAME`."))
