"""The extractive reader: SQuAD files read as examples, the training mix and its made negatives,
span labels on windows, spans read back out of logits, and a tiny random reader trained end to
end (loss falls, the ONNX export agrees with torch, a killed run resumes, a corrupt file is named)."""

import json
from pathlib import Path

import numpy as np
import pytest
from kills import kill_after_first_checkpoint
from tiny_models import ANIMALS, PLACES, tiny_qa_reader

from rag.answering.reader.mix import (
    KINDS,
    from_nearest_paragraph,
    from_other_paragraph,
    names_in,
    training_mix,
    with_antonym,
    with_changed_number,
    with_negation,
    with_passage_name,
    with_swapped_name,
    without_answer_sentence,
)
from rag.answering.reader.model import Reader, ReaderError
from rag.answering.reader.spans import best_spans, null_scores
from rag.answering.reader.squad import QAExample, load_squad
from rag.answering.reader.windows import read_windows, training_features
from rag.config import ReaderSettings, ReaderTrainSettings, Settings
from rag.models import model_path

MINILM = model_path("all-MiniLM-L6-v2")


def squad_file(path: Path, articles: int = 3, impossible: bool = False) -> Path:
    """A SQuAD-format file: each paragraph says where an animal lives and how many were counted."""
    data = []
    for a in range(articles):
        paragraphs = []
        for p in range(4):
            animal, place = ANIMALS[(a * 4 + p) % len(ANIMALS)], PLACES[(a * 3 + p) % len(PLACES)]
            count = 10 + 7 * (a * 4 + p)
            context = f"Survey {a}.{p} took place in spring. The {animal} lives near {place}. Rangers counted {count} of them in the survey."
            qas = [
                {"id": f"{a}-{p}-w", "question": f"Where does the {animal} live?", "answers": [{"text": place, "answer_start": context.index(place)}]},
                {
                    "id": f"{a}-{p}-n",
                    "question": f"How many {animal}s were counted?",
                    "answers": [{"text": str(count), "answer_start": context.index(str(count))}],
                },
            ]
            if impossible:
                qas.append({"id": f"{a}-{p}-x", "question": f"What does the {animal} eat?", "answers": [], "is_impossible": True})
            paragraphs.append({"context": context, "qas": qas})
        data.append({"title": f"Article {a}", "paragraphs": paragraphs})
    path.write_text(json.dumps({"version": "test", "data": data}))
    return path


def test_squad_files_become_examples_and_bad_answers_are_dropped(tmp_path: Path):
    examples = load_squad(squad_file(tmp_path / "s.json", impossible=True))
    assert len(examples) == 3 * 4 * 3
    first = examples[0]
    assert first.context[first.answers[0][1] :].startswith(first.answers[0][0])
    assert sum(not e.answerable for e in examples) == 12
    broken = {"data": [{"title": "t", "paragraphs": [{"context": "abc", "qas": [{"question": "q", "answers": [{"text": "zz", "answer_start": 0}]}]}]}]}
    (tmp_path / "b.json").write_text(json.dumps(broken))
    assert load_squad(tmp_path / "b.json") == []  # an answer that is not at its start is no answer, and no question left
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="bad.json"):
        load_squad(tmp_path / "bad.json")


def test_made_negatives_never_hold_the_answer(tmp_path: Path):
    answerable = load_squad(squad_file(tmp_path / "s.json", articles=4))
    mix = training_mix(answerable, [], negative_share=0.33, seed=0)
    made = [e for e in mix if not e.answerable]
    assert 0.25 < len(made) / len(mix) < 0.36
    assert {e.id.rsplit("-", 1)[1] for e in made} == {"cut", "other"}  # these questions name nothing to swap
    by_id = {e.id: e for e in answerable}
    for neg in made:
        source = by_id[neg.id.rsplit("-", 1)[0]]
        assert source.answers[0][0].lower() not in neg.context.lower()
        assert neg.question == source.question
    ex = QAExample("x", "Who?", "One sentence here now. Dr Okonkwo founded it in 1987. Another sentence follows here.", (("1987", 40),))
    cut = without_answer_sentence(ex)
    assert cut is not None and "1987" not in cut.context and "Another sentence" in cut.context
    assert from_other_paragraph(ex, [ex.context], __import__("random").Random(0)) is None  # no other paragraph


def test_the_nearest_paragraph_is_the_one_sharing_most_terms_without_the_answer():
    from rag.storage.sparse import Tokenizer

    gold = "The Rhine flows 1,230 km and ends at Hoek van Holland on the North Sea."
    near = "The length of the Rhine was measured with kilometre markers starting at Constance."
    far = "Salmon returned to the Rhine after the water was cleaned."
    ex = QAExample("q", "Where does the measurement of the Rhine's length end?", gold, (("Hoek van Holland", gold.index("Hoek")),))
    made = from_nearest_paragraph(ex, [far, gold, near], Tokenizer())
    assert made is not None and made.context == near and made.answers == () and made.id == "q-near"
    holds_answer = "Its mouth, measured from Constance, is at Hoek van Holland."
    assert from_nearest_paragraph(ex, [gold, holds_answer, far], Tokenizer()).context == far  # never one that holds the answer
    assert from_nearest_paragraph(ex, [gold, "Nothing in common at all."], Tokenizer()) is None  # shares no term


def test_a_swapped_name_makes_a_question_the_passage_does_not_answer():
    import random

    assert names_in("Which group seceded from The Church of Scotland in 1733?") == ["The Church of Scotland", "1733"]
    assert names_in("Where does the otter live?") == []
    context = "In 1733 ministers seceded from the Church of Scotland and formed the Associate Presbytery."
    ex = QAExample("q", "Which group seceded from the Church of Scotland in 1733?", context, (("the Associate Presbytery", 63),))
    pool = ["Church of England", "1733", "1843", "Scotland"]  # "1733" and "Scotland" are in the passage: never chosen
    swapped = {with_swapped_name(ex, pool, random.Random(seed)).question for seed in range(20)}
    assert swapped == {
        "Which group seceded from the Church of England in 1733?",
        "Which group seceded from the Church of Scotland in 1843?",
    }
    assert with_swapped_name(ex, pool, random.Random(0)).answers == ()
    assert with_swapped_name(QAExample("r", "Where does the otter live?", context, ()), pool, random.Random(0)) is None
    assert with_swapped_name(ex, ["Scotland"], random.Random(0)) is None  # nothing the passage lacks to put in


def test_a_name_of_the_same_passage_makes_a_question_whose_words_are_all_there():
    import random

    context = (
        "The Associate Presbytery was formed by ministers who left the Church of Scotland in 1733. "
        "Its leader, Ebenezer Erskine, had been a minister at Stirling."
    )
    ex = QAExample("q", "Which group left the Church of Scotland in 1733?", context, (("The Associate Presbytery", 0),))
    made = {with_passage_name(ex, random.Random(seed)).question for seed in range(20)}
    assert made == {"Which group left the Ebenezer Erskine in 1733?", "Which group left the Stirling in 1733?"}  # never "The Associate Presbytery"
    assert with_passage_name(ex, random.Random(0)).answers == ()
    answer_here = "Ministers who left the Church of Scotland formed the Associate Presbytery with Ebenezer Erskine."
    assert with_passage_name(QAExample("a", ex.question, answer_here, (("the Associate Presbytery", 50),)), random.Random(0)) is None  # only in its sentence
    olympic = "He chairs the International Olympic Committee. The games were run by the IOC in the end."
    assert with_passage_name(QAExample("o", "Who chairs the International Olympic Committee?", olympic, (("He", 0),)), random.Random(0)) is None  # its initials
    assert with_passage_name(QAExample("n", "Where does the otter live?", context, ()), random.Random(0)) is None


def test_an_opposite_a_changed_number_or_a_negation_makes_a_question_the_passage_does_not_answer():
    import random

    context = "The largest of the 12 lakes formed before the glaciers retreated. Fishing is not allowed in winter."
    ex = QAExample("q", "Which lake was the largest of the 12 lakes?", context, (("The largest", 0),))
    assert with_antonym(ex, random.Random(0)).question == "Which lake was the smallest of the 12 lakes?"
    assert with_antonym(QAExample("r", "What formed before the glaciers retreated?", context, ()), random.Random(0)).question == (
        "What formed after the glaciers retreated?"
    )
    both = "Most lakes are shallow; the least deep is the one in the north."
    assert with_antonym(QAExample("s", "Which lake is the most shallow?", both, ()), random.Random(0)) is None  # the passage says both
    assert with_antonym(QAExample("t", "Where do otters live?", context, ()), random.Random(0)) is None
    assert with_antonym(QAExample("u", "Who was named Most Valuable Player?", "She was named most valuable player.", ()), random.Random(0)) is None

    changed = {with_changed_number(ex, random.Random(seed)).question for seed in range(10)}
    assert all(q.startswith("Which lake was the largest of the ") and "12 lakes" not in q for q in changed) and len(changed) > 2
    assert with_changed_number(QAExample("y", "What formed in 1987?", "It formed in 1987.", ()), random.Random(0)) is None  # years are swapped as names
    assert with_changed_number(QAExample("z", "What were 1,000 workers paid?", "Its 1,000 workers were paid well.", ()), random.Random(1)).question != (
        "What were 1,000 workers paid?"
    )

    assert with_negation(ex).question == "Which lake wasn't the largest of the 12 lakes?" and with_negation(ex).answers == ()
    assert with_negation(QAExample("n", "Where did the glaciers retreat?", context, ())).question == "Where didn't the glaciers retreat?"
    assert with_negation(QAExample("c", "What can anglers catch in winter?", context, ())).question == "What can't anglers catch in winter?"
    assert with_negation(QAExample("m", "What is not allowed in winter?", context, ())) is None  # negated already
    assert with_negation(QAExample("o", "Name the largest lake.", context, ())) is None


def test_the_mix_makes_the_kinds_it_is_given(tmp_path: Path):
    answerable = load_squad(squad_file(tmp_path / "s.json", articles=4))
    mix = training_mix(answerable, [], negative_share=0.33, seed=0, kinds=["other", "negation"])
    assert {e.id.rsplit("-", 1)[1] for e in mix if not e.answerable} == {"other", "negation"}
    with pytest.raises(ValueError, match="negative_kinds.*guess"):
        training_mix(answerable, [], 0.33, 0, kinds=["guess"])


def test_real_unanswerable_questions_can_weigh_more_in_the_mix(tmp_path: Path):
    from rag.answering.reader.train import load_examples

    file = squad_file(tmp_path / "s.json", articles=4, impossible=True)
    options = ReaderTrainSettings(train_file=file, unanswerable_file=file, negative_share=0.4, unanswerable_repeats=3)
    mix, counts = load_examples(options)
    real = [e for e in mix if e.id.endswith("-x")]
    assert counts["unanswerable"] == len(real) == 3 * 16  # each of the 16 real ones three times
    assert counts["answerable"] + counts["unanswerable"] + counts["made negatives"] == len(mix)
    once, _ = load_examples(options.model_copy(update={"unanswerable_repeats": 1}))
    assert sum(e.id.endswith("-x") for e in once) == 16


def test_a_squad_file_splits_by_article_into_parts_that_share_no_paragraph(tmp_path: Path, capsys):
    from app.cli import main
    from rag.answering.reader.squad import split_by_article

    file = squad_file(tmp_path / "s.json", articles=5, impossible=True)
    parts = split_by_article(file, tmp_path / "parts", parts=2)
    assert [p.name for p in parts] == ["s.part-1of2.json", "s.part-2of2.json"]
    first, second = (load_squad(p) for p in parts)
    assert {e.title for e in first} == {"Article 0", "Article 2", "Article 4"} and {e.title for e in second} == {"Article 1", "Article 3"}
    assert not {e.context for e in first} & {e.context for e in second}
    assert sorted(e.id for e in first + second) == sorted(e.id for e in load_squad(file))  # nothing lost, nothing twice
    with pytest.raises(ValueError, match="s.json: 5 articles, fewer than 6 parts"):
        split_by_article(file, tmp_path / "parts", parts=6)
    assert main(["split-squad", str(file), "--out", str(tmp_path / "cli")]) == 0
    assert "s.part-2of2.json: 16 answerable, 8 unanswerable questions" in capsys.readouterr().out
    assert main(["split-squad", str(tmp_path / "none.json"), "--out", str(tmp_path / "cli")]) == 2
    assert "none.json: not a SQuAD JSON file" in capsys.readouterr().err


def test_a_squad2_file_brings_its_questions_of_both_kinds_into_the_mix(tmp_path: Path):
    from rag.answering.reader.train import load_examples

    train = squad_file(tmp_path / "train.json", articles=4)
    dev = squad_file(tmp_path / "dev.json", articles=2, impossible=True)
    options = ReaderTrainSettings(train_file=train, unanswerable_file=None, negative_share=0.4, squad2_file=dev, squad2_repeats=2)
    mix, counts = load_examples(options)
    real = [e for e in mix if e.id.endswith("-x")]
    assert len(real) == counts["unanswerable"] == 2 * 8  # the 8 unanswerable ones of 2 articles, twice
    assert counts["answerable"] == 32 + 2 * 16  # the training file's and, twice, the squad2 file's
    assert counts["answerable"] + counts["unanswerable"] + counts["made negatives"] == len(mix)


def test_the_shipped_readers_stage_recipes_are_valid_settings():
    recipes = sorted((Path(__file__).parents[2] / "models").glob("reader-stage*.toml"))
    assert [r.name for r in recipes] == ["reader-stage2.toml", "reader-stage3.toml", "reader-stage4.toml", "reader-stage5.toml"]
    stages = [Settings.load(r).reader_train for r in recipes]
    assert [s.base_model for s in stages] == [
        "runs/reader/model",
        "runs/reader-2/model",
        "runs/reader-3/model",
        "runs/reader-4/model",
    ]  # each from the one before (make reader)
    assert set(stages[1].negative_kinds) == set(KINDS) - {"inner", "near"}  # the within-passage swap came after stage 3
    assert set(stages[2].negative_kinds) == set(KINDS) - {"near"} and stages[2].unanswerable_repeats > 1


def test_training_windows_label_the_answer_or_cls():
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(MINILM)
    filler = " ".join(f"word{i}" for i in range(200))
    context = f"{filler} The heron lives near Bergen. {filler}"
    ex = QAExample("1", "Where does the heron live?", context, (("Bergen", context.index("Bergen")),))
    features = training_features(tok, [ex], max_length=128, stride=32)
    labelled = [(s, e) for s, e in zip(features["start_positions"], features["end_positions"]) if s]
    assert len(features["input_ids"]) > 2 and labelled  # several windows; at least one holds the answer
    for i, (s, e) in enumerate(zip(features["start_positions"], features["end_positions"])):
        if s:
            assert tok.decode(features["input_ids"][i][s : e + 1]).lower() == "bergen"
    assert sum(1 for s in features["start_positions"] if s == 0) >= 1  # windows without it point at [CLS]


def test_windows_from_the_tokenizers_library_equal_transformers_own():
    """The reader reads tokenizer.json with `tokenizers` alone (no transformers import): its windows
    must be exactly those transformers' tokenizer makes with overflowing tokens and a stride."""
    from transformers import AutoTokenizer

    from rag.search.tokenizer import load_tokenizer

    filler = " ".join(f"word{i}" for i in range(150))
    questions = ["Where does the heron live?", "Who counted them?", "Why?"]
    passages = [f"{filler} The heron lives near Bergen. {filler}", "Rangers counted 17 herons.", "Ünïcode tëxt, and émigrés' café — déjà vu."]
    hf = AutoTokenizer.from_pretrained(MINILM)
    expected = hf(
        questions, passages, truncation="only_second", max_length=64, stride=16, return_overflowing_tokens=True, return_offsets_mapping=True, padding="longest"
    )
    windows = read_windows(load_tokenizer(Path(MINILM)), questions, passages, max_length=64, stride=16)
    assert len(windows) > len(questions)  # the long passage overflowed into several windows
    np.testing.assert_array_equal(windows.input_ids, expected["input_ids"])
    np.testing.assert_array_equal(windows.attention_mask, expected["attention_mask"])
    np.testing.assert_array_equal(windows.token_type_ids, expected["token_type_ids"])
    np.testing.assert_array_equal(windows.pair, expected["overflow_to_sample_mapping"])
    for i in range(len(windows)):
        passage = [j for j, seq in enumerate(expected.sequence_ids(i)) if seq == 1]
        assert [tuple(expected["offset_mapping"][i][j]) for j in passage] == [(windows.starts[i, j], windows.ends[i, j]) for j in passage]
        assert (windows.starts[i] >= 0).sum() == len(passage)


def test_spans_are_read_within_the_passage_and_the_null_score_is_the_lowest_window():
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(MINILM)
    windows = read_windows(tok, ["Where?", "Where?"], ["The heron lives near Bergen.", "Nothing here at all."], max_length=32, stride=8)
    n, length = windows.input_ids.shape
    start, end = np.zeros((n, length)), np.zeros((n, length))
    bergen = [j for j in range(length) if windows.starts[0, j] >= 0 and "Bergen" in "The heron lives near Bergen."[windows.starts[0, j] : windows.ends[0, j]]]
    start[0, bergen[0]], end[0, bergen[-1]] = 5.0, 5.0
    start[:, 0], end[:, 0] = 1.0, 1.0  # [CLS]: "no answer"
    start[0, 1], end[0, 1] = 9.0, 9.0  # the question's first word piece: never a span
    spans = best_spans(windows, start, end)
    assert "The heron lives near Bergen."[spans[0].start : spans[0].end] == "Bergen" and spans[0].score == 10.0
    assert list(null_scores(windows, start, end, 2)) == [2.0, 2.0]


def test_no_span_runs_across_a_blank_line():
    from transformers import AutoTokenizer

    passage = "Oxygen\n\nOxygen was named by Lavoisier in 1777."
    windows = read_windows(AutoTokenizer.from_pretrained(MINILM), ["Who named oxygen?"], [passage], max_length=64, stride=8)
    words = [j for j in range(windows.starts.shape[1]) if windows.starts[0, j] >= 0]
    assert windows.paragraphs[0, words[0]] == 0 and windows.paragraphs[0, words[-1]] == 1
    start, end = np.zeros(windows.input_ids.shape), np.zeros(windows.input_ids.shape)
    start[0, words[0]], end[0, words[1]] = 9.0, 9.0  # the heading and the word under it: the best pair, across the blank line
    best = best_spans(windows, start, end)[0]
    assert passage[best.start : best.end] == "Oxygen" and best.score == 9.0  # the heading alone, or the word alone


def train_options(tmp_path: Path, **kw) -> ReaderTrainSettings:
    train = squad_file(tmp_path / "train.json", articles=3)
    negatives = squad_file(tmp_path / "neg.json", articles=1, impossible=True)
    defaults = dict(
        base_model="tiny",
        train_file=train,
        unanswerable_file=negatives,
        max_length=64,
        stride=16,
        batch_size=8,
        learning_rate=3e-3,
        max_steps=40,
        save_steps=10,
        warmup_ratio=0.0,
        freeze_embeddings=False,
        device="cpu",
    )
    return ReaderTrainSettings(**{**defaults, **kw})


@pytest.mark.slow
def test_a_tiny_reader_learns_exports_to_onnx_that_agrees_and_loads(tmp_path: Path):
    from rag.answering.reader.export import export_onnx, onnx_logits, torch_logits, write_manifest
    from rag.answering.reader.train import MODEL_DIR, train_reader

    base = tiny_qa_reader(tmp_path / "base", MINILM)
    result = train_reader(str(base), train_options(tmp_path), tmp_path / "work")
    assert result.steps == 40 and not (tmp_path / "work" / "checkpoints").exists()
    assert result.losses[-1][1] < 0.6 * result.losses[0][1], result.losses
    model_dir = tmp_path / "work" / MODEL_DIR

    reader_dir = tmp_path / "reader"
    onnx_file = export_onnx(model_dir, reader_dir, quantize=False)
    examples = load_squad(tmp_path / "train.json")[:12]
    windows = read_windows(Reader.load(ReaderSettings(model=str(model_dir))).tokenizer, [e.question for e in examples], [e.context for e in examples], 64, 16)
    got, want = onnx_logits(onnx_file, windows.inputs(slice(None))), torch_logits(model_dir, windows.inputs(slice(None)))
    assert np.abs(got[0] - want[0]).max() < 1e-4 and np.abs(got[1] - want[1]).max() < 1e-4

    int8 = export_onnx(model_dir, tmp_path / "reader8", quantize=True)
    q = onnx_logits(int8, windows.inputs(slice(None)))
    assert np.corrcoef(q[0].ravel(), want[0].ravel())[0, 1] > 0.95  # int8 weights: close, not equal (the real reader's check is in its card)
    assert int8.stat().st_size < onnx_file.stat().st_size

    write_manifest(reader_dir, 64, 16, threshold=0.0, calibration=(1.0, 0.0))
    reader = Reader.load(ReaderSettings(model=str(reader_dir)))
    on_torch = Reader.load(ReaderSettings(model=str(model_dir)))  # a transformers folder: the torch backend
    right = 0
    for ex in examples:
        reading = reader.read(ex.question, [ex.context])
        right += ex.context[reading.best.start : reading.best.end] == ex.answers[0][0]
        assert 0.0 <= reading.confidence <= 1.0
        same = on_torch.read(ex.question, [ex.context])
        assert (same.best.start, same.best.end) == (reading.best.start, reading.best.end) and abs(same.margin - reading.margin) < 1e-3
    assert right >= 9  # it learnt the task, and the ONNX reader reads it back out


def test_an_exported_int8_reader_reads_back_as_floats_and_trains_on(tmp_path: Path):
    from transformers import AutoModelForQuestionAnswering

    from rag.answering.reader.dequantize import float_reader
    from rag.answering.reader.export import export_onnx, write_manifest
    from rag.answering.reader.train import MODEL_DIR, train_reader

    base = tiny_qa_reader(tmp_path / "base", MINILM)
    export_onnx(base, tmp_path / "reader8", quantize=True)
    write_manifest(tmp_path / "reader8", 64, 16, threshold=0.0, calibration=(1.0, 0.0))
    want = AutoModelForQuestionAnswering.from_pretrained(base).state_dict()
    got = AutoModelForQuestionAnswering.from_pretrained(float_reader(tmp_path / "reader8", tmp_path / "float")).state_dict()
    assert set(got) == set(want)
    for name, weight in want.items():  # int8: within a step of its range (1/127 to 1/255 of it), float ones exact
        assert float((got[name] - weight).abs().max()) <= float(weight.abs().max()) / 100, name
    result = train_reader(str(tmp_path / "reader8"), train_options(tmp_path, max_steps=2), tmp_path / "work")
    assert result.steps == 2 and result.base_model == str(tmp_path / "reader8") and (tmp_path / "work" / MODEL_DIR / "config.json").is_file()
    (tmp_path / "reader8" / "config.json").unlink()
    with pytest.raises(ReaderError, match="config.json"):
        float_reader(tmp_path / "reader8", tmp_path / "float2")


def test_a_corrupt_or_missing_reader_is_an_error_naming_the_file(tmp_path: Path):
    with pytest.raises(ReaderError, match="reader folder not found"):
        Reader.load(ReaderSettings(model=str(tmp_path / "nowhere")))
    folder = tmp_path / "reader"
    folder.mkdir()
    (folder / "model.onnx").write_bytes(b"not a model")
    (folder / "reader.json").write_text(json.dumps({"sha256": "0" * 64, "max_length": 64, "stride": 16, "threshold": 0.0, "calibration": [1, 0]}))
    with pytest.raises(ReaderError, match="model.onnx: sha256 does not match"):
        Reader.load(ReaderSettings(model=str(folder)))
    (folder / "reader.json").write_text("{")
    with pytest.raises(ReaderError, match="reader.json: not a reader manifest"):
        Reader.load(ReaderSettings(model=str(folder)))


@pytest.mark.slow
def test_a_killed_training_run_resumes_from_its_checkpoint(tmp_path: Path):
    from rag.answering.reader.train import RESULT_FILE, train_reader

    base = tiny_qa_reader(tmp_path / "base", MINILM)
    out = tmp_path / "work"
    script = f"""
import sys, time
sys.path[:0] = [{str(Path(__file__).parent)!r}, {str(Path(__file__).parents[1])!r}]
from pathlib import Path
from test_reader import train_options
from rag.answering.reader.train import train_reader
train_reader({str(base)!r}, train_options(Path({str(tmp_path)!r})), Path({str(out)!r}), on_step=lambda done, total: time.sleep(0.2))
"""
    kill_after_first_checkpoint(script, out / "checkpoints")
    assert not (out / RESULT_FILE).exists()  # it did not finish

    steps: list[int] = []
    result = train_reader(str(base), train_options(tmp_path), out, on_step=lambda done, total: steps.append(done))
    assert steps[0] > 10  # it went on from a checkpoint, not from step 1
    assert result.steps == steps[-1] == 40


def test_a_time_budget_stops_with_a_checkpoint_to_resume_from(tmp_path: Path):
    from rag.answering.reader.train import train_reader

    base = tiny_qa_reader(tmp_path / "base", MINILM)
    result = train_reader(str(base), train_options(tmp_path, max_minutes=1e-6, max_steps=30), tmp_path / "work")
    assert result.steps == 1 and list((tmp_path / "work" / "checkpoints").glob("checkpoint-1/trainer_state.json"))


def test_rag_eval_reader_writes_the_official_keys_a_readable_report_and_each_prediction(tmp_path: Path):
    from app.cli import main

    dataset = squad_file(tmp_path / "dev.json", articles=1, impossible=True)
    assert main(["eval", "reader", str(dataset), "--out", str(tmp_path / "out")]) == 0
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert {"exact", "f1", "total", "HasAns_exact", "HasAns_f1", "NoAns_exact", "NoAns_f1"} <= set(report) and report["total"] == 12
    assert report["latency"]["n"] == 12 and report["tradeoff"]
    assert "| HasAns_f1 |" in (tmp_path / "out" / "report.md").read_text()
    assert len((tmp_path / "out" / "predictions.jsonl").read_text().splitlines()) == 12


def test_the_card_says_how_to_reproduce_the_reader(tmp_path: Path):
    from rag.answering.reader.export import write_card

    manifest = {"sha256": "0" * 64, "max_length": 384, "stride": 128, "threshold": 0.5, "calibration": [0.2, -1.0]}
    train = {"examples": {"answerable": 10}, "windows": 12, "steps": 9, "max_steps": 9, "seconds": 60, "device": "cpu"}
    default = write_card(tmp_path, train, {"size_mb": 1.0}, manifest).read_text()
    assert "- `rag train-reader --export models/reader --calibrate" in default
    staged = write_card(tmp_path, {**train, "reproduce": ["stage one: `A`", "stage two: `B`"]}, {"size_mb": 1.0}, manifest).read_text()
    assert "- stage one: `A`\n- stage two: `B`\n" in staged and "--export models/reader --calibrate" not in staged


def test_a_finished_run_is_not_trained_again(tmp_path: Path):
    from rag.answering.reader.train import train_reader

    base = tiny_qa_reader(tmp_path / "base", MINILM)
    first = train_reader(str(base), train_options(tmp_path, max_steps=2), tmp_path / "work")
    stored = json.loads((tmp_path / "work" / "train.json").read_text())
    (tmp_path / "work" / "train.json").write_text(json.dumps({**stored, "schedule": "by hand, for the card"}))
    steps: list[int] = []
    again = train_reader(str(base), train_options(tmp_path, max_steps=2), tmp_path / "work", on_step=lambda done, total: steps.append(done))
    assert first.steps == again.steps == 2 and steps == [] and again.losses == first.losses
    longer = train_reader(str(base), train_options(tmp_path, max_steps=3), tmp_path / "work", on_step=lambda done, total: steps.append(done))
    assert longer.steps == 3 and steps  # a longer schedule trains (afresh: the finished run left no checkpoint)
