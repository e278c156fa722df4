"""`rag bench --out DIR`: every benchmark stage in its own process (so each one's memory peak is
its own and a failing stage does not stop the rest), then DIR/bench.json and a table."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench.table import format_table
from eval.latency import percentiles

PEER_SCRIPT = Path(__file__).with_name("peer.py")
SAMPLE_QUESTIONS = Path(__file__).parent.parent / "eval" / "data" / "samples_qa.jsonl"  # questions for the collections stage


def run_stage(name: str, cmd: list[str], out: Path, env: dict | None = None) -> dict:
    """Run one stage; its JSON result, or {"error": ...} with the end of its output."""
    print(f"bench: {name} ...", file=sys.stderr, flush=True)
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **(env or {})})
    seconds = round(time.perf_counter() - started, 1)
    if done.returncode != 0 or not out.is_file():
        tail = (done.stderr or done.stdout).strip().splitlines()[-15:]
        print(f"bench: {name} failed ({done.returncode}):\n  " + "\n  ".join(tail), file=sys.stderr)
        return {"error": f"exit {done.returncode}: " + " | ".join(tail[-3:]), "stage_seconds": seconds}
    print(f"bench: {name} done in {seconds} s", file=sys.stderr, flush=True)
    return {**json.loads(out.read_text()), "stage_seconds": seconds}


def peer_figures(raw: dict, dataset: Path, split: str) -> dict:
    """Score the peer's run like ours (documents by their best chunk, ranx nDCG@10)."""
    from bench.query import file_names
    from eval.datasets import load_beir
    from eval.retrieval import score_run

    names = file_names(dataset / "corpus.jsonl")
    data = load_beir(dataset, split)
    run = {q: {names[f]: s for f, s in files.items() if f in names} for q, files in raw["run"].items()}
    means, _ = score_run(data.qrels, run)
    latency = percentiles(raw["latency_ms"], suffix="_ms")
    return {
        "ingest_seconds": round(raw["ingest_s"], 1),
        "nodes": raw["nodes"],
        "p50_ms": latency["p50_ms"],
        "p95_ms": latency["p95_ms"],
        "ndcg@10": round(means["ndcg@10"], 4),
    }


def machine() -> dict:
    import faiss
    import torch

    from rag.storage.dense import gpu_count

    return {
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.is_available(),
        "faiss_gpus": gpu_count(),
        "faiss_version": faiss.__version__,
    }


def bench(
    out: Path,
    dataset: Path | None,
    peer_python: str | None,
    chunks: int,
    raw_sample: int,
    load_clients: int = 32,
    load_seconds: float = 60,
    split: str = "test",
    large_chunks: int = 0,
    collections_docs: Path | None = None,
) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    work = out / "work"
    py = sys.executable
    result: dict = {"machine": machine()}
    if dataset is not None:
        scifact = work / dataset.name
        result["ingest"] = run_stage(
            "ingest",
            [py, "-m", "bench.ingest", "--dataset", str(dataset), "--work", str(scifact), "--raw-sample", str(raw_sample), "--out", str(out / "ingest.json")],
            out / "ingest.json",
        )
        result["precision"] = run_stage(
            "precision (PyTorch fp32, ONNX fp32, ONNX int8: three full ingests)",
            [py, "-m", "bench.precision", "--dataset", str(dataset), "--split", split, "--work", str(work / "precision"), "--raw-sample", str(raw_sample)]
            + ["--out", str(out / "precision.json")],
            out / "precision.json",
        )
        query_cmd = [py, "-m", "bench.query", "--dataset", str(dataset), "--split", split, "--index", str(scifact / "index"), "--out", str(out / "query.json")]
        result["query"] = run_stage("query", query_cmd, out / "query.json")
        if result["machine"]["cuda"] or result["machine"]["faiss_gpus"]:  # the same on the CPU, to compare
            cpu_env = {"RAG_EMBEDDING__DEVICE": "cpu", "RAG_DENSE__USE_GPU": "false"}
            result["query_cpu"] = run_stage("query (CPU)", query_cmd[:-1] + [str(out / "query-cpu.json")], out / "query-cpu.json", cpu_env)
        result["generate"] = result["query"].pop("generate", {"skipped": "query stage failed"})
        load_cmd = [
            py,
            "-m",
            "bench.load",
            "--index",
            str(scifact / "index"),
            "--queries",
            str(dataset / "queries.jsonl"),
            "--clients",
            str(load_clients),
            "--seconds",
            str(load_seconds),
            "--out",
            str(out / "load.json"),
        ]
        if load_seconds:
            result["load"] = run_stage(f"load ({load_clients} clients on rag api)", load_cmd, out / "load.json")
        if peer_python:
            from eval.datasets import load_beir
            from rag.models import model_path

            (out / "queries.json").write_text(json.dumps(load_beir(dataset, split).queries))
            peer_cmd = [
                peer_python,
                str(PEER_SCRIPT),
                "--docs",
                str(scifact / "docs"),
                "--queries",
                str(out / "queries.json"),
                "--model",
                model_path("all-MiniLM-L6-v2"),
                "--out",
                str(out / "peer-run.json"),
            ]
            raw = run_stage("peer (llama-index)", peer_cmd, out / "peer-run.json")
            result["peer"] = peer_figures(raw, dataset, split) if "error" not in raw else raw
            ours = result["query"].get("stages", {}).get("hybrid", {})
            if "error" not in raw and ours:
                result["peer"]["ours"] = {
                    "ingest_seconds": result["ingest"].get("pipeline_seconds"),
                    "p50_ms": ours["p50_ms"],
                    "ndcg@10": result["query"]["hybrid_ndcg@10"],
                }
                result["peer"]["query_speedup"] = round(result["peer"]["p50_ms"] / ours["p50_ms"], 1)
                if result["ingest"].get("pipeline_seconds"):
                    result["peer"]["ingest_speedup"] = round(result["peer"]["ingest_seconds"] / result["ingest"]["pipeline_seconds"], 2)
    if load_seconds and collections_docs is not None:  # needs no dataset: the bundled samples by default
        collections_cmd = [py, "-m", "bench.load", "--docs", str(collections_docs), "--copies", "3", "--work", str(work / "collections")]
        collections_cmd += [
            "--queries",
            str(SAMPLE_QUESTIONS),
            "--clients",
            str(load_clients),
            "--seconds",
            str(load_seconds),
            "--out",
            str(out / "collections.json"),
        ]
        result["load_collections"] = run_stage(f"load ({load_clients} clients across 3 collections of one rag api)", collections_cmd, out / "collections.json")
    if chunks:
        label = f"{chunks // 1_000_000}M" if chunks % 1_000_000 == 0 else f"{chunks // 1000}k"
        scale = run_stage(
            f"scale ({label} chunks)",
            [py, "-m", "bench.scale", "--chunks", str(chunks), "--work", str(work / f"scale-{label}"), "--out", str(out / "scale.json")],
            out / "scale.json",
        )
        result["scale"] = {label: scale}
        segments_cmd = [py, "-m", "bench.segments", "--chunks", str(chunks), "--work", str(work / f"segments-{label}"), "--out", str(out / "segments.json")]
        if dataset is not None and (work / dataset.name / "index").is_dir():
            segments_cmd += ["--dataset", str(dataset), "--index", str(work / dataset.name / "index")]
        result["segments"] = {label: run_stage(f"segments ({label} chunks)", segments_cmd, out / "segments.json")}
    if large_chunks:
        label = f"{large_chunks // 1_000_000}M" if large_chunks % 1_000_000 == 0 else f"{large_chunks // 1000}k"
        large_cmd = [
            py,
            "-m",
            "bench.scale_large",
            "--chunks",
            str(large_chunks),
            "--work",
            str(work / f"scale-{label}"),
            "--out",
            str(out / "scale-large.json"),
        ]
        result["scale_large"] = {label: run_stage(f"scale, past memory ({label} chunks)", large_cmd, out / "scale-large.json")}
        shutil.rmtree(work / f"scale-{label}", ignore_errors=True)  # tens of GB at 10M
    result["memory"] = memory_table(result)
    (out / "bench.json").write_text(json.dumps(result, indent=2))
    return result


def distributed(out: Path, dataset: Path, docs: int, milvus_sizes: list[int]) -> dict:
    """The distributed group (`rag bench --distributed`): Ray vs plain ingest and Milvus Lite vs
    local queries (bench/distributed.py), then Milvus Lite at growing sizes (bench/milvus_scale.py).
    The query comparison uses the index the ingest stage built, when one is in `out`."""
    out.mkdir(parents=True, exist_ok=True)
    work, py = out / "work", sys.executable
    cmd = [
        py,
        "-m",
        "bench.distributed",
        "--dataset",
        str(dataset),
        "--work",
        str(work / "distributed"),
        "--docs",
        str(docs),
        "--out",
        str(out / "distributed.json"),
    ]
    local = work / dataset.name / "index"
    result: dict = {"machine": machine()}
    result["distributed"] = run_stage(
        "distributed (ray ingest, milvus queries)", cmd + (["--index", str(local)] if local.is_dir() else []), out / "distributed.json"
    )
    sizes = [str(n) for n in milvus_sizes]
    scale_cmd = [py, "-m", "bench.milvus_scale", "--work", str(work / "milvus-scale"), "--out", str(out / "milvus-scale.json"), "--sizes", *sizes]
    result["milvus_scale"] = run_stage("milvus lite scale", scale_cmd, out / "milvus-scale.json")
    (out / "distributed-bench.json").write_text(json.dumps(result, indent=2))
    return result


def memory_table(result: dict) -> dict:
    """Peak resident memory (MB) per stage, from each stage's own figures."""
    peaks = {}
    if "peak_rss_mb" in result.get("ingest", {}):
        peaks["ingest"] = result["ingest"]["peak_rss_mb"]
    if "peak_rss_mb" in result.get("query", {}):
        peaks["query"] = result["query"]["peak_rss_mb"]
    if "peak_rss_mb" in result.get("generate", {}):
        peaks["generate"] = result["generate"]["peak_rss_mb"]
    for label, scale in result.get("scale", {}).items():
        for part in ("flat", "ivf", "index", "hybrid"):
            if "peak_rss_mb" in scale.get(part, {}):
                peaks[f"scale {label} {part}"] = scale[part]["peak_rss_mb"]
    for label, large in result.get("scale_large", {}).items():
        for part in ("build", "hybrid"):
            if "peak_rss_mb" in large.get(part, {}):
                peaks[f"scale {label} {part}"] = large[part]["peak_rss_mb"]
    return peaks


def main(
    out: Path,
    dataset: Path | None,
    peer_python: str | None,
    chunks: int,
    raw_sample: int,
    load_clients: int = 32,
    load_seconds: float = 60,
    large_chunks: int = 0,
    collections_docs: Path | None = None,
) -> int:
    result = bench(out, dataset, peer_python, chunks, raw_sample, load_clients, load_seconds, large_chunks=large_chunks, collections_docs=collections_docs)
    print(format_table(result))
    print(f"\nbench.json: {out / 'bench.json'}")
    failed = [k for k, v in result.items() if isinstance(v, dict) and "error" in v]
    return 1 if failed else 0
