"""The reader's commands: `rag train-reader` fine-tunes it on SQuAD-format data ([reader_train]
settings; resumes a stopped run) and `--export DIR` ships it as int8 ONNX with its manifest and
card; `rag eval reader FILE.json` scores a reader on gold paragraphs with the SQuAD 2.0 metric."""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
from dataclasses import asdict
from pathlib import Path

from app import EXIT_OK, EXIT_PARTIAL, EXIT_USAGE
from app.tune import progress_callback


def add_train_parser(sub) -> None:
    train = sub.add_parser("train-reader", help="fine-tune the extractive reader on SQuAD-format data (resumes a stopped run)")
    train.add_argument("--out", default="runs/reader", help="work folder: checkpoints, the trained model, train.json")
    train.add_argument("--max-steps", type=int, help="steps of the learning-rate schedule (default: reader_train.max_steps)")
    train.add_argument("--max-minutes", type=float, help="stop (with a checkpoint) past this; run again to resume (default: reader_train.max_minutes)")
    train.add_argument("--max-examples", type=int, help="answerable questions used (default: reader_train.max_examples; 0: all)")
    train.add_argument("--export", help="then export the trained model to this folder as int8 ONNX (e.g. models/reader)")
    train.add_argument("--calibrate", help="SQuAD 2.0 JSON dev file the export chooses its no-answer threshold and confidence on")
    train.add_argument("--export-only", action="store_true", help="export the model a finished run left in --out; train nothing")
    train.set_defaults(func=cmd_train_reader)


def add_split_parser(sub) -> None:
    split = sub.add_parser("split-squad", help="deal a SQuAD file's articles into parts: learn from one, measure on another")
    split.add_argument("dataset", help="a SQuAD-format JSON file (v1.1 or v2.0)")
    split.add_argument("--out", required=True, help="folder for <stem>.part-<k>of<n>.json")
    split.add_argument("--parts", type=int, default=2)
    split.set_defaults(func=cmd_split_squad)


def cmd_split_squad(args: argparse.Namespace) -> int:
    from rag.answering.reader.squad import load_squad, split_by_article

    try:
        for path in split_by_article(Path(args.dataset), Path(args.out), args.parts):
            examples = load_squad(path)
            answerable = sum(e.answerable for e in examples)
            print(f"{path}: {answerable} answerable, {len(examples) - answerable} unanswerable questions")
    except ValueError as exc:
        print(f"rag split-squad: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


def add_eval_parser(eval_sub) -> None:
    reader = eval_sub.add_parser("reader", help="the reader alone on gold paragraphs: SQuAD 2.0 exact/F1, HasAns and NoAns, latency")
    reader.add_argument("dataset", help="a SQuAD-format JSON file (v1.1 or v2.0)")
    reader.add_argument("--out", help="folder for report.json (the official script's keys, latency, the threshold trade-off)")
    reader.add_argument("--max-questions", type=int, help="only the first N questions")
    reader.set_defaults(func=cmd_eval_reader)


def cmd_train_reader(args: argparse.Namespace) -> int:
    from rag.answering.reader.train import MODEL_DIR, train_reader
    from rag.models import model_path
    from rag.search.embedding import pick_device

    try:
        settings = args.settings
        update = {k: v for k, v in (("max_steps", args.max_steps), ("max_minutes", args.max_minutes), ("max_examples", args.max_examples)) if v is not None}
        options = settings.reader_train.model_copy(update=update)
        for path in (options.train_file, options.unanswerable_file, options.squad2_file, args.calibrate):
            if path is not None and not Path(path).is_file():
                raise ValueError(f"file not found: {path} (reader_train.train_file, unanswerable_file, squad2_file or --calibrate)")
        out = Path(args.out)
        if args.export_only:
            if not args.export or not (out / MODEL_DIR).is_dir():
                raise ValueError(f"--export-only needs --export DIR and a trained model in {out / MODEL_DIR}")
            manifest = export_reader(out, Path(args.export), settings, Path(args.calibrate) if args.calibrate else None)
            print(f"exported to {args.export}: {json.dumps(manifest)}")
            return EXIT_OK
        result = train_reader(model_path(options.base_model), options, out, pick_device(options.device), on_step=progress_callback("step", "train-reader"))
    except (ValueError, RuntimeError) as exc:
        print(f"rag train-reader: {exc}", file=sys.stderr)
        return EXIT_USAGE
    examples = ", ".join(f"{n} {kind}" for kind, n in result.examples.items())
    print(f"trained on {examples} ({result.windows} windows) on {result.device}: step {result.steps} of {result.max_steps} in {result.seconds:.0f} s")
    if result.losses:
        print(f"training loss {result.losses[0][1]:.3f} at step {result.losses[0][0]} -> {result.losses[-1][1]:.3f} at step {result.losses[-1][0]}")
    if result.steps < result.max_steps:
        print(f"stopped by the time budget; run the same command again to resume from {out / 'checkpoints'}")
        return EXIT_PARTIAL
    print(f"model: {out / MODEL_DIR}")
    if args.export:
        manifest = export_reader(out, Path(args.export), settings, Path(args.calibrate) if args.calibrate else None)
        print(f"exported to {args.export}: {json.dumps(manifest)}")
    return EXIT_OK


def export_reader(work: Path, dest: Path, settings, calibrate: Path | None, max_questions: int | None = None) -> dict:
    """int8 ONNX in `dest`, checked against the float model, with the threshold and confidence
    chosen on `calibrate` (a SQuAD 2.0 dev file) when given; returns the manifest (plus figures in
    `dest/export.json`)."""
    from eval.reader import predict
    from rag.answering.reader.export import export_onnx, onnx_logits, torch_logits, write_card, write_manifest
    from rag.answering.reader.model import Reader
    from rag.answering.reader.squad import load_squad
    from rag.answering.reader.train import MODEL_DIR
    from rag.answering.reader.windows import read_windows

    model_dir, final = work / MODEL_DIR, dest
    dest = final.with_name(final.name + ".new")  # built beside the shipped reader, swapped in whole at the end
    shutil.rmtree(dest, ignore_errors=True)
    onnx_file = export_onnx(model_dir, dest)
    windows_cfg = {"max_length": 384, "stride": 128}
    manifest = write_manifest(dest, **windows_cfg, threshold=0.0, calibration=(1.0, 0.0))
    figures: dict = {"size_mb": round(onnx_file.stat().st_size / 2**20, 1)}
    if calibrate is not None:
        examples = load_squad(calibrate)[:max_questions]
        reader = Reader.load(settings.reader.model_copy(update={"model": str(dest), "threshold": None}))
        probe = examples[: min(200, len(examples))]
        tok = reader.tokenizer
        wins = read_windows(tok, [e.question for e in probe], [e.context for e in probe], **windows_cfg)
        q_start, q_end = onnx_logits(onnx_file, wins.inputs(slice(None)))
        f_start, f_end = torch_logits(model_dir, wins.inputs(slice(None)))
        figures["int8_vs_float"] = {
            "windows": len(wins),
            "same_best_start": float((q_start.argmax(1) == f_start.argmax(1)).mean()),
            "same_best_end": float((q_end.argmax(1) == f_end.argmax(1)).mean()),
            "max_logit_difference": float(max(abs(q_start - f_start).max(), abs(q_end - f_end).max())),
        }
        predictions = predict(reader, examples, on_step=progress_callback("question", "eval"))
        manifest, dev = calibrated(dest, predictions, windows_cfg)
        figures.update(dev, calibration_file=str(calibrate))
    (dest / "export.json").write_text(json.dumps(figures, indent=2) + "\n")
    train = json.loads((work / "train.json").read_text()) if (work / "train.json").is_file() else {}
    write_card(dest, train, figures, manifest)
    old = final.with_name(final.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        final.rename(old)
    dest.rename(final)
    shutil.rmtree(old, ignore_errors=True)
    return manifest


ANSWERABLE_DECLINED = 0.08  # the share of answerable questions the shipped threshold may decline (the product's target)


def calibrated(dest: Path, predictions, windows_cfg: dict) -> tuple[dict, dict]:
    """(the manifest written with the threshold and confidence chosen on `predictions`, the dev
    figures at that threshold and at the best-F1 one)."""
    from eval.reader import answerable_threshold, best_threshold, fit_confidence, squad2_report
    from rag.answering.reader.export import write_manifest

    threshold = answerable_threshold(predictions, ANSWERABLE_DECLINED)
    manifest = write_manifest(dest, **windows_cfg, threshold=threshold, calibration=fit_confidence(predictions))
    best = best_threshold(predictions)
    answering = squad2_report(predictions, -math.inf)
    figures = {
        "dev": squad2_report(predictions, threshold),
        "dev_best_f1": {**squad2_report(predictions, best), "threshold": best},
        "dev_never_declining": {k: answering[k] for k in ("HasAns_exact", "HasAns_f1") if k in answering},
    }
    return manifest, figures


def cmd_eval_reader(args: argparse.Namespace) -> int:
    from eval.reader import latency, predict, squad2_report, tradeoff
    from eval.report import write_report_files
    from rag.answering.reader.model import Reader, ReaderError
    from rag.answering.reader.squad import load_squad

    try:
        settings = args.settings
        examples = load_squad(Path(args.dataset))[: args.max_questions]
        reader = Reader.load(settings.reader)
    except (ValueError, ReaderError) as exc:
        print(f"rag eval reader: {exc}", file=sys.stderr)
        return EXIT_USAGE
    predictions = predict(reader, examples, on_step=progress_callback("question", "eval"))
    report = squad2_report(predictions, reader.threshold)
    report["threshold"] = reader.threshold
    report["latency"] = latency(predictions)
    for key in ("exact", "f1", "HasAns_exact", "HasAns_f1", "NoAns_exact", "NoAns_f1"):
        if key in report:
            print(f"{key:13s} {report[key]:6.2f}")
    print(
        f"total {report['total']} questions; threshold {reader.threshold:.3f}; latency p50 {report['latency']['p50_ms']:.1f} ms, p95 {report['latency']['p95_ms']:.1f} ms"
    )
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        margins = sorted(p.margin for p in predictions if p.margin > -1e9)
        points = [margins[int(q * (len(margins) - 1))] for q in (i / 20 for i in range(21))] if margins else []
        report["tradeoff"] = tradeoff(predictions, points)
        keys = ("exact", "f1", "HasAns_exact", "HasAns_f1", "NoAns_exact", "NoAns_f1", "total")
        table = "| key | value |\n| --- | --- |\n" + "\n".join(f"| {k} | {report[k]} |" for k in keys if k in report)
        write_report_files(out, report, f"Reader on gold paragraphs (SQuAD 2.0 metric): {args.dataset}", table)
        with open(out / "predictions.jsonl", "w", encoding="utf-8") as fh:
            for p in predictions:
                fh.write(json.dumps(asdict(p), ensure_ascii=False) + "\n")
        print(f"report: {out / 'report.json'}")
    return EXIT_OK
