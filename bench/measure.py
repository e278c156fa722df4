"""Small measuring tools the benchmark stages share: peak memory (latency percentiles: eval/latency.py)."""

from __future__ import annotations

import resource
import threading
import time
from pathlib import Path

from eval.latency import percentiles


def rss_mb(pid: int | str = "self") -> float:
    """Resident memory of process `pid` now (Linux); else, for this process, its peak so far."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 if pid == "self" else float("nan")


class PeakRss:
    """Peak resident memory (MB) while the block runs, sampled every 20 ms by a thread."""

    def __init__(self, every_s: float = 0.02) -> None:
        self.every_s, self.peak_mb = every_s, 0.0
        self._stop = threading.Event()

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak_mb = max(self.peak_mb, rss_mb())
            self._stop.wait(self.every_s)

    def __enter__(self) -> PeakRss:
        self.peak_mb = rss_mb()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_mb = round(max(self.peak_mb, rss_mb()), 1)


def each_timed(fn, items) -> tuple[list, dict[str, float]]:
    """fn(item) for each item, one at a time: (the results, percentiles of the milliseconds each took)."""
    results, ms = [], []
    for item in items:
        started = time.perf_counter()
        results.append(fn(item))
        ms.append((time.perf_counter() - started) * 1000)
    return results, percentiles(ms, suffix="_ms")


def timed(fn, *args, **kw) -> tuple[object, float]:
    """(result, seconds)."""
    started = time.perf_counter()
    result = fn(*args, **kw)
    return result, time.perf_counter() - started
