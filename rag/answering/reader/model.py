"""The extractive reader at question time: it reads the top passages in overlapping windows,
picks the best span across them, and says how sure it is that they hold an answer at all.

Two backends: the shipped int8 ONNX reader (a folder with `reader.json`, its sha256 checked at
load) on onnxruntime, or any transformers question-answering folder on torch."""

from __future__ import annotations

import hashlib
import inspect
import json
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from rag.answering.reader.spans import Span, best_spans, null_scores
from rag.answering.reader.windows import read_windows
from rag.config import ReaderSettings
from rag.models import model_path
from rag.search.tokenizer import load_tokenizer

MANIFEST, ONNX_FILE = "reader.json", "model.onnx"


class ReaderError(RuntimeError):
    """The reader's files are missing, corrupt or not a reader: the message names the file."""


@dataclass
class Reading:
    """What the reader found in the passages: the best span (None when there is no passage
    word piece to read), its margin over "no answer", and the calibrated probability that the
    passages answer the question."""

    best: Span | None
    margin: float  # best span score minus the lowest no-answer score; larger: surer there is an answer
    confidence: float
    spans: list[Span] = field(default_factory=list)  # candidates, best first

    def answers(self, threshold: float) -> bool:
        return self.best is not None and self.margin >= threshold


@dataclass(frozen=True)
class Manifest:
    """reader.json: how the shipped reader was made and must be read."""

    sha256: str
    max_length: int = 384
    stride: int = 128
    threshold: float = 0.0  # margin chosen on a dev set
    calibration: tuple[float, float] = (1.0, 0.0)  # confidence = sigmoid(a * margin + b), fitted on that dev set


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(folder: Path) -> Manifest:
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        return Manifest(data["sha256"], data["max_length"], data["stride"], data["threshold"], tuple(data["calibration"]))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ReaderError(f"{folder / MANIFEST}: not a reader manifest ({exc})") from None


class _OnnxLogits:
    def __init__(self, path: Path, threads: int) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # leave the cores to retrieval between questions
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own classes for an unreadable graph
            raise ReaderError(f"{path}: onnxruntime cannot load it ({exc})") from None
        self.names = {i.name for i in self.session.get_inputs()}

    def __call__(self, inputs: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        start, end = self.session.run(["start_logits", "end_logits"], {k: v for k, v in inputs.items() if k in self.names})
        return start, end


class _TorchLogits:
    def __init__(self, folder: Path, threads: int) -> None:
        import torch
        from transformers import AutoModelForQuestionAnswering

        torch.set_num_threads(threads)
        try:
            self.model = AutoModelForQuestionAnswering.from_pretrained(folder).eval()
        except (OSError, ValueError) as exc:
            raise ReaderError(f"{folder}: not a question-answering model transformers can load ({exc})") from None
        self.names = set(inspect.signature(self.model.forward).parameters)

    def __call__(self, inputs: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        import torch

        with torch.inference_mode():
            out = self.model(**{k: torch.from_numpy(v) for k, v in inputs.items() if k in self.names})
        return out.start_logits.float().numpy(), out.end_logits.float().numpy()


class Reader:
    """Reads passages for the answer span. One question at a time per reader (the fast tokenizer is
    not safe across threads, so calls are serialised)."""

    def __init__(self, tokenizer, logits, manifest: Manifest, settings: ReaderSettings) -> None:
        self.tokenizer, self.logits, self.manifest, self.settings = tokenizer, logits, manifest, settings
        self._lock = threading.Lock()

    @classmethod
    def load(cls, settings: ReaderSettings) -> Reader:
        """The reader `settings.model` names ("bundled": the one shipped in models/reader)."""
        folder = Path(model_path(settings.model))
        if not folder.is_dir():
            raise ReaderError(f"reader folder not found: {folder} (reader.model)")
        if (folder / MANIFEST).is_file():
            manifest = read_manifest(folder)
            onnx = folder / ONNX_FILE
            if not onnx.is_file():
                raise ReaderError(f"reader model file missing: {onnx}")
            if sha256_of(onnx) != manifest.sha256:
                raise ReaderError(
                    f"{onnx}: sha256 does not match {folder / MANIFEST}; the file is corrupt or was replaced (`rag train-reader --export` rebuilds it)"
                )
            logits = _OnnxLogits(onnx, settings.threads)
        else:
            manifest = Manifest(sha256="", threshold=settings.threshold if settings.threshold is not None else 0.0)
            logits = _TorchLogits(folder, settings.threads)
        try:
            tokenizer = load_tokenizer(folder, fallback=None if (folder / "tokenizer.json").is_file() else _transformers_tokenizer(folder))
        except (OSError, ValueError, RuntimeError) as exc:
            raise ReaderError(f"{folder}: no tokenizer for the reader ({exc})") from None
        return cls(tokenizer, logits, manifest, settings)

    @property
    def threshold(self) -> float:
        """The margin an answer needs: the settings' value when set, else the one chosen on the dev set."""
        return self.settings.threshold if self.settings.threshold is not None else self.manifest.threshold

    def confidence(self, margin: float) -> float:
        a, b = self.manifest.calibration
        return 1.0 / (1.0 + math.exp(-(a * margin + b)))

    def read(self, question: str, passages: Sequence[str], stop_at: float | None = None) -> Reading:
        """The best span over `passages` (read in windows, in batches) and how sure it is. With
        `stop_at`, passages are read one at a time, best ranked first, and reading stops at the
        first that gives a margin of `stop_at`: a passage costs 20-40 ms on 2 cores, and most
        answers sit in the top one."""
        groups = [list(range(len(passages)))] if stop_at is None else [[i] for i in range(len(passages))]
        spans: list[Span] = []
        null = math.inf
        for group in groups:
            found, group_null = self._read_group(question, [passages[i] for i in group])
            spans += [replace(sp, passage=group[sp.passage]) for sp in found]
            null = min(null, group_null)
            if stop_at is not None and spans and max(sp.score for sp in spans) - null >= stop_at:
                break
        if not spans:
            return Reading(None, -math.inf, 0.0)
        spans.sort(key=lambda sp: -sp.score)
        margin = spans[0].score - null
        return Reading(spans[0], margin, self.confidence(margin), spans)

    def _read_group(self, question: str, passages: list[str]) -> tuple[list[Span], float]:
        """(the best spans of these passages, their lowest no-answer score)."""
        with self._lock:
            windows = read_windows(self.tokenizer, [question] * len(passages), passages, self.manifest.max_length, self.manifest.stride)
        starts, ends = [], []
        size = self.settings.batch_size
        for at in range(0, len(windows), size):
            s, e = self.logits(windows.inputs(slice(at, at + size)))
            starts.append(s)
            ends.append(e)
        start_logits, end_logits = np.concatenate(starts), np.concatenate(ends)
        spans = best_spans(windows, start_logits, end_logits, self.settings.max_answer_tokens)
        return spans, float(null_scores(windows, start_logits, end_logits, len(passages)).min())


def _transformers_tokenizer(folder: Path):
    """A folder without tokenizer.json (a slow tokenizer's vocabulary only): transformers builds the fast one."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(folder)


def load_reader(settings: ReaderSettings) -> tuple[Reader | None, str | None]:
    """(the reader, None), or (None, why answers quote instead) when its files cannot serve."""
    try:
        return Reader.load(settings), None
    except ReaderError as exc:
        return None, f"the reader could not be loaded ({exc}); answers quote the best sentences instead"
