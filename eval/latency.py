"""Latency percentiles, one rule for every report and benchmark (there were four, with three
roundings): milliseconds to 0.01, with the count they come from."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np


def percentiles(ms: Iterable[float], qs: tuple[int, ...] = (50, 95), suffix: str = "") -> dict[str, float]:
    """{"p50": ..., "p95": ..., "n": ...} of `ms` (keys end in `suffix`, e.g. "_ms"); NaN when empty."""
    values = np.asarray(list(ms), dtype=np.float64)
    found = {f"p{q}{suffix}": round(float(np.percentile(values, q)), 2) if values.size else float("nan") for q in qs}
    return {**found, "n": int(values.size)}
