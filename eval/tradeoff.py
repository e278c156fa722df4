"""The reader's decline trade-off on a whole answer path (`rag eval qa --tradeoff`): every
question is answered with the reader's threshold off, so each answer keeps its span and
confidence; then, for each cut, the share of unanswerable questions declined against the share
of answerable ones declined and their token F1, as JSON rows and a plot."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def margin_of(confidence: float, calibration: tuple[float, float]) -> float:
    """The reader margin that a confidence stands for (the inverse of sigmoid(a * margin + b))."""
    a, b = calibration
    c = min(max(confidence, 1e-9), 1 - 1e-9)
    return (math.log(c / (1 - c)) - b) / a


def tradeoff_rows(per_question: Sequence[dict], cuts: Sequence[float]) -> list[dict[str, float]]:
    """At each confidence cut: unanswerable declined, answerable declined, answerable token F1
    (declined counts 0). A question the retrieval gate declined stays declined at every cut."""
    rows = []
    answerable = [r for r in per_question if r["gold"]]
    unanswerable = [r for r in per_question if not r["gold"] and "declined_unanswerable" in r["scores"]]

    def declined(r: dict, cut: float) -> bool:
        return r["scores"]["abstained"] == 1.0 or r.get("confidence") is None or r["confidence"] < cut

    for cut in cuts:
        rows.append(
            {
                "confidence": float(cut),
                "unanswerable_declined": float(np.mean([declined(r, cut) for r in unanswerable])) if unanswerable else 0.0,
                "answerable_declined": float(np.mean([declined(r, cut) for r in answerable])) if answerable else 0.0,
                "answerable_f1": float(np.mean([0.0 if declined(r, cut) else r["scores"].get("token_f1", 0.0) for r in answerable])) if answerable else 0.0,
            }
        )
    return rows


def plot_tradeoff(rows: Sequence[dict], path: Path, marked: float | None = None) -> Path:
    """Unanswerable declined against answerable declined, one point a cut; `marked` rings the
    cut the shipped threshold stands for."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4.2))
    ax.plot([r["answerable_declined"] for r in rows], [r["unanswerable_declined"] for r in rows], marker=".", label="reader threshold moving")
    if marked is not None:
        near = min(rows, key=lambda r: abs(r["confidence"] - marked))
        ax.plot([near["answerable_declined"]], [near["unanswerable_declined"]], "o", mfc="none", ms=12, label=f"shipped (confidence {marked:.2f})")
    ax.axhline(0.70, color="grey", ls=":", lw=1)
    ax.axvline(0.15, color="grey", ls=":", lw=1)
    ax.set_xlabel("answerable questions declined")
    ax.set_ylabel("unanswerable questions declined")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
