"""The middle floor: from a question to ranked passages. The bi-encoder (`embedding`, through
ONNX Runtime in int8 or fp32: `onnx_encoder`, `onnx_export`), hybrid retrieval over an index (`retriever`: dense + BM25, `fusion`, the
optional cross-encoder `rerank`), and `Hit`, the passage it hands upward.

Imports `rag.storage` and the shared top modules, never `rag.answering`. Start at `retriever.py`."""
