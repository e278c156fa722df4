"""Evaluation harness: BEIR-format retrieval relevance, latency, and readable reports."""
