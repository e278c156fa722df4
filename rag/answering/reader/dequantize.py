"""An exported int8 reader read back into a float transformers model, so training can go on from
it (`reader_train.base_model` naming an exported reader folder): each int8 weight becomes
(q - zero point) x scale, and layers are matched by their order in the graph, which follows the
model's own (names are not kept: the exporter shares one among equal constants). The shipped
reader's fourth and fifth stages started so from the one before (the third's float checkpoint was
lost): on 300 dev questions the third's float copy scored F1 44.3 against its int8 graph's 44.0."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from rag.answering.reader.model import ONNX_FILE, ReaderError

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json")


def _arrays(graph) -> dict[str, np.ndarray]:
    """The graph's constants as float arrays by name, int8 ones de-quantized under the name they
    had before quantization."""
    from onnx import numpy_helper

    raw = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    out = {name: value.astype(np.float32) for name, value in raw.items() if not name.endswith(("_quantized", "_scale", "_zero_point"))}
    for name in (n.removesuffix("_quantized") for n in raw if n.endswith("_quantized")):
        q, zero, scale = raw[name + "_quantized"], raw[name + "_zero_point"], raw[name + "_scale"]
        out[name] = (q.astype(np.float32) - zero.astype(np.float32)) * scale.astype(np.float32)
    for node in graph.node:  # the exporter keeps one of equal constants and names the others by Identity nodes
        if node.op_type == "Identity" and node.input[0] in out:
            out[node.output[0]] = out[node.input[0]]
    return out


def _linear_layers(graph, arrays: dict[str, np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
    """(weight as (in, out), bias) of each MatMul on a constant weight, in the graph's order: the
    bias is the constant of the Add its output reaches (past the Mul that de-quantizes it). By
    structure, not by name: the exporter shares one name among equal constants (a new model's
    zero biases)."""
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    layers = []
    for node in graph.node:
        if node.op_type not in ("MatMul", "MatMulInteger"):
            continue
        weight = node.input[1].removesuffix("_quantized")
        if weight not in arrays or arrays[weight].ndim != 2:
            continue
        frontier, bias = [node], None
        for _ in range(4):
            frontier = [c for n in frontier for out in n.output for c in consumers.get(out, [])]
            adds = [i for n in frontier if n.op_type == "Add" for i in n.input if i in arrays]
            if adds:
                bias = arrays[adds[0]]
                break
        if bias is None:
            raise ReaderError(f"no bias found after the MatMul on {weight}: not a graph `rag train-reader --export` wrote")
        layers.append((arrays[weight], bias))
    return layers


def float_reader(reader_dir: Path, dest: Path) -> Path:
    """Write `dest` (config.json, weights, tokenizer): the exported reader in `reader_dir` as a
    float transformers question-answering model. Its config.json gives the architecture (export
    writes it); an error names what is missing or does not fit."""
    import onnx
    import torch
    from transformers import AutoConfig, AutoModelForQuestionAnswering

    if not (reader_dir / "config.json").is_file():
        raise ReaderError(f"{reader_dir / 'config.json'}: missing; the architecture to read the int8 weights back into is not known")
    model = AutoModelForQuestionAnswering.from_config(AutoConfig.from_pretrained(reader_dir))
    graph = onnx.load(str(reader_dir / ONNX_FILE)).graph
    arrays = _arrays(graph)
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    norms = [m for m in model.modules() if isinstance(m, torch.nn.LayerNorm)]
    found = _linear_layers(graph, arrays)
    layer_norms = [(arrays[n.input[1]], arrays[n.input[2]]) for n in graph.node if n.op_type == "LayerNormalization"]
    if len(found) != len(linears) or len(layer_norms) != len(norms):
        raise ReaderError(
            f"{reader_dir / ONNX_FILE}: {len(found)} linear layers and {len(layer_norms)} layer norms, where "
            f"{reader_dir / 'config.json'} has {len(linears)} and {len(norms)}"
        )
    with torch.no_grad():
        for module, (weight, bias) in [*zip(linears, found), *zip(norms, layer_norms)]:
            weight = weight.T if weight.ndim == 2 else weight  # a MatMul's (in, out); a Linear keeps (out, in)
            if tuple(weight.shape) != tuple(module.weight.shape):
                raise ReaderError(f"{reader_dir / ONNX_FILE}: a weight of shape {weight.shape} where the model has {tuple(module.weight.shape)}")
            module.weight.copy_(torch.from_numpy(np.ascontiguousarray(weight)))
            module.bias.copy_(torch.from_numpy(bias))
        for name, table in model.named_parameters():
            if "embeddings" in name and name.endswith("embeddings.weight"):
                key = "model." + name if "model." + name in arrays else name
                if key not in arrays:
                    raise ReaderError(f"{reader_dir / ONNX_FILE}: no table {name}")
                table.copy_(torch.from_numpy(arrays[key].reshape(table.shape)))
    dest.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(dest)
    for name in TOKENIZER_FILES:
        if (reader_dir / name).is_file():
            shutil.copy(reader_dir / name, dest / name)
    return dest
