"""Fine-tune an extractive reader: an encoder with a start/end span head, where the [CLS] span
means "no answer" (SQuAD 2.0 style), trained with transformers' Trainer on SQuAD-format data.

Checkpoints every `save_steps` (and when the time budget stops a run); running again resumes from
the latest whole one. The learning rate decays linearly to zero at `max_steps`, so plan the
steps for the hardware: about 4.5 s a step of 32 windows of up to 256 word pieces here on 2 cores."""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from rag.answering.reader.dequantize import float_reader
from rag.answering.reader.mix import training_mix
from rag.answering.reader.model import MANIFEST
from rag.answering.reader.squad import load_squad
from rag.answering.reader.windows import training_features
from rag.checkpoints import latest_checkpoint
from rag.config import ReaderTrainSettings

log = logging.getLogger(__name__)
MODEL_DIR, CHECKPOINTS, RESULT_FILE, RUNS_FILE = "model", "checkpoints", "train.json", "runs.jsonl"


@dataclass
class ReaderTrainResult:
    base_model: str
    examples: dict[str, int]  # training examples by kind: answerable, unanswerable (real, repeats counted), made negatives
    windows: int
    steps: int
    max_steps: int
    seconds: float  # wall time of every run that got here (runs.jsonl; a killed run's time is not counted)
    device: str
    losses: list[tuple[int, float]] = field(default_factory=list)  # (step, training loss)


def _callbacks(max_minutes: float, on_step: Callable[[int, int], None] | None):
    from transformers import TrainerCallback

    class Budget(TrainerCallback):
        """Stops at the first step past the time budget and saves a checkpoint there to resume from."""

        def __init__(self) -> None:
            self.deadline = time.monotonic() + max_minutes * 60

        def on_step_end(self, args, state, control, **kwargs):
            if on_step is not None:
                on_step(state.global_step, state.max_steps)
            if time.monotonic() > self.deadline and state.global_step < state.max_steps:
                log.warning("reader training stopped at step %d of %d: the %.0f-minute budget is spent", state.global_step, state.max_steps, max_minutes)
                control.should_training_stop = True
                control.should_save = True
            return control

    return [Budget()]


def load_examples(options: ReaderTrainSettings):
    """(the training mix, counts by kind) from the settings' files."""
    answerable = [e for e in load_squad(options.train_file) if e.answerable]
    unanswerable = [e for e in load_squad(options.unanswerable_file) if not e.answerable] if options.unanswerable_file else []
    unanswerable *= options.unanswerable_repeats  # counted in the negative share like any other
    if options.max_examples:
        answerable = answerable[: options.max_examples]
    if options.squad2_file:  # SQuAD 2.0's own unanswerable questions, with the answerable ones of the same paragraphs
        both = load_squad(options.squad2_file) * options.squad2_repeats
        answerable += [e for e in both if e.answerable]
        unanswerable += [e for e in both if not e.answerable]
    mix = training_mix(answerable, unanswerable, options.negative_share, options.seed, options.negative_kinds)
    counts = {"answerable": len(answerable), "unanswerable": len(unanswerable), "made negatives": len(mix) - len(answerable) - len(unanswerable)}
    return mix, counts


def finished(base_model: str, options: ReaderTrainSettings, out: Path) -> ReaderTrainResult | None:
    """The result of a run in `out` that reached `options.max_steps` from `base_model`, if any."""
    try:
        stored = json.loads((out / RESULT_FILE).read_text())  # may carry more: a card's "schedule", "reproduce"
        kept = {f.name: stored[f.name] for f in fields(ReaderTrainResult) if f.name in stored}
        result = ReaderTrainResult(**{**kept, "losses": [tuple(x) for x in kept.get("losses", [])]})
    except (OSError, ValueError, TypeError):
        return None
    whole = result.base_model == base_model and result.steps >= options.max_steps and (out / MODEL_DIR).is_dir()
    return result if whole and latest_checkpoint(out / CHECKPOINTS) is None else None


def train_reader(
    base_model: str, options: ReaderTrainSettings, out: Path, device: str = "cpu", on_step: Callable[[int, int], None] | None = None
) -> ReaderTrainResult:
    """Train from `base_model` (a folder or name transformers loads, or an exported reader) into
    `out/model`, resuming a run that was stopped in `out`; returns what happened. A run that
    already reached `max_steps` from the same base is not trained again (so `make reader` can be
    re-run stage by stage)."""
    done = finished(base_model, options, out)
    if done is not None:
        log.info("the reader in %s is already trained (%d steps from %s); remove the folder to train it again", out, done.steps, base_model)
        return done
    import torch
    from datasets import Dataset
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer, DataCollatorWithPadding, Trainer, TrainingArguments

    started = time.perf_counter()
    torch.manual_seed(options.seed)
    source = base_model
    if (Path(base_model) / MANIFEST).is_file():  # an exported int8 reader: go on from its weights read back as floats
        source = str(float_reader(Path(base_model), out / "base"))
    tokenizer = AutoTokenizer.from_pretrained(source)
    examples, counts = load_examples(options)
    features = training_features(tokenizer, examples, options.max_length, options.stride)
    features["length"] = [len(ids) for ids in features["input_ids"]]
    dataset = Dataset.from_dict(features)
    del features, examples  # Python lists of word pieces: several GB on the whole of SQuAD, now held in Arrow
    model = AutoModelForQuestionAnswering.from_pretrained(source)
    if options.freeze_embeddings:  # the word-piece table is half the weights and needs no new knowledge for spans
        model.get_input_embeddings().weight.requires_grad_(False)
    args = TrainingArguments(
        output_dir=str(out / CHECKPOINTS),
        max_steps=options.max_steps,
        per_device_train_batch_size=options.batch_size,
        learning_rate=options.learning_rate,
        weight_decay=0.01,
        warmup_steps=options.warmup_ratio,  # Transformers 5: a float below 1 is a share of the steps
        lr_scheduler_type="linear",
        save_strategy="steps",
        save_steps=options.save_steps,
        save_total_limit=2,
        logging_steps=max(1, options.save_steps // 4),
        seed=options.seed,
        report_to="none",
        use_cpu=device == "cpu",
        disable_tqdm=True,
        dataloader_num_workers=0,
        train_sampling_strategy="group_by_length",  # batches of like lengths: less padding, each step cheaper
    )
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=dataset,
        data_collator=DataCollatorWithPadding(tokenizer),
        callbacks=_callbacks(options.max_minutes, on_step),
    )
    resume = latest_checkpoint(out / CHECKPOINTS)
    if resume is not None:
        log.info("reader training resumes from %s", resume)
    trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    model.save_pretrained(out / MODEL_DIR)
    tokenizer.save_pretrained(out / MODEL_DIR)
    losses = [(int(e["step"]), round(float(e["loss"]), 4)) for e in trainer.state.log_history if "loss" in e]
    with open(out / RUNS_FILE, "a") as runs:  # each run's time, so a resumed training's card counts them all
        runs.write(json.dumps({"steps": trainer.state.global_step, "seconds": round(time.perf_counter() - started, 1), "device": device}) + "\n")
    seconds = sum(json.loads(line)["seconds"] for line in (out / RUNS_FILE).read_text().splitlines() if line.strip())
    result = ReaderTrainResult(base_model, counts, len(dataset), trainer.state.global_step, options.max_steps, seconds, device, losses)
    (out / RESULT_FILE).write_text(json.dumps(asdict(result), indent=2))
    if result.steps >= options.max_steps:
        shutil.rmtree(out / CHECKPOINTS, ignore_errors=True)  # done: a later run starts afresh
        (out / RUNS_FILE).unlink()
    return result
