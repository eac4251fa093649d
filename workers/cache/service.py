"""The two-level cache as the cache worker runs it: look a job up, store an answer, purge.

Lookup, in order: the exact layer (one Redis GET on the hash of scope and query); then,
if the scope holds any entry at all, the semantic layer: embed the query, take the
scope's nearest entries from Chroma among those with the same anchors (numbers and quoted
text, which the guard requires equal), and accept the most similar one that passes the
near-miss guard, clears the threshold (the lower same-words threshold when the guard reads
both as the same words), still exists in Redis and fits the request's ``max_tokens``.
Team isolation needs no check here: the scope includes the owner, and each scope has its
own collections.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import cast

from redis import Redis

from broker import keys
from broker.budgets.counters import finish_counters
from broker.cache.canonical import CacheKey, cache_key
from broker.cache.entries import CacheEntry, EntryStore, fits
from broker.cache.guard import anchor_key, judge
from broker.cache.policy import cache_plan, storable
from broker.jobstore.cache_stage import CacheStage
from broker.jobstore.records import decode_hash
from schemas.config import BrokerConfig
from schemas.job import CacheInfo
from workers.cache.embedder import Embedder
from workers.cache.job import CachedJob
from workers.cache.outcome import hit_result, hit_usage
from workers.cache.vectors import VectorIndex

log = logging.getLogger(__name__)

SWEEP_INTERVAL_S = 600.0


@dataclass(frozen=True)
class Found:
    entry: CacheEntry
    layer: str
    similarity: float


@dataclass(frozen=True)
class Lookup:
    found: Found | None
    reason: str
    """Why nothing was found: "no match", or the near misses the guard refused."""


class CacheService:
    def __init__(self, config: BrokerConfig, redis: Redis, embedder: Embedder, index: VectorIndex) -> None:
        self.config = config
        self.redis = redis
        self.embedder = embedder
        self.index = index
        self.entries = EntryStore(redis, config.cache)
        self.stage = CacheStage(redis)
        self._next_sweep = time.monotonic() + SWEEP_INTERVAL_S

    # -- lookup -----------------------------------------------------------------------------

    def find(
        self, key: CacheKey, output_cap: int | None, threshold: float, same_words_threshold: float | None = None
    ) -> Lookup:
        """The lookup proper (what the benchmark times): exact, then semantic. A candidate the
        guard reads as the same words needs ``same_words_threshold`` (default: ``threshold``)."""
        entry = self.entries.get(key.entry_id)
        if entry is not None and fits(entry, output_cap):
            return Lookup(Found(entry, "exact", 1.0), "")
        if not self.config.cache.semantic or key.query is None or self.entries.scope_size(key.scope_id) == 0:
            return Lookup(None, "no match")
        same_words = threshold if same_words_threshold is None else min(same_words_threshold, threshold)
        vector = self.embedder.embed([key.query])[0]
        anchors = anchor_key(key.query)
        refused = []
        # with the guard, only entries stored with the same anchors (numbers, quoted text): the
        # guard refuses all others, and among a thousand "where is my order N" entries the same
        # order in other words is not in the first few by similarity alone; a prompt without
        # anchors searches only the entries without any (see ``workers.cache.vectors``)
        where = (anchors or "") if self.config.cache.guard else None
        nearest = self.index.nearest(key.scope_id, vector, self.config.cache.candidates, where)
        for neighbour in nearest:
            if neighbour.similarity < same_words:
                break
            if neighbour.id == key.entry_id:
                continue  # the exact entry, already refused above
            if self.config.cache.guard and anchor_key(neighbour.query) != anchors:
                refused.append(f"{neighbour.similarity:.3f} numbers")  # the guard's verdict, found cheaper
                continue
            verdict = judge(neighbour.query, key.query) if self.config.cache.guard else None
            if verdict is not None and verdict.reasons:
                refused.append(f"{neighbour.similarity:.3f} {'+'.join(verdict.reasons)}")
                continue
            if neighbour.similarity < threshold and (verdict is None or not verdict.same_words):
                continue  # a rewording needs the full threshold
            entry = self.entries.get(neighbour.id)
            if entry is None:  # expired, evicted or purged: the vector is stale
                self.index.delete(key.scope_id, [neighbour.id])
                continue
            if fits(entry, output_cap):
                return Lookup(Found(entry, "semantic", round(neighbour.similarity, 6)), "")
        return Lookup(None, f"near miss refused: {', '.join(refused[:8])}" if refused else "no match")

    def lookup_job(self, job_id: str) -> str:
        """Answer a job in the cache stage from the cache, or send it to its team queue.
        Returns what happened (for logs and tests); idempotent under redelivery."""
        fields = decode_hash(cast(dict[bytes, bytes], self.redis.hgetall(keys.job(job_id))))
        if not fields or fields.get("state") != "queued" or fields.get("stage") != "cache":
            return "stale"
        job = CachedJob.from_fields(fields)
        plan = cache_plan(job.request, self.config.cache)
        key = cache_key(job.request, job.team, self.config)
        try:
            lookup = (
                self.find(key, job.request.output_cap(), plan.threshold, plan.same_words_threshold)
                if plan.read
                else Lookup(None, "no read")
            )
        except Exception as exc:  # a broken cache must cost a provider call, never the job
            log.exception("cache lookup of job %s failed", job_id)
            self.stage.miss(job.id, job.team, CacheInfo(hit=False, reason=f"lookup failed: {type(exc).__name__}"))
            return "miss"
        found = lookup.found
        if found is None:
            self.stage.miss(job.id, job.team, CacheInfo(hit=False, reason=lookup.reason))
            return "miss"
        finished = time.time()
        result = hit_result(job, found.entry, int(finished))
        usage = hit_usage(job, found.entry, self.config, finished)
        info = CacheInfo(hit=True, layer=found.layer, similarity=found.similarity, entry=found.entry.id)
        counters = finish_counters(usage)
        if self.stage.hit(job.id, result.model_dump_json(), usage.model_dump_json(), found.entry.model, info, counters):
            self.entries.touch(found.entry)
            return f"hit:{found.layer}"
        return "stale"

    # -- store ------------------------------------------------------------------------------

    def store_job(self, job_id: str) -> bool:
        """Keep a succeeded job's provider answer; False when there is nothing to keep."""
        fields = decode_hash(cast(dict[bytes, bytes], self.redis.hgetall(keys.job(job_id))))
        if not fields or fields.get("state") != "succeeded":
            return False
        job = CachedJob.from_fields(fields)
        if job.result is None or (job.usage is not None and job.usage.cache_hit) or not storable(job.result):
            return False
        if not cache_plan(job.request, self.config.cache).write:
            return False
        key = cache_key(job.request, job.team, self.config)
        usage = job.result.usage
        model = job.model or job.result.model
        self.store(key, job.result.text(), model, usage.prompt_tokens, usage.completion_tokens, job.id)
        return True

    def store(
        self, key: CacheKey, answer: str, model: str, prompt_tokens: int, completion_tokens: int, source_job: str
    ) -> None:
        """Keep an answer under ``key``: its vector in Chroma, then the entry in Redis."""
        now = time.time()
        entry = CacheEntry(
            id=key.entry_id,
            owner=key.owner,
            scope_id=key.scope_id,
            query=key.query,
            answer=answer,
            finish_reason="stop",
            model=model,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            template_id=key.template_id,
            template_version=key.template_version,
            created_at=now,
            source_job=source_job,
        )
        # the vector first: once the entry is visible its vector is too, and a vector whose
        # entry never lands (a crash in between) is never served
        if self.config.cache.semantic and key.query is not None:
            vector = self.embedder.embed([key.query])[0]
            self.index.add(key, vector, now + self.config.cache.ttl_s, anchor_key(key.query))
        gone = self.entries.put(entry)
        if gone:
            self.index.delete(key.scope_id, gone)

    # -- lifecycle --------------------------------------------------------------------------

    def purge(self, selector: dict[str, object]) -> int:
        return self.index.purge(selector)

    def maybe_sweep(self) -> None:
        """Every ``SWEEP_INTERVAL_S``: drop expired vectors (lookups ignore them meanwhile)."""
        if time.monotonic() < self._next_sweep:
            return
        self._next_sweep = time.monotonic() + SWEEP_INTERVAL_S
        try:
            dropped = self.index.sweep()
            if dropped:
                log.info("cache sweep dropped %d empty collections", dropped)
        except Exception:
            log.exception("cache sweep failed")
