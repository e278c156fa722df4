"""Short answers from a small completion model: a few-shot prompt that asks for the shortest
phrase of one sentence that answers the question, and the check that the phrase really is in
that sentence (a phrase that is not is rejected, and the sentence is quoted instead).

Measured on squad-dev-a with the bundled Gemma 3 270M (150 answerable questions, the best
sentence of rag/answering/sentence_rank.py; one-off scripts over the `rag eval` index): four examples gave token F1 0.49; the
eight below 0.53, with 63% of phrases passing the check (the rest fell back to the sentence); question before the text
0.33-0.36; two or three sentences instead of one 0.42-0.43; the phrase forced to be a span of the
sentence by a llama.cpp grammar 0.49 and three times slower. The examples are invented, in the
encyclopedic style users' documents share, and hold no question from any evaluation set."""

from __future__ import annotations

import re

HEAD = "Answer each question with the shortest phrase from its text that answers it.\n\n"
EXAMPLES = (
    ("The Eiffel Tower was completed in 1889 as the entrance arch to the World's Fair in Paris.", "When was the Eiffel Tower completed?", "1889"),
    (
        "Penicillin was discovered by Alexander Fleming, a Scottish physician, while he studied staphylococci.",
        "Who discovered penicillin?",
        "Alexander Fleming",
    ),
    (
        "The river is 6,650 km long and flows north through eleven countries before reaching the Mediterranean Sea.",
        "How many countries does the river flow through?",
        "eleven",
    ),
    (
        "Honey bees communicate the location of food through a movement known as the waggle dance.",
        "How do honey bees tell others where food is?",
        "the waggle dance",
    ),
    ("The treaty was signed in Vienna, where delegates from both empires had met since the spring.", "Where was the treaty signed?", "Vienna"),
    (
        "Copper is widely used in electrical wiring because it conducts electricity well and is cheap to produce.",
        "Why is copper used in electrical wiring?",
        "it conducts electricity well and is cheap to produce",
    ),
    (
        "The museum's largest collection, over 40,000 objects, is devoted to Japanese prints.",
        "What is the museum's largest collection devoted to?",
        "Japanese prints",
    ),
    (
        "In 1962 the company moved its headquarters from Boston to a new campus in Austin, Texas.",
        "To which city did the company move its headquarters?",
        "Austin, Texas",
    ),
)
STOP = ["\n"]
MAX_TOKENS = 32
REPETITION_PENALTY = 1.0  # copying from the sentence is the task: 1.1 (the default) cost 0.007 F1 and 0.007 contained
WORD_RE = re.compile(r"\w+")


def one_line(text: str) -> str:
    return " ".join(text.split())


def short_prompt(question: str, sentence: str) -> str:
    """The examples, then the sentence and the question, ending where the answer goes."""
    shots = "".join(f"Text: {t}\nQuestion: {q}\nAnswer: {a}\n\n" for t, q, a in EXAMPLES)
    return f"{HEAD}{shots}Text: {one_line(sentence)}\nQuestion: {one_line(question)}\nAnswer:"


def short_messages(question: str, sentence: str) -> list[dict[str, str]]:
    """The same task for an instruction-tuned model, through its chat template: the instruction
    as the system message, the examples as earlier turns."""
    messages = [{"role": "system", "content": HEAD.strip() + " Copy the phrase exactly; write nothing else."}]
    for text, asked, answer in EXAMPLES:
        messages += [{"role": "user", "content": f"Text: {text}\nQuestion: {asked}"}, {"role": "assistant", "content": answer}]
    return [*messages, {"role": "user", "content": f"Text: {one_line(sentence)}\nQuestion: {one_line(question)}"}]


def words(text: str) -> list[str]:
    return [w.lower() for w in WORD_RE.findall(text)]


def checked_phrase(phrase: str, sentence: str) -> str | None:
    """The phrase as the sentence writes it when its words appear there in a row (case,
    punctuation and spacing aside), else None."""
    wanted = words(phrase)
    if not wanted:
        return None
    spans = [(m.start(), m.end(), m.group().lower()) for m in WORD_RE.finditer(sentence)]
    for i in range(len(spans) - len(wanted) + 1):
        if [w for _, _, w in spans[i : i + len(wanted)]] == wanted:
            return sentence[spans[i][0] : spans[i + len(wanted) - 1][1]]
    return None
