"""The faithfulness judges on crafted sentences with known verdicts."""

from pathlib import Path

import pytest
from tiny_models import tiny_cross_encoder

from eval.judges import LexicalJudge, NliJudge, load_judge
from rag.config import JudgeSettings
from rag.models import model_path

MINILM = Path(model_path("all-MiniLM-L6-v2"))

PASSAGE = "The Eiffel Tower was completed in 1889 for the World's Fair in Paris. It is 330 metres tall."

SUPPORTED = [
    "The Eiffel Tower was completed in 1889.",  # verbatim
    "The tower in Paris is 330 metres tall [1].",  # reordered, with a citation marker
    "Completion of the Eiffel Tower came in 1889.",  # other word forms, one new word
]
UNSUPPORTED = [
    "The Eiffel Tower is in Rome.",  # an invented place
    "The Eiffel Tower was completed in 1899.",  # a wrong number, all words present
    "The Eiffel Tower is 500 metres tall.",
    "Bananas are rich in potassium.",  # off topic
]


@pytest.mark.parametrize("claim", SUPPORTED)
def test_lexical_judge_accepts_what_the_passage_says(claim: str):
    assert LexicalJudge().supports(claim, PASSAGE)


@pytest.mark.parametrize("claim", UNSUPPORTED)
def test_lexical_judge_rejects_what_the_passage_does_not_say(claim: str):
    assert not LexicalJudge().supports(claim, PASSAGE)


def test_lexical_coverage_is_the_share_of_content_words_found():
    judge = LexicalJudge()
    assert judge.coverage("Eiffel Tower in Rome", PASSAGE) == pytest.approx(2 / 3)
    assert judge.coverage("the of and", PASSAGE) == 1.0  # no content words: nothing to contradict
    assert LexicalJudge(min_coverage=0.6).supports("Eiffel Tower in Rome", PASSAGE)


def test_nli_judge_reads_entailment_from_the_models_labels(tmp_path: Path):
    folder = tiny_cross_encoder(tmp_path / "nli", MINILM, {0: "contradiction", 1: "entailment", 2: "neutral"})
    judge = load_judge(JudgeSettings(nli_model=str(folder), nli_threshold=0.2))
    assert isinstance(judge, NliJudge) and "entailment p >= 0.2" in judge.name
    p = judge.entailment("The Eiffel Tower is in Paris.", PASSAGE)
    assert 0.0 < p < 1.0  # a probability from a random model: the plumbing, not the verdict
    assert judge.supports("The Eiffel Tower is in Paris.", PASSAGE) == (p >= 0.2)


def test_a_model_without_an_entailment_label_is_refused(tmp_path: Path):
    folder = tiny_cross_encoder(tmp_path / "sentiment", MINILM, {0: "negative", 1: "positive"})
    with pytest.raises(ValueError, match="not an NLI model"):
        load_judge(JudgeSettings(nli_model=str(folder)))


def test_the_default_judge_is_lexical():
    assert isinstance(load_judge(JudgeSettings()), LexicalJudge)
