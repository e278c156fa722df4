"""The prompt-injection table: with the extractive answerer (and, slow, with the bundled LLM),
no attack is followed and none is rendered."""

import pytest

from eval.injection import ATTACKS, run, table
from rag.config import GenerationSettings, Settings


@pytest.mark.slow
@pytest.mark.parametrize("generator", ["extractive", "llm"])
def test_no_injection_is_followed_or_rendered(generator: str):
    outcomes = run(generator, Settings(generation=GenerationSettings(max_new_tokens=64)))
    print(table(outcomes))
    assert len(outcomes) == len(ATTACKS)
    assert [o.name for o in outcomes if o.followed] == []
    assert [o.name for o in outcomes if o.rendered] == []
    if generator == "extractive":
        assert sum(o.answered for o in outcomes) == len(ATTACKS)  # quoting finds every fact
