"""The prompt registry on a real Redis: experiments over 10,000 subjects, immutability,
visibility between teams, durability across a Redis restart."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator

import pytest
from redis.asyncio import Redis

from broker import keys
from broker.auth import Principal
from broker.errors import Conflict, InvalidRequest, NotFound
from broker.jobstore.store import JobStore
from broker.prompts.feedback import record_feedback
from broker.prompts.registry import PromptRegistry
from broker.submit import prepare_job
from schemas.chat import JobRequest, PromptRef
from schemas.config import BrokerConfig
from schemas.prompts import FeedbackRecord, FeedbackRequest, SplitRequest, TemplateDraft
from scripts.embedded_redis import EmbeddedRedis, free_port
from tests.conftest import broker_config

pytestmark = pytest.mark.integration
CONFIG = BrokerConfig.model_validate(broker_config())
SUBJECTS = [f"customer-{i}" for i in range(10_000)]


def draft(text: str) -> TemplateDraft:
    return TemplateDraft.model_validate(
        {"messages": [{"role": "user", "content": f"{text} {{{{topic}}}}"}], "variables": [{"name": "topic"}]}
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    """One Redis for the module (each test uses its own template names)."""
    redis = EmbeddedRedis(free_port(), tmp_path_factory.mktemp("prompts") / "redis").start()
    try:
        yield redis
    finally:
        redis.stop()


async def publish_versions(registry: PromptRegistry, team: str, name: str, count: int) -> None:
    for n in range(1, count + 1):
        await registry.publish(team, "ada", name, draft(f"version {n}:"), CONFIG)


async def versions_of(registry: PromptRegistry, subjects: list[str], team: str = "alpha") -> list[int]:
    """Each subject's version as a job would get it (the job path: ``choose``), 50 at a time."""
    out: list[int] = []
    for start in range(0, len(subjects), 50):
        chunk = subjects[start : start + 50]
        chosen = await asyncio.gather(
            *(
                registry.choose(team, PromptRef(id="greet", subject=s, variables={"topic": "x"}), "job_unused")
                for s in chunk
            )
        )
        out += [version.version for version in chosen]
    return out


def test_ten_thousand_subjects_split_90_10_sticky_and_80_20_moves_about_ten_percent(server: EmbeddedRedis) -> None:
    async def scenario() -> None:
        redis = Redis.from_url(server.url)
        registry = PromptRegistry(redis)
        await publish_versions(registry, "alpha", "greet", 4)
        await registry.set_split("alpha", "greet", SplitRequest(weights={3: 90, 4: 10}))

        first = await versions_of(registry, SUBJECTS)
        assert set(first) == {3, 4}
        share_v3 = first.count(3) / len(first)
        assert abs(share_v3 - 0.90) <= 0.015, share_v3

        again = await versions_of(registry, SUBJECTS)
        assert again == first, "the same subject must always get the same version"

        await registry.set_split("alpha", "greet", SplitRequest(weights={3: 80, 4: 20}))
        moved = await versions_of(registry, SUBJECTS)
        changes = [(a, b) for a, b in zip(first, moved, strict=True) if a != b]
        assert {change for change in changes} == {(3, 4)}, "only v3 subjects move, and only to v4"
        assert abs(len(changes) / len(SUBJECTS) - 0.10) <= 0.015, len(changes)
        assert abs(moved.count(3) / len(moved) - 0.80) <= 0.015

        # ending and restarting the experiment keeps subjects where they were
        await registry.clear_split("alpha", "greet")
        assert set(await versions_of(registry, SUBJECTS[:300])) == {4}  # latest
        await registry.set_split("alpha", "greet", SplitRequest(weights={3: 80, 4: 20}))
        assert await versions_of(registry, SUBJECTS) == moved
        await redis.aclose()

    asyncio.run(scenario())


def test_versions_are_immutable_numbered_once_and_retired_versions_take_no_jobs(server: EmbeddedRedis) -> None:
    async def scenario() -> None:
        redis = Redis.from_url(server.url)
        registry = PromptRegistry(redis)
        published = await asyncio.gather(
            *(registry.publish("alpha", "ada", "rush", draft(f"v{i}"), CONFIG) for i in range(20))
        )
        assert sorted(v.version for v in published) == list(range(1, 21))
        ref, meta = await registry.visible("alpha", "rush")
        for version in published:  # each number holds exactly what was published under it
            stored = await registry.version(ref, meta, version.version)
            assert stored.messages == version.messages

        await registry.set_split("alpha", "rush", SplitRequest(weights={19: 50, 20: 50}))
        with pytest.raises(Conflict):
            await registry.retire("alpha", "rush", 20)
        await registry.retire("alpha", "rush", 18)
        with pytest.raises(InvalidRequest) as caught:
            await registry.choose("alpha", PromptRef(id="rush", version=18, variables={"topic": "x"}), "j")
        assert caught.value.param == "prompt.version"
        with pytest.raises(InvalidRequest) as caught:
            await registry.set_split("alpha", "rush", SplitRequest(weights={18: 50, 20: 50}))
        assert caught.value.param == "weights.18"
        with pytest.raises(InvalidRequest):
            await registry.set_split("alpha", "rush", SplitRequest(weights={21: 100}))
        with pytest.raises(NotFound):
            await registry.retire("alpha", "rush", 99)
        await redis.aclose()

    asyncio.run(scenario())


def test_other_teams_see_nothing_until_shared_and_never_write(server: EmbeddedRedis) -> None:
    async def scenario() -> None:
        redis = Redis.from_url(server.url)
        registry = PromptRegistry(redis)
        await publish_versions(registry, "alpha", "private", 1)
        use = PromptRef(id="alpha/private", variables={"topic": "x"})
        for attempt in (
            registry.visible("beta", "alpha/private"),
            registry.visible("beta", "private"),
            registry.choose("beta", use, "j"),
            registry.retire("beta", "alpha/private", 1),
        ):
            with pytest.raises(NotFound):
                await attempt
        assert [v.id for v in await registry.listing("beta")] == []

        assert await registry.share("alpha", "private", ["beta", "alpha"], CONFIG) == ["beta"]
        assert (await registry.choose("beta", use, "j")).template_id == "alpha/private"
        assert [v.id for v in await registry.listing("beta")] == ["alpha/private"]
        with pytest.raises(NotFound):  # sharing lets beta read and use, not change
            await registry.set_split("beta", "alpha/private", SplitRequest(weights={1: 100}))
        with pytest.raises(InvalidRequest) as caught:
            await registry.share("alpha", "private", ["gamma"], CONFIG)
        assert caught.value.param == "teams[0]"

        await registry.share("alpha", "private", [], CONFIG)
        with pytest.raises(NotFound):
            await registry.choose("beta", use, "j")
        assert await registry.listing("beta") == []
        await redis.aclose()

    asyncio.run(scenario())


def test_templates_survive_a_redis_restart(server: EmbeddedRedis) -> None:
    async def publish() -> None:
        redis = Redis.from_url(server.url)
        registry = PromptRegistry(redis)
        await publish_versions(registry, "alpha", "durable", 2)
        await registry.set_split("alpha", "durable", SplitRequest(weights={1: 30, 2: 70}))
        await redis.aclose()

    async def read() -> tuple[int, dict[int, float] | None]:
        redis = Redis.from_url(server.url)
        registry = PromptRegistry(redis)
        view = await registry.view(*await registry.visible("alpha", "durable"))
        await redis.aclose()
        return view.latest, view.split

    asyncio.run(publish())
    server.stop()
    server.start()
    assert asyncio.run(read()) == (2, {1: 30.0, 2: 70.0})


def test_feedback_only_on_the_teams_own_finished_jobs(server: EmbeddedRedis) -> None:
    async def scenario() -> None:
        redis = Redis.from_url(server.url)
        store = JobStore(redis)
        request = JobRequest.model_validate({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]})
        job = prepare_job(request, Principal("alpha", "u", "k"), CONFIG, time.time(), template=("alpha/greet", 2))
        await store.create(job)
        assert (await store.fields(job.id, "alpha"))["template_version"] == "2"
        with pytest.raises(Conflict):  # still queued
            await record_feedback(store, job.id, "alpha", FeedbackRequest(score=1))
        await redis.hset(keys.job(job.id), "state", "succeeded")
        with pytest.raises(NotFound):
            await record_feedback(store, job.id, "beta", FeedbackRequest(score=1))
        first = await record_feedback(store, job.id, "alpha", FeedbackRequest(score=0.2))
        second = await record_feedback(store, job.id, "alpha", FeedbackRequest(score=0.9, label="fixed"))
        assert (first.template_id, first.template_version) == ("alpha/greet", 2)
        assert second.created_at >= first.created_at
        stored = FeedbackRecord.model_validate_json(await redis.hget(keys.job(job.id), "feedback"))
        assert (stored.score, stored.label) == (0.9, "fixed")
        entries = await redis.xrange(keys.FEEDBACK_STREAM)
        assert [json.loads(fields[b"record"])["score"] for _, fields in entries][-2:] == [0.2, 0.9]
        await redis.zrem(keys.team_queue("alpha"), job.id)
        await redis.aclose()

    asyncio.run(scenario())
