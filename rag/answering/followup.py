"""Follow-up questions made standalone before retrieval. "And what is its embedding dimension?"
means nothing to a search engine; resolved against the previous turn it does.

An instruction-tuned LLM (one with a chat template) rewrites the question itself, from the
conversation (`rewrite_messages`); its rewrite is kept only when it is one question that keeps the
follow-up's own terms (`checked_rewrite`). Otherwise the rewrite is deterministic (no LLM
needed, so it works with the bundled base model), against the previous standalone question, its
frame: a shift of focus ("and what about trixie?" after "When was Debian bookworm released?")
puts the new focus in place of the frame's word of the same kind with the rarest BM25 term
("When was Debian trixie released?"); a pronoun ("when was it released?") is replaced by the
frame's subject, its run of names, numbers and rarest word ("Ubuntu 22.04"), or, for he/she
after a "who" question, by its short answer; "they", "them" and a lone "those" by the frame's
plural (what "what are ...?", "which ...s" or "how are ...?" asks about, a list, or the subject
with its plural noun: "University of Chicago students"), "those files" by the frame's list of
files. The frame's rarest words the rewrite still lacks follow in brackets (the same topic: they
may be the frame's students, not its university); any other question that refers back ("such a
job", at most one term of its own) gets those bracketed words alone. On squad-dev-a's 40
follow-ups these rules took the resolved share from 0.80 to 0.975, on the samples' 18 from 0.83
to 0.94. The previous answer is never appended: appended, "2023-06-10" pulled the search for
trixie back to bookworm's row. A question that stands alone is left as it is, so a change of
topic is not dragged back."""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag.answering.answer import Exchange
from rag.answering.citations import CITE_RE
from rag.config import GenerationSettings
from rag.storage.sparse import SparseIndex

REFERRING = frozenset("it its it's itself they them their theirs themselves this that these those such he him his she her hers there".split())
# The words of asking, which BM25's stopword list keeps ("does" is rare in documents, so it
# would otherwise count as a key word of the question).
QUESTION_WORDS = frozenset("what which who whom whose when where why how do does did doing done is are was were be can could has have had".split())
LEADS = ("and ", "but ", "also ", "so ", "what about ", "how about ", "and?", "what else")
WORD_RE = re.compile(r"\d+(?:\.\d+)+|[\w'-]+")  # "22.04" one word, as BM25 makes it one term (bm25.whole_numbers)
TOKEN_SPAN_RE = re.compile(r"\w[\w'.-]*\w|\w")  # a word, with "22.04", "all-MiniLM-L6-v2" and "Etna's" whole
FOCUS_RE = re.compile(r"^\s*(?:(?:and|but|so|also)\s+)?(?:(?:what|how)\s+about|for)\s+(?P<focus>.+?)[\s?.!]*$", re.I)
BARE_FOCUS_RE = re.compile(r"^\s*(?:and|but|also)\s+(?P<focus>[^\s?!]+(?:\s+[^\s?!]+)?)[\s?.!]*$", re.I)  # "And trixie?"
PLURAL = frozenset("they them their those these".split())
COORDINATED_RE = re.compile(r"\S+ and \S+[?.!]*\s*$")  # "/etc/passwd and /etc/group?" ending a question
COPULA_RE = re.compile(r"^\s*(?:what|who|which)\s+(?:is|are|was|were)\s+(?P<what>.+?)[\s?.!]*$", re.I)
PLURAL_NOUN = r"[a-z]*[a-hj-rtv-z]s"  # "sculptures", "students"; not "famous", "class", "this"
ASKED_PLURAL_RE = re.compile(rf"^\s*(?i:which|what)\s+(?P<what>{PLURAL_NOUN})\b(?!')")  # "Which sculptures by Rodin ...?": sculptures
DOING_PLURAL_RE = re.compile(
    rf"^\s*(?i:how|why|where|when)\s+(?i:are|were|do|did)\s+(?P<what>(?:[\w'-]+\s+){{0,3}}?{PLURAL_NOUN})\b(?!')"
)  # "How are prime numbers used ...?"
# "those" or "these" standing for a thing (not before its noun, as in "those files"): before a
# verb form, a relative word or a preposition ("those used for RSA", "those of the king")
DEMONSTRATIVE_RE = re.compile(r"\b(?:those|these)\b(?=\s+(?:\w+ed|that|which|who|of|in|with|for|from|on|at|by)\b|[\s?.!]*$)", re.I)
PRONOUN_RE = re.compile(rf"\b(?:it|its|they|them|their|he|him|his|she|her)\b|{DEMONSTRATIVE_RE.pattern}", re.I)
LIST_RE = re.compile(rf"(?:[\w/.'-]+,\s+)+[\w/.'-]+,?\s+and\s+[\w/.'-]+(?:\s+(?P<noun>{PLURAL_NOUN}))?")  # "globs, magic and aliases files"
THOSE_NOUN_RE = re.compile(rf"\b(?:those|these)\s+(?P<noun>{PLURAL_NOUN})\b", re.I)  # "those files"
NEXT_PLURAL_RE = re.compile(rf"\s+(?P<noun>{PLURAL_NOUN})\b(?!')")  # the common noun after a name: "University of Chicago students"
PERSONAL, POSSESSIVE = frozenset("he him his she her".split()), frozenset("its their his".split())
NAME_JOINERS = frozenset(["", "of", "of the", "de", "du", "la", "von", "van", "der"])  # inside one name: "University of Chicago"
LEAD_RE = re.compile(r"^(?:and|but|so|also)\s+", re.I)
CARRIED_RE = re.compile(r"\s*\([^()]*\)\s*$")  # the bracketed words an earlier rewrite carried over
CARRIED_WORDS = 3  # rarest words of the previous question carried over
SHORT_ANSWER_WORDS = 6  # a previous answer this short is carried whole (a name, a date, a term)


def refers_back(question: str, sparse: SparseIndex) -> bool:
    """True for a question that leans on the previous turn to be understood."""
    lowered = question.lower().strip()
    words = {w.strip("'") for w in WORD_RE.findall(lowered)}
    own_terms = [t for w in words - QUESTION_WORDS for t in sparse.tokenizer(w)]
    return bool(words & REFERRING) or lowered.startswith(LEADS) or len(own_terms) <= 1


def key_words(text: str, sparse: SparseIndex, count: int, skip: frozenset[str] = frozenset()) -> list[str]:
    """The `count` words of `text` with the rarest BM25 terms, in their order in `text`, leaving
    out words whose terms are all in `skip`; a word such as "all-MiniLM-L6-v2" is kept whole and
    weighs as its rarest term."""
    scored = []
    for i, word in enumerate(dict.fromkeys(WORD_RE.findall(text))):
        terms = sparse.tokenizer(word) if word.lower() not in QUESTION_WORDS | REFERRING else []
        if terms and not set(terms) <= skip:
            scored.append((float(sparse.idf(terms).max()), i, word))
    top = sorted(scored, reverse=True)[:count]
    return [word for _, _, word in sorted(top, key=lambda s: s[1])]


def _rarity(word: str, sparse: SparseIndex) -> float:
    terms = sparse.tokenizer(word) if word.lower() not in QUESTION_WORDS else []
    return float(sparse.idf(terms).max()) if terms else 0.0


def _name_like(word: str) -> bool:
    """A name, a number or a hyphenated term: what a subject is made of."""
    return word[0].isupper() or any(c.isdigit() for c in word) or "-" in word


def _content(frame: str, sparse: SparseIndex) -> list[tuple[re.Match, float]]:
    """The frame's words that carry meaning (not question words or stopwords), with their rarity."""
    return [(m, r) for m in TOKEN_SPAN_RE.finditer(frame) if (r := _rarity(m.group(), sparse)) > 0]


def shift_focus(question: str, frame: str, sparse: SparseIndex) -> str | None:
    """ "and what about X?" ("and for X?", "and X?") as the frame with X in place of its rarest
    word of X's kind (a number for a number, a word for a word); None when the question is not
    such a shift."""
    match = FOCUS_RE.match(question) or BARE_FOCUS_RE.match(question)
    focus = match.group("focus").strip() if match else ""
    if not focus or focus.split()[0].lower() in QUESTION_WORDS | REFERRING:
        return None
    numeric = any(c.isdigit() for c in focus)
    same_kind = [(m, r) for m, r in _content(frame, sparse) if any(c.isdigit() for c in m.group()) == numeric]
    unseen = float(sparse.idf(["\x00"])[0])  # the weight of a term the collection never saw
    seen = [(m, r) for m, r in same_kind if r < unseen]  # the focus replaced is one the collection holds
    same_kind = seen or same_kind
    if not same_kind:
        return None
    target, _ = max(same_kind, key=lambda mr: (mr[1], mr[0].start()))
    return frame[: target.start()] + focus + frame[target.end() :]


def subject_of(frame: str, sparse: SparseIndex) -> str | None:
    """What the frame asks about: a run of adjacent names, numbers, hyphenated terms and its
    rarest word, one holding a name first, then the rarest in all ("Ubuntu 22.04" in "What is
    the codename of Ubuntu 22.04?"); a possessive ends a run ("Etna" in "Etna's lava flows")."""
    content = _content(frame, sparse)
    if not content:
        return None
    rarest = max(content, key=lambda mr: mr[1])[0]
    runs: list[list[tuple[re.Match, float]]] = []
    for m, r in content:
        word = m.group()
        key = m is rarest or _name_like(word)
        if not key or (m.start() == 0 and word.lower() in QUESTION_WORDS):
            continue
        gap = frame[runs[-1][-1][0].end() : m.start()].strip().lower() if runs else None
        if runs and gap in NAME_JOINERS and (not gap or _name_like(word)) and not runs[-1][-1][0].group().endswith("'s"):
            runs[-1].append((m, r))
        else:
            runs.append([(m, r)])
    if not runs:
        return None
    best = max(runs, key=lambda run: (any(_name_like(m.group()) for m, _ in run), sum(r for _, r in run)))
    text = frame[best[0][0].start() : best[-1][0].end()]
    return text[:-2] if text.endswith("'s") else text


def plural_of(frame: str, subject: str | None) -> str | None:
    """What "they", "them" or "those" refers to in the frame: the thing a "what are ...?"
    question asks about ("static system users in Debian"), a list ("/etc/passwd and /etc/group"
    ending "How does Debian manage /etc/passwd and /etc/group?"; "globs, magic and aliases
    files"), the plural a "which ...?" question asks for ("sculptures") or a "how are ...?" one
    is about ("prime numbers" in "How are prime numbers used ...?"), or the subject with the
    plural noun after it ("University of Chicago students"); None otherwise (the subject serves)."""
    copula = COPULA_RE.match(frame)
    if copula:
        return copula.group("what")
    listed = COORDINATED_RE.search(frame) or LIST_RE.search(frame)
    if listed:
        return listed.group(0).rstrip("?.! ")
    asked = ASKED_PLURAL_RE.match(frame) or DOING_PLURAL_RE.match(frame)
    if asked:
        return asked.group("what")
    at = frame.find(subject) if subject else -1
    after = NEXT_PLURAL_RE.match(frame, at + len(subject)) if subject and at >= 0 else None
    return f"{subject} {after.group('noun')}" if after else None


def resolve_pronouns(question: str, frame: str, answer: str, sparse: SparseIndex) -> str | None:
    """The question with its pronouns replaced by what they refer to in the frame (it: the
    subject; they/them/those: `plural_of`; he/she after a "who" question: its short answer) and
    "those files" by the frame's list of files; None when nothing was replaced."""
    listed, asked = LIST_RE.search(frame), question
    if listed and listed.group("noun"):
        question = THOSE_NOUN_RE.sub(lambda m: f"the {listed.group(0)}" if m.group("noun").lower() == listed.group("noun") else m.group(0), question)
    if not PRONOUN_RE.search(question):
        return question if question != asked else None
    subject = subject_of(frame, sparse)
    plural = plural_of(frame, subject)
    person = " ".join(CITE_RE.sub(" ", answer).split()) if frame.lower().startswith("who") else ""
    if len(person.split()) > SHORT_ANSWER_WORDS:
        person = ""

    def referent(m: re.Match) -> str:
        word = m.group().lower()
        name = (person or subject) if word in PERSONAL else (plural or subject) if word in PLURAL else subject
        return f"{name}'s" if word in POSSESSIVE else name

    if subject is None and not person:
        return None
    resolved = LEAD_RE.sub("", PRONOUN_RE.sub(referent, question).strip())
    return resolved[:1].upper() + resolved[1:]


def standalone(question: str, history: Sequence[Exchange], sparse: SparseIndex) -> str:
    """`question` resolved against the previous standalone question when it refers back (a
    shift of focus, a pronoun, or the frame's rarest words carried over); otherwise unchanged."""
    if not history or not refers_back(question, sparse):
        return question
    previous = history[-1]
    asked = previous.searched or standalone(previous.question, history[:-1], sparse)  # a history sent without them (the OpenAI route) is resolved turn by turn
    frame = CARRIED_RE.sub("", asked).strip()
    shifted = shift_focus(question, frame, sparse)
    if shifted:
        return shifted  # a new focus: the old one's words would pull the search back to it
    resolved = resolve_pronouns(question, frame, previous.answer, sparse) or question.strip()
    carried = key_words(frame, sparse, CARRIED_WORDS, skip=frozenset(sparse.tokenizer(resolved)))  # the rarest words it lacks
    return f"{resolved} ({' '.join(carried)})" if carried else resolved


REWRITE_HEAD = "Rewrite the follow-up as a question that can be understood without the conversation: name what it refers to, keep what it asks, and write only the question."
REWRITE_EXAMPLES = (  # invented, in the style of the answer examples (rag/answering/generate/short.py); no evaluation question
    (
        [Exchange("Who designed the Brooklyn Bridge?", "John A. Roebling [1]")],
        "When did he die?",
        "When did John A. Roebling, who designed the Brooklyn Bridge, die?",
    ),
    (
        [Exchange("What does the enzyme lactase break down?", "lactose [2]")],
        "And where is it made?",
        "Where is the enzyme lactase made?",
    ),
    (
        [Exchange("Which river flows through Vienna?", "the Danube [1]")],
        "How long is the Amazon?",
        "How long is the Amazon?",
    ),
)
REWRITE_TURNS = 3  # earlier exchanges shown to the LLM
REWRITE_MAX_WORDS = 60


def rewrite_settings(generation: GenerationSettings) -> GenerationSettings:
    """Decoding for the rewrite: one line, and copying the conversation's words is not penalised."""
    return generation.model_copy(update={"stop": ["\n"], "max_new_tokens": 64, "repetition_penalty": 1.0})


def conversation(history: Sequence[Exchange], question: str) -> str:
    """The last turns and the follow-up, as the text the LLM rewrites from."""
    lines = []
    for turn in history[-REWRITE_TURNS:]:
        answer = " ".join(CITE_RE.sub(" ", turn.answer).split()) or "(not in the documents)"
        lines += [f"User: {' '.join(turn.question.split())}", f"Assistant: {answer}"]
    return "\n".join([*lines, f"Follow-up: {' '.join(question.split())}"])


def rewrite_prompt(question: str, history: Sequence[Exchange]) -> str:
    """A completion prompt (base models): the instruction, the examples, then the conversation,
    ending where the standalone question goes."""
    shots = "".join(f"{conversation(h, q)}\nStandalone: {a}\n\n" for h, q, a in REWRITE_EXAMPLES)
    return f"{REWRITE_HEAD}\n\n{shots}{conversation(history, question)}\nStandalone:"


def rewrite_messages(question: str, history: Sequence[Exchange]) -> list[dict[str, str]]:
    """The same task through a chat template: the instruction as the system message, the
    examples as earlier turns."""
    messages = [{"role": "system", "content": REWRITE_HEAD}]
    for h, q, a in REWRITE_EXAMPLES:
        messages += [{"role": "user", "content": conversation(h, q)}, {"role": "assistant", "content": a}]
    return [*messages, {"role": "user", "content": conversation(history, question)}]


def checked_rewrite(reply: str, question: str, sparse: SparseIndex) -> str | None:
    """The LLM's rewrite when it is one question of sensible length that keeps the follow-up's
    own terms (a rewrite that drops them asks something else); else None."""
    lines = reply.strip().splitlines()
    text = " ".join(lines[0].split()).strip("\"'") if lines else ""
    if not text or len(text.split()) > REWRITE_MAX_WORDS:
        return None
    own = {t for w in WORD_RE.findall(question.lower()) if w not in QUESTION_WORDS for t in sparse.tokenizer(w)}
    return text if own <= set(sparse.tokenizer(text)) else None
