"""`rag eval compare`: deltas and the paired randomisation test on hand-made reports."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from eval.compare import compare, paired_randomisation_p
from eval.retrieval import METRICS


def report(per_query_ndcg: dict[str, float], stage: str = "hybrid") -> dict:
    per_query = {m: dict(per_query_ndcg) for m in METRICS}
    return {"dataset": "tiny", "split": "test", "default_stage": stage, "stages": {}, "per_query": {stage: per_query}}


def test_identical_systems_differ_by_nothing():
    a = report({f"q{i}": i / 10 for i in range(10)})
    rows = compare(a, a)
    assert all(r.delta == 0 and r.p_value == 1.0 for r in rows)


def test_a_consistent_gain_is_significant_and_noise_is_not():
    rng = np.random.default_rng(1)
    base = {f"q{i}": float(v) for i, v in enumerate(rng.uniform(0.2, 0.7, 60))}
    better = {q: v + 0.2 for q, v in base.items()}
    noisy = {q: v + (0.05 if i % 2 else -0.05) for i, (q, v) in enumerate(base.items())}
    gain = compare(report(base), report(better))[0]
    assert gain.delta == pytest.approx(0.2) and gain.p_value < 0.001 and gain.queries == 60
    assert compare(report(base), report(noisy))[0].p_value > 0.5


def test_the_p_value_matches_exact_enumeration_on_a_tiny_case():
    a, b = np.array([0.0, 0.0, 0.0]), np.array([0.3, 0.2, -0.1])  # |sum| >= 0.4 in 4 of the 8 sign patterns
    assert paired_randomisation_p(a, b, trials=20_000) == pytest.approx(4 / 8, abs=0.01)


def test_reports_without_shared_queries_or_stage_are_refused():
    with pytest.raises(ValueError, match="share no query"):
        compare(report({"q1": 1.0}), report({"q2": 1.0}))
    with pytest.raises(ValueError, match="stage 'bm25'"):
        compare(report({"q1": 1.0}), report({"q1": 1.0}), stage_a="bm25")


def test_the_command_prints_a_table(tmp_path: Path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(report({f"q{i}": 0.5 for i in range(30)})))
    b.write_text(json.dumps(report({f"q{i}": 0.9 for i in range(30)})))
    result = subprocess.run([sys.executable, "-m", "app.cli", "eval", "compare", str(a), str(b)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "| ndcg@10 | 0.5000 | 0.9000 | +0.4000 * |" in result.stdout
    missing = subprocess.run([sys.executable, "-m", "app.cli", "eval", "compare", str(a), str(tmp_path / "none.json")], capture_output=True, text=True)
    assert missing.returncode == 2
