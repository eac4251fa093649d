"""Assemble the cache worker's service from the configuration: Redis, embedder, Chroma."""

from __future__ import annotations

import gc

from broker.redis_clients import sync_client
from broker.settings import current_config, home_dir
from schemas.config import BrokerConfig
from workers.cache.embedder import shared_embedder
from workers.cache.service import CacheService
from workers.cache.vectors import VectorIndex, chroma_client


def build_service(config: BrokerConfig | None = None) -> CacheService:
    config = config or current_config()
    embedder = shared_embedder(config.cache.embedder)
    index = VectorIndex(chroma_client(config.cache.chroma, home_dir()), embedder.name)
    return CacheService(config, sync_client(config), embedder, index)


def freeze_loaded_heap() -> None:
    """Move everything loaded so far (torch, transformers, Chroma: millions of objects) out of
    the collector's reach. Measured in the cache benchmark: a full collection walking them
    took 233 ms, landing in one lookup and queueing the next dozen behind it; frozen, a full
    collection only walks what lookups allocate. Call once, after the model is loaded."""
    gc.collect()
    gc.freeze()
