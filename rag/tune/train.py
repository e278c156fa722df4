"""Fine-tune a copy of the embedding model on pairs from the collection (rag/tune/pairs.py) with
sentence-transformers' trainer and MultipleNegativesRankingLoss (in-batch negatives plus each
pair's BM25 hard negative), then keep it only if it beats the base model on held-out pairs.

The trainer writes a checkpoint every `save_steps`; a run killed mid-way resumes from the latest
one. Time is bounded by `max_minutes` (training stops at the next step past it), memory by the
batch size and `max_seq_length`."""

from __future__ import annotations

import json
import logging
import random
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from rag.checkpoints import latest_checkpoint
from rag.config import TuneSettings
from rag.storage.tuned import MODEL_DIR
from rag.tune.pairs import Pair

log = logging.getLogger(__name__)
CHECKPOINTS, RESULT_FILE = "checkpoints", "tune.json"


@dataclass
class TuneResult:
    base_model: str
    pairs: dict[str, int]  # training pairs by kind
    held_out: int
    steps: int
    seconds: float
    base_score: float  # MRR of the held-out positives, base model
    tuned_score: float
    kept: bool
    losses: list[tuple[int, float]] = field(default_factory=list)  # (step, training loss)
    method: str = "every weight"  # or "LoRA rank r", and the share of the base model mixed back


def heldout_mrr(model, pairs: Sequence[Pair], batch_size: int = 64) -> float:
    """Mean reciprocal rank of each held-out query's positive among every held-out positive and
    negative: the task the tuned model is for, on pairs it never saw."""
    candidates = list(dict.fromkeys([p.positive for p in pairs] + [p.negative for p in pairs if p.negative]))
    index = {text: i for i, text in enumerate(candidates)}
    queries = model.encode([p.query for p in pairs], batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True)
    docs = model.encode(candidates, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True)
    scores = queries @ docs.T
    ranks = [(scores[i] > scores[i, index[p.positive]]).sum() + 1 for i, p in enumerate(pairs)]
    return float(np.mean([1.0 / r for r in ranks]))


def split_pairs(pairs: Sequence[Pair], holdout: float, seed: int) -> tuple[list[Pair], list[Pair]]:
    """(train, held out), held-out pairs drawn from files the training pairs do not touch, so the
    check cannot be passed by remembering a file."""
    paths = sorted({p.path for p in pairs})
    random.Random(seed).shuffle(paths)
    held_paths = set(paths[: max(1, int(len(paths) * holdout))]) if len(paths) > 1 else set()
    train = [p for p in pairs if p.path not in held_paths]
    held = [p for p in pairs if p.path in held_paths]
    return train, held


def _stop_after(minutes: float):
    from transformers import TrainerCallback

    class StopAfter(TrainerCallback):
        """Ends training at the first step past the time budget."""

        def __init__(self) -> None:
            self.deadline = time.monotonic() + minutes * 60

        def on_step_end(self, args, state, control, **kwargs):
            if time.monotonic() > self.deadline:
                log.warning("tuning stopped at step %d: the %.0f-minute budget is spent", state.global_step, minutes)
                control.should_training_stop = True
            return control

    return StopAfter()


def _progress(on_step: Callable[[int, int], None]):
    from transformers import TrainerCallback

    class Progress(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            on_step(state.global_step, state.max_steps)
            return control

    return Progress()


def merge_adapters(model) -> None:
    """Fold trained LoRA adapters into the weights they adapt and drop them, so the tuned model is
    a plain one that loads anywhere (and queries as fast as the base model)."""
    from peft.tuners.tuners_utils import BaseTunerLayer

    adapted = [m.model for m in model.modules() if getattr(getattr(m, "model", None), "_hf_peft_config_loaded", False)]
    for network in adapted:  # the Hugging Face model inside sentence-transformers' Transformer module
        for name, layer in list(network.named_modules()):
            if isinstance(layer, BaseTunerLayer):
                layer.merge()
                parent, _, child = name.rpartition(".")
                setattr(network.get_submodule(parent), child, layer.get_base_layer())
        del network.peft_config  # transformers' record of the adapters: without it, saving writes the whole model
        network._hf_peft_config_loaded = False


def mix_weights(tuned, base, share: float) -> None:
    """Move `tuned`'s weights `share` of the way back to `base`'s, in place: weight-space ensembling
    (WiSE-FT, Wortsman et al. 2022) keeps most of a fine-tune's gain on its own data and most of
    the base model's robustness elsewhere."""
    import torch

    base_state = base.state_dict()
    with torch.no_grad():
        for name, tensor in tuned.state_dict().items():
            if tensor.is_floating_point():
                tensor.mul_(1 - share).add_(base_state[name].to(tensor.device), alpha=share)


def tune(
    base_model: str, pairs: Sequence[Pair], out: Path, options: TuneSettings, device: str = "cpu", on_step: Callable[[int, int], None] | None = None
) -> TuneResult:
    """Train on `pairs` into `out` (resuming a killed run there); returns what happened. The tuned
    model is saved to `out/model` only when it beats the base model on the held-out pairs."""
    from datasets import Dataset
    from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    from sentence_transformers.sentence_transformer.training_args import BatchSamplers

    train, held = split_pairs(pairs, options.holdout, options.seed)
    if len(train) < options.batch_size or not held:
        raise ValueError(f"{len(pairs)} pairs are too few to tune on (need a batch of {options.batch_size} and held-out files): the collection is too small")
    started = time.perf_counter()
    model = SentenceTransformer(base_model, device=device)
    window = model.max_seq_length
    model.max_seq_length = min(window, options.max_seq_length)  # for training only: the saved model keeps its window
    base_score = heldout_mrr(model, held)
    if options.lora_rank:
        from peft import LoraConfig

        model.add_adapter(LoraConfig(r=options.lora_rank, lora_alpha=2 * options.lora_rank, target_modules="all-linear", lora_dropout=0.0))
    columns = {"anchor": [p.query for p in train], "positive": [p.positive for p in train]}
    if all(p.negative for p in train):
        columns["negative"] = [p.negative for p in train]
    args = SentenceTransformerTrainingArguments(
        output_dir=str(out / CHECKPOINTS),
        num_train_epochs=options.epochs,
        per_device_train_batch_size=options.batch_size,
        learning_rate=options.learning_rate,
        warmup_steps=options.warmup_ratio,  # Transformers 5: a float below 1 is a share of the steps
        batch_sampler=BatchSamplers.NO_DUPLICATES,  # a text twice in a batch would be its own false negative
        save_strategy="steps",
        save_steps=options.save_steps,
        save_total_limit=1,
        logging_steps=max(1, options.save_steps // 5),
        seed=options.seed,
        report_to="none",
        use_cpu=device == "cpu",
        disable_tqdm=True,
    )
    callbacks = [_stop_after(options.max_minutes)] + ([_progress(on_step)] if on_step else [])
    trainer = SentenceTransformerTrainer(
        model=model, args=args, train_dataset=Dataset.from_dict(columns), loss=MultipleNegativesRankingLoss(model), callbacks=callbacks
    )
    resume = latest_checkpoint(out / CHECKPOINTS)
    if resume is not None:
        log.info("tuning resumes from %s", resume)
    trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    if options.lora_rank:
        merge_adapters(model)
    if options.base_mix:
        mix_weights(model, SentenceTransformer(base_model, device=device), options.base_mix)
    tuned_score = heldout_mrr(model, held)
    kept = tuned_score > base_score
    if kept:
        model.max_seq_length = window
        model.save(str(out / MODEL_DIR))
    counts: dict[str, int] = {}
    for p in train:
        counts[p.kind] = counts.get(p.kind, 0) + 1
    losses = [(int(e["step"]), float(e["loss"])) for e in trainer.state.log_history if "loss" in e]
    method = (f"LoRA rank {options.lora_rank}" if options.lora_rank else "every weight") + (
        f", {options.base_mix:.0%} base model mixed back" if options.base_mix else ""
    )
    result = TuneResult(base_model, counts, len(held), trainer.state.global_step, time.perf_counter() - started, base_score, tuned_score, kept, losses, method)
    (out / RESULT_FILE).write_text(json.dumps(asdict(result), indent=2))
    write_card(result, out)
    shutil.rmtree(out / CHECKPOINTS, ignore_errors=True)  # done: a later run starts afresh
    return result


def write_card(result: TuneResult, out: Path) -> None:
    """out/loss.png (the training loss by step) and out/README.md: the data, the steps and the
    held-out check, for a person deciding whether to trust the tuned model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if result.losses:
        fig, ax = plt.subplots(figsize=(6, 3))
        ax.plot([s for s, _ in result.losses], [v for _, v in result.losses], color="#4c72b0")
        ax.set_xlabel("step")
        ax.set_ylabel("training loss")
        fig.tight_layout()
        fig.savefig(out / "loss.png", dpi=110)
        plt.close(fig)
    kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(result.pairs.items()))
    verdict = "kept: it beats the base model" if result.kept else "not kept: it does not beat the base model, which stays"
    (out / "README.md").write_text(
        f"# Embedder tuned on this collection\n\n- base model: {result.base_model}\n- training pairs: {kinds} (no query or label used)\n"
        f"- trained: {result.method}; {result.steps} steps in {result.seconds:.0f} s\n- held-out pairs: {result.held_out}; MRR base {result.base_score:.4f}, "
        f"tuned {result.tuned_score:.4f}: {verdict}\n\n![training loss](loss.png)\n"
    )
