"""Adapting the embedding model to a collection with no labels: pairs from the collection itself
(pairs.py), fine-tuning with a held-out check (train.py), and which tuned model embeds an
index (active.py)."""
