"""A sentence-transformers bi-encoder turned into ONNX Runtime graphs, once per model folder:
exported with eager attention (so ONNX Runtime's BERT optimizer can fuse attention, layer norm
and GELU into single operators), then quantized to int8.

Measured here (AMD EPYC, AVX2 without VNNI, 2 threads, 928 SciFact chunks of 152 word pieces on
average, sorted and batched by tokens): PyTorch 28.6 chunks/s, ONNX fp32 unfused 36, fused 40,
fused with int8 weights 61. Of the int8 formats, signed weights per channel were fastest and
closest (vectors at cosine 0.985 or more to fp32); unsigned per-tensor weights gave 0.96 at no
gain. With AVX-512 VNNI (400 chunks, one per run), quantizing the fused attention's projection
as well as the MatMuls took int8 from 48-52 to 65-67 chunks/s (docs/benchmarks.md)."""

from __future__ import annotations

import hashlib
import logging
import os
import warnings
from pathlib import Path

log = logging.getLogger(__name__)

INPUTS = ("input_ids", "attention_mask", "token_type_ids")
EXPORT_VERSION = "3"  # bumped when the export changes, so older exports in a cache are not reused
FUSED_TYPES = {"bert", "roberta", "distilbert", "xlm-roberta", "electra", "mpnet"}  # ONNX Runtime's optimizer knows their graphs


def model_key(folder: Path) -> str:
    """Changes when any file of the model folder changes (name, size or time stamp)."""
    digest = hashlib.sha256(EXPORT_VERSION.encode())
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        stat = path.stat()
        digest.update(f"{path.relative_to(folder)}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def graph_name(precision: str) -> str:
    return "model.onnx" if precision == "fp32" else f"model-{precision}.onnx"


def export_fp32(model, target: Path, probe: str) -> None:
    """Write the transformer's last hidden state as an ONNX graph, fused where ONNX Runtime knows
    the architecture, atomically (a kill leaves no half-written graph under the final name)."""
    import torch

    transformer = model[0].auto_model.eval()
    attention = getattr(transformer.config, "_attn_implementation", None)
    if hasattr(transformer, "set_attn_implementation"):
        transformer.set_attn_implementation("eager")  # SDPA exports as a pattern the optimizer cannot fuse

    class HiddenStates(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.transformer(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state

    sample = model.tokenizer([probe], return_tensors="pt")
    if "token_type_ids" not in sample:
        sample["token_type_ids"] = torch.zeros_like(sample["input_ids"])
    axes = {name: {0: "batch", 1: "tokens"} for name in (*INPUTS, "hidden")}
    target.parent.mkdir(parents=True, exist_ok=True)
    raw = target.with_suffix(f".{os.getpid()}.raw")
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer notes about shapes: the probe check catches real trouble
            torch.onnx.export(
                HiddenStates(),
                tuple(sample[k] for k in INPUTS),
                str(raw),
                input_names=list(INPUTS),
                output_names=["hidden"],
                dynamic_axes=axes,
                opset_version=17,
                dynamo=False,
            )
    finally:
        if attention and hasattr(transformer, "set_attn_implementation"):
            transformer.set_attn_implementation(attention)
    tmp = target.with_suffix(f".{os.getpid()}.tmp")
    if not _fuse(raw, tmp, transformer.config):
        os.replace(raw, tmp)
    raw.unlink(missing_ok=True)
    os.replace(tmp, target)


def _fuse(source: Path, target: Path, config) -> bool:
    """ONNX Runtime's transformer optimizer over `source` into `target`; False (unfused) for an
    architecture it does not know or a graph it cannot rewrite."""
    if getattr(config, "model_type", "") not in FUSED_TYPES:
        return False
    try:
        from onnxruntime.transformers import optimizer

        fused = optimizer.optimize_model(
            str(source), model_type="bert", num_heads=int(config.num_attention_heads), hidden_size=int(config.hidden_size), opt_level=1
        )
        fused.save_model_to_file(str(target))
        log.debug("fused operators: %s", fused.get_fused_operator_statistics())
        return True
    except Exception as exc:  # an unusual graph: the unfused one is still right, only slower
        log.info("ONNX graph left unfused (%s: %s)", type(exc).__name__, exc)
        return False


def quantize_int8(source: Path, target: Path, op_types: tuple[str, ...] | None) -> None:
    """Dynamic int8 quantization of the weights of `op_types` (None: every operator ONNX Runtime
    quantizes), signed and per channel, atomically. The embedder's fused graph: the operators of
    `INT8_OPERATORS` in turn (rag/search/onnx_encoder.py), the word-embedding table left in fp32;
    the reader's unfused one: all (rag/answering/reader/export.py)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    tmp = target.with_suffix(f".{os.getpid()}.tmp")
    logging.getLogger().disabled, was = True, logging.getLogger().disabled  # its "consider pre-processing" note on the root logger
    try:
        quantize_dynamic(
            str(source),
            str(tmp),
            weight_type=QuantType.QInt8,
            per_channel=True,
            op_types_to_quantize=list(op_types) if op_types else None,
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},  # fused operators carry no inferred types
        )
    finally:
        logging.getLogger().disabled = was
    os.replace(tmp, target)
