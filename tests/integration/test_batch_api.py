"""The OpenAI Batch API through the unmodified official ``openai`` SDK: files, batches, status,
request counts, output and error files; cancel and expiry; batch id and metadata in the ledger."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from broker import keys
from broker.ledger.storage import LedgerStorage
from broker.ledger.views import connect
from tests.conftest import BrokerUnderTest, broker_config, start_broker

pytestmark = pytest.mark.integration

FINAL = {"completed", "failed", "expired", "cancelled"}


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerUnderTest]:
    # beta may start one request a minute: its batches stay queued, for cancel and expiry
    config = broker_config(teams={"alpha": {"weight": 1}, "beta": {"weight": 1, "limits": {"rpm": 1}}})
    stack = start_broker(tmp_path_factory.mktemp("batches"), config=config, sink=True)
    try:
        yield BrokerUnderTest(stack)
    finally:
        stack.stop()


def sdk(broker: BrokerUnderTest, team: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{broker.api_url}/v1", api_key=broker.key(team), max_retries=0, timeout=120)


def line(custom_id: str, content: str, **body: Any) -> str:
    request = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": content}], "max_tokens": 8, **body}
    return json.dumps({"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions", "body": request})


def wait_final(client: openai.OpenAI, batch_id: str, timeout_s: float = 120) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        batch = client.batches.retrieve(batch_id)
        if batch.status in FINAL:
            return batch
        assert time.monotonic() < deadline, f"batch still {batch.status}: {batch.request_counts}"
        time.sleep(0.3)


def two_hundred_lines() -> tuple[list[str], dict[str, str]]:
    """170 good lines, 10 invalid ones, 10 the provider refuses (400), 10 every candidate fails (503)."""
    lines = [line(f"ok-{i}", f"Summarize item {i}") for i in range(170)]
    expected: dict[str, str] = {}
    invalid = [
        json.dumps(
            {
                "custom_id": "inv-no-messages",
                "method": "POST",
                "url": "/v1/chat/completions",
                "body": {"model": "gpt-4o-mini"},
            }
        ),
        line("inv-role", "x").replace('"role": "user"', '"role": "wizard"'),
        line("inv-model", "x", model="gpt-9"),
        '{"custom_id": "inv-json", "method": "POST", ',
        line("ok-0", "duplicate custom id"),
        json.dumps({"custom_id": "inv-url", "method": "POST", "url": "/v1/embeddings", "body": {"input": "x"}}),
        line("inv-field", "x", max_token=5),
        line("inv-tokens", "x", max_tokens=0),
        json.dumps({"custom_id": "inv-body", "method": "POST", "url": "/v1/chat/completions", "body": "text"}),
        line("inv-stream", "x", stream=True),
    ]
    params = [
        "body.messages",
        "body.messages[0].role",
        "body.model",
        None,
        "custom_id",
        "url",
        "body.max_token",
        "body.max_tokens",
        "body",
        "body.stream",
    ]
    for text, param in zip(invalid, params, strict=True):
        lines.append(text)
        expected[f"line {len(lines)}"] = param or ""
    lines += [line(f"bad-{i}", f"#sim(status=400) refused {i}") for i in range(10)]
    lines += [line(f"down-{i}", f"#sim(status=503) outage {i}") for i in range(10)]
    return lines, expected


def test_a_200_line_batch_through_the_official_sdk(broker: BrokerUnderTest) -> None:
    client = sdk(broker, "alpha")
    lines, invalid = two_hundred_lines()
    uploaded = client.files.create(file=("requests.jsonl", "\n".join(lines).encode()), purpose="batch")
    assert uploaded.purpose == "batch" and uploaded.bytes > 0
    batch = client.batches.create(
        input_file_id=uploaded.id,
        endpoint="/v1/chat/completions",
        completion_window="24h",
        metadata={"feature": "nightly-digest", "owner": "data-team"},
    )
    assert batch.status in ("validating", "in_progress", "finalizing", "completed")
    assert [e.line for e in batch.errors.data] == [int(k.split()[1]) for k in invalid]
    done = wait_final(client, batch.id)
    assert done.status == "completed"
    assert (done.request_counts.total, done.request_counts.completed, done.request_counts.failed) == (200, 170, 30)
    assert done.usage.input_tokens > 0 and done.usage.output_tokens > 0

    output = [json.loads(x) for x in client.files.content(done.output_file_id).text.splitlines()]
    assert sorted(o["custom_id"] for o in output) == sorted(f"ok-{i}" for i in range(170))
    assert all(o["response"]["status_code"] == 200 and o["error"] is None for o in output)
    assert output[0]["response"]["body"]["object"] == "chat.completion"
    assert output[0]["id"].startswith("batch_req_")

    errors = [json.loads(x) for x in client.files.content(done.error_file_id).text.splitlines()]
    assert len(errors) == 30
    named = {e["error"]["message"].split(":")[0]: e["error"]["param"] for e in errors if e["error"]}
    assert named == {k: (v or None) for k, v in invalid.items()}
    by_id = {e["custom_id"]: e for e in errors}
    for i in range(10):
        assert by_id[f"bad-{i}"]["response"]["status_code"] == 400
        down = by_id[f"down-{i}"]["response"]
        assert down["status_code"] == 503 and "all candidates failed" in down["body"]["error"]["message"]
    assert next(b.id for b in client.batches.list(limit=5)) == batch.id
    job = broker.redis.hgetall(keys.job(output[0]["response"]["request_id"]))
    assert job[b"batch_id"].decode() == batch.id

    ledger = broker.stack.home / "ledger"
    deadline = time.monotonic() + 60
    while True:
        rows = (
            connect(LedgerStorage(ledger))
            .execute(
                "SELECT feature, state, count(*) FROM usage WHERE batch_id = ? GROUP BY ALL ORDER BY ALL", [batch.id]
            )
            .fetchall()
            if ledger.exists()
            else []
        )
        if sum(r[2] for r in rows) >= 190:
            break
        assert time.monotonic() < deadline, rows
        time.sleep(0.5)
    assert rows == [("nightly-digest", "failed", 20), ("nightly-digest", "succeeded", 170)]


def test_another_teams_files_and_batches_are_not_found(broker: BrokerUnderTest) -> None:
    alpha, beta = sdk(broker, "alpha"), sdk(broker, "beta")
    uploaded = alpha.files.create(file=("a.jsonl", line("a", "hi").encode()), purpose="batch")
    with pytest.raises(openai.NotFoundError):
        beta.files.content(uploaded.id)
    with pytest.raises(openai.NotFoundError):
        beta.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h")
    with pytest.raises(openai.UnprocessableEntityError):
        alpha.batches.create(input_file_id=uploaded.id, endpoint="/v1/embeddings", completion_window="24h")


def test_cancel_ends_unstarted_lines_as_cancelled(broker: BrokerUnderTest) -> None:
    client = sdk(broker, "beta")
    lines = [line(f"c-{i}", f"cancel me {i}") for i in range(20)]
    uploaded = client.files.create(file=("c.jsonl", "\n".join(lines).encode()), purpose="batch")
    batch = client.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h")
    cancelling = client.batches.cancel(batch.id)
    assert cancelling.status in ("cancelling", "cancelled")
    done = wait_final(client, batch.id)
    assert done.status == "cancelled" and done.cancelled_at is not None
    assert done.request_counts.total == 20
    assert done.request_counts.completed + done.request_counts.failed == 20
    errors = [json.loads(x) for x in client.files.content(done.error_file_id).text.splitlines()]
    cancelled = [e for e in errors if e["error"] and e["error"]["code"] == "batch_cancelled"]
    assert len(cancelled) >= 18  # one or two may have started under beta's one-a-minute limit


def test_lines_not_started_within_the_completion_window_expire(broker: BrokerUnderTest) -> None:
    client = sdk(broker, "beta")
    lines = [line(f"e-{i}", f"expire me {i}") for i in range(10)]
    uploaded = client.files.create(file=("e.jsonl", "\n".join(lines).encode()), purpose="batch")
    batch = client.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="2s")
    done = wait_final(client, batch.id)
    assert done.status == "expired" and done.expired_at is not None
    errors = [json.loads(x) for x in client.files.content(done.error_file_id).text.splitlines()]
    expired = [e for e in errors if e["error"] and e["error"]["code"] == "batch_expired"]
    assert len(expired) >= 8
    job_id = "job_" + expired[0]["id"].removeprefix("batch_req_")
    job = broker.redis.hgetall(f"lb:job:{job_id}")
    assert job[b"state"] == b"cancelled" and job[b"error"].startswith(b"expired")


def test_a_batch_whose_creator_died_half_way_is_finished_by_the_keeper(broker: BrokerUnderTest) -> None:
    """The creating process dies after creating half the jobs: the keeper expands the batch
    again when the validating lease lapses, without duplicating or resetting a line."""
    import asyncio

    from redis.asyncio import Redis

    from broker import keys
    from broker.auth import Principal
    from broker.batches.expand import validate
    from broker.batches.files import FileStore
    from broker.batches.store import BatchStore
    from schemas.batch import BatchCreate

    client = sdk(broker, "alpha")
    lines = [line(f"h-{i}", f"half way {i}") for i in range(40)]
    uploaded = client.files.create(file=("h.jsonl", "\n".join(lines).encode()), purpose="batch")

    async def die_half_way() -> str:
        redis = Redis.from_url(broker.config.redis.url or "")
        store = BatchStore(redis)
        body = BatchCreate(input_file_id=uploaded.id, endpoint="/v1/chat/completions")
        who = Principal(team="alpha", user="crashy", key_id="k")
        batch_id = await store.create(who, body, 86400, time.time(), lease_s=3.0, digest="x")
        fields = await store.raw(batch_id)
        expansion = await validate(
            fields, FileStore(redis, broker.stack.home / "files").path(uploaded.id), broker.config, redis
        )
        await redis.hset(keys.BATCH_COUNTS, f"{batch_id}:jobs", len(expansion.jobs))
        await redis.hset(
            keys.batch(batch_id),
            mapping={"n_lines": 40, "n_invalid": 0, "job_lines": ",".join(map(str, expansion.job_lines))},
        )
        assert (await store.create_jobs("alpha", expansion.jobs[:20]))[0] == 20
        await redis.aclose()
        return batch_id

    batch_id = asyncio.run(die_half_way())
    assert client.batches.retrieve(batch_id).status == "validating"
    done = wait_final(client, batch_id)
    assert done.status == "completed"
    assert (done.request_counts.total, done.request_counts.completed) == (40, 40)
    assert done.to_dict()["progress"]["succeeded"] == 40
    output = [json.loads(x) for x in client.files.content(done.output_file_id).text.splitlines()]
    assert sorted(o["custom_id"] for o in output) == sorted(f"h-{i}" for i in range(40))
    jobs = [k for k in broker.redis.scan_iter("lb:job:job_*") if k.count(b":") == 2]
    mine = [k for k in jobs if broker.redis.hget(k, "batch_id") == batch_id.encode()]
    assert len(mine) == 40
    assert all(json.loads(broker.redis.hget(k, "attempts"))[0]["number"] == 1 for k in mine)  # each ran once
