"""One settings object for the whole product: every model, path and knob, read from a TOML
file and overridden by environment variables (`RAG_EMBEDDING__BATCH_SIZE=32`)."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

CONFIG_ENV = "RAG_CONFIG"
DEFAULT_CONFIG_FILE = Path("rag.toml")
COLLECTION_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


class Section(BaseModel):
    """A settings table; an unknown key is an error naming it, never silently ignored."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def empty_is_unset(cls, value, info):
        """`key = ""` in TOML (which has no null) leaves an optional path unset."""
        field = cls.model_fields[info.field_name]
        if value == "" and "Path" in str(field.annotation) and "None" in str(field.annotation):
            return None
        return value


class EmbeddingSettings(Section):
    """The sentence-transformers bi-encoder used for chunks and queries."""

    model: str = Field("all-MiniLM-L6-v2", description="model name or folder; bundled names resolve offline")
    batch_size: int = Field(64, ge=1)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    normalize: bool = True
    precision: Literal["int8", "fp32"] = Field(
        "int8", description="ONNX weights on the CPU: int8 embeds 1.5x faster than fp32 here, vectors at cosine >= 0.98 (docs/benchmarks.md)"
    )
    backend: Literal["auto", "onnx", "torch"] = Field(
        "auto",
        validation_alias=AliasChoices("backend", "query_backend"),
        description="on the CPU: ONNX Runtime for queries and batches when it can serve the model; torch to turn it off",
    )
    threads: int = Field(
        2,
        ge=1,
        validation_alias=AliasChoices("threads", "query_threads"),
        description="ONNX Runtime threads for a query; int8 batches run this many texts at once, one thread each",
    )
    batch_tokens: int = Field(
        2048, ge=64, description="ONNX fp32 batches: chunks sorted by length, this many padded word pieces at most (int8 embeds one at a time)"
    )
    onnx_cache: Path | None = Field(None, description="where the exported ONNX graphs are kept (default ~/.cache/rag-local/onnx)")


class ChunkingSettings(Section):
    """Sentence-aware chunks, sized in the embedding model's own word pieces."""

    chunk_tokens: int = Field(200, ge=16, description="word pieces per chunk; must fit the model window")
    overlap_tokens: int = Field(40, ge=0)


class IngestSettings(Section):
    """What a folder scan picks up and the limits that protect the batch."""

    extensions: list[str] = [".pdf", ".docx", ".pptx", ".xlsx", ".csv", ".html", ".htm", ".md", ".markdown", ".txt", ".png", ".jpg", ".jpeg", ".tif", ".tiff"]
    max_file_mb: float = Field(50.0, gt=0, description="larger files are reported, not read")
    follow_symlinks: bool = False
    keep_snapshots: int = Field(2, ge=1, description="old snapshots kept for readers in flight")
    max_segments: int = Field(10, ge=1, description="past this many segments, the `merge_factor` smallest are merged into one")
    merge_factor: int = Field(10, ge=2, description="segments merged at once: each chunk is rewritten about log(N)/log(factor) times")
    merge_deleted_share: float = Field(0.2, gt=0, le=1, description="a segment with more of its chunks deleted is rewritten without them")
    max_expanded_mb: float = Field(256.0, gt=0, description="a DOCX whose zipped parts expand past this is refused (zip bombs)")
    max_pdf_pages: int = Field(5000, ge=1, description="longer PDFs are reported, not read")
    ocr: bool = Field(True, description="read scanned PDF pages and image files with Tesseract (apt: tesseract-ocr)")
    ocr_languages: str = Field("eng", description="Tesseract languages, e.g. eng+deu (each needs its tesseract-ocr-LANG package)")
    ocr_page_timeout_s: float = Field(60.0, gt=0, description="a page whose OCR runs longer is left out and logged")
    watch_debounce_s: float = Field(2.0, gt=0, description="rag watch: quiet time after the last file event before a batch is ingested")
    watch_stable_s: float = Field(1.0, gt=0, description="rag watch: a changed file must keep its size and mtime this long to be read")
    file_timeout_s: float = Field(120.0, gt=0, description="a file whose reader runs longer is reported (CLI ingests; see README)")
    read_workers: int = Field(1, ge=0, description="processes reading and chunking the next files while the embedder works; 0: in the ingest's process")
    engine: Literal["plain", "ray"] = Field("plain", description="ray: read and chunk in Ray tasks and embed in a Ray actor pool (`rag ingest --engine ray`)")
    ray_address: str = Field("", description="engine ray: the cluster to join (ray://HOST:10001 or HOST:6379); empty: start a local Ray")
    ray_files_per_task: int = Field(16, ge=1, description="engine ray: files read and chunked by one task")
    ray_embed_actors: int = Field(0, ge=0, description="engine ray: embedding actors; 0: one per GPU, or one CPU actor on a machine without")


class BM25Settings(Section):
    """Sparse retrieval: bm25s over stemmed, stopword-filtered tokens."""

    method: Literal["lucene", "robertson", "atire"] = "lucene"
    k1: float = 1.5
    b: float = 0.75
    stemmer: str | None = "english"
    stopwords: Literal["en"] | None = "en"
    whole_numbers: bool = Field(
        True,
        description="2.0, 22.04 and 3.14 are one term each, not parts the word rule drops or splits: a table's version rows became findable "
        "(Debian 2.0, Ubuntu 4.10); SciFact nDCG@10 with BM25 alone 0.6964 -> 0.6969 on train, 0.6863 either way on test",
    )


class DenseSettings(Section):
    """FAISS: exact inner product when small, HNSW past a size threshold, compressed past a larger
    one, GPU (flat) when present."""

    hnsw_threshold: int = Field(
        20_000, ge=1, description="a segment this large gets HNSW, smaller ones flat: flat 100k took 16.7 ms a query here, HNSW 0.47 ms (k = 100)"
    )
    hnsw_m: int = 32
    compress_from: int = Field(
        2_000_000,
        ge=1_000,  # PQ learns 256 codes per sub-vector: it needs that many vectors and more
        description="a segment this large keeps IVF-PQ codes (searched) and float16 vectors (re-ranking), 824 bytes a chunk "
        "instead of HNSW's 1,800: 10M chunks in float32 alone are 15.4 GB of a 24 GB box",
    )
    pq_m: int = Field(48, ge=1, description="PQ code bytes a vector (a divisor of the dimension at most this)")
    ivf_nprobe: int = Field(16, ge=1, description="IVF lists a compressed segment scans per query")
    refine_factor: int = Field(8, ge=1, description="PQ candidates per wanted hit that are re-ranked: at 1M chunks (float16) 4: recall@10 0.990, 8: 0.9995")
    refine_codec: Literal["SQfp16", "SQ8"] = Field(
        "SQfp16",
        description="the vectors candidates are re-ranked on: float16 (768 bytes at 384 dimensions) or 8-bit (384 bytes), "
        "which stopped at recall@10 0.977 at 1M chunks and 0.947 at 10M",
    )
    hnsw_ef_search: int = Field(256, ge=1, description="HNSW search breadth: 256 reached recall@10 0.96 at 1M chunks (rag bench)")
    faiss_threads: int = Field(1, ge=1, description="1 avoids fighting torch for the cores")
    use_gpu: bool = True


class MilvusSettings(Section):
    """The Milvus index backend: Milvus Lite in a file, or a Milvus server or cluster by URI."""

    uri: str = Field("", description="a .db file (Milvus Lite, embedded) or http://host:19530 (server, cluster); empty: milvus.db in the index folder")
    token_env: str = Field("MILVUS_TOKEN", description="environment variable that holds the token of a secured server")
    collection: str = Field("", description="collection name; empty: made from the index folder's name")
    index_type: Literal["HNSW", "HNSW_SQ", "IVF_FLAT", "IVF_SQ8", "FLAT"] = Field("HNSW", description="the dense index Milvus builds")
    index_params: dict[str, int] = Field({"M": 32, "efConstruction": 200}, description="build parameters of index_type")
    search_params: dict[str, int] = Field({"ef": 256}, description="search parameters of index_type (HNSW: ef, IVF: nprobe)")


class RetrievalSettings(Section):
    """Hybrid candidates, their fusion, and how many chunks reach the reranker and generator."""

    candidates: int = Field(100, ge=1, description="taken from each of dense and BM25 before fusion")
    max_question_chars: int = Field(2000, ge=1, description="a longer question is refused with a message saying so (it is not a document)")
    fusion: Literal["weighted", "rrf"] = "weighted"
    dense_weight: float = Field(0.5, ge=0.0, le=1.0, description="weighted fusion: dense share, BM25 gets the rest")
    rrf_k: int = Field(60, ge=0)
    top_k: int = Field(8, ge=1, description="chunks returned (and offered to the generator)")
    parallel: int = Field(0, ge=0, description="searches run at once by one engine (more wait their turn); 0: one per core")


class RerankSettings(Section):
    """A sentence-transformers CrossEncoder over the fused top-N; off when `model` is empty."""

    model: str | None = None
    top_n: int = Field(30, ge=1)
    batch_size: int = Field(16, ge=1)


class GenerationSettings(Section):
    """The answer writer and every decoding knob, in one place."""

    backend: Literal["auto", "llamacpp", "hf", "openai", "extractive"] = Field(
        "auto", description="auto: llama.cpp for a GGUF file, transformers for a folder; openai: a server at base_url; extractive needs no LLM"
    )
    model: str = Field("gemma-3-270m", description="bundled name, a GGUF file, a Hugging Face model folder, or the server's model id (openai)")
    base_url: str | None = Field(None, description="openai backend: the server's /v1 URL (Ollama http://127.0.0.1:11434/v1, vLLM http://HOST:8000/v1)")
    api_key_env: str = Field("OPENAI_API_KEY", description="openai backend: the environment variable holding the server's key (if it wants one)")
    endpoint: Literal["completions", "chat"] = Field("completions", description="openai backend: completions for base models, chat for instruct models")
    timeout_s: float = Field(60.0, gt=0, description="openai backend: connect and read time limit per request")
    server_parallel: int = Field(4, ge=1, description="openai backend: questions sent to the server at once (local models: one)")
    context_tokens: int = Field(4096, ge=256)
    threads: int = Field(1, ge=1, description="decoding threads: 1 held 10-39 tokens/s on 2 busy cores; 2 collapsed to 1-2")
    prompt_threads: int = Field(0, ge=0, description="threads reading the prompt (batched, scales well); 0: all cores")
    max_sources: int = Field(4, ge=1, description="passages offered to the LLM, best first")
    greedy: bool = True
    temperature: float = Field(0.7, ge=0.0)
    top_k: int = Field(40, ge=0)
    top_p: float = Field(0.95, gt=0.0, le=1.0)
    repetition_penalty: float = Field(1.1, ge=1.0)
    max_new_tokens: int = Field(160, ge=1)
    stop: list[str] = ["\n\n", "\nQuestion:", "\nAnswer:", "<source", "</source>"]
    abstain_below: float = Field(
        0.4,
        description="decline when the evidence (mean of the best dense cosine and the IDF-weighted share of the question's "
        "terms in the best passage, rag/answering/answerable.py) is under this; on squad-dev-a 0.4 declined 92% of absent-article "
        "questions and 2.7% of answerable ones; 12.5% of SciFact train claims over their own evidence (bench/tune_abstention.py)",
    )
    answer_style: Literal["reader", "short", "sources"] = Field(
        "reader",
        description="reader: the trained extractive reader's span of the top passages, or a decline (rag/answering/reader; no LLM needed); "
        "short: the LLM picks the phrase of the best sentence that answers, checked against it (squad-dev-a, bundled Gemma: "
        "token F1 0.5); sources: it writes from the numbered passages (for larger instruction-tuned models)",
    )
    prompt_format: Literal["auto", "completion", "chat"] = Field(
        "auto",
        description="auto: chat messages through the model's chat template when it has one (GGUF metadata, the tokenizer, "
        "or an openai backend on the chat endpoint), else a completion prompt (base models such as the bundled Gemma)",
    )
    followup_rewrite: Literal["auto", "llm", "terms"] = Field(
        "auto",
        description="how a follow-up is made standalone before retrieval: llm (the model rewrites it from the conversation), "
        "terms (the previous turn's rarest words carried over, rag/answering/followup.py); auto: llm for a model with a chat template, else terms",
    )
    sentences_per_answer: int = Field(1, ge=1, description="extractive: sentences quoted (1 beat 2 on squad-dev-a: gold held 0.79 vs 0.75)")
    queue_wait_s: float = Field(60.0, gt=0, description="the LLM answers one question at a time; others wait their turn this long, then get a busy error")


class TuneSettings(Section):
    """Fine-tuning the embedder on pairs made from the collection itself (`rag tune`, `rag eval retrieval --tune`)."""

    pair_kinds: list[Literal["title", "sentence", "crop", "question"]] = Field(
        ["title"],
        description="which pairs to make (rag/tune/pairs.py; question: rag/tune/queries.py); titles alone measured best on SciFact train",
    )
    max_questions: int = Field(500, ge=1, description="passages the LLM writes a question for (pair kind question)")
    max_pairs: int = Field(4000, ge=1, description="pairs drawn from the collection; training time grows with them")
    hard_negatives: bool = Field(True, description="add each pair's best BM25 match from another file as a negative")
    epochs: float = Field(1.0, gt=0)
    batch_size: int = Field(32, ge=2, description="in-batch negatives: larger is better, memory allowing")
    learning_rate: float = Field(2e-5, ge=0)
    warmup_ratio: float = Field(0.1, ge=0, lt=1, description="share of the steps the learning rate warms up over")
    max_seq_length: int = Field(128, ge=8, description="word pieces per text while training (bounds time and memory)")
    lora_rank: int = Field(0, ge=0, description="0: tune every weight; r > 0: train rank-r LoRA adapters on every linear layer (peft), merged in after")
    base_mix: float = Field(0.0, ge=0, lt=1, description="share of the base model mixed back into the tuned weights (WiSE-FT): keeps what the base model knew")
    holdout: float = Field(0.1, gt=0, lt=1, description="share of the files whose pairs judge the tuned model against the base one")
    max_minutes: float = Field(60.0, gt=0, description="training stops at the first step past this")
    save_steps: int = Field(50, ge=1, description="a checkpoint this often: a killed run resumes from the latest")
    seed: int = 0


class ReaderSettings(Section):
    """The extractive reader that picks the answer span in the top passages (rag/answering/reader)."""

    model: str = Field("bundled", description="bundled: the int8 ONNX reader in models/reader; or a reader folder, or a transformers QA model folder")
    passages: int = Field(4, ge=1, description="top passages read, at most, best ranked first")
    read_until_answer: bool = Field(True, description="read one passage at a time and stop at the first that answers (a passage costs 20-40 ms here)")
    max_answer_tokens: int = Field(30, ge=1, description="longest span, in word pieces")
    threshold: float | None = Field(None, description="margin of the best span over 'no answer' needed to answer; unset: the one chosen on the dev set")
    batch_size: int = Field(8, ge=1, description="windows per ONNX Runtime call")
    threads: int = Field(2, ge=1)


NegativeKind = Literal["cut", "other", "near", "swap", "inner", "antonym", "number", "negation"]  # made negatives: rag/answering/reader/mix.py


class ReaderTrainSettings(Section):
    """Training the extractive reader (`rag train-reader`, rag/answering/reader/train.py)."""

    base_model: str = Field(
        "all-MiniLM-L6-v2", description="the encoder the span head is put on (bundled names resolve offline), or an exported reader folder to train on from"
    )
    train_file: Path = Field(Path("../shared/datasets/squad-train/train-v1.0.json"), description="SQuAD-format answerable questions")
    unanswerable_file: Path | None = Field(
        Path("../shared/datasets/squad-train/train-v2.0-unanswerable-10-articles.json"), description="SQuAD 2.0-format questions with no answer"
    )
    unanswerable_repeats: int = Field(
        1, ge=1, description="times each real unanswerable question enters the mix: the only negatives SQuAD 2.0's writers made (348), else about 0.3% of it"
    )
    squad2_file: Path | None = Field(
        None,
        description="a SQuAD 2.0 file whose questions all enter the mix, answerable and not: each of ../squad2-dev-a's two parts by article (`rag split-squad`) holds 1,419-1,529 real unanswerable questions, four times squad-train's 348",
    )
    squad2_repeats: int = Field(1, ge=1, description="times each question of squad2_file enters the mix")
    negative_share: float = Field(0.33, ge=0, lt=1, description="share of training questions without an answer (SQuAD 2.0 train: a third)")
    negative_kinds: list[NegativeKind] = Field(
        default_factory=lambda: ["cut", "other", "swap"],
        min_length=1,
        description="how made negatives are made, in turn (rag/answering/reader/mix.py): answer sentence cut, another paragraph, the paragraph sharing most of its terms, a swapped name, a name swapped for another of the passage, a word turned into its opposite, a changed number, a negation",
    )
    max_examples: int = Field(0, ge=0, description="answerable questions used; 0: all")
    max_length: int = Field(256, ge=32, description="word pieces per training window (question + passage)")
    stride: int = Field(96, ge=0, description="word pieces shared by consecutive windows of a long passage")
    batch_size: int = Field(32, ge=1)
    learning_rate: float = Field(1e-4, gt=0)
    warmup_ratio: float = Field(0.06, ge=0, lt=1)
    max_steps: int = Field(900, ge=1, description="the learning rate reaches zero here; 900 steps of 32 windows: about 70 minutes on these 2 cores")
    max_minutes: float = Field(120.0, gt=0, description="a run stops (with a checkpoint) at the first step past this; run again to resume")
    save_steps: int = Field(100, ge=1, description="a checkpoint this often: a killed run resumes from the latest")
    freeze_embeddings: bool = Field(True, description="keep the word-piece table as it is (half the weights; spans need no new words)")
    device: Literal["auto", "cpu", "cuda"] = "auto"
    seed: int = 0


class JudgeSettings(Section):
    """How `rag eval qa` decides that a passage supports an answer sentence."""

    min_coverage: float = Field(0.75, gt=0.0, le=1.0, description="lexical judge: share of the claim's stemmed content words the passage must hold")
    nli_model: str | None = Field(None, description="an NLI CrossEncoder (name or folder) to judge instead of the lexical rule")
    nli_threshold: float = Field(0.5, gt=0.0, lt=1.0, description="entailment probability that counts as support")


class UiSettings(Section):
    """The Streamlit app that `rag serve` (and `make run`) starts."""

    host: str = Field("127.0.0.1", description="loopback only unless you mean to share it")
    port: int = Field(8501, ge=1, le=65535)
    password: SecretStr | None = Field(None, description="asked for before anything shows: set it for a shared deployment")
    source_dir: Path | None = Field(None, description="folder uploads go into and re-sync reads; default: the one the index was built from")
    runs_dir: Path = Field(Path("runs"), description="where the Evaluation page writes its reports")
    examples: list[str] = Field(
        default_factory=list, description="example questions on the first screen (those the collection answers are shown); empty: made from its headings"
    )

    @field_validator("password", mode="before")
    @classmethod
    def empty_password_is_none(cls, value):
        """An empty password protects nothing: it counts as no password at all."""
        return None if value in ("", None) or (isinstance(value, SecretStr) and not value.get_secret_value()) else value


class ApiSettings(Section):
    """The HTTP service that `rag api` starts: REST and OpenAI-compatible routes over one engine."""

    host: str = Field("127.0.0.1", description="loopback only; another address needs API keys (or --insecure)")
    port: int = Field(8000, ge=1, le=65535)
    model_name: str = Field("rag-local", description="the model id OpenAI clients ask for; '<name>-extractive' quotes instead")
    max_body_kb: int = Field(256, ge=1, description="JSON bodies larger than this get 413 (uploads: ingest.max_file_mb)")
    source_dir: Path | None = Field(None, description="folder uploads go into and ingest reads; default: the one the index was built from")
    threads: int = Field(16, ge=1, description="worker threads for blocking calls: streams and questions waiting for the LLM hold one each")
    keys_file: Path | None = Field(None, description="the API keys (hashed, with their collections' scopes); default: api-keys.json in index_dir")


class LoggingSettings(Section):
    """Where log lines go and in what shape (the command line's -v and --log-* flags override)."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["text", "json"] = Field("text", description="json: one object a line, with event, path and reason keys")
    file: Path | None = Field(None, description="also append the log to this file")


class Settings(BaseSettings):
    """Everything the CLI, the UI and the eval harness build the engine from."""

    model_config = SettingsConfigDict(env_prefix="RAG_", env_nested_delimiter="__", extra="forbid")

    index_dir: Path = Path("index/samples")
    backend: Literal["local", "milvus"] = Field("local", description="where the index lives: snapshots in index_dir, or Milvus ([milvus])")
    collections: dict[str, Path] = Field(
        default_factory=dict, description="the indexes one `rag api` serves, by name (a [collections] table: name = index folder); empty: index_dir alone"
    )
    embedding: EmbeddingSettings = EmbeddingSettings()
    chunking: ChunkingSettings = ChunkingSettings()
    ingest: IngestSettings = IngestSettings()
    bm25: BM25Settings = BM25Settings()
    dense: DenseSettings = DenseSettings()
    milvus: MilvusSettings = MilvusSettings()
    retrieval: RetrievalSettings = RetrievalSettings()
    rerank: RerankSettings = RerankSettings()
    generation: GenerationSettings = GenerationSettings()
    judge: JudgeSettings = JudgeSettings()
    tune: TuneSettings = TuneSettings()
    reader: ReaderSettings = ReaderSettings()
    reader_train: ReaderTrainSettings = ReaderTrainSettings()
    ui: UiSettings = UiSettings()
    api: ApiSettings = ApiSettings()
    logging: LoggingSettings = LoggingSettings()

    @field_validator("collections")
    @classmethod
    def collection_names(cls, value: dict[str, Path]) -> dict[str, Path]:
        """Names go into URLs and model ids (`rag-local/NAME`): letters, digits, '.', '_' and '-'."""
        for name in value:
            if not COLLECTION_NAME.fullmatch(name):
                raise ValueError(f"collection name {name!r}: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit")
        return value

    def collection_dirs(self, index_dir: Path | None = None) -> dict[str, Path]:
        """Name -> index folder of what a server serves: the [collections] table, else the one
        index (`index_dir`, default the setting's), named after its folder."""
        if self.collections:
            return dict(self.collections)
        root = Path(index_dir or self.index_dir)
        return {root.name if COLLECTION_NAME.fullmatch(root.name) else "default": root}

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment first so it overrides the TOML file, which arrives as init values.
        return (env_settings, init_settings)

    @classmethod
    def load(cls, path: Path | None = None) -> Settings:
        """Read `path`, else $RAG_CONFIG, else ./rag.toml when present, else defaults."""
        path = path or (Path(os.environ[CONFIG_ENV]) if os.environ.get(CONFIG_ENV) else None)
        if path is None and DEFAULT_CONFIG_FILE.is_file():
            path = DEFAULT_CONFIG_FILE
        if path is None:
            return cls()
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SettingsError(f"settings file not found: {path}") from None
        except IsADirectoryError:
            raise SettingsError(f"settings file {path} is a folder; give a TOML file") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise SettingsError(f"settings file {path} cannot be read: {exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"settings file {path} is not valid TOML: {exc}") from None
        try:
            return cls(**data)
        except ValidationError as exc:
            raise SettingsError(f"settings file {path}: {described(exc)}") from None

    @classmethod
    def checked(cls, path: Path | None = None) -> Settings:
        """`load`, with the environment's own mistakes (RAG_RETRIEVAL__TOP_K=many) said the same way."""
        try:
            return cls.load(path)
        except ValidationError as exc:
            raise SettingsError(f"settings from the environment (RAG_*): {described(exc)}") from None


class SettingsError(ValueError):
    """A settings file or variable that cannot be used; the message names the file and the field."""


def described(exc: ValidationError) -> str:
    """Each bad field as `table.key: what is wrong`, on one line."""
    return "; ".join(f"{'.'.join(str(part) for part in error['loc'])}: {error['msg'].lower()}" for error in exc.errors())
