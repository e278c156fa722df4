"""Batch ingest: folder -> chunks -> embeddings -> a new index snapshot."""
