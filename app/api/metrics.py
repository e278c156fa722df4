"""Prometheus metrics for `GET /metrics`: requests, errors and latency by route, and the engine's
own timings by stage (embed_query, dense, sparse, generate ...). One registry per app, so two
apps in one process (tests) never share counts."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
MILLISECONDS = (1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000)


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("rag_requests", "HTTP requests", ["route", "method", "status"], registry=self.registry)
        self.errors = Counter("rag_errors", "HTTP requests answered 5xx", ["route"], registry=self.registry)
        self.latency = Histogram("rag_request_seconds", "time to the response's first byte", ["route"], buckets=SECONDS, registry=self.registry)
        self.stages = Histogram("rag_stage_milliseconds", "engine time per stage", ["stage"], buckets=MILLISECONDS, registry=self.registry)

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(route, method, str(status)).inc()
        self.latency.labels(route).observe(seconds)
        if status >= 500:
            self.errors.labels(route).inc()

    def observe_stages(self, timings: dict[str, float]) -> None:
        for stage, ms in timings.items():
            self.stages.labels(stage).observe(ms)

    def render(self) -> bytes:
        return generate_latest(self.registry)
