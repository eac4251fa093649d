"""Cached answers in Redis: the exact layer, and the source of truth for the semantic one.

An entry is one answer under one key (scope + query). It expires after ``cache.ttl_s``;
each scope keeps at most ``cache.max_entries_per_scope`` entries, evicting the least
recently used. The semantic layer only finds candidate ids: an answer is served only if
its entry is still here.
"""

from __future__ import annotations

from pydantic import BaseModel, Field
from redis import Redis

from broker import keys
from broker.jobstore.lua import register
from schemas.config import CacheConfig


class CacheEntry(BaseModel):
    id: str
    owner: str
    scope_id: str
    query: str | None = Field(description="the last user turn the answer was given to")
    answer: str
    finish_reason: str
    model: str = Field(description="the configured model that wrote the answer")
    prompt_tokens: int = Field(ge=0)
    completion_tokens: int = Field(ge=0)
    template_id: str | None = None
    template_version: int | None = None
    created_at: float
    source_job: str


def fits(entry: CacheEntry, output_cap: int | None) -> bool:
    """An answer longer than the new request's ``max_tokens`` would not have been given to it."""
    return output_cap is None or entry.completion_tokens <= output_cap


class EntryStore:
    """Synchronous: used from the cache worker's Celery threads."""

    def __init__(self, redis: Redis, config: CacheConfig) -> None:
        self.redis = redis
        self.config = config
        self._store = register(redis, "broker.cache", "store")

    def get(self, entry_id: str) -> CacheEntry | None:
        raw = self.redis.get(keys.cache_entry(entry_id))
        return CacheEntry.model_validate_json(raw) if raw else None

    def scope_size(self, scope_id: str) -> int:
        return int(self.redis.zcard(keys.cache_scope(scope_id)))

    def put(self, entry: CacheEntry) -> list[str]:
        """Store (or replace) an entry; returns the ids that left its scope, already deleted."""
        entry_keys = [keys.cache_entry(entry.id), keys.cache_scope(entry.scope_id), keys.cache_owner(entry.owner)]
        if entry.template_id is not None:
            entry_keys.append(keys.cache_template(entry.template_id, entry.template_version or 0))
        gone = self._store(
            keys=entry_keys,
            args=[
                entry.model_dump_json(),
                entry.id,
                entry.scope_id,
                int(self.config.ttl_s * 1000),
                self.config.max_entries_per_scope,
            ],
        )
        gone_ids = [g.decode() if isinstance(g, bytes) else str(g) for g in gone]
        if gone_ids:
            self.redis.delete(*(keys.cache_entry(i) for i in gone_ids))
        return gone_ids

    def touch(self, entry: CacheEntry) -> None:
        """Mark an entry used (eviction drops the least recently used first)."""
        seconds, micros = self.redis.time()
        self.redis.zadd(keys.cache_scope(entry.scope_id), {entry.id: seconds * 1_000_000 + micros}, xx=True)

    def forget(self, entry_id: str) -> None:
        self.redis.delete(keys.cache_entry(entry_id))
