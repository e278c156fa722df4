"""Tiny randomly initialised models the tests build themselves, to exercise the real loading
and inference code of backends whose real weights are not on this machine."""

from __future__ import annotations

from pathlib import Path

CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "Sources are numbered and every answer cites them.",
    "Question: what is the answer? Answer: it is in the sources [1].",
] * 20


# The words of the synthetic survey collections that the tiny embedder is tuned on (rag/tune tests).
ANIMALS = ["otter", "heron", "badger", "lynx", "marten", "ibex", "puffin", "stoat", "vole", "egret", "bison", "gecko"]
PLACES = ["Lisbon", "Tromso", "Cusco", "Nairobi", "Perth", "Quebec", "Osaka", "Tbilisi", "Bergen", "Recife"]

CHAT_TEMPLATE = "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}"


def tiny_llama(folder: Path, chat_template: str | None = None) -> Path:
    """A 2-layer LlamaForCausalLM with a byte-level BPE tokenizer, saved as a Hugging Face folder;
    with `chat_template`, the tokenizer carries it (an instruction-tuned model's layout)."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=["<unk>", "<s>", "</s>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(CORPUS, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>")
    fast.chat_template = chat_template
    fast.save_pretrained(folder)
    config = LlamaConfig(
        vocab_size=len(fast),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        bos_token_id=fast.bos_token_id,
        eos_token_id=fast.eos_token_id,
    )
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(folder)
    return folder


def tiny_cross_encoder(folder: Path, vocab_from: Path, labels: dict[int, str] | None = None) -> Path:
    """A 1-layer BERT sequence classifier with MiniLM's WordPiece vocabulary: one relevance
    logit, or one logit per label of `labels` (an NLI model's, say)."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    tokenizer = AutoTokenizer.from_pretrained(str(vocab_from))
    tokenizer.save_pretrained(folder)
    names = {"id2label": labels, "label2id": {v: k for k, v in labels.items()}} if labels else {}
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
        num_labels=len(labels) if labels else 1,
        **names,
    )
    torch.manual_seed(0)
    BertForSequenceClassification(config).save_pretrained(folder)
    return folder


def tiny_embedder(folder: Path) -> Path:
    """A 1-layer random BERT with MiniLM's vocabulary and mean pooling, as a sentence-transformers folder."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    from transformers import AutoTokenizer, BertConfig, BertModel

    from rag.models import model_path

    tokenizer = AutoTokenizer.from_pretrained(model_path("all-MiniLM-L6-v2"))
    bert = folder / "bert"
    tokenizer.save_pretrained(bert)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64)
    BertModel(config).save_pretrained(bert)
    word = Transformer(str(bert), max_seq_length=64)
    SentenceTransformer(modules=[word, Pooling(word.get_embedding_dimension(), "mean")]).save(str(folder / "st"))
    return folder / "st"


def tiny_qa_reader(folder: Path, vocab_from: Path) -> Path:
    """A 1-layer random BERT with a start/end span head and MiniLM's WordPiece vocabulary: the
    shape of the extractive reader, small enough to train in a test."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForQuestionAnswering

    tokenizer = AutoTokenizer.from_pretrained(str(vocab_from))
    tokenizer.save_pretrained(folder)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64, max_position_embeddings=512
    )
    torch.manual_seed(0)
    BertForQuestionAnswering(config).save_pretrained(folder)
    return folder
