"""Texts to sentence vectors through ONNX Runtime on the CPU: queries one at a time, ingest in
batches of similar length, in fp32 or int8 (`embedding.precision`).

Measured here on 928 SciFact chunks (2 threads): PyTorch 28.6 chunks/s; ONNX fp32 fused 40,
int8 61 (rag/search/onnx_export.py). A query took 6.7 ms against sentence-transformers' 17.8 ms.
In fp32, chunks are sorted by length and cut into batches of at most `batch_tokens` padded word
pieces: padding to the longest of a batch of mixed lengths is wasted work (fp32 unsorted 24
chunks/s, sorted by tokens 32-35, same graph). int8 runs one text at a time: its activations are
quantized with one scale per run, so in a batch a text's vector moved with its neighbours (by
up to 0.025), and an index built in increments no longer ranked like one built at once; alone,
a text always gets the same vector, with no padding at all, at nearly the same rate (AVX2: 27
against 25 chunks/s side by side; AVX-512 VNNI, MatMuls in int8: 44 against 47 in batches of
2,048 word pieces). Those runs are spread over `threads` callers, each on a one-thread session:
104 chunks/s against 91 for one two-thread session taking them in turn (600 SciFact chunks, VNNI,
same vectors), and a reading process that takes a core stalls one caller, not every operator;
a lone text (a query) keeps the multi-threaded session (1.9 ms against 2.2).

Each graph is checked once against PyTorch on probe sentences (fp32: within 1e-4; int8: cosine
0.98 or more); its own vectors are kept beside it, so later loads (`open_cached`) check against
them without importing PyTorch or sentence-transformers at all: a command that only asks, or an
ingest, starts in seconds instead of 13."""

from __future__ import annotations

import json
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from rag.search.onnx_export import export_fp32, graph_name, model_key, quantize_int8

log = logging.getLogger(__name__)

PROBES = (
    "Which town have the lava flows of Mount Etna reached?",
    "ADAR1 binds to Dicer to cleave pre-miRNA, and the complex speeds up processing in the cytoplasm.",
    "Ünïcode CAFÉ émigrés",
)
TOLERANCE = 1e-4  # fp32 against PyTorch, and any graph against its own kept vectors
MIN_COSINE = 0.98  # int8 against PyTorch
# int8 graphs tried in turn, fastest first: the MatMuls and the fused attention (65-67 chunks/s
# with AVX-512 VNNI, against 48-52 for the MatMuls alone); the MatMuls alone where a machine's
# int8 kernels put the first under MIN_COSINE (measured on AVX2 without VNNI: MatMuls 0.985).
INT8_OPERATORS = (("MatMul", "Attention"), ("MatMul",))


def default_cache() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "rag-local" / "onnx"


def export_dir(folder: Path, cache: Path | None) -> Path:
    return (cache or default_cache()) / f"{folder.name}-{model_key(folder)}"


def agreement(vectors: np.ndarray, expected: np.ndarray) -> float:
    """The lowest cosine between matching rows of two arrays of vectors."""
    return float(((vectors * expected).sum(1) / np.linalg.norm(vectors, axis=1) / np.linalg.norm(expected, axis=1)).min())


def _session(path: Path, threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.log_severity_level = 3
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # leave the cores to FAISS and BM25 between queries
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _callers(path: Path, precision: str, threads: int) -> tuple[object, int] | None:
    """int8 with several threads: a one-thread session for `threads` callers at once (batches)."""
    return (_session(path, 1), threads) if precision == "int8" and threads > 1 else None


class OnnxEncoder:
    """Mean-pooled, optionally normalised sentence vectors from an ONNX Runtime session.
    Thread-safe: the tokenizers (`tokenizers.Tokenizer`, not safe across threads) are used behind
    a lock; ONNX Runtime sessions are safe."""

    def __init__(self, session, folder: Path, max_tokens: int, normalize: bool, precision: str, batch_tokens: int, fallback=None, callers=None) -> None:
        from rag.search.tokenizer import WordPieceCounter, load_tokenizer, pad_id

        self._session, self.max_tokens, self._normalize = session, max_tokens, normalize
        self._callers = callers  # (one-thread session, how many run it at once) for int8 batches, or None
        self.precision, self.batch_tokens = precision, batch_tokens
        self._tokenizer, self._counter = load_tokenizer(folder, fallback), WordPieceCounter(load_tokenizer(folder, fallback))
        self._tokenizer.enable_truncation(max_tokens)
        self._pad, self._lock = pad_id(self._tokenizer), threading.Lock()
        self._inputs = {i.name for i in session.get_inputs()}

    @classmethod
    def open_cached(cls, folder: Path, normalize: bool, precision: str, threads: int, batch_tokens: int, cache: Path | None = None) -> OnnxEncoder | None:
        """The graph a previous `load` exported and checked for this model folder and precision,
        checked again against its kept vectors; None when there is none (or it no longer
        matches), and the caller goes the long way through `load`. Imports no PyTorch."""
        where = export_dir(folder, cache)
        try:
            checked = json.loads((where / f"{precision}.json").read_text())
            if checked["normalize"] != normalize:
                return None
            graph = where / graph_name(precision)
            encoder = cls(
                _session(graph, threads), folder, int(checked["max_tokens"]), normalize, precision, batch_tokens, callers=_callers(graph, precision, threads)
            )
            expected = np.asarray(checked["probes"], dtype=np.float32)
        except Exception as exc:  # nothing kept yet, a damaged file, no tokenizer.json: the long way
            log.debug("no checked ONNX %s encoder in %s (%s)", precision, where, exc)
            return None
        if float(np.abs(encoder.encode(PROBES) - expected).max()) > TOLERANCE:
            log.warning("the ONNX encoder in %s no longer matches its checked vectors; checking it against PyTorch again", where)
            return None
        return encoder

    @classmethod
    def load(
        cls, model, folder: Path, normalize: bool, precision: str, threads: int, batch_tokens: int, cache: Path | None = None
    ) -> tuple[OnnxEncoder | None, str | None]:
        """(encoder, None); (an fp32 encoder, why) when int8 was asked for and fails its check; or
        (None, why PyTorch stays) when ONNX cannot serve this model."""
        names = [type(m).__name__ for m in model]
        if names[:2] != ["Transformer", "Pooling"] or set(names[2:]) - {"Normalize"}:
            return None, f"embedding stays on PyTorch: modules {names} are not a plain transformer with pooling"
        pooling = model[1].get_config_dict()
        if pooling.get("pooling_mode", "mean" if pooling.get("pooling_mode_mean_tokens") else None) != "mean":
            return None, "embedding stays on PyTorch: the model does not pool by mean"
        expected = model.encode(list(PROBES), normalize_embeddings=normalize, convert_to_numpy=True)
        where = export_dir(folder, cache)
        try:
            if not (where / graph_name("fp32")).is_file():
                log.info("exporting the embedding model to %s (once)", where)
                export_fp32(model, where / graph_name("fp32"), PROBES[0])
            fp32 = cls(_session(where / graph_name("fp32"), threads), folder, int(model.max_seq_length), normalize, "fp32", batch_tokens, model.tokenizer)
        except Exception as exc:  # onnxruntime or onnx missing, export unsupported for this model
            return None, f"embedding stays on PyTorch ({type(exc).__name__}: {exc})"
        difference = float(np.abs(fp32.encode(PROBES) - expected).max())
        if difference > TOLERANCE:
            return None, f"embedding stays on PyTorch: ONNX differs from it by {difference:.2g}"
        fp32._keep(where)
        if precision == "fp32":
            return fp32, None
        target, cosine = where / graph_name(precision), 0.0
        for n, operators in enumerate(INT8_OPERATORS):
            try:
                if n or not target.is_file():
                    quantize_int8(where / graph_name("fp32"), target, operators)
                int8 = cls(
                    _session(target, threads),
                    folder,
                    fp32.max_tokens,
                    normalize,
                    precision,
                    batch_tokens,
                    model.tokenizer,
                    _callers(target, precision, threads),
                )
            except Exception as exc:
                return fp32, f"embedding in fp32: int8 quantization failed ({type(exc).__name__}: {exc})"
            vectors = int8.encode(PROBES)
            cosine = agreement(vectors, expected)
            if cosine >= MIN_COSINE:
                if n:
                    log.info("int8 embedding with %s in int8: with %s, vectors were too far from PyTorch's", "+".join(operators), "+".join(INT8_OPERATORS[0]))
                int8._keep(where, vectors)
                return int8, None
        return fp32, f"embedding in fp32: int8 vectors are at cosine {cosine:.3f} to PyTorch's (below {MIN_COSINE})"

    def _keep(self, where: Path, vectors: np.ndarray | None = None) -> None:
        """Write this graph's probe vectors beside it, for `open_cached`, atomically."""
        vectors = self.encode(PROBES) if vectors is None else vectors
        checked = {"probes": vectors.tolist(), "max_tokens": self.max_tokens, "normalize": self._normalize}
        tmp = where / f"{self.precision}.json.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(checked))
        os.replace(tmp, where / f"{self.precision}.json")

    @property
    def dim(self) -> int:
        return int(self._session.get_outputs()[0].shape[-1])

    def count_word_pieces(self, text: str) -> int:
        """How many word pieces the text is, without special tokens or truncation (chunk sizing)."""
        with self._lock:
            return self._counter(text)

    def encode(self, texts) -> np.ndarray:
        """float32 array (len(texts), dim), in the order of `texts`."""
        texts = list(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        with self._lock:
            encodings = self._tokenizer.encode_batch(texts)
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        if self._callers and len(texts) > 1:  # int8: one text per run, `callers` runs at once
            session, callers = self._callers
            longest_first = order[::-1]  # so that the callers run out of work together
            with ThreadPoolExecutor(callers, thread_name_prefix="onnx-encode") as pool:
                out[longest_first] = np.concatenate(list(pool.map(lambda i: self._run([encodings[i]], session), longest_first)))
            return out
        budget = self.batch_tokens if self.precision == "fp32" else 0  # int8: one text per run
        start = 0
        while start < len(order):  # each batch: as many as fit the budget when padded to the longest
            end = start + 1
            while end < len(order) and (end + 1 - start) * len(encodings[order[end]].ids) <= budget:
                end += 1
            picked = order[start:end]
            out[picked] = self._run([encodings[i] for i in picked])
            start = end
        return out

    def _run(self, encodings, session=None) -> np.ndarray:
        width = max(len(e.ids) for e in encodings)
        ids = np.full((len(encodings), width), self._pad, dtype=np.int64)
        mask = np.zeros((len(encodings), width), dtype=np.int64)
        types = np.zeros((len(encodings), width), dtype=np.int64)
        for row, e in enumerate(encodings):
            ids[row, : len(e.ids)], mask[row, : len(e.ids)], types[row, : len(e.ids)] = e.ids, 1, e.type_ids
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        hidden = (session or self._session).run(None, {k: v for k, v in feed.items() if k in self._inputs})[0]
        weights = mask[..., None].astype(np.float32)
        vectors = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        if self._normalize:
            vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return vectors
