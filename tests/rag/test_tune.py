"""Tuning the embedder on a collection with no labels: the pair builders on hand-made passages,
and a tiny random model tuned end to end (loss falls, the held-out check decides). A killed run
resuming from its checkpoint is tests/ingest/test_tuning.py's, through `rag tune`."""

import random
from pathlib import Path

import numpy as np
import pytest
from tiny_models import ANIMALS, PLACES, tiny_embedder

from rag.config import TuneSettings
from rag.tune.pairs import Pair, Passage, build_pairs, crop_pairs, sentence_pairs, title_of, title_pairs, with_hard_negatives
from rag.tune.train import heldout_mrr, split_pairs, tune


def corpus(n: int = 60) -> list[Passage]:
    rng = random.Random(1)
    passages = []
    for i in range(n):
        animal, place = ANIMALS[i % len(ANIMALS)], PLACES[(i * 7) % len(PLACES)]
        body = (
            " ".join(f"The {animal} near {place} was counted {rng.randint(3, 900)} times in survey {i}. " for _ in range(4))
            + f"Rangers in {place} protect every {animal} of record {i}."
        )
        passages.append(Passage(i, f"doc{i}.txt", None, f"Survey {i} of the {animal} in {place}\n\n{body}", True))
    return passages


def test_titles_come_from_headings_or_a_short_first_line():
    assert title_of(Passage(1, "a.md", "Bell Rock Lighthouse", "It was lit in 1811.", False)) == ("Bell Rock Lighthouse", "It was lit in 1811.")
    assert title_of(Passage(2, "b.txt", None, "Tea leaves\n\nThey are oxidised before drying in most black teas.", True)) == (
        "Tea leaves",
        "They are oxidised before drying in most black teas.",
    )
    assert title_of(Passage(3, "b.txt", None, "Tea leaves\n\nThey are oxidised before drying.", False)) is None  # not the file's top
    long_line = " ".join(["word"] * 30) + "\n\nrest of it here and more"
    assert title_of(Passage(4, "c.txt", None, long_line, True)) is None  # prose, not a title
    assert len(title_pairs([Passage(5, "d.md", "Same heading", "one two three", False), Passage(6, "d.md", "Same heading", "four", False)])) == 1


def test_sentence_and_crop_pairs_come_from_one_passage():
    [p] = corpus(1)
    rng = random.Random(0)
    [sentence] = sentence_pairs([p], rng)
    assert sentence.query in p.text and sentence.query not in sentence.positive and sentence.kind == "sentence"
    [crop] = crop_pairs([p], rng)
    assert crop.query in " ".join(p.text.split()) and crop.positive in " ".join(p.text.split())
    with pytest.raises(ValueError, match="unknown pair kind"):
        build_pairs([p], ["title", "questions"])


def test_hard_negatives_skip_the_positive_its_file_and_near_duplicates():
    passages = [
        Passage(1, "a.txt", None, "otters fish in the river at dawn", True),
        Passage(2, "a.txt", None, "otters fish in the river at dusk", False),  # same file
        Passage(3, "b.txt", None, "otters fish in the river at dawn", True),  # a duplicate in another file
        Passage(4, "c.txt", None, "herons also fish in rivers", True),
    ]
    pair = Pair("crop", "otters fish", passages[0].text, "a.txt", 1)
    [kept] = with_hard_negatives([pair], passages, lambda q, k: [1, 2, 3, 4][:k])
    assert kept.negative == "herons also fish in rivers"
    assert with_hard_negatives([pair], passages, lambda q, k: [1, 2, 3]) == []  # none left: the pair is dropped


def test_held_out_pairs_come_from_files_training_never_sees():
    pairs = build_pairs(corpus(), ["title", "sentence"])
    train, held = split_pairs(pairs, 0.2, seed=0)
    assert held and {p.path for p in train}.isdisjoint({p.path for p in held})
    assert len(train) + len(held) == len(pairs)


@pytest.mark.slow
def test_a_tiny_model_tunes_end_to_end_and_is_kept_only_when_it_wins(tmp_path: Path):
    base = tiny_embedder(tmp_path / "base")
    passages = corpus()
    pairs = build_pairs(passages, ["title", "sentence", "crop"])
    options = TuneSettings(epochs=3, batch_size=8, learning_rate=5e-3, holdout=0.2, save_steps=10, max_seq_length=48)
    steps: list[int] = []
    result = tune(str(base), pairs, tmp_path / "tuned", options, on_step=lambda done, total: steps.append(done))
    assert result.steps == steps[-1] > 10 and sum(result.pairs.values()) + result.held_out == len(pairs)
    assert result.losses[-1][1] < result.losses[0][1]  # the loss fell
    assert result.kept and result.tuned_score > result.base_score
    assert (tmp_path / "tuned" / "model" / "modules.json").is_file() and (tmp_path / "tuned" / "tune.json").is_file()
    from sentence_transformers import SentenceTransformer

    assert SentenceTransformer(str(tmp_path / "tuned" / "model")).max_seq_length == 64  # trained at 48, saved with its own window

    frozen = tune(str(base), pairs, tmp_path / "frozen", TuneSettings(epochs=1, batch_size=8, learning_rate=0.0, holdout=0.2))
    assert not frozen.kept and frozen.tuned_score == pytest.approx(frozen.base_score)  # no gain: the base model stays
    assert not (tmp_path / "frozen" / "model").exists()


def test_heldout_mrr_ranks_the_positive_among_all_held_out_candidates():
    class Exact:  # one dimension per distinct text: a query finds only its own positive
        def encode(self, texts, **kwargs):
            import numpy as np

            vocab = {"q1": 0, "p1": 0, "q2": 1, "p2": 1, "n": 2}
            out = np.zeros((len(texts), 3))
            for i, t in enumerate(texts):
                out[i, vocab[t]] = 1.0
            return out

    pairs = [Pair("crop", "q1", "p1", "a", 1, "n"), Pair("crop", "q2", "p2", "b", 2, "n")]
    assert heldout_mrr(Exact(), pairs) == 1.0


def test_mixing_moves_the_tuned_weights_back_towards_the_base(tmp_path: Path):
    import torch
    from sentence_transformers import SentenceTransformer

    from rag.tune.train import mix_weights

    folder = tiny_embedder(tmp_path / "base")
    base, tuned = SentenceTransformer(str(folder)), SentenceTransformer(str(folder))
    with torch.no_grad():
        for p in tuned.parameters():
            p.add_(1.0)
    name, before = next((n, t.clone()) for n, t in tuned.state_dict().items() if t.is_floating_point())
    mix_weights(tuned, base, 0.25)
    assert torch.allclose(tuned.state_dict()[name], 0.75 * before + 0.25 * base.state_dict()[name])
    assert torch.allclose(tuned.state_dict()[name], base.state_dict()[name] + 0.75)  # the parameters moved, not a copy


@pytest.mark.slow
def test_lora_adapters_train_and_are_merged_into_a_plain_model(tmp_path: Path):
    from sentence_transformers import SentenceTransformer

    base = tiny_embedder(tmp_path / "base")
    pairs = build_pairs(corpus(), ["title", "sentence", "crop"])
    options = TuneSettings(epochs=3, batch_size=8, learning_rate=5e-3, holdout=0.2, save_steps=10, max_seq_length=48, lora_rank=4)
    result = tune(str(base), pairs, tmp_path / "tuned", options)
    assert result.kept and result.tuned_score > result.base_score and result.losses[-1][1] < result.losses[0][1]
    folder = tmp_path / "tuned" / "model"
    assert not list(folder.rglob("adapter_config.json"))  # merged: no adapter left to load
    tuned, plain = SentenceTransformer(str(folder)), SentenceTransformer(str(base))
    assert tuned.state_dict().keys() == plain.state_dict().keys()  # the base model's own layout
    assert not all(np.allclose(tuned.state_dict()[k], plain.state_dict()[k]) for k in plain.state_dict())


@pytest.mark.slow
def test_an_instruction_tuned_llm_is_asked_for_a_question_per_sampled_passage(tmp_path: Path, caplog):
    from tiny_models import CHAT_TEMPLATE, tiny_llama

    from rag.answering.generate.hf import HFGenerator
    from rag.config import GenerationSettings
    from rag.tune.queries import INSTRUCTION, question_pairs

    class Recording:  # the real generator, with the messages it was given kept
        def __init__(self, generator):
            self.inner, self.seen, self.chat_template = generator, [], generator.chat_template

        def stream(self, messages, settings):
            self.seen.append((messages, settings))
            yield from self.inner.stream(messages, settings)

    passages = corpus(12)
    chat = Recording(HFGenerator(tiny_llama(tmp_path / "chat", CHAT_TEMPLATE), context_tokens=1024, threads=1))
    pairs = question_pairs(passages, chat, GenerationSettings(), count=5, rng=random.Random(0))
    assert len(chat.seen) == 5 and all(m[0] == {"role": "system", "content": INSTRUCTION} for m, _ in chat.seen)
    assert all(s.temperature == 0.0 and s.max_new_tokens == 40 for _, s in chat.seen)
    assert {m[1]["content"] for m, _ in chat.seen} <= {p.text for p in passages}
    assert all(p.kind == "question" and p.positive in {q.text for q in passages} for p in pairs)

    base = Recording(HFGenerator(tiny_llama(tmp_path / "base"), context_tokens=1024, threads=1))
    assert question_pairs(passages, base, GenerationSettings(), count=5, rng=random.Random(0)) == [] and not base.seen
    assert "instruction-tuned" in caplog.text


def test_written_questions_come_first_and_count_against_the_pair_budget():
    from rag.tune.pairs import collection_pairs

    class Store:  # rag.storage.store.ChunkStore.passages' rows
        def passages(self):
            return [(p.chunk_id, p.path, p.heading, p.text, 0) for p in corpus(10)]

    def ask(passages):
        return [Pair("question", f"How often was survey {p.chunk_id} run at all?", p.text, p.path, p.chunk_id) for p in passages[:3]]

    pairs = collection_pairs(Store(), None, ["question", "title"], max_pairs=8, hard_negatives=False, questions=ask)
    assert [p.kind for p in pairs[:3]] == ["question"] * 3 and {p.kind for p in pairs[3:]} == {"title"} and len(pairs) == 8
    assert all(p.kind == "title" for p in collection_pairs(Store(), None, ["question", "title"], 8, False, questions=None))
    assert TuneSettings(pair_kinds=["question"]).max_questions == 500
