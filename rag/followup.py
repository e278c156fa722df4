"""Follow-up questions made standalone before retrieval. "And what is its embedding dimension?"
means nothing to a search engine; with the previous turn's key terms carried over it does.

The rewrite is deterministic (no LLM needed, so it works with the bundled base model): a question
that refers back (a pronoun such as "its", a lead such as "and" or "what about", or at most one
term of its own) gets the rarest words of the previous standalone question (by the collection's
BM25 IDF) and the previous answer when it is a short phrase, in brackets. A question that stands
alone is left as it is, so a change of topic is not dragged back."""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag.answer import Exchange
from rag.citations import CITE_RE
from rag.sparse import SparseIndex

REFERRING = frozenset("it its it's itself they them their theirs themselves this that these those he him his she her hers there".split())
# The words of asking, which BM25's stopword list keeps ("does" is rare in documents, so it
# would otherwise count as a key word of the question).
QUESTION_WORDS = frozenset("what which who whom whose when where why how do does did doing done is are was were be can could".split())
LEADS = ("and ", "but ", "also ", "so ", "what about ", "how about ", "and?", "what else")
WORD_RE = re.compile(r"[\w'-]+")
CARRIED_WORDS = 3  # rarest words of the previous question carried over
SHORT_ANSWER_WORDS = 6  # a previous answer this short is carried whole (a name, a date, a term)


def refers_back(question: str, sparse: SparseIndex) -> bool:
    """True for a question that leans on the previous turn to be understood."""
    lowered = question.lower().strip()
    words = {w.strip("'") for w in WORD_RE.findall(lowered)}
    own_terms = [t for w in words - QUESTION_WORDS for t in sparse.tokenizer(w)]
    return bool(words & REFERRING) or lowered.startswith(LEADS) or len(own_terms) <= 1


def key_words(text: str, sparse: SparseIndex, count: int) -> list[str]:
    """The `count` words of `text` with the rarest BM25 terms, in their order in `text`; a word
    such as "all-MiniLM-L6-v2" is kept whole and weighs as its rarest term."""
    scored = []
    for i, word in enumerate(dict.fromkeys(WORD_RE.findall(text))):
        terms = sparse.tokenizer(word) if word.lower() not in QUESTION_WORDS else []
        if terms:
            scored.append((float(sparse.idf(terms).max()), i, word))
    top = sorted(scored, reverse=True)[:count]
    return [word for _, _, word in sorted(top, key=lambda s: s[1])]


def standalone(question: str, history: Sequence[Exchange], sparse: SparseIndex) -> str:
    """`question` with the previous turn's key words carried over when it refers back;
    otherwise `question` unchanged."""
    if not history or not refers_back(question, sparse):
        return question
    previous = history[-1]
    carried = key_words(previous.searched or previous.question, sparse, CARRIED_WORDS)
    answer = " ".join(CITE_RE.sub(" ", previous.answer).split())
    if answer and len(answer.split()) <= SHORT_ANSWER_WORDS:
        carried.append(answer)
    own = set(sparse.tokenizer(question))
    carried = [w for w in carried if not set(sparse.tokenizer(w)) <= own]
    return f"{question.strip()} ({' '.join(carried)})" if carried else question
