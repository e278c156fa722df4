"""The `rag` command line: `rag ingest SOURCE --index DIR`, `rag ask QUESTION --index DIR`,
`rag chat`, `rag serve`, `rag api`, `rag api-key`, `rag eval retrieval|qa|reader|compare ...`, `rag tune`, `rag train-reader`, `rag split-squad`, `rag bench`, `rag doctor`."""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
from pathlib import Path

from app import EXIT_OK, EXIT_PARTIAL, EXIT_USAGE
from app.ask import cmd_ask, cmd_chat
from app.evaluate import cmd_eval_compare, cmd_eval_qa, cmd_eval_retrieval
from app.mcp_server import add_parser as add_mcp
from app.reader import add_eval_parser as add_eval_reader
from app.reader import add_split_parser as add_split_squad
from app.reader import add_train_parser as add_train_reader
from app.serve import cmd_api, cmd_api_key, cmd_serve
from app.status import cmd_status
from app.tune import cmd_tune
from app.watch import cmd_watch
from ingest.readers import KINDS


def _setup_logging(args: argparse.Namespace) -> None:
    """Logging from the settings' [logging] table, with the command line's flags on top."""
    from rag.logs import setup_logging

    base = args.settings.logging
    update = {k: v for k, v in (("file", args.log_file), ("format", args.log_format)) if v}
    setup_logging(base.model_copy(update=update), args.verbose)


def _print_summary(report: dict, index: Path) -> None:
    print(f"index: {index} (snapshot {report['snapshot']}, {report['files_in_index']} files)")
    for key in ("added", "updated", "removed", "unchanged", "chunks_embedded"):
        print(f"{key}: {report[key]}")
    print(f"failed: {len(report['failed'])}")
    for failure in report["failed"]:
        print(f"  {failure['path']}: {failure['reason']}")
    print(f"seconds: {report['seconds']:.1f} (reading and chunking {report['read_seconds']:.1f}, embedding {report['embed_seconds']:.1f})")


def cmd_ingest(args: argparse.Namespace) -> int:
    from ingest.pipeline import Ingestor, UsageError
    from rag.search.embedding import Embedder
    from rag.storage.snapshots import IndexBusyError
    from rag.storage.store import IndexMismatchError

    try:
        settings = args.settings
        if args.engine or args.ray_address:
            engine = {
                "engine": args.engine or ("ray" if args.ray_address else settings.ingest.engine),
                "ray_address": args.ray_address or settings.ingest.ray_address,
            }
            settings = settings.model_copy(update={"ingest": settings.ingest.model_copy(update=engine)})
        index = Path(args.index) if args.index else settings.index_dir
        if not Path(args.source).is_dir():
            raise UsageError(f"source folder not found: {args.source}")
        report = Ingestor(settings, lambda: Embedder.load(settings.embedding)).run(Path(args.source), index, rebuild=args.rebuild)
    except (UsageError, IndexMismatchError, IndexBusyError, ValueError) as exc:
        print(f"rag ingest: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (OSError, sqlite3.DatabaseError) as exc:  # a full disk, say, while writing the new snapshot
        print(f"rag ingest: could not write the new index snapshot ({exc}); the live index is unchanged", file=sys.stderr)
        return EXIT_USAGE
    result = report.as_dict()
    if args.json:
        print(json.dumps(result))
    else:
        _print_summary(result, index)
    return report.exit_code


def cmd_bench(args: argparse.Namespace) -> int:
    from bench.run import main as run_bench

    dataset = Path(args.dataset) if args.dataset else None
    if dataset is not None and not (dataset / "corpus.jsonl").is_file():
        print(f"rag bench: {dataset} is not a BEIR folder (no corpus.jsonl)", file=sys.stderr)
        return EXIT_USAGE
    if args.distributed:
        from bench.run import distributed

        if dataset is None:
            print("rag bench --distributed needs --dataset", file=sys.stderr)
            return EXIT_USAGE
        result = distributed(Path(args.out), dataset, args.distributed_docs, args.milvus_sizes)
        print(json.dumps(result, indent=2))
        return 1 if any(isinstance(v, dict) and "error" in v for v in result.values()) else 0
    collections_docs = Path(args.collections_docs) if args.collections_docs else None
    return run_bench(
        Path(args.out), dataset, args.peer_python, args.scale_chunks, args.raw_sample, args.load_clients, args.load_seconds, args.large_chunks, collections_docs
    )


def cmd_doctor(args: argparse.Namespace) -> int:
    from rag.storage.doctor import diagnose, repair
    from rag.storage.snapshots import IndexBusyError

    settings = args.settings
    index = Path(args.index) if args.index else settings.index_dir
    if not index.is_dir():
        print(f"rag doctor: no index at {index} ({'a file, not an index folder' if index.exists() else 'run rag ingest'})", file=sys.stderr)
        return EXIT_USAGE
    if settings.backend != "local":
        print(f"rag doctor: it checks and repairs a local index's snapshots; index.backend is {settings.backend!r} (Milvus keeps its own)", file=sys.stderr)
        return EXIT_USAGE
    try:
        found = diagnose(index, settings) if args.check else repair(index, settings)
    except IndexBusyError as exc:
        print(f"rag doctor: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(f"index: {index}, live snapshot: {found.snapshot.name if found.snapshot else 'none'}")
    for check in found.checks:
        print(f"  {'ok  ' if check.ok else 'BAD '} {check.part}: {check.detail}")
    for action in found.actions:
        print(f"done: {action}" if not action.startswith("to do:") else action)
    if found.healthy:
        print("healthy")
        return EXIT_OK
    after = diagnose(index, settings) if found.actions else found
    print("healthy after repair" if after.healthy else "damaged: see above")
    return EXIT_OK if after.healthy else EXIT_PARTIAL


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rag", description="Local retrieval-augmented QA over your documents.")
    parser.add_argument("--config", type=Path, help="settings TOML file (default: $RAG_CONFIG or ./rag.toml)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("--log-file", type=Path, help="also write the log here (default: logging.file)")
    parser.add_argument("--log-format", choices=["text", "json"], help="json: one object a line (default: logging.format)")
    sub = parser.add_subparsers(dest="command", required=True)

    ingest = sub.add_parser("ingest", help="index a folder of documents (only what changed)")
    ingest.add_argument("source", help="folder of PDF, DOCX, HTML, Markdown and text files")
    ingest.add_argument("--index", help="index folder (default: settings index_dir)")
    ingest.add_argument("--json", action="store_true", help="print one JSON object instead of a summary")
    ingest.add_argument("--rebuild", action="store_true", help="ignore the existing index and build from scratch")
    ingest.add_argument("--engine", choices=["plain", "ray"], help="ray: read, chunk and embed on a Ray cluster (default: ingest.engine)")
    ingest.add_argument("--ray-address", help="the Ray cluster to join (default: ingest.ray_address; none: a local Ray)")
    ingest.set_defaults(func=cmd_ingest)

    watch = sub.add_parser("watch", help="keep an index in step with a folder until Ctrl+C (batches of changes)")
    watch.add_argument("source", help="the folder to watch")
    watch.add_argument("--index", help="index folder (default: settings index_dir)")
    watch.add_argument("--json", action="store_true", help="print one JSON object a batch")
    watch.set_defaults(func=cmd_watch)

    status = sub.add_parser("status", help="each file's stage in the latest (or running) ingest, and the live snapshot")
    status.add_argument("--index", help="index folder (default: settings index_dir)")
    status.add_argument("--json", action="store_true", help="print one JSON object")
    status.set_defaults(func=cmd_status)

    for name, func, about in (
        ("ask", cmd_ask, "answer a question from an index, citing its sources"),
        ("chat", cmd_chat, "a conversation in the terminal: one question a line, follow-ups understood"),
    ):
        ask = sub.add_parser(name, help=about)
        if name == "ask":
            ask.add_argument("question")
        ask.add_argument("--index", help="index folder (default: settings index_dir)")
        ask.add_argument("--json", action="store_true", help="print each whole Answer object as JSON")
        ask.add_argument("--generator", choices=["llm", "extractive"], default="llm", help="extractive needs no LLM")
        ask.add_argument("--top-k", type=int, help="passages retrieved (default: retrieval.top_k)")
        ask.add_argument("--path", help="only files whose path matches this glob")
        ask.add_argument("--kind", action="append", choices=sorted(set(KINDS.values())), help="only files of this kind (repeatable)")
        ask.set_defaults(func=func)

    for name, func, section, port, protection, about in (
        ("serve", cmd_serve, "ui", 8501, "ui.password", "start the browser app over an index"),
        ("api", cmd_api, "api", 8000, "API keys", "serve the HTTP API (REST + OpenAI-compatible) over an index"),
    ):
        server = sub.add_parser(name, help=about)
        server.add_argument("--index", help="index folder (default: settings index_dir)")
        server.add_argument("--host", help=f"address to listen on (default: {section}.host, 127.0.0.1)")
        server.add_argument("--port", type=int, help=f"port (default: {section}.port, {port})")
        server.add_argument("--insecure", action="store_true", help=f"allow another address than loopback with no {protection}")
        server.set_defaults(func=func)
        server.add_argument(
            "--collection", action="append", metavar="NAME=DIR", help="serve this index as collection NAME (repeatable; default: [collections])"
        )

    api_key = sub.add_parser("api-key", help="create, list or revoke API keys (SHA-256 hashes in api.keys_file, default the index folder)")
    api_key.add_argument("action", choices=["create", "list", "revoke"])
    api_key.add_argument("name", nargs="?", help="the key's name (create, revoke)")
    api_key.add_argument("--index", help="index folder whose api-keys.json to use (default: api.keys_file, else index_dir's)")
    api_key.add_argument("--read", metavar="A,B", help="collections the key may read: retrieve, ask, list (default, with no --write: all)")
    api_key.add_argument("--write", metavar="A,B", help="collections the key may change: upload, delete, ingest")
    api_key.set_defaults(func=cmd_api_key)

    bench = sub.add_parser("bench", help="ingest, query, generation, llama-index peer and 1M-chunk scale benchmarks")
    bench.add_argument("--out", default="runs/bench", help="folder for bench.json and the stages' work")
    bench.add_argument("--dataset", help="BEIR folder (SciFact) for the ingest, query and peer stages; none: scale only")
    bench.add_argument("--peer-python", help="python of a venv with requirements-peer.txt; none: no peer stage")
    bench.add_argument("--scale-chunks", type=int, default=1_000_000, help="synthetic collection size (0: no scale stage)")
    bench.add_argument("--large-chunks", type=int, default=10_000_000, help="synthetic collection past memory, built a block at a time (0: no such stage)")
    bench.add_argument("--raw-sample", type=int, default=1000, help="chunks encoded for the raw rate (0: all)")
    bench.add_argument("--load-clients", type=int, default=32, help="concurrent clients of the load stage on rag api")
    bench.add_argument("--load-seconds", type=float, default=60, help="seconds per route of the load stage (0: no load stage)")
    bench.add_argument("--collections-docs", default="samples", help="folder served as 3 collections of one rag api under load ('': no such stage)")
    bench.add_argument("--distributed", action="store_true", help="instead: Ray vs plain ingest, Milvus Lite vs local queries, Milvus Lite scale")
    bench.add_argument("--distributed-docs", type=int, default=1000, help="documents of the Ray vs plain ingest")
    bench.add_argument("--milvus-sizes", type=int, nargs="+", default=[25_000, 50_000, 100_000, 200_000], help="chunks of the Milvus Lite scale stage")
    bench.set_defaults(func=cmd_bench)

    tuning = sub.add_parser("tune", help="fine-tune the embedder on the index's own collection (no labels) and re-embed it when that helps")
    tuning.add_argument("--index", help="index folder (default: settings index_dir)")
    tuning.add_argument("--undo", action="store_true", help="re-embed with the settings' base model instead")
    tuning.set_defaults(func=cmd_tune)
    add_train_reader(sub)
    add_split_squad(sub)
    add_mcp(sub)

    doctor = sub.add_parser("doctor", help="check an index and repair what its store can rebuild")
    doctor.add_argument("--index", help="index folder (default: settings index_dir)")
    doctor.add_argument("--check", action="store_true", help="report only; change nothing")
    doctor.set_defaults(func=cmd_doctor)

    evaluation = sub.add_parser("eval", help="measure retrieval quality and speed")
    eval_sub = evaluation.add_subparsers(dest="eval_command", required=True)
    retrieval = eval_sub.add_parser("retrieval", help="nDCG@10, recall, MRR, MAP and latency per stage on a BEIR folder")
    retrieval.add_argument("dataset", help="BEIR folder: corpus.jsonl, queries.jsonl, qrels/SPLIT.tsv")
    retrieval.add_argument("--split", default="test")
    retrieval.add_argument("--out", default="runs/eval", help="folder for report.json, report.md and plots")
    retrieval.add_argument("--max-queries", type=int, help="evaluate only this many queries (a smoke test)")
    retrieval.add_argument("--corpus-sample", type=int, help="index only the judged documents plus N others")
    retrieval.add_argument("--backend", choices=["local", "milvus"], help="search the index as a copy in Milvus ([milvus] settings; default: backend)")
    retrieval.add_argument("--tune", action="store_true", help="then tune the embedder on the corpus alone ([tune] settings) and evaluate again")
    retrieval.add_argument("--cache", default=".cache/eval", help="where built indexes are kept and reused")
    retrieval.set_defaults(func=cmd_eval_retrieval)
    qa = eval_sub.add_parser("qa", help="answer quality: context recall, correctness, faithfulness, citations, latency")
    qa.add_argument(
        "dataset",
        nargs="?",
        default=".",
        help="folder with questions.jsonl (or evidence.jsonl with --claims) and corpus.jsonl, or a questions file (JSONL or CSV)",
    )
    qa.add_argument("--out", default="runs/eval-qa", help="folder for report.json and report.md")
    qa.add_argument("--index", help="answer from this existing index instead of building one from corpus.jsonl")
    qa.add_argument("--questions", help="questions (or conversations, with a history) from this JSONL file, over the dataset's corpus")
    qa.add_argument("--claims", action="store_true", help="SciFact claim checking: is a rationale sentence cited?")
    qa.add_argument("--feedback", action="store_true", help="ask again what was rated in --index (thumbs up: its answer and sources are gold)")
    qa.add_argument("--generator", choices=["llm", "extractive"], default="llm")
    qa.add_argument("--max-questions", type=int, help="only the first N questions")
    qa.add_argument("--tradeoff", action="store_true", help="reader answers: declines at each confidence cut (tradeoff.json, tradeoff.png)")
    qa.add_argument("--cache", default=".cache/eval", help="where built indexes are kept and reused")
    qa.set_defaults(func=cmd_eval_qa)
    add_eval_reader(eval_sub)
    comparison = eval_sub.add_parser("compare", help="per-metric deltas of B over A with a paired significance test")
    comparison.add_argument("report_a")
    comparison.add_argument("report_b")
    comparison.add_argument("--stage-a", help="stage of A (default: its default stage)")
    comparison.add_argument("--stage-b", help="stage of B (default: its default stage)")
    comparison.add_argument("--trials", type=int, default=10_000)
    comparison.set_defaults(func=cmd_eval_compare)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # models load from disk; nothing is fetched
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    parser = build_parser()
    args = parser.parse_args(argv)
    from rag.config import CONFIG_ENV, Settings, SettingsError

    try:  # once per process, before any model loads: a mistake in them is one line, exit 2
        args.settings = Settings.checked(Path(args.config) if args.config else None)
    except SettingsError as exc:
        print(f"rag {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.config:  # the processes this one starts (the app, bench's stages) read the same file: Settings.load() honours it
        os.environ[CONFIG_ENV] = str(Path(args.config).resolve())
    _setup_logging(args)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
