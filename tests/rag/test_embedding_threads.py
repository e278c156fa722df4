"""The embedder shared by threads: queries (ONNX path) and batches (sentence-transformers) from
eight threads at once give the same vectors as one thread. Without the tokenizer locks this
raised "Unable to create tensor ..." from the shared fast tokenizer."""

import threading

import numpy as np
import pytest

TEXTS = [
    "Which town have Etna's lava flows reached?",
    "Green tea is made from unoxidised leaves of Camellia sinensis, a shrub native to East Asia and grown widely.",
    "The Danube flows through ten countries.",
    "A much longer passage that needs padding next to the short ones " * 6,
]


@pytest.mark.slow
def test_eight_threads_share_one_embedder(embedder):
    expected_batch = embedder.encode(TEXTS)
    expected_query = embedder.encode_query(TEXTS[0])
    failures, start = [], threading.Barrier(8)

    def worker(n: int) -> None:
        start.wait()
        for i in range(40):
            try:
                if (n + i) % 2:
                    assert np.allclose(embedder.encode(TEXTS), expected_batch, atol=1e-5)
                else:
                    assert np.allclose(embedder.encode_query(TEXTS[0]), expected_query, atol=1e-5)
                embedder.count_tokens_fn()(TEXTS[i % len(TEXTS)])
            except Exception as exc:  # any failure is the finding
                failures.append(repr(exc))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert failures == []
