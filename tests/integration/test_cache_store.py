"""The cache's Redis side on a real Redis: entries with TTL and eviction, purges, and the
job's cache stage (hit exactly once, miss, timeout, cancel)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator

import pytest
import redis
from redis.asyncio import Redis as AsyncRedis

from broker import keys
from broker.cache.entries import CacheEntry, EntryStore
from broker.cache.purge import PurgeSelector, owner_stats, purge
from broker.jobstore.cache_stage import CacheStage, release_stalled_lookups
from broker.jobstore.records import NewJob
from broker.jobstore.store import JobStore
from schemas.chat import JobRequest
from schemas.config import CacheConfig
from schemas.job import CacheInfo
from scripts.embedded_redis import EmbeddedRedis

pytestmark = pytest.mark.integration


@pytest.fixture
def client(redis_server: EmbeddedRedis) -> Iterator[redis.Redis]:
    connection = redis.Redis.from_url(redis_server.url)
    yield connection
    connection.close()


def entry(
    entry_id: str, scope: str = "s1", owner: str = "alpha", template: tuple[str, int] | None = None
) -> CacheEntry:
    return CacheEntry(
        id=entry_id,
        owner=owner,
        scope_id=scope,
        query=f"question {entry_id}",
        answer=f"answer {entry_id}",
        finish_reason="stop",
        model="gpt-4o-mini",
        prompt_tokens=10,
        completion_tokens=20,
        template_id=template[0] if template else None,
        template_version=template[1] if template else None,
        created_at=time.time(),
        source_job=f"job_{entry_id}",
    )


def test_a_scope_keeps_at_most_its_limit_evicting_the_least_recently_used(client: redis.Redis) -> None:
    store = EntryStore(client, CacheConfig(max_entries_per_scope=2))
    assert store.put(entry("a")) == [] and store.put(entry("b")) == []
    store.touch(store.get("a"))  # type: ignore[arg-type]  # "a" was used since: "b" is now the oldest
    assert store.put(entry("c")) == ["b"]
    assert store.get("b") is None and store.get("a") is not None and store.get("c") is not None
    assert store.scope_size("s1") == 2
    assert store.put(entry("x", scope="s2")) == []  # another scope has its own room


def test_entries_expire_after_the_ttl(client: redis.Redis) -> None:
    store = EntryStore(client, CacheConfig(ttl_s=0.3))
    store.put(entry("short"))
    assert store.get("short") is not None
    # while newer entries keep the scope alive, the expired one leaves its index with a later store
    deadline = time.monotonic() + 10
    gone: list[str] = []
    count = 0
    while "short" not in gone:
        assert time.monotonic() < deadline, "the expired entry never left its scope index"
        count += 1
        gone = store.put(entry(f"later-{count}"))
        time.sleep(0.05)
    assert store.get("short") is None
    # and a scope nobody stored into for a whole TTL disappears with its last entry
    while store.scope_size("s1"):
        assert time.monotonic() < deadline, "the idle scope never expired"
        time.sleep(0.05)
    assert store.get(f"later-{count}") is None


def test_purge_by_owner_by_template_version_and_all(client: redis.Redis, redis_server: EmbeddedRedis) -> None:
    store = EntryStore(client, CacheConfig())
    store.put(entry("a1", scope="sa", owner="alpha"))
    store.put(entry("a2", scope="sa2", owner="alpha", template=("faq", 1)))
    store.put(entry("a3", scope="sa3", owner="alpha", template=("faq", 2)))
    store.put(entry("b1", scope="sb", owner="beta", template=("faq", 1)))
    store.put(entry("b2", scope="sb", owner="beta"))
    client.zadd(keys.CACHE_PENDING, {"job_waiting": 1})  # not a cache entry: a purge must leave it

    aredis = AsyncRedis.from_url(redis_server.url)

    loop = asyncio.new_event_loop()
    try:
        assert loop.run_until_complete(purge(aredis, PurgeSelector("alpha", "faq", 1))) == 1
        assert store.get("a2") is None and store.get("b1") is not None  # beta's faq v1 stays
        assert loop.run_until_complete(owner_stats(aredis, "alpha")) == {"scopes": 3, "entries": 2}
        assert loop.run_until_complete(purge(aredis, PurgeSelector(None, "faq", None))) == 2  # a3 and b1
        assert store.get("a3") is None and store.get("b1") is None and store.get("a1") is not None
        assert loop.run_until_complete(purge(aredis, PurgeSelector("beta"))) == 1
        assert loop.run_until_complete(owner_stats(aredis, "beta")) == {"scopes": 0, "entries": 0}
        assert store.get("a1") is not None
        assert loop.run_until_complete(purge(aredis, PurgeSelector(None))) == 1
        assert store.get("a1") is None
        assert list(client.scan_iter(match=keys.CACHE_PREFIX + "*")) == [keys.CACHE_PENDING.encode()]
    finally:
        loop.run_until_complete(aredis.aclose())
        loop.close()


def new_job(job_id: str) -> NewJob:
    request = JobRequest.model_validate(
        {"model": "gpt-4o-mini", "temperature": 0, "messages": [{"role": "user", "content": "hi"}]}
    )
    return NewJob(job_id, "alpha", "u", "k", request, ["gpt-4o-mini"], [8], time.time())


def create_in_cache_stage(url: str, job_id: str) -> None:
    async def run() -> None:
        aredis = AsyncRedis.from_url(url)
        try:
            await JobStore(aredis).create(new_job(job_id), cache_lookup=True)
        finally:
            await aredis.aclose()

    asyncio.run(run())


def test_a_hit_is_recorded_exactly_once_and_publishes_the_completion(
    client: redis.Redis, redis_server: EmbeddedRedis
) -> None:
    create_in_cache_stage(redis_server.url, "job_hit")
    assert client.zscore(keys.CACHE_PENDING, "job_hit") is not None
    assert client.zcard(keys.team_queue("alpha")) == 0  # waiting for its lookup, not for admission
    stage = CacheStage(client)
    listener = client.pubsub()
    listener.subscribe(keys.JOBS_DONE_CHANNEL)
    info = CacheInfo(hit=True, layer="exact", similarity=1.0, entry="e")
    assert stage.hit("job_hit", '{"r": 1}', '{"u": 1}', "gpt-4o-mini", info) is True
    assert stage.hit("job_hit", '{"r": 2}', '{"u": 2}', "gpt-4o-mini", info) is False  # a redelivery
    assert stage.miss("job_hit", "alpha", CacheInfo(hit=False)) is False
    record = {k.decode(): v.decode() for k, v in client.hgetall(keys.job("job_hit")).items()}
    assert record["state"] == "succeeded" and record["result"] == '{"r": 1}' and record["stage"] == ""
    assert json.loads(record["cache"])["layer"] == "exact"
    assert [f[b"record"] for _, f in client.xrange(keys.USAGE_STREAM)] == [b'{"u": 1}']
    assert client.zscore(keys.CACHE_PENDING, "job_hit") is None
    deadline = time.monotonic() + 5
    published = None
    while published is None and time.monotonic() < deadline:
        message = listener.get_message(timeout=0.5)
        if message and message["type"] == "message":
            published = message["data"]
    assert published == b"job_hit"


def test_a_miss_sends_the_job_to_its_team_queue_once(client: redis.Redis, redis_server: EmbeddedRedis) -> None:
    create_in_cache_stage(redis_server.url, "job_miss")
    stage = CacheStage(client)
    wake = client.pubsub(ignore_subscribe_messages=True)
    wake.subscribe(keys.SCHEDULER_WAKE)
    wake.get_message(timeout=1)  # the subscription confirmation
    assert stage.miss("job_miss", "alpha", CacheInfo(hit=False, reason="no match")) is True
    assert stage.miss("job_miss", "alpha", CacheInfo(hit=False, reason="no match")) is False
    assert client.zrange(keys.team_queue("alpha"), 0, -1) == [b"job_miss"]
    assert client.sismember(keys.ACTIVE_TEAMS, "alpha")
    assert wake.get_message(timeout=5) is not None  # the schedulers were woken
    assert client.hget(keys.job("job_miss"), "state") == b"queued"
    assert stage.hit("job_miss", "{}", "{}", "m", CacheInfo(hit=True)) is False  # too late for a hit


def test_jobs_whose_lookup_never_ran_are_sent_on_after_the_timeout(
    client: redis.Redis, redis_server: EmbeddedRedis
) -> None:
    create_in_cache_stage(redis_server.url, "job_stalled")
    create_in_cache_stage(redis_server.url, "job_cancelled")
    client.hset(keys.job("job_cancelled"), "state", "cancelled")

    async def release(timeout_s: float) -> int:
        aredis = AsyncRedis.from_url(redis_server.url)
        try:
            return await release_stalled_lookups(aredis, timeout_s)
        finally:
            await aredis.aclose()

    assert asyncio.run(release(60)) == 0  # not waited long enough
    assert client.zcard(keys.CACHE_PENDING) == 2
    time.sleep(0.2)
    assert asyncio.run(release(0.1)) == 1
    assert client.zrange(keys.team_queue("alpha"), 0, -1) == [b"job_stalled"]
    assert json.loads(client.hget(keys.job("job_stalled"), "cache"))["reason"] == "lookup timed out"
    assert client.zcard(keys.CACHE_PENDING) == 0  # the cancelled job's entry is dropped too
