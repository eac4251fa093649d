"""Assemble the cache worker's service from the configuration: Redis, embedder, Chroma."""

from __future__ import annotations

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
