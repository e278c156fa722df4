"""The ground floor: the index on disk (SQLite chunks and files, FAISS vectors, BM25 postings, in
immutable segments published as snapshots) and in Milvus, its crash safety and repair (`doctor`),
and where an index keeps its tuned embedders (`tuned`).

Imports only itself and the shared modules at the top of `rag/` (config, logs, sentences): it
knows nothing of embedding models, questions or answers. Start at `index.py` (`open_index`)."""
