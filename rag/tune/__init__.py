"""Adapting the embedding model to a collection with no labels: pairs from the collection itself
(pairs.py) and fine-tuning with a held-out check (train.py)."""
