"""Load on `rag api`: N concurrent clients (asyncio + httpx) for a fixed time against a real server
on a loopback port, once retrieve-only and once extractive answers: requests/s, p50/p95/p99,
errors (target 0), and the server's resident memory before and after. With `--collection
NAME=DIR` (repeated), one server serves them all, the clients spread across them, and each
collection's first-use load time and the memory it added are reported."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from bench.measure import rss_mb
from eval.latency import percentiles

ROUTES = {"retrieve": ("/v1/retrieve", {}), "ask_extractive": ("/v1/ask", {"extractive": True})}


async def drive(url: str, routes: list[str], extra: dict, questions: list[str], clients: int, seconds: float) -> dict:
    """`clients` loops, each sending its next question as soon as the last one returned; client
    n asks `routes[n % len(routes)]` (one route per collection)."""
    latencies: list[float] = []
    errors: dict[str, int] = {}
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async def client(number: int, http: httpx.AsyncClient) -> None:
        i = number
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                response = await http.post(routes[number % len(routes)], json={"question": questions[i % len(questions)], **extra})
                if response.status_code != 200:
                    errors[str(response.status_code)] = errors.get(str(response.status_code), 0) + 1
                else:
                    latencies.append((time.perf_counter() - started) * 1000.0)
            except httpx.HTTPError as exc:
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
            i += clients

    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as http:
        await asyncio.gather(*(client(n, http) for n in range(clients)))
    elapsed = time.perf_counter() - started
    return {
        "clients": clients,
        "seconds": round(elapsed, 1),
        "requests": len(latencies),
        "requests_per_s": round(len(latencies) / elapsed, 1),
        **{k: v for k, v in percentiles(latencies, (50, 95, 99), "_ms").items() if k != "n"},
        "errors": sum(errors.values()),
        "errors_by_kind": errors,
    }


def wait_healthy(url: str, proc: subprocess.Popen, seconds: float = 300) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"rag api exited with {proc.returncode}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.5)
    raise RuntimeError(f"rag api did not come up at {url}")


def run(collections: dict[str, Path], questions: list[str], clients: int, seconds: float, port: int) -> dict:
    """Start `rag api` over one index (`{"": DIR}`) or several collections (extractive: no LLM in
    the loop), load each, drive each route, stop it."""
    env = {**os.environ, "RAG_GENERATION__BACKEND": "extractive"}
    served = ["--index", str(collections[""])] if "" in collections else [a for n, d in collections.items() for a in ("--collection", f"{n}={d}")]
    cmd = [sys.executable, "-m", "app.cli", "api", *served, "--port", str(port)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    prefixes = ["/v1"] if "" in collections else [f"/v1/collections/{n}" for n in collections]
    try:
        wait_healthy(url, proc)
        result: dict = {"rss_before_mb": round(rss_mb(proc.pid), 1)}
        for prefix in prefixes:  # the first question of each loads its collection
            httpx.post(f"{url}{prefix}/ask", json={"question": questions[0], "extractive": True}, timeout=300).raise_for_status()
        if "" not in collections:
            result["collections"] = {c["name"]: c for c in httpx.get(f"{url}/v1/collections", timeout=30).json()["collections"]}
            result["rss_loaded_mb"] = round(rss_mb(proc.pid), 1)
        for name, (route, extra) in ROUTES.items():
            result[name] = asyncio.run(drive(url, [p + route.removeprefix("/v1") for p in prefixes], extra, questions, clients, seconds))
        result["rss_after_mb"] = round(rss_mb(proc.pid), 1)
        return result
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def copies_of(docs: Path, work: Path, copies: int) -> dict[str, Path]:
    """`copies` collections of the folder `docs` (`rag ingest` once, then copies of its index),
    named copy-1, copy-2, ...: the same documents, separate engines."""
    first = work / "copy-1"
    subprocess.run([sys.executable, "-m", "app.cli", "ingest", str(docs), "--index", str(first)], check=True, stdout=subprocess.DEVNULL)
    for n in range(2, copies + 1):
        shutil.rmtree(work / f"copy-{n}", ignore_errors=True)
        shutil.copytree(first, work / f"copy-{n}")
    return {f"copy-{n}": work / f"copy-{n}" for n in range(1, copies + 1)}


def questions_of(path: Path) -> list[str]:
    """The questions of a BEIR queries.jsonl (`text`) or a QA file (`question`)."""
    with open(path, encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    return [row.get("text") or row["question"] for row in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    served = parser.add_mutually_exclusive_group(required=True)
    served.add_argument("--index", help="one index, served on today's routes")
    served.add_argument("--collection", action="append", metavar="NAME=DIR", help="a collection of one server (repeat)")
    served.add_argument("--docs", help="a folder to ingest once and serve as --copies collections (made under --work)")
    parser.add_argument("--copies", type=int, default=3)
    parser.add_argument("--work", default="runs/bench/work/collections")
    parser.add_argument("--queries", required=True, help="BEIR queries.jsonl, or a QA jsonl with `question`")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--port", type=int, default=0, help="0: a free loopback port")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    questions = questions_of(Path(args.queries))
    if args.docs:
        collections = copies_of(Path(args.docs), Path(args.work), args.copies)
    else:
        collections = {"": Path(args.index)} if args.index else {n: Path(d) for n, _, d in (c.partition("=") for c in args.collection)}
    port = args.port
    if not port:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
    result = run(collections, questions, args.clients, args.seconds, port)
    Path(args.out).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
