"""Evaluation: ask questions about the user's own collection (from the ratings on the Ask page, an
uploaded CSV or JSONL file, or rows written here) and score the answers; or measure retrieval on a
BEIR-format folder. Reports of both kinds are listed, shown with their plots, and compared two at
a time with a paired significance test."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd
import streamlit as st

from eval.compare import compare_reports
from eval.datasets import corpus_slice, load_beir
from eval.judges import load_judge
from eval.own import COLUMNS, evaluate_collection, questions_from_csv, questions_from_feedback, questions_from_rows
from eval.qa import QaItem, parse_questions
from eval.qa_report import METRIC_NAMES, write_qa_report
from eval.report import report_dict, retrieval_config, write_report
from eval.retrieval import METRICS, evaluate_retrieval
from rag.answering.answer import plain_markdown
from rag.answering.engine import Engine
from rag.config import Settings
from ui import resources

CACHE = Path(".cache/eval")


def saved_reports(runs: Path) -> dict[str, Path]:
    """Retrieval and answer reports under `runs`, newest first, by folder name."""
    found = []
    for path in runs.glob("*/report.json"):
        try:
            report = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if "stages" in report or "per_question" in report:
            found.append(path)
    return {p.parent.name: p for p in sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)}


def uploaded_questions(upload) -> list[QaItem]:
    """The questions of an uploaded CSV or JSONL file (ValueError names what is wrong in it)."""
    data = upload.getvalue()
    if upload.name.lower().endswith(".csv"):
        return questions_from_csv(data, upload.name)
    try:
        return parse_questions(data.decode("utf-8-sig").splitlines(), upload.name)
    except UnicodeDecodeError as exc:
        raise ValueError(f"{upload.name}: not UTF-8 text (byte {exc.start})") from None


def own_collection(current: Settings, eng: Engine) -> Path | None:
    """The form for questions about this collection; returns the new report's path after a run."""
    rated = sum(1 for _ in resources.feedback_store(str(current.index_dir)).rows())
    st.markdown(
        "Ask your own questions through this app and score its answers: faithfulness and citation precision (does what "
        "each sentence cites support it), abstention, the gold answer contained (where you give one), context recall "
        "(where you name the source file) and time per answer."
    )
    use_feedback = st.checkbox(f"The answers rated on the Ask page ({rated})", value=rated > 0, disabled=rated == 0)
    upload = st.file_uploader("A questions file: CSV with the columns question, answer, source; or JSONL as `rag eval qa` reads", type=["csv", "jsonl"])
    from_file: list[QaItem] = []
    if upload is not None:  # read on arrival, so a bad file is named before anything runs
        try:
            from_file = uploaded_questions(upload)
            st.caption(plain_markdown(f"{upload.name}: {len(from_file)} question(s)"))
        except ValueError as exc:
            st.error(plain_markdown(str(exc)))
    st.caption(
        "Or write them here. Several answers or sources go in one cell separated by |. Leave answer and source empty for a question your documents should decline."
    )
    written = st.data_editor(pd.DataFrame({c: pd.Series(dtype="str") for c in COLUMNS}), num_rows="dynamic", width="stretch", key="written-questions")
    choices = ["LLM", "Extractive"] if eng.generator is not None else ["Extractive"]
    answer_with = st.radio("Answer with", choices, horizontal=True, key="eval-answer-with")
    if not st.button("Run on this collection", type="primary"):
        return None
    try:
        if upload is not None and not from_file:
            raise ValueError(f"{upload.name} gave no questions: fix it or remove it first.")
        items = questions_from_feedback(resources.feedback_store(str(current.index_dir)).rows()) if use_feedback else []
        items += from_file + questions_from_rows(written.fillna("").to_dict("records"), "written")
        if not items:
            raise ValueError("There are no questions to ask: tick the rated answers, upload a file, or write a question in the table.")
        judge = load_judge(current.judge, eng.embedder.device)
        bar = st.progress(0.0, text=f"0 of {len(items)} questions")
        report = evaluate_collection(
            eng, current, items, judge, answer_with == "Extractive", lambda done: bar.progress(done / len(items), text=f"{done} of {len(items)} questions")
        )
    except ValueError as exc:
        st.error(plain_markdown(str(exc)))
        return None
    out = current.ui.runs_dir / f"{current.index_dir.name}-answers-{time.strftime('%Y%m%d-%H%M%S')}"
    write_qa_report(report, out)
    return out / "report.json"


def beir_dataset(current: Settings) -> Path | None:
    """The retrieval form; returns the new report's path after a run."""
    with st.form("run"):
        st.markdown("Retrieval quality (nDCG@10, recall, MRR, MAP) and latency per stage on a BEIR-format folder.")
        folder = st.text_input("Dataset folder", placeholder="path/to/scifact (corpus.jsonl, queries.jsonl, qrels/)")
        split = st.text_input("Split", "test")
        max_queries = st.number_input("Queries (0: all)", 0, 100_000, 0)
        sample = st.number_input("Corpus: judged documents plus this many others (0: whole corpus)", 0, 10_000_000, 0)
        if not st.form_submit_button("Run the evaluation", type="primary"):
            return None
    path = Path(folder.strip()).expanduser()
    if not folder.strip():
        st.error("Give the dataset folder: one holding corpus.jsonl, queries.jsonl and qrels/SPLIT.tsv.")
        return None
    if not path.is_dir():
        st.error(plain_markdown(f"{path} is not a folder on this machine."))
        return None
    try:
        dataset = load_beir(path, split.strip(), int(max_queries) or None)
    except (FileNotFoundError, ValueError) as exc:
        st.error(plain_markdown(str(exc)))
        return None
    keep = corpus_slice(dataset, int(sample)) if sample else None
    bar = st.progress(0.0, text="Indexing the corpus (reused when it was indexed before) ...")
    results = evaluate_retrieval(dataset, current, CACHE, keep, on_query=lambda done, total: bar.progress(done / total, text=f"query {done} of {total}"))
    report = report_dict(path.name, split, retrieval_config(current, len(dataset.queries), keep is not None), results)
    out = current.ui.runs_dir / f"{path.name}-{split}-{time.strftime('%Y%m%d-%H%M%S')}"
    write_report(report, out)
    return out / "report.json"


def show_plots(folder: Path, names: tuple[str, ...]) -> None:
    images = [folder / name for name in names if (folder / name).is_file()]
    for col, image in zip(st.columns(max(len(images), 1)), images):
        col.image(str(image))


def show_retrieval_report(report: dict, folder: Path) -> None:
    st.subheader(plain_markdown(f"{report['dataset']} ({report['split']}), default stage {report['default_stage']}"))
    rows = [
        {"stage": stage, **{m: s[m] for m in METRICS}, "p50 ms": s["latency_ms"]["p50"], "p95 ms": s["latency_ms"]["p95"]}
        for stage, s in report["stages"].items()
    ]
    st.dataframe(rows, hide_index=True, width="stretch")
    show_plots(folder, ("metrics.png", "per_query_ndcg.png"))


def show_answer_report(report: dict, folder: Path) -> None:
    st.subheader(plain_markdown(f"Answers: {report['dataset']}, {report['questions']} questions"))
    for why in report.get("skipped", []):
        st.warning(plain_markdown(f"Left out {why}"))
    metrics = [{"metric": METRIC_NAMES.get(name, name), "mean": v["mean"], "questions": v["n"]} for name, v in report["metrics"].items()]
    st.dataframe(metrics, hide_index=True, width="stretch")
    timing = [{"timing": stage, "p50 ms": v["p50"], "p95 ms": v["p95"]} for stage, v in report["latency_ms"].items()]
    st.dataframe(timing, hide_index=True, width="stretch")
    show_plots(folder, ("metrics.png", "latency.png"))
    st.caption(plain_markdown(f"Judge: {report['judge']}"))
    with st.expander("Every question"):
        rows = [
            {"question": r["question"], "answer": r["answer"], "gold": " | ".join(r["gold"]), **{k: v for k, v in r["scores"].items() if v is not None}}
            for r in report["per_question"]
        ]
        st.dataframe(rows, hide_index=True, width="stretch")


current = resources.settings()
st.title("Evaluation")
own_tab, beir_tab = st.tabs(["Your collection", "A BEIR dataset"])
new = None
with own_tab:
    eng = resources.engine(current) if resources.live_index(current) else None
    if eng is None:
        st.info("Add documents on the Collection page first: questions are asked of the collection.")
    else:
        new = own_collection(current, eng)
with beir_tab:
    new = beir_dataset(current) or new
if new is not None:
    st.session_state["report"] = new.parent.name
    st.success(plain_markdown(f"Report written to {new.parent}"))

reports = saved_reports(current.ui.runs_dir)
if reports:
    names = list(reports)
    chosen = st.selectbox("Report", names, index=names.index(st.session_state["report"]) if st.session_state.get("report") in names else 0)
    report = json.loads(reports[chosen].read_text())
    if "stages" in report:
        show_retrieval_report(report, reports[chosen].parent)
    else:
        show_answer_report(report, reports[chosen].parent)
    with st.expander("Settings of this run"):
        st.json(report["config"])
    st.subheader("Compare two reports")
    left, right = st.columns(2)
    a = left.selectbox("A (baseline)", names, index=min(1, len(names) - 1), key="cmp-a")
    b = right.selectbox("B", names, key="cmp-b")
    if st.button("Compare"):
        try:
            deltas = compare_reports(json.loads(reports[a].read_text()), json.loads(reports[b].read_text()))
        except (ValueError, KeyError) as exc:
            st.error(plain_markdown(str(exc)))
        else:
            st.dataframe([{**d.__dict__, "significant (p < 0.05)": d.p_value < 0.05} for d in deltas], hide_index=True, width="stretch")
else:
    st.info(plain_markdown(f"No reports in {current.ui.runs_dir} yet. Run one above, or from a terminal:"))
    st.code(f"rag eval qa questions.csv --index {current.index_dir} --out {current.ui.runs_dir}/NAME")
