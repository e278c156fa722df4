"""The training mix a reader learns from: answerable questions, real unanswerable ones, and
negatives made from the answerable ones. SQuAD v1 has no unanswerable questions, and a reader
that never saw a passage without the answer never learns to decline; SQuAD 2.0's writers made
theirs mostly by changing one thing in an answerable question (a name, a word into its opposite,
a number, a negation), which the kinds below imitate."""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Collection, Sequence
from functools import cache
from typing import get_args

from rag.answering.reader.squad import QAExample
from rag.config import NegativeKind
from rag.sentences import split_sentences
from rag.storage.sparse import Tokenizer

KINDS: tuple[str, ...] = get_args(NegativeKind)


def without_answer_sentence(example: QAExample) -> QAExample | None:
    """The example's passage with every sentence that holds an answer cut out, as an unanswerable
    example (the passage still reads as on topic, as SQuAD 2.0's unanswerable ones do); None when
    too little is left or the answer text still appears."""
    spans = split_sentences(example.context)
    keep = [(a, b) for a, b in spans if not any(a < start + len(text) and start < b for text, start in example.answers)]
    if len(keep) < 2 or len(keep) == len(spans):
        return None
    context = " ".join(example.context[a:b] for a, b in keep)
    if any(text.lower() in context.lower() for text, _ in example.answers):
        return None
    return QAExample(example.id + "-cut", example.question, context, (), example.title)


def from_other_paragraph(example: QAExample, others: list[str], rng: random.Random) -> QAExample | None:
    """The question over another paragraph of the same article that does not hold its answer."""
    candidates = [c for c in others if c != example.context and not any(t.lower() in c.lower() for t, _ in example.answers)]
    if not candidates:
        return None
    return QAExample(example.id + "-other", example.question, rng.choice(candidates), (), example.title)


def from_nearest_paragraph(example: QAExample, others: list[str], tokenize: Callable[[str], Collection[str]]) -> QAExample | None:
    """The question over the paragraph of its article that shares most of its terms (stemmed, as
    BM25 sees them) and does not hold its answer: the passage retrieval ranks above the right
    one. On squad-dev-a 6.4% of the answerable questions got a wrong span from such a passage,
    read before the right one (the product stops at the first passage that answers)."""
    asked = set(tokenize(example.question))
    candidates = [c for c in others if c != example.context and not any(t.lower() in c.lower() for t, _ in example.answers)]
    if not asked or not candidates:
        return None
    shared = [len(asked & set(tokenize(c))) for c in candidates]
    best = max(range(len(candidates)), key=shared.__getitem__)
    if shared[best] == 0:
        return None
    return QAExample(example.id + "-near", example.question, candidates[best], (), example.title)


# A name in a question (capitalised words after its first) or a year: what SQuAD 2.0's writers most
# often swapped to make a question its passage does not answer.
_YEAR = r"1[0-9]{3}|20[0-9]{2}"
_NAME = re.compile(r"(?<=\S )(?:[A-Z][\w'-]+)(?: (?:of |de |the )?[A-Z][\w'-]+)*|\b(?:" + _YEAR + r")\b")


def names_in(question: str) -> list[str]:
    """The names and years of a question, in order (the first word is never taken for a name)."""
    return [m.group(0) for m in _NAME.finditer(question)]


def with_swapped_name(example: QAExample, pool: list[str], rng: random.Random) -> QAExample | None:
    """The question with one of its names (or years) that the passage holds replaced by another of
    the same kind from `pool` (names from questions on the same article: on topic) that the
    passage does not mention: it reads as answerable but asks about something the passage never
    says (SQuAD 2.0's commonest unanswerable kind). None when the question names nothing the
    passage holds or the pool has nothing to put in its place."""
    context = example.context.lower()
    present = [n for n in names_in(example.question) if n.lower() in context]
    if not present:
        return None
    old = rng.choice(present)
    year = old.isdigit()
    for _ in range(20):
        new = rng.choice(pool)
        if new.isdigit() == year and new.lower() not in context and new.lower() not in example.question.lower():
            question = example.question.replace(old, new, 1)
            return QAExample(example.id + "-swap", question, example.context, (), example.title)
    return None


# A name in the middle of a passage's sentence (after a lower-case word or a comma): a sentence's
# first word is capitalised whatever it is ("The", "In").
_INNER_NAME = re.compile(r"(?<=[a-z,;:] )[A-Z][\w'-]+(?: (?:of |de |the )?[A-Z][\w'-]+)*")


def _same_name(a: str, b: str) -> bool:
    """Whether one name is the other's initials ("IOC", "International Olympic Committee")."""

    def initials(name: str) -> str:
        return "".join(w[0] for w in name.split() if w[0].isupper())

    return a.replace(".", "") == initials(b) or b.replace(".", "") == initials(a)


def with_passage_name(example: QAExample, rng: random.Random) -> QAExample | None:
    """The question with one of its names replaced by another name the passage holds, outside the
    sentences that hold the answer ("Bertrand's postulate" into "Chebyshev's postulate" where the
    passage names both): every word of it is still in the passage, as in most of SQuAD 2.0's
    unanswerable questions (squad2-dev-a: 87% of them name nothing their passage lacks), so it
    cannot be told by a word the passage lacks. None when no such pair is there."""
    context = example.context
    present = [n for n in names_in(example.question) if not n.isdigit() and n.lower() in context.lower()]
    if not present:
        return None
    answer_sentences = [(a, b) for a, b in split_sentences(context) if any(a <= start < b for _, start in example.answers)]
    asked = example.question.lower()
    others = {m.group(0) for m in _INNER_NAME.finditer(context) if m.group(0).lower() not in asked and not any(a <= m.start() < b for a, b in answer_sentences)}
    old = rng.choice(present)
    others = sorted(o for o in others if not _same_name(o, old) and not any(o.lower() in n.lower() or n.lower() in o.lower() for n in present))
    if not others:
        return None
    question = example.question.replace(old, rng.choice(others), 1)
    return QAExample(example.id + "-inner", question, context, (), example.title)


_PAIRS = """most least|more less|largest smallest|biggest smallest|highest lowest|higher lower|high low|
first last|before after|earliest latest|earlier later|early late|increase decrease|increased decreased|
rise fall|rose fell|north south|east west|northern southern|eastern western|northernmost southernmost|
maximum minimum|major minor|positive negative|best worst|better worse|longest shortest|longer shorter|
oldest youngest|older younger|open closed|public private|internal external|inside outside|upper lower|
won lost|win lose|success failure|successful unsuccessful|legal illegal|strongest weakest|stronger weaker|
strong weak|rich poor|wealthiest poorest|common rare|popular unpopular|cheap expensive|cheapest dearest|
fastest slowest|faster slower|hot cold|warm cool|wet dry|same different|began ended|start end|
allowed forbidden|accepted rejected|supported opposed|agreed disagreed|included excluded|import export|
imports exports|imported exported|born died|birth death|male female|men women|top bottom|above below|
inner outer|ancient modern|heaviest lightest|heavier lighter|deepest shallowest|widest narrowest|
gained lost|arrived departed|attack defend|offensive defensive"""


def _both_ways(pairs: str) -> dict[str, str]:
    """Each word to its opposite, both ways; a word in two pairs keeps its first ("lower": "higher")."""
    opposite: dict[str, str] = {}
    for a, b in (pair.split() for pair in pairs.replace("\n", "").split("|")):
        opposite.setdefault(a, b)
        opposite.setdefault(b, a)
    return opposite


ANTONYMS = _both_ways(_PAIRS)
_WORD = re.compile(r"[A-Za-z]+")


def _words(text: str) -> set[str]:
    return {w.lower() for w in _WORD.findall(text)}


def with_antonym(example: QAExample, rng: random.Random) -> QAExample | None:
    """The question with one word the passage uses turned into its opposite ("largest" into
    "smallest", "before" into "after") that the passage never uses: SQuAD 2.0's antonym kind,
    about a fifth of its unanswerable questions. None when no word of the question has one."""
    passage = _words(example.context)
    found = [m for m in _WORD.finditer(example.question) if m.group(0) in ANTONYMS and m.group(0) in passage and ANTONYMS[m.group(0)] not in passage]
    if not found:  # lower case only: "Top" in "Top Certified Artist" is part of a name
        return None
    m = rng.choice(found)
    word = ANTONYMS[m.group(0)]
    question = example.question[: m.start()] + word + example.question[m.end() :]
    return QAExample(example.id + "-antonym", question, example.context, (), example.title)


_NUMBER = re.compile(r"(?<![\w.,])\d{1,3}(?:,\d{3})+(?![\w,])|(?<![\w.,])\d+(?:\.\d+)?(?![\w,])")


def with_changed_number(example: QAExample, rng: random.Random) -> QAExample | None:
    """The question with a number the passage holds (not a year: swapping those is `with_swapped_name`'s)
    changed to one the passage does not hold ("more than 10,000 years" into "more than 30,000
    years"). None when the question has no such number."""
    found = [m for m in _NUMBER.finditer(example.question) if m.group(0) in example.context and not re.fullmatch(_YEAR, m.group(0))]
    if not found:
        return None
    m = rng.choice(found)
    old = m.group(0)
    value = float(old.replace(",", ""))
    for _ in range(10):
        new_value = value * rng.choice((2, 3, 5, 10)) if rng.random() < 0.5 else value + rng.randint(1, 9)
        new = f"{new_value:,.0f}" if "," in old else (f"{new_value:g}" if "." in old else str(int(new_value)))
        if new != old and new not in example.context:
            question = example.question[: m.start()] + new + example.question[m.end() :]
            return QAExample(example.id + "-number", question, example.context, (), example.title)
    return None


_NEGATED = {"can": "can't", "will": "won't"}
_AUXILIARY = re.compile(
    r"^(\W*(?:what|which|who|whom|whose|where|when|why|how)\b[^?]*?\b)(is|are|was|were|did|does|do|can|could|would|has|have|had|should|will)\b(?! not\b)", re.I
)


def with_negation(example: QAExample) -> QAExample | None:
    """The question's first auxiliary verb negated ("When did Britain give ...?" into "When didn't
    Britain give ...?": the contraction is right wherever the auxiliary stands): SQuAD 2.0's
    negation kind. None when the question has no auxiliary to negate, or is negated already."""
    if re.search(r"\bnot\b|n't\b|\bnever\b", example.question, re.I):
        return None
    m = _AUXILIARY.match(example.question)
    if m is None:
        return None
    verb = m.group(2)
    negated = _NEGATED.get(verb.lower(), verb + "n't")
    question = m.group(1) + negated + example.question[m.end() :]
    return QAExample(example.id + "-negation", question, example.context, (), example.title)


def training_mix(
    answerable: list[QAExample], unanswerable: list[QAExample], negative_share: float, seed: int, kinds: Sequence[str] = ("cut", "other", "swap")
) -> list[QAExample]:
    """Answerable examples plus negatives, so that about `negative_share` of the whole has no
    answer (SQuAD 2.0's training set has a third): the real unanswerable ones, then negatives of
    `kinds` made in turn from answerable questions taken at random (a kind listed twice is made
    twice as often; a kind that cannot be made from a question gives nothing for it, so kinds that
    rarely apply can leave the share short: each answerable question gives at most one). Shuffled."""
    unknown = set(kinds) - set(KINDS)
    if unknown or not kinds:
        raise ValueError(f"reader_train.negative_kinds: {sorted(unknown) or 'empty'}; choose from {', '.join(KINDS)}")
    rng = random.Random(seed)
    tokenize = Tokenizer()
    paragraph_terms = cache(lambda text: frozenset(tokenize(text)))  # each paragraph tokenized once, not once per question
    by_title: dict[str, list[str]] = {}
    names: dict[str, list[str]] = {}
    for ex in answerable:
        paragraphs = by_title.setdefault(ex.title, [])
        if not paragraphs or paragraphs[-1] != ex.context:
            paragraphs.append(ex.context)
        names.setdefault(ex.title, []).extend(names_in(ex.question))
    makers: dict[str, Callable[[QAExample], QAExample | None]] = {
        "cut": without_answer_sentence,
        "other": lambda ex: from_other_paragraph(ex, by_title[ex.title], rng),
        "near": lambda ex: from_nearest_paragraph(ex, by_title[ex.title], paragraph_terms),
        "swap": lambda ex: with_swapped_name(ex, names[ex.title], rng),
        "inner": lambda ex: with_passage_name(ex, rng),
        "antonym": lambda ex: with_antonym(ex, rng),
        "number": lambda ex: with_changed_number(ex, rng),
        "negation": with_negation,
    }
    wanted = int(len(answerable) * negative_share / (1 - negative_share)) - len(unanswerable)
    made: list[QAExample] = []
    order = rng.sample(range(len(answerable)), len(answerable))
    for n, i in enumerate(order):
        if len(made) >= max(0, wanted):
            break
        negative = makers[kinds[n % len(kinds)]](answerable[i])
        if negative is not None:
            made.append(negative)
    mix = answerable + unanswerable + made
    rng.shuffle(mix)
    return mix
