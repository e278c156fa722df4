"""`rag bench`: ingest throughput, query latency, the llama-index peer, and scale to 1M chunks."""
