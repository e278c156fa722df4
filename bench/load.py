"""Load on `rag api`: N concurrent clients (asyncio + httpx) for a fixed time against a real server
on a loopback port, once retrieve-only and once extractive answers: requests/s, p50/p95/p99,
errors (target 0), and the server's resident memory before and after."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from eval.latency import percentiles

ROUTES = {"retrieve": ("/v1/retrieve", {}), "ask_extractive": ("/v1/ask", {"extractive": True})}


def server_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


async def drive(url: str, route: str, extra: dict, questions: list[str], clients: int, seconds: float) -> dict:
    """`clients` loops, each sending its next question as soon as the last one returned."""
    latencies: list[float] = []
    errors: dict[str, int] = {}
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async def client(number: int, http: httpx.AsyncClient) -> None:
        i = number
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                response = await http.post(route, json={"question": questions[i % len(questions)], **extra})
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


def run(index: Path, questions: list[str], clients: int, seconds: float, port: int) -> dict:
    """Start `rag api` (extractive: no LLM in the loop), drive each route, stop it."""
    env = {**os.environ, "RAG_GENERATION__BACKEND": "extractive"}
    cmd = [sys.executable, "-m", "app.cli", "api", "--index", str(index), "--port", str(port)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc)
        httpx.post(f"{url}/v1/ask", json={"question": questions[0], "extractive": True}, timeout=120)  # warm up
        result: dict = {"rss_before_mb": server_rss_mb(proc.pid)}
        for name, (route, extra) in ROUTES.items():
            result[name] = asyncio.run(drive(url, route, extra, questions, clients, seconds))
        result["rss_after_mb"] = server_rss_mb(proc.pid)
        return result
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--index", required=True)
    parser.add_argument("--queries", required=True, help="BEIR queries.jsonl")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--port", type=int, default=0, help="0: a free loopback port")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    with open(args.queries, encoding="utf-8") as fh:
        questions = [json.loads(line)["text"] for line in fh if line.strip()]
    port = args.port
    if not port:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
    result = run(Path(args.index), questions, args.clients, args.seconds, port)
    Path(args.out).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
